//! `[gan]`: how the two networks of a GAN train against each other. The networks themselves are
//! `[model]` (`kind = "pix2pix"` or `"dcgan"`); epochs, batch size and workers are
//! `[training]`'s. Both players use Adam with the GAN literature's `beta1 = 0.5` (Radford et al.
//! 2016; Isola et al. 2017).

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

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
