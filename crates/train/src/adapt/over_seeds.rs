//! `[adaptation] seeds = [...]`: an adaptation comparison repeated once per seed, each into
//! `seed_<seed>/` (a complete comparison of its own), and every arm summarised over the seeds:
//! its target ROC AUC and accuracy seed by seed with their mean and spread, and its ROC AUC
//! minus source only's, paired seed by seed (mean, standard deviation, Student's t over the
//! seeds, and in how many seeds it is higher). One seed's arms share their data and target
//! split, so the pairing removes what the seed does to all of them alike.

use serde::Serialize;

use crate::adapt::comparison::{AdaptationComparison, ArmScores};
use crate::adapt::config::Arm;

/// Every arm of a comparison repeated over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct OverSeeds {
    /// The seeds, in the order run.
    pub seeds: Vec<u64>,
    /// One row per arm.
    pub arms: Vec<ArmOverSeeds>,
}

/// One arm over the seeds.
#[derive(Debug, Clone, Serialize)]
pub struct ArmOverSeeds {
    /// The arm.
    pub arm: String,
    /// Target ROC AUC per seed (`None`: not measured there, e.g. more than two classes).
    pub target_roc_auc: Vec<Option<f64>>,
    /// Target accuracy per seed.
    pub target_accuracy: Vec<Option<f64>>,
    /// Mean and sample standard deviation of the ROC AUC over the seeds (`None` where a seed
    /// lacks it).
    pub roc_auc: Option<MeanSpread>,
    /// Mean and sample standard deviation of the accuracy.
    pub accuracy: Option<MeanSpread>,
    /// The ROC AUC minus source only's, seed by seed (`None` for source only itself, or
    /// without a source-only arm).
    pub roc_auc_minus_source_only: Option<Paired>,
}

/// A mean and its sample standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSpread {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (n - 1).
    pub sd: f64,
}

/// Paired differences over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    /// The difference in each seed.
    pub per_seed: Vec<f64>,
    /// Their mean and spread.
    pub difference: MeanSpread,
    /// Student's t of the mean difference (mean / (sd / sqrt(n))); `None` when every seed
    /// gives the same difference (to 1e-12).
    pub t: Option<f64>,
    /// The two-sided 5% critical value of t for these seeds (n - 1 degrees of freedom).
    pub t_critical: f64,
    /// Seeds in which the arm's ROC AUC is higher than source only's.
    pub higher_in: usize,
}

impl Paired {
    /// Whether the mean difference is more than the seeds' spread explains at 5%.
    pub fn beyond_chance(&self) -> bool {
        self.t.is_some_and(|t| t.abs() >= self.t_critical)
    }
}

/// Summarises each arm of `per_seed` (one finished comparison per seed of `seeds`, arms in
/// the same order).
pub fn summarise(seeds: &[u64], per_seed: &[AdaptationComparison]) -> OverSeeds {
    let arms: Vec<String> =
        per_seed.first().map(|c| c.arms.iter().map(|r| r.arm.clone()).collect()).unwrap_or_default();
    let values = |arm: &str, pick: fn(&ArmScores) -> Option<f64>| -> Vec<Option<f64>> {
        per_seed.iter().map(|c| c.arms.iter().find(|r| r.arm == arm).and_then(pick)).collect()
    };
    let source_only = values(Arm::None.name(), |r| r.target_roc_auc);
    let rows = arms
        .iter()
        .map(|arm| {
            let auc = values(arm, |r| r.target_roc_auc);
            let accuracy = values(arm, |r| r.target_accuracy);
            let paired =
                (arm != Arm::None.name()).then(|| differences(&auc, &source_only)).flatten().map(|d| paired(&d));
            ArmOverSeeds {
                arm: arm.clone(),
                roc_auc: all(&auc).map(|v| mean_spread(&v)),
                accuracy: all(&accuracy).map(|v| mean_spread(&v)),
                target_roc_auc: auc,
                target_accuracy: accuracy,
                roc_auc_minus_source_only: paired,
            }
        })
        .collect();
    OverSeeds { seeds: seeds.to_vec(), arms: rows }
}

/// The values where every seed has one.
fn all(values: &[Option<f64>]) -> Option<Vec<f64>> {
    values.iter().copied().collect()
}

fn differences(a: &[Option<f64>], b: &[Option<f64>]) -> Option<Vec<f64>> {
    Some(all(a)?.iter().zip(all(b)?).map(|(a, b)| a - b).collect())
}

fn mean_spread(values: &[f64]) -> MeanSpread {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    MeanSpread { mean, sd }
}

fn paired(differences: &[f64]) -> Paired {
    let difference = mean_spread(differences);
    let n = differences.len();
    let t = (difference.sd > 1e-12).then(|| difference.mean / (difference.sd / (n as f64).sqrt()));
    Paired {
        per_seed: differences.to_vec(),
        difference,
        t,
        t_critical: t_critical_5pct(n.saturating_sub(1)),
        higher_in: differences.iter().filter(|d| **d > 0.0).count(),
    }
}

/// Two-sided 5% critical values of Student's t for 1 to 30 degrees of freedom (beyond 30, the
/// value at 30, slightly conservative); infinite for none.
fn t_critical_5pct(degrees_of_freedom: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match degrees_of_freedom {
        0 => f64::INFINITY,
        d => TABLE[d.min(30) - 1],
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("not measured".into(), |v| format!("{v:.3}"))
}

fn fmt_spread(v: Option<MeanSpread>) -> String {
    v.map_or("not measured (a seed lacks it)".into(), |m| format!("{:.3} +- {:.3}", m.mean, m.sd))
}

fn paired_text(p: &Paired) -> String {
    let t = p.t.map_or("t not defined (the same difference in every seed)".into(), |t| {
        let verdict = if p.beyond_chance() { "more than the seeds' spread" } else { "within the seeds' spread" };
        format!("t = {t:+.2} against {:.2} at 5%: {verdict}", p.t_critical)
    });
    format!(
        "{:+.3} +- {:.3}, higher in {} of {} seeds, {t}",
        p.difference.mean,
        p.difference.sd,
        p.higher_in,
        p.per_seed.len()
    )
}

impl OverSeeds {
    /// One console line per arm.
    pub fn console_lines(&self) -> Vec<String> {
        self.arms
            .iter()
            .map(|r| {
                let seeds: Vec<String> = r.target_roc_auc.iter().map(|v| fmt(*v)).collect();
                let vs = r
                    .roc_auc_minus_source_only
                    .as_ref()
                    .map_or(String::new(), |p| format!("; minus source only {}", paired_text(p)));
                format!(
                    "{} over {} seeds: target ROC AUC {} ({}), accuracy {}{vs}",
                    r.arm,
                    self.seeds.len(),
                    fmt_spread(r.roc_auc),
                    seeds.join(", "),
                    fmt_spread(r.accuracy)
                )
            })
            .collect()
    }

    /// The report's table over the seeds, in markdown.
    pub fn markdown(&self) -> String {
        let seeds: Vec<String> = self.seeds.iter().map(|s| format!("seed {s}")).collect();
        let mut md = format!(
            "## Over {} seeds\n\nTarget ROC AUC per seed (each seed's comparison in `seed_<seed>/`), mean +- sample \
             standard deviation, and the ROC AUC minus source only's, paired seed by seed (Student's t over the \
             seeds).\n\n| arm | {} | ROC AUC | accuracy | minus source only |\n|---|{}---|---|---|\n",
            self.seeds.len(),
            seeds.join(" | "),
            "---|".repeat(self.seeds.len())
        );
        for r in &self.arms {
            let per_seed: Vec<String> = r.target_roc_auc.iter().map(|v| fmt(*v)).collect();
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.arm,
                per_seed.join(" | "),
                fmt_spread(r.roc_auc),
                fmt_spread(r.accuracy),
                r.roc_auc_minus_source_only.as_ref().map_or("-".into(), paired_text)
            ));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(aucs: &[(&str, Option<f64>)]) -> AdaptationComparison {
        AdaptationComparison {
            experiment: "x".into(),
            run_dir: "r".into(),
            arms: aucs
                .iter()
                .map(|(arm, auc)| ArmScores {
                    arm: arm.to_string(),
                    run_dir: String::new(),
                    target_accuracy: auc.map(|a| a - 0.1),
                    target_roc_auc: *auc,
                    own_test_accuracy: None,
                    mcnemar_vs_source_only: None,
                    auc_gap_recovered: None,
                    train_seconds: 1.0,
                    images_per_second: 1.0,
                })
                .collect(),
            over_seeds: None,
        }
    }

    #[test]
    fn each_arm_is_paired_with_source_only_seed_by_seed() {
        let per_seed = [
            comparison(&[("source_only", Some(0.50)), ("mmd", Some(0.60)), ("dann", Some(0.40))]),
            comparison(&[("source_only", Some(0.70)), ("mmd", Some(0.75)), ("dann", Some(0.80))]),
            comparison(&[("source_only", Some(0.60)), ("mmd", Some(0.66)), ("dann", Some(0.55))]),
        ];
        let s = summarise(&[42, 7, 123], &per_seed);
        assert_eq!(s.arms.len(), 3);
        let source = &s.arms[0];
        assert!(source.roc_auc_minus_source_only.is_none());
        let m = source.roc_auc.unwrap();
        assert!((m.mean - 0.6).abs() < 1e-12 && (m.sd - 0.1).abs() < 1e-12, "{m:?}");
        // MMD: +0.10, +0.05, +0.06; by hand: mean 0.07, sd sqrt(0.0014 / 2) = 0.026458, t = 4.583.
        let mmd = s.arms[1].roc_auc_minus_source_only.as_ref().unwrap();
        assert!((mmd.difference.mean - 0.07).abs() < 1e-12);
        assert!((mmd.difference.sd - 0.026_457_513_110_645_9).abs() < 1e-12);
        assert!((mmd.t.unwrap() - 4.582_575_694_955_84).abs() < 1e-9);
        assert_eq!((mmd.higher_in, mmd.t_critical), (3, 4.303));
        assert!(mmd.beyond_chance());
        // DANN: -0.10, +0.10, -0.05: within the spread.
        let dann = s.arms[2].roc_auc_minus_source_only.as_ref().unwrap();
        assert_eq!(dann.higher_in, 1);
        assert!(!dann.beyond_chance());
        assert!(s.console_lines()[1].contains("higher in 3 of 3 seeds, t = +4.58 against 4.30 at 5%: more than"));
        assert!(s.markdown().contains("| mmd | 0.600 | 0.750 | 0.660 | 0.670 +- 0.075 |"), "{}", s.markdown());
    }

    #[test]
    fn a_seed_without_a_number_leaves_the_summary_unmeasured() {
        let per_seed = [
            comparison(&[("source_only", Some(0.5)), ("mmd", None)]),
            comparison(&[("source_only", Some(0.6)), ("mmd", Some(0.7))]),
        ];
        let s = summarise(&[1, 2], &per_seed);
        assert!(s.arms[1].roc_auc.is_none() && s.arms[1].roc_auc_minus_source_only.is_none());
        assert!(s.console_lines()[1].contains("target ROC AUC not measured (a seed lacks it) (not measured, 0.700)"));
        // The same difference in every seed has no t.
        let same = [
            comparison(&[("source_only", Some(0.5)), ("mmd", Some(0.6))]),
            comparison(&[("source_only", Some(0.6)), ("mmd", Some(0.7))]),
        ];
        let p = summarise(&[1, 2], &same).arms[1].roc_auc_minus_source_only.clone().unwrap();
        assert!(p.t.is_none(), "{p:?}");
        assert_eq!(t_critical_5pct(0), f64::INFINITY);
        assert_eq!(t_critical_5pct(45), 2.042);
    }
}
