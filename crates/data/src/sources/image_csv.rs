//! A folder of images with a CSV catalogue of targets: `<images>/<id>.<extension>` for each row
//! of `<targets>`. This is the layout of the Kaggle Galaxy Zoo 2 data
//! (`images_training_rev1/<GalaxyID>.jpg` + `training_solutions_rev1.csv`).

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::formats::catalogue::Catalogue;
use crate::opened::{DataInfo, OpenedData};
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::formats::restretch::Restretch;
use astro_sim::composite::Composite;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::sources::Source;
use crate::sources::shared::{Decode, RandomSplit, limit_to};
use crate::task::Task;

pub(crate) fn default_extension() -> String {
    "jpg".into()
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
    /// How each image is prepared (`crop`, `size`, `channels`).
    #[serde(flatten)]
    pub decode: Decode,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`).
    #[serde(flatten)]
    pub held_out: RandomSplit,
    /// Use only the first N catalogue rows (quick runs).
    #[serde(default)]
    pub limit: Option<usize>,
    /// The target columns (other columns may hold anything); default: every column after the
    /// id, all numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// Classification: the class names in label order; `columns` then names the one column
    /// that holds each row's class index (0, 1, ...). Without it: regression on the columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Arcseconds per pixel of the image files. With `field_arcsec` (and no `crop`), the centred
    /// crop is the square that spans that field, so that images of another survey reach the
    /// model at its angular scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_scale_arcsec: Option<f64>,
    /// Side of the sky square the model sees, arcseconds (`eval --data` sets it from the run's
    /// model where the data gives `pixel_scale_arcsec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_arcsec: Option<f64>,
    /// The colour composite the pictures were made in (`"gz_decals"`, `"sdss"`). `eval --data`
    /// redraws them in the composite of a model trained on another (GZ DECaLS pictures for a
    /// model trained on the SDSS-like simulations); a run trained on these files records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite: Option<Composite>,
    /// The redrawing `eval --data` chose for the run's model (never read from a file).
    #[serde(skip)]
    pub restretch: Option<Restretch>,
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
        Ok(ImageItem { id: id.clone(), pixels, shape: self.preprocess.shape(), targets: targets.clone(), features: Vec::new() })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(self.catalogue.rows[self.rows[index]].1.clone())
    }

    fn id(&self, index: usize) -> String {
        self.catalogue.rows[self.rows[index]].0.clone()
    }
}

/// Checks a classification catalogue: one target column of class indices below `names.len()`.
fn check_classes(catalogue: &Catalogue, names: &[String]) -> Result<(), DataError> {
    if names.len() < 2 {
        return Err(DataError::setting("classes", format!("name two or more classes, got {names:?}")));
    }
    if catalogue.target_names.len() != 1 {
        return Err(DataError::setting(
            "columns",
            format!(
                "with classes, name the one column holding each row's class index (got {:?})",
                catalogue.target_names
            ),
        ));
    }
    if let Some((id, v)) = catalogue.rows.iter().map(|(id, t)| (id, t[0])).find(|(_, v)| {
        crate::task::class_of(&[*v], names.len()).is_none()
    }) {
        return Err(DataError::setting(
            "classes",
            format!(
                "row {id} of {} has class {v} in column `{}`: classes are 0 to {} ({})",
                catalogue.path.display(),
                catalogue.target_names[0],
                names.len() - 1,
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

impl ImageCsvConfig {
    /// The crop that spans `field_arcsec` at `pixel_scale_arcsec` (from the first image's size,
    /// capped at its shorter side, with a warning saying the scale then differs); none unless
    /// both are set and `crop` is not.
    fn field_crop(&self, first: &std::path::Path) -> Result<Option<(u32, Option<String>)>, DataError> {
        let (Some(scale), Some(field)) = (self.pixel_scale_arcsec, self.field_arcsec) else { return Ok(None) };
        if !(scale.is_finite() && scale > 0.0 && field.is_finite() && field > 0.0) {
            return Err(DataError::setting(
                "pixel_scale_arcsec",
                format!("pixel_scale_arcsec ({scale}) and field_arcsec ({field}) must be positive"),
            ));
        }
        if self.decode.crop.is_some() {
            return Err(DataError::setting(
                "crop",
                "give either crop (pixels) or pixel_scale_arcsec with field_arcsec, not both",
            ));
        }
        let (w, h) = image::image_dimensions(first)
            .map_err(|e| DataError::Image { path: first.to_path_buf(), message: e.to_string() })?;
        let wanted = (field / scale).round().max(1.0) as u32;
        let side = w.min(h);
        if wanted <= side {
            return Ok(Some((wanted, None)));
        }
        let warning = format!(
            "the model's {field:.1}\" field needs {wanted} px at {scale}\"/px, the images have {side}: the whole \
             {side} px ({:.1}\") is used, so objects reach the model {:.0}% larger than at its scale",
            f64::from(side) * scale,
            100.0 * (f64::from(wanted) / f64::from(side) - 1.0)
        );
        Ok(Some((side, Some(warning))))
    }
}

impl Source for ImageCsvConfig {
    fn kind(&self) -> &'static str {
        "image folder + CSV catalogue"
    }

    /// Checks the settings, the catalogue and that every row has its image (decoding the
    /// first), then returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        let Self { images, targets, extension, decode, held_out, limit, columns, classes, .. } = self;
        if !images.is_dir() {
            return Err(DataError::setting("images", format!("{} is not a folder", images.display())));
        }
        let mut preprocess = decode.preprocess()?;
        preprocess.restretch = self.restretch;
        preprocess.validate()?;
        held_out.check()?;
        let mut catalogue = Catalogue::read_columns(targets, columns.as_deref())?;
        let task = match classes {
            None => Task::Regression,
            Some(names) => {
                check_classes(&catalogue, names)?;
                catalogue.target_names = names.clone();
                Task::Classification
            }
        };
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
        let mut warnings = Vec::new();
        if let Some((crop, warning)) = self.field_crop(&first)? {
            preprocess.crop = Some(crop);
            warnings.extend(warning);
        }
        preprocess.load(&first)?;
        let idx = held_out.rows(catalogue.rows.len(), "catalogue rows", seed)?;
        let catalogue = Arc::new(catalogue);
        let size = decode.size;
        let redrawn = match self.restretch {
            Some(Restretch::GzDecalsToSdss { .. }) => ", GZ DECaLS pictures redrawn in the model's SDSS-like composite",
            None => "",
        };
        let description =
            format!("{} with {}: {}, {size}x{size} px{redrawn}", images.display(), targets.display(), idx.counts());
        let mut info = DataInfo::images(task, catalogue.target_names.clone(), description, preprocess);
        info.warnings = warnings;
        Ok(OpenedData::from_rows(info, idx, |rows| {
            ImageSplit::new(ImageCsvDataset {
                images: images.clone(),
                extension: extension.clone(),
                preprocess,
                catalogue: catalogue.clone(),
                rows,
            })
        }))
    }

    fn shrink_for_smoke(&mut self) {
        limit_to(&mut self.limit, 80);
    }
}
