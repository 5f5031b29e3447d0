//! Errors a user can cause through data: each names the file, line or field at fault.

use std::path::PathBuf;

/// A data problem, named precisely enough to fix without reading the code.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A path that does not exist or cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    Io {
        /// What the path was meant to be ("image folder", "catalogue", ...).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An image file that cannot be decoded.
    #[error("cannot decode image {path}: {message}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// A malformed catalogue line.
    #[error("{path}:{line}: {message}")]
    Catalogue {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        message: String,
    },
    /// A bad `[data]` setting.
    #[error("data.{field}: {problem}")]
    Setting {
        /// The field under `[data]`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A bad `[features]` setting, or an item whose features cannot be read.
    #[error("features.{field}: {problem}")]
    Feature {
        /// The field under `[features]`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A bad simulator setting.
    #[error("data.{0}")]
    Simulator(#[from] astro_sim::SimConfigError),
}

impl DataError {
    pub(crate) fn setting(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Setting { field: field.into(), problem: problem.into() }
    }
}
