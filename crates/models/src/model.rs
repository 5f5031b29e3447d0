//! The model zoo entry point: `[model] kind = "..."` selects an architecture and its typed
//! parameters. The foundation ships the sequential builder; named architectures (the Dieleman
//! CNN, ResNets, recurrent nets, autoencoders, GANs) join this enum as they land.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::sequential::network::Features;
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
}

/// A built model.
#[derive(Module, Debug)]
#[allow(missing_docs)]
pub enum Model {
    Sequential(Sequential),
}

impl ModelConfig {
    /// The architecture's name as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Sequential { .. } => "sequential",
        }
    }

    /// Checks that the model takes `input` and produces `outputs` values per sample; returns
    /// the output shape of every layer (for the run report).
    pub fn check(&self, input: FeatureShape, outputs: usize, why: &str) -> Result<Vec<FeatureShape>, ShapeError> {
        let shapes = match self {
            ModelConfig::Sequential { layers } => SequentialConfig { layers: layers.clone() }.shapes(input)?,
        };
        let last = *shapes.last().expect("checked non-empty");
        if last != FeatureShape::Vector(outputs) {
            return Err(ShapeError::Output { got: last, expected: outputs, why: why.to_string() });
        }
        Ok(shapes)
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, input: FeatureShape, device: &Device) -> Result<Model, ShapeError> {
        match self {
            ModelConfig::Sequential { layers } => {
                let config = SequentialConfig { layers: layers.clone() };
                Ok(Model::Sequential(config.init(input, device)?))
            }
        }
    }
}

impl Model {
    /// Runs the model on a batch of images.
    ///
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, outputs]`
    pub fn forward_images(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Sequential(net) => net.forward(Features::Image(images)),
        }
    }
}
