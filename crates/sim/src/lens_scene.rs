//! Strong-lens scenes for lens finding (the LSST-like simulations of CMU DeepLens, Lanusse et
//! al. 2018, MNRAS 473, 3895): an elliptical lens galaxy (Sersic light, SIE mass with external
//! shear) and, for lenses, a Sersic source behind it ray-traced through the deflection
//! ([`crate::lensing`]); seeing per band, sky and Poisson plus read noise. Negatives are the
//! same scenes without the lensed source, and optionally look-alikes: the same galaxy with an
//! unlensed blue companion or a ring of star-forming knots.
//!
//! Each scene is a pure function of `(seed, index)` and records what made it: Einstein radius,
//! the S/N of the lensed source, its magnification. The S/N is the matched-filter one of the
//! noiseless, seeing-convolved lensed source in the first band, `sqrt(sum s^2) / sigma_sky`,
//! and sets the source's brightness; the lens light's S/N is set the same way.

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::components::add_knots;
use crate::galaxy::check_range;
use crate::image::Image;
use crate::lensing::{Sie, render_lensed};
use crate::noise::NoiseModel;
use crate::psf::GaussianPsf;
use crate::rng::SampleRng;
use crate::sersic::Sersic;

const STREAM_PARAMS: u64 = 10;
const STREAM_NOISE: u64 = 11;

/// One photometric band: its seeing and the colours of the two galaxies in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensBand {
    /// Name (for the record: `r`, `g`, ...).
    pub name: String,
    /// Gaussian seeing FWHM, arcsec.
    pub psf_fwhm_arcsec: f64,
    /// Lens-galaxy flux relative to the first band.
    pub lens_colour: f64,
    /// Source flux relative to the first band (sources are bluer than lenses).
    pub source_colour: f64,
}

/// Settings of the lens simulator; every field has a default. Ranges are `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LensSimConfig {
    /// Side of the square image, pixels.
    pub image_size: usize,
    /// Pixel scale, arcsec (LSST: 0.2).
    pub pixel_scale_arcsec: f64,
    /// The bands, stacked as channels; the first one defines the S/N.
    pub bands: Vec<LensBand>,
    /// Share of scenes that are lenses.
    pub lens_fraction: f64,
    /// Einstein radius range, arcsec (uniform).
    pub einstein_radius_arcsec: [f64; 2],
    /// Axis ratio range of the lens mass and light (uniform).
    pub lens_axis_ratio: [f64; 2],
    /// Largest external shear (each component uniform in [-max, max]).
    pub max_shear: f64,
    /// Sersic index range of the lens light (uniform).
    pub lens_sersic_index: [f64; 2],
    /// Half-light radius range of the lens light, arcsec (log-uniform).
    pub lens_half_light_arcsec: [f64; 2],
    /// S/N range of the lens light in the first band (log-uniform).
    pub lens_snr: [f64; 2],
    /// Sersic index range of the source (uniform).
    pub source_sersic_index: [f64; 2],
    /// Half-light radius range of the source, arcsec (log-uniform).
    pub source_half_light_arcsec: [f64; 2],
    /// Axis ratio range of the source (uniform).
    pub source_axis_ratio: [f64; 2],
    /// S/N range of the lensed source in the first band (log-uniform).
    pub source_snr: [f64; 2],
    /// Largest source offset from the lens axis, in Einstein radii (uniform over the disc).
    pub source_max_offset: f64,
    /// Share of negatives made to look like lenses (a blue companion or a ring of knots).
    pub lookalike_fraction: f64,
    /// Sky background per pixel, counts.
    pub sky: f64,
    /// Read noise per pixel, counts.
    pub read_noise: f64,
}

impl Default for LensSimConfig {
    fn default() -> Self {
        Self {
            image_size: 45,
            pixel_scale_arcsec: 0.2,
            bands: vec![LensBand { name: "r".into(), psf_fwhm_arcsec: 0.7, lens_colour: 1.0, source_colour: 1.0 }],
            lens_fraction: 0.5,
            einstein_radius_arcsec: [0.5, 2.5],
            lens_axis_ratio: [0.5, 1.0],
            max_shear: 0.05,
            lens_sersic_index: [3.0, 5.0],
            lens_half_light_arcsec: [0.5, 2.0],
            lens_snr: [50.0, 500.0],
            source_sersic_index: [0.5, 2.0],
            source_half_light_arcsec: [0.1, 0.5],
            source_axis_ratio: [0.4, 1.0],
            source_snr: [3.0, 100.0],
            source_max_offset: 0.8,
            lookalike_fraction: 0.0,
            sky: 100.0,
            read_noise: 5.0,
        }
    }
}

/// What a negative scene carries besides the lens galaxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookalike {
    /// Nothing.
    None,
    /// An unlensed blue companion at about the Einstein radius.
    Companion,
    /// A ring of blue star-forming knots at about the Einstein radius.
    KnotRing,
}

/// The parameters that made one scene (lengths arcsec, angles radians).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LensParams {
    /// Whether the source is lensed into the image.
    pub is_lens: bool,
    /// The lens mass.
    pub einstein_radius: f64,
    /// Lens axis ratio.
    pub lens_q: f64,
    /// Lens position angle.
    pub lens_angle: f64,
    /// External shear components.
    pub shear: [f64; 2],
    /// Lens-light Sersic index.
    pub lens_n: f64,
    /// Lens-light half-light radius.
    pub lens_r_e: f64,
    /// Lens-light S/N in the first band.
    pub lens_snr: f64,
    /// Source Sersic index.
    pub source_n: f64,
    /// Source half-light radius.
    pub source_r_e: f64,
    /// Source axis ratio.
    pub source_q: f64,
    /// Source position angle.
    pub source_angle: f64,
    /// Source position in the source plane.
    pub source_offset: [f64; 2],
    /// S/N of the lensed source in the first band (for negatives: of the source had it been there).
    pub source_snr: f64,
    /// The negative's look-alike, if any.
    pub lookalike: Lookalike,
}

/// One simulated scene.
#[derive(Debug, Clone, PartialEq)]
pub struct LensScene {
    /// What made it.
    pub params: LensParams,
    /// One noisy image per band, counts (sky-subtracted).
    pub bands: Vec<Image>,
    /// The sky noise of a blank pixel, counts.
    pub sigma: f64,
    /// Lensed-source flux over intrinsic source flux (1 for negatives).
    pub magnification: f64,
}

impl LensSimConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(8..=1024).contains(&self.image_size) {
            return Err(SimConfigError::new(
                "image_size",
                format!("must be 8 to 1024 pixels, got {}", self.image_size),
            ));
        }
        if !(self.pixel_scale_arcsec.is_finite() && self.pixel_scale_arcsec > 0.0) {
            return Err(SimConfigError::new(
                "pixel_scale_arcsec",
                format!("must be positive, got {}", self.pixel_scale_arcsec),
            ));
        }
        if self.bands.is_empty() {
            return Err(SimConfigError::new("bands", "name at least one band"));
        }
        for b in &self.bands {
            for (what, v) in [
                ("psf_fwhm_arcsec", b.psf_fwhm_arcsec),
                ("lens_colour", b.lens_colour),
                ("source_colour", b.source_colour),
            ] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(SimConfigError::new(
                        "bands",
                        format!("band {:?}: {what} must be positive, got {v}", b.name),
                    ));
                }
            }
        }
        for (field, v) in [("lens_fraction", self.lens_fraction), ("lookalike_fraction", self.lookalike_fraction)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(SimConfigError::new(field, format!("must be a probability in [0, 1], got {v}")));
            }
        }
        for (field, v) in [
            ("max_shear", self.max_shear),
            ("source_max_offset", self.source_max_offset),
            ("sky", self.sky),
            ("read_noise", self.read_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimConfigError::new(field, format!("must be zero or positive, got {v}")));
            }
        }
        if self.sky + self.read_noise <= 0.0 {
            return Err(SimConfigError::new(
                "sky",
                "sky and read_noise cannot both be zero (the S/N would be infinite)",
            ));
        }
        check_range("einstein_radius_arcsec", self.einstein_radius_arcsec, 0.0, 100.0)?;
        check_range("lens_axis_ratio", self.lens_axis_ratio, 0.1, 1.0)?;
        check_range("lens_sersic_index", self.lens_sersic_index, 0.3, 8.0)?;
        check_range("lens_half_light_arcsec", self.lens_half_light_arcsec, 1e-3, 100.0)?;
        check_range("lens_snr", self.lens_snr, 1e-3, 1e6)?;
        check_range("source_sersic_index", self.source_sersic_index, 0.3, 8.0)?;
        check_range("source_half_light_arcsec", self.source_half_light_arcsec, 1e-3, 100.0)?;
        check_range("source_axis_ratio", self.source_axis_ratio, 0.1, 1.0)?;
        check_range("source_snr", self.source_snr, 1e-3, 1e6)?;
        Ok(())
    }

    fn noise(&self) -> NoiseModel {
        NoiseModel { sky: self.sky, read_noise: self.read_noise }
    }

    /// The generating parameters of scene `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> LensParams {
        let mut rng = SampleRng::for_sample(seed, STREAM_PARAMS, index);
        let u = |rng: &mut SampleRng, r: [f64; 2]| rng.uniform_in(r[0], r[1]);
        let log_u = |rng: &mut SampleRng, r: [f64; 2]| rng.log_uniform_in(r[0], r[1]);
        let is_lens = rng.uniform() < self.lens_fraction;
        let einstein_radius = u(&mut rng, self.einstein_radius_arcsec);
        let lens_q = u(&mut rng, self.lens_axis_ratio);
        let lens_angle = rng.uniform_in(0.0, std::f64::consts::PI);
        let shear = [rng.uniform_in(-1.0, 1.0) * self.max_shear, rng.uniform_in(-1.0, 1.0) * self.max_shear];
        let lens_n = u(&mut rng, self.lens_sersic_index);
        let lens_r_e = log_u(&mut rng, self.lens_half_light_arcsec);
        let lens_snr = log_u(&mut rng, self.lens_snr);
        let source_n = u(&mut rng, self.source_sersic_index);
        let source_r_e = log_u(&mut rng, self.source_half_light_arcsec);
        let source_q = u(&mut rng, self.source_axis_ratio);
        let source_angle = rng.uniform_in(0.0, std::f64::consts::PI);
        // Uniform over the disc of radius source_max_offset Einstein radii.
        let (radius, phi) = (
            rng.uniform().sqrt() * self.source_max_offset * einstein_radius,
            rng.uniform_in(0.0, std::f64::consts::TAU),
        );
        let source_offset = [radius * phi.cos(), radius * phi.sin()];
        let source_snr = log_u(&mut rng, self.source_snr);
        let lookalike = if is_lens || rng.uniform() >= self.lookalike_fraction {
            Lookalike::None
        } else if rng.uniform() < 0.5 {
            Lookalike::Companion
        } else {
            Lookalike::KnotRing
        };
        LensParams {
            is_lens,
            einstein_radius,
            lens_q,
            lens_angle,
            shear,
            lens_n,
            lens_r_e,
            lens_snr,
            source_n,
            source_r_e,
            source_q,
            source_angle,
            source_offset,
            source_snr,
            lookalike,
        }
    }

    fn lens(&self, p: &LensParams) -> Sie {
        Sie {
            einstein_radius: p.einstein_radius,
            q: p.lens_q,
            angle: p.lens_angle,
            x0: 0.0,
            y0: 0.0,
            shear1: p.shear[0],
            shear2: p.shear[1],
        }
    }

    /// The source as a Sersic of unit flux in arcsec, centred at its offset.
    fn source(&self, p: &LensParams) -> Sersic {
        let [x0, y0] = p.source_offset;
        Sersic { flux: 1.0, r_e: p.source_r_e, n: p.source_n, q: p.source_q, angle: p.source_angle, x0, y0 }
    }

    /// The noiseless lensed source of unit intrinsic flux, before seeing (counts per pixel).
    pub fn lensed_source(&self, p: &LensParams) -> Image {
        let source = self.source(p);
        render_lensed(&self.lens(p), self.image_size, self.pixel_scale_arcsec, source.brightness())
    }

    /// The lens light of unit flux, before seeing.
    fn lens_light(&self, p: &LensParams) -> Image {
        let centre = self.image_size as f64 / 2.0;
        let light = Sersic {
            flux: 1.0,
            r_e: p.lens_r_e / self.pixel_scale_arcsec,
            n: p.lens_n,
            q: p.lens_q,
            angle: p.lens_angle,
            x0: centre,
            y0: centre,
        };
        let mut image = Image::zeros(self.image_size, self.image_size);
        light.render_into(&mut image);
        image
    }

    /// A negative's look-alike, of unit flux, before seeing.
    fn lookalike(&self, p: &LensParams) -> Option<Image> {
        let centre = self.image_size as f64 / 2.0;
        let b = p.einstein_radius / self.pixel_scale_arcsec;
        let mut image = Image::zeros(self.image_size, self.image_size);
        match p.lookalike {
            Lookalike::None => return None,
            Lookalike::Companion => {
                let phi = p.source_angle * 2.0;
                let companion = Sersic {
                    flux: 1.0,
                    r_e: p.source_r_e / self.pixel_scale_arcsec,
                    n: p.source_n,
                    q: p.source_q,
                    angle: p.source_angle,
                    x0: centre + b * phi.cos(),
                    y0: centre + b * phi.sin(),
                };
                companion.render_into(&mut image);
            }
            Lookalike::KnotRing => {
                let positions: Vec<(f64, f64)> = (0..7)
                    .map(|k| {
                        let phi = p.source_angle + k as f64 * std::f64::consts::TAU / 7.0;
                        (centre + b * phi.cos(), centre + b * p.lens_q * phi.sin())
                    })
                    .collect();
                add_knots(&mut image, &positions, 0.6, 1.0);
            }
        }
        Some(image)
    }

    /// Matched-filter S/N of a noiseless image.
    fn snr_of(&self, image: &Image) -> f64 {
        image.data.iter().map(|v| v * v).sum::<f64>().sqrt() / self.noise().background_sigma()
    }

    /// Scene `index` of the set seeded by `seed`: a pure function of its arguments.
    pub fn simulate(&self, seed: u64, index: u64) -> LensScene {
        let p = self.sample_params(seed, index);
        self.render(p, &mut SampleRng::for_sample(seed, STREAM_NOISE, index))
    }

    /// Renders the scene of `p`, drawing noise from `rng`.
    pub fn render(&self, p: LensParams, rng: &mut SampleRng) -> LensScene {
        let psfs: Vec<GaussianPsf> =
            self.bands.iter().map(|b| GaussianPsf { fwhm: b.psf_fwhm_arcsec / self.pixel_scale_arcsec }).collect();
        let lens_light = self.lens_light(&p);
        let lens_scale = p.lens_snr / self.snr_of(&psfs[0].convolve(&lens_light)).max(1e-12);
        // The source (or look-alike) brightness is set by the S/N it has in the first band.
        let (extra, magnification) = if p.is_lens {
            let lensed = self.lensed_source(&p);
            let magnification = lensed.sum();
            (Some(lensed), magnification)
        } else {
            (self.lookalike(&p), 1.0)
        };
        let extra_scale = extra.as_ref().map_or(0.0, |e| p.source_snr / self.snr_of(&psfs[0].convolve(e)).max(1e-12));
        let noise = self.noise();
        let bands = self
            .bands
            .iter()
            .zip(&psfs)
            .map(|(band, psf)| {
                let mut scene = lens_light.clone();
                scene.data.iter_mut().for_each(|v| *v *= lens_scale * band.lens_colour);
                if let Some(e) = &extra {
                    let s = extra_scale * band.source_colour;
                    scene.data.iter_mut().zip(&e.data).for_each(|(v, x)| *v += s * x);
                }
                let mut image = psf.convolve(&scene);
                noise.apply(&mut image, rng);
                image
            })
            .collect();
        LensScene { params: p, bands, sigma: noise.background_sigma(), magnification }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_reproducible_and_lenses_carry_the_source() {
        let config = LensSimConfig::default();
        let a = config.simulate(3, 17);
        assert_eq!(a, config.simulate(3, 17));
        assert_eq!(a.bands.len(), 1);
        assert_eq!((a.bands[0].width, a.bands[0].height), (45, 45));
        let lenses = (0..400).filter(|&i| config.sample_params(3, i).is_lens).count();
        assert!((160..240).contains(&lenses), "{lenses} lenses in 400");
    }

    #[test]
    fn the_source_snr_is_the_one_asked_for() {
        // Noise-free comparison: a lens and its negative differ by the lensed source, whose
        // matched-filter S/N after seeing is the sampled one.
        let config = LensSimConfig { read_noise: 0.0, ..Default::default() };
        let mut p = config.sample_params(1, 0);
        p.is_lens = true;
        p.source_snr = 25.0;
        let psf = GaussianPsf { fwhm: 0.7 / 0.2 };
        let lensed = psf.convolve(&config.lensed_source(&p));
        let scale = 25.0 / config.snr_of(&lensed);
        let flux = lensed.sum() * scale;
        assert!(flux > 0.0);
        let scaled: Vec<f64> = lensed.data.iter().map(|v| v * scale).collect();
        let snr = scaled.iter().map(|v| v * v).sum::<f64>().sqrt() / config.sky.sqrt();
        assert!((snr - 25.0).abs() < 1e-9);
    }

    #[test]
    fn lensed_sources_are_magnified_and_placed_around_the_einstein_radius() {
        let config = LensSimConfig::default();
        let mut radii = Vec::new();
        for i in 0..40 {
            let mut p = config.sample_params(7, i);
            p.is_lens = true;
            // Strong lensing (source inside the caustic region) magnifies.
            let magnification = config.lensed_source(&p).sum();
            assert!(magnification > 1.0, "magnification {magnification} for {p:?}");
            // A compact source behind a circular lens without shear: the SIS geometry.
            (p.lens_q, p.shear, p.source_r_e) = (1.0, [0.0, 0.0], 0.03);
            let lensed = config.lensed_source(&p);
            let (mut wsum, mut rsum) = (0.0, 0.0);
            let c = config.image_size as f64 / 2.0;
            for y in 0..config.image_size {
                for x in 0..config.image_size {
                    let v = lensed.data[y * config.image_size + x];
                    let r = ((x as f64 + 0.5 - c).hypot(y as f64 + 0.5 - c)) * config.pixel_scale_arcsec;
                    wsum += v;
                    rsum += v * r;
                }
            }
            // For an SIS, images at b + beta and b - beta with magnifications (b +- beta) / beta
            // have a flux-weighted radius of b + beta^2 / b.
            let (b, beta) = (p.einstein_radius, p.source_offset[0].hypot(p.source_offset[1]));
            radii.push(rsum / wsum / (b + beta * beta / b));
        }
        let mean = radii.iter().sum::<f64>() / radii.len() as f64;
        assert!((0.97..1.03).contains(&mean), "mean arc radius / (b + beta^2 / b) = {mean}: {radii:?}");
    }

    #[test]
    fn bad_settings_are_named() {
        let config = LensSimConfig { bands: vec![], ..Default::default() };
        assert_eq!(config.validate().unwrap_err().field, "bands");
        let config = LensSimConfig { source_snr: [10.0, 1.0], ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().starts_with("simulator.source_snr: must be [low, high]"));
        assert!(LensSimConfig::default().validate().is_ok());
    }
}
