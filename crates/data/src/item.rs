//! One labelled image, as datasets hand it to the batcher.

/// An image with its regression targets.
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
}
