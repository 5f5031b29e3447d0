//! Helpers shared by the integration tests: running the `trainer` binary and reading the run
//! folders it writes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The trainer binary built for these tests.
pub fn trainer() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.current_dir(root());
    cmd
}

/// Runs the trainer with `args`, returning its output (never panics on failure).
pub fn run(args: &[&str]) -> Output {
    trainer().args(args).output().expect("the trainer binary runs")
}

/// A `--smoke` run of `config` on `flex` into `out`, with `--set` for each of `sets`.
pub fn smoke(config: &str, out: &Path, sets: &[&str]) -> Output {
    let out = out.to_str().expect("a UTF-8 path");
    let mut args = vec!["--config", config, "--smoke", "--device", "flex", "--out", out];
    for set in sets {
        args.extend(["--set", set]);
    }
    run(&args)
}

/// `predict` of the run at `run_dir` over the images in `images`, written to `csv`: the CSV's
/// header line.
pub fn predict_header(run_dir: &Path, images: &Path, csv: &Path) -> String {
    let paths = [run_dir, images, csv].map(|p| p.to_str().expect("a UTF-8 path").to_string());
    let args = ["predict", "--run", &paths[0], &paths[1], "--out", &paths[2], "--device", "flex"];
    assert_ok(&run(&args), "predict");
    std::fs::read_to_string(csv).expect("predict wrote its CSV").lines().next().unwrap_or_default().to_string()
}

/// Standard output and error of a finished command, for assertion messages.
pub fn text(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).to_string(), String::from_utf8_lossy(&output.stderr).to_string())
}

/// Asserts success, printing both streams otherwise.
pub fn assert_ok(output: &Output, what: &str) {
    let (out, err) = text(output);
    assert!(output.status.success(), "{what} failed\nstdout:\n{out}\nstderr:\n{err}");
}

/// Asserts a clean failure: exit code 1, the expected message, no panic.
pub fn assert_fails_with(output: &Output, expected: &str) -> String {
    let (out, err) = text(output);
    assert_eq!(output.status.code(), Some(1), "expected exit code 1\nstdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains(expected), "expected {expected:?} in stderr:\n{err}");
    assert!(!err.contains("panicked") && !err.contains("PANIC"), "a panic instead of an error:\n{err}");
    err
}

/// The run folders under `out/<experiment>/`.
pub fn run_dirs(out: &Path, experiment: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(out.join(experiment)).into_iter().flatten().flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

/// The only run folder of `experiment` under `out`.
pub fn only_run(out: &Path, experiment: &str) -> PathBuf {
    let dirs = run_dirs(out, experiment);
    assert_eq!(dirs.len(), 1, "expected one run folder, found {dirs:?}");
    dirs[0].clone()
}

/// Reads a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The experiment name in a config file.
pub fn experiment_name(config: &Path) -> String {
    let text = std::fs::read_to_string(config).expect("config readable");
    let value: toml::Table = toml::from_str(&text).expect("config is TOML");
    value["experiment"]["name"].as_str().expect("experiment.name").to_string()
}

/// Every experiment config in `configs/`.
pub fn configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .expect("configs/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The `[data] source` kinds that read files: configs using one by default need real data.
const FILE_SOURCES: [&str; 5] = ["light_curve_folder", "image_csv", "image_folder", "galaxy10_h5", "lens_challenge"];

/// The configs whose default data (and adaptation target) needs no files (simulated), which
/// every machine can train.
pub fn simulated_configs() -> Vec<PathBuf> {
    configs()
        .into_iter()
        .filter(|c| {
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(c).unwrap()).unwrap();
            let source = |t: &toml::Value| t["source"].as_str().unwrap_or_default().to_string();
            let target = table.get("adaptation").and_then(|a| a.get("target")).map(source);
            !FILE_SOURCES.contains(&source(&table["data"]).as_str())
                && !target.is_some_and(|t| FILE_SOURCES.contains(&t.as_str()))
        })
        .collect()
}

/// The folder of the real survey data sets (`ASTRO_REAL_DATA`, which `.ci/run` sets to
/// `../shared/data` when that exists), or `None` with a line saying the test did not run.
pub fn real_data(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ASTRO_REAL_DATA") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("{test}: NOT RUN: set ASTRO_REAL_DATA to the folder of the real data sets (../shared/data)");
            None
        }
    }
}

/// Data rows (without header) of a CSV file.
pub fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// Writes a small experiment config of a linear-output CNN (used to force errors).
pub fn tiny_config(dir: &Path, name: &str, data: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"[experiment]
name = "{name}"
seed = 1

[data]
{data}

[model]
kind = "sequential"
[[model.layers]]
type = "conv2d"
channels = 4
kernel = 3
activation = "relu"
[[model.layers]]
type = "global_avgpool"
[[model.layers]]
type = "dense"
units = 37

[training]
epochs = 1
batch_size = 8
workers = 0
{extra}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}
