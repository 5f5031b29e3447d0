//! A folder of images with a CSV catalogue of targets: `<images>/<id>.<extension>` for each row
//! of `<targets>`. This is the layout of the Kaggle Galaxy Zoo 2 data
//! (`images_training_rev1/<GalaxyID>.jpg` + `training_solutions_rev1.csv`).

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use crate::catalogue::Catalogue;
use crate::image_io::Preprocess;
use crate::item::ImageItem;

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

    /// The targets of item `index` without reading its image.
    pub fn targets(&self, index: usize) -> Vec<f32> {
        self.catalogue.rows[self.rows[index]].1.clone()
    }
}

impl Dataset<ImageItem> for ImageCsvDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let row = self.rows[index];
        let (id, targets) = &self.catalogue.rows[row];
        let pixels = self.preprocess.load(&self.path_of(row)).map_err(DatasetError::new)?;
        let p = self.preprocess;
        Ok(ImageItem {
            id: id.clone(),
            pixels,
            shape: [p.channels as usize, p.size as usize, p.size as usize],
            targets: targets.clone(),
        })
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}
