//! `trainer list`: the experiments in a `configs/` folder, one line each.

use std::path::{Path, PathBuf};

use crate::config::load_config;

/// One experiment of the folder.
#[derive(Debug, Clone)]
pub struct ExperimentEntry {
    /// The file.
    pub file: PathBuf,
    /// The config's name, or the error that stops it from loading.
    pub summary: Result<(String, String, String, String), String>,
}

/// Reads every `*.toml` in `dir`, sorted by file name.
pub fn list_experiments(dir: &Path) -> std::io::Result<Vec<ExperimentEntry>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| {
            let summary = load_config(&file, &[], false).map_err(|e| e.to_string()).map(|c| {
                let paper = c.experiment.paper.as_ref().map_or("-".to_string(), |p| {
                    format!("{} ({} {})", p.citation, p.metric, p.value.map_or("-".to_string(), |v| v.to_string()))
                });
                (c.experiment.name.clone(), c.experiment.description.clone(), paper, c.data.source_name().to_string())
            });
            ExperimentEntry { file, summary }
        })
        .collect())
}
