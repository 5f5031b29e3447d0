//! The errors of running an experiment: each is one message a user can act on.

use std::path::PathBuf;

use crate::config::ConfigError;

/// Why a command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A bad config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad or missing data.
    #[error(transparent)]
    Data(#[from] astro_data::DataError),
    /// A model that does not fit the data.
    #[error(transparent)]
    Model(#[from] astro_models::ShapeError),
    /// A file or folder that cannot be read or written.
    #[error("cannot access {what} {path}: {source}")]
    Io {
        /// What it is.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The loss stopped being a finite number.
    #[error("training diverged: {0}; lower optimizer.lr or set optimizer.grad_clip_norm")]
    Diverged(String),
    /// Anything else that stops a run, said in full.
    #[error("{0}")]
    Run(String),
}
