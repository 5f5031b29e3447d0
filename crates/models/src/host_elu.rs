//! ELU computed on the host's threads, for backends that evaluate `exp` one element at a time
//! on one thread (Burn's `flex` and `ndarray`).
//!
//! On `flex` the DeepLens ResNet's ELUs took about an eighth of all CPU time of a training
//! step in `exp` alone, on the training thread while the other core idled. Here the values and
//! the slope `dELU/dx` are computed in one pass over the input, split between the machine's
//! threads, and enter the graph as `x * slope + offset` (with `offset = ELU(x) - x * slope`,
//! both constants): two recorded operations whose gradient is `slope`, the exact derivative,
//! where the tensor form records seven. The values equal ELU's to float rounding (positive
//! inputs exactly).
//!
//! The trainer switches it on for the backends above ([`set_host_elu`]); elsewhere, where
//! `exp` is a vectorised kernel and reading a tensor back costs a transfer, ELU stays a tensor
//! expression ([`crate::activation::elu`]).

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
    fn values_and_gradients_are_burns_elu_on_one_and_several_threads() {
        let device = Device::flex().autodiff();
        // 40 items (one thread) and 3 x 2^15 (split between threads where the machine has them).
        for (rows, cols) in [(4, 10), (3, 1 << 15)] {
            let w = Tensor::<2>::random([rows, cols], Distribution::Uniform(-3.0, 2.0), &device);
            for alpha in [1.0, 0.5] {
                let (ours, d_ours) = through(|x| elu_on_host(x, alpha), &w);
                let (burn, d_burn) = through(|x| f::elu(x, alpha), &w);
                ours.assert_approx_eq::<f32>(&burn, Tolerance::absolute(1e-6));
                d_ours.assert_approx_eq::<f32>(&d_burn, Tolerance::absolute(1e-6));
            }
        }
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
