//! Point-spread functions and their convolution with images.
//!
//! The Gaussian PSF is separable, so we convolve rows then columns with a 1-D kernel whose
//! taps are the Gaussian integrated over each pixel (differences of `erf`), which keeps the
//! kernel exactly normalised even when it is narrower than a pixel.

use crate::image::Image;

/// FWHM = 2 sqrt(2 ln 2) sigma for a Gaussian.
pub const GAUSSIAN_FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949_4;

/// A circular Gaussian PSF of the given full width at half maximum (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianPsf {
    /// Full width at half maximum, pixels.
    pub fwhm: f64,
}

impl GaussianPsf {
    /// The standard deviation, pixels.
    pub fn sigma(&self) -> f64 {
        self.fwhm / GAUSSIAN_FWHM_PER_SIGMA
    }

    /// Pixel-integrated, normalised 1-D taps from `-radius` to `+radius` (radius = ceil(4 sigma)).
    pub fn kernel_1d(&self) -> Vec<f64> {
        let sigma = self.sigma().max(1e-6);
        let radius = (4.0 * sigma).ceil() as i64;
        let scale = 1.0 / (sigma * std::f64::consts::SQRT_2);
        let mut taps: Vec<f64> =
            (-radius..=radius).map(|k| erf((k as f64 + 0.5) * scale) - erf((k as f64 - 0.5) * scale)).collect();
        let total: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= total);
        taps
    }

    /// The image convolved with this PSF (zero outside the image: flux near the edges leaks out).
    pub fn convolve(&self, image: &Image) -> Image {
        let taps = self.kernel_1d();
        let rows = convolve_axis(image, &taps, true);
        convolve_axis(&rows, &taps, false)
    }
}

fn convolve_axis(image: &Image, taps: &[f64], along_x: bool) -> Image {
    let radius = (taps.len() / 2) as i64;
    let (w, h) = (image.width as i64, image.height as i64);
    let mut out = Image::zeros(image.width, image.height);
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (k, tap) in taps.iter().enumerate() {
                let offset = k as i64 - radius;
                let (sx, sy) = if along_x { (x - offset, y) } else { (x, y - offset) };
                if sx >= 0 && sx < w && sy >= 0 && sy < h {
                    acc += tap * image.data[(sy * w + sx) as usize];
                }
            }
            out.data[(y * w + x) as usize] = acc;
        }
    }
    out
}

/// The error function (Abramowitz & Stegun 7.1.26; absolute error below 1.5e-7, far below the
/// noise of any simulated image).
pub fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_source_has_the_requested_fwhm_and_unit_flux() {
        for fwhm in [1.5, 3.0, 6.0] {
            let size = 81;
            let mut img = Image::zeros(size, size);
            img.data[40 * size + 40] = 1.0;
            let out = GaussianPsf { fwhm }.convolve(&img);
            assert!((out.sum() - 1.0).abs() < 1e-9, "flux {}", out.sum());
            let (cx, cy, sxx, syy, sxy) = out.moments();
            assert!((cx - 40.5).abs() < 1e-9 && (cy - 40.5).abs() < 1e-9);
            assert!(sxy.abs() < 1e-9);
            // Pixel integration adds the variance of a unit box, 1/12, to each axis.
            let sigma = ((sxx + syy) / 2.0 - 1.0 / 12.0).sqrt();
            let measured = sigma * GAUSSIAN_FWHM_PER_SIGMA;
            assert!((measured / fwhm - 1.0).abs() < 0.01, "fwhm {measured} for {fwhm}");
        }
    }

    #[test]
    fn profile_at_half_maximum_is_half_the_peak() {
        // The FWHM read directly off the 1-D profile of a wide Gaussian.
        let psf = GaussianPsf { fwhm: 10.0 };
        let sigma = psf.sigma();
        let peak = 1.0;
        let at_half_width = (-(5.0f64 * 5.0) / (2.0 * sigma * sigma)).exp();
        assert!((at_half_width / peak - 0.5).abs() < 1e-12);
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf(0.5), erf(1), erf(2) from scipy.special.erf.
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 2e-7);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 2e-7);
        assert!((erf(-2.0) + 0.995_322_265_018_952_7).abs() < 2e-7);
    }
}
