//! Classification scores: accuracy beside the majority-class baseline, precision, recall and
//! F1 per class, the confusion matrix; for two classes the detector scores of
//! [`crate::evaluate::binary`] join them.

use serde::Serialize;

use astro_data::task::class_of;

use crate::evaluate::binary::BinaryScores;
use crate::evaluate::class_bins::ClassGroupScore;

/// The scores of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScore {
    /// Its name.
    pub class: String,
    /// Test items of this class.
    pub support: usize,
    /// Of the items predicted as this class, the share that are.
    pub precision: f64,
    /// Of the items of this class, the share predicted so (completeness).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Test scores of a classifier.
#[derive(Debug, Clone, Serialize)]
pub struct ClassificationMetrics {
    /// Items evaluated.
    pub samples: usize,
    /// Share of items whose most probable class is the true one.
    pub accuracy: f64,
    /// Accuracy of always answering the most common training class.
    pub baseline_accuracy: f64,
    /// That class.
    pub baseline_class: String,
    /// Mean F1 over the classes present in the test set.
    pub macro_f1: f64,
    /// Per class, in label order.
    pub per_class: Vec<ClassScore>,
    /// Counts: row = true class, column = predicted class.
    pub confusion: Vec<Vec<usize>>,
    /// Two classes: ROC AUC and completeness at fixed false-positive rates of the second
    /// class's probability, overall, binned and in subsets.
    pub binary: Option<BinaryScores>,
    /// Per-class scores within `[evaluation]` bins and subsets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<ClassGroupScore>,
}

/// The index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap_or(0)
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann-Whitney U statistic). NaN without both kinds.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mid-ranks (1-based) over runs of equal scores.
    let mut ranks = vec![0.0f64; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = mid;
        }
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let rank_sum: f64 = ranks.iter().zip(positive).filter(|(_, p)| **p).map(|(r, _)| r).sum();
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Scores class probabilities `outputs` against targets holding the class index; `prior` is
/// the training share of each class (the baseline answers its largest).
pub fn score_classes(
    outputs: &[Vec<f32>],
    targets: &[Vec<f32>],
    prior: &[f32],
    classes: &[String],
) -> ClassificationMetrics {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut truth = Vec::with_capacity(outputs.len());
    for (o, t) in outputs.iter().zip(targets) {
        if let Some(c) = class_of(t, k) {
            confusion[c][argmax(o)] += 1;
            truth.push((c, o));
        }
    }
    let n = truth.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let baseline = argmax(prior);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: Vec<ClassScore> = (0..k)
        .map(|c| {
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = (0..k).map(|r| confusion[r][c]).sum();
            let (precision, recall) = (ratio(confusion[c][c], predicted), ratio(confusion[c][c], support));
            let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            ClassScore { class: classes[c].clone(), support, precision, recall, f1 }
        })
        .collect();
    let present: Vec<&ClassScore> = per_class.iter().filter(|s| s.support > 0).collect();
    let macro_f1 = present.iter().map(|s| s.f1).sum::<f64>() / present.len().max(1) as f64;
    ClassificationMetrics {
        samples: n,
        accuracy: ratio(correct, n),
        baseline_accuracy: ratio(truth.iter().filter(|(c, _)| *c == baseline).count(), n),
        baseline_class: classes.get(baseline).cloned().unwrap_or_default(),
        macro_f1,
        per_class,
        confusion,
        binary: None,
        groups: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_a_hand_count() {
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // True a, a, b, b, c; predicted a, b, b, b, a.
        let outputs = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.3, 0.6, 0.1],
            vec![0.1, 0.7, 0.2],
            vec![0.2, 0.5, 0.3],
            vec![0.5, 0.2, 0.3],
        ];
        let targets: Vec<Vec<f32>> = [0.0, 0.0, 1.0, 1.0, 2.0].iter().map(|&c| vec![c]).collect();
        let m = score_classes(&outputs, &targets, &[0.2, 0.5, 0.3], &classes);
        assert_eq!(m.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(m.baseline_class, "b");
        assert!((m.baseline_accuracy - 0.4).abs() < 1e-12);
        // a: precision 1/2, recall 1/2; b: precision 2/3, recall 1; c: 0, 0.
        assert!((m.per_class[0].f1 - 0.5).abs() < 1e-12);
        assert!((m.per_class[1].precision - 2.0 / 3.0).abs() < 1e-12 && m.per_class[1].recall == 1.0);
        assert!((m.macro_f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
        assert!(m.binary.is_none());
    }

    #[test]
    fn roc_auc_counts_ordered_pairs_and_half_ties() {
        // Positives 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) = 3/4.
        assert!((roc_auc(&[0.9, 0.5, 0.4, 0.1], &[true, false, true, false]) - 0.75).abs() < 1e-12);
        assert!((roc_auc(&[0.5, 0.5], &[true, false]) - 0.5).abs() < 1e-12);
        assert!(roc_auc(&[0.5, 0.2], &[true, true]).is_nan());
        // Positives 0.8, 0.3, 0.9 against negatives 0.8, 0.1, 0.35: 2.5 + 1 + 3 of 9 pairs.
        let auc = roc_auc(&[0.8, 0.8, 0.3, 0.9, 0.1, 0.35], &[true, false, true, true, false, false]);
        assert!((auc - 6.5 / 9.0).abs() < 1e-12, "{auc}");
    }
}
