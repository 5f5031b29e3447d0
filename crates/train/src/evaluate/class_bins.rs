//! Precision, recall and F1 per class within bins of an item property and within named subsets
//! (`[evaluation] bins` and `subsets`): Dekany & Grebel (2020) report RRab precision and recall
//! per S/N bin and at S/N > 60. An item belongs to a bin when it has the property and its value
//! falls in the bin; to a subset when every bounded property it has is above the bound (items
//! without the property are kept, as a detector's negatives are).

use serde::Serialize;

use crate::evaluate::binary::EvaluationConfig;
use crate::evaluate::classification::{ClassScore, score_classes};

/// Scores of the items in one bin or subset.
#[derive(Debug, Clone, Serialize)]
pub struct ClassGroupScore {
    /// The property binned (empty for a subset).
    pub attribute: String,
    /// The bin's lower edge (inclusive) or the subset's name.
    pub low: f64,
    /// The bin's upper edge (exclusive).
    pub high: f64,
    /// The subset's name (empty for a bin).
    pub name: String,
    /// Items in it.
    pub items: usize,
    /// Their accuracy.
    pub accuracy: f64,
    /// Per class, in label order.
    pub per_class: Vec<ClassScore>,
}

fn value(attributes: &[(String, f64)], name: &str) -> Option<f64> {
    attributes.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn group(
    rows: &[usize],
    outputs: &[Vec<f32>],
    targets: &[Vec<f32>],
    classes: &[String],
) -> (usize, f64, Vec<ClassScore>) {
    let pick = |all: &[Vec<f32>]| rows.iter().map(|&i| all[i].clone()).collect::<Vec<_>>();
    let uniform = vec![1.0 / classes.len().max(1) as f32; classes.len()];
    let m = score_classes(&pick(outputs), &pick(targets), &uniform, classes);
    (m.samples, m.accuracy, m.per_class)
}

/// Per-class scores in every configured bin (first) and subset (after).
pub fn score_class_groups(
    outputs: &[Vec<f32>],
    targets: &[Vec<f32>],
    attributes: &[Vec<(String, f64)>],
    classes: &[String],
    config: &EvaluationConfig,
) -> Vec<ClassGroupScore> {
    let of = |i: usize| attributes.get(i).map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for (name, edges) in &config.bins {
        for w in edges.windows(2) {
            let rows: Vec<usize> =
                (0..outputs.len()).filter(|&i| value(of(i), name).is_some_and(|v| v >= w[0] && v < w[1])).collect();
            let (items, accuracy, per_class) = group(&rows, outputs, targets, classes);
            out.push(ClassGroupScore {
                attribute: name.clone(),
                low: w[0],
                high: w[1],
                name: String::new(),
                items,
                accuracy,
                per_class,
            });
        }
    }
    for subset in &config.subsets {
        let keep = |i: usize| subset.above.iter().all(|(name, &low)| value(of(i), name).is_none_or(|v| v > low));
        let rows: Vec<usize> = (0..outputs.len()).filter(|&i| keep(i)).collect();
        let (items, accuracy, per_class) = group(&rows, outputs, targets, classes);
        out.push(ClassGroupScore {
            attribute: String::new(),
            low: f64::NAN,
            high: f64::NAN,
            name: subset.name.clone(),
            items,
            accuracy,
            per_class,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::binary::SubsetConfig;

    #[test]
    fn bins_and_subsets_count_by_hand() {
        let classes: Vec<String> = ["other", "RRab"].iter().map(|s| s.to_string()).collect();
        // (S/N, true, predicted): low S/N items are muddled, high ones right.
        let rows = [(10.0, 1, 0), (20.0, 1, 1), (30.0, 0, 1), (70.0, 1, 1), (80.0, 0, 0), (90.0, 1, 1)];
        let outputs: Vec<Vec<f32>> =
            rows.iter().map(|r| if r.2 == 1 { vec![0.2, 0.8] } else { vec![0.9, 0.1] }).collect();
        let targets: Vec<Vec<f32>> = rows.iter().map(|r| vec![r.1 as f32]).collect();
        let mut attributes: Vec<Vec<(String, f64)>> = rows.iter().map(|r| vec![("snr".into(), r.0)]).collect();
        attributes.push(Vec::new());
        let mut outputs_plus = outputs.clone();
        outputs_plus.push(vec![0.9, 0.1]);
        let mut targets_plus = targets.clone();
        targets_plus.push(vec![0.0]);
        let config = EvaluationConfig {
            bins: [("snr".to_string(), vec![0.0, 60.0, 100.0])].into(),
            subsets: vec![SubsetConfig { name: "S/N > 60".into(), above: [("snr".to_string(), 60.0)].into() }],
            ..EvaluationConfig::default()
        };
        let groups = score_class_groups(&outputs_plus, &targets_plus, &attributes, &classes, &config);
        assert_eq!(groups.len(), 3);
        // Bin [0, 60): RRab recall 1/2, precision 1/2; the item without S/N is in no bin.
        assert_eq!(groups[0].items, 3);
        assert!((groups[0].per_class[1].recall - 0.5).abs() < 1e-12);
        assert!((groups[0].per_class[1].precision - 0.5).abs() < 1e-12);
        assert_eq!(groups[1].items, 3);
        assert_eq!(groups[1].per_class[1].f1, 1.0);
        // The subset keeps the item without S/N (correctly "other").
        assert_eq!((groups[2].name.as_str(), groups[2].items), ("S/N > 60", 4));
        assert_eq!(groups[2].accuracy, 1.0);
    }
}
