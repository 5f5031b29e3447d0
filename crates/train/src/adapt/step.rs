//! One adapted training step: the source and target images go through the body together (so
//! batch norms see both), the task's loss is taken on the source part, and the adaptation
//! terms on the features and the target predictions are added.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use astro_data::ImageBatch;
use burn::tensor::Tensor;

use crate::adapt::config::{AdaptationConfig, Method};
use crate::adapt::domain::domain_loss;
use crate::adapt::losses::{mean_entropy, mmd, reverse_gradient};
use crate::adapt::metrics::DomainOutput;
use crate::fit::supervised::{StepOutput, Supervised};

/// What the training step needs of `[adaptation]`, and where training is (for DANN's
/// lambda), shared by every copy of the model.
#[derive(Debug, Clone)]
pub struct AdaptationStep {
    /// The settings.
    pub config: Arc<AdaptationConfig>,
    /// Optimiser steps in the whole run (all stages).
    pub total_steps: usize,
    /// Steps taken so far (a resumed run starts at its checkpoint's).
    pub steps: Arc<AtomicUsize>,
}

impl AdaptationStep {
    /// `config` for a run of `total_steps` steps, `done` of them already taken.
    pub fn new(config: AdaptationConfig, total_steps: usize, done: usize) -> Self {
        Self { config: Arc::new(config), total_steps: total_steps.max(1), steps: Arc::new(AtomicUsize::new(done)) }
    }

    /// Lambda for the step about to be taken, counting it.
    fn next_lambda(&self) -> f64 {
        let step = self.steps.fetch_add(1, Ordering::SeqCst);
        self.config.lambda_at(step as f64 / self.total_steps as f64)
    }
}

impl Supervised {
    /// The adapted step's outputs and the loss to minimise, for a batch that carries target
    /// images; `None` when the model or the batch has no part in adaptation.
    pub fn adapted_step(&self, batch: &ImageBatch) -> Option<(StepOutput, Tensor<1>)> {
        let adaptation = self.adaptation.as_ref()?;
        let target = batch.target_images.clone()?;
        let c = &adaptation.config;
        let n = batch.images.dims()[0];
        let m = target.dims()[0];
        let both = Tensor::cat(vec![batch.images.clone(), target], 0);
        let (features, output) = self.model.forward_split(both, None)?;
        let source_output = output.clone().narrow(0, 0, n);
        let item = self.step_output(batch, source_output);
        let mut loss = self.training_loss(&item);
        let mut domain = None;
        match c.method {
            Method::None => {}
            Method::Mmd => {
                let term = mmd(features.clone().narrow(0, 0, n), features.narrow(0, n, m), &c.bandwidths);
                loss = loss + term.clone().mul_scalar(c.weight);
                domain = Some(DomainOutput { loss: term.detach(), correct: None });
            }
            Method::Dann => {
                let classifier = self.domain.as_ref()?;
                let logits = classifier.forward(reverse_gradient(features, adaptation.next_lambda()));
                let (term, correct) = domain_loss(logits, n, m);
                loss = loss + term.clone().mul_scalar(c.weight);
                domain = Some(DomainOutput { loss: term.detach(), correct: Some(correct) });
            }
        }
        if c.entropy_weight > 0.0 {
            loss = loss + mean_entropy(output.narrow(0, n, m)).mul_scalar(c.entropy_weight);
        }
        Some((StepOutput { domain, ..item }, loss))
    }
}
