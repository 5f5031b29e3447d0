//! Analytic galaxy profiles on a pixel grid, the data of the semantic autoencoder (Aragon-Calvo
//! & Carvajal 2020, MNRAS 498, 3713): `I(x, y) = exp(-r^(1/n))` with
//! `r = sqrt((x'/a)^2 + (y'/b)^2)`, `b = a (1 - e)`, `(x', y')` the pixel position rotated by the
//! position angle `theta`. `n = 1` is the paper's exponential profile; other `n` give Sersic
//! profiles of scale length `a` (peak 1 at the centre in both cases).
//!
//! The profile is sampled at pixel centres on `linspace(-half_span, half_span, size)` in both
//! axes (the paper's 64 pixels span `[-1, 1] * 4/64`); the input images carry Gaussian noise,
//! the clean image is the target. A sample is a pure function of `(seed, index)`.

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::galaxy::check_range;
use crate::image::Image;
use crate::rng::SampleRng;

const STREAM_PARAMS: u64 = 20;
const STREAM_NOISE: u64 = 21;

/// Which profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// `exp(-r)`: the paper's.
    #[default]
    Exponential,
    /// `exp(-r^(1/n))`, with the index `n` a fourth parameter.
    Sersic,
}

/// The parameters of one profile image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProfileParams {
    /// Scale length `a` along the major axis, in the grid's units.
    pub scale: f64,
    /// Ellipticity `e = 1 - b/a`.
    pub ellipticity: f64,
    /// Position angle of the major axis from +x towards +y, degrees in [0, 180).
    pub angle_deg: f64,
    /// Sersic index (1 for the exponential).
    pub sersic_n: f64,
}

impl ProfileParams {
    /// The parameters as the autoencoder's targets, in the order of
    /// [`ProfileSimConfig::parameter_names`].
    pub fn as_targets(&self, kind: ProfileKind) -> Vec<f64> {
        let mut v = vec![self.scale, self.ellipticity, self.angle_deg];
        if kind == ProfileKind::Sersic {
            v.push(self.sersic_n);
        }
        v
    }
}

/// Settings of the profile simulator (the paper's values by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileSimConfig {
    /// `exponential` (the paper's) or `sersic`.
    pub profile: ProfileKind,
    /// Side of the square image, pixels.
    pub image_size: usize,
    /// Half the width of the grid: pixel centres run from `-half_span` to `half_span`.
    pub half_span: f64,
    /// Range of the scale length `a` (uniform).
    pub scale: [f64; 2],
    /// Range of the ellipticity (uniform).
    pub ellipticity: [f64; 2],
    /// Range of the position angle, degrees (uniform).
    pub angle_deg: [f64; 2],
    /// Range of the Sersic index (uniform; `sersic` only).
    pub sersic_index: [f64; 2],
    /// Standard deviation of the Gaussian noise added to the input image (peak brightness 1).
    pub noise_sigma: f64,
}

impl Default for ProfileSimConfig {
    fn default() -> Self {
        Self {
            profile: ProfileKind::Exponential,
            image_size: 64,
            half_span: 4.0 / 64.0,
            scale: [0.01, 0.05],
            ellipticity: [0.2, 0.75],
            angle_deg: [0.0, 180.0],
            sersic_index: [0.5, 4.0],
            noise_sigma: 0.025,
        }
    }
}

/// One sample: what made it, its clean image and its noisy image.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedProfile {
    /// The parameters.
    pub params: ProfileParams,
    /// The profile without noise (the target image).
    pub clean: Image,
    /// The profile with noise (the input image).
    pub noisy: Image,
}

impl ProfileSimConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(4..=1024).contains(&self.image_size) {
            return Err(SimConfigError::new(
                "image_size",
                format!("must be 4 to 1024 pixels, got {}", self.image_size),
            ));
        }
        if !(self.half_span.is_finite() && self.half_span > 0.0) {
            return Err(SimConfigError::new("half_span", format!("must be positive, got {}", self.half_span)));
        }
        if !(self.noise_sigma.is_finite() && self.noise_sigma >= 0.0) {
            return Err(SimConfigError::new(
                "noise_sigma",
                format!("must be zero or positive, got {}", self.noise_sigma),
            ));
        }
        check_range("scale", self.scale, 1e-9, 1e9)?;
        check_range("ellipticity", self.ellipticity, 0.0, 0.99)?;
        check_range("angle_deg", self.angle_deg, 0.0, 180.0)?;
        check_range("sersic_index", self.sersic_index, 0.2, 10.0)?;
        Ok(())
    }

    /// The names of the parameters, as target names.
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names = vec!["scale".to_string(), "ellipticity".to_string(), "angle".to_string()];
        if self.profile == ProfileKind::Sersic {
            names.push("sersic_n".to_string());
        }
        names
    }

    /// The parameters of sample `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> ProfileParams {
        let mut rng = SampleRng::for_sample(seed, STREAM_PARAMS, index);
        let scale = rng.uniform_in(self.scale[0], self.scale[1]);
        let ellipticity = rng.uniform_in(self.ellipticity[0], self.ellipticity[1]);
        let angle_deg = rng.uniform_in(self.angle_deg[0], self.angle_deg[1]);
        let sersic_n = match self.profile {
            ProfileKind::Exponential => 1.0,
            ProfileKind::Sersic => rng.uniform_in(self.sersic_index[0], self.sersic_index[1]),
        };
        ProfileParams { scale, ellipticity, angle_deg, sersic_n }
    }

    /// The grid coordinate of pixel column (or row) `i`.
    pub fn coordinate(&self, i: usize) -> f64 {
        let n = self.image_size;
        -self.half_span + 2.0 * self.half_span * i as f64 / (n - 1) as f64
    }

    /// The clean image of `p`, sampled at pixel centres; `data[y * size + x]`.
    pub fn render(&self, p: &ProfileParams) -> Image {
        let n = self.image_size;
        let (s, c) = p.angle_deg.to_radians().sin_cos();
        let (a, b) = (p.scale, p.scale * (1.0 - p.ellipticity));
        let mut image = Image::zeros(n, n);
        for row in 0..n {
            let y = self.coordinate(row);
            for col in 0..n {
                let x = self.coordinate(col);
                let (u, v) = (x * c + y * s, -x * s + y * c);
                let r = ((u / a).powi(2) + (v / b).powi(2)).sqrt();
                image.data[row * n + col] = (-r.powf(1.0 / p.sersic_n)).exp();
            }
        }
        image
    }

    /// Sample `index` of the set seeded by `seed`.
    pub fn simulate(&self, seed: u64, index: u64) -> SimulatedProfile {
        let params = self.sample_params(seed, index);
        let clean = self.render(&params);
        let mut rng = SampleRng::for_sample(seed, STREAM_NOISE, index);
        let mut noisy = clean.clone();
        noisy.data.iter_mut().for_each(|v| *v += self.noise_sigma * rng.normal());
        SimulatedProfile { params, clean, noisy }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_falls_by_e_at_one_scale_length_along_the_major_axis_and_b_along_the_minor() {
        // 65 pixels: the centre pixel sits at the origin.
        let config = ProfileSimConfig { image_size: 65, half_span: 1.0, ..ProfileSimConfig::default() };
        assert!(config.coordinate(32).abs() < 1e-12);
        let p = ProfileParams { scale: 0.25, ellipticity: 0.5, angle_deg: 90.0, sersic_n: 1.0 };
        let image = config.render(&p);
        let at = |col: usize, row: usize| image.get(col, row);
        assert!((at(32, 32) - 1.0).abs() < 1e-12, "peak 1 at the centre");
        // Major axis along +y (90 degrees): 8 pixels = 0.25 = a.
        assert!((at(32, 40) - (-1f64).exp()).abs() < 1e-9, "{}", at(32, 40));
        // Minor axis along x: b = a (1 - e) = 0.125 = 4 pixels.
        assert!((at(36, 32) - (-1f64).exp()).abs() < 1e-9, "{}", at(36, 32));
        // A Sersic profile of index n: exp(-r^(1/n)); at r = 4 scale lengths, exp(-4^(1/2)).
        let sersic = ProfileParams { sersic_n: 2.0, ellipticity: 0.0, ..p };
        let image = config.render(&sersic);
        assert!((image.get(32, 64) - (-2f64).exp()).abs() < 1e-9);
    }

    #[test]
    fn samples_draw_their_parameters_in_range_and_add_the_noise_asked_for() {
        let config = ProfileSimConfig::default();
        let a = config.simulate(4, 9);
        assert_eq!(a, config.simulate(4, 9));
        assert_eq!(a.params.sersic_n, 1.0);
        let residual: Vec<f64> = a.noisy.data.iter().zip(&a.clean.data).map(|(n, c)| n - c).collect();
        let mean = residual.iter().sum::<f64>() / residual.len() as f64;
        let sd = (residual.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / residual.len() as f64).sqrt();
        assert!((sd - 0.025).abs() < 0.002 && mean.abs() < 0.002, "noise sd {sd}, mean {mean}");
        for i in 0..500 {
            let p = config.sample_params(1, i);
            assert!((0.01..0.05).contains(&p.scale) && (0.2..0.75).contains(&p.ellipticity));
            assert!((0.0..180.0).contains(&p.angle_deg));
        }
        let sersic = ProfileSimConfig { profile: ProfileKind::Sersic, ..config.clone() };
        assert_eq!(sersic.parameter_names(), ["scale", "ellipticity", "angle", "sersic_n"]);
        assert!((0.5..4.0).contains(&sersic.sample_params(1, 3).sersic_n));
        let bad = ProfileSimConfig { ellipticity: [0.2, 1.5], ..config };
        assert_eq!(bad.validate().unwrap_err().field, "ellipticity");
    }
}
