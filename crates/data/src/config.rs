//! `[data]`: where an experiment's images come from, and the splits it trains, validates and
//! tests on. `source` picks the kind; every other key belongs to that kind.

use std::path::PathBuf;
use std::sync::Arc;

use astro_sim::GalaxySimConfig;
use astro_sim::galaxy_zoo::answer_names;
use burn::data::dataset::{Dataset, DatasetError};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::error::DataError;
use crate::image_csv::ImageCsvDataset;
use crate::image_io::Preprocess;
use crate::item::ImageItem;
use crate::simulated::SimulatedGalaxies;
use crate::splits::split_indices;

fn default_train() -> usize {
    8_000
}
fn default_held_out() -> usize {
    1_000
}
fn default_cache() -> bool {
    true
}
fn default_extension() -> String {
    "jpg".into()
}
fn default_size() -> u32 {
    64
}
fn default_channels() -> u32 {
    3
}
fn default_fraction() -> f64 {
    0.1
}

/// The data of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataConfig {
    /// Galaxies from the built-in simulator, labelled with Galaxy Zoo 2 answer fractions.
    SimulatedGalaxies {
        /// Training images.
        #[serde(default = "default_train")]
        train: usize,
        /// Validation images.
        #[serde(default = "default_held_out")]
        valid: usize,
        /// Held-out test images.
        #[serde(default = "default_held_out")]
        test: usize,
        /// Keep each rendered image in memory (one byte per value, like an 8-bit JPEG) so that
        /// later epochs do not run the simulator again.
        #[serde(default = "default_cache")]
        cache: bool,
        /// Simulator settings (`[data.simulator]`).
        #[serde(default)]
        simulator: GalaxySimConfig,
    },
    /// A folder of images and a CSV catalogue of targets (the Kaggle Galaxy Zoo 2 layout).
    ImageCsv {
        /// Folder holding `<id>.<extension>` for every catalogue row.
        images: PathBuf,
        /// CSV catalogue: an id column, then numeric target columns.
        targets: PathBuf,
        /// Image file extension.
        #[serde(default = "default_extension")]
        extension: String,
        /// Centre crop before resampling, pixels (Dieleman et al.: 207 of 424).
        #[serde(default)]
        crop: Option<u32>,
        /// Side the crop is resampled to, pixels.
        #[serde(default = "default_size")]
        size: u32,
        /// 1 (grey) or 3 (RGB).
        #[serde(default = "default_channels")]
        channels: u32,
        /// Fraction of rows held out for validation.
        #[serde(default = "default_fraction")]
        valid_fraction: f64,
        /// Fraction of rows held out for the final test.
        #[serde(default = "default_fraction")]
        test_fraction: f64,
        /// Use only the first N catalogue rows (quick runs).
        #[serde(default)]
        limit: Option<usize>,
    },
}

/// What a model needs to know about the data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    /// `[channels, height, width]` of every image.
    pub input: [usize; 3],
    /// Names of the regression targets.
    pub target_names: Vec<String>,
    /// One line saying where the data comes from.
    pub description: String,
    /// How image files are prepared for this model (for `predict`).
    pub preprocess: Preprocess,
}

/// One split of any source.
#[derive(Debug, Clone)]
pub enum ImageSplit {
    /// Simulated galaxies.
    Simulated(SimulatedGalaxies),
    /// Images with a catalogue.
    ImageCsv(ImageCsvDataset),
}

impl ImageSplit {
    /// The targets of item `index` without loading or rendering its image.
    pub fn targets(&self, index: usize) -> Vec<f32> {
        match self {
            ImageSplit::Simulated(d) => d.targets(index),
            ImageSplit::ImageCsv(d) => d.targets(index),
        }
    }
}

impl Dataset<ImageItem> for ImageSplit {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        match self {
            ImageSplit::Simulated(d) => d.get(index),
            ImageSplit::ImageCsv(d) => d.get(index),
        }
    }

    fn len(&self) -> usize {
        match self {
            ImageSplit::Simulated(d) => d.len(),
            ImageSplit::ImageCsv(d) => d.len(),
        }
    }
}

/// The three splits of an opened data source.
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

impl DataConfig {
    /// A tiny version of the same data for smoke runs: a few dozen items.
    pub fn shrink_for_smoke(&mut self) {
        match self {
            DataConfig::SimulatedGalaxies { train, valid, test, .. } => {
                *train = (*train).min(48);
                *valid = (*valid).min(16);
                *test = (*test).min(16);
            }
            DataConfig::ImageCsv { limit, .. } => *limit = Some(limit.unwrap_or(usize::MAX).min(80)),
        }
    }

    /// One line for `trainer list`.
    pub fn source_name(&self) -> &'static str {
        match self {
            DataConfig::SimulatedGalaxies { .. } => "simulated galaxies (built in)",
            DataConfig::ImageCsv { .. } => "image folder + CSV catalogue",
        }
    }

    /// Checks every setting and that the data is there, then returns the splits. Nothing is
    /// rendered or decoded here except one image per file source, to prove it can be read.
    pub fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        match self {
            DataConfig::SimulatedGalaxies { train, valid, test, cache, simulator } => {
                simulator.validate()?;
                for (field, n) in [("train", *train), ("valid", *valid), ("test", *test)] {
                    if n == 0 {
                        return Err(DataError::setting(field, "must be at least 1"));
                    }
                }
                let split = |first: usize, len: usize| {
                    ImageSplit::Simulated(SimulatedGalaxies::new(simulator.clone(), seed, first as u64, len, *cache))
                };
                let size = simulator.image_size;
                Ok(OpenedData {
                    info: DataInfo {
                        input: [3, size, size],
                        target_names: answer_names(),
                        description: format!(
                            "simulated galaxies, {size}x{size} px RGB at {}\"/px, seeing {}\" FWHM: {train} train, {valid} valid, {test} test",
                            simulator.pixel_scale_arcsec, simulator.psf_fwhm_arcsec
                        ),
                        preprocess: Preprocess { crop: None, size: size as u32, channels: 3 },
                    },
                    train: split(0, *train),
                    valid: split(*train, *valid),
                    test: split(*train + *valid, *test),
                })
            }
            DataConfig::ImageCsv {
                images,
                targets,
                extension,
                crop,
                size,
                channels,
                valid_fraction,
                test_fraction,
                limit,
            } => {
                if !images.is_dir() {
                    return Err(DataError::setting("images", format!("{} is not a folder", images.display())));
                }
                if !(*channels == 1 || *channels == 3) {
                    return Err(DataError::setting("channels", format!("must be 1 or 3, got {channels}")));
                }
                if *size < 8 {
                    return Err(DataError::setting("size", format!("must be at least 8 pixels, got {size}")));
                }
                for (field, f) in [("valid_fraction", *valid_fraction), ("test_fraction", *test_fraction)] {
                    if !(0.0..1.0).contains(&f) {
                        return Err(DataError::setting(field, format!("must be in [0, 1), got {f}")));
                    }
                }
                let mut catalogue = Catalogue::read(targets)?;
                if let Some(limit) = limit {
                    catalogue.rows.truncate(*limit);
                }
                let missing: Vec<String> = catalogue
                    .rows
                    .iter()
                    .map(|(id, _)| images.join(format!("{id}.{extension}")))
                    .filter(|p| !p.is_file())
                    .map(|p| p.display().to_string())
                    .collect();
                if let Some(first) = missing.first() {
                    return Err(DataError::setting(
                        "images",
                        format!(
                            "{} of {} catalogue rows have no image, the first is {first}",
                            missing.len(),
                            catalogue.rows.len()
                        ),
                    ));
                }
                let preprocess = Preprocess { crop: *crop, size: *size, channels: *channels };
                // Decode one image now, so a wrong format or crop fails before training starts.
                let first = images.join(format!("{}.{extension}", catalogue.rows[0].0));
                preprocess.load(&first)?;
                let n = catalogue.rows.len();
                let idx = split_indices(n, *valid_fraction, *test_fraction, seed);
                for (field, rows) in
                    [("valid_fraction", &idx.valid), ("test_fraction", &idx.test), ("limit", &idx.train)]
                {
                    if rows.is_empty() {
                        return Err(DataError::setting(
                            field,
                            format!("leaves an empty split of the {n} catalogue rows"),
                        ));
                    }
                }
                let catalogue = Arc::new(catalogue);
                let description = format!(
                    "{} with {}: {} train, {} valid, {} test, {size}x{size} px",
                    images.display(),
                    targets.display(),
                    idx.train.len(),
                    idx.valid.len(),
                    idx.test.len()
                );
                let split = |rows: Vec<usize>| {
                    ImageSplit::ImageCsv(ImageCsvDataset {
                        images: images.clone(),
                        extension: extension.clone(),
                        preprocess,
                        catalogue: catalogue.clone(),
                        rows,
                    })
                };
                Ok(OpenedData {
                    info: DataInfo {
                        input: [*channels as usize, *size as usize, *size as usize],
                        target_names: catalogue.target_names.clone(),
                        description,
                        preprocess,
                    },
                    train: split(idx.train),
                    valid: split(idx.valid),
                    test: split(idx.test),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        if let DataConfig::ImageCsv { images, .. } = &mut config {
            *images = dir.path().join("nowhere");
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
