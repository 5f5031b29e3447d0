//! A convolutional autoencoder for galaxy images, plain or denoising: stride-2 3x3
//! convolutions halve the image `widths.len()` times, a dense layer squeezes it into a `latent`
//! vector, and the mirror image (dense, 4x4 stride-2 transposed convolutions, a linear 3x3
//! convolution) draws it back; leaky ReLUs (slope 0.2) in between. A denoising autoencoder adds Gaussian noise to its input
//! while training (Vincent et al. 2008) and is still asked for the clean image.
//!
//! The output is the reconstruction flattened to `[batch, channels * height * width]`; the loss
//! is its mean squared difference from the input.

use crate::rectifier::leaky_relu;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{GaussianNoise, GaussianNoiseConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};

/// Slope of the leaky ReLUs (plain ReLUs let the decoder die: every unit off, a constant image).
const SLOPE: f64 = 0.2;

fn default_widths() -> Vec<usize> {
    vec![16, 32, 64]
}

fn default_latent() -> usize {
    16
}

/// `[model]` with `kind = "autoencoder"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoencoderConfig {
    /// Channels of the encoder's stride-2 convolutions, in order (the decoder mirrors them).
    #[serde(default = "default_widths")]
    pub widths: Vec<usize>,
    /// Length of the latent vector (1 or more).
    #[serde(default = "default_latent")]
    pub latent: usize,
    /// Standard deviation of the Gaussian noise added to the input while training (0: a plain
    /// autoencoder; > 0: a denoising one), in pixel units (pixels are 0 to 1).
    #[serde(default)]
    pub noise_sigma: f64,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        Self { widths: default_widths(), latent: default_latent(), noise_sigma: 0.0 }
    }
}

impl AutoencoderConfig {
    /// The image shape and the size at the bottleneck, or the setting that does not fit.
    fn geometry(&self, input: FeatureShape) -> Result<(usize, usize, usize, usize), ShapeError> {
        let setting = |field: &str, problem: String| ShapeError::Setting { field: field.into(), problem };
        let FeatureShape::Image { channels, height, width } = input else {
            return Err(setting("kind", format!("\"autoencoder\" needs images, but the data gives {input}")));
        };
        if self.widths.is_empty() || self.widths.contains(&0) || self.latent == 0 {
            return Err(setting("widths", "give at least one width; widths and latent must be at least 1".into()));
        }
        if !(self.noise_sigma.is_finite() && self.noise_sigma >= 0.0) {
            return Err(setting("noise_sigma", format!("must be zero or positive, got {}", self.noise_sigma)));
        }
        let factor = 1 << self.widths.len();
        if !height.is_multiple_of(factor) || !width.is_multiple_of(factor) {
            return Err(setting(
                "widths",
                format!(
                    "{} halvings need image sides divisible by {factor}, but the data gives {input}",
                    self.widths.len()
                ),
            ));
        }
        Ok((channels, height, width, factor))
    }

    /// The shape after every stage.
    pub fn shapes(&self, input: FeatureShape) -> Result<Vec<LayerShape>, ShapeError> {
        let (channels, height, width, _) = self.geometry(input)?;
        let image = |c: usize, h: usize, w: usize| FeatureShape::Image { channels: c, height: h, width: w };
        let mut table = Vec::new();
        if self.noise_sigma > 0.0 {
            table.push(LayerShape::new(format!("gaussian noise {} (training only)", self.noise_sigma), input));
        }
        let (mut h, mut w) = (height, width);
        for &c in &self.widths {
            (h, w) = (h / 2, w / 2);
            table.push(LayerShape::new(format!("conv {c}@3x3/2, leaky relu"), image(c, h, w)));
        }
        table.push(LayerShape::new("flatten, dense (latent)", FeatureShape::Vector(self.latent)));
        let last = *self.widths.last().expect("checked non-empty");
        table.push(LayerShape::new("dense, leaky relu", image(last, h, w)));
        for (i, _) in self.widths.iter().enumerate().rev() {
            (h, w) = (h * 2, w * 2);
            let c = if i == 0 { self.widths[0] } else { self.widths[i - 1] };
            table.push(LayerShape::new(format!("transposed conv {c}@4x4/2, leaky relu"), image(c, h, w)));
        }
        table.push(LayerShape::new(format!("conv {channels}@3x3, linear"), image(channels, height, width)));
        table.push(LayerShape::new("flatten (the reconstruction)", FeatureShape::Vector(input.numel())));
        Ok(table)
    }

    /// Builds the network on `device`.
    pub fn init(&self, input: FeatureShape, device: &Device) -> Result<Autoencoder, ShapeError> {
        let (channels, height, width, factor) = self.geometry(input)?;
        let last = *self.widths.last().expect("checked non-empty");
        let (bh, bw) = (height / factor, width / factor);
        let mut from = channels;
        let encoder = self
            .widths
            .iter()
            .map(|&c| {
                Conv2dConfig::new([std::mem::replace(&mut from, c), c], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let decoder = (0..self.widths.len())
            .rev()
            .map(|i| {
                let to = if i == 0 { self.widths[0] } else { self.widths[i - 1] };
                ConvTranspose2dConfig::new([self.widths[i], to], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        Ok(Autoencoder {
            noise: (self.noise_sigma > 0.0).then(|| GaussianNoiseConfig::new(self.noise_sigma).init()),
            encoder,
            to_latent: LinearConfig::new(last * bh * bw, self.latent).init(device),
            from_latent: LinearConfig::new(self.latent, last * bh * bw).init(device),
            decoder,
            to_image: Conv2dConfig::new([self.widths[0], channels], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            bottleneck: [last, bh, bw],
        })
    }
}

/// A built convolutional autoencoder.
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// Noise on the input while training (a denoising autoencoder).
    pub noise: Option<GaussianNoise>,
    /// Stride-2 convolutions.
    pub encoder: Vec<Conv2d>,
    /// The bottleneck to the latent vector.
    pub to_latent: Linear,
    /// The latent vector back to the bottleneck.
    pub from_latent: Linear,
    /// Stride-2 transposed convolutions.
    pub decoder: Vec<ConvTranspose2d>,
    /// The last convolution, to the image's channels.
    pub to_image: Conv2d,
    /// `[channels, height, width]` at the bottleneck (not a weight).
    #[module(skip)]
    pub bottleneck: [usize; 3],
}

impl Autoencoder {
    /// The latent vectors of `images` (no noise).
    ///
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, latent]`
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.encoder {
            x = leaky_relu(conv.forward(x), SLOPE); // [batch, width, h / 2, w / 2]
        }
        self.to_latent.forward(x.flatten(1, 3)) // [batch, latent]
    }

    /// Images drawn from latent vectors.
    ///
    /// # Shapes
    /// - latent: `[batch, latent]`
    /// - output: `[batch, channels, height, width]`
    pub fn decode(&self, latent: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latent.dims();
        let [c, h, w] = self.bottleneck;
        let mut x = leaky_relu(self.from_latent.forward(latent), SLOPE).reshape([batch, c, h, w]);
        for deconv in &self.decoder {
            x = leaky_relu(deconv.forward(x), SLOPE); // [batch, width, 2 h, 2 w]
        }
        // Linear: a sigmoid here saturates at the dark sky and its gradient dies with it.
        self.to_image.forward(x)
    }

    /// The reconstruction of `images`, flattened; a denoising autoencoder sees them with noise
    /// while training.
    ///
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, channels * height * width]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let input = match &self.noise {
            Some(noise) => noise.forward(images),
            None => images,
        };
        self.decode(self.encode(input)).flatten(1, 3)
    }

    /// Mean squared difference of each reconstruction from its clean image.
    ///
    /// # Shapes
    /// - images: `[batch, channels, height, width]`; output: `[batch, channels * height * width]`
    /// - result: `[batch]`
    pub fn loss(&self, images: &Tensor<4>, output: &Tensor<2>) -> Tensor<1> {
        let clean = images.clone().flatten(1, 3).detach();
        output.clone().sub(clean).square().mean_dim(1).flatten(0, 1)
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
    fn the_decoder_mirrors_the_encoder_and_gives_the_image_back_in_shape() {
        let config = AutoencoderConfig { noise_sigma: 0.1, ..Default::default() };
        let table = config.shapes(rgb(64)).unwrap();
        let shapes: Vec<String> = table.iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "[3, 64, 64]",
                "[16, 32, 32]",
                "[32, 16, 16]",
                "[64, 8, 8]",
                "[16]",
                "[64, 8, 8]",
                "[32, 16, 16]",
                "[16, 32, 32]",
                "[16, 64, 64]",
                "[3, 64, 64]",
                "[12288]"
            ]
        );
        let device = Device::flex();
        let net = config.init(rgb(64), &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 64, 64], Distribution::Default, &device);
        let out = net.forward(x.clone());
        assert_eq!(out.dims(), [2, 12288]);
        let values = out.clone().into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
        assert_eq!(net.encode(x.clone()).dims(), [2, 16]);
        // Without an autodiff device there is no noise: the same input, the same output (to
        // rounding: the GPU backends may sum in another order).
        let again = net.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert!(again.iter().zip(&values).all(|(a, b)| (a - b).abs() < 1e-5));
        let err = config.shapes(rgb(60)).unwrap_err().to_string();
        assert!(err.contains("divisible by 8"), "{err}");
    }

    #[test]
    fn training_adds_noise_and_the_loss_reaches_the_encoder() {
        let device = Device::flex().autodiff();
        let config = AutoencoderConfig { widths: vec![4, 8], latent: 3, noise_sigma: 0.2 };
        let net = config.init(rgb(16), &device).unwrap();
        let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Default, &device);
        let (a, b) = (net.forward(x.clone()), net.forward(x.clone()));
        assert_ne!(a.clone().into_data(), b.into_data(), "fresh noise each pass while training");
        let loss = net.loss(&x, &a);
        assert_eq!(loss.dims(), [2]);
        let grads = loss.mean().backward();
        assert!(net.encoder[0].weight.val().grad(&grads).is_some(), "the loss reaches the first convolution");
    }
}
