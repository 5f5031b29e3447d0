//! The residual units: the basic block of ResNet-18/34 (He et al. 2016a, torchvision's
//! `BasicBlock`, with its field names) and the pre-activation bottleneck of He et al. 2016b
//! used by CMU DeepLens (Lanusse et al. 2018): BN and activation before each convolution.

use crate::batch_norm::normalise;
use crate::conv2d::conv2d;
use crate::rectifier::relu;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// The activation of a network's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitActivation {
    /// `max(0, x)`.
    Relu,
    /// `x` for positive `x`, `exp(x) - 1` otherwise (Clevert et al. 2016).
    Elu,
}

impl UnitActivation {
    /// Applies the activation.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            UnitActivation::Relu => relu(x),
            UnitActivation::Elu => crate::activation::elu(x, 1.0),
        }
    }
}

/// A `k x k` convolution without bias (a batch norm follows or precedes it), He-normal weights.
pub fn conv(channels: [usize; 2], kernel: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(kernel / 2, kernel / 2, kernel / 2, kernel / 2))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false })
        .init(device)
}

/// Batch normalisation over `channels` (Burn's defaults: momentum 0.1, epsilon 1e-5, as torch).
pub fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// The 1x1 projection of a basic block's shortcut: torchvision's `downsample` (conv, then BN).
#[derive(Module, Debug)]
pub struct Downsample {
    /// `downsample.0`.
    pub conv: Conv2d,
    /// `downsample.1`.
    pub bn: BatchNorm,
}

/// Two 3x3 convolutions with a shortcut: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// 3x3, stride of the block.
    pub conv1: Conv2d,
    /// After `conv1`.
    pub bn1: BatchNorm,
    /// 3x3.
    pub conv2: Conv2d,
    /// After `conv2`.
    pub bn2: BatchNorm,
    /// Projection when the shape changes.
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    /// A block from `input` to `output` channels with `stride`.
    pub fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || input != output)
            .then(|| Downsample { conv: conv([input, output], 1, stride, device), bn: batch_norm(output, device) });
        Self {
            conv1: conv([input, output], 3, stride, device),
            bn1: batch_norm(output, device),
            conv2: conv([output, output], 3, 1, device),
            bn2: batch_norm(output, device),
            downsample,
        }
    }

    /// `[batch, input, h, w]` -> `[batch, output, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => normalise(&d.bn, conv2d(&d.conv, x.clone())),
            None => x.clone(),
        };
        let y = relu(normalise(&self.bn1, conv2d(&self.conv1, x)));
        let y = normalise(&self.bn2, conv2d(&self.conv2, y));
        relu(y + shortcut)
    }
}

/// A pre-activation bottleneck: `conv3(act(bn3(conv2(act(bn2(conv1(act(bn1(x))))))))) +
/// shortcut`, with 1x1, 3x3 (the stride), 1x1 convolutions and a bottleneck a quarter of the
/// output width; the shortcut is `x`, or a strided 1x1 projection of `act(bn1(x))` when the
/// shape changes.
#[derive(Module, Debug)]
pub struct PreactBottleneck {
    /// Before `conv1`.
    pub bn1: BatchNorm,
    /// 1x1 to the bottleneck width.
    pub conv1: Conv2d,
    /// Before `conv2`.
    pub bn2: BatchNorm,
    /// 3x3 at the bottleneck width, stride of the unit.
    pub conv2: Conv2d,
    /// Before `conv3`.
    pub bn3: BatchNorm,
    /// 1x1 to the output width.
    pub conv3: Conv2d,
    /// Projection when the shape changes.
    pub shortcut: Option<Conv2d>,
    /// The activation (not a weight).
    #[module(skip)]
    pub activation: UnitActivation,
}

impl PreactBottleneck {
    /// A unit from `input` to `output` channels with `stride`.
    pub fn new(input: usize, output: usize, stride: usize, activation: UnitActivation, device: &Device) -> Self {
        let inner = (output / 4).max(1);
        let shortcut = (stride != 1 || input != output).then(|| conv([input, output], 1, stride, device));
        Self {
            bn1: batch_norm(input, device),
            conv1: conv([input, inner], 1, 1, device),
            bn2: batch_norm(inner, device),
            conv2: conv([inner, inner], 3, stride, device),
            bn3: batch_norm(inner, device),
            conv3: conv([inner, output], 1, 1, device),
            shortcut,
            activation,
        }
    }

    /// `[batch, input, h, w]` -> `[batch, output, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let act = self.activation;
        let pre = act.apply(normalise(&self.bn1, x.clone()));
        let shortcut = match &self.shortcut {
            Some(projection) => conv2d(projection, pre.clone()),
            None => x,
        };
        let y = conv2d(&self.conv1, pre);
        let y = conv2d(&self.conv2, act.apply(normalise(&self.bn2, y)));
        let y = conv2d(&self.conv3, act.apply(normalise(&self.bn3, y)));
        y + shortcut
    }
}

/// One residual unit of either kind.
#[derive(Module, Debug)]
#[allow(missing_docs)]
// Both kinds are about the same size (a few convolutions and norms); Burn's derive does not box.
#[allow(clippy::large_enum_variant)]
pub enum Unit {
    Basic(BasicBlock),
    PreactBottleneck(PreactBottleneck),
}

impl Unit {
    /// Runs the unit.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Unit::Basic(u) => u.forward(x),
            Unit::PreactBottleneck(u) => u.forward(x),
        }
    }
}
