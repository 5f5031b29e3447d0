//! The experiment config: one TOML file per experiment, validated in full before any work.
//!
//! [`schema`] is the typed layout of the file, [`load`] reads it (with `--set` overrides) and
//! turns every mistake into an error naming the file, the line and the key, and
//! [`optimizer`] and [`schedule`] build Burn's optimisers and learning-rate schedules from it;
//! [`stages`] splits training into stages with their own optimiser and trainable layers;
//! [`validation`] makes a run k-fold cross-validated.

pub mod load;
pub mod optimizer;
pub mod schedule;
pub mod schema;
pub mod stages;
pub mod validation;

pub use load::{ConfigError, load_config, load_data_config, parse_config};
pub use schema::{
    ComparisonConfig, ExperimentConfig, ExperimentSection, HardwareConfig, PaperReference, TrainingConfig,
};
