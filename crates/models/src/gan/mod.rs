//! Generative adversarial networks: a generator and a discriminator, trained against each other
//! (by `astro-train`'s GAN loop, not by the supervised learner). [`pix2pix`] is the
//! image-to-image GAN of GalaxyGAN (Schawinski et al. 2017; Isola et al. 2017), [`dcgan`] the
//! noise-to-image GAN of the cosmic-web slices (Rodriguez et al. 2018; Radford et al. 2016).
//! Images are in [-1, 1] (the generators end in tanh).

pub mod dcgan;
pub mod pix2pix;

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::Device;
use burn::tensor::Tensor;

/// Slope of the discriminators' leaky ReLUs.
pub const LEAK: f64 = 0.2;

/// The GAN papers' initial weights: N(0, 0.02) (Radford et al. 2016; Isola et al. 2017).
pub const GAN_INIT: Initializer = Initializer::Normal { mean: 0.0, std: 0.02 };

/// A 4x4 stride-2 convolution that halves the image (padding 1).
pub fn down_conv(from: usize, to: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(bias)
        .with_initializer(GAN_INIT)
        .init(device)
}

/// A 4x4 stride-2 transposed convolution that doubles the image (padding 1).
pub fn up_conv(from: usize, to: usize, bias: bool, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_bias(bias)
        .with_initializer(GAN_INIT)
        .init(device)
}

/// A batch norm over `channels`.
pub fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// Mean per sample of `log(1 + exp(-label * logit))`-style binary cross-entropy on logits:
/// `target` 1 for "real", 0 for "fake", computed stably through softplus.
///
/// # Shapes
/// - logits: `[batch, 1]`
/// - output: `[batch]`
pub fn bce_with_logits(logits: Tensor<2>, target: f64) -> Tensor<1> {
    // -[t log s(x) + (1 - t) log(1 - s(x))] = softplus(x) - t x.
    let softplus = burn::tensor::activation::softplus(logits.clone(), 1.0);
    softplus.sub(logits.mul_scalar(target)).flatten(0, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn the_logit_cross_entropy_matches_the_formula() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![-2.0f32, 0.0, 3.0], [3, 1]), &device);
        for target in [0.0, 1.0] {
            let got = bce_with_logits(logits.clone(), target).into_data().try_to_vec::<f32>().unwrap();
            for (g, x) in got.iter().zip([-2.0f64, 0.0, 3.0]) {
                let s = 1.0 / (1.0 + (-x).exp());
                let want = -(target * s.ln() + (1.0 - target) * (1.0 - s).ln());
                assert!((f64::from(*g) - want).abs() < 1e-5, "x {x}, t {target}: {g} vs {want}");
            }
        }
    }
}
