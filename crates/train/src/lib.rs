//! Experiments end to end: the config schema and its validation, training through Burn's
//! `Learner`, metrics, evaluation, checkpoints, run folders, plots and the run report.
//!
//! Nothing here names a backend: callers pass the `Device`s to train on.

pub mod config;
