//! Experiments end to end. The modules follow the life of a run:
//!
//! 1. [`config`]: the experiment file read, overridden by `--set` and checked whole.
//! 2. [`run`]: the commands that drive a run (`train`, a `[comparison]`, `eval`, `predict`,
//!    `list`) and the run folder they write.
//! 3. [`init`]: the weights training starts from (`[init]`: a finished run, a PyTorch or
//!    SafeTensors file, a pretraining experiment).
//! 4. [`fit`]: supervised training through Burn's `Learner`, stage by stage, with checkpoints,
//!    resume, progress and the per-epoch log.
//! 5. [`gan`]: the adversarial loop, which replaces [`fit`] and [`evaluate`] for GANs.
//! 6. [`evaluate`]: predictions on the test split and their scores per task.
//! 7. [`report`]: `summary.json`, `report.md`, the plots and the galleries.
//!
//! Nothing here names a backend: callers pass the `Device`s to train on.

pub mod adapt;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod fit;
pub mod gan;
pub mod init;
pub mod report;
pub mod run;

/// Whether batch norm trains without copying the activation (the CPU backends).
pub use astro_models::batch_norm::set_copy_free_batch_norm;
/// Frees the scratch buffers the `flex` convolutions keep (for per-network memory measurements).
pub use astro_models::conv2d::release_scratch_buffers;
/// Whether convolutions take the direct weight gradient on `flex` (on unless switched off).
pub use astro_models::conv2d::set_direct_conv;
/// Whether ELU is computed on the host's threads (backends whose `exp` runs one element at a
/// time).
pub use astro_models::host_elu::set_host_elu;
/// Whether 2 x 2 max pooling takes its direct kernel on `flex` (on unless switched off).
pub use astro_models::max_pool_2x2::set_direct_max_pool;
/// Whether LSTM layers on `flex` run as the fused whole-sequence kernel (on unless switched off).
pub use astro_models::recurrent::fused_lstm::set_fused_lstm;
/// What the recurrent cells' `gate_functions = "auto"` means in this process: the caller that
/// picks the backend says whether its sigmoid and tanh run one element at a time.
pub use astro_models::recurrent::set_auto_gate_functions;
pub use error::RunError;
