//! The shallow baseline beside a light-curve run (`[baseline]`): a random forest (smartcore)
//! trained on the network's own training split, on simple statistics of each curve (the
//! `curve_*` item properties: spread, Fourier parameters, phase-bin means) and any catalogue
//! columns named in `features`, then scored on the same test items. It is what astronomers
//! check a network against first; the run reports both.
//!
//! A statistic a curve cannot give, or a property an item lacks, is NaN; the forest sees the
//! training mean of that feature there, and the count of such values is reported.

use std::collections::BTreeMap;
use std::time::Instant;

use astro_data::sequence::CURVE_STATISTIC_PREFIX;
use astro_data::task::class_of;
use astro_data::{ImageSplit, Task};
use burn::data::dataset::Dataset;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::RunError;
use crate::evaluate::paired::{NetworkAgainstBaseline, network_against_baseline};
use crate::evaluate::{Predictions, mae, rmse};

/// The kinds of shallow baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ShallowKind {
    /// A random forest (Breiman 2001): regression or classification by the task.
    #[default]
    RandomForest,
    /// No baseline.
    None,
}

fn default_trees() -> usize {
    100
}

/// `[baseline]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShallowBaselineConfig {
    /// `"random_forest"` (the default: trained beside every run whose items have curve
    /// statistics or that names `features`) or `"none"`.
    #[serde(default)]
    pub kind: ShallowKind,
    /// Trees in the forest, 1 to 65535.
    #[serde(default = "default_trees")]
    pub trees: usize,
    /// Item properties (numeric list columns, e.g. `"period"`) the forest learns from beside
    /// the curve statistics. Never a target, nor a published prediction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Default for ShallowBaselineConfig {
    fn default() -> Self {
        Self { kind: ShallowKind::default(), trees: default_trees(), features: Vec::new() }
    }
}

impl ShallowBaselineConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(1..=usize::from(u16::MAX)).contains(&self.trees) {
            return Err(("trees", format!("must be between 1 and 65535, got {}", self.trees)));
        }
        Ok(())
    }

    /// The baseline of a run whose network also reads the catalogue columns of `[features]`:
    /// the forest learns from them too, so that the two compare on the same information (the
    /// curve statistics among them it has already).
    pub fn with_catalogue_features(&self, features: Option<&astro_data::catalogue_features::FeaturesConfig>) -> Self {
        let mut out = self.clone();
        for column in features.map_or(&[][..], |f| &f.columns[..]) {
            if !out.features.contains(column) && !column.starts_with(CURVE_STATISTIC_PREFIX) {
                out.features.push(column.clone());
            }
        }
        out
    }

    /// Checks `features` against the data's targets and item properties (`properties`: every
    /// property name of the data) and `published` (the published-prediction property, which
    /// would leak the answer).
    pub fn check_names(
        &self,
        targets: &[String],
        published: Option<&str>,
        properties: &std::collections::BTreeSet<String>,
    ) -> Result<(), (&'static str, String)> {
        for name in &self.features {
            if targets.contains(name) || Some(name.as_str()) == published {
                return Err(("features", format!("{name:?} is the answer the baseline is scored on, not a feature")));
            }
            if !properties.contains(name) {
                let known: Vec<&String> =
                    properties.iter().filter(|p| !p.starts_with(CURVE_STATISTIC_PREFIX)).collect();
                return Err((
                    "features",
                    format!("{name:?} is not a property of any item; the catalogue's properties are {known:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// The baseline's predictions of the test items.
#[derive(Debug, Clone, Default)]
pub struct ShallowPredictions {
    /// The items, in test order.
    pub ids: Vec<String>,
    /// Predicted values (regression) or `[class]` (classification) per item.
    pub outputs: Vec<Vec<f32>>,
    /// True targets per item.
    pub targets: Vec<Vec<f32>>,
    /// The features, in column order.
    pub features: Vec<String>,
    /// Feature values that were missing (NaN) and took the training mean, train and test.
    pub imputed: usize,
    /// Seconds to fit and predict.
    pub seconds: f64,
}

impl ShallowPredictions {
    /// Adds another split's predictions (the folds of a cross-validated run).
    pub fn append(&mut self, more: ShallowPredictions) {
        self.ids.extend(more.ids);
        self.outputs.extend(more.outputs);
        self.targets.extend(more.targets);
        self.features = more.features;
        self.imputed += more.imputed;
        self.seconds += more.seconds;
    }
}

/// The baseline's score, as the summary and report give it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShallowScore {
    /// What it is: "random forest (100 trees)".
    pub model: String,
    /// Its features.
    pub features: Vec<String>,
    /// The task's metric: `rmse` or `accuracy`.
    pub metric: String,
    /// Its value on the test items.
    pub value: f64,
    /// The mean absolute error (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Test items scored.
    pub test_items: usize,
    /// Missing feature values that took the training mean.
    pub imputed: usize,
    /// Seconds to fit and predict.
    pub seconds: f64,
    /// The network against this baseline on the same test items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_network: Option<NetworkAgainstBaseline>,
    /// Why `against_network` was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_network_missing: Option<String>,
}

/// The feature columns: every `curve_*` property of the first training item, then `features`.
fn feature_names(config: &ShallowBaselineConfig, train: &ImageSplit) -> Vec<String> {
    let first = if train.len() > 0 { train.attributes(0) } else { Vec::new() };
    let mut names: Vec<String> =
        first.into_iter().map(|(name, _)| name).filter(|name| name.starts_with(CURVE_STATISTIC_PREFIX)).collect();
    names.extend(config.features.iter().cloned());
    names
}

/// Each item's features, NaN where missing.
fn feature_rows(split: &ImageSplit, names: &[String]) -> Vec<Vec<f64>> {
    (0..split.len())
        .map(|i| {
            let properties: BTreeMap<String, f64> = split.attributes(i).into_iter().collect();
            names.iter().map(|n| properties.get(n).copied().unwrap_or(f64::NAN)).collect()
        })
        .collect()
}

/// Trains the baseline on `train` and predicts `test`; none when the kind is `none` or there
/// are no features (image data without `features`).
pub fn fit_and_predict(
    config: &ShallowBaselineConfig,
    task: Task,
    classes: usize,
    train: &ImageSplit,
    test: &ImageSplit,
    seed: u64,
) -> Result<Option<ShallowPredictions>, RunError> {
    let names = feature_names(config, train);
    if config.kind == ShallowKind::None || names.is_empty() || task == Task::Reconstruction {
        return Ok(None);
    }
    let started = Instant::now();
    let (mut x_train, mut x_test) = (feature_rows(train, &names), feature_rows(test, &names));
    // The training mean of each feature stands in for its missing values.
    let mut imputed = 0;
    for j in 0..names.len() {
        let known: Vec<f64> = x_train.iter().map(|r| r[j]).filter(|v| v.is_finite()).collect();
        let mean = if known.is_empty() { 0.0 } else { known.iter().sum::<f64>() / known.len() as f64 };
        for row in x_train.iter_mut().chain(x_test.iter_mut()) {
            if !row[j].is_finite() {
                row[j] = mean;
                imputed += 1;
            }
        }
    }
    let y_train = train.every_target().map_err(RunError::Run)?;
    let y_test = test.every_target().map_err(RunError::Run)?;
    let matrix = |rows: &[Vec<f64>]| {
        DenseMatrix::new(rows.len(), names.len(), rows.concat(), false)
            .map_err(|e| RunError::Run(format!("shallow baseline: {e}")))
    };
    let (xm_train, xm_test) = (matrix(&x_train)?, matrix(&x_test)?);
    let failed = |e: smartcore::error::Failed| RunError::Run(format!("shallow baseline (random forest): {e}"));
    let outputs: Vec<Vec<f32>> = match task {
        Task::Classification => {
            let labels: Vec<u32> = y_train.iter().map(|t| class_of(t, classes).unwrap_or(0) as u32).collect();
            let parameters =
                RandomForestClassifierParameters::default().with_n_trees(config.trees as u16).with_seed(seed);
            let forest = RandomForestClassifier::fit(&xm_train, &labels, parameters).map_err(failed)?;
            let predicted: Vec<u32> = forest.predict(&xm_test).map_err(failed)?;
            predicted.into_iter().map(|c| vec![c as f32]).collect()
        }
        _ => {
            let outputs_per_target = y_train.first().map_or(0, Vec::len);
            let mut columns = Vec::with_capacity(outputs_per_target);
            for j in 0..outputs_per_target {
                let y: Vec<f64> = y_train.iter().map(|t| f64::from(t[j])).collect();
                let parameters =
                    RandomForestRegressorParameters::default().with_n_trees(config.trees).with_seed(seed + j as u64);
                let forest = RandomForestRegressor::fit(&xm_train, &y, parameters).map_err(failed)?;
                columns.push(forest.predict(&xm_test).map_err(failed)?);
            }
            (0..test.len()).map(|i| columns.iter().map(|c: &Vec<f64>| c[i] as f32).collect()).collect()
        }
    };
    Ok(Some(ShallowPredictions {
        ids: (0..test.len()).map(|i| test.id(i)).collect(),
        outputs,
        targets: y_test,
        features: names,
        imputed,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Scores the baseline's predictions with the task's metric and, item by item, against the
/// network's predictions of the same test items (`network`).
pub fn score_shallow(
    config: &ShallowBaselineConfig,
    task: Task,
    classes: usize,
    p: &ShallowPredictions,
    network: &Predictions,
) -> ShallowScore {
    let (against_network, against_network_missing) = match network_against_baseline(task, classes, network, p) {
        Ok(c) => (Some(c), None),
        Err(why) => (None, Some(why)),
    };
    let (metric, value, mae_value) = match task {
        Task::Classification => {
            let right = p
                .outputs
                .iter()
                .zip(&p.targets)
                .filter(|(o, t)| class_of(t, classes).is_some_and(|c| o.first() == Some(&(c as f32))))
                .count();
            ("accuracy", right as f64 / p.ids.len().max(1) as f64, None)
        }
        _ => ("rmse", rmse(&p.outputs, &p.targets), Some(mae(&p.outputs, &p.targets))),
    };
    ShallowScore {
        model: format!("random forest ({} trees)", config.trees),
        features: p.features.clone(),
        metric: metric.to_string(),
        value,
        mae: mae_value,
        test_items: p.ids.len(),
        imputed: p.imputed,
        seconds: p.seconds,
        against_network,
        against_network_missing,
    }
}

impl ShallowScore {
    /// The console line.
    pub fn line(&self) -> String {
        let curve = self.features.iter().filter(|f| f.starts_with(CURVE_STATISTIC_PREFIX)).count();
        let others: Vec<&String> = self.features.iter().filter(|f| !f.starts_with(CURVE_STATISTIC_PREFIX)).collect();
        let extra = if others.is_empty() {
            String::new()
        } else {
            format!(" + {}", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
        };
        let mae = self.mae.map_or(String::new(), |m| format!(", MAE {m:.5}"));
        let imputed = if self.imputed > 0 {
            format!("; {} missing values took the training mean", self.imputed)
        } else {
            String::new()
        };
        format!(
            "shallow baseline: {} on {curve} curve statistics{extra} (n = {}): {} {:.5}{mae}{imputed}\n  \
             network against it: {}",
            self.model,
            self.test_items,
            self.metric,
            self.value,
            self.paired_text()
        )
    }

    /// The paired test against the network, or why it was not measured.
    pub fn paired_text(&self) -> String {
        match (&self.against_network, &self.against_network_missing) {
            (Some(c), _) => c.sentence(),
            (None, why) => format!("not measured ({})", why.as_deref().unwrap_or("no network predictions")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_data::ImageItem;
    use astro_data::split::LabelledImages;
    use burn::data::dataset::DatasetError;

    /// Items with one informative curve statistic (the target plus noise), one of noise, and a
    /// catalogue column; the target is a value or, for classification, its sign as a class.
    #[derive(Debug)]
    struct Curves {
        values: Vec<f64>,
        classify: bool,
    }

    impl LabelledImages for Curves {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            Ok(ImageItem {
                id: self.id(index),
                pixels: vec![0.0],
                shape: [1, 1, 1],
                targets: self.targets(index)?,
                features: Vec::new(),
            })
        }
        fn count(&self) -> usize {
            self.values.len()
        }
        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            let v = self.values[index];
            Ok(vec![if self.classify { f32::from(u8::from(v > 0.0)) } else { v as f32 }])
        }
        fn id(&self, index: usize) -> String {
            format!("star-{index}")
        }
        fn attributes(&self, index: usize) -> Vec<(String, f64)> {
            let v = self.values[index];
            let noise = ((index * 7919) % 101) as f64 / 101.0 - 0.5;
            let missing = if index.is_multiple_of(17) { f64::NAN } else { noise };
            vec![
                ("curve_informative".into(), v + 0.05 * noise),
                ("curve_noise".into(), missing),
                ("period".into(), 0.5 + noise),
            ]
        }
    }

    fn split(range: std::ops::Range<usize>, classify: bool) -> ImageSplit {
        let values = range.map(|i| ((i * 37) % 200) as f64 / 100.0 - 1.0).collect();
        ImageSplit::new(Curves { values, classify })
    }

    #[test]
    fn the_baseline_learns_from_the_networks_catalogue_columns_once() {
        let features: astro_data::catalogue_features::FeaturesConfig =
            toml::from_str("columns = [\"period\", \"curve_std\", \"snr\"]").unwrap();
        let config = ShallowBaselineConfig { features: vec!["snr".into()], ..Default::default() };
        let merged = config.with_catalogue_features(Some(&features));
        // curve_std is one of the curve statistics the forest always reads.
        assert_eq!(merged.features, ["snr", "period"]);
        assert_eq!(config.with_catalogue_features(None), config);
    }

    #[test]
    fn the_forest_learns_from_curve_statistics_and_scores_the_test_items() {
        let config = ShallowBaselineConfig { trees: 30, features: vec!["period".into()], ..Default::default() };
        let (train, test) = (split(0..300, false), split(300..400, false));
        let p = fit_and_predict(&config, Task::Regression, 1, &train, &test, 3).unwrap().unwrap();
        assert_eq!(p.features, ["curve_informative", "curve_noise", "period"]);
        assert_eq!(p.ids.len(), 100);
        assert_eq!(p.imputed, 400 / 17 + 1, "every 17th item lacks curve_noise");
        // A network that predicts every test item exactly.
        let exact = |p: &ShallowPredictions, outputs: Vec<Vec<f32>>| Predictions {
            ids: p.ids.clone(),
            outputs,
            targets: p.targets.clone(),
            attributes: Vec::new(),
        };
        let s = score_shallow(&config, Task::Regression, 1, &p, &exact(&p, p.targets.clone()));
        // The target spreads over [-1, 1) (rmse of the mean ~0.58); the forest follows it.
        assert!(s.value < 0.2 && s.mae.unwrap() < s.value + 1e-9, "{s:?}");
        assert!(
            s.line().starts_with(
                "shallow baseline: random forest (30 trees) on 2 curve statistics + period (n = 100): rmse"
            )
        );
        let paired = s.against_network.as_ref().unwrap();
        assert!(paired.z > 2.0 && paired.mean_squared_error_gain.unwrap() > 0.0, "{paired:?}");
        assert!(s.line().contains("\n  network against it: paired squared errors z = +"), "{}", s.line());
        // Another network's items: not measured, and why.
        let mut other = exact(&p, p.targets.clone());
        other.ids[0] = "star-x".into();
        let s = score_shallow(&config, Task::Regression, 1, &p, &other);
        assert!(s.against_network.is_none());
        assert!(s.line().ends_with("network against it: not measured (test item star-0 of the baseline is missing from the network's predictions)"), "{}", s.line());

        let (train, test) = (split(0..300, true), split(300..400, true));
        let p = fit_and_predict(&config, Task::Classification, 2, &train, &test, 3).unwrap().unwrap();
        let one_hot = p.targets.iter().map(|t| if t[0] == 1.0 { vec![0.0, 1.0] } else { vec![1.0, 0.0] }).collect();
        let s = score_shallow(&config, Task::Classification, 2, &p, &exact(&p, one_hot));
        assert!(s.metric == "accuracy" && s.value > 0.9, "{s:?}");
        let paired = s.against_network.as_ref().unwrap();
        let forest_wrong = ((1.0 - s.value) * 100.0).round() as usize;
        assert_eq!((paired.only_network_right, paired.only_baseline_right), (Some(forest_wrong), Some(0)));

        let none = ShallowBaselineConfig { kind: ShallowKind::None, ..config.clone() };
        assert!(fit_and_predict(&none, Task::Regression, 1, &train, &test, 3).unwrap().is_none());
    }

    #[test]
    fn features_that_are_answers_or_absent_are_refused() {
        let properties: std::collections::BTreeSet<String> =
            ["period".to_string(), "published_feh".into(), "curve_std".into()].into();
        let config = |f: &str| ShallowBaselineConfig { features: vec![f.into()], ..Default::default() };
        let targets = ["feh".to_string()];
        assert!(config("period").check_names(&targets, Some("published_feh"), &properties).is_ok());
        for (f, why) in [
            ("feh", "is the answer"),
            ("published_feh", "is the answer"),
            (
                "perod",
                "\"perod\" is not a property of any item; the catalogue's properties are [\"period\", \"published_feh\"]",
            ),
        ] {
            let (field, problem) = config(f).check_names(&targets, Some("published_feh"), &properties).unwrap_err();
            assert!(field == "features" && problem.contains(why), "{f}: {problem}");
        }
        assert!(ShallowBaselineConfig { trees: 0, ..Default::default() }.validate().is_err());
    }
}
