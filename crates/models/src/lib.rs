//! Neural network architectures for astronomy, as Burn modules with typed configs.
//!
//! Configs deserialize from the experiment TOML (`[model]`, chosen by `kind`) and are checked
//! against the input shape before any weight is allocated, so a bad network is reported with
//! the layer at fault before training starts. Models depend on neither the data loaders nor the
//! simulators; the Galaxy Zoo decision tree of the output layer comes from `astro-survey`.

pub mod activation;
pub mod adam_kernel;
pub mod autoencoder;
pub mod batch_norm;
#[cfg(feature = "flex")]
mod batch_norm_kernel;
pub mod body;
pub mod conv2d;
#[cfg(feature = "flex")]
mod conv_columns;
#[cfg(feature = "flex")]
mod conv_direct;
#[cfg(feature = "flex")]
mod conv_filter_lanes;
#[cfg(feature = "flex")]
mod conv_phases;
#[cfg(feature = "flex")]
mod conv_pointwise;
pub mod dieleman;
pub mod dropout;
#[cfg(feature = "flex")]
mod elementwise;
#[cfg(feature = "flex")]
mod fold_phases;
pub mod freeze;
pub mod galaxy_zoo_output;
pub mod gan;
pub mod host_elu;
#[cfg(feature = "flex")]
mod matrix_product;
pub mod max_pool_2x2;
pub mod model;
#[cfg(feature = "flex")]
mod on_flex;
pub mod pool_step;
pub mod rational_tanh;
pub mod rectifier;
pub mod recurrent;
pub mod resnet;
pub mod semantic;
pub mod sequential;
pub mod shape;
pub mod transfer;
#[cfg(feature = "flex")]
mod unfold_channels_last;
#[cfg(feature = "flex")]
mod vectorised;

pub use activation::Activation;
pub use model::{LayerShape, Model, ModelConfig};
pub use shape::{FeatureShape, ShapeError};
