//! 2 x 2 max pooling of stride 2, with a direct kernel on `flex`.
//!
//! `flex` runs every max pooling through one N-d routine that works out each output's window
//! range with integer divisions: on the Dieleman network's first layer (a `[256, 8, 40, 40]`
//! half batch) its forward pass took 15 ms where the whole 32-image training step takes about
//! 260. Here the common 2 x 2, stride 2 window is read directly, image plane by image plane on
//! rayon's threads (the ones `flex` uses). Values and indices are `flex`'s: a window's first
//! largest value, a NaN winning as in PyTorch, the index counted within the plane; the backward
//! pass is `flex`'s own from those indices, so gradients are Burn's too (unit tests).
//!
//! The kernel is a Burn backend extension ([`MaxPool2x2Backend`]) for `flex` and autodiff over
//! it. [`max_pool_2x2`] takes it for tensors on `flex` and Burn's `MaxPool2d` elsewhere;
//! [`max_pool_2d`] runs a `MaxPool2d` layer through it where the layer is that window.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::Tensor;

/// Whether [`max_pool_2x2`] takes the direct kernel where it can (on by default; benchmarks
/// switch it off to time Burn's form).
static DIRECT_KERNEL: AtomicBool = AtomicBool::new(true);

/// Sets whether [`max_pool_2x2`] takes the direct kernel on `flex` from here on.
pub fn set_direct_max_pool(on: bool) {
    DIRECT_KERNEL.store(on, Ordering::Relaxed);
}

/// `pool.forward(x)`, through [`max_pool_2x2`] where `pool` is a 2 x 2 window of stride 2
/// without padding, dilation or ceiling mode.
pub fn max_pool_2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let plain = pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(pool.padding, PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0));
    if plain { max_pool_2x2(x) } else { pool.forward(x) }
}

/// 2 x 2 max pooling of stride 2 without padding (a last odd row or column is dropped), as
/// Burn's `MaxPool2dConfig::new([2, 2])`.
///
/// # Shapes
/// - x: `[batch, channels, height, width]`
/// - output: `[batch, channels, height / 2, width / 2]`
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if DIRECT_KERNEL.load(Ordering::Relaxed) && direct::applies_to(&x) {
        return direct::max_pool_2x2(x);
    }
    MaxPool2dConfig::new([2, 2]).init().forward(x)
}

#[cfg(feature = "flex")]
mod direct {
    use burn::backend::autodiff::NodeId;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::{FloatTensor, IntTensor};
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::{Shape, Tensor, TensorData};
    use rayon::prelude::*;

    /// The pooling as a backend operation: `flex`'s direct kernel, and autodiff over it.
    #[backend_extension(Flex, Autodiff)]
    pub trait MaxPool2x2Backend: Backend {
        /// 2 x 2 max pooling of stride 2 of a `[batch, channels, height, width]` tensor.
        fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    /// The forward pass with the indices its backward pass needs.
    pub trait MaxPool2x2Indices: Backend {
        /// The pooled values and, for each, its index within its plane (`row * width + column`).
        fn max_pool_2x2_with_indices(x: FloatTensor<Self>) -> (FloatTensor<Self>, IntTensor<Self>);
    }

    /// Whether `x` is an `f32` tensor on `flex` (with or without autodiff) whose planes'
    /// indices fit 32 bits.
    pub fn applies_to(x: &Tensor<4>) -> bool {
        let [_, _, h, w] = x.dims();
        crate::on_flex::is_flex_f32(x) && h * w <= i32::MAX as usize
    }

    pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
        Tensor::from_dispatch(<Dispatch as MaxPool2x2Backend>::max_pool_2x2(x.into_dispatch()))
    }

    impl MaxPool2x2Backend for Flex {
        fn max_pool_2x2(x: FlexTensor) -> FlexTensor {
            pool(x, false).0
        }
    }

    impl MaxPool2x2Indices for Flex {
        fn max_pool_2x2_with_indices(x: FlexTensor) -> (FlexTensor, FlexTensor) {
            let (values, indices) = pool(x, true);
            (values, indices.expect("asked for the indices"))
        }
    }

    /// The kernel: values, and the `i32` indices when `with_indices`.
    fn pool(x: FlexTensor, with_indices: bool) -> (FlexTensor, Option<FlexTensor>) {
        let x = x.to_contiguous();
        let dims = x.layout().shape().to_vec();
        let [n, c, h, w] = dims[..] else { panic!("max_pool_2x2 takes 4-d tensors, got {dims:?}") };
        let (out_h, out_w) = (h / 2, w / 2);
        let (plane, out_plane) = (h * w, out_h * out_w);
        debug_assert!(plane <= i32::MAX as usize, "applies_to keeps planes within 32-bit indices");
        let input: &[f32] = x.storage();
        let mut values = crate::on_flex::zeros::<f32>(n * c * out_plane);
        let mut indices = crate::on_flex::zeros::<i32>(if with_indices { n * c * out_plane } else { 0 });
        if out_plane > 0 {
            let one_plane = |p: usize, values: &mut [f32], indices: &mut [i32]| {
                let src = &input[p * plane..(p + 1) * plane];
                for oy in 0..out_h {
                    let top_left = 2 * oy * w;
                    let top = &src[top_left..top_left + 2 * out_w];
                    let bottom = &src[top_left + w..top_left + w + 2 * out_w];
                    let row = oy * out_w..(oy + 1) * out_w;
                    // Plain index loops over slices of known length: the compiler drops the
                    // bounds checks and the loop stays free of branches.
                    let values = &mut values[row.clone()];
                    if indices.is_empty() {
                        // The index form of the loop below, as measured (0.47 ms on layer 1).
                        #[allow(clippy::needless_range_loop)]
                        for ox in 0..out_w {
                            values[ox] = window_max(top, bottom, ox).0;
                        }
                    } else {
                        let indices = &mut indices[row];
                        // In 32 bits, as the indices are stored (`applies_to` keeps a plane
                        // within 2^31 values), so that the loop vectorises.
                        let (top_left, w) = (top_left as u32, w as u32);
                        for ox in 0..out_w {
                            let (max, k) = window_max(top, bottom, ox);
                            values[ox] = max;
                            // Place k of the window: column k % 2 of row k / 2.
                            let offset = (k & 1) + (k >> 1) * w;
                            indices[ox] = (top_left + 2 * ox as u32 + offset) as i32;
                        }
                    }
                }
            };
            if with_indices {
                values
                    .par_chunks_mut(out_plane)
                    .zip(indices.par_chunks_mut(out_plane))
                    .enumerate()
                    .for_each(|(p, (values, indices))| one_plane(p, values, indices));
            } else {
                values.par_chunks_mut(out_plane).enumerate().for_each(|(p, values)| one_plane(p, values, &mut []));
            }
        }
        let shape = Shape::from(vec![n, c, out_h, out_w]);
        let indices = with_indices.then(|| FlexTensor::from_data(TensorData::new(indices, shape.clone())));
        (FlexTensor::from_data(TensorData::new(values, shape)), indices)
    }

    /// The largest of window `ox`'s four values (`top[2 ox..2 ox + 2]`, then the same of
    /// `bottom`) and its place among them: the first largest, or the last NaN (`flex`'s and
    /// PyTorch's rule). Chosen with bit masks, not branches: the comparisons of activations are
    /// unpredictable.
    #[inline(always)]
    fn window_max(top: &[f32], bottom: &[f32], ox: usize) -> (f32, u32) {
        let window = [top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]];
        let (mut max, mut at) = (window[0].to_bits(), 0u32);
        for k in 1..4 {
            let value = window[k as usize];
            let wins = value > f32::from_bits(max) || value.is_nan();
            let mask = (wins as u32).wrapping_neg();
            max = (value.to_bits() & mask) | (max & !mask);
            at = (k & mask) | (at & !mask);
        }
        (f32::from_bits(max), at)
    }

    /// The backward step: `flex`'s own max-pooling gradient from the forward pass's indices.
    #[derive(Debug)]
    struct MaxPool2x2Step;

    impl<B: Backend> Backward<B, 1> for MaxPool2x2Step {
        /// The input (for its shape) and the indices.
        type State = (NodeId, IntTensor<B>);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
            let [parent] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (x, indices) = ops.state;
            let x = checkpointer.retrieve_node_output(x);
            if let Some(node) = parent {
                let grad = B::max_pool2d_with_indices_backward(x, [2, 2], [2, 2], [0, 0], [1, 1], false, grad, indices);
                grads.register::<B>(node.id, grad.x_grad);
            }
        }
    }

    impl<B, C> MaxPool2x2Backend for Autodiff<B, C>
    where
        B: Backend + MaxPool2x2Backend + MaxPool2x2Indices,
        C: CheckpointStrategy,
    {
        fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
            match MaxPool2x2Step.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let (values, indices) = B::max_pool_2x2_with_indices(x.into_parts().0);
                    prep.finish((x_state, indices), values)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::max_pool_2x2(x.into_parts().0)),
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Int};

    fn burns(x: Tensor<4>) -> Tensor<4> {
        MaxPool2dConfig::new([2, 2]).init().forward(x)
    }

    /// Values and the gradient of a fixed weighting of the outputs, by `pool`.
    fn through(pool: impl Fn(Tensor<4>) -> Tensor<4>, x: &Tensor<4>) -> (Vec<f32>, Vec<f32>) {
        let x = x.clone().require_grad();
        // An intermediate tensor, as in a network.
        let y = pool(x.clone() * 1.0);
        let n = y.shape().num_elements();
        let weights = Tensor::<1, Int>::arange(0..n as i64, &x.device()).float().reshape(y.shape()).cos();
        let values = y.clone().into_data().try_to_vec::<f32>().unwrap();
        let grads = (y * weights).sum().backward();
        (values, x.grad(&grads).expect("a gradient").into_data().try_to_vec::<f32>().unwrap())
    }

    #[test]
    fn values_and_gradients_are_burns_max_pool_on_even_odd_and_tied_inputs() {
        let device = Device::flex().autodiff();
        // Odd sides drop the last row and column; rounding to tenths makes tied windows.
        for shape in [[2, 3, 8, 8], [3, 2, 7, 9], [64, 8, 40, 40]] {
            let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), &device).mul_scalar(10.0).round();
            let (values, grad) = through(max_pool_2x2, &x);
            let (want_values, want_grad) = through(burns, &x);
            assert_eq!(values, want_values, "{shape:?}");
            assert_eq!(grad, want_grad, "{shape:?}");
            assert!(grad.iter().any(|&g| g != 0.0));
        }
    }

    #[test]
    fn the_direct_kernel_is_taken_on_flex_and_runs_without_autodiff() {
        let x = Tensor::<4>::random([2, 3, 6, 6], Distribution::Default, &Device::flex());
        assert!(direct::applies_to(&x));
        assert!(direct::applies_to(&x.clone().to_device(&Device::flex().autodiff())));
        let got = max_pool_2x2(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, burns(x).into_data().try_to_vec::<f32>().unwrap());
    }

    #[test]
    fn a_layer_takes_the_direct_kernel_only_when_it_is_the_plain_2x2_window() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 9, 9], Distribution::Uniform(-1.0, 1.0), &device);
        for layer in [
            MaxPool2dConfig::new([2, 2]).init(),
            MaxPool2dConfig::new([2, 2]).with_strides([1, 1]).init(),
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            MaxPool2dConfig::new([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(),
            MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
        ] {
            let (got, want) = (max_pool_2d(&layer, x.clone()), layer.forward(x.clone()));
            assert_eq!(got.dims(), want.dims(), "{layer:?}");
            assert_eq!(got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
        }
    }

    #[test]
    fn a_nan_wins_its_window_as_in_burn() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::from_floats([[[[1.0, f32::NAN, 5.0, 2.0], [3.0, 4.0, 0.0, -1.0]]]], &device);
        let got = max_pool_2x2(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let want = burns(x).into_data().try_to_vec::<f32>().unwrap();
        assert!(got[0].is_nan() && want[0].is_nan());
        assert_eq!((got[1], want[1]), (5.0, 5.0));
    }
}
