//! GalaxyGAN's test (Schawinski et al. 2017): how close to the original galaxy the generator's
//! recovery is, beside the degraded image itself and the Richardson-Lucy deconvolution with the
//! known PSF: PSNR and SSIM (crate `sim`'s `image_quality`, per band on the [0, 1] stretch, then
//! averaged over bands and images). Writes `test_quality.csv` (every test galaxy) and
//! `gallery.png` (original, degraded, GAN, Richardson-Lucy, one galaxy a column).

use std::path::Path;

use astro_data::ImageSplit;
use astro_data::epoch_loader::EpochLoader;
use astro_models::gan::pix2pix::UNet;
use astro_sim::image::Image;
use astro_sim::image_quality::{psnr, ssim};
use burn::data::dataloader::DataLoader;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::Serialize;

use super::pair::{GanBatch, GanPair, Pix2pixPair};
use crate::error::RunError;
use crate::report::gallery::save_captioned;

/// Galaxies in the gallery.
const SHOWN: usize = 6;

/// Mean PSNR (dB) and SSIM of one way of recovering the originals.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quality {
    /// Peak signal-to-noise ratio, dB.
    pub psnr: f64,
    /// Structural similarity.
    pub ssim: f64,
}

/// The scores of GalaxyGAN's test.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryScores {
    /// Test galaxies.
    pub samples: usize,
    /// The generator's recoveries.
    pub gan: Quality,
    /// Richardson-Lucy deconvolution with the known PSF.
    pub richardson_lucy: Quality,
    /// The degraded images as they are.
    pub degraded: Quality,
    /// Test galaxies the GAN recovers with a higher PSNR than Richardson-Lucy.
    pub gan_beats_rl: usize,
}

/// Band `b` of a channel-major `[3, n, n]` image as an [`Image`].
fn band(pixels: &[f32], b: usize, n: usize) -> Image {
    Image { width: n, height: n, data: pixels[b * n * n..(b + 1) * n * n].iter().map(|&v| f64::from(v)).collect() }
}

/// Mean over bands of (PSNR, SSIM) of `test` against `reference`.
fn quality(reference: &[f32], test: &[f32], channels: usize, n: usize) -> (f64, f64) {
    let scores: Vec<(f64, f64)> = (0..channels)
        .map(|b| {
            let (r, t) = (band(reference, b, n), band(test, b, n));
            (psnr(&r, &t, 1.0), ssim(&r, &t, 1.0))
        })
        .collect();
    let k = scores.len().max(1) as f64;
    (scores.iter().map(|s| s.0).sum::<f64>() / k, scores.iter().map(|s| s.1).sum::<f64>() / k)
}

/// Recovers the test split with `generator` (validation mode) on `device`, scores it and the
/// baselines, and writes the files of the module's header into `run`.
pub fn evaluate_recovery(
    generator: &UNet,
    test: &ImageSplit,
    batch_size: usize,
    workers: usize,
    device: &Device,
    run: &Path,
) -> Result<RecoveryScores, RunError> {
    let loader = EpochLoader::in_order(test.clone(), test.len(), batch_size, workers).on(device.clone());
    let mut csv = String::from("id,psnr_gan,psnr_rl,psnr_degraded,ssim_gan,ssim_rl,ssim_degraded\n");
    let mut sums = [0.0; 6];
    let (mut samples, mut wins) = (0, 0);
    let mut shown: Vec<(Vec<f32>, Vec<String>)> = Vec::new();
    let mut shape = [0; 3];
    // The loader hands the items out in their order: the next one's index in `test`.
    let mut index = 0;
    for batch in loader.iter() {
        let batch = batch.map_err(|e| RunError::Run(format!("cannot read a test batch: {e}")))?;
        let ids = batch.ids.clone();
        let gan_batch = GanBatch::from_batch(batch);
        let [_, c, n, _] = gan_batch.real.dims();
        shape = [c, n, n];
        let unit = |t: burn::tensor::Tensor<4>| {
            t.add_scalar(1.0).mul_scalar(0.5).clamp(0.0, 1.0).into_data().try_to_vec::<f32>().unwrap_or_default()
        };
        let recovered = unit(Pix2pixPair::generate(generator, &gan_batch));
        let (degraded, original) = (unit(gan_batch.condition), unit(gan_batch.real));
        let per = c * n * n;
        for (k, id) in ids.iter().enumerate() {
            let slice = |v: &[f32]| v[k * per..(k + 1) * per].to_vec();
            let (o, g, d) = (slice(&original), slice(&recovered), slice(&degraded));
            let rl = test.baseline(index).unwrap_or_else(|| d.clone());
            index += 1;
            let (pg, sg) = quality(&o, &g, c, n);
            let (pr, sr) = quality(&o, &rl, c, n);
            let (pd, sd) = quality(&o, &d, c, n);
            for (s, v) in sums.iter_mut().zip([pg, pr, pd, sg, sr, sd]) {
                *s += v;
            }
            samples += 1;
            wins += usize::from(pg > pr);
            csv.push_str(&format!("{id},{pg:.4},{pr:.4},{pd:.4},{sg:.5},{sr:.5},{sd:.5}\n"));
            if shown.len() < 4 * SHOWN {
                shown.push((o, vec![id.clone(), "original".into()]));
                shown.push((d, vec!["degraded".into(), format!("{pd:.1} dB")]));
                shown.push((g, vec!["GAN".into(), format!("{pg:.1} dB")]));
                shown.push((rl, vec!["Richardson-Lucy".into(), format!("{pr:.1} dB")]));
            }
        }
    }
    let path = run.join("test_quality.csv");
    std::fs::write(&path, csv).map_err(|source| RunError::Io { what: "run file", path, source })?;
    // One galaxy a column: originals in the first row, then degraded, GAN, Richardson-Lucy.
    let columns = shown.len() / 4;
    let ordered: Vec<(&[f32], [usize; 3], Vec<String>)> = (0..4)
        .flat_map(|row| (0..columns).map(move |col| (row, col)))
        .map(|(row, col)| {
            let (pixels, caption) = &shown[4 * col + row];
            (pixels.as_slice(), shape, caption.clone())
        })
        .collect();
    save_captioned(&run.join("gallery.png"), &ordered, columns.max(1), (128 / shape[1].max(1)).max(1))?;
    let n = samples.max(1) as f64;
    Ok(RecoveryScores {
        samples,
        gan: Quality { psnr: sums[0] / n, ssim: sums[3] / n },
        richardson_lucy: Quality { psnr: sums[1] / n, ssim: sums[4] / n },
        degraded: Quality { psnr: sums[2] / n, ssim: sums[5] / n },
        gan_beats_rl: wins,
    })
}
