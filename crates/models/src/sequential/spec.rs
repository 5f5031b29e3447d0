//! Layer declarations of the sequential network and the shape each produces, checked before
//! any weight is allocated so that a bad network is an error naming the layer.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::shape::{FeatureShape, ShapeError};

/// Padding of a convolution or pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// No padding: the output shrinks by `kernel - 1` (Keras "valid").
    #[default]
    Valid,
    /// Pad so that stride 1 keeps the size (Keras "same").
    Same,
}

fn default_stride() -> usize {
    1
}

fn default_pool() -> usize {
    2
}

fn default_true() -> bool {
    true
}

/// One layer of a sequential network. Layers that take images or sequences (conv, pooling,
/// batch norm) work on both, choosing the 2-D or 1-D form from the shape that reaches them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// 2-D convolution over an image.
    Conv2d {
        /// Output channels.
        channels: usize,
        /// Square kernel side.
        kernel: usize,
        /// Stride.
        #[serde(default = "default_stride")]
        stride: usize,
        /// `valid` or `same`.
        #[serde(default)]
        padding: Padding,
        /// Add a learned bias.
        #[serde(default = "default_true")]
        bias: bool,
        /// Activation applied after the convolution.
        #[serde(default)]
        activation: Option<Activation>,
    },
    /// 1-D convolution over a sequence.
    Conv1d {
        /// Output channels.
        channels: usize,
        /// Kernel length.
        kernel: usize,
        /// Stride.
        #[serde(default = "default_stride")]
        stride: usize,
        /// `valid` or `same`.
        #[serde(default)]
        padding: Padding,
        /// Add a learned bias.
        #[serde(default = "default_true")]
        bias: bool,
        /// Activation applied after the convolution.
        #[serde(default)]
        activation: Option<Activation>,
    },
    /// Max pooling (2-D on images, 1-D on sequences).
    Maxpool {
        /// Window side.
        #[serde(default = "default_pool")]
        size: usize,
        /// Stride (default: the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Average pooling (2-D on images, 1-D on sequences).
    Avgpool {
        /// Window side.
        #[serde(default = "default_pool")]
        size: usize,
        /// Stride (default: the window side).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Mean over all spatial positions: `[C, H, W]` or `[C, L]` to `[C]`.
    GlobalAvgpool {},
    /// Max over all spatial positions: `[C, H, W]` or `[C, L]` to `[C]`.
    GlobalMaxpool {},
    /// Batch normalisation over channels (or features, on vectors).
    Batchnorm {
        /// Momentum of the running statistics.
        #[serde(default)]
        momentum: Option<f64>,
    },
    /// Instance normalisation: each sample's channels standardised over their own positions
    /// (zero mean, unit variance per image and band), with a learned scale and shift per channel
    /// when `affine`. As the first layer it makes the network blind to each image's brightness
    /// scale and offset per band, which differ between surveys' stretches.
    InstanceNorm {
        /// A learned scale and shift per channel after standardising.
        #[serde(default)]
        affine: bool,
    },
    /// Dropout (active only while training).
    Dropout {
        /// Probability of zeroing a value, in [0, 1).
        rate: f64,
    },
    /// Flattens a sample to a vector.
    Flatten {},
    /// Fully connected layer.
    Dense {
        /// Output features.
        units: usize,
        /// Add a learned bias.
        #[serde(default = "default_true")]
        bias: bool,
        /// Activation applied after the layer.
        #[serde(default)]
        activation: Option<Activation>,
    },
    /// An activation function on its own.
    Activation {
        /// Which function.
        name: Activation,
        /// Its parameter (leaky_relu slope, elu alpha, softplus beta).
        #[serde(default)]
        alpha: Option<f64>,
    },
}

/// The sequential network: its layers, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

/// Output length of a convolution or pooling window along one axis, or `None` if it does not fit.
fn window_output(input: usize, kernel: usize, stride: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Same => Some(input.div_ceil(stride)),
        Padding::Valid => (input >= kernel).then(|| (input - kernel) / stride + 1),
    }
}

impl LayerSpec {
    /// The layer's type as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Conv1d { .. } => "conv1d",
            LayerSpec::Maxpool { .. } => "maxpool",
            LayerSpec::Avgpool { .. } => "avgpool",
            LayerSpec::GlobalAvgpool {} => "global_avgpool",
            LayerSpec::GlobalMaxpool {} => "global_maxpool",
            LayerSpec::Batchnorm { .. } => "batchnorm",
            LayerSpec::InstanceNorm { .. } => "instance_norm",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Flatten {} => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Activation { .. } => "activation",
        }
    }

    /// The shape this layer produces from `input`, or why it cannot take it.
    pub fn output_shape(&self, index: usize, input: FeatureShape) -> Result<FeatureShape, ShapeError> {
        let fail = |problem: String| ShapeError::Layer { index, layer: self.type_name(), input, problem };
        let positive = |name: &str, v: usize| {
            if v == 0 { Err(fail(format!("`{name}` must be at least 1"))) } else { Ok(()) }
        };
        match (self, input) {
            (
                LayerSpec::Conv2d { channels, kernel, stride, padding, .. },
                FeatureShape::Image { height, width, .. },
            ) => {
                positive("channels", *channels)?;
                positive("kernel", *kernel)?;
                positive("stride", *stride)?;
                let too_big = || fail(format!("kernel {kernel} is larger than the {height}x{width} image"));
                let h = window_output(height, *kernel, *stride, *padding).ok_or_else(too_big)?;
                let w = window_output(width, *kernel, *stride, *padding).ok_or_else(too_big)?;
                Ok(FeatureShape::Image { channels: *channels, height: h, width: w })
            }
            (LayerSpec::Conv1d { channels, kernel, stride, padding, .. }, FeatureShape::Sequence { length, .. }) => {
                positive("channels", *channels)?;
                positive("kernel", *kernel)?;
                positive("stride", *stride)?;
                let l = window_output(length, *kernel, *stride, *padding)
                    .ok_or_else(|| fail(format!("kernel {kernel} is longer than the sequence ({length})")))?;
                Ok(FeatureShape::Sequence { channels: *channels, length: l })
            }
            (LayerSpec::Conv2d { .. }, _) => Err(fail("conv2d needs an image [channels, height, width]".into())),
            (LayerSpec::Conv1d { .. }, _) => Err(fail("conv1d needs a sequence [channels, length]".into())),
            (LayerSpec::Maxpool { size, stride } | LayerSpec::Avgpool { size, stride }, _) => {
                positive("size", *size)?;
                let stride = stride.unwrap_or(*size);
                positive("stride", stride)?;
                match input {
                    FeatureShape::Image { channels, height, width } => {
                        let too_big = || fail(format!("window {size} is larger than the {height}x{width} image"));
                        let h = window_output(height, *size, stride, Padding::Valid).ok_or_else(too_big)?;
                        let w = window_output(width, *size, stride, Padding::Valid).ok_or_else(too_big)?;
                        Ok(FeatureShape::Image { channels, height: h, width: w })
                    }
                    FeatureShape::Sequence { channels, length } => {
                        let l = window_output(length, *size, stride, Padding::Valid)
                            .ok_or_else(|| fail(format!("window {size} is longer than the sequence ({length})")))?;
                        Ok(FeatureShape::Sequence { channels, length: l })
                    }
                    FeatureShape::Vector(_) => Err(fail("pooling needs an image or a sequence, not a vector".into())),
                }
            }
            (LayerSpec::GlobalAvgpool {} | LayerSpec::GlobalMaxpool {}, FeatureShape::Vector(_)) => {
                Err(fail("global pooling needs an image or a sequence, not a vector".into()))
            }
            (LayerSpec::GlobalAvgpool {} | LayerSpec::GlobalMaxpool {}, _) => {
                Ok(FeatureShape::Vector(input.channels()))
            }
            (LayerSpec::Batchnorm { momentum }, _) => {
                if let Some(m) = momentum
                    && !(0.0..=1.0).contains(m)
                {
                    return Err(fail(format!("`momentum` must be in [0, 1], got {m}")));
                }
                Ok(input)
            }
            (LayerSpec::InstanceNorm { .. }, FeatureShape::Vector(_)) => {
                Err(fail("instance normalisation needs an image or a sequence, not a vector".into()))
            }
            (LayerSpec::InstanceNorm { .. }, _) => Ok(input),
            (LayerSpec::Dropout { rate }, _) => {
                if !(0.0..1.0).contains(rate) {
                    return Err(fail(format!("`rate` must be in [0, 1), got {rate}")));
                }
                Ok(input)
            }
            (LayerSpec::Flatten {}, _) => Ok(FeatureShape::Vector(input.numel())),
            (LayerSpec::Dense { units, .. }, FeatureShape::Vector(_)) => {
                positive("units", *units)?;
                Ok(FeatureShape::Vector(*units))
            }
            (LayerSpec::Dense { .. }, _) => {
                Err(fail("dense needs a vector: put a `flatten` or global pooling layer before it".into()))
            }
            (LayerSpec::Activation { .. }, _) => Ok(input),
        }
    }
}

impl SequentialConfig {
    /// The shape after every layer, checking each; the last is the network's output.
    pub fn shapes(&self, input: FeatureShape) -> Result<Vec<FeatureShape>, ShapeError> {
        if self.layers.is_empty() {
            return Err(ShapeError::Setting {
                field: "layers".into(),
                problem: "a sequential model needs at least one layer".into(),
            });
        }
        let mut shapes = Vec::with_capacity(self.layers.len());
        let mut shape = input;
        for (index, layer) in self.layers.iter().enumerate() {
            shape = layer.output_shape(index, shape)?;
            shapes.push(shape);
        }
        Ok(shapes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SequentialConfig, toml::de::Error> {
        toml::from_str(text)
    }

    const CNN: &str = r#"
        [[layers]]
        type = "conv2d"
        channels = 8
        kernel = 5
        activation = "relu"
        [[layers]]
        type = "maxpool"
        [[layers]]
        type = "conv2d"
        channels = 16
        kernel = 3
        padding = "same"
        [[layers]]
        type = "global_avgpool"
        [[layers]]
        type = "dense"
        units = 37
        activation = "sigmoid"
    "#;

    #[test]
    fn shapes_follow_keras_arithmetic() {
        let config = parse(CNN).expect("parses");
        let input = FeatureShape::Image { channels: 3, height: 32, width: 32 };
        let shapes = config.shapes(input).expect("fits");
        assert_eq!(shapes[0], FeatureShape::Image { channels: 8, height: 28, width: 28 });
        assert_eq!(shapes[1], FeatureShape::Image { channels: 8, height: 14, width: 14 });
        assert_eq!(shapes[2], FeatureShape::Image { channels: 16, height: 14, width: 14 });
        assert_eq!(shapes[3], FeatureShape::Vector(16));
        assert_eq!(shapes[4], FeatureShape::Vector(37));
    }

    #[test]
    fn a_kernel_larger_than_the_image_names_the_layer() {
        let config = parse(CNN).expect("parses");
        let input = FeatureShape::Image { channels: 3, height: 5, width: 5 };
        let err = config.shapes(input).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model.layers[1] (maxpool): window 2 is larger than the 1x1 image (its input is [8, 1, 1])"
        );
        let input = FeatureShape::Image { channels: 3, height: 4, width: 9 };
        let err = config.shapes(input).unwrap_err();
        assert!(
            err.to_string().starts_with("model.layers[0] (conv2d): kernel 5 is larger than the 4x9 image"),
            "{err}"
        );
    }

    #[test]
    fn dense_on_an_image_asks_for_flatten() {
        let config = parse("[[layers]]\ntype = \"dense\"\nunits = 4\n").expect("parses");
        let err = config.shapes(FeatureShape::Image { channels: 1, height: 4, width: 4 }).unwrap_err();
        assert!(err.to_string().contains("model.layers[0] (dense)"), "{err}");
        assert!(err.to_string().contains("flatten"), "{err}");
    }

    #[test]
    fn pooling_and_conv1d_work_on_sequences() {
        let text = "[[layers]]\ntype = \"conv1d\"\nchannels = 4\nkernel = 3\n[[layers]]\ntype = \"maxpool\"\n[[layers]]\ntype = \"flatten\"\n";
        let shapes = parse(text).unwrap().shapes(FeatureShape::Sequence { channels: 2, length: 11 }).unwrap();
        assert_eq!(shapes[1], FeatureShape::Sequence { channels: 4, length: 4 });
        assert_eq!(shapes[2], FeatureShape::Vector(16));
    }

    #[test]
    fn unknown_layer_fields_and_types_are_rejected() {
        let err = parse("[[layers]]\ntype = \"dense\"\nunits = 4\nunit = 3\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `unit`"), "{err}");
        let err = parse("[[layers]]\ntype = \"lstm2\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `lstm2`"), "{err}");
        let err = parse("[[layers]]\ntype = \"dropout\"\nrate = \"high\"\n").unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn out_of_range_settings_are_errors() {
        let config = parse("[[layers]]\ntype = \"dropout\"\nrate = 1.5\n").unwrap();
        let err = config.shapes(FeatureShape::Vector(3)).unwrap_err();
        assert!(err.to_string().contains("`rate` must be in [0, 1)"), "{err}");
        let empty = SequentialConfig { layers: vec![] };
        assert!(empty.shapes(FeatureShape::Vector(3)).is_err());
    }
}
