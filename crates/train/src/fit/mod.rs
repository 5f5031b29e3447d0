//! Supervised training: the model as Burn's `TrainStep` ([`supervised`]), the stages of a run
//! each trained by one `SupervisedTraining` ([`stages`]), their checkpoints and resume
//! ([`checkpointing`]), the per-epoch log and NaN guard ([`epoch_log`]), the progress printer
//! ([`progress`]), steps as two concurrent half batches on CPU backends ([`halves`]), early stopping with a minimum improvement ([`early_stop`]), sample weights by target density ([`sample_weights`]), the second head on the body of
//! `[features] body_loss_weight` ([`body_head`]) and the optimiser Burn lacks ([`adadelta`]).

pub mod adadelta;
pub mod body_head;
pub mod checkpointing;
pub mod early_stop;
pub mod epoch_log;
pub mod fused_adam;
pub mod halves;
pub mod progress;
pub mod sample_weights;
pub mod stages;
pub mod supervised;
