//! Simulated galaxy images in three bands (g, r, i) shown as SDSS-like RGB cutouts, with the
//! Galaxy Zoo 2 answer fractions derived from the generating parameters.
//!
//! One galaxy is one Sersic component of random index, size, axis ratio, angle and brightness,
//! with a colour that reddens with the index (bulge-dominated galaxies are redder), convolved
//! with a Gaussian PSF, on a sky with Poisson and read noise, mapped to RGB (i, r, g) with an
//! asinh stretch like the SDSS colour composites (Lupton et al. 2004). The galaxy-morphology
//! work adds disks, bars, arms and companions on top of this.

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::galaxy_zoo::{NUM_ANSWERS, answer_fractions};
use crate::image::Image;
use crate::noise::NoiseModel;
use crate::psf::GaussianPsf;
use crate::rng::SampleRng;
use crate::sersic::Sersic;

const STREAM_PARAMS: u64 = 0;
const STREAM_NOISE: u64 = 1;

/// Settings of the galaxy simulator; every field has a default, so a config may name only what
/// it changes. Ranges are `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GalaxySimConfig {
    /// Side of the square image, pixels.
    pub image_size: usize,
    /// Pixel scale, arcsec per pixel (1.188 is the SDSS 0.396" binned by 3, as Dieleman et al.).
    pub pixel_scale_arcsec: f64,
    /// FWHM of the Gaussian seeing, arcsec.
    pub psf_fwhm_arcsec: f64,
    /// Sersic index range (uniform).
    pub sersic_index: [f64; 2],
    /// Circularised half-light radius range, arcsec (log-uniform).
    pub half_light_radius_arcsec: [f64; 2],
    /// Axis ratio b/a range (uniform).
    pub axis_ratio: [f64; 2],
    /// Total r-band flux range, counts (log-uniform).
    pub flux: [f64; 2],
    /// Sky background per pixel, counts.
    pub sky: f64,
    /// Read noise per pixel, counts.
    pub read_noise: f64,
    /// Largest offset of the galaxy centre from the image centre, pixels.
    pub max_offset_px: f64,
    /// Surface brightness (counts per pixel) that the asinh stretch maps to full intensity.
    pub white_point: f64,
}

impl Default for GalaxySimConfig {
    fn default() -> Self {
        Self {
            image_size: 64,
            pixel_scale_arcsec: 1.188,
            psf_fwhm_arcsec: 1.4,
            sersic_index: [0.5, 5.0],
            half_light_radius_arcsec: [2.0, 9.0],
            axis_ratio: [0.12, 1.0],
            flux: [3_000.0, 200_000.0],
            sky: 80.0,
            read_noise: 5.0,
            max_offset_px: 1.5,
            white_point: 1_500.0,
        }
    }
}

/// The parameters that generated one galaxy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GalaxyParams {
    /// Sersic index.
    pub sersic_n: f64,
    /// Circularised half-light radius, arcsec.
    pub half_light_radius_arcsec: f64,
    /// Axis ratio b/a.
    pub axis_ratio: f64,
    /// Position angle, degrees counter-clockwise from +x.
    pub angle_deg: f64,
    /// Total r-band flux, counts.
    pub flux_r: f64,
    /// g - r colour, magnitudes.
    pub g_minus_r: f64,
    /// r - i colour, magnitudes.
    pub r_minus_i: f64,
    /// Centre offset from the image centre, pixels.
    pub offset_x: f64,
    /// Centre offset from the image centre, pixels.
    pub offset_y: f64,
    /// Signal-to-noise ratio of the r-band flux inside the half-light radius.
    pub snr: f64,
}

/// One simulated galaxy: its parameters, its RGB image and its Galaxy Zoo answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedGalaxy {
    /// What generated it.
    pub params: GalaxyParams,
    /// RGB image, channel-major (`[3, size, size]`), values in [0, 1].
    pub rgb: Vec<f32>,
    /// The 37 cumulative Galaxy Zoo 2 answer fractions.
    pub answers: [f64; NUM_ANSWERS],
}

fn check_range(field: &'static str, r: [f64; 2], min: f64, max: f64) -> Result<(), SimConfigError> {
    if !(r[0].is_finite() && r[1].is_finite() && r[0] <= r[1]) {
        return Err(SimConfigError::new(field, format!("must be [low, high] with low <= high, got {r:?}")));
    }
    if r[0] < min || r[1] > max {
        return Err(SimConfigError::new(field, format!("must lie within [{min}, {max}], got {r:?}")));
    }
    Ok(())
}

impl GalaxySimConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(8..=1024).contains(&self.image_size) {
            return Err(SimConfigError::new(
                "image_size",
                format!("must be 8 to 1024 pixels, got {}", self.image_size),
            ));
        }
        let positive = [
            ("pixel_scale_arcsec", self.pixel_scale_arcsec),
            ("psf_fwhm_arcsec", self.psf_fwhm_arcsec),
            ("white_point", self.white_point),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(SimConfigError::new(field, format!("must be positive, got {v}")));
            }
        }
        for (field, v) in [("sky", self.sky), ("read_noise", self.read_noise), ("max_offset_px", self.max_offset_px)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimConfigError::new(field, format!("must be zero or positive, got {v}")));
            }
        }
        check_range("sersic_index", self.sersic_index, 0.3, 8.0)?;
        check_range("half_light_radius_arcsec", self.half_light_radius_arcsec, 1e-3, 1e3)?;
        check_range("axis_ratio", self.axis_ratio, 0.02, 1.0)?;
        check_range("flux", self.flux, 1e-3, 1e12)?;
        Ok(())
    }

    fn noise(&self) -> NoiseModel {
        NoiseModel { sky: self.sky, read_noise: self.read_noise }
    }

    /// The generating parameters of galaxy `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> GalaxyParams {
        let mut rng = SampleRng::for_sample(seed, STREAM_PARAMS, index);
        let sersic_n = rng.uniform_in(self.sersic_index[0], self.sersic_index[1]);
        let r_e = rng.log_uniform_in(self.half_light_radius_arcsec[0], self.half_light_radius_arcsec[1]);
        let axis_ratio = rng.uniform_in(self.axis_ratio[0], self.axis_ratio[1]);
        let angle_deg = rng.uniform_in(0.0, 180.0);
        let flux_r = rng.log_uniform_in(self.flux[0], self.flux[1]);
        // Redder with the index (bulges are old), with scatter.
        let redness = (0.8 * ((sersic_n - 1.0) / 3.0).clamp(0.0, 1.0) + 0.2 * rng.uniform()).clamp(0.0, 1.0);
        let offset_x = rng.uniform_in(-self.max_offset_px, self.max_offset_px);
        let offset_y = rng.uniform_in(-self.max_offset_px, self.max_offset_px);
        let r_e_px = r_e / self.pixel_scale_arcsec;
        let noise = self.noise().background_sigma();
        let inside = 0.5 * flux_r;
        let snr = inside / (inside + std::f64::consts::PI * r_e_px * r_e_px * noise * noise).sqrt();
        GalaxyParams {
            sersic_n,
            half_light_radius_arcsec: r_e,
            axis_ratio,
            angle_deg,
            flux_r,
            g_minus_r: 0.35 + 0.5 * redness,
            r_minus_i: 0.15 + 0.25 * redness,
            offset_x,
            offset_y,
            snr,
        }
    }

    /// Galaxy `index` of the set seeded by `seed`: a pure function of its arguments.
    pub fn simulate(&self, seed: u64, index: u64) -> SimulatedGalaxy {
        let params = self.sample_params(seed, index);
        let rgb = self.render(&params, &mut SampleRng::for_sample(seed, STREAM_NOISE, index));
        SimulatedGalaxy { params, rgb, answers: answer_fractions(&params) }
    }

    /// The noiseless r-band image of unit flux, seen through the PSF.
    pub fn render_shape(&self, p: &GalaxyParams) -> Image {
        let size = self.image_size;
        let centre = size as f64 / 2.0;
        let profile = Sersic {
            flux: 1.0,
            r_e: p.half_light_radius_arcsec / self.pixel_scale_arcsec,
            n: p.sersic_n,
            q: p.axis_ratio,
            angle: p.angle_deg.to_radians(),
            x0: centre + p.offset_x,
            y0: centre + p.offset_y,
        };
        let mut image = Image::zeros(size, size);
        profile.render_into(&mut image);
        GaussianPsf { fwhm: self.psf_fwhm_arcsec / self.pixel_scale_arcsec }.convolve(&image)
    }

    /// Renders the galaxy in g, r, i with noise and returns the stretched RGB (i, r, g) planes.
    fn render(&self, p: &GalaxyParams, rng: &mut SampleRng) -> Vec<f32> {
        let shape = self.render_shape(p);
        let noise = self.noise();
        let flux_g = p.flux_r * 10f64.powf(-0.4 * p.g_minus_r);
        let flux_i = p.flux_r * 10f64.powf(0.4 * p.r_minus_i);
        // Stretch softening at twice the sky noise: faint outskirts stay visible, like SDSS.
        let soft = 2.0 * noise.background_sigma();
        let norm = 1.0 / (self.white_point / soft).asinh();
        let mut rgb = Vec::with_capacity(3 * shape.data.len());
        for flux in [flux_i, p.flux_r, flux_g] {
            let mut band =
                Image { width: shape.width, height: shape.height, data: shape.data.iter().map(|v| v * flux).collect() };
            noise.apply(&mut band, rng);
            rgb.extend(band.data.iter().map(|v| ((v / soft).asinh() * norm).clamp(0.0, 1.0) as f32));
        }
        rgb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_galaxy_is_a_pure_function_of_seed_and_index() {
        let config = GalaxySimConfig::default();
        let a = config.simulate(9, 17);
        let b = config.simulate(9, 17);
        let c = config.simulate(9, 18);
        assert_eq!(a, b);
        assert_ne!(a.rgb, c.rgb);
        assert_eq!(a.rgb.len(), 3 * 64 * 64);
        assert!(a.rgb.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn parameters_stay_in_their_configured_ranges() {
        let config = GalaxySimConfig::default();
        for index in 0..500 {
            let p = config.sample_params(3, index);
            assert!((0.5..=5.0).contains(&p.sersic_n));
            assert!((2.0..=9.0).contains(&p.half_light_radius_arcsec));
            assert!((0.12..=1.0).contains(&p.axis_ratio));
            assert!(p.g_minus_r > 0.0 && p.r_minus_i > 0.0 && p.snr > 0.0);
        }
    }

    #[test]
    fn the_image_is_centred_on_the_galaxy_and_elongated_along_its_angle() {
        let config = GalaxySimConfig { image_size: 96, ..GalaxySimConfig::default() };
        let mut p = config.sample_params(1, 0);
        p.axis_ratio = 0.4;
        p.angle_deg = 90.0;
        p.offset_x = 2.0;
        p.offset_y = -1.0;
        let shape = config.render_shape(&p);
        let (cx, cy, sxx, syy, _) = shape.moments();
        assert!((cx - 50.0).abs() < 0.05 && (cy - 47.0).abs() < 0.05, "centroid {cx}, {cy}");
        assert!(syy > 2.0 * sxx, "major axis along y: sxx {sxx}, syy {syy}");
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = GalaxySimConfig { axis_ratio: [0.5, 0.2], ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "axis_ratio");
        let bad = GalaxySimConfig { image_size: 4, ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "image_size");
        assert!(GalaxySimConfig::default().validate().is_ok());
    }
}
