//! Simulated strong-lens scenes (crate `sim`'s [`LensSimConfig`]) as a two-class data set:
//! `non-lens` (0) and `lens` (1). Scene `i` is rendered on demand from `(seed, first + i)`, and
//! kept in memory unless `cache = false` (the same scene each epoch, so later epochs do not
//! simulate again: in a `deeplens_resnet` run the simulator took about a third of the CPU time of
//! every epoch); each item records the Einstein radius and the S/N of its source, so that
//! metrics can be binned by them.
//!
//! Pixels are counts put on a common scale with an asinh stretch in units of the sky noise,
//! `asinh(counts / (3 sigma)) / 5`: the noise has an rms of about 0.07, faint arcs stay linear
//! and the lens galaxy's bright core (hundreds of sigma) stays near 1.

use astro_sim::lens_scene::LensSimConfig;
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::FloatCache;
use crate::formats::cutouts::FitsCutouts;
use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::SimulatedSplits;
use crate::sources::Source;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

/// The class names, in label order.
pub const LENS_CLASSES: [&str; 2] = ["non-lens", "lens"];

/// `[data]` with `source = "simulated_lenses"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedLensesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits,
    /// Keep each stretched scene in memory (4 bytes a value, exact: 8 KB for a 45 x 45 band) so
    /// that later epochs do not run the simulator again.
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
    /// Simulator settings (`[data.simulator]`).
    #[serde(default)]
    pub simulator: LensSimConfig,
}

/// The stretch applied to counts over the sky noise.
pub fn stretch(counts: f64, sigma: f64) -> f32 {
    ((counts / (3.0 * sigma)).asinh() / 5.0) as f32
}


/// A contiguous range of simulated scenes.
#[derive(Debug, Clone)]
pub struct SimulatedLenses {
    config: LensSimConfig,
    seed: u64,
    first: u64,
    len: usize,
    cache: FloatCache,
}

impl LabelledImages for SimulatedLenses {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} scenes", self.len))));
        }
        let pixels = self.cache.get_or_make(index, || {
            let scene = self.config.simulate(self.seed, self.first + index as u64);
            Ok::<_, DatasetError>(
                scene.bands.iter().flat_map(|b| b.data.iter().map(|&v| stretch(v, scene.sigma))).collect(),
            )
        })?;
        let size = self.config.image_size;
        Ok(ImageItem {
            id: self.id(index),
            pixels,
            shape: [self.config.bands.len(), size, size],
            targets: self.targets(index)?,
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![if self.config.sample_params(self.seed, self.first + index as u64).is_lens { 1.0 } else { 0.0 }])
    }

    fn id(&self, index: usize) -> String {
        format!("lens-{}", self.first + index as u64)
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        let p = self.config.sample_params(self.seed, self.first + index as u64);
        [("einstein_radius", p.einstein_radius), ("source_snr", p.source_snr), ("lens_snr", p.lens_snr)]
            .map(|(name, v)| (name.to_string(), v))
            .to_vec()
    }
}

impl Source for SimulatedLensesConfig {
    fn kind(&self) -> &'static str {
        "simulated strong lenses (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        self.splits.check()?;
        let sim = &self.simulator;
        let (size, bands) = (sim.image_size, sim.bands.len());
        let split = |first: usize, len: usize| {
            let cache = FloatCache::new(len, self.cache);
            ImageSplit::new(SimulatedLenses { config: sim.clone(), seed, first: first as u64, len, cache })
        };
        let names: Vec<&str> = sim.bands.iter().map(|b| b.name.as_str()).collect();
        let description = format!(
            "simulated strong lenses ({:.0}% lenses), {size}x{size} px at {}\"/px, bands {}: {}",
            100.0 * sim.lens_fraction,
            sim.pixel_scale_arcsec,
            names.join(", "),
            self.splits.counts()
        );
        let classes = LENS_CLASSES.iter().map(|s| s.to_string()).collect();
        let mut info = DataInfo::images(Task::Classification, classes, description, Preprocess::whole(size, bands));
        // Real cutouts read for this model are stretched as these are (noise-scaled asinh).
        let band_names = sim.bands.iter().map(|b| b.name.clone()).collect();
        info.fits = Some(FitsCutouts { bands: band_names, masked_value: None, side: size });
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
    fn scenes_are_stretched_items_with_their_class_and_attributes() {
        let config: SimulatedLensesConfig = toml::from_str("train = 6\nvalid = 2\ntest = 4\n").unwrap();
        let data = config.open(9).unwrap();
        assert_eq!(data.info.input, [1, 45, 45]);
        assert_eq!(data.info.target_names, ["non-lens", "lens"]);
        let item = data.test.get(1).unwrap();
        assert_eq!(item.id, "lens-9");
        assert_eq!(item.targets, data.test.targets(1).unwrap());
        let scene = config.simulator.simulate(9, 9);
        assert_eq!(item.targets, [f32::from(u8::from(scene.params.is_lens))]);
        assert!((item.pixels[0] - stretch(scene.bands[0].data[0], scene.sigma)).abs() < 1e-7);
        let attributes = data.test.attributes(1);
        assert_eq!(attributes[0], ("einstein_radius".to_string(), scene.params.einstein_radius));
        // The stretch: linear near zero in units of 3 sigma, logarithmic far above.
        assert!((stretch(0.3, 1.0) - 0.02).abs() < 1e-3);
        assert!(stretch(1000.0, 1.0) > 1.0);
    }

    #[test]
    fn cached_scenes_are_the_simulated_ones_on_every_read() {
        let cached: SimulatedLensesConfig = toml::from_str("train = 5
valid = 1
test = 1
").unwrap();
        assert!(cached.cache, "on by default");
        let fresh: SimulatedLensesConfig = toml::from_str("train = 5
valid = 1
test = 1
cache = false
").unwrap();
        let (cached, fresh) = (cached.open(4).unwrap(), fresh.open(4).unwrap());
        for index in 0..5 {
            let first = cached.train.get(index).unwrap();
            for item in [cached.train.get(index).unwrap(), fresh.train.get(index).unwrap()] {
                assert_eq!((&item.id, &item.targets, item.shape), (&first.id, &first.targets, first.shape));
                assert_eq!(item.pixels, first.pixels, "item {index}");
            }
        }
        assert!(cached.train.get(5).is_err(), "past the end");
    }
}
