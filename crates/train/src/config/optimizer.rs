//! `[optimizer]`: which optimiser, its learning rate and its parameters, built into Burn's
//! optimisers. Parameters default to PyTorch's values so that a paper's recipe reads the same.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdaGradConfig, AdamWConfig, ModuleOptimizer, RmsPropConfig, SgdConfig};
use serde::{Deserialize, Serialize};

use super::load::ConfigError;
use crate::fit::fused_adam::FusedAdam;

/// The optimisers Burn provides that the experiments use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional (Nesterov) momentum.
    Sgd,
    /// Adam (Kingma & Ba 2015).
    #[default]
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019).
    Adamw,
    /// RMSprop (Hinton 2012).
    Rmsprop,
    /// AdaGrad (Duchi et al. 2011).
    Adagrad,
    /// Adadelta (Zeiler 2012): PyTorch's form; `lr` 1 is the original method.
    Adadelta,
}

/// `[optimizer]`. Only the parameters of the chosen `kind` may be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `sgd`, `adam`, `adamw`, `rmsprop`, `adagrad` or `adadelta`.
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Initial learning rate (> 0); the schedule scales it.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// L2 penalty (sgd, adam, rmsprop, adagrad, adadelta) or decoupled decay (adamw), >= 0.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// Momentum in [0, 1) (sgd, rmsprop).
    #[serde(default)]
    pub momentum: Option<f64>,
    /// Nesterov momentum (sgd; needs momentum > 0).
    #[serde(default)]
    pub nesterov: Option<bool>,
    /// First-moment decay in [0, 1) (adam, adamw). Default 0.9.
    #[serde(default)]
    pub beta1: Option<f64>,
    /// Second-moment decay in [0, 1) (adam, adamw). Default 0.999.
    #[serde(default)]
    pub beta2: Option<f64>,
    /// Smoothing decay of the squared gradient in [0, 1) (rmsprop). Default 0.99.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Decay of the running means in [0, 1) (adadelta). Default 0.9.
    #[serde(default)]
    pub rho: Option<f64>,
    /// Numerical-stability term (> 0). Default 1e-8 (adagrad 1e-10, adadelta 1e-6).
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// Clip the gradient's norm to this value (> 0), per parameter tensor.
    #[serde(default)]
    pub grad_clip_norm: Option<f64>,
    /// Clip every gradient component to [-v, v] (> 0).
    #[serde(default)]
    pub grad_clip_value: Option<f64>,
}

fn default_lr() -> f64 {
    1e-3
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            lr: default_lr(),
            weight_decay: None,
            momentum: None,
            nesterov: None,
            beta1: None,
            beta2: None,
            alpha: None,
            rho: None,
            epsilon: None,
            grad_clip_norm: None,
            grad_clip_value: None,
        }
    }
}

fn bad(field: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::invalid(format!("optimizer.{field}"), problem)
}

fn in_unit(field: &str, v: Option<f64>) -> Result<(), ConfigError> {
    match v {
        Some(v) if !(0.0..1.0).contains(&v) => Err(bad(field, format!("must be in [0, 1), got {v}"))),
        _ => Ok(()),
    }
}

fn positive(field: &str, v: Option<f64>) -> Result<(), ConfigError> {
    match v {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(bad(field, format!("must be positive, got {v}"))),
        _ => Ok(()),
    }
}

impl OptimizerConfig {
    /// Checks ranges and that every given parameter belongs to `kind`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use OptimizerKind::*;
        positive("lr", Some(self.lr))?;
        if let Some(w) = self.weight_decay
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(bad("weight_decay", format!("must be zero or positive, got {w}")));
        }
        in_unit("momentum", self.momentum)?;
        in_unit("beta1", self.beta1)?;
        in_unit("beta2", self.beta2)?;
        in_unit("alpha", self.alpha)?;
        in_unit("rho", self.rho)?;
        positive("epsilon", self.epsilon)?;
        positive("grad_clip_norm", self.grad_clip_norm)?;
        positive("grad_clip_value", self.grad_clip_value)?;
        let owners: [(&str, bool, &[OptimizerKind]); 7] = [
            ("momentum", self.momentum.is_some(), &[Sgd, Rmsprop]),
            ("nesterov", self.nesterov.is_some(), &[Sgd]),
            ("beta1", self.beta1.is_some(), &[Adam, Adamw]),
            ("beta2", self.beta2.is_some(), &[Adam, Adamw]),
            ("alpha", self.alpha.is_some(), &[Rmsprop]),
            ("rho", self.rho.is_some(), &[Adadelta]),
            ("epsilon", self.epsilon.is_some(), &[Adam, Adamw, Rmsprop, Adagrad, Adadelta]),
        ];
        for (field, given, kinds) in owners {
            if given && !kinds.contains(&self.kind) {
                let kind = serde_json::to_string(&self.kind).unwrap_or_default();
                return Err(bad(field, format!("does not apply to kind = {kind}")));
            }
        }
        if self.nesterov == Some(true) && self.momentum.unwrap_or(0.0) == 0.0 {
            return Err(bad("nesterov", "needs momentum > 0"));
        }
        if self.grad_clip_norm.is_some() && self.grad_clip_value.is_some() {
            return Err(bad("grad_clip_norm", "and grad_clip_value cannot both be set"));
        }
        Ok(())
    }

    fn clipping(&self) -> Option<GradientClippingConfig> {
        self.grad_clip_norm
            .map(|v| GradientClippingConfig::Norm(v as f32))
            .or(self.grad_clip_value.map(|v| GradientClippingConfig::Value(v as f32)))
    }

    /// `optim` with this config's gradient clipping, if any (for the optimisers built here rather
    /// than from Burn's configs, which take it themselves).
    fn clipped(&self, optim: ModuleOptimizer) -> ModuleOptimizer {
        match self.clipping() {
            Some(clip) => optim.with_grad_clipping(clip.init()),
            None => optim,
        }
    }

    /// Burn's optimiser for this config (call [`validate`](Self::validate) first).
    pub fn build(&self) -> ModuleOptimizer {
        let decay = self.weight_decay.filter(|w| *w > 0.0).map(|w| WeightDecayConfig::new(w as f32));
        let eps = |default: f64| self.epsilon.unwrap_or(default) as f32;
        match self.kind {
            OptimizerKind::Sgd => {
                // PyTorch's SGD: no dampening, so Nesterov is the textbook form.
                let momentum = self.momentum.filter(|m| *m > 0.0).map(|m| {
                    MomentumConfig::new()
                        .with_momentum(m)
                        .with_dampening(0.0)
                        .with_nesterov(self.nesterov.unwrap_or(false))
                });
                SgdConfig::new()
                    .with_weight_decay(decay)
                    .with_momentum(momentum)
                    .with_gradient_clipping(self.clipping())
                    .init()
            }
            OptimizerKind::Adam => {
                // Burn's Adam, its update one pass on rayon's threads on `flex`.
                let penalty = self.weight_decay.filter(|w| *w > 0.0).map(|w| w as f32);
                let beta = |b: Option<f64>, default: f64| b.unwrap_or(default) as f32;
                self.clipped(FusedAdam::new(beta(self.beta1, 0.9), beta(self.beta2, 0.999), eps(1e-8), penalty).init())
            }
            OptimizerKind::Adamw => AdamWConfig::new()
                .with_beta_1(self.beta1.unwrap_or(0.9) as f32)
                .with_beta_2(self.beta2.unwrap_or(0.999) as f32)
                .with_epsilon(eps(1e-8))
                .with_weight_decay(self.weight_decay.unwrap_or(0.01) as f32)
                .with_grad_clipping(self.clipping())
                .init(),
            OptimizerKind::Rmsprop => RmsPropConfig::new()
                .with_alpha(self.alpha.unwrap_or(0.99) as f32)
                .with_momentum(self.momentum.unwrap_or(0.0) as f32)
                .with_epsilon(eps(1e-8))
                .with_weight_decay(decay)
                .with_grad_clipping(self.clipping())
                .init(),
            OptimizerKind::Adagrad => AdaGradConfig::new()
                .with_epsilon(eps(1e-10))
                .with_weight_decay(decay)
                .with_grad_clipping(self.clipping())
                .init(),
            OptimizerKind::Adadelta => {
                let adadelta = crate::fit::adadelta::Adadelta {
                    rho: self.rho.unwrap_or(0.9),
                    epsilon: self.epsilon.unwrap_or(1e-6),
                    weight_decay: self.weight_decay.unwrap_or(0.0),
                };
                self.clipped(adadelta.init())
            }
        }
    }
}
