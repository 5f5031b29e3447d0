//! The end of a run: `summary.json` (the test metric beside the baseline and the paper's
//! number) and `report.md`, which links everything in the run folder.

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::evaluate::{GroupScore, TestMetrics};

/// The paper's number, as the summary repeats it.
#[derive(Debug, Clone, Serialize)]
pub struct PaperNumber {
    /// Who and where.
    pub citation: String,
    /// The metric.
    pub metric: String,
    /// The value.
    pub value: f64,
    /// What the number is.
    pub note: String,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The experiment name.
    pub experiment: String,
    /// The run folder.
    pub run_dir: String,
    /// The metric reported.
    pub metric: String,
    /// The model on the held-out test split.
    pub test: TestMetrics,
    /// The paper's number, if the config names one.
    pub paper: Option<PaperNumber>,
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
}

impl Summary {
    /// The lines printed at the end of a run.
    pub fn console_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("test {} (n = {}): {:.5}", self.metric, self.test.samples, self.test.rmse),
            format!("baseline (training mean): {:.5}", self.test.baseline_rmse),
        ];
        if let Some(p) = &self.paper {
            lines.push(format!("paper: {:.5} ({}; {})", p.value, p.citation, p.note));
        }
        lines.push(format!(
            "best epoch {} of {}, {:.0} s, {:.0} img/s",
            self.best_epoch, self.epochs_trained, self.train_seconds, self.images_per_second
        ));
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

/// `report.md`: results first, then what produced them, then links to every artefact.
pub fn report_markdown(config: &ExperimentConfig, summary: &Summary, model_table: &str) -> String {
    let e = &config.experiment;
    let mut md = format!("# {}\n\n{}\n\n", e.name, e.description);
    md.push_str("## Result\n\n| | RMSE (test) |\n|---|---|\n");
    md.push_str(&format!("| this run (epoch {}) | {:.5} |\n", summary.best_epoch, summary.test.rmse));
    md.push_str(&format!("| baseline: training mean | {:.5} |\n", summary.test.baseline_rmse));
    if let Some(p) = &summary.paper {
        md.push_str(&format!("| paper: {} | {:.5} |\n\n_{}_\n", p.citation, p.value, p.note));
    }
    md.push_str(&format!(
        "\nTest images: {}. The paper's number comes from the paper's own data; this run's data: {}.\n\n",
        summary.test.samples, summary.data
    ));
    if !summary.test.per_group.is_empty() {
        md.push_str(&per_group_table(&summary.test.per_group));
    }
    md.push_str("![learning curves](learning_curves.png)\n\n");
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
    md.push_str(&format!("## Model\n\n{model_table}\n"));
    md.push_str(
        "## Sample test images\n\nTrue and predicted answers under each image.\n\n![test images](gallery.png)\n\n",
    );
    md.push_str(
        "## Files\n\n\
         - [config.toml](config.toml): the resolved config (what `eval`, `predict` and `--resume` reload)\n\
         - [environment.json](environment.json): versions, backend, devices\n\
         - [metrics.csv](metrics.csv): one row per epoch\n\
         - [summary.json](summary.json): the numbers above\n\
         - [test_predictions.csv](test_predictions.csv): predictions and targets of every test image\n\
         - [model.bpk](model.bpk): the evaluated weights (Burn burnpack)\n\
         - [checkpoint/](checkpoint/): resumable checkpoints (model, optimizer, schedule)\n\
         - [experiment.log](experiment.log): Burn's log\n",
    );
    md
}
