//! Analytic profile images (crate `sim`'s [`ProfileSimConfig`]) for the semantic autoencoder of
//! Aragon-Calvo & Carvajal (2020): the input is the noisy image, the targets are the parameters
//! that made it (scale, ellipticity, angle in degrees, and the Sersic index for `sersic`
//! profiles). The clean image the paper's loss compares with is the profile of those parameters,
//! which the model's renderer draws from the targets itself. Sample `i` is a pure function of
//! `(seed, first + i)`.

use astro_sim::profile::ProfileSimConfig;
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::{SimulatedSplits, SplitSizes};
use crate::sources::Source;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

/// 10,000 training profiles, 1,000 validation and test profiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProfileSizes;

impl SplitSizes for ProfileSizes {
    const TRAIN: usize = 10_000;
    const HELD_OUT: usize = 1_000;
}

/// `[data]` with `source = "simulated_profiles"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedProfilesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits<ProfileSizes>,
    /// Simulator settings (`[data.simulator]`).
    #[serde(default)]
    pub simulator: ProfileSimConfig,
}


/// A contiguous range of simulated profiles.
#[derive(Debug, Clone)]
pub struct SimulatedProfiles {
    config: ProfileSimConfig,
    seed: u64,
    first: u64,
    len: usize,
}

impl LabelledImages for SimulatedProfiles {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} images", self.len))));
        }
        let sample = self.config.simulate(self.seed, self.first + index as u64);
        let size = self.config.image_size;
        Ok(ImageItem {
            id: self.id(index),
            pixels: sample.noisy.data.iter().map(|&v| v as f32).collect(),
            shape: [1, size, size],
            targets: sample.params.as_targets(self.config.profile).iter().map(|&v| v as f32).collect(),
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        let p = self.config.sample_params(self.seed, self.first + index as u64);
        Ok(p.as_targets(self.config.profile).iter().map(|&v| v as f32).collect())
    }

    fn id(&self, index: usize) -> String {
        format!("profile-{}", self.first + index as u64)
    }
}

impl Source for SimulatedProfilesConfig {
    fn kind(&self) -> &'static str {
        "simulated analytic profiles (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        self.splits.check()?;
        let sim = &self.simulator;
        let size = sim.image_size;
        let split = |first: usize, len: usize| {
            ImageSplit::new(SimulatedProfiles { config: sim.clone(), seed, first: first as u64, len })
        };
        let description = format!(
            "simulated {:?} profiles, {size}x{size} px over [-{s}, {s}], noise sigma {}: {}",
            sim.profile,
            sim.noise_sigma,
            self.splits.counts(),
            s = sim.half_span
        )
        .to_lowercase();
        let info = DataInfo::images(Task::Regression, sim.parameter_names(), description, Preprocess::whole(size, 1));
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
    fn items_are_the_noisy_image_with_the_parameters_as_targets() {
        let config: SimulatedProfilesConfig = toml::from_str("train = 4\nvalid = 2\ntest = 3\n").unwrap();
        let data = config.open(2).unwrap();
        assert_eq!(data.info.input, [1, 64, 64]);
        assert_eq!(data.info.target_names, ["scale", "ellipticity", "angle"]);
        let item = data.test.get(1).unwrap();
        assert_eq!(item.id, "profile-7");
        let sample = config.simulator.simulate(2, 7);
        assert_eq!(item.targets, data.test.targets(1).unwrap());
        assert!((f64::from(item.targets[2]) - sample.params.angle_deg).abs() < 1e-4);
        assert!((f64::from(item.pixels[100]) - sample.noisy.data[100]).abs() < 1e-6);
        let sersic: SimulatedProfilesConfig = toml::from_str("[simulator]\nprofile = \"sersic\"\n").unwrap();
        assert_eq!(sersic.open(0).unwrap().info.target_names.len(), 4);
    }
}
