//! Galaxy mergers and their look-alikes, for merger finding (Ackermann et al. 2018, MNRAS 479,
//! 415, who classified the SDSS mergers of Darg et al. 2010 against non-interacting galaxies).
//!
//! A system is one of four kinds, two of them mergers:
//! - `pair`: two galaxies at a small projected separation (1-3 half-light radii of the primary)
//!   with tidal debris: one-armed tails leaving each galaxy on its far side (Toomre & Toomre
//!   1972), a bridge between them, and a displaced, stretched envelope of stripped light along the
//!   line joining them;
//! - `remnant`: one galaxy that has swallowed its companion: tails, shells (arcs with sharp outer
//!   edges alternating across the nucleus, Quinn 1984) and a lopsided envelope;
//! - `isolated`: one undisturbed galaxy (negative);
//! - `projection`: an undisturbed galaxy with an unrelated, smaller background galaxy seen close to
//!   it on the sky, without any tidal feature (negative: a chance projection).
//!
//! Member galaxies come from [`GalaxySimConfig`] (without its own merging companions, and never
//! a star), so a merger shares the colours, seeing, noise and stretch of the galaxy simulator.
//! Tidal features hold a chosen share of the system's light. Every system is a pure function of
//! `(seed, index)`, with its parameters recorded in [`MergerParams`].

use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::components::{DiskFrame, add_shells, add_stream, add_tidal_tail};
use crate::galaxy::{GalaxyParams, GalaxySimConfig, check_range};
use crate::image::Image;
use crate::rng::SampleRng;
use crate::sersic::Sersic;

/// Random streams of a system (apart from its members' own).
const STREAM_SYSTEM: u64 = 10;
const STREAM_NOISE: u64 = 11;

/// Settings of the merger simulator; every field has a default. Ranges are `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MergerSimConfig {
    /// The member galaxies, the image, the seeing and the noise (`[data.simulator.galaxies]`).
    /// Its `merger_probability` and `star_fraction` are not used: members never have the galaxy
    /// simulator's own companion, and are never stars.
    pub galaxies: GalaxySimConfig,
    /// Share of mergers (pairs and remnants).
    pub merger_fraction: f64,
    /// Share of the mergers that are remnants (one nucleus left).
    pub remnant_fraction: f64,
    /// Share of the non-mergers that are chance projections.
    pub projection_fraction: f64,
    /// Projected separation of a merging pair, in half-light radii of the primary (uniform).
    pub separation: [f64; 2],
    /// Companion-to-primary flux ratio of a merging pair (log-uniform).
    pub flux_ratio: [f64; 2],
    /// Share of a merger's light in its tidal features (uniform).
    pub tidal_fraction: [f64; 2],
    /// Probability that a merger's galaxy (each member of a pair) shows a tidal tail.
    pub tail_probability: f64,
    /// Probability that a pair shows a bridge between its galaxies.
    pub bridge_probability: f64,
    /// Probability that a remnant shows shells (pairs: a fifth of it).
    pub shell_probability: f64,
    /// Projected separation of a chance projection, in half-light radii of the primary.
    pub projection_separation: [f64; 2],
    /// Flux ratio of a chance projection's background galaxy to the primary (log-uniform).
    pub projection_flux_ratio: [f64; 2],
}

impl Default for MergerSimConfig {
    fn default() -> Self {
        Self {
            galaxies: GalaxySimConfig::default(),
            merger_fraction: 0.5,
            remnant_fraction: 0.25,
            projection_fraction: 0.35,
            separation: [1.0, 3.0],
            flux_ratio: [0.15, 1.0],
            tidal_fraction: [0.05, 0.25],
            tail_probability: 0.75,
            bridge_probability: 0.5,
            shell_probability: 0.6,
            projection_separation: [1.0, 4.0],
            projection_flux_ratio: [0.05, 0.6],
        }
    }
}

/// What a system is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    /// One undisturbed galaxy.
    Isolated,
    /// An undisturbed galaxy with an unrelated one seen close to it.
    Projection,
    /// Two interacting galaxies with tidal debris.
    Pair,
    /// One galaxy with the debris of a companion it has swallowed.
    Remnant,
}

/// The parameters that generated one system. Angles in degrees, lengths in arcsec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergerParams {
    /// Which kind of system.
    pub kind: SystemKind,
    /// The main galaxy (its offset is its position in the image).
    pub primary: GalaxyParams,
    /// The other galaxy of a pair or a projection.
    pub companion: Option<GalaxyParams>,
    /// Projected distance between the two galaxies, arcsec (0 for one galaxy).
    pub separation_arcsec: f64,
    /// Direction from the primary to the companion (or the debris axis of a remnant), degrees.
    pub axis_deg: f64,
    /// Companion-to-primary flux ratio (0 for one galaxy).
    pub flux_ratio: f64,
    /// Tidal tails drawn.
    pub tails: u32,
    /// Whether a bridge joins the pair.
    pub bridge: bool,
    /// Shells drawn.
    pub shells: u32,
    /// Whether a displaced, stretched envelope of stripped light is drawn.
    pub envelope: bool,
    /// Share of the system's light in tails, bridge, shells and envelope.
    pub tidal_fraction: f64,
    /// S/N of the primary's r-band flux inside its half-light radius.
    pub snr: f64,
}

impl MergerParams {
    /// Whether the system is a merger (a pair or a remnant).
    pub fn is_merger(&self) -> bool {
        matches!(self.kind, SystemKind::Pair | SystemKind::Remnant)
    }
}

/// One simulated system: its parameters and its RGB image.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedMerger {
    /// What generated it.
    pub params: MergerParams,
    /// RGB image, channel-major (`[3, size, size]`), values in [0, 1].
    pub rgb: Vec<f32>,
}

impl MergerSimConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        self.galaxies.validate().map_err(|e| e.within("galaxies"))?;
        if self.galaxies.frames_each_galaxy() {
            return Err(SimConfigError::new(
                "galaxies.framing_half_light_radii",
                "a merger's image holds two galaxies at one pixel scale, so it cannot be framed by one galaxy's size: \
                 leave it at 0",
            ));
        }
        for (field, v) in [
            ("merger_fraction", self.merger_fraction),
            ("remnant_fraction", self.remnant_fraction),
            ("projection_fraction", self.projection_fraction),
            ("tail_probability", self.tail_probability),
            ("bridge_probability", self.bridge_probability),
            ("shell_probability", self.shell_probability),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(SimConfigError::new(field, format!("must be a probability in [0, 1], got {v}")));
            }
        }
        check_range("separation", self.separation, 0.1, 20.0)?;
        check_range("flux_ratio", self.flux_ratio, 1e-3, 1.0)?;
        check_range("tidal_fraction", self.tidal_fraction, 0.0, 0.9)?;
        check_range("projection_separation", self.projection_separation, 0.1, 20.0)?;
        check_range("projection_flux_ratio", self.projection_flux_ratio, 1e-3, 1.0)?;
        Ok(())
    }

    /// The galaxy simulator the members are drawn from: no companions of its own, no stars.
    fn members(&self) -> GalaxySimConfig {
        GalaxySimConfig { merger_probability: 0.0, star_fraction: 0.0, ..self.galaxies.clone() }
    }

    /// The generating parameters of system `index` of the set seeded by `seed`.
    pub fn sample_params(&self, seed: u64, index: u64) -> MergerParams {
        let members = self.members();
        let mut rng = SampleRng::for_sample(seed, STREAM_SYSTEM, index);
        let scale = members.pixel_scale_arcsec;
        let mut primary = members.sample_params(seed, 2 * index);
        let merger = rng.uniform() < self.merger_fraction;
        let kind = match (merger, rng.uniform()) {
            (true, u) if u < self.remnant_fraction => SystemKind::Remnant,
            (true, _) => SystemKind::Pair,
            (false, u) if u < self.projection_fraction => SystemKind::Projection,
            (false, _) => SystemKind::Isolated,
        };
        let r_e = primary.half_light_radius_arcsec().max(members.psf_fwhm_arcsec);
        let axis_deg = rng.uniform_in(0.0, 360.0);
        let mut p = MergerParams {
            kind,
            primary: primary.clone(),
            companion: None,
            separation_arcsec: 0.0,
            axis_deg,
            flux_ratio: 0.0,
            tails: 0,
            bridge: false,
            shells: 0,
            envelope: false,
            tidal_fraction: 0.0,
            snr: primary.snr,
        };
        let chance = |rng: &mut SampleRng, prob: f64| rng.uniform() < prob;
        match kind {
            SystemKind::Isolated => {}
            SystemKind::Projection | SystemKind::Pair => {
                let mut companion = members.sample_params(seed, 2 * index + 1);
                companion.foreground_stars = 0;
                let (ratio, separation) = if kind == SystemKind::Pair {
                    (
                        rng.log_uniform_in(self.flux_ratio[0], self.flux_ratio[1]),
                        rng.uniform_in(self.separation[0], self.separation[1]) * r_e,
                    )
                } else {
                    // A background galaxy: farther away, so smaller for its light.
                    let shrink = rng.uniform_in(0.3, 0.8);
                    companion.bulge_r_e_arcsec *= shrink;
                    companion.disk_scale_arcsec *= shrink;
                    (
                        rng.log_uniform_in(self.projection_flux_ratio[0], self.projection_flux_ratio[1]),
                        rng.uniform_in(self.projection_separation[0], self.projection_separation[1]) * r_e,
                    )
                };
                companion.flux_r = primary.flux_r * ratio;
                // The pair's flux-weighted centre stays where the primary alone would have been.
                let (uy, ux) = axis_deg.to_radians().sin_cos();
                let d = separation / scale;
                let (x0, y0) = (primary.offset_x, primary.offset_y);
                primary.offset_x = x0 - d * ux * ratio / (1.0 + ratio);
                primary.offset_y = y0 - d * uy * ratio / (1.0 + ratio);
                companion.offset_x = x0 + d * ux / (1.0 + ratio);
                companion.offset_y = y0 + d * uy / (1.0 + ratio);
                p.primary = primary;
                p.companion = Some(companion);
                p.separation_arcsec = separation;
                p.flux_ratio = ratio;
                if kind == SystemKind::Pair {
                    p.tails = u32::from(chance(&mut rng, self.tail_probability))
                        + u32::from(chance(&mut rng, self.tail_probability));
                    p.bridge = chance(&mut rng, self.bridge_probability);
                    p.shells = if chance(&mut rng, 0.2 * self.shell_probability) { 2 } else { 0 };
                    p.envelope = chance(&mut rng, 0.5);
                }
            }
            SystemKind::Remnant => {
                p.tails =
                    if chance(&mut rng, self.tail_probability) { 1 + u32::from(chance(&mut rng, 0.5)) } else { 0 };
                p.shells = if chance(&mut rng, self.shell_probability) { 2 + (rng.uniform() * 4.0) as u32 } else { 0 };
                p.envelope = chance(&mut rng, 0.7);
            }
        }
        if p.is_merger() {
            // A merger without any debris would be an isolated galaxy or a projection.
            if p.tails == 0 && !p.bridge && p.shells == 0 {
                p.envelope = true;
            }
            p.tidal_fraction = rng.uniform_in(self.tidal_fraction[0], self.tidal_fraction[1]);
        }
        p
    }

    /// System `index` of the set seeded by `seed`: a pure function of its arguments.
    pub fn simulate(&self, seed: u64, index: u64) -> SimulatedMerger {
        let params = self.sample_params(seed, index);
        let members = self.members();
        let c = self.components(&members, &params);
        let rgb = members.render(&c, &mut SampleRng::for_sample(seed, STREAM_NOISE, index));
        SimulatedMerger { params, rgb }
    }

    /// The noiseless r-band image of a system, in counts, seen through the PSF.
    pub fn render_shape(&self, p: &MergerParams) -> Image {
        let members = self.members();
        members.psf_model().convolve(&self.components(&members, p).total())
    }

    /// The galaxies' light and the tidal features, by colour group.
    fn components(&self, members: &GalaxySimConfig, p: &MergerParams) -> crate::galaxy::Components {
        let mut c = members.components(&p.primary);
        if let Some(companion) = &p.companion {
            c.add(&members.components(companion));
        }
        if p.tidal_fraction <= 0.0 {
            return c;
        }
        let scale = members.pixel_scale_arcsec;
        let centre = members.image_size as f64 / 2.0;
        let at = |g: &GalaxyParams| (centre + g.offset_x, centre + g.offset_y);
        let r_e = |g: &GalaxyParams| (g.half_light_radius_arcsec() / scale).max(1.0);
        let axis = p.axis_deg.to_radians();
        let total_flux = p.primary.flux_r + p.companion.as_ref().map_or(0.0, |g| g.flux_r);
        // Each feature present takes an equal share of the debris light.
        let features = p.tails + u32::from(p.bridge) + u32::from(p.shells > 0) + u32::from(p.envelope);
        let share = p.tidal_fraction * total_flux / f64::from(features.max(1));
        let primary_at = at(&p.primary);
        // Tails leave each galaxy on the side away from the other, winding the same way.
        let mut tail_from = vec![(&p.primary, axis + std::f64::consts::PI)];
        if let Some(companion) = &p.companion {
            tail_from.push((companion, axis));
        } else {
            tail_from.push((&p.primary, axis));
        }
        for &(galaxy, direction) in tail_from.iter().take(p.tails as usize) {
            let (x0, y0) = at(galaxy);
            let frame = DiskFrame { x0, y0, angle: direction, q: 0.7 };
            add_tidal_tail(&mut c.young, frame, 1.5 * r_e(galaxy), direction, share);
        }
        if p.bridge
            && let Some(companion) = &p.companion
        {
            let to = at(companion);
            let bend = 0.15 * p.separation_arcsec / scale;
            add_stream(&mut c.young, primary_at, to, bend, 0.5 * r_e(companion).min(r_e(&p.primary)), share);
        }
        if p.shells > 0 {
            let r = r_e(&p.primary);
            let radii: Vec<f64> = (0..p.shells).map(|k| 1.5 * r * 1.4f64.powi(k as i32)).collect();
            add_shells(&mut c.bulge, primary_at, axis, &radii, 1.0, share);
        }
        if p.envelope {
            // Stripped light spread along the line of the encounter, displaced from the primary.
            let r = r_e(&p.primary);
            let shift = match &p.companion {
                Some(_) => 0.5 * p.separation_arcsec / scale,
                None => 0.6 * r,
            };
            let envelope = Sersic {
                flux: share,
                r_e: 1.8 * r,
                n: 1.0,
                q: 0.45,
                angle: axis,
                x0: primary_at.0 + shift * axis.cos(),
                y0: primary_at.1 + shift * axis.sin(),
            };
            envelope.render_into(&mut c.disk);
        }
        c
    }
}

/// Rotational asymmetry `A = sum |I - I_180| / (2 sum |I|)` about `(cx, cy)` (Conselice 2003,
/// without the background term): 0 for a light distribution symmetric under a half turn, up to 1.
/// The half turn maps pixel centres onto pixel centres when `(cx, cy)` is a pixel centre or
/// corner; pixels whose image falls outside are left out.
pub fn rotational_asymmetry(image: &Image, cx: f64, cy: f64) -> f64 {
    let (mut diff, mut total) = (0.0, 0.0);
    for y in 0..image.height {
        for x in 0..image.width {
            let (rx, ry) = (2.0 * cx - (x as f64 + 0.5), 2.0 * cy - (y as f64 + 0.5));
            let (ix, iy) = ((rx - 0.5).round(), (ry - 0.5).round());
            if ix < 0.0 || iy < 0.0 || ix >= image.width as f64 || iy >= image.height as f64 {
                continue;
            }
            let v = image.get(x, y);
            diff += (v - image.get(ix as usize, iy as usize)).abs();
            total += v.abs();
        }
    }
    if total > 0.0 { diff / (2.0 * total) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact galaxies in a large image, so that (almost) all of their light is in it.
    fn config(size: usize) -> MergerSimConfig {
        let galaxies = GalaxySimConfig {
            image_size: size,
            foreground_stars: 0.0,
            sersic_index: [1.0, 2.5],
            half_light_radius_arcsec: [2.0, 5.0],
            disk_scale_arcsec: [1.5, 3.0],
            ..GalaxySimConfig::default()
        };
        MergerSimConfig { galaxies, ..MergerSimConfig::default() }
    }

    fn first_of(config: &MergerSimConfig, kind: SystemKind, from: u64) -> (u64, MergerParams) {
        (from..).map(|i| (i, config.sample_params(5, i))).find(|(_, p)| p.kind == kind).unwrap()
    }

    #[test]
    fn a_system_is_a_pure_function_of_seed_and_index() {
        let config = MergerSimConfig::default();
        let a = config.simulate(3, 11);
        assert_eq!(a, config.simulate(3, 11));
        assert_ne!(a.rgb, config.simulate(3, 12).rgb);
        assert_eq!(a.rgb.len(), 3 * 64 * 64);
        assert!(a.rgb.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(a.params, config.sample_params(3, 11));
    }

    #[test]
    fn kinds_come_in_their_configured_shares_and_mergers_always_carry_debris() {
        let config = MergerSimConfig::default();
        let n = 4000;
        let mut counts = std::collections::HashMap::new();
        for i in 0..n {
            let p = config.sample_params(1, i);
            *counts.entry(p.kind).or_insert(0usize) += 1;
            if p.is_merger() {
                assert!(p.tails + p.shells + u32::from(p.bridge) + u32::from(p.envelope) > 0, "{p:?}");
                assert!((0.05..=0.25).contains(&p.tidal_fraction), "{p:?}");
            } else {
                assert_eq!((p.tails, p.shells, p.bridge, p.envelope, p.tidal_fraction), (0, 0, false, false, 0.0));
            }
            assert_eq!(p.companion.is_some(), matches!(p.kind, SystemKind::Pair | SystemKind::Projection));
        }
        let share = |k: SystemKind| counts.get(&k).copied().unwrap_or(0) as f64 / n as f64;
        assert!((share(SystemKind::Pair) - 0.5 * 0.75).abs() < 0.025, "{counts:?}");
        assert!((share(SystemKind::Remnant) - 0.5 * 0.25).abs() < 0.02, "{counts:?}");
        assert!((share(SystemKind::Projection) - 0.5 * 0.35).abs() < 0.02, "{counts:?}");
    }

    #[test]
    fn the_pair_sits_at_its_separation_with_its_flux_ratio_about_the_primary_position() {
        let config = MergerSimConfig { tidal_fraction: [0.0, 0.0], ..config(128) };
        let (_, p) = first_of(&config, SystemKind::Pair, 0);
        let c = p.companion.clone().unwrap();
        let scale = config.galaxies.pixel_scale_arcsec;
        let d = (c.offset_x - p.primary.offset_x).hypot(c.offset_y - p.primary.offset_y) * scale;
        assert!((d - p.separation_arcsec).abs() < 1e-9, "{d} vs {}", p.separation_arcsec);
        assert!((c.flux_r / p.primary.flux_r - p.flux_ratio).abs() < 1e-9);
        // Without debris, the light's centroid is the flux-weighted mean of the two centres,
        // which is where the primary alone would have been.
        let image = config.render_shape(&p);
        let total = p.primary.flux_r + c.flux_r;
        assert!((image.sum() / total - 1.0).abs() < 0.02, "flux {} of {total}", image.sum());
        let alone = config.members().sample_params(5, 2 * first_of(&config, SystemKind::Pair, 0).0);
        let (cx, cy, ..) = image.moments();
        assert!((cx - (64.0 + alone.offset_x)).abs() < 0.3 && (cy - (64.0 + alone.offset_y)).abs() < 0.3, "{cx}, {cy}");
    }

    #[test]
    fn tidal_features_hold_their_share_of_the_light() {
        let config = config(160);
        for kind in [SystemKind::Pair, SystemKind::Remnant] {
            let (_, p) = first_of(&config, kind, 0);
            let calm = MergerParams { tidal_fraction: 0.0, ..p.clone() };
            let (with, without) = (config.render_shape(&p).sum(), config.render_shape(&calm).sum());
            let total = p.primary.flux_r + p.companion.as_ref().map_or(0.0, |c| c.flux_r);
            let debris = (with - without) / total;
            assert!((debris - p.tidal_fraction).abs() < 0.01 * p.tidal_fraction + 1e-3, "{kind:?}: {debris} vs {p:?}");
        }
    }

    #[test]
    fn mergers_are_more_asymmetric_than_the_same_galaxies_undisturbed() {
        // Conselice's rotational asymmetry about the primary, on noiseless images: debris raises it.
        let config = config(96);
        let (mut raised, mut n, mut total_raise) = (0, 0, 0.0);
        let mut index = 0;
        while n < 40 {
            let (i, mut p) = first_of(&config, SystemKind::Remnant, index);
            index = i + 1;
            // Centred on a pixel corner, so that the half turn maps pixels onto pixels.
            (p.primary.offset_x, p.primary.offset_y) = (0.0, 0.0);
            let calm = MergerParams { tidal_fraction: 0.0, ..p.clone() };
            let a = rotational_asymmetry(&config.render_shape(&p), 48.0, 48.0);
            let a0 = rotational_asymmetry(&config.render_shape(&calm), 48.0, 48.0);
            raised += usize::from(a > a0 + 0.005);
            total_raise += a - a0;
            n += 1;
        }
        assert_eq!(raised, n, "debris raised the asymmetry of {raised} of {n} remnants by 0.005 or more");
        assert!(total_raise / n as f64 > 0.04, "mean raise {}", total_raise / n as f64);
        // The statistic itself: 0 for a symmetric image, 1 for light on one side only.
        let mut image = Image::zeros(10, 10);
        image.data[3 * 10 + 4] = 1.0;
        image.data[6 * 10 + 5] = 1.0;
        assert!(rotational_asymmetry(&image, 5.0, 5.0).abs() < 1e-12);
        image.data[6 * 10 + 5] = 0.0;
        assert!((rotational_asymmetry(&image, 5.0, 5.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = MergerSimConfig { merger_fraction: 1.5, ..MergerSimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "merger_fraction");
        let bad = MergerSimConfig { separation: [3.0, 1.0], ..MergerSimConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "separation");
        let mut bad = MergerSimConfig::default();
        bad.galaxies.image_size = 4;
        assert_eq!(bad.validate().unwrap_err().field, "galaxies.image_size");
        let mut framed = MergerSimConfig::default();
        framed.galaxies.framing_half_light_radii = 8.0;
        assert_eq!(framed.validate().unwrap_err().field, "galaxies.framing_half_light_radii");
        assert!(MergerSimConfig::default().validate().is_ok());
    }
}
