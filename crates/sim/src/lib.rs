//! Physical simulators for astronomy deep learning.
//!
//! Pure Rust, no Burn: plain arrays in, plain arrays out. Every simulated sample is a pure
//! function of `(seed, index)` (see [`rng::SampleRng`]), so datasets built on these simulators
//! are random-access, reproducible and parallel, and need no disk.

pub mod bands;
pub mod components;
pub mod composite;
pub mod curve_features;
pub mod deconvolution;
pub mod degrade;
pub mod density_field;
pub mod fft;
pub mod field;
pub mod field_statistics;
pub mod framing;
pub mod galaxy;
pub mod galaxy10;
pub mod galaxy_zoo;
pub mod image;
pub mod image_quality;
pub mod lens_scene;
pub mod lensing;
pub mod light_curve;
pub mod merger;
pub mod noise;
pub mod period_search;
pub mod profile;
pub mod psf;
pub mod rng;
pub mod sersic;
pub mod special;
pub mod variable_star;

pub use galaxy::{GalaxyKind, GalaxyParams, GalaxySimConfig, SimulatedGalaxy};
pub use image::Image;
pub use rng::SampleRng;

/// An invalid simulator setting, named by its field.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("simulator.{field}: {problem}")]
pub struct SimConfigError {
    /// The setting's name, as written in the experiment config (dotted when nested, e.g.
    /// `galaxies.image_size`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl SimConfigError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self { field: field.to_string(), problem: problem.into() }
    }

    /// The same error for a setting nested in the table `parent`.
    pub(crate) fn within(self, parent: &str) -> Self {
        Self { field: format!("{parent}.{}", self.field), problem: self.problem }
    }
}
