//! Point-spread functions and their convolution with images.
//!
//! The Gaussian PSF is separable, so we convolve rows then columns with a 1-D kernel whose
//! taps are the Gaussian integrated over each pixel (differences of `erf`), which keeps the
//! kernel exactly normalised even when it is narrower than a pixel. The Moffat (1969) PSF,
//! `I(r) ~ [1 + (r/alpha)^2]^-beta` with `FWHM = 2 alpha sqrt(2^(1/beta) - 1)`, has the broad
//! wings of real ground-based seeing; it is not separable, so it is a 2-D kernel sampled 5 x 5
//! per pixel out to the radius that holds 99.5% of the light, then normalised.

use serde::{Deserialize, Serialize};

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
        PsfKernel::Separable(self.kernel_1d()).convolve(image)
    }
}

/// The seeing: a Gaussian or a Moffat profile of a given FWHM (pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Psf {
    /// Gaussian.
    Gaussian(GaussianPsf),
    /// Moffat.
    Moffat(MoffatPsf),
}

/// The PSF family, as written in a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PsfShape {
    /// A Gaussian.
    Gaussian,
    /// A Moffat profile (`psf_moffat_beta` sets its wings).
    Moffat,
}

impl Psf {
    /// The image convolved with this PSF (zero outside the image).
    pub fn convolve(&self, image: &Image) -> Image {
        self.kernel().convolve(image)
    }

    /// The taps, to convolve several images with one computation of them.
    pub fn kernel(&self) -> PsfKernel {
        match self {
            Psf::Gaussian(p) => PsfKernel::Separable(p.kernel_1d()),
            Psf::Moffat(p) => p.kernel(),
        }
    }
}

/// A circular Moffat PSF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoffatPsf {
    /// Full width at half maximum, pixels.
    pub fwhm: f64,
    /// Power-law index of the wings (2.5 to 4.5 for atmospheric seeing; larger is more
    /// Gaussian).
    pub beta: f64,
}

impl MoffatPsf {
    /// The core radius `alpha`, pixels.
    pub fn alpha(&self) -> f64 {
        self.fwhm / (2.0 * (2f64.powf(1.0 / self.beta) - 1.0).sqrt())
    }

    /// The radius enclosing `fraction` of the light: `F(<r) = 1 - [1 + (r/alpha)^2]^(1-beta)`.
    pub fn radius_enclosing(&self, fraction: f64) -> f64 {
        self.alpha() * ((1.0 - fraction).powf(1.0 / (1.0 - self.beta)) - 1.0).sqrt()
    }

    /// The pixel-integrated kernel, `(2 radius + 1)^2` taps, normalised to 1.
    pub fn kernel_2d(&self) -> (usize, Vec<f64>) {
        let radius = self.radius_enclosing(0.995).ceil().max(1.0) as i64;
        let side = (2 * radius + 1) as usize;
        let alpha2 = self.alpha().powi(2);
        let sub = 5;
        let mut taps = Vec::with_capacity(side * side);
        for ky in -radius..=radius {
            for kx in -radius..=radius {
                let mut acc = 0.0;
                for j in 0..sub {
                    for i in 0..sub {
                        let x = kx as f64 - 0.5 + (i as f64 + 0.5) / sub as f64;
                        let y = ky as f64 - 0.5 + (j as f64 + 0.5) / sub as f64;
                        acc += (1.0 + (x * x + y * y) / alpha2).powf(-self.beta);
                    }
                }
                taps.push(acc);
            }
        }
        let total: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= total);
        (side, taps)
    }

    /// The image convolved with this PSF (zero outside the image).
    pub fn convolve(&self, image: &Image) -> Image {
        self.kernel().convolve(image)
    }

    /// The taps of [`kernel_2d`](Self::kernel_2d) as a [`PsfKernel`].
    pub fn kernel(&self) -> PsfKernel {
        let (side, taps) = self.kernel_2d();
        PsfKernel::Square { side, taps }
    }
}

/// A PSF's taps, computed once to convolve several images (a galaxy's bands): the Moffat
/// kernel samples the profile 25 times a tap with `powf`.
#[derive(Debug, Clone, PartialEq)]
pub enum PsfKernel {
    /// 1-D taps applied along rows, then columns.
    Separable(Vec<f64>),
    /// A square 2-D kernel of `side x side` taps, row-major.
    Square {
        /// Taps per side (odd).
        side: usize,
        /// The taps.
        taps: Vec<f64>,
    },
}

impl PsfKernel {
    /// The image convolved with these taps (zero outside the image).
    pub fn convolve(&self, image: &Image) -> Image {
        match self {
            PsfKernel::Separable(taps) => convolve_axis(&convolve_axis(image, taps, true), taps, false),
            PsfKernel::Square { side, taps } => scatter_2d(image, *side, taps),
        }
    }
}

/// Scatters each non-zero source pixel through the square kernel (blank sky, most of a padded
/// cutout, costs nothing). The loops run over the taps that land inside the image only.
fn scatter_2d(image: &Image, side: usize, taps: &[f64]) -> Image {
    let radius = side / 2;
    let (w, h) = (image.width, image.height);
    let mut out = Image::zeros(w, h);
    for sy in 0..h {
        // Kernel rows whose output row y = sy + ky - radius is inside the image.
        let rows = radius.saturating_sub(sy)..side.min(h + radius - sy);
        for sx in 0..w {
            let v = image.data[sy * w + sx];
            if v == 0.0 {
                continue;
            }
            let columns = radius.saturating_sub(sx)..side.min(w + radius - sx);
            let x_first = sx + columns.start - radius;
            for ky in rows.clone() {
                let y = sy + ky - radius;
                let row = &taps[ky * side..][columns.clone()];
                let target = &mut out.data[y * w + x_first..][..row.len()];
                for (o, tap) in target.iter_mut().zip(row) {
                    *o += v * tap;
                }
            }
        }
    }
    out
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
    fn the_clipped_scatter_is_the_direct_sum_over_every_tap_inside_the_image() {
        let (side, taps) = MoffatPsf { fwhm: 2.0, beta: 3.5 }.kernel_2d();
        let radius = (side / 2) as i64;
        // Wider and narrower than the kernel, with light at the edges and corners.
        for (w, h) in [(23usize, 17usize), (5, 3)] {
            let mut image = Image::zeros(w, h);
            for (k, v) in image.data.iter_mut().enumerate() {
                *v = if k % 3 == 1 { 0.0 } else { (k as f64 * 0.37).sin() + 1.5 };
            }
            let out = PsfKernel::Square { side, taps: taps.clone() }.convolve(&image);
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let mut want = 0.0;
                    for sy in 0..h as i64 {
                        for sx in 0..w as i64 {
                            let (ky, kx) = (y - sy + radius, x - sx + radius);
                            if (0..side as i64).contains(&ky) && (0..side as i64).contains(&kx) {
                                want +=
                                    image.data[(sy * w as i64 + sx) as usize] * taps[(ky * side as i64 + kx) as usize];
                            }
                        }
                    }
                    let got = out.data[(y * w as i64 + x) as usize];
                    assert!((got - want).abs() < 1e-12, "{w}x{h} pixel ({x}, {y}): {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn moffat_has_the_requested_fwhm_and_its_analytic_growth_curve() {
        for (fwhm, beta) in [(3.0, 2.5), (5.0, 3.5), (8.0, 4.765)] {
            let psf = MoffatPsf { fwhm, beta };
            // The profile is at half its peak at r = FWHM / 2.
            let half = (1.0 + (fwhm / 2.0 / psf.alpha()).powi(2)).powf(-beta);
            assert!((half - 0.5).abs() < 1e-12);
            let size = 121;
            let mut img = Image::zeros(size, size);
            img.data[60 * size + 60] = 1.0;
            let out = psf.convolve(&img);
            assert!((out.sum() - 1.0).abs() < 1e-9, "flux {}", out.sum());
            // Light inside a circle of radius FWHM vs the analytic growth curve (the kernel is
            // cut at 99.5% and renormalised, hence the 1% tolerance).
            let r = fwhm;
            let inside: f64 = (0..size * size)
                .filter(|i| {
                    let (x, y) = ((i % size) as f64 - 60.0, (i / size) as f64 - 60.0);
                    x * x + y * y <= r * r
                })
                .map(|i| out.data[i])
                .sum();
            let analytic = 1.0 - (1.0 + (r / psf.alpha()).powi(2)).powf(1.0 - beta);
            assert!((inside - analytic).abs() < 0.01 + 0.02 * (3.0 / fwhm), "{inside} vs {analytic} (fwhm {fwhm})");
        }
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf(0.5), erf(1), erf(2) from scipy.special.erf.
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 2e-7);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 2e-7);
        assert!((erf(-2.0) + 0.995_322_265_018_952_7).abs() < 2e-7);
    }
}
