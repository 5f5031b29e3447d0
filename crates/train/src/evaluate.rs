//! Evaluation: the model's predictions over a data split, the RMSE against the targets, and
//! the trivial baseline that predicts the training mean for every image.

use astro_data::config::ImageSplit;
use astro_data::{ImageBatcher, ImageItem};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::Serialize;

use crate::error::RunError;
use crate::regression::Regressor;

/// Predictions of a model on a data set, row-aligned.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// Item identifiers.
    pub ids: Vec<String>,
    /// Model outputs, one row per item.
    pub outputs: Vec<Vec<f32>>,
    /// Targets (empty rows for unlabelled items).
    pub targets: Vec<Vec<f32>>,
}

/// Runs `model` over every item of `data` in batches on `device` (no autodiff).
pub fn predict<D: Dataset<ImageItem> + 'static>(
    model: &Regressor,
    data: D,
    batch_size: usize,
    workers: usize,
    device: &Device,
) -> Result<Predictions, RunError> {
    let loader = DataLoaderBuilder::new(ImageBatcher)
        .batch_size(batch_size)
        .num_workers(workers)
        .set_device(device.clone())
        .build(data);
    let mut out = Predictions::default();
    for batch in loader.iter() {
        let batch = batch.map_err(|e| RunError::Run(format!("cannot load data: {e}")))?;
        let [b, k] = batch.targets.dims();
        let outputs = model
            .predict(batch.images)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| RunError::Run(format!("cannot read predictions: {e:?}")))?;
        let targets = batch.targets.into_data().try_to_vec::<f32>().unwrap_or_default();
        let n_out = outputs.len() / b.max(1);
        out.ids.extend(batch.ids);
        out.outputs.extend(outputs.chunks(n_out.max(1)).map(<[f32]>::to_vec));
        // Unlabelled items (predict) have no targets: keep one empty row each.
        if k == 0 {
            out.targets.extend(std::iter::repeat_n(Vec::new(), b));
        } else {
            out.targets.extend(targets.chunks(k).map(<[f32]>::to_vec));
        }
    }
    Ok(out)
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

/// The per-target mean over the training split (the baseline predictor).
pub fn target_mean(train: &ImageSplit) -> Vec<f32> {
    let n = train.len();
    let mut mean: Vec<f64> = Vec::new();
    for i in 0..n {
        let t = train.targets(i);
        if mean.is_empty() {
            mean = vec![0.0; t.len()];
        }
        for (m, v) in mean.iter_mut().zip(t) {
            *m += f64::from(v);
        }
    }
    mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect()
}

/// Test metrics of a model and of the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct TestMetrics {
    /// Images evaluated.
    pub samples: usize,
    /// RMSE of the model over all targets.
    pub rmse: f64,
    /// RMSE of predicting the training mean for every image.
    pub baseline_rmse: f64,
    /// The model's RMSE per target, in target order.
    pub rmse_per_target: Vec<f64>,
}

/// Scores `predictions` and the training-mean baseline against the targets.
pub fn score(predictions: &Predictions, train_mean: &[f32]) -> TestMetrics {
    let baseline: Vec<Vec<f32>> = predictions.targets.iter().map(|_| train_mean.to_vec()).collect();
    let k = train_mean.len();
    let rmse_per_target = (0..k)
        .map(|j| {
            let col = |rows: &[Vec<f32>]| {
                rows.iter().map(|r| vec![r.get(j).copied().unwrap_or(f32::NAN)]).collect::<Vec<_>>()
            };
            rmse(&col(&predictions.outputs), &col(&predictions.targets))
        })
        .collect();
    TestMetrics {
        samples: predictions.ids.len(),
        rmse: rmse(&predictions.outputs, &predictions.targets),
        baseline_rmse: rmse(&baseline, &predictions.targets),
        rmse_per_target,
    }
}

/// Writes `id, <name>...` predictions, then `true_<name>...` when targets are known.
pub fn write_predictions_csv(path: &std::path::Path, names: &[String], p: &Predictions) -> Result<(), RunError> {
    let labelled = p.targets.iter().any(|t| !t.is_empty());
    let mut text = String::from("id");
    for n in names {
        text.push(',');
        text.push_str(n);
    }
    if labelled {
        for n in names {
            text.push_str(",true_");
            text.push_str(n);
        }
    }
    text.push('\n');
    for (i, id) in p.ids.iter().enumerate() {
        text.push_str(id);
        for v in &p.outputs[i] {
            text.push_str(&format!(",{v:.6}"));
        }
        if labelled {
            for v in &p.targets[i] {
                text.push_str(&format!(",{v:.6}"));
            }
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| RunError::Io {
        what: "predictions file",
        path: path.to_path_buf(),
        source,
    })
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
        };
        // Squared errors 0, 1, 0, 4: mean 1.25.
        assert!((rmse(&p.outputs, &p.targets) - 1.25f64.sqrt()).abs() < 1e-12);
        let m = score(&p, &[2.0, 1.5]);
        // Baseline errors -1, 0.5, 1, -0.5: mean square 0.625.
        assert!((m.baseline_rmse - 0.625f64.sqrt()).abs() < 1e-12);
        assert!((m.rmse_per_target[1] - 2.5f64.sqrt()).abs() < 1e-12);
    }
}
