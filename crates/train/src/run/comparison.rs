//! `[comparison]`: one network trained twice, from scratch and from `[init]` (transfer
//! learning), on the same data, and reported side by side with the paper's two numbers, as
//! Ackermann et al. (2018) compare their merger classifier trained from scratch (error 0.038)
//! and fine-tuned from pretrained weights (0.032).
//!
//! The run folder holds two complete runs, `scratch/` (fresh weights, every layer trained with
//! `[optimizer]`, `[schedule]` and `training.epochs`) and `transfer/` (`[init]` and its
//! `[[stages]]`), and the comparison: `summary.json`, `report.md` and `comparison.png`. Whether
//! transfer beats scratch is judged on the test error with McNemar's paired test (both models
//! see the same test items), so a difference within the noise is called one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::evaluate::paired::{CHANCE_Z, mcnemar};
use crate::fit::epoch_log::read_epochs;
use crate::report::PaperNumber;
use crate::report::comparison_plot::comparison_curves;
use crate::run::folder::{Environment, RunDir, RunState};
use crate::run::train::{Hardware, RunTarget, train};

/// The two runs: from scratch, and from `[init]`.
pub const ARMS: [&str; 2] = ["scratch", "transfer"];

/// One arm's results, as read from its `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    /// The arm's run folder.
    pub run_dir: String,
    /// Its value of the paper's metric (of the accuracy without a paper); none where the run
    /// did not measure it.
    pub value: Option<f64>,
    /// Why `value` was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// Test accuracy (classification) or RMSE (regression).
    pub headline: f64,
    /// ROC AUC (two classes).
    pub roc_auc: Option<f64>,
    /// The evaluated epoch.
    pub best_epoch: usize,
    /// Epochs trained.
    pub epochs_trained: usize,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

impl ArmResult {
    /// The numbers of a finished run's `summary.json`: its value of the paper's metric when
    /// `paper` (never another number in its place), else its accuracy.
    fn read(run: &Path, paper: bool) -> Result<Self, RunError> {
        let v = RunDir::read_summary(run)?;
        let test = &v["test"];
        let number = |x: &serde_json::Value| x.as_f64();
        Ok(Self {
            run_dir: run.display().to_string(),
            value: if paper { number(&v["paper_metric"]) } else { number(&test["accuracy"]) },
            missing: v["paper_metric_missing"].as_str().map(str::to_string),
            headline: number(&test["accuracy"]).or(number(&test["rmse"])).unwrap_or(f64::NAN),
            roc_auc: number(&test["binary"]["roc_auc"]),
            best_epoch: v["best_epoch"].as_u64().unwrap_or(0) as usize,
            epochs_trained: v["epochs_trained"].as_u64().unwrap_or(0) as usize,
            train_seconds: number(&v["train_seconds"]).unwrap_or(f64::NAN),
            images_per_second: number(&v["images_per_second"]).unwrap_or(f64::NAN),
        })
    }
}

/// McNemar's test of two classifiers on the same test items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Items only the run from scratch classifies right.
    pub only_scratch_right: usize,
    /// Items only the transferred run classifies right.
    pub only_transfer_right: usize,
    /// `(transfer-only - scratch-only) / sqrt(sum)`: positive when transfer is better; beyond
    /// about 2 the difference is unlikely to be chance.
    pub z: f64,
}

/// `summary.json` of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonSummary {
    /// The experiment.
    pub experiment: String,
    /// The comparison's run folder.
    pub run_dir: String,
    /// The metric compared (the paper's).
    pub metric: String,
    /// The paper, and its number for the transferred network.
    pub paper: Option<PaperNumber>,
    /// The paper's number for the network trained from scratch.
    pub paper_scratch: Option<f64>,
    /// Where the transferred network's weights came from.
    pub initial_weights: String,
    /// The network trained from scratch.
    pub scratch: ArmResult,
    /// The network started from `[init]`.
    pub transfer: ArmResult,
    /// Relative improvement of the metric by transfer ((scratch - transfer) / scratch for
    /// errors, (transfer - scratch) / scratch otherwise).
    pub relative_gain: Option<f64>,
    /// The paired test on the test items (classification).
    pub paired_test: Option<PairedTest>,
    /// Why there is no paired test, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_test_missing: Option<String>,
    /// The conclusion, in one sentence.
    pub verdict: String,
}

/// Whether a smaller value of `metric` is better.
fn lower_is_better(metric: &str) -> bool {
    matches!(metric, "rmse" | "error_rate")
}

/// The config of the run from scratch: no `[init]`, no stages, the plain optimiser.
pub fn scratch_config(config: &ExperimentConfig) -> ExperimentConfig {
    let mut c = config.clone();
    c.init = None;
    c.stages.clear();
    c.comparison = None;
    if let (Some(paper), Some(comparison)) = (&mut c.experiment.paper, &config.comparison) {
        paper.value = comparison.paper_scratch;
        paper.note = format!("trained from scratch; {}", paper.note);
    }
    c
}

/// The config of the run from `[init]`.
pub fn transfer_config(config: &ExperimentConfig) -> ExperimentConfig {
    ExperimentConfig { comparison: None, ..config.clone() }
}

/// Trains (or resumes, or collects) both arms of `config` into `target` and compares them.
pub fn train_comparison(
    config: &ExperimentConfig,
    hardware: &Hardware,
    target: &RunTarget,
) -> Result<ComparisonSummary, RunError> {
    let top = open_top(config, hardware, target)?;
    top.track(|| compare_into(config, hardware, &top))
}

/// The folder of a run of several arms: created with the resolved config and the environment,
/// or reopened to resume (refused when it already finished).
pub fn open_top(config: &ExperimentConfig, hardware: &Hardware, target: &RunTarget) -> Result<RunDir, RunError> {
    let top = match target {
        RunTarget::New(root) => RunDir::create(root, &config.experiment.name)?,
        RunTarget::At(path) => RunDir::create_at(path)?,
        RunTarget::Resume(path) => {
            let run = RunDir::open(path)?;
            if run.status().is_some_and(|s| s.state == RunState::Complete) {
                return Err(RunError::Run(format!("{} has already finished; start a new run instead", path.display())));
            }
            run
        }
    };
    if !matches!(target, RunTarget::Resume(_)) {
        let text = toml::to_string_pretty(config)
            .map_err(|e| RunError::Run(format!("cannot write the resolved config: {e}")))?;
        top.write("config.toml", &text)?;
        top.write_json("environment.json", &Environment::capture(&hardware.backend, &hardware.names))?;
    }
    Ok(top)
}

fn compare_into(config: &ExperimentConfig, hardware: &Hardware, top: &RunDir) -> Result<ComparisonSummary, RunError> {
    let mut results = Vec::new();
    for (arm, arm_config) in ARMS.iter().zip([scratch_config(config), transfer_config(config)]) {
        let dir = top.file(arm);
        let state = RunDir::open(&dir).ok().and_then(|r| r.status()).map(|s| s.state);
        eprintln!("comparison: {arm} ({})", if *arm == "scratch" { "fresh weights" } else { "from [init]" });
        match state {
            Some(RunState::Complete) => eprintln!("comparison: {arm} finished before; reading it"),
            Some(_) => {
                let summary = train(&arm_config, hardware, &RunTarget::Resume(dir.clone()))?;
                print_arm(arm, &summary.console_lines());
            }
            None => {
                let summary = train(&arm_config, hardware, &RunTarget::At(dir.clone()))?;
                print_arm(arm, &summary.console_lines());
            }
        }
        results.push(ArmResult::read(&dir, config.experiment.paper.is_some())?);
    }
    let transfer = results.pop().expect("two arms");
    let scratch = results.pop().expect("two arms");
    let metric = config.experiment.paper.as_ref().map_or("accuracy".to_string(), |p| p.metric.clone());
    let (paired_test, paired_test_missing) = match paired_test(&top.file("scratch"), &top.file("transfer")) {
        Ok(test) => (Some(test), None),
        Err(why) => (None, Some(why)),
    };
    let relative_gain = match (scratch.value, transfer.value) {
        (Some(s), Some(t)) if s != 0.0 => Some(if lower_is_better(&metric) { (s - t) / s } else { (t - s) / s }),
        _ => None,
    };
    let summary = ComparisonSummary {
        experiment: config.experiment.name.clone(),
        run_dir: top.path.display().to_string(),
        metric: metric.clone(),
        paper: config.experiment.paper.as_ref().map(PaperNumber::of),
        paper_scratch: config.comparison.as_ref().and_then(|c| c.paper_scratch),
        initial_weights: initial_weights(config),
        verdict: verdict(&metric, &scratch, &transfer, paired_test.as_ref(), paired_test_missing.as_deref()),
        scratch,
        transfer,
        relative_gain,
        paired_test,
        paired_test_missing,
    };
    let curves = [
        ("scratch", read_epochs(&top.file("scratch/metrics.csv"))),
        ("transfer", read_epochs(&top.file("transfer/metrics.csv"))),
    ];
    let curves: Vec<(&str, Vec<crate::fit::epoch_log::EpochRow>)> =
        curves.into_iter().map(|(n, rows)| (n, rows.unwrap_or_default())).collect();
    let first_stage_epochs = config.stages.first().map(|s| s.epochs).filter(|_| config.stages.len() > 1);
    comparison_curves(
        &top.file("comparison.png"),
        &format!("{}: from scratch vs transfer", config.experiment.name),
        &curves,
        first_stage_epochs,
    )?;
    top.write_json("summary.json", &summary)?;
    top.write("report.md", &report(config, &summary))?;
    Ok(summary)
}

fn print_arm(arm: &str, lines: &[String]) {
    for line in lines {
        println!("{arm}: {line}");
    }
}

/// Where `[init]` takes its weights from, in words.
fn initial_weights(config: &ExperimentConfig) -> String {
    let Some(init) = &config.init else { return "none".into() };
    let from = init.run.as_ref().or(init.weights.as_ref()).or(init.pretrain.as_ref());
    from.map_or("none".into(), |p| p.display().to_string())
}

/// The predicted and true class of every item of a predictions file (`test_predictions.csv`,
/// `target_test_predictions.csv`) of a finished classification run: whether each was right.
pub fn test_outcomes(file: &Path) -> Result<HashMap<String, bool>, String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", file.display());
    let mut reader = csv::Reader::from_path(file).map_err(|e| cannot(&e))?;
    let headers = reader.headers().map_err(|e| cannot(&e))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| format!("{} has no `{name}` column", file.display()))
    };
    let (id, predicted, truth) = (column("id")?, column("predicted")?, column("true")?);
    let mut outcomes = HashMap::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| cannot(&e))?;
        let field =
            |k: usize| record.get(k).ok_or_else(|| format!("{} row {}: too few columns", file.display(), line + 2));
        outcomes.insert(field(id)?.to_string(), field(predicted)? == field(truth)?);
    }
    Ok(outcomes)
}

/// McNemar's test of the two arms on their test items, which must be the same items; the
/// error says why it cannot be computed.
fn paired_test(scratch: &Path, transfer: &Path) -> Result<PairedTest, String> {
    let (a, b) =
        (test_outcomes(&scratch.join("test_predictions.csv"))?, test_outcomes(&transfer.join("test_predictions.csv"))?);
    let (only_scratch_right, only_transfer_right, z) = mcnemar(&a, &b, "scratch", "transfer")?;
    Ok(PairedTest { only_scratch_right, only_transfer_right, z })
}

/// One sentence: does transfer beat scratch, and is the difference more than chance?
fn verdict(
    metric: &str,
    scratch: &ArmResult,
    transfer: &ArmResult,
    test: Option<&PairedTest>,
    no_test: Option<&str>,
) -> String {
    let (Some(s), Some(t)) = (scratch.value, transfer.value) else {
        let why = [scratch, transfer].iter().find_map(|a| a.missing.clone());
        return format!("no {metric} to compare{}", why.map_or(String::new(), |w| format!(": {w}")));
    };
    let better = if lower_is_better(metric) { t < s } else { t > s };
    let numbers = format!("{metric} {t:.4} from [init] vs {s:.4} from scratch");
    let noise = match test {
        Some(p) if p.z.abs() >= CHANCE_Z => {
            format!(
                "; McNemar z = {:.1} ({} test items only one of them gets right): more than chance",
                p.z,
                p.only_scratch_right + p.only_transfer_right
            )
        }
        Some(p) => format!(
            "; McNemar z = {:.1} ({} vs {} items only one of them gets right): within chance",
            p.z, p.only_transfer_right, p.only_scratch_right
        ),
        None => no_test.map_or(String::new(), |why| format!("; no McNemar test: {why}")),
    };
    if better {
        format!("transfer learning beats training from scratch: {numbers}{noise}")
    } else {
        format!("transfer learning does not beat training from scratch here: {numbers}{noise}")
    }
}

impl ComparisonSummary {
    /// The lines printed at the end.
    pub fn console_lines(&self) -> Vec<String> {
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let mut lines = Vec::new();
        for (arm, r) in [("scratch", &self.scratch), ("transfer", &self.transfer)] {
            lines.push(format!(
                "{arm}: test {} {} (ROC AUC {}), best epoch {} of {}, {:.0} s",
                self.metric,
                fmt(r.value),
                fmt(r.roc_auc),
                r.best_epoch,
                r.epochs_trained,
                r.train_seconds
            ));
        }
        if let Some(p) = &self.paper {
            lines.push(format!(
                "paper {}: scratch {}, transfer {} ({}); this run: scratch {}, transfer {}",
                self.metric,
                fmt(self.paper_scratch),
                fmt(p.value),
                p.citation,
                fmt(self.scratch.value),
                fmt(self.transfer.value)
            ));
        }
        lines.push(self.verdict.clone());
        lines.push(format!("initial weights: {}", self.initial_weights));
        lines.push(format!("run folder: {}", self.run_dir));
        lines
    }
}

fn report(config: &ExperimentConfig, s: &ComparisonSummary) -> String {
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let e = &config.experiment;
    let mut md = format!("# {}\n\n{}\n\n## Result\n\n{}.\n\n", e.name, e.description, s.verdict);
    md.push_str(&format!(
        "| network | test {} | ROC AUC | best epoch | seconds | paper |\n|---|---|---|---|---|---|\n",
        s.metric
    ));
    let paper = s.paper.as_ref().and_then(|p| p.value);
    for (arm, r, paper) in [("scratch", &s.scratch, s.paper_scratch), ("transfer", &s.transfer, paper)] {
        md.push_str(&format!(
            "| [{arm}]({arm}/report.md) | {} | {} | {} of {} | {:.0} | {} |\n",
            fmt(r.value),
            fmt(r.roc_auc),
            r.best_epoch,
            r.epochs_trained,
            r.train_seconds,
            fmt(paper)
        ));
    }
    if let Some(gain) = s.relative_gain {
        md.push_str(&format!("\nRelative gain from transfer: {:.1}%", 100.0 * gain));
        if let (Some(p), Some(ps)) = (paper, s.paper_scratch) {
            let paper_gain = if lower_is_better(&s.metric) { (ps - p) / ps } else { (p - ps) / ps };
            md.push_str(&format!(" (paper: {:.1}%)", 100.0 * paper_gain));
        }
        md.push_str(".\n");
    }
    if let Some(p) = &s.paper {
        md.push_str(&format!("\nPaper: {}. {}\n", p.citation, p.note));
    }
    md.push_str(&format!(
        "\nInitial weights of the transferred network: {}. Both networks train on the same data, \
         the one from scratch for `training.epochs` with `[optimizer]`; the transferred one through its \
         `[[stages]]`.\n\n![validation curves](comparison.png)\n\n## Files\n\n\
         - [scratch/](scratch/report.md), [transfer/](transfer/report.md): the two runs, each complete\n\
         - [config.toml](config.toml): the resolved config\n\
         - [summary.json](summary.json): the numbers above\n",
        s.initial_weights
    ));
    md
}

/// Whether `path` is the folder of a comparison (two runs), not of one run.
pub fn is_comparison(path: &Path) -> bool {
    ARMS.iter().all(|arm| path.join(arm).join("config.toml").is_file())
}

/// The arm folders of a comparison at `path`.
pub fn arm_dirs(path: &Path) -> Vec<PathBuf> {
    ARMS.iter().map(|arm| path.join(arm)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(value: f64) -> ArmResult {
        ArmResult {
            run_dir: String::new(),
            value: Some(value),
            missing: None,
            headline: 1.0 - value,
            roc_auc: None,
            best_epoch: 1,
            epochs_trained: 1,
            train_seconds: 1.0,
            images_per_second: 1.0,
        }
    }

    fn predictions(dir: &Path, right: &[bool]) {
        std::fs::create_dir_all(dir).unwrap();
        let mut text = String::from("id,predicted,p_a,p_b,true\n");
        for (i, ok) in right.iter().enumerate() {
            text.push_str(&format!("{i},{},0.5,0.5,a\n", if *ok { "a" } else { "b" }));
        }
        std::fs::write(dir.join("test_predictions.csv"), text).unwrap();
    }

    #[test]
    fn mcnemar_counts_the_items_only_one_arm_gets_right() {
        let dir = tempfile::tempdir().unwrap();
        // 10 items: both right on 4, only transfer on 5, only scratch on 1.
        let scratch = [true, true, true, true, false, false, false, false, false, true];
        let transfer = [true, true, true, true, true, true, true, true, true, false];
        predictions(&dir.path().join("s"), &scratch);
        predictions(&dir.path().join("t"), &transfer);
        let test = paired_test(&dir.path().join("s"), &dir.path().join("t")).unwrap();
        assert_eq!((test.only_scratch_right, test.only_transfer_right), (1, 5));
        assert!((test.z - 4.0 / 6f64.sqrt()).abs() < 1e-12, "{test:?}");
        // One item fewer in an arm: no test, and the reason names the item.
        predictions(&dir.path().join("t"), &transfer[..9]);
        let why = paired_test(&dir.path().join("s"), &dir.path().join("t")).unwrap_err();
        assert_eq!(why, "test item 9 of the scratch run is missing from the transfer run");
        let v = verdict("error_rate", &arm(0.04), &arm(0.03), None, Some(&why));
        assert!(
            v.ends_with("; no McNemar test: test item 9 of the scratch run is missing from the transfer run"),
            "{v}"
        );
    }

    #[test]
    fn the_verdict_says_which_is_better_and_whether_it_is_chance() {
        let strong = PairedTest { only_scratch_right: 5, only_transfer_right: 30, z: 25.0 / 35f64.sqrt() };
        let v = verdict("error_rate", &arm(0.04), &arm(0.03), Some(&strong), None);
        assert!(v.starts_with("transfer learning beats training from scratch: error_rate 0.0300"), "{v}");
        assert!(v.ends_with("more than chance"), "{v}");
        let weak = PairedTest { only_scratch_right: 10, only_transfer_right: 12, z: 2.0 / 22f64.sqrt() };
        let v = verdict("error_rate", &arm(0.03), &arm(0.035), Some(&weak), None);
        assert!(v.starts_with("transfer learning does not beat training from scratch here"), "{v}");
        assert!(v.ends_with("within chance"), "{v}");
        // Higher is better for accuracy-like metrics.
        assert!(verdict("roc_auc", &arm(0.9), &arm(0.95), None, None).starts_with("transfer learning beats"));
        // An arm that did not measure the paper's metric is compared on nothing else.
        let unmeasured = ArmResult { value: None, missing: Some("no items: ...".into()), ..arm(0.0) };
        assert_eq!(
            verdict("error_rate", &arm(0.03), &unmeasured, None, None),
            "no error_rate to compare: no items: ..."
        );
    }

    #[test]
    fn an_arm_without_the_paper_metric_has_no_value_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let summary = r#"{"test": {"accuracy": 0.9}, "paper_metric": null, "paper_metric_missing": "no items: x"}"#;
        std::fs::write(dir.path().join("summary.json"), summary).unwrap();
        let with_paper = ArmResult::read(dir.path(), true).unwrap();
        assert_eq!((with_paper.value, with_paper.missing.as_deref()), (None, Some("no items: x")));
        assert_eq!(ArmResult::read(dir.path(), false).unwrap().value, Some(0.9));
    }
}
