//! Batch normalisation in training as two `flex` kernels: the channels' moments, then the
//! normalisation, with a backward pass of its own.
//!
//! Written as tensor operations (`batch_norm.rs`), a training step's batch norm is about eight
//! recorded element-wise operations forward (means, centring, square, scale, shift) and as many
//! backward, each a pass over the activation and most of them on one thread. Here the moments
//! are one pass per channel (channels on rayon's threads), the output one pass over the rows
//! `(item, channel)`, and the backward pass two: the sums `sum dy` and `sum dy x^` per channel,
//! then `dx = gamma / sigma (dy - mean dy - x^ mean(dy x^))` over the rows, `dgamma = sum dy x^`,
//! `dbeta = sum dy`, where `x^ = (x - mean) / sigma` and `sigma = sqrt(var + eps)` with the
//! biased variance, as Burn's. The moments reach the autodiff graph as constants: the backward
//! formula already carries the gradient through them.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use crate::vectorised::{Kernel, Tile, vectorised};

/// Batch norm's training forward pass as backend operations: `flex`'s kernels, and autodiff
/// over them.
#[backend_extension(Flex, Autodiff)]
pub trait BatchNormBackend: Backend {
    /// Each channel's mean and biased variance over items and positions of `x` `[items,
    /// channels, positions]`, as `[2, channels]` (means, then variances).
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `(x - mean) / sqrt(var + epsilon) * gamma + beta` per channel of `x` `[items, channels,
    /// positions]`, `moments` from [`BatchNormBackend::channel_moments`] of the same `x`.
    fn batch_norm_apply(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self>;
}

/// Batch norm's backward pass.
pub trait BatchNormBackward: Backend {
    /// `(dx, dgamma, dbeta)` of [`BatchNormBackend::batch_norm_apply`] whose output gradient is
    /// `grad`.
    fn batch_norm_backward(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f32,
    ) -> [FloatTensor<Self>; 3];
}

/// Batch norm's training output for `x` `[items, channels, positions]` on `flex` (f32) and the
/// batch's `[2, channels]` moments (means, biased variances) for the running statistics.
pub fn train(x: Tensor<3>, gamma: Tensor<1>, beta: Tensor<1>, epsilon: f32) -> (Tensor<3>, Tensor<2>) {
    let moments = Tensor::from_dispatch(<Dispatch as BatchNormBackend>::channel_moments(x.clone().into_dispatch()));
    let y = Tensor::from_dispatch(<Dispatch as BatchNormBackend>::batch_norm_apply(
        x.into_dispatch(),
        moments.clone().into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ));
    (y, moments)
}

/// Batch norm's inference output for `x` `[items, channels, positions]` on `flex` (f32, without
/// autodiff) from the running statistics: [`BatchNormBackend::batch_norm_apply`] with the
/// running mean and variance as the moments.
pub fn infer(
    x: Tensor<3>,
    mean: Tensor<1>,
    variance: Tensor<1>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f32,
) -> Tensor<3> {
    let channels = mean.dims()[0];
    let moments = Tensor::cat(vec![mean, variance], 0).reshape([2, channels]);
    Tensor::from_dispatch(<Dispatch as BatchNormBackend>::batch_norm_apply(
        x.into_dispatch(),
        moments.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ))
}

/// `(items, channels, positions)` of a 3-d tensor.
fn dims(x: &FlexTensor) -> (usize, usize, usize) {
    let dims = x.layout().shape().to_vec();
    let [items, channels, positions] = dims[..] else {
        panic!("batch norm takes [items, channels, positions], got {dims:?}")
    };
    (items, channels, positions)
}

/// `f(channel, row)` summed over each channel's rows (its `positions` values in every item) in
/// `f64`, channels on rayon's threads: `N` sums at once.
fn per_channel<const N: usize>(
    channels: usize,
    items: usize,
    positions: usize,
    f: impl Fn(usize, std::ops::Range<usize>) -> [f32; N] + Sync,
) -> Vec<[f64; N]> {
    (0..channels)
        .into_par_iter()
        .map(|c| {
            let mut sums = [0f64; N];
            for i in 0..items {
                let row = f(c, (i * channels + c) * positions..(i * channels + c + 1) * positions);
                for (sum, part) in sums.iter_mut().zip(row) {
                    *sum += f64::from(part);
                }
            }
            sums
        })
        .collect()
}

/// Values summed at once by [`lane_sums`]: one AVX-512 register, two AVX2 or four SSE ones.
const LANES: usize = 16;

/// `N` sums of `f(a_i, b_i)` over the pairs of `a` and `b` (of one length), kept in [`LANES`]
/// running sums each that the compiler holds in vector registers (with one running sum, each
/// addition waits for the one before and the loop stays scalar); the lanes are added at the end.
/// Compiled for the CPU's vector instructions ([`vectorised`]).
fn lane_sums<const N: usize>(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> [f32; N]) -> [f32; N] {
    vectorised(LaneSums { a, b, f })
}

/// [`lane_sums`] as a kernel: a struct, not a closure, so that its loop is sure to be inlined
/// into [`vectorised`]'s instances (a closure called from the three is inlined only when small).
struct LaneSums<'a, F> {
    a: &'a [f32],
    b: &'a [f32],
    f: F,
}

impl<const N: usize, F: Fn(f32, f32) -> [f32; N]> Kernel for LaneSums<'_, F> {
    type Output = [f32; N];

    #[inline(always)]
    fn run<T: Tile>(self) -> [f32; N] {
        let Self { a, b, f } = self;
        let mut lanes = [[0f32; LANES]; N];
        let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (a_rest, b_rest) = (a_blocks.remainder(), b_blocks.remainder());
        for (a, b) in a_blocks.zip(b_blocks) {
            for k in 0..LANES {
                let terms = f(a[k], b[k]);
                for (lane, term) in lanes.iter_mut().zip(terms) {
                    lane[k] += term;
                }
            }
        }
        let mut sums = lanes.map(|lane| lane.iter().sum::<f32>());
        for (&a, &b) in a_rest.iter().zip(b_rest) {
            for (sum, term) in sums.iter_mut().zip(f(a, b)) {
                *sum += term;
            }
        }
        sums
    }
}

/// Means and `1 / sqrt(var + epsilon)` per channel from `[2, channels]` moments.
fn mean_and_inverse_sigma(moments: &FlexTensor, epsilon: f32) -> (Vec<f32>, Vec<f32>) {
    let moments = moments.to_contiguous();
    let values: &[f32] = moments.storage();
    let channels = values.len() / 2;
    let inverse = values[channels..].iter().map(|v| 1.0 / (v + epsilon).sqrt()).collect();
    (values[..channels].to_vec(), inverse)
}

impl BatchNormBackend for Flex {
    fn channel_moments(x: FlexTensor) -> FlexTensor {
        let (items, channels, positions) = dims(&x);
        let x = x.to_contiguous();
        let values: &[f32] = x.storage();
        let count = (items * positions) as f64;
        let sums = per_channel(channels, items, positions, |_, row| {
            let row = &values[row];
            lane_sums(row, row, |v, _| [v])
        });
        let means: Vec<f32> = sums.iter().map(|[s]| (s / count) as f32).collect();
        // The variance from the centred values, as Burn takes it (no cancellation).
        let squares = per_channel(channels, items, positions, |c, row| {
            let (row, mean) = (&values[row], means[c]);
            lane_sums(row, row, move |v, _| [(v - mean) * (v - mean)])
        });
        let mut out = means;
        out.extend(squares.iter().map(|[s]| (s / count) as f32));
        FlexTensor::from_data(TensorData::new(out, [2, channels]))
    }

    fn batch_norm_apply(
        x: FlexTensor,
        moments: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f32,
    ) -> FlexTensor {
        let (items, channels, positions) = dims(&x);
        let x = x.to_contiguous();
        let values: &[f32] = x.storage();
        let (means, inverse) = mean_and_inverse_sigma(&moments, epsilon);
        let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
        let (gamma, beta): (&[f32], &[f32]) = (gamma.storage(), beta.storage());
        // y = x a + b per channel.
        let scale: Vec<f32> = (0..channels).map(|c| gamma[c] * inverse[c]).collect();
        let shift: Vec<f32> = (0..channels).map(|c| beta[c] - means[c] * scale[c]).collect();
        let mut out = crate::on_flex::zeros::<f32>(values.len());
        out.par_chunks_mut(positions.max(1)).enumerate().for_each(|(r, row)| {
            let (a, b) = (scale[r % channels], shift[r % channels]);
            for (o, &v) in row.iter_mut().zip(&values[r * positions..]) {
                *o = v * a + b;
            }
        });
        FlexTensor::from_data(TensorData::new(out, [items, channels, positions]))
    }
}

impl BatchNormBackward for Flex {
    fn batch_norm_backward(
        x: FlexTensor,
        moments: FlexTensor,
        gamma: FlexTensor,
        grad: FlexTensor,
        epsilon: f32,
    ) -> [FlexTensor; 3] {
        let (items, channels, positions) = dims(&x);
        let (x, grad) = (x.to_contiguous(), crate::on_flex::whole(grad));
        let (values, dy): (&[f32], &[f32]) = (x.storage(), grad.storage());
        let (means, inverse) = mean_and_inverse_sigma(&moments, epsilon);
        let gamma = gamma.to_contiguous();
        let gamma: &[f32] = gamma.storage();
        // sum dy and sum dy (x - mean) in one pass; times 1 / sigma, the latter is sum dy x^.
        let sums = per_channel(channels, items, positions, |c, row| {
            let (x, dy, mean) = (&values[row.clone()], &dy[row], means[c]);
            lane_sums(x, dy, move |v, g| [g, g * (v - mean)])
        });
        let sum_dy: Vec<f64> = sums.iter().map(|[s, _]| *s).collect();
        let sum_dy_xhat: Vec<f64> = sums.iter().zip(&inverse).map(|([_, s], &inv)| s * f64::from(inv)).collect();
        let count = (items * positions) as f64;
        let mean_dy: Vec<f32> = sum_dy.iter().map(|s| (s / count) as f32).collect();
        let mean_dy_xhat: Vec<f32> = sum_dy_xhat.iter().map(|s| (s / count) as f32).collect();
        // dx in the gradient's own buffer, each value read before it is written (`storage_mut`
        // copies the buffer first where another tensor shares it).
        let mut dx = grad;
        dx.storage_mut::<f32>().par_chunks_mut(positions.max(1)).enumerate().for_each(|(r, row)| {
            let c = r % channels;
            let (mean, inv, a) = (means[c], inverse[c], gamma[c] * inverse[c]);
            let (m_dy, m_dy_xhat) = (mean_dy[c], mean_dy_xhat[c]);
            for (g, &v) in row.iter_mut().zip(&values[r * positions..]) {
                *g = a * (*g - m_dy - (v - mean) * inv * m_dy_xhat);
            }
        });
        let to_f32 = |s: &[f64]| s.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        [
            dx,
            FlexTensor::from_data(TensorData::new(to_f32(&sum_dy_xhat), [channels])),
            FlexTensor::from_data(TensorData::new(to_f32(&sum_dy), [channels])),
        ]
    }
}

/// The backward step of [`BatchNormBackend::batch_norm_apply`].
#[derive(Debug)]
struct BatchNormStep;

impl<B: Backend + BatchNormBackward> Backward<B, 3> for BatchNormStep {
    /// The input, the moments, gamma and epsilon.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f32);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, moments, gamma, epsilon) = ops.state;
        let [dx, dgamma, dbeta] = B::batch_norm_backward(x, moments, gamma, grad, epsilon);
        for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// A step that passes no gradient on: the moments are constants to the graph.
#[derive(Debug)]
struct ConstantStep;

impl<B: Backend> Backward<B, 1> for ConstantStep {
    type State = ();

    fn backward(self, _: Ops<Self::State, 1>, _: &mut Gradients, _: &mut Checkpointer) {}
}

impl<B, C> BatchNormBackend for Autodiff<B, C>
where
    B: Backend + BatchNormBackend + BatchNormBackward,
    C: CheckpointStrategy,
{
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let inner = x.primitive().clone();
        ConstantStep.prepare::<C>([x.node()]).compute_bound().stateless(B::channel_moments(inner))
    }

    fn batch_norm_apply(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let moments = moments.into_parts().0;
        match BatchNormStep.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x, gamma, beta) = (x.into_parts().0, gamma.into_parts().0, beta.into_parts().0);
                let y = B::batch_norm_apply(x.clone(), moments.clone(), gamma.clone(), beta, epsilon);
                prep.finish((x, moments, gamma, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::batch_norm_apply(
                x.into_parts().0,
                moments,
                gamma.into_parts().0,
                beta.into_parts().0,
                epsilon,
            )),
        }
    }
}
