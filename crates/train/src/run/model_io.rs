//! `model_io.json`: what `eval` and `predict` need to use a trained model without the training
//! data: the input shape, how image files (pictures, FITS cutouts) are prepared, the task and target (or class) names,
//! and the training mean (the baseline predictor; for classification the class shares).

use std::path::Path;

use astro_data::catalogue_features::FeatureScaling;
use astro_data::formats::cutouts::FitsCutouts;
use astro_data::formats::restretch::{ModelComposite, Restretch};
use astro_data::{DataConfig, Layout, Preprocess, Task};
use astro_models::FeatureShape;
use astro_sim::composite::Composite;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::fit::supervised::Supervised;
use crate::run::folder::RunDir;

/// The model's interface to the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIo {
    /// `[channels, height, width]` (`[channels, 1, steps]` for sequences).
    pub input: [usize; 3],
    /// Images or sequences (runs made before sequences existed: images).
    #[serde(default)]
    pub layout: Layout,
    /// How image files are cropped and resampled.
    pub preprocess: Preprocess,
    /// Regression or classification (runs made before classification existed: regression).
    #[serde(default)]
    pub task: Task,
    /// Names of the outputs: targets, or classes in label order.
    pub target_names: Vec<String>,
    /// Per-target mean of the training split (per class: its share).
    pub train_mean: Vec<f32>,
    /// The catalogue features the model reads beside its input, with the training split's
    /// mean and spread that standardise them (`[features]`; none without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<FeatureScaling>,
    /// How FITS cutouts become input (lens finders; none for runs that do not read FITS, and for
    /// runs made before `predict` read FITS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fits: Option<FitsCutouts>,
}

/// The file name inside a run folder.
pub const FILE: &str = "model_io.json";

impl ModelIo {
    /// Values the model gives per item (see [`astro_data::DataInfo::outputs`]).
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Reconstruction => self.input.iter().product(),
            _ => self.target_names.len(),
        }
    }

    /// The input shape as models see it.
    pub fn input_shape(&self) -> FeatureShape {
        input_feature_shape(self.input, self.layout)
    }

    /// The model of `config` with this interface, its weights read from `file`.
    pub fn load_model(&self, config: &ExperimentConfig, file: &Path, device: &Device) -> Result<Supervised, RunError> {
        let side = self.features.as_ref().map_or(0, |f| f.names.len());
        Supervised::new(config.model.init_with_side(self.input_shape(), side, self.outputs(), device)?, self.task)
            .with_scaling(self.features.clone())
            .try_load_file(file)
            .map_err(|e| RunError::Run(format!("cannot load {}: {e}", file.display())))
    }

    /// Reads `model_io.json` of `run`.
    pub fn read(run: &RunDir) -> Result<Self, RunError> {
        let path = run.file(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| RunError::Io {
            what: "model description",
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| RunError::Run(format!("{}: {e}", path.display())))
    }
}

/// The side of the sky square the run's model sees, arcseconds, where its data says it.
pub fn model_field_arcsec(config: &ExperimentConfig) -> Option<f64> {
    match &config.data {
        // Galaxies framed by their size have no one angular scale.
        DataConfig::SimulatedGalaxies(c) if c.simulator.frames_each_galaxy() => None,
        DataConfig::SimulatedGalaxies(c) => Some(c.simulator.image_size as f64 * c.simulator.pixel_scale_arcsec),
        DataConfig::ImageCsv(c) => c.field_arcsec.or_else(|| Some(f64::from(c.decode.crop?) * c.pixel_scale_arcsec?)),
        _ => None,
    }
}

/// The colour composite the run's model was trained on, where its data says it: the
/// simulator's, or the one its picture files declare.
pub fn model_composite(config: &ExperimentConfig) -> Option<ModelComposite> {
    match &config.data {
        DataConfig::SimulatedGalaxies(c) => Some(match c.simulator.composite {
            Composite::Sdss => ModelComposite::Sdss { white_over_soft: c.simulator.sdss_white_over_soft() },
            Composite::GzDecals => ModelComposite::GzDecals,
        }),
        DataConfig::ImageCsv(c) => c.composite.map(|files| match files {
            Composite::Sdss => ModelComposite::SdssUnknownScale,
            Composite::GzDecals => ModelComposite::GzDecals,
        }),
        _ => None,
    }
}

/// Sets the redrawing of `data`'s pictures where they say their colour composite (`image_csv`'s
/// `composite`) and the model trained on `config` saw another (GZ DECaLS pictures for a model
/// trained on the SDSS-like simulations). `Ok(false)`: the pictures say their composite but the
/// model's is unknown, so they are used as they are; `Err`: the redrawing cannot be done, why.
pub fn redraw_in_model_composite(data: &mut DataConfig, config: &ExperimentConfig) -> Result<bool, String> {
    let DataConfig::ImageCsv(c) = data else { return Ok(true) };
    let Some(files) = c.composite else { return Ok(true) };
    let Some(model) = model_composite(config) else { return Ok(false) };
    c.restretch = Restretch::between(files, model).map_err(|e| format!("composite = \"{}\": {e}", files.name()))?;
    Ok(true)
}

/// The models' view of a data item of `shape` (`[channels, height, width]`) and `layout`.
pub fn input_feature_shape(shape: [usize; 3], layout: Layout) -> FeatureShape {
    let [channels, height, width] = shape;
    match layout {
        Layout::Image => FeatureShape::Image { channels, height, width },
        Layout::Sequence => FeatureShape::Sequence { channels, length: width },
    }
}
