//! One split (train, validation or test) of any data source, behind one type: the trainer
//! needs only items, their number, and their targets without the pixels.

use std::fmt::Debug;
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use crate::item::ImageItem;

/// What every source's split provides.
pub trait LabelledImages: Send + Sync + Debug {
    /// Item `index`, decoded or rendered.
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError>;
    /// Number of items.
    fn count(&self) -> usize;
    /// The targets of item `index`, without its image.
    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError>;
    /// The identifier of item `index`, without its image.
    fn id(&self, index: usize) -> String;
    /// Named properties of item `index` that metrics can be binned by (an Einstein radius, an
    /// S/N); none by default.
    fn attributes(&self, _index: usize) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// The catalogue features of item `index` (`[features]`), without its image; none by
    /// default.
    fn features(&self, _index: usize) -> Vec<f32> {
        Vec::new()
    }
    /// The text of item `index`'s catalogue column `name` where it is not a number (for
    /// messages that name what is there instead); none by default.
    fn text_property(&self, _index: usize, _name: &str) -> Option<String> {
        None
    }
    /// A classical answer for item `index` to compare a model with, in the targets' form (the
    /// Richardson-Lucy deconvolution of a degraded image); none by default.
    fn baseline(&self, _index: usize) -> Option<Vec<f32>> {
        None
    }
}

/// A split of some source, cheap to clone (the source is shared).
#[derive(Debug, Clone)]
pub struct ImageSplit(Arc<dyn LabelledImages>);

impl ImageSplit {
    /// Wraps a source's split.
    pub fn new(split: impl LabelledImages + 'static) -> Self {
        Self(Arc::new(split))
    }

    /// The targets of item `index` without loading or rendering its image.
    pub fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.0.targets(index)
    }

    /// The targets of every item, in order; the first item whose targets cannot be read (an
    /// image that does not decode, where the targets are an image) is an error naming it.
    pub fn every_target(&self) -> Result<Vec<Vec<f32>>, String> {
        (0..self.len())
            .map(|i| self.targets(i).map_err(|e| format!("item {}: cannot read its targets: {e}", self.id(i))))
            .collect()
    }

    /// The identifier of item `index`, without its image.
    pub fn id(&self, index: usize) -> String {
        self.0.id(index)
    }

    /// Named properties of item `index` for binned metrics.
    pub fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.0.attributes(index)
    }

    /// The catalogue features of item `index`, without its image.
    pub fn features(&self, index: usize) -> Vec<f32> {
        self.0.features(index)
    }

    /// The text of item `index`'s column `name`, where the source keeps text.
    pub fn text_property(&self, index: usize, name: &str) -> Option<String> {
        self.0.text_property(index, name)
    }

    /// The source's classical answer for item `index`, if it has one.
    pub fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        self.0.baseline(index)
    }
}

impl ImageSplit {
    /// The same items with their own pixels as targets (what an autoencoder learns to give
    /// back).
    pub fn reconstructing(self) -> Self {
        Self::new(Reconstructing(self))
    }
}

/// A split whose targets are its items' pixels.
#[derive(Debug)]
struct Reconstructing(ImageSplit);

impl LabelledImages for Reconstructing {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let item = self.0.get(index)?;
        Ok(ImageItem { targets: item.pixels.clone(), ..item })
    }

    fn count(&self) -> usize {
        self.0.len()
    }

    /// The pixels (rendered or decoded: sources that cache keep them).
    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.0.get(index).map(|item| item.pixels)
    }

    fn id(&self, index: usize) -> String {
        self.0.id(index)
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.0.attributes(index)
    }

    fn text_property(&self, index: usize, name: &str) -> Option<String> {
        self.0.text_property(index, name)
    }

    fn features(&self, index: usize) -> Vec<f32> {
        self.0.features(index)
    }
}

impl Dataset<ImageItem> for ImageSplit {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        self.0.item(index)
    }

    fn len(&self) -> usize {
        self.0.count()
    }
}
