//! The end of an autoencoder run: how well the test images come back (RMSE per pixel value,
//! beside giving the mean training image back), every test image's reconstruction error
//! (`reconstruction_errors.csv`, worst first: candidates for an anomaly search), its latent
//! vector (`latent.csv`, for downstream use), and pictures of originals above their
//! reconstructions (`reconstructions.png`) and of the worst-reconstructed images
//! (`anomalies.png`).

use std::path::Path;

use astro_data::ImageSplit;
use astro_data::epoch_loader::EpochLoader;
use astro_models::Model;
use burn::data::dataloader::DataLoader;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::Serialize;

use crate::error::RunError;
use crate::fit::supervised::Supervised;
use crate::report::gallery::save_captioned;

/// Images in each picture.
const SHOWN: usize = 8;
/// Worst images listed in the summary.
const LISTED: usize = 10;

/// The scores of an autoencoder on the test split.
#[derive(Debug, Clone, Serialize)]
pub struct ReconstructionMetrics {
    /// Test images.
    pub samples: usize,
    /// Root mean squared difference between reconstructions and images, per pixel value.
    pub rmse: f64,
    /// The same for giving the mean training image back for every image.
    pub baseline_rmse: f64,
    /// Mean absolute difference per pixel value.
    pub mae: f64,
    /// Length of the latent vectors.
    pub latent_size: usize,
    /// The worst-reconstructed test images: (id, mean squared error), worst first.
    pub worst: Vec<(String, f64)>,
}

/// One test image's reconstruction.
struct Reconstructed {
    id: String,
    error: f64,
    pixels: Vec<f32>,
    output: Vec<f32>,
}

/// The mean image of `split`.
fn mean_image(split: &ImageSplit) -> Result<Vec<f64>, RunError> {
    let mut mean: Vec<f64> = Vec::new();
    for i in 0..split.len() {
        let item = split.get(i).map_err(|e| RunError::Run(format!("cannot read training item {i}: {e}")))?;
        if mean.is_empty() {
            mean = vec![0.0; item.pixels.len()];
        }
        mean.iter_mut().zip(&item.pixels).for_each(|(m, v)| *m += f64::from(*v));
    }
    let n = split.len().max(1) as f64;
    Ok(mean.into_iter().map(|m| m / n).collect())
}

/// Reconstructs the test split with `model` on `device`, writes the files of the module's
/// header into `run`, and returns the scores.
pub fn evaluate_reconstruction(
    model: &Supervised,
    train: &ImageSplit,
    test: &ImageSplit,
    batch_size: usize,
    workers: usize,
    device: &Device,
    run: &Path,
) -> Result<ReconstructionMetrics, RunError> {
    let Model::Autoencoder(net) = &model.model else {
        return Err(RunError::Run("only an autoencoder reconstructs its input".into()));
    };
    let mean = mean_image(train)?;
    let loader = EpochLoader::in_order(test.clone(), test.len(), batch_size, workers).on(device.clone());
    let (mut squared, mut absolute, mut baseline, mut values) = (0.0, 0.0, 0.0, 0usize);
    let mut latent_csv = String::new();
    let mut results: Vec<Reconstructed> = Vec::new();
    for batch in loader.iter() {
        let batch = batch.map_err(|e| RunError::Run(format!("cannot read a test batch: {e}")))?;
        let latent = net.encode(batch.images.clone()).into_data().try_to_vec::<f32>().unwrap_or_default();
        let outputs = model.model.forward(batch.images.clone()).into_data().try_to_vec::<f32>().unwrap_or_default();
        let pixels = batch.images.flatten::<2>(1, 3).into_data().try_to_vec::<f32>().unwrap_or_default();
        let n = batch.ids.len();
        let (per_image, per_latent) = (pixels.len() / n.max(1), latent.len() / n.max(1));
        if latent_csv.is_empty() {
            let names: Vec<String> = (0..per_latent).map(|k| format!("z{k}")).collect();
            latent_csv = format!("id,{}\n", names.join(","));
        }
        for (k, id) in batch.ids.iter().enumerate() {
            let (x, y) = (&pixels[k * per_image..(k + 1) * per_image], &outputs[k * per_image..(k + 1) * per_image]);
            let mut error = 0.0;
            for ((a, b), m) in x.iter().zip(y).zip(&mean) {
                let d = f64::from(*b) - f64::from(*a);
                error += d * d;
                absolute += d.abs();
                baseline += (m - f64::from(*a)).powi(2);
            }
            squared += error;
            values += per_image;
            let z: Vec<String> =
                latent[k * per_latent..(k + 1) * per_latent].iter().map(|v| format!("{v:.6}")).collect();
            latent_csv.push_str(&format!("{id},{}\n", z.join(",")));
            results.push(Reconstructed {
                id: id.clone(),
                error: error / per_image as f64,
                pixels: x.to_vec(),
                output: y.to_vec(),
            });
        }
    }
    let write = |name: &str, text: &str| {
        let path = run.join(name);
        std::fs::write(&path, text).map_err(|source| RunError::Io { what: "run file", path, source })
    };
    write("latent.csv", &latent_csv)?;
    let shape =
        test.get(0).map(|item| item.shape).map_err(|e| RunError::Run(format!("cannot read a test item: {e}")))?;
    let pair = |r: &Reconstructed, first: String| {
        [
            (r.pixels.clone(), vec![r.id.clone(), first]),
            (r.output.clone(), vec!["reconstruction".to_string(), format!("MSE {:.2e}", r.error)]),
        ]
    };
    let picture = |rows: Vec<&Reconstructed>, name: &str, first: &dyn Fn(usize) -> String| {
        let cells: Vec<(Vec<f32>, Vec<String>)> =
            rows.iter().enumerate().flat_map(|(k, r)| pair(r, first(k))).collect();
        // Originals in the first row, their reconstructions under them.
        let (originals, rebuilt): (Vec<_>, Vec<_>) = cells.into_iter().enumerate().partition(|(k, _)| k % 2 == 0);
        let ordered: Vec<(Vec<f32>, Vec<String>)> = originals.into_iter().chain(rebuilt).map(|(_, c)| c).collect();
        let items: Vec<(&[f32], [usize; 3], Vec<String>)> =
            ordered.iter().map(|(p, c)| (p.as_slice(), shape, c.clone())).collect();
        let scale = (128 / shape[1].max(1)).max(1);
        save_captioned(&run.join(name), &items, rows.len().max(1), scale)
    };
    picture(results.iter().take(SHOWN).collect(), "reconstructions.png", &|_| "original".to_string())?;
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| results[b].error.total_cmp(&results[a].error));
    let mut errors_csv = String::from("id,mse\n");
    for &i in &order {
        errors_csv.push_str(&format!("{},{:.6e}\n", results[i].id, results[i].error));
    }
    write("reconstruction_errors.csv", &errors_csv)?;
    picture(order.iter().take(SHOWN).map(|&i| &results[i]).collect(), "anomalies.png", &|k| {
        format!("worst #{}", k + 1)
    })?;
    let values = values.max(1) as f64;
    Ok(ReconstructionMetrics {
        samples: results.len(),
        rmse: (squared / values).sqrt(),
        baseline_rmse: (baseline / values).sqrt(),
        mae: absolute / values,
        latent_size: latent_csv.lines().next().map_or(0, |h| h.split(',').count() - 1),
        worst: order.iter().take(LISTED).map(|&i| (results[i].id.clone(), results[i].error)).collect(),
    })
}
