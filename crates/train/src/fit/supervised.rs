//! The model wrapped for Burn's `Learner`, with the loss of its task: mean squared error for
//! regression, cross-entropy for classification, or the model's own (the semantic autoencoder's
//! image-space loss). The loss is kept per sample, so that Burn's
//! epoch mean is the exact mean over all samples (for regression its square root is the RMSE
//! the papers report).

use astro_data::{ImageBatch, Task};
use astro_models::Model;
use burn::module::Module;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{ExecutionError, Int, Tensor};
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
}

/// One batch's outputs, as Burn's metrics read them.
pub struct StepOutput {
    /// Per-sample loss `[batch]`.
    pub loss: Tensor<1>,
    /// Raw outputs `[batch, outputs]`: values, or class logits.
    pub output: Tensor<2>,
    /// Targets `[batch, targets]`: values, or the class index in one column.
    pub targets: Tensor<2>,
}

impl Supervised {
    /// Raw outputs `[batch, outputs]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.forward(images)
    }

    /// What users read: the values (regression) or the class probabilities (classification).
    pub fn predict(&self, images: Tensor<4>) -> Tensor<2> {
        let output = self.forward(images);
        match self.task {
            Task::Regression | Task::Reconstruction => output,
            Task::Classification => softmax(output, 1),
        }
    }

    /// Outputs and the per-sample loss.
    pub fn forward_step(&self, batch: ImageBatch) -> StepOutput {
        let output = self.forward(batch.images.clone());
        let loss = self.model.own_loss(&batch.images, &output, &batch.targets).unwrap_or_else(|| match self.task {
            Task::Regression | Task::Reconstruction => {
                (output.clone() - batch.targets.clone()).square().mean_dim(1).flatten(0, 1)
            }
            Task::Classification => {
                let classes: Tensor<2, Int> = batch.targets.clone().int();
                -log_softmax(output.clone(), 1).gather(1, classes).flatten(0, 1)
            }
        });
        StepOutput { loss, output, targets: batch.targets }
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

impl TrainStep for Supervised {
    type Input = ImageBatch;
    type Output = StepOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<StepOutput> {
        let item = self.forward_step(batch);
        let grads = item.loss.clone().mean().backward();
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Supervised {
    type Input = ImageBatch;
    type Output = StepOutput;

    fn step(&self, batch: ImageBatch) -> StepOutput {
        self.forward_step(batch)
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
        Supervised { model: config.init(shape, outputs, &Device::flex()).unwrap(), task }
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let model = dense(Task::Classification, 3);
        let device = Device::flex();
        let images = Tensor::<4>::from_data(
            TensorData::new(vec![0.1f32, 0.2, 0.3, 0.4, -1.0, 0.5, 2.0, 0.0], [2, 1, 2, 2]),
            &device,
        );
        let logits = model.forward(images.clone()).into_data().try_to_vec::<f32>().unwrap();
        let targets = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0], [2, 1]), &device);
        let batch = ImageBatch { ids: vec!["a".into(), "b".into()], images, targets };
        let loss = model.forward_step(batch).loss.into_data().try_to_vec::<f32>().unwrap();
        for (row, class) in [(0, 2), (1, 0)] {
            let z = &logits[row * 3..row * 3 + 3];
            let log_sum = z.iter().map(|v| f64::from(*v).exp()).sum::<f64>().ln();
            let expected = log_sum - f64::from(z[class]);
            assert!((f64::from(loss[row]) - expected).abs() < 1e-5, "row {row}: {} vs {expected}", loss[row]);
        }
    }

    #[test]
    fn classification_predictions_are_probabilities_and_regression_raw() {
        let device = Device::flex();
        let images = Tensor::<4>::from_data(TensorData::new(vec![0.3f32, -0.2, 0.9, 0.1], [1, 1, 2, 2]), &device);
        let p = dense(Task::Classification, 3).predict(images.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5 && p.iter().all(|v| *v > 0.0), "{p:?}");
        let model = dense(Task::Regression, 3);
        let raw = model.forward(images.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(model.predict(images).into_data().try_to_vec::<f32>().unwrap(), raw);
    }
}
