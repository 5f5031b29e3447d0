//! `[data]`: where an experiment's images or light curves come from, and the splits it trains, validates and
//! tests on. `source` picks the kind; every other key belongs to that kind, and each kind
//! lives in its own module.

use serde::{Deserialize, Serialize};

use crate::degraded_galaxies::DegradedGalaxiesConfig;
use crate::density_slices::DensitySlicesConfig;
use crate::error::DataError;
use crate::galaxy10_h5::Galaxy10Config;
use crate::image_csv::ImageCsvConfig;
use crate::image_folder::ImageFolderConfig;
use crate::image_io::Preprocess;
use crate::item::Layout;
use crate::lens_challenge::LensChallengeConfig;
use crate::light_curve_files::LightCurveFolder;
use crate::simulated::SimulatedGalaxiesConfig;
use crate::simulated_lenses::SimulatedLensesConfig;
use crate::simulated_light_curves::SimulatedLightCurvesConfig;
use crate::simulated_mergers::SimulatedMergersConfig;
use crate::simulated_profiles::SimulatedProfilesConfig;
pub use crate::split::ImageSplit;
use crate::task::Task;

/// The data of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DataConfig {
    /// Galaxies from the built-in simulator, labelled with Galaxy Zoo 2 answer fractions or
    /// Galaxy10 classes.
    SimulatedGalaxies(SimulatedGalaxiesConfig),
    /// A folder of images and a CSV catalogue of targets (the Kaggle Galaxy Zoo 2 layout).
    ImageCsv(ImageCsvConfig),
    /// A folder of class sub-folders (classification).
    ImageFolder(ImageFolderConfig),
    /// An HDF5 file of images and class labels (Galaxy10 DECaLS).
    Galaxy10H5(Galaxy10Config),
    /// Strong-lens scenes from the built-in lens simulator (lens / non-lens).
    SimulatedLenses(SimulatedLensesConfig),
    /// FITS cutouts in the Strong Lens Finding Challenge layout (lens / non-lens).
    LensChallenge(LensChallengeConfig),
    /// Variable-star light curves from the built-in simulator (sequences).
    SimulatedLightCurves(SimulatedLightCurvesConfig),
    /// Light curves in the list-and-files format (sequences).
    LightCurveFolder(LightCurveFolder),
    /// Galaxy mergers and non-interacting galaxies from the built-in merger simulator.
    SimulatedMergers(SimulatedMergersConfig),
    /// Analytic profile images with their parameters (the semantic autoencoder's data).
    SimulatedProfiles(SimulatedProfilesConfig),
    /// Simulated galaxies degraded in seeing and noise, paired with the originals (GalaxyGAN).
    DegradedGalaxies(DegradedGalaxiesConfig),
    /// Slices of simulated matter density boxes (the cosmic-web GAN).
    SimulatedDensitySlices(DensitySlicesConfig),
}

/// What a model needs to know about the data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    /// `[channels, height, width]` of every item (`[channels, 1, steps]` for sequences).
    pub input: [usize; 3],
    /// Images, or sequences stored as one-row images.
    pub layout: Layout,
    /// What the source left out or could not use (skipped stars, with file and line); the
    /// trainer prints them and keeps them in the run folder.
    pub warnings: Vec<String>,
    /// Regression or classification.
    pub task: Task,
    /// Names of the model's outputs: the regression targets, or the classes in label order.
    pub target_names: Vec<String>,
    /// One line saying where the data comes from.
    pub description: String,
    /// How image files are prepared for this model (for `predict`).
    pub preprocess: Preprocess,
}

impl DataInfo {
    /// The number of values a model gives per item: one per target, or one per input value
    /// when it gives the input back.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Reconstruction => self.input.iter().product(),
            _ => self.target_names.len(),
        }
    }
}

/// The opened data: what it is, and its three splits.
#[derive(Debug, Clone)]
pub struct OpenedData {
    /// Shapes and names.
    pub info: DataInfo,
    /// Training split.
    pub train: ImageSplit,
    /// Validation split (early stopping, best checkpoint).
    pub valid: ImageSplit,
    /// Held-out test split, evaluated once at the end.
    pub test: ImageSplit,
}

impl OpenedData {
    /// The same data for an autoencoder: every item's targets are its own pixels.
    pub fn for_reconstruction(self) -> Self {
        let [c, h, w] = self.info.input;
        let info = DataInfo {
            task: Task::Reconstruction,
            target_names: vec![format!("pixel values ({c} x {h} x {w})")],
            description: format!("{} (reconstructed: the images are their own targets)", self.info.description),
            ..self.info
        };
        Self {
            info,
            train: self.train.reconstructing(),
            valid: self.valid.reconstructing(),
            test: self.test.reconstructing(),
        }
    }
}

impl DataConfig {
    /// A tiny version of the same data for smoke runs: a few dozen items.
    pub fn shrink_for_smoke(&mut self) {
        match self {
            DataConfig::SimulatedGalaxies(c) => {
                c.train = c.train.min(48);
                c.valid = c.valid.min(16);
                c.test = c.test.min(16);
            }
            DataConfig::ImageCsv(c) => c.limit = Some(c.limit.unwrap_or(usize::MAX).min(80)),
            DataConfig::ImageFolder(c) => c.limit_per_class = Some(c.limit_per_class.unwrap_or(usize::MAX).min(16)),
            DataConfig::Galaxy10H5(c) => c.limit = Some(c.limit.unwrap_or(usize::MAX).min(80)),
            DataConfig::SimulatedLenses(c) => {
                c.train = c.train.min(48);
                c.valid = c.valid.min(16);
                c.test = c.test.min(32);
            }
            DataConfig::LensChallenge(c) => c.limit = Some(c.limit.unwrap_or(usize::MAX).min(80)),
            DataConfig::SimulatedLightCurves(c) => {
                c.train = c.train.min(64);
                c.valid = c.valid.min(16);
                c.test = c.test.min(32);
            }
            DataConfig::LightCurveFolder(c) => c.limit = Some(c.limit.unwrap_or(usize::MAX).min(80)),
            DataConfig::SimulatedMergers(c) => {
                c.train = c.train.min(48);
                c.valid = c.valid.min(16);
                c.test = c.test.min(32);
            }
            DataConfig::SimulatedProfiles(c) => {
                c.train = c.train.min(48);
                c.valid = c.valid.min(16);
                c.test = c.test.min(32);
            }
            DataConfig::DegradedGalaxies(c) => {
                c.train = c.train.min(32);
                c.valid = c.valid.min(8);
                c.test = c.test.min(8);
                c.simulator.image_size = c.simulator.image_size.min(32);
                if let Some(images) = &mut c.images {
                    images.limit = Some(images.limit.unwrap_or(usize::MAX).min(48));
                }
            }
            DataConfig::SimulatedDensitySlices(c) => {
                c.simulator.grid = c.simulator.grid.min(32);
                c.simulator.slice_cells = c.simulator.slice_cells.min(c.simulator.grid);
                c.train = c.train.min(32);
                c.valid = c.valid.min(8);
                c.test = c.test.min(16);
            }
        }
    }

    /// One line for `trainer list`.
    pub fn source_name(&self) -> &'static str {
        match self {
            DataConfig::SimulatedGalaxies(_) => "simulated galaxies (built in)",
            DataConfig::ImageCsv(_) => "image folder + CSV catalogue",
            DataConfig::ImageFolder(_) => "class sub-folders of images",
            DataConfig::Galaxy10H5(_) => "Galaxy10 HDF5 file",
            DataConfig::SimulatedLenses(_) => "simulated strong lenses (built in)",
            DataConfig::LensChallenge(_) => "Strong Lens Finding Challenge FITS cutouts",
            DataConfig::SimulatedLightCurves(_) => "simulated variable-star light curves (built in)",
            DataConfig::LightCurveFolder(_) => "light-curve list and per-star files",
            DataConfig::SimulatedMergers(_) => "simulated galaxy mergers (built in)",
            DataConfig::SimulatedProfiles(_) => "simulated analytic profiles (built in)",
            DataConfig::DegradedGalaxies(_) => "simulated galaxies, degraded and original (built in)",
            DataConfig::SimulatedDensitySlices(_) => "simulated matter density slices (built in)",
        }
    }

    /// Checks every setting and that the data is there, then returns the splits. Nothing is
    /// rendered or decoded here except one image per file source, to prove it can be read.
    pub fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        match self {
            DataConfig::SimulatedGalaxies(c) => c.open(seed),
            DataConfig::ImageCsv(c) => c.open(seed),
            DataConfig::ImageFolder(c) => c.open(seed),
            DataConfig::Galaxy10H5(c) => c.open(seed),
            DataConfig::SimulatedLenses(c) => c.open(seed),
            DataConfig::LensChallenge(c) => c.open(seed),
            DataConfig::SimulatedLightCurves(c) => c.open(seed),
            DataConfig::LightCurveFolder(c) => c.open(seed),
            DataConfig::SimulatedMergers(c) => c.open(seed),
            DataConfig::SimulatedProfiles(c) => c.open(seed),
            DataConfig::DegradedGalaxies(c) => c.open(seed),
            DataConfig::SimulatedDensitySlices(c) => c.open(seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(item.targets, data.train.targets(0));
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
    }
}
