//! Paired tests of two models on the same test items, so that a difference within the noise of
//! a finite test set is called one: McNemar's test for classifiers (only the items exactly one
//! of them gets right count), and for regressions a paired z-test on each item's squared
//! errors (the Diebold-Mariano test with squared loss, items taken as independent).
//!
//! Used by `[comparison]` (scratch against transfer), `[adaptation] compare` (each arm against
//! source only) and every run with a shallow baseline (the network against the forest).

use std::collections::HashMap;

use astro_data::Task;
use astro_data::task::class_of;
use serde::{Deserialize, Serialize};

use crate::evaluate::Predictions;
use crate::evaluate::classification::argmax;
use crate::evaluate::shallow_baseline::ShallowPredictions;

/// |z| from which a difference is called more than chance (about 5% two-sided).
pub const CHANCE_Z: f64 = 2.0;

/// McNemar's test of two classifiers `a` and `b` on the same items: the items only `a` gets
/// right, those only `b` gets right, and z = (b-only - a-only) / sqrt(sum) (positive when `b`
/// is better). The error names an item only one of them has (`a_name`, `b_name`).
pub fn mcnemar(
    a: &HashMap<String, bool>,
    b: &HashMap<String, bool>,
    a_name: &str,
    b_name: &str,
) -> Result<(usize, usize, f64), String> {
    let (mut only_a, mut only_b) = (0, 0);
    for (id, right) in a {
        let other =
            b.get(id).ok_or_else(|| format!("test item {id} of the {a_name} run is missing from the {b_name} run"))?;
        match (right, other) {
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            _ => {}
        }
    }
    if let Some(id) = b.keys().find(|id| !a.contains_key(*id)) {
        return Err(format!("test item {id} of the {b_name} run is missing from the {a_name} run"));
    }
    Ok((only_a, only_b, mcnemar_z(only_a, only_b)))
}

/// McNemar's z from the items only `a` gets right and those only `b` gets right: positive when
/// `b` is better, 0 when no item separates them.
fn mcnemar_z(only_a: usize, only_b: usize) -> f64 {
    let n = (only_a + only_b) as f64;
    if n > 0.0 { (only_b as f64 - only_a as f64) / n.sqrt() } else { 0.0 }
}

/// The network against the shallow baseline on the same test items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkAgainstBaseline {
    /// `"McNemar"` (classification) or `"paired squared errors"` (regression).
    pub test: String,
    /// Test items compared.
    pub items: usize,
    /// Classification: items only the network gets right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_network_right: Option<usize>,
    /// Classification: items only the baseline gets right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_baseline_right: Option<usize>,
    /// Regression: the mean over items of (baseline's squared error - network's), averaged
    /// over the targets; positive when the network is better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_squared_error_gain: Option<f64>,
    /// The test statistic, positive when the network is better.
    pub z: f64,
}

impl NetworkAgainstBaseline {
    /// One clause: who is better and whether it is more than chance.
    pub fn sentence(&self) -> String {
        let who = if self.z > 0.0 {
            "the network better"
        } else if self.z < 0.0 {
            "the baseline better"
        } else {
            "no difference"
        };
        let chance = if self.z.abs() >= CHANCE_Z { "more than chance" } else { "within chance" };
        let detail = match (self.only_network_right, self.only_baseline_right, self.mean_squared_error_gain) {
            (Some(n), Some(b), _) => format!("{n} test items only the network gets right, {b} only the baseline"),
            (_, _, Some(g)) => {
                format!("the baseline's mean squared error minus the network's {g:+.3e}, over {} items", self.items)
            }
            _ => format!("{} items", self.items),
        };
        format!("{} z = {:+.1} ({detail}): {who}, {chance}", self.test, self.z)
    }
}

/// Compares the network's test predictions (`network`: class scores or values per item) with
/// the baseline's (`baseline`: the class or values per item), item by item (matched by id).
/// The error says why they cannot be compared.
pub fn network_against_baseline(
    task: Task,
    classes: usize,
    network: &Predictions,
    baseline: &ShallowPredictions,
) -> Result<NetworkAgainstBaseline, String> {
    let network_rows: HashMap<&str, (&Vec<f32>, &Vec<f32>)> = network
        .ids
        .iter()
        .zip(network.outputs.iter().zip(&network.targets))
        .map(|(id, row)| (id.as_str(), row))
        .collect();
    let mut pairs = Vec::with_capacity(baseline.ids.len());
    for (i, id) in baseline.ids.iter().enumerate() {
        let Some(&(out, target)) = network_rows.get(id.as_str()) else {
            return Err(format!("test item {id} of the baseline is missing from the network's predictions"));
        };
        pairs.push((out, &baseline.outputs[i], target));
    }
    if pairs.len() != network_rows.len() {
        return Err(format!("the network predicted {} test items, the baseline {}", network_rows.len(), pairs.len()));
    }
    if task == Task::Classification {
        let (mut only_net, mut only_base) = (0, 0);
        for (out, base_out, target) in &pairs {
            let truth = class_of(target, classes);
            let net_right = truth == Some(argmax(out));
            let base_right = truth.is_some_and(|c| base_out.first() == Some(&(c as f32)));
            match (net_right, base_right) {
                (true, false) => only_net += 1,
                (false, true) => only_base += 1,
                _ => {}
            }
        }
        return Ok(NetworkAgainstBaseline {
            test: "McNemar".into(),
            items: pairs.len(),
            only_network_right: Some(only_net),
            only_baseline_right: Some(only_base),
            mean_squared_error_gain: None,
            z: mcnemar_z(only_base, only_net),
        });
    }
    let squared = |out: &[f32], target: &[f32]| {
        let n = target.len().max(1) as f64;
        out.iter().zip(target).map(|(o, t)| f64::from(o - t).powi(2)).sum::<f64>() / n
    };
    let gains: Vec<f64> =
        pairs.iter().map(|(out, base_out, target)| squared(base_out, target) - squared(out, target)).collect();
    let n = gains.len() as f64;
    let mean = gains.iter().sum::<f64>() / n.max(1.0);
    let variance = gains.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let z = if variance > 0.0 { mean / (variance / n).sqrt() } else { 0.0 };
    Ok(NetworkAgainstBaseline {
        test: "paired squared errors".into(),
        items: gains.len(),
        only_network_right: None,
        only_baseline_right: None,
        mean_squared_error_gain: Some(mean),
        z,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(outputs: Vec<Vec<f32>>, targets: Vec<Vec<f32>>) -> Predictions {
        let ids = (0..outputs.len()).map(|i| format!("star-{i}")).collect();
        Predictions { ids, outputs, targets, attributes: Vec::new() }
    }

    fn baseline(outputs: Vec<Vec<f32>>, targets: Vec<Vec<f32>>) -> ShallowPredictions {
        let ids = (0..outputs.len()).map(|i| format!("star-{i}")).collect();
        ShallowPredictions { ids, outputs, targets, ..Default::default() }
    }

    #[test]
    fn mcnemar_counts_the_items_only_one_model_gets_right() {
        // Five items of class 1 (of 2): the network right on 0-3, the forest on 0 and 4.
        let targets = vec![vec![1.0]; 5];
        let net = network(
            vec![vec![0.0, 1.0], vec![0.2, 0.8], vec![0.1, 0.9], vec![0.4, 0.6], vec![0.9, 0.1]],
            targets.clone(),
        );
        let forest = baseline(vec![vec![1.0], vec![0.0], vec![0.0], vec![0.0], vec![1.0]], targets);
        let c = network_against_baseline(Task::Classification, 2, &net, &forest).unwrap();
        assert_eq!((c.only_network_right, c.only_baseline_right, c.items), (Some(3), Some(1), 5));
        assert!((c.z - 2.0 / 4f64.sqrt()).abs() < 1e-12, "{c:?}");
        assert_eq!(
            c.sentence(),
            "McNemar z = +1.0 (3 test items only the network gets right, 1 only the baseline): \
             the network better, within chance"
        );
    }

    #[test]
    fn the_regression_test_is_the_mean_gain_over_its_standard_error() {
        // Network errors 0.1 everywhere; forest errors 0.3, 0.2, 0.1, 0.0 (squared: 0.09,
        // 0.04, 0.01, 0): gains 0.08, 0.03, 0, -0.01 (mean 0.025, sample sd 0.0404).
        let targets = vec![vec![1.0]; 4];
        let net = network(vec![vec![1.1]; 4], targets.clone());
        let forest = baseline(vec![vec![1.3], vec![0.8], vec![1.1], vec![1.0]], targets);
        let c = network_against_baseline(Task::Regression, 1, &net, &forest).unwrap();
        let gains = [0.08, 0.03, 0.0, -0.01];
        let mean: f64 = gains.iter().sum::<f64>() / 4.0;
        let sd = (gains.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((c.mean_squared_error_gain.unwrap() - mean).abs() < 1e-6, "{c:?}");
        assert!((c.z - mean / (sd / 2.0)).abs() < 1e-4, "{c:?}");
        assert!(c.sentence().contains("the network better, within chance"), "{}", c.sentence());
    }

    #[test]
    fn items_the_two_do_not_share_are_named() {
        let net = network(vec![vec![0.0, 1.0]; 2], vec![vec![1.0]; 2]);
        let mut forest = baseline(vec![vec![1.0]; 2], vec![vec![1.0]; 2]);
        forest.ids[1] = "star-9".into();
        let why = network_against_baseline(Task::Classification, 2, &net, &forest).unwrap_err();
        assert_eq!(why, "test item star-9 of the baseline is missing from the network's predictions");
        let forest = baseline(vec![vec![1.0]], vec![vec![1.0]]);
        let why = network_against_baseline(Task::Classification, 2, &net, &forest).unwrap_err();
        assert_eq!(why, "the network predicted 2 test items, the baseline 1");
    }
}
