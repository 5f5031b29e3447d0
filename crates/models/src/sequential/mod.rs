//! A Keras-like sequential network declared layer by layer in the experiment config:
//!
//! ```toml
//! [model]
//! kind = "sequential"
//! [[model.layers]]
//! type = "conv2d"
//! channels = 32
//! kernel = 5
//! activation = "relu"
//! [[model.layers]]
//! type = "maxpool"
//! [[model.layers]]
//! type = "flatten"
//! [[model.layers]]
//! type = "dense"
//! units = 37
//! activation = "sigmoid"
//! ```
//!
//! [`spec`] holds the layer declarations and their shape arithmetic, [`network`] the Burn module.

pub mod network;
pub mod spec;

pub use network::Sequential;
pub use spec::{LayerSpec, Padding, SequentialConfig};
