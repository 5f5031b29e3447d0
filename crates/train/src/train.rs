//! Training an experiment end to end: open and check the data and model, create (or resume)
//! the run folder, train through Burn's `SupervisedTraining`/`Learner`, then evaluate the best
//! epoch on the held-out test split and write the summary, plots and report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use astro_data::config::OpenedData;
use astro_data::stratified::StratifiedLoader;
use astro_data::{Augmenter, ImageBatch, ImageBatcher, Layout, Task};
use astro_models::{FeatureShape, LayerShape};
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::checkpoint::{Checkpoint, ComposedCheckpointingStrategy, MetricCheckpointingStrategy};
use burn::train::logger::FileMetricLogger;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim, StoppingCondition,
    SupervisedTraining,
};

use crate::checkpointing::{Cadence, checkpoint_files, last_complete_checkpoint, model_checkpoints};
use crate::config::stages::{self, Stage, Trainable};
use crate::config::{ConfigError, ExperimentConfig};
use crate::confusion_plot::confusion_png;
use crate::curve_gallery::save_curve_gallery;
use crate::epoch_log::{Divergence, EpochCsvLogger, read_epochs, truncate_after};
use crate::error::RunError;
use crate::evaluate::{Predictions, TestScores, predict, score, target_mean, write_predictions_csv};
use crate::gallery::{GalleryItem, gallery_rows, save_gallery};
use crate::init::pretrained_model;
use crate::model_io::{self, ModelIo};
use crate::plot::{BaselineLoss, StageMark, learning_curves};
use crate::progress::ProgressPrinter;
use crate::reconstruction::evaluate_reconstruction;
use crate::report::{PaperNumber, StageSummary, Summary, TargetNumber, report_markdown};
use crate::roc_plot::roc_png;
use crate::run_dir::{Environment, RunDir, RunState};
use crate::scatter_plot::predicted_vs_true;
use crate::supervised::Supervised;

/// The devices to train on, chosen by the binary.
#[derive(Debug, Clone)]
pub struct Hardware {
    /// The backend's name (for the record).
    pub backend: String,
    /// The devices; several train data-parallel.
    pub devices: Vec<Device>,
    /// The devices as the user named them.
    pub names: Vec<String>,
}

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

/// Opens the data and checks the model against it: everything `trainer check` verifies.
pub fn prepare(config: &ExperimentConfig) -> Result<(OpenedData, Vec<LayerShape>), RunError> {
    let mut data = config.data.open(config.experiment.seed)?;
    if config.model.reconstructs() {
        data = data.for_reconstruction();
    }
    let outputs = data.info.outputs();
    let wanted = match data.info.task {
        Task::Regression => format!("one value per target: {outputs} targets"),
        Task::Reconstruction => format!("the input back: {outputs} values"),
        Task::Classification => format!("one logit per class: {outputs} classes"),
    };
    let shapes = config.model.check(input_shape(&data), outputs, &wanted)?;
    if let Some(p) = &config.experiment.paper
        && let Some(unknown) = p.per_target.keys().find(|t| !data.info.target_names.contains(t))
    {
        return Err(ConfigError::invalid(
            "experiment.paper.per_target",
            format!("{unknown:?} is not a target of the data; its targets are {}", data.info.target_names.join(", ")),
        )
        .into());
    }
    Ok((data, shapes))
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
        StratifiedLoader::new(data.train.clone(), outputs, t.batch_size, 0, 0, ImageBatcher::default(), 0)
            .map_err(|e| ConfigError::invalid("training.stratified", e))?;
    }
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
        let model = config.model.init(input_shape(data), outputs, device)?;
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

/// Trains `config` on `hardware` into `target`, returning the test summary.
pub fn train(config: &ExperimentConfig, hardware: &Hardware, target: &RunTarget) -> Result<Summary, RunError> {
    let (data, shapes) = prepare(config)?;
    let device = hardware.devices.first().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    check_training(config, &data, device)?;
    let (run, resume_from) = match target {
        RunTarget::New(_) | RunTarget::At(_) => {
            let run = match target {
                RunTarget::At(path) => RunDir::create_at(path)?,
                _ => RunDir::create(target_root(target), &config.experiment.name)?,
            };
            let text = toml::to_string_pretty(config)
                .map_err(|e| RunError::Run(format!("cannot write the resolved config: {e}")))?;
            run.write("config.toml", &text)?;
            run.write_json("environment.json", &Environment::capture(&hardware.backend, &hardware.names))?;
            (run, None)
        }
        RunTarget::Resume(path) => {
            let run = RunDir::open(path)?;
            if run.status().is_some_and(|s| s.state == RunState::Complete) {
                return Err(RunError::Run(format!("{} has already finished; start a new run instead", path.display())));
            }
            let epoch = last_complete_checkpoint(&run.path);
            forget_epochs_after(&run.path, epoch.unwrap_or(0))?;
            (run, epoch)
        }
    };
    if !data.info.warnings.is_empty() {
        for w in data.info.warnings.iter().take(5) {
            eprintln!("data: {w}");
        }
        let file = run.file("data_warnings.txt");
        eprintln!("data: {} warnings in all, listed in {}", data.info.warnings.len(), file.display());
        run.write("data_warnings.txt", &(data.info.warnings.join("\n") + "\n"))?;
    }
    run.set_status(RunState::Running, None)?;
    let result = run_training(config, hardware, &run, &data, &shapes, resume_from);
    match &result {
        Ok(_) => run.set_status(RunState::Complete, None)?,
        Err(e) => run.set_status(RunState::Failed, Some(e.to_string()))?,
    }
    result
}

/// The runs folder of a new run.
fn target_root(target: &RunTarget) -> &Path {
    match target {
        RunTarget::New(root) => root,
        RunTarget::Resume(path) | RunTarget::At(path) => path,
    }
}

/// Removes what epochs after `epoch` left behind, so a resumed run repeats them cleanly.
fn forget_epochs_after(run: &Path, epoch: usize) -> Result<(), RunError> {
    let metrics = run.join("metrics.csv");
    if metrics.exists() {
        truncate_after(&metrics, epoch).map_err(|source| RunError::Io {
            what: "metrics file",
            path: metrics.clone(),
            source,
        })?;
    }
    for split in ["train", "valid"] {
        for entry in std::fs::read_dir(run.join(split)).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.strip_prefix("epoch-").and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > epoch) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

fn run_training(
    config: &ExperimentConfig,
    hardware: &Hardware,
    run: &RunDir,
    data: &OpenedData,
    shapes: &[LayerShape],
    resume_from: Option<usize>,
) -> Result<Summary, RunError> {
    let seed = config.experiment.seed;
    let t = &config.training;
    let device = hardware.devices.first().cloned().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    let input = input_shape(data);
    let outputs = data.info.outputs();
    device.seed(seed);
    let task = data.info.task;
    let plan = stages::plan(&config.stages, &config.optimizer, &config.schedule, t.epochs);
    let done = resume_from.unwrap_or(0);
    for (k, stage) in plan.iter().enumerate().filter(|(_, s)| s.last_epoch > done) {
        let session = StageSession { config, hardware, run, data, device: &device, stages: plan.len(), index: k };
        session.train(stage, done.max(stage.after_epoch))?;
    }
    let metrics_path = run.file("metrics.csv");
    let rows = read_epochs(&metrics_path).map_err(|source| RunError::Io {
        what: "metrics file",
        path: metrics_path.clone(),
        source,
    })?;
    // The last stage's best epoch: earlier stages (a frozen body, say) only lead up to it.
    let last_stage_from = plan.last().map_or(0, |s| s.after_epoch);
    let best_epoch = rows
        .iter()
        .filter(|r| r.epoch > last_stage_from && r.valid_loss.is_finite())
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .map(|r| r.epoch)
        .ok_or_else(|| RunError::Run(format!("{} has no finished epoch", metrics_path.display())))?;
    let [best_file, ..] = checkpoint_files(&run.path, best_epoch);
    let eval_device = device.clone().inner();
    let model = Supervised { model: config.model.init(input, outputs, &eval_device)?, task }
        .try_load_file(&best_file)
        .map_err(|e| RunError::Run(format!("cannot load the best checkpoint {}: {e}", best_file.display())))?;
    let parameters = model.num_params();
    let model_file = run.file("model.bpk");
    model
        .clone()
        .save_file(&model_file)
        .map_err(|e| RunError::Run(format!("cannot save {}: {e}", model_file.display())))?;

    // An autoencoder's baseline is the mean training image, which its evaluation computes.
    let train_mean = if task == Task::Reconstruction { Vec::new() } else { target_mean(&data.train, task, outputs) };
    let io = ModelIo {
        input: data.info.input,
        layout: data.info.layout,
        preprocess: data.info.preprocess,
        task,
        target_names: data.info.target_names.clone(),
        train_mean,
    };
    run.write_json(model_io::FILE, &io)?;
    let (metrics, loss_name, baseline) = if task == Task::Reconstruction {
        let m =
            evaluate_reconstruction(&model, &data.train, &data.test, t.batch_size, t.workers, &eval_device, &run.path)?;
        let baseline = BaselineLoss { loss: m.baseline_rmse.powi(2), label: "mean training image" };
        (TestScores::Reconstruction(m), "mean squared error", baseline)
    } else {
        evaluate_test(config, run, data, &model, &io, &eval_device)?
    };
    learning_curves(
        &run.file("learning_curves.png"),
        &format!("{}: learning curves", config.experiment.name),
        loss_name,
        &rows,
        Some(baseline),
        &plan.iter().map(|s| StageMark { after_epoch: s.after_epoch, name: &s.name }).collect::<Vec<_>>(),
    )?;

    let train_seconds: f64 = rows.iter().map(|r| r.seconds).sum();
    let seen = (data.train.len() + data.valid.len()) * rows.len();
    let paper_metric = config
        .experiment
        .paper
        .as_ref()
        .and_then(|p| metrics.metric_value(&p.metric, p.subset.as_deref(), p.class.as_deref()));
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
    };
    run.write_json("summary.json", &summary)?;
    run.write("report.md", &report_markdown(config, &summary, &model_table(config, input, shapes)))?;
    Ok(summary)
}

/// Predicts the test split, scores it, and writes the predictions, the task's plots and the
/// gallery; returns the scores, the loss's name and the baseline's loss.
fn evaluate_test(
    config: &ExperimentConfig,
    run: &RunDir,
    data: &OpenedData,
    model: &Supervised,
    io: &ModelIo,
    device: &Device,
) -> Result<(TestScores, &'static str, BaselineLoss<'static>), RunError> {
    let (t, task) = (&config.training, io.task);
    let mut predictions =
        predict(model, data.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), device)?;
    predictions.attach_attributes(&[&data.test]);
    let metrics = score(task, &predictions, &io.train_mean, &io.target_names, &config.evaluation);
    write_predictions_csv(&run.file("test_predictions.csv"), task, &data.info.target_names, &predictions)?;
    let (loss_name, baseline) = match &metrics {
        TestScores::Classification(m) => {
            let name = format!("{}: confusion matrix (test)", config.experiment.name);
            confusion_png(&run.file("confusion.png"), &name, &data.info.target_names, &m.confusion)?;
            if let Some(b) = &m.binary {
                let title = format!("{}: ROC curve (test)", config.experiment.name);
                roc_png(&run.file("roc.png"), &title, b)?;
            }
            let loss = prior_cross_entropy(&io.train_mean, &predictions);
            ("cross-entropy", BaselineLoss { loss, label: "training class shares" })
        }
        TestScores::Regression(m) => {
            let title = format!("{}: predicted vs true (test)", config.experiment.name);
            predicted_vs_true(&run.file("predicted_vs_true.png"), &title, &data.info.target_names, &predictions)?;
            let loss = if config.model.has_own_loss() { f64::NAN } else { m.baseline_rmse.powi(2) };
            ("mean squared error", BaselineLoss { loss, label: "training mean" })
        }
        TestScores::Reconstruction(m) => {
            ("mean squared error", BaselineLoss { loss: m.baseline_rmse.powi(2), label: "mean training image" })
        }
    };
    let index_of: std::collections::HashMap<String, usize> =
        (0..data.test.len()).map(|i| (data.test.id(i), i)).collect();
    let picked: Vec<(usize, astro_data::ImageItem)> = gallery_rows(task, &predictions)
        .into_iter()
        .filter_map(|row| Some((row, data.test.get(*index_of.get(&predictions.ids[row])?).ok()?)))
        .collect();
    let cells: Vec<GalleryItem> = picked
        .iter()
        .map(|(row, s)| GalleryItem {
            pixels: &s.pixels,
            shape: s.shape,
            targets: &predictions.targets[*row],
            outputs: &predictions.outputs[*row],
        })
        .collect();
    match data.info.layout {
        Layout::Image => save_gallery(&run.file("gallery.png"), task, &data.info.target_names, &cells, 4, 2)?,
        Layout::Sequence => save_curve_gallery(&run.file("gallery.png"), task, &data.info.target_names, &cells, 4)?,
    }
    Ok((metrics, loss_name, baseline))
}

/// What training one stage needs.
struct StageSession<'a> {
    config: &'a ExperimentConfig,
    hardware: &'a Hardware,
    run: &'a RunDir,
    data: &'a OpenedData,
    device: &'a Device,
    /// Stages in the run.
    stages: usize,
    /// This stage's position (0-based).
    index: usize,
}

impl StageSession<'_> {
    /// Trains `stage` from epoch `start` (its first epoch, or where a killed run stopped) to its
    /// last, through Burn's `SupervisedTraining`.
    fn train(&self, stage: &Stage, start: usize) -> Result<(), RunError> {
        let (config, run, data) = (self.config, self.run, self.data);
        let t = &config.training;
        let seed = config.experiment.seed;
        let task = data.info.task;
        let input = input_shape(data);
        let outputs = data.info.outputs();
        let last_stage = self.index + 1 == self.stages;
        // Parameters track gradients only when created on an autodiff device.
        let autodiff = self.device.clone().autodiff();
        let mut model = Supervised { model: config.model.init(input, outputs, &autodiff)?, task };
        // Later stages and resumed runs load their checkpoint instead.
        if let (Some(init), 0) = (&config.init, start) {
            let (pretrained, what) = pretrained_model(init, config, &data.info, &autodiff)?;
            eprintln!("init: {what}");
            model.model = pretrained;
        }
        let trainable = match &stage.train {
            Trainable::Word(w) if w == "all" => None,
            Trainable::Word(_) => Some(model.model.head_layers()),
            Trainable::Layers(names) => Some(names.clone()),
        };
        if let Some(layers) = &trainable {
            model.model = model
                .model
                .freeze_all_but(layers)
                .map_err(|e| RunError::Run(format!("stage {:?}: train: {e}", stage.name)))?;
        }
        if self.stages > 1 {
            eprintln!(
                "stage {}/{} \"{}\": epochs {}-{}, training {}, {} lr {:e}",
                self.index + 1,
                self.stages,
                stage.name,
                stage.after_epoch + 1,
                stage.last_epoch,
                trainable.as_ref().map_or("every layer".to_string(), |l| l.join(", ")),
                format!("{:?}", stage.optimizer.kind).to_lowercase(),
                stage.optimizer.lr
            );
        }
        let steps_per_epoch = data.train.len().div_ceil(t.batch_size);
        let optimizer = stage.optimizer.build();
        let schedule = stage.schedule.build(stage.optimizer.lr, stage.epochs(), steps_per_epoch);
        if start > 0 && start == stage.after_epoch {
            // A new stage goes on from the last weights of the one before with its own, fresh
            // optimiser and schedule: the checkpoint it starts from says so.
            fresh_optimizer_checkpoint(&run.path, start, &optimizer, &schedule)?;
        }

        let train_batcher = config
            .augment
            .clone()
            .map_or_else(ImageBatcher::default, |a| ImageBatcher::augmented(Augmenter::new(a, seed)));
        let train_loader: Arc<dyn DataLoader<ImageBatch>> = if t.stratified {
            let loader = StratifiedLoader::new(
                data.train.clone(),
                outputs,
                t.batch_size,
                seed,
                start as u64,
                train_batcher,
                t.workers,
            )
            .map_err(|e| RunError::Config(ConfigError::invalid("training.stratified", e)))?;
            Arc::new(loader)
        } else {
            DataLoaderBuilder::new(train_batcher)
                .batch_size(t.batch_size)
                .shuffle(seed.wrapping_add(start as u64))
                .num_workers(t.workers)
                .build(data.train.clone())
        };
        let valid_loader = DataLoaderBuilder::new(ImageBatcher::default())
            .batch_size(t.batch_size)
            .num_workers(t.workers)
            .build(data.valid.clone());
        let learner = Learner::new(model, optimizer, schedule);

        let interrupter = Interrupter::new();
        let divergence = Divergence::default();
        let metrics_path = run.file("metrics.csv");
        let csv = EpochCsvLogger::new(&metrics_path, task, interrupter.clone(), divergence.clone())
            .map_err(|source| RunError::Io { what: "metrics file", path: metrics_path.clone(), source })?;
        let cadence =
            Cadence::new(t.checkpoint_every, t.keep_checkpoints, stage.last_epoch, model_checkpoints(&run.path));
        let mut strategy = ComposedCheckpointingStrategy::builder().add(cadence);
        if last_stage {
            // The evaluated weights are the last stage's best.
            strategy = strategy.add(MetricCheckpointingStrategy::new(
                &LossMetric::new(),
                Aggregate::Mean,
                Direction::Lowest,
                Split::Valid,
            ));
        }

        let mut training = SupervisedTraining::new(&run.path, train_loader, valid_loader)
            .metrics((LossMetric::new(),))
            .metric_train_numeric(LearningRateMetric::new())
            .num_epochs(stage.last_epoch)
            .with_default_checkpointers()
            .with_checkpointing_strategy(strategy.build())
            .renderer(Box::new(ProgressPrinter::for_stage_from(stage.after_epoch + 1)))
            .with_metric_logger(FileMetricLogger::new(&run.path))
            .with_metric_logger(csv)
            .with_interrupter(interrupter);
        if task == Task::Classification {
            training = training.metrics((AccuracyMetric::new(),));
        }
        if let (Some(n_epochs), true) = (t.early_stopping_patience, last_stage) {
            let condition = StoppingCondition::NoImprovementSince { n_epochs };
            training = training.early_stopping(MetricEarlyStoppingStrategy::new(
                &LossMetric::new(),
                Aggregate::Mean,
                Direction::Lowest,
                Split::Valid,
                condition,
            ));
        }
        if start > 0 {
            training = training.checkpoint(start);
        }
        if self.hardware.devices.len() > 1 {
            training = training.with_training_strategy(
                ExecutionStrategy::multi(self.hardware.devices.clone(), MultiDeviceOptim::OptimMainDevice).into(),
            );
        }
        let result = training.launch(learner);
        if let Some(reason) = divergence.lock().ok().and_then(|d| d.clone()) {
            return Err(RunError::Diverged(reason));
        }
        if let Some(error) = result.error {
            return Err(RunError::Run(format!("training stopped: {error}")));
        }
        if let Some(stop) = result.interrupted {
            return Err(RunError::Run(format!("training was interrupted: {}", stop.reason.unwrap_or_default())));
        }
        Ok(())
    }
}

/// Replaces the optimiser and schedule state of checkpoint `epoch` with fresh ones, so that the
/// stage starting there loads the previous stage's weights with its own optimiser.
fn fresh_optimizer_checkpoint(
    run: &Path,
    epoch: usize,
    optimizer: &burn::optim::ModuleOptimizer,
    schedule: &burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler,
) -> Result<(), RunError> {
    let [model, optim, scheduler] = checkpoint_files(run, epoch);
    if !model.is_file() {
        return Err(RunError::Run(format!(
            "the next stage starts from the checkpoint of epoch {epoch}, but {} is missing",
            model.display()
        )));
    }
    let failed = |path: &Path, e: String| RunError::Run(format!("cannot write {}: {e}", path.display()));
    Checkpoint::save(optimizer.to_record(), optim.clone()).map_err(|e| failed(&optim, e.to_string()))?;
    Checkpoint::save(schedule.to_record(), scheduler.clone()).map_err(|e| failed(&scheduler, e.to_string()))?;
    Ok(())
}

/// The cross-entropy of answering the training class shares `prior` for every labelled test
/// item: the classification loss a model that learned nothing from the images would reach.
fn prior_cross_entropy(prior: &[f32], predictions: &Predictions) -> f64 {
    let losses: Vec<f64> = predictions
        .targets
        .iter()
        .filter_map(|t| astro_data::task::class_of(t, prior.len()))
        .map(|c| -f64::from(prior[c]).max(1e-12).ln())
        .collect();
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
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
        let device = Device::default();
        let input = FeatureShape::Image { channels: 1, height: 16, width: 16 };
        let model = Supervised { model: config.model.init(input, 2, &device).unwrap(), task: Task::Classification };
        model.try_load_file(file).unwrap().model
    }

    fn resnet(model: &Model) -> &astro_models::resnet::ResNet {
        let Model::Resnet(r) = model else { unreachable!() };
        r
    }

    #[test]
    fn a_frozen_first_stage_trains_only_the_head_and_the_next_stage_trains_everything() {
        let dir = tempfile::tempdir().unwrap();
        let hardware =
            Hardware { backend: "flex".into(), devices: vec![Device::default()], names: vec!["flex".into()] };
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
