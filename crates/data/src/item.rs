//! One labelled image, as datasets hand it to the batcher.

/// An image (or an encoded light curve, see [`Layout`]) with its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Identifier (catalogue id, or the simulated index).
    pub id: String,
    /// Pixels, channel-major `[channels, height, width]`, roughly in [0, 1].
    pub pixels: Vec<f32>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Target values (empty for unlabelled images).
    pub targets: Vec<f32>,
    /// Catalogue features beside the image (`[features]`; empty without them).
    pub features: Vec<f32>,
}

/// What an item's `[channels, height, width]` array holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// An image.
    #[default]
    Image,
    /// A sequence (light curve) stored as `[channels, 1, steps]`, its last channel the mask of
    /// real (1) and padded (0) steps (see [`crate::sequence`]).
    Sequence,
}
