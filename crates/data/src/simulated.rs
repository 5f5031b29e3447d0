//! Simulated galaxies as a random-access data set: item `i` is rendered on demand from
//! `(seed, first + i)`, so splits are disjoint index ranges and nothing touches the disk.
//! Rendered images may be kept in memory as bytes, so that only the first epoch pays for the
//! simulator (a 98-pixel RGB galaxy is 29 kB).

use std::sync::{Arc, OnceLock};

use astro_sim::GalaxySimConfig;
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
    /// Rendered images as bytes (value x 255), filled as items are first drawn.
    cache: Option<Arc<Vec<OnceLock<Vec<u8>>>>>,
}

impl SimulatedGalaxies {
    /// Galaxies `first .. first + len` of the set seeded by `seed`, kept in memory once
    /// rendered if `cache`.
    pub fn new(config: GalaxySimConfig, seed: u64, first: u64, len: usize, cache: bool) -> Self {
        let cache = cache.then(|| Arc::new((0..len).map(|_| OnceLock::new()).collect()));
        Self { config, seed, first, len, cache }
    }

    /// The targets of item `index` without rendering its image.
    pub fn targets(&self, index: usize) -> Vec<f32> {
        self.config.answers(self.seed, self.first + index as u64).iter().map(|&v| v as f32).collect()
    }
}

impl Dataset<ImageItem> for SimulatedGalaxies {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!(
                "index {index} out of {} galaxies",
                self.len
            ))));
        }
        let global = self.first + index as u64;
        let size = self.config.image_size;
        let pixels = match &self.cache {
            None => self.config.simulate(self.seed, global).rgb,
            Some(cache) => {
                let bytes = cache[index].get_or_init(|| {
                    let rgb = self.config.simulate(self.seed, global).rgb;
                    rgb.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect()
                });
                bytes.iter().map(|&b| f32::from(b) / 255.0).collect()
            }
        };
        Ok(ImageItem { id: format!("sim-{global}"), pixels, shape: [3, size, size], targets: self.targets(index) })
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
        let config = GalaxySimConfig { image_size: 24, ..Default::default() };
        let ds = SimulatedGalaxies::new(config.clone(), 5, 100, 10, false);
        let a = ds.get(3).unwrap();
        assert_eq!(a, ds.get(3).unwrap());
        assert_eq!(a.id, "sim-103");
        assert_eq!(a.shape, [3, 24, 24]);
        assert_eq!(a.pixels.len(), 3 * 24 * 24);
        assert_eq!(a.targets, ds.targets(3));
        assert_eq!(a.targets.len(), 37);
        assert_eq!(a.pixels, config.simulate(5, 103).rgb);
        // The cached set gives the same image to 8 bits, every time.
        let cached = SimulatedGalaxies::new(config, 5, 100, 10, true);
        let b = cached.get(3).unwrap();
        assert_eq!(b, cached.get(3).unwrap());
        assert!(a.pixels.iter().zip(&b.pixels).all(|(x, y)| (x - y).abs() <= 0.5 / 255.0 + 1e-6));
        assert!(cached.get(10).is_err());
    }
}
