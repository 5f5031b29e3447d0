//! tanh and the logistic sigmoid as a rational function of element-wise products and sums, for
//! the recurrent cells. Burn's CPU backend evaluates `tanh`, `exp` and `sigmoid` one element at
//! a time through libm (a profile of the BiLSTM put two thirds of its inference there), while
//! products and sums over contiguous tensors run as vectorised loops. The rational form is the
//! one Eigen (and so TensorFlow) uses for single-precision tanh: odd degree-13 numerator over
//! even degree-6 denominator on `x` clamped to +-7.9053, largest absolute error 3.5e-7 against
//! double-precision tanh (`crates/models/reference/rational_tanh_error.py` evaluates it in
//! float32 as here; the unit tests below check it too).
//!
//! The values are computed without autodiff; under autodiff the result is
//! `y + (x - x0) * slope`, where `x0` and `y` and `slope` are constants of the same values as
//! `x`, tanh(x) and its derivative: the value is exactly `y` and the gradient is `slope`, three
//! recorded element-wise operations in place of the whole polynomial's.
//! The logistic sigmoid is `(1 + tanh(x / 2)) / 2`.

use burn::tensor::{Tensor, TensorData};

/// Beyond this, tanh is 1 to within float32's precision.
const CLAMP: f64 = 7.905_311_107_635_498;
/// Coefficients of x, x^3, ..., x^13 in the numerator.
const NUMERATOR: [f64; 7] = [
    4.893_524_558_917_86e-3,
    6.372_619_288_754_36e-4,
    1.485_722_357_179_79e-5,
    5.122_297_090_371_14e-8,
    -8.604_671_522_137_35e-11,
    2.000_187_904_824_77e-13,
    -2.760_768_477_423_55e-16,
];
/// Coefficients of 1, x^2, x^4, x^6 in the denominator.
const DENOMINATOR: [f64; 4] =
    [4.893_525_185_543_85e-3, 2.268_434_632_439e-3, 1.185_347_056_866_54e-4, 1.198_258_394_667_02e-6];

/// tanh(x) by the rational function, element by element (records no gradient: call it on
/// tensors without autodiff).
fn tanh_values<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let x = x.clamp_min(-CLAMP).clamp_max(CLAMP);
    let x2 = x.clone().square();
    // numerator = x (a0 + x2 (a1 + ...)), denominator = b0 + x2 (b1 + ...)
    let p = horner_full(&x2, &NUMERATOR) * x;
    let q = horner_full(&x2, &DENOMINATOR);
    p / q
}

/// [`tanh_values`] of one number, the same operations in the same order (so the same `f32`), for
/// kernels that loop over values themselves (`crate::recurrent::fused_lstm`).
#[inline(always)]
pub(crate) fn tanh_scalar(x: f32) -> f32 {
    let clamp = CLAMP as f32;
    // As `flex`'s `clamp_min` and `clamp_max`: NaN passes through.
    let x = if x.is_nan() || x > -clamp { x } else { -clamp };
    let x = if x.is_nan() || x < clamp { x } else { clamp };
    let x2 = x * x;
    let horner = |coefficients: &[f64]| {
        let (last, rest) = coefficients.split_last().expect("coefficients");
        let mut sum = x2 * *last as f32;
        for (k, &c) in rest.iter().enumerate().rev() {
            sum += c as f32;
            if k > 0 {
                sum *= x2;
            }
        }
        sum
    };
    horner(&NUMERATOR) * x / horner(&DENOMINATOR)
}

/// `c0 + x2 (c1 + x2 (c2 + ...))`.
fn horner_full<const D: usize>(x2: &Tensor<D>, coefficients: &[f64]) -> Tensor<D> {
    let (last, rest) = coefficients.split_last().expect("coefficients");
    let mut sum = x2.clone().mul_scalar(*last);
    for (k, &c) in rest.iter().enumerate().rev() {
        sum = sum.add_scalar(c);
        if k > 0 {
            sum = sum * x2.clone();
        }
    }
    sum
}

/// `values` (computed from `x` without autodiff) with the gradient `slope` with respect to `x`
/// when `x` carries autodiff.
fn with_gradient<const D: usize>(
    x: Tensor<D>,
    plain: Tensor<D>,
    values: Tensor<D>,
    slope: impl FnOnce() -> Tensor<D>,
) -> Tensor<D> {
    if !x.is_autodiff() {
        return values;
    }
    (x - plain) * slope() + values
}

/// Hyperbolic tangent, to 3.5e-7 absolute. On `flex` (`f32`), one pass on rayon's threads each
/// way ([`kernel`]); elsewhere as tensor operations. The same values either way.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if crate::on_flex::is_flex_f32(&x) {
        return kernel::tanh(x);
    }
    let plain = x.clone().without_autodiff();
    let y = tanh_values(plain.clone());
    let slope = || y.clone().square().neg().add_scalar(1.0);
    with_gradient(x, plain, y.clone(), slope)
}

/// Logistic sigmoid, `(1 + tanh(x / 2)) / 2`, to 2.3e-7 absolute.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let plain = x.clone().without_autodiff();
    let t = tanh_values(plain.clone().mul_scalar(0.5));
    let s = t.clone().mul_scalar(0.5).add_scalar(0.5);
    // d/dx = s (1 - s) = (1 - t^2) / 4
    let slope = || t.square().neg().add_scalar(1.0).mul_scalar(0.25);
    with_gradient(x, plain, s, slope)
}

/// An LSTM's four gate blocks `[i, f, g, o]` of `z` `[batch, 4 size]` activated at once: the
/// sigmoid on `i`, `f`, `o` and tanh on `g`, with one rational function over the whole tensor.
pub fn lstm_gates(z: Tensor<2>, size: usize) -> Tensor<2> {
    let plain = z.clone().without_autodiff();
    let device = plain.device();
    let columns = |sigmoid: f32, tanh: f32| {
        let mut v = vec![sigmoid; 4 * size];
        v[2 * size..3 * size].fill(tanh);
        Tensor::<2>::from_data(TensorData::new(v, [1, 4 * size]), &device)
    };
    // sigmoid(x) = 1/2 + tanh(x / 2) / 2, its derivative (1 - tanh(x / 2)^2) / 4
    let halves = columns(0.5, 1.0);
    let t = tanh_values(plain.clone() * halves.clone());
    let values = t.clone() * halves + columns(0.5, 0.0);
    let slope = || t.square().neg().add_scalar(1.0) * columns(0.25, 1.0);
    with_gradient(z, plain, values, slope)
}

/// [`tanh`] as a `flex` kernel with its own backward pass: `flex` evaluates `tanh` value by
/// value through libm on the calling thread (the generators' output layers: 3.5% of the pix2pix
/// generator's inference, while the other core idled), and the tensor form is a dozen passes.
/// Forward [`tanh_scalar`] of each value, backward `grad (1 - y^2)` from the output `y`, each
/// in its input's buffer where no other tensor shares it ([`crate::elementwise`]).
#[cfg(feature = "flex")]
mod kernel {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::Tensor;

    use super::tanh_scalar;
    use crate::elementwise::{map, zip_map};

    /// The rational tanh as a backend operation: `flex`'s kernel, and autodiff over it.
    #[backend_extension(Flex, Autodiff)]
    pub trait RationalTanhBackend: Backend {
        /// [`tanh_scalar`] of each value of `x`.
        fn rational_tanh(x: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    /// Its backward pass from its output.
    pub trait RationalTanhBackward: Backend {
        /// `grad (1 - y^2)`.
        fn rational_tanh_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    /// The rational tanh of `x` through the kernel (`x`: `f32` on `flex`).
    pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as RationalTanhBackend>::rational_tanh(x.into_dispatch()))
    }

    impl RationalTanhBackend for Flex {
        fn rational_tanh(x: FlexTensor) -> FlexTensor {
            map(x, tanh_scalar)
        }
    }

    impl RationalTanhBackward for Flex {
        fn rational_tanh_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
            // As the tensor form's slope, `1 - y^2`, times the gradient.
            zip_map(y, grad, |y, g| g * (-(y * y) + 1.0))
        }
    }

    /// The backward step: the gradient times `1 - y^2`, from the output.
    #[derive(Debug)]
    struct RationalTanhStep;

    impl<B: Backend + RationalTanhBackward> Backward<B, 1> for RationalTanhStep {
        /// The output.
        type State = FloatTensor<B>;

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [parent] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            if let Some(node) = parent {
                grads.register::<B>(node.id, B::rational_tanh_backward(ops.state, grad));
            }
        }
    }

    impl<B, C> RationalTanhBackend for Autodiff<B, C>
    where
        B: Backend + RationalTanhBackend + RationalTanhBackward,
        C: CheckpointStrategy,
    {
        fn rational_tanh(x: FloatTensor<Self>) -> FloatTensor<Self> {
            match RationalTanhStep.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = B::rational_tanh(x.into_parts().0);
                    prep.finish(y.clone(), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::rational_tanh(x.into_parts().0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn the_kernel_gives_the_tensor_forms_values_and_gradients() {
        let device = Device::flex().autodiff();
        // Several of the kernel's tasks (2^15 values each) and a short last one; NaN and the
        // clamp's ends among them.
        let mut x: Vec<f32> = (0..(3 << 15) + 7).map(|i| ((i * 7919) % 20_001) as f32 * 0.001 - 10.0).collect();
        x[..5].copy_from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0]);
        let leaf = || Tensor::<1>::from_data(TensorData::new(x.clone(), [x.len()]), &device).require_grad();
        let (input, reference) = (leaf(), leaf());
        let y = tanh(input.clone().mul_scalar(1.0));
        let plain = reference.clone().mul_scalar(1.0).without_autodiff();
        let y_tensors = tanh_values(plain.clone());
        let expected = with_gradient(reference.clone().mul_scalar(1.0), plain, y_tensors.clone(), || {
            y_tensors.clone().square().neg().add_scalar(1.0)
        });
        let bits = |t: Tensor<1>| values(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // The values are the tensor form's without autodiff (with it, `(x - x0) slope + y` gives
        // NaN at infinities and +0 at -0; the kernel keeps tanh's 1, -1 and -0).
        let (got, want) = (bits(y.clone().without_autodiff()), bits(y_tensors));
        let differ: Vec<_> = (0..x.len()).filter(|&k| got[k] != want[k]).take(5).collect();
        let show: Vec<_> = differ.iter().map(|&k| (x[k], f32::from_bits(got[k]), f32::from_bits(want[k]))).collect();
        assert!(differ.is_empty(), "values differ at (x, kernel, tensors): {show:?}");
        let weights = Tensor::<1>::from_data(
            TensorData::new((0..x.len()).map(|i| (i % 13) as f32 - 6.0).collect::<Vec<_>>(), [x.len()]),
            &device,
        );
        let grad = values(input.grad(&(y * weights.clone()).sum().backward()).expect("a gradient"));
        let want = values(reference.grad(&(expected * weights).sum().backward()).expect("a gradient"));
        for (k, (g, w)) in grad.iter().zip(&want).enumerate().skip(5) {
            assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "gradient at {}: {g} vs {w}", x[k]);
        }
    }

    fn grid(device: &Device) -> (Vec<f32>, Tensor<1>) {
        let x: Vec<f32> = (0..=24_000).map(|i| -12.0 + i as f32 * 0.001).collect();
        let t = Tensor::<1>::from_data(TensorData::new(x.clone(), [x.len()]), device);
        (x, t)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn largest_error(got: &[f32], x: &[f32], exact: impl Fn(f64) -> f64) -> f64 {
        got.iter().zip(x).map(|(&y, &x)| (f64::from(y) - exact(f64::from(x))).abs()).fold(0.0, f64::max)
    }

    fn logistic(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn values_match_double_precision() {
        let device = Device::flex();
        let (x, t) = grid(&device);
        let tanh_error = largest_error(&values(tanh(t.clone())), &x, f64::tanh);
        assert!(tanh_error < 4e-7, "tanh: largest error {tanh_error:e}");
        let sigmoid_error = largest_error(&values(sigmoid(t)), &x, logistic);
        assert!(sigmoid_error < 3e-7, "sigmoid: largest error {sigmoid_error:e}");
    }

    #[test]
    fn lstm_gates_take_the_sigmoid_of_i_f_o_and_tanh_of_g() {
        let device = Device::flex();
        let size = 3;
        let z: Vec<f32> = (0..2 * 4 * size).map(|i| (i as f32 - 11.0) * 0.7).collect();
        let got = values(lstm_gates(Tensor::<2>::from_data(TensorData::new(z.clone(), [2, 4 * size]), &device), size));
        for (k, (&y, &x)) in got.iter().zip(&z).enumerate() {
            let block = (k % (4 * size)) / size;
            let exact = if block == 2 { f64::from(x).tanh() } else { logistic(f64::from(x)) };
            assert!((f64::from(y) - exact).abs() < 4e-7, "element {k} (gate {block}): {y} vs {exact}");
        }
    }

    #[test]
    fn gradients_are_the_derivatives_and_values_do_not_change_under_autodiff() {
        let device = Device::flex().autodiff();
        let x: Vec<f32> = (0..41).map(|i| -10.0 + i as f32 * 0.5).collect();
        let size = x.len() / 4;
        let leaf = || Tensor::<1>::from_data(TensorData::new(x.clone(), [x.len()]), &device).require_grad();
        let check = |name: &str, run: &dyn Fn(Tensor<1>) -> Tensor<1>, exact: &dyn Fn(f64, usize) -> (f64, f64)| {
            let input = leaf();
            let y = run(input.clone());
            let grad = values(input.grad(&y.clone().sum().backward()).expect("a gradient"));
            let plain = values(run(Tensor::from_data(TensorData::new(x.clone(), [x.len()]), &Device::flex())));
            assert_eq!(values(y.without_autodiff()), plain, "{name}: values under autodiff");
            for (k, (&g, &v)) in grad.iter().zip(&x).enumerate() {
                let (_, slope) = exact(f64::from(v), k);
                assert!((f64::from(g) - slope).abs() < 1e-6, "{name} at {v}: gradient {g} vs {slope}");
            }
        };
        let dtanh = |v: f64, _| (v.tanh(), 1.0 - v.tanh().powi(2));
        let dsigmoid = |v: f64, _| (logistic(v), logistic(v) * (1.0 - logistic(v)));
        check("tanh", &|t| tanh(t), &dtanh);
        check("sigmoid", &|t| sigmoid(t), &dsigmoid);
        let gates =
            |t: Tensor<1>| lstm_gates(t.narrow(0, 0, 4 * size).reshape([1, 4 * size]), size).reshape([4 * size]);
        let x = x[..4 * size].to_vec();
        let input = Tensor::<1>::from_data(TensorData::new(x.clone(), [x.len()]), &device).require_grad();
        let grad = values(input.grad(&gates(input.clone()).sum().backward()).expect("a gradient"));
        for (k, (&g, &v)) in grad.iter().zip(&x).enumerate() {
            let (_, slope) = if k / size == 2 { dtanh(f64::from(v), k) } else { dsigmoid(f64::from(v), k) };
            assert!((f64::from(g) - slope).abs() < 1e-6, "lstm gate {} at {v}: gradient {g} vs {slope}", k / size);
        }
    }
}
