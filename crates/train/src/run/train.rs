//! Training an experiment end to end: open and check the data and model, create (or resume)
//! the run folder, train its stages ([`crate::fit`]), then evaluate the best epoch on the
//! held-out test split ([`crate::evaluate`]) and write the summary, plots and report
//! ([`crate::report`]).

use std::path::{Path, PathBuf};

use astro_data::OpenedData;
use astro_data::catalogue_features::FeatureScaling;
use astro_data::epoch_loader::EpochLoader;
use astro_data::{ImageBatcher, Task};
use astro_models::{FeatureShape, LayerShape};
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;

use crate::config::stages::Trainable;
use crate::config::{ConfigError, ExperimentConfig};
use crate::error::RunError;
use crate::evaluate::reconstruction::evaluate_reconstruction;
use crate::evaluate::shallow_baseline::{fit_and_predict, score_shallow};
use crate::evaluate::test_split::evaluate_test_split;
use crate::evaluate::{Predictions, TestScores, target_mean};
use crate::fit::checkpointing::{checkpoint_files, last_complete_checkpoint};
pub use crate::fit::stages::Hardware;
use crate::fit::stages::{Fitted, fit_stages, forget_epochs_after};
use crate::fit::supervised::Supervised;
use crate::report::figures::test_figures;
use crate::report::plot::{BaselineLoss, StageMark, learning_curves};
use crate::report::{PaperNumber, StageSummary, Summary, TargetNumber, paper_metric_of, report_markdown};
use crate::run::folder::{Environment, RunDir, RunState};
use crate::run::model_io::{self, ModelIo};

/// Where a run goes.
#[derive(Debug, Clone)]
pub enum RunTarget {
    /// A new folder under this root (`runs/` by default).
    New(PathBuf),
    /// Continue this run from its last checkpoint.
    Resume(PathBuf),
    /// Exactly this new folder (one run of a comparison).
    At(PathBuf),
}

/// The input shape of a data set, as models see it.
pub fn input_shape(data: &OpenedData) -> FeatureShape {
    model_io::input_feature_shape(data.info.input, data.info.layout)
}

/// Opens `data` with `config`'s catalogue features (`[features]`) attached to every item.
pub fn open_data(config: &ExperimentConfig, data: &astro_data::DataConfig) -> Result<OpenedData, RunError> {
    let opened = data.open(config.data_seed())?;
    let Some(features) = &config.features else { return Ok(opened) };
    // A target or a published prediction as an input would hand the model its answer.
    let published = config.evaluation.published.as_deref();
    if let Some(answer) =
        features.columns.iter().find(|c| opened.info.target_names.contains(c) || Some(c.as_str()) == published)
    {
        return Err(ConfigError::invalid(
            "features.columns",
            format!("{answer:?} is the answer the model is scored on, not a feature"),
        )
        .into());
    }
    Ok(features.attach(opened)?)
}

/// How many catalogue features the model reads beside its input.
pub fn side_features(config: &ExperimentConfig) -> usize {
    config.features.as_ref().map_or(0, |f| f.columns.len())
}

/// The training split's statistics of the catalogue features, which the model standardises
/// them with; `None` without `[features]`.
pub fn feature_scaling(config: &ExperimentConfig, data: &OpenedData) -> Result<Option<FeatureScaling>, RunError> {
    match &config.features {
        Some(features) => Ok(Some(FeatureScaling::fit(features.names(), &data.train)?)),
        None => Ok(None),
    }
}

/// Opens the data and checks the model against it: everything `trainer check` verifies.
pub fn prepare(config: &ExperimentConfig) -> Result<(OpenedData, Vec<LayerShape>), RunError> {
    let mut data = open_data(config, &config.data)?;
    if config.model.reconstructs() {
        data = data.for_reconstruction();
    }
    let outputs = data.info.outputs();
    let wanted = match data.info.task {
        Task::Regression => format!("one value per target: {outputs} targets"),
        Task::Reconstruction => format!("the input back: {outputs} values"),
        Task::Classification => format!("one logit per class: {outputs} classes"),
    };
    let shapes = config.model.check_with_side(input_shape(&data), side_features(config), outputs, &wanted)?;
    if let Some(p) = &config.experiment.paper
        && let Some(unknown) = p.per_target.keys().find(|t| !data.info.target_names.contains(t))
    {
        return Err(ConfigError::invalid(
            "experiment.paper.per_target",
            format!("{unknown:?} is not a target of the data; its targets are {}", data.info.target_names.join(", ")),
        )
        .into());
    }
    check_published(config, &data)?;
    check_evaluation_names(config, &mut data)?;
    // The target set of [adaptation], checked against the source before anything trains.
    crate::adapt::target::open_target(config, &data.info)?;
    if config.adaptation.as_ref().is_some_and(|a| !a.compare.is_empty()) && data.info.task != Task::Classification {
        return Err(ConfigError::invalid(
            "adaptation.compare",
            format!(
                "compares the arms by target accuracy, ROC AUC and McNemar's test, which need classes; this data's \
                 task is {:?}: train each method as its own run (method = ...) instead",
                data.info.task
            ),
        )
        .into());
    }
    Ok((data, shapes))
}

/// Checks the property and target names of `[evaluation]` and `[baseline]` against the opened
/// data: a name that cannot apply is an error; a bin or subset property no item has becomes the
/// data's first warning.
fn check_evaluation_names(config: &ExperimentConfig, data: &mut OpenedData) -> Result<(), RunError> {
    let e = &config.evaluation;
    if e.bins.is_empty() && e.subsets.is_empty() && e.periodic.is_empty() && config.baseline.features.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&String> =
        e.bins.keys().chain(e.subsets.iter().flat_map(|s| s.above.keys())).chain(&config.baseline.features).collect();
    let mut properties = std::collections::BTreeSet::new();
    // Stops at the first item set that has every wanted name (a simulated item's properties
    // cost a simulation); scans everything only to list what there is.
    'scan: for split in [&data.test, &data.train, &data.valid] {
        for i in 0..split.len() {
            properties.extend(split.attributes(i).into_iter().map(|(name, _)| name));
            if wanted.iter().all(|name| properties.contains(*name)) {
                break 'scan;
            }
        }
    }
    let warnings = e
        .check_names(data.info.task, &data.info.target_names, &properties)
        .map_err(|(field, problem)| ConfigError::invalid(format!("evaluation.{field}"), problem))?;
    config
        .baseline
        .check_names(&data.info.target_names, e.published.as_deref(), &properties)
        .map_err(|(field, problem)| ConfigError::invalid(format!("baseline.{field}"), problem))?;
    // First, so that they are among the warnings printed.
    data.info.warnings.splice(0..0, warnings);
    Ok(())
}

/// Checks `[evaluation] published`: a regression of one target, and the property on every item.
fn check_published(config: &ExperimentConfig, data: &OpenedData) -> Result<(), RunError> {
    let Some(name) = &config.evaluation.published else { return Ok(()) };
    let bad = |problem: String| RunError::from(ConfigError::invalid("evaluation.published", problem));
    if data.info.task != Task::Regression || data.info.target_names.len() != 1 {
        return Err(bad(format!(
            "published predictions are scored against one regression target; this data's task is {:?} with \
             targets {:?}",
            data.info.task, data.info.target_names
        )));
    }
    for split in [&data.train, &data.valid, &data.test] {
        for i in 0..split.len() {
            let attributes = split.attributes(i);
            if !attributes.iter().any(|(k, v)| k == name && v.is_finite()) {
                let names: Vec<&str> = attributes.iter().map(|(k, _)| k.as_str()).collect();
                return Err(bad(format!(
                    "item {} has no numeric property `{name}` (a missing or NaN value in the list?); its numeric \
                     properties: {names:?}",
                    split.id(i)
                )));
            }
        }
    }
    Ok(())
}

/// Checks what the config asks of training that depends on the data and the model: stratified
/// batches (classes, batch size) and the layers each stage trains (built on `device`).
pub fn check_training(config: &ExperimentConfig, data: &OpenedData, device: &Device) -> Result<(), RunError> {
    let t = &config.training;
    let outputs = data.info.outputs();
    if t.stratified {
        if data.info.task != Task::Classification {
            return Err(ConfigError::invalid(
                "training.stratified",
                "needs a classification task (classes to balance)",
            )
            .into());
        }
        EpochLoader::stratified(data.train.clone(), outputs, t.batch_size, 0, 0, ImageBatcher::default(), 0)
            .map_err(|e| ConfigError::invalid("training.stratified", e))?;
    }
    crate::fit::stages::loss_recipe(config, data)?;
    let named: Vec<(usize, &Vec<String>)> = config
        .stages
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.train {
            Trainable::Layers(names) => Some((i, names)),
            Trainable::Word(_) => None,
        })
        .collect();
    if !named.is_empty() {
        let model = config.model.init_with_side(input_shape(data), side_features(config), outputs, device)?;
        for (i, names) in named {
            model.clone().freeze_all_but(names).map_err(|e| ConfigError::invalid(format!("stages[{i}].train"), e))?;
        }
    }
    Ok(())
}

/// A markdown table of the model's layers and output shapes.
pub fn model_table(config: &ExperimentConfig, input: FeatureShape, shapes: &[LayerShape]) -> String {
    let mut md =
        format!("`kind = \"{}\"`, input {input}\n\n| # | layer | output |\n|---|---|---|\n", config.model.kind());
    for (i, row) in shapes.iter().enumerate() {
        md.push_str(&format!("| {i} | {} | {} |\n", row.name, row.shape));
    }
    md
}

/// Trains `config` on `hardware` into `target`, returning the test summary: one run on the
/// data's splits, or one run per fold under `[validation]`.
pub fn train(config: &ExperimentConfig, hardware: &Hardware, target: &RunTarget) -> Result<Summary, RunError> {
    if let Some(validation) = &config.validation {
        return crate::run::cross_validation::train_folds(config, validation, hardware, target);
    }
    let (data, shapes) = prepare(config)?;
    train_on(config, hardware, target, &data, &shapes)
}

/// Trains `config` on `data` (opened and checked by [`prepare`]) into `target`.
pub fn train_on(
    config: &ExperimentConfig,
    hardware: &Hardware,
    target: &RunTarget,
    data: &OpenedData,
    shapes: &[LayerShape],
) -> Result<Summary, RunError> {
    let device = hardware.devices.first().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    check_training(config, data, device)?;
    let (run, resume_from) = open_run(config, hardware, target)?;
    record_warnings(&run, &data.info.warnings)?;
    run.track(|| run_training(config, hardware, &run, data, shapes, resume_from))
}

/// The run folder of `target`: created with the resolved config and the environment, or
/// reopened to resume (after the last complete checkpoint, which it returns).
pub fn open_run(
    config: &ExperimentConfig,
    hardware: &Hardware,
    target: &RunTarget,
) -> Result<(RunDir, Option<usize>), RunError> {
    match target {
        RunTarget::New(_) | RunTarget::At(_) => {
            let run = match target {
                RunTarget::At(path) => RunDir::create_at(path)?,
                _ => RunDir::create(target_root(target), &config.experiment.name)?,
            };
            let text = toml::to_string_pretty(config)
                .map_err(|e| RunError::Run(format!("cannot write the resolved config: {e}")))?;
            run.write("config.toml", &text)?;
            run.write_json("environment.json", &Environment::capture(&hardware.backend, &hardware.names))?;
            Ok((run, None))
        }
        RunTarget::Resume(path) => {
            let run = RunDir::open(path)?;
            if run.status().is_some_and(|s| s.state == RunState::Complete) {
                return Err(RunError::Run(format!("{} has already finished; start a new run instead", path.display())));
            }
            let epoch = last_complete_checkpoint(&run.path);
            forget_epochs_after(&run.path, epoch.unwrap_or(0))?;
            Ok((run, epoch))
        }
    }
}

/// Prints the first of the data's warnings and keeps them all in `data_warnings.txt`.
pub fn record_warnings(run: &RunDir, warnings: &[String]) -> Result<(), RunError> {
    if warnings.is_empty() {
        return Ok(());
    }
    for w in warnings.iter().take(5) {
        eprintln!("data: {w}");
    }
    let file = run.file("data_warnings.txt");
    eprintln!("data: {} warnings in all, listed in {}", warnings.len(), file.display());
    run.write("data_warnings.txt", &(warnings.join("\n") + "\n"))
}

/// The runs folder of a new run.
fn target_root(target: &RunTarget) -> &Path {
    match target {
        RunTarget::New(root) => root,
        RunTarget::Resume(path) | RunTarget::At(path) => path,
    }
}

fn run_training(
    config: &ExperimentConfig,
    hardware: &Hardware,
    run: &RunDir,
    data: &OpenedData,
    shapes: &[LayerShape],
    resume_from: Option<usize>,
) -> Result<Summary, RunError> {
    let t = &config.training;
    // The [adaptation] target set: trained beside the source, then scored.
    let target = crate::adapt::target::open_target(config, &data.info)?;
    let Fitted { plan, rows, best_epoch, batches_per_device } =
        fit_stages(config, hardware, run, data, target.as_ref(), resume_from)?;
    let device = hardware.devices.first().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    let input = input_shape(data);
    let outputs = data.info.outputs();
    let task = data.info.task;
    let [best_file, ..] = checkpoint_files(&run.path, best_epoch);
    let eval_device = device.clone().inner();
    let scaling = feature_scaling(config, data)?;
    let mut model =
        Supervised::new(config.model.init_with_side(input, side_features(config), outputs, &eval_device)?, task)
            .with_scaling(scaling.clone());
    // The checkpoints of a DANN run hold its domain classifier too, and those of a run with a
    // second head on the body its head; `model.bpk` holds neither.
    model.domain = crate::fit::stages::domain_classifier(config, &model.model, &eval_device);
    model.body_head = crate::fit::body_head::body_head(config, &model.model, outputs, &eval_device)?;
    let mut model = model
        .try_load_file(&best_file)
        .map_err(|e| RunError::Run(format!("cannot load the best checkpoint {}: {e}", best_file.display())))?;
    model.domain = None;
    model.body_head = None;
    let parameters = model.num_params();
    let model_file = run.file("model.bpk");
    model
        .clone()
        .save_file(&model_file)
        .map_err(|e| RunError::Run(format!("cannot save {}: {e}", model_file.display())))?;

    // An autoencoder's baseline is the mean training image, which its evaluation computes.
    let train_mean = if task == Task::Reconstruction {
        Vec::new()
    } else {
        target_mean(&data.train, task, outputs).map_err(RunError::Run)?
    };
    let io = ModelIo {
        input: data.info.input,
        layout: data.info.layout,
        preprocess: data.info.preprocess,
        task,
        target_names: data.info.target_names.clone(),
        train_mean,
        features: scaling,
        fits: data.info.fits.clone(),
    };
    run.write_json(model_io::FILE, &io)?;
    let (metrics, loss_name, baseline, test_predictions) = if task == Task::Reconstruction {
        let m =
            evaluate_reconstruction(&model, &data.train, &data.test, t.batch_size, t.workers, &eval_device, &run.path)?;
        let baseline = BaselineLoss { loss: m.baseline_rmse.powi(2), label: "mean training image" };
        (TestScores::Reconstruction(m), "mean squared error", baseline, Predictions::default())
    } else {
        let outcome = evaluate_test_split(config, run, data, &model, &io, &eval_device)?;
        test_figures(config, run, data, &outcome.scores, &outcome.predictions)?;
        (outcome.scores, outcome.loss_name, outcome.baseline, outcome.predictions)
    };
    learning_curves(
        &run.file("learning_curves.png"),
        &format!("{}: learning curves", config.experiment.name),
        loss_name,
        &rows,
        Some(baseline),
        &plan.iter().map(|s| StageMark { after_epoch: s.after_epoch, name: &s.name }).collect::<Vec<_>>(),
    )?;

    let adaptation = match (&config.adaptation, &target) {
        (Some(a), Some(target)) => {
            let adapted = if a.target_batch_norm {
                Some(crate::adapt::target_batch_norm::adapt_and_save(run, &model, target, &eval_device)?)
            } else {
                None
            };
            Some(crate::adapt::target::evaluate_target(
                config,
                a,
                run,
                data,
                target,
                &model,
                adapted.as_ref(),
                &io,
                &rows,
                &eval_device,
            )?)
        }
        _ => None,
    };
    let baseline = config.baseline.with_catalogue_features(config.features.as_ref());
    let shallow_baseline = fit_and_predict(&baseline, task, outputs, &data.train, &data.test, config.experiment.seed)?
        .map(|p| score_shallow(&baseline, task, outputs, &p, &test_predictions));
    let train_seconds: f64 = rows.iter().map(|r| r.seconds).sum();
    let seen = (data.train.len() + data.valid.len()) * rows.len();
    let (paper_metric, paper_metric_missing) = paper_metric_of(config, &metrics);
    let paper_targets = config.experiment.paper.as_ref().map_or_else(Vec::new, |p| {
        p.per_target
            .iter()
            .map(|(target, &paper)| TargetNumber {
                target: target.clone(),
                paper,
                this_run: data
                    .info
                    .target_names
                    .iter()
                    .position(|n| n == target)
                    .and_then(|j| metrics.target_value(&p.metric, j)),
            })
            .collect()
    });
    let summary = Summary {
        experiment: config.experiment.name.clone(),
        run_dir: run.path.display().to_string(),
        metric: task.metric().into(),
        test: metrics,
        paper_metric,
        paper_metric_missing,
        paper: config.experiment.paper.as_ref().map(PaperNumber::of),
        best_epoch,
        epochs_trained: rows.len(),
        train_seconds,
        images_per_second: seen as f64 / train_seconds.max(1e-9),
        parameters,
        data: data.info.description.clone(),
        backend: format!("{} ({})", hardware.backend, hardware.names.join(", ")),
        stages: if plan.len() > 1 { plan.iter().map(StageSummary::of).collect() } else { Vec::new() },
        paper_targets,
        cross_validation: None,
        batches_per_device,
        shallow_baseline,
        adaptation,
    };
    run.write_json("summary.json", &summary)?;
    run.write("report.md", &report_markdown(config, &summary, &model_table(config, input, shapes)))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use astro_models::Model;

    const TINY: &str = r#"[experiment]
name = "NAME"
seed = 3

[data]
source = "simulated_lenses"
train = 24
valid = 8
test = 8

[data.simulator]
image_size = 16

[model]
kind = "resnet"
preset = "resnet18"
stem_channels = 4
widths = [4, 8]
units = [1, 1]

[training]
epochs = 1
batch_size = 8
workers = 0
keep_checkpoints = 3
"#;

    fn config(name: &str, extra: &str) -> ExperimentConfig {
        let text = TINY.replace("NAME", name) + extra;
        parse_config(Path::new("tiny.toml"), &text, &[], false).unwrap()
    }

    fn load(file: &Path, config: &ExperimentConfig) -> Model {
        let device = Device::flex();
        let input = FeatureShape::Image { channels: 1, height: 16, width: 16 };
        let model = Supervised::new(config.model.init(input, 2, &device).unwrap(), Task::Classification);
        model.try_load_file(file).unwrap().model
    }

    fn resnet(model: &Model) -> &astro_models::resnet::ResNet {
        let Model::Resnet(r) = model else { unreachable!() };
        r
    }

    #[test]
    fn a_frozen_first_stage_trains_only_the_head_and_the_next_stage_trains_everything() {
        let dir = tempfile::tempdir().unwrap();
        let hardware = Hardware {
            backend: "flex".into(),
            devices: vec![Device::flex()],
            names: vec!["flex".into()],
            half_batches: false,
        };
        let source = config("source", "");
        let pretrained = train(&source, &hardware, &RunTarget::New(dir.path().to_path_buf())).unwrap();
        let staged = config(
            "staged",
            &format!(
                "\n[init]\nrun = \"{}\"\n\n[[stages]]\nname = \"head\"\nepochs = 1\ntrain = \"head\"\n\n[[stages]]\nepochs = 1\nlr = 0.01\n",
                pretrained.run_dir
            ),
        );
        let summary = train(&staged, &hardware, &RunTarget::New(dir.path().to_path_buf())).unwrap();
        assert_eq!(summary.epochs_trained, 2);
        assert_eq!(summary.stages.len(), 2);
        assert_eq!((summary.stages[0].train.as_str(), summary.stages[1].train.as_str()), ("head", "all"));
        assert_eq!(summary.best_epoch, 2, "the evaluated epoch is the last stage's");
        let before = load(&Path::new(&pretrained.run_dir).join("model.bpk"), &staged);
        let run = Path::new(&summary.run_dir);
        let [after_head, ..] = checkpoint_files(run, 1);
        let [after_all, ..] = checkpoint_files(run, 2);
        let (a, b, c) = (before, load(&after_head, &staged), load(&after_all, &staged));
        let conv = |m: &Model| resnet(m).conv1.weight.val().into_data();
        let bn_mean = |m: &Model| resnet(m).bn1.running_mean.value().into_data();
        let fc = |m: &Model| resnet(m).fc.weight.val().into_data();
        assert_eq!(conv(&a), conv(&b), "the frozen stem did not move in stage 1");
        assert_eq!(bn_mean(&a), bn_mean(&b), "frozen batch norms kept their statistics");
        assert_ne!(fc(&a), fc(&b), "the head trained in stage 1");
        assert_ne!(conv(&b), conv(&c), "stage 2 trains the stem");
    }
}
