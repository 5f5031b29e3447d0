//! The faint sky around a target: field galaxies and stars scattered over a cutout, as survey
//! images show them (a Galaxy Zoo DECaLS cutout holds tens of faint galaxies and stars around the
//! one the volunteers classify; the simulated galaxies had none until this was added).
//!
//! Counts are set per square arcminute above the image's 5-sigma point-source detection limit
//! (so one setting reads the same at any pixel scale or cutout size) and follow power laws in
//! flux, `N(> S) ~ S^(-2.5 s)` for a count slope `s = d log10 N / d mag`: 0.35 for galaxies (the
//! faint r-band galaxy counts, r = 20-24; Metcalfe et al. 2001, MNRAS 323, 795; Yasuda et al.
//! 2001, AJ 122, 1104 find 0.45 brighter) and 0.15 for stars at high Galactic latitude. The
//! brightest field source is capped at a fraction of the target's flux (brighter neighbours are
//! the simulators' own companions and foreground stars). Field galaxies are small Sersic
//! profiles, larger when brighter (`r_e` = 0.5" at the limit, times `(S / S_lim)^0.3`, scattered by
//! a factor 0.6-1.6), with red, intermediate or blue colours.

use crate::components::add_point;
use crate::image::Image;
use crate::rng::SampleRng;
use crate::sersic::Sersic;

/// `d log10 N / d mag` of faint galaxy counts.
const GALAXY_COUNT_SLOPE: f64 = 0.35;
/// `d log10 N / d mag` of star counts at high Galactic latitude.
const STAR_COUNT_SLOPE: f64 = 0.15;
/// The brightest field source, as a share of the target's flux.
const BRIGHTEST_SHARE: f64 = 0.3;
/// Half-light radius of a field galaxy at the detection limit, arcsec.
const RADIUS_AT_LIMIT_ARCSEC: f64 = 0.5;

/// Where field light goes: one image per colour group of the scene (old and red, intermediate,
/// young and blue, point sources).
pub(crate) struct FieldTargets<'a> {
    pub red: &'a mut Image,
    pub intermediate: &'a mut Image,
    pub blue: &'a mut Image,
    pub stars: &'a mut Image,
}

/// A cutout's field: its densities and the image it is drawn on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// Field galaxies per square arcminute brighter than the detection limit.
    pub galaxies_per_arcmin2: f64,
    /// Field stars per square arcminute brighter than the detection limit.
    pub stars_per_arcmin2: f64,
    /// Side of the square image, pixels.
    pub image_size: usize,
    /// Arcsec per pixel.
    pub pixel_scale_arcsec: f64,
    /// The 5-sigma point-source detection limit, counts.
    pub limit: f64,
}

impl Field {
    /// Square arcminutes the cutout covers.
    pub fn area_arcmin2(&self) -> f64 {
        (self.image_size as f64 * self.pixel_scale_arcsec / 60.0).powi(2)
    }

    /// Mean numbers of field galaxies and stars in a cutout whose target has flux
    /// `target_flux`: those between the detection limit and the brightness cap.
    pub fn expected_counts(&self, target_flux: f64) -> (f64, f64) {
        let area = self.area_arcmin2();
        (
            area * self.galaxies_per_arcmin2 * self.share_below_cap(GALAXY_COUNT_SLOPE, target_flux),
            area * self.stars_per_arcmin2 * self.share_below_cap(STAR_COUNT_SLOPE, target_flux),
        )
    }

    /// The share of sources above the limit that are also below the cap.
    fn share_below_cap(&self, slope: f64, target_flux: f64) -> f64 {
        let cap = BRIGHTEST_SHARE * target_flux;
        if cap <= self.limit {
            return 0.0;
        }
        1.0 - (cap / self.limit).powf(-2.5 * slope)
    }

    /// A flux between the limit and the cap from the power law of `slope` (inverse transform).
    fn draw_flux(&self, slope: f64, target_flux: f64, rng: &mut SampleRng) -> f64 {
        let gamma = 2.5 * slope;
        let floor = 1.0 - self.share_below_cap(slope, target_flux);
        let u = floor + (1.0 - floor) * rng.uniform();
        self.limit * u.max(f64::MIN_POSITIVE).powf(-1.0 / gamma)
    }

    /// Draws the field of one cutout into `targets`, in counts before the seeing.
    pub(crate) fn draw(&self, target_flux: f64, targets: FieldTargets, rng: &mut SampleRng) {
        let (galaxies, stars) = self.expected_counts(target_flux);
        let size = self.image_size as f64;
        for _ in 0..rng.poisson(galaxies) as usize {
            let flux = self.draw_flux(GALAXY_COUNT_SLOPE, target_flux, rng);
            let radius_arcsec = RADIUS_AT_LIMIT_ARCSEC * (flux / self.limit).powf(0.3) * rng.log_uniform_in(0.6, 1.6);
            let r_e = radius_arcsec / self.pixel_scale_arcsec;
            let galaxy = Sersic {
                flux,
                r_e,
                n: rng.uniform_in(0.8, 4.0),
                q: rng.uniform_in(0.3, 1.0),
                angle: rng.uniform_in(0.0, std::f64::consts::PI),
                x0: rng.uniform_in(0.0, size),
                y0: rng.uniform_in(0.0, size),
            };
            let colour = rng.uniform();
            let image = if colour < 0.4 {
                &mut *targets.red
            } else if colour < 0.8 {
                &mut *targets.intermediate
            } else {
                &mut *targets.blue
            };
            // Ten half-light radii hold nearly all of a small galaxy's light above the noise.
            galaxy.render_into_box(image, (10.0 * r_e).max(4.0));
        }
        for _ in 0..rng.poisson(stars) as usize {
            let flux = self.draw_flux(STAR_COUNT_SLOPE, target_flux, rng);
            add_point(targets.stars, rng.uniform_in(0.0, size), rng.uniform_in(0.0, size), flux);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(galaxies: f64, stars: f64) -> Field {
        Field {
            galaxies_per_arcmin2: galaxies,
            stars_per_arcmin2: stars,
            image_size: 98,
            pixel_scale_arcsec: 1.188,
            limit: 100.0,
        }
    }

    fn draw(f: &Field, target_flux: f64, seed: u64) -> [Image; 4] {
        let mut images = [(); 4].map(|_| Image::zeros(f.image_size, f.image_size));
        let [red, intermediate, blue, stars] = &mut images;
        f.draw(target_flux, FieldTargets { red, intermediate, blue, stars }, &mut SampleRng::for_sample(seed, 0, 0));
        images
    }

    #[test]
    fn counts_scale_with_area_and_follow_the_power_law_between_limit_and_cap() {
        let f = field(8.0, 1.0);
        // 98 x 1.188" = 116.4" = 1.940': 3.765 square arcminutes.
        assert!((f.area_arcmin2() - 3.765).abs() < 1e-3);
        // A target 1e6 counts bright caps the field at 3e5 = 3000 limits: galaxies above it are
        // 3000^-0.875 = 0.09% of all, stars 3000^-0.375 = 5%.
        let (g, s) = f.expected_counts(1e6);
        assert!((g - f.area_arcmin2() * 8.0 * (1.0 - 3000f64.powf(-0.875))).abs() < 1e-9);
        assert!((s - f.area_arcmin2() * (1.0 - 3000f64.powf(-0.375))).abs() < 1e-9);
        // A target fainter than the limit over the cap share has no field.
        assert_eq!(f.expected_counts(300.0), (0.0, 0.0));
        // Drawn fluxes: all between limit and cap, and the share above 10 limits is 10^-0.875.
        let mut rng = SampleRng::for_sample(1, 0, 0);
        let fluxes: Vec<f64> = (0..40_000).map(|_| f.draw_flux(GALAXY_COUNT_SLOPE, 1e6, &mut rng)).collect();
        assert!(fluxes.iter().all(|&v| (100.0..=3e5).contains(&v)));
        let above = fluxes.iter().filter(|&&v| v > 1000.0).count() as f64 / fluxes.len() as f64;
        let expected = (10f64.powf(-0.875) - 3000f64.powf(-0.875)) / (1.0 - 3000f64.powf(-0.875));
        assert!((above - expected).abs() < 0.006, "{above} vs {expected}");
    }

    #[test]
    fn the_drawn_field_holds_the_expected_light_in_its_colour_groups() {
        let f = field(8.0, 1.0);
        let (mut galaxy_light, mut star_light, mut blue_light) = (0.0, 0.0, 0.0);
        let cutouts = 200;
        for seed in 0..cutouts {
            let [red, intermediate, blue, stars] = draw(&f, 1e5, seed);
            galaxy_light += red.sum() + intermediate.sum() + blue.sum();
            blue_light += blue.sum();
            star_light += stars.sum();
        }
        // Mean flux of the truncated power law: N * gamma / (1 - gamma) * limit * (c^(1-gamma) - 1) / (1 - c^-gamma).
        let mean_light = |slope: f64, density: f64| {
            let (gamma, c) = (2.5 * slope, 3e4_f64 / 100.0);
            let n = f.area_arcmin2() * density * (1.0 - c.powf(-gamma));
            n * 100.0 * gamma / (1.0 - gamma) * (c.powf(1.0 - gamma) - 1.0) / (1.0 - c.powf(-gamma))
        };
        let per_cutout = galaxy_light / cutouts as f64;
        let expected = mean_light(GALAXY_COUNT_SLOPE, 8.0);
        // Galaxies near the edges lose light off the image, so a little less than the total.
        assert!(per_cutout < expected && per_cutout > 0.8 * expected, "{per_cutout} vs {expected}");
        let stars_per_cutout = star_light / cutouts as f64;
        let expected_stars = mean_light(STAR_COUNT_SLOPE, 1.0);
        assert!((stars_per_cutout / expected_stars - 1.0).abs() < 0.25, "{stars_per_cutout} vs {expected_stars}");
        // One in five galaxies is blue.
        assert!((blue_light / galaxy_light - 0.2).abs() < 0.1, "{}", blue_light / galaxy_light);
    }

    #[test]
    fn no_density_draws_nothing() {
        for image in draw(&field(0.0, 0.0), 1e6, 3) {
            assert_eq!(image.sum(), 0.0);
        }
    }
}
