//! Feature shapes (per sample, without the batch axis) and the errors of shape checking.

use std::fmt;

/// The shape of one sample's features between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureShape {
    /// Channels x height x width (an image).
    Image {
        /// Channels.
        channels: usize,
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
    },
    /// Channels x length (a 1-D signal such as a spectrum or a light curve).
    Sequence {
        /// Channels.
        channels: usize,
        /// Steps.
        length: usize,
    },
    /// A flat feature vector.
    Vector(usize),
}

impl FeatureShape {
    /// The number of values per sample.
    pub fn numel(&self) -> usize {
        match *self {
            FeatureShape::Image { channels, height, width } => channels * height * width,
            FeatureShape::Sequence { channels, length } => channels * length,
            FeatureShape::Vector(n) => n,
        }
    }

    /// The number of channels (features for a vector).
    pub fn channels(&self) -> usize {
        match *self {
            FeatureShape::Image { channels, .. } | FeatureShape::Sequence { channels, .. } => channels,
            FeatureShape::Vector(n) => n,
        }
    }
}

impl fmt::Display for FeatureShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FeatureShape::Image { channels, height, width } => write!(f, "[{channels}, {height}, {width}]"),
            FeatureShape::Sequence { channels, length } => write!(f, "[{channels}, {length}]"),
            FeatureShape::Vector(n) => write!(f, "[{n}]"),
        }
    }
}

/// A network that does not fit its input or output, naming the layer at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeError {
    /// A layer cannot take the shape that reaches it.
    #[error("model.layers[{index}] ({layer}): {problem} (its input is {input})")]
    Layer {
        /// 0-based position in `[[model.layers]]`.
        index: usize,
        /// The layer's type, as written in the config.
        layer: &'static str,
        /// The shape reaching it.
        input: FeatureShape,
        /// What does not fit.
        problem: String,
    },
    /// The network's output does not match what the task needs.
    #[error("the model's output is {got} but the task needs [{expected}] ({why})")]
    Output {
        /// What the network produces.
        got: FeatureShape,
        /// Outputs the task needs.
        expected: usize,
        /// Which targets those are.
        why: String,
    },
    /// A setting that is out of range.
    #[error("model.{field}: {problem}")]
    Setting {
        /// The config field.
        field: String,
        /// What is wrong.
        problem: String,
    },
}
