//! Batches of two domains for domain adaptation: each batch of the source loader (labelled)
//! carries the images of a batch of the target loader (`ImageBatch::target_images`), whose
//! labels are dropped here so that nothing downstream can train on them. The target loader
//! starts over whenever it runs out, so every source batch has a partner whatever the two
//! sets' sizes.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

use crate::batcher::ImageBatch;

/// A source loader whose batches carry target images.
#[derive(Clone)]
pub struct PairedLoader {
    source: Arc<dyn DataLoader<ImageBatch>>,
    target: Arc<dyn DataLoader<ImageBatch>>,
}

impl PairedLoader {
    /// Pairs each batch of `source` with the next batch of `target`.
    pub fn new(source: Arc<dyn DataLoader<ImageBatch>>, target: Arc<dyn DataLoader<ImageBatch>>) -> Self {
        Self { source, target }
    }
}

/// An epoch of the source, with the target going round as often as it needs.
struct PairedIter<'a> {
    source: Box<dyn DataLoaderIterator<ImageBatch> + 'a>,
    target_loader: &'a dyn DataLoader<ImageBatch>,
    target: Box<dyn DataLoaderIterator<ImageBatch> + 'a>,
}

impl PairedIter<'_> {
    fn next_target(&mut self) -> Result<ImageBatch, DatasetError> {
        if let Some(batch) = self.target.next() {
            return batch;
        }
        self.target = self.target_loader.iter();
        self.target.next().unwrap_or_else(|| {
            Err(DatasetError::new(std::io::Error::other(
                "the target set of [adaptation.target] has no training images",
            )))
        })
    }
}

impl Iterator for PairedIter<'_> {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let source = self.source.next()?;
        Some(source.and_then(|mut batch| {
            // The target's ids, labels and features stay here: only its pixels go on.
            batch.target_images = Some(self.next_target()?.images);
            Ok(batch)
        }))
    }
}

impl DataLoaderIterator<ImageBatch> for PairedIter<'_> {
    fn progress(&self) -> Progress {
        self.source.progress()
    }
}

impl DataLoader<ImageBatch> for PairedLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        Box::new(PairedIter {
            source: self.source.iter(),
            target_loader: self.target.as_ref(),
            target: self.target.iter(),
        })
    }

    fn num_items(&self) -> usize {
        self.source.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        Arc::new(Self { source: self.source.to_device(device), target: self.target.to_device(device) })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        // Each device's share of the source goes with the whole target.
        Arc::new(Self { source: self.source.slice(start, end), target: self.target.clone() })
    }
}
