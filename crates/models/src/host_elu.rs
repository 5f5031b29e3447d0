//! ELU computed off Burn's tensor path, for backends that evaluate `exp` one element at a time
//! on one thread (Burn's `flex` and `ndarray`).
//!
//! On `flex` the DeepLens ResNet's ELUs took about an eighth of all CPU time of a training
//! step in `exp` alone, on the training thread while the other core idled. Two forms:
//!
//! - On `flex` (f32, `alpha > 0`), a Burn backend extension ([`kernel`]): one pass over the
//!   input on rayon's threads (the ones `flex` uses; `crate::elementwise`) writes ELU's values
//!   into the input's buffer where no other tensor shares it, with `exp` as a polynomial the
//!   compiler vectorises (Cephes' `expf`: the exponent split off, a degree-6 polynomial on the
//!   rest, within 2 ulp of the exact function); its backward pass is one more pass, into the
//!   gradient's buffer, `grad * (y > 0 ? 1 : y + alpha)` from the output `y` (for `x <= 0`,
//!   `y + alpha = alpha exp(x)`, ELU's derivative). The host form below took a fifth of a
//!   DeepLens training step (copying the input out, scalar `exp`, copying two tensors back,
//!   two more full-size operations).
//! - Elsewhere, the values and the slope `dELU/dx` computed in one pass over the input, split
//!   between the machine's threads, entering the graph as `x * slope + offset` (with `offset =
//!   ELU(x) - x * slope`, both constants): two recorded operations whose gradient is `slope`,
//!   the exact derivative, where the tensor form records seven.
//!
//! Values equal ELU's to float rounding (positive inputs exactly). The trainer switches this on
//! for the backends above ([`set_host_elu`]); elsewhere, where `exp` is a vectorised kernel and
//! reading a tensor back costs a transfer, ELU stays a tensor expression
//! ([`crate::activation::elu`]).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Tensor, TensorData};

/// Whether [`crate::activation::elu`] computes on the host in this process.
static HOST_ELU: AtomicBool = AtomicBool::new(false);

/// Items below which one thread computes the whole tensor (a thread costs more).
const PER_THREAD: usize = 1 << 15;

/// Sets whether ELU computes on the host's threads from here on (`true` for backends whose
/// `exp` runs one element at a time).
pub fn set_host_elu(on: bool) {
    HOST_ELU.store(on, Ordering::Relaxed);
}

/// Whether ELU computes on the host's threads.
pub fn host_elu() -> bool {
    HOST_ELU.load(Ordering::Relaxed)
}

/// The machine's threads, asked once: on Linux the answer reads cgroup files, and ELU runs
/// dozens of times a step.
fn machine_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |t| t.get()))
}

/// `x` for positive `x`, `alpha (exp(x) - 1)` otherwise, computed on the host's threads; in an
/// autodiff graph, with gradient 1 for positive `x` and `alpha exp(x)` otherwise.
pub fn elu_on_host<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if kernel::applies_to(&x, alpha) {
        return kernel::elu(x, alpha as f32);
    }
    elu_by_threads(x, alpha)
}

/// [`elu_on_host`]'s form for backends other than `flex`: the values and slopes computed in
/// host memory on the machine's threads.
fn elu_by_threads<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    let shape = x.shape();
    let device = x.device();
    // Overwritten in place: ELU's values (untracked) or the offsets (tracked).
    let mut values = match x.clone().into_data().convert::<f32>().try_into_vec::<f32>() {
        Ok(values) => values,
        // Not expected for a float tensor; the tensor form is always right.
        Err(_) => return crate::activation::elu_as_tensors(x, alpha),
    };
    // On an autodiff device the result joins the graph (`is_require_grad` says so only for
    // leaves, not for the intermediate tensors an activation sees).
    let tracked = device.is_autodiff();
    let alpha = alpha as f32;
    let n = values.len();
    let mut slopes = vec![0f32; if tracked { n } else { 0 }];
    let fill = |values: &mut [f32], slopes: &mut [f32]| {
        for (i, v) in values.iter_mut().enumerate() {
            let x = *v;
            let (value, slope) = if x > 0.0 {
                (x, 1.0)
            } else {
                let e = x.exp();
                (alpha * (e - 1.0), alpha * e)
            };
            if tracked {
                slopes[i] = slope;
                *v = if x > 0.0 { 0.0 } else { value - x * slope };
            } else {
                *v = value;
            }
        }
    };
    let threads = machine_threads().min(n / PER_THREAD).max(1);
    let chunk = n.div_ceil(threads).max(1);
    let mut slope_parts = slopes.chunks_mut(chunk);
    let mut parts: Vec<(&mut [f32], &mut [f32])> =
        values.chunks_mut(chunk).map(|part| (part, slope_parts.next().unwrap_or_default())).collect();
    // The last part on this thread, the others each on its own.
    let last = parts.pop();
    std::thread::scope(|scope| {
        let fill = &fill;
        for (values, slopes) in parts {
            scope.spawn(move || fill(values, slopes));
        }
        if let Some((values, slopes)) = last {
            fill(values, slopes);
        }
    });
    let constant = |values: Vec<f32>| Tensor::<D>::from_data(TensorData::new(values, shape.clone()), &device);
    if tracked { x * constant(slopes) + constant(values) } else { constant(values) }
}

/// ELU as a `flex` kernel with its own backward pass.
#[cfg(feature = "flex")]
pub mod kernel {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::Tensor;

    use crate::elementwise::{map, zip_map};

    /// ELU as a backend operation: `flex`'s kernel, and autodiff over it.
    #[backend_extension(Flex, Autodiff)]
    pub trait EluBackend: Backend {
        /// `x` for positive `x`, `alpha (exp(x) - 1)` otherwise (`alpha > 0`).
        fn elu(x: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self>;
    }

    /// ELU's backward pass from its output.
    pub trait EluBackward: Backend {
        /// `grad * dELU/dx`, the derivative read from the output `y`: 1 where `y > 0`, else
        /// `y + alpha`.
        fn elu_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self>;
    }

    /// Whether `x` is an `f32` tensor on `flex` (with or without autodiff) and `alpha > 0` (the
    /// backward pass tells the sides of 0 apart by the output's sign).
    pub fn applies_to<const D: usize>(x: &Tensor<D>, alpha: f64) -> bool {
        crate::on_flex::is_flex_f32(x) && alpha > 0.0
    }

    /// ELU of `x` through the kernel (see [`applies_to`]).
    pub fn elu<const D: usize>(x: Tensor<D>, alpha: f32) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as EluBackend>::elu(x.into_dispatch(), alpha))
    }

    /// `e^x` for `x <= 0` as a branch-free polynomial (Cephes' `expf`), within 2 ulp of the
    /// exact value; below -87.3 (where `e^x` leaves the normal floats) the value at -87.3.
    /// Plain products and sums: `mul_add` is a library call on the portable x86-64 target.
    #[inline(always)]
    pub fn exp_non_positive(x: f32) -> f32 {
        let x = x.clamp(-87.3, 0.0);
        // Round x log2(e) to the nearest integer n by the float adder (no call to `round`):
        // adding 1.5 2^23 leaves n in the low bits.
        const SHIFT: f32 = 12_582_912.0;
        let shifted = x * std::f32::consts::LOG2_E + SHIFT;
        let n = shifted - SHIFT;
        // x - n ln 2, with ln 2 in two parts for the precision.
        let r = x - n * 0.693_359_4;
        let r = r + n * 2.121_944_4e-4;
        let mut p = 1.987_569_1e-4_f32;
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            p = p * r + c;
        }
        let e_r = p * r * r + r + 1.0;
        // 2^n from its exponent bits (n in [-126, 0]).
        let n_bits = shifted.to_bits().wrapping_sub(SHIFT.to_bits());
        let two_to_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
        e_r * two_to_n
    }

    impl EluBackend for Flex {
        fn elu(x: FlexTensor, alpha: f32) -> FlexTensor {
            // Both sides computed, then one chosen: a select the compiler vectorises, where a
            // branch kept the loop scalar. A NaN stays NaN through `exp`.
            map(x, move |v| {
                let below = alpha * (exp_non_positive(v) - 1.0);
                if v > 0.0 { v } else { below }
            })
        }
    }

    impl EluBackward for Flex {
        fn elu_backward(y: FlexTensor, grad: FlexTensor, alpha: f32) -> FlexTensor {
            zip_map(y, grad, move |y, g| g * if y > 0.0 { 1.0 } else { y + alpha })
        }
    }

    /// The backward step: the gradient times ELU's derivative, read from the output.
    #[derive(Debug)]
    struct EluStep;

    impl<B: Backend + EluBackward> Backward<B, 1> for EluStep {
        /// The output and alpha.
        type State = (FloatTensor<B>, f32);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [parent] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (y, alpha) = ops.state;
            if let Some(node) = parent {
                grads.register::<B>(node.id, B::elu_backward(y, grad, alpha));
            }
        }
    }

    impl<B, C> EluBackend for Autodiff<B, C>
    where
        B: Backend + EluBackend + EluBackward,
        C: CheckpointStrategy,
    {
        fn elu(x: FloatTensor<Self>, alpha: f32) -> FloatTensor<Self> {
            match EluStep.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = B::elu(x.into_parts().0, alpha);
                    prep.finish((y.clone(), alpha), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::elu(x.into_parts().0, alpha)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation as f;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Values and the gradient of `sum(elu(2 w) * w)` to `w`, by `elu`.
    fn through(elu: impl Fn(Tensor<2>) -> Tensor<2>, w: &Tensor<2>) -> (TensorData, TensorData) {
        let w = w.clone().require_grad();
        // An intermediate tensor, not a leaf: the graph goes on through it.
        let y = elu(w.clone().mul_scalar(2.0));
        let values = y.clone().into_data();
        let grads = (y * w.clone()).sum().backward();
        (values, w.grad(&grads).expect("a gradient").into_data())
    }

    #[test]
    fn values_and_gradients_are_burns_elu_by_the_kernel_and_on_one_and_several_threads() {
        let device = Device::flex().autodiff();
        // 40 items (one thread, one task) and 3 x 2^15 (split between threads and tasks).
        for (rows, cols) in [(4, 10), (3, 1 << 15)] {
            let w = Tensor::<2>::random([rows, cols], Distribution::Uniform(-3.0, 2.0), &device);
            assert!(kernel::applies_to(&w, 1.0) && !kernel::applies_to(&w, 0.0));
            for alpha in [1.0, 0.5] {
                let (burn, d_burn) = through(|x| f::elu(x, alpha), &w);
                for (form, ours) in [
                    ("kernel", through(|x| elu_on_host(x, alpha), &w)),
                    ("threads", through(|x| elu_by_threads(x, alpha), &w)),
                ] {
                    let (ours, d_ours) = ours;
                    ours.assert_approx_eq::<f32>(&burn, Tolerance::absolute(1e-6));
                    d_ours.assert_approx_eq::<f32>(&d_burn, Tolerance::absolute(1e-6));
                    assert!(d_ours.iter::<f32>().any(|d| d != 1.0), "{form}: the negative side's slopes");
                }
            }
        }
    }

    #[test]
    fn the_kernels_exp_is_within_two_ulp_of_the_exact_function() {
        let mut worst = 0f64;
        for i in 0..=873_000 {
            let x = -(i as f32) * 1e-4;
            let exact = (x as f64).exp();
            let got = kernel::exp_non_positive(x) as f64;
            worst = worst.max((got - exact).abs() / exact);
        }
        assert!(worst < 2.4e-7, "largest relative error {worst:e}");
        assert_eq!(kernel::exp_non_positive(0.0), 1.0);
        assert!(kernel::exp_non_positive(-1000.0) < 1e-37 && kernel::exp_non_positive(-1000.0) >= 0.0);
    }

    #[test]
    fn the_kernel_passes_nan_and_infinities_as_burns_elu() {
        let x = Tensor::<1>::from_floats([f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0], &Device::flex());
        let got = elu_on_host(x, 1.0).into_data().try_to_vec::<f32>().unwrap();
        assert!(got[0].is_nan());
        assert_eq!(&got[1..], &[-1.0, f32::INFINITY, 0.0]);
    }

    #[test]
    fn without_a_graph_it_gives_the_values_and_positive_inputs_exactly() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([-20.0, -1.0, -0.0, 1e-30, 0.5, 3.0], &device);
        let got = elu_on_host(x.clone(), 1.0).into_data().try_to_vec::<f32>().unwrap();
        let want = f::elu(x, 1.0).into_data().try_to_vec::<f32>().unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-7, "{got:?} vs {want:?}");
        }
        assert_eq!(&got[3..], &[1e-30, 0.5, 3.0]);
    }
}
