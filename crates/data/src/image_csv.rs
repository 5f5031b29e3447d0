//! A folder of images with a CSV catalogue of targets: `<images>/<id>.<extension>` for each row
//! of `<targets>`. This is the layout of the Kaggle Galaxy Zoo 2 data
//! (`images_training_rev1/<GalaxyID>.jpg` + `training_solutions_rev1.csv`).

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::config::{DataInfo, OpenedData};
use crate::error::DataError;
use crate::image_io::Preprocess;
use crate::item::{ImageItem, Layout};
use crate::split::{ImageSplit, LabelledImages, check_fractions};
use crate::splits::split_indices;
use crate::task::Task;

pub(crate) fn default_extension() -> String {
    "jpg".into()
}
pub(crate) fn default_size() -> u32 {
    64
}
pub(crate) fn default_channels() -> u32 {
    3
}
pub(crate) fn default_fraction() -> f64 {
    0.1
}

/// `[data]` with `source = "image_csv"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCsvConfig {
    /// Folder holding `<id>.<extension>` for every catalogue row.
    pub images: PathBuf,
    /// CSV catalogue: an id column, then numeric target columns.
    pub targets: PathBuf,
    /// Image file extension.
    #[serde(default = "default_extension")]
    pub extension: String,
    /// Centre crop before resampling, pixels (Dieleman et al.: 207 of 424).
    #[serde(default)]
    pub crop: Option<u32>,
    /// Side the crop is resampled to, pixels.
    #[serde(default = "default_size")]
    pub size: u32,
    /// 1 (grey) or 3 (RGB).
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// Fraction of rows held out for validation.
    #[serde(default = "default_fraction")]
    pub valid_fraction: f64,
    /// Fraction of rows held out for the final test.
    #[serde(default = "default_fraction")]
    pub test_fraction: f64,
    /// Use only the first N catalogue rows (quick runs).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl ImageCsvConfig {
    /// Checks the settings, the catalogue and that every row has its image (decoding the
    /// first), then returns the three splits.
    pub fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        let Self { images, targets, extension, crop, size, channels, valid_fraction, test_fraction, limit } = self;
        if !images.is_dir() {
            return Err(DataError::setting("images", format!("{} is not a folder", images.display())));
        }
        let preprocess = Preprocess { crop: *crop, size: *size, channels: *channels };
        preprocess.validate()?;
        check_fractions(*valid_fraction, *test_fraction)?;
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
        // Decode one image now, so a wrong format or crop fails before training starts.
        let first = images.join(format!("{}.{extension}", catalogue.rows[0].0));
        preprocess.load(&first)?;
        let n = catalogue.rows.len();
        let idx = split_indices(n, *valid_fraction, *test_fraction, seed);
        for (field, rows) in [("valid_fraction", &idx.valid), ("test_fraction", &idx.test), ("limit", &idx.train)] {
            if rows.is_empty() {
                return Err(DataError::setting(field, format!("leaves an empty split of the {n} catalogue rows")));
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
            ImageSplit::new(ImageCsvDataset {
                images: images.clone(),
                extension: extension.clone(),
                preprocess,
                catalogue: catalogue.clone(),
                rows,
            })
        };
        Ok(OpenedData {
            info: DataInfo {
                input: preprocess.shape(),
                layout: Layout::Image,
                warnings: Vec::new(),
                task: Task::Regression,
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

/// The rows of one split of an image + catalogue data set.
#[derive(Debug, Clone)]
pub struct ImageCsvDataset {
    /// The image folder.
    pub images: PathBuf,
    /// File extension of the images, without the dot.
    pub extension: String,
    /// How files become model input.
    pub preprocess: Preprocess,
    /// The whole catalogue (shared between splits).
    pub catalogue: Arc<Catalogue>,
    /// The catalogue rows of this split.
    pub rows: Vec<usize>,
}

impl ImageCsvDataset {
    /// The image file of catalogue row `row`.
    pub fn path_of(&self, row: usize) -> PathBuf {
        self.images.join(format!("{}.{}", self.catalogue.rows[row].0, self.extension))
    }
}

impl LabelledImages for ImageCsvDataset {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let row = self.rows[index];
        let (id, targets) = &self.catalogue.rows[row];
        let pixels = self.preprocess.load(&self.path_of(row)).map_err(DatasetError::new)?;
        Ok(ImageItem { id: id.clone(), pixels, shape: self.preprocess.shape(), targets: targets.clone() })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Vec<f32> {
        self.catalogue.rows[self.rows[index]].1.clone()
    }

    fn id(&self, index: usize) -> String {
        self.catalogue.rows[self.rows[index]].0.clone()
    }
}
