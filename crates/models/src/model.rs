//! The model zoo entry point: `[model] kind = "..."` selects an architecture and its typed
//! parameters: `sequential` (layers declared one by one), `dieleman` (the Galaxy Zoo
//! challenge winner), `resnet` (DeepLens, ResNet-18/34) and `recurrent` (LSTM/GRU on light
//! curves) and `semantic_autoencoder` (parameters of an analytic profile, learned by rendering
//! it). GANs join this enum as they land.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, AutoencoderConfig};
use crate::dieleman::{Dieleman, DielemanConfig};
use crate::gan::dcgan::DcganConfig;
use crate::gan::pix2pix::Pix2pixConfig;
use crate::recurrent::{Recurrent, RecurrentConfig};
use crate::resnet::{ResNet, ResNetConfig};
use crate::semantic::{SemanticAutoencoder, SemanticAutoencoderConfig};
use crate::sequential::{Sequential, SequentialConfig};
use crate::shape::{FeatureShape, ShapeError};

/// Which architecture, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A network declared layer by layer (`[[model.layers]]`).
    Sequential {
        /// The layers, first to last.
        layers: Vec<crate::sequential::LayerSpec>,
    },
    /// Dieleman, Willett & Dambre (2015): rotated parts, shared convs, maxout, the Galaxy Zoo
    /// output layer.
    Dieleman(DielemanConfig),
    /// Residual networks: CMU DeepLens (Lanusse et al. 2018), ResNet-18/34.
    Resnet(ResNetConfig),
    /// Stacked (bidirectional) LSTM or GRU with masking: Dekany & Grebel (2020).
    Recurrent(RecurrentConfig),
    /// A CNN encoder to the parameters of an analytic profile that a fixed renderer draws:
    /// Aragon-Calvo & Carvajal (2020).
    SemanticAutoencoder(SemanticAutoencoderConfig),
    /// A convolutional autoencoder (plain or denoising) that learns to give its images back.
    Autoencoder(AutoencoderConfig),
    /// pix2pix: a U-Net generator and a conditional discriminator (GalaxyGAN).
    Pix2pix(Pix2pixConfig),
    /// DCGAN: a generator from noise and a discriminator (the cosmic-web GAN).
    Dcgan(DcganConfig),
}

/// A built model.
#[derive(Module, Debug)]
#[allow(missing_docs)]
// A run holds one model, and Burn's `Module` derive does not box variants.
#[allow(clippy::large_enum_variant)]
pub enum Model {
    Sequential(Sequential),
    Dieleman(Dieleman),
    Resnet(ResNet),
    Recurrent(Recurrent),
    SemanticAutoencoder(SemanticAutoencoder),
    Autoencoder(Autoencoder),
}

/// One row of a model's layer table: what the stage is, and what it produces per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerShape {
    /// The stage, in words (`conv2d`, `maxout(2)`, ...).
    pub name: String,
    /// Its output shape.
    pub shape: FeatureShape,
}

impl LayerShape {
    /// A row.
    pub fn new(name: impl Into<String>, shape: FeatureShape) -> Self {
        Self { name: name.into(), shape }
    }
}

impl ModelConfig {
    /// Whether the network has batch-norm layers (whose running statistics AdaBN re-estimates
    /// on a target domain).
    pub fn has_batch_norm(&self) -> bool {
        match self {
            ModelConfig::Sequential { layers } => layers.iter().any(|l| l.type_name() == "batchnorm"),
            ModelConfig::Resnet(_) => true,
            _ => false,
        }
    }

    /// The architecture's name as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Sequential { .. } => "sequential",
            ModelConfig::Dieleman(_) => "dieleman",
            ModelConfig::Resnet(_) => "resnet",
            ModelConfig::Recurrent(_) => "recurrent",
            ModelConfig::SemanticAutoencoder(_) => "semantic_autoencoder",
            ModelConfig::Autoencoder(_) => "autoencoder",
            ModelConfig::Pix2pix(_) => "pix2pix",
            ModelConfig::Dcgan(_) => "dcgan",
        }
    }

    /// Whether the model is a GAN (two networks trained by the adversarial loop).
    pub fn is_gan(&self) -> bool {
        matches!(self, ModelConfig::Pix2pix(_) | ModelConfig::Dcgan(_))
    }

    /// Whether the model trains with a loss of its own (an image-space one) rather than its
    /// task's.
    pub fn has_own_loss(&self) -> bool {
        matches!(self, ModelConfig::Autoencoder(_) | ModelConfig::SemanticAutoencoder(_))
    }

    /// Whether the model learns to give its input back (its outputs are the input's values,
    /// its targets the input itself), rather than the data's targets.
    pub fn reconstructs(&self) -> bool {
        matches!(self, ModelConfig::Autoencoder(_))
    }

    /// Checks that the model takes `input` and produces `outputs` values per sample; returns
    /// every stage's output shape (for the run report).
    pub fn check(&self, input: FeatureShape, outputs: usize, why: &str) -> Result<Vec<LayerShape>, ShapeError> {
        self.check_with_side(input, 0, outputs, why)
    }

    /// Refuses `side` catalogue features for a model that cannot take them.
    fn takes_side(&self, side: usize) -> Result<(), ShapeError> {
        match self {
            _ if side == 0 => Ok(()),
            ModelConfig::Recurrent(_) | ModelConfig::Resnet(_) | ModelConfig::Dieleman(_) => Ok(()),
            _ => Err(ShapeError::Setting {
                field: "kind".into(),
                problem: format!(
                    "{:?} takes no catalogue features ([features]); the \"recurrent\", \"resnet\" and \"dieleman\" \
                     models do",
                    self.kind()
                ),
            }),
        }
    }

    /// As [`Self::check`], with `side` catalogue features beside the input (`[features]`),
    /// concatenated to the body's output before the head.
    pub fn check_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
        why: &str,
    ) -> Result<Vec<LayerShape>, ShapeError> {
        self.takes_side(side)?;
        let table = match self {
            ModelConfig::Sequential { layers } => {
                let shapes = SequentialConfig { layers: layers.clone() }.shapes(input)?;
                layers.iter().zip(shapes).map(|(l, s)| LayerShape::new(l.type_name(), s)).collect()
            }
            ModelConfig::Dieleman(config) => config.shapes_with_side(input, side, outputs)?,
            ModelConfig::Resnet(config) => config.shapes_with_side(input, side, outputs)?,
            ModelConfig::Recurrent(config) => config.shapes_with_side(input, side, outputs)?,
            ModelConfig::SemanticAutoencoder(config) => config.shapes(input, outputs)?,
            ModelConfig::Autoencoder(config) => config.shapes(input)?,
            ModelConfig::Pix2pix(config) => config.shapes(input)?,
            ModelConfig::Dcgan(config) => config.shapes(input)?,
        };
        let last = table.last().expect("checked non-empty").shape;
        if last != FeatureShape::Vector(outputs) {
            return Err(ShapeError::Output { got: last, expected: outputs, why: why.to_string() });
        }
        Ok(table)
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, input: FeatureShape, outputs: usize, device: &Device) -> Result<Model, ShapeError> {
        self.init_with_side(input, 0, outputs, device)
    }

    /// As [`Self::init`], the head reading `side` catalogue features beside the body's output.
    pub fn init_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<Model, ShapeError> {
        self.takes_side(side)?;
        match self {
            ModelConfig::Sequential { layers } => {
                let config = SequentialConfig { layers: layers.clone() };
                Ok(Model::Sequential(config.init(input, device)?))
            }
            ModelConfig::Dieleman(config) => Ok(Model::Dieleman(config.init_with_side(input, side, outputs, device)?)),
            ModelConfig::Resnet(config) => Ok(Model::Resnet(config.init_with_side(input, side, outputs, device)?)),
            ModelConfig::Recurrent(config) => {
                Ok(Model::Recurrent(config.init_with_side(input, side, outputs, device)?))
            }
            ModelConfig::SemanticAutoencoder(config) => {
                Ok(Model::SemanticAutoencoder(config.init(input, outputs, device)?))
            }
            ModelConfig::Autoencoder(config) => Ok(Model::Autoencoder(config.init(input, device)?)),
            ModelConfig::Pix2pix(_) | ModelConfig::Dcgan(_) => Err(ShapeError::Setting {
                field: "kind".into(),
                problem: format!(
                    "{:?} is a GAN: its two networks train in the GAN loop, not as one model",
                    self.kind()
                ),
            }),
        }
    }
}

impl Model {
    /// Runs the model on a batch as the data sources make it.
    ///
    /// # Shapes
    /// - input: images `[batch, channels, height, width]`, or sequences
    ///   `[batch, channels, 1, steps]` whose last channel is the padding mask
    /// - output: `[batch, outputs]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward_with_side(input, None)
    }

    /// As [`Self::forward`], with catalogue features `[batch, side]` for the models built to
    /// take them ([`ModelConfig::init_with_side`]); other models never get any (refused when
    /// built).
    pub fn forward_with_side(&self, input: Tensor<4>, side: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Model::Sequential(net) => net.forward_tensor(input),
            Model::Dieleman(net) => net.forward_with_side(input, side),
            Model::Resnet(net) => net.forward_with_side(input, side),
            Model::Recurrent(net) => net.forward_with_side(input, side),
            Model::SemanticAutoencoder(net) => net.forward(input),
            Model::Autoencoder(net) => net.forward(input),
        }
    }

    /// Whether a layer normalises by the statistics of the batch in training (batch norm), so
    /// that the batch cannot be split into parts that step apart without changing the result.
    pub fn normalises_by_batch(&self) -> bool {
        match self {
            Model::Sequential(net) => {
                net.layers.iter().any(|layer| matches!(layer, crate::sequential::network::Layer::BatchNorm(_)))
            }
            Model::Resnet(_) => true,
            Model::Dieleman(_) | Model::Recurrent(_) | Model::SemanticAutoencoder(_) | Model::Autoencoder(_) => false,
        }
    }

    /// The loss per sample of a model that defines its own (the autoencoders', in image
    /// space); `None` when the task's loss applies.
    ///
    /// # Shapes
    /// - images: `[batch, channels, height, width]`; output, targets: `[batch, outputs]`
    /// - result: `[batch]`
    pub fn own_loss(&self, images: &Tensor<4>, output: &Tensor<2>, targets: &Tensor<2>) -> Option<Tensor<1>> {
        match self {
            Model::SemanticAutoencoder(net) => Some(net.loss(output.clone(), targets.clone())),
            Model::Autoencoder(net) => Some(net.loss(images, output)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_models_with_a_place_for_them_take_catalogue_features() {
        let sequential: ModelConfig = toml::from_str(
            "kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 2\n",
        )
        .unwrap();
        let image = FeatureShape::Image { channels: 1, height: 4, width: 4 };
        let err = sequential.check_with_side(image, 2, 2, "two classes").unwrap_err().to_string();
        assert_eq!(
            err,
            "model.kind: \"sequential\" takes no catalogue features ([features]); the \"recurrent\", \"resnet\" and \
             \"dieleman\" models do"
        );
        assert!(sequential.init_with_side(image, 2, 2, &Device::flex()).is_err());
        // Without features every model is as before.
        assert!(sequential.check_with_side(image, 0, 2, "two classes").is_ok());
        let recurrent: ModelConfig = toml::from_str("kind = \"recurrent\"").unwrap();
        let curve = FeatureShape::Sequence { channels: 3, length: 10 };
        let table = recurrent.check_with_side(curve, 2, 1, "one value").unwrap();
        assert_eq!(table.last().unwrap().shape, FeatureShape::Vector(1));
    }
}
