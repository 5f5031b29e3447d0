//! The sequential network as a Burn module: one [`Layer`] per declared [`LayerSpec`].

use crate::batch_norm::normalise;
use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::pool::{
    AvgPool1d, AvgPool1dConfig, AvgPool2d, AvgPool2dConfig, MaxPool1d, MaxPool1dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, InstanceNorm, InstanceNormConfig, Linear, LinearConfig,
    PaddingConfig1d, PaddingConfig2d,
};
use burn::tensor::{Device, Tensor};

use super::spec::{LayerSpec, Padding, SequentialConfig};
use crate::activation::ActivationLayer;
use crate::conv2d::conv2d;
use crate::dropout::dropout;
use crate::max_pool_2x2::max_pool_2d;
use crate::shape::{FeatureShape, ShapeError};

/// Features between layers: images `[B, C, H, W]`, sequences `[B, C, L]`, vectors `[B, N]`.
#[derive(Debug, Clone)]
pub enum Features {
    /// `[batch, channels, height, width]`.
    Image(Tensor<4>),
    /// `[batch, channels, length]`.
    Sequence(Tensor<3>),
    /// `[batch, features]`.
    Vector(Tensor<2>),
}

/// Global pooling reduction.
#[derive(Module, Debug)]
pub struct GlobalPool {
    /// Max (true) or mean (false).
    pub max: bool,
}

/// Flattening to a vector.
#[derive(Module, Debug)]
pub struct Flatten {}

/// One built layer. Convolutions and pools exist in 1-D and 2-D forms, picked from the shape.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub enum Layer {
    Conv2d(Conv2d),
    Conv1d(Conv1d),
    MaxPool2d(MaxPool2d),
    MaxPool1d(MaxPool1d),
    AvgPool2d(AvgPool2d),
    AvgPool1d(AvgPool1d),
    GlobalPool(GlobalPool),
    BatchNorm(BatchNorm),
    InstanceNorm(InstanceNorm),
    Dropout(Dropout),
    Flatten(Flatten),
    Dense(Linear),
    Activation(ActivationLayer),
}

/// A network of layers applied in order.
#[derive(Module, Debug)]
pub struct Sequential {
    /// The layers, first to last (an activation declared on a conv or dense layer is its own
    /// entry right after it).
    pub layers: Vec<Layer>,
    /// Built for sequences, which arrive as `[batch, channels, 1, steps]` (see
    /// [`Sequential::forward_tensor`]).
    #[module(skip)]
    pub sequence_input: bool,
}

fn padding_2d(p: Padding) -> PaddingConfig2d {
    match p {
        Padding::Valid => PaddingConfig2d::Valid,
        Padding::Same => PaddingConfig2d::Same,
    }
}

fn padding_1d(p: Padding) -> PaddingConfig1d {
    match p {
        Padding::Valid => PaddingConfig1d::Valid,
        Padding::Same => PaddingConfig1d::Same,
    }
}

impl SequentialConfig {
    /// Builds the network for samples of shape `input`, checking every layer's shape first.
    pub fn init(&self, input: FeatureShape, device: &Device) -> Result<Sequential, ShapeError> {
        let shapes = self.shapes(input)?;
        let mut layers = Vec::with_capacity(self.layers.len() * 2);
        let mut shape = input;
        for (spec, next) in self.layers.iter().zip(shapes) {
            let channels_in = shape.channels();
            let image = matches!(shape, FeatureShape::Image { .. });
            match spec {
                LayerSpec::Conv2d { channels, kernel, stride, padding, bias, activation } => {
                    let conv = Conv2dConfig::new([channels_in, *channels], [*kernel, *kernel])
                        .with_stride([*stride, *stride])
                        .with_padding(padding_2d(*padding))
                        .with_bias(*bias)
                        .init(device);
                    layers.push(Layer::Conv2d(conv));
                    layers.extend(activation.map(|a| Layer::Activation(ActivationLayer::new(a, None))));
                }
                LayerSpec::Conv1d { channels, kernel, stride, padding, bias, activation } => {
                    let conv = Conv1dConfig::new(channels_in, *channels, *kernel)
                        .with_stride(*stride)
                        .with_padding(padding_1d(*padding))
                        .with_bias(*bias)
                        .init(device);
                    layers.push(Layer::Conv1d(conv));
                    layers.extend(activation.map(|a| Layer::Activation(ActivationLayer::new(a, None))));
                }
                LayerSpec::Maxpool { size, stride } => {
                    let stride = stride.unwrap_or(*size);
                    layers.push(if image {
                        Layer::MaxPool2d(MaxPool2dConfig::new([*size, *size]).with_strides([stride, stride]).init())
                    } else {
                        Layer::MaxPool1d(MaxPool1dConfig::new(*size).with_stride(stride).init())
                    });
                }
                LayerSpec::Avgpool { size, stride } => {
                    let stride = stride.unwrap_or(*size);
                    layers.push(if image {
                        Layer::AvgPool2d(AvgPool2dConfig::new([*size, *size]).with_strides([stride, stride]).init())
                    } else {
                        Layer::AvgPool1d(AvgPool1dConfig::new(*size).with_stride(stride).init())
                    });
                }
                LayerSpec::GlobalAvgpool {} => layers.push(Layer::GlobalPool(GlobalPool { max: false })),
                LayerSpec::GlobalMaxpool {} => layers.push(Layer::GlobalPool(GlobalPool { max: true })),
                LayerSpec::Batchnorm { momentum } => {
                    let mut config = BatchNormConfig::new(channels_in);
                    if let Some(m) = momentum {
                        config = config.with_momentum(*m);
                    }
                    layers.push(Layer::BatchNorm(config.init(device)));
                }
                LayerSpec::InstanceNorm { affine } => layers
                    .push(Layer::InstanceNorm(InstanceNormConfig::new(channels_in).with_affine(*affine).init(device))),
                LayerSpec::Dropout { rate } => layers.push(Layer::Dropout(DropoutConfig::new(*rate).init())),
                LayerSpec::Flatten {} => layers.push(Layer::Flatten(Flatten {})),
                LayerSpec::Dense { units, bias, activation } => {
                    let dense = LinearConfig::new(channels_in, *units).with_bias(*bias).init(device);
                    layers.push(Layer::Dense(dense));
                    layers.extend(activation.map(|a| Layer::Activation(ActivationLayer::new(a, None))));
                }
                LayerSpec::Activation { name, alpha } => {
                    layers.push(Layer::Activation(ActivationLayer::new(*name, *alpha)));
                }
            }
            shape = next;
        }
        Ok(Sequential { layers, sequence_input: matches!(input, FeatureShape::Sequence { .. }) })
    }
}

impl Layer {
    fn forward(&self, x: Features) -> Features {
        use Features::{Image, Sequence, Vector};
        match (self, x) {
            (Layer::Conv2d(m), Image(x)) => Image(conv2d(m, x)),
            (Layer::Conv1d(m), Sequence(x)) => Sequence(m.forward(x)),
            (Layer::MaxPool2d(m), Image(x)) => Image(max_pool_2d(m, x)),
            (Layer::MaxPool1d(m), Sequence(x)) => Sequence(m.forward(x)),
            (Layer::AvgPool2d(m), Image(x)) => Image(m.forward(x)),
            (Layer::AvgPool1d(m), Sequence(x)) => Sequence(m.forward(x)),
            (Layer::GlobalPool(p), Image(x)) => {
                let x = x.flatten::<3>(2, 3); // [B, C, H*W]
                Vector(if p.max { x.max_dim(2) } else { x.mean_dim(2) }.flatten(1, 2))
            }
            (Layer::GlobalPool(p), Sequence(x)) => {
                Vector(if p.max { x.max_dim(2) } else { x.mean_dim(2) }.flatten(1, 2))
            }
            (Layer::BatchNorm(m), Image(x)) => Image(normalise(m, x)),
            (Layer::BatchNorm(m), Sequence(x)) => Sequence(normalise(m, x)),
            (Layer::BatchNorm(m), Vector(x)) => Vector(normalise(m, x)),
            (Layer::InstanceNorm(m), Image(x)) => Image(m.forward(x)),
            (Layer::InstanceNorm(m), Sequence(x)) => Sequence(m.forward(x)),
            (Layer::Dropout(m), Image(x)) => Image(dropout(m, x)),
            (Layer::Dropout(m), Sequence(x)) => Sequence(dropout(m, x)),
            (Layer::Dropout(m), Vector(x)) => Vector(dropout(m, x)),
            (Layer::Flatten(_), Image(x)) => Vector(x.flatten(1, 3)),
            (Layer::Flatten(_), Sequence(x)) => Vector(x.flatten(1, 2)),
            (Layer::Flatten(_), Vector(x)) => Vector(x),
            (Layer::Dense(m), Vector(x)) => Vector(m.forward(x)),
            (Layer::Activation(a), Image(x)) => Image(a.forward(x)),
            (Layer::Activation(a), Sequence(x)) => Sequence(a.forward(x)),
            (Layer::Activation(a), Vector(x)) => Vector(a.forward(x)),
            // SequentialConfig::init checked every shape, so no other pairing can be built.
            (layer, x) => unreachable!("layer {layer:?} was built for another shape than {x:?}"),
        }
    }
}

impl Sequential {
    /// Runs on a batch as the data sources make it: images `[batch, channels, height, width]`,
    /// or sequences `[batch, channels, 1, steps]` for a network built for sequences.
    pub fn forward_tensor(&self, x: Tensor<4>) -> Tensor<2> {
        if self.sequence_input {
            let [batch, channels, _, steps] = x.dims();
            self.forward(Features::Sequence(x.reshape([batch, channels, steps])))
        } else {
            self.forward(Features::Image(x))
        }
    }

    /// Runs the layers in order on features of the shape the network was built for.
    ///
    /// # Shapes
    /// - input: images `[batch, channels, height, width]` or sequences `[batch, channels, length]`
    /// - output: `[batch, outputs]`
    pub fn forward(&self, input: Features) -> Tensor<2> {
        vector(self.layers.iter().fold(input, |x, layer| layer.forward(x)))
    }

    /// The place of the last dense layer: the layers before it are the body, it and those
    /// after it the head. `None` without a dense layer.
    pub fn head_start(&self) -> Option<usize> {
        self.layers.iter().rposition(|l| matches!(l, Layer::Dense(_)))
    }

    /// The features the last dense layer reads, and the output, for images
    /// `[batch, channels, height, width]` (or sequences as [`Self::forward_tensor`] takes them);
    /// `None` without a dense layer.
    ///
    /// # Shapes
    /// - output: (`[batch, features]`, `[batch, outputs]`)
    pub fn forward_split(&self, x: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        let start = self.head_start()?;
        let input = if self.sequence_input {
            let [batch, channels, _, steps] = x.dims();
            Features::Sequence(x.reshape([batch, channels, steps]))
        } else {
            Features::Image(x)
        };
        let body = vector(self.layers[..start].iter().fold(input, |x, layer| layer.forward(x)));
        let out = vector(self.layers[start..].iter().fold(Features::Vector(body.clone()), |x, layer| layer.forward(x)));
        Some((body, out))
    }

    /// The width of the features the last dense layer reads; `None` without a dense layer.
    pub fn feature_width(&self) -> Option<usize> {
        match &self.layers[self.head_start()?] {
            Layer::Dense(linear) => Some(linear.weight.dims()[0]),
            _ => None,
        }
    }
}

/// Features as one vector per sample.
fn vector(out: Features) -> Tensor<2> {
    match out {
        Features::Vector(x) => x,
        // A network whose last shape is not a vector fails its output check before init; a
        // dense layer's input is a vector by the same check.
        Features::Image(x) => x.flatten(1, 3),
        Features::Sequence(x) => x.flatten(1, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn forward_gives_the_inferred_shapes_and_counts_parameters() {
        let text = r#"
            [[layers]]
            type = "conv2d"
            channels = 4
            kernel = 3
            activation = "relu"
            [[layers]]
            type = "batchnorm"
            [[layers]]
            type = "maxpool"
            [[layers]]
            type = "dropout"
            rate = 0.25
            [[layers]]
            type = "flatten"
            [[layers]]
            type = "dense"
            units = 5
            activation = "sigmoid"
        "#;
        let config: SequentialConfig = toml::from_str(text).unwrap();
        let device = Device::flex();
        let input = FeatureShape::Image { channels: 3, height: 10, width: 10 };
        let net = config.init(input, &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 10, 10], Distribution::Default, &device);
        let y = net.forward(Features::Image(x));
        assert_eq!(y.dims(), [2, 5]);
        // conv 3*4*9 + 4; batchnorm gamma, beta and (Burn counts them) the running mean and
        // variance, 4 each; dense 4*4*4*5 + 5.
        assert_eq!(net.num_params(), 112 + 16 + 325);
        let v = y.into_data().try_to_vec::<f32>().unwrap();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }

    #[test]
    fn sequences_flow_through_conv1d_and_global_pooling() {
        let text = "[[layers]]\ntype = \"conv1d\"\nchannels = 6\nkernel = 3\npadding = \"same\"\n[[layers]]\ntype = \"global_maxpool\"\n[[layers]]\ntype = \"dense\"\nunits = 2\n";
        let config: SequentialConfig = toml::from_str(text).unwrap();
        let device = Device::flex();
        let net = config.init(FeatureShape::Sequence { channels: 2, length: 17 }, &device).unwrap();
        let x = Tensor::<3>::random([3, 2, 17], Distribution::Default, &device);
        assert_eq!(net.forward(Features::Sequence(x)).dims(), [3, 2]);
    }

    #[test]
    fn instance_norm_standardises_each_image_and_band_so_brightness_scale_does_not_matter() {
        let text = "[[layers]]\ntype = \"instance_norm\"\n[[layers]]\ntype = \"flatten\"\n";
        let config: SequentialConfig = toml::from_str(text).unwrap();
        let device = Device::flex();
        let net = config.init(FeatureShape::Image { channels: 2, height: 1, width: 4 }, &device).unwrap();
        assert_eq!(net.num_params(), 0, "no affine parameters unless asked");
        // Band 0: 1, 2, 3, 4 (mean 2.5, variance 1.25); band 1: the same times 10 plus 7.
        let x = Tensor::<4>::from_data(
            burn::tensor::TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 17.0, 27.0, 37.0, 47.0], [1, 2, 1, 4]),
            &device,
        );
        let y = net.forward(Features::Image(x)).into_data().try_to_vec::<f32>().unwrap();
        let z = |v: f64| (v - 2.5) / (1.25f64 + 1e-5).sqrt();
        let want: Vec<f64> = [1.0, 2.0, 3.0, 4.0].map(z).to_vec();
        for (band, values) in y.chunks(4).enumerate() {
            for (got, want) in values.iter().zip(&want) {
                // Band 1's variance is 100 x 1.25, so its epsilon matters 100 times less.
                assert!((f64::from(*got) - want).abs() < 1e-4, "band {band}: {got} vs {want}");
            }
        }
        let refused = config.init(FeatureShape::Vector(4), &device).unwrap_err().to_string();
        assert!(refused.contains("needs an image or a sequence"), "{refused}");
    }
}
