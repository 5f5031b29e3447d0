//! Light curves as fixed-size model inputs (`[data.sequence]`): which per-step features the
//! network sees, how magnitudes are normalised, and how curves of any length become `length`
//! steps: padded with a mask (longer curves thinned evenly), or resampled on an even phase grid.
//!
//! An encoded curve is stored like an image of one row: `[channels, 1, length]`, channel-major,
//! whose last channel is the mask (1 for a real step, 0 for padding). Recurrent models skip the
//! masked steps; other models see the mask as one more feature.
//!
//! Several bands are stacked as channels: each band's features and its own mask, band after
//! band, then the step mask (1 where any band has a real step). Every band is put on the first
//! band's magnitude scale (its mean, spread or range), so that the colours between the bands stay
//! in the inputs, and aligned by the first band's Fourier phase.

use astro_sim::light_curve::LightCurve;
use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// The features of each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepInputs {
    /// (phase, magnitude) of the folded curve: Dekany & Grebel's input.
    #[default]
    PhaseMag,
    /// (phase, magnitude, error) of the folded curve.
    PhaseMagErr,
    /// (time, magnitude, error) of the unfolded curve, time scaled to [0, 1] over its span.
    TimeMagErr,
}

impl StepInputs {
    /// Feature channels (without the mask).
    pub fn features(self) -> usize {
        match self {
            StepInputs::PhaseMag => 2,
            StepInputs::PhaseMagErr | StepInputs::TimeMagErr => 3,
        }
    }

    /// The name in the config.
    pub fn name(self) -> &'static str {
        match self {
            StepInputs::PhaseMag => "phase_mag",
            StepInputs::PhaseMagErr => "phase_mag_err",
            StepInputs::TimeMagErr => "time_mag_err",
        }
    }

    /// Whether the curve must be folded first.
    pub fn folded(self) -> bool {
        self != StepInputs::TimeMagErr
    }
}

/// How magnitudes are put on a common scale, per curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// Subtract the mean magnitude (amplitudes stay in magnitudes: a constant star stays flat).
    #[default]
    Centre,
    /// Subtract the mean and divide by the standard deviation (errors are divided too).
    Standardise,
    /// Map the faintest point to 0 and the brightest to 1 (errors scaled alike).
    MinMax,
    /// Leave magnitudes as observed.
    None,
}

/// `[data.sequence]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequenceConfig {
    /// Steps per curve.
    pub length: usize,
    /// Features per step.
    pub inputs: StepInputs,
    /// Magnitude normalisation.
    pub normalise: Normalise,
    /// Interpolate the folded curve at `length` even phases (no padding) instead of keeping
    /// the observed points (Dekany & Grebel 2022 feed 60 phase bins).
    pub resample: bool,
    /// With `resample`: average the points near each phase (a Gaussian kernel one step wide,
    /// weights 1 / err^2) instead of interpolating between the two nearest, so that each step
    /// carries the mean of several noisy points, as a smoothed or binned light curve.
    pub smooth: bool,
    /// Shift phases so that the first Fourier term of the folded curve, `A sin(2 pi phase +
    /// phi1)`, has `phi1 = 0` (least-squares fit): every star starts its cycle alike, as the
    /// phase-aligned curves of Dekany & Grebel (2022).
    pub align: bool,
    /// The first channel is phase x period (days since phase 0) instead of the phase, so that
    /// the network sees each star's period, as in Dekany & Grebel's input. Needs the period:
    /// a list's `period` column, or the simulator's.
    pub phase_times_period: bool,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        Self {
            length: 200,
            inputs: StepInputs::PhaseMag,
            normalise: Normalise::Centre,
            resample: false,
            smooth: false,
            align: false,
            phase_times_period: false,
        }
    }
}

impl SequenceConfig {
    /// Checks the settings (`field` prefixes the key names in errors).
    pub fn validate(&self) -> Result<(), DataError> {
        if self.length < 2 {
            return Err(DataError::setting("sequence.length", format!("must be at least 2, got {}", self.length)));
        }
        if self.smooth && !self.resample {
            return Err(DataError::setting(
                "sequence.smooth",
                "smoothing applies to resampled curves: set resample = true",
            ));
        }
        if (self.resample || self.align || self.phase_times_period) && !self.inputs.folded() {
            return Err(DataError::setting(
                if self.resample {
                    "sequence.resample"
                } else if self.align {
                    "sequence.align"
                } else {
                    "sequence.phase_times_period"
                },
                "resampling, aligning and phase x period work on folded curves: use inputs = \"phase_mag\" or \
                 \"phase_mag_err\"",
            ));
        }
        Ok(())
    }

    /// Channels of an encoded curve, the mask included.
    pub fn channels(&self) -> usize {
        self.inputs.features() + 1
    }

    /// `[channels, 1, length]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels(), 1, self.length]
    }

    /// Encodes a curve folded with `period` (days): [`Self::encode`], with the phase channel
    /// multiplied by the period when `phase_times_period` asks.
    pub fn encode_with_period(&self, curve: &LightCurve, period: f64) -> Vec<f32> {
        let mut out = self.encode(curve);
        self.times_period(&mut out, period);
        out
    }

    /// Encodes a curve. `curve.time` holds phases in [0, 1) when the inputs are folded (the
    /// source folded it), times otherwise; points need not be sorted. Errors that are NaN (files
    /// without an error column) become 0. Phases stay phases (see [`Self::encode_with_period`]).
    pub fn encode(&self, curve: &LightCurve) -> Vec<f32> {
        self.encode_on(curve, self.phase_shift(curve), self.magnitude_scale(&curve.mag))
    }

    /// Channels of an encoded star observed in `bands` bands: one band's as [`Self::channels`];
    /// several bands' each with its mask, and the step mask.
    pub fn channels_for(&self, bands: usize) -> usize {
        if bands <= 1 { self.channels() } else { bands * self.channels() + 1 }
    }

    /// `[channels, 1, length]` of a star observed in `bands` bands.
    pub fn shape_for(&self, bands: usize) -> [usize; 3] {
        [self.channels_for(bands), 1, self.length]
    }

    /// Encodes a star's curves in several bands, folded with `period` (days): one band as
    /// [`Self::encode_with_period`]; several stacked as channels, each band on the first band's
    /// magnitude scale and phase alignment, each with its own mask, then the step mask.
    pub fn encode_bands(&self, curves: &[LightCurve], period: f64) -> Vec<f32> {
        let [reference, ..] = curves else { return vec![0.0; self.channels() * self.length] };
        if curves.len() == 1 {
            return self.encode_with_period(reference, period);
        }
        let (shift, scale) = (self.phase_shift(reference), self.magnitude_scale(&reference.mag));
        let n = self.length;
        let mut out = Vec::with_capacity(self.channels_for(curves.len()) * n);
        let mut any = vec![0.0f32; n];
        for curve in curves {
            let mut block = self.encode_on(curve, shift, scale);
            self.times_period(&mut block, period);
            any.iter_mut().zip(&block[block.len() - n..]).for_each(|(a, m)| *a = a.max(*m));
            out.extend(block);
        }
        out.extend(any);
        out
    }

    /// Multiplies the phase channel by the period when `phase_times_period` asks.
    fn times_period(&self, encoded: &mut [f32], period: f64) {
        if self.phase_times_period {
            encoded[..self.length].iter_mut().for_each(|p| *p = (f64::from(*p) * period) as f32);
        }
    }

    /// The phase shift [`Self::encode`] aligns `curve` by (0 without `align`).
    fn phase_shift(&self, curve: &LightCurve) -> f64 {
        if self.align { first_harmonic_phase(curve) / std::f64::consts::TAU } else { 0.0 }
    }

    /// Encodes `curve` with phases shifted by `shift` and magnitudes put on `(offset, scale)`.
    fn encode_on(&self, curve: &LightCurve, shift: f64, (offset, scale): (f64, f64)) -> Vec<f32> {
        let shifted;
        let curve = if shift != 0.0 {
            let time = curve.time.iter().map(|p| (p + shift).rem_euclid(1.0)).collect();
            shifted = LightCurve { time, ..curve.clone() };
            &shifted
        } else {
            curve
        };
        let mut order: Vec<usize> = (0..curve.time.len()).collect();
        order.sort_by(|&a, &b| curve.time[a].total_cmp(&curve.time[b]));
        let time: Vec<f64> = order.iter().map(|&i| curve.time[i]).collect();
        let mag: Vec<f64> = order.iter().map(|&i| (curve.mag[i] - offset) / scale).collect();
        let err: Vec<f64> =
            order.iter().map(|&i| if curve.err[i].is_finite() { curve.err[i] / scale.abs() } else { 0.0 }).collect();
        let n = self.length;
        let mut out = vec![0.0f32; self.channels() * n];
        let steps: Vec<(f64, f64, f64)> = if self.resample {
            (0..n)
                .map(|k| {
                    let phase = (k as f64 + 0.5) / n as f64;
                    let smoothed =
                        if self.smooth { kernel_mean(&time, &mag, &err, phase, 1.0 / n as f64) } else { None };
                    match smoothed {
                        Some((m, e)) => (phase, m, e),
                        None => {
                            (phase, periodic_interpolate(&time, &mag, phase), periodic_interpolate(&time, &err, phase))
                        }
                    }
                })
                .collect()
        } else {
            // Keep every point, or an even thinning of them when there are more than `length`.
            let m = time.len();
            let picks: Vec<usize> = if m <= n { (0..m).collect() } else { (0..n).map(|k| k * m / n).collect() };
            let (t0, span) = match (time.first(), time.last()) {
                (Some(a), Some(b)) if !self.inputs.folded() && b > a => (*a, b - a),
                _ => (0.0, 1.0),
            };
            picks.iter().map(|&i| ((time[i] - t0) / span, mag[i], err[i])).collect()
        };
        let features = self.inputs.features();
        for (k, (t, m, e)) in steps.into_iter().enumerate() {
            let values = [t, m, e];
            for (c, v) in values.iter().take(features).enumerate() {
                out[c * n + k] = *v as f32;
            }
            out[features * n + k] = 1.0;
        }
        out
    }

    /// `(offset, scale)` such that `(mag - offset) / scale` is normalised.
    fn magnitude_scale(&self, mag: &[f64]) -> (f64, f64) {
        let n = mag.len().max(1) as f64;
        let mean = mag.iter().sum::<f64>() / n;
        match self.normalise {
            Normalise::None => (0.0, 1.0),
            Normalise::Centre => (mean, 1.0),
            Normalise::Standardise => {
                let sd = (mag.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / n).sqrt();
                (mean, if sd > 0.0 { sd } else { 1.0 })
            }
            Normalise::MinMax => {
                let (lo, hi) = mag.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &m| (l.min(m), h.max(m)));
                // Magnitudes grow fainter: the faintest (largest) maps to 0, the brightest to 1.
                if hi > lo { (hi, lo - hi) } else { (mean, 1.0) }
            }
        }
    }
}

/// The 1/err^2- and Gaussian-weighted mean magnitude of the points within a few `width` of
/// `at` (phases on a circle), with its error; `None` where no point is near enough to count.
fn kernel_mean(phase: &[f64], mag: &[f64], err: &[f64], at: f64, width: f64) -> Option<(f64, f64)> {
    let (mut w_sum, mut wm, mut w2e2) = (0.0f64, 0.0f64, 0.0f64);
    for ((&p, &m), &e) in phase.iter().zip(mag).zip(err) {
        let d = (p - at + 0.5).rem_euclid(1.0) - 0.5;
        if d.abs() > 3.0 * width {
            continue;
        }
        let inverse_variance = if e > 0.0 { 1.0 / (e * e) } else { 1.0 };
        let w = (-0.5 * (d / width).powi(2)).exp() * inverse_variance;
        w_sum += w;
        wm += w * m;
        w2e2 += w * w * e * e;
    }
    // Fewer than about one point's worth of weight: fall back to interpolation.
    (w_sum > 0.0 && wm.is_finite()).then(|| (wm / w_sum, w2e2.sqrt() / w_sum))
}

/// The prefix of the item properties that [`curve_statistics`] gives.
pub const CURVE_STATISTIC_PREFIX: &str = "curve_";

/// The simple statistics of a curve (`astro_sim::curve_features`) as item properties named
/// `curve_<statistic>`: what the shallow baseline learns from, beside catalogue columns.
/// `folded`: `curve.time` holds phases (the Fourier and phase-bin statistics then exist).
pub fn curve_statistics(curve: &LightCurve, folded: bool) -> Vec<(String, f64)> {
    let names = astro_sim::curve_features::feature_names(folded);
    let values = astro_sim::curve_features::curve_features(curve, folded);
    names.into_iter().zip(values).map(|(name, v)| (format!("{CURVE_STATISTIC_PREFIX}{name}"), v)).collect()
}

/// Each band after the first against the first, as item properties: the colour
/// `curve_<first>_minus_<band>` (the difference of their mean magnitudes) and
/// `curve_<band>_amplitude_ratio` (of their 5-95% ranges; NaN where the first band's is 0).
pub fn band_statistics(curves: &[LightCurve], names: &[String]) -> Vec<(String, f64)> {
    let mean = |c: &LightCurve| c.mag.iter().sum::<f64>() / c.mag.len().max(1) as f64;
    let range = |c: &LightCurve| astro_sim::curve_features::curve_features(c, false)[0];
    let (Some(first), Some(first_name)) = (curves.first(), names.first()) else { return Vec::new() };
    let (first_mean, first_range) = (mean(first), range(first));
    let mut out = Vec::new();
    for (curve, name) in curves.iter().zip(names).skip(1) {
        out.push((format!("{CURVE_STATISTIC_PREFIX}{first_name}_minus_{name}"), first_mean - mean(curve)));
        let ratio = if first_range > 0.0 { range(curve) / first_range } else { f64::NAN };
        out.push((format!("{CURVE_STATISTIC_PREFIX}{name}_amplitude_ratio"), ratio));
    }
    out
}

/// `phi1` of the least-squares fit `m = a + A sin(2 pi phase + phi1)` of a folded curve.
fn first_harmonic_phase(curve: &LightCurve) -> f64 {
    // Normal equations of m = a + s sin(w) + c cos(w), w = 2 pi phase; s = A cos phi1, c = A sin phi1.
    let mut n = [[0.0f64; 3]; 3];
    let mut r = [0.0f64; 3];
    for (&p, &m) in curve.time.iter().zip(&curve.mag) {
        let (sin, cos) = (std::f64::consts::TAU * p).sin_cos();
        let basis = [1.0, sin, cos];
        for i in 0..3 {
            r[i] += basis[i] * m;
            for j in 0..3 {
                n[i][j] += basis[i] * basis[j];
            }
        }
    }
    match solve3(n, r) {
        Some([_, s, c]) => c.atan2(s),
        None => 0.0,
    }
}

/// Solves a 3 x 3 linear system by Cramer's rule; `None` when it is singular.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut x = [0.0; 3];
    for (k, xk) in x.iter_mut().enumerate() {
        let mut m = a;
        for i in 0..3 {
            m[i][k] = b[i];
        }
        *xk = det(m) / d;
    }
    Some(x)
}

/// Linear interpolation of `y(x)` at `at`, for sorted phases `x` in [0, 1) on a circle.
fn periodic_interpolate(x: &[f64], y: &[f64], at: f64) -> f64 {
    match x.len() {
        0 => return 0.0,
        1 => return y[0],
        _ => {}
    }
    let after = x.partition_point(|&v| v <= at);
    let (i0, i1) = if after == 0 || after == x.len() { (x.len() - 1, 0) } else { (after - 1, after) };
    let (x0, x1) = (x[i0], if i1 == 0 && i0 == x.len() - 1 { x[0] + 1.0 } else { x[i1] });
    let at = if at < x0 { at + 1.0 } else { at };
    if x1 - x0 <= 0.0 {
        return y[i0];
    }
    y[i0] + (y[i1] - y[i0]) * (at - x0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(time: Vec<f64>, mag: Vec<f64>) -> LightCurve {
        let err = vec![0.1; time.len()];
        LightCurve { time, mag, err }
    }

    #[test]
    fn short_curves_are_sorted_padded_and_masked() {
        let config = SequenceConfig { length: 5, ..SequenceConfig::default() };
        let out = config.encode(&curve(vec![0.5, 0.1, 0.9], vec![15.0, 14.0, 16.0]));
        assert_eq!(out.len(), 3 * 5);
        assert_eq!(&out[..5], &[0.1, 0.5, 0.9, 0.0, 0.0]);
        assert_eq!(&out[5..10], &[-1.0, 0.0, 1.0, 0.0, 0.0], "centred on the mean 15");
        assert_eq!(&out[10..], &[1.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn bands_stack_with_their_own_masks_on_the_first_bands_scale() {
        let config = SequenceConfig { length: 4, ..SequenceConfig::default() };
        let v = curve(vec![0.5, 0.1, 0.9], vec![15.0, 14.0, 16.0]);
        let i = curve(vec![0.3, 0.7], vec![14.2, 14.6]);
        assert_eq!(config.encode_bands(std::slice::from_ref(&v), 0.5), config.encode(&v), "one band: as before");
        let out = config.encode_bands(&[v.clone(), i.clone()], 0.5);
        assert_eq!(config.shape_for(2), [7, 1, 4]);
        assert_eq!(out.len(), 7 * 4);
        assert_eq!(&out[..12], &config.encode(&v)[..], "the first band as alone");
        // The second band: its phases, its magnitudes less the first band's mean (colour kept).
        assert_eq!(&out[12..16], &[0.3, 0.7, 0.0, 0.0]);
        let mags: Vec<f64> = out[16..18].iter().map(|&m| f64::from(m)).collect();
        assert!((mags[0] + 0.8).abs() < 1e-6 && (mags[1] + 0.4).abs() < 1e-6, "{mags:?}");
        assert_eq!(&out[20..24], &[1.0, 1.0, 0.0, 0.0], "its own mask");
        assert_eq!(&out[24..], &[1.0, 1.0, 1.0, 0.0], "the step mask: any band real");
        let stats = band_statistics(&[v, i], &["V".into(), "I".into()]);
        assert_eq!(stats[0].0, "curve_V_minus_I");
        assert!((stats[0].1 - 0.6).abs() < 1e-12, "{stats:?}");
        assert_eq!(stats[1].0, "curve_I_amplitude_ratio");
        assert!((stats[1].1 - 0.2).abs() < 1e-9, "{stats:?}");
    }

    #[test]
    fn phase_times_period_scales_the_first_channel_only() {
        let c = curve(vec![0.5, 0.1, 0.9], vec![15.0, 14.0, 16.0]);
        let plain = SequenceConfig { length: 4, ..SequenceConfig::default() };
        let scaled = SequenceConfig { phase_times_period: true, ..plain.clone() };
        let (a, b) = (plain.encode_with_period(&c, 0.6), scaled.encode_with_period(&c, 0.6));
        assert_eq!(a, plain.encode(&c), "without the setting the period is ignored");
        for (got, want) in b[..4].iter().zip([0.06f32, 0.3, 0.54, 0.0]) {
            assert!((got - want).abs() < 1e-6, "{:?}", &b[..4]);
        }
        assert_eq!(&a[4..], &b[4..], "magnitudes and mask unchanged");
        let unfolded = SequenceConfig { inputs: StepInputs::TimeMagErr, ..scaled };
        assert!(unfolded.validate().unwrap_err().to_string().starts_with("data.sequence.phase_times_period"));
    }

    #[test]
    fn long_curves_are_thinned_evenly_and_times_scaled() {
        let config = SequenceConfig {
            length: 4,
            inputs: StepInputs::TimeMagErr,
            normalise: Normalise::None,
            ..SequenceConfig::default()
        };
        let time: Vec<f64> = (0..8).map(|i| 100.0 + 10.0 * i as f64).collect();
        let out = config.encode(&curve(time, (0..8).map(f64::from).collect()));
        assert_eq!(&out[..4], &[0.0, 2.0 / 7.0, 4.0 / 7.0, 6.0 / 7.0]);
        assert_eq!(&out[4..8], &[0.0, 2.0, 4.0, 6.0]);
        assert_eq!(&out[8..12], &[0.1; 4]);
        assert_eq!(&out[12..], &[1.0; 4]);
    }

    #[test]
    fn resampling_interpolates_around_the_circle() {
        let config =
            SequenceConfig { length: 4, resample: true, normalise: Normalise::None, ..SequenceConfig::default() };
        let out = config.encode(&curve(vec![0.25, 0.75], vec![1.0, 3.0]));
        // Phases 0.125, 0.375, 0.625, 0.875: between 0.75 (3) and 1.25 (1) on the circle, etc.
        assert_eq!(&out[..4], &[0.125, 0.375, 0.625, 0.875]);
        let expected = [1.5, 1.5, 2.5, 2.5];
        assert!(out[4..8].iter().zip(expected).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-6), "{:?}", &out[4..8]);
        assert_eq!(&out[8..], &[1.0; 4]);
    }

    #[test]
    fn smoothing_averages_the_points_near_each_phase() {
        // Points at 0.24 and 0.26 around the step at 0.25; one far away at 0.75.
        let c = LightCurve { time: vec![0.24, 0.26, 0.75], mag: vec![1.0, 3.0, 10.0], err: vec![0.1, 0.1, 0.1] };
        let config = SequenceConfig {
            length: 10,
            resample: true,
            smooth: true,
            normalise: Normalise::None,
            ..SequenceConfig::default()
        };
        let out = config.encode(&c);
        assert_eq!((out[2], out[7]), (0.25, 0.75));
        assert!((out[12] - 2.0).abs() < 1e-6 && (out[17] - 10.0).abs() < 1e-6, "{:?}", &out[10..20]);
        // Two equal points halve the variance: the error of the mean is 0.1 / sqrt(2).
        let with_err = SequenceConfig { inputs: StepInputs::PhaseMagErr, ..config };
        let out = with_err.encode(&c);
        assert!((f64::from(out[22]) - 0.1 / 2f64.sqrt()).abs() < 1e-6, "{:?}", &out[20..30]);
        let bad = SequenceConfig { smooth: true, ..SequenceConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().starts_with("data.sequence.smooth:"));
    }

    #[test]
    fn normalisations() {
        let c = curve(vec![0.1, 0.2, 0.3], vec![14.0, 15.0, 16.0]);
        let minmax = SequenceConfig { length: 3, normalise: Normalise::MinMax, ..SequenceConfig::default() };
        assert_eq!(&minmax.encode(&c)[3..6], &[1.0, 0.5, 0.0], "brightest is 1");
        let sd = SequenceConfig { length: 3, normalise: Normalise::Standardise, ..SequenceConfig::default() };
        let z = &sd.encode(&c)[3..6];
        let s = (2.0f64 / 3.0).sqrt();
        assert!((f64::from(z[0]) + 1.0 / s).abs() < 1e-6 && z[1].abs() < 1e-7, "{z:?}");
    }

    #[test]
    fn aligning_puts_the_first_fourier_phase_at_zero() {
        // m = 15 + 0.3 sin(2 pi p + 1.1) + 0.1 sin(4 pi p + 0.4), unevenly sampled.
        let phases: Vec<f64> = (0..90).map(|k| ((k * 37 % 90) as f64 + 0.3 * (k % 3) as f64) / 90.0).collect();
        let tau = std::f64::consts::TAU;
        let mag = |p: f64| 15.0 + 0.3 * (tau * p + 1.1).sin() + 0.1 * (2.0 * tau * p + 0.4).sin();
        let c = curve(phases.clone(), phases.iter().map(|&p| mag(p)).collect());
        assert!((first_harmonic_phase(&c) - 1.1).abs() < 1e-3, "{}", first_harmonic_phase(&c));
        let config =
            SequenceConfig { length: 90, align: true, normalise: Normalise::None, ..SequenceConfig::default() };
        let out = config.encode(&c);
        // After the shift, the curve is 15 + 0.3 sin(2 pi p') + ...: its fitted phase is 0.
        let shifted = curve(
            out[..90].iter().map(|&v| f64::from(v)).collect(),
            out[90..180].iter().map(|&v| f64::from(v)).collect(),
        );
        assert!(first_harmonic_phase(&shifted).abs() < 1e-3, "{}", first_harmonic_phase(&shifted));
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = SequenceConfig { length: 1, ..SequenceConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().starts_with("data.sequence.length:"));
        let bad = SequenceConfig { resample: true, inputs: StepInputs::TimeMagErr, ..SequenceConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().starts_with("data.sequence.resample:"));
    }
}
