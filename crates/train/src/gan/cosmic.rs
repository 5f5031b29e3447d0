//! The cosmic-web GAN's test (Rodriguez et al. 2018): generated slices against held-out
//! simulated ones, statistic by statistic. The pixels are turned back into densities (the
//! inverse of the pixel map), then: the mean 2-D power spectrum of `delta = rho / mean - 1` in
//! logarithmic `|k|` bins from the box's fundamental mode to the Nyquist frequency, and its
//! relative error per bin (the paper: 1-2% for k = 0.06-0.4 h/Mpc); the histogram of pixel
//! values; the mean number of peaks per slice above density thresholds. Writes
//! `power_spectrum.png`, `pixel_histogram.png`, `peak_counts.png` and `gallery.png` (real slices
//! above generated ones).

use std::path::Path;

use astro_data::sources::density_slices::density_of;
use astro_data::{ImageBatcher, ImageSplit};
use astro_models::gan::dcgan::DcganGenerator;
use astro_models::pool_step::on_pool;
use astro_sim::density_field::DensityFieldConfig;
use astro_sim::field_statistics::{histogram, peak_counts, power_spectrum_2d};
use burn::data::dataloader::DataLoaderBuilder;
use burn::tensor::Device;
use plotters::prelude::*;
use serde::Serialize;

use crate::error::RunError;
use crate::report::plot::{ensure_font, labelled_curve, legend};

/// Bins of the power spectrum.
const K_BINS: usize = 10;
/// Bins of the pixel histogram.
const PIXEL_BINS: usize = 40;
/// Density thresholds of the peak counts, in units of the mean.
const PEAK_THRESHOLDS: [f64; 5] = [1.0, 1.5, 2.0, 3.0, 4.0];

/// The power in one `|k|` bin, generated beside real.
#[derive(Debug, Clone, Serialize)]
pub struct PowerComparison {
    /// Mean `|k|` of the bin, h/Mpc.
    pub k: f64,
    /// Mean power of the held-out slices.
    pub real: f64,
    /// Its standard error over the slices.
    pub real_error: f64,
    /// Mean power of the generated slices.
    pub generated: f64,
    /// `(generated - real) / real`.
    pub relative_error: f64,
}

/// The statistics of generated and held-out slices.
#[derive(Debug, Clone, Serialize)]
pub struct CosmicScores {
    /// Slices of each kind compared.
    pub samples: usize,
    /// Power spectrum per bin.
    pub power: Vec<PowerComparison>,
    /// Mean `|relative error|` over the bins with `0.06 <= k <= 0.4` h/Mpc (the paper's range).
    pub power_error_paper_range: Option<f64>,
    /// Histogram bin edges (pixel values in [0, 1]).
    pub histogram_edges: Vec<f64>,
    /// Pixel histogram of the held-out slices (share of pixels per bin).
    pub histogram_real: Vec<f64>,
    /// Pixel histogram of the generated slices.
    pub histogram_generated: Vec<f64>,
    /// Half the summed absolute difference of the two histograms (0: equal, 1: disjoint).
    pub histogram_distance: f64,
    /// Density thresholds of the peak counts.
    pub peak_thresholds: Vec<f64>,
    /// Mean peaks per held-out slice above each threshold.
    pub peaks_real: Vec<f64>,
    /// Mean peaks per generated slice above each threshold.
    pub peaks_generated: Vec<f64>,
}

/// Per-slice statistics of a set of `n x n` maps (pixel values in [0, 1]).
struct SetStatistics {
    power: Vec<Vec<f64>>,
    k_mean: Vec<f64>,
    histogram: Vec<f64>,
    peaks: Vec<f64>,
}

fn statistics(
    maps: &[Vec<f32>],
    n: usize,
    field: &DensityFieldConfig,
    k_edges: &[f64],
    pixel_edges: &[f64],
) -> SetStatistics {
    let mut power = vec![Vec::new(); k_edges.len() - 1];
    let mut k_mean = vec![0.0; k_edges.len() - 1];
    let mut counts = vec![0usize; pixel_edges.len() - 1];
    let mut peaks = vec![0.0; PEAK_THRESHOLDS.len()];
    for map in maps {
        let density: Vec<f64> = map.iter().map(|&p| density_of(field, f64::from(p))).collect();
        let mean = density.iter().sum::<f64>() / density.len().max(1) as f64;
        let delta: Vec<f64> = density.iter().map(|d| d / mean.max(1e-12) - 1.0).collect();
        for (b, bin) in power_spectrum_2d(&delta, n, field.box_mpc, k_edges).into_iter().enumerate() {
            power[b].push(bin.power);
            k_mean[b] = bin.k_mean;
        }
        let pixels: Vec<f64> = map.iter().map(|&p| f64::from(p)).collect();
        counts.iter_mut().zip(histogram(&pixels, pixel_edges)).for_each(|(c, h)| *c += h);
        let relative: Vec<f64> = density.iter().map(|d| d / mean.max(1e-12)).collect();
        peaks.iter_mut().zip(peak_counts(&relative, n, &PEAK_THRESHOLDS)).for_each(|(p, c)| *p += c as f64);
    }
    let total = counts.iter().sum::<usize>().max(1) as f64;
    let count = maps.len().max(1) as f64;
    SetStatistics {
        power,
        k_mean,
        histogram: counts.iter().map(|&c| c as f64 / total).collect(),
        peaks: peaks.iter().map(|p| p / count).collect(),
    }
}

fn mean_and_error(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// Generates as many slices as `test` holds with `generator` (validation mode) on `device`,
/// compares their statistics with the test slices', and writes the plots into `run`.
pub fn evaluate_cosmic(
    generator: &DcganGenerator,
    test: &ImageSplit,
    field: &DensityFieldConfig,
    batch_size: usize,
    device: &Device,
    run: &Path,
) -> Result<CosmicScores, RunError> {
    let loader = DataLoaderBuilder::new(ImageBatcher::default())
        .batch_size(batch_size)
        .set_device(device.clone())
        .build(test.clone());
    let (mut real, mut generated): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (Vec::new(), Vec::new());
    let mut n = 0;
    device.seed(11);
    for batch in loader.iter() {
        let batch = batch.map_err(|e| RunError::Run(format!("cannot read a test batch: {e}")))?;
        let [count, _, side, _] = batch.images.dims();
        n = side;
        let pixels = batch.images.into_data().try_to_vec::<f32>().unwrap_or_default();
        let made = on_pool(device, || generator.forward(generator.noise(count, device)));
        let made = made.add_scalar(1.0).mul_scalar(0.5).clamp(0.0, 1.0);
        let made = made.into_data().try_to_vec::<f32>().unwrap_or_default();
        for k in 0..count {
            real.push(pixels[k * side * side..(k + 1) * side * side].to_vec());
            generated.push(made[k * side * side..(k + 1) * side * side].to_vec());
        }
    }
    let kf = std::f64::consts::TAU / field.box_mpc;
    let nyquist = kf * n as f64 / 2.0;
    let k_edges: Vec<f64> = (0..=K_BINS).map(|b| kf * (nyquist / kf).powf(b as f64 / K_BINS as f64)).collect();
    let pixel_edges: Vec<f64> = (0..=PIXEL_BINS).map(|b| b as f64 / PIXEL_BINS as f64).collect();
    let r = statistics(&real, n, field, &k_edges, &pixel_edges);
    let g = statistics(&generated, n, field, &k_edges, &pixel_edges);
    let power: Vec<PowerComparison> = (0..K_BINS)
        .filter(|&b| !r.power[b].is_empty())
        .map(|b| {
            let (real_mean, real_error) = mean_and_error(&r.power[b]);
            let (generated_mean, _) = mean_and_error(&g.power[b]);
            PowerComparison {
                k: r.k_mean[b],
                real: real_mean,
                real_error,
                generated: generated_mean,
                relative_error: (generated_mean - real_mean) / real_mean,
            }
        })
        .collect();
    let in_range: Vec<f64> =
        power.iter().filter(|p| (0.06..=0.4).contains(&p.k)).map(|p| p.relative_error.abs()).collect();
    let scores = CosmicScores {
        samples: real.len(),
        power_error_paper_range: (!in_range.is_empty()).then(|| in_range.iter().sum::<f64>() / in_range.len() as f64),
        power,
        histogram_distance: 0.5 * r.histogram.iter().zip(&g.histogram).map(|(a, b)| (a - b).abs()).sum::<f64>(),
        histogram_edges: pixel_edges,
        histogram_real: r.histogram,
        histogram_generated: g.histogram,
        peak_thresholds: PEAK_THRESHOLDS.to_vec(),
        peaks_real: r.peaks,
        peaks_generated: g.peaks,
    };
    plot_power(&run.join("power_spectrum.png"), &scores)?;
    plot_pairs(
        &run.join("pixel_histogram.png"),
        "pixel values (the mapped density)",
        "share of pixels",
        &scores.histogram_edges[..PIXEL_BINS].iter().map(|e| e + 0.5 / PIXEL_BINS as f64).collect::<Vec<_>>(),
        &scores.histogram_real,
        &scores.histogram_generated,
    )?;
    plot_pairs(
        &run.join("peak_counts.png"),
        "density threshold (units of the mean)",
        "peaks per slice",
        &scores.peak_thresholds,
        &scores.peaks_real,
        &scores.peaks_generated,
    )?;
    let shown = 8.min(real.len());
    let mut cells: Vec<(&[f32], [usize; 3])> = real[..shown].iter().map(|m| (m.as_slice(), [1, n, n])).collect();
    cells.extend(generated[..shown].iter().map(|m| (m.as_slice(), [1, n, n])));
    astro_data::formats::image_io::save_grid(&run.join("gallery.png"), &cells, shown.max(1), (128 / n.max(1)).max(1))
        .map_err(RunError::Data)?;
    Ok(scores)
}

fn plot_err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> RunError + '_ {
    move |e| RunError::Run(format!("cannot draw {}: {e}", path.display()))
}

/// The mean power spectra (log-log) above their relative difference.
fn plot_power(path: &Path, s: &CosmicScores) -> Result<(), RunError> {
    ensure_font();
    let err = plot_err(path);
    let root = BitMapBackend::new(path, (900, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(470);
    let log = |v: f64| v.max(1e-30).log10();
    let ks: Vec<f64> = s.power.iter().map(|p| log(p.k)).collect();
    let (k_lo, k_hi) = ks.iter().fold((f64::MAX, f64::MIN), |(a, b), k| (a.min(*k), b.max(*k)));
    let (k_lo, k_hi) = if ks.is_empty() { (-2.0, 0.0) } else { (k_lo - 0.05, k_hi + 0.05) };
    let ps: Vec<f64> = s.power.iter().flat_map(|p| [log(p.real), log(p.generated)]).collect();
    let (p_lo, p_hi) = ps.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(*p), b.max(*p)));
    let (p_lo, p_hi) = if ps.is_empty() { (0.0, 1.0) } else { (p_lo - 0.2, p_hi + 0.2) };
    let mut chart = ChartBuilder::on(&top)
        .caption("mean 2-D power spectrum of the slices", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(k_lo..k_hi, p_lo..p_hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("k (h/Mpc)")
        .y_desc("P(k) ((Mpc/h)^2)")
        .x_label_formatter(&|x| format!("{:.3}", 10f64.powf(*x)))
        .y_label_formatter(&|y| format!("{:.1e}", 10f64.powf(*y)))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    for (name, colour, values) in [
        ("held-out simulated slices", BLUE, s.power.iter().map(|p| p.real).collect::<Vec<_>>()),
        ("generated slices", RED, s.power.iter().map(|p| p.generated).collect()),
    ] {
        let points: Vec<(f64, f64)> = ks.iter().zip(&values).map(|(k, v)| (*k, log(*v))).collect();
        labelled_curve(&mut chart, name, colour, &points).map_err(|e| err(&e))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;
    let errors: Vec<f64> = s.power.iter().map(|p| 100.0 * p.relative_error).collect();
    let bound = errors.iter().fold(5.0f64, |m, e| m.max(e.abs())) * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(k_lo..k_hi, -bound..bound)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("k (h/Mpc)")
        .y_desc("generated / held-out - 1 (%)")
        .x_label_formatter(&|x| format!("{:.3}", 10f64.powf(*x)))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    for level in [-2.0, 0.0, 2.0] {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(k_lo, level), (k_hi, level)],
                6,
                4,
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
    }
    let points: Vec<(f64, f64)> = ks.iter().zip(&errors).map(|(k, e)| (*k, *e)).collect();
    chart.draw_series(LineSeries::new(points.clone(), RED.stroke_width(2))).map_err(|e| err(&e))?;
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, RED.filled()))).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Two curves over the same `x`: held-out (blue) and generated (red).
fn plot_pairs(
    path: &Path,
    x_name: &str,
    y_name: &str,
    x: &[f64],
    real: &[f64],
    generated: &[f64],
) -> Result<(), RunError> {
    ensure_font();
    let err = plot_err(path);
    let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (x_lo, x_hi) = (x.first().copied().unwrap_or(0.0), x.last().copied().unwrap_or(1.0));
    let pad = 0.03 * (x_hi - x_lo).max(1e-9);
    let y_hi = real.iter().chain(generated).fold(0.0f64, |m, v| m.max(*v)) * 1.1 + 1e-12;
    let mut chart = ChartBuilder::on(&root)
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_lo - pad..x_hi + pad, 0.0..y_hi)
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc(x_name).y_desc(y_name).label_style(("sans-serif", 15)).draw().map_err(|e| err(&e))?;
    for (name, colour, values) in [("held-out simulated slices", BLUE, real), ("generated slices", RED, generated)] {
        let points: Vec<(f64, f64)> = x.iter().copied().zip(values.iter().copied()).collect();
        labelled_curve(&mut chart, name, colour, &points).map_err(|e| err(&e))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
