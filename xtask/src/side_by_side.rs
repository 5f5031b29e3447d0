//! The table `cargo xtask bench` prints after the criterion benchmarks: each network's training
//! step and inference throughput on every backend the bench measured (from criterion's saved
//! estimates) and the peak memory of each (the bench's `peak_heap_bytes` beside them, CPU
//! backends only), beside PyTorch's for the networks that have a committed PyTorch twin, run with
//! the same thread count when a Python with `torch` is there (`ASTRO_TORCH_PYTHON`, else
//! `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// A group of `crates/trainer/benches/train_step/`, and the arguments that give its PyTorch twin
/// (`<network>_pytorch.py` beside the bench, [`Network::twin`]) the same sizes.
struct Network {
    group: &'static str,
    args: &'static [&'static str],
}

impl Network {
    /// The twin's script: the network's, whichever size the group measures.
    fn twin(&self) -> String {
        format!("crates/trainer/benches/{}_pytorch.py", self.group.trim_end_matches("_paper"))
    }
}

const fn network(group: &'static str, args: &'static [&'static str]) -> Network {
    Network { group, args }
}

/// The bench's groups: each config's size, then the paper's (the bench's `PAPER_SIZES`).
const NETWORKS: [Network; 12] = [
    network("galaxy_cnn", &[]),
    network("rrlyrae_rnn", &[]),
    network("deeplens_resnet", &[]),
    network("semantic_autoencoder", &[]),
    network("galaxy_gan", &[]),
    network("cosmo_gan", &[]),
    network("galaxy_cnn_paper", &["--channels", "32,64,128,128", "--dense", "2048", "--batch", "16"]),
    network("rrlyrae_rnn_paper", &["--steps", "200", "--batch", "64"]),
    network("deeplens_resnet_paper", &["--stem", "32", "--widths", "32,64,128,256,512"]),
    network("semantic_autoencoder_paper", &["--widths", "32,64,128"]),
    network("galaxy_gan_paper", &["--filters", "64", "--size", "256", "--batch", "1"]),
    network("cosmo_gan_paper", &["--filters", "64", "--size", "256", "--batch", "16"]),
];

/// What PyTorch's twin measured: training and inference items/s and peak memory (MB; `None`
/// where the twin could not measure it).
#[derive(Debug, Clone, PartialEq)]
struct Twin {
    train: f64,
    infer: f64,
    train_mb: Option<f64>,
    infer_mb: Option<f64>,
}

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

/// Peak heap memory of one benchmark row in MB, if the bench recorded it.
fn peak_mb(criterion: &Path, group: &str, bench: &str) -> Option<f64> {
    let text = std::fs::read_to_string(criterion.join(group).join(bench).join("peak_heap_bytes")).ok()?;
    Some(text.trim().parse::<f64>().ok()? / f64::from(1 << 20))
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

/// Reads a twin's line: "... train_step 2333 seq/s, inference 26746 seq/s, peak_train_mb 137,
/// peak_inference_mb 43" (img/s for images; a peak that was not measured reads "not measured").
fn parse_twin(text: &str) -> Option<Twin> {
    let number_after = |key: &str| -> Option<f64> {
        text.split(key).nth(1)?.split_whitespace().next()?.trim_end_matches(',').parse().ok()
    };
    Some(Twin {
        train: number_after("train_step ")?,
        infer: number_after("inference ")?,
        train_mb: number_after("peak_train_mb "),
        infer_mb: number_after("peak_inference_mb "),
    })
}

/// What PyTorch's twin `script` measured with `args`, or why there is nothing.
fn pytorch(root: &Path, script: &str, args: &[&str], threads: usize) -> Result<Twin, String> {
    let python = std::env::var("ASTRO_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    if !has_torch {
        return Err(format!("no `torch` in {python} (set ASTRO_TORCH_PYTHON)"));
    }
    let output = Command::new(&python)
        .arg(root.join(script))
        .args(["--threads", &threads.to_string()])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    parse_twin(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| format!("{script} printed no throughput: {}", String::from_utf8_lossy(&output.stderr).trim()))
}

/// A rate of items/s as the table shows it: whole numbers from 100 up, three significant
/// figures below (the paper-size GANs run at a few items/s).
fn rate(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        let decimals = (2 - value.abs().max(1e-9).log10().floor() as i32).clamp(0, 6) as usize;
        format!("{value:.decimals$}")
    }
}

/// Prints the side-by-side table.
pub fn print_table(root: &Path, criterion: &Path) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\nTraining step and inference, items/s ({threads} threads; PyTorch with the same), and peak memory:");
    println!(
        "| network | backend | training step | inference | training / PyTorch | inference / PyTorch | peak memory, training (MB) | peak memory, inference (MB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let show_mb = |v: Option<f64>| v.map_or_else(|| "not measured".to_string(), |v| format!("{v:.0}"));
    for network in NETWORKS {
        let (group, theirs) = (network.group, pytorch(root, &network.twin(), network.args, threads));
        let ratio = |ours: Option<f64>, pick: fn(&Twin) -> f64| match (ours, &theirs) {
            (Some(o), Ok(t)) => format!("{:.2}", o / pick(t)),
            _ => "-".to_string(),
        };
        for backend in backends(criterion, group) {
            let train = measured(criterion, group, &format!("train_step_{backend}"));
            let infer = measured(criterion, group, &format!("inference_{backend}"));
            let memory = |bench: &str| {
                peak_mb(criterion, group, &format!("{bench}_{backend}"))
                    .map_or_else(|| "not measured (outside Rust's heap)".to_string(), |v| format!("{v:.0}"))
            };
            println!(
                "| {group} | {backend} | {} | {} | {} | {} | {} | {} |",
                train.map_or_else(|| "not measured".to_string(), rate),
                infer.map_or_else(|| "not measured".to_string(), rate),
                ratio(train, |t| t.train),
                ratio(infer, |t| t.infer),
                memory("train_step"),
                memory("inference"),
            );
        }
        match &theirs {
            Ok(t) => println!(
                "| {group} | PyTorch | {} | {} | 1.00 | 1.00 | {} | {} |",
                rate(t.train),
                rate(t.infer),
                show_mb(t.train_mb),
                show_mb(t.infer_mb)
            ),
            Err(why) => println!("| {group} | PyTorch | not measured: {why} | | | | | |"),
        }
    }
    println!(
        "(peak memory above the network and its batch, the optimiser state made in the first step counted: \
         ours, the most bytes a row's first steps held in Rust's heap; PyTorch's, the peak resident size \
         above the start of the phase, each phase in its own process)"
    );
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
        std::fs::write(bench.parent().unwrap().join("peak_heap_bytes"), "3145728\n").unwrap();
        assert_eq!(peak_mb(&dir, "rrlyrae_rnn", "train_step_flex"), Some(3.0));
        assert_eq!(peak_mb(&dir, "rrlyrae_rnn", "inference_flex"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rates_below_100_keep_three_significant_figures() {
        assert_eq!(rate(20_707.4), "20707");
        assert_eq!(rate(142.6), "143");
        assert_eq!(rate(19.34), "19.3");
        assert_eq!(rate(2.634), "2.63");
        assert_eq!(rate(0.9312), "0.931");
    }

    #[test]
    fn a_twins_line_gives_its_rates_and_peaks() {
        let line = "pytorch 2.9.0 threads 2: cosmo_gan train_step 43 slice/s, inference 610 slice/s, \
                    peak_train_mb 127, peak_inference_mb not measured (no /proc)";
        let twin = parse_twin(line).unwrap();
        assert_eq!(twin, Twin { train: 43.0, infer: 610.0, train_mb: Some(127.0), infer_mb: None });
        assert_eq!(parse_twin("Traceback (most recent call last)"), None);
    }
}
