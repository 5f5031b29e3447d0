//! Regression of image targets: the model wrapped for Burn's `Learner`, with a mean squared
//! error loss. The loss is kept per sample so that Burn's epoch mean is the exact MSE over all
//! samples, whose square root is the RMSE the papers report.

use astro_data::ImageBatch;
use astro_models::Model;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::train::{InferenceStep, RegressionOutput, TrainOutput, TrainStep};

/// A model trained to regress its targets with MSE.
#[derive(Module, Debug)]
pub struct Regressor {
    /// The network.
    pub model: Model,
}

impl Regressor {
    /// Predictions `[batch, targets]` for a batch of images `[batch, channels, height, width]`.
    pub fn predict(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.forward_images(images)
    }

    /// Predictions and the per-sample squared error (mean over targets).
    pub fn forward_regression(&self, batch: ImageBatch) -> RegressionOutput {
        let output = self.predict(batch.images);
        let per_sample = (output.clone() - batch.targets.clone()).square().mean_dim(1).flatten(0, 1); // [batch]
        RegressionOutput::new(per_sample, output, batch.targets)
    }
}

impl TrainStep for Regressor {
    type Input = ImageBatch;
    type Output = RegressionOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<RegressionOutput> {
        let item = self.forward_regression(batch);
        let grads = item.loss.clone().mean().backward();
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Regressor {
    type Input = ImageBatch;
    type Output = RegressionOutput;

    fn step(&self, batch: ImageBatch) -> RegressionOutput {
        self.forward_regression(batch)
    }
}
