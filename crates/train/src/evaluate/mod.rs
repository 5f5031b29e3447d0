//! Evaluation: the model's predictions over a data split, scored for its task: for regression
//! the RMSE against the targets and against the trivial baseline that predicts the training
//! mean for every image; for classification the scores of [`crate::evaluate::classification`].
//!
//! The folder: [`test_split`] (a run's test), [`classification`], [`binary`] (detectors: ROC,
//! completeness at fixed false-positive rates, bins), [`class_bins`], [`reconstruction`]
//! (autoencoders), [`shallow_baseline`] (a random forest on light-curve statistics), [`paired`]
//! (McNemar's and a paired squared-error test of two models on the same items) and
//! [`answer_map`] (Galaxy Zoo 2 answers scored on Galaxy Zoo DECaLS fractions).

pub mod answer_map;
pub mod binary;
pub mod class_bins;
pub mod classification;
mod numbered;
pub mod paired;
pub mod reconstruction;
pub mod shallow_baseline;
pub mod test_split;

use astro_data::ImageSplit;
use astro_data::{ImageBatcher, ImageItem, Task, TestTimeConfig};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::Serialize;

use crate::error::RunError;
use crate::evaluate::binary::{EvaluationConfig, score_binary};
use crate::evaluate::class_bins::score_class_groups;
use crate::evaluate::classification::{ClassificationMetrics, argmax, score_classes};
use crate::evaluate::numbered::{Numbered, NumberedBatcher};
use crate::fit::supervised::Supervised;

/// Predictions of a model on a data set, row-aligned.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// Item identifiers.
    pub ids: Vec<String>,
    /// Model outputs, one row per item.
    pub outputs: Vec<Vec<f32>>,
    /// Targets (empty rows for unlabelled items).
    pub targets: Vec<Vec<f32>>,
    /// Named properties of each item for binned metrics (empty when unknown).
    pub attributes: Vec<Vec<(String, f64)>>,
}

impl Predictions {
    /// Adds `more`'s rows after these.
    pub fn append(&mut self, more: Predictions) {
        self.ids.extend(more.ids);
        self.outputs.extend(more.outputs);
        self.targets.extend(more.targets);
        self.attributes.extend(more.attributes);
    }

    /// Looks up each item's properties in the splits it came from (by id).
    pub fn attach_attributes(&mut self, splits: &[&ImageSplit]) {
        let mut index = std::collections::HashMap::new();
        for split in splits {
            for i in 0..split.len() {
                index.insert(split.id(i), (*split, i));
            }
        }
        self.attributes =
            self.ids.iter().map(|id| index.get(id).map(|(s, i)| s.attributes(*i)).unwrap_or_default()).collect();
    }
}

/// Runs `model` over every item of `data` in batches on `device` (no autodiff), averaging each
/// item's predictions (values, or class probabilities) over the views of `test_time` when given.
/// The rows are in `data`'s order, whatever the number of loader workers.
pub fn predict<D: Dataset<ImageItem> + 'static>(
    model: &Supervised,
    data: D,
    batch_size: usize,
    workers: usize,
    test_time: Option<&TestTimeConfig>,
    device: &Device,
) -> Result<Predictions, RunError> {
    let batcher = test_time.map_or_else(ImageBatcher::default, |t| ImageBatcher::with_views(t.views()));
    let views = batcher.views();
    let loader = DataLoaderBuilder::new(NumberedBatcher(batcher))
        .batch_size(batch_size)
        .num_workers(workers)
        .set_device(device.clone())
        .build(Numbered(data));
    let mut out = Predictions::default();
    let mut positions = Vec::new();
    for batch in loader.iter() {
        let (indices, batch) = batch.map_err(|e| RunError::Run(format!("cannot load data: {e}")))?;
        positions.extend(indices);
        let [b, k] = batch.targets.dims();
        let outputs = model
            .predict(batch.images, batch.features)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| RunError::Run(format!("cannot read predictions: {e:?}")))?;
        let targets = batch.targets.into_data().try_to_vec::<f32>().unwrap_or_default();
        let n_out = outputs.len() / (b * views).max(1);
        out.ids.extend(batch.ids);
        // Each item's views are consecutive rows: average them.
        out.outputs.extend(outputs.chunks((n_out * views).max(1)).map(|rows| {
            let mut mean = vec![0.0f32; n_out];
            for row in rows.chunks(n_out.max(1)) {
                mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / views as f32);
            }
            mean
        }));
        // Unlabelled items (predict) have no targets: keep one empty row each.
        if k == 0 {
            out.targets.extend(std::iter::repeat_n(Vec::new(), b));
        } else {
            out.targets.extend(targets.chunks(k).map(<[f32]>::to_vec));
        }
    }
    Ok(in_data_order(out, &positions))
}

/// `p`'s rows sorted by `positions`, each row's index in the data set (`p` has no attributes
/// yet: they are attached after prediction).
fn in_data_order(p: Predictions, positions: &[usize]) -> Predictions {
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by_key(|&row| positions[row]);
    fn pick<T: Default>(mut rows: Vec<T>, order: &[usize]) -> Vec<T> {
        order.iter().map(|&row| std::mem::take(&mut rows[row])).collect()
    }
    Predictions {
        ids: pick(p.ids, &order),
        outputs: pick(p.outputs, &order),
        targets: pick(p.targets, &order),
        attributes: Vec::new(),
    }
}

/// Root mean squared error over every value of every row.
pub fn rmse(outputs: &[Vec<f32>], targets: &[Vec<f32>]) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (o, t) in outputs.iter().zip(targets) {
        for (a, b) in o.iter().zip(t) {
            sum += f64::from(a - b).powi(2);
            n += 1;
        }
    }
    (sum / n.max(1) as f64).sqrt()
}

/// Mean absolute error over every value of every row.
pub fn mae(outputs: &[Vec<f32>], targets: &[Vec<f32>]) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (o, t) in outputs.iter().zip(targets) {
        for (a, b) in o.iter().zip(t) {
            sum += f64::from(a - b).abs();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// The per-target mean over the training split (the baseline predictor); for classification,
/// the share of each of `outputs` classes (the mean of the one-hot targets).
pub fn target_mean(train: &ImageSplit, task: Task, outputs: usize) -> Result<Vec<f32>, String> {
    let n = train.len();
    let mut mean: Vec<f64> = Vec::new();
    for targets in train.every_target()? {
        let t = match task {
            Task::Regression | Task::Reconstruction => targets,
            Task::Classification => one_hot(&targets, outputs),
        };
        if mean.is_empty() {
            mean = vec![0.0; t.len()];
        }
        for (m, v) in mean.iter_mut().zip(t) {
            *m += f64::from(v);
        }
    }
    Ok(mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect())
}

fn one_hot(targets: &[f32], classes: usize) -> Vec<f32> {
    let mut v = vec![0.0; classes];
    if let Some(c) = astro_data::task::class_of(targets, classes) {
        v[c] = 1.0;
    }
    v
}

/// Test scores of a model and of its baseline, for its task.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum TestScores {
    /// RMSE.
    Regression(RegressionMetrics),
    /// Accuracy and the rest.
    Classification(ClassificationMetrics),
    /// How well an autoencoder gives the images back.
    Reconstruction(reconstruction::ReconstructionMetrics),
}

/// The number a run is judged by, and its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// `rmse` or `accuracy`.
    pub metric: &'static str,
    /// The model's value.
    pub value: f64,
    /// The baseline's value.
    pub baseline: f64,
    /// What the baseline is.
    pub baseline_name: String,
}

impl TestScores {
    /// This run's value of `metric` (see `PAPER_METRICS`), on the positives of `subset` for
    /// detector scores, on the items of `subset` for per-class scores (of `class`, by default
    /// the second of two); or why it was not measured (a subset without items, a class the
    /// data does not have, a metric the task does not report).
    pub fn measure(&self, metric: &str, subset: Option<&str>, class: Option<&str>) -> Result<f64, String> {
        let no_subset = |name: &str| format!("no [[evaluation.subsets]] entry {name:?} was scored");
        let empty = |name: &str, what: &str| format!("no items: the test split has no {what} in subset {name:?}");
        match (self, metric) {
            (TestScores::Classification(m), "precision" | "recall" | "f1") => {
                let per_class = match subset {
                    None => &m.per_class,
                    Some(name) => {
                        let group = m.groups.iter().find(|g| g.name == name).ok_or_else(|| no_subset(name))?;
                        if group.items == 0 {
                            return Err(empty(name, "items"));
                        }
                        &group.per_class
                    }
                };
                let score = match class {
                    Some(name) => per_class
                        .iter()
                        .find(|c| c.class == name)
                        .ok_or_else(|| format!("the data has no class {name:?}"))?,
                    None if per_class.len() == 2 => &per_class[1],
                    None => return Err(format!("{metric} of which class: name experiment.paper.class")),
                };
                Ok(match metric {
                    "precision" => score.precision,
                    "recall" => score.recall,
                    _ => score.f1,
                })
            }
            (TestScores::Regression(m), "rmse") if subset.is_none() => Ok(m.rmse),
            (TestScores::Reconstruction(m), "rmse") if subset.is_none() => Ok(m.rmse),
            (TestScores::Classification(m), "accuracy") if subset.is_none() => Ok(m.accuracy),
            (TestScores::Classification(m), "error_rate") if subset.is_none() => Ok(1.0 - m.accuracy),
            (TestScores::Classification(m), "roc_auc" | "completeness") => {
                let b = m.binary.as_ref().ok_or("the task is not a two-class detector")?;
                let (positives, auc, at) = match subset {
                    None => (b.positives, b.roc_auc, &b.at_fpr),
                    Some(name) => {
                        let s = b.subsets.iter().find(|s| s.name == name).ok_or_else(|| no_subset(name))?;
                        (s.positives, s.roc_auc, &s.at_fpr)
                    }
                };
                if positives == 0 {
                    return Err(empty(subset.unwrap_or("all"), "positives"));
                }
                match metric {
                    "roc_auc" => Ok(auc),
                    _ => at.first().map(|a| a.completeness).ok_or_else(|| "no evaluation.fpr is set".to_string()),
                }
            }
            _ => Err(format!(
                "this task does not report {metric}{}",
                subset.map_or(String::new(), |s| format!(" on subset {s:?}"))
            )),
        }
    }

    /// This run's value of `metric` (`rmse` or `scatter`) for regression target `j`.
    pub fn target_value(&self, metric: &str, j: usize) -> Option<f64> {
        match (self, metric) {
            (TestScores::Regression(m), "rmse") => m.rmse_per_target.get(j).copied(),
            (TestScores::Regression(m), "scatter") => m.scatter_per_target.get(j).copied(),
            _ => None,
        }
    }

    /// Items scored.
    pub fn samples(&self) -> usize {
        match self {
            TestScores::Regression(m) => m.samples,
            TestScores::Classification(m) => m.samples,
            TestScores::Reconstruction(m) => m.samples,
        }
    }

    /// The headline number and its baseline.
    pub fn headline(&self) -> Headline {
        match self {
            TestScores::Regression(m) => Headline {
                metric: "rmse",
                value: m.rmse,
                baseline: m.baseline_rmse,
                baseline_name: "training mean".into(),
            },
            TestScores::Reconstruction(m) => Headline {
                metric: "rmse",
                value: m.rmse,
                baseline: m.baseline_rmse,
                baseline_name: "mean training image".into(),
            },
            TestScores::Classification(m) => Headline {
                metric: "accuracy",
                value: m.accuracy,
                baseline: m.baseline_accuracy,
                baseline_name: format!("always {:?}", m.baseline_class),
            },
        }
    }
}

/// Regression metrics of a model and of the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionMetrics {
    /// Images evaluated.
    pub samples: usize,
    /// RMSE of the model over all targets.
    pub rmse: f64,
    /// RMSE of predicting the training mean for every image.
    pub baseline_rmse: f64,
    /// Mean absolute error of the model over all targets.
    pub mae: f64,
    /// Mean absolute error of predicting the training mean.
    pub baseline_mae: f64,
    /// The model's RMSE per target, in target order.
    pub rmse_per_target: Vec<f64>,
    /// The standard deviation of predicted minus true per target (the "scatter" of
    /// Aragon-Calvo & Carvajal 2020), over the items `scatter_items` counts: all, except near
    /// the wrap of a `[evaluation.periodic]` target.
    pub scatter_per_target: Vec<f64>,
    /// Items in each target's scatter.
    pub scatter_items: Vec<usize>,
    /// RMSE per group of targets named `<group>.<n>` (per question for Galaxy Zoo's
    /// `Class1.1` ...), in order of first appearance; empty for other names.
    pub per_group: Vec<GroupScore>,
    /// A published model's scores on the same items (`[evaluation] published`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedScores>,
}

/// The scores of a published model's predictions, read from an item property.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedScores {
    /// The property that holds them.
    pub property: String,
    /// Items that have it (every item, as the data is checked when it opens).
    pub samples: usize,
    /// Their RMSE against the first target.
    pub rmse: f64,
    /// Their mean absolute error.
    pub mae: f64,
}

impl PublishedScores {
    /// Scores the values of property `name` in `predictions.attributes` against the first target.
    pub fn of(name: &str, predictions: &Predictions) -> Self {
        let (published, truth): (Vec<Vec<f32>>, Vec<Vec<f32>>) = predictions
            .attributes
            .iter()
            .zip(&predictions.targets)
            .filter_map(|(a, t)| {
                let (_, v) = a.iter().find(|(k, _)| k == name)?;
                Some((vec![*v as f32], vec![*t.first()?]))
            })
            .unzip();
        Self {
            property: name.to_string(),
            samples: published.len(),
            rmse: rmse(&published, &truth),
            mae: mae(&published, &truth),
        }
    }
}

/// The RMSE of a group of targets.
#[derive(Debug, Clone, Serialize)]
pub struct GroupScore {
    /// The name before the dot (`Class1`).
    pub group: String,
    /// Its targets.
    pub targets: usize,
    /// The model's RMSE over them.
    pub rmse: f64,
    /// The baseline's RMSE over them.
    pub baseline_rmse: f64,
}

/// The columns of each `<group>.<n>` group of `names`, in order of first appearance.
pub fn target_groups(names: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let Some((group, _)) = name.rsplit_once('.') else { return Vec::new() };
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, cols)) => cols.push(j),
            None => groups.push((group.to_string(), vec![j])),
        }
    }
    groups
}

/// Scores `predictions` for `task`: against the targets named `names` and the training-mean
/// baseline, or as probabilities of the classes `names` with the training class shares (and,
/// for two classes, as a detector of the second, as `evaluation` asks).
pub fn score(
    task: Task,
    predictions: &Predictions,
    train_mean: &[f32],
    names: &[String],
    evaluation: &EvaluationConfig,
) -> TestScores {
    match task {
        Task::Regression | Task::Reconstruction => {
            TestScores::Regression(score_regression(predictions, train_mean, names, evaluation))
        }
        Task::Classification => {
            let mut m = score_classes(&predictions.outputs, &predictions.targets, train_mean, names);
            m.groups = score_class_groups(
                &predictions.outputs,
                &predictions.targets,
                &predictions.attributes,
                names,
                evaluation,
            );
            if names.len() == 2 {
                let rows: Vec<usize> = (0..predictions.ids.len())
                    .filter(|&i| astro_data::task::class_of(&predictions.targets[i], 2).is_some())
                    .collect();
                let scores: Vec<f64> = rows.iter().map(|&i| f64::from(predictions.outputs[i][1])).collect();
                let positive: Vec<bool> = rows.iter().map(|&i| predictions.targets[i] == [1.0]).collect();
                let attributes: Vec<_> =
                    rows.iter().map(|&i| predictions.attributes.get(i).cloned().unwrap_or_default()).collect();
                m.binary = Some(score_binary(&scores, &positive, &attributes, evaluation));
            }
            TestScores::Classification(m)
        }
    }
}

/// The standard deviation of `outputs[j] - targets[j]` over the items whose true value `keep`
/// allows, and how many those are.
fn residual_scatter(outputs: &[Vec<f32>], targets: &[Vec<f32>], j: usize, keep: impl Fn(f64) -> bool) -> (f64, usize) {
    let residuals: Vec<f64> = outputs
        .iter()
        .zip(targets)
        .filter_map(|(o, t)| Some((f64::from(*o.get(j)?), f64::from(*t.get(j)?))))
        .filter(|(o, t)| o.is_finite() && t.is_finite() && keep(*t))
        .map(|(o, t)| o - t)
        .collect();
    let n = residuals.len();
    if n < 2 {
        return (f64::NAN, n);
    }
    let mean = residuals.iter().sum::<f64>() / n as f64;
    ((residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt(), n)
}

/// Regression scores of `predictions` and of the training-mean baseline.
pub fn score_regression(
    predictions: &Predictions,
    train_mean: &[f32],
    names: &[String],
    evaluation: &EvaluationConfig,
) -> RegressionMetrics {
    let baseline: Vec<Vec<f32>> = predictions.targets.iter().map(|_| train_mean.to_vec()).collect();
    let columns = |rows: &[Vec<f32>], cols: &[usize]| -> Vec<Vec<f32>> {
        rows.iter().map(|r| cols.iter().map(|&j| r.get(j).copied().unwrap_or(f32::NAN)).collect()).collect()
    };
    let per_group = target_groups(names)
        .into_iter()
        .map(|(group, cols)| GroupScore {
            group,
            targets: cols.len(),
            rmse: rmse(&columns(&predictions.outputs, &cols), &columns(&predictions.targets, &cols)),
            baseline_rmse: rmse(&columns(&baseline, &cols), &columns(&predictions.targets, &cols)),
        })
        .collect();
    let k = train_mean.len();
    let rmse_per_target = (0..k)
        .map(|j| {
            let col = |rows: &[Vec<f32>]| {
                rows.iter().map(|r| vec![r.get(j).copied().unwrap_or(f32::NAN)]).collect::<Vec<_>>()
            };
            rmse(&col(&predictions.outputs), &col(&predictions.targets))
        })
        .collect();
    let (scatter_per_target, scatter_items) = (0..k)
        .map(|j| {
            let periodic = names.get(j).and_then(|n| evaluation.periodic.get(n)).copied();
            residual_scatter(&predictions.outputs, &predictions.targets, j, |t| match periodic {
                Some(p) => {
                    let t = t.rem_euclid(p.period);
                    t >= p.exclude_within && t <= p.period - p.exclude_within
                }
                None => true,
            })
        })
        .unzip();
    RegressionMetrics {
        samples: predictions.ids.len(),
        scatter_per_target,
        scatter_items,
        rmse: rmse(&predictions.outputs, &predictions.targets),
        baseline_rmse: rmse(&baseline, &predictions.targets),
        mae: mae(&predictions.outputs, &predictions.targets),
        baseline_mae: mae(&baseline, &predictions.targets),
        rmse_per_target,
        per_group,
        published: evaluation.published.as_deref().map(|name| PublishedScores::of(name, predictions)),
    }
}

/// Writes the predictions as CSV. Regression: `id, <name>...`, then `true_<name>...` when
/// targets are known; for the Galaxy Zoo answers the id column is `GalaxyID`, so that
/// predictions of the Kaggle test images are a submission file in the challenge's format.
/// Classification: `id, predicted, p_<class>...`, then `true` when known.
pub fn write_predictions_csv(
    path: &std::path::Path,
    task: Task,
    names: &[String],
    p: &Predictions,
) -> Result<(), RunError> {
    let labelled = p.targets.iter().any(|t| !t.is_empty());
    let text = predictions_header(task, names, labelled) + &prediction_rows(task, names, p, labelled);
    std::fs::write(path, text).map_err(|source| RunError::Io {
        what: "predictions file",
        path: path.to_path_buf(),
        source,
    })
}

/// A CSV field: quoted (inner quotes doubled) when it holds a comma or a quote.
pub(crate) fn quote(s: &str) -> String {
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The header line of a predictions CSV (with `true` columns when `labelled`).
pub fn predictions_header(task: Task, names: &[String], labelled: bool) -> String {
    let galaxy_zoo = names == astro_sim::galaxy_zoo::answer_names().as_slice();
    let mut text = String::from(if galaxy_zoo { "GalaxyID" } else { "id" });
    let classification = task == Task::Classification;
    if classification {
        text.push_str(",predicted");
    }
    for n in names {
        text.push(',');
        text.push_str(&quote(&if classification { format!("p_{n}") } else { n.clone() }));
    }
    if labelled {
        if classification {
            text.push_str(",true");
        } else {
            for n in names {
                text.push_str(&format!(",{}", quote(&format!("true_{n}"))));
            }
        }
    }
    text.push('\n');
    text
}

/// The lines of a predictions CSV for `p`, one per item, matching [`predictions_header`].
pub fn prediction_rows(task: Task, names: &[String], p: &Predictions, labelled: bool) -> String {
    let classification = task == Task::Classification;
    let class_name = |c: usize| quote(names.get(c).map_or("?", String::as_str));
    let mut text = String::new();
    for (i, id) in p.ids.iter().enumerate() {
        text.push_str(&quote(id));
        if classification {
            text.push_str(&format!(",{}", class_name(argmax(&p.outputs[i]))));
        }
        for v in &p.outputs[i] {
            text.push_str(&format!(",{v:.6}"));
        }
        if labelled {
            if classification {
                let truth = astro_data::task::class_of(&p.targets[i], names.len());
                text.push_str(&format!(",{}", truth.map_or("?".to_string(), class_name)));
            } else {
                for v in &p.targets[i] {
                    text.push_str(&format!(",{v:.6}"));
                }
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmse_and_baseline_match_hand_values() {
        let p = Predictions {
            ids: vec!["a".into(), "b".into()],
            outputs: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
            targets: vec![vec![1.0, 1.0], vec![3.0, 2.0]],
            attributes: Vec::new(),
        };
        // Squared errors 0, 1, 0, 4: mean 1.25.
        assert!((rmse(&p.outputs, &p.targets) - 1.25f64.sqrt()).abs() < 1e-12);
        let m = score_regression(&p, &[2.0, 1.5], &["x".into(), "y".into()], &EvaluationConfig::default());
        // Baseline errors -1, 0.5, 1, -0.5: mean square 0.625.
        assert!((m.baseline_rmse - 0.625f64.sqrt()).abs() < 1e-12);
        assert!((m.rmse_per_target[1] - 2.5f64.sqrt()).abs() < 1e-12);
        assert!(m.per_group.is_empty(), "names without a dot have no groups");
    }

    #[test]
    fn the_scatter_is_the_residual_spread_and_leaves_out_angles_near_the_wrap() {
        // Angles in degrees: residuals +1, -1, +3, -3 for true 90, 100, 45, 135; the two near
        // the wrap (true 2 and 179, residuals 50 and -170) are left out.
        let truth = [90.0f32, 100.0, 45.0, 135.0, 2.0, 179.0];
        let predicted = [91.0f32, 99.0, 48.0, 132.0, 52.0, 9.0];
        let p = Predictions {
            ids: (0..6).map(|i| i.to_string()).collect(),
            outputs: predicted.iter().map(|v| vec![*v]).collect(),
            targets: truth.iter().map(|v| vec![*v]).collect(),
            attributes: Vec::new(),
        };
        let mut evaluation = EvaluationConfig::default();
        let plain = score_regression(&p, &[90.0], &["angle".into()], &evaluation);
        assert_eq!(plain.scatter_items, [6]);
        evaluation.periodic.insert("angle".into(), binary::PeriodicTarget { period: 180.0, exclude_within: 10.0 });
        let m = score_regression(&p, &[90.0], &["angle".into()], &evaluation);
        assert_eq!(m.scatter_items, [4]);
        // Sample standard deviation of [1, -1, 3, -3]: sqrt(20 / 3).
        assert!((m.scatter_per_target[0] - (20.0f64 / 3.0).sqrt()).abs() < 1e-9, "{:?}", m.scatter_per_target);
    }

    /// A regressor of `outputs` values from `channels` x `side` x `side` images: global average
    /// pooling then a dense layer.
    fn pooled_dense(channels: usize, side: usize, outputs: usize, device: &Device) -> Supervised {
        use astro_models::{FeatureShape, ModelConfig};
        let text = format!(
            "kind = \"sequential\"\n[[layers]]\ntype = \"global_avgpool\"\n[[layers]]\ntype = \"dense\"\nunits = {outputs}\n"
        );
        let model: ModelConfig = toml::from_str(&text).unwrap();
        let shape = FeatureShape::Image { channels, height: side, width: side };
        Supervised::new(model.init(shape, outputs, device).unwrap(), Task::Regression)
    }

    #[test]
    fn test_time_views_are_averaged_per_item() {
        use burn::data::dataset::InMemDataset;
        // Global average pooling then a dense layer: invariant under quarter turns and flips,
        // so averaging the 8 views of each item must give its plain prediction; a mix-up of
        // rows between items would not (the items differ).
        let device = Device::flex();
        let model = pooled_dense(3, 6, 2, &device);
        let items: Vec<ImageItem> = (0..5)
            .map(|i| ImageItem {
                id: i.to_string(),
                pixels: (0..108).map(|k| ((k * (i + 2)) % 11) as f32 / 10.0).collect(),
                shape: [3, 6, 6],
                targets: vec![0.0, 0.0],
                features: Vec::new(),
            })
            .collect();
        let plain = predict(&model, InMemDataset::new(items.clone()), 2, 0, None, &device).unwrap();
        let tta = TestTimeConfig { rotations: 4, zooms: vec![1.0], flip: true };
        let averaged = predict(&model, InMemDataset::new(items), 2, 0, Some(&tta), &device).unwrap();
        assert_eq!(averaged.ids, plain.ids);
        for (a, b) in averaged.outputs.iter().zip(&plain.outputs) {
            assert_eq!(a.len(), 2);
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4), "{a:?} vs {b:?}");
        }
        assert_ne!(plain.outputs[0], plain.outputs[1]);
    }

    #[test]
    fn predictions_keep_the_data_order_with_several_workers() {
        use burn::data::dataset::InMemDataset;
        let device = Device::flex();
        let model = pooled_dense(1, 2, 1, &device);
        // Each item's target is its index; its pixels make its prediction its own.
        let items: Vec<ImageItem> = (0..48)
            .map(|i| ImageItem {
                id: format!("item-{i}"),
                pixels: vec![i as f32 / 10.0; 4],
                shape: [1, 2, 2],
                targets: vec![i as f32],
                features: Vec::new(),
            })
            .collect();
        let one = predict(&model, InMemDataset::new(items.clone()), 2, 0, None, &device).unwrap();
        let four = predict(&model, InMemDataset::new(items), 2, 4, None, &device).unwrap();
        let ids: Vec<String> = (0..48).map(|i| format!("item-{i}")).collect();
        assert_eq!(one.ids, ids);
        assert_eq!(four.ids, ids);
        assert_eq!(four.targets, (0..48).map(|i| vec![i as f32]).collect::<Vec<_>>());
        assert_eq!(four.outputs, one.outputs);
        assert_ne!(four.outputs[0], four.outputs[1]);
    }

    #[test]
    fn groups_score_their_own_columns() {
        let names: Vec<String> = ["Class1.1", "Class1.2", "Class2.1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(target_groups(&names), [("Class1".to_string(), vec![0, 1]), ("Class2".to_string(), vec![2])]);
        let p = Predictions {
            ids: vec!["a".into()],
            outputs: vec![vec![0.5, 0.5, 0.0]],
            targets: vec![vec![0.5, 0.5, 0.3]],
            attributes: Vec::new(),
        };
        let m = score_regression(&p, &[0.0, 0.0, 0.0], &names, &EvaluationConfig::default());
        assert_eq!(m.per_group.len(), 2);
        assert!(m.per_group[0].rmse.abs() < 1e-12 && (m.per_group[1].rmse - 0.3).abs() < 1e-6);
        assert!((m.per_group[0].baseline_rmse - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_metric_over_an_empty_subset_is_not_measured_and_says_why() {
        // Twenty items, half lenses, none with an Einstein radius (real data without the column).
        let n = 20;
        let predictions = Predictions {
            ids: (0..n).map(|i| i.to_string()).collect(),
            outputs: (0..n).map(|i| vec![0.0, if i % 2 == 1 { 1.0 } else { -1.0 }]).collect(),
            targets: (0..n).map(|i| vec![(i % 2) as f32]).collect(),
            attributes: vec![Vec::new(); n],
        };
        let evaluation = EvaluationConfig {
            fpr: vec![0.1],
            subsets: vec![binary::SubsetConfig {
                name: "big".into(),
                above: [("einstein_radius".to_string(), 1.4)].into_iter().collect(),
            }],
            ..EvaluationConfig::default()
        };
        let names = ["non-lens".to_string(), "lens".to_string()];
        let scores = score(Task::Classification, &predictions, &[0.5, 0.5], &names, &evaluation);
        assert_eq!(scores.measure("completeness", None, None).ok(), Some(1.0));
        assert_eq!(scores.measure("completeness", Some("big"), None).ok(), None);
        let why = scores.measure("completeness", Some("big"), None).unwrap_err();
        assert!(why.starts_with("no items: the test split has no positives in subset \"big\""), "{why}");
        let why = scores.measure("completeness", Some("huge"), None).unwrap_err();
        assert!(why.contains("no [[evaluation.subsets]] entry \"huge\""), "{why}");
        assert!(scores.measure("rmse", None, None).unwrap_err().contains("does not report rmse"));
    }
}
