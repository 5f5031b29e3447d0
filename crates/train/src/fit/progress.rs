//! The progress display: Burn's `Learner` reports every batch to this renderer, which prints
//! epoch, step, loss, throughput and ETA. On a terminal the line updates in place; in a log
//! (CI, `tee`) it prints a new line every few seconds so logs stay short.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation, MetricsRendererTraining,
};

/// Prints training progress to standard error.
pub struct ProgressPrinter {
    terminal: bool,
    interval: Duration,
    total_epochs: usize,
    epoch: usize,
    split: String,
    split_total: usize,
    split_started: Instant,
    last_print: Instant,
    epoch_started: Instant,
    finished_epoch_seconds: Vec<f64>,
    last_valid_seconds: Option<f64>,
    names: HashMap<MetricId, String>,
    loss_sum: f64,
    loss_batches: usize,
    epoch_losses: HashMap<String, f64>,
    /// The first epoch of the stage being trained (a later start is a resumed run).
    first_epoch: usize,
}

impl Default for ProgressPrinter {
    fn default() -> Self {
        Self::new()
    }
}

/// `h:mm:ss` or `m:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl ProgressPrinter {
    /// A printer for standard error, updating in place when it is a terminal.
    pub fn new() -> Self {
        let terminal = std::io::stderr().is_terminal();
        let now = Instant::now();
        Self {
            terminal,
            interval: if terminal { Duration::from_millis(250) } else { Duration::from_secs(10) },
            total_epochs: 0,
            epoch: 0,
            split: String::new(),
            split_total: 0,
            split_started: now,
            last_print: now,
            epoch_started: now,
            finished_epoch_seconds: Vec::new(),
            last_valid_seconds: None,
            names: HashMap::new(),
            loss_sum: 0.0,
            loss_batches: 0,
            epoch_losses: HashMap::new(),
            first_epoch: 1,
        }
    }

    /// A printer for a training stage that begins at `epoch` (so starting there is no resume).
    pub fn for_stage_from(epoch: usize) -> Self {
        Self { first_epoch: epoch, ..Self::new() }
    }

    fn record(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, Some(value)) = state
            && self.names.get(&entry.metric_id).is_some_and(|n| n == "Loss")
        {
            self.loss_sum += value.current();
            self.loss_batches += 1;
        }
    }

    fn mean_loss(&self) -> Option<f64> {
        (self.loss_batches > 0).then(|| self.loss_sum / self.loss_batches as f64)
    }

    fn print_line(&mut self, done_items: usize, finished: bool) {
        let elapsed = self.split_started.elapsed().as_secs_f64().max(1e-9);
        let rate = done_items as f64 / elapsed;
        let left_split = (self.split_total.saturating_sub(done_items)) as f64 / rate.max(1e-9);
        // The epoch still has its validation pass if it is training (as long as the last one).
        let left_epoch = left_split + if self.split == "train" { self.last_valid_seconds.unwrap_or(0.0) } else { 0.0 };
        // Later epochs take as long as the finished ones did, or as this one is going.
        let finished_epochs = &self.finished_epoch_seconds;
        let per_epoch = if finished_epochs.is_empty() {
            self.epoch_started.elapsed().as_secs_f64() + left_epoch
        } else {
            finished_epochs.iter().sum::<f64>() / finished_epochs.len() as f64
        };
        let epochs_left = self.total_epochs.saturating_sub(self.epoch) as f64;
        let run_eta = left_epoch + epochs_left * per_epoch;
        let loss = self.mean_loss().map_or(String::new(), |l| format!("  loss {l:.5}"));
        let line = format!(
            "epoch {}/{} {:5} {:>6}/{}{}  {:.0} img/s  ETA epoch {}  run {}",
            self.epoch,
            self.total_epochs,
            self.split,
            done_items,
            self.split_total,
            loss,
            rate,
            clock(left_epoch),
            clock(run_eta)
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r\x1b[2K{line}{}", if finished { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.last_print = Instant::now();
    }
}

impl MetricsRendererTraining for ProgressPrinter {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }

    fn on_train_end(&mut self, _summary: Option<LearnerSummary>) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for ProgressPrinter {
    fn start(&mut self, total_epochs: usize, starting_epoch: usize, _total_items: Option<usize>, _label: Option<&str>) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        self.epoch_started = Instant::now();
        if starting_epoch > self.first_epoch {
            eprintln!("resuming at epoch {starting_epoch} of {total_epochs}");
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        let (train, valid) = (self.epoch_losses.get("train"), self.epoch_losses.get("valid"));
        if let (Some(t), Some(v)) = (train, valid) {
            eprintln!("epoch {}/{} done: train loss {t:.5}, valid loss {v:.5}", epoch, self.total_epochs);
        }
        self.finished_epoch_seconds.push(self.epoch_started.elapsed().as_secs_f64());
        self.epoch_started = Instant::now();
        self.epoch = epoch + 1;
        self.epoch_losses.clear();
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.split_total = total_items;
        self.split_started = Instant::now();
        self.last_print = Instant::now();
        self.loss_sum = 0.0;
        self.loss_batches = 0;
    }

    fn update_split(&mut self, items_processed: usize) {
        let finished = items_processed >= self.split_total;
        if finished || self.last_print.elapsed() >= self.interval {
            self.print_line(items_processed, finished && self.terminal);
        }
    }

    fn end_split(&mut self) {
        if self.split == "valid" {
            self.last_valid_seconds = Some(self.split_started.elapsed().as_secs_f64());
        }
        if let Some(loss) = self.mean_loss() {
            self.epoch_losses.insert(self.split.clone(), loss);
        }
    }

    fn end(&mut self) {}

    // Burn reports each iteration here too; the progress line already shows it.
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for ProgressPrinter {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for ProgressPrinter {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn on_test_end(&mut self, _summary: Option<LearnerSummary>) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRenderer for ProgressPrinter {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_minutes_and_hours() {
        assert_eq!(clock(5.4), "0:05");
        assert_eq!(clock(125.0), "2:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
