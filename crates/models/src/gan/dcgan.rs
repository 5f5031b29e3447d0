//! DCGAN (Radford et al. 2016) as the cosmic-web GAN of Rodriguez et al. (2018, Comput.
//! Astrophys. Cosmol. 5, 4) uses it: the generator maps a Gaussian vector `z` through a dense
//! layer to `8 * filters` channels at `size / 16` pixels, then four 4x4 stride-2 transposed
//! convolutions (`4, 2, 1` times `filters`, batch norm and ReLU; the last to one channel, tanh)
//! up to the image; the discriminator halves the image with four 4x4 stride-2 convolutions
//! (`1, 2, 4, 8` times `filters`; leaky ReLU 0.2, batch norm except on the first) and ends in a
//! dense logit. The paper's 256-pixel slices and `filters = 64`: 512 channels at 16 x 16;
//! the default 64-pixel run: 4 x 4. Every weight starts from N(0, 0.02) (Radford et al.).

use crate::batch_norm::normalise;
use crate::conv2d::{conv_transpose2d, conv2d};
use crate::rectifier::{leaky_relu, relu};
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use super::{GAN_INIT, LEAK, down_conv, norm, up_conv};
use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};

/// Halvings in both networks.
const STEPS: usize = 4;

fn default_filters() -> usize {
    64
}

fn default_latent() -> usize {
    100
}

/// `[model]` with `kind = "dcgan"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcganConfig {
    /// Width of the discriminator's first convolution and the generator's last hidden one (the
    /// paper: 64).
    #[serde(default = "default_filters")]
    pub filters: usize,
    /// Length of the generator's Gaussian input (the paper: 100 or 200).
    #[serde(default = "default_latent")]
    pub latent: usize,
}

impl DcganConfig {
    fn geometry(&self, input: FeatureShape) -> Result<(usize, usize), ShapeError> {
        let setting = |field: &str, problem: String| ShapeError::Setting { field: field.into(), problem };
        let FeatureShape::Image { channels, height, width } = input else {
            return Err(setting("kind", format!("\"dcgan\" generates images, but the data gives {input}")));
        };
        if height != width || !height.is_multiple_of(1 << STEPS) || height < (1 << STEPS) {
            return Err(setting(
                "kind",
                format!("the DCGAN needs square images of a side divisible by 16, got {input}"),
            ));
        }
        if self.filters == 0 || self.latent == 0 {
            return Err(setting("filters", "filters and latent must be at least 1".into()));
        }
        Ok((channels, height))
    }

    /// The generator's shape after every stage.
    pub fn shapes(&self, input: FeatureShape) -> Result<Vec<LayerShape>, ShapeError> {
        let (channels, size) = self.geometry(input)?;
        let image = |c: usize, s: usize| FeatureShape::Image { channels: c, height: s, width: s };
        let base = size >> STEPS;
        let mut table = vec![
            LayerShape::new(format!("z ~ N(0, 1)^{}", self.latent), FeatureShape::Vector(self.latent)),
            LayerShape::new("dense, bn, relu", image(8 * self.filters, base)),
        ];
        for (k, mult) in [4, 2, 1].into_iter().enumerate() {
            table.push(LayerShape::new(
                format!("transposed conv {}@4x4/2, bn, relu", mult * self.filters),
                image(mult * self.filters, base << (k + 1)),
            ));
        }
        table.push(LayerShape::new(format!("transposed conv {channels}@4x4/2, tanh"), image(channels, size)));
        table.push(LayerShape::new("flatten (the generated image)", FeatureShape::Vector(input.numel())));
        Ok(table)
    }

    /// Builds both networks on `device`.
    pub fn init(
        &self,
        input: FeatureShape,
        device: &Device,
    ) -> Result<(DcganGenerator, DcganDiscriminator), ShapeError> {
        let (channels, size) = self.geometry(input)?;
        let (f, base) = (self.filters, size >> STEPS);
        let generator = DcganGenerator {
            dense: LinearConfig::new(self.latent, 8 * f * base * base).with_initializer(GAN_INIT).init(device),
            dense_norm: norm(8 * f, device),
            ups: [(8, 4), (4, 2), (2, 1)]
                .map(|(a, b)| UpStep { conv: up_conv(a * f, b * f, false, device), norm: norm(b * f, device) })
                .into(),
            last: up_conv(f, channels, true, device),
            base: [8 * f, base],
            latent: self.latent,
        };
        let discriminator = DcganDiscriminator {
            convs: [(channels, 1), (f, 2), (2 * f, 4), (4 * f, 8)]
                .into_iter()
                .enumerate()
                .map(|(k, (from, mult))| {
                    (down_conv(from, mult * f, k == 0, device), (k > 0).then(|| norm(mult * f, device)))
                })
                .map(|(conv, norm)| DiscriminatorBlock { conv, norm })
                .collect(),
            to_logit: LinearConfig::new(8 * f * base * base, 1).with_initializer(GAN_INIT).init(device),
        };
        Ok((generator, discriminator))
    }
}

/// A transposed convolution that doubles the image, and its batch norm.
#[derive(Module, Debug)]
pub struct UpStep {
    /// 4x4 stride 2.
    pub conv: ConvTranspose2d,
    /// Batch norm.
    pub norm: BatchNorm,
}

/// The DCGAN generator.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// `z` to the first feature map.
    pub dense: Linear,
    /// Its batch norm.
    pub dense_norm: BatchNorm,
    /// Transposed convolutions with their batch norms.
    pub ups: Vec<UpStep>,
    /// The last transposed convolution, to the image's channels.
    pub last: ConvTranspose2d,
    /// Channels and side of the first feature map (not a weight).
    #[module(skip)]
    pub base: [usize; 2],
    /// Length of `z` (not a weight).
    #[module(skip)]
    pub latent: usize,
}

impl DcganGenerator {
    /// Images from latent vectors, in [-1, 1].
    ///
    /// # Shapes
    /// - z: `[batch, latent]`
    /// - output: `[batch, channels, size, size]`
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let [c, s] = self.base;
        let x = self.dense.forward(z).reshape([batch, c, s, s]); // [batch, 8 f, size / 16, size / 16]
        let mut x = relu(normalise(&self.dense_norm, x));
        for step in &self.ups {
            x = relu(normalise(&step.norm, conv_transpose2d(&step.conv, x))); // [batch, width / 2, 2 h, 2 w]
        }
        crate::rational_tanh::tanh(conv_transpose2d(&self.last, x))
    }

    /// `count` latent vectors drawn from N(0, 1) on `device`.
    pub fn noise(&self, count: usize, device: &Device) -> Tensor<2> {
        Tensor::random([count, self.latent], Distribution::Normal(0.0, 1.0), device)
    }
}

/// A discriminator convolution with its optional batch norm.
#[derive(Module, Debug)]
pub struct DiscriminatorBlock {
    /// 4x4 stride 2.
    pub conv: Conv2d,
    /// Batch norm (not on the first).
    pub norm: Option<BatchNorm>,
}

/// The DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    /// Stride-2 convolutions.
    pub convs: Vec<DiscriminatorBlock>,
    /// The features to one logit.
    pub to_logit: Linear,
}

impl DcganDiscriminator {
    /// One logit per image: positive for "real".
    ///
    /// # Shapes
    /// - images: `[batch, channels, size, size]`
    /// - output: `[batch, 1]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for block in &self.convs {
            x = conv2d(&block.conv, x);
            if let Some(n) = &block.norm {
                x = normalise(n, x);
            }
            x = leaky_relu(x, LEAK); // [batch, width, h / 2, w / 2]
        }
        self.to_logit.forward(x.flatten(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_draws_images_the_discriminator_scores() {
        let config = DcganConfig { filters: 8, latent: 16 };
        let input = FeatureShape::Image { channels: 1, height: 64, width: 64 };
        let shapes: Vec<String> = config.shapes(input).unwrap().iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            ["[16]", "[64, 4, 4]", "[32, 8, 8]", "[16, 16, 16]", "[8, 32, 32]", "[1, 64, 64]", "[4096]"]
        );
        let device = Device::flex();
        let (g, d) = config.init(input, &device).unwrap();
        let images = g.forward(g.noise(3, &device));
        assert_eq!(images.dims(), [3, 1, 64, 64]);
        // In training (batch norms on batch statistics), each latent draw gives its own image,
        // with values of both signs in (-1, 1) that tanh has not saturated (a generator
        // ignoring z, or stuck at +-1, fails here).
        let training = Device::flex().autodiff();
        let (g_train, _) = config.init(input, &training).unwrap();
        let values = g_train.forward(g_train.noise(3, &training)).into_data().try_to_vec::<f32>().unwrap();
        let scale = values.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        let (first, second) = (&values[..4096], &values[4096..8192]);
        let differ = first.iter().zip(second).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(differ > 0.1 * scale, "two latent draws differ by {differ}, values up to {scale}");
        assert!(values.iter().any(|v| *v > 0.0) && values.iter().any(|v| *v < 0.0));
        let saturated = values.iter().filter(|v| v.abs() > 0.999).count();
        assert!(values.iter().all(|v| v.abs() < 1.0) || saturated < values.len() / 2, "{saturated} saturated");
        let logits = d.forward(images).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(logits.len(), 3);
        assert!(logits.iter().all(|l| l.is_finite()), "{logits:?}");
        // Two clearly different images are scored apart (the generated ones, from batch norms
        // at their initial statistics, can be too alike to tell apart at f32 precision; with
        // DCGAN's N(0, 0.02) weights the logits differ by about 1e-4).
        let bright = Tensor::<4>::ones([1, 1, 64, 64], &device);
        let apart =
            d.forward(Tensor::cat(vec![bright.clone(), bright.neg()], 0)).into_data().try_to_vec::<f32>().unwrap();
        assert!(apart[0] != apart[1], "{apart:?}");
        // The paper's 256-pixel slices: 512 channels at 16 x 16 from z.
        let paper = DcganConfig { filters: 64, latent: 100 };
        let big = FeatureShape::Image { channels: 1, height: 256, width: 256 };
        assert_eq!(paper.shapes(big).unwrap()[1].shape.to_string(), "[512, 16, 16]");
        let err = config.shapes(FeatureShape::Image { channels: 1, height: 40, width: 40 }).unwrap_err();
        assert!(err.to_string().contains("divisible by 16"), "{err}");
    }
}
