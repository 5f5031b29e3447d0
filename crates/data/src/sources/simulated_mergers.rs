//! Simulated galaxy mergers and non-interacting galaxies (crate `sim`'s [`MergerSimConfig`]) as
//! a two-class data set: `noninteracting` (0: isolated galaxies and chance projections) and
//! `merger` (1: interacting pairs and remnants), the classes of Ackermann et al. (2018). System
//! `i` is rendered on demand from `(seed, first + i)` and kept in memory as bytes once drawn;
//! each item records what made it (separation, flux ratio, share of tidal light, S/N, and
//! whether it is a chance projection or a remnant) so that metrics can be binned by them.

use astro_sim::merger::{MergerParams, MergerSimConfig, SystemKind};
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

/// The class names, in label order (a folder of real images with these two sub-folders reads
/// the same with `classes = ["noninteracting", "merger"]`).
pub const MERGER_CLASSES: [&str; 2] = ["noninteracting", "merger"];

/// `[data]` with `source = "simulated_mergers"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedMergersConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits,
    /// Keep each rendered image in memory (one byte per value) so that later epochs do not run
    /// the simulator again.
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
    /// Simulator settings (`[data.simulator]`, with the member galaxies in
    /// `[data.simulator.galaxies]`).
    #[serde(default)]
    pub simulator: MergerSimConfig,
}


/// A contiguous range of simulated systems.
#[derive(Debug, Clone)]
pub struct SimulatedMergers {
    config: MergerSimConfig,
    seed: u64,
    first: u64,
    len: usize,
    cache: ByteCache,
}

fn label(p: &MergerParams) -> f32 {
    if p.is_merger() { 1.0 } else { 0.0 }
}

impl LabelledImages for SimulatedMergers {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} systems", self.len))));
        }
        let global = self.first + index as u64;
        let size = self.config.galaxies.image_size;
        let pixels =
            self.cache.get_or_make(index, || Ok::<_, DatasetError>(self.config.simulate(self.seed, global).rgb))?;
        Ok(ImageItem { id: self.id(index), pixels, shape: [3, size, size], targets: self.targets(index)?, features: Vec::new() })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![label(&self.config.sample_params(self.seed, self.first + index as u64))])
    }

    fn id(&self, index: usize) -> String {
        format!("merger-{}", self.first + index as u64)
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        let p = self.config.sample_params(self.seed, self.first + index as u64);
        let flag = |yes: bool| if yes { 1.0 } else { 0.0 };
        [
            ("separation_arcsec", p.separation_arcsec),
            ("flux_ratio", p.flux_ratio),
            ("tidal_fraction", p.tidal_fraction),
            ("snr", p.snr),
            ("projection", flag(p.kind == SystemKind::Projection)),
            ("remnant", flag(p.kind == SystemKind::Remnant)),
        ]
        .map(|(name, v)| (name.to_string(), v))
        .to_vec()
    }
}

impl Source for SimulatedMergersConfig {
    fn kind(&self) -> &'static str {
        "simulated galaxy mergers (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        self.splits.check()?;
        let sim = &self.simulator;
        let size = sim.galaxies.image_size;
        let split = |first: usize, len: usize| {
            ImageSplit::new(SimulatedMergers {
                config: sim.clone(),
                seed,
                first: first as u64,
                len,
                cache: ByteCache::new(len, self.cache),
            })
        };
        let description = format!(
            "simulated mergers ({:.0}%, a quarter of them remnants) and non-interacting galaxies ({:.0}% of them chance projections), {size}x{size} px RGB at {}\"/px: {}",
            100.0 * sim.merger_fraction,
            100.0 * sim.projection_fraction,
            sim.galaxies.pixel_scale_arcsec,
            self.splits.counts()
        );
        let classes = MERGER_CLASSES.iter().map(|s| s.to_string()).collect();
        let info = DataInfo::images(Task::Classification, classes, description, Preprocess::whole(size, 3));
        Ok(self.splits.open(info, split))
    }

    fn shrink_for_smoke(&mut self) {
        self.splits.shrink(48, 16, 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    #[test]
    fn systems_are_cached_items_with_their_class_and_what_made_them() {
        let config: SimulatedMergersConfig =
            toml::from_str("train = 6\nvalid = 2\ntest = 8\n[simulator.galaxies]\nimage_size = 32\n").unwrap();
        let data = config.open(4).unwrap();
        assert_eq!(data.info.input, [3, 32, 32]);
        assert_eq!(data.info.target_names, ["noninteracting", "merger"]);
        assert_eq!(data.info.task, Task::Classification);
        let mut seen = [0; 2];
        for i in 0..data.test.len() {
            let item = data.test.get(i).unwrap();
            assert_eq!(item.id, format!("merger-{}", 8 + i));
            let params = config.simulator.sample_params(4, 8 + i as u64);
            assert_eq!(item.targets, [label(&params)]);
            seen[item.targets[0] as usize] += 1;
            let rendered = config.simulator.simulate(4, 8 + i as u64).rgb;
            assert!(item.pixels.iter().zip(&rendered).all(|(a, b)| (a - b).abs() <= 0.5 / 255.0 + 1e-6));
            let attributes = data.test.attributes(i);
            assert_eq!(attributes[0], ("separation_arcsec".to_string(), params.separation_arcsec));
            let projection = attributes.iter().find(|(n, _)| n == "projection").unwrap().1;
            assert_eq!(projection == 1.0, params.kind == SystemKind::Projection);
        }
        assert!(seen[0] > 0 && seen[1] > 0, "both classes among 8 systems: {seen:?}");
        assert!(data.test.get(8).is_err());
    }

    #[test]
    fn bad_settings_name_their_field() {
        let config: SimulatedMergersConfig = toml::from_str("[simulator]\nmerger_fraction = 2.0\n").unwrap();
        let err = config.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.simulator.merger_fraction: must be a probability"), "{err}");
        let config: SimulatedMergersConfig = toml::from_str("[simulator.galaxies]\nimage_size = 2\n").unwrap();
        let err = config.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.simulator.galaxies.image_size: must be 8 to 1024"), "{err}");
    }
}
