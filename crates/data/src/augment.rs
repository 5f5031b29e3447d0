//! Image augmentation: random affine transforms (rotation, shift, log-uniform zoom, flip) and
//! colour jitter for training, and fixed sets of transforms for test-time averaging, after
//! Dieleman, Willett & Dambre (2015, sec. 3.2 and 3.6).
//!
//! A transform maps each output pixel back to a point of the input (about the image centre)
//! and samples it bilinearly; points outside the image take the nearest edge pixel, which for
//! a galaxy cutout is sky. Training draws are reproducible: the transform of an item depends on
//! the seed, the item's id, the epoch and (where an epoch may draw an item twice) the draw's
//! place in the epoch, not on which worker thread draws it nor on whether the run was resumed.

use std::collections::HashMap;
use std::sync::Mutex;

use astro_sim::SampleRng;
use serde::{Deserialize, Serialize};

/// An out-of-range setting: the field under its section, and what is wrong.
pub type SettingError = (&'static str, String);

/// `[augment]`: random transforms applied to every training image, each time it is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Largest rotation either way, degrees (180 = any angle).
    pub rotation_deg: f64,
    /// Largest shift along each axis, pixels.
    pub shift_px: f64,
    /// Zoom range `[low, high]`, drawn log-uniformly (above 1 magnifies).
    pub zoom: [f64; 2],
    /// Mirror half of the images.
    pub flip: bool,
    /// Standard deviation of the log gain of each channel (0 for none).
    pub colour_jitter: f64,
    /// Rotate by a random multiple of 90 degrees instead of any angle up to `rotation_deg`:
    /// pixels move without interpolation, so the pixel noise keeps its statistics (for noisy
    /// data such as lens cutouts, where smoothing by interpolation would make training images
    /// unlike the test images).
    pub quarter_turns: bool,
}

impl Default for AugmentConfig {
    /// Dieleman et al.'s: any rotation, shifts of 4 px, zoom 1/1.3 to 1.3, flips, and a
    /// small colour perturbation.
    fn default() -> Self {
        Self {
            rotation_deg: 180.0,
            shift_px: 4.0,
            zoom: [1.0 / 1.3, 1.3],
            flip: true,
            colour_jitter: 0.05,
            quarter_turns: false,
        }
    }
}

/// `[test_time]`: predictions averaged over rotations x zooms x flips of each image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestTimeConfig {
    /// Rotations, evenly spaced over 360 degrees (1 for none).
    pub rotations: usize,
    /// Zoom factors.
    pub zooms: Vec<f64>,
    /// Also the mirrored image.
    pub flip: bool,
}

impl Default for TestTimeConfig {
    fn default() -> Self {
        Self { rotations: 4, zooms: vec![1.0], flip: true }
    }
}

/// One affine view of an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Rotation, radians counter-clockwise.
    pub angle: f64,
    /// Magnification.
    pub zoom: f64,
    /// Shift of the content, pixels.
    pub shift: (f64, f64),
    /// Mirror in x before rotating.
    pub flip: bool,
    /// Gain of each channel.
    pub gains: [f32; 3],
}

impl Transform {
    /// The identity.
    pub const IDENTITY: Transform =
        Transform { angle: 0.0, zoom: 1.0, shift: (0.0, 0.0), flip: false, gains: [1.0; 3] };

    /// Whether it leaves an image unchanged.
    pub fn is_identity(&self) -> bool {
        *self == Self::IDENTITY
    }

    /// The image seen through this transform (same shape, channel-major).
    pub fn apply(&self, pixels: &[f32], [channels, height, width]: [usize; 3]) -> Vec<f32> {
        if self.is_identity() {
            return pixels.to_vec();
        }
        let (cx, cy) = (width as f64 / 2.0, height as f64 / 2.0);
        let (sin, cos) = self.angle.sin_cos();
        let mut out = vec![0.0f32; pixels.len()];
        for y in 0..height {
            for x in 0..width {
                // Output pixel -> input point: undo the shift, the zoom, the rotation, the flip.
                let (u, v) = (x as f64 + 0.5 - cx - self.shift.0, y as f64 + 0.5 - cy - self.shift.1);
                let (u, v) = (u / self.zoom, v / self.zoom);
                let (u, v) = (cos * u + sin * v, -sin * u + cos * v);
                let u = if self.flip { -u } else { u };
                let (sx, sy) = (u + cx - 0.5, v + cy - 0.5);
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
                let clamp = |i: f64, n: usize| (i.max(0.0) as usize).min(n - 1);
                let (xa, xb) = (clamp(x0, width), clamp(x0 + 1.0, width));
                let (ya, yb) = (clamp(y0, height), clamp(y0 + 1.0, height));
                for c in 0..channels {
                    let plane = &pixels[c * height * width..(c + 1) * height * width];
                    let top = plane[ya * width + xa] * (1.0 - fx) + plane[ya * width + xb] * fx;
                    let bottom = plane[yb * width + xa] * (1.0 - fx) + plane[yb * width + xb] * fx;
                    let gain = self.gains.get(c).copied().unwrap_or(1.0);
                    out[c * height * width + y * width + x] = (top * (1.0 - fy) + bottom * fy) * gain;
                }
            }
        }
        out
    }
}

impl AugmentConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SettingError> {
        let bad = |field: &'static str, problem: String| (field, problem);
        if !(0.0..=180.0).contains(&self.rotation_deg) {
            return Err(bad("rotation_deg", format!("must be 0 to 180, got {}", self.rotation_deg)));
        }
        if !(self.shift_px.is_finite() && self.shift_px >= 0.0) {
            return Err(bad("shift_px", format!("must be zero or positive, got {}", self.shift_px)));
        }
        let [lo, hi] = self.zoom;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return Err(bad("zoom", format!("must be [low, high] with 0 < low <= high, got {:?}", self.zoom)));
        }
        if !(0.0..=1.0).contains(&self.colour_jitter) {
            return Err(bad("colour_jitter", format!("must be 0 to 1, got {}", self.colour_jitter)));
        }
        Ok(())
    }

    /// A random transform.
    pub fn draw(&self, rng: &mut SampleRng) -> Transform {
        let jitter = |rng: &mut SampleRng| (self.colour_jitter * rng.normal()).exp() as f32;
        let angle = if self.quarter_turns {
            (rng.next_u64() % 4) as f64 * std::f64::consts::FRAC_PI_2
        } else {
            rng.uniform_in(-self.rotation_deg, self.rotation_deg).to_radians()
        };
        Transform {
            angle,
            zoom: rng.log_uniform_in(self.zoom[0], self.zoom[1]),
            shift: (rng.uniform_in(-self.shift_px, self.shift_px), rng.uniform_in(-self.shift_px, self.shift_px)),
            flip: self.flip && rng.uniform() < 0.5,
            gains: [jitter(rng), jitter(rng), jitter(rng)],
        }
    }
}

impl TestTimeConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SettingError> {
        let bad = |field: &'static str, problem: String| (field, problem);
        if !(1..=360).contains(&self.rotations) {
            return Err(bad("rotations", format!("must be 1 to 360, got {}", self.rotations)));
        }
        if self.zooms.is_empty() || self.zooms.iter().any(|z| !(z.is_finite() && *z > 0.0)) {
            return Err(bad("zooms", format!("must list positive factors, got {:?}", self.zooms)));
        }
        Ok(())
    }

    /// Every view, the identity first.
    pub fn views(&self) -> Vec<Transform> {
        let mut views = Vec::new();
        for &zoom in &self.zooms {
            for flip in if self.flip { vec![false, true] } else { vec![false] } {
                for k in 0..self.rotations {
                    let angle = (k as f64 * 360.0 / self.rotations as f64).to_radians();
                    views.push(Transform { angle, zoom, flip, ..Transform::IDENTITY });
                }
            }
        }
        views
    }
}

/// Draws reproducible random transforms for training items: each draw is a pure function of
/// the seed, the item's id, the epoch and the draw's place in it.
#[derive(Debug)]
pub struct Augmenter {
    config: AugmentConfig,
    seed: u64,
    first_epoch: u64,
    draws: Mutex<HashMap<String, u64>>,
}

impl Augmenter {
    /// An augmenter for `config`, seeded by the experiment seed, for a run from its first epoch.
    pub fn new(config: AugmentConfig, seed: u64) -> Self {
        Self { config, seed, first_epoch: 0, draws: Mutex::new(HashMap::new()) }
    }

    /// The same for a run that goes on after `epochs` finished epochs (a resumed run, or a
    /// later stage): its draws are those an uninterrupted run makes from there.
    pub fn after_epochs(self, epochs: u64) -> Self {
        Self { first_epoch: epochs, ..self }
    }

    /// The transform of item `id` at its next draw, for loaders that draw every item once per
    /// epoch: its n-th draw in this session is its draw of epoch `first_epoch + n - 1`, whichever
    /// worker thread asks.
    pub fn next(&self, id: &str) -> Transform {
        let epoch = {
            let mut draws = self.draws.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let n = draws.entry(id.to_string()).or_insert(0);
            *n += 1;
            self.first_epoch + *n - 1
        };
        self.at(id, epoch, 0)
    }

    /// The transform of item `id` drawn at place `slot` of epoch `epoch` (0-based; for loaders
    /// that know where each item sits in the epoch, and may draw an item more than once in it).
    pub fn at(&self, id: &str, epoch: u64, slot: u64) -> Transform {
        let stream =
            id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        self.config.draw(&mut SampleRng::for_sample(self.seed ^ stream, epoch, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(size: usize) -> Vec<f32> {
        (0..3 * size * size).map(|i| ((i % (size * size)) % size) as f32).collect()
    }

    #[test]
    fn quarter_turns_and_flips_move_pixels_exactly() {
        let size = 6;
        let image: Vec<f32> = (0..size * size).map(|i| i as f32).collect();
        let quarter = Transform { angle: std::f64::consts::FRAC_PI_2, ..Transform::IDENTITY };
        let turned = quarter.apply(&image, [1, size, size]);
        let back =
            Transform { angle: -std::f64::consts::FRAC_PI_2, ..Transform::IDENTITY }.apply(&turned, [1, size, size]);
        for (a, b) in back.iter().zip(&image) {
            assert!((a - b).abs() < 1e-4);
        }
        assert_ne!(turned, image);
        let flipped = Transform { flip: true, ..Transform::IDENTITY }.apply(&image, [1, size, size]);
        assert_eq!(flipped[0], image[size - 1]);
        assert_eq!(flipped[size - 1], image[0]);
    }

    #[test]
    fn shifts_zooms_and_gains_do_what_they_say() {
        let size = 20;
        let image = ramp(size);
        let shifted = Transform { shift: (2.0, 0.0), ..Transform::IDENTITY }.apply(&image, [3, size, size]);
        // Content moves right by 2: the value at column 10 came from column 8.
        assert!((shifted[10] - 8.0).abs() < 1e-4);
        let zoomed = Transform { zoom: 2.0, ..Transform::IDENTITY }.apply(&image, [3, size, size]);
        // Magnified about the centre (x = 10): column 14.5 (pixel 14) shows input x = 12.25.
        assert!((zoomed[14] - 11.75).abs() < 1e-4, "{}", zoomed[14]);
        let gained = Transform { gains: [2.0, 1.0, 0.5], ..Transform::IDENTITY }.apply(&image, [3, size, size]);
        assert!((gained[5] - 10.0).abs() < 1e-4 && (gained[2 * size * size + 5] - 2.5).abs() < 1e-4);
    }

    #[test]
    fn draws_are_reproducible_per_item_and_stay_in_range() {
        let config = AugmentConfig::default();
        let (a, b) = (Augmenter::new(config.clone(), 3), Augmenter::new(config.clone(), 3));
        let first = a.next("x");
        assert_ne!(first, a.next("x"), "the second draw of an item differs");
        b.next("y");
        assert_eq!(first, b.next("x"), "other items do not disturb an item's draws");
        // A run resumed after two epochs draws what an uninterrupted one draws in its third.
        let third = a.next("x");
        let resumed = Augmenter::new(config.clone(), 3).after_epochs(2);
        assert_eq!(resumed.next("x"), third);
        assert_eq!(resumed.next("y"), a.at("y", 2, 0));
        // Placed draws depend on the epoch and the place only.
        assert_eq!(a.at("x", 4, 17), b.at("x", 4, 17));
        assert_ne!(a.at("x", 4, 17), a.at("x", 4, 18));
        assert_ne!(a.at("x", 4, 17), a.at("x", 5, 17));
        for i in 0..200 {
            let t = a.next(&i.to_string());
            assert!(t.angle.abs() <= std::f64::consts::PI && t.shift.0.abs() <= 4.0);
            assert!((1.0 / 1.3 - 1e-9..=1.3 + 1e-9).contains(&t.zoom));
        }
    }

    #[test]
    fn quarter_turns_keep_every_pixel_value() {
        let config = AugmentConfig {
            quarter_turns: true,
            shift_px: 0.0,
            zoom: [1.0, 1.0],
            colour_jitter: 0.0,
            ..AugmentConfig::default()
        };
        let a = Augmenter::new(config, 1);
        let image: Vec<f32> = (0..3 * 81).map(|i| ((i * 37) % 101) as f32).collect();
        let mut sorted_in = image.clone();
        sorted_in.sort_by(f32::total_cmp);
        let mut angles = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let t = a.next("x");
            angles.insert((t.angle.to_degrees().round() as i64).rem_euclid(360));
            let mut out = t.apply(&image, [3, 9, 9]);
            // A permutation of the pixels, values exact to rounding.
            out.iter_mut().for_each(|v| *v = v.round());
            out.sort_by(f32::total_cmp);
            assert_eq!(out, sorted_in);
        }
        assert_eq!(angles.into_iter().collect::<Vec<_>>(), [0, 90, 180, 270]);
    }

    #[test]
    fn test_time_views_cover_rotations_zooms_and_flips() {
        let views = TestTimeConfig { rotations: 4, zooms: vec![1.0, 1.2], flip: true }.views();
        assert_eq!(views.len(), 16);
        assert!(views[0].is_identity());
        assert!(TestTimeConfig { rotations: 0, ..TestTimeConfig::default() }.validate().is_err());
        assert!(AugmentConfig { zoom: [1.2, 1.0], ..AugmentConfig::default() }.validate().is_err());
    }
}
