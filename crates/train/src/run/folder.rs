//! Run folders: `runs/<experiment>/<timestamp>[-N]/`, never overwritten, with the resolved
//! config, the environment and a `status.json` that says whether the run finished, failed or
//! is still going (so a half-written folder never looks complete).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RunError;

/// Where a run lives.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

/// A run's state, as `status.json` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Training or evaluating now (or killed: resume it).
    Running,
    /// Stopped by an error; `message` says which.
    Failed,
    /// Finished: `summary.json` holds the results.
    Complete,
}

/// `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: RunState,
    /// The error, for failed runs.
    #[serde(default)]
    pub message: Option<String>,
    /// When it was written (local time, RFC 3339).
    pub updated: String,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RunError + 'a {
    move |source| RunError::Io { what, path: path.to_path_buf(), source }
}

impl RunDir {
    /// Creates a new, empty folder `root/<experiment>/<timestamp>[-N]`.
    pub fn create(root: &Path, experiment: &str) -> Result<Self, RunError> {
        let parent = root.join(experiment);
        std::fs::create_dir_all(&parent).map_err(io("runs folder", &parent))?;
        let stamp = chrono::Local::now().format("%Y-%m-%dT%H-%M-%S").to_string();
        for n in 0..1000 {
            let name = if n == 0 { stamp.clone() } else { format!("{stamp}-{n}") };
            let path = parent.join(name);
            // create_dir fails if the folder exists: no run is ever written into another's.
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io("run folder", &path)(e)),
            }
        }
        Err(RunError::Run(format!("could not find a free run folder name under {}", parent.display())))
    }

    /// Creates the new, empty folder `path` (a run inside another, such as one arm of a
    /// comparison); fails if it exists.
    pub fn create_at(path: &Path) -> Result<Self, RunError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("runs folder", parent))?;
        }
        std::fs::create_dir(path).map_err(io("run folder", path))?;
        Ok(Self { path: path.to_path_buf() })
    }

    /// An existing run folder (for `eval`, `predict` and `--resume`).
    pub fn open(path: &Path) -> Result<Self, RunError> {
        if !path.join("config.toml").is_file() {
            return Err(RunError::Run(format!("{} is not a run folder (it has no config.toml)", path.display())));
        }
        Ok(Self { path: path.to_path_buf() })
    }

    /// A file inside the run.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` to `name` in the run folder.
    pub fn write(&self, name: &str, text: &str) -> Result<(), RunError> {
        let path = self.file(name);
        std::fs::write(&path, text).map_err(io("run file", &path))
    }

    /// Writes `value` as pretty JSON to `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), RunError> {
        let text =
            serde_json::to_string_pretty(value).map_err(|e| RunError::Run(format!("cannot encode {name}: {e}")))?;
        self.write(name, &(text + "\n"))
    }

    /// Records the run's state.
    pub fn set_status(&self, state: RunState, message: Option<String>) -> Result<(), RunError> {
        let status = Status { state, message, updated: chrono::Local::now().to_rfc3339() };
        self.write_json("status.json", &status)
    }

    /// Marks the run running, does `work`, and records how it ended (complete, or failed with
    /// the error).
    pub fn track<T>(&self, work: impl FnOnce() -> Result<T, RunError>) -> Result<T, RunError> {
        self.set_status(RunState::Running, None)?;
        let result = work();
        match &result {
            Ok(_) => self.set_status(RunState::Complete, None)?,
            Err(e) => self.set_status(RunState::Failed, Some(e.to_string()))?,
        }
        result
    }

    /// The `summary.json` of the finished run at `run`, as JSON.
    pub fn read_summary(run: &Path) -> Result<serde_json::Value, RunError> {
        let file = run.join("summary.json");
        let text = std::fs::read_to_string(&file).map_err(|source| RunError::Io {
            what: "run summary",
            path: file.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| RunError::Run(format!("{} is not a run summary: {e}", file.display())))
    }

    /// The run's recorded state.
    pub fn status(&self) -> Option<Status> {
        let text = std::fs::read_to_string(self.file("status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// What a run was trained with, for `environment.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// This toolkit's version.
    pub version: String,
    /// The git commit of the source tree, when built from a checkout.
    pub git_commit: Option<String>,
    /// Backend name (`flex`, `wgpu`, ...).
    pub backend: String,
    /// The devices, as given.
    pub devices: Vec<String>,
    /// CPU threads available.
    pub threads: usize,
    /// Operating system and architecture.
    pub os: String,
    /// The command line.
    pub command: Vec<String>,
    /// When the run started (local time, RFC 3339).
    pub started: String,
}

impl Environment {
    /// Describes this process for a run on `devices` of `backend`.
    pub fn capture(backend: &str, devices: &[String]) -> Self {
        let git_commit = std::process::Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit,
            backend: backend.to_string(),
            devices: devices.to_vec(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            command: std::env::args().collect(),
            started: chrono::Local::now().to_rfc3339(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_never_reused() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::create(root.path(), "exp").unwrap();
        let b = RunDir::create(root.path(), "exp").unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.path.starts_with(root.path().join("exp")));
        a.set_status(RunState::Failed, Some("boom".into())).unwrap();
        assert!(RunDir::open(&a.path).is_err(), "no config.toml yet");
        a.write("config.toml", "x = 1").unwrap();
        let opened = RunDir::open(&a.path).unwrap();
        assert_eq!(opened.status().unwrap().state, RunState::Failed);
    }
}
