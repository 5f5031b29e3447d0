//! Stratified batches for classification: every training batch holds the same number of items
//! of each class (Ackermann et al. 2018 drew 8 mergers and 8 non-interacting galaxies per batch
//! of 16), whatever the class shares of the data set.
//!
//! An epoch has as many batches as a plain pass over the split would (`len / batch`, rounded
//! up), so stratified and plain runs take the same number of steps. Each class's items are
//! drawn from their own shuffled deck, reshuffled when it runs out: a minority class is seen
//! more than once per epoch, a majority class less. Epoch `e` is a pure function of
//! `(seed, e)`, so a resumed run draws the batches an uninterrupted one would have.
//! [`crate::epoch_loader::EpochLoader::stratified`] reads and batches them.

use astro_sim::SampleRng;
use burn::data::dataset::Dataset;

use crate::split::ImageSplit;
use crate::task::class_of;

/// The training items of each of `classes` classes, for batches of `batch_size`. The error says
/// why the split cannot be stratified.
pub fn items_by_class(split: &ImageSplit, classes: usize, batch_size: usize) -> Result<Vec<Vec<usize>>, String> {
    if classes == 0 || !batch_size.is_multiple_of(classes) {
        return Err(format!(
            "stratified batches need a batch size that is a multiple of the {classes} classes, got {batch_size}"
        ));
    }
    let mut by_class = vec![Vec::new(); classes];
    for i in 0..split.len() {
        let targets =
            split.targets(i).map_err(|e| format!("training item {}: cannot read its label: {e}", split.id(i)))?;
        match class_of(&targets, classes) {
            Some(c) => by_class[c].push(i),
            None => return Err(format!("training item {} has no class label", split.id(i))),
        }
    }
    if let Some(empty) = by_class.iter().position(Vec::is_empty) {
        return Err(format!("class {empty} has no training item to put in every batch"));
    }
    Ok(by_class)
}

/// The item indices of the `batches` batches of epoch `epoch` (0-based), each holding
/// `batch_size / classes` items of each class, in class order.
pub fn stratified_batches(
    by_class: &[Vec<usize>],
    batch_size: usize,
    batches: usize,
    seed: u64,
    epoch: u64,
) -> Vec<Vec<usize>> {
    let per_class = batch_size / by_class.len();
    let mut decks: Vec<Deck> = by_class
        .iter()
        .enumerate()
        .map(|(c, items)| Deck::new(items, SampleRng::for_sample(seed, epoch, c as u64)))
        .collect();
    (0..batches)
        .map(|_| decks.iter_mut().flat_map(|deck| (0..per_class).map(|_| deck.draw()).collect::<Vec<_>>()).collect())
        .collect()
}

/// Items dealt in a random order and reshuffled when all have been dealt.
pub(crate) struct Deck {
    items: Vec<usize>,
    next: usize,
    rng: SampleRng,
}

impl Deck {
    pub(crate) fn new(items: &[usize], rng: SampleRng) -> Self {
        let mut deck = Self { items: items.to_vec(), next: items.len(), rng };
        deck.shuffle();
        deck
    }

    fn shuffle(&mut self) {
        // Fisher-Yates.
        for i in (1..self.items.len()).rev() {
            let j = (self.rng.uniform() * (i + 1) as f64) as usize;
            self.items.swap(i, j.min(i));
        }
        self.next = 0;
    }

    pub(crate) fn draw(&mut self) -> usize {
        if self.next == self.items.len() {
            self.shuffle();
        }
        self.next += 1;
        self.items[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use burn::data::dataloader::DataLoader;
    use burn::data::dataset::DatasetError;
    use burn::tensor::Device;

    use super::*;
    use crate::batcher::{ImageBatch, ImageBatcher};
    use crate::epoch_loader::EpochLoader;
    use crate::item::ImageItem;
    use crate::split::LabelledImages;

    /// Items whose class is given by a list; pixels hold the index.
    #[derive(Debug)]
    struct Labelled(Vec<usize>);

    impl LabelledImages for Labelled {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            Ok(ImageItem {
                id: index.to_string(),
                pixels: vec![index as f32],
                shape: [1, 1, 1],
                targets: self.targets(index)?,
                features: Vec::new(),
            })
        }
        fn count(&self) -> usize {
            self.0.len()
        }
        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![self.0[index] as f32])
        }
        fn id(&self, index: usize) -> String {
            index.to_string()
        }
    }

    /// 70 items of class 0 and 30 of class 1.
    fn loader(batch: usize, workers: usize) -> EpochLoader {
        loader_from(batch, workers, 0)
    }

    /// As [`loader`], drawing epochs from `first_epoch` on.
    fn loader_from(batch: usize, workers: usize, first_epoch: u64) -> EpochLoader {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 10 >= 7)).collect();
        let split = ImageSplit::new(Labelled(labels));
        EpochLoader::stratified(split, 2, batch, 7, first_epoch, ImageBatcher::default(), workers)
            .unwrap()
            .on(Device::flex())
    }

    #[test]
    fn every_batch_holds_each_class_equally_and_epochs_differ_but_repeat() {
        let l = loader(16, 2);
        let e0 = l.epoch_batches(0);
        assert_eq!(e0.len(), 7, "100 items in batches of 16: 7 steps, as a plain epoch");
        let class = |i: usize| usize::from(i % 10 >= 7);
        for batch in &e0 {
            assert_eq!(batch.len(), 16);
            assert_eq!(batch.iter().filter(|&&i| class(i) == 1).count(), 8, "{batch:?}");
        }
        // The 30 minority items are all dealt before any is dealt twice.
        let minority: Vec<usize> = e0.iter().flat_map(|b| b[8..].to_vec()).collect();
        let mut first30 = minority[..30].to_vec();
        first30.sort_unstable();
        first30.dedup();
        assert_eq!(first30.len(), 30);
        assert_eq!(e0, l.epoch_batches(0), "an epoch is a pure function of (seed, epoch)");
        assert_ne!(e0, l.epoch_batches(1));
    }

    #[test]
    fn the_loader_yields_the_epoch_batches_in_order_and_counts_epochs() {
        let l = loader(10, 3);
        for epoch in 0..2 {
            let expected = l.epoch_batches(epoch);
            let mut iter = l.iter();
            let mut got = Vec::new();
            for batch in iter.by_ref() {
                let batch = batch.unwrap();
                let pixels: Vec<usize> =
                    batch.images.into_data().try_to_vec::<f32>().unwrap().iter().map(|v| *v as usize).collect();
                assert_eq!(batch.ids, pixels.iter().map(|p| p.to_string()).collect::<Vec<_>>());
                got.push(pixels);
            }
            assert_eq!(got, expected, "epoch {epoch}");
            assert_eq!(iter.progress().items_processed, 100);
        }
        assert_eq!(l.num_items(), 100);
        // A resumed run starts at the epoch it stopped at.
        let resumed = loader_from(10, 1, 1);
        let mut iter = resumed.iter();
        let first = iter.next().unwrap().unwrap().images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(first.iter().map(|v| *v as usize).collect::<Vec<_>>(), l.epoch_batches(1)[0]);
    }

    #[test]
    fn device_shares_split_an_epoch_without_overlap() {
        let l = loader(10, 1);
        let (a, b) = (l.slice(0, 50), l.slice(50, 100));
        assert_eq!(a.num_items() + b.num_items(), 100);
        let count = |d: &Arc<dyn DataLoader<ImageBatch>>| d.iter().map(|b| b.unwrap().ids.len()).sum::<usize>();
        assert_eq!(count(&a) + count(&b), 100);
    }

    #[test]
    fn batch_sizes_that_do_not_divide_and_missing_classes_are_refused() {
        let split = ImageSplit::new(Labelled(vec![0, 1, 0, 1]));
        let err = EpochLoader::stratified(split.clone(), 2, 5, 0, 0, ImageBatcher::default(), 1).unwrap_err();
        assert!(err.to_string().contains("a multiple of the 2 classes, got 5"), "{err}");
        let err = EpochLoader::stratified(split, 3, 6, 0, 0, ImageBatcher::default(), 1).unwrap_err();
        assert!(err.to_string().contains("class 2 has no training item"), "{err}");
    }

    /// Items that panic when read (a reader bug), from item `from` on.
    #[derive(Debug)]
    struct Panicking {
        labels: Vec<usize>,
        from: usize,
    }

    impl LabelledImages for Panicking {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            assert!(index < self.from, "item {index} cannot be read");
            Labelled(self.labels.clone()).item(index)
        }
        fn count(&self) -> usize {
            self.labels.len()
        }
        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![self.labels[index] as f32])
        }
        fn id(&self, index: usize) -> String {
            index.to_string()
        }
    }

    #[test]
    fn a_worker_that_panics_gives_errors_in_place_of_its_batches_not_a_shorter_epoch() {
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        for (from, workers) in [(0, 1), (0, 3), (20, 2)] {
            let split = ImageSplit::new(Panicking { labels: labels.clone(), from });
            let l = EpochLoader::stratified(split, 2, 8, 7, 0, ImageBatcher::default(), workers)
                .unwrap()
                .on(Device::flex());
            let expected = l.epoch_batches(0);
            let got: Vec<_> = l.iter().collect();
            assert_eq!(got.len(), 5, "every batch of the epoch, read or not");
            for (batch, result) in expected.iter().zip(&got) {
                match result {
                    Ok(_) => assert!(batch.iter().all(|&i| i < from), "{batch:?} was read"),
                    Err(e) => {
                        let e = e.to_string();
                        assert!(
                            e.contains("a data-loader worker panicked making batch") && e.contains("cannot be read"),
                            "{e}"
                        );
                        assert!(batch.iter().any(|&i| i >= from), "{batch:?}: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn augmented_batches_are_the_same_whatever_the_workers_and_the_first_epoch() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 10 >= 7)).collect();
        let config = crate::augment::AugmentConfig { rotation_deg: 180.0, ..Default::default() };
        let images = |workers: usize, first_epoch: u64| -> Vec<Vec<f32>> {
            // Items whose pixels are a ramp, so that every transform shows.
            #[derive(Debug)]
            struct Ramp(Vec<usize>);
            impl LabelledImages for Ramp {
                fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
                    let pixels = (0..64).map(|p| (p + index) as f32).collect();
                    Ok(ImageItem {
                        id: index.to_string(),
                        pixels,
                        shape: [1, 8, 8],
                        targets: vec![self.0[index] as f32],
                        features: Vec::new(),
                    })
                }
                fn count(&self) -> usize {
                    self.0.len()
                }
                fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
                    Ok(vec![self.0[index] as f32])
                }
                fn id(&self, index: usize) -> String {
                    index.to_string()
                }
            }
            let batcher = ImageBatcher::augmented(crate::augment::Augmenter::new(config.clone(), 5));
            let l =
                EpochLoader::stratified(ImageSplit::new(Ramp(labels.clone())), 2, 16, 7, first_epoch, batcher, workers)
                    .unwrap()
                    .on(Device::flex());
            // The epochs up to 2: a loader starting there (a resumed run) draws the last.
            (first_epoch..3)
                .flat_map(|_| {
                    l.iter().map(|b| b.unwrap().images.into_data().try_to_vec::<f32>().unwrap()).collect::<Vec<_>>()
                })
                .collect()
        };
        let one = images(1, 0);
        assert_eq!(one, images(3, 0), "three workers make the same batches as one");
        assert_eq!(one[14..], images(2, 2)[..], "a run resumed at epoch 2 draws the uninterrupted run's");
        // The minority items appear twice in an epoch: each draw is its own.
        assert_ne!(one[0], one[7]);
    }
}
