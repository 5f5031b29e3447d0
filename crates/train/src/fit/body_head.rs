//! The second head of `[features] body_loss_weight`: a dense layer on the body's output alone,
//! without the catalogue features, whose task loss (times the weight) training adds to the main
//! head's. Given features such as a period, the main head finds a shortcut early and the body
//! then learns the curve or image less; the second head keeps asking the body for everything
//! the input alone tells. It trains with the model and sits in the checkpoints; predictions,
//! `model.bpk`, `eval` and `predict` use the main head only.

use astro_data::ImageBatch;
use astro_models::Model;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::config::{ConfigError, ExperimentConfig};
use crate::error::RunError;
use crate::fit::supervised::{StepOutput, Supervised};

/// The second head for `model` (its `outputs` values from the body's output), built on
/// `device`; `None` when `[features] body_loss_weight` is absent or 0.
pub fn body_head(
    config: &ExperimentConfig,
    model: &Model,
    outputs: usize,
    device: &Device,
) -> Result<Option<Linear>, RunError> {
    let Some(features) = config.features.as_ref().filter(|f| f.body_loss_weight > 0.0) else {
        return Ok(None);
    };
    let width = model.feature_width(features.columns.len()).ok_or_else(|| {
        ConfigError::invalid(
            "features.body_loss_weight",
            format!("needs a model with a body before its head; {:?} has none", config.model.kind()),
        )
    })?;
    Ok(Some(LinearConfig::new(width, outputs).init(device)))
}

impl Supervised {
    /// The step's outputs (the main head's) and the loss to minimise, the main head's plus the
    /// second head's times its weight; `None` for a model without a second head.
    pub fn body_supervised_step(&self, batch: &ImageBatch) -> Option<(StepOutput, Tensor<1>)> {
        let head = self.body_head.as_ref()?;
        let side = self.standardised(batch.features.clone());
        let (features, output) = self.model.forward_split(batch.images.clone(), side)?;
        let item = self.step_output(batch, output);
        let body_only = self.task_loss(head.forward(features), &batch.targets);
        // Both heads' losses per sample, so that sample weights and penalties apply once.
        let per_sample = item.loss.clone() + body_only.mul_scalar(self.recipe.body_loss_weight);
        let loss = self.loss_to_minimise(&per_sample, &batch.targets);
        Some((item, loss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_data::Task;
    use astro_data::catalogue_features::FeatureScaling;
    use astro_models::{FeatureShape, ModelConfig};
    use burn::tensor::{Distribution, TensorData};

    fn values(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn the_loss_adds_the_body_heads_cross_entropy_times_its_weight() {
        let device = Device::flex();
        let config: ModelConfig = toml::from_str("kind = \"recurrent\"\nunits = [3]\ndropout = 0.0").unwrap();
        let shape = FeatureShape::Sequence { channels: 2, length: 4 };
        let model = config.init_with_side(shape, 2, 3, &device).unwrap();
        let width = model.feature_width(2).unwrap();
        let scaling = FeatureScaling { names: vec!["p".into(), "q".into()], mean: vec![0.0, 1.0], std: vec![2.0, 1.0] };
        let mut supervised = Supervised::new(model, Task::Classification).with_scaling(Some(scaling));
        supervised.body_head = Some(LinearConfig::new(width, 3).init(&device));
        supervised.recipe.body_loss_weight = 0.25;
        let values_in = Tensor::<4>::random([2, 1, 1, 4], Distribution::Default, &device);
        let images = Tensor::cat(vec![values_in, Tensor::ones([2, 1, 1, 4], &device)], 1);
        let features = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 0.0], [2, 2]), &device);
        let targets = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0], [2, 1]), &device);
        let batch = ImageBatch {
            ids: vec!["a".into(), "b".into()],
            images: images.clone(),
            targets: targets.clone(),
            features: Some(features.clone()),
            target_images: None,
        };
        let (item, loss) = supervised.body_supervised_step(&batch).unwrap();
        // The item is the main head's, as without the second head.
        let plain = supervised.forward_step(batch);
        assert_eq!(values(item.loss.clone().mean()), values(plain.loss.mean()));
        // By hand: log-softmax of the second head's logits on the final state, which the
        // features do not change.
        let state = supervised.model.forward_split(images, supervised.standardised(Some(features))).unwrap().0;
        let logits = supervised.body_head.as_ref().unwrap().forward(state).into_data().try_to_vec::<f32>().unwrap();
        let mut body = 0.0f64;
        for (row, class) in [(0usize, 2usize), (1, 0)] {
            let z: Vec<f64> = logits[row * 3..row * 3 + 3].iter().map(|v| f64::from(*v)).collect();
            body += z.iter().map(|v| v.exp()).sum::<f64>().ln() - z[class];
        }
        let expected = f64::from(values(item.loss.mean())) + 0.25 * body / 2.0;
        assert!((f64::from(values(loss)) - expected).abs() < 1e-5, "{expected}");
    }

    #[test]
    fn no_head_without_the_weight_and_one_of_the_outputs_with_it() {
        let device = Device::flex();
        let text = "[experiment]\nname = \"t\"\n[data]\nsource = \"simulated_light_curves\"\n\
                    [model]\nkind = \"recurrent\"\n[training]\nepochs = 1\n[features]\ncolumns = [\"period\"]\n";
        let mut config: ExperimentConfig = toml::from_str(text).unwrap();
        let model =
            config.model.init_with_side(FeatureShape::Sequence { channels: 3, length: 8 }, 1, 5, &device).unwrap();
        assert!(body_head(&config, &model, 5, &device).unwrap().is_none());
        config.features.as_mut().unwrap().body_loss_weight = 0.5;
        let head = body_head(&config, &model, 5, &device).unwrap().unwrap();
        // The paper's BiLSTM(32) gives a final state of 64.
        assert_eq!(head.weight.dims(), [64, 5]);
    }
}
