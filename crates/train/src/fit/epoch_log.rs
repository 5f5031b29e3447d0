//! `metrics.csv`: one row per finished epoch (train and valid loss and the task's metric: RMSE
//! or accuracy; learning rate, seconds), written as Burn reports each epoch so a killed run keeps its history; and the
//! guard that stops training with a clear reason when the loss stops being a finite number.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use astro_data::Task;
use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::adapt::metrics::{DOMAIN_ACCURACY, DOMAIN_LOSS};

/// Which adaptation columns `metrics.csv` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainColumns {
    /// None (not an adapted run, or one that reads no target images).
    None,
    /// The adaptation term (MMD).
    Loss,
    /// The adaptation term and the domain classifier's accuracy (DANN).
    LossAndAccuracy,
}

/// The header of `metrics.csv` for `task`; an adapted run adds the adaptation term and the
/// domain classifier's accuracy on the training batches (`domain`).
pub fn csv_header(task: Task, domain: DomainColumns) -> String {
    let m = task.metric();
    let extra = match domain {
        DomainColumns::None => "",
        DomainColumns::Loss => ",train_domain_loss",
        DomainColumns::LossAndAccuracy => ",train_domain_loss,train_domain_accuracy",
    };
    format!("epoch,train_loss,train_{m},valid_loss,valid_{m},learning_rate,seconds{extra}")
}

/// The metric names Burn gives the loss, the accuracy (in percent) and the learning rate.
const LOSS: &str = "Loss";
const ACCURACY: &str = "Accuracy";
const LEARNING_RATE: &str = "Learning Rate";

/// Why the logger stopped training, shared with the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The loss stopped being a finite number.
    Diverged(String),
    /// An epoch's row could not be written to `metrics.csv`.
    Unlogged(String),
}

/// Where the logger leaves why it stopped training.
pub type Divergence = Arc<Mutex<Option<Stop>>>;

/// Writes one CSV row per epoch and watches every batch loss.
pub struct EpochCsvLogger {
    path: PathBuf,
    task: Task,
    names: HashMap<MetricId, String>,
    latest: HashMap<(String, String), f64>,
    interrupter: Interrupter,
    divergence: Divergence,
    epoch_started: Instant,
    domain: DomainColumns,
}

impl EpochCsvLogger {
    /// Appends to `path` (creating it with a header), stopping `interrupter` on a non-finite loss.
    pub fn new(path: &Path, task: Task, interrupter: Interrupter, divergence: Divergence) -> std::io::Result<Self> {
        Self::with_domain(path, task, interrupter, divergence, DomainColumns::None)
    }

    /// As [`Self::new`], with the adaptation columns `domain`.
    pub fn with_domain(
        path: &Path,
        task: Task,
        interrupter: Interrupter,
        divergence: Divergence,
        domain: DomainColumns,
    ) -> std::io::Result<Self> {
        if !path.exists() {
            std::fs::write(path, format!("{}\n", csv_header(task, domain)))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            task,
            names: HashMap::new(),
            latest: HashMap::new(),
            interrupter,
            divergence,
            epoch_started: Instant::now(),
            domain,
        })
    }

    fn value(&self, split: &str, name: &str) -> Option<f64> {
        self.latest.get(&(split.to_string(), name.to_string())).copied()
    }

    /// The task's metric for a split: the root of the mean squared error, or the accuracy.
    fn metric(&self, split: &str) -> Option<f64> {
        match self.task {
            Task::Regression | Task::Reconstruction => self.value(split, LOSS).map(f64::sqrt),
            Task::Classification => self.value(split, ACCURACY).map(|percent| percent / 100.0),
        }
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6e}"))
}

impl MetricLogger for EpochCsvLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        for numeric in update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id).cloned() else { continue };
            if let Some(batch) = &numeric.numeric_entry
                && name == LOSS
                && !batch.current().is_finite()
                && self.divergence.lock().map(|d| d.is_none()).unwrap_or(false)
            {
                let reason = format!("the {split} loss became {} in epoch {epoch}", batch.current());
                if let Ok(mut d) = self.divergence.lock() {
                    *d = Some(Stop::Diverged(reason.clone()));
                }
                self.interrupter.stop(Some(&reason));
            }
            // The running entry is the epoch mean so far (the learning rate: its last value).
            let value = match (&numeric.running_entry, &numeric.numeric_entry) {
                (_, Some(entry)) if name == LEARNING_RATE => entry.current(),
                (Some(running), _) => running.current(),
                (None, Some(entry)) => entry.current(),
                (None, None) => continue,
            };
            self.latest.insert((split.to_string(), name), value);
        }
    }

    fn read_numeric(&mut self, _name: &str, _epoch: usize, _split: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("the CSV logger keeps only epoch rows; read Burn's file logger instead".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        // The validation split ends an epoch; its row holds both splits.
        if summary.split != Split::Valid {
            return;
        }
        let domain = match self.domain {
            DomainColumns::None => String::new(),
            DomainColumns::Loss => format!(",{}", fmt(self.value("train", DOMAIN_LOSS))),
            DomainColumns::LossAndAccuracy => {
                format!(",{},{}", fmt(self.value("train", DOMAIN_LOSS)), fmt(self.value("train", DOMAIN_ACCURACY)))
            }
        };
        let row = format!(
            "{},{},{},{},{},{},{:.2}{domain}\n",
            summary.epoch_number,
            fmt(self.value("train", LOSS)),
            fmt(self.metric("train")),
            fmt(self.value("valid", LOSS)),
            fmt(self.metric("valid")),
            fmt(self.value("train", LEARNING_RATE)),
            self.epoch_started.elapsed().as_secs_f64()
        );
        self.epoch_started = Instant::now();
        let written =
            std::fs::OpenOptions::new().append(true).open(&self.path).and_then(|mut f| f.write_all(row.as_bytes()));
        if let Err(e) = written {
            // A run whose log misses epochs cannot be resumed or reported: stop it.
            let reason = format!("cannot append epoch {} to {}: {e}", summary.epoch_number, self.path.display());
            if let Ok(mut d) = self.divergence.lock() {
                d.get_or_insert(Stop::Unlogged(reason.clone()));
            }
            self.interrupter.stop(Some(&reason));
        }
        self.latest.clear();
    }
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training RMSE or accuracy (with dropout active, as trained).
    pub train_metric: f64,
    /// Mean validation loss.
    pub valid_loss: f64,
    /// Validation RMSE or accuracy.
    pub valid_metric: f64,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
    /// The adaptation term of the training loss (NaN: not an adapted run).
    pub domain_loss: f64,
    /// The domain classifier's training accuracy (NaN: not a DANN run).
    pub domain_accuracy: f64,
}

/// Reads the rows of a run's `metrics.csv` (missing values read as NaN).
pub fn read_epochs(path: &Path) -> std::io::Result<Vec<EpochRow>> {
    let text = std::fs::read_to_string(path)?;
    let num = |s: Option<&str>| s.and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(f64::NAN);
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            let epoch = f.next()?.trim().parse().ok()?;
            Some(EpochRow {
                epoch,
                train_loss: num(f.next()),
                train_metric: num(f.next()),
                valid_loss: num(f.next()),
                valid_metric: num(f.next()),
                learning_rate: num(f.next()),
                seconds: num(f.next()),
                domain_loss: num(f.next()),
                domain_accuracy: num(f.next()),
            })
        })
        .collect())
}

/// Drops rows after `epoch` (a resumed run repeats them from its checkpoint).
pub fn truncate_after(path: &Path, epoch: usize) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let row_epoch = line.split(',').next().and_then(|e| e.parse::<usize>().ok());
        if i == 0 || row_epoch.is_some_and(|e| e <= epoch) {
            kept.push(line);
        }
    }
    std::fs::write(path, kept.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_that_cannot_be_logged_stops_the_run_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let (interrupter, stop) = (Interrupter::new(), Divergence::default());
        let mut logger = EpochCsvLogger::new(&path, Task::Regression, interrupter.clone(), stop.clone()).unwrap();
        logger.log_epoch_summary(EpochSummary { epoch_number: 1, split: Split::Valid });
        assert_eq!(read_epochs(&path).unwrap().len(), 1);
        assert!(!interrupter.should_stop() && stop.lock().unwrap().is_none());
        std::fs::remove_file(&path).unwrap();
        logger.log_epoch_summary(EpochSummary { epoch_number: 2, split: Split::Valid });
        assert!(interrupter.should_stop());
        let Some(Stop::Unlogged(why)) = stop.lock().unwrap().clone() else { unreachable!("{stop:?}") };
        assert!(why.starts_with("cannot append epoch 2 to") && why.contains("metrics.csv"), "{why}");
    }

    #[test]
    fn rows_read_back_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        std::fs::write(
            &path,
            format!(
                "{}\n1,0.5,0.7,0.4,0.632,0.001,3.0\n2,0.3,0.55,0.25,0.5,0.001,2.5\n3,0.2,0.45,,,0.001,2.0\n",
                csv_header(Task::Regression, DomainColumns::None)
            ),
        )
        .unwrap();
        let rows = read_epochs(&path).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].valid_metric, 0.5);
        assert!(rows[2].valid_loss.is_nan());
        truncate_after(&path, 2).unwrap();
        assert_eq!(read_epochs(&path).unwrap().len(), 2);
    }
}
