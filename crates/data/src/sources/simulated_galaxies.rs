//! Simulated galaxies as a random-access data set: item `i` is rendered on demand from
//! `(seed, first + i)`, so splits are disjoint index ranges and nothing touches the disk.
//! Rendered images may be kept in memory as bytes, so that only the first epoch pays for the
//! simulator (a 98-pixel RGB galaxy is 29 kB).
//!
//! Labels are the 37 Galaxy Zoo 2 answer fractions (regression), or the Galaxy10 class
//! (classification). Galaxy10, like the real catalogue, leaves out galaxies its votes do not
//! place in one of the ten classes: item `i` is then the first accepted galaxy among the
//! candidates `i * CANDIDATES .. (i + 1) * CANDIDATES`, still a pure function of `(seed, i)`.

use std::sync::{Arc, OnceLock};

use astro_sim::GalaxySimConfig;
use astro_sim::galaxy_zoo::answer_names;
use astro_sim::galaxy10::{GALAXY10_CLASSES, galaxy10_class};
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::ByteCache;
use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::SimulatedSplits;
use crate::sources::Source;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

/// Candidate galaxies per Galaxy10 item (at the lowest acceptance [`open`] allows, 10%, all
/// of them are rejected with probability 0.9^256, about 2e-12).
pub const CANDIDATES: u64 = 256;

/// The lowest share of simulated galaxies that may receive a Galaxy10 class.
const MIN_ACCEPTANCE: f64 = 0.10;

/// What simulated galaxies are labelled with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GalaxyLabels {
    /// The 37 Galaxy Zoo 2 answer fractions, from volunteer votes (regression).
    #[default]
    GalaxyZoo,
    /// The Galaxy10 class (0-9) cut from the same votes (classification).
    Galaxy10,
    /// Whether the simulator drew a ring component (`ring_probability` of the disks): classes
    /// `no_ring` and `ring`, as Galaxy Zoo DECaLS' ring labels.
    Ring,
}

/// `[data]` with `source = "simulated_galaxies"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedGalaxiesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits,
    /// Keep each rendered image in memory (one byte per value, like an 8-bit JPEG) so that
    /// later epochs do not run the simulator again.
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
    /// `galaxy_zoo` (37 answer fractions), `galaxy10` (10 classes) or `ring` (ring / no ring).
    #[serde(default)]
    pub labels: GalaxyLabels,
    /// Simulator settings (`[data.simulator]`).
    #[serde(default)]
    pub simulator: GalaxySimConfig,
}


/// The simulator index an item was drawn from, and its Galaxy10 class when labelled so.
type Draw = (u64, Option<usize>);

/// A contiguous range of simulated galaxies.
#[derive(Debug, Clone)]
pub struct SimulatedGalaxies {
    /// The simulator settings.
    pub config: GalaxySimConfig,
    /// What the galaxies are labelled with.
    pub labels: GalaxyLabels,
    /// The experiment seed.
    pub seed: u64,
    /// Index of the first galaxy of this split.
    pub first: u64,
    /// Number of galaxies.
    pub len: usize,
    /// Rendered images, filled as items are first drawn.
    cache: ByteCache,
    /// The simulator index and Galaxy10 class of each item, found on first use.
    draws: Arc<Vec<OnceLock<Draw>>>,
}

impl SimulatedGalaxies {
    /// Galaxies `first .. first + len` of the set seeded by `seed`, kept in memory once
    /// rendered if `cache`.
    pub fn new(config: GalaxySimConfig, labels: GalaxyLabels, seed: u64, first: u64, len: usize, cache: bool) -> Self {
        let draws = Arc::new((0..len).map(|_| OnceLock::new()).collect());
        Self { config, labels, seed, first, len, cache: ByteCache::new(len, cache), draws }
    }

    /// The simulator index of item `index`, and its Galaxy10 class when labelled so.
    fn draw(&self, index: usize) -> Draw {
        *self.draws[index].get_or_init(|| {
            let global = self.first + index as u64;
            match self.labels {
                GalaxyLabels::GalaxyZoo | GalaxyLabels::Ring => (global, None),
                GalaxyLabels::Galaxy10 => (global * CANDIDATES..(global + 1) * CANDIDATES)
                    .find_map(|k| galaxy10_class(&self.config.answers(self.seed, k)).map(|c| (k, Some(c))))
                    .unwrap_or((global * CANDIDATES, None)),
            }
        })
    }
}

impl LabelledImages for SimulatedGalaxies {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!(
                "index {index} out of {} galaxies",
                self.len
            ))));
        }
        let (source, _) = self.draw(index);
        let size = self.config.image_size;
        let pixels =
            self.cache.get_or_make(index, || Ok::<_, DatasetError>(self.config.simulate(self.seed, source).rgb))?;
        Ok(ImageItem { id: self.id(index), pixels, shape: [3, size, size], targets: self.targets(index)?, features: Vec::new() })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn id(&self, index: usize) -> String {
        format!("sim-{}", self.first + index as u64)
    }

    /// The answer fractions, or the class index (NaN in the 2e-12 case of no accepted candidate,
    /// which the loss then reports).
    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        let (source, class) = self.draw(index);
        Ok(match self.labels {
            GalaxyLabels::GalaxyZoo => self.config.answers(self.seed, source).iter().map(|&v| v as f32).collect(),
            GalaxyLabels::Galaxy10 => vec![class.map_or(f32::NAN, |c| c as f32)],
            GalaxyLabels::Ring => vec![self.config.has_ring(self.seed, source) as u8 as f32],
        })
    }
}

impl Source for SimulatedGalaxiesConfig {
    fn kind(&self) -> &'static str {
        "simulated galaxies (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        let simulator = &self.simulator;
        simulator.validate()?;
        self.splits.check()?;
        let (task, target_names) = match self.labels {
            GalaxyLabels::GalaxyZoo => (Task::Regression, answer_names()),
            GalaxyLabels::Galaxy10 => {
                let accepted = (0..400).filter(|&i| galaxy10_class(&simulator.answers(seed, i)).is_some()).count();
                let share = accepted as f64 / 400.0;
                if share < MIN_ACCEPTANCE {
                    return Err(DataError::setting(
                        "labels",
                        format!(
                            "these simulator settings give a Galaxy10 class to only {:.0}% of galaxies (at least {:.0}% needed): draw fewer stars or ambiguous galaxies",
                            100.0 * share,
                            100.0 * MIN_ACCEPTANCE
                        ),
                    ));
                }
                (Task::Classification, GALAXY10_CLASSES.iter().map(|s| s.to_string()).collect())
            }
            GalaxyLabels::Ring => (Task::Classification, vec!["no_ring".to_string(), "ring".to_string()]),
        };
        let split = |first: usize, len: usize| {
            ImageSplit::new(SimulatedGalaxies::new(simulator.clone(), self.labels, seed, first as u64, len, self.cache))
        };
        let size = simulator.image_size;
        let labels = match self.labels {
            GalaxyLabels::GalaxyZoo => "Galaxy Zoo answers",
            GalaxyLabels::Galaxy10 => "Galaxy10 classes",
            GalaxyLabels::Ring => "ring / no ring",
        };
        let scale = if simulator.frames_each_galaxy() {
            format!("framed to {} half-light radii", simulator.framing_half_light_radii)
        } else {
            format!("at {}\"/px", simulator.pixel_scale_arcsec)
        };
        let description = format!(
            "simulated galaxies with {labels}, {size}x{size} px RGB {scale}, seeing {}\" FWHM: {}",
            simulator.psf_fwhm_arcsec,
            self.splits.counts()
        );
        let info = DataInfo::images(task, target_names, description, Preprocess::whole(size, 3));
        Ok(self.splits.open(info, split))
    }

    fn shrink_for_smoke(&mut self) {
        self.splits.shrink(48, 16, 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_says_the_scale_or_the_framing() {
        let open = |extra: &str| {
            let text = format!("train = 2\nvalid = 1\ntest = 1\ncache = false\n[simulator]\nimage_size = 24\n{extra}");
            toml::from_str::<SimulatedGalaxiesConfig>(&text).unwrap().open(1).unwrap().info.description
        };
        let fixed = open("pixel_scale_arcsec = 0.5\n");
        assert!(fixed.contains("24x24 px RGB at 0.5\"/px"), "{fixed}");
        let framed = open("framing_half_light_radii = 8.0\n");
        assert!(framed.contains("24x24 px RGB framed to 8 half-light radii"), "{framed}");
    }

    #[test]
    fn items_are_reproducible_and_match_their_targets() {
        let config = GalaxySimConfig { image_size: 24, ..Default::default() };
        let ds = SimulatedGalaxies::new(config.clone(), GalaxyLabels::GalaxyZoo, 5, 100, 10, false);
        let a = ds.item(3).unwrap();
        assert_eq!(a, ds.item(3).unwrap());
        assert_eq!(a.id, "sim-103");
        assert_eq!(a.shape, [3, 24, 24]);
        assert_eq!(a.pixels.len(), 3 * 24 * 24);
        assert_eq!(a.targets, ds.targets(3).unwrap());
        assert_eq!(a.targets.len(), 37);
        assert_eq!(a.pixels, config.simulate(5, 103).rgb);
        // The cached set gives the same image to 8 bits, every time.
        let cached = SimulatedGalaxies::new(config, GalaxyLabels::GalaxyZoo, 5, 100, 10, true);
        let b = cached.item(3).unwrap();
        assert_eq!(b, cached.item(3).unwrap());
        assert!(a.pixels.iter().zip(&b.pixels).all(|(x, y)| (x - y).abs() <= 0.5 / 255.0 + 1e-6));
        assert!(cached.item(10).is_err());
    }

    #[test]
    fn galaxy10_items_are_accepted_galaxies_with_their_class() {
        let config = GalaxySimConfig { image_size: 24, ..Default::default() };
        let ds = SimulatedGalaxies::new(config.clone(), GalaxyLabels::Galaxy10, 3, 40, 60, false);
        let mut counts = [0usize; 10];
        for i in 0..ds.count() {
            let (source, class) = ds.draw(i);
            let global = 40 + i as u64;
            assert!((global * CANDIDATES..(global + 1) * CANDIDATES).contains(&source));
            // The class is the one the galaxy's own votes give, and every earlier candidate had none.
            assert_eq!(class, galaxy10_class(&config.answers(3, source)));
            assert!((global * CANDIDATES..source).all(|k| galaxy10_class(&config.answers(3, k)).is_none()));
            counts[class.unwrap()] += 1;
            assert_eq!(ds.targets(i).unwrap(), [class.unwrap() as f32]);
        }
        assert!(counts.iter().filter(|&&c| c > 0).count() >= 6, "too few classes drawn: {counts:?}");
        let item = ds.item(7).unwrap();
        assert_eq!(item.pixels, config.simulate(3, ds.draw(7).0).rgb);
        assert_eq!(item.id, "sim-47");
    }
}
