//! `[data]`: where an experiment's images or light curves come from, and the splits it trains,
//! validates and tests on. `source` picks the kind; every other key belongs to that kind. Each
//! kind is one module here whose config implements [`Source`], and one line of the registry
//! below ([`DataConfig`]); the settings several kinds share are in [`shared`], and
//! [`degraded_folder`] is the folder of real images behind `degraded_galaxies`' `[data.images]`.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::opened::OpenedData;

pub mod degraded_folder;
pub mod shared;

/// What every kind of data does.
pub trait Source {
    /// One line for `trainer list`.
    fn kind(&self) -> &'static str;
    /// Checks every setting and that the data is there, then returns the splits. Nothing is
    /// rendered or decoded here except one image per file source, to prove it can be read.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError>;
    /// Cuts the data down to a few dozen items (`--smoke`).
    fn shrink_for_smoke(&mut self);
}

/// Declares each kind's module and [`DataConfig`], one variant per kind (`source =
/// "<snake_case variant>"`), and reaches each variant's [`Source`].
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident($module:ident::$config:ident),)*) => {
        $(pub mod $module;)*

        /// The data of an experiment.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "source", rename_all = "snake_case")]
        pub enum DataConfig {
            $($(#[$doc])* $variant($module::$config),)*
        }

        impl DataConfig {
            fn source(&self) -> &dyn Source {
                match self {
                    $(DataConfig::$variant(c) => c,)*
                }
            }

            fn source_mut(&mut self) -> &mut dyn Source {
                match self {
                    $(DataConfig::$variant(c) => c,)*
                }
            }
        }
    };
}

registry! {
    /// Galaxies from the built-in simulator, labelled with Galaxy Zoo 2 answer fractions or
    /// Galaxy10 classes.
    SimulatedGalaxies(simulated_galaxies::SimulatedGalaxiesConfig),
    /// A folder of images and a CSV catalogue of targets (the Kaggle Galaxy Zoo 2 layout).
    ImageCsv(image_csv::ImageCsvConfig),
    /// A folder of class sub-folders (classification).
    ImageFolder(image_folder::ImageFolderConfig),
    /// An HDF5 file of images and class labels (Galaxy10 DECaLS).
    Galaxy10H5(galaxy10_h5::Galaxy10Config),
    /// Strong-lens scenes from the built-in lens simulator (lens / non-lens).
    SimulatedLenses(simulated_lenses::SimulatedLensesConfig),
    /// FITS cutouts in the Strong Lens Finding Challenge layout (lens / non-lens).
    LensChallenge(lens_challenge::LensChallengeConfig),
    /// Variable-star light curves from the built-in simulator (sequences).
    SimulatedLightCurves(simulated_light_curves::SimulatedLightCurvesConfig),
    /// Light curves in the list-and-files format (sequences).
    LightCurveFolder(light_curve_folder::LightCurveFolder),
    /// Galaxy mergers and non-interacting galaxies from the built-in merger simulator.
    SimulatedMergers(simulated_mergers::SimulatedMergersConfig),
    /// Analytic profile images with their parameters (the semantic autoencoder's data).
    SimulatedProfiles(simulated_profiles::SimulatedProfilesConfig),
    /// Simulated galaxies degraded in seeing and noise, paired with the originals (GalaxyGAN).
    DegradedGalaxies(degraded_galaxies::DegradedGalaxiesConfig),
    /// Slices of simulated matter density boxes (the cosmic-web GAN).
    SimulatedDensitySlices(density_slices::DensitySlicesConfig),
}

impl DataConfig {
    /// A tiny version of the same data for smoke runs: a few dozen items.
    pub fn shrink_for_smoke(&mut self) {
        self.source_mut().shrink_for_smoke();
    }

    /// How the light curves become model inputs (`[data.sequence]`; none for images).
    pub fn sequence_mut(&mut self) -> Option<&mut crate::sequence::SequenceConfig> {
        match self {
            DataConfig::SimulatedLightCurves(c) => Some(&mut c.sequence),
            DataConfig::LightCurveFolder(c) => Some(&mut c.sequence),
            _ => None,
        }
    }

    /// One line for `trainer list`.
    pub fn source_name(&self) -> &'static str {
        self.source().kind()
    }

    /// Checks every setting and that the data is there, then returns the splits.
    pub fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.source().open(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;
    use burn::data::dataset::Dataset;

    fn folder_with(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("img")).unwrap();
        let mut csv = String::from("GalaxyID,a,b\n");
        for i in 0..n {
            image::RgbImage::from_pixel(16, 16, image::Rgb([i as u8, 0, 0]))
                .save(dir.path().join(format!("img/{i}.png")))
                .unwrap();
            csv.push_str(&format!("{i},0.{i},1\n"));
        }
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        dir
    }

    fn csv_config(dir: &std::path::Path) -> DataConfig {
        toml::from_str(&format!(
            "source = \"image_csv\"\nimages = \"{}\"\ntargets = \"{}\"\nextension = \"png\"\nsize = 8\nvalid_fraction = 0.2\ntest_fraction = 0.2\n",
            dir.join("img").display(),
            dir.join("t.csv").display()
        ))
        .unwrap()
    }

    #[test]
    fn simulated_splits_are_disjoint_index_ranges() {
        let config: DataConfig = toml::from_str(
            "source = \"simulated_galaxies\"\ntrain = 5\nvalid = 2\ntest = 3\n[simulator]\nimage_size = 16\n",
        )
        .unwrap();
        let data = config.open(1).unwrap();
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (5, 2, 3));
        assert_eq!(data.valid.get(0).unwrap().id, "sim-5");
        assert_eq!(data.test.get(2).unwrap().id, "sim-9");
        assert_eq!(data.info.input, [3, 16, 16]);
        assert_eq!(data.info.target_names.len(), 37);
        assert_eq!(data.info.task, Task::Regression);
    }

    #[test]
    fn galaxy10_without_the_hdf5_feature_says_how_to_get_it() {
        let config: DataConfig = toml::from_str("source = \"galaxy10_h5\"\npath = \"Galaxy10_DECals.h5\"\n").unwrap();
        let err = config.open(0).unwrap_err().to_string();
        if cfg!(feature = "hdf5") {
            assert!(err.starts_with("data.path: Galaxy10_DECals.h5: no such file"), "{err}");
        } else {
            assert!(err.contains("--features hdf5") && err.contains("libhdf5-dev"), "{err}");
        }
    }

    #[test]
    fn image_csv_opens_splits_and_reads_items() {
        let dir = folder_with(10);
        let data = csv_config(dir.path()).open(3).unwrap();
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (6, 2, 2));
        let item = data.train.get(0).unwrap();
        assert_eq!(item.shape, [3, 8, 8]);
        assert_eq!(item.targets, data.train.targets(0).unwrap());
        assert_eq!(data.info.target_names, ["a", "b"]);
    }

    #[test]
    fn missing_folders_images_and_bad_settings_are_named() {
        let dir = folder_with(4);
        std::fs::remove_file(dir.path().join("img/2.png")).unwrap();
        let err = csv_config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.images: 1 of 4 catalogue rows have no image, the first is"), "{err}");
        assert!(err.contains("2.png"), "{err}");
        let mut config = csv_config(dir.path());
        if let DataConfig::ImageCsv(c) = &mut config {
            c.images = dir.path().join("nowhere");
        }
        let err = config.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.images:") && err.contains("nowhere is not a folder"), "{err}");
        let bad: DataConfig =
            toml::from_str("source = \"simulated_galaxies\"\n[simulator]\naxis_ratio = [0.9, 0.1]\n").unwrap();
        assert!(bad.open(0).unwrap_err().to_string().starts_with("data.simulator.axis_ratio: must be [low, high]"));
    }

    #[test]
    fn unknown_keys_and_sources_are_rejected() {
        let err = toml::from_str::<DataConfig>("source = \"simulated_galaxies\"\ntrian = 5\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `trian`"), "{err}");
        let err = toml::from_str::<DataConfig>("source = \"sdss\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `sdss`"), "{err}");
        let err =
            toml::from_str::<DataConfig>("source = \"simulated_galaxies\"\n[simulator]\ncomposite = \"decals\"\n")
                .unwrap_err();
        assert!(err.to_string().contains("unknown variant `decals`, expected `sdss` or `gz_decals`"), "{err}");
        let bad: DataConfig = toml::from_str(
            "source = \"simulated_galaxies\"\n[simulator]\ncomposite = \"gz_decals\"\ncounts_per_nanomaggy = 0.0\n",
        )
        .unwrap();
        let err = bad.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.simulator.counts_per_nanomaggy: must be positive"), "{err}");
    }
}
