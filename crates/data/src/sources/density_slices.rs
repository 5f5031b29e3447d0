//! 2-D slices of simulated matter density boxes (crate `sim`'s [`DensityFieldConfig`]) for the
//! cosmic-web GAN (Rodriguez et al. 2018). Item `i` is slice `i % slices_per_box` of box
//! `i / slices_per_box`; splits are contiguous ranges of items, so a test slice comes from a box
//! no training slice comes from (when the split sizes are multiples of the slices per box).
//! Pixels are the paper's map `s(x) = 2x/(x + a) - 1` of the density (in units of the mean),
//! moved to [0, 1) as `(s + 1) / 2` like every image source; [`DensitySlicesConfig::density_of`]
//! inverts it. The targets are the pixels themselves (a GAN has no labels).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use astro_sim::density_field::DensityFieldConfig;
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::ByteCache;
use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::{SimulatedSplits, SplitSizes};
use crate::sources::Source;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

/// Boxes kept in memory per split while their slices are drawn.
const BOXES_KEPT: usize = 4;

fn default_cache() -> bool {
    true
}

/// 2,048 training slices, 256 validation and test slices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SliceSizes;

impl SplitSizes for SliceSizes {
    const TRAIN: usize = 2048;
    const HELD_OUT: usize = 256;
}

/// `[data]` with `source = "simulated_density_slices"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensitySlicesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits<SliceSizes>,
    /// Keep each drawn slice in memory (one byte per value).
    #[serde(default = "default_cache")]
    pub cache: bool,
    /// The density fields (`[data.simulator]`).
    #[serde(default)]
    pub simulator: DensityFieldConfig,
}


/// The density (in units of the mean) of pixel value `p` in [0, 1) under `config`'s map.
pub fn density_of(config: &DensityFieldConfig, p: f64) -> f64 {
    config.unmap(2.0 * p - 1.0)
}

/// Recently drawn boxes, by box index, shared by the loader's threads.
type RecentBoxes = Arc<Mutex<VecDeque<(u64, Arc<Vec<f64>>)>>>;

/// A contiguous range of slices.
#[derive(Debug, Clone)]
pub struct DensitySlices {
    config: DensityFieldConfig,
    seed: u64,
    first: usize,
    len: usize,
    cache: ByteCache,
    /// The last few boxes drawn, by box index.
    boxes: RecentBoxes,
}

impl DensitySlices {
    /// The density of box `b`, drawn once while its slices are wanted.
    fn density_box(&self, b: u64) -> Arc<Vec<f64>> {
        if let Some(found) =
            self.boxes.lock().ok().and_then(|boxes| boxes.iter().find(|(k, _)| *k == b).map(|(_, v)| v.clone()))
        {
            return found;
        }
        let density = Arc::new(self.config.density(self.seed, b));
        if let Ok(mut boxes) = self.boxes.lock() {
            boxes.push_back((b, density.clone()));
            while boxes.len() > BOXES_KEPT {
                boxes.pop_front();
            }
        }
        density
    }
}

impl LabelledImages for DensitySlices {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} slices", self.len))));
        }
        let global = self.first + index;
        let per_box = self.config.slices_per_box();
        let pixels = self.cache.get_or_make(index, || {
            let density = self.density_box((global / per_box) as u64);
            let slice = self.config.slice(&density, global % per_box);
            Ok::<_, DatasetError>(slice.iter().map(|&x| (0.5 * (self.config.map(x) + 1.0)) as f32).collect())
        })?;
        let n = self.config.grid;
        Ok(ImageItem { id: self.id(index), targets: pixels.clone(), pixels, shape: [1, n, n], features: Vec::new() })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.item(index).map(|item| item.targets)
    }

    fn id(&self, index: usize) -> String {
        let global = self.first + index;
        let per_box = self.config.slices_per_box();
        format!("box-{}-slice-{}", global / per_box, global % per_box)
    }
}

impl Source for DensitySlicesConfig {
    fn kind(&self) -> &'static str {
        "simulated matter density slices (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        self.splits.check()?;
        let n = self.simulator.grid;
        let split = |first: usize, len: usize| {
            ImageSplit::new(DensitySlices {
                config: self.simulator.clone(),
                seed,
                first,
                len,
                cache: ByteCache::new(len, self.cache),
                boxes: Arc::new(Mutex::new(VecDeque::new())),
            })
        };
        let sim = &self.simulator;
        let evolution = format!("{:?}", sim.evolution).to_lowercase();
        let description = format!(
            "slices of simulated {} density boxes ({n}^3 cells, {} Mpc/h, {} cells thick, smoothed {} Mpc/h, map a = {}): {}",
            evolution,
            sim.box_mpc,
            sim.slice_cells,
            sim.smoothing_mpc,
            sim.map_a,
            self.splits.counts()
        );
        let names = vec![format!("pixel values (1 x {n} x {n})")];
        let info = DataInfo::images(Task::Reconstruction, names, description, Preprocess::whole(n, 1));
        Ok(self.splits.open(info, split))
    }

    fn shrink_for_smoke(&mut self) {
        self.simulator.grid = self.simulator.grid.min(32);
        self.simulator.slice_cells = self.simulator.slice_cells.min(self.simulator.grid);
        self.splits.shrink(32, 8, 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    #[test]
    fn slices_are_the_mapped_density_of_their_box() {
        let config: DensitySlicesConfig =
            toml::from_str("train = 8\nvalid = 4\ntest = 4\ncache = false\n[simulator]\ngrid = 16\nslice_cells = 4\n")
                .unwrap();
        let data = config.open(3).unwrap();
        assert_eq!(data.info.input, [1, 16, 16]);
        // Test item 1 is item 13: box 3, slice 1.
        let item = data.test.get(1).unwrap();
        assert_eq!(item.id, "box-3-slice-1");
        let sim = &config.simulator;
        let density = sim.slice(&sim.density(3, 3), 1);
        for (p, x) in item.pixels.iter().zip(&density) {
            assert!((density_of(sim, f64::from(*p)) - x).abs() < 1e-4 * (1.0 + x), "{p} vs {x}");
        }
        assert!(item.pixels.iter().all(|p| (0.0..1.0).contains(p)));
    }
}
