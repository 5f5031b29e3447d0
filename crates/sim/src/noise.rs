//! Detector noise: sky background, Poisson (shot) noise on source plus sky, Gaussian read noise.

use crate::image::Image;
use crate::rng::SampleRng;

/// A CCD-like noise model in counts (electrons: gain 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseModel {
    /// Sky background per pixel (counts); subtracted again after the noise is drawn.
    pub sky: f64,
    /// Read noise per pixel (counts, standard deviation).
    pub read_noise: f64,
}

impl NoiseModel {
    /// The noise standard deviation of a blank, sky-subtracted pixel.
    pub fn background_sigma(&self) -> f64 {
        (self.sky + self.read_noise * self.read_noise).sqrt()
    }

    /// Replaces each pixel's expected counts `s` by `Poisson(s + sky) + N(0, read^2) - sky`.
    pub fn apply(&self, image: &mut Image, rng: &mut SampleRng) {
        for v in &mut image.data {
            let expected = v.max(0.0) + self.sky;
            *v = rng.poisson(expected) + self.read_noise * rng.normal() - self.sky;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_sky_has_the_predicted_noise_level() {
        let noise = NoiseModel { sky: 120.0, read_noise: 5.0 };
        let mut img = Image::zeros(200, 200);
        noise.apply(&mut img, &mut SampleRng::for_sample(3, 1, 0));
        let n = img.data.len() as f64;
        let mean = img.sum() / n;
        let std = (img.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((std / noise.background_sigma() - 1.0).abs() < 0.02, "std {std}");
    }

    #[test]
    fn bright_pixels_have_poisson_variance() {
        let noise = NoiseModel { sky: 0.0, read_noise: 0.0 };
        let mut img = Image { width: 100, height: 100, data: vec![1000.0; 10_000] };
        noise.apply(&mut img, &mut SampleRng::for_sample(4, 1, 0));
        let mean = img.sum() / 1e4;
        let var = img.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1e4;
        assert!((mean - 1000.0).abs() < 1.5, "mean {mean}");
        assert!((var / 1000.0 - 1.0).abs() < 0.05, "variance {var}");
    }
}
