//! 2-d convolution as unfolded matrix products on `flex`, its gradients included.
//!
//! Burn computes a convolution's weight gradient as another convolution, of the input with its
//! batch and channel axes swapped by the output gradient as the kernel. On `flex` that ran as
//! one matrix-vector product per input channel, after two single-threaded layout copies of the
//! input and of the output gradient: in a DeepLens ResNet training step (batch norm everywhere,
//! so the step runs whole on one thread, `fit::halves`) about a seventh of the CPU time. Here
//! the input is unfolded (im2col, every batch item on rayon's threads, skipped for a 1 x 1
//! convolution of stride 1 without padding, whose input is already its unfolding) and the
//! gradient is `sum over the batch of dy_b [out, positions] x unfold(x_b)^T [positions,
//! in k k]`: `flex`'s batched matrix product, then a sum over the batch. The forward pass is
//! the same unfolding times the weight (`[out, in k k] x [in k k, positions]`, the weight
//! broadcast over the batch), where `flex` converts the input to channels-last on one thread
//! first (its own direct path is kept for 1 x 1 convolutions of stride 1). The input gradient of
//! a stride-1 convolution is the output gradient convolved the same way with the kernel turned
//! by 180 degrees (input and output channels swapped, padding `k - 1 - pad`), where `flex`'s
//! transposed convolution (Burn's `conv2d_x_backward`) allocates its `[batch, in k k,
//! positions]` product zero-filled, copies it once more to align it (`FlexTensor::empty` makes
//! a byte vector that `Bytes` realigns), takes fresh pages for it at every step, and folds it
//! back in a scalar loop; strided convolutions keep Burn's input gradient. The unfolding runs a
//! few items at a time (4 MB of columns) into one buffer reused from chunk to chunk, which stays
//! in the cache for its matrix product and is zero-filled once per call, where the whole batch's
//! (75 MB for a DeepLens layer) was zero-filled and faulted in afresh at every call: steps timed
//! as below, DeepLens 105.6, 101.8 -> 115.8, 110.7 images/s, the semantic autoencoder 114.1,
//! 108.4 -> 140.4, 128.5 (16 MB chunks: 109.9 and 121.3; 1 and 2 MB: no better than 4).
//!
//! The operation is a Burn backend extension ([`ConvBackend`]) for `flex` and autodiff over it;
//! [`conv2d`] takes it for a `Conv2d` layer on `flex` (f32) with one group, no dilation and the
//! same padding on both sides of each axis (`Same` padding included where Burn's works out
//! symmetric: odd kernels of stride 1), and Burn's `Conv2d::forward` elsewhere.
//!
//! Networks opt in where it was measured to pay (training steps timed in one process, the forms
//! alternated every 4 steps, medians of 11 rounds; 2026-12-03): the ResNets (`resnet/`; DeepLens
//! with the weight gradient only 69.1, 66.6 -> 98.3, 103.5 images/s in the bench, then with the
//! turned-kernel input gradient against Burn's 112.1, 106.4, 103.1 -> 121.4, 118.2, 111.2) and
//! the sequential networks (`sequential/`: the semantic autoencoder's encoder, 100.7, 105.5 ->
//! 111.4, 119.7; the ring and merger classifiers' narrow network, the `merger_adaptation` one:
//! 414, 391 -> 432, 380, no change either way). The Dieleman network (many small parts: 116.9,
//! 106.6 -> 82.9, 79.6) and the GANs' strided 4 x 4 convolutions (pix2pix 15.5 -> 14.0, DCGAN
//! 54.7 -> 44.8) are faster with `Conv2d::forward` and keep it.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

/// Whether [`conv2d`] takes the unfolded form where it can (on by default; benchmarks switch it
/// off to time Burn's form).
static DIRECT: AtomicBool = AtomicBool::new(true);

/// Sets whether [`conv2d`] takes the unfolded form on `flex` from here on.
pub fn set_direct_conv(on: bool) {
    DIRECT.store(on, Ordering::Relaxed);
}

/// `conv.forward(x)`, in the unfolded form where `conv` and `x` allow it.
///
/// # Shapes
/// - x: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if DIRECT.load(Ordering::Relaxed)
        && direct::applies_to(conv, &x)
        && let Some(padding) = direct::symmetric_padding(conv, &x)
    {
        return with_bias(conv, direct::conv2d(x, conv.weight.val(), conv.stride, padding));
    }
    conv.forward(x)
}

/// `y` plus `conv`'s bias (if it has one) on each output channel, for convolutions computed
/// without it.
pub(crate) fn with_bias(conv: &Conv2d, y: Tensor<4>) -> Tensor<4> {
    match &conv.bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

#[cfg(feature = "flex")]
mod direct {
    use burn::backend::TensorMetadata;
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2d;
    use burn::tensor::{Shape, Tensor};
    use rayon::prelude::*;

    /// The convolution as a backend operation: unfolded on `flex`, and autodiff over it with
    /// the direct weight gradient.
    #[backend_extension(Flex, Autodiff)]
    pub trait ConvBackend: Backend {
        /// A convolution of one group without dilation or bias, padded by `padding` on both
        /// sides of each axis.
        fn conv2d_direct(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> FloatTensor<Self>;
    }

    /// The weight gradient as a batched matrix product.
    pub trait ConvWeightGradient: Backend {
        /// `d loss / d weight` of a `kernel`-sized convolution of `x` whose output gradient is
        /// `grad`.
        fn conv2d_weight_gradient(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            kernel: [usize; 2],
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> FloatTensor<Self>;
    }

    /// The layer's padding of `x` as `[rows, columns]` where it is the same on both sides of
    /// each axis (`Same` worked out for `x`'s size as Burn does: symmetric for odd kernels of
    /// stride 1).
    pub fn symmetric_padding(conv: &Conv2d, x: &Tensor<4>) -> Option<[usize; 2]> {
        let [_, _, height, width] = x.dims();
        let (top, left, bottom, right) = match conv.padding {
            PaddingConfig2d::Valid => (0, 0, 0, 0),
            PaddingConfig2d::Explicit(top, left, bottom, right) => (top, left, bottom, right),
            PaddingConfig2d::Same => {
                let (top, bottom) = same_padding(conv.kernel_size[0], conv.stride[0], height);
                let (left, right) = same_padding(conv.kernel_size[1], conv.stride[1], width);
                (top, left, bottom, right)
            }
        };
        (top == bottom && left == right).then_some([top, left])
    }

    /// Burn's `Same` padding of one axis (before, after): the output `ceil(size / stride)` long.
    fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
        let out = size.div_ceil(stride);
        let total = if out > 0 { ((out - 1) * stride + kernel).saturating_sub(size) } else { 0 };
        (total / 2, total - total / 2)
    }

    /// Whether the layer has one group and no dilation, and `x` is an `f32` tensor on `flex`
    /// (with or without autodiff).
    pub fn applies_to(conv: &Conv2d, x: &Tensor<4>) -> bool {
        crate::on_flex::is_flex_f32(x) && conv.groups == 1 && conv.dilation == [1, 1]
    }

    pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, stride: [usize; 2], padding: [usize; 2]) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as ConvBackend>::conv2d_direct(
            x.into_dispatch(),
            weight.into_dispatch(),
            stride,
            padding,
        ))
    }

    fn options(stride: [usize; 2], padding: [usize; 2]) -> ConvOptions<2> {
        ConvOptions::new(stride, padding, [1, 1], 1)
    }

    impl ConvBackend for Flex {
        fn conv2d_direct(x: FlexTensor, weight: FlexTensor, stride: [usize; 2], padding: [usize; 2]) -> FlexTensor {
            let w_dims = weight.layout().shape().to_vec();
            let kernel = [w_dims[2], w_dims[3]];
            if is_pointwise(kernel, stride, padding) {
                return <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options(stride, padding));
            }
            let dims = x.layout().shape().to_vec();
            let [batch, _, height, width] = dims[..] else { panic!("conv2d takes 4-d inputs, got {dims:?}") };
            let out = [
                (height + 2 * padding[0] - kernel[0]) / stride[0] + 1,
                (width + 2 * padding[1] - kernel[1]) / stride[1] + 1,
            ];
            let rows = w_dims[1] * kernel[0] * kernel[1];
            let weight = Flex::float_reshape(weight, Shape::from(vec![1, w_dims[0], rows]));
            // [1, out, in k k] x [items, in k k, positions], the weight broadcast over the items.
            let mut parts = Vec::new();
            for_each_chunk(x, out, kernel, stride, padding, |_, columns| {
                parts.push(Flex::float_matmul(weight.clone(), columns));
            });
            let y = if parts.len() == 1 { parts.remove(0) } else { Flex::float_cat(parts, 0) };
            Flex::float_reshape(y, Shape::from(vec![batch, w_dims[0], out[0], out[1]]))
        }
    }

    /// Whether the convolution is 1 x 1 of stride 1 without padding: its input is its own
    /// unfolding (and `flex` has a direct path for it).
    fn is_pointwise(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> bool {
        kernel == [1, 1] && stride == [1, 1] && padding == [0, 0]
    }

    /// Bytes of unfolded input per chunk: a few items' columns, reused from chunk to chunk, stay
    /// in the cache for their matrix product, where the whole batch's (75 MB for a DeepLens
    /// layer) went to memory and was zero-filled afresh at every call.
    const CHUNK_BYTES: usize = 4 << 20;

    /// Calls `each(first item, columns)` for the batch's items in chunks, `columns` being the
    /// chunk's unfolded input `[items, channels k k, positions]`, the same buffer each time
    /// (zero-filled once: every chunk writes the same entries, the padding's stay 0). `each`
    /// must not keep `columns`. A 1 x 1 convolution of stride 1 is its own unfolding: one call
    /// with the whole input.
    fn for_each_chunk(
        x: FlexTensor,
        out: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        mut each: impl FnMut(usize, FlexTensor),
    ) {
        let dims = x.layout().shape().to_vec();
        let (batch, channels, positions) = (dims[0], dims[1], out[0] * out[1]);
        let rows = channels * kernel[0] * kernel[1];
        if is_pointwise(kernel, stride, padding) {
            return each(0, Flex::float_reshape(x, Shape::from(vec![batch, rows, positions])));
        }
        let x = x.to_contiguous();
        let input: &[f32] = x.storage();
        let per_input = input.len() / batch.max(1);
        let per_columns = rows * positions;
        let chunk = (CHUNK_BYTES / (4 * per_columns).max(1)).clamp(1, batch.max(1));
        let shape = Shape::from(vec![chunk, rows, positions]);
        let mut columns = FlexTensor::zeros(shape.clone(), burn::tensor::DType::F32);
        for first in (0..batch).step_by(chunk) {
            let items = chunk.min(batch - first);
            if columns.try_storage_mut::<f32>().is_none() {
                // `each` kept the last chunk after all: a fresh buffer for this one.
                columns = FlexTensor::zeros(shape.clone(), burn::tensor::DType::F32);
            }
            let buffer = columns.storage_mut::<f32>();
            unfold(
                &input[first * per_input..(first + items) * per_input],
                &mut buffer[..items * per_columns],
                [dims[2], dims[3]],
                out,
                kernel,
                stride,
                padding,
            );
            each(first, if items == chunk { columns.clone() } else { columns.narrow(0, 0, items) });
        }
    }

    impl ConvWeightGradient for Flex {
        fn conv2d_weight_gradient(
            x: FlexTensor,
            grad: FlexTensor,
            kernel: [usize; 2],
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> FlexTensor {
            let dims = x.layout().shape().to_vec();
            let [batch, channels, _, _] = dims[..] else { panic!("conv2d takes 4-d inputs, got {dims:?}") };
            let grad_dims = grad.layout().shape().to_vec();
            let [_, out_channels, out_h, out_w] = grad_dims[..] else {
                panic!("a 4-d output gradient, got {grad_dims:?}")
            };
            let grad = Flex::float_reshape(grad, Shape::from(vec![batch, out_channels, out_h * out_w]));
            // [items, out, positions] x [items, positions, rows], summed over the items.
            let mut sum: Option<FlexTensor> = None;
            for_each_chunk(x, [out_h, out_w], kernel, stride, padding, |first, columns| {
                let items = columns.layout().shape()[0];
                let per_item = Flex::float_matmul(grad.narrow(0, first, items), Flex::float_swap_dims(columns, 1, 2));
                let part = Flex::float_sum_dim(per_item, 0);
                sum = Some(match sum.take() {
                    Some(sum) => Flex::float_add(sum, part),
                    None => part,
                });
            });
            let sum = sum.unwrap_or_else(|| {
                FlexTensor::zeros(
                    Shape::from(vec![1, out_channels, channels * kernel[0] * kernel[1]]),
                    burn::tensor::DType::F32,
                )
            });
            Flex::float_reshape(sum, Shape::from(vec![out_channels, channels, kernel[0], kernel[1]]))
        }
    }

    /// im2col of `input` (items' planes, `[items, channels, height, width]` contiguous) into
    /// `columns`: for each item, a `[channels k k, out_h out_w]` matrix whose row `(c, i, j)`
    /// holds input channel `c` at offset `(i, j)` of every output position's window. Writes
    /// only the entries inside the input (the padding's are left as they are: 0), planes on
    /// rayon's threads.
    fn unfold(
        input: &[f32],
        columns: &mut [f32],
        [height, width]: [usize; 2],
        out: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) {
        let [out_h, out_w] = out;
        let positions = out_h * out_w;
        let plane = height * width;
        // One input plane (a batch item's channel) fills k k rows.
        columns.par_chunks_mut(kernel[0] * kernel[1] * positions).enumerate().for_each(|(p, rows)| {
            let src = &input[p * plane..(p + 1) * plane];
            for i in 0..kernel[0] {
                for j in 0..kernel[1] {
                    let row = &mut rows[(i * kernel[1] + j) * positions..][..positions];
                    // The output columns whose input column `ox s + j - pad` is inside the row.
                    let first = padding[1].saturating_sub(j).div_ceil(stride[1]);
                    let last = (width + padding[1]).saturating_sub(j).div_ceil(stride[1]).min(out_w);
                    for oy in 0..out_h {
                        let iy = (oy * stride[0] + i) as isize - padding[0] as isize;
                        if iy < 0 || iy >= height as isize || first >= last {
                            continue;
                        }
                        let line = &src[iy as usize * width..][..width];
                        let dst = &mut row[oy * out_w..][..out_w];
                        if stride[1] == 1 {
                            let start = first + j - padding[1];
                            dst[first..last].copy_from_slice(&line[start..start + last - first]);
                        } else {
                            for (ox, d) in dst.iter_mut().enumerate().take(last).skip(first) {
                                *d = line[ox * stride[1] + j - padding[1]];
                            }
                        }
                    }
                }
            }
        });
    }

    /// `d loss / d x` of a convolution of `x` by `weight` whose output gradient is `grad`: for
    /// stride 1, the output gradient convolved with the kernel turned by 180 degrees, input and
    /// output channels swapped, padded by `k - 1 - pad` (the same unfolded product as the
    /// forward pass, where `flex`'s transposed convolution allocates its `[batch, in k k,
    /// positions]` product zero-filled, copies it to realign it and folds it back on one loop);
    /// Burn's (`conv2d_x_backward`) for other strides.
    fn input_gradient<B: Backend + ConvBackend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        grad: FloatTensor<B>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<B> {
        let [_, _, kh, kw] = weight.shape().dims::<4>();
        if stride != [1, 1] || padding[0] >= kh || padding[1] >= kw {
            return B::conv2d_x_backward(x, weight, grad, options(stride, padding));
        }
        let turned = B::float_flip(B::float_swap_dims(weight, 0, 1), &[2, 3]);
        B::conv2d_direct(grad, turned, [1, 1], [kh - 1 - padding[0], kw - 1 - padding[1]])
    }

    /// The backward step: the input gradient as a convolution (stride 1), the direct weight
    /// gradient.
    #[derive(Debug)]
    struct ConvStep;

    impl<B: Backend + ConvBackend + ConvWeightGradient> Backward<B, 2> for ConvStep {
        /// The input, the weight, the stride and the padding.
        type State = (NodeId, NodeId, [usize; 2], [usize; 2]);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [node_x, node_weight] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (x_state, weight_state, stride, padding) = ops.state;
            let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
            let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
            if let Some(node) = node_x {
                let dx = input_gradient::<B>(x.clone(), weight.clone(), grad.clone(), stride, padding);
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_weight {
                let dims = weight.shape().dims::<4>();
                let dw = B::conv2d_weight_gradient(x, grad, [dims[2], dims[3]], stride, padding);
                grads.register::<B>(node.id, dw);
            }
        }
    }

    impl<B, C> ConvBackend for Autodiff<B, C>
    where
        B: Backend + ConvBackend + ConvWeightGradient,
        C: CheckpointStrategy,
    {
        fn conv2d_direct(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [usize; 2],
        ) -> FloatTensor<Self> {
            match ConvStep.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let weight_state = prep.checkpoint(&weight);
                    let y = B::conv2d_direct(x.into_parts().0, weight.into_parts().0, stride, padding);
                    prep.finish((x_state, weight_state, stride, padding), y)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::conv2d_direct(x.into_parts().0, weight.into_parts().0, stride, padding))
                }
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution, Int, Tolerance};

    /// Values and the gradients (input, weight, bias) of a fixed weighting of the outputs.
    fn through(conv: &Conv2d, x: &Tensor<4>, direct: bool) -> Vec<burn::tensor::TensorData> {
        let x = x.clone().require_grad();
        let y = if direct { conv2d(conv, x.clone() * 1.0) } else { conv.forward(x.clone() * 1.0) };
        let n = y.shape().num_elements();
        let weights = Tensor::<1, Int>::arange(0..n as i64, &x.device()).float().reshape(y.shape()).cos();
        let values = y.clone().into_data();
        let grads = (y * weights).sum().backward();
        let mut out =
            vec![values, x.grad(&grads).expect("dx").into_data(), conv.weight.grad(&grads).expect("dw").into_data()];
        if let Some(bias) = &conv.bias {
            out.push(bias.grad(&grads).expect("db").into_data());
        }
        out
    }

    #[test]
    fn values_and_gradients_are_burns_for_kernels_strides_and_paddings() {
        let device = Device::flex().autodiff();
        // (in, out, kernel, stride, padding, bias, input side): DeepLens's 7x7 stem, 3x3 and
        // strided 3x3, its 1x1 convolutions and strided 1x1 projections, odd sides, `Same`
        // padding of stride 1 (the sequential networks') and of stride 2 where it is symmetric.
        let explicit = |p| PaddingConfig2d::Explicit(p, p, p, p);
        for (input, output, k, s, padding, bias, side) in [
            (1, 4, 7, 1, explicit(3), false, 13),
            (3, 5, 3, 1, explicit(1), true, 9),
            (4, 6, 3, 2, explicit(1), false, 11),
            (6, 8, 1, 1, explicit(0), false, 7),
            (6, 8, 1, 2, explicit(0), true, 9),
            (2, 3, 5, 3, explicit(2), false, 12),
            (2, 3, 3, 1, explicit(0), false, 6),
            (3, 4, 3, 1, PaddingConfig2d::Same, true, 10),
            (3, 4, 5, 1, PaddingConfig2d::Same, false, 9),
            (2, 3, 3, 2, PaddingConfig2d::Same, false, 11),
            // 1.6 MB of unfolded input per item: the 3 items unfold in chunks of 2 and 1.
            (16, 8, 3, 1, explicit(1), true, 52),
        ] {
            let conv = Conv2dConfig::new([input, output], [k, k])
                .with_stride([s, s])
                .with_padding(padding.clone())
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random([3, input, side, side], Distribution::Uniform(-1.0, 1.0), &device);
            assert!(direct::symmetric_padding(&conv, &x).is_some(), "{k}x{k}/{s} {padding:?} on {side}");
            let ours = through(&conv, &x, true);
            let burns = through(&conv, &x, false);
            for (what, (a, b)) in ["values", "dx", "dw", "db"].iter().zip(ours.iter().zip(&burns)) {
                assert_eq!(a.shape(), b.shape(), "{what} of {k}x{k}/{s} {padding:?}");
                // Float rounding of sums over thousands of terms (the weight gradient's, whose
                // results can be far smaller than their terms) is relative to the tensor's scale;
                // an unfolding mistake is of the scale itself.
                let scale = b.iter::<f32>().fold(1f32, |m, v| m.max(v.abs()));
                a.assert_approx_eq::<f32>(b, Tolerance::absolute(1e-4 * scale));
            }
        }
    }

    #[test]
    fn the_direct_form_is_taken_only_where_it_applies_and_runs_without_autodiff() {
        let device = Device::flex();
        let plain = Conv2dConfig::new([2, 3], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
        let x = Tensor::<4>::random([2, 2, 5, 5], Distribution::Default, &device);
        assert!(direct::symmetric_padding(&plain, &x).is_some() && direct::applies_to(&plain, &x));
        plain
            .forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&conv2d(&plain, x.clone()).into_data(), Tolerance::absolute(1e-5));
        for other in [
            Conv2dConfig::new([2, 4], [3, 3]).with_groups(2).init(&device),
            Conv2dConfig::new([2, 3], [3, 3]).with_dilation([2, 2]).init(&device),
        ] {
            assert!(!direct::applies_to(&other, &x));
            assert_eq!(conv2d(&other, x.clone()).dims(), other.forward(x.clone()).dims());
        }
        // `Same` with an even kernel pads one side more; so does this explicit padding.
        for padding in [PaddingConfig2d::Same, PaddingConfig2d::Explicit(1, 0, 0, 1)] {
            let other = Conv2dConfig::new([2, 3], [2, 2]).with_padding(padding).init(&device);
            assert!(direct::symmetric_padding(&other, &x).is_none());
            assert_eq!(conv2d(&other, x.clone()).dims(), other.forward(x.clone()).dims());
        }
    }
}
