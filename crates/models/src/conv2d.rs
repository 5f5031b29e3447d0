//! 2-d convolutions (and transposed convolutions) as unfolded matrix products on `flex`, their
//! gradients included.
//!
//! The arithmetic is [`crate::conv_columns`]'s: a chunk of batch items is unfolded (im2col) side
//! by side, so that the forward pass, the weight gradient and the input gradient are each one
//! `gemm` product per chunk over all the chunk's output positions. Burn's forms on `flex` compute
//! one product per item (its convolution; its transposed convolution, which Burn also uses for
//! a strided convolution's input gradient, then folds the product back in a scalar loop), which
//! leaves the small inner layers of the GANs (8 x 8 down to 1 x 1 outputs) a few rows per
//! product; Burn's weight gradient is another convolution, run as one matrix-vector product per
//! input channel after two one-thread layout copies.
//!
//! - Forward: `weight [out, in k k] x columns [in k k, items positions]`.
//! - Weight gradient: `dy [out, items positions] x columns^T`, summed over the chunks.
//! - Input gradient: of a "same" stride-1 convolution, the output gradient convolved the same
//!   way with the kernel turned by 180 degrees (input and output channels swapped, padding `k -
//!   1 - pad`); of others, `weight^T dy` folded back (col2im), which is also the transposed
//!   convolution's forward pass (and the convolution its input gradient).
//! - A convolution of stride 1 skips the unfolding in its forward pass where
//!   [`crate::conv_direct`] sums each output tile in registers instead: with at most 16 filters
//!   (a network's first layers, where its weight gradient is direct too,
//!   [`crate::conv_direct::applies`]), or with output rows that fill 7 in 8 of its tiles' lanes
//!   (the semantic autoencoder's 64-, 32- and 16-wide layers, [`crate::conv_direct::convolves`]),
//!   whose weight gradient is direct too on outputs of 45 x 45 or more
//!   ([`crate::conv_direct::weight_gradient_applies`]). Other stride-1 convolutions by 3-wide
//!   kernels with filters in blocks of 32 take the weight gradient with the filters in the vector
//!   lanes ([`crate::conv_filter_lanes`]). The "same" convolutions' input gradients are such
//!   convolutions; the others' take the direct form where [`crate::conv_direct::turns`].
//! - A convolution whose stride divides its kernel (the GANs' 4 x 4 kernels of stride 2) is,
//!   in its forward pass, the stride-1 convolution of the input's phases by [`crate::conv_direct`]
//!   where that applies to the phases ([`crate::conv_phases`]).
//! - A 1 x 1 convolution of stride 1 without padding needs no unfolding in any of the three:
//!   [`crate::conv_pointwise`] multiplies each item's input as it lies (faster than `flex`'s own
//!   direct path for it, which the forward pass took before).
//!
//! The operations are a Burn backend extension ([`ConvBackend`]) for `flex` and autodiff over
//! it; [`conv2d`] takes it for a `Conv2d` layer on `flex` (f32) with one group, no dilation and
//! the same padding on both sides of each axis (`Same` padding included where Burn's works out
//! symmetric: odd kernels of stride 1), [`conv_transpose2d`] for a `ConvTranspose2d` with one
//! group and no dilation; Burn's `forward` elsewhere.
//!
//! Every convolutional network of the project takes them (timed with `cargo bench -p trainer
//! --bench train_step`, `NO_DIRECT_CONV=1` for Burn's forms; figures in the README): the
//! ResNets, the sequential networks, the Dieleman network, and both GANs, whose pix2pix update
//! was 1.5 times and its generator's inference 2.2 times as fast as with Burn's forms on
//! 2026-12-03.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;

/// Whether [`conv2d`] takes the unfolded form where it can (on by default; benchmarks switch it
/// off to time Burn's form).
static DIRECT: AtomicBool = AtomicBool::new(true);

/// Sets whether [`conv2d`] takes the unfolded form on `flex` from here on.
pub fn set_direct_conv(on: bool) {
    DIRECT.store(on, Ordering::Relaxed);
}

/// Frees the scratch buffers that the `flex` forms keep from call to call (unfolded columns,
/// reordered matrices, blocks of patches); the next call allocates them again. For measuring
/// one network's peak memory after another's in the same process, which would otherwise reuse
/// (and not count) the buffers the first one grew.
pub fn release_scratch_buffers() {
    #[cfg(feature = "flex")]
    crate::conv_columns::release_buffers();
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
    plus_bias(y, conv.bias.as_ref())
}

/// `y` plus `bias` (if any) on each channel.
fn plus_bias(y: Tensor<4>, bias: Option<&Param<Tensor<1>>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// `conv.forward(x)` for a transposed convolution, as the input gradient of the unfolded form
/// (one product for a chunk of items, folded back) where `conv` and `x` allow it: `flex`'s own
/// computes one product per item and folds it back on one thread.
///
/// # Shapes
/// - x: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if DIRECT.load(Ordering::Relaxed)
        && let Some(size) = direct::transposed_size(conv, &x)
    {
        let y = direct::conv_transpose2d(x, conv.weight.val(), conv.stride, conv.padding, size);
        return plus_bias(y, conv.bias.as_ref());
    }
    conv.forward(x)
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
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, ConvTranspose2d};
    use burn::tensor::{Tensor, TensorData};

    use crate::conv_columns::{self, Geometry};

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

        /// The transposed convolution of `x` by `weight` (`[x's channels, output channels,
        /// kernel height, kernel width]`) to an output of height and width `size`: the input
        /// gradient of the convolution by `weight` with that stride and padding from an input
        /// of `size` to `x`'s, whose output gradient is `x`.
        fn conv_transpose2d_direct(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [usize; 2],
            size: [usize; 2],
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

    /// The output's height and width where the transposed convolution `conv` of `x` can run as
    /// [`ConvBackend::conv_transpose2d_direct`]: `x` an `f32` tensor on `flex`, one group, no
    /// dilation (the output padding, less than the stride as Burn requires, is part of `size`).
    pub fn transposed_size(conv: &ConvTranspose2d, x: &Tensor<4>) -> Option<[usize; 2]> {
        if !crate::on_flex::is_flex_f32(x) || conv.groups != 1 || conv.dilation != [1, 1] {
            return None;
        }
        let [_, _, height, width] = x.dims();
        let side = |axis: usize, input: usize| {
            let full = input.checked_sub(1)? * conv.stride[axis] + conv.kernel_size[axis] + conv.padding_out[axis];
            (conv.padding_out[axis] < conv.stride[axis]).then_some(())?;
            full.checked_sub(2 * conv.padding[axis]).filter(|&side| side > 0)
        };
        let size = [side(0, height)?, side(1, width)?];
        let [channels_in, channels_out] = conv.channels;
        let geometry = Geometry {
            channels: channels_out,
            filters: channels_in,
            size,
            kernel: conv.kernel_size,
            stride: conv.stride,
            padding: conv.padding,
        };
        (geometry.out() == Some([height, width])).then_some(size)
    }

    pub fn conv_transpose2d(
        x: Tensor<4>,
        weight: Tensor<4>,
        stride: [usize; 2],
        padding: [usize; 2],
        size: [usize; 2],
    ) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as ConvBackend>::conv_transpose2d_direct(
            x.into_dispatch(),
            weight.into_dispatch(),
            stride,
            padding,
            size,
        ))
    }

    impl ConvBackend for Flex {
        fn conv2d_direct(x: FlexTensor, weight: FlexTensor, stride: [usize; 2], padding: [usize; 2]) -> FlexTensor {
            let w_dims = weight.layout().shape().to_vec();
            let dims = x.layout().shape().to_vec();
            let geometry = geometry(&dims, &w_dims, stride, padding);
            let [out_h, out_w] = geometry.out().expect("a kernel no larger than the padded input");
            on_host(x, weight, [dims[0], w_dims[0], out_h, out_w], |x, weight, y| {
                conv_columns::convolve(&geometry, dims[0], x, weight, y)
            })
        }

        fn conv_transpose2d_direct(
            x: FlexTensor,
            weight: FlexTensor,
            stride: [usize; 2],
            padding: [usize; 2],
            size: [usize; 2],
        ) -> FlexTensor {
            let dims = x.layout().shape().to_vec();
            let w_dims = weight.layout().shape().to_vec();
            // The convolution this one transposes: from `[batch, weight's second axis, size]` to
            // `x`'s shape.
            let input = [dims[0], w_dims[1], size[0], size[1]];
            let geometry = geometry(&input, &w_dims, stride, padding);
            assert_eq!(geometry.out(), Some([dims[2], dims[3]]), "a transposed convolution's output size");
            on_host(x, weight, input, |x, weight, y| conv_columns::input_gradient(&geometry, dims[0], x, weight, y))
        }
    }

    /// A new tensor of `shape` whose values `compute(a, b, values)` writes from the values of
    /// `a` and `b` (made contiguous).
    fn on_host(
        a: FlexTensor,
        b: FlexTensor,
        shape: [usize; 4],
        compute: impl FnOnce(&[f32], &[f32], &mut [f32]),
    ) -> FlexTensor {
        let (a, b) = (a.to_contiguous(), b.to_contiguous());
        let mut values = crate::on_flex::zeros(shape.iter().product());
        compute(a.storage(), b.storage(), &mut values);
        FlexTensor::from_data(TensorData::new(values, shape))
    }

    /// The geometry of a convolution of an input of shape `x` by a weight of shape `weight`.
    fn geometry(x: &[usize], weight: &[usize], stride: [usize; 2], padding: [usize; 2]) -> Geometry {
        Geometry {
            channels: weight[1],
            filters: weight[0],
            size: [x[2], x[3]],
            kernel: [weight[2], weight[3]],
            stride,
            padding,
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
            let filters = grad.layout().shape()[1];
            let w_dims = [filters, dims[1], kernel[0], kernel[1]];
            let geometry = geometry(&dims, &w_dims, stride, padding);
            on_host(x, grad, w_dims, |x, grad, gradient| {
                conv_columns::weight_gradient(&geometry, dims[0], x, grad, gradient)
            })
        }
    }

    /// `d loss / d x` of a convolution of `x` by `weight` whose output gradient is `grad`. For
    /// a "same" convolution of stride 1 (`2 pad + 1 = k`), the output gradient convolved with
    /// the kernel turned by 180 degrees, input and output channels swapped, padded by `k - 1 -
    /// pad`; else the transposed convolution of the output gradient. The turned form pads the
    /// output gradient by `k - 1 - pad`, which for other paddings multiplies borders of zeros:
    /// the Dieleman network's valid 5 x 5 and 3 x 3 convolutions (a 16 x 16 output gradient
    /// padded to 24 x 24 for a 20 x 20 input) trained at 104 images/s in the turned form
    /// against 120 folded, where DeepLens's same 3 x 3 trained at 156 against 140 (medians of 3
    /// alternated rounds).
    fn input_gradient<B: Backend + ConvBackend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        grad: FloatTensor<B>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<B> {
        let [_, _, kh, kw] = weight.shape().dims::<4>();
        if stride != [1, 1] || 2 * padding[0] + 1 != kh || 2 * padding[1] + 1 != kw {
            let [_, _, height, width] = x.shape().dims::<4>();
            return B::conv_transpose2d_direct(grad, weight, stride, padding, [height, width]);
        }
        let turned = B::float_flip(B::float_swap_dims(weight, 0, 1), &[2, 3]);
        B::conv2d_direct(grad, turned, [1, 1], [kh - 1 - padding[0], kw - 1 - padding[1]])
    }

    /// The backward step of a convolution ([`input_gradient`] and the unfolded weight
    /// gradient) or of a transposed convolution. The transposed convolution is the adjoint of
    /// the convolution by the same weight, so its input gradient is that convolution of the
    /// output gradient, and its weight gradient that convolution's weight gradient with the
    /// output gradient as the input and `x` as the output gradient.
    #[derive(Debug)]
    struct ConvStep {
        transposed: bool,
    }

    impl<B: Backend + ConvBackend + ConvWeightGradient> Backward<B, 2> for ConvStep {
        /// The input, the weight, the stride and the padding.
        type State = (NodeId, NodeId, [usize; 2], [usize; 2]);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [node_x, node_weight] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (x_state, weight_state, stride, padding) = ops.state;
            let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
            let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
            let [_, _, kh, kw] = weight.shape().dims::<4>();
            if let Some(node) = node_x {
                let dx = if self.transposed {
                    B::conv2d_direct(grad.clone(), weight, stride, padding)
                } else {
                    input_gradient::<B>(x.clone(), weight, grad.clone(), stride, padding)
                };
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_weight {
                let (input, output_gradient) = if self.transposed { (grad, x) } else { (x, grad) };
                let dw = B::conv2d_weight_gradient(input, output_gradient, [kh, kw], stride, padding);
                grads.register::<B>(node.id, dw);
            }
        }
    }

    /// `forward(x, weight)` on the inner backend, recorded for [`ConvStep`]'s backward step.
    fn tracked<B, C>(
        step: ConvStep,
        x: FloatTensor<Autodiff<B, C>>,
        weight: FloatTensor<Autodiff<B, C>>,
        stride: [usize; 2],
        padding: [usize; 2],
        forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
    ) -> FloatTensor<Autodiff<B, C>>
    where
        B: Backend + ConvBackend + ConvWeightGradient,
        C: CheckpointStrategy,
    {
        match step.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let y = forward(x.into_parts().0, weight.into_parts().0);
                prep.finish((x_state, weight_state, stride, padding), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x.into_parts().0, weight.into_parts().0)),
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
            tracked::<B, C>(ConvStep { transposed: false }, x, weight, stride, padding, |x, weight| {
                B::conv2d_direct(x, weight, stride, padding)
            })
        }

        fn conv_transpose2d_direct(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: [usize; 2],
            padding: [usize; 2],
            size: [usize; 2],
        ) -> FloatTensor<Self> {
            tracked::<B, C>(ConvStep { transposed: true }, x, weight, stride, padding, |x, weight| {
                B::conv_transpose2d_direct(x, weight, stride, padding, size)
            })
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::{Device, Distribution, Int, Tolerance};

    /// Values and the gradients (input, weight, bias) of a fixed weighting of the outputs of
    /// `forward` (a layer with the weight and bias given).
    fn through(
        forward: impl Fn(Tensor<4>) -> Tensor<4>,
        x: &Tensor<4>,
        weight: &Param<Tensor<4>>,
        bias: Option<&Param<Tensor<1>>>,
    ) -> Vec<burn::tensor::TensorData> {
        let x = x.clone().require_grad();
        let y = forward(x.clone() * 1.0);
        let n = y.shape().num_elements();
        let weights = Tensor::<1, Int>::arange(0..n as i64, &x.device()).float().reshape(y.shape()).cos();
        let values = y.clone().into_data();
        let grads = (y * weights).sum().backward();
        let mut out =
            vec![values, x.grad(&grads).expect("dx").into_data(), weight.grad(&grads).expect("dw").into_data()];
        if let Some(bias) = bias {
            out.push(bias.grad(&grads).expect("db").into_data());
        }
        out
    }

    /// Panics unless each of ours is Burn's to float rounding: that of sums over thousands of
    /// terms (the weight gradient's, whose results can be far smaller than their terms) is
    /// relative to the tensor's scale; an unfolding mistake is of the scale itself.
    fn assert_close(ours: &[burn::tensor::TensorData], burns: &[burn::tensor::TensorData], case: &str) {
        for (what, (a, b)) in ["values", "dx", "dw", "db"].iter().zip(ours.iter().zip(burns)) {
            assert_eq!(a.shape(), b.shape(), "{what} of {case}");
            let scale = b.iter::<f32>().fold(1f32, |m, v| m.max(v.abs()));
            a.assert_approx_eq::<f32>(b, Tolerance::absolute(1e-4 * scale));
        }
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
            // The Dieleman network's first two layers: the direct forms (forward and weight
            // gradient) and the folded input gradient of valid convolutions.
            (3, 8, 6, 1, PaddingConfig2d::Valid, true, 45),
            (8, 16, 5, 1, PaddingConfig2d::Valid, true, 20),
            // The GANs' 4x4/2 layers onto 32 x 32 and 16 x 16 outputs: the forward pass by the
            // input's phases (3 items: one a thread on up to 3 threads).
            (1, 32, 4, 2, explicit(1), true, 64),
            (16, 24, 4, 2, explicit(1), false, 32),
        ] {
            let conv = Conv2dConfig::new([input, output], [k, k])
                .with_stride([s, s])
                .with_padding(padding.clone())
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random([3, input, side, side], Distribution::Uniform(-1.0, 1.0), &device);
            assert!(direct::symmetric_padding(&conv, &x).is_some(), "{k}x{k}/{s} {padding:?} on {side}");
            let ours = through(|x| conv2d(&conv, x), &x, &conv.weight, conv.bias.as_ref());
            let burns = through(|x| conv.forward(x), &x, &conv.weight, conv.bias.as_ref());
            assert_close(&ours, &burns, &format!("{k}x{k}/{s} {padding:?}"));
        }
    }

    #[test]
    fn transposed_values_and_gradients_are_burns() {
        let device = Device::flex().autodiff();
        // (in, out, kernel, stride, padding, output padding, bias, input side): the GANs' 4x4/2
        // from one position up and from 4, a 3x3 of stride 1, an output padding, a 1 x 1 of
        // stride 2, a non-square kernel.
        for (input, output, kernel, s, padding, padding_out, bias, side) in [
            (4, 3, [4, 4], 2, 1, 0, false, 1),
            (6, 5, [4, 4], 2, 1, 0, true, 4),
            (3, 2, [3, 3], 1, 1, 0, false, 7),
            (3, 4, [3, 3], 2, 1, 1, true, 5),
            (5, 3, [1, 1], 2, 0, 0, false, 6),
            (2, 3, [3, 5], 2, 2, 0, false, 6),
        ] {
            let conv = ConvTranspose2dConfig::new([input, output], kernel)
                .with_stride([s, s])
                .with_padding([padding, padding])
                .with_padding_out([padding_out, padding_out])
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random([3, input, side, side], Distribution::Uniform(-1.0, 1.0), &device);
            let case = format!("{kernel:?}/{s} pad {padding} out pad {padding_out} on {side}");
            assert!(direct::transposed_size(&conv, &x).is_some(), "{case}");
            let ours = through(|x| conv_transpose2d(&conv, x), &x, &conv.weight, conv.bias.as_ref());
            let burns = through(|x| conv.forward(x), &x, &conv.weight, conv.bias.as_ref());
            assert_close(&ours, &burns, &case);
        }
        // Groups and dilation keep Burn's form.
        let x = Tensor::<4>::random([2, 4, 3, 3], Distribution::Default, &device);
        for other in [
            ConvTranspose2dConfig::new([4, 4], [3, 3]).with_groups(2).init(&device),
            ConvTranspose2dConfig::new([4, 2], [3, 3]).with_dilation([2, 2]).init(&device),
        ] {
            assert!(direct::transposed_size(&other, &x).is_none());
            assert_eq!(conv_transpose2d(&other, x.clone()).dims(), other.forward(x.clone()).dims());
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
