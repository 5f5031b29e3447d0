//! `[init] pretrain = "<config>"`: the pretraining source of a transfer-learning experiment,
//! named by the experiment that makes it. The newest complete run of that experiment with the
//! very same settings under the runs folder is reused; when there is none it is trained first,
//! as any run, so a transfer experiment needs no download and no earlier command. The config is
//! then rewritten to start from that run (`init.run`), which its saved `config.toml` records.

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, ExperimentConfig, load_config};
use crate::error::RunError;
use crate::init::InitConfig;
use crate::run::folder::{RunDir, RunState};
use crate::run::train::{Hardware, RunTarget, train};

/// How deep `pretrain` may chain (a pretraining config that is itself pretrained...).
const MAX_DEPTH: usize = 4;

/// Reads the experiment config a `pretrain` entry names (resolving names as the caller does).
pub type ConfigLoader<'a> = dyn Fn(&Path) -> Result<ExperimentConfig, RunError> + 'a;

/// The newest complete run under `root` of exactly `config`, if any.
pub fn finished_run(config: &ExperimentConfig, root: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root.join(&config.experiment.name))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    // Folder names are timestamps: the newest sorts last.
    runs.sort();
    runs.into_iter().rev().find(|path| {
        let complete = RunDir::open(path).ok().and_then(|r| r.status()).is_some_and(|s| s.state == RunState::Complete);
        complete && load_config(&path.join("config.toml"), &[], false).is_ok_and(|saved| &saved == config)
    })
}

/// Replaces `config`'s `init.pretrain` by the run it names: found under `root`, or trained
/// there now on `hardware`. Does nothing without `init.pretrain`.
pub fn resolve_pretraining(
    config: &mut ExperimentConfig,
    hardware: &Hardware,
    root: &Path,
    load: &ConfigLoader,
) -> Result<(), RunError> {
    resolve_at_depth(config, hardware, root, load, 0)
}

fn resolve_at_depth(
    config: &mut ExperimentConfig,
    hardware: &Hardware,
    root: &Path,
    load: &ConfigLoader,
    depth: usize,
) -> Result<(), RunError> {
    let Some(file) = config.init.as_ref().and_then(|i| i.pretrain.clone()) else { return Ok(()) };
    if depth >= MAX_DEPTH {
        return Err(RunError::Config(ConfigError::invalid(
            "init.pretrain",
            format!("pretraining configs chain more than {MAX_DEPTH} deep (does {} name itself?)", file.display()),
        )));
    }
    let mut source = load(&file)?;
    resolve_at_depth(&mut source, hardware, root, load, depth + 1)?;
    let run = match finished_run(&source, root) {
        Some(run) => {
            eprintln!(
                "init: pretraining source: {} (a finished run of {} with the same settings)",
                run.display(),
                file.display()
            );
            run
        }
        None => {
            eprintln!(
                "init: no finished run of {} with these settings under {}: training it first",
                file.display(),
                root.display()
            );
            let summary = train(&source, hardware, &RunTarget::New(root.to_path_buf()))?;
            for line in summary.console_lines() {
                eprintln!("pretraining: {line}");
            }
            PathBuf::from(summary.run_dir)
        }
    };
    config.init = Some(InitConfig { run: Some(run), weights: None, weights_key: None, pretrain: None });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;

    fn config(name: &str, epochs: usize) -> ExperimentConfig {
        let text = format!(
            "[experiment]\nname = \"{name}\"\n[data]\nsource = \"simulated_galaxies\"\ntrain = 4\n[model]\nkind = \"sequential\"\n[[model.layers]]\ntype = \"flatten\"\n[[model.layers]]\ntype = \"dense\"\nunits = 37\n[training]\nepochs = {epochs}\n"
        );
        parse_config(Path::new("x.toml"), &text, &[], false).unwrap()
    }

    fn fake_run(root: &Path, config: &ExperimentConfig, stamp: &str, state: RunState) -> PathBuf {
        let dir = root.join(&config.experiment.name).join(stamp);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), toml::to_string_pretty(config).unwrap()).unwrap();
        RunDir::open(&dir).unwrap().set_status(state, None).unwrap();
        dir
    }

    #[test]
    fn the_newest_complete_run_with_the_same_settings_is_found() {
        let root = tempfile::tempdir().unwrap();
        let wanted = config("pre", 3);
        assert_eq!(finished_run(&wanted, root.path()), None);
        let old = fake_run(root.path(), &wanted, "2026-01-01T00-00-00", RunState::Complete);
        fake_run(root.path(), &config("pre", 4), "2026-01-03T00-00-00", RunState::Complete);
        fake_run(root.path(), &wanted, "2026-01-04T00-00-00", RunState::Failed);
        assert_eq!(finished_run(&wanted, root.path()), Some(old));
        let newer = fake_run(root.path(), &wanted, "2026-01-02T00-00-00", RunState::Complete);
        assert_eq!(finished_run(&wanted, root.path()), Some(newer));
    }

    #[test]
    fn a_found_run_replaces_pretrain_and_a_self_reference_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let source = config("pre", 3);
        let run = fake_run(root.path(), &source, "2026-01-01T00-00-00", RunState::Complete);
        let mut target = config("target", 2);
        target.init =
            Some(InitConfig { run: None, weights: None, weights_key: None, pretrain: Some("pre.toml".into()) });
        let hardware = Hardware { backend: "none".into(), devices: Vec::new(), names: Vec::new(), half_batches: false };
        let loader = |_: &Path| Ok(source.clone());
        resolve_pretraining(&mut target, &hardware, root.path(), &loader).unwrap();
        assert_eq!(target.init.as_ref().unwrap().run.as_deref(), Some(run.as_path()));
        assert_eq!(target.init.as_ref().unwrap().pretrain, None);
        // A config that names itself would chain for ever.
        let mut looped = config("loop", 1);
        looped.init =
            Some(InitConfig { run: None, weights: None, weights_key: None, pretrain: Some("loop.toml".into()) });
        let itself = looped.clone();
        let err = resolve_pretraining(&mut looped, &hardware, root.path(), &|_: &Path| Ok(itself.clone())).unwrap_err();
        assert!(err.to_string().contains("chain more than 4 deep"), "{err}");
    }
}
