//! The table `cargo xtask bench` prints after the criterion benchmarks: each network's training
//! step and inference throughput on every backend the bench measured (from criterion's saved
//! estimates), beside PyTorch's for the networks that have a committed PyTorch twin, run with the
//! same thread count when a Python with `torch` is there (`ASTRO_TORCH_PYTHON`, else `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The networks of `crates/trainer/benches/train_step.rs`, and their PyTorch twins.
const NETWORKS: [(&str, Option<&str>); 2] = [
    ("galaxy_cnn", Some("crates/trainer/benches/galaxy_cnn_pytorch.py")),
    ("rrlyrae_rnn", Some("crates/trainer/benches/rrlyrae_rnn_pytorch.py")),
];

/// Items per second of one criterion benchmark (`group/function_backend`), if it ran.
fn measured(criterion: &Path, group: &str, bench: &str) -> Option<f64> {
    let dir = criterion.join(group).join(bench).join("new");
    let read = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let items = read("benchmark.json")?["throughput"]["Elements"].as_f64()?;
    let nanoseconds = read("estimates.json")?["mean"]["point_estimate"].as_f64()?;
    Some(items / (nanoseconds * 1e-9))
}

/// The backends with a saved training-step estimate for `group`.
fn backends(criterion: &Path, group: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(criterion.join(group))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("train_step_").map(str::to_string))
        .collect();
    out.sort();
    out
}

/// PyTorch's training-step and inference throughput from `script`, or why there is none.
fn pytorch(root: &Path, script: &str, threads: usize) -> Result<(f64, f64), String> {
    let python = std::env::var("ASTRO_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    if !has_torch {
        return Err(format!("no `torch` in {python} (set ASTRO_TORCH_PYTHON)"));
    }
    let output = Command::new(&python)
        .arg(root.join(script))
        .args(["--threads", &threads.to_string()])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "... train_step 2333 seq/s, inference 26746 seq/s" (img/s for images)
    let number_after = |key: &str| -> Option<f64> { text.split(key).nth(1)?.split_whitespace().next()?.parse().ok() };
    match (number_after("train_step "), number_after("inference ")) {
        (Some(train), Some(infer)) => Ok((train, infer)),
        _ => Err(format!("{script} printed no throughput: {}", String::from_utf8_lossy(&output.stderr).trim())),
    }
}

/// Prints the side-by-side table.
pub fn print_table(root: &Path, criterion: &Path) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\nTraining step and inference, items/s ({threads} threads; PyTorch with the same):");
    println!("| network | backend | training step | inference | training / PyTorch | inference / PyTorch |");
    println!("|---|---|---|---|---|---|");
    for (group, script) in NETWORKS {
        let theirs = match script {
            Some(script) => pytorch(root, script, threads),
            None => Err("no PyTorch twin committed".to_string()),
        };
        let show = |v: Option<f64>| v.map_or_else(|| "not measured".to_string(), |v| format!("{v:.0}"));
        let ratio = |ours: Option<f64>, pick: fn(&(f64, f64)) -> f64| match (ours, &theirs) {
            (Some(o), Ok(t)) => format!("{:.2}", o / pick(t)),
            _ => "-".to_string(),
        };
        for backend in backends(criterion, group) {
            let train = measured(criterion, group, &format!("train_step_{backend}"));
            let infer = measured(criterion, group, &format!("inference_{backend}"));
            println!(
                "| {group} | {backend} | {} | {} | {} | {} |",
                show(train),
                show(infer),
                ratio(train, |t| t.0),
                ratio(infer, |t| t.1)
            );
        }
        match &theirs {
            Ok((train, infer)) => println!("| {group} | PyTorch | {train:.0} | {infer:.0} | 1.00 | 1.00 |"),
            Err(why) => println!("| {group} | PyTorch | not measured: {why} | | | |"),
        }
    }
    println!("(peak memory per row: not measured by the bench)");
    Ok(())
}

/// Criterion's results folder: under `CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn criterion_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from).join("criterion")
}

/// Checks that `dir` exists, for a clear message when no benchmark ran.
pub fn require(dir: &Path) -> Result<()> {
    std::fs::metadata(dir).map(|_| ()).with_context(|| format!("no criterion results in {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_comes_from_criterions_saved_estimates() {
        let dir = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let bench = dir.join("rrlyrae_rnn/train_step_flex/new");
        std::fs::create_dir_all(&bench).unwrap();
        std::fs::write(bench.join("benchmark.json"), r#"{"throughput":{"Elements":256}}"#).unwrap();
        std::fs::write(bench.join("estimates.json"), r#"{"mean":{"point_estimate":1.0e8}}"#).unwrap();
        assert_eq!(backends(&dir, "rrlyrae_rnn"), ["flex"]);
        let rate = measured(&dir, "rrlyrae_rnn", "train_step_flex").unwrap();
        assert!((rate - 2560.0).abs() < 1e-9, "{rate}");
        assert_eq!(measured(&dir, "rrlyrae_rnn", "inference_flex"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
