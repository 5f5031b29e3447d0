//! Periodic variable stars for light-curve classification and [Fe/H] regression (Dekany &
//! Grebel 2020): fundamental-mode RR Lyrae (RRab), first-overtone RR Lyrae (RRc), detached and
//! contact eclipsing binaries, and constant stars, observed with a survey [`Cadence`].
//!
//! RR Lyrae are sine Fourier series `m = m0 + sum A_k sin(2 pi k phase + phi_k)`. RRab take
//! their amplitude from the period-amplitude (Bailey) relation of Oosterhoff I clusters (Cacciari
//! et al. 2005: `A_V = -2.627 - 22.046 log P - 30.876 log^2 P`), amplitude ratios R21 ~ 0.48 and
//! R31 ~ 0.33 and a phase difference `phi31` from the metallicity through the relation of
//! Jurcsik & Kovacs (1996), `[Fe/H] = -5.038 - 5.394 P + 1.345 phi31`, so the light-curve shape
//! carries [Fe/H]; their period grows as [Fe/H] falls. With `phi21 ~ 2.45` these series rise
//! steeply and fade slowly, as fundamental-mode pulsators do. RRc are near-sinusoidal.
//!
//! A star is a pure function of `(seed, index)` and records its class, period, amplitude,
//! [Fe/H] (RRab), mean magnitude, colour and the S/N of its variability. It is observed in one
//! or more bands ([`crate::bands`]): each band has its own epochs and errors, its mean
//! magnitude shifted by the star's colour and, for the pulsators, its amplitude scaled.

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::bands::{Band, band};
use crate::galaxy::check_range;
use crate::light_curve::{Cadence, LightCurve};
use crate::rng::SampleRng;

const STREAM_PARAMS: u64 = 20;
const STREAM_OBSERVE: u64 = 21;
/// Band `k` after the first is observed with stream `STREAM_MORE_BANDS + k`.
const STREAM_MORE_BANDS: u64 = 40;
const TAU: f64 = std::f64::consts::TAU;

/// The kinds of star, in label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StarClass {
    /// Fundamental-mode RR Lyrae.
    #[serde(rename = "RRab")]
    Rrab,
    /// First-overtone RR Lyrae.
    #[serde(rename = "RRc")]
    Rrc,
    /// Detached eclipsing binary (Algol type).
    #[serde(rename = "EB-detached")]
    Detached,
    /// Contact eclipsing binary (W UMa type).
    #[serde(rename = "EB-contact")]
    Contact,
    /// Not variable.
    #[serde(rename = "constant")]
    Constant,
}

/// The class names, in label order.
pub const STAR_CLASSES: [&str; 5] = ["RRab", "RRc", "EB-detached", "EB-contact", "constant"];

/// Settings of the variable-star simulator; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VariableStarSimConfig {
    /// Shares of RRab, RRc, detached and contact binaries; constant stars are the rest.
    pub class_fractions: [f64; 4],
    /// Mean magnitude range (uniform).
    pub magnitude: [f64; 2],
    /// [Fe/H] range of RRab, dex (uniform).
    pub feh: [f64; 2],
    /// RRab period range, days.
    pub rrab_period: [f64; 2],
    /// RRc period range, days (uniform).
    pub rrc_period: [f64; 2],
    /// How the survey samples each star.
    pub cadence: Cadence,
    /// The bands observed, each with its own epochs ([`crate::bands::BANDS`] names them); the
    /// first is the one of the `curve`, magnitudes and S/N the star records.
    pub bands: Vec<String>,
    /// Reddening `E(V-I)` range added to every star's intrinsic colour, magnitudes (uniform).
    pub reddening: [f64; 2],
}

impl Default for VariableStarSimConfig {
    fn default() -> Self {
        Self {
            class_fractions: [0.3, 0.15, 0.15, 0.15],
            magnitude: [14.0, 18.5],
            feh: [-2.5, 0.0],
            rrab_period: [0.28, 0.98],
            rrc_period: [0.2, 0.45],
            cadence: Cadence::default(),
            bands: vec!["V".into()],
            reddening: [0.0, 0.3],
        }
    }
}

/// The intrinsic `(V-I)` colour range of each class: RR Lyrae sit in the instability strip
/// (RRc, hotter, bluer than RRab), contact binaries are F-K dwarfs, detached binaries and
/// constant stars span the main sequence and giants.
fn intrinsic_colour(class: StarClass) -> [f64; 2] {
    match class {
        StarClass::Rrab => [0.45, 0.75],
        StarClass::Rrc => [0.30, 0.50],
        StarClass::Detached => [0.0, 1.2],
        StarClass::Contact => [0.45, 1.1],
        StarClass::Constant => [0.2, 2.0],
    }
}

/// What made one star.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StarParams {
    /// Its kind.
    pub class: StarClass,
    /// Period, days (0 for constant stars).
    pub period: f64,
    /// Peak-to-peak amplitude of the noiseless curve, magnitudes.
    pub amplitude: f64,
    /// [Fe/H] of an RRab, dex.
    pub feh: Option<f64>,
    /// Mean magnitude in V.
    pub mean_mag: f64,
    /// `(V-I)` colour, reddening included.
    pub colour: f64,
    /// Phase at time 0.
    pub phase0: f64,
    /// Sine Fourier amplitudes `A_k` (RR Lyrae) or the binary's shape parameters.
    pub shape: Vec<f64>,
    /// Fourier phases `phi_k` (RR Lyrae).
    pub phases: Vec<f64>,
}

/// One simulated star.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedStar {
    /// What made it.
    pub params: StarParams,
    /// What the survey saw in the first band.
    pub curve: LightCurve,
    /// What it saw in the other bands, in the order of `bands`.
    pub more_bands: Vec<LightCurve>,
    /// Matched-filter S/N of the variability: `sqrt(sum ((m - mean) / err)^2)` of the noiseless
    /// curve at the observed epochs.
    pub snr: f64,
}

impl StarParams {
    /// The noiseless magnitude at `phase` in [0, 1).
    pub fn magnitude_at_phase(&self, phase: f64) -> f64 {
        let m0 = self.mean_mag;
        match self.class {
            StarClass::Rrab | StarClass::Rrc => {
                m0 + self
                    .shape
                    .iter()
                    .zip(&self.phases)
                    .enumerate()
                    .map(|(k, (a, p))| a * (TAU * (k + 1) as f64 * phase + p).sin())
                    .sum::<f64>()
            }
            StarClass::Detached => {
                // Gaussian eclipses at phase 0 (depth shape[0]) and 0.5 (shape[1]), width shape[2].
                let dip = |centre: f64| {
                    let d = (phase - centre + 0.5).rem_euclid(1.0) - 0.5;
                    (-0.5 * (d / self.shape[2]).powi(2)).exp()
                };
                m0 + self.shape[0] * dip(0.0) + self.shape[1] * dip(0.5)
            }
            StarClass::Contact => {
                // Continuous ellipsoidal light with unequal minima (shape: amplitude, asymmetry).
                m0 + 0.5 * self.shape[0] * (1.0 + (2.0 * TAU * phase).cos()) * 0.5 + self.shape[1] * (TAU * phase).cos()
            }
            StarClass::Constant => m0,
        }
    }

    /// The noiseless magnitude at time `t` (days).
    pub fn magnitude_at(&self, t: f64) -> f64 {
        if self.period <= 0.0 {
            return self.mean_mag;
        }
        self.magnitude_at_phase((t / self.period + self.phase0).rem_euclid(1.0))
    }

    /// The noiseless magnitude in `band` at time `t` (days): the mean shifted by the colour, the
    /// variation scaled for a pulsator (eclipses are grey).
    pub fn magnitude_in(&self, band: &Band, t: f64) -> f64 {
        let ratio = match self.class {
            StarClass::Rrab | StarClass::Rrc => band.pulsation_amplitude_ratio,
            _ => 1.0,
        };
        if band.colour_slope == 0.0 && ratio == 1.0 {
            return self.magnitude_at(t);
        }
        self.mean_mag + band.colour_slope * self.colour + ratio * (self.magnitude_at(t) - self.mean_mag)
    }
}

/// Peak-to-peak range of `f` over one phase cycle.
fn peak_to_peak(f: impl Fn(f64) -> f64) -> f64 {
    let values: Vec<f64> = (0..1000).map(|k| f(k as f64 / 1000.0)).collect();
    values.iter().copied().fold(f64::MIN, f64::max) - values.iter().copied().fold(f64::MAX, f64::min)
}

impl VariableStarSimConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.class_fractions.iter().any(|f| !(0.0..=1.0).contains(f))
            || self.class_fractions.iter().sum::<f64>() > 1.0
        {
            return Err(SimConfigError::new(
                "class_fractions",
                format!("must be shares summing to at most 1, got {:?}", self.class_fractions),
            ));
        }
        check_range("magnitude", self.magnitude, -5.0, 30.0)?;
        check_range("feh", self.feh, -4.0, 1.0)?;
        check_range("rrab_period", self.rrab_period, 0.1, 2.0)?;
        check_range("rrc_period", self.rrc_period, 0.1, 1.0)?;
        let c = &self.cadence;
        if c.points[0] < 3 || c.points[0] > c.points[1] || c.seasons[0] < 1 || c.seasons[0] > c.seasons[1] {
            return Err(SimConfigError::new(
                "cadence",
                format!(
                    "points and seasons must be [low, high] with low >= 3 and 1, got {:?} and {:?}",
                    c.points, c.seasons
                ),
            ));
        }
        let season_ok = c.season_days > 0.0 && c.season_days <= 365.25;
        if !season_ok || !(0.0..=1.0).contains(&c.outlier_fraction) {
            return Err(SimConfigError::new(
                "cadence",
                "season_days must be in (0, 365.25] and outlier_fraction in [0, 1]",
            ));
        }
        if self.bands.is_empty() {
            return Err(SimConfigError::new("bands", "name at least one band"));
        }
        let bands = self.observed_bands()?;
        if let Some((k, b)) = bands.iter().enumerate().find(|(k, b)| bands[..*k].contains(b)) {
            return Err(SimConfigError::new("bands", format!("{:?} is listed twice (at {k})", b.name)));
        }
        if !(self.reddening[0] >= 0.0 && self.reddening[1] >= self.reddening[0] && self.reddening[1] <= 5.0) {
            return Err(SimConfigError::new(
                "reddening",
                format!("must be [low, high] with 0 <= low <= high <= 5, got {:?}", self.reddening),
            ));
        }
        Ok(())
    }

    /// The parameters of star `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> StarParams {
        let mut rng = SampleRng::for_sample(seed, STREAM_PARAMS, index);
        let pick = rng.uniform();
        let f = self.class_fractions;
        let class = if pick < f[0] {
            StarClass::Rrab
        } else if pick < f[0] + f[1] {
            StarClass::Rrc
        } else if pick < f[0] + f[1] + f[2] {
            StarClass::Detached
        } else if pick < f[0] + f[1] + f[2] + f[3] {
            StarClass::Contact
        } else {
            StarClass::Constant
        };
        let mean_mag = rng.uniform_in(self.magnitude[0], self.magnitude[1]);
        let phase0 = rng.uniform();
        let mut p = StarParams {
            class,
            period: 0.0,
            amplitude: 0.0,
            feh: None,
            mean_mag,
            colour: 0.0,
            phase0,
            shape: Vec::new(),
            phases: Vec::new(),
        };
        match class {
            StarClass::Rrab => {
                let feh = rng.uniform_in(self.feh[0], self.feh[1]);
                // Metal-poor RRab pulsate longer (about -0.1 d per dex), with scatter.
                let period =
                    (0.58 - 0.1 * (feh + 1.5) + 0.05 * rng.normal()).clamp(self.rrab_period[0], self.rrab_period[1]);
                let log_p = period.log10();
                let amplitude =
                    (-2.627 - 22.046 * log_p - 30.876 * log_p * log_p + 0.08 * rng.normal()).clamp(0.2, 1.4);
                let phi31 = (feh + 5.038 + 5.394 * period) / 1.345 + 0.05 * rng.normal();
                let phi21 = 2.45 + 0.25 * (phi31 - 5.0) + 0.05 * rng.normal();
                let ratios = [
                    1.0,
                    rng.uniform_in(0.45, 0.52),
                    rng.uniform_in(0.30, 0.36),
                    rng.uniform_in(0.18, 0.24),
                    rng.uniform_in(0.10, 0.14),
                ];
                // phi_k = phi_k1 + k phi_1; the higher harmonics continue the sawtooth pattern.
                // A sawtooth has phi_k1 = pi (1 - k); RRab depart from it by about (k - 1) times
                // (pi - phi21), which the higher harmonics follow.
                let phi1 = 0.0;
                let delta = std::f64::consts::PI - phi21;
                let sawtooth = |k: f64| std::f64::consts::PI * (1.0 - k) - (k - 1.0) * delta;
                let phi_k1 = [0.0, phi21, phi31, sawtooth(4.0).rem_euclid(TAU), sawtooth(5.0).rem_euclid(TAU)];
                p.phases = phi_k1.iter().enumerate().map(|(k, d)| d + (k + 1) as f64 * phi1).collect();
                p.shape = ratios.to_vec();
                p.period = period;
                p.feh = Some(feh);
                p.scale_to(amplitude);
            }
            StarClass::Rrc => {
                p.period = rng.uniform_in(self.rrc_period[0], self.rrc_period[1]);
                p.shape = vec![1.0, rng.uniform_in(0.08, 0.2), rng.uniform_in(0.03, 0.1)];
                p.phases = vec![0.0, rng.uniform_in(4.5, 5.2), rng.uniform_in(2.5, 4.0)];
                p.scale_to(rng.uniform_in(0.25, 0.6));
            }
            StarClass::Detached => {
                p.period = rng.log_uniform_in(0.5, 10.0);
                let primary = rng.uniform_in(0.2, 1.0);
                p.shape = vec![primary, primary * rng.uniform_in(0.05, 0.8), rng.uniform_in(0.01, 0.04)];
                p.amplitude = peak_to_peak(|x| p.magnitude_at_phase(x));
            }
            StarClass::Contact => {
                p.period = rng.uniform_in(0.25, 0.6);
                p.shape = vec![rng.uniform_in(0.1, 0.7), rng.uniform_in(0.0, 0.05)];
                p.amplitude = peak_to_peak(|x| p.magnitude_at_phase(x));
            }
            StarClass::Constant => {}
        }
        // Drawn last, so that the other parameters are those of a one-band simulator.
        let [low, high] = intrinsic_colour(class);
        p.colour = rng.uniform_in(low, high) + rng.uniform_in(self.reddening[0], self.reddening[1]);
        p
    }

    /// The configured bands, in order.
    pub fn observed_bands(&self) -> Result<Vec<Band>, SimConfigError> {
        self.bands.iter().map(|name| band(name).map_err(|e| SimConfigError::new("bands", e))).collect()
    }

    /// Star `index` of the set seeded by `seed`: a pure function of its arguments.
    /// Bands the simulator does not know are observed in V (`validate` refuses them).
    pub fn simulate(&self, seed: u64, index: u64) -> SimulatedStar {
        let params = self.sample_params(seed, index);
        let bands: Vec<Band> = self.bands.iter().map(|name| band(name).unwrap_or(crate::bands::BANDS[1])).collect();
        let observe = |k: usize, band: &Band| {
            let stream = if k == 0 { STREAM_OBSERVE } else { STREAM_MORE_BANDS + k as u64 };
            self.cadence.observe(|t| params.magnitude_in(band, t), &mut SampleRng::for_sample(seed, stream, index))
        };
        let first = bands.first().copied().unwrap_or(crate::bands::BANDS[1]);
        let curve = observe(0, &first);
        let more_bands = bands.iter().enumerate().skip(1).map(|(k, b)| observe(k, b)).collect();
        let model: Vec<f64> = curve.time.iter().map(|&t| params.magnitude_in(&first, t)).collect();
        let mean = model.iter().sum::<f64>() / model.len().max(1) as f64;
        let snr = model.iter().zip(&curve.err).map(|(m, e)| ((m - mean) / e).powi(2)).sum::<f64>().sqrt();
        SimulatedStar { params, curve, more_bands, snr }
    }
}

impl StarParams {
    /// Scales the Fourier amplitudes so that the curve's peak-to-peak range is `amplitude`.
    fn scale_to(&mut self, amplitude: f64) {
        let current = peak_to_peak(|x| self.magnitude_at_phase(x));
        let factor = amplitude / current.max(1e-12);
        self.shape.iter_mut().for_each(|a| *a *= factor);
        self.amplitude = amplitude;
    }

    /// The share of the cycle spent brightening, from minimum light (largest magnitude) to
    /// maximum light.
    pub fn rise_fraction(&self) -> f64 {
        let values: Vec<f64> = (0..2000).map(|k| self.magnitude_at_phase(k as f64 / 2000.0)).collect();
        let argmax = |v: &[f64]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0);
        let faintest = argmax(&values);
        let brightest = (0..values.len()).min_by(|&a, &b| values[a].total_cmp(&values[b])).unwrap_or(0);
        ((brightest as f64 - faintest as f64) / 2000.0).rem_euclid(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::light_curve::best_period;

    #[test]
    fn classes_have_their_periods_amplitudes_and_shapes() {
        let config = VariableStarSimConfig::default();
        let mut counts = [0usize; 5];
        let mut rises = Vec::new();
        for i in 0..600 {
            let p = config.sample_params(4, i);
            counts[p.class as usize] += 1;
            match p.class {
                StarClass::Rrab => {
                    assert!((0.28..=0.98).contains(&p.period) && (0.2..=1.4).contains(&p.amplitude), "{p:?}");
                    rises.push(p.rise_fraction());
                    assert!(p.feh.is_some_and(|f| (-2.5..=0.0).contains(&f)));
                }
                StarClass::Rrc => {
                    assert!((0.2..=0.45).contains(&p.period) && (0.25..=0.6).contains(&p.amplitude));
                    assert!(p.rise_fraction() > 0.35, "RRc rise {}", p.rise_fraction());
                }
                StarClass::Detached => assert!((0.5..=10.0).contains(&p.period) && p.amplitude >= 0.2),
                StarClass::Contact => assert!((0.25..=0.6).contains(&p.period) && p.amplitude > 0.0),
                StarClass::Constant => assert_eq!(p.amplitude, 0.0),
            }
        }
        rises.sort_by(f64::total_cmp);
        // Steep rise, slow decline: RRab typically rise in 0.1-0.3 of the cycle (here the median
        // is 0.19; the most metal-poor, with phi31 far below 5, rise in up to 0.38).
        let (median, p95) = (rises[rises.len() / 2], rises[rises.len() * 95 / 100]);
        assert!(median < 0.25 && p95 < 0.4, "RRab rise fractions: median {median}, 95th percentile {p95}");
        // Default shares 30/15/15/15/25%, within sampling noise.
        assert!((140..220).contains(&counts[0]) && (100..200).contains(&counts[4]), "{counts:?}");
    }

    #[test]
    fn the_shape_carries_the_metallicity_through_phi31() {
        // phi31 = phi_3 - 3 phi_1 measured from each observed RRab curve (a least-squares sine
        // series of three harmonics on the folded points) recovers [Fe/H] through Jurcsik &
        // Kovacs within the relation's scatter and the noise.
        let config = VariableStarSimConfig {
            cadence: Cadence { points: [150, 300], ..Cadence::default() },
            magnitude: [14.0, 15.0],
            ..Default::default()
        };
        let mut residuals = Vec::new();
        for i in 0..300 {
            let star = config.simulate(8, i);
            let p = &star.params;
            if p.class != StarClass::Rrab {
                continue;
            }
            let phases: Vec<f64> = star.curve.time.iter().map(|t| (t / p.period).rem_euclid(1.0)).collect();
            let points: Vec<(f64, f64)> = phases.iter().copied().zip(star.curve.mag.iter().copied()).collect();
            let fit = crate::curve_features::fourier_fit(&points, 3).unwrap();
            let (phi1, phi3) = (fit[0].1, fit[2].1);
            let phi31 = (phi3 - 3.0 * phi1).rem_euclid(TAU);
            let feh = -5.038 - 5.394 * p.period + 1.345 * phi31;
            residuals.push(feh - p.feh.unwrap());
        }
        let n = residuals.len();
        assert!(n > 50, "{n} RRab");
        let rms = (residuals.iter().map(|r| r * r).sum::<f64>() / n as f64).sqrt();
        // The simulator's scatter in phi31 is 0.05 rad: 0.07 dex through the relation.
        assert!(rms < 0.15, "[Fe/H] from the measured phi31 scatters by {rms:.3} dex");
        assert!(residuals.iter().all(|r| r.abs() < 0.5), "{residuals:?}");
    }

    #[test]
    fn the_period_of_a_simulated_rr_lyrae_is_recovered_by_the_periodogram() {
        let config = VariableStarSimConfig {
            cadence: Cadence { points: [150, 300], ..Cadence::default() },
            magnitude: [14.0, 16.0],
            ..Default::default()
        };
        let mut recovered = 0;
        let mut tried = 0;
        for i in 0..60 {
            let star = config.simulate(3, i);
            if !matches!(star.params.class, StarClass::Rrab | StarClass::Rrc) {
                continue;
            }
            tried += 1;
            let found = best_period(&star.curve, 0.8, 5.5);
            recovered += usize::from((found / star.params.period - 1.0).abs() < 2e-3);
        }
        assert!(tried > 15 && recovered as f64 >= 0.9 * tried as f64, "{recovered} of {tried} periods recovered");
    }

    #[test]
    fn each_band_has_its_own_epochs_colour_and_amplitude() {
        let one = VariableStarSimConfig::default();
        let two = VariableStarSimConfig { bands: vec!["V".into(), "I".into()], ..Default::default() };
        assert!(two.validate().is_ok());
        let (mut rr, mut binaries) = (0, 0);
        for i in 0..200 {
            let (a, b) = (one.simulate(5, i), two.simulate(5, i));
            // The first band is the one-band simulator's curve, unchanged.
            assert_eq!(a.curve, b.curve);
            assert!(a.more_bands.is_empty() && b.more_bands.len() == 1);
            let (p, i_band) = (&b.params, &b.more_bands[0]);
            assert_ne!(i_band.time, b.curve.time, "each band has its own epochs");
            assert!((0.0..=2.3).contains(&p.colour), "{}", p.colour);
            let ib = band("I").unwrap();
            // One whole cycle, evenly: the Fourier terms average to nothing.
            let phases = (0..200).map(|k| k as f64 / 200.0 * p.period);
            let (v, i): (Vec<f64>, Vec<f64>) = phases.map(|t| (p.magnitude_at(t), p.magnitude_in(&ib, t))).unzip();
            let range =
                |m: &[f64]| m.iter().fold(f64::MIN, |a, &b| a.max(b)) - m.iter().fold(f64::MAX, |a, &b| a.min(b));
            let mean = |m: &[f64]| m.iter().sum::<f64>() / m.len() as f64;
            // V - I is the star's colour, in noiseless light and (within the noise) as observed.
            assert!((mean(&v) - mean(&i) - p.colour).abs() < 1e-9);
            let observed = mean(&b.curve.mag) - mean(&i_band.mag);
            assert!((observed - p.colour).abs() < 0.35 + 2.0 * p.amplitude, "{observed} vs {}", p.colour);
            match p.class {
                StarClass::Rrab | StarClass::Rrc => {
                    rr += 1;
                    assert!((range(&i) / range(&v) - 0.63).abs() < 1e-6);
                }
                StarClass::Detached | StarClass::Contact if p.amplitude > 0.0 => {
                    binaries += 1;
                    assert!((range(&i) / range(&v) - 1.0).abs() < 1e-6, "grey eclipses");
                }
                _ => {}
            }
        }
        assert!(rr > 50 && binaries > 30, "{rr} RR Lyrae, {binaries} binaries");
        let bad = VariableStarSimConfig { bands: vec!["V".into(), "K".into()], ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "bands");
        let twice = VariableStarSimConfig { bands: vec!["V".into(), "V".into()], ..Default::default() };
        assert!(twice.validate().unwrap_err().to_string().contains("listed twice"));
    }

    #[test]
    fn stars_are_reproducible_and_faint_stars_are_noisier() {
        let config = VariableStarSimConfig::default();
        assert_eq!(config.simulate(1, 5), config.simulate(1, 5));
        let star = config.simulate(1, 5);
        assert_eq!(star.curve.time.len(), star.curve.mag.len());
        // Each point's error is the cadence's error at the star's true magnitude then.
        for (&t, &e) in star.curve.time.iter().zip(&star.curve.err) {
            assert!((e - config.cadence.error(star.params.magnitude_at(t))).abs() < 1e-12, "t = {t}: {e}");
        }
        // Over many stars: the residuals from the true curve are that error's Gaussian (the
        // median |residual| / error is 0.674 for a normal), and the faintest quarter of the
        // stars scatters several times more than the brightest quarter.
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut pooled = Vec::new();
        let mut stars: Vec<(f64, f64)> = (0..200)
            .map(|i| {
                let s = config.simulate(7, i);
                let residuals: Vec<f64> = s
                    .curve
                    .time
                    .iter()
                    .zip(&s.curve.mag)
                    .map(|(&t, &m)| (m - s.params.magnitude_at(t)).abs())
                    .collect();
                pooled.extend(residuals.iter().zip(&s.curve.err).map(|(r, e)| r / e));
                (s.params.mean_mag, median(residuals))
            })
            .collect();
        assert!((median(pooled) - 0.674).abs() < 0.03, "median |residual| / error");
        stars.sort_by(|a, b| a.0.total_cmp(&b.0));
        let quarter = |q: &[(f64, f64)]| q.iter().map(|s| s.1).sum::<f64>() / q.len() as f64;
        let (bright, faint) = (quarter(&stars[..50]), quarter(&stars[150..]));
        assert!(faint > 3.0 * bright, "faint stars scatter {faint:.4} mag, bright ones {bright:.4}");
        assert!(config.validate().is_ok());
        let bad = VariableStarSimConfig { class_fractions: [0.5, 0.5, 0.2, 0.0], ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "class_fractions");
    }
}
