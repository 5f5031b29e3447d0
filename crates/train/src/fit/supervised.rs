//! The model wrapped for Burn's `Learner`, with the loss of its task: mean squared error for
//! regression, cross-entropy for classification, or the model's own (the semantic autoencoder's
//! image-space loss). The loss is kept per sample, so that Burn's
//! epoch mean is the exact mean over all samples (for regression its square root is the RMSE
//! the papers report).
//!
//! The training step can add what [`LossRecipe`] asks: sample weights by inverse target density
//! ([`crate::fit::sample_weights`]), L1 / L2 penalties on the weight matrices, and the loss of a
//! second head on the body's output ([`crate::fit::body_head`]). The logged
//! per-sample loss stays the plain one, so that training and validation losses compare.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use astro_data::{ImageBatch, Task};
use astro_models::Model;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{ExecutionError, Int, Tensor, TensorData};

use crate::adapt::domain::DomainClassifier;
use crate::adapt::metrics::{DomainInput, DomainOutput};
use crate::adapt::step::AdaptationStep;
use crate::fit::sample_weights::DensityWeights;
use astro_data::catalogue_features::FeatureScaling;
use astro_models::pool_step::on_pool;
use burn::train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

/// A network and the task it is trained for.
#[derive(Module, Debug)]
pub struct Supervised {
    /// The network.
    pub model: Model,
    /// What its outputs mean (not a weight: not saved in checkpoints).
    #[module(skip)]
    pub task: Task,
    /// What the training step adds to the loss (not saved in checkpoints).
    #[module(skip)]
    pub recipe: LossRecipe,
    /// The training split's mean and spread of the catalogue features (`[features]`), which
    /// every batch's features are standardised with (saved in `model_io.json`, not in
    /// checkpoints).
    #[module(skip)]
    pub scaling: Option<Arc<FeatureScaling>>,
    /// Training batches stepped by each worker thread (shared by the copies each device's
    /// worker makes; not saved in checkpoints).
    #[module(skip)]
    pub batches: WorkerBatches,
    /// DANN's domain classifier (`[adaptation] method = "dann"`; saved in checkpoints, not in
    /// `model.bpk`).
    pub domain: Option<DomainClassifier>,
    /// What an adapted training step adds (not saved in checkpoints).
    #[module(skip)]
    pub adaptation: Option<AdaptationStep>,
    /// The second head on the body's output alone (`[features] body_loss_weight`; saved in
    /// checkpoints, not in `model.bpk`).
    pub body_head: Option<Linear>,
    /// Whether a training step runs as two overlapping half-batch steps
    /// ([`crate::fit::halves`]; not saved in checkpoints).
    #[module(skip)]
    pub halves: bool,
    /// What the training loss is multiplied by before the backward pass: 1 on one device,
    /// 1/devices in data-parallel training, whose rounds sum the devices' gradients (not saved
    /// in checkpoints).
    #[module(skip)]
    pub loss_share: f64,
}

/// Training batches per worker thread, in the order the threads first stepped one. Burn's
/// data-parallel strategy steps each device's batches on that device's own thread, and a
/// single device steps them on the training thread: one count per device either way.
#[derive(Debug, Clone, Default)]
pub struct WorkerBatches(Arc<Mutex<Vec<(ThreadId, usize)>>>);

impl WorkerBatches {
    /// Counts one batch for the calling thread.
    fn count(&self) {
        let Ok(mut counts) = self.0.lock() else { return };
        let me = std::thread::current().id();
        match counts.iter_mut().find(|(id, _)| *id == me) {
            Some((_, n)) => *n += 1,
            None => counts.push((me, 1)),
        }
    }

    /// The counts, one per thread that stepped a batch.
    pub fn counts(&self) -> Vec<usize> {
        self.0.lock().map(|c| c.iter().map(|(_, n)| *n).collect()).unwrap_or_default()
    }
}

/// Additions to the training loss.
#[derive(Debug, Clone, Default)]
pub struct LossRecipe {
    /// Times the sum of |w| over every weight of rank 2 or more (dense, convolution and
    /// recurrent input and state matrices; not biases or norm scales), as Keras' L1 kernel
    /// and recurrent regularisers.
    pub l1: f64,
    /// Times the sum of w^2 over the same weights.
    pub l2: f64,
    /// Per-sample weights from the (single regression) target.
    pub weights: Option<Arc<DensityWeights>>,
    /// Times the loss of the second head on the body's output alone (`[features]
    /// body_loss_weight`), when the model has that head.
    pub body_loss_weight: f64,
}

/// Sums |w| and w^2 over the float parameters of rank 2 or more, in the autodiff graph.
struct WeightNorms {
    l1: Option<Tensor<1>>,
    l2: Option<Tensor<1>>,
    want_l1: bool,
    want_l2: bool,
}

impl ModuleVisitor for WeightNorms {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        let w = param.val();
        let add = |sum: &mut Option<Tensor<1>>, term: Tensor<1>| {
            *sum = Some(match sum.take() {
                Some(s) => s + term,
                None => term,
            });
        };
        if self.want_l1 {
            add(&mut self.l1, w.clone().abs().sum());
        }
        if self.want_l2 {
            add(&mut self.l2, w.square().sum());
        }
    }
}

/// One batch's outputs, as Burn's metrics read them.
pub struct StepOutput {
    /// Per-sample loss `[batch]`.
    pub loss: Tensor<1>,
    /// Raw outputs `[batch, outputs]`: values, or class logits.
    pub output: Tensor<2>,
    /// Targets `[batch, targets]`: values, or the class index in one column.
    pub targets: Tensor<2>,
    /// The adaptation term and the domain classifier's answers (adapted training steps).
    pub domain: Option<DomainOutput>,
}

impl Supervised {
    /// `model` for `task`, with no additions to its loss.
    pub fn new(model: Model, task: Task) -> Self {
        Self {
            model,
            task,
            recipe: LossRecipe::default(),
            scaling: None,
            batches: WorkerBatches::default(),
            domain: None,
            adaptation: None,
            body_head: None,
            halves: false,
            loss_share: 1.0,
        }
    }

    /// The same model, standardising the catalogue features with `scaling`.
    pub fn with_scaling(self, scaling: Option<FeatureScaling>) -> Self {
        Self { scaling: scaling.map(Arc::new), ..self }
    }

    /// The loss the optimiser minimises for one batch: the per-sample losses, weighted when
    /// the recipe weighs samples, averaged, plus the weight penalties.
    pub fn training_loss(&self, item: &StepOutput) -> Tensor<1> {
        self.loss_to_minimise(&item.loss, &item.targets)
    }

    /// `loss` times this device's share of a data-parallel round ([`Self::loss_share`]).
    pub fn shared(&self, loss: Tensor<1>) -> Tensor<1> {
        if self.loss_share == 1.0 { loss } else { loss.mul_scalar(self.loss_share) }
    }

    /// As [`Self::training_loss`], for per-sample losses `per_sample` `[batch]` of a batch with
    /// `targets` (which the sample weights are read from).
    pub fn loss_to_minimise(&self, per_sample: &Tensor<1>, targets: &Tensor<2>) -> Tensor<1> {
        let loss = match &self.recipe.weights {
            Some(weights) => {
                let values = targets.clone().into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
                let k = targets.dims()[1].max(1);
                let w: Vec<f32> = values.chunks(k).map(|t| weights.weight(f64::from(t[0])) as f32).collect();
                let n = w.len();
                let w = Tensor::<1>::from_data(TensorData::new(w, [n]), &per_sample.device());
                (per_sample.clone() * w).mean()
            }
            None => per_sample.clone().mean(),
        };
        let (want_l1, want_l2) = (self.recipe.l1 > 0.0, self.recipe.l2 > 0.0);
        if !want_l1 && !want_l2 {
            return loss;
        }
        let mut norms = WeightNorms { l1: None, l2: None, want_l1, want_l2 };
        self.model.visit(&mut norms);
        let mut total = loss;
        if let Some(l1) = norms.l1 {
            total = total + l1.mul_scalar(self.recipe.l1);
        }
        if let Some(l2) = norms.l2 {
            total = total + l2.mul_scalar(self.recipe.l2);
        }
        total
    }

    /// Raw outputs `[batch, outputs]` for images `[batch, channels, height, width]` and their
    /// catalogue features `[batch, features]` (raw: standardised here), when the model takes
    /// them.
    pub fn forward(&self, images: Tensor<4>, features: Option<Tensor<2>>) -> Tensor<2> {
        self.model.forward_with_side(images, self.standardised(features))
    }

    /// Raw catalogue features `[batch, features]` standardised with the training split's
    /// statistics, when the model takes them.
    pub fn standardised(&self, features: Option<Tensor<2>>) -> Option<Tensor<2>> {
        match (&self.scaling, features) {
            (Some(scaling), Some(features)) => {
                let [batch, n] = features.dims();
                let device = features.device();
                let row = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, n]), &device);
                let (mean, std) = (row(&scaling.mean), row(&scaling.std));
                Some((features - mean.expand([batch, n])) / std.expand([batch, n]))
            }
            _ => None,
        }
    }

    /// What users read: the values (regression) or the class probabilities (classification);
    /// on a thread of rayon's pool on `flex` ([`on_pool`]).
    pub fn predict(&self, images: Tensor<4>, features: Option<Tensor<2>>) -> Tensor<2> {
        on_pool(&images.device(), || {
            let output = self.forward(images, features);
            match self.task {
                Task::Regression | Task::Reconstruction => output,
                Task::Classification => softmax(output, 1),
            }
        })
    }

    /// Outputs and the per-sample loss.
    pub fn forward_step(&self, batch: ImageBatch) -> StepOutput {
        let output = self.forward(batch.images.clone(), batch.features.clone());
        self.step_output(&batch, output)
    }

    /// The per-sample loss of `output`, the model's outputs for `batch`.
    pub fn step_output(&self, batch: &ImageBatch, output: Tensor<2>) -> StepOutput {
        let loss = self
            .model
            .own_loss(&batch.images, &output, &batch.targets)
            .unwrap_or_else(|| self.task_loss(output.clone(), &batch.targets));
        StepOutput { loss, output, targets: batch.targets.clone(), domain: None }
    }

    /// The task's per-sample loss `[batch]` of raw `output` against `targets`: squared error
    /// averaged over the outputs, or cross-entropy.
    pub fn task_loss(&self, output: Tensor<2>, targets: &Tensor<2>) -> Tensor<1> {
        match self.task {
            Task::Regression | Task::Reconstruction => (output - targets.clone()).square().mean_dim(1).flatten(0, 1),
            Task::Classification => {
                let classes: Tensor<2, Int> = targets.clone().int();
                -log_softmax(output, 1).gather(1, classes).flatten(0, 1)
            }
        }
    }
}

impl ItemLazy for StepOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        // As Burn's own outputs: no readback, only flush the stream and leave autodiff.
        self.loss.device().flush()?;
        Ok(StepOutput {
            loss: self.loss.without_autodiff(),
            output: self.output.without_autodiff(),
            targets: self.targets.without_autodiff(),
            domain: self.domain.map(|d| DomainOutput {
                loss: d.loss.without_autodiff(),
                correct: d.correct.map(|c| c.without_autodiff()),
            }),
        })
    }
}

impl Adaptor<LossInput> for StepOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<AccuracyInput> for StepOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.output.clone(), self.targets.clone().int().flatten(0, 1))
    }
}

impl Adaptor<DomainInput> for StepOutput {
    fn adapt(&self) -> DomainInput {
        DomainInput(self.domain.clone())
    }
}

impl TrainStep for Supervised {
    type Input = ImageBatch;
    type Output = StepOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<StepOutput> {
        self.batches.count();
        // On `flex`, on a thread of rayon's pool (`on_pool`: 1.03-1.13 times as fast a step).
        on_pool(&batch.images.device(), || {
            if let Some(output) = self.step_in_halves(&batch) {
                return output;
            }
            let (item, loss) =
                self.adapted_step(&batch).or_else(|| self.body_supervised_step(&batch)).unwrap_or_else(|| {
                    let item = self.forward_step(batch);
                    let loss = self.training_loss(&item);
                    (item, loss)
                });
            let grads = self.shared(loss).backward();
            TrainOutput::new(self, grads, item)
        })
    }
}

impl InferenceStep for Supervised {
    type Input = ImageBatch;
    type Output = StepOutput;

    fn step(&self, batch: ImageBatch) -> StepOutput {
        on_pool(&batch.images.device(), || self.forward_step(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_models::{FeatureShape, ModelConfig};
    use burn::tensor::{Device, TensorData};

    fn dense(task: Task, outputs: usize) -> Supervised {
        let config: ModelConfig = toml::from_str(
            "kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 3\n",
        )
        .unwrap();
        let shape = FeatureShape::Image { channels: 1, height: 2, width: 2 };
        Supervised::new(config.init(shape, outputs, &Device::flex()).unwrap(), task)
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let model = dense(Task::Classification, 3);
        let device = Device::flex();
        let images = Tensor::<4>::from_data(
            TensorData::new(vec![0.1f32, 0.2, 0.3, 0.4, -1.0, 0.5, 2.0, 0.0], [2, 1, 2, 2]),
            &device,
        );
        let logits = model.forward(images.clone(), None).into_data().try_to_vec::<f32>().unwrap();
        let targets = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0], [2, 1]), &device);
        let batch =
            ImageBatch { ids: vec!["a".into(), "b".into()], images, targets, features: None, target_images: None };
        let loss = model.forward_step(batch).loss.into_data().try_to_vec::<f32>().unwrap();
        for (row, class) in [(0, 2), (1, 0)] {
            let z = &logits[row * 3..row * 3 + 3];
            let log_sum = z.iter().map(|v| f64::from(*v).exp()).sum::<f64>().ln();
            let expected = log_sum - f64::from(z[class]);
            assert!((f64::from(loss[row]) - expected).abs() < 1e-5, "row {row}: {} vs {expected}", loss[row]);
        }
    }

    /// Every float parameter's rank, values and gradient.
    struct Gradients<'a> {
        grads: &'a burn::tensor::Gradients,
        out: Vec<(usize, Vec<f32>, Vec<f32>)>,
    }

    impl ModuleVisitor for Gradients<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let grad = value.grad(self.grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap()).unwrap_or_default();
            self.out.push((D, value.into_data().try_to_vec::<f32>().unwrap(), grad));
        }
    }

    fn gradients(model: &Supervised, batch: ImageBatch) -> Vec<(usize, Vec<f32>, Vec<f32>)> {
        let item = model.forward_step(batch);
        let grads = model.training_loss(&item).backward();
        let mut collect = Gradients { grads: &grads, out: Vec::new() };
        model.model.visit(&mut collect);
        collect.out
    }

    #[test]
    fn penalties_add_their_gradients_to_weight_matrices_only_and_weights_scale_samples() {
        let device = Device::flex().autodiff();
        let config: ModelConfig = toml::from_str(
            "kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 3\n",
        )
        .unwrap();
        let shape = FeatureShape::Image { channels: 1, height: 2, width: 2 };
        let mut model = Supervised::new(config.init(shape, 1, &device).unwrap(), Task::Regression);
        let images = Tensor::<4>::from_data(
            TensorData::new(vec![0.1f32, 0.2, 0.3, 0.4, -1.0, 0.5, 2.0, 0.0], [2, 1, 2, 2]),
            &device,
        );
        let targets = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [2, 1]), &device);
        let batch =
            ImageBatch { ids: vec!["a".into(), "b".into()], images, targets, features: None, target_images: None };
        let plain = gradients(&model, batch.clone());
        model.recipe = LossRecipe { l1: 0.5, l2: 0.25, ..LossRecipe::default() };
        let penalised = gradients(&model, batch.clone());
        assert!(plain.iter().any(|(d, ..)| *d == 1) && plain.iter().any(|(d, ..)| *d == 2));
        for ((rank, w, g0), (_, _, g1)) in plain.iter().zip(&penalised) {
            for ((w, g0), g1) in w.iter().zip(g0).zip(g1) {
                // d/dw (0.5 |w| + 0.25 w^2) = 0.5 sign(w) + 0.5 w, on matrices only.
                let extra = if *rank >= 2 { 0.5 * w.signum() + 0.5 * w } else { 0.0 };
                assert!((g1 - g0 - extra).abs() < 1e-5, "rank {rank}: {g1} vs {g0} + {extra}");
            }
        }
        // Sample weights: a weight of 1 on the first sample and ~0 on the second leaves the
        // first sample's gradient, halved by the batch mean.
        let weights = DensityWeights::fit(&[1.0, 1.0, 1.0, 1.0, -1.0], 1e-9).unwrap();
        assert!((weights.weight(1.0) - 0.01).abs() < 1e-9 && (weights.weight(-1.0) - 1.0).abs() < 1e-9);
        model.recipe = LossRecipe { weights: Some(Arc::new(weights)), ..LossRecipe::default() };
        let weighted = gradients(&model, batch.clone());
        let first = |i: usize| ImageBatch {
            ids: vec![batch.ids[i].clone()],
            images: batch.images.clone().narrow(0, i, 1),
            targets: batch.targets.clone().narrow(0, i, 1),
            features: None,
            target_images: None,
        };
        model.recipe = LossRecipe::default();
        let (only_a, only_b) = (gradients(&model, first(0)), gradients(&model, first(1)));
        for ((w, a), b) in weighted.iter().zip(&only_a).zip(&only_b) {
            for ((w, a), b) in w.2.iter().zip(&a.2).zip(&b.2) {
                let expected = (0.01 * a + 1.0 * b) / 2.0;
                assert!((w - expected).abs() < 1e-5, "{w} vs {expected}");
            }
        }
    }

    #[test]
    fn catalogue_features_are_standardised_with_the_saved_scaling_before_the_model_reads_them() {
        let device = Device::flex();
        let config: ModelConfig = toml::from_str("kind = \"recurrent\"\nunits = [3]\ndropout = 0.0").unwrap();
        let shape = FeatureShape::Sequence { channels: 2, length: 4 };
        let model = Supervised::new(config.init_with_side(shape, 2, 1, &device).unwrap(), Task::Regression);
        let scaling =
            FeatureScaling { names: vec!["a".into(), "b".into()], mean: vec![1.0, -2.0], std: vec![2.0, 0.5] };
        let model = model.with_scaling(Some(scaling));
        let curve = Tensor::<4>::from_data(
            TensorData::new(
                vec![0.1f32, 0.4, -0.2, 0.3, 1.0, 1.0, 1.0, 1.0, 0.0, 0.2, 0.1, 0.5, 1.0, 1.0, 1.0, 0.0],
                [2, 2, 1, 4],
            ),
            &device,
        );
        let raw = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, -1.0, 0.0, -2.5], [2, 2]), &device);
        let got = model.forward(curve.clone(), Some(raw)).into_data().try_to_vec::<f32>().unwrap();
        // (3 - 1) / 2, (-1 + 2) / 0.5; (0 - 1) / 2, (-2.5 + 2) / 0.5.
        let standard = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, -0.5, -1.0], [2, 2]), &device);
        let expected = model.model.forward_with_side(curve, Some(standard)).into_data().try_to_vec::<f32>().unwrap();
        assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6), "{got:?} vs {expected:?}");
    }

    #[test]
    fn classification_predictions_are_probabilities_and_regression_raw() {
        let device = Device::flex();
        let images = Tensor::<4>::from_data(TensorData::new(vec![0.3f32, -0.2, 0.9, 0.1], [1, 1, 2, 2]), &device);
        let p = dense(Task::Classification, 3).predict(images.clone(), None).into_data().try_to_vec::<f32>().unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5 && p.iter().all(|v| *v > 0.0), "{p:?}");
        let model = dense(Task::Regression, 3);
        let raw = model.forward(images.clone(), None).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(model.predict(images, None).into_data().try_to_vec::<f32>().unwrap(), raw);
    }
}
