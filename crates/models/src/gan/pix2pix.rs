//! pix2pix (Isola et al. 2017), the network of GalaxyGAN (Schawinski et al. 2017, MNRAS 467,
//! L110): a U-Net generator and a conditional discriminator.
//!
//! Generator: `depth` 4x4 stride-2 convolutions (widths `filters * [1, 2, 4, 8, 8, ...]`, at most
//! 8x; leaky ReLU 0.2; batch norm except on the first and the innermost), then as many 4x4 stride-2 transposed
//! convolutions back up, each fed the matching encoder output (skip connections), batch norm and
//! ReLU, dropout 0.5 on the first three, and tanh at the end. The paper's 256-pixel images take
//! `depth = 8`; a 64-pixel image takes 6 (every halving down to 1 x 1).
//!
//! Discriminator: the condition and an image stacked as channels, 4x4 stride-2 convolutions of
//! widths 64, 128, 256, 512 (`filters * [1, 2, 4, 8]`; leaky ReLU, batch norm except on the
//! first), a 3x3 convolution to one channel, and the mean over the remaining patch: one logit
//! per image pair.
//!
//! Every weight starts from N(0, 0.02), as in the paper's code.

use crate::batch_norm::normalise;
use crate::conv2d::{conv_transpose2d, conv2d};
use crate::dropout::dropout;
use crate::rectifier::{leaky_relu, relu};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d};
use burn::nn::{BatchNorm, Dropout, DropoutConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{GAN_INIT, LEAK, down_conv, norm, up_conv};
use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};

fn default_filters() -> usize {
    64
}

/// `[model]` with `kind = "pix2pix"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pix2pixConfig {
    /// Width of the first layer of both networks (the paper: 64).
    #[serde(default = "default_filters")]
    pub filters: usize,
    /// Halvings of the generator's U-Net (default: down to 1 x 1, as the paper's 8 on 256
    /// pixels).
    #[serde(default)]
    pub depth: Option<usize>,
    /// Convolutions of the discriminator (the paper: 4).
    #[serde(default = "default_discriminator_layers")]
    pub discriminator_layers: usize,
}

fn default_discriminator_layers() -> usize {
    4
}

impl Pix2pixConfig {
    /// The number of halvings for `input`, checked.
    fn depth_for(&self, input: FeatureShape) -> Result<(usize, usize, usize), ShapeError> {
        let setting = |field: &str, problem: String| ShapeError::Setting { field: field.into(), problem };
        let FeatureShape::Image { channels, height, width } = input else {
            return Err(setting("kind", format!("\"pix2pix\" needs images, but the data gives {input}")));
        };
        if height != width || !height.is_power_of_two() || height < 4 {
            return Err(setting("kind", format!("the U-Net needs square images of a power-of-two side, got {input}")));
        }
        let most = height.trailing_zeros() as usize;
        let depth = self.depth.unwrap_or(most);
        if depth == 0 || depth > most {
            return Err(setting("depth", format!("must be 1 to {most} for {height}-pixel images, got {depth}")));
        }
        if self.filters == 0 {
            return Err(setting("filters", "must be at least 1".into()));
        }
        if self.discriminator_layers == 0 || self.discriminator_layers >= most {
            return Err(setting(
                "discriminator_layers",
                format!("must be 1 to {} for {height}-pixel images, got {}", most - 1, self.discriminator_layers),
            ));
        }
        Ok((channels, height, depth))
    }

    fn width(&self, level: usize) -> usize {
        self.filters << level.min(3)
    }

    /// The generator's shape after every stage.
    pub fn shapes(&self, input: FeatureShape) -> Result<Vec<LayerShape>, ShapeError> {
        let (channels, size, depth) = self.depth_for(input)?;
        let image = |c: usize, s: usize| FeatureShape::Image { channels: c, height: s, width: s };
        let mut table = Vec::new();
        for level in 0..depth {
            // No batch norm on the first or the innermost (a 1 x 1 map of batch 1 would be zeroed).
            let bn = if level == 0 || level + 1 == depth { "" } else { ", bn" };
            table.push(LayerShape::new(
                format!("down {}: conv {}@4x4/2{bn}, leaky relu", level + 1, self.width(level)),
                image(self.width(level), size >> (level + 1)),
            ));
        }
        for level in (0..depth - 1).rev() {
            let dropout = if depth - 2 - level < 3 { ", dropout 0.5" } else { "" };
            table.push(LayerShape::new(
                format!("up: transposed conv {}@4x4/2, bn{dropout}, relu, + skip", self.width(level)),
                image(2 * self.width(level), size >> (level + 1)),
            ));
        }
        table.push(LayerShape::new(format!("up: transposed conv {channels}@4x4/2, tanh"), image(channels, size)));
        table.push(LayerShape::new("flatten (the generated image)", FeatureShape::Vector(input.numel())));
        Ok(table)
    }

    /// Builds both networks on `device`.
    pub fn init(&self, input: FeatureShape, device: &Device) -> Result<(UNet, PatchDiscriminator), ShapeError> {
        let (channels, _, depth) = self.depth_for(input)?;
        let down: Vec<DownBlock> = (0..depth)
            .map(|level| {
                let from = if level == 0 { channels } else { self.width(level - 1) };
                DownBlock {
                    conv: down_conv(from, self.width(level), level == 0, device),
                    norm: (level > 0 && level + 1 < depth).then(|| norm(self.width(level), device)),
                }
            })
            .collect();
        // Up level `l` turns the level-(l+1) features (with their skip, except the innermost)
        // into level-l width.
        let up: Vec<UpBlock> = (0..depth - 1)
            .rev()
            .map(|level| {
                let innermost = level + 2 == depth;
                let from = if innermost { self.width(level + 1) } else { 2 * self.width(level + 1) };
                UpBlock {
                    conv: up_conv(from, self.width(level), false, device),
                    norm: norm(self.width(level), device),
                    dropout: (depth - 2 - level < 3).then(|| DropoutConfig::new(0.5).init()),
                }
            })
            .collect();
        let generator = UNet {
            down,
            up,
            last: up_conv(if depth == 1 { self.width(0) } else { 2 * self.width(0) }, channels, true, device),
        };
        let layers = self.discriminator_layers;
        let convs: Vec<DownBlock> = (0..layers)
            .map(|level| DownBlock {
                conv: down_conv(
                    if level == 0 { 2 * channels } else { self.width(level - 1) },
                    self.width(level),
                    level == 0,
                    device,
                ),
                norm: (level > 0).then(|| norm(self.width(level), device)),
            })
            .collect();
        let discriminator = PatchDiscriminator {
            convs,
            to_logit: Conv2dConfig::new([self.width(layers - 1), 1], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .with_initializer(GAN_INIT)
                .init(device),
        };
        Ok((generator, discriminator))
    }
}

/// A convolution that halves the image, its optional batch norm, then a leaky ReLU.
#[derive(Module, Debug)]
pub struct DownBlock {
    /// 4x4 stride 2.
    pub conv: Conv2d,
    /// Batch norm (not on the first layer, nor on the 1 x 1 bottleneck).
    pub norm: Option<BatchNorm>,
}

impl DownBlock {
    /// `[batch, c, h, w]` -> `[batch, c', h / 2, w / 2]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv2d(&self.conv, x);
        let x = match &self.norm {
            Some(n) => normalise(n, x),
            None => x,
        };
        leaky_relu(x, LEAK)
    }
}

/// A transposed convolution that doubles the image, batch norm, dropout, ReLU.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// 4x4 stride 2.
    pub conv: ConvTranspose2d,
    /// Batch norm.
    pub norm: BatchNorm,
    /// Dropout 0.5 on the three innermost blocks (training only).
    pub dropout: Option<Dropout>,
}

/// The pix2pix U-Net generator.
#[derive(Module, Debug)]
pub struct UNet {
    /// Encoder, outermost first.
    pub down: Vec<DownBlock>,
    /// Decoder, innermost first.
    pub up: Vec<UpBlock>,
    /// The last transposed convolution, to the image's channels.
    pub last: ConvTranspose2d,
}

impl UNet {
    /// The recovered image of `condition`, in [-1, 1].
    ///
    /// # Shapes
    /// - condition: `[batch, channels, size, size]`
    /// - output: `[batch, channels, size, size]`
    pub fn forward(&self, condition: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.down.len());
        let mut x = condition;
        for block in &self.down {
            x = block.forward(x); // [batch, width, h / 2, w / 2]
            skips.push(x.clone());
        }
        skips.pop(); // the bottleneck is `x` itself
        for block in &self.up {
            let y = normalise(&block.norm, conv_transpose2d(&block.conv, x)); // [batch, width, 2 h, 2 w]
            let y = match &block.dropout {
                Some(d) => dropout(d, y),
                None => y,
            };
            let skip = skips.pop().expect("one skip per up block");
            x = Tensor::cat(vec![relu(y), skip], 1); // [batch, 2 width, 2 h, 2 w]
        }
        crate::rational_tanh::tanh(conv_transpose2d(&self.last, x))
    }
}

/// The conditional discriminator.
#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    /// Stride-2 convolutions.
    pub convs: Vec<DownBlock>,
    /// To one channel of patch logits.
    pub to_logit: Conv2d,
}

impl PatchDiscriminator {
    /// One logit per (condition, image) pair: positive for "real".
    ///
    /// # Shapes
    /// - condition, image: `[batch, channels, size, size]`
    /// - output: `[batch, 1]`
    pub fn forward(&self, condition: Tensor<4>, image: Tensor<4>) -> Tensor<2> {
        let mut x = Tensor::cat(vec![condition, image], 1); // [batch, 2 channels, size, size]
        for block in &self.convs {
            x = block.forward(x);
        }
        let patches = conv2d(&self.to_logit, x); // [batch, 1, p, p]
        patches.flatten::<2>(1, 3).mean_dim(1) // [batch, 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn rgb(side: usize) -> FeatureShape {
        FeatureShape::Image { channels: 3, height: side, width: side }
    }

    #[test]
    fn the_u_net_goes_down_to_one_pixel_and_back_with_its_skips() {
        let config = Pix2pixConfig { filters: 8, depth: None, discriminator_layers: 4 };
        let table = config.shapes(rgb(64)).unwrap();
        let shapes: Vec<String> = table.iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "[8, 32, 32]",
                "[16, 16, 16]",
                "[32, 8, 8]",
                "[64, 4, 4]",
                "[64, 2, 2]",
                "[64, 1, 1]",
                "[128, 2, 2]",
                "[128, 4, 4]",
                "[64, 8, 8]",
                "[32, 16, 16]",
                "[16, 32, 32]",
                "[3, 64, 64]",
                "[12288]"
            ]
        );
        let device = Device::flex();
        let (g, d) = config.init(rgb(64), &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
        let y = g.forward(x.clone());
        assert_eq!(y.dims(), [2, 3, 64, 64]);
        assert!(y.clone().abs().max().into_scalar::<f32>() <= 1.0, "tanh output");
        assert_eq!(d.forward(x, y).dims(), [2, 1]);
        let err = config.shapes(rgb(48)).unwrap_err().to_string();
        assert!(err.contains("power-of-two side"), "{err}");
    }

    #[test]
    fn the_papers_networks_have_their_widths() {
        // 256 pixels, 8 halvings: 64, 128, 256, 512, 512, 512, 512, 512 (Isola et al. 2017).
        let config = Pix2pixConfig { filters: 64, depth: None, discriminator_layers: 4 };
        let table = config.shapes(rgb(256)).unwrap();
        let widths: Vec<usize> = table[..8].iter().map(|r| r.shape.channels()).collect();
        assert_eq!(widths, [64, 128, 256, 512, 512, 512, 512, 512]);
        assert_eq!(table.len(), 8 + 7 + 2);
    }
}
