//! The two players of each GAN and their losses. The discriminator learns to tell real images
//! from generated ones (binary cross-entropy on logits, the generated ones detached); the
//! generator learns to make the discriminator call its images real, plus, for pix2pix,
//! `l1_weight` times the mean absolute difference from the target (Isola et al. 2017).

use astro_data::ImageBatch;
use astro_models::gan::bce_with_logits;
use astro_models::gan::dcgan::{DcganDiscriminator, DcganGenerator};
use astro_models::gan::pix2pix::{PatchDiscriminator, UNet};
use astro_models::pool_step::on_pool;
use astro_models::{FeatureShape, ModelConfig};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::RunError;

/// A batch as the GANs see it, in [-1, 1].
pub struct GanBatch {
    /// The input image (pix2pix: the degraded galaxy; unused by the DCGAN).
    pub condition: Tensor<4>,
    /// The real image (pix2pix: the original galaxy; DCGAN: a training slice).
    pub real: Tensor<4>,
}

impl GanBatch {
    /// From a loader batch (pixels and image targets in [0, 1]).
    pub fn from_batch(batch: ImageBatch) -> Self {
        let dims = batch.images.dims();
        let real = batch.targets.reshape(dims).mul_scalar(2.0).sub_scalar(1.0);
        Self { condition: batch.images.mul_scalar(2.0).sub_scalar(1.0), real }
    }
}

/// The generator's loss, in parts.
pub struct GeneratorLoss {
    /// What is minimised.
    pub total: Tensor<1>,
    /// The adversarial part.
    pub adversarial: Tensor<1>,
    /// The L1 part (pix2pix), unweighted.
    pub l1: Option<Tensor<1>>,
}

/// A generator and a discriminator that play together.
pub trait GanPair {
    /// The generator.
    type G: Module + 'static;
    /// The discriminator.
    type D: Module + 'static;
    /// The discriminator's loss on `batch` (mean over the batch, shape `[1]`).
    fn d_loss(g: &Self::G, d: &Self::D, batch: &GanBatch) -> Tensor<1>;
    /// The generator's loss on `batch`.
    fn g_loss(g: &Self::G, d: &Self::D, batch: &GanBatch, l1_weight: f64) -> GeneratorLoss;
    /// What the generator makes for `batch` (pix2pix: from its conditions; DCGAN: from fresh
    /// noise, one image per item); on a thread of rayon's pool on `flex` (`on_pool`).
    fn generate(g: &Self::G, batch: &GanBatch) -> Tensor<4>;
    /// The two players of `model` (this pair's kind) for images of `input`'s shape, on `device`.
    fn init(model: &ModelConfig, input: FeatureShape, device: &Device) -> Result<(Self::G, Self::D), RunError>;
}

/// The error of a model of another kind than the pair's.
fn not_this_pair(model: &ModelConfig, pair: &str) -> RunError {
    RunError::Run(format!("a {pair} GAN needs [model] kind = \"{pair}\", not {:?}", model.kind()))
}

/// The discriminator's loss given its logits on real and generated images.
fn discriminator_loss(real: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
    bce_with_logits(real, 1.0).mean().add(bce_with_logits(fake, 0.0).mean())
}

/// pix2pix: a U-Net and a conditional patch discriminator.
pub struct Pix2pixPair;

impl GanPair for Pix2pixPair {
    type G = UNet;
    type D = PatchDiscriminator;

    fn d_loss(g: &UNet, d: &PatchDiscriminator, batch: &GanBatch) -> Tensor<1> {
        let fake = g.forward(batch.condition.clone()).detach();
        let real_logits = d.forward(batch.condition.clone(), batch.real.clone());
        discriminator_loss(real_logits, d.forward(batch.condition.clone(), fake))
    }

    fn g_loss(g: &UNet, d: &PatchDiscriminator, batch: &GanBatch, l1_weight: f64) -> GeneratorLoss {
        let fake = g.forward(batch.condition.clone());
        let adversarial = bce_with_logits(d.forward(batch.condition.clone(), fake.clone()), 1.0).mean();
        let l1 = fake.sub(batch.real.clone()).abs().mean();
        GeneratorLoss { total: adversarial.clone().add(l1.clone().mul_scalar(l1_weight)), adversarial, l1: Some(l1) }
    }

    fn generate(g: &UNet, batch: &GanBatch) -> Tensor<4> {
        on_pool(&batch.condition.device(), || g.forward(batch.condition.clone()))
    }

    fn init(model: &ModelConfig, input: FeatureShape, device: &Device) -> Result<(UNet, PatchDiscriminator), RunError> {
        match model {
            ModelConfig::Pix2pix(m) => Ok(m.init(input, device)?),
            other => Err(not_this_pair(other, "pix2pix")),
        }
    }
}

/// DCGAN: a generator from Gaussian noise and an image discriminator.
pub struct DcganPair;

impl GanPair for DcganPair {
    type G = DcganGenerator;
    type D = DcganDiscriminator;

    fn d_loss(g: &DcganGenerator, d: &DcganDiscriminator, batch: &GanBatch) -> Tensor<1> {
        let fake = Self::generate(g, batch).detach();
        discriminator_loss(d.forward(batch.real.clone()), d.forward(fake))
    }

    fn g_loss(g: &DcganGenerator, d: &DcganDiscriminator, batch: &GanBatch, _l1_weight: f64) -> GeneratorLoss {
        let adversarial = bce_with_logits(d.forward(Self::generate(g, batch)), 1.0).mean();
        GeneratorLoss { total: adversarial.clone(), adversarial, l1: None }
    }

    fn generate(g: &DcganGenerator, batch: &GanBatch) -> Tensor<4> {
        let [count, ..] = batch.real.dims();
        let device = batch.real.device();
        on_pool(&device, || g.forward(g.noise(count, &device)))
    }

    fn init(
        model: &ModelConfig,
        input: FeatureShape,
        device: &Device,
    ) -> Result<(DcganGenerator, DcganDiscriminator), RunError> {
        match model {
            ModelConfig::Dcgan(m) => Ok(m.init(input, device)?),
            other => Err(not_this_pair(other, "dcgan")),
        }
    }
}
