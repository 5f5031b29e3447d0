//! `[gan]`: how the two networks of a GAN train against each other. The networks themselves are
//! `[model]` (`kind = "pix2pix"` or `"dcgan"`); epochs, batch size and workers are
//! `[training]`'s. Both players use Adam with the GAN literature's `beta1 = 0.5` (Radford et al.
//! 2016; Isola et al. 2017).

use serde::{Deserialize, Serialize};

use crate::config::optimizer::OptimizerConfig;
use crate::config::schedule::ScheduleConfig;
use crate::config::{ConfigError, ExperimentConfig, TrainingConfig};
use crate::evaluate::binary::EvaluationConfig;

fn default_d_steps() -> usize {
    1
}
fn default_l1_weight() -> f64 {
    100.0
}
fn default_lr() -> f64 {
    2e-4
}
fn default_beta1() -> f64 {
    0.5
}
fn default_sample_every() -> usize {
    200
}
fn default_samples() -> usize {
    16
}

/// `[gan]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanConfig {
    /// Discriminator updates per generator update, on the same batch (GalaxyGAN: 2).
    #[serde(default = "default_d_steps")]
    pub d_steps: usize,
    /// Weight of the L1 term in pix2pix's generator loss (the paper: 100; DCGAN: unused).
    #[serde(default = "default_l1_weight")]
    pub l1_weight: f64,
    /// Learning rate of both Adam optimisers (> 0).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Adam's first-moment decay, in [0, 1).
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// Save a grid of generated samples every this many generator updates.
    #[serde(default = "default_sample_every")]
    pub sample_every: usize,
    /// Images in each sample grid.
    #[serde(default = "default_samples")]
    pub samples: usize,
}

impl Default for GanConfig {
    fn default() -> Self {
        Self {
            d_steps: default_d_steps(),
            l1_weight: default_l1_weight(),
            lr: default_lr(),
            beta1: default_beta1(),
            sample_every: default_sample_every(),
            samples: default_samples(),
        }
    }
}

impl GanConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, problem: String| ConfigError::invalid(format!("gan.{field}"), problem);
        for (field, v) in [("d_steps", self.d_steps), ("sample_every", self.sample_every), ("samples", self.samples)] {
            if v == 0 {
                return Err(bad(field, "must be at least 1".into()));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(bad("lr", format!("must be positive, got {}", self.lr)));
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return Err(bad("beta1", format!("must be in [0, 1), got {}", self.beta1)));
        }
        if !(self.l1_weight.is_finite() && self.l1_weight >= 0.0) {
            return Err(bad("l1_weight", format!("must be zero or positive, got {}", self.l1_weight)));
        }
        Ok(())
    }
}

/// Refuses the settings of supervised training that a GAN run would not honour, each with the
/// reason, so that none is silently ignored. A GAN run honours `[training]` `epochs`,
/// `batch_size`, `workers`, `checkpoint_every` and `keep_checkpoints`, and `[gan]`.
pub fn refuse_unused_settings(config: &ExperimentConfig) -> Result<(), ConfigError> {
    let refuse = |field: &str, why: &str| Err(ConfigError::invalid(field, format!("does not apply to a GAN: {why}")));
    if config.optimizer != OptimizerConfig::default() {
        return refuse("optimizer", "both players use Adam with [gan] lr and beta1");
    }
    if config.schedule != ScheduleConfig::default() {
        return refuse("schedule", "both players train at the constant [gan] lr");
    }
    if config.augment.is_some() {
        return refuse("augment", "the GAN loop trains on the images as the data gives them");
    }
    if config.test_time.is_some() {
        return refuse("test_time", "a generator's output is not averaged over views");
    }
    if config.baseline.features != Vec::<String>::new() {
        return refuse("baseline", "a generator has no shallow baseline");
    }
    if config.features.is_some() {
        return refuse("features", "a generator reads images only, no catalogue columns");
    }
    if config.evaluation != EvaluationConfig::default() {
        return refuse("evaluation", "a GAN is scored by its own statistics (PSNR, SSIM, power spectrum)");
    }
    let t = &config.training;
    let defaults = TrainingConfig::default();
    let unused = [
        ("early_stopping_patience", t.early_stopping_patience != defaults.early_stopping_patience),
        ("early_stopping_min_delta", t.early_stopping_min_delta != defaults.early_stopping_min_delta),
        ("stratified", t.stratified),
        ("l1_penalty", t.l1_penalty != 0.0),
        ("l2_penalty", t.l2_penalty != 0.0),
        ("weigh_by_density", t.weigh_by_density.is_some()),
    ];
    if let Some((field, _)) = unused.iter().find(|(_, set)| *set) {
        return refuse(
            &format!("training.{field}"),
            "a GAN has no validation loss to stop on and no single loss to weigh or penalise; it trains for training.epochs",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse_config;

    const GALAXY_GAN: &str = include_str!("../../../../configs/galaxy_gan.toml");

    fn with(set: &str) -> String {
        let sets = [set.to_string()];
        parse_config(Path::new("galaxy_gan.toml"), GALAXY_GAN, &sets, false).unwrap_err().to_string()
    }

    #[test]
    fn settings_a_gan_run_would_ignore_are_refused_with_the_reason() {
        parse_config(Path::new("galaxy_gan.toml"), GALAXY_GAN, &[], false).unwrap();
        for (set, field, why) in [
            ("optimizer.lr=0.1", "optimizer", "[gan] lr and beta1"),
            ("schedule.kind=\"cosine\"", "schedule", "constant [gan] lr"),
            ("augment.flip=true", "augment", "as the data gives them"),
            ("test_time.rotations=4", "test_time", "not averaged"),
            ("evaluation.fpr=[0.1]", "evaluation", "its own statistics"),
            ("training.early_stopping_patience=5", "training.early_stopping_patience", "no validation loss"),
            ("training.stratified=true", "training.stratified", "training.epochs"),
            ("training.l2_penalty=0.001", "training.l2_penalty", "no single loss"),
            ("training.weigh_by_density=0.5", "training.weigh_by_density", "no single loss"),
            ("features.columns=[\"snr\"]", "features", "no catalogue columns"),
        ] {
            let error = with(set);
            assert!(
                error.contains(field) && error.contains("does not apply to a GAN") && error.contains(why),
                "{set}: {error}"
            );
        }
        // What a GAN run honours is accepted.
        for set in ["training.checkpoint_every=3", "training.keep_checkpoints=1", "training.workers=0"] {
            parse_config(Path::new("galaxy_gan.toml"), GALAXY_GAN, &[set.to_string()], false).unwrap();
        }
    }
}
