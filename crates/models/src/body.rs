//! The split of a network into its body (what turns an image or a curve into features) and its
//! head (what turns features, and any catalogue features, into outputs). Domain adaptation
//! needs it for image networks: it compares, or asks a domain classifier to tell apart, the
//! body's features of two data sets. `[features] body_loss_weight` needs it too: a second head
//! reads the body's output alone. Defined for the sequential CNN (the features the last dense
//! layer reads), Dieleman's network (the last dense layer's output), the residual networks (the
//! pooled features) and the recurrent networks (the last layer's final state).

use burn::tensor::Tensor;

use crate::model::{Model, ModelConfig};

impl ModelConfig {
    /// Whether the model has a body whose features domain adaptation can use; the error says
    /// why not.
    pub fn has_body(&self) -> Result<(), String> {
        match self {
            ModelConfig::Sequential { layers } => {
                if layers.iter().any(|l| l.type_name() == "dense") {
                    Ok(())
                } else {
                    Err("a \"sequential\" model needs a dense layer: its body is what comes before the last one".into())
                }
            }
            ModelConfig::Dieleman(_) | ModelConfig::Resnet(_) => Ok(()),
            other => Err(format!(
                "{:?} has no body of image features to adapt; the \"sequential\", \"dieleman\" and \"resnet\" models do",
                other.kind()
            )),
        }
    }
}

impl Model {
    /// The body's features and the output, for `input` and catalogue features `side` as
    /// [`Model::forward_with_side`] takes them; `None` for a model without a body.
    ///
    /// # Shapes
    /// - output: (`[batch, features]`, `[batch, outputs]`)
    pub fn forward_split(&self, input: Tensor<4>, side: Option<Tensor<2>>) -> Option<(Tensor<2>, Tensor<2>)> {
        match self {
            Model::Sequential(net) => net.forward_split(input),
            Model::Dieleman(net) => {
                let features = net.body(input);
                Some((features.clone(), net.head_of(features, side)))
            }
            Model::Resnet(net) => {
                let features = net.body(input);
                Some((features.clone(), net.head_of(features, side)))
            }
            Model::Recurrent(net) => {
                let features = net.body(input);
                Some((features.clone(), net.head_of(features, side)))
            }
            _ => None,
        }
    }

    /// The width of the body's features, for a model built to read `side` catalogue features
    /// beside them; `None` for a model without a body.
    pub fn feature_width(&self, side: usize) -> Option<usize> {
        let input_of = |linear: &burn::nn::Linear| linear.weight.dims()[0];
        match self {
            Model::Sequential(net) => net.feature_width(),
            Model::Dieleman(net) => Some(net.feature_width(side)),
            Model::Resnet(net) => Some(input_of(net.head.first().unwrap_or(&net.fc)) - side),
            Model::Recurrent(net) => Some(net.feature_width(side)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::FeatureShape;
    use burn::tensor::{Device, Distribution};

    fn check(text: &str, input: FeatureShape, width: usize) {
        let config: ModelConfig = toml::from_str(text).unwrap();
        assert!(config.has_body().is_ok());
        let device = Device::flex();
        let model = config.init(input, 2, &device).unwrap();
        assert_eq!(model.feature_width(0), Some(width), "{text}");
        let FeatureShape::Image { channels, height, width: w } = input else { unreachable!() };
        let images = Tensor::<4>::random([3, channels, height, w], Distribution::Default, &device);
        let (features, output) = model.forward_split(images.clone(), None).unwrap();
        assert_eq!(features.dims(), [3, width]);
        // The split network gives the whole network's output.
        let whole = model.forward(images).into_data().try_to_vec::<f32>().unwrap();
        let split = output.into_data().try_to_vec::<f32>().unwrap();
        assert!(whole.iter().zip(&split).all(|(a, b)| (a - b).abs() < 1e-6), "{whole:?} vs {split:?}");
    }

    #[test]
    fn each_image_network_splits_into_features_and_the_same_output() {
        let image = |c, s| FeatureShape::Image { channels: c, height: s, width: s };
        check(
            "kind = \"sequential\"\n[[layers]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\nactivation = \"relu\"\n\
             [[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 5\nactivation = \"relu\"\n\
             [[layers]]\ntype = \"dense\"\nunits = 2\n",
            image(1, 6),
            5,
        );
        check(
            "kind = \"resnet\"\npreset = \"resnet18\"\nstem_channels = 4\nwidths = [4, 6]\nunits = [1, 1]\nhead_units = [3]",
            image(2, 16),
            6,
        );
        check(
            "kind = \"dieleman\"\nview_size = 12\npart_size = 8\nconv_channels = [2]\nconv_kernels = [3]\n\
             pool_after = [true]\ndense_layers = 1\ndense_units = 4\nmaxout_pieces = 1\noutput = \"linear\"\ndropout = 0.0",
            image(3, 20),
            4,
        );
    }

    #[test]
    fn a_recurrent_network_splits_into_its_final_state_and_the_same_output_with_features() {
        let config: ModelConfig = toml::from_str("kind = \"recurrent\"\nunits = [3, 4]\ndropout = 0.0").unwrap();
        let device = Device::flex();
        let model = config.init_with_side(FeatureShape::Sequence { channels: 3, length: 5 }, 2, 2, &device).unwrap();
        // Bidirectional: the final state is twice the last layer's units.
        assert_eq!(model.feature_width(2), Some(8));
        let values = Tensor::<4>::random([3, 2, 1, 5], Distribution::Default, &device);
        let curves = Tensor::cat(vec![values, Tensor::ones([3, 1, 1, 5], &device)], 1);
        let side = Tensor::<2>::random([3, 2], Distribution::Default, &device);
        let (features, output) = model.forward_split(curves.clone(), Some(side.clone())).unwrap();
        assert_eq!(features.dims(), [3, 8]);
        let whole = model.forward_with_side(curves, Some(side)).into_data().try_to_vec::<f32>().unwrap();
        let split = output.into_data().try_to_vec::<f32>().unwrap();
        assert!(whole.iter().zip(&split).all(|(a, b)| (a - b).abs() < 1e-6), "{whole:?} vs {split:?}");
    }

    #[test]
    fn models_without_a_body_say_so() {
        let recurrent: ModelConfig = toml::from_str("kind = \"recurrent\"").unwrap();
        assert!(recurrent.has_body().unwrap_err().contains("\"recurrent\" has no body"));
        let pool_only: ModelConfig = toml::from_str("kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n").unwrap();
        assert!(pool_only.has_body().unwrap_err().contains("needs a dense layer"));
    }
}
