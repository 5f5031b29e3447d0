//! Simple statistics of a light curve, the inputs of the shallow classifiers and regressors
//! astronomers compare networks with: the spread of the magnitudes (amplitude between the 5th and
//! 95th percentiles, standard deviation, skewness, excess kurtosis) and, for a folded curve, the
//! Fourier decomposition `m = a0 + sum_k A_k sin(2 pi k phase + phi_k)`, k = 1..3 (`A1`,
//! `R21 = A2/A1`, `R31 = A3/A1`, `phi21 = phi2 - 2 phi1`, `phi31 = phi3 - 3 phi1`, both in
//! [0, 2 pi); Simon & Lee 1981; phi31 carries an RR Lyrae's metallicity, Jurcsik & Kovacs 1996)
//! and the mean magnitude in ten phase bins, relative to the curve's mean, with phase 0 where
//! the first harmonic's phase is 0 (so that the bins line up across stars).

use std::f64::consts::TAU;

use crate::light_curve::LightCurve;

/// Fourier harmonics fitted to a folded curve.
const ORDER: usize = 3;
/// Phase bins of the folded curve.
pub const PHASE_BINS: usize = 10;

/// The names of the statistics [`curve_features`] gives, in order: those of every curve, then
/// (for folded curves) the Fourier and phase-bin ones.
pub fn feature_names(folded: bool) -> Vec<String> {
    let mut names: Vec<String> = ["amplitude", "std", "skewness", "kurtosis"].iter().map(|n| n.to_string()).collect();
    if folded {
        names.extend(["fourier_a1", "fourier_r21", "fourier_r31", "fourier_phi21", "fourier_phi31"].map(String::from));
        names.extend((0..PHASE_BINS).map(|b| format!("phase_bin_{b}")));
    }
    names
}

/// The statistics of `curve` named by [`feature_names`]`(folded)`; `curve.time` holds phases in
/// [0, 1) when `folded`. A statistic the curve cannot give (too few points for the Fourier fit,
/// an empty phase bin, no spread) is NaN.
pub fn curve_features(curve: &LightCurve, folded: bool) -> Vec<f64> {
    let mags: Vec<f64> = curve.mag.iter().copied().filter(|m| m.is_finite()).collect();
    let n = mags.len() as f64;
    let mean = mags.iter().sum::<f64>() / n;
    let moment = |k: i32| mags.iter().map(|m| (m - mean).powi(k)).sum::<f64>() / n;
    let std = moment(2).sqrt();
    let mut sorted = mags.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| sorted.get(((sorted.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    let spread = |v: f64| if std > 0.0 { v } else { f64::NAN };
    let mut out = vec![
        quantile(0.95) - quantile(0.05),
        std,
        spread(moment(3) / std.powi(3)),
        spread(moment(4) / std.powi(4) - 3.0),
    ];
    if folded {
        let points: Vec<(f64, f64)> = curve
            .time
            .iter()
            .zip(&curve.mag)
            .filter(|(p, m)| p.is_finite() && m.is_finite())
            .map(|(p, m)| (*p, *m))
            .collect();
        let harmonics = fourier_fit(&points, ORDER);
        let (a, phi): (Vec<f64>, Vec<f64>) = match &harmonics {
            Some(h) => h.iter().copied().unzip(),
            None => (vec![f64::NAN; ORDER], vec![f64::NAN; ORDER]),
        };
        let ratio = |k: usize| if a[0] > 0.0 { a[k] / a[0] } else { f64::NAN };
        out.extend([
            a[0],
            ratio(1),
            ratio(2),
            (phi[1] - 2.0 * phi[0]).rem_euclid(TAU),
            (phi[2] - 3.0 * phi[0]).rem_euclid(TAU),
        ]);
        // Phase 0 where the first harmonic's phase is 0: shift by phi1 / 2 pi.
        let shift = if phi[0].is_finite() { phi[0] / TAU } else { 0.0 };
        let mut sums = [(0.0f64, 0usize); PHASE_BINS];
        for (p, m) in &points {
            let bin = (((p + shift).rem_euclid(1.0) * PHASE_BINS as f64) as usize).min(PHASE_BINS - 1);
            sums[bin].0 += m - mean;
            sums[bin].1 += 1;
        }
        out.extend(sums.iter().map(|(s, k)| if *k > 0 { s / *k as f64 } else { f64::NAN }));
    }
    out
}

/// `(A_k, phi_k)`, k = 1..order, of the least-squares fit `m = a0 + sum_k A_k sin(2 pi k p + phi_k)`
/// to `(phase, mag)` points; none with fewer points than coefficients or a singular system.
pub fn fourier_fit(points: &[(f64, f64)], order: usize) -> Option<Vec<(f64, f64)>> {
    let size = 2 * order + 1;
    if points.len() < size + 1 {
        return None;
    }
    // Normal equations in (a0, s1, c1, ...), s_k = A_k cos phi_k, c_k = A_k sin phi_k; the last
    // column is the right-hand side.
    let mut a = vec![vec![0.0f64; size + 1]; size];
    let mut basis = vec![1.0f64; size];
    for &(p, m) in points {
        for k in 1..=order {
            let (sin, cos) = (TAU * k as f64 * p).sin_cos();
            basis[2 * k - 1] = sin;
            basis[2 * k] = cos;
        }
        for i in 0..size {
            for j in 0..size {
                a[i][j] += basis[i] * basis[j];
            }
            a[i][size] += basis[i] * m;
        }
    }
    // Gauss-Jordan elimination with partial pivoting.
    for col in 0..size {
        let pivot = (col..size).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (row, values) in a.iter_mut().enumerate() {
            if row != col {
                let f = values[col] / pivot_row[col];
                values.iter_mut().zip(&pivot_row).skip(col).for_each(|(v, p)| *v -= f * p);
            }
        }
    }
    let coefficient = |i: usize| a[i][size] / a[i][i];
    Some(
        (1..=order)
            .map(|k| {
                let (s, c) = (coefficient(2 * k - 1), coefficient(2 * k));
                (s.hypot(c), c.atan2(s))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve `m = 15 + sum_k A_k sin(2 pi k p + phi_k)` sampled at `n` even phases.
    fn curve(n: usize, harmonics: &[(f64, f64)]) -> LightCurve {
        let time: Vec<f64> = (0..n).map(|i| (i as f64 + 0.37) / n as f64).collect();
        let mag = time
            .iter()
            .map(|p| {
                15.0 + harmonics
                    .iter()
                    .enumerate()
                    .map(|(k, (a, phi))| a * (TAU * (k + 1) as f64 * p + phi).sin())
                    .sum::<f64>()
            })
            .collect();
        LightCurve { err: vec![0.01; n], time, mag }
    }

    #[test]
    fn the_fourier_fit_recovers_amplitudes_and_phases_and_their_combinations() {
        let harmonics = [(0.4, 1.0), (0.2, 2.5), (0.1, 0.3)];
        let c = curve(80, &harmonics);
        let points: Vec<(f64, f64)> = c.time.iter().copied().zip(c.mag.iter().copied()).collect();
        let fit = fourier_fit(&points, 3).unwrap();
        for ((a, phi), (a_true, phi_true)) in fit.iter().zip(harmonics) {
            assert!((a - a_true).abs() < 1e-9 && (phi - phi_true).abs() < 1e-9, "{fit:?}");
        }
        let f = curve_features(&c, true);
        let names = feature_names(true);
        assert_eq!(f.len(), names.len());
        let get = |name: &str| f[names.iter().position(|n| n == name).unwrap()];
        assert!((get("fourier_a1") - 0.4).abs() < 1e-9);
        assert!((get("fourier_r21") - 0.5).abs() < 1e-9 && (get("fourier_r31") - 0.25).abs() < 1e-9);
        assert!((get("fourier_phi21") - (2.5 - 2.0_f64).rem_euclid(TAU)).abs() < 1e-9);
        assert!((get("fourier_phi31") - (0.3 - 3.0_f64).rem_euclid(TAU)).abs() < 1e-9);
        // A shift of phase changes phi_k but not phi21, phi31 nor the aligned bins.
        let shifted = LightCurve { time: c.time.iter().map(|p| (p + 0.3).rem_euclid(1.0)).collect(), ..c.clone() };
        let g = curve_features(&shifted, true);
        for name in ["fourier_phi21", "fourier_phi31", "phase_bin_0", "phase_bin_7"] {
            let i = names.iter().position(|n| n == name).unwrap();
            let d = (f[i] - g[i]).abs();
            assert!(d < 0.02 || (TAU - d).abs() < 1e-6, "{name}: {} vs {}", f[i], g[i]);
        }
    }

    #[test]
    fn spread_statistics_match_hand_values_and_flat_curves_give_nan_not_numbers() {
        // A pure sine of amplitude 0.5: std 0.5/sqrt(2), no skew, excess kurtosis -1.5.
        let c = curve(400, &[(0.5, 0.0)]);
        let f = curve_features(&c, false);
        assert_eq!(f.len(), 4);
        assert!((f[1] - 0.5 / 2f64.sqrt()).abs() < 1e-6 && f[2].abs() < 1e-6 && (f[3] + 1.5).abs() < 1e-3, "{f:?}");
        assert!((f[0] - 2.0 * 0.5 * (std::f64::consts::PI * 0.45).sin()).abs() < 0.01, "{f:?}");
        let flat = LightCurve { time: vec![0.1, 0.2, 0.3], mag: vec![15.0; 3], err: vec![0.01; 3] };
        let f = curve_features(&flat, true);
        assert_eq!(f[0], 0.0);
        assert!(f[2].is_nan() && f[3].is_nan() && f[4].is_nan(), "{f:?}");
    }
}
