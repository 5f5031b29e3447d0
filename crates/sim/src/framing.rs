//! Per-galaxy framing (`framing_half_light_radii`): each galaxy's image spans a fixed number of
//! its own half-light radii, as survey cutout services frame galaxies by their size (Galaxy Zoo
//! DECaLS: 424 pixels of 0.04 Petrosian half-light radii each, about 17 radii across), instead of
//! a fixed pixel scale. Big galaxies are then drawn with coarse pixels and a sharp seeing, small
//! ones with fine pixels and a seeing that blurs them; every galaxy fills about the same share
//! of its picture, so its apparent size no longer tells anything.
//!
//! The sky noise per pixel stays the configured one: pictures framed like this are compared in
//! units of their own sky noise (the SDSS-like stretch softens at twice it, and pictures of
//! another survey are redrawn against theirs), so a galaxy's look depends on its flux, not on
//! its pixel size.

use std::borrow::Cow;

use crate::galaxy::{GalaxyParams, GalaxySimConfig};

impl GalaxySimConfig {
    /// The settings galaxy `p` is drawn with: these, or, with `framing_half_light_radii` above
    /// 0, these at the pixel scale at which the image spans that many of the galaxy's
    /// half-light radii ([`GalaxyParams::half_light_radius_arcsec`], at least half the seeing
    /// FWHM, so that stars and compact galaxies are framed by the seeing).
    pub fn framed(&self, p: &GalaxyParams) -> Cow<'_, GalaxySimConfig> {
        if self.framing_half_light_radii <= 0.0 {
            return Cow::Borrowed(self);
        }
        let radius = p.half_light_radius_arcsec().max(0.5 * self.psf_fwhm_arcsec);
        let mut framed = self.clone();
        framed.pixel_scale_arcsec = self.framing_half_light_radii * radius / self.image_size as f64;
        Cow::Owned(framed)
    }

    /// Whether each galaxy is framed by its own size (`pixel_scale_arcsec` is then unused).
    pub fn frames_each_galaxy(&self) -> bool {
        self.framing_half_light_radii > 0.0
    }
}

#[cfg(test)]
mod tests {
    use crate::galaxy::{GalaxyKind, GalaxySimConfig};
    use crate::image::Image;

    /// The radius holding half of an image's light around its centre, pixels.
    fn half_light_radius_px(image: &Image) -> f64 {
        let c = image.width as f64 / 2.0;
        let mut light: Vec<(f64, f64)> = (0..image.height)
            .flat_map(|y| (0..image.width).map(move |x| (x, y)))
            .map(|(x, y)| {
                let r = ((x as f64 + 0.5 - c).powi(2) + (y as f64 + 0.5 - c).powi(2)).sqrt();
                (r, image.get(x, y))
            })
            .collect();
        light.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = light.iter().map(|l| l.1).sum();
        let mut sum = 0.0;
        light
            .iter()
            .find(|l| {
                sum += l.1;
                sum >= total / 2.0
            })
            .map_or(0.0, |l| l.0)
    }

    #[test]
    fn every_galaxy_spans_the_same_number_of_its_half_light_radii() {
        let fixed = GalaxySimConfig {
            image_size: 96,
            pixel_scale_arcsec: 0.4,
            psf_fwhm_arcsec: 0.3,
            elliptical_fraction: 1.0,
            star_fraction: 0.0,
            // Exponential profiles: little of their light falls outside 6 radii.
            sersic_index: [1.0, 1.0],
            half_light_radius_arcsec: [1.5, 6.0],
            axis_ratio: [1.0, 1.0],
            max_offset_px: 0.0,
            foreground_stars: 0.0,
            merger_probability: 0.0,
            ..GalaxySimConfig::default()
        };
        let framed = GalaxySimConfig { framing_half_light_radii: 12.0, ..fixed.clone() };
        let mut fixed_radii = Vec::new();
        for index in 0..12 {
            let p = fixed.sample_params(3, index);
            assert_eq!(p.kind, GalaxyKind::Elliptical);
            // Unframed, the drawn radius follows the galaxy's size at 0.4"/px.
            let r = half_light_radius_px(&fixed.render_shape(&p));
            fixed_radii.push(r);
            // Framed, it is 96 / 12 = 8 pixels for every galaxy (the pixel grid and the
            // seeing move it by a fraction of a pixel).
            let r = half_light_radius_px(&framed.render_shape(&p));
            assert!((r - 8.0).abs() < 1.0, "galaxy {index}: half-light radius {r} px, not about 8");
            assert!(framed.framed(&p).pixel_scale_arcsec > 0.0);
        }
        let spread =
            fixed_radii.iter().cloned().fold(0.0, f64::max) / fixed_radii.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread > 2.0, "the unframed sizes vary ({fixed_radii:?})");
        // Unframed settings are used as they are.
        let p = fixed.sample_params(3, 0);
        assert!(matches!(fixed.framed(&p), std::borrow::Cow::Borrowed(_)));
        assert!(!fixed.frames_each_galaxy() && framed.frames_each_galaxy());
    }

    #[test]
    fn a_star_is_framed_by_the_seeing() {
        let config = GalaxySimConfig {
            image_size: 64,
            star_fraction: 1.0,
            elliptical_fraction: 0.0,
            psf_fwhm_arcsec: 1.2,
            framing_half_light_radii: 8.0,
            ..GalaxySimConfig::default()
        };
        let p = config.sample_params(1, 0);
        assert_eq!(p.kind, GalaxyKind::Star);
        // 8 x (1.2 / 2) arcsec across 64 pixels.
        assert!((config.framed(&p).pixel_scale_arcsec - 0.075).abs() < 1e-12);
    }
}
