//! Scores of a two-class detector (lens / non-lens), from the probability of the positive class:
//! the ROC curve and its area, the completeness (true-positive rate) at fixed false-positive
//! rates, and the same binned by item properties (Einstein radius, S/N) and within named subsets
//! of the positives (Lanusse et al. 2018 report completeness at 1% false positives for lenses
//! with Einstein radius > 1.4" and S/N > 20).

use std::collections::{BTreeMap, BTreeSet};

use astro_data::Task;
use serde::{Deserialize, Serialize};

use crate::evaluate::classification::roc_auc;

/// `[evaluation]`: what binary scores are reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// False-positive rates at which the completeness is reported; the first also bins.
    pub fpr: Vec<f64>,
    /// Bin edges per item property: completeness at the first FPR in each bin.
    pub bins: BTreeMap<String, Vec<f64>>,
    /// Named subsets of the positives.
    pub subsets: Vec<SubsetConfig>,
    /// Regression targets that are angles, by name: their scatter leaves out true values near
    /// the wrap (Aragon-Calvo & Carvajal 2020 leave out angles within 10 degrees of 0 and 180).
    pub periodic: BTreeMap<String, PeriodicTarget>,
    /// An item property that holds a published model's prediction of the (single) regression
    /// target, e.g. a list column `published_feh`: scored on the same test items beside this
    /// run and drawn in `predicted_vs_true.png`. Every item must have it.
    pub published: Option<String>,
}

/// A target whose values wrap around (an angle).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodicTarget {
    /// The period (180 for a position angle in degrees).
    pub period: f64,
    /// True values within this of 0 or of the period are left out of the scatter.
    #[serde(default)]
    pub exclude_within: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            fpr: vec![0.01, 0.001],
            bins: BTreeMap::new(),
            subsets: Vec::new(),
            periodic: BTreeMap::new(),
            published: None,
        }
    }
}

/// Positives whose properties are all above the given values (negatives are all kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetConfig {
    /// How it is named in the report (and by `[experiment.paper] subset`).
    pub name: String,
    /// Lower bounds per property (exclusive).
    pub above: BTreeMap<String, f64>,
}

impl EvaluationConfig {
    /// Checks the rates and bins, naming the key at fault.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(f) = self.fpr.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
            return Err(("fpr", format!("false-positive rates must be in (0, 1), got {f}")));
        }
        for (name, p) in &self.periodic {
            if !(p.period > 0.0 && p.exclude_within >= 0.0 && 2.0 * p.exclude_within < p.period) {
                return Err((
                    "periodic",
                    format!("{name}: needs period > 0 and 0 <= exclude_within < period / 2, got {p:?}"),
                ));
            }
        }
        for (name, edges) in &self.bins {
            if edges.len() < 2 || edges.windows(2).any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less)) {
                return Err(("bins", format!("{name}: give at least two increasing edges, got {edges:?}")));
            }
        }
        Ok(())
    }
    /// Checks the names that refer to the data (`properties`: every numeric property name of
    /// its items). Bins and subsets score classes, so a regression or reconstruction refuses
    /// them, and periodic names must be regression targets: errors. A bin or subset property
    /// that no item has (a typo, or a catalogue without it: the lens challenge's has no
    /// `einstein_radius`) is a warning returned naming the properties there are; its groups are
    /// then empty and reported as not measured.
    pub fn check_names(
        &self,
        task: Task,
        target_names: &[String],
        properties: &BTreeSet<String>,
    ) -> Result<Vec<String>, (&'static str, String)> {
        if task != Task::Classification && (!self.bins.is_empty() || !self.subsets.is_empty()) {
            let field = if self.bins.is_empty() { "subsets" } else { "bins" };
            return Err((field, format!("score a classifier's classes per property; this data's task is {task:?}")));
        }
        if let Some(name) = self.periodic.keys().find(|name| !target_names.contains(name)) {
            return Err((
                "periodic",
                format!("{name:?} is not a regression target; the targets are {}", target_names.join(", ")),
            ));
        }
        let available = if properties.is_empty() {
            "the data's items have no numeric properties".to_string()
        } else {
            format!("the data's item properties are {}", properties.iter().cloned().collect::<Vec<_>>().join(", "))
        };
        let mut warnings = Vec::new();
        for name in self.bins.keys().filter(|name| !properties.contains(*name)) {
            warnings.push(format!(
                "evaluation.bins: no item has the property {name:?}, so its bins are empty (not measured); {available}"
            ));
        }
        for subset in &self.subsets {
            for name in subset.above.keys().filter(|name| !properties.contains(*name)) {
                warnings.push(format!(
                    "evaluation.subsets {:?}: no item has the property {name:?}, so the bound on it selects nothing \
                     (a detector's positives) or everything (a classifier's items); {available}",
                    subset.name
                ));
            }
        }
        Ok(warnings)
    }
}

/// The completeness at one false-positive rate.
#[derive(Debug, Clone, Serialize)]
pub struct AtFpr {
    /// The false-positive rate asked for.
    pub fpr: f64,
    /// The share of positives scored above the threshold.
    pub completeness: f64,
    /// The probability threshold that keeps the false positives at or below `fpr`.
    pub threshold: f64,
}

/// Completeness within one bin of a property.
#[derive(Debug, Clone, Serialize)]
pub struct BinScore {
    /// The property.
    pub attribute: String,
    /// Lower edge (inclusive).
    pub low: f64,
    /// Upper edge (exclusive).
    pub high: f64,
    /// Positives in the bin.
    pub positives: usize,
    /// Their completeness at the first FPR's threshold.
    pub completeness: f64,
}

/// Scores within a subset of the positives.
#[derive(Debug, Clone, Serialize)]
pub struct SubsetScore {
    /// Its name.
    pub name: String,
    /// Positives in it.
    pub positives: usize,
    /// ROC AUC of these positives against all negatives.
    pub roc_auc: f64,
    /// Completeness at each FPR (thresholds from all negatives).
    pub at_fpr: Vec<AtFpr>,
}

/// All scores of a binary detector.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryScores {
    /// Positives scored.
    pub positives: usize,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Completeness at each configured false-positive rate.
    pub at_fpr: Vec<AtFpr>,
    /// Completeness per property bin.
    pub bins: Vec<BinScore>,
    /// Scores within the configured subsets.
    pub subsets: Vec<SubsetScore>,
    /// The ROC curve, `(false-positive rate, true-positive rate)` from (0, 0) to (1, 1).
    #[serde(skip)]
    pub roc: Vec<(f64, f64)>,
}

/// The threshold whose false-positive rate over `negatives` is at most `fpr`: items score as
/// positive when strictly above it.
pub fn threshold_at_fpr(negatives: &[f64], fpr: f64) -> f64 {
    let mut sorted = negatives.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    // At most floor(fpr * n) negatives may lie above the threshold.
    let allowed = (fpr * sorted.len() as f64).floor() as usize;
    sorted.get(allowed).copied().unwrap_or(f64::NEG_INFINITY)
}

/// The share of `positives` strictly above `threshold`.
fn completeness(positives: &[f64], threshold: f64) -> f64 {
    positives.iter().filter(|&&s| s > threshold).count() as f64 / positives.len().max(1) as f64
}

/// The ROC curve through every distinct score.
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let n_neg = positive.iter().filter(|&&p| !p).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut curve = vec![(0.0, 0.0)];
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if k + 1 == order.len() || scores[order[k + 1]] != scores[i] {
            curve.push((fp / n_neg, tp / n_pos));
        }
    }
    curve
}

/// Scores the positive-class probabilities `scores` of items labelled `positive`, each with
/// its named properties `attributes`.
pub fn score_binary(
    scores: &[f64],
    positive: &[bool],
    attributes: &[Vec<(String, f64)>],
    config: &EvaluationConfig,
) -> BinaryScores {
    let negatives: Vec<f64> = scores.iter().zip(positive).filter(|(_, p)| !**p).map(|(s, _)| *s).collect();
    let at = |pos: &[f64]| -> Vec<AtFpr> {
        config
            .fpr
            .iter()
            .map(|&fpr| {
                let threshold = threshold_at_fpr(&negatives, fpr);
                AtFpr { fpr, completeness: completeness(pos, threshold), threshold }
            })
            .collect()
    };
    let value =
        |i: usize, name: &str| attributes.get(i).and_then(|a| a.iter().find(|(n, _)| *n == name)).map(|(_, v)| *v);
    let positives_where = |keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
        (0..scores.len()).filter(|&i| positive[i] && keep(i)).map(|i| scores[i]).collect()
    };
    let all_positives = positives_where(&|_| true);
    let first_threshold = config.fpr.first().map_or(0.5, |&f| threshold_at_fpr(&negatives, f));
    let mut bins = Vec::new();
    for (name, edges) in &config.bins {
        for w in edges.windows(2) {
            let inside = positives_where(&|i| value(i, name).is_some_and(|v| v >= w[0] && v < w[1]));
            bins.push(BinScore {
                attribute: name.clone(),
                low: w[0],
                high: w[1],
                positives: inside.len(),
                completeness: completeness(&inside, first_threshold),
            });
        }
    }
    let subsets = config
        .subsets
        .iter()
        .map(|subset| {
            let keep = |i: usize| subset.above.iter().all(|(name, &low)| value(i, name).is_some_and(|v| v > low));
            let kept: Vec<usize> = (0..scores.len()).filter(|&i| !positive[i] || keep(i)).collect();
            let pos = positives_where(&keep);
            let sub_scores: Vec<f64> = kept.iter().map(|&i| scores[i]).collect();
            let sub_positive: Vec<bool> = kept.iter().map(|&i| positive[i]).collect();
            SubsetScore {
                name: subset.name.clone(),
                positives: pos.len(),
                roc_auc: roc_auc(&sub_scores, &sub_positive),
                at_fpr: at(&pos),
            }
        })
        .collect();
    BinaryScores {
        positives: all_positives.len(),
        roc_auc: roc_auc(scores, positive),
        at_fpr: at(&all_positives),
        bins,
        subsets,
        roc: roc_curve(scores, positive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_keep_the_false_positive_rate() {
        // 100 negatives scored 0.00 .. 0.99: at 1% one may lie above, so the threshold is 0.98.
        let negatives: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        assert_eq!(threshold_at_fpr(&negatives, 0.01), 0.98);
        assert_eq!(threshold_at_fpr(&negatives, 0.001), 0.99);
        let above = negatives.iter().filter(|&&s| s > 0.98).count();
        assert_eq!(above, 1);
    }

    #[test]
    fn completeness_bins_and_subsets_count_by_hand() {
        // Negatives 0.0 .. 0.99 (100); positives with scores and Einstein radii.
        let mut scores: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let mut positive = vec![false; 100];
        let mut attributes: Vec<Vec<(String, f64)>> = vec![vec![("einstein_radius".to_string(), 0.0)]; 100];
        for (s, r) in [(0.995, 2.0), (0.999, 1.8), (0.5, 0.7), (0.985, 1.5), (0.2, 0.6)] {
            scores.push(s);
            positive.push(true);
            attributes.push(vec![("einstein_radius".to_string(), r)]);
        }
        let config = EvaluationConfig {
            fpr: vec![0.01],
            bins: [("einstein_radius".to_string(), vec![0.5, 1.0, 2.5])].into_iter().collect(),
            subsets: vec![SubsetConfig {
                name: "big".into(),
                above: [("einstein_radius".to_string(), 1.4)].into_iter().collect(),
            }],
            periodic: BTreeMap::new(),
            published: None,
        };
        let b = score_binary(&scores, &positive, &attributes, &config);
        // Threshold 0.98: positives 0.995, 0.999, 0.985 pass: 3 of 5.
        assert!((b.at_fpr[0].completeness - 0.6).abs() < 1e-12);
        assert_eq!((b.bins[0].positives, b.bins[0].completeness), (2, 0.0));
        assert_eq!((b.bins[1].positives, b.bins[1].completeness), (3, 1.0));
        assert_eq!((b.subsets[0].positives, b.subsets[0].at_fpr[0].completeness), (3, 1.0));
        // Of the 3 x 100 pairs, only 0.985 against the negative 0.99 is out of order.
        assert!((b.subsets[0].roc_auc - 299.0 / 300.0).abs() < 1e-12);
        assert_eq!(b.roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(b.roc.last(), Some(&(1.0, 1.0)));
    }

    #[test]
    fn names_that_cannot_apply_are_errors_and_missing_properties_warnings_naming_what_there_is() {
        let properties: BTreeSet<String> = ["Einstein_area".to_string(), "snr".to_string()].into();
        let config = EvaluationConfig {
            bins: [("einstein_radius".to_string(), vec![0.5, 1.0]), ("snr".to_string(), vec![0.0, 10.0])].into(),
            subsets: vec![SubsetConfig { name: "big".into(), above: [("einstien_radius".to_string(), 1.4)].into() }],
            ..EvaluationConfig::default()
        };
        let warnings = config.check_names(Task::Classification, &[], &properties).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("evaluation.bins: no item has the property \"einstein_radius\""));
        assert!(warnings[1].contains("evaluation.subsets \"big\": no item has the property \"einstien_radius\""));
        assert!(warnings.iter().all(|w| w.ends_with("the data's item properties are Einstein_area, snr")));

        let (field, why) = config.check_names(Task::Regression, &["feh".into()], &properties).unwrap_err();
        assert_eq!(field, "bins");
        assert!(why.contains("score a classifier's classes") && why.contains("Regression"), "{why}");

        let angles = EvaluationConfig {
            periodic: [("angel".to_string(), PeriodicTarget { period: 180.0, exclude_within: 10.0 })].into(),
            ..EvaluationConfig::default()
        };
        let (field, why) = angles.check_names(Task::Regression, &["angle".into()], &properties).unwrap_err();
        assert_eq!((field, why.as_str()), ("periodic", "\"angel\" is not a regression target; the targets are angle"));
        assert!(EvaluationConfig::default().check_names(Task::Regression, &[], &properties).unwrap().is_empty());
    }
}
