//! Items with their positions in their data set, for prediction: Burn's loader gives each
//! worker thread a contiguous share of the items and hands batches out in the order the workers
//! finish them, so the positions put the predictions back in the data's order (the same
//! `test_predictions.csv` from run to run, and `predict`'s rows in the input's order).

use astro_data::{ImageBatch, ImageBatcher, ImageItem};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::Device;

/// `D`'s items, each with its index.
pub struct Numbered<D>(pub D);

impl<D: Dataset<ImageItem>> Dataset<(usize, ImageItem)> for Numbered<D> {
    fn get(&self, index: usize) -> Result<(usize, ImageItem), DatasetError> {
        self.0.get(index).map(|item| (index, item))
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// An [`ImageBatcher`] that keeps its items' indices beside the batch.
#[derive(Clone)]
pub struct NumberedBatcher(pub ImageBatcher);

impl Batcher<(usize, ImageItem), (Vec<usize>, ImageBatch)> for NumberedBatcher {
    fn batch(&self, items: Vec<(usize, ImageItem)>, device: &Device) -> (Vec<usize>, ImageBatch) {
        let (indices, items): (Vec<usize>, Vec<ImageItem>) = items.into_iter().unzip();
        (indices, self.0.batch(items, device))
    }
}
