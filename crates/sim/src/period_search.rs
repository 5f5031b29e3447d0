//! Finding a light curve's period when the catalogue has none: a Lomb-Scargle periodogram
//! (Lomb 1976; Scargle 1982) on a coarse frequency grid, its highest peaks refined on a fine
//! one, the false-alarm probability of the best (Horne & Baliunas 1986, with the number of
//! independent frequencies of the grid), and the eclipsing binaries' half-period alias: the
//! periodogram of two minima per orbit peaks at half the orbit, so twice the peak's period is
//! taken when the curve folded on it is clearly tighter (its string length, Lafler & Kinman
//! 1965).
//!
//! The sums of each frequency are advanced from the last by rotating every point's phase
//! (`cos`, `sin` of w t) by the grid step, so that a frequency costs a few multiplications per
//! point instead of a sine and a cosine.

use serde::{Deserialize, Serialize};

use crate::light_curve::LightCurve;

/// How periods are searched for (`[data.period_search]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeriodSearch {
    /// Shortest period tried, days.
    pub min_period: f64,
    /// Longest period tried, days.
    pub max_period: f64,
    /// Frequency steps per peak width (1 / time baseline) on the fine grid.
    pub oversample: f64,
    /// Highest peaks of the coarse grid (2 steps per peak width) refined on the fine one.
    pub peaks: usize,
    /// Twice the peak's period is taken when the curve folded on it has at most this share of
    /// the string length it has folded on the peak's period (the half-period alias of
    /// eclipsing binaries); 0 never doubles.
    pub double_below: f64,
    /// The largest multiple of the peak's period tried (2: only the half-period alias).
    pub multiples: usize,
}

impl Default for PeriodSearch {
    fn default() -> Self {
        Self { min_period: 0.1, max_period: 20.0, oversample: 10.0, peaks: 5, double_below: 0.85, multiples: 2 }
    }
}

/// A period found in one curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundPeriod {
    /// Days.
    pub period: f64,
    /// The periodogram's power at the peak (pure noise averages 1).
    pub power: f64,
    /// log10 of the false-alarm probability of that power over the whole grid.
    pub fap_log10: f64,
    /// Whether the period is twice the periodogram's peak (the half-period alias).
    pub doubled: bool,
}

impl PeriodSearch {
    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.min_period > 0.0 && self.min_period.is_finite()) {
            return Err(("min_period", format!("must be a positive number of days, got {}", self.min_period)));
        }
        if !(self.max_period > self.min_period && self.max_period.is_finite()) {
            return Err((
                "max_period",
                format!("must be longer than min_period = {}, got {}", self.min_period, self.max_period),
            ));
        }
        if !(self.oversample >= 2.0 && self.oversample <= 100.0) {
            return Err(("oversample", format!("must be between 2 and 100, got {}", self.oversample)));
        }
        if self.peaks == 0 {
            return Err(("peaks", "must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.double_below) {
            return Err(("double_below", format!("must be in [0, 1), got {}", self.double_below)));
        }
        Ok(())
    }

    /// The period of `curve` (times in days), or why there is none: too few points, no time
    /// baseline, or no variation.
    pub fn find(&self, curve: &LightCurve) -> Result<FoundPeriod, String> {
        self.find_in_bands(std::slice::from_ref(curve))
    }

    /// The one period of a star observed in several bands, each with its own epochs, mean and
    /// noise: the multi-band periodogram of independent sinusoids per band sharing the frequency
    /// (VanderPlas & Ivezic 2015 with no shared base term), whose power is the sum of the bands'
    /// chi^2 reductions over their pooled variance (pure noise averages the number of bands).
    /// Bands with fewer than 5 points or no variation are left out of the search.
    pub fn find_in_bands(&self, bands: &[LightCurve]) -> Result<FoundPeriod, String> {
        let mut usable = Vec::new();
        let mut first_problem = None;
        for curve in bands {
            if let Some(bad) = curve.time.iter().chain(&curve.mag).find(|v| !v.is_finite()) {
                return Err(format!("a time or magnitude is {bad}"));
            }
            match Centred::of(curve) {
                Ok(centred) => usable.push((curve, centred)),
                Err(why) => first_problem = first_problem.or(Some(why)),
            }
        }
        if usable.is_empty() {
            return Err(first_problem.unwrap_or_else(|| "no band has points".into()));
        }
        let times = usable.iter().flat_map(|(c, _)| c.time.iter().copied());
        let (low_t, high_t) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), t| (l.min(t), h.max(t)));
        let baseline = high_t - low_t;
        // A day or less cannot fold periods of days; phases span less than 1.
        if baseline <= 1.0 {
            return Err(format!("the points span {baseline} days: are they phases, already folded?"));
        }
        // Each band's power weighted by its share of the pooled variance: one band's is its own.
        let points: usize = usable.iter().map(|(c, _)| c.time.len()).sum();
        let total: f64 = usable.iter().map(|(_, b)| b.variance * (b.y.len() - 1) as f64).sum();
        let pooled = total / (points - usable.len()) as f64;
        let grid = |start: f64, step: f64, count: usize| -> Vec<f64> {
            let mut sum = vec![0.0; count];
            for (curve, band) in &usable {
                let power = power_grid(&curve.time, &band.y, band.variance, start, step, count);
                let weight = if usable.len() == 1 { 1.0 } else { band.variance / pooled };
                sum.iter_mut().zip(power).for_each(|(s, p)| *s += weight * p);
            }
            sum
        };
        let (low, high) = (1.0 / self.max_period, 1.0 / self.min_period);
        // Coarse: half a peak width per step; fine: `oversample` steps per width.
        let coarse_step = 0.5 / baseline;
        let count = ((high - low) / coarse_step).floor() as usize + 1;
        let coarse = grid(low, coarse_step, count);
        let mut maxima: Vec<usize> = (0..count)
            .filter(|&k| (k == 0 || coarse[k] >= coarse[k - 1]) && (k + 1 == count || coarse[k] >= coarse[k + 1]))
            .collect();
        maxima.sort_by(|&a, &b| coarse[b].total_cmp(&coarse[a]));
        let fine_step = 1.0 / (self.oversample * baseline);
        let mut best = (low, f64::NEG_INFINITY);
        for &k in maxima.iter().take(self.peaks) {
            let centre = low + k as f64 * coarse_step;
            let start = (centre - coarse_step).max(low);
            let steps = ((2.0 * coarse_step) / fine_step).ceil() as usize + 1;
            let fine = grid(start, fine_step, steps);
            for (j, &p) in fine.iter().enumerate() {
                let f = start + j as f64 * fine_step;
                if p > best.1 && f <= high {
                    best = (f, p);
                }
            }
        }
        let (frequency, power) = best;
        let independent = ((high - low) * baseline).max(1.0);
        let mut period = 1.0 / frequency;
        let mut doubled = false;
        if self.double_below > 0.0 {
            // The peak's period, or a multiple of it whose fold is clearly tighter than the
            // tightest so far (two minima per orbit; narrow eclipses also put peaks at higher
            // harmonics). Several bands: their string lengths summed.
            let length = |p: f64| usable.iter().map(|(c, _)| string_length(c, p)).sum::<f64>();
            let base = period;
            let mut tightest = length(base);
            for k in 2..=self.multiples {
                let candidate = k as f64 * base;
                if candidate > self.max_period {
                    break;
                }
                let length = length(candidate);
                if length < self.double_below * tightest {
                    (period, tightest, doubled) = (candidate, length, true);
                }
            }
        }
        let fap_log10 = false_alarm_log10_of_bands(power, independent, usable.len());
        Ok(FoundPeriod { period, power, fap_log10, doubled })
    }
}

/// One band's magnitudes less their mean, and their variance.
struct Centred {
    y: Vec<f64>,
    variance: f64,
}

impl Centred {
    fn of(curve: &LightCurve) -> Result<Self, String> {
        let n = curve.time.len();
        if n < 5 {
            return Err(format!("{n} points are too few to find a period"));
        }
        let mean = curve.mag.iter().sum::<f64>() / n as f64;
        let y: Vec<f64> = curve.mag.iter().map(|m| m - mean).collect();
        let variance = y.iter().map(|v| v * v).sum::<f64>() / (n - 1) as f64;
        if variance <= 0.0 {
            return Err("the magnitudes do not vary".into());
        }
        Ok(Self { y, variance })
    }
}

/// log10 of 1 - (1 - e^-z)^m, the chance that the highest of `m` independent powers of pure
/// noise reaches `z`; accurate where it underflows (m e^-z tiny).
pub fn false_alarm_log10(z: f64, m: f64) -> f64 {
    false_alarm_log10_of_bands(z, m, 1)
}

/// [`false_alarm_log10`] for the multi-band power of `bands` bands, a sum of `bands` unit
/// exponentials for pure noise: one frequency's tail is `e^-z sum_{k < bands} z^k / k!`.
pub fn false_alarm_log10_of_bands(z: f64, m: f64, bands: usize) -> f64 {
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..bands.max(1) {
        if k > 0 {
            term *= z / k as f64;
        }
        sum += term;
    }
    let ln_single = -z + sum.ln();
    let single = ln_single.exp();
    let log10 = if m * single < 1e-6 {
        (m.ln() + ln_single) / std::f64::consts::LN_10
    } else {
        (-((m * (-single).ln_1p()).exp_m1())).log10()
    };
    log10.min(0.0)
}

/// The Lomb-Scargle power (normalised by the variance: noise averages 1) at `count`
/// frequencies `start + k step` (cycles per day), of the mean-subtracted magnitudes `y`.
pub fn power_grid(time: &[f64], y: &[f64], variance: f64, start: f64, step: f64, count: usize) -> Vec<f64> {
    let tau = std::f64::consts::TAU;
    let n = time.len();
    // Each point's cos and sin of w t at the current frequency, and of the rotation by one step;
    // kept as separate arrays, summed in `LANES` independent lanes so that the compiler can use
    // vector instructions.
    let at =
        |f: f64| -> (Vec<f64>, Vec<f64>) { time.iter().map(|&t| (tau * f * t).sin_cos()).map(|(s, c)| (c, s)).unzip() };
    let (mut cos, mut sin) = at(start);
    let (turn_cos, turn_sin) = at(step);
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        // Rounding in the rotations grows slowly; start afresh now and then.
        if k > 0 && k % 4096 == 0 {
            (cos, sin) = at(start + k as f64 * step);
        }
        let mut lanes = [[0.0f64; LANES]; 4];
        let whole = n / LANES * LANES;
        for ((((c, s), tc), ts), v) in cos[..whole]
            .chunks_exact_mut(LANES)
            .zip(sin[..whole].chunks_exact_mut(LANES))
            .zip(turn_cos[..whole].chunks_exact(LANES))
            .zip(turn_sin[..whole].chunks_exact(LANES))
            .zip(y[..whole].chunks_exact(LANES))
        {
            for l in 0..LANES {
                lanes[0][l] += v[l] * c[l];
                lanes[1][l] += v[l] * s[l];
                lanes[2][l] += c[l] * c[l];
                lanes[3][l] += s[l] * c[l];
                (c[l], s[l]) = (c[l] * tc[l] - s[l] * ts[l], s[l] * tc[l] + c[l] * ts[l]);
            }
        }
        let [mut yc, mut ys, mut cc, mut sc] = lanes.map(|lane| lane.iter().sum::<f64>());
        for i in whole..n {
            let (c, s) = (cos[i], sin[i]);
            yc += y[i] * c;
            ys += y[i] * s;
            cc += c * c;
            sc += s * c;
            (cos[i], sin[i]) = (c * turn_cos[i] - s * turn_sin[i], s * turn_cos[i] + c * turn_sin[i]);
        }
        // cos^2 + sin^2 = 1 at every point.
        let ss = n as f64 - cc;
        // The time offset tau that decouples the sine and cosine terms: tan(2 w tau) =
        // sum sin 2wt / sum cos 2wt.
        let two_wtau = (2.0 * sc).atan2(cc - ss);
        let (st, ct) = (0.5 * two_wtau).sin_cos();
        let yc_t = ct * yc + st * ys;
        let ys_t = ct * ys - st * yc;
        let cc_t = ct * ct * cc + 2.0 * ct * st * sc + st * st * ss;
        let ss_t = st * st * cc - 2.0 * ct * st * sc + ct * ct * ss;
        out.push((yc_t * yc_t / cc_t.max(1e-12) + ys_t * ys_t / ss_t.max(1e-12)) / (2.0 * variance));
    }
    out
}

/// Independent partial sums in [`power_grid`]'s inner loop.
const LANES: usize = 4;

/// The string length of `curve` folded on `period` (Lafler & Kinman 1965): the sum of squared
/// differences between magnitudes neighbouring in phase, over the sum of squared deviations
/// from the mean; small when the folded curve is a thin line.
pub fn string_length(curve: &LightCurve, period: f64) -> f64 {
    let mut folded: Vec<(f64, f64)> =
        curve.time.iter().zip(&curve.mag).map(|(&t, &m)| ((t / period).rem_euclid(1.0), m)).collect();
    folded.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = folded.len() as f64;
    let mean = folded.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = folded.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let steps: f64 = folded.windows(2).map(|w| (w[1].1 - w[0].1).powi(2)).sum::<f64>()
        + (folded[0].1 - folded[folded.len() - 1].1).powi(2);
    if spread > 0.0 { steps / spread } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light_curve::lomb_scargle;
    use crate::variable_star::{StarClass, VariableStarSimConfig};

    #[test]
    fn the_rotated_sums_give_the_direct_periodograms_powers() {
        let star = VariableStarSimConfig::default().simulate(4, 2);
        let curve = &star.curve;
        let n = curve.mag.len() as f64;
        let mean = curve.mag.iter().sum::<f64>() / n;
        let y: Vec<f64> = curve.mag.iter().map(|m| m - mean).collect();
        let variance = y.iter().map(|v| v * v).sum::<f64>() / (n - 1.0);
        let (start, step, count) = (0.05, 3e-4, 9000);
        let fast = power_grid(&curve.time, &y, variance, start, step, count);
        let frequencies: Vec<f64> = (0..count).map(|k| start + k as f64 * step).collect();
        let direct = lomb_scargle(curve, &frequencies);
        for (k, (a, b)) in fast.iter().zip(&direct).enumerate() {
            assert!((a - b).abs() < 1e-6 * b.max(1.0), "frequency {}: {a} vs {b}", frequencies[k]);
        }
    }

    #[test]
    fn the_false_alarm_probability_is_that_of_the_highest_of_m_noise_powers() {
        // 1 - (1 - e^-3)^10 = 0.39992.
        assert!((10f64.powf(false_alarm_log10(3.0, 10.0)) - 0.399_92).abs() < 1e-4);
        // Far in the tail: m e^-z.
        assert!((false_alarm_log10(60.0, 1e4) - (4.0 - 60.0 / std::f64::consts::LN_10)).abs() < 1e-9);
        assert_eq!(false_alarm_log10(0.0, 100.0), 0.0);
    }

    /// The share of `class` stars among the first `n` whose period is found within `tolerance`,
    /// and how many there were.
    fn recovered(class: StarClass, n: u64, tolerance: f64) -> (f64, usize) {
        let config = VariableStarSimConfig::default();
        let search = PeriodSearch::default();
        let (mut found, mut tried) = (0, 0);
        for i in 0..n {
            let star = config.simulate(11, i);
            if star.params.class != class {
                continue;
            }
            tried += 1;
            let p = search.find(&star.curve).unwrap().period;
            found += usize::from((p / star.params.period - 1.0).abs() < tolerance);
        }
        (found as f64 / tried.max(1) as f64, tried)
    }

    #[test]
    fn rr_lyrae_periods_are_found_within_a_thousandth() {
        let (share, tried) = recovered(StarClass::Rrab, 300, 1e-3);
        assert!(tried > 50 && share >= 0.95, "{share} of {tried} RRab");
        let (share, tried) = recovered(StarClass::Rrc, 400, 1e-3);
        assert!(tried > 20 && share >= 0.95, "{share} of {tried} RRc");
    }

    #[test]
    fn binaries_with_unequal_minima_are_found_at_the_orbit_not_half_of_it() {
        // The periodogram of two minima per orbit peaks at half the orbit; where the minima
        // differ by more than a few times the noise the fold shows it and the period is doubled.
        // Where they do not, nothing in the curve tells the two periods apart.
        let config = VariableStarSimConfig::default();
        let search = PeriodSearch::default();
        let mut counts = [(0usize, 0usize); 2];
        for i in 0..1200 {
            let star = config.simulate(11, i);
            let p = &star.params;
            let (kind, unequal) = match p.class {
                StarClass::Contact => (0, 2.0 * p.shape[1]),
                StarClass::Detached => (1, (p.shape[0] - p.shape[1]).abs()),
                _ => continue,
            };
            let mut errors = star.curve.err.clone();
            errors.sort_by(f64::total_cmp);
            if unequal > 5.0 * errors[errors.len() / 2] && star.curve.time.len() >= 100 {
                let right = (search.find(&star.curve).unwrap().period / p.period - 1.0).abs() < 1e-3;
                counts[kind].0 += usize::from(right);
                counts[kind].1 += 1;
            }
        }
        let [(contact, of_contact), (detached, of_detached)] = counts;
        assert!(of_contact > 30 && contact as f64 >= 0.9 * of_contact as f64, "{contact} of {of_contact} contact");
        // Narrow eclipses caught by few points are where a periodogram of sinusoids is weakest
        // (measured: 86 of 130); a box search would do better.
        assert!(
            of_detached > 80 && detached as f64 >= 0.6 * of_detached as f64,
            "{detached} of {of_detached} detached"
        );
    }

    #[test]
    fn several_bands_share_one_period_and_one_band_is_the_plain_periodogram() {
        // A sinusoid seen in V with much noise and few points, and in I with its own epochs.
        let tau = std::f64::consts::TAU;
        let period = 0.4137;
        let band = |n: usize, offset: f64, amplitude: f64, noise: f64, seed: u64| {
            let mut rng = crate::rng::SampleRng::for_sample(seed, 0, 0);
            let time: Vec<f64> = (0..n).map(|_| rng.uniform_in(0.0, 700.0)).collect();
            let mag =
                time.iter().map(|&t| offset + amplitude * (tau * t / period).sin() + noise * rng.normal()).collect();
            LightCurve { err: vec![noise; n], time, mag }
        };
        let search = PeriodSearch { double_below: 0.0, ..PeriodSearch::default() };
        let (v, i) = (band(60, 15.0, 0.3, 0.05, 1), band(40, 14.4, 0.19, 0.05, 2));
        let both = search.find_in_bands(&[v.clone(), i.clone()]).unwrap();
        assert!((both.period / period - 1.0).abs() < 1e-3, "{both:?}");
        // One band alone gives that band's own periodogram.
        assert_eq!(search.find_in_bands(std::slice::from_ref(&v)).unwrap(), search.find(&v).unwrap());
        // Two bands of pure noise average a power of 2; their false alarm follows.
        assert!((10f64.powf(false_alarm_log10_of_bands(2.0, 1.0, 2)) - 3.0 * (-2.0f64).exp()).abs() < 1e-12);
        // A band with too few points is left out; all of them too few is an error.
        let short = band(3, 15.0, 0.3, 0.05, 3);
        assert_eq!(search.find_in_bands(&[v.clone(), short.clone()]).unwrap(), search.find(&v).unwrap());
        assert_eq!(search.find_in_bands(&[short]).unwrap_err(), "3 points are too few to find a period");
    }

    #[test]
    fn curves_without_a_period_to_find_say_why() {
        let search = PeriodSearch::default();
        let flat = LightCurve { time: (0..20).map(f64::from).collect(), mag: vec![15.0; 20], err: vec![0.01; 20] };
        assert_eq!(search.find(&flat).unwrap_err(), "the magnitudes do not vary");
        let folded = LightCurve {
            time: (0..20).map(|k| f64::from(k) / 20.0).collect(),
            mag: (0..20).map(f64::from).collect(),
            err: vec![0.01; 20],
        };
        assert_eq!(search.find(&folded).unwrap_err(), "the points span 0.95 days: are they phases, already folded?");
        let holed = LightCurve { mag: vec![f64::NAN; 20], ..folded.clone() };
        assert_eq!(search.find(&holed).unwrap_err(), "a time or magnitude is NaN");
        let bad = PeriodSearch { max_period: 0.05, ..PeriodSearch::default() };
        assert_eq!(bad.validate().unwrap_err().0, "max_period");
    }
}
