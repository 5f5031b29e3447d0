//! Statistics of density fields and maps, the cosmic-web GAN's yardsticks (Rodriguez et al.
//! 2018): the power spectrum in bins of `|k|` (3-D boxes and 2-D maps), the histogram of pixel
//! values, and peak counts (pixels above a threshold that exceed their 8 neighbours, periodic).
//!
//! Convention: a field `d` on `N^D` cells of a periodic box of side `L` has
//! `P(k) = L^D / N^(2D) |FFT(d)_k|^2`, averaged over the modes whose `|k|` falls in a bin; the
//! `k = 0` mode is left out.

use rustfft::num_complex::Complex64;
use serde::Serialize;

use crate::fft::{fft_nd, frequency};

/// The power in one `|k|` bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerBin {
    /// Lower edge, in the box's inverse length unit (h/Mpc for Mpc/h).
    pub k_low: f64,
    /// Upper edge (exclusive).
    pub k_high: f64,
    /// Mean `|k|` of the modes in the bin.
    pub k_mean: f64,
    /// Mean power of the modes.
    pub power: f64,
    /// Modes in the bin.
    pub modes: usize,
    /// `|k|` of each mode (to average a model spectrum over the same modes).
    #[serde(skip)]
    pub ks: Vec<f64>,
}

impl PowerBin {
    /// The mean of `p(|k|)` over the bin's modes: what the measured power estimates.
    pub fn mean_input(&self, p: impl Fn(f64) -> f64) -> f64 {
        self.ks.iter().map(|&k| p(k)).sum::<f64>() / self.ks.len().max(1) as f64
    }
}

/// Bins the power of `field` (`dims` cells, row-major, periodic box of side `side`).
fn binned_power(field: &[f64], dims: &[usize], side: f64, edges: &[f64]) -> Vec<PowerBin> {
    let cells: usize = dims.iter().product();
    let mut modes: Vec<Complex64> = field.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    fft_nd(&mut modes, dims, false);
    let kf = std::f64::consts::TAU / side;
    let norm = side.powi(dims.len() as i32) / (cells as f64).powi(2);
    let mut bins: Vec<PowerBin> = edges
        .windows(2)
        .map(|e| PowerBin { k_low: e[0], k_high: e[1], k_mean: 0.0, power: 0.0, modes: 0, ks: Vec::new() })
        .collect();
    for (idx, m) in modes.iter().enumerate() {
        let mut rest = idx;
        let mut k2 = 0.0;
        for &n in dims.iter().rev() {
            let f = kf * frequency(rest % n, n);
            k2 += f * f;
            rest /= n;
        }
        let k = k2.sqrt();
        if k == 0.0 {
            continue;
        }
        if let Some(bin) = bins.iter_mut().find(|b| k >= b.k_low && k < b.k_high) {
            bin.power += norm * m.norm_sqr();
            bin.k_mean += k;
            bin.modes += 1;
            bin.ks.push(k);
        }
    }
    for bin in &mut bins {
        let n = bin.modes.max(1) as f64;
        bin.power /= n;
        bin.k_mean /= n;
    }
    bins
}

/// The power spectrum of a cubic field of `n^3` cells in a box of side `side`, in the bins
/// between consecutive `edges`.
pub fn power_spectrum_3d(field: &[f64], n: usize, side: f64, edges: &[f64]) -> Vec<PowerBin> {
    binned_power(field, &[n, n, n], side, edges)
}

/// The power spectrum of a square map of `n^2` pixels spanning `side`, in the bins between
/// consecutive `edges`.
pub fn power_spectrum_2d(map: &[f64], n: usize, side: f64, edges: &[f64]) -> Vec<PowerBin> {
    binned_power(map, &[n, n], side, edges)
}

/// Counts of `values` in the bins between consecutive `edges` (values outside are left out).
pub fn histogram(values: &[f64], edges: &[f64]) -> Vec<usize> {
    let mut counts = vec![0; edges.len().saturating_sub(1)];
    for &v in values {
        if let Some(b) = edges.windows(2).position(|e| v >= e[0] && v < e[1]) {
            counts[b] += 1;
        }
    }
    counts
}

/// For each threshold, the pixels of the `n x n` periodic `map` above it that are higher than
/// all 8 of their neighbours.
pub fn peak_counts(map: &[f64], n: usize, thresholds: &[f64]) -> Vec<usize> {
    let at = |x: isize, y: isize| map[(y.rem_euclid(n as isize) as usize) * n + x.rem_euclid(n as isize) as usize];
    let peaks: Vec<f64> = (0..n * n)
        .filter_map(|i| {
            let (x, y) = ((i % n) as isize, (i / n) as isize);
            let v = map[i];
            let highest = (-1..=1).all(|dy| (-1..=1).all(|dx| (dx == 0 && dy == 0) || at(x + dx, y + dy) < v));
            highest.then_some(v)
        })
        .collect();
    thresholds.iter().map(|&t| peaks.iter().filter(|&&v| v > t).count()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SampleRng;

    #[test]
    fn a_2d_gaussian_map_of_known_spectrum_measures_that_spectrum() {
        // Synthesise P(k) = k^-2 on 64^2 pixels spanning 100 units, then measure it.
        let (n, side) = (64usize, 100.0);
        let kf = std::f64::consts::TAU / side;
        let p = |k: f64| k.powi(-2);
        let mut rng = SampleRng::for_sample(1, 0, 0);
        let mut modes: Vec<Complex64> = (0..n * n).map(|_| Complex64::new(rng.normal(), 0.0)).collect();
        fft_nd(&mut modes, &[n, n], false);
        for (idx, m) in modes.iter_mut().enumerate() {
            let (ky, kx) = (kf * frequency(idx / n, n), kf * frequency(idx % n, n));
            let k = (kx * kx + ky * ky).sqrt();
            *m *= if k > 0.0 { (p(k) * (n * n) as f64 / (side * side)).sqrt() } else { 0.0 };
        }
        fft_nd(&mut modes, &[n, n], true);
        let map: Vec<f64> = modes.iter().map(|c| c.re).collect();
        let edges: Vec<f64> = (0..=10).map(|b| kf * (1.0 + 3.0 * b as f64)).collect();
        for bin in power_spectrum_2d(&map, n, side, &edges) {
            let expected = bin.mean_input(p);
            let sigma = expected / (bin.modes as f64 / 2.0).sqrt();
            assert!((bin.power - expected).abs() < 4.0 * sigma, "{bin:?} vs {expected}");
        }
    }

    #[test]
    fn histograms_and_peaks_count_what_they_say() {
        assert_eq!(histogram(&[0.1, 0.5, 0.5, 0.9, 1.5, -1.0], &[0.0, 0.5, 1.0]), [1, 3]);
        // Two isolated bumps on a flat 8 x 8 map, one higher; a plateau pair is no peak.
        let n = 8;
        let mut map = vec![0.0; n * n];
        map[2 * n + 2] = 5.0;
        map[5 * n + 6] = 2.0;
        map[7 * n] = 1.0;
        map[7 * n + 1] = 1.0;
        assert_eq!(peak_counts(&map, n, &[0.5, 3.0, 10.0]), [2, 1, 0]);
    }
}
