//! `trainer eval` and `trainer predict`: a finished run's weights applied to its test split,
//! to another data set, or to image files. A cross-validated run is applied as the ensemble of
//! its folds' models (their outputs, values or class probabilities, averaged); its own "test
//! split" is every item, each predicted by the model of its fold (out of fold). An adapted run
//! is applied to its target domain with [`Domain::Target`]: the AdaBN model where the run made
//! one, and (for `eval` without `--data`) the target's test split.

use std::path::{Path, PathBuf};

use astro_data::folds::Folds;
use astro_data::{DataConfig, ImageItem};
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::ComposedDataset;
use burn::tensor::Device;
use serde::Serialize;

use crate::adapt::target::open_target_data;
use crate::adapt::target_batch_norm;
use crate::config::{ExperimentConfig, load_config, load_data_config};
use crate::error::RunError;
use crate::evaluate::answer_map::AnswerMap;
use crate::evaluate::{Predictions, TestScores, predict, score, write_predictions_csv};
use crate::fit::supervised::Supervised;
use crate::run::folder::{RunDir, RunState};
use crate::run::model_io::{ModelIo, model_field_arcsec, redraw_in_model_composite};
use crate::run::train::open_data;

/// Which domain of a run with `[adaptation]` the model is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// The source (`[data]`): `model.bpk`, and the run's own test split.
    Source,
    /// The target (`[adaptation.target]`): `model_target.bpk` where the run re-estimated its
    /// batch-norm statistics there (AdaBN; otherwise the one model serves both domains), and the
    /// target's test split.
    Target,
}

impl Domain {
    /// The target where `target` (a `--target` flag) says so, else the source.
    pub fn target_if(target: bool) -> Domain {
        if target { Domain::Target } else { Domain::Source }
    }
}

/// A finished run, loaded for inference.
pub struct TrainedRun {
    /// The run folder.
    pub run: RunDir,
    /// Its resolved config.
    pub config: ExperimentConfig,
    /// Its interface (of a cross-validated run: the first fold's, with the folds' mean target).
    pub io: ModelIo,
    /// Its evaluated weights, on the inference device (of a cross-validated run: the first
    /// fold's model).
    pub model: Supervised,
    /// The folds of a cross-validated run: each fold's value and model (empty otherwise).
    pub folds: Vec<(i64, Supervised)>,
    /// The weights file applied (of a cross-validated run: each fold's `model.bpk`).
    pub weights: &'static str,
}

impl TrainedRun {
    /// The run's predictions of every item of `data`: its model's, or the mean of its folds'.
    pub(crate) fn predict<D: Dataset<ImageItem> + 'static>(
        &self,
        data: D,
        device: &Device,
    ) -> Result<Predictions, RunError> {
        let data = std::sync::Arc::new(data);
        let t = &self.config.training;
        let models: Vec<&Supervised> =
            if self.folds.is_empty() { vec![&self.model] } else { self.folds.iter().map(|(_, m)| m).collect() };
        let mut mean: Option<Predictions> = None;
        for model in &models {
            let p = predict(model, data.clone(), t.batch_size, t.workers, self.config.test_time.as_ref(), device)?;
            mean = Some(match mean {
                None => p,
                Some(mut sum) => {
                    // Add each item's row to its own, matched by id (repeated ids in turn).
                    let mut rows: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
                    for (k, id) in p.ids.iter().enumerate().rev() {
                        rows.entry(id.as_str()).or_default().push(k);
                    }
                    for (row, id) in sum.outputs.iter_mut().zip(&sum.ids) {
                        let k = rows.get_mut(id.as_str()).and_then(Vec::pop).ok_or_else(|| {
                            RunError::Run(format!("the fold models' predictions do not cover the same items ({id})"))
                        })?;
                        row.iter_mut().zip(&p.outputs[k]).for_each(|(a, b)| *a += b);
                    }
                    sum
                }
            });
        }
        let mut mean = mean.unwrap_or_default();
        let n = models.len() as f32;
        mean.outputs.iter_mut().for_each(|row| row.iter_mut().for_each(|v| *v /= n));
        Ok(mean)
    }
}

/// The finished folds of the cross-validated run `run`: each fold's value, run folder and model.
fn load_folds(
    run: &RunDir,
    config: &ExperimentConfig,
    device: &Device,
) -> Result<Vec<(i64, ModelIo, Supervised)>, RunError> {
    let mut folds = Vec::new();
    for entry in std::fs::read_dir(&run.path).map_err(|source| RunError::Io {
        what: "run folder",
        path: run.path.clone(),
        source,
    })? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(label) = name.strip_prefix("fold-").and_then(|k| k.parse::<i64>().ok()) else { continue };
        let fold = RunDir::open(&entry.path())?;
        if fold.status().map(|s| s.state) != Some(RunState::Complete) {
            continue;
        }
        let io = ModelIo::read(&fold)?;
        let model = io.load_model(config, &fold.file("model.bpk"), device)?;
        folds.push((label, io, model));
    }
    folds.sort_by_key(|(label, ..)| *label);
    if folds.is_empty() {
        return Err(RunError::Run(format!("{} is cross-validated but none of its folds finished", run.path.display())));
    }
    Ok(folds)
}

/// The weights file of `run` for `domain`: `model.bpk`, or for the target of an adapted run
/// `model_target.bpk` where it re-estimated its batch-norm statistics there.
fn weights_for(run: &RunDir, config: &ExperimentConfig, domain: Domain) -> Result<&'static str, RunError> {
    if domain == Domain::Source {
        return Ok("model.bpk");
    }
    let Some(adaptation) = &config.adaptation else {
        return Err(RunError::Run(format!(
            "{} was not trained with [adaptation]: it has no target domain to apply it to (leave out --target)",
            run.path.display()
        )));
    };
    if !adaptation.target_batch_norm {
        return Ok("model.bpk");
    }
    if !run.file(target_batch_norm::MODEL_FILE).is_file() {
        return Err(RunError::Run(format!(
            "{} re-estimates its batch-norm statistics on the target ([adaptation] target_batch_norm), but its {} is \
             missing",
            run.path.display(),
            target_batch_norm::MODEL_FILE
        )));
    }
    Ok(target_batch_norm::MODEL_FILE)
}

/// Loads the run at `path` onto `device`, with its weights for `domain`.
pub fn load_run(path: &Path, device: &Device, domain: Domain) -> Result<TrainedRun, RunError> {
    // A folder of several runs: name them, so the user can pick one.
    let give_one = |what: &str, arms: Vec<PathBuf>, separator: &str| {
        let arms: Vec<String> = arms.iter().map(|p| p.display().to_string()).collect();
        RunError::Run(format!("{} {what}: give one of them ({})", path.display(), arms.join(separator)))
    };
    if crate::run::comparison::is_comparison(path) {
        return Err(give_one("compares two runs", crate::run::comparison::arm_dirs(path), " or "));
    }
    if crate::adapt::comparison::is_adaptation_comparison(path) {
        return Err(give_one("compares domain-adaptation arms", crate::adapt::comparison::arm_dirs(path), ", "));
    }
    let run = RunDir::open(path)?;
    if run.status().map(|s| s.state) != Some(RunState::Complete) {
        return Err(RunError::Run(format!(
            "{} did not finish training (see its status.json); resume it with --resume",
            path.display()
        )));
    }
    let config = load_config(&run.file("config.toml"), &[], false)?;
    if config.model.is_gan() {
        return Err(RunError::Run(format!(
            "{} is a GAN run: its test results are in its summary.json and report.md, its networks in checkpoint/",
            path.display()
        )));
    }
    let weights = weights_for(&run, &config, domain)?;
    if config.validation.is_some() {
        let folds = load_folds(&run, &config, device)?;
        let mut io = folds[0].1.clone();
        let n = folds.len() as f32;
        for (j, mean) in io.train_mean.iter_mut().enumerate() {
            *mean = folds.iter().map(|(_, io, _)| io.train_mean.get(j).copied().unwrap_or(f32::NAN)).sum::<f32>() / n;
        }
        let model = folds[0].2.clone();
        let folds = folds.into_iter().map(|(label, _, model)| (label, model)).collect();
        return Ok(TrainedRun { run, config, io, model, folds, weights: "model.bpk" });
    }
    let io = ModelIo::read(&run)?;
    let model = io.load_model(&config, &run.file(weights), device)?;
    Ok(TrainedRun { run, config, io, model, folds: Vec::new(), weights })
}

/// What `trainer eval` writes to `<run>/eval/<timestamp>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The run.
    pub run_dir: String,
    /// The data evaluated.
    pub data: String,
    /// The weights file applied (`model.bpk`, or `model_target.bpk` for an AdaBN run's target).
    pub weights: String,
    /// Model and baseline scores.
    pub metrics: TestScores,
    /// Where this report and the predictions were written.
    pub report_file: String,
}

/// Evaluates a run on its own test split (of `domain`), or on all of the data described by
/// `data_file`, with its weights for `domain`.
pub fn evaluate_run(
    path: &Path,
    data_file: Option<&Path>,
    device: &Device,
    domain: Domain,
) -> Result<EvalReport, RunError> {
    let trained = load_run(path, device, domain)?;
    refuse_reconstruction(&trained.io, path)?;
    let mut map: Option<AnswerMap> = None;
    let mut target_names = trained.io.target_names.clone();
    let (mut predictions, description) = match data_file {
        None if !trained.folds.is_empty() => out_of_fold(&trained, device)?,
        None => {
            let config = &trained.config;
            let (data, split) = match (domain, &config.adaptation) {
                (Domain::Target, Some(_)) => (open_target_data(config)?, "target test split"),
                _ => (open_data(config, &config.data)?, "test split"),
            };
            let description = format!("{split} of {}", data.info.description);
            let mut p = trained.predict(data.test.clone(), device)?;
            p.attach_attributes(&[&data.test]);
            (p, description)
        }
        Some(file) => {
            let mut data_config: DataConfig = load_data_config(file)?;
            at_model_scale(&mut data_config, &trained.config);
            in_model_composite(&mut data_config, &trained.config, file)?;
            with_the_runs_encoding(&mut data_config, &trained.config, file)?;
            let data = open_data(&trained.config, &data_config)?;
            for warning in &data.info.warnings {
                eprintln!("warning: {warning}");
            }
            map = check_compatible(&trained.io, &data.info, file)?;
            if let Some(m) = &map {
                target_names = data.info.target_names.clone();
                eprintln!("{}", m.description);
            }
            let models = if trained.folds.is_empty() {
                String::new()
            } else {
                format!(" (mean of the {} fold models)", trained.folds.len())
            };
            let description = format!("all of {}{models}", data.info.description);
            let all = ComposedDataset::new(vec![data.train.clone(), data.valid.clone(), data.test.clone()]);
            let mut p = trained.predict(all, device)?;
            p.attach_attributes(&[&data.train, &data.valid, &data.test]);
            (p, description)
        }
    };
    let io = &trained.io;
    let mut train_mean = io.train_mean.clone();
    let description = match &map {
        None => description,
        Some(m) => {
            predictions.outputs = predictions.outputs.iter().map(|row| m.apply(row)).collect();
            train_mean = m.apply(&train_mean);
            format!("{description}; {}", m.description)
        }
    };
    let metrics = score(io.task, &predictions, &train_mean, &target_names, &trained.config.evaluation);
    let dir = trained.run.file("eval");
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Io { what: "eval folder", path: dir.clone(), source })?;
    let stamp = chrono::Local::now().format("%Y-%m-%dT%H-%M-%S%.3f").to_string();
    let report_file = dir.join(format!("{stamp}.json"));
    write_predictions_csv(&dir.join(format!("{stamp}-predictions.csv")), io.task, &target_names, &predictions)?;
    let report = EvalReport {
        run_dir: path.display().to_string(),
        data: description,
        weights: trained.weights.to_string(),
        metrics,
        report_file: report_file.display().to_string(),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| RunError::Run(e.to_string()))?;
    std::fs::write(&report_file, text + "\n").map_err(|source| RunError::Io {
        what: "eval report",
        path: report_file.clone(),
        source,
    })?;
    Ok(report)
}

/// A cross-validated run's own items, each predicted by the model of its fold.
fn out_of_fold(trained: &TrainedRun, device: &Device) -> Result<(Predictions, String), RunError> {
    let config = &trained.config;
    let seed = config.experiment.seed;
    let (validation, data) = match &config.validation {
        Some(v) => (v, open_data(config, &config.data)?),
        None => return Err(RunError::Run("not a cross-validated run".into())),
    };
    let folds = Folds::new(&data, &validation.plan()?, seed)?;
    let mut all = Predictions::default();
    for (label, model) in &trained.folds {
        let k = folds.labels.iter().position(|l| l == label).ok_or_else(|| {
            RunError::Run(format!("the run has fold {label}, but the data's folds are {:?}", folds.labels))
        })?;
        let fold = folds.fold(k, validation.valid_fraction, seed)?;
        let t = &config.training;
        let mut p = predict(model, fold.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), device)?;
        p.attach_attributes(&[&fold.test]);
        all.append(p);
    }
    let description = format!("{} out of fold ({} folds)", data.info.description, trained.folds.len());
    Ok((all, description))
}

/// `eval` and `predict` score and apply regressors and classifiers; an autoencoder's scores
/// and latent vectors are in its run folder.
pub(crate) fn refuse_reconstruction(io: &ModelIo, path: &Path) -> Result<(), RunError> {
    if io.task == astro_data::Task::Reconstruction {
        return Err(RunError::Run(format!(
            "{} is an autoencoder run: its reconstruction scores, latent vectors and worst-reconstructed images are in its summary.json, latent.csv and reconstruction_errors.csv",
            path.display()
        )));
    }
    Ok(())
}

/// Data that says its pixel scale (`image_csv`'s `pixel_scale_arcsec`, no `crop`) is cropped to
/// the sky square the model was trained on.
/// Light curves are encoded as the run's were: a data file without `[data.sequence]` takes the
/// run's; one with a different encoding is refused (the model would read other numbers).
fn with_the_runs_encoding(data: &mut DataConfig, config: &ExperimentConfig, file: &Path) -> Result<(), RunError> {
    let mut trained_on = config.data.clone();
    let (Some(wanted), Some(given)) = (trained_on.sequence_mut(), data.sequence_mut()) else { return Ok(()) };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let table: toml::Table = toml::from_str(&text).unwrap_or_default();
    let written = table.get("data").and_then(|d| d.get("sequence")).is_some();
    if !written {
        *given = wanted.clone();
    } else if given != wanted {
        let show =
            |s: &astro_data::sequence::SequenceConfig| toml::to_string(s).unwrap_or_default().replace('\n', "; ");
        return Err(RunError::Run(format!(
            "{}: [data.sequence] encodes the curves as {{{}}}, but the model was trained on {{{}}}: leave \
             [data.sequence] out to use the run's",
            file.display(),
            show(given).trim_end_matches("; "),
            show(wanted).trim_end_matches("; ")
        )));
    }
    Ok(())
}

fn at_model_scale(data: &mut DataConfig, config: &ExperimentConfig) {
    let field = model_field_arcsec(config);
    if let DataConfig::ImageCsv(c) = data
        && c.pixel_scale_arcsec.is_some()
        && c.field_arcsec.is_none()
        && c.decode.crop.is_none()
    {
        match (field, &config.data) {
            (Some(f), _) => c.field_arcsec = Some(f),
            (None, DataConfig::SimulatedGalaxies(sim)) if sim.simulator.frames_each_galaxy() => eprintln!(
                "note: the model was trained on galaxies framed by their own size (framing_half_light_radii = {}): \
                 the images are used whole, as their survey framed them",
                sim.simulator.framing_half_light_radii
            ),
            (None, _) => eprintln!(
                "warning: the data gives its pixel scale, but the model's angular scale is unknown (its data \
                 does not say it): the images are used whole"
            ),
        }
    }
}

/// Pictures that say their colour composite (`image_csv`'s `composite`) are redrawn in the
/// model's where the two differ; a redrawing that cannot be done is refused, naming the data file.
fn in_model_composite(data: &mut DataConfig, config: &ExperimentConfig, file: &Path) -> Result<(), RunError> {
    let known =
        redraw_in_model_composite(data, config).map_err(|e| RunError::Run(format!("{}: {e}", file.display())))?;
    if !known {
        eprintln!(
            "warning: the data gives its pictures' colour composite, but the model's is unknown (its data does \
             not say it): the pictures are used as they are"
        );
    }
    Ok(())
}

/// Checks that the data fits the model; a regression on other targets is accepted where the
/// outputs convert to them (Galaxy Zoo 2 answers scored on Galaxy Zoo DECaLS fractions).
fn check_compatible(io: &ModelIo, info: &astro_data::DataInfo, file: &Path) -> Result<Option<AnswerMap>, RunError> {
    let (input, names) = (info.input, &info.target_names);
    if info.task != io.task {
        return Err(RunError::Run(format!(
            "{}: the data is for {:?} but the model was trained for {:?}",
            file.display(),
            info.task,
            io.task
        )));
    }
    if io.task == astro_data::Task::Classification && names != &io.target_names {
        return Err(RunError::Run(format!(
            "{}: the data's classes {names:?} are not the model's {:?}",
            file.display(),
            io.target_names
        )));
    }
    if input != io.input || info.layout != io.layout {
        return Err(RunError::Run(format!(
            "{}: the data gives {input:?} {} but the model takes {:?} {}",
            file.display(),
            layout_name(info.layout),
            io.input,
            layout_name(io.layout)
        )));
    }
    if names != &io.target_names
        && let Some(map) = AnswerMap::gz2_to_decals(&io.target_names, names)
    {
        return Ok(Some(map));
    }
    if names.len() != io.target_names.len() {
        return Err(RunError::Run(format!(
            "{}: the data has {} targets but the model predicts {}",
            file.display(),
            names.len(),
            io.target_names.len()
        )));
    }
    Ok(None)
}

fn layout_name(layout: astro_data::Layout) -> &'static str {
    match layout {
        astro_data::Layout::Image => "images",
        astro_data::Layout::Sequence => "light curves",
    }
}
