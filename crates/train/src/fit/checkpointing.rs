//! When checkpoints are written and kept, and finding the newest complete one to resume from.
//!
//! A checkpoint of epoch N is three burnpack files written by Burn's checkpointers:
//! `checkpoint/model-N.bpk`, `optim-N.bpk` and `scheduler-N.bpk`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use burn::lr_scheduler::LrSchedulerRecord;
use burn::optim::OptimizerRecord;
use burn::store::ModuleRecord;
use burn::train::checkpoint::{Checkpoint, CheckpointingAction, CheckpointingStrategy};
use burn::train::metric::store::EventStoreClient;

/// Save every `every` epochs and at the last one; keep the newest `keep`.
pub struct Cadence {
    every: usize,
    keep: usize,
    last_epoch: usize,
    saved: VecDeque<usize>,
}

impl Cadence {
    /// A cadence for a run ending at `last_epoch`, that already has checkpoints `existing`.
    pub fn new(every: usize, keep: usize, last_epoch: usize, existing: Vec<usize>) -> Self {
        Self { every: every.max(1), keep: keep.max(1), last_epoch, saved: existing.into() }
    }
}

impl CheckpointingStrategy for Cadence {
    fn checkpointing(&mut self, epoch: usize, _store: &EventStoreClient) -> Vec<CheckpointingAction> {
        self.decide(epoch)
    }
}

impl Cadence {
    /// What to do at the end of `epoch`.
    pub fn decide(&mut self, epoch: usize) -> Vec<CheckpointingAction> {
        if !epoch.is_multiple_of(self.every) && epoch != self.last_epoch {
            return Vec::new();
        }
        let mut actions = vec![CheckpointingAction::Save];
        self.saved.push_back(epoch);
        while self.saved.len() > self.keep {
            if let Some(old) = self.saved.pop_front() {
                actions.push(CheckpointingAction::Delete(old));
            }
        }
        actions
    }
}

/// The three files of the checkpoint of `epoch`.
pub fn checkpoint_files(run: &Path, epoch: usize) -> [PathBuf; 3] {
    let dir = run.join("checkpoint");
    ["model", "optim", "scheduler"].map(|name| dir.join(format!("{name}-{epoch}.bpk")))
}

/// Epochs that have a model checkpoint, ascending.
pub fn model_checkpoints(run: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(run.join("checkpoint"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("model-")?.strip_suffix(".bpk")?.parse().ok()
        })
        .collect();
    epochs.sort_unstable();
    epochs
}

/// The newest epoch whose three checkpoint files exist and load (a run killed while writing
/// leaves a truncated file: it is skipped, and the previous checkpoint is used).
pub fn last_complete_checkpoint(run: &Path) -> Option<usize> {
    model_checkpoints(run).into_iter().rev().find(|&epoch| {
        let [model, optim, scheduler] = checkpoint_files(run, epoch);
        <ModuleRecord as Checkpoint>::load(model).is_ok()
            && <OptimizerRecord as Checkpoint>::load(optim).is_ok()
            && <LrSchedulerRecord as Checkpoint>::load(scheduler).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn cadence_saves_every_n_and_the_last_epoch_keeping_the_newest() {
        let mut c = Cadence::new(2, 2, 5, vec![]);
        let acts: Vec<Vec<CheckpointingAction>> = (1..=5).map(|e| c.decide(e)).collect();
        assert!(acts[0].is_empty());
        assert_eq!(acts[1], vec![CheckpointingAction::Save]);
        assert_eq!(acts[3], vec![CheckpointingAction::Save]);
        assert_eq!(acts[4], vec![CheckpointingAction::Save, CheckpointingAction::Delete(2)]);
    }
}
