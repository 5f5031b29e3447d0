//! Simulated galaxies as a random-access data set: item `i` is rendered on demand from
//! `(seed, first + i)`, so splits are disjoint index ranges and nothing touches the disk.

use astro_sim::GalaxySimConfig;
use astro_sim::galaxy_zoo::answer_fractions;
use burn::data::dataset::{Dataset, DatasetError};

use crate::item::ImageItem;

/// A contiguous range of simulated galaxies.
#[derive(Debug, Clone)]
pub struct SimulatedGalaxies {
    /// The simulator settings.
    pub config: GalaxySimConfig,
    /// The experiment seed.
    pub seed: u64,
    /// Index of the first galaxy of this split.
    pub first: u64,
    /// Number of galaxies.
    pub len: usize,
}

impl SimulatedGalaxies {
    /// The targets of item `index` without rendering its image.
    pub fn targets(&self, index: usize) -> Vec<f32> {
        let params = self.config.sample_params(self.seed, self.first + index as u64);
        answer_fractions(&params).iter().map(|&v| v as f32).collect()
    }
}

impl Dataset<ImageItem> for SimulatedGalaxies {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let global = self.first + index as u64;
        let galaxy = self.config.simulate(self.seed, global);
        let size = self.config.image_size;
        Ok(ImageItem {
            id: format!("sim-{global}"),
            pixels: galaxy.rgb,
            shape: [3, size, size],
            targets: galaxy.answers.iter().map(|&v| v as f32).collect(),
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_reproducible_and_match_their_targets() {
        let ds = SimulatedGalaxies {
            config: GalaxySimConfig { image_size: 24, ..Default::default() },
            seed: 5,
            first: 100,
            len: 10,
        };
        let a = ds.get(3).unwrap();
        assert_eq!(a, ds.get(3).unwrap());
        assert_eq!(a.id, "sim-103");
        assert_eq!(a.shape, [3, 24, 24]);
        assert_eq!(a.pixels.len(), 3 * 24 * 24);
        assert_eq!(a.targets, ds.targets(3));
        assert_eq!(a.targets.len(), 37);
    }
}
