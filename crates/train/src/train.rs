//! Training an experiment end to end: open and check the data and model, create (or resume)
//! the run folder, train through Burn's `SupervisedTraining`/`Learner`, then evaluate the best
//! epoch on the held-out test split and write the summary, plots and report.

use std::path::{Path, PathBuf};

use astro_data::config::OpenedData;
use astro_data::{Augmenter, ImageBatcher, Layout, Task};
use astro_models::{FeatureShape, LayerShape};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::checkpoint::{ComposedCheckpointingStrategy, MetricCheckpointingStrategy};
use burn::train::logger::FileMetricLogger;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim, StoppingCondition,
    SupervisedTraining,
};

use crate::checkpointing::{Cadence, checkpoint_files, last_complete_checkpoint, model_checkpoints};
use crate::config::ExperimentConfig;
use crate::confusion_plot::confusion_png;
use crate::curve_gallery::save_curve_gallery;
use crate::epoch_log::{Divergence, EpochCsvLogger, read_epochs, truncate_after};
use crate::error::RunError;
use crate::evaluate::{Predictions, TestScores, predict, score, target_mean, write_predictions_csv};
use crate::gallery::{GalleryItem, gallery_rows, save_gallery};
use crate::init::pretrained_model;
use crate::model_io::{self, ModelIo};
use crate::plot::{BaselineLoss, learning_curves};
use crate::progress::ProgressPrinter;
use crate::report::{PaperNumber, Summary, report_markdown};
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
}

/// The input shape of a data set, as models see it.
pub fn input_shape(data: &OpenedData) -> FeatureShape {
    model_io::input_feature_shape(data.info.input, data.info.layout)
}

/// Opens the data and checks the model against it: everything `trainer check` verifies.
pub fn prepare(config: &ExperimentConfig) -> Result<(OpenedData, Vec<LayerShape>), RunError> {
    let data = config.data.open(config.experiment.seed)?;
    let outputs = data.info.target_names.len();
    let wanted = match data.info.task {
        Task::Regression => format!("one value per target: {outputs} targets"),
        Task::Classification => format!("one logit per class: {outputs} classes"),
    };
    let shapes = config.model.check(input_shape(&data), outputs, &wanted)?;
    Ok((data, shapes))
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
    let (run, resume_from) = match target {
        RunTarget::New(root) => {
            let run = RunDir::create(root, &config.experiment.name)?;
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
    let outputs = data.info.target_names.len();
    device.seed(seed);
    // Parameters track gradients only when created on an autodiff device.
    let task = data.info.task;
    let mut model = Supervised { model: config.model.init(input, outputs, &device.clone().autodiff())?, task };
    // A resumed run reloads its own checkpoint instead.
    if let (Some(init), None) = (&config.init, resume_from) {
        let (pretrained, what) = pretrained_model(init, config, &data.info, &device.clone().autodiff())?;
        eprintln!("init: {what}");
        model.model = pretrained;
    }
    let parameters = model.num_params();

    let train_batcher =
        config.augment.clone().map_or_else(ImageBatcher::default, |a| ImageBatcher::augmented(Augmenter::new(a, seed)));
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(t.batch_size)
        .shuffle(seed)
        .num_workers(t.workers)
        .build(data.train.clone());
    let valid_loader = DataLoaderBuilder::new(ImageBatcher::default())
        .batch_size(t.batch_size)
        .num_workers(t.workers)
        .build(data.valid.clone());
    let steps_per_epoch = data.train.len().div_ceil(t.batch_size);
    let learner = Learner::new(
        model,
        config.optimizer.build(),
        config.schedule.build(config.optimizer.lr, t.epochs, steps_per_epoch),
    );

    let interrupter = Interrupter::new();
    let divergence = Divergence::default();
    let metrics_path = run.file("metrics.csv");
    let csv = EpochCsvLogger::new(&metrics_path, task, interrupter.clone(), divergence.clone())
        .map_err(|source| RunError::Io { what: "metrics file", path: metrics_path.clone(), source })?;
    let best = MetricCheckpointingStrategy::new(&LossMetric::new(), Aggregate::Mean, Direction::Lowest, Split::Valid);
    let cadence = Cadence::new(t.checkpoint_every, t.keep_checkpoints, t.epochs, model_checkpoints(&run.path));
    let strategy = ComposedCheckpointingStrategy::builder().add(cadence).add(best).build();

    let mut training = SupervisedTraining::new(&run.path, train_loader, valid_loader)
        .metrics((LossMetric::new(),))
        .metric_train_numeric(LearningRateMetric::new())
        .num_epochs(t.epochs)
        .with_default_checkpointers()
        .with_checkpointing_strategy(strategy)
        .renderer(Box::new(ProgressPrinter::new()))
        .with_metric_logger(FileMetricLogger::new(&run.path))
        .with_metric_logger(csv)
        .with_interrupter(interrupter);
    if task == Task::Classification {
        training = training.metrics((AccuracyMetric::new(),));
    }
    if let Some(n_epochs) = t.early_stopping_patience {
        let condition = StoppingCondition::NoImprovementSince { n_epochs };
        training = training.early_stopping(MetricEarlyStoppingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            condition,
        ));
    }
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }
    if hardware.devices.len() > 1 {
        training = training.with_training_strategy(
            ExecutionStrategy::multi(hardware.devices.clone(), MultiDeviceOptim::OptimMainDevice).into(),
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

    let rows = read_epochs(&metrics_path).map_err(|source| RunError::Io {
        what: "metrics file",
        path: metrics_path.clone(),
        source,
    })?;
    let best_epoch = rows
        .iter()
        .filter(|r| r.valid_loss.is_finite())
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .map(|r| r.epoch)
        .ok_or_else(|| RunError::Run(format!("{} has no finished epoch", metrics_path.display())))?;
    let [best_file, ..] = checkpoint_files(&run.path, best_epoch);
    let eval_device = device.clone().inner();
    let model = Supervised { model: config.model.init(input, outputs, &eval_device)?, task }
        .try_load_file(&best_file)
        .map_err(|e| RunError::Run(format!("cannot load the best checkpoint {}: {e}", best_file.display())))?;
    let model_file = run.file("model.bpk");
    model
        .clone()
        .save_file(&model_file)
        .map_err(|e| RunError::Run(format!("cannot save {}: {e}", model_file.display())))?;

    let train_mean = target_mean(&data.train, task, outputs);
    let io = ModelIo {
        input: data.info.input,
        layout: data.info.layout,
        preprocess: data.info.preprocess,
        task,
        target_names: data.info.target_names.clone(),
        train_mean,
    };
    run.write_json(model_io::FILE, &io)?;
    let mut predictions =
        predict(&model, data.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), &eval_device)?;
    predictions.attach_attributes(&[&data.test]);
    let metrics = score(task, &predictions, &io.train_mean, &io.target_names, &config.evaluation);
    write_predictions_csv(&run.file("test_predictions.csv"), task, &data.info.target_names, &predictions)?;
    let (loss_name, baseline) = match &metrics {
        TestScores::Regression(m) => {
            let title = format!("{}: predicted vs true (test)", config.experiment.name);
            predicted_vs_true(&run.file("predicted_vs_true.png"), &title, &data.info.target_names, &predictions)?;
            ("mean squared error", BaselineLoss { loss: m.baseline_rmse.powi(2), label: "training mean" })
        }
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
    };
    learning_curves(
        &run.file("learning_curves.png"),
        &format!("{}: learning curves", config.experiment.name),
        loss_name,
        &rows,
        Some(baseline),
    )?;
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

    let train_seconds: f64 = rows.iter().map(|r| r.seconds).sum();
    let seen = (data.train.len() + data.valid.len()) * rows.len();
    let paper_metric = config
        .experiment
        .paper
        .as_ref()
        .and_then(|p| metrics.metric_value(&p.metric, p.subset.as_deref(), p.class.as_deref()));
    let summary = Summary {
        experiment: config.experiment.name.clone(),
        run_dir: run.path.display().to_string(),
        metric: task.metric().into(),
        test: metrics,
        paper_metric,
        paper: config.experiment.paper.as_ref().map(|p| PaperNumber {
            citation: p.citation.clone(),
            metric: p.metric.clone(),
            value: p.value,
            note: p.note.clone(),
            subset: p.subset.clone(),
            class: p.class.clone(),
        }),
        best_epoch,
        epochs_trained: rows.len(),
        train_seconds,
        images_per_second: seen as f64 / train_seconds.max(1e-9),
        parameters,
        data: data.info.description.clone(),
        backend: format!("{} ({})", hardware.backend, hardware.names.join(", ")),
    };
    run.write_json("summary.json", &summary)?;
    run.write("report.md", &report_markdown(config, &summary, &model_table(config, input, shapes)))?;
    Ok(summary)
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
