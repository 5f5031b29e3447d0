//! The project's loader: an epoch's batches are a pure function of `(seed, epoch)`, read and
//! batched by worker threads ahead of training, and handed out in order. Whatever the number
//! of workers, and whether the run was resumed, the model sees the same batches in the same
//! order, so a seed gives one result (Burn's multi-threaded loader hands batches out in the
//! order its workers finish them, which changed a `galaxy_cnn` run's losses from run to run).
//!
//! Three ways to draw an epoch: [`EpochLoader::shuffled`], every item once in a shuffled order
//! (the last batch short when the batch size does not divide the split),
//! [`EpochLoader::stratified`], every batch holding each class equally ([`crate::stratified`]),
//! and [`EpochLoader::in_order`], the split's first items in their order, for validation and
//! evaluation (whose sums, files and plots then do not depend on which worker finished first).
//! An item that cannot be read, or a worker that panics, gives an error in its batch's place,
//! never a shorter epoch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use astro_sim::SampleRng;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::Device;

use crate::batcher::{ImageBatch, ImageBatcher};
use crate::split::ImageSplit;
use crate::stratified::{Deck, items_by_class, stratified_batches};

/// How an epoch's batches are drawn.
#[derive(Clone)]
enum Draw {
    /// Every item once, shuffled.
    Shuffled,
    /// The same number of items of each class in every batch: the items of each class.
    Stratified(Arc<Vec<Vec<usize>>>),
    /// The first this many items, in their order.
    InOrder(usize),
}

/// The random stream of the shuffled order (the stratified draw uses one per class, from 0).
const SHUFFLE_STREAM: u64 = u64::MAX;

/// A training loader whose epochs are pure functions of `(seed, epoch)`.
#[derive(Clone)]
pub struct EpochLoader {
    split: ImageSplit,
    draw: Draw,
    batch_size: usize,
    seed: u64,
    /// The next epoch to draw (shared by the copies `to_device` makes).
    epoch: Arc<AtomicU64>,
    /// Only the batches starting in this range of item positions (a device's share).
    range: Option<(usize, usize)>,
    batcher: ImageBatcher,
    device: Device,
    workers: usize,
}

impl std::fmt::Debug for EpochLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let draw = match &self.draw {
            Draw::Shuffled => "shuffled".to_string(),
            Draw::Stratified(by_class) => {
                format!("stratified {:?}", by_class.iter().map(Vec::len).collect::<Vec<_>>())
            }
            Draw::InOrder(count) => format!("the first {count} in order"),
        };
        f.debug_struct("EpochLoader")
            .field("items", &self.split.len())
            .field("draw", &draw)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl EpochLoader {
    /// Every item of `split` once per epoch, in an order shuffled by `(seed, epoch)`, drawing
    /// epochs from `first_epoch` on (0 for a new run; the epochs done for a resumed one), made by
    /// `workers` threads (at least one).
    pub fn shuffled(
        split: ImageSplit,
        batch_size: usize,
        seed: u64,
        first_epoch: u64,
        batcher: ImageBatcher,
        workers: usize,
    ) -> Self {
        Self {
            split,
            draw: Draw::Shuffled,
            batch_size,
            seed,
            epoch: Arc::new(AtomicU64::new(first_epoch)),
            range: None,
            batcher,
            device: Device::default(),
            workers,
        }
    }

    /// Batches that hold `batch_size / classes` items of each of the `classes` classes of
    /// `split`'s labels, otherwise as [`Self::shuffled`]. The error says why the split cannot be
    /// stratified.
    pub fn stratified(
        split: ImageSplit,
        classes: usize,
        batch_size: usize,
        seed: u64,
        first_epoch: u64,
        batcher: ImageBatcher,
        workers: usize,
    ) -> Result<Self, String> {
        let by_class = items_by_class(&split, classes, batch_size)?;
        Ok(Self {
            draw: Draw::Stratified(Arc::new(by_class)),
            ..Self::shuffled(split, batch_size, seed, first_epoch, batcher, workers)
        })
    }

    /// The first `count` items of `split` (all of them when it holds fewer) in their order, in
    /// batches of `batch_size` (the last one short), made by `workers` threads and batched by the
    /// default [`ImageBatcher`]: validation and evaluation.
    pub fn in_order(split: ImageSplit, count: usize, batch_size: usize, workers: usize) -> Self {
        let count = count.min(split.len());
        Self { draw: Draw::InOrder(count), ..Self::shuffled(split, batch_size, 0, 0, ImageBatcher::default(), workers) }
    }

    /// The same loader, making its batches on `device`.
    pub fn on(self, device: Device) -> Self {
        Self { device, ..self }
    }

    /// The items an epoch's batches are cut from: the in-order draw's first ones, else the split.
    fn items_per_epoch(&self) -> usize {
        match self.draw {
            Draw::InOrder(count) => count,
            _ => self.split.len(),
        }
    }

    /// Batches in an epoch.
    fn batches_per_epoch(&self) -> usize {
        self.items_per_epoch().div_ceil(self.batch_size)
    }

    /// The item indices of every batch of epoch `epoch` (0-based).
    pub fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        match &self.draw {
            Draw::Shuffled => {
                let all: Vec<usize> = (0..self.split.len()).collect();
                let mut deck = Deck::new(&all, SampleRng::for_sample(self.seed, epoch, SHUFFLE_STREAM));
                let order: Vec<usize> = all.iter().map(|_| deck.draw()).collect();
                order.chunks(self.batch_size).map(<[usize]>::to_vec).collect()
            }
            Draw::Stratified(by_class) => {
                stratified_batches(by_class, self.batch_size, self.batches_per_epoch(), self.seed, epoch)
            }
            Draw::InOrder(count) => {
                (0..*count).collect::<Vec<_>>().chunks(self.batch_size).map(<[usize]>::to_vec).collect()
            }
        }
    }

    /// The batches of this loader's share of epoch `epoch`, each with its place in the epoch.
    fn share(&self, epoch: u64) -> Vec<(usize, Vec<usize>)> {
        let all = self.epoch_batches(epoch).into_iter().enumerate();
        match self.range {
            None => all.collect(),
            Some((start, end)) => all.filter(|(j, _)| (start..end).contains(&(j * self.batch_size))).collect(),
        }
    }
}

type Message = (usize, Result<ImageBatch, DatasetError>);

/// An epoch in progress: batches made by worker threads, handed out in order.
struct EpochIter {
    receiver: Receiver<Message>,
    pending: BTreeMap<usize, Result<ImageBatch, DatasetError>>,
    next: usize,
    sizes: Vec<usize>,
    done_items: usize,
    total_items: usize,
}

impl Iterator for EpochIter {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.sizes.len() {
            return None;
        }
        while !self.pending.contains_key(&self.next) {
            // Workers turn their panics into errors, so a closed channel before the last batch
            // is a worker gone without a word: an error, and the epoch ends after it.
            let Ok((position, batch)) = self.receiver.recv() else {
                let missing = self.next;
                self.next = self.sizes.len();
                return Some(Err(DatasetError::new(std::io::Error::other(format!(
                    "a data-loader worker stopped before making batch {} of {}",
                    missing + 1,
                    self.sizes.len()
                )))));
            };
            self.pending.insert(position, batch);
        }
        let batch = self.pending.remove(&self.next)?;
        self.done_items += self.sizes[self.next];
        self.next += 1;
        Some(batch)
    }
}

impl DataLoaderIterator<ImageBatch> for EpochIter {
    fn progress(&self) -> Progress {
        Progress::new(self.done_items, self.total_items, Some("items".to_string()))
    }
}

impl DataLoader<ImageBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        let batches = Arc::new(self.share(epoch));
        let workers = self.workers.max(1);
        let (sender, receiver) = sync_channel::<Message>(2 * workers);
        for w in 0..workers {
            let (sender, batches, split, batcher, device) =
                (sender.clone(), batches.clone(), self.split.clone(), self.batcher.clone(), self.device.clone());
            let batch_size = self.batch_size;
            std::thread::spawn(move || {
                for position in (w..batches.len()).step_by(workers) {
                    let make = || -> Result<ImageBatch, DatasetError> {
                        let (j, batch) = &batches[position];
                        let items: Vec<_> = batch.iter().map(|&i| split.get(i)).collect::<Result<_, _>>()?;
                        Ok(batcher.batch_at(items, epoch, (j * batch_size) as u64, &device))
                    };
                    // A panic while reading or batching becomes this batch's error.
                    let batch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(make)).unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "no message".into());
                        Err(DatasetError::new(std::io::Error::other(format!(
                            "a data-loader worker panicked making batch {} of {}: {why}",
                            position + 1,
                            batches.len()
                        ))))
                    });
                    // The receiver is gone when training stops early: stop too.
                    if sender.send((position, batch)).is_err() {
                        return;
                    }
                }
            });
        }
        let sizes: Vec<usize> = batches.iter().map(|(_, b)| b.len()).collect();
        let total_items = sizes.iter().sum();
        Box::new(EpochIter { receiver, pending: BTreeMap::new(), next: 0, sizes, done_items: 0, total_items })
    }

    fn num_items(&self) -> usize {
        let batches = self.batches_per_epoch();
        // The item count of batch `j`: the shuffled draw's last batch is short.
        let size = |j: usize| match self.draw {
            Draw::Shuffled | Draw::InOrder(_) => self.batch_size.min(self.items_per_epoch() - j * self.batch_size),
            Draw::Stratified(_) => self.batch_size,
        };
        match self.range {
            None => (0..batches).map(size).sum(),
            Some((start, end)) => {
                (0..batches).filter(|j| (start..end).contains(&(j * self.batch_size))).map(size).sum()
            }
        }
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        Arc::new(self.clone().on(device.clone()))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        // Each device's share counts its epochs itself: the shares of one epoch are disjoint.
        let epoch = Arc::new(AtomicU64::new(self.epoch.load(Ordering::SeqCst)));
        Arc::new(Self { range: Some((start, end)), epoch, ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ImageItem;
    use crate::split::LabelledImages;

    /// Items whose pixels hold their index, labelled 0.
    #[derive(Debug)]
    struct Numbered(usize);

    impl LabelledImages for Numbered {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            Ok(ImageItem {
                id: index.to_string(),
                pixels: vec![index as f32],
                shape: [1, 1, 1],
                targets: vec![0.0],
                features: Vec::new(),
            })
        }
        fn count(&self) -> usize {
            self.0
        }
        fn targets(&self, _index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![0.0])
        }
        fn id(&self, index: usize) -> String {
            index.to_string()
        }
    }

    fn shuffled(items: usize, batch: usize, first_epoch: u64, workers: usize) -> EpochLoader {
        let split = ImageSplit::new(Numbered(items));
        EpochLoader::shuffled(split, batch, 7, first_epoch, ImageBatcher::default(), workers).on(Device::flex())
    }

    /// The item indices of each batch of the loader's next epoch, as its batches hold them.
    fn next_epoch(loader: &EpochLoader) -> Vec<Vec<usize>> {
        loader
            .iter()
            .map(|b| b.unwrap().images.into_data().try_to_vec::<f32>().unwrap().iter().map(|v| *v as usize).collect())
            .collect()
    }

    #[test]
    fn a_shuffled_epoch_holds_every_item_once_with_a_short_last_batch() {
        let l = shuffled(103, 10, 0, 2);
        let e0 = l.epoch_batches(0);
        assert_eq!(e0.iter().map(Vec::len).collect::<Vec<_>>(), [vec![10; 10], vec![3]].concat());
        let mut all: Vec<usize> = e0.concat();
        assert_ne!(all, (0..103).collect::<Vec<_>>(), "shuffled");
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>(), "every item once");
        assert_eq!(e0, l.epoch_batches(0), "an epoch is a pure function of (seed, epoch)");
        assert_ne!(e0, l.epoch_batches(1));
        assert_eq!(l.num_items(), 103);
        assert_eq!(l.slice(0, 50).num_items() + l.slice(50, 103).num_items(), 103);
    }

    #[test]
    fn the_batches_are_the_same_whatever_the_workers_and_after_a_resume() {
        let one = shuffled(57, 8, 0, 1);
        let epochs: Vec<_> = (0..3).map(|_| next_epoch(&one)).collect();
        assert_eq!(epochs[0], one.epoch_batches(0));
        let four = shuffled(57, 8, 0, 4);
        assert_eq!((0..3).map(|_| next_epoch(&four)).collect::<Vec<_>>(), epochs, "four workers, one order");
        let resumed = shuffled(57, 8, 2, 3);
        assert_eq!(next_epoch(&resumed), epochs[2], "a run resumed at epoch 2 draws the uninterrupted run's");
    }

    #[test]
    fn the_in_order_draw_hands_out_the_first_items_in_their_order_whatever_the_workers() {
        let split = ImageSplit::new(Numbered(45));
        for workers in [0, 1, 4] {
            let l = EpochLoader::in_order(split.clone(), 23, 5, workers).on(Device::flex());
            let expected: Vec<Vec<usize>> = (0..23).collect::<Vec<_>>().chunks(5).map(<[usize]>::to_vec).collect();
            assert_eq!(l.epoch_batches(0), expected);
            for _ in 0..3 {
                assert_eq!(next_epoch(&l), expected, "{workers} workers, every epoch the same");
            }
            assert_eq!(l.num_items(), 23);
            assert_eq!(l.slice(0, 10).num_items() + l.slice(10, 23).num_items(), 23);
        }
        let all = EpochLoader::in_order(split, 100, 10, 2).on(Device::flex());
        assert_eq!(next_epoch(&all).concat(), (0..45).collect::<Vec<_>>(), "at most the split");
        assert_eq!(all.num_items(), 45);
    }
}
