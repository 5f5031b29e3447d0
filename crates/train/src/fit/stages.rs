//! The stages of a supervised run (`[[stages]]`, or one stage of the whole `[training]`), each
//! trained by one Burn `SupervisedTraining` with epochs numbered across the run: a stage starts
//! from the last checkpoint of the one before with a fresh optimiser and schedule, and a resumed
//! run goes on in the stage its newest checkpoint belongs to.

use std::path::Path;
use std::sync::Arc;

use astro_data::OpenedData;
use astro_data::epoch_loader::EpochLoader;
use astro_data::paired::PairedLoader;
use astro_data::{Augmenter, ImageBatch, ImageBatcher, Task};
use burn::data::dataloader::DataLoader;
use burn::data::dataloader::split::split_dataloader;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn::train::checkpoint::{Checkpoint, ComposedCheckpointingStrategy, MetricCheckpointingStrategy};
use burn::train::logger::FileMetricLogger;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{ExecutionStrategy, Interrupter, Learner, MultiDeviceOptim, SupervisedTraining};

use crate::adapt::config::Method;
use crate::adapt::domain::DomainClassifier;
use crate::adapt::metrics::DomainMetric;
use crate::adapt::step::AdaptationStep;
use crate::config::stages::{self, Stage, Trainable};
use crate::config::{ConfigError, ExperimentConfig};
use crate::error::RunError;
use crate::fit::body_head::body_head;
use crate::fit::checkpointing::{Cadence, checkpoint_files, model_checkpoints};
use crate::fit::early_stop::PatienceWithMinDelta;
use crate::fit::epoch_log::{Divergence, DomainColumns, EpochCsvLogger, EpochRow, Stop, read_epochs, truncate_after};
use crate::fit::progress::ProgressPrinter;
use crate::fit::sample_weights::DensityWeights;
use crate::fit::supervised::{LossRecipe, Supervised};
use crate::init::pretrained_model;
use crate::run::folder::RunDir;
use crate::run::model_io::input_feature_shape;

/// The devices to train on, chosen by the binary.
#[derive(Debug, Clone)]
pub struct Hardware {
    /// The backend's name (for the record).
    pub backend: String,
    /// The devices; several train data-parallel.
    pub devices: Vec<Device>,
    /// The devices as the user named them.
    pub names: Vec<String>,
    /// Whether a single device's training steps run as two concurrent half batches
    /// ([`crate::fit::halves`]): the binary's choice for CPU backends.
    pub half_batches: bool,
}

/// Removes what epochs after `epoch` left behind, so a resumed run repeats them cleanly.
pub fn forget_epochs_after(run: &Path, epoch: usize) -> Result<(), RunError> {
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

/// What the stages of a run left: their plan, the log of every epoch, and the epoch whose
/// weights are evaluated.
pub struct Fitted {
    /// The stages, in order.
    pub plan: Vec<Stage>,
    /// `metrics.csv`, one row per epoch of the whole run.
    pub rows: Vec<EpochRow>,
    /// The last stage's epoch with the lowest validation loss.
    pub best_epoch: usize,
    /// Training batches each device stepped in this session, all stages together (most first).
    pub batches_per_device: Vec<usize>,
}

/// Trains every stage of `config` that is not finished (all of them, or those after epoch
/// `resume_from` of a killed run) on `hardware` into `run`, beside the `[adaptation]` target
/// set `target` when the run trains on it, then picks the epoch to evaluate.
pub fn fit_stages(
    config: &ExperimentConfig,
    hardware: &Hardware,
    run: &RunDir,
    data: &OpenedData,
    target: Option<&OpenedData>,
    resume_from: Option<usize>,
) -> Result<Fitted, RunError> {
    let device = hardware.devices.first().cloned().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    device.seed(config.experiment.seed);
    let plan = stages::plan(&config.stages, &config.optimizer, &config.schedule, config.training.epochs);
    let done = resume_from.unwrap_or(0);
    // The unlabelled target images an adapted run trains beside the source.
    let target = target.filter(|_| config.adaptation.as_ref().is_some_and(|a| a.trains_on_target()));
    let mut batches_per_device: Vec<usize> = Vec::new();
    for (k, stage) in plan.iter().enumerate().filter(|(_, s)| s.last_epoch > done) {
        let session = StageSession {
            config,
            hardware,
            run,
            data,
            target,
            device: &device,
            stages: plan.len(),
            index: k,
            run_epochs: plan.last().map_or(0, |s| s.last_epoch),
        };
        let mut counts = session.train(stage, done.max(stage.after_epoch))?;
        counts.sort_unstable_by(|a, b| b.cmp(a));
        batches_per_device.resize(batches_per_device.len().max(counts.len()), 0);
        batches_per_device.iter_mut().zip(counts).for_each(|(total, n)| *total += n);
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
    Ok(Fitted { plan, rows, best_epoch, batches_per_device })
}

/// What training one stage needs.
struct StageSession<'a> {
    config: &'a ExperimentConfig,
    hardware: &'a Hardware,
    run: &'a RunDir,
    data: &'a OpenedData,
    /// The target set of an adapted run that trains on it.
    target: Option<&'a OpenedData>,
    device: &'a Device,
    /// Stages in the run.
    stages: usize,
    /// This stage's position (0-based).
    index: usize,
    /// Epochs of the whole run, all stages.
    run_epochs: usize,
}

impl StageSession<'_> {
    /// Trains `stage` from epoch `start` (its first epoch, or where a killed run stopped) to its
    /// last, through Burn's `SupervisedTraining`; returns the training batches each device
    /// stepped.
    fn train(&self, stage: &Stage, start: usize) -> Result<Vec<usize>, RunError> {
        let (config, run, data) = (self.config, self.run, self.data);
        let t = &config.training;
        let seed = config.experiment.seed;
        let task = data.info.task;
        let input = input_feature_shape(data.info.input, data.info.layout);
        let outputs = data.info.outputs();
        let last_stage = self.index + 1 == self.stages;
        // Parameters track gradients only when created on an autodiff device.
        let autodiff = self.device.clone().autodiff();
        let side = crate::run::train::side_features(config);
        let scaling = crate::run::train::feature_scaling(config, data)?;
        let mut model =
            Supervised::new(config.model.init_with_side(input, side, outputs, &autodiff)?, task).with_scaling(scaling);
        model.recipe = loss_recipe(config, data)?;
        model.body_head = body_head(config, &model.model, outputs, &autodiff)?;
        model.halves = self.hardware.half_batches && self.hardware.devices.len() == 1;
        // Burn sums the devices' gradients of a round: each device's loss weighs 1/devices, so
        // that a round's update is that of one batch of `devices x batch_size`.
        model.loss_share = 1.0 / self.hardware.devices.len().max(1) as f64;
        if model.body_head.is_some() && self.index == 0 && start == 0 {
            eprintln!(
                "features: a second head reads the body's output alone in training, its loss x {} added \
                 (body_loss_weight)",
                model.recipe.body_loss_weight
            );
        }
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
        // The adaptation schedule counts training batches, on every device.
        let batches_per_epoch = data.train.len().div_ceil(t.batch_size);
        let adaptation = config.adaptation.as_ref().filter(|_| self.target.is_some());
        if let Some(a) = adaptation {
            model.adaptation =
                Some(AdaptationStep::new(a.clone(), self.run_epochs * batches_per_epoch, start * batches_per_epoch));
            model.domain = domain_classifier(config, &model.model, &autodiff);
        }
        // The loaders place each draw by its epoch and slot (`batch_at`), so a resumed run's
        // augmenter needs no count of the epochs before it.
        let train_batcher = config
            .augment
            .clone()
            .map_or_else(ImageBatcher::default, |a| ImageBatcher::augmented(Augmenter::new(a, seed)));
        let train_loader: Arc<dyn DataLoader<ImageBatch>> = if t.stratified {
            let loader = EpochLoader::stratified(
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
            Arc::new(EpochLoader::shuffled(
                data.train.clone(),
                t.batch_size,
                seed,
                start as u64,
                train_batcher,
                t.workers,
            ))
        };
        let train_loader = match self.target {
            Some(target) => {
                // The target's images go through the same augmentation as the source's.
                let batcher = config.augment.clone().map_or_else(ImageBatcher::default, |a| {
                    ImageBatcher::augmented(Augmenter::new(a, seed.wrapping_add(1)))
                });
                let target_loader = Arc::new(EpochLoader::shuffled(
                    target.train.clone(),
                    t.batch_size,
                    seed.wrapping_add(1),
                    start as u64,
                    batcher,
                    t.workers,
                ));
                Arc::new(PairedLoader::new(train_loader, target_loader))
            }
            None => train_loader,
        };
        if let (Some(form), 0, true) = (model.step_form(), self.index, start == stage.after_epoch) {
            eprintln!("steps: {form}");
        }
        let optimizer = stage.optimizer.build();
        let steps = optimizer_steps_per_epoch(&train_loader, &self.hardware.devices, t.batch_size);
        let schedule = stage.schedule.build(stage.optimizer.lr, stage.epochs(), steps);
        if start > 0 && start == stage.after_epoch {
            // A new stage goes on from the last weights of the one before with its own, fresh
            // optimiser and schedule: the checkpoint it starts from says so.
            fresh_optimizer_checkpoint(&run.path, start, &optimizer, &schedule)?;
        }
        let valid_loader: Arc<dyn DataLoader<ImageBatch>> =
            Arc::new(EpochLoader::in_order(data.valid.clone(), data.valid.len(), t.batch_size, t.workers));
        let batches = model.batches.clone();
        let learner = Learner::new(model, optimizer, schedule);

        let interrupter = Interrupter::new();
        let divergence = Divergence::default();
        let metrics_path = run.file("metrics.csv");
        let csv = EpochCsvLogger::with_domain(
            &metrics_path,
            task,
            interrupter.clone(),
            divergence.clone(),
            match adaptation.map(|a| a.method) {
                Some(Method::Mmd) => DomainColumns::Loss,
                Some(Method::Dann) => DomainColumns::LossAndAccuracy,
                _ => DomainColumns::None,
            },
        )
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
        if let Some(a) = adaptation {
            if a.method != Method::None {
                training = training.metric_train_numeric(DomainMetric::loss());
            }
            if a.method == Method::Dann {
                training = training.metric_train_numeric(DomainMetric::accuracy());
            }
        }
        if let (Some(patience), true) = (t.early_stopping_patience, last_stage) {
            training = training.early_stopping(PatienceWithMinDelta::new(patience, t.early_stopping_min_delta));
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
        match divergence.lock().ok().and_then(|d| d.clone()) {
            Some(Stop::Diverged(reason)) => return Err(RunError::Diverged(reason)),
            Some(Stop::Unlogged(reason)) => return Err(RunError::Run(format!("training stopped: {reason}"))),
            None => {}
        }
        if let Some(error) = result.error {
            return Err(RunError::Run(format!("training stopped: {error}")));
        }
        if let Some(stop) = result.interrupted {
            return Err(RunError::Run(format!("training was interrupted: {}", stop.reason.unwrap_or_default())));
        }
        Ok(batches.counts())
    }
}

/// Optimiser steps in one epoch of `loader`. Burn's data-parallel strategy splits the loader
/// between the devices and takes one optimiser step per round of one batch from each, so the
/// learning-rate schedule, which counts optimiser steps, counts rounds: the largest share's
/// batches.
fn optimizer_steps_per_epoch(loader: &Arc<dyn DataLoader<ImageBatch>>, devices: &[Device], batch_size: usize) -> usize {
    let batches = |l: &Arc<dyn DataLoader<ImageBatch>>| l.num_items().div_ceil(batch_size.max(1));
    if devices.len() < 2 {
        return batches(loader);
    }
    split_dataloader(loader.clone(), devices).iter().map(batches).max().unwrap_or(0)
}

/// DANN's domain classifier for `model` (built on `device`), or `None` for other runs: the
/// training step and every checkpoint hold it.
pub fn domain_classifier(
    config: &ExperimentConfig,
    model: &astro_models::Model,
    device: &Device,
) -> Option<DomainClassifier> {
    let a = config.adaptation.as_ref().filter(|a| a.method == Method::Dann)?;
    let width = model.feature_width(0)?;
    Some(DomainClassifier::new(width, &a.domain_units, device))
}

/// What `[training]` adds to the loss: weight penalties, and sample weights by inverse density
/// of the training split's (single regression) target.
pub fn loss_recipe(config: &ExperimentConfig, data: &OpenedData) -> Result<LossRecipe, RunError> {
    let t = &config.training;
    let weights = match t.weigh_by_density {
        None => None,
        Some(cutoff) => {
            if data.info.task != Task::Regression || data.info.target_names.len() != 1 {
                return Err(ConfigError::invalid(
                    "training.weigh_by_density",
                    format!(
                        "weighs by the density of one regression target; this data has {:?}",
                        data.info.target_names
                    ),
                )
                .into());
            }
            let targets: Vec<f64> = data
                .train
                .every_target()
                .map_err(RunError::Run)?
                .iter()
                .filter_map(|t| t.first().map(|v| f64::from(*v)))
                .collect();
            let fitted = DensityWeights::fit(&targets, cutoff)
                .map_err(|e| ConfigError::invalid("training.weigh_by_density", e))?;
            Some(Arc::new(fitted))
        }
    };
    let body_loss_weight = config.features.as_ref().map_or(0.0, |f| f.body_loss_weight);
    Ok(LossRecipe { l1: t.l1_penalty, l2: t.l2_penalty, weights, body_loss_weight })
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
