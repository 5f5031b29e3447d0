//! Simulated galaxy images in three bands (g, r, i) shown as SDSS-like RGB cutouts, with the
//! Galaxy Zoo 2 answer fractions of volunteers who would have classified them.
//!
//! A galaxy is one of three kinds. Ellipticals are a single Sersic spheroid (n 2.5-5.5). Disk
//! galaxies are a Sersic bulge plus an exponential disk at a random inclination (intrinsic
//! thickness 0.12), with optional bar, logarithmic spiral arms, ring, dust lane (edge-on
//! disks) and star-forming knots (irregulars). Stars are a point source. Any kind may have a
//! merging companion with a tidal tail, and foreground stars; around it, optionally, a field of
//! faint galaxies and stars ([`crate::field`]). Each component has its own colour
//! (bulges red, disks bluer, arms and knots bluest); the bands are convolved with a Gaussian or
//! Moffat PSF, given sky, Poisson and read noise, and mapped to RGB by a colour composite
//! ([`crate::composite`]): (i, r, g) with an asinh stretch like the SDSS colour composites
//! (Lupton et al. 2004) by default, or (z, r, g) as the Galaxy Zoo DECaLS images were made. The
//! labels come from [`crate::galaxy_zoo`].

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::components::{DiskFrame, SpiralArms, add_bar, add_disk, add_knots, add_point, add_ring, add_tidal_tail};
use crate::composite::{Colour, Composite, SdssStretch, gz_decals_pixel};
use crate::field::{Field, FieldTargets};
use crate::galaxy_zoo::{NUM_ANSWERS, expected_answers, volunteer_votes};
use crate::image::Image;
use crate::noise::NoiseModel;
use crate::psf::{GaussianPsf, MoffatPsf, Psf, PsfShape};
use crate::rng::SampleRng;
use crate::sersic::Sersic;

const STREAM_PARAMS: u64 = 0;
const STREAM_NOISE: u64 = 1;
const STREAM_VOTES: u64 = 2;
const STREAM_LAYOUT: u64 = 3;
const STREAM_FIELD: u64 = 4;

/// Intrinsic thickness of disks (axis ratio seen exactly edge-on).
pub const DISK_THICKNESS: f64 = 0.12;

/// Settings of the galaxy simulator; every field has a default, so a config may name only what
/// it changes. Ranges are `[low, high]`; probabilities are per galaxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GalaxySimConfig {
    /// Side of the square image, pixels.
    pub image_size: usize,
    /// Pixel scale, arcsec per pixel (1.188 is the SDSS 0.396" binned by 3, as Dieleman et al.);
    /// unused where `framing_half_light_radii` frames each galaxy by its size.
    pub pixel_scale_arcsec: f64,
    /// 0 (the default): every image at `pixel_scale_arcsec`. Above 0: each galaxy's image spans
    /// this many of its own half-light radii, as survey cutouts framed by the galaxy's size
    /// (Galaxy Zoo DECaLS: about 17 across the full cutout); see [`crate::framing`].
    pub framing_half_light_radii: f64,
    /// FWHM of the seeing, arcsec.
    pub psf_fwhm_arcsec: f64,
    /// The seeing profile: `gaussian` or `moffat`.
    pub psf: PsfShape,
    /// Moffat wing index beta (used when `psf = "moffat"`).
    pub psf_moffat_beta: f64,
    /// Share of ellipticals.
    pub elliptical_fraction: f64,
    /// Share of stars (point sources classified as star/artifact).
    pub star_fraction: f64,
    /// Sersic index range of ellipticals (uniform).
    pub sersic_index: [f64; 2],
    /// Circularised half-light radius range of ellipticals, arcsec (log-uniform).
    pub half_light_radius_arcsec: [f64; 2],
    /// Axis ratio range of ellipticals (uniform).
    pub axis_ratio: [f64; 2],
    /// Disk scale length range, arcsec (log-uniform).
    pub disk_scale_arcsec: [f64; 2],
    /// Bulge-to-total flux ratio range of disk galaxies (uniform).
    pub bulge_to_total: [f64; 2],
    /// Probability that a disk has a bar (when not edge-on).
    pub bar_probability: f64,
    /// Probability that a disk has spiral arms.
    pub arms_probability: f64,
    /// Probability that a disk has a ring.
    pub ring_probability: f64,
    /// Which disks carry rings: `any` (every disk alike; the ring is young, blue light) or
    /// `early_type` (as in real samples, where rings are commonest in S0-Sab disks and the
    /// ringed galaxies of Galaxy Zoo DECaLS are the redder ones: a ringed disk has a bulge of
    /// 30-60% of the light, spiral arms only a third as often, and a ring of old light).
    pub ring_hosts: RingHosts,
    /// Probability that an edge-on disk shows a dust lane.
    pub dust_lane_probability: f64,
    /// Probability that a disk is irregular (clumpy star-forming knots).
    pub irregular_probability: f64,
    /// Probability of a merging companion with a tidal tail.
    pub merger_probability: f64,
    /// Mean number of foreground stars in the cutout (Poisson): bright stars near the galaxy,
    /// which volunteers may mention among odd features.
    pub foreground_stars: f64,
    /// Faint field galaxies around the target, per square arcminute brighter than the image's
    /// 5-sigma point-source limit (see [`crate::field`]; they leave the answers alone). 10 gives
    /// the galaxy_cnn DECaLS look as many sources around the galaxy as the real Galaxy Zoo
    /// DECaLS pictures have (README, "Simulations in Galaxy Zoo DECaLS's colours"); 0, the
    /// default, draws none.
    pub field_galaxies: f64,
    /// Faint field stars, per square arcminute above the same limit (about 1 at high Galactic
    /// latitude); 0, the default, draws none.
    pub field_stars: f64,
    /// Total r-band flux range, counts (log-uniform).
    pub flux: [f64; 2],
    /// Sky background per pixel, counts.
    pub sky: f64,
    /// Read noise per pixel, counts.
    pub read_noise: f64,
    /// Draws the sky, shot and read noise (false: the noiseless images, DeepMerge II's
    /// "pristine" set; the stretch still softens at the noise level that `sky` and `read_noise`
    /// would give, and each galaxy's `snr` is the one it would have with them).
    pub noise: bool,
    /// Largest offset of the galaxy centre from the image centre, pixels.
    pub max_offset_px: f64,
    /// Surface brightness (counts per pixel) that the SDSS-like asinh stretch maps to full
    /// intensity (`composite = "sdss"` only).
    pub white_point: f64,
    /// How the bands become RGB: `sdss` ((i, r, g), Galaxy Zoo 2's look) or `gz_decals` ((z, r,
    /// g) through Galaxy Zoo DECaLS's composite, with its bands' noise ratios).
    pub composite: Composite,
    /// Counts per nanomaggy, turning counts into the composite's flux units (`composite =
    /// "gz_decals"` only). The default, 2600, puts the default sky noise (10.2 counts) at the
    /// 0.0039 nanomaggies of a 424-pixel GZ DECaLS image's r band.
    pub counts_per_nanomaggy: f64,
    /// Volunteers who classify each galaxy; the answers are their vote fractions (0 gives the
    /// expected fractions, without vote noise). Galaxy Zoo 2 had about 40 per galaxy.
    pub volunteers: u32,
}

impl Default for GalaxySimConfig {
    fn default() -> Self {
        Self {
            image_size: 64,
            pixel_scale_arcsec: 1.188,
            framing_half_light_radii: 0.0,
            psf_fwhm_arcsec: 1.4,
            psf: PsfShape::Moffat,
            psf_moffat_beta: 3.5,
            elliptical_fraction: 0.35,
            star_fraction: 0.03,
            sersic_index: [2.5, 5.5],
            half_light_radius_arcsec: [3.0, 12.0],
            axis_ratio: [0.3, 1.0],
            disk_scale_arcsec: [2.5, 8.0],
            bulge_to_total: [0.0, 0.6],
            bar_probability: 0.3,
            arms_probability: 0.65,
            ring_probability: 0.06,
            ring_hosts: RingHosts::Any,
            dust_lane_probability: 0.6,
            irregular_probability: 0.06,
            merger_probability: 0.08,
            foreground_stars: 0.3,
            field_galaxies: 0.0,
            field_stars: 0.0,
            flux: [5_000.0, 400_000.0],
            sky: 80.0,
            read_noise: 5.0,
            noise: true,
            max_offset_px: 1.5,
            white_point: 1_500.0,
            composite: Composite::Sdss,
            counts_per_nanomaggy: 2_600.0,
            volunteers: 40,
        }
    }
}

/// Which disks carry rings (see [`GalaxySimConfig::ring_hosts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingHosts {
    /// Any disk, the ring in young light.
    #[default]
    Any,
    /// Bulgy disks with fewer arms, the ring in old light.
    EarlyType,
}

/// What kind of object a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GalaxyKind {
    /// A smooth spheroid.
    Elliptical,
    /// Bulge plus disk, with optional structure.
    Disk,
    /// A point source (the star/artifact answer).
    Star,
}

/// The parameters that generated one galaxy. Lengths are arcsec, angles degrees; a zero
/// strength or count means the component is absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GalaxyParams {
    /// Elliptical, disk or star.
    pub kind: GalaxyKind,
    /// Sersic index of the bulge (the whole galaxy for ellipticals).
    pub bulge_n: f64,
    /// Circularised half-light radius of the bulge, arcsec.
    pub bulge_r_e_arcsec: f64,
    /// Axis ratio of the bulge.
    pub bulge_q: f64,
    /// Bulge-to-total flux ratio (1 for ellipticals).
    pub bulge_to_total: f64,
    /// Disk scale length, arcsec (0 without a disk).
    pub disk_scale_arcsec: f64,
    /// Disk inclination, degrees (0 face-on, 90 edge-on).
    pub inclination_deg: f64,
    /// Position angle of the major axis, degrees counter-clockwise from +x.
    pub angle_deg: f64,
    /// Share of the galaxy light in the bar.
    pub bar_fraction: f64,
    /// Bar angle from the disk's major axis, in the disk plane, degrees.
    pub bar_angle_deg: f64,
    /// Number of spiral arms.
    pub arm_count: u32,
    /// Arm pitch angle, degrees (small is tight).
    pub arm_pitch_deg: f64,
    /// Share of the disk light in the arms.
    pub arm_strength: f64,
    /// Arm phase, degrees.
    pub arm_phase_deg: f64,
    /// Share of the galaxy light in a ring.
    pub ring_fraction: f64,
    /// Central optical depth of the dust lane in r.
    pub dust_depth: f64,
    /// Share of the galaxy light in star-forming knots.
    pub knot_fraction: f64,
    /// Companion-to-galaxy flux ratio (0 without a merger).
    pub companion_ratio: f64,
    /// Companion distance, in units of the galaxy's half-light radius.
    pub companion_distance: f64,
    /// Direction of the companion, degrees.
    pub companion_angle_deg: f64,
    /// Foreground stars in the cutout.
    pub foreground_stars: u32,
    /// Seed of the positions of knots and foreground stars.
    pub layout_seed: u64,
    /// Total r-band flux, counts.
    pub flux_r: f64,
    /// Centre offset from the image centre, pixels.
    pub offset_x: f64,
    /// Centre offset from the image centre, pixels.
    pub offset_y: f64,
    /// Signal-to-noise ratio of the r-band flux inside the half-light radius.
    pub snr: f64,
}

impl GalaxyParams {
    /// The projected axis ratio of the disk, from its inclination and thickness (Hubble 1926).
    pub fn disk_q(&self) -> f64 {
        let c = self.inclination_deg.to_radians().cos();
        (c * c * (1.0 - DISK_THICKNESS * DISK_THICKNESS) + DISK_THICKNESS * DISK_THICKNESS).sqrt()
    }

    /// The half-light radius of the whole galaxy, arcsec (the flux-weighted mean of the bulge's
    /// and the disk's, 1.678 scale lengths).
    pub fn half_light_radius_arcsec(&self) -> f64 {
        self.bulge_to_total * self.bulge_r_e_arcsec + (1.0 - self.bulge_to_total) * 1.678 * self.disk_scale_arcsec
    }
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

/// Colours of each component, AB magnitudes: old bulges are red, disks bluer, young arms and
/// knots bluest (typical SDSS g - r and r - i; r - z about 1.8 (r - i), as for such spectra).
const BULGE_COLOUR: Colour = Colour { g_r: 0.78, r_i: 0.40, r_z: 0.72 };
const DISK_COLOUR: Colour = Colour { g_r: 0.50, r_i: 0.25, r_z: 0.45 };
const YOUNG_COLOUR: Colour = Colour { g_r: 0.20, r_i: 0.05, r_z: 0.09 };
const STAR_COLOUR: Colour = Colour { g_r: 0.60, r_i: 0.25, r_z: 0.45 };

/// The r-band images of each colour group, before the PSF, in counts.
pub(crate) struct Components {
    /// Old, red light: bulges, bars, and the shells of merger debris.
    pub bulge: Image,
    /// Disks, companions, tidal tails and bridges.
    pub disk: Image,
    /// Young, blue light: spiral arms, rings, star-forming knots.
    pub young: Image,
    /// Point sources.
    pub star: Image,
}

impl Components {
    /// Adds another object's light, group by group.
    pub(crate) fn add(&mut self, other: &Components) {
        for (mine, theirs) in [
            (&mut self.bulge, &other.bulge),
            (&mut self.disk, &other.disk),
            (&mut self.young, &other.young),
            (&mut self.star, &other.star),
        ] {
            add_scaled_into(mine, theirs, 1.0);
        }
    }

    /// All groups together (the r-band image).
    pub(crate) fn total(&self) -> Image {
        let mut total = self.bulge.clone();
        for part in [&self.disk, &self.young, &self.star] {
            add_scaled_into(&mut total, part, 1.0);
        }
        total
    }
}

/// Checks a `[low, high]` range setting against its allowed bounds.
pub(crate) fn check_range(field: &'static str, r: [f64; 2], min: f64, max: f64) -> Result<(), SimConfigError> {
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
            ("counts_per_nanomaggy", self.counts_per_nanomaggy),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(SimConfigError::new(field, format!("must be positive, got {v}")));
            }
        }
        if !(self.psf_moffat_beta.is_finite() && self.psf_moffat_beta > 1.0) {
            return Err(SimConfigError::new(
                "psf_moffat_beta",
                format!("must be above 1 (the Moffat flux diverges otherwise), got {}", self.psf_moffat_beta),
            ));
        }
        let non_negative = [
            ("sky", self.sky),
            ("read_noise", self.read_noise),
            ("max_offset_px", self.max_offset_px),
            ("foreground_stars", self.foreground_stars),
            ("field_galaxies", self.field_galaxies),
            ("field_stars", self.field_stars),
            ("framing_half_light_radii", self.framing_half_light_radii),
        ];
        for (field, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimConfigError::new(field, format!("must be zero or positive, got {v}")));
            }
        }
        let probabilities = [
            ("elliptical_fraction", self.elliptical_fraction),
            ("star_fraction", self.star_fraction),
            ("bar_probability", self.bar_probability),
            ("arms_probability", self.arms_probability),
            ("ring_probability", self.ring_probability),
            ("dust_lane_probability", self.dust_lane_probability),
            ("irregular_probability", self.irregular_probability),
            ("merger_probability", self.merger_probability),
        ];
        for (field, v) in probabilities {
            if !(0.0..=1.0).contains(&v) {
                return Err(SimConfigError::new(field, format!("must be a probability in [0, 1], got {v}")));
            }
        }
        if self.elliptical_fraction + self.star_fraction > 1.0 {
            return Err(SimConfigError::new(
                "elliptical_fraction",
                "elliptical_fraction + star_fraction must not exceed 1 (the rest are disks)",
            ));
        }
        check_range("sersic_index", self.sersic_index, 0.3, 8.0)?;
        check_range("half_light_radius_arcsec", self.half_light_radius_arcsec, 1e-3, 1e3)?;
        check_range("axis_ratio", self.axis_ratio, 0.02, 1.0)?;
        check_range("disk_scale_arcsec", self.disk_scale_arcsec, 1e-3, 1e3)?;
        check_range("bulge_to_total", self.bulge_to_total, 0.0, 1.0)?;
        check_range("flux", self.flux, 1e-3, 1e12)?;
        if self.volunteers > 10_000 {
            return Err(SimConfigError::new("volunteers", format!("at most 10000, got {}", self.volunteers)));
        }
        Ok(())
    }

    /// The cutout's field of faint galaxies and stars.
    pub fn field(&self) -> Field {
        // The noise-equivalent area of a Gaussian seeing disk, 4 pi sigma^2, at least a pixel.
        let fwhm_px = self.psf_fwhm_arcsec / self.pixel_scale_arcsec;
        let area = (4.0 * std::f64::consts::PI * (fwhm_px / 2.3548).powi(2)).max(1.0);
        Field {
            galaxies_per_arcmin2: self.field_galaxies,
            stars_per_arcmin2: self.field_stars,
            image_size: self.image_size,
            pixel_scale_arcsec: self.pixel_scale_arcsec,
            limit: 5.0 * self.noise().background_sigma() * area.sqrt(),
        }
    }

    fn noise(&self) -> NoiseModel {
        NoiseModel { sky: self.sky, read_noise: self.read_noise }
    }

    /// The seeing in pixels.
    pub fn psf_model(&self) -> Psf {
        let fwhm = self.psf_fwhm_arcsec / self.pixel_scale_arcsec;
        match self.psf {
            PsfShape::Gaussian => Psf::Gaussian(GaussianPsf { fwhm }),
            PsfShape::Moffat => Psf::Moffat(MoffatPsf { fwhm, beta: self.psf_moffat_beta }),
        }
    }

    /// The generating parameters of galaxy `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> GalaxyParams {
        let mut rng = SampleRng::for_sample(seed, STREAM_PARAMS, index);
        let pick = rng.uniform();
        let kind = if pick < self.star_fraction {
            GalaxyKind::Star
        } else if pick < self.star_fraction + self.elliptical_fraction {
            GalaxyKind::Elliptical
        } else {
            GalaxyKind::Disk
        };
        let chance = |rng: &mut SampleRng, p: f64| rng.uniform() < p;
        let mut p = GalaxyParams {
            kind,
            bulge_n: rng.uniform_in(self.sersic_index[0], self.sersic_index[1]),
            bulge_r_e_arcsec: rng.log_uniform_in(self.half_light_radius_arcsec[0], self.half_light_radius_arcsec[1]),
            bulge_q: rng.uniform_in(self.axis_ratio[0], self.axis_ratio[1]),
            bulge_to_total: 1.0,
            disk_scale_arcsec: 0.0,
            inclination_deg: 0.0,
            angle_deg: rng.uniform_in(0.0, 180.0),
            bar_fraction: 0.0,
            bar_angle_deg: 0.0,
            arm_count: 0,
            arm_pitch_deg: 0.0,
            arm_strength: 0.0,
            arm_phase_deg: 0.0,
            ring_fraction: 0.0,
            dust_depth: 0.0,
            knot_fraction: 0.0,
            companion_ratio: 0.0,
            companion_distance: 0.0,
            companion_angle_deg: 0.0,
            foreground_stars: rng.poisson(self.foreground_stars) as u32,
            layout_seed: 0,
            flux_r: rng.log_uniform_in(self.flux[0], self.flux[1]),
            offset_x: rng.uniform_in(-self.max_offset_px, self.max_offset_px),
            offset_y: rng.uniform_in(-self.max_offset_px, self.max_offset_px),
            snr: 0.0,
        };
        if kind == GalaxyKind::Disk {
            p.disk_scale_arcsec = rng.log_uniform_in(self.disk_scale_arcsec[0], self.disk_scale_arcsec[1]);
            // Random orientations: cos(i) uniform.
            p.inclination_deg = rng.uniform().acos().to_degrees();
            p.bulge_to_total = rng.uniform_in(self.bulge_to_total[0], self.bulge_to_total[1]);
            // Bulges of disks: smaller, rounder and less concentrated than ellipticals.
            p.bulge_n = rng.uniform_in(1.0, 4.0);
            p.bulge_r_e_arcsec = p.disk_scale_arcsec * rng.uniform_in(0.3, 0.8);
            p.bulge_q = rng.uniform_in(0.7, 1.0);
            let edge_on = p.inclination_deg > 75.0;
            if !edge_on && chance(&mut rng, self.bar_probability) {
                p.bar_fraction = rng.uniform_in(0.06, 0.2);
                p.bar_angle_deg = rng.uniform_in(0.0, 180.0);
            }
            if chance(&mut rng, self.arms_probability) {
                p.arm_count = [1, 2, 2, 2, 3, 3, 4, 5][(rng.uniform() * 8.0) as usize % 8];
                p.arm_pitch_deg = rng.uniform_in(8.0, 40.0);
                p.arm_strength = rng.uniform_in(0.2, 0.8);
                p.arm_phase_deg = rng.uniform_in(0.0, 360.0);
            }
            if chance(&mut rng, self.ring_probability) {
                p.ring_fraction = rng.uniform_in(0.1, 0.25);
                if self.ring_hosts == RingHosts::EarlyType {
                    p.bulge_to_total = rng.uniform_in(0.3, 0.6);
                    if p.arm_count > 0 && !chance(&mut rng, 1.0 / 3.0) {
                        p.arm_count = 0;
                        p.arm_strength = 0.0;
                    }
                }
            }
            if edge_on && chance(&mut rng, self.dust_lane_probability) {
                p.dust_depth = rng.uniform_in(0.5, 2.0);
            }
            if chance(&mut rng, self.irregular_probability) {
                p.knot_fraction = rng.uniform_in(0.15, 0.4);
            }
        }
        if kind != GalaxyKind::Star && chance(&mut rng, self.merger_probability) {
            p.companion_ratio = rng.log_uniform_in(0.2, 1.0);
            p.companion_distance = rng.uniform_in(1.0, 2.5);
            p.companion_angle_deg = rng.uniform_in(0.0, 360.0);
        }
        p.layout_seed = rng.next_u64();
        if kind == GalaxyKind::Star {
            p.bulge_to_total = 0.0;
            p.bulge_r_e_arcsec = 0.0;
        }
        let scale = self.framed(&p).pixel_scale_arcsec;
        let r_e_px = (p.half_light_radius_arcsec() / scale).max(0.5 * self.psf_fwhm_arcsec / scale);
        let noise = self.noise().background_sigma();
        let inside = 0.5 * p.flux_r;
        p.snr = inside / (inside + std::f64::consts::PI * r_e_px * r_e_px * noise * noise).sqrt();
        p
    }

    /// Galaxy `index` of the set seeded by `seed`: a pure function of its arguments.
    pub fn simulate(&self, seed: u64, index: u64) -> SimulatedGalaxy {
        let params = self.sample_params(seed, index);
        let framed = self.framed(&params);
        let rgb = framed.render(&framed.scene(&params), &mut SampleRng::for_sample(seed, STREAM_NOISE, index));
        let answers = self.answers_for(&params, seed, index);
        SimulatedGalaxy { params, rgb, answers }
    }

    /// The Galaxy Zoo answers of galaxy `index` without rendering it (fast, for label
    /// statistics): the expected fractions, or the votes of `volunteers` volunteers.
    pub fn answers(&self, seed: u64, index: u64) -> [f64; NUM_ANSWERS] {
        self.answers_for(&self.sample_params(seed, index), seed, index)
    }

    fn answers_for(&self, params: &GalaxyParams, seed: u64, index: u64) -> [f64; NUM_ANSWERS] {
        let expected = expected_answers(params);
        if self.volunteers == 0 {
            return expected;
        }
        volunteer_votes(&expected, self.volunteers, &mut SampleRng::for_sample(seed, STREAM_VOTES, index))
    }

    /// The noiseless r-band image, in counts, seen through the PSF (all colours together).
    pub fn render_shape(&self, p: &GalaxyParams) -> Image {
        let framed = self.framed(p);
        framed.psf_model().convolve(&framed.components(p).total())
    }

    /// The galaxy's components and, around them, the faint field (when `field_galaxies` or
    /// `field_stars` asks for one).
    pub(crate) fn scene(&self, p: &GalaxyParams) -> Components {
        let mut c = self.components(p);
        let targets =
            FieldTargets { red: &mut c.bulge, intermediate: &mut c.disk, blue: &mut c.young, stars: &mut c.star };
        // At zero densities nothing is drawn.
        self.field().draw(p.flux_r, targets, &mut SampleRng::for_sample(p.layout_seed, STREAM_FIELD, 0));
        c
    }

    /// Draws every component in r-band counts, grouped by colour, centred on the image centre
    /// plus the galaxy's offset.
    pub(crate) fn components(&self, p: &GalaxyParams) -> Components {
        let rng = &mut SampleRng::for_sample(p.layout_seed, STREAM_LAYOUT, 0);
        let size = self.image_size;
        let scale = self.pixel_scale_arcsec;
        let blank = || Image::zeros(size, size);
        let mut c = Components { bulge: blank(), disk: blank(), young: blank(), star: blank() };
        let centre = size as f64 / 2.0;
        let (x0, y0) = (centre + p.offset_x, centre + p.offset_y);
        let angle = p.angle_deg.to_radians();
        if p.kind == GalaxyKind::Star {
            add_point(&mut c.star, x0, y0, p.flux_r);
        }
        if p.bulge_to_total > 0.0 {
            let bulge = Sersic {
                flux: p.flux_r * p.bulge_to_total,
                r_e: p.bulge_r_e_arcsec / scale,
                n: p.bulge_n,
                q: p.bulge_q,
                angle,
                x0,
                y0,
            };
            bulge.render_into(&mut c.bulge);
        }
        if p.kind == GalaxyKind::Disk {
            let frame = DiskFrame { x0, y0, angle, q: p.disk_q() };
            let h = p.disk_scale_arcsec / scale;
            // Bar, ring and knots take their light from the disk.
            let disk_flux = p.flux_r
                * (1.0 - p.bulge_to_total)
                * (1.0 - p.bar_fraction - p.ring_fraction - p.knot_fraction).max(0.2);
            let arms = (p.arm_count > 0).then(|| SpiralArms {
                count: p.arm_count,
                pitch: p.arm_pitch_deg.to_radians(),
                strength: p.arm_strength,
                phase: p.arm_phase_deg.to_radians(),
            });
            let (mut smooth, mut arm_light) = (blank(), blank());
            add_disk(&mut smooth, &mut arm_light, frame, h, arms);
            add_scaled_into(&mut c.disk, &smooth, disk_flux);
            add_scaled_into(&mut c.young, &arm_light, disk_flux);
            let galaxy_flux = p.flux_r * (1.0 - p.bulge_to_total);
            if p.bar_fraction > 0.0 {
                add_bar(&mut c.bulge, frame, 1.5 * h, p.bar_angle_deg.to_radians(), galaxy_flux * p.bar_fraction);
            }
            if p.ring_fraction > 0.0 {
                let ring_light = match self.ring_hosts {
                    RingHosts::Any => &mut c.young,
                    RingHosts::EarlyType => &mut c.bulge,
                };
                add_ring(ring_light, frame, 2.5 * h, galaxy_flux * p.ring_fraction);
            }
            if p.knot_fraction > 0.0 {
                let count = 3 + (rng.uniform() * 6.0) as usize;
                let knots: Vec<(f64, f64)> = (0..count)
                    .map(|_| {
                        let (r, t) = (h * 2.0 * rng.uniform().sqrt(), rng.uniform_in(0.0, std::f64::consts::TAU));
                        let (u, v) = (r * t.cos(), r * t.sin() * frame.q);
                        let (s, co) = angle.sin_cos();
                        (x0 + u * co - v * s, y0 + u * s + v * co)
                    })
                    .collect();
                let sigma = (0.25 * h).max(0.6);
                add_knots(&mut c.young, &knots, sigma, galaxy_flux * p.knot_fraction / count as f64);
            }
            if p.dust_depth > 0.0 {
                // A grey lane along the major axis, half as thick as the projected disk,
                // attenuating everything behind it.
                let width = (0.5 * h * frame.q).max(0.7);
                for image in [&mut c.bulge, &mut c.disk, &mut c.young] {
                    attenuate(image, |x, y| {
                        let (u, _) = frame.to_plane(x, y);
                        p.dust_depth
                            * (-0.5 * (frame.minor_offset(x, y) / width).powi(2)).exp()
                            * (-(u / (3.0 * h)).powi(2)).exp()
                    });
                }
            }
        }
        if p.companion_ratio > 0.0 {
            let r_e = p.half_light_radius_arcsec() / scale;
            let t = p.companion_angle_deg.to_radians();
            let d = p.companion_distance * r_e.max(2.0);
            let companion = Sersic {
                flux: p.flux_r * p.companion_ratio * 0.8,
                r_e: 0.6 * r_e.max(1.0),
                n: 1.5,
                q: 0.8,
                angle: t,
                x0: x0 + d * t.cos(),
                y0: y0 + d * t.sin(),
            };
            companion.render_into(&mut c.disk);
            // A tidal tail pulled out of the galaxy towards the companion's side.
            let frame = DiskFrame { x0, y0, angle: t, q: 0.6 };
            add_tidal_tail(&mut c.young, frame, 1.5 * r_e.max(1.0), t, p.flux_r * p.companion_ratio * 0.2);
        }
        for _ in 0..p.foreground_stars {
            let (x, y) = (rng.uniform_in(0.0, size as f64), rng.uniform_in(0.0, size as f64));
            add_point(&mut c.star, x, y, p.flux_r * rng.log_uniform_in(0.02, 0.5));
        }
        c
    }

    /// Renders drawn components in the composite's three bands with noise and returns the RGB
    /// planes.
    pub(crate) fn render(&self, c: &Components, rng: &mut SampleRng) -> Vec<f32> {
        self.stretch(&self.render_bands(c, rng))
    }

    /// The composite's bands ((i, r, g) or (z, r, g)) of drawn components seen through the PSF,
    /// with noise (unless `noise` is off), in counts (sky-subtracted). A band whose sky noise is
    /// `k` times the r band's is drawn as if it collected `1 / k` of the counts (so its shot
    /// noise grows alike) and scaled back.
    pub(crate) fn render_bands(&self, c: &Components, rng: &mut SampleRng) -> [Image; 3] {
        let psf = self.psf_model().kernel();
        let noise = self.noise();
        let groups =
            [(&c.bulge, BULGE_COLOUR), (&c.disk, DISK_COLOUR), (&c.young, YOUNG_COLOUR), (&c.star, STAR_COLOUR)];
        let noise_ratio = self.composite.noise_ratio();
        [0, 1, 2].map(|band| {
            let mut image = Image::zeros(self.image_size, self.image_size);
            for (group, colour) in groups {
                add_scaled_into(&mut image, group, self.composite.band_factors(colour)[band]);
            }
            let mut image = psf.convolve(&image);
            if self.noise {
                // Scaled only where the band's noise differs (never for the SDSS-like composite).
                let k = noise_ratio[band];
                if k != 1.0 {
                    image.data.iter_mut().for_each(|v| *v /= k);
                }
                noise.apply(&mut image, rng);
                if k != 1.0 {
                    image.data.iter_mut().for_each(|v| *v *= k);
                }
            }
            image
        })
    }

    /// Galaxy `index`'s noisy (i, r, g) bands in counts and the noise sigma of a blank pixel:
    /// the linear images behind [`simulate`](Self::simulate)'s RGB.
    pub fn simulate_bands(&self, seed: u64, index: u64) -> ([Image; 3], f64) {
        let params = self.sample_params(seed, index);
        let framed = self.framed(&params);
        let bands = framed.render_bands(&framed.scene(&params), &mut SampleRng::for_sample(seed, STREAM_NOISE, index));
        (bands, self.noise().background_sigma())
    }

    /// Whether galaxy `index` shows a ring: it has a ring component (drawn for
    /// `ring_probability` of the disks) seen no more inclined than 60 degrees (projected axis
    /// ratio 0.5 or more), as volunteers label rings they can see.
    pub fn has_ring(&self, seed: u64, index: u64) -> bool {
        let p = self.sample_params(seed, index);
        p.ring_fraction > 0.0 && p.disk_q() >= 0.5
    }

    /// The SDSS-like composite's white point in softenings (twice the sky noise of a pixel):
    /// what a picture of another survey is stretched to for a model trained on these images.
    pub fn sdss_white_over_soft(&self) -> f64 {
        self.white_point / (2.0 * self.noise().background_sigma())
    }

    /// The colour composite of the three bands (in counts) to RGB in [0, 1], channel-major.
    pub fn stretch(&self, bands: &[Image; 3]) -> Vec<f32> {
        match self.composite {
            Composite::Sdss => {
                // Stretch softening at twice the sky noise: faint outskirts stay visible, like SDSS.
                let soft = 2.0 * self.noise().background_sigma();
                let stretch = SdssStretch::new(self.sdss_white_over_soft());
                bands.iter().flat_map(|b| b.data.iter().map(move |v| stretch.value(v / soft) as f32)).collect()
            }
            Composite::GzDecals => {
                let per = 1.0 / self.counts_per_nanomaggy;
                let n = bands[0].data.len();
                let mut rgb = vec![0.0; 3 * n];
                for i in 0..n {
                    let pixel = gz_decals_pixel([0, 1, 2].map(|b| bands[b].data[i] * per));
                    for (k, v) in pixel.into_iter().enumerate() {
                        rgb[k * n + i] = v as f32;
                    }
                }
                rgb
            }
        }
    }
}

/// `image += factor * part`.
fn add_scaled_into(image: &mut Image, part: &Image, factor: f64) {
    image.data.iter_mut().zip(&part.data).for_each(|(a, b)| *a += factor * b);
}

/// Multiplies each pixel by `exp(-tau(x, y))` at its centre.
fn attenuate(image: &mut Image, tau: impl Fn(f64, f64) -> f64) {
    let width = image.width;
    for (i, v) in image.data.iter_mut().enumerate() {
        *v *= (-tau((i % width) as f64 + 0.5, (i / width) as f64 + 0.5)).exp();
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
        assert_eq!(a.answers, config.answers(9, 17));
    }

    #[test]
    fn without_noise_the_same_galaxy_is_drawn_clean_and_the_difference_is_the_noise() {
        let noisy = GalaxySimConfig { foreground_stars: 0.0, ..GalaxySimConfig::default() };
        let clean = GalaxySimConfig { noise: false, ..noisy.clone() };
        let ((a, sigma), (b, _)) = (noisy.simulate_bands(5, 3), clean.simulate_bands(5, 3));
        assert!(b.iter().all(|band| band.data.iter().all(|v| *v >= 0.0)), "a clean image has no negative pixel");
        let diff: Vec<f64> =
            a.iter().zip(&b).flat_map(|(x, y)| x.data.iter().zip(&y.data).map(|(u, v)| u - v)).collect();
        let n = diff.len() as f64;
        let mean = diff.iter().sum::<f64>() / n;
        let spread = (diff.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n).sqrt();
        // Sky and read noise everywhere, plus the galaxy's own shot noise on its pixels.
        assert!(mean.abs() < 0.05 * sigma, "mean {mean} vs sigma {sigma}");
        assert!(spread >= 0.95 * sigma && spread < 2.0 * sigma, "spread {spread} vs sigma {sigma}");
        // The stretch still softens at the sky's noise level, so the clean image stretches.
        let rgb = clean.simulate(5, 3).rgb;
        assert!(rgb.iter().all(|v| (0.0..=1.0).contains(v)) && rgb.iter().any(|v| *v > 0.1));
        assert_eq!(clean.simulate(5, 3).params, noisy.simulate(5, 3).params);
    }

    #[test]
    fn a_field_adds_faint_sources_around_the_same_galaxy_and_leaves_its_answers_alone() {
        let plain = GalaxySimConfig { image_size: 98, foreground_stars: 0.0, ..GalaxySimConfig::default() };
        let crowded = GalaxySimConfig { field_galaxies: 8.0, field_stars: 1.0, ..plain.clone() };
        let (mut extra_light, mut expected_sources) = (0.0, 0.0);
        for index in 0..20 {
            assert_eq!(plain.sample_params(5, index), crowded.sample_params(5, index));
            assert_eq!(plain.answers(5, index), crowded.answers(5, index));
            let p = plain.sample_params(5, index);
            let (bare, field) = (plain.scene(&p).total(), crowded.scene(&p).total());
            // The galaxy is drawn the same; the field only adds light.
            assert!(field.data.iter().zip(&bare.data).all(|(f, b)| f >= b));
            extra_light += field.sum() - bare.sum();
            let (galaxies, stars) = crowded.field().expected_counts(p.flux_r);
            expected_sources += galaxies + stars;
        }
        assert!(extra_light > 0.0);
        // 3.76 square arcminutes at 9 sources each, less those above 30% of faint targets' flux.
        assert!(expected_sources / 20.0 > 15.0 && expected_sources / 20.0 < 34.0, "{expected_sources}");
        // Without densities the scene is the galaxy alone: default images do not change.
        let p = plain.sample_params(5, 0);
        assert_eq!(plain.scene(&p).total().data, plain.components(&p).total().data);
        let bad = GalaxySimConfig { field_galaxies: -1.0, ..plain };
        assert_eq!(bad.validate().unwrap_err().field, "field_galaxies");
    }

    #[test]
    fn the_gz_decals_composite_gives_each_band_its_sky_noise_and_the_images_their_dark_grey_sky() {
        let config = GalaxySimConfig {
            composite: Composite::GzDecals,
            foreground_stars: 0.0,
            image_size: 96,
            ..GalaxySimConfig::default()
        };
        let (bands, sigma) = config.simulate_bands(4, 2);
        // The 20-pixel corners are blank sky: their scatter is the band's share of the r band's.
        let corner = |image: &Image| -> Vec<f64> {
            (0..image.height)
                .flat_map(|y| (0..image.width).map(move |x| (x, y)))
                .filter(|&(x, y)| !(20..76).contains(&x) && !(20..76).contains(&y))
                .map(|(x, y)| image.data[y * image.width + x])
                .collect()
        };
        let spread = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        for (band, ratio) in bands.iter().zip(crate::composite::GZ_DECALS_NOISE_RATIO) {
            let s = spread(&corner(band));
            assert!((s / (ratio * sigma) - 1.0).abs() < 0.06, "{s} vs {ratio} x {sigma}");
        }
        // Zero flux is the composite's black point -0.5 over its range: 0.070 in every plane.
        let rgb = config.stretch(&bands);
        let n = 96 * 96;
        for plane in 0..3 {
            let plane_image = Image {
                width: 96,
                height: 96,
                data: rgb[plane * n..(plane + 1) * n].iter().map(|&v| f64::from(v)).collect(),
            };
            let mut sky = corner(&plane_image);
            sky.sort_by(f64::total_cmp);
            let median = sky[sky.len() / 2];
            assert!((median - 0.070).abs() < 0.01, "plane {plane}: sky median {median}");
        }
        // The sdss composite of the same galaxy is another picture.
        let sdss = GalaxySimConfig { composite: Composite::Sdss, ..config.clone() };
        assert_ne!(sdss.simulate(4, 2).rgb, config.simulate(4, 2).rgb);
    }

    #[test]
    fn early_type_ring_hosts_are_bulgy_disks_with_fewer_arms_and_rings_of_old_light() {
        let config = GalaxySimConfig {
            ring_probability: 0.5,
            ring_hosts: RingHosts::EarlyType,
            irregular_probability: 0.0,
            ..GalaxySimConfig::default()
        };
        let (mut ringed, mut ringed_arms, mut plain, mut plain_arms) = (0, 0, 0, 0);
        for index in 0..4000 {
            let p = config.sample_params(6, index);
            if p.kind != GalaxyKind::Disk {
                continue;
            }
            if p.ring_fraction > 0.0 {
                assert!((0.3..=0.6).contains(&p.bulge_to_total), "B/T {}", p.bulge_to_total);
                ringed += 1;
                ringed_arms += usize::from(p.arm_count > 0);
            } else {
                plain += 1;
                plain_arms += usize::from(p.arm_count > 0);
            }
        }
        let share = |k: usize, of: usize| k as f64 / of as f64;
        assert!((share(plain_arms, plain) - 0.65).abs() < 0.04, "{plain_arms} of {plain}");
        assert!((share(ringed_arms, ringed) - 0.65 / 3.0).abs() < 0.04, "{ringed_arms} of {ringed}");
        // The same ringed, armless disk: its ring is young light for `any` hosts, old for early types.
        let index = (0..).find(|&i| {
            let p = config.sample_params(6, i);
            p.kind == GalaxyKind::Disk && p.ring_fraction > 0.0 && p.arm_count == 0
        });
        let p = config.sample_params(6, index.unwrap());
        let any = GalaxySimConfig { ring_hosts: RingHosts::Any, ..config.clone() };
        let (old, young) = (config.components(&p), any.components(&p));
        assert_eq!(old.young.sum(), 0.0);
        assert!(young.young.sum() > 0.0);
        assert!((old.bulge.sum() - young.bulge.sum() - young.young.sum()).abs() < 1e-6 * old.bulge.sum());
    }

    #[test]
    fn parameters_stay_in_their_configured_ranges_and_kinds_in_their_shares() {
        let config = GalaxySimConfig::default();
        let (mut disks, mut stars, mut bars, mut arms) = (0, 0, 0, 0);
        let n = 4000;
        for index in 0..n {
            let p = config.sample_params(3, index);
            assert!(p.snr > 0.0 && p.flux_r > 0.0);
            match p.kind {
                GalaxyKind::Elliptical => {
                    assert!((2.5..=5.5).contains(&p.bulge_n) && (0.3..=1.0).contains(&p.bulge_q));
                    assert!((3.0..=12.0).contains(&p.bulge_r_e_arcsec) && p.bulge_to_total == 1.0);
                }
                GalaxyKind::Disk => {
                    disks += 1;
                    assert!((0.0..=90.0).contains(&p.inclination_deg) && (0.0..=0.6).contains(&p.bulge_to_total));
                    assert!((2.5..=8.0).contains(&p.disk_scale_arcsec));
                    bars += (p.bar_fraction > 0.0) as usize;
                    arms += (p.arm_count > 0) as usize;
                    if p.arm_count > 0 {
                        assert!((8.0..=40.0).contains(&p.arm_pitch_deg));
                    }
                }
                GalaxyKind::Star => stars += 1,
            }
        }
        let share = |k: usize, of: usize| k as f64 / of as f64;
        assert!((share(disks, n as usize) - 0.62).abs() < 0.03, "disks {disks}");
        assert!((share(stars, n as usize) - 0.03).abs() < 0.01, "stars {stars}");
        assert!((share(arms, disks) - 0.65).abs() < 0.04, "arms {arms} of {disks}");
        // Bars only in disks that are not edge-on (cos i > cos 75 deg: 74% of them).
        assert!((share(bars, disks) - 0.3 * 0.741).abs() < 0.04, "bars {bars} of {disks}");
    }

    fn plain_elliptical(config: &GalaxySimConfig) -> GalaxyParams {
        let index = (0..).find(|&i| {
            let p = config.sample_params(1, i);
            p.kind == GalaxyKind::Elliptical && p.companion_ratio == 0.0 && p.foreground_stars == 0
        });
        config.sample_params(1, index.unwrap())
    }

    #[test]
    fn the_image_is_centred_on_the_galaxy_and_elongated_along_its_angle() {
        let config = GalaxySimConfig { image_size: 96, ..GalaxySimConfig::default() };
        let mut p = plain_elliptical(&config);
        p.bulge_q = 0.4;
        p.angle_deg = 90.0;
        p.offset_x = 2.0;
        p.offset_y = -1.0;
        let shape = config.render_shape(&p);
        let (cx, cy, sxx, syy, _) = shape.moments();
        assert!((cx - 50.0).abs() < 0.05 && (cy - 47.0).abs() < 0.05, "centroid {cx}, {cy}");
        assert!(syy > 2.0 * sxx, "major axis along y: sxx {sxx}, syy {syy}");
    }

    #[test]
    fn an_inclined_disk_looks_as_flat_as_its_inclination_makes_it() {
        let config = GalaxySimConfig { image_size: 128, psf_fwhm_arcsec: 0.5, ..GalaxySimConfig::default() };
        let mut p = plain_elliptical(&config);
        p.kind = GalaxyKind::Disk;
        p.bulge_to_total = 0.0;
        p.disk_scale_arcsec = 6.0;
        p.angle_deg = 0.0;
        p.offset_x = 0.0;
        p.offset_y = 0.0;
        for inclination in [0.0, 60.0, 85.0] {
            p.inclination_deg = inclination;
            let (_, _, sxx, syy, _) = config.render_shape(&p).moments();
            let measured = (syy / sxx).sqrt();
            assert!((measured / p.disk_q() - 1.0).abs() < 0.1, "i {inclination}: {measured} vs {}", p.disk_q());
        }
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = GalaxySimConfig { axis_ratio: [0.5, 0.2], ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "axis_ratio");
        let bad = GalaxySimConfig { image_size: 4, ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "image_size");
        let bad = GalaxySimConfig { bar_probability: 1.5, ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "bar_probability");
        let bad = GalaxySimConfig { psf_moffat_beta: 0.8, ..GalaxySimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "psf_moffat_beta");
        assert!(GalaxySimConfig::default().validate().is_ok());
    }
}
