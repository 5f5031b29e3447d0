//! Turns image items into a batch of tensors on the training device, augmenting them on the
//! way when asked: the data loader's worker threads run the batcher, so augmentation happens in
//! parallel with training.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::augment::{Augmenter, Transform};
use crate::item::ImageItem;

/// A batch of images and their targets.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// The items' identifiers, in batch order.
    pub ids: Vec<String>,
    /// `[batch * views, channels, height, width]`: with test-time views, each item's views are
    /// consecutive.
    pub images: Tensor<4>,
    /// `[batch, targets]`.
    pub targets: Tensor<2>,
    /// `[batch * views, features]`: each item's catalogue features, once per view; `None`
    /// when the items carry none.
    pub features: Option<Tensor<2>>,
    /// `[target batch, channels, height, width]`: unlabelled images of the target domain that
    /// domain adaptation trains beside these ([`crate::paired::PairedLoader`]); `None`
    /// otherwise.
    pub target_images: Option<Tensor<4>>,
}

/// What the batcher does to each image.
#[derive(Debug, Clone, Default)]
enum Mode {
    /// Nothing.
    #[default]
    Plain,
    /// A fresh random transform each time (training).
    Random(Arc<Augmenter>),
    /// Every one of a fixed set of views (test-time averaging).
    Views(Arc<Vec<Transform>>),
}

/// Stacks [`ImageItem`]s into an [`ImageBatch`].
#[derive(Debug, Clone, Default)]
pub struct ImageBatcher {
    mode: Mode,
}

impl ImageBatcher {
    /// Augments every image with a random transform from `augmenter`.
    pub fn augmented(augmenter: Augmenter) -> Self {
        Self { mode: Mode::Random(Arc::new(augmenter)) }
    }

    /// Emits every image once per view, views consecutive (the identity alone is plain).
    pub fn with_views(views: Vec<Transform>) -> Self {
        if views.iter().all(Transform::is_identity) {
            return Self::default();
        }
        Self { mode: Mode::Views(Arc::new(views)) }
    }

    /// Stacks `items`, the batch starting at place `first_slot` of epoch `epoch` (0-based):
    /// random transforms are drawn for those places, so that a loader that knows them gives
    /// the same batch whichever thread makes it.
    pub fn batch_at(&self, items: Vec<ImageItem>, epoch: u64, first_slot: u64, device: &Device) -> ImageBatch {
        match &self.mode {
            Mode::Random(augmenter) => {
                let transformed = items
                    .into_iter()
                    .enumerate()
                    .map(|(k, item)| {
                        let pixels =
                            augmenter.at(&item.id, epoch, first_slot + k as u64).apply(&item.pixels, item.shape);
                        ImageItem { pixels, ..item }
                    })
                    .collect();
                Self::default().batch(transformed, device)
            }
            _ => self.batch(items, device),
        }
    }

    /// Images per item in a batch.
    pub fn views(&self) -> usize {
        match &self.mode {
            Mode::Views(v) => v.len(),
            _ => 1,
        }
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let [c, h, w] = items[0].shape;
        let n_targets = items[0].targets.len();
        let views = self.views();
        let mut pixels = Vec::with_capacity(items.len() * views * c * h * w);
        let mut targets = Vec::with_capacity(items.len() * n_targets);
        let n_features = items[0].features.len();
        let mut features = Vec::with_capacity(items.len() * views * n_features);
        for item in &items {
            // Every item of a data set has the same shape: the data set built them so.
            debug_assert_eq!(item.shape, [c, h, w]);
            match &self.mode {
                Mode::Plain => pixels.extend_from_slice(&item.pixels),
                Mode::Random(augmenter) => pixels.extend(augmenter.next(&item.id).apply(&item.pixels, item.shape)),
                Mode::Views(transforms) => {
                    for t in transforms.iter() {
                        pixels.extend(t.apply(&item.pixels, item.shape));
                    }
                }
            }
            targets.extend_from_slice(&item.targets);
            for _ in 0..views {
                features.extend_from_slice(&item.features);
            }
        }
        let b = items.len();
        ImageBatch {
            ids: items.iter().map(|i| i.id.clone()).collect(),
            images: Tensor::from_data(TensorData::new(pixels, [b * views, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, n_targets]), device),
            features: (n_features > 0)
                .then(|| Tensor::from_data(TensorData::new(features, [b * views, n_features]), device)),
            target_images: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stack_items_in_order() {
        let item = |v: f32| ImageItem {
            id: v.to_string(),
            pixels: vec![v; 2 * 3 * 3],
            shape: [2, 3, 3],
            targets: vec![v, -v],
            features: Vec::new(),
        };
        let batch = ImageBatcher::default().batch(vec![item(1.0), item(2.0)], &Device::flex());
        assert_eq!(batch.images.dims(), [2, 2, 3, 3]);
        assert_eq!(batch.targets.into_data().try_to_vec::<f32>().unwrap(), [1.0, -1.0, 2.0, -2.0]);
        let second = batch.images.narrow(0, 1, 1).into_data().try_to_vec::<f32>().unwrap();
        assert!(second.iter().all(|v| *v == 2.0));
        assert!(batch.features.is_none());
    }

    #[test]
    fn test_time_views_repeat_each_item() {
        let item = ImageItem {
            id: "a".into(),
            pixels: (0..9).map(|v| v as f32).collect(),
            shape: [1, 3, 3],
            targets: vec![1.0],
            features: vec![0.5, 7.0],
        };
        let views = crate::augment::TestTimeConfig { rotations: 2, zooms: vec![1.0], flip: false }.views();
        let batcher = ImageBatcher::with_views(views);
        let batch = batcher.batch(vec![item.clone(), item], &Device::flex());
        assert_eq!(batch.images.dims(), [4, 1, 3, 3]);
        assert_eq!(batch.targets.dims(), [2, 1]);
        let half_turn = batch.images.narrow(0, 1, 1).into_data().try_to_vec::<f32>().unwrap();
        assert!((half_turn[0] - 8.0).abs() < 1e-4, "{half_turn:?}");
        // The catalogue features go with every view.
        let features = batch.features.expect("the items carry features");
        assert_eq!(features.into_data().try_to_vec::<f32>().unwrap(), [0.5, 7.0].repeat(4));
    }
}
