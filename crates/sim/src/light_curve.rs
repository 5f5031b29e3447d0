//! Light curves as surveys take them: irregular epochs in observing seasons over several
//! years, photometric errors that grow towards faint magnitudes, a few outliers; and the
//! Lomb-Scargle periodogram (Lomb 1976; Scargle 1982) that finds a period in such data.

use serde::{Deserialize, Serialize};

use crate::rng::SampleRng;

/// A light curve: times (days), magnitudes, and their 1-sigma errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LightCurve {
    /// Observation times, days, increasing.
    pub time: Vec<f64>,
    /// Magnitudes.
    pub mag: Vec<f64>,
    /// Photometric errors, magnitudes.
    pub err: Vec<f64>,
}

/// How a survey samples a star. Ranges are `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cadence {
    /// Number of epochs (uniform).
    pub points: [usize; 2],
    /// Number of observing seasons, one per year (uniform).
    pub seasons: [usize; 2],
    /// Length of a season, days.
    pub season_days: f64,
    /// Error floor, magnitudes.
    pub error_floor: f64,
    /// Error at `error_reference_mag`, above the floor.
    pub error_at_reference: f64,
    /// Magnitude at which the noise term is `error_at_reference` (it grows as 10^(0.4 m)).
    pub error_reference_mag: f64,
    /// Share of epochs that are outliers (off by 5 to 10 sigma).
    pub outlier_fraction: f64,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            points: [50, 300],
            seasons: [2, 6],
            season_days: 180.0,
            error_floor: 0.005,
            error_at_reference: 0.02,
            error_reference_mag: 17.0,
            outlier_fraction: 0.01,
        }
    }
}

impl Cadence {
    /// The error of one measurement of a star of magnitude `mag`.
    pub fn error(&self, mag: f64) -> f64 {
        self.error_floor + self.error_at_reference * 10f64.powf(0.4 * (mag - self.error_reference_mag))
    }

    /// Draws epochs, sorted: seasons a year apart, times uniform within each.
    pub fn epochs(&self, rng: &mut SampleRng) -> Vec<f64> {
        let n = self.points[0] + (rng.next_u64() % (self.points[1] - self.points[0] + 1) as u64) as usize;
        let seasons = self.seasons[0] + (rng.next_u64() % (self.seasons[1] - self.seasons[0] + 1) as u64) as usize;
        let mut t: Vec<f64> = (0..n)
            .map(|_| {
                let season = (rng.next_u64() % seasons.max(1) as u64) as f64;
                365.25 * season + rng.uniform_in(0.0, self.season_days)
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t
    }

    /// Observes `model(t)` (magnitudes) at fresh epochs: Gaussian errors, a few outliers.
    pub fn observe(&self, model: impl Fn(f64) -> f64, rng: &mut SampleRng) -> LightCurve {
        let time = self.epochs(rng);
        let mut mag = Vec::with_capacity(time.len());
        let mut err = Vec::with_capacity(time.len());
        for &t in &time {
            let m = model(t);
            let sigma = self.error(m);
            let mut observed = m + sigma * rng.normal();
            if rng.uniform() < self.outlier_fraction {
                let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                observed += sign * rng.uniform_in(5.0, 10.0) * sigma;
            }
            mag.push(observed);
            err.push(sigma);
        }
        LightCurve { time, mag, err }
    }
}

/// The Lomb-Scargle power (normalised by the variance, so pure noise averages about 1) of
/// `curve` at each frequency (cycles per day).
pub fn lomb_scargle(curve: &LightCurve, frequencies: &[f64]) -> Vec<f64> {
    let n = curve.mag.len().max(1) as f64;
    let mean = curve.mag.iter().sum::<f64>() / n;
    let y: Vec<f64> = curve.mag.iter().map(|m| m - mean).collect();
    let variance = y.iter().map(|v| v * v).sum::<f64>() / (n - 1.0).max(1.0);
    frequencies
        .iter()
        .map(|&f| {
            let w = std::f64::consts::TAU * f;
            let (s2, c2) =
                curve.time.iter().fold((0.0, 0.0), |(s, c), &t| (s + (2.0 * w * t).sin(), c + (2.0 * w * t).cos()));
            let tau = s2.atan2(c2) / (2.0 * w);
            let (mut yc, mut ys, mut cc, mut ss) = (0.0, 0.0, 0.0, 0.0);
            for (&t, &v) in curve.time.iter().zip(&y) {
                let (s, c) = (w * (t - tau)).sin_cos();
                yc += v * c;
                ys += v * s;
                cc += c * c;
                ss += s * s;
            }
            (yc * yc / cc.max(1e-12) + ys * ys / ss.max(1e-12)) / (2.0 * variance.max(1e-300))
        })
        .collect()
}

/// The frequency of highest Lomb-Scargle power on an even grid from `low` to `high` cycles per
/// day, fine enough (a tenth of 1 / baseline) to resolve the peak.
pub fn best_period(curve: &LightCurve, low: f64, high: f64) -> f64 {
    let baseline = (curve.time.last().copied().unwrap_or(1.0) - curve.time.first().copied().unwrap_or(0.0)).max(1.0);
    let step = 0.1 / baseline;
    let frequencies: Vec<f64> = (0..).map(|k| low + k as f64 * step).take_while(|&f| f <= high).collect();
    let power = lomb_scargle(curve, &frequencies);
    let best = (0..power.len()).max_by(|&a, &b| power[a].total_cmp(&power[b])).unwrap_or(0);
    1.0 / frequencies[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_fall_in_seasons_and_errors_grow_with_magnitude() {
        let cadence = Cadence::default();
        let mut rng = SampleRng::for_sample(1, 0, 0);
        for _ in 0..20 {
            let t = cadence.epochs(&mut rng);
            assert!((50..=300).contains(&t.len()));
            assert!(t.windows(2).all(|w| w[0] <= w[1]));
            // Every epoch is inside a season: day of year (from the first season) below 180.
            assert!(t.iter().all(|&x| x.rem_euclid(365.25) <= 180.0));
        }
        assert!(cadence.error(19.0) > 3.0 * cadence.error(15.0));
        assert!((cadence.error(17.0) - 0.025).abs() < 1e-12);
    }

    #[test]
    fn the_periodogram_finds_a_sinusoid_in_seasonal_data() {
        let cadence = Cadence { points: [120, 120], outlier_fraction: 0.0, ..Cadence::default() };
        let mut rng = SampleRng::for_sample(2, 0, 0);
        let period = 0.5731;
        let curve = cadence.observe(|t| 16.0 + 0.3 * (std::f64::consts::TAU * t / period).sin(), &mut rng);
        let found = best_period(&curve, 0.5, 6.0);
        assert!((found / period - 1.0).abs() < 1e-3, "found {found} for {period}");
    }
}
