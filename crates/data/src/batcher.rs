//! Turns image items into a batch of tensors on the training device.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::item::ImageItem;

/// A batch of images and their targets.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// The items' identifiers, in batch order.
    pub ids: Vec<String>,
    /// `[batch, channels, height, width]`.
    pub images: Tensor<4>,
    /// `[batch, targets]`.
    pub targets: Tensor<2>,
}

/// Stacks [`ImageItem`]s into an [`ImageBatch`].
#[derive(Debug, Clone, Default)]
pub struct ImageBatcher;

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let [c, h, w] = items[0].shape;
        let n_targets = items[0].targets.len();
        let mut pixels = Vec::with_capacity(items.len() * c * h * w);
        let mut targets = Vec::with_capacity(items.len() * n_targets);
        for item in &items {
            // Every item of a data set has the same shape: the data set built them so.
            debug_assert_eq!(item.shape, [c, h, w]);
            pixels.extend_from_slice(&item.pixels);
            targets.extend_from_slice(&item.targets);
        }
        let b = items.len();
        ImageBatch {
            ids: items.iter().map(|i| i.id.clone()).collect(),
            images: Tensor::from_data(TensorData::new(pixels, [b, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, n_targets]), device),
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
        };
        let batch = ImageBatcher.batch(vec![item(1.0), item(2.0)], &Device::default());
        assert_eq!(batch.images.dims(), [2, 2, 3, 3]);
        assert_eq!(batch.targets.into_data().try_to_vec::<f32>().unwrap(), [1.0, -1.0, 2.0, -2.0]);
        let second = batch.images.narrow(0, 1, 1).into_data().try_to_vec::<f32>().unwrap();
        assert!(second.iter().all(|v| *v == 2.0));
    }
}
