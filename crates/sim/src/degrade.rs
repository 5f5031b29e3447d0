//! The degradation of GalaxyGAN (Schawinski et al. 2017, MNRAS 467, L110): a galaxy image seen
//! through worse seeing (convolved with a Gaussian PSF) and with more noise (white noise added so
//! that the noise standard deviation grows by a chosen factor), in counts, before the stretch. The
//! network learns to recover the original from it; Richardson-Lucy deconvolution with the same
//! PSF ([`crate::deconvolution`]) is the classical baseline.

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::image::Image;
use crate::psf::GaussianPsf;
use crate::rng::SampleRng;

/// The degradation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DegradeConfig {
    /// FWHM of the Gaussian PSF the image is convolved with, arcsec (Schawinski et al.: 1.4").
    pub psf_fwhm_arcsec: f64,
    /// Factor by which the noise standard deviation grows (>= 1; Schawinski et al.: 1.2).
    pub noise_factor: f64,
}

impl Default for DegradeConfig {
    fn default() -> Self {
        Self { psf_fwhm_arcsec: 1.4, noise_factor: 1.2 }
    }
}

impl DegradeConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(self.psf_fwhm_arcsec.is_finite() && self.psf_fwhm_arcsec > 0.0) {
            return Err(SimConfigError::new(
                "psf_fwhm_arcsec",
                format!("must be positive, got {}", self.psf_fwhm_arcsec),
            ));
        }
        if !(self.noise_factor.is_finite() && self.noise_factor >= 1.0) {
            return Err(SimConfigError::new("noise_factor", format!("must be at least 1, got {}", self.noise_factor)));
        }
        Ok(())
    }

    /// The degrading PSF at `pixel_scale` arcsec per pixel.
    pub fn psf(&self, pixel_scale: f64) -> GaussianPsf {
        GaussianPsf { fwhm: self.psf_fwhm_arcsec / pixel_scale }
    }

    /// The standard deviation of white noise that, added to an image of noise `sigma` blurred by
    /// `psf`, makes its noise `noise_factor * sigma` (blurring averages noise down by the root
    /// of the sum of the squared kernel taps).
    pub fn added_sigma(&self, sigma: f64, psf: GaussianPsf) -> f64 {
        let taps = psf.kernel_1d();
        let blurred = sigma * taps.iter().map(|t| t * t).sum::<f64>();
        ((self.noise_factor * sigma).powi(2) - blurred * blurred).max(0.0).sqrt()
    }

    /// `image` (counts, noise `sigma` per pixel) blurred and with noise added.
    pub fn degrade(&self, image: &Image, sigma: f64, pixel_scale: f64, rng: &mut SampleRng) -> Image {
        let psf = self.psf(pixel_scale);
        let extra = self.added_sigma(sigma, psf);
        let mut out = psf.convolve(image);
        out.data.iter_mut().for_each(|v| *v += extra * rng.normal());
        out
    }
}

/// GalaxyGAN's display scale of a flux (their `roou.py`): clipped to `[-white / 40, white]` (the
/// paper's -0.1 to 4 nanomaggies), scaled to [0, 1], then `asinh(10 x) / 3`. The sky noise stays
/// a few hundredths of the range, so the scores measure the galaxy, not the noise.
pub fn galaxygan_stretch(value: f64, white: f64) -> f32 {
    let floor = white / 40.0;
    let x = (value.clamp(-floor, white) + floor) / (white + floor);
    ((10.0 * x).asinh() / 3.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_galaxygan_stretch_maps_its_clip_range_onto_zero_to_one() {
        assert_eq!(galaxygan_stretch(-1e9, 40.0), 0.0);
        assert_eq!(galaxygan_stretch(-1.0, 40.0), 0.0);
        assert!((f64::from(galaxygan_stretch(40.0, 40.0)) - 10f64.asinh() / 3.0).abs() < 1e-6);
        assert_eq!(galaxygan_stretch(1e9, 40.0), galaxygan_stretch(40.0, 40.0));
        // Halfway in flux: asinh(10 * 20.5 / 41) / 3.
        assert!((f64::from(galaxygan_stretch(19.5, 40.0)) - 5f64.asinh() / 3.0).abs() < 1e-6);
    }

    #[test]
    fn blank_sky_ends_with_the_noise_asked_for_and_a_point_with_the_psf() {
        let config = DegradeConfig { psf_fwhm_arcsec: 2.0, noise_factor: 1.5 };
        let (n, sigma) = (160, 3.0);
        let mut rng = SampleRng::for_sample(2, 0, 0);
        let noisy = Image { width: n, height: n, data: (0..n * n).map(|_| sigma * rng.normal()).collect() };
        let out = config.degrade(&noisy, sigma, 1.0, &mut rng);
        // Away from the edges (where the blur sees zeros beyond the image).
        let inner: Vec<f64> =
            (10..n - 10).flat_map(|y| (10..n - 10).map(move |x| (x, y))).map(|(x, y)| out.get(x, y)).collect();
        let sd = (inner.iter().map(|v| v * v).sum::<f64>() / inner.len() as f64).sqrt();
        assert!((sd / (1.5 * sigma) - 1.0).abs() < 0.03, "noise {sd} vs {}", 1.5 * sigma);
        // A noiseless point source becomes the PSF: its FWHM is 2 pixels (2" at 1"/px).
        let mut point = Image::zeros(41, 41);
        point.data[20 * 41 + 20] = 1.0;
        let calm = DegradeConfig { noise_factor: 1.0, ..config };
        let blurred = calm.degrade(&point, 0.0, 1.0, &mut rng);
        let (_, _, sxx, _, _) = blurred.moments();
        let expected = (2.0 / crate::psf::GAUSSIAN_FWHM_PER_SIGMA).powi(2) + 1.0 / 12.0;
        assert!((sxx / expected - 1.0).abs() < 0.05, "{sxx} vs {expected}");
        assert_eq!(DegradeConfig { noise_factor: 0.5, ..config }.validate().unwrap_err().field, "noise_factor");
    }
}
