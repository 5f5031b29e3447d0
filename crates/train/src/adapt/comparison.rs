//! `[adaptation] compare = [...]`: the same network trained as each arm (source only, MMD,
//! DANN, and trained on the target's own labels as the upper bound) on the same splits, each
//! into its own folder, and compared on the target test split: accuracy, ROC AUC, McNemar's
//! test against the source-only arm, and the share of the gap between source only and the
//! upper bound that adaptation recovers (DeepMerge II's comparison, Ciprijanovic et al. 2021).

use std::path::Path;

use serde::Serialize;

use crate::adapt::config::{AdaptationConfig, Arm, Method};
use crate::adapt::over_seeds::{OverSeeds, summarise};
use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::evaluate::paired::{CHANCE_Z, mcnemar};
use crate::run::comparison::{open_top, test_outcomes};
use crate::run::folder::{RunDir, RunState};
use crate::run::train::{Hardware, RunTarget, train};

/// The config of one arm: `config` with the arm's method (and, for the upper bound, the target
/// as its labelled data); no further comparison.
pub fn arm_config(config: &ExperimentConfig, arm: Arm) -> ExperimentConfig {
    let mut c = config.clone();
    let a: &mut AdaptationConfig = c.adaptation.as_mut().expect("a comparison of [adaptation] arms");
    a.compare.clear();
    a.seeds.clear();
    match arm {
        Arm::None => {
            a.method = Method::None;
            a.entropy_weight = 0.0;
            a.target_batch_norm = false;
        }
        Arm::AdaBn => {
            a.method = Method::None;
            a.entropy_weight = 0.0;
            a.target_batch_norm = true;
        }
        Arm::Mmd => a.method = Method::Mmd,
        Arm::Dann => a.method = Method::Dann,
        Arm::TargetTrained => {
            a.method = Method::None;
            a.entropy_weight = 0.0;
            a.target_batch_norm = false;
            c.data = a.target.clone();
        }
    }
    if arm == Arm::TargetTrained {
        // The very target items the other arms are scored on.
        let seed = crate::adapt::target::target_seed(config);
        c.experiment.data_seed = Some(seed);
        if let Some(a) = c.adaptation.as_mut() {
            a.target_seed = Some(seed);
        }
    }
    c
}

/// One arm's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ArmScores {
    /// The arm.
    pub arm: String,
    /// Its run folder.
    pub run_dir: String,
    /// Accuracy on the target test split.
    pub target_accuracy: Option<f64>,
    /// ROC AUC on the target test split (two classes).
    pub target_roc_auc: Option<f64>,
    /// Accuracy on the test split of the data it trained on (the source; the target for the
    /// upper bound).
    pub own_test_accuracy: Option<f64>,
    /// McNemar against the source-only arm on the target test items: (items only source-only
    /// gets right, items only this arm gets right, z).
    pub mcnemar_vs_source_only: Option<(usize, usize, f64)>,
    /// Share of the target ROC AUC gap between source only and the upper bound this arm
    /// closes.
    pub auc_gap_recovered: Option<f64>,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Training images per second (source images; an adapted step also reads as many target
    /// images).
    pub images_per_second: f64,
}

/// `summary.json` of an adaptation comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptationComparison {
    /// The experiment.
    pub experiment: String,
    /// The comparison's folder.
    pub run_dir: String,
    /// The arms, in the order trained (repeated over seeds: empty; each seed's are in its
    /// `seed_<seed>/summary.json`).
    pub arms: Vec<ArmScores>,
    /// Repeated over `[adaptation] seeds`: every arm over the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_seeds: Option<OverSeeds>,
}

/// Trains (or resumes, or reads) every arm of `config` into `target` and compares them.
pub fn train_adaptation_comparison(
    config: &ExperimentConfig,
    hardware: &Hardware,
    target: &RunTarget,
) -> Result<AdaptationComparison, RunError> {
    let top = open_top(config, hardware, target)?;
    let seeds = &config.adaptation.as_ref().expect("an adaptation comparison").seeds;
    if seeds.is_empty() {
        top.track(|| compare_into(config, hardware, &top))
    } else {
        top.track(|| compare_over_seeds(config, seeds, hardware, &top))
    }
}

/// The comparison once per seed, each into `seed_<seed>/` (resumed, or read where it
/// finished), then every arm over the seeds.
fn compare_over_seeds(
    config: &ExperimentConfig,
    seeds: &[u64],
    hardware: &Hardware,
    top: &RunDir,
) -> Result<AdaptationComparison, RunError> {
    let mut per_seed = Vec::new();
    for &seed in seeds {
        let mut c = config.clone();
        c.experiment.seed = seed;
        c.adaptation.as_mut().expect("an adaptation comparison").seeds.clear();
        let dir = top.file(&format!("seed_{seed}"));
        let existing = RunDir::open(&dir).ok();
        eprintln!("adaptation comparison: seed {seed}");
        let comparison = match existing {
            Some(sub) if sub.status().is_some_and(|s| s.state == RunState::Complete) => {
                eprintln!("adaptation comparison: seed {seed} finished before; reading it");
                collect(&c, &sub, &c.adaptation.as_ref().expect("an adaptation comparison").compare)?
            }
            existing => {
                let target = if existing.is_some() { RunTarget::Resume(dir) } else { RunTarget::At(dir) };
                let sub = open_top(&c, hardware, &target)?;
                sub.track(|| compare_into(&c, hardware, &sub))?
            }
        };
        for line in comparison.console_lines() {
            println!("seed {seed}: {line}");
        }
        per_seed.push(comparison);
    }
    let summary = AdaptationComparison {
        experiment: config.experiment.name.clone(),
        run_dir: top.path.display().to_string(),
        arms: Vec::new(),
        over_seeds: Some(summarise(seeds, &per_seed)),
    };
    top.write_json("summary.json", &summary)?;
    top.write("report.md", &report(config, &summary))?;
    Ok(summary)
}

fn compare_into(
    config: &ExperimentConfig,
    hardware: &Hardware,
    top: &RunDir,
) -> Result<AdaptationComparison, RunError> {
    let arms = &config.adaptation.as_ref().expect("an adaptation comparison").compare;
    for &arm in arms {
        let dir = top.file(arm.name());
        let state = RunDir::open(&dir).ok().and_then(|r| r.status()).map(|s| s.state);
        eprintln!("adaptation comparison: {}", arm.name());
        let arm_config = arm_config(config, arm);
        match state {
            Some(RunState::Complete) => eprintln!("adaptation comparison: {} finished before; reading it", arm.name()),
            Some(_) => print_arm(arm, &train(&arm_config, hardware, &RunTarget::Resume(dir.clone()))?.console_lines()),
            None => print_arm(arm, &train(&arm_config, hardware, &RunTarget::At(dir.clone()))?.console_lines()),
        }
    }
    let summary = collect(config, top, arms)?;
    top.write_json("summary.json", &summary)?;
    top.write("report.md", &report(config, &summary))?;
    Ok(summary)
}

fn print_arm(arm: Arm, lines: &[String]) {
    for line in lines {
        println!("{}: {line}", arm.name());
    }
}

/// Reads every arm's scores and compares them with the source-only arm.
fn collect(config: &ExperimentConfig, top: &RunDir, arms: &[Arm]) -> Result<AdaptationComparison, RunError> {
    let predictions = |arm: Arm| top.file(arm.name()).join("target_test_predictions.csv");
    let baseline =
        arms.contains(&Arm::None).then(|| test_outcomes(&predictions(Arm::None))).transpose().map_err(RunError::Run)?;
    let mut rows = Vec::new();
    for &arm in arms {
        let dir = top.file(arm.name());
        let v = RunDir::read_summary(&dir)?;
        let target = &v["adaptation"]["target_test"];
        let number = |x: &serde_json::Value| x.as_f64();
        let mcnemar_vs_source_only = match (&baseline, arm) {
            (Some(base), a) if a != Arm::None => {
                let outcomes = test_outcomes(&predictions(arm)).map_err(RunError::Run)?;
                Some(mcnemar(base, &outcomes, "source_only", arm.name()).map_err(RunError::Run)?)
            }
            _ => None,
        };
        rows.push(ArmScores {
            arm: arm.name().into(),
            run_dir: dir.display().to_string(),
            target_accuracy: number(&target["accuracy"]),
            target_roc_auc: number(&target["binary"]["roc_auc"]),
            own_test_accuracy: number(&v["test"]["accuracy"]),
            mcnemar_vs_source_only,
            auc_gap_recovered: None,
            train_seconds: number(&v["train_seconds"]).unwrap_or(f64::NAN),
            images_per_second: number(&v["images_per_second"]).unwrap_or(f64::NAN),
        });
    }
    let auc_of = |name: &str| rows.iter().find(|r| r.arm == name).and_then(|r| r.target_roc_auc);
    if let (Some(low), Some(high)) = (auc_of(Arm::None.name()), auc_of(Arm::TargetTrained.name()))
        && high > low
    {
        for r in rows.iter_mut().filter(|r| r.arm != Arm::None.name() && r.arm != Arm::TargetTrained.name()) {
            r.auc_gap_recovered = r.target_roc_auc.map(|auc| (auc - low) / (high - low));
        }
    }
    Ok(AdaptationComparison {
        experiment: config.experiment.name.clone(),
        run_dir: top.path.display().to_string(),
        arms: rows,
        over_seeds: None,
    })
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

fn mcnemar_text(m: Option<(usize, usize, f64)>) -> String {
    m.map_or("-".into(), |(a, b, z)| {
        let verdict = if z.abs() >= CHANCE_Z { "more than chance" } else { "within chance" };
        format!("z = {z:+.1} ({b} vs {a} items only one gets right; {verdict})")
    })
}

impl AdaptationComparison {
    /// The lines printed at the end.
    pub fn console_lines(&self) -> Vec<String> {
        if let Some(over_seeds) = &self.over_seeds {
            let mut lines = over_seeds.console_lines();
            lines.push(format!("run folder: {} (one comparison per seed in seed_<seed>/)", self.run_dir));
            return lines;
        }
        let mut lines: Vec<String> = self
            .arms
            .iter()
            .map(|r| {
                let gap = r
                    .auc_gap_recovered
                    .map_or(String::new(), |g| format!(", {:.0}% of the AUC gap recovered", 100.0 * g));
                format!(
                    "{}: target accuracy {}, target ROC AUC {}{gap}; vs source only: {}; {:.0} images/s",
                    r.arm,
                    fmt(r.target_accuracy),
                    fmt(r.target_roc_auc),
                    mcnemar_text(r.mcnemar_vs_source_only),
                    r.images_per_second
                )
            })
            .collect();
        lines.push(format!("run folder: {}", self.run_dir));
        lines
    }
}

fn report(config: &ExperimentConfig, s: &AdaptationComparison) -> String {
    let e = &config.experiment;
    if let Some(over_seeds) = &s.over_seeds {
        let seeds: Vec<String> =
            over_seeds.seeds.iter().map(|seed| format!("- [seed {seed}](seed_{seed}/report.md)")).collect();
        return format!(
            "# {}\n\n{}\n\n{}\nEvery seed trains every arm on the same data and target split (drawn with that \
             seed); source only, MMD, DANN, AdaBN and the target-trained upper bound are as in each seed's report.\n\n\
             ## Each seed's comparison\n\n{}\n\n## Files\n\n- [config.toml](config.toml), [summary.json](summary.json)\n",
            e.name,
            e.description,
            over_seeds.markdown(),
            seeds.join("\n")
        );
    }
    let mut md = format!(
        "# {}\n\n{}\n\n## Target test split\n\n\
         | network | target accuracy | target ROC AUC | AUC gap recovered | McNemar vs source only | own test accuracy | seconds | images/s |\n\
         |---|---|---|---|---|---|---|---|\n",
        e.name, e.description
    );
    for r in &s.arms {
        md.push_str(&format!(
            "| [{}]({}/report.md) | {} | {} | {} | {} | {} | {:.0} | {:.0} |\n",
            r.arm,
            r.arm,
            fmt(r.target_accuracy),
            fmt(r.target_roc_auc),
            r.auc_gap_recovered.map_or("-".into(), |g| format!("{:.0}%", 100.0 * g)),
            mcnemar_text(r.mcnemar_vs_source_only),
            fmt(r.own_test_accuracy),
            r.train_seconds,
            r.images_per_second
        ));
    }
    md.push_str(
        "\nEvery arm is the same network with the same seed, scored on the same target test items. `source_only` \
         trains on the labelled source alone; `mmd` and `dann` also read unlabelled target training images; \
         `adabn` is source only scored with batch-norm statistics taken from unlabelled target training images; \
         `target_trained` trains on the target's own labels (the upper bound). The AUC gap recovered is \
         (arm - source_only) / (target_trained - source_only). Images/s counts source images: an adapted step \
         also reads a batch of target images.\n\n## Body features of both test splits\n\n\
         Source only shows the features before adaptation; the adapted arms after it.\n\n",
    );
    for r in &s.arms {
        md.push_str(&format!("### {}\n\n![{} features]({}/features.png)\n\n", r.arm, r.arm, r.arm));
    }
    md.push_str(
        "## Files\n\n- one folder per arm, each a complete run\n- [config.toml](config.toml), \
         [summary.json](summary.json)\n",
    );
    md
}

const ALL_ARMS: [Arm; 5] = [Arm::None, Arm::Mmd, Arm::Dann, Arm::TargetTrained, Arm::AdaBn];

/// Whether `path` is the folder of an adaptation comparison (arm folders, no model of its own).
pub fn is_adaptation_comparison(path: &Path) -> bool {
    !arm_dirs(path).is_empty() && !path.join("model.bpk").is_file()
}

/// The arm folders of an adaptation comparison at `path` (repeated over seeds: each seed's, in
/// `seed_<seed>/`).
pub fn arm_dirs(path: &Path) -> Vec<std::path::PathBuf> {
    let arms = |dir: &Path| -> Vec<std::path::PathBuf> {
        ALL_ARMS.iter().map(|a| dir.join(a.name())).filter(|d| d.join("config.toml").is_file()).collect()
    };
    let mut seeds: Vec<std::path::PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed_")))
        .collect();
    seeds.sort();
    let mut dirs = arms(path);
    dirs.extend(seeds.iter().flat_map(|seed| arms(seed)));
    dirs
}
