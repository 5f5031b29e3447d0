//! The galaxy-morphology CNN of Dieleman, Willett & Dambre (2015, MNRAS 450, 1441), the winner of
//! the Kaggle Galaxy Zoo challenge: 16 rotated and flipped parts of each image ([`parts`])
//! through one shared conv stack, their features concatenated, maxout dense layers with dropout,
//! and the Galaxy Zoo output layer that makes the 37 answers obey the decision tree.
//!
//! With the paper's settings (the defaults here) the layer shapes are: parts 16 x [3, 45, 45];
//! conv 32@6x6 -> [32, 40, 40], pool -> [32, 20, 20]; conv 64@5x5 -> [64, 16, 16], pool ->
//! [64, 8, 8]; conv 128@3x3 -> [128, 6, 6]; conv 128@3x3 -> [128, 4, 4], pool -> [128, 2, 2];
//! concatenation 16 x 512 = 8192; dense 4096, maxout(2) -> 2048; dense 4096, maxout(2) -> 2048;
//! dense 37; about 42 million parameters (the paper's figure).

pub mod parts;

use std::sync::Arc;

use crate::rectifier::relu;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::conv2d::conv2d;
use crate::dropout::dropout;
use crate::galaxy_zoo_output::galaxy_zoo_output;
use crate::max_pool_2x2::max_pool_2d;
use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};
use parts::{NUM_PARTS, PartTaps};

/// What the last dense layer's outputs go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DielemanOutput {
    /// The Galaxy Zoo decision-tree layer (needs the 37 Galaxy Zoo 2 answers).
    GalaxyZoo,
    /// Independent sigmoids (any targets in [0, 1]).
    Sigmoid,
    /// No activation (regression of unbounded targets, or logits).
    Linear,
}

/// How the weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightInit {
    /// N(0, init_std), the paper's.
    Normal,
    /// He et al. (2015): N(0, 2 / fan_in), which keeps the signal's scale through ReLU layers
    /// and trains much faster from scratch.
    He,
}

fn default_init() -> WeightInit {
    WeightInit::Normal
}
fn default_view_size() -> usize {
    69
}
fn default_part_size() -> usize {
    45
}
fn default_conv_channels() -> Vec<usize> {
    vec![32, 64, 128, 128]
}
fn default_conv_kernels() -> Vec<usize> {
    vec![6, 5, 3, 3]
}
fn default_pool_after() -> Vec<bool> {
    vec![true, true, false, true]
}
fn default_dense_units() -> usize {
    2048
}
fn default_dense_layers() -> usize {
    2
}
fn default_maxout_pieces() -> usize {
    2
}
fn default_dropout() -> f64 {
    0.5
}
fn default_output() -> DielemanOutput {
    DielemanOutput::GalaxyZoo
}
fn default_init_std() -> f64 {
    0.01
}
fn default_init_bias() -> f64 {
    0.1
}

/// `[model] kind = "dieleman"`: every field defaults to the paper's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DielemanConfig {
    /// Side of each of the four views, pixels (69 in the paper).
    #[serde(default = "default_view_size")]
    pub view_size: usize,
    /// Side of each part, pixels (45).
    #[serde(default = "default_part_size")]
    pub part_size: usize,
    /// Output channels of each conv layer (32, 64, 128, 128).
    #[serde(default = "default_conv_channels")]
    pub conv_channels: Vec<usize>,
    /// Kernel side of each conv layer (6, 5, 3, 3; valid padding, stride 1, ReLU).
    #[serde(default = "default_conv_kernels")]
    pub conv_kernels: Vec<usize>,
    /// Whether a 2x2 max pool follows each conv layer (yes, yes, no, yes).
    #[serde(default = "default_pool_after")]
    pub pool_after: Vec<bool>,
    /// Units of each hidden dense layer after maxout (2048, from 4096 linear units).
    #[serde(default = "default_dense_units")]
    pub dense_units: usize,
    /// Number of hidden dense layers (2).
    #[serde(default = "default_dense_layers")]
    pub dense_layers: usize,
    /// Linear units pooled by each maxout unit (2; 1 means ReLU dense layers).
    #[serde(default = "default_maxout_pieces")]
    pub maxout_pieces: usize,
    /// Dropout rate on the input of every dense layer (0.5).
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// The output layer (`galaxy_zoo`).
    #[serde(default = "default_output")]
    pub output: DielemanOutput,
    /// Weight initialisation: `normal` (N(0, init_std), the paper's) or `he`.
    #[serde(default = "default_init")]
    pub init: WeightInit,
    /// Standard deviation of the `normal` weight initialisation (0.01).
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// Initial value of every bias (0.1).
    #[serde(default = "default_init_bias")]
    pub init_bias: f64,
}

impl Default for DielemanConfig {
    fn default() -> Self {
        Self {
            view_size: default_view_size(),
            part_size: default_part_size(),
            conv_channels: default_conv_channels(),
            conv_kernels: default_conv_kernels(),
            pool_after: default_pool_after(),
            dense_units: default_dense_units(),
            dense_layers: default_dense_layers(),
            maxout_pieces: default_maxout_pieces(),
            dropout: default_dropout(),
            output: default_output(),
            init: default_init(),
            init_std: default_init_std(),
            init_bias: default_init_bias(),
        }
    }
}

/// One conv layer of the shared stack, with its optional pool.
#[derive(Module, Debug)]
pub struct PartConv {
    conv: Conv2d,
    pool: Option<MaxPool2d>,
}

/// The built network.
#[derive(Module, Debug)]
pub struct Dieleman {
    #[module(skip)]
    taps: Arc<PartTaps>,
    convs: Vec<PartConv>,
    hidden: Vec<Linear>,
    head: Linear,
    dropout: Dropout,
    maxout_pieces: usize,
    #[module(skip)]
    output: DielemanOutput,
}

impl DielemanConfig {
    fn setting(field: &str, problem: String) -> ShapeError {
        ShapeError::Setting { field: field.to_string(), problem }
    }

    fn validate(&self, input: FeatureShape) -> Result<usize, ShapeError> {
        let FeatureShape::Image { height, width, .. } = input else {
            return Err(Self::setting("kind", format!("\"dieleman\" needs images, but the data gives {input}")));
        };
        if height != width {
            return Err(Self::setting("kind", format!("\"dieleman\" needs square images, got {input}")));
        }
        if self.view_size > height {
            return Err(Self::setting(
                "view_size",
                format!("{} is larger than the {height}-pixel input images", self.view_size),
            ));
        }
        if self.part_size == 0 || self.part_size > self.view_size {
            return Err(Self::setting(
                "part_size",
                format!("must be 1 to view_size ({}), got {}", self.view_size, self.part_size),
            ));
        }
        let n = self.conv_channels.len();
        if n == 0 || self.conv_kernels.len() != n || self.pool_after.len() != n {
            return Err(Self::setting(
                "conv_channels",
                format!(
                    "conv_channels, conv_kernels and pool_after must list one entry per conv layer (got {}, {} and {})",
                    n,
                    self.conv_kernels.len(),
                    self.pool_after.len()
                ),
            ));
        }
        if self.conv_channels.contains(&0) || self.conv_kernels.contains(&0) {
            return Err(Self::setting("conv_channels", "channels and kernels must be at least 1".to_string()));
        }
        if self.dense_units == 0 || self.maxout_pieces == 0 {
            return Err(Self::setting("dense_units", "dense_units and maxout_pieces must be at least 1".to_string()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Self::setting("dropout", format!("must be in [0, 1), got {}", self.dropout)));
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0 && self.init_bias.is_finite()) {
            return Err(Self::setting("init_std", format!("must be positive, got {}", self.init_std)));
        }
        Ok(height)
    }

    /// The shape after every stage, or the first setting that does not fit `input`.
    pub fn shapes(&self, input: FeatureShape, outputs: usize) -> Result<Vec<LayerShape>, ShapeError> {
        self.shapes_with_side(input, 0, outputs)
    }

    /// As [`Self::shapes`], with `side` catalogue features concatenated to the last dense
    /// layer's output before the output layer.
    pub fn shapes_with_side(
        &self,
        input: FeatureShape,
        catalogue: usize,
        outputs: usize,
    ) -> Result<Vec<LayerShape>, ShapeError> {
        self.validate(input)?;
        if self.output == DielemanOutput::GalaxyZoo && outputs != astro_survey::galaxy_zoo::NUM_ANSWERS {
            return Err(Self::setting(
                "output",
                format!("\"galaxy_zoo\" produces the 37 Galaxy Zoo 2 answers, but the task has {outputs} targets"),
            ));
        }
        let channels = input.channels();
        let mut side = self.part_size;
        let mut table = vec![LayerShape::new(
            format!("{NUM_PARTS} parts"),
            FeatureShape::Image { channels, height: side, width: side },
        )];
        for (i, ((&c, &k), &pool)) in
            self.conv_channels.iter().zip(&self.conv_kernels).zip(&self.pool_after).enumerate()
        {
            if k > side {
                return Err(Self::setting(
                    "conv_kernels",
                    format!("conv layer {i}: a {k}x{k} kernel does not fit the {side}x{side} features that reach it"),
                ));
            }
            side = side - k + 1;
            table.push(LayerShape::new(
                format!("conv {c}@{k}x{k}, relu"),
                FeatureShape::Image { channels: c, height: side, width: side },
            ));
            if pool {
                if side < 2 {
                    return Err(Self::setting(
                        "pool_after",
                        format!("conv layer {i}: nothing left to pool ({side}x{side})"),
                    ));
                }
                side /= 2;
                table.push(LayerShape::new(
                    "maxpool 2x2",
                    FeatureShape::Image { channels: c, height: side, width: side },
                ));
            }
        }
        let last = *self.conv_channels.last().expect("validated non-empty");
        let mut features = NUM_PARTS * last * side * side;
        table.push(LayerShape::new("concatenate parts", FeatureShape::Vector(features)));
        for _ in 0..self.dense_layers {
            let linear = self.dense_units * self.maxout_pieces;
            table.push(LayerShape::new(
                format!("dropout {}, dense {linear}", self.dropout),
                FeatureShape::Vector(linear),
            ));
            features = self.dense_units;
            let name =
                if self.maxout_pieces > 1 { format!("maxout({})", self.maxout_pieces) } else { "relu".to_string() };
            table.push(LayerShape::new(name, FeatureShape::Vector(features)));
        }
        if catalogue > 0 {
            table.push(LayerShape::new(
                format!("concatenate {catalogue} catalogue features"),
                FeatureShape::Vector(features + catalogue),
            ));
        }
        let output = match self.output {
            DielemanOutput::GalaxyZoo => "galaxy zoo tree",
            DielemanOutput::Sigmoid => "sigmoid",
            DielemanOutput::Linear => "linear",
        };
        table.push(LayerShape::new(
            format!("dropout {}, dense {outputs}, {output}", self.dropout),
            FeatureShape::Vector(outputs),
        ));
        Ok(table)
    }

    /// Builds the network with fresh weights (`init`) and biases `init_bias`.
    pub fn init(&self, input: FeatureShape, outputs: usize, device: &Device) -> Result<Dieleman, ShapeError> {
        self.init_with_side(input, 0, outputs, device)
    }

    /// Builds the network, its output layer reading the last dense layer and `side` catalogue
    /// features.
    pub fn init_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<Dieleman, ShapeError> {
        let input_size = self.validate(input)?;
        let shapes = self.shapes_with_side(input, side, outputs)?;
        let weights = match self.init {
            WeightInit::Normal => Initializer::Normal { mean: 0.0, std: self.init_std },
            WeightInit::He => Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false },
        };
        let bias = Initializer::Constant { value: self.init_bias };
        let mut channels = input.channels();
        let mut convs = Vec::new();
        for ((&c, &k), &pool) in self.conv_channels.iter().zip(&self.conv_kernels).zip(&self.pool_after) {
            let mut conv = Conv2dConfig::new([channels, c], [k, k]).with_initializer(weights.clone()).init(device);
            conv.bias = Some(bias.init([c], device));
            convs.push(PartConv { conv, pool: pool.then(|| MaxPool2dConfig::new([2, 2]).init()) });
            channels = c;
        }
        // The first vector in the table is the concatenation of the parts' features.
        let mut features = shapes
            .iter()
            .find_map(|row| match row.shape {
                FeatureShape::Vector(n) => Some(n),
                _ => None,
            })
            .expect("the table has the concatenation");
        let dense = |from: usize, to: usize| {
            let mut layer = LinearConfig::new(from, to).with_initializer(weights.clone()).init(device);
            layer.bias = Some(bias.init([to], device));
            layer
        };
        let mut hidden = Vec::new();
        for _ in 0..self.dense_layers {
            hidden.push(dense(features, self.dense_units * self.maxout_pieces));
            features = self.dense_units;
        }
        Ok(Dieleman {
            taps: Arc::new(PartTaps::new(input_size, self.view_size, self.part_size)),
            convs,
            hidden,
            head: dense(features + side, outputs),
            dropout: DropoutConfig::new(self.dropout).init(),
            maxout_pieces: self.maxout_pieces,
            output: self.output,
        })
    }
}

impl Dieleman {
    /// This network's trained layers under `other`'s output layer (dense weights and output
    /// mode), for transfer to another task.
    pub fn with_head_of(self, other: Dieleman) -> Dieleman {
        Dieleman { head: other.head, output: other.output, ..self }
    }

    /// Runs the network.
    ///
    /// # Shapes
    /// - images: `[batch, channels, size, size]`
    /// - output: `[batch, outputs]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_with_side(images, None)
    }

    /// As [`Self::forward`], with catalogue features `[batch, side]` concatenated to the last
    /// dense layer's output (after its dropout) before the output layer.
    pub fn forward_with_side(&self, images: Tensor<4>, side: Option<Tensor<2>>) -> Tensor<2> {
        self.head_of(self.body(images), side)
    }

    /// The conv stack's output for every part.
    ///
    /// # Shapes
    /// - images: `[batch, channels, size, size]`
    /// - output: `[batch * 16, channels, side, side]`, each image's 16 parts in a row
    fn part_features(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = self.taps.apply(images);
        for layer in &self.convs {
            x = conv2d(&layer.conv, x);
            // Pooling before ReLU gives ReLU-then-pool's values and gradients (ReLU keeps the
            // order of a window's values) and runs ReLU on a quarter of the values.
            if let Some(pool) = &layer.pool {
                x = max_pool_2d(pool, x);
            }
            x = relu(x);
        }
        x
    }

    /// The features the output layer reads: the last dense layer's output after its dropout.
    ///
    /// # Shapes
    /// - images: `[batch, channels, size, size]`
    /// - output: `[batch, dense_units]`
    pub fn body(&self, images: Tensor<4>) -> Tensor<2> {
        let batch = images.dims()[0];
        let x = self.part_features(images);
        // [batch * 16, C, H, W] -> [batch, 16 * C * H * W]: each image's parts side by side.
        let [_, c, h, w] = x.dims();
        let mut v: Tensor<2> = x.reshape([batch, NUM_PARTS * c * h * w]);
        for layer in &self.hidden {
            v = layer.forward(dropout(&self.dropout, v));
            v = if self.maxout_pieces > 1 { maxout(v, self.maxout_pieces) } else { relu(v) };
        }
        dropout(&self.dropout, v)
    }

    /// The width of [`Self::body`]'s features.
    pub fn feature_width(&self, side: usize) -> usize {
        self.head.weight.dims()[0] - side
    }

    /// The output layer on the body's features `[batch, dense_units]` and the catalogue
    /// features `[batch, side]`.
    pub fn head_of(&self, features: Tensor<2>, side: Option<Tensor<2>>) -> Tensor<2> {
        let raw = match side {
            Some(side) => self.head.forward(Tensor::cat(vec![features, side], 1)),
            None => self.head.forward(features),
        };
        match self.output {
            DielemanOutput::GalaxyZoo => galaxy_zoo_output(raw),
            DielemanOutput::Sigmoid => sigmoid(raw),
            DielemanOutput::Linear => raw,
        }
    }
}

/// The maximum over consecutive groups of `pieces` units (Goodfellow et al. 2013).
///
/// # Shapes
/// - x: `[batch, units * pieces]`
/// - output: `[batch, units]`
pub fn maxout(x: Tensor<2>, pieces: usize) -> Tensor<2> {
    let [batch, n] = x.dims();
    x.reshape([batch, n / pieces, pieces]).max_dim(2).reshape([batch, n / pieces])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn the_paper_network_has_its_layer_shapes_and_42_million_parameters() {
        let config = DielemanConfig::default();
        let input = FeatureShape::Image { channels: 3, height: 69, width: 69 };
        let shapes: Vec<String> = config.shapes(input, 37).unwrap().iter().map(|s| s.shape.to_string()).collect();
        let expected = [
            "[3, 45, 45]",
            "[32, 40, 40]",
            "[32, 20, 20]",
            "[64, 16, 16]",
            "[64, 8, 8]",
            "[128, 6, 6]",
            "[128, 4, 4]",
            "[128, 2, 2]",
            "[8192]",
            "[4096]",
            "[2048]",
            "[4096]",
            "[2048]",
            "[37]",
        ];
        assert_eq!(shapes, expected);
        let net = config.init(input, 37, &Device::flex()).unwrap();
        // Conv 3488 + 51264 + 73856 + 147584; dense 8192*4096+4096, 2048*4096+4096, 2048*37+37.
        let convs = 3 * 32 * 36 + 32 + 32 * 64 * 25 + 64 + 64 * 128 * 9 + 128 + 128 * 128 * 9 + 128;
        let dense = 8192 * 4096 + 4096 + 2048 * 4096 + 4096 + 2048 * 37 + 37;
        assert_eq!(net.num_params(), convs + dense);
        assert_eq!(net.num_params(), 42_303_237);
    }

    #[test]
    fn a_small_network_runs_forward_to_tree_consistent_answers() {
        let text = "view_size = 21\npart_size = 13\nconv_channels = [4, 8]\nconv_kernels = [3, 3]\npool_after = [true, false]\ndense_units = 16\n";
        let config: DielemanConfig = toml::from_str(text).unwrap();
        let device = Device::flex();
        let input = FeatureShape::Image { channels: 3, height: 30, width: 30 };
        let net = config.init(input, 37, &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 30, 30], Distribution::Default, &device);
        let y = net.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y.len(), 2 * 37);
        let first: [f64; 37] = std::array::from_fn(|i| y[i] as f64);
        assert!(astro_survey::galaxy_zoo::tree_violation(&first) < 1e-5);
    }

    #[test]
    fn catalogue_features_join_the_last_dense_layer_before_the_output_layer() {
        let text = "view_size = 21\npart_size = 13\nconv_channels = [4, 8]\nconv_kernels = [3, 3]\npool_after = [true, false]\ndense_units = 16\n";
        let config: DielemanConfig = toml::from_str(text).unwrap();
        let device = Device::flex();
        let input = FeatureShape::Image { channels: 3, height: 30, width: 30 };
        let table = config.shapes_with_side(input, 2, 37).unwrap();
        let row = &table[table.len() - 2];
        assert_eq!((row.name.as_str(), row.shape), ("concatenate 2 catalogue features", FeatureShape::Vector(18)));
        let net = config.init_with_side(input, 2, 37, &device).unwrap();
        assert_eq!(net.head.weight.dims(), [18, 37]);
        let x = Tensor::<4>::random([2, 3, 30, 30], Distribution::Default, &device);
        let y = net.forward_with_side(x, Some(Tensor::ones([2, 2], &device)));
        assert_eq!(y.dims(), [2, 37]);
    }

    #[test]
    fn settings_that_do_not_fit_name_the_field() {
        let input = FeatureShape::Image { channels: 3, height: 64, width: 64 };
        let config = DielemanConfig::default();
        let err = config.shapes(input, 37).unwrap_err().to_string();
        assert!(err.contains("model.view_size") && err.contains("64-pixel"), "{err}");
        let small = FeatureShape::Image { channels: 3, height: 80, width: 80 };
        let err = config.shapes(small, 10).unwrap_err().to_string();
        assert!(err.contains("model.output") && err.contains("10 targets"), "{err}");
        let config = DielemanConfig { conv_kernels: vec![6, 5, 3], ..DielemanConfig::default() };
        assert!(config.shapes(small, 37).unwrap_err().to_string().contains("one entry per conv layer"));
    }

    #[test]
    fn the_conv_stack_pools_before_relu_with_relu_then_pools_values_and_gradients() {
        let text = "view_size = 21\npart_size = 13\nconv_channels = [4, 8]\nconv_kernels = [3, 3]\npool_after = [true, true]\ndense_units = 16\ninit_bias = 0.0\n";
        let config: DielemanConfig = toml::from_str(text).unwrap();
        let device = Device::flex().autodiff();
        let input = FeatureShape::Image { channels: 3, height: 30, width: 30 };
        let net = config.init(input, 37, &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 30, 30], Distribution::Uniform(-1.0, 1.0), &device);
        // The paper's order, layer by layer: conv, ReLU, pool.
        let paper_order = |x: Tensor<4>| {
            let mut x = net.taps.apply(x);
            for layer in &net.convs {
                x = relu(layer.conv.forward(x));
                if let Some(pool) = &layer.pool {
                    x = pool.forward(x);
                }
            }
            x
        };
        let weights = |y: Tensor<4>| {
            let n = y.shape().num_elements();
            // A fixed weighting of the outputs, so that each gets its own gradient.
            Tensor::<1, burn::tensor::Int>::arange(0..n as i64, &device).float().reshape(y.shape()).cos()
        };
        let ours = net.part_features(x.clone());
        let reference = paper_order(x);
        assert_eq!(ours.dims(), [32, 8, 1, 1]);
        ours.clone().into_data().assert_approx_eq::<f32>(&reference.clone().into_data(), Tolerance::absolute(1e-5));
        let grads = (ours.clone() * weights(ours)).sum().backward();
        let reference_grads = (reference.clone() * weights(reference)).sum().backward();
        for layer in &net.convs {
            let w = &layer.conv.weight;
            let (got, want) = (w.grad(&grads).unwrap(), w.grad(&reference_grads).unwrap());
            assert!(want.clone().abs().max().into_scalar::<f32>() > 0.0, "the gradient is not all zeros");
            got.into_data().assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-4));
        }
    }

    #[test]
    fn maxout_takes_the_largest_of_each_group() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0, 3.0, -2.0, -5.0, 0.5, 0.25]], &device);
        let y = maxout(x, 2).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y, vec![3.0, -2.0, 0.5]);
    }
}
