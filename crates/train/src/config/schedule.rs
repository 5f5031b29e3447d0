//! `[schedule]`: how the learning rate changes over training, in epochs, built into Burn's
//! per-iteration schedulers (Burn steps the schedule once per optimiser step).

use burn::lr_scheduler::LrScheduler;
use burn::lr_scheduler::LrSchedulerRecord;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::LearningRate;
use serde::{Deserialize, Serialize};

use super::load::ConfigError;

/// The schedule's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The learning rate never changes.
    #[default]
    Constant,
    /// Multiply by `gamma` every `step_epochs` epochs.
    Step,
    /// Multiply by `gamma` at each of `milestones` (fractions of training, e.g. Dieleman et al.'s
    /// `[0.72, 0.92]`).
    Multistep,
    /// Cosine annealing from `lr` to `min_lr` over the whole run.
    Cosine,
    /// Multiply by `gamma` every epoch (smoothly, per step).
    Exponential,
}

/// `[schedule]`. Only the parameters of the chosen `kind` may be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `constant`, `step`, `multistep`, `cosine` or `exponential`.
    #[serde(default)]
    pub kind: ScheduleKind,
    /// Epochs between steps (step), >= 1.
    #[serde(default)]
    pub step_epochs: Option<usize>,
    /// Fractions of the run in (0, 1), increasing, where the rate drops (multistep).
    #[serde(default)]
    pub milestones: Option<Vec<f64>>,
    /// Factor per step (step, multistep; default 0.1) or per epoch (exponential; required).
    #[serde(default)]
    pub gamma: Option<f64>,
    /// Final learning rate (cosine; default 0).
    #[serde(default)]
    pub min_lr: Option<f64>,
}

fn bad(field: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::invalid(format!("schedule.{field}"), problem)
}

impl ScheduleConfig {
    /// Checks the parameters against `kind` and the optimiser's learning rate.
    pub fn validate(&self, lr: f64) -> Result<(), ConfigError> {
        use ScheduleKind::*;
        let owners: [(&str, bool, &[ScheduleKind]); 4] = [
            ("step_epochs", self.step_epochs.is_some(), &[Step]),
            ("milestones", self.milestones.is_some(), &[Multistep]),
            ("gamma", self.gamma.is_some(), &[Step, Multistep, Exponential]),
            ("min_lr", self.min_lr.is_some(), &[Cosine]),
        ];
        for (field, given, kinds) in owners {
            if given && !kinds.contains(&self.kind) {
                let kind = serde_json::to_string(&self.kind).unwrap_or_default();
                return Err(bad(field, format!("does not apply to kind = {kind}")));
            }
        }
        if let Some(g) = self.gamma
            && !(g > 0.0 && g <= 1.0)
        {
            return Err(bad("gamma", format!("must be in (0, 1], got {g}")));
        }
        match self.kind {
            Step if self.step_epochs.unwrap_or(0) == 0 => {
                return Err(bad("step_epochs", "is required by kind = \"step\" and must be at least 1"));
            }
            Multistep => {
                let m = self.milestones.as_deref().unwrap_or_default();
                if m.is_empty() || m.iter().any(|v| !(*v > 0.0 && *v < 1.0)) || m.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad("milestones", format!("must be increasing fractions in (0, 1), got {m:?}")));
                }
            }
            Exponential if self.gamma.is_none() => return Err(bad("gamma", "is required by kind = \"exponential\"")),
            Cosine | Exponential if lr > 1.0 => {
                return Err(bad(
                    "kind",
                    format!("{:?} needs optimizer.lr <= 1 (Burn's limit), got {lr}", self.kind).to_lowercase(),
                ));
            }
            Cosine if self.min_lr.is_some_and(|m| !(0.0..=lr).contains(&m)) => {
                return Err(bad("min_lr", format!("must be in [0, optimizer.lr = {lr:e}]")));
            }
            _ => {}
        }
        Ok(())
    }

    /// Burn's scheduler for a run of `epochs` epochs of `steps_per_epoch` optimiser steps
    /// (call [`validate`](Self::validate) first).
    pub fn build(&self, lr: f64, epochs: usize, steps_per_epoch: usize) -> ModuleLrScheduler {
        let steps_per_epoch = steps_per_epoch.max(1);
        let total = (epochs * steps_per_epoch).max(1);
        let gamma = self.gamma.unwrap_or(0.1);
        let built = match self.kind {
            ScheduleKind::Constant => Ok(ModuleLrScheduler::new(lr)),
            ScheduleKind::Step => {
                StepLrSchedulerConfig::new(lr, self.step_epochs.unwrap_or(1) * steps_per_epoch).with_gamma(gamma).init()
            }
            ScheduleKind::Multistep => {
                let steps = self.milestones.iter().flatten().map(|f| (f * total as f64).round() as usize).collect();
                Ok(ModuleLrScheduler::new(MultiStepLr { lr, gamma, milestones: steps, step: 0 }))
            }
            ScheduleKind::Cosine => {
                CosineAnnealingLrSchedulerConfig::new(lr, total).with_min_lr(self.min_lr.unwrap_or(0.0)).init()
            }
            ScheduleKind::Exponential => {
                ExponentialLrSchedulerConfig::new(lr, gamma.powf(1.0 / steps_per_epoch as f64)).init()
            }
        };
        // validate() has ruled out every setting Burn's constructors reject.
        built.unwrap_or_else(|e| panic!("schedule passed validation but Burn rejected it: {e}"))
    }
}

/// Multiply the rate by `gamma` at each milestone step (PyTorch's `MultiStepLR`).
#[derive(Debug, Clone)]
struct MultiStepLr {
    lr: f64,
    gamma: f64,
    milestones: Vec<usize>,
    step: usize,
}

impl LrScheduler for MultiStepLr {
    fn step(&mut self) -> LearningRate {
        let passed = self.milestones.iter().filter(|m| self.step >= **m).count();
        self.step += 1;
        self.lr * self.gamma.powi(passed as i32)
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(config: &ScheduleConfig, lr: f64, epochs: usize, steps: usize) -> Vec<f64> {
        let mut s = config.build(lr, epochs, steps);
        (0..epochs * steps).map(|_| s.step().base()).collect()
    }

    #[test]
    fn step_and_multistep_drop_where_asked() {
        let step = ScheduleConfig { kind: ScheduleKind::Step, step_epochs: Some(2), ..Default::default() };
        let r = rates(&step, 1.0, 4, 3);
        assert_eq!(r[5], 1.0);
        assert!((r[6] - 0.1).abs() < 1e-12);
        let multi =
            ScheduleConfig { kind: ScheduleKind::Multistep, milestones: Some(vec![0.5, 0.75]), ..Default::default() };
        let r = rates(&multi, 0.04, 4, 25);
        assert_eq!(r[49], 0.04);
        assert!((r[50] - 0.004).abs() < 1e-12 && (r[75] - 0.0004).abs() < 1e-12);
    }

    #[test]
    fn cosine_ends_at_min_lr_and_exponential_decays_per_epoch() {
        let cos = ScheduleConfig { kind: ScheduleKind::Cosine, min_lr: Some(0.01), ..Default::default() };
        let r = rates(&cos, 0.1, 2, 10);
        assert!((r[0] - 0.1).abs() < 1e-9, "{r:?}");
        assert!(r[19] < 0.02 && r[19] >= 0.01, "{r:?}");
        let exp = ScheduleConfig { kind: ScheduleKind::Exponential, gamma: Some(0.5), ..Default::default() };
        let r = rates(&exp, 0.1, 3, 4);
        assert!((r[4] - 0.05).abs() < 1e-9 && (r[8] - 0.025).abs() < 1e-9, "{r:?}");
    }

    #[test]
    fn parameters_of_another_kind_are_errors() {
        let c = ScheduleConfig { kind: ScheduleKind::Cosine, gamma: Some(0.5), ..Default::default() };
        assert_eq!(c.validate(0.1).unwrap_err().to_string(), "schedule.gamma: does not apply to kind = \"cosine\"");
        let c = ScheduleConfig { kind: ScheduleKind::Step, ..Default::default() };
        assert!(c.validate(0.1).unwrap_err().to_string().starts_with("schedule.step_epochs: is required"));
        let c =
            ScheduleConfig { kind: ScheduleKind::Multistep, milestones: Some(vec![0.9, 0.5]), ..Default::default() };
        assert!(c.validate(0.1).is_err());
    }
}
