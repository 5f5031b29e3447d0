//! Experiments end to end: the config schema and its validation, training through Burn's
//! `Learner`, metrics, evaluation, checkpoints, run folders, plots and the run report.
//!
//! Nothing here names a backend: callers pass the `Device`s to train on.

pub mod adadelta;
pub mod binary;
pub mod checkpointing;
pub mod class_bins;
pub mod classification;
pub mod comparison;
pub mod comparison_plot;
pub mod config;
pub mod confusion_plot;
pub mod curve_gallery;
pub mod epoch_log;
pub mod error;
pub mod evaluate;
pub mod gallery;
pub mod gan;
pub mod init;
pub mod plot;
pub mod pretrain;
pub mod progress;
pub mod reconstruction;
pub mod report;
pub mod roc_plot;
pub mod run_dir;
pub mod scatter_plot;
pub mod supervised;
pub mod train;
pub mod weights_file;

pub use error::RunError;
pub mod catalog;
pub mod eval_run;
pub mod model_io;
