//! The end of a run: `summary.json` (the test metric beside the baseline and the paper's
//! number) and `report.md`, which links everything in the run folder.
//!
//! The folder: [`plot`] (shared plotting and the learning curves), [`figures`] (the test
//! split's plots and gallery), one file per plot and [`gallery`]/[`curve_gallery`].

pub mod comparison_plot;
pub mod confusion_plot;
pub mod curve_gallery;
pub mod figures;
pub mod gallery;
pub mod plot;
pub mod roc_plot;
pub mod scatter_plot;

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::evaluate::binary::{AtFpr, BinaryScores};
use crate::evaluate::classification::ClassificationMetrics;
use crate::evaluate::shallow_baseline::ShallowScore;
use crate::evaluate::{GroupScore, TestScores};

/// What a table cell of a bin or subset without items says instead of a number.
const NO_ITEMS: &str = "not measured (no items)";

/// The paper's number, as the summary repeats it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PaperNumber {
    /// Who and where.
    pub citation: String,
    /// The metric.
    pub metric: String,
    /// The value (none where the paper gives none).
    pub value: Option<f64>,
    /// What the number is.
    pub note: String,
    /// The subset of the test items it is for.
    pub subset: Option<String>,
    /// The class it is for (precision, recall, F1).
    pub class: Option<String>,
}

/// The paper's number for one regression target beside this run's.
#[derive(Debug, Clone, Serialize)]
pub struct TargetNumber {
    /// The target.
    pub target: String,
    /// The paper's value.
    pub paper: f64,
    /// This run's.
    pub this_run: Option<f64>,
}

impl PaperNumber {
    /// The summary's copy of `[experiment.paper]`.
    pub fn of(p: &crate::config::PaperReference) -> Self {
        Self {
            citation: p.citation.clone(),
            metric: p.metric.clone(),
            value: p.value,
            note: p.note.clone(),
            subset: p.subset.clone(),
            class: p.class.clone(),
        }
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The experiment name.
    pub experiment: String,
    /// The run folder.
    pub run_dir: String,
    /// The metric reported (`rmse` or `accuracy`).
    pub metric: String,
    /// The model on the held-out test split.
    pub test: TestScores,
    /// The paper's number, if the config names one.
    pub paper: Option<PaperNumber>,
    /// This run's value of the paper's metric (on the paper's subset), when it has one.
    pub paper_metric: Option<f64>,
    /// Why the paper's metric was not measured, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper_metric_missing: Option<String>,
    /// The epoch whose weights were evaluated (lowest validation loss).
    pub best_epoch: usize,
    /// Epochs trained (early stopping may end a run before `training.epochs`).
    pub epochs_trained: usize,
    /// Wall-clock seconds of training (all epochs, this and earlier sessions of a resumed run).
    pub train_seconds: f64,
    /// Training images per second (mean over epochs, training and validation passes).
    pub images_per_second: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// Where the data came from.
    pub data: String,
    /// The backend and devices.
    pub backend: String,
    /// The training stages, when there were several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSummary>,
    /// The paper's metric per target beside this run's (`[experiment.paper.per_target]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paper_targets: Vec<TargetNumber>,
    /// The folds of a cross-validated run (`test` then holds the out-of-fold scores over every
    /// item; `best_epoch` is not one number and is 0, `epochs_trained` and `train_seconds` are
    /// the folds' sums).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<CrossValidationScores>,
    /// Training batches each device stepped in the session that finished the run (most first;
    /// data-parallel runs show that every device worked). Empty for cross-validated runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batches_per_device: Vec<usize>,
    /// The shallow baseline (`[baseline]`) on the same test items, where it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shallow_baseline: Option<ShallowScore>,
    /// The target domain of an adapted run (`[adaptation]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<crate::adapt::target::AdaptationScores>,
}

/// Each fold's score and their spread.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidationScores {
    /// The metric of each fold (the task's headline metric).
    pub metric: String,
    /// The folds the data was split into.
    pub total: usize,
    /// One row per fold trained (all of them unless `run_folds` picks some).
    pub folds: Vec<FoldScore>,
    /// The mean of the folds' values.
    pub mean: f64,
    /// Their sample standard deviation (none with one fold).
    pub std: Option<f64>,
}

impl CrossValidationScores {
    /// "mean +- sd over N folds", or the one fold's value.
    pub fn spread_text(&self) -> String {
        match self.std {
            Some(sd) => format!("{:.5} +- {:.5} (mean +- sd over {} folds)", self.mean, sd, self.folds.len()),
            None => format!("{:.5} (one fold trained: spread not measured)", self.mean),
        }
    }
}

/// One fold of a cross-validated run.
#[derive(Debug, Clone, Serialize)]
pub struct FoldScore {
    /// The fold (its value in the fold column, or its number).
    pub fold: i64,
    /// Its run folder.
    pub run_dir: String,
    /// Test items (the fold's items).
    pub samples: usize,
    /// The metric on them.
    pub value: f64,
    /// The evaluated epoch of its run.
    pub best_epoch: usize,
    /// Epochs its run trained.
    pub epochs_trained: usize,
}

/// One training stage, as the summary records it.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    /// Its name.
    pub name: String,
    /// Its first and last epoch.
    pub epochs: [usize; 2],
    /// The layers that trained.
    pub train: String,
    /// The optimiser.
    pub optimizer: String,
    /// Its learning rate.
    pub lr: f64,
}

impl StageSummary {
    /// The summary of a planned stage.
    pub fn of(stage: &crate::config::stages::Stage) -> Self {
        Self {
            name: stage.name.clone(),
            epochs: [stage.after_epoch + 1, stage.last_epoch],
            train: stage.train_text(),
            optimizer: format!("{:?}", stage.optimizer.kind).to_lowercase(),
            lr: stage.optimizer.lr,
        }
    }
}

/// This run's value of the paper's metric, or why it was not measured (both none without a
/// paper).
pub fn paper_metric_of(config: &ExperimentConfig, scores: &TestScores) -> (Option<f64>, Option<String>) {
    let measured =
        config.experiment.paper.as_ref().map(|p| scores.measure(&p.metric, p.subset.as_deref(), p.class.as_deref()));
    match measured {
        Some(Ok(v)) => (Some(v), None),
        Some(Err(why)) => (None, Some(why)),
        None => (None, None),
    }
}

/// The published model's scores as one line.
fn published_line(p: &crate::evaluate::PublishedScores) -> String {
    format!(
        "published predictions (`{}`) on the same {} items: RMSE {:.5}, MAE {:.5}",
        p.property, p.samples, p.rmse, p.mae
    )
}

/// A paper's value as printed: five decimals, or a dash where the paper gives none.
fn value_text(value: Option<f64>) -> String {
    value.map_or("none published".to_string(), |v| format!("{v:.5}"))
}

impl Summary {
    /// "not measured", with the reason when one is known.
    fn not_measured(&self) -> String {
        match &self.paper_metric_missing {
            Some(why) => format!("not measured ({why})"),
            None => "not measured".to_string(),
        }
    }

    /// The lines printed at the end of a run.
    pub fn console_lines(&self) -> Vec<String> {
        let h = self.test.headline();
        let mut lines = vec![
            format!("test {} (n = {}): {:.5}", h.metric, self.test.samples(), h.value),
            format!("baseline ({}): {:.5}", h.baseline_name, h.baseline),
        ];
        if let TestScores::Reconstruction(m) = &self.test {
            lines.push(format!(
                "MAE: {:.5}; latent vectors of {} values; worst reconstructed: {}",
                m.mae,
                m.latent_size,
                m.worst.iter().take(3).map(|(id, e)| format!("{id} ({e:.2e})")).collect::<Vec<_>>().join(", ")
            ));
        }
        if let TestScores::Regression(m) = &self.test {
            lines.push(format!("MAE: {:.5} (baseline {:.5})", m.mae, m.baseline_mae));
            if let Some(p) = &m.published {
                lines.push(published_line(p));
            }
        }
        if let TestScores::Classification(m) = &self.test {
            lines.push(format!("macro F1: {:.4}", m.macro_f1));
            if let Some(b) = &m.binary {
                lines.push(format!("ROC AUC: {:.4}", b.roc_auc));
                for a in &b.at_fpr {
                    lines.push(format!("completeness at {}% false positives: {:.4}", 100.0 * a.fpr, a.completeness));
                }
            }
        }
        // After the network's own scores (MAE, F1, ...), so that each line reads as the network's.
        lines.extend(self.shallow_baseline.as_ref().map(ShallowScore::line));
        lines.extend(self.adaptation.iter().flat_map(crate::adapt::report::console_lines));
        if let (Some(p), TestScores::Classification(m)) = (&self.paper, &self.test)
            && let Some(class) = &p.class
        {
            let groups = m.groups.iter().filter(|g| Some(&g.name) == p.subset.as_ref());
            let all = m.per_class.iter().map(|c| ("all", c));
            let within = groups.flat_map(|g| g.per_class.iter().map(move |c| (g.name.as_str(), c)));
            for (group, c) in all.chain(within).filter(|(_, c)| &c.class == class) {
                lines.push(format!(
                    "{class} [{group}] (n = {}): precision {:.4}, recall {:.4}, F1 {:.4}",
                    c.support, c.precision, c.recall, c.f1
                ));
            }
        }
        for t in &self.paper_targets {
            let ours = t.this_run.map_or("not measured".to_string(), |v| format!("{v:.4e}"));
            let metric = self.paper.as_ref().map_or("", |p| p.metric.as_str());
            lines.push(format!("{metric} of {}: paper {:.4e}; this run {ours}", t.target, t.paper));
        }
        if let Some(p) = &self.paper {
            let subset = p.subset.as_ref().map_or(String::new(), |s| format!(" [{s}]"));
            let subset = match &p.class {
                Some(c) => format!(" of {c}{subset}"),
                None => subset,
            };
            let ours = self.paper_metric.map_or_else(|| self.not_measured(), |v| format!("{v:.5}"));
            if p.value.is_none() && !self.paper_targets.is_empty() {
                lines.push(format!("paper: {}; {}", p.citation, p.note));
            } else {
                lines.push(format!(
                    "paper {}{subset}: {} ({}; {}); this run: {ours}",
                    p.metric,
                    value_text(p.value),
                    p.citation,
                    p.note
                ));
            }
        }
        match &self.cross_validation {
            Some(cv) => {
                lines.push(format!(
                    "per-fold {}: {}; above: over all {} items out of fold",
                    cv.metric,
                    cv.spread_text(),
                    self.test.samples()
                ));
                lines.push(format!(
                    "per fold: {}; {} epochs in all, {:.0} s, {:.0} img/s",
                    cv.folds.iter().map(|f| format!("{} {:.4}", f.fold, f.value)).collect::<Vec<_>>().join(", "),
                    self.epochs_trained,
                    self.train_seconds,
                    self.images_per_second
                ));
            }
            None => lines.push(format!(
                "best epoch {} of {}, {:.0} s, {:.0} img/s",
                self.best_epoch, self.epochs_trained, self.train_seconds, self.images_per_second
            )),
        }
        lines.push(format!("run folder: {}", self.run_dir));
        lines
    }
}

/// A table of the RMSE per group of targets (per question for Galaxy Zoo), beside the
/// baseline's.
fn per_group_table(groups: &[GroupScore]) -> String {
    let mut md = String::from("### Per question\n\n| targets | n | RMSE | baseline |\n|---|---|---|---|\n");
    for g in groups {
        md.push_str(&format!("| {} | {} | {:.5} | {:.5} |\n", g.group, g.targets, g.rmse, g.baseline_rmse));
    }
    md.push('\n');
    md
}

/// Precision, recall and F1 per class, and the confusion matrix picture.
fn per_class_table(m: &ClassificationMetrics) -> String {
    let mut md = format!("Macro F1: {:.4}", m.macro_f1);
    if let Some(b) = &m.binary {
        md.push_str(&binary_tables(b));
    }
    md.push_str("\n\n### Per class\n\n| # | class | n | precision | recall | F1 |\n|---|---|---|---|---|---|\n");
    for (i, c) in m.per_class.iter().enumerate() {
        md.push_str(&format!(
            "| {i} | {} | {} | {:.4} | {:.4} | {:.4} |\n",
            c.class, c.support, c.precision, c.recall, c.f1
        ));
    }
    md.push_str("\n![confusion matrix](confusion.png)\n\n");
    if !m.groups.is_empty() {
        md.push_str(&group_table(m));
    }
    md
}

/// Per-class scores within each bin and subset of `[evaluation]`.
fn group_table(m: &ClassificationMetrics) -> String {
    let mut md = String::from(
        "### Per bin and subset\n\n| items | n | accuracy | class | support | precision | recall | F1 |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for g in &m.groups {
        let name =
            if g.name.is_empty() { format!("{} in [{}, {})", g.attribute, g.low, g.high) } else { g.name.clone() };
        if g.items == 0 {
            md.push_str(&format!("| {name} | 0 | {NO_ITEMS} | | | | | |\n"));
        }
        for c in g.per_class.iter().filter(|_| g.items > 0) {
            md.push_str(&format!(
                "| {name} | {} | {:.4} | {} | {} | {:.4} | {:.4} | {:.4} |\n",
                g.items, g.accuracy, c.class, c.support, c.precision, c.recall, c.f1
            ));
        }
    }
    md.push('\n');
    md
}

/// ROC AUC and completeness, overall, per subset and per bin; the ROC curve picture.
fn binary_tables(b: &BinaryScores) -> String {
    let mut md = format!("\n\n### Detection\n\nROC AUC: {:.4}\n\n| positives | n | ROC AUC |", b.roc_auc);
    for a in &b.at_fpr {
        md.push_str(&format!(" completeness at {}% FPR |", 100.0 * a.fpr));
    }
    md.push_str(&format!("\n|---|---|---|{}\n", "---|".repeat(b.at_fpr.len())));
    let row = |name: &str, n: usize, auc: f64, at: &[AtFpr]| {
        if n == 0 {
            return format!("| {name} | 0 | {NO_ITEMS} |{}\n", " |".repeat(at.len()));
        }
        let mut r = format!("| {name} | {n} | {auc:.4} |");
        for a in at {
            r.push_str(&format!(" {:.4} |", a.completeness));
        }
        r + "\n"
    };
    md.push_str(&row("all", b.positives, b.roc_auc, &b.at_fpr));
    for s in &b.subsets {
        md.push_str(&row(&s.name, s.positives, s.roc_auc, &s.at_fpr));
    }
    if !b.bins.is_empty() {
        let fpr = b.at_fpr.first().map_or(String::new(), |a| format!(" at {}% FPR", 100.0 * a.fpr));
        md.push_str(&format!("\n| property | bin | positives | completeness{fpr} |\n|---|---|---|---|\n"));
        for x in &b.bins {
            let completeness = if x.positives == 0 { NO_ITEMS.to_string() } else { format!("{:.4}", x.completeness) };
            md.push_str(&format!("| {} | [{}, {}) | {} | {completeness} |\n", x.attribute, x.low, x.high, x.positives));
        }
    }
    md.push_str("\n![ROC curve](roc.png)\n");
    md
}

/// `report.md`: results first, then what produced them, then links to every artefact.
pub fn report_markdown(config: &ExperimentConfig, summary: &Summary, model_table: &str) -> String {
    let e = &config.experiment;
    let mut md = format!("# {}\n\n{}\n\n", e.name, e.description);
    let h = summary.test.headline();
    let metric = if h.metric == "rmse" { "RMSE" } else { "accuracy" };
    md.push_str(&format!("## Result\n\n| | {metric} (test) |\n|---|---|\n"));
    md.push_str(&format!("| this run (epoch {}) | {:.5} |\n", summary.best_epoch, h.value));
    md.push_str(&format!("| baseline: {} | {:.5} |\n", h.baseline_name, h.baseline));
    if let Some(b) = summary.shallow_baseline.as_ref().filter(|b| b.metric == h.metric) {
        md.push_str(&format!(
            "| shallow baseline: {} on {} features ({} s); the network against it: {} | {:.5} |\n",
            b.model,
            b.features.len(),
            b.seconds.round(),
            b.paired_text(),
            b.value
        ));
    }
    match &summary.paper {
        Some(p) if p.metric == h.metric && p.subset.is_none() => {
            md.push_str(&format!("| paper: {} | {} |\n\n_{}_\n", p.citation, value_text(p.value), p.note));
        }
        Some(p) => {
            // The paper reports another metric: compare on that one.
            let subset = p.subset.as_ref().map_or(String::new(), |s| format!(", {s}"));
            let ours = summary.paper_metric.map_or_else(|| summary.not_measured(), |v| format!("{v:.5}"));
            md.push_str(&format!(
                "\n| {}{subset} | this run | paper: {} |\n|---|---|---|\n| test | {ours} | {} |\n\n_{}_\n",
                p.metric,
                p.citation,
                value_text(p.value),
                p.note
            ));
        }
        None => {}
    }
    if !summary.paper_targets.is_empty() {
        let metric = summary.paper.as_ref().map_or("", |p| p.metric.as_str());
        md.push_str(&format!("\n| target | {metric}: this run | paper |\n|---|---|---|\n"));
        for t in &summary.paper_targets {
            let ours = t.this_run.map_or("-".to_string(), |v| format!("{v:.4e}"));
            md.push_str(&format!("| {} | {ours} | {:.4e} |\n", t.target, t.paper));
        }
    }
    let provenance = if summary.paper.as_ref().is_some_and(|p| p.value.is_some() || !summary.paper_targets.is_empty()) {
        "The paper's number comes from the paper's own data; this run's data"
    } else {
        "Data"
    };
    md.push_str(&format!("\nTest images: {}. {provenance}: {}.\n\n", summary.test.samples(), summary.data));
    match &summary.test {
        TestScores::Regression(m) => {
            md.push_str(&format!("Mean absolute error: {:.5} (baseline {:.5}).\n\n", m.mae, m.baseline_mae));
            if let Some(p) = &m.published {
                md.push_str(&format!("{}.\n\n", published_line(p)));
            }
            if !m.per_group.is_empty() {
                md.push_str(&per_group_table(&m.per_group));
            }
            md.push_str("![predicted against true](predicted_vs_true.png)\n\n");
        }
        TestScores::Classification(m) => md.push_str(&per_class_table(m)),
        TestScores::Reconstruction(m) => {
            md.push_str(&format!(
                "Mean absolute error per pixel value: {:.5}. Latent vectors: {} values, in [latent.csv](latent.csv).\n\n\
                 ![originals above their reconstructions](reconstructions.png)\n\n\
                 ### Worst reconstructed (anomaly candidates)\n\nAll test images by error: [reconstruction_errors.csv](reconstruction_errors.csv).\n\n\
                 | id | mean squared error |\n|---|---|\n",
                m.mae, m.latent_size
            ));
            for (id, e) in &m.worst {
                md.push_str(&format!("| {id} | {e:.4e} |\n"));
            }
            md.push_str("\n![the worst reconstructed test images](anomalies.png)\n\n");
        }
    }
    md.push_str("![learning curves](learning_curves.png)\n\n");
    if let Some(a) = &summary.adaptation {
        md.push_str(&crate::adapt::report::markdown(a, &summary.test));
    }
    md.push_str(&format!(
        "## Training\n\n- epochs trained: {} (best: {})\n- time: {:.0} s, {:.0} images/s\n- backend: {}\n- parameters: {}\n- optimizer: {:?}, lr {}\n- schedule: {:?}\n- batch size: {}\n\n",
        summary.epochs_trained,
        summary.best_epoch,
        summary.train_seconds,
        summary.images_per_second,
        summary.backend,
        summary.parameters,
        config.optimizer.kind,
        config.optimizer.lr,
        config.schedule.kind,
        config.training.batch_size
    ));
    if summary.batches_per_device.len() > 1 {
        let counts: Vec<String> = summary.batches_per_device.iter().map(usize::to_string).collect();
        md.insert_str(md.len() - 1, &format!("- training batches per device: {}\n", counts.join(", ")));
    }
    if let Some(init) = &config.init {
        let from = init.run.as_ref().or(init.weights.as_ref()).map_or(String::new(), |p| p.display().to_string());
        md.insert_str(md.len() - 1, &format!("- initial weights: {from} (`[init]`)\n"));
    }
    if let Some(w) = config.features.as_ref().map(|f| f.body_loss_weight).filter(|w| *w > 0.0) {
        md.insert_str(
            md.len() - 1,
            &format!(
                "- a second head on the body's output alone (training only), its loss x {w} added \
                 (`[features] body_loss_weight`)\n"
            ),
        );
    }
    if !summary.stages.is_empty() {
        md.push_str("### Stages\n\n| stage | epochs | trains | optimizer | lr |\n|---|---|---|---|---|\n");
        for s in &summary.stages {
            md.push_str(&format!(
                "| {} | {}-{} | {} | {} | {:e} |\n",
                s.name, s.epochs[0], s.epochs[1], s.train, s.optimizer, s.lr
            ));
        }
        md.push_str("\nThe evaluated weights are the last stage's best epoch.\n\n");
    }
    md.push_str(&format!("## Model\n\n{model_table}\n"));
    let reconstruction = matches!(summary.test, TestScores::Reconstruction(_));
    if !reconstruction {
        md.push_str(
            "## Sample test items\n\nTrue and predicted labels under each image (light curve).\n\n![test items](gallery.png)\n\n",
        );
    }
    md.push_str(
        "## Files\n\n\
         - [config.toml](config.toml): the resolved config (what `eval`, `predict` and `--resume` reload)\n\
         - [environment.json](environment.json): versions, backend, devices\n\
         - [metrics.csv](metrics.csv): one row per epoch\n\
         - [summary.json](summary.json): the numbers above\n",
    );
    md.push_str(if reconstruction {
        "- [latent.csv](latent.csv): the latent vector of every test image\n\
         - [reconstruction_errors.csv](reconstruction_errors.csv): every test image's error, worst first\n"
    } else {
        "- [test_predictions.csv](test_predictions.csv): predictions and targets of every test image\n"
    });
    md.push_str(
        "- [model.bpk](model.bpk): the evaluated weights (Burn burnpack)\n\
         - [checkpoint/](checkpoint/): resumable checkpoints (model, optimizer, schedule)\n\
         - [experiment.log](experiment.log): Burn's log\n",
    );
    md
}
