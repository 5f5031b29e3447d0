//! The target set of `[adaptation.target]`: opened and checked against the source before
//! training, and the trained model scored on its test split (`target_test_predictions.csv`),
//! with the body's features of both test splits projected for `features.png`.

use astro_data::epoch_loader::EpochLoader;
use astro_data::{DataInfo, OpenedData, Task};
use burn::data::dataloader::DataLoader;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use serde::Serialize;

use crate::adapt::config::{AdaptationConfig, Method};
use crate::adapt::features_plot::{FeatureCloud, features_png};
use crate::config::{ConfigError, ExperimentConfig};
use crate::error::RunError;
use crate::evaluate::{TestScores, predict, score, write_predictions_csv};
use crate::fit::epoch_log::EpochRow;
use crate::fit::supervised::Supervised;
use crate::run::folder::RunDir;
use crate::run::model_io::{ModelIo, redraw_in_model_composite};

/// The seed the target set is opened with: `[adaptation] target_seed`, by default the data's
/// plus one, so that a target simulated like the source holds other items.
pub fn target_seed(config: &ExperimentConfig) -> u64 {
    config.adaptation.as_ref().and_then(|a| a.target_seed).unwrap_or_else(|| config.data_seed().wrapping_add(1))
}

/// Opens the target set of `adaptation` and checks it against the source's `source` info:
/// the same image shape, and, where it has labels, the same task and targets (they score its
/// test split). With `trains_on_target`, its training split must hold images.
pub fn open_target(config: &ExperimentConfig, source: &DataInfo) -> Result<Option<OpenedData>, RunError> {
    let Some(a) = &config.adaptation else { return Ok(None) };
    let bad = |problem: String| RunError::from(ConfigError::invalid("adaptation.target", problem));
    let target = open_target_data(config)?;
    let [c, h, w] = source.input;
    let [tc, th, tw] = target.info.input;
    if target.info.input != source.input || target.info.layout != source.layout {
        return Err(bad(format!(
            "its images are {tc} band(s) of {th}x{tw} pixels, but [data]'s are {c} band(s) of {h}x{w}: the network \
             reads both, so make them the same (size, crop, channels)"
        )));
    }
    if (a.trains_on_target() || a.target_batch_norm) && target.train.is_empty() {
        return Err(bad(format!(
            "its training split has no images ({}): adaptation trains on them (or AdaBN takes its statistics from them)",
            target.info.description
        )));
    }
    if target.info.task != source.task || target.info.target_names != source.target_names {
        return Err(bad(format!(
            "its labels ({:?} {:?}) are not [data]'s ({:?} {:?}): they score the target test split, so they must name \
             the same classes or values in the same order",
            target.info.task, target.info.target_names, source.task, source.target_names
        )));
    }
    Ok(Some(target))
}

/// Opens the target set of `config`'s `[adaptation]` (an error where it has none). Pictures
/// that say their colour composite are redrawn in the one the model trains on, as `eval --data`
/// redraws them: GZ DECaLS pictures for a network trained on the SDSS-like simulations.
pub fn open_target_data(config: &ExperimentConfig) -> Result<OpenedData, RunError> {
    let bad = |problem: String| RunError::from(ConfigError::invalid("adaptation.target", problem));
    let a = config.adaptation.as_ref().ok_or_else(|| RunError::Run("the run has no [adaptation] target".into()))?;
    let mut target = a.target.clone();
    if !redraw_in_model_composite(&mut target, config).map_err(bad)? {
        eprintln!(
            "warning: [adaptation.target] gives its pictures' colour composite, but [data] does not say the one the \
             network trains on: the target pictures are used as they are"
        );
    }
    target.open(target_seed(config)).map_err(|e| bad(e.to_string()))
}

/// The adapted run's results on the target domain, in `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptationScores {
    /// `none`, `mmd` or `dann`.
    pub method: String,
    /// Where the target images came from.
    pub target: String,
    /// Target training images used (without labels) per epoch.
    pub target_train_items: usize,
    /// The model on the target test split.
    pub target_test: TestScores,
    /// AdaBN: the target training images the batch-norm statistics were re-estimated on
    /// (`None`: scored with the source's statistics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_batch_norm_items: Option<usize>,
    /// The adaptation term of the loss per epoch (MMD^2, or the domain cross-entropy); empty
    /// when training read no target images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_loss_by_epoch: Vec<f64>,
    /// DANN: the domain classifier's training accuracy per epoch (0.5: it can no longer tell
    /// the domains apart from the features).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_accuracy_by_epoch: Vec<f64>,
}

/// At most this many items of each test split are projected in `features.png`.
const MAX_PLOTTED: usize = 1000;

/// Scores `model` on the target test split (`target_test_predictions.csv`) and draws the
/// features of both test splits (`features.png`). With `adapted` (AdaBN: the model with the
/// target's batch-norm statistics and the number of images they came from), the target is
/// scored and drawn with it, the source with `model`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_target(
    config: &ExperimentConfig,
    adaptation: &AdaptationConfig,
    run: &RunDir,
    source: &OpenedData,
    target: &OpenedData,
    model: &Supervised,
    adapted: Option<&(Supervised, usize)>,
    io: &ModelIo,
    rows: &[EpochRow],
    device: &Device,
) -> Result<AdaptationScores, RunError> {
    let t = &config.training;
    let target_model = adapted.map_or(model, |(m, _)| m);
    let mut predictions =
        predict(target_model, target.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), device)?;
    predictions.attach_attributes(&[&target.test]);
    let target_test = score(io.task, &predictions, &io.train_mean, &io.target_names, &config.evaluation);
    write_predictions_csv(&run.file("target_test_predictions.csv"), io.task, &io.target_names, &predictions)?;
    let class_names = if io.task == Task::Classification { io.target_names.clone() } else { Vec::new() };
    let clouds = [
        features_of(model, source, "source", class_names.len(), config, device)?,
        features_of(target_model, target, "target", class_names.len(), config, device)?,
    ];
    features_png(
        &run.file("features.png"),
        &format!(
            "{}: body features of the test splits ({}{})",
            config.experiment.name,
            adaptation.method.name(),
            if adapted.is_some() { "; target with its own batch-norm statistics" } else { "" }
        ),
        &clouds,
        &class_names,
    )?;
    // The columns metrics.csv has: the adaptation term with MMD and DANN, the domain
    // classifier's accuracy with DANN.
    let series = |logged: bool, f: fn(&EpochRow) -> f64| if logged { rows.iter().map(f).collect() } else { Vec::new() };
    Ok(AdaptationScores {
        method: adaptation.method.name().into(),
        target: target.info.description.clone(),
        target_train_items: target.train.len(),
        target_test,
        target_batch_norm_items: adapted.map(|(_, n)| *n),
        domain_loss_by_epoch: series(adaptation.method != Method::None, |r| r.domain_loss),
        domain_accuracy_by_epoch: series(adaptation.method == Method::Dann, |r| r.domain_accuracy),
    })
}

/// The body's features and the class (of `classes`; none for regression) of up to
/// [`MAX_PLOTTED`] test items of `data`.
fn features_of(
    model: &Supervised,
    data: &OpenedData,
    domain: &'static str,
    classes: usize,
    config: &ExperimentConfig,
    device: &Device,
) -> Result<FeatureCloud, RunError> {
    let n = data.test.len().min(MAX_PLOTTED);
    let loader = EpochLoader::in_order(data.test.clone(), n, config.training.batch_size, config.training.workers)
        .on(device.clone());
    let mut cloud = FeatureCloud { domain, features: Vec::new(), classes: Vec::new() };
    for batch in loader.iter() {
        let batch = batch.map_err(|e| RunError::Run(format!("cannot load the {domain} test split: {e}")))?;
        let [b, k] = batch.targets.dims();
        let Some((features, _)) = model.model.forward_split(batch.images, None) else {
            return Ok(cloud);
        };
        let width = features.dims()[1];
        let values = features
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| RunError::Run(format!("cannot read the body's features: {e:?}")))?;
        cloud.features.extend(values.chunks(width.max(1)).map(<[f32]>::to_vec));
        let targets = batch.targets.into_data().try_to_vec::<f32>().unwrap_or_default();
        let class = |row: &[f32]| astro_data::task::class_of(row, classes);
        cloud.classes.extend((0..b).map(|i| if k == 0 { None } else { class(&targets[i * k..(i + 1) * k]) }));
    }
    Ok(cloud)
}
