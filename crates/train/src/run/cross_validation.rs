//! A k-fold cross-validated run (`[validation]`): the data's items pooled and split into folds
//! ([`astro_data::folds`]); for each fold a complete run in `fold-<k>/` (trained on the other
//! folds, its best epoch tested on the fold); then every item's out-of-fold prediction in
//! `predictions.csv`, scored over all items (`summary.json`, `report.md`,
//! `predicted_vs_true.png` or `confusion.png`), with each fold's score and their spread.
//! `--resume` skips the folds that finished and resumes the one that was cut short.

use std::path::Path;

use astro_data::folds::Folds;
use astro_models::LayerShape;
use burn::module::Module;

use crate::config::validation::ValidationConfig;
use crate::config::{ConfigError, ExperimentConfig};
use crate::error::RunError;
use crate::evaluate::shallow_baseline::{ShallowPredictions, fit_and_predict, score_shallow};
use crate::evaluate::{Predictions, TestScores, predict, score, target_mean, write_predictions_csv};
use crate::report::confusion_plot::confusion_png;
use crate::report::scatter_plot::predicted_vs_true;
use crate::report::{CrossValidationScores, FoldScore, PaperNumber, Summary, paper_metric_of};
use crate::run::folder::{RunDir, RunState};
use crate::run::model_io::ModelIo;
use crate::run::train::{Hardware, RunTarget, check_training, open_run, prepare, record_warnings, train_on};

/// Trains one run per fold of `validation` into `target` and scores the out-of-fold predictions.
pub fn train_folds(
    config: &ExperimentConfig,
    validation: &ValidationConfig,
    hardware: &Hardware,
    target: &RunTarget,
) -> Result<Summary, RunError> {
    let (data, shapes) = prepare(config)?;
    let device = hardware.devices.first().ok_or_else(|| RunError::Run("no device to train on".into()))?;
    check_training(config, &data, device)?;
    let folds = Folds::new(&data, &validation.plan()?, config.experiment.seed)?;
    // A fold the data does not have is a config mistake: refused before the run folder exists.
    if let Some(unknown) = validation.run_folds.iter().flatten().find(|f| !folds.labels.contains(f)) {
        return Err(RunError::Config(ConfigError::invalid(
            "validation.run_folds",
            format!("there is no fold {unknown}; the folds are {:?}", folds.labels),
        )));
    }
    let (run, _) = open_run(config, hardware, target)?;
    record_warnings(&run, &data.info.warnings)?;
    run.track(|| run_folds(config, validation, hardware, &run, &folds, &shapes))
}

/// The folder of fold `label` in `run`.
pub fn fold_dir(run: &Path, label: i64) -> std::path::PathBuf {
    run.join(format!("fold-{label}"))
}

fn run_folds(
    config: &ExperimentConfig,
    validation: &ValidationConfig,
    hardware: &Hardware,
    run: &RunDir,
    folds: &Folds,
    shapes: &[LayerShape],
) -> Result<Summary, RunError> {
    let fold_config = ExperimentConfig { validation: None, ..config.clone() };
    let (task, names) = (folds.info.task, folds.info.target_names.clone());
    let eval_device = hardware.devices.first().ok_or_else(|| RunError::Run("no device".into()))?.clone().inner();
    let mut out_of_fold = Predictions::default();
    let mut shallow_out_of_fold: Option<ShallowPredictions> = None;
    let baseline = config.baseline.with_catalogue_features(config.features.as_ref());
    let mut rows = Vec::new();
    let (mut epochs, mut seconds, mut seen) = (0usize, 0.0f64, 0.0f64);
    let mut parameters = 0;
    let picked = |label: &i64| validation.run_folds.as_ref().is_none_or(|r| r.contains(label));
    for k in (0..folds.count()).filter(|&k| picked(&folds.labels[k])) {
        let label = folds.labels[k];
        let mut data = folds.fold(k, validation.valid_fraction, config.experiment.seed)?;
        // The pooled data's warnings are the parent run's.
        data.info.warnings.clear();
        let dir = fold_dir(&run.path, label);
        let finished = RunDir::open(&dir).ok().and_then(|r| r.status()).is_some_and(|s| s.state == RunState::Complete);
        if !finished {
            eprintln!("fold {label} ({} of {}): {}", k + 1, folds.count(), data.info.description);
            let target = if dir.join("config.toml").is_file() {
                RunTarget::Resume(dir.clone())
            } else {
                RunTarget::At(dir.clone())
            };
            train_on(&fold_config, hardware, &target, &data, shapes)?;
        }
        let fold_summary = read_fold_summary(&dir)?;
        epochs += fold_summary.epochs_trained;
        seconds += fold_summary.train_seconds;
        seen += fold_summary.images_per_second * fold_summary.train_seconds;
        let io = ModelIo::read(&RunDir::open(&dir)?)?;
        let model = io.load_model(&fold_config, &dir.join("model.bpk"), &eval_device)?;
        parameters = model.num_params();
        let t = &config.training;
        let mut predictions =
            predict(&model, data.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), &eval_device)?;
        predictions.attach_attributes(&[&data.test]);
        let scores = score(task, &predictions, &io.train_mean, &names, &config.evaluation);
        rows.push(FoldScore {
            fold: label,
            run_dir: dir.display().to_string(),
            samples: predictions.ids.len(),
            value: scores.headline().value,
            best_epoch: fold_summary.best_epoch,
            epochs_trained: fold_summary.epochs_trained,
        });
        out_of_fold.append(predictions);
        let seed = config.experiment.seed;
        if let Some(p) = fit_and_predict(&baseline, task, folds.info.outputs(), &data.train, &data.test, seed)? {
            shallow_out_of_fold.get_or_insert_with(ShallowPredictions::default).append(p);
        }
    }
    let shallow_baseline =
        shallow_out_of_fold.map(|p| score_shallow(&baseline, task, folds.info.outputs(), &p, &out_of_fold));
    let mean_of_all = target_mean(&folds.all, task, folds.info.outputs()).map_err(RunError::Run)?;
    let metrics = score(task, &out_of_fold, &mean_of_all, &names, &config.evaluation);
    write_predictions_csv(&run.file("predictions.csv"), task, &names, &out_of_fold)?;
    let title =
        format!("{}: out-of-fold predictions ({} of {} folds)", config.experiment.name, rows.len(), folds.count());
    match &metrics {
        TestScores::Classification(m) => confusion_png(&run.file("confusion.png"), &title, &names, &m.confusion)?,
        _ => predicted_vs_true(
            &run.file("predicted_vs_true.png"),
            &title,
            &names,
            &out_of_fold,
            config.evaluation.published.as_deref(),
        )?,
    }
    let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt());
    let (paper_metric, paper_metric_missing) = paper_metric_of(config, &metrics);
    let summary = Summary {
        experiment: config.experiment.name.clone(),
        run_dir: run.path.display().to_string(),
        metric: task.metric().into(),
        cross_validation: Some(CrossValidationScores {
            metric: metrics.headline().metric.to_string(),
            total: folds.count(),
            folds: rows,
            mean,
            std,
        }),
        test: metrics,
        paper_metric,
        paper_metric_missing,
        paper: config.experiment.paper.as_ref().map(PaperNumber::of),
        best_epoch: 0,
        epochs_trained: epochs,
        train_seconds: seconds,
        images_per_second: seen / seconds.max(1e-9),
        parameters,
        data: format!("{} in {} folds", folds.info.description, folds.count()),
        backend: format!("{} ({})", hardware.backend, hardware.names.join(", ")),
        stages: Vec::new(),
        paper_targets: Vec::new(),
        batches_per_device: Vec::new(),
        shallow_baseline,
        adaptation: None,
    };
    run.write_json("summary.json", &summary)?;
    run.write("report.md", &report_markdown(config, &summary))?;
    Ok(summary)
}

/// What the parent run needs from a fold's `summary.json`.
struct FoldRunSummary {
    best_epoch: usize,
    epochs_trained: usize,
    train_seconds: f64,
    images_per_second: f64,
}

fn read_fold_summary(dir: &Path) -> Result<FoldRunSummary, RunError> {
    let v = RunDir::read_summary(dir)?;
    let number = |key: &str| {
        v[key].as_f64().ok_or_else(|| RunError::Run(format!("{}/summary.json has no number `{key}`", dir.display())))
    };
    Ok(FoldRunSummary {
        best_epoch: number("best_epoch")? as usize,
        epochs_trained: number("epochs_trained")? as usize,
        train_seconds: number("train_seconds")?,
        images_per_second: number("images_per_second")?,
    })
}

/// `report.md` of a cross-validated run.
fn report_markdown(config: &ExperimentConfig, summary: &Summary) -> String {
    let e = &config.experiment;
    let h = summary.test.headline();
    let (total, trained) = summary.cross_validation.as_ref().map_or((0, 0), |c| (c.total, c.folds.len()));
    let which = if trained == total { String::new() } else { format!(", {trained} of the folds trained") };
    let mut md = format!("# {} ({total}-fold cross-validation{which})\n\n{}\n\n", e.name, e.description);
    md.push_str(&format!(
        "## Result\n\nOut-of-fold predictions of every item: [predictions.csv](predictions.csv).\n\n| | {} (all {} items, out of fold) |\n|---|---|\n| this run | {:.5} |\n| baseline: {} | {:.5} |\n",
        h.metric,
        summary.test.samples(),
        h.value,
        // The folds' training means differ a little; one baseline for all items is their pool's.
        if h.metric == "rmse" { "mean of all items' targets".to_string() } else { h.baseline_name.clone() },
        h.baseline
    ));
    if let TestScores::Regression(m) = &summary.test {
        if let Some(p) = &m.published {
            md.push_str(&format!("| published predictions (`{}`) | {:.5} |\n", p.property, p.rmse));
        }
        md.push_str(&format!("\nMean absolute error: {:.5} (baseline {:.5}", m.mae, m.baseline_mae));
        if let Some(p) = &m.published {
            md.push_str(&format!(", published {:.5}", p.mae));
        }
        md.push_str(").\n\n![predicted against true, out of fold](predicted_vs_true.png)\n\n");
    } else {
        md.push_str("\n![confusion matrix, out of fold](confusion.png)\n\n");
    }
    if let Some(p) = &summary.paper {
        let ours = summary.paper_metric.map_or_else(
            || format!("not measured ({})", summary.paper_metric_missing.clone().unwrap_or_default()),
            |v| format!("{v:.5}"),
        );
        let theirs = p.value.map_or("none published".to_string(), |v| format!("{v:.5}"));
        md.push_str(&format!("Paper ({}): {} {theirs}; this run: {ours}. _{}_\n\n", p.citation, p.metric, p.note));
    }
    if let Some(cv) = &summary.cross_validation {
        md.push_str(&format!(
            "## Folds\n\n{}: {}\n\n| fold | items | {} | best epoch | epochs | run |\n|---|---|---|---|---|---|\n",
            cv.metric,
            cv.spread_text(),
            cv.metric
        ));
        for f in &cv.folds {
            let name = Path::new(&f.run_dir).file_name().map_or(String::new(), |n| n.to_string_lossy().to_string());
            md.push_str(&format!(
                "| {} | {} | {:.5} | {} | {} | [{name}]({name}/report.md) |\n",
                f.fold, f.samples, f.value, f.best_epoch, f.epochs_trained
            ));
        }
    }
    md.push_str(&format!(
        "\n## Training\n\n- {} epochs over all folds, {:.0} s, {:.0} images/s\n- backend: {}\n- parameters: {}\n- data: {}\n",
        summary.epochs_trained, summary.train_seconds, summary.images_per_second, summary.backend, summary.parameters, summary.data
    ));
    md
}
