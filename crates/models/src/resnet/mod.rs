//! Residual networks: CMU DeepLens (Lanusse et al. 2018, MNRAS 473, 3895), the pre-activation
//! bottleneck ResNet of the strong-lens challenge, and the standard ResNet-18 and ResNet-34
//! (He et al. 2016) as presets of the same code, with torchvision's layer names (`conv1`,
//! `bn1`, `layers[i][j].conv1`, `downsample`, `fc`) so that weights can be mapped by name.
//!
//! - `deeplens`: 7x7 conv 32, BN, ELU; 5 stages of 3 pre-activation bottleneck units of widths
//!   32, 64, 128, 256, 512 (bottleneck a quarter), stages 2-5 starting with stride 2, 1x1
//!   projection shortcuts where the shape changes; BN, ELU, global average pool, dense.
//! - `resnet18` / `resnet34`: 7x7/2 conv 64, BN, ReLU, 3x3/2 max pool; basic blocks
//!   [2, 2, 2, 2] / [3, 4, 6, 3] of widths 64, 128, 256, 512; global average pool, dense.
//!
//! `widths`, `units` and `stem_channels` override a preset's (to size a network for a CPU).
//! `head_units` puts dense ReLU layers between the pool and the output layer: `[1024]` is the
//! head Ackermann et al. (2018) put on a pretrained network for merger finding.

pub mod units;

use crate::batch_norm::normalise;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};
use units::{BasicBlock, PreactBottleneck, Unit, UnitActivation, batch_norm, conv};

/// The named architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResNetPreset {
    /// Lanusse et al. 2018.
    Deeplens,
    /// He et al. 2016, 18 layers.
    Resnet18,
    /// He et al. 2016, 34 layers.
    Resnet34,
}

/// `[model]` with `kind = "resnet"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    /// The architecture.
    pub preset: ResNetPreset,
    /// Output channels of each stage (default: the preset's).
    #[serde(default)]
    pub widths: Option<Vec<usize>>,
    /// Units in each stage (default: the preset's).
    #[serde(default)]
    pub units: Option<Vec<usize>>,
    /// Channels of the stem convolution (default: the preset's).
    #[serde(default)]
    pub stem_channels: Option<usize>,
    /// Widths of dense ReLU layers between the global pool and the output layer (none by
    /// default; Ackermann et al. 2018: `[1024]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_units: Vec<usize>,
}

/// A preset with its overrides applied.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    bottleneck: bool,
    stem_channels: usize,
    stem_stride: usize,
    stem_pool: bool,
    widths: Vec<usize>,
    units: Vec<usize>,
    activation: UnitActivation,
}

impl ResNetConfig {
    fn spec(&self) -> Result<Spec, ShapeError> {
        let mut spec = match self.preset {
            ResNetPreset::Deeplens => Spec {
                bottleneck: true,
                stem_channels: 32,
                stem_stride: 1,
                stem_pool: false,
                widths: vec![32, 64, 128, 256, 512],
                units: vec![3; 5],
                activation: UnitActivation::Elu,
            },
            ResNetPreset::Resnet18 | ResNetPreset::Resnet34 => Spec {
                bottleneck: false,
                stem_channels: 64,
                stem_stride: 2,
                stem_pool: true,
                widths: vec![64, 128, 256, 512],
                units: if self.preset == ResNetPreset::Resnet18 { vec![2; 4] } else { vec![3, 4, 6, 3] },
                activation: UnitActivation::Relu,
            },
        };
        if let Some(w) = &self.widths {
            spec.widths = w.clone();
        }
        if let Some(u) = &self.units {
            spec.units = u.clone();
        }
        if let Some(c) = self.stem_channels {
            spec.stem_channels = c;
        }
        let setting = |field: &str, problem: String| ShapeError::Setting { field: field.into(), problem };
        if spec.widths.is_empty() || spec.widths.len() != spec.units.len() {
            return Err(setting(
                "widths",
                format!(
                    "widths and units must list one entry per stage (got {} and {})",
                    spec.widths.len(),
                    spec.units.len()
                ),
            ));
        }
        if spec.widths.contains(&0) || spec.units.contains(&0) || spec.stem_channels == 0 {
            return Err(setting("widths", "widths, units and stem_channels must be at least 1".into()));
        }
        if self.head_units.contains(&0) {
            return Err(setting("head_units", "each dense layer of the head needs at least 1 unit".into()));
        }
        if spec.bottleneck && spec.widths.iter().any(|w| w % 4 != 0) {
            return Err(setting("widths", format!("bottleneck widths must be multiples of 4, got {:?}", spec.widths)));
        }
        Ok(spec)
    }

    /// The shape after every stage, or the first setting that does not fit `input`.
    pub fn shapes(&self, input: FeatureShape, outputs: usize) -> Result<Vec<LayerShape>, ShapeError> {
        self.shapes_with_side(input, 0, outputs)
    }

    /// As [`Self::shapes`], with `side` catalogue features concatenated to the pooled features.
    pub fn shapes_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
    ) -> Result<Vec<LayerShape>, ShapeError> {
        let spec = self.spec()?;
        let FeatureShape::Image { height, width, .. } = input else {
            return Err(ShapeError::Setting {
                field: "kind".into(),
                problem: format!("\"resnet\" needs images, but the data gives {input}"),
            });
        };
        // A k x k convolution with padding k / 2 and stride s: (n - 1) / s + 1 for odd k.
        let down = |n: usize, s: usize| (n - 1) / s + 1;
        let (mut h, mut w) = (down(height, spec.stem_stride), down(width, spec.stem_stride));
        let image = |c: usize, h: usize, w: usize| FeatureShape::Image { channels: c, height: h, width: w };
        let stem_act = if spec.activation == UnitActivation::Elu { "elu" } else { "relu" };
        let mut table = vec![LayerShape::new(
            format!("conv {}@7x7/{}, bn, {stem_act}", spec.stem_channels, spec.stem_stride),
            image(spec.stem_channels, h, w),
        )];
        if spec.stem_pool {
            (h, w) = (down(h, 2), down(w, 2));
            table.push(LayerShape::new("maxpool 3x3/2", image(spec.stem_channels, h, w)));
        }
        let unit = if spec.bottleneck { "pre-activation bottleneck" } else { "basic block" };
        for (i, (&width_out, &n)) in spec.widths.iter().zip(&spec.units).enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            if h < 2 && stride == 2 {
                return Err(ShapeError::Setting {
                    field: "widths".into(),
                    problem: format!(
                        "stage {} has nothing left to halve ({h}x{w}): use fewer stages or larger images",
                        i + 1
                    ),
                });
            }
            (h, w) = (down(h, stride), down(w, stride));
            table.push(LayerShape::new(
                format!("stage {}: {n} x {unit}, stride {stride}", i + 1),
                image(width_out, h, w),
            ));
        }
        let last = *spec.widths.last().expect("validated non-empty");
        if spec.bottleneck {
            table.push(LayerShape::new(format!("bn, {stem_act}"), image(last, h, w)));
        }
        table.push(LayerShape::new("global average pool", FeatureShape::Vector(last)));
        if side > 0 {
            table.push(LayerShape::new(
                format!("concatenate {side} catalogue features"),
                FeatureShape::Vector(last + side),
            ));
        }
        for &units in &self.head_units {
            table.push(LayerShape::new(format!("dense {units}, relu"), FeatureShape::Vector(units)));
        }
        table.push(LayerShape::new(format!("dense {outputs}"), FeatureShape::Vector(outputs)));
        Ok(table)
    }

    /// Builds the network with He-normal convolutions on `device`.
    pub fn init(&self, input: FeatureShape, outputs: usize, device: &Device) -> Result<ResNet, ShapeError> {
        self.init_with_side(input, 0, outputs, device)
    }

    /// Builds the network, its dense layers reading the pooled features and `side` catalogue
    /// features.
    pub fn init_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<ResNet, ShapeError> {
        self.shapes_with_side(input, side, outputs)?;
        let spec = self.spec()?;
        let channels = input.channels();
        let mut layers = Vec::new();
        let mut width_in = spec.stem_channels;
        for (i, (&width_out, &n)) in spec.widths.iter().zip(&spec.units).enumerate() {
            let stage: Vec<Unit> = (0..n)
                .map(|j| {
                    let (from, stride) = if j == 0 { (width_in, if i == 0 { 1 } else { 2 }) } else { (width_out, 1) };
                    if spec.bottleneck {
                        Unit::PreactBottleneck(PreactBottleneck::new(from, width_out, stride, spec.activation, device))
                    } else {
                        Unit::Basic(BasicBlock::new(from, width_out, stride, device))
                    }
                })
                .collect();
            layers.push(stage);
            width_in = width_out;
        }
        Ok(ResNet {
            conv1: conv([channels, spec.stem_channels], 7, spec.stem_stride, device),
            bn1: batch_norm(spec.stem_channels, device),
            maxpool: spec.stem_pool.then(|| {
                MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init()
            }),
            layers,
            final_bn: spec.bottleneck.then(|| batch_norm(width_in, device)),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: self
                .head_units
                .iter()
                .scan(width_in + side, |from, &units| {
                    Some(LinearConfig::new(std::mem::replace(from, units), units).init(device))
                })
                .collect(),
            fc: LinearConfig::new(self.head_units.last().copied().unwrap_or(width_in + side), outputs).init(device),
            activation: spec.activation,
        })
    }
}

/// A built residual network.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution.
    pub conv1: Conv2d,
    /// Stem batch norm.
    pub bn1: BatchNorm,
    /// Stem max pool (ResNet-18/34).
    pub maxpool: Option<MaxPool2d>,
    /// Stages of residual units (torchvision's `layer1` ... `layer4`).
    pub layers: Vec<Vec<Unit>>,
    /// The batch norm before pooling that pre-activation networks end with.
    pub final_bn: Option<BatchNorm>,
    /// Global average pool.
    pub pool: AdaptiveAvgPool2d,
    /// Dense ReLU layers before the output layer (`head_units`).
    pub head: Vec<Linear>,
    /// The output layer.
    pub fc: Linear,
    /// The activation (not a weight).
    #[module(skip)]
    pub activation: UnitActivation,
}

impl ResNet {
    /// `[batch, channels, h, w]` -> `[batch, outputs]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_with_side(images, None)
    }

    /// As [`Self::forward`], with catalogue features `[batch, side]` concatenated to the pooled
    /// features before the dense layers.
    pub fn forward_with_side(&self, images: Tensor<4>, side: Option<Tensor<2>>) -> Tensor<2> {
        self.head_of(self.body(images), side)
    }

    /// The pooled features the dense layers read: `[batch, channels, h, w]` -> `[batch, width]`.
    pub fn body(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self.activation.apply(normalise(&self.bn1, crate::conv2d::conv2d(&self.conv1, images)));
        if let Some(pool) = &self.maxpool {
            x = pool.forward(x);
        }
        for stage in &self.layers {
            for unit in stage {
                x = unit.forward(x);
            }
        }
        if let Some(bn) = &self.final_bn {
            x = self.activation.apply(normalise(bn, x));
        }
        self.pool.forward(x).flatten(1, 3)
    }

    /// The dense layers on the body's features `[batch, width]` and the catalogue features
    /// `[batch, side]`: `[batch, outputs]`.
    pub fn head_of(&self, mut features: Tensor<2>, side: Option<Tensor<2>>) -> Tensor<2> {
        if let Some(side) = side {
            features = Tensor::cat(vec![features, side], 1); // [batch, width + side]
        }
        for dense in &self.head {
            features = crate::rectifier::relu(dense.forward(features)); // [batch, units]
        }
        self.fc.forward(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(preset: ResNetPreset) -> ResNetConfig {
        ResNetConfig { preset, widths: None, units: None, stem_channels: None, head_units: Vec::new() }
    }

    fn image(c: usize, side: usize) -> FeatureShape {
        FeatureShape::Image { channels: c, height: side, width: side }
    }

    #[test]
    fn resnet18_and_34_have_torchvisions_parameter_counts() {
        // torchvision.models.resnet18().parameters(): 11,689,512; resnet34: 21,797,672 (1000
        // classes). Burn's count also holds each batch norm's running mean and variance (torch
        // buffers): 2 x 4,800 BN channels in ResNet-18, 2 x 8,512 in ResNet-34.
        let device = Device::flex();
        for (preset, torch, bn_channels) in
            [(ResNetPreset::Resnet18, 11_689_512, 4_800), (ResNetPreset::Resnet34, 21_797_672, 8_512)]
        {
            let net = config(preset).init(image(3, 64), 1000, &device).unwrap();
            assert_eq!(net.num_params(), torch + 2 * bn_channels, "{preset:?}");
        }
    }

    #[test]
    fn resnet18_shapes_follow_the_paper_table() {
        let table = config(ResNetPreset::Resnet18).shapes(image(3, 224), 1000).unwrap();
        let shapes: Vec<String> = table.iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "[64, 112, 112]",
                "[64, 56, 56]",
                "[64, 56, 56]",
                "[128, 28, 28]",
                "[256, 14, 14]",
                "[512, 7, 7]",
                "[512]",
                "[1000]"
            ]
        );
    }

    #[test]
    fn deeplens_shapes_and_parameters_match_the_paper_layout() {
        let table = config(ResNetPreset::Deeplens).shapes(image(1, 45), 2).unwrap();
        let shapes: Vec<String> = table.iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "[32, 45, 45]",
                "[32, 45, 45]",
                "[64, 23, 23]",
                "[128, 12, 12]",
                "[256, 6, 6]",
                "[512, 3, 3]",
                "[512, 3, 3]",
                "[512]",
                "[2]"
            ]
        );
        // Parameters counted by hand from the layout: convs without bias; 4 per BN channel
        // (scale, shift and the running mean and variance, which Burn counts).
        let bn = |c: usize| 4 * c;
        let mut expected = 7 * 7 * 32 + bn(32);
        let mut input = 32;
        for (i, &w) in [32usize, 64, 128, 256, 512].iter().enumerate() {
            for j in 0..3 {
                let from = if j == 0 { input } else { w };
                let inner = w / 4;
                expected += bn(from) + from * inner + bn(inner) + 9 * inner * inner + bn(inner) + inner * w;
                if j == 0 && (i > 0 || from != w) {
                    expected += from * w;
                }
            }
            input = w;
        }
        expected += bn(512) + 512 * 2 + 2;
        let net = config(ResNetPreset::Deeplens).init(image(1, 45), 2, &Device::flex()).unwrap();
        assert_eq!(net.num_params(), expected);
    }

    #[test]
    fn the_forward_pass_gives_one_row_per_image() {
        let small = ResNetConfig {
            widths: Some(vec![8, 16]),
            units: Some(vec![1, 1]),
            stem_channels: Some(8),
            ..config(ResNetPreset::Deeplens)
        };
        let device = Device::flex();
        let net = small.init(image(2, 20), 3, &device).unwrap();
        let out = net.forward(Tensor::ones([4, 2, 20, 20], &device));
        assert_eq!(out.dims(), [4, 3]);
        let basic = ResNetConfig {
            widths: Some(vec![8, 16]),
            units: Some(vec![1, 1]),
            stem_channels: Some(8),
            ..config(ResNetPreset::Resnet18)
        };
        assert_eq!(
            basic.init(image(3, 32), 5, &device).unwrap().forward(Tensor::ones([2, 3, 32, 32], &device)).dims(),
            [2, 5]
        );
    }

    #[test]
    fn catalogue_features_join_the_pooled_features_before_the_dense_layers() {
        let small = ResNetConfig {
            widths: Some(vec![8, 16]),
            units: Some(vec![1, 1]),
            stem_channels: Some(8),
            head_units: vec![5],
            ..config(ResNetPreset::Deeplens)
        };
        let table = small.shapes_with_side(image(1, 20), 3, 2).unwrap();
        let pooled = table.iter().position(|r| r.name == "global average pool").unwrap();
        assert_eq!(table[pooled + 1].name, "concatenate 3 catalogue features");
        assert_eq!(table[pooled + 1].shape, FeatureShape::Vector(19));
        let device = Device::flex();
        let net = small.init_with_side(image(1, 20), 3, 2, &device).unwrap();
        assert_eq!(net.head[0].weight.dims(), [19, 5]);
        let side = Tensor::<2>::ones([4, 3], &device);
        assert_eq!(net.forward_with_side(Tensor::ones([4, 1, 20, 20], &device), Some(side)).dims(), [4, 2]);
    }

    #[test]
    fn a_dense_head_sits_between_the_pool_and_the_output_layer() {
        // Ackermann et al.'s head on a narrow ResNet-18: pool 64 -> dense 1024, relu -> dense 2.
        let narrow = ResNetConfig {
            widths: Some(vec![8, 16, 32, 64]),
            stem_channels: Some(8),
            ..config(ResNetPreset::Resnet18)
        };
        let net = ResNetConfig { head_units: vec![1024], ..narrow.clone() };
        let table = net.shapes(image(3, 64), 2).unwrap();
        let tail: Vec<(String, String)> =
            table.iter().rev().take(3).map(|r| (r.name.clone(), r.shape.to_string())).collect();
        assert_eq!(
            tail,
            [
                ("dense 2".to_string(), "[2]".to_string()),
                ("dense 1024, relu".to_string(), "[1024]".to_string()),
                ("global average pool".to_string(), "[64]".to_string())
            ]
        );
        let device = Device::flex();
        let plain = narrow.init(image(3, 64), 2, &device).unwrap();
        let headed = net.init(image(3, 64), 2, &device).unwrap();
        assert_eq!(headed.num_params() - plain.num_params(), (64 * 1024 + 1024) + (1024 * 2 + 2) - (64 * 2 + 2));
        assert_eq!(headed.forward(Tensor::ones([2, 3, 64, 64], &device)).dims(), [2, 2]);
        let zero = ResNetConfig { head_units: vec![0], ..config(ResNetPreset::Resnet18) };
        assert!(zero.shapes(image(3, 64), 2).unwrap_err().to_string().starts_with("model.head_units:"));
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = ResNetConfig { widths: Some(vec![8, 16]), ..config(ResNetPreset::Deeplens) };
        assert!(bad.shapes(image(1, 45), 2).unwrap_err().to_string().starts_with("model.widths: widths and units"));
        let odd = ResNetConfig { widths: Some(vec![6]), units: Some(vec![1]), ..config(ResNetPreset::Deeplens) };
        assert!(odd.shapes(image(1, 45), 2).unwrap_err().to_string().contains("multiples of 4"));
        let deep = ResNetConfig { widths: Some(vec![8; 9]), units: Some(vec![1; 9]), ..config(ResNetPreset::Deeplens) };
        assert!(deep.shapes(image(1, 45), 2).unwrap_err().to_string().contains("nothing left to halve"));
    }
}

#[cfg(test)]
mod batch_norm_tests {
    use super::units::batch_norm;
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

    #[test]
    fn running_statistics_follow_training_batches_and_serve_inference() {
        let device = Device::flex().autodiff();
        let bn = batch_norm(2, &device);
        for _ in 0..60 {
            let x = Tensor::<4>::random([8, 2, 4, 4], Distribution::Normal(5.0, 3.0), &device);
            let _ = bn.forward(x);
        }
        let inference = bn.valid();
        let mean = inference.running_mean.value().into_data().try_to_vec::<f32>().unwrap();
        let var = inference.running_var.value().into_data().try_to_vec::<f32>().unwrap();
        assert!(mean.iter().all(|m| (m - 5.0).abs() < 0.5), "running mean {mean:?}");
        assert!(var.iter().all(|v| (v - 9.0).abs() < 2.0), "running var {var:?}");
        let _ = inference.num_params();
    }
}
