//! ReLU and leaky ReLU, on `flex` as a kernel on rayon's threads with its own backward pass.
//!
//! `flex` runs element-wise operations on one thread, and Burn's autodiff records leaky ReLU as
//! its trait default: a comparison, a scaled copy and a `mask_where` forward, two masked copies,
//! a scaling and a sum backward. On the pix2pix training step the training thread ran such serial
//! passes while the other core idled (`mask_where` alone 3% of all CPU time). Here, on `flex`
//! with `f32` values, each direction is one pass split between rayon's threads: forward
//! `x >= 0 ? x : slope x`, backward `grad` times 1 or `slope`, read from the output's sign (with
//! `slope >= 0`, the output has the input's sign). Each pass writes into its input's buffer
//! (forward) or the gradient's (backward) where no other tensor shares it, instead of zeroing a
//! new one. Elsewhere, Burn's functions run.
//!
//! Values are Burn's bit for bit, NaN and infinities included (ReLU gives `+0` for `-0` and
//! `-inf`), and so are gradients but for the sign of a zero: ReLU's gradient is 0 where the
//! output is 0 (at 0 too), leaky ReLU's is 1 at 0 (as Burn's `mask_where` form).

use burn::tensor::Tensor;
use burn::tensor::activation as f;

/// `max(0, x)`; NaN stays NaN.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if crate::on_flex::is_flex_f32(&x) {
        return kernel::rectify(x, 0.0);
    }
    f::relu(x)
}

/// `x` for `x >= 0`, `slope x` otherwise.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if crate::on_flex::is_flex_f32(&x) && slope > 0.0 {
        return kernel::rectify(x, slope as f32);
    }
    f::leaky_relu(x, slope)
}

/// The rectifier as a `flex` kernel with its own backward pass.
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

    use crate::elementwise::{map, zip_map};

    /// The rectifier as a backend operation: `flex`'s kernel, and autodiff over it.
    #[backend_extension(Flex, Autodiff)]
    pub trait RectifierBackend: Backend {
        /// `x` for `x >= 0` (and NaN), `slope x` otherwise (`slope >= 0`; 0 is ReLU, `+0` out).
        fn rectify(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self>;
    }

    /// The rectifier's backward pass from its output.
    pub trait RectifierBackward: Backend {
        /// `grad` where the input was on the identity side, `slope grad` elsewhere.
        fn rectify_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>, slope: f32) -> FloatTensor<Self>;
    }

    /// The rectifier of `x` through the kernel (`x`: `f32` on `flex`).
    pub fn rectify<const D: usize>(x: Tensor<D>, slope: f32) -> Tensor<D> {
        Tensor::from_dispatch(<Dispatch as RectifierBackend>::rectify(x.into_dispatch(), slope))
    }

    /// `v` where `keep`, else `+0`, through a bit mask (no branch).
    fn keep_or_zero(v: f32, keep: bool) -> f32 {
        f32::from_bits(v.to_bits() & (keep as u32).wrapping_neg())
    }

    impl RectifierBackend for Flex {
        fn rectify(x: FlexTensor, slope: f32) -> FlexTensor {
            // Written without a branch that keeps the value as it is (with one, the compiler
            // skips that side's store, and a conditional store in place does not vectorise),
            // and with `slope` moved into the closure (read through a reference, it was
            // reloaded after every store and the loop stayed scalar: 0.67 ns a value against
            // 0.22 for 16,384 values in the cache). NaN takes the identity side.
            if slope == 0.0 {
                // ReLU as Burn's: `+0` for `-0` and `-inf` too (where `0 x` would give `-0`, NaN).
                map(x, |v| keep_or_zero(v, v > 0.0 || v.is_nan()))
            } else {
                map(x, move |v| v * if v >= 0.0 || v.is_nan() { 1.0 } else { slope })
            }
        }
    }

    impl RectifierBackward for Flex {
        fn rectify_backward(y: FlexTensor, grad: FlexTensor, slope: f32) -> FlexTensor {
            // Without a branch that keeps the gradient as it is (as in `rectify`).
            if slope == 0.0 {
                // ReLU: the gradient where the output is positive or NaN (Burn's rule).
                zip_map(y, grad, |y, g| keep_or_zero(g, y > 0.0 || y.is_nan()))
            } else {
                // Leaky: the identity side is `x >= 0`, where the output is `>= 0` too (`-0`
                // included, as an input of `-0` is on that side).
                zip_map(y, grad, move |y, g| g * if y >= 0.0 || y.is_nan() { 1.0 } else { slope })
            }
        }
    }

    /// The backward step: the gradient times the rectifier's slope, read from the output.
    #[derive(Debug)]
    struct RectifierStep;

    impl<B: Backend + RectifierBackward> Backward<B, 1> for RectifierStep {
        /// The output and the slope.
        type State = (FloatTensor<B>, f32);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [parent] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (y, slope) = ops.state;
            if let Some(node) = parent {
                grads.register::<B>(node.id, B::rectify_backward(y, grad, slope));
            }
        }
    }

    impl<B, C> RectifierBackend for Autodiff<B, C>
    where
        B: Backend + RectifierBackend + RectifierBackward,
        C: CheckpointStrategy,
    {
        fn rectify(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
            match RectifierStep.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = B::rectify(x.into_parts().0, slope);
                    prep.finish((y.clone(), slope), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::rectify(x.into_parts().0, slope)),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use burn::tensor::TensorData;

        fn values(t: &FlexTensor) -> Vec<f32> {
            t.storage::<f32>().to_vec()
        }

        #[test]
        fn shared_tensors_are_left_as_they_were_and_unshared_ones_give_the_same_values() {
            let tensor = |v: &[f32]| FlexTensor::from_data(TensorData::new(v.to_vec(), [2, 3]));
            let (x, grad) = ([-2.0, -0.5, -0.0, 0.0, 1.5, f32::NAN], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            for slope in [0.0, 0.2] {
                let (shared_x, shared_grad) = (tensor(&x), tensor(&grad));
                let y = Flex::rectify(shared_x.clone(), slope);
                let dx = Flex::rectify_backward(y.clone(), shared_grad.clone(), slope);
                assert_eq!(values(&shared_x).map_or_nan(), x.map_or_nan(), "input, slope {slope}");
                assert_eq!(values(&shared_grad), grad, "gradient, slope {slope}");
                // The same through the in-place path.
                let y_in_place = Flex::rectify(tensor(&x), slope);
                let dx_in_place = Flex::rectify_backward(y_in_place.clone(), tensor(&grad), slope);
                assert_eq!(values(&y_in_place).map_or_nan(), values(&y).map_or_nan(), "values, slope {slope}");
                assert_eq!(values(&dx_in_place), values(&dx), "gradients, slope {slope}");
                // At -0, ReLU's gradient is 0 and leaky ReLU's the identity's (as Burn's).
                let at_minus_zero = if slope == 0.0 { 0.0 } else { 3.0 };
                assert_eq!(values(&dx)[..3], [slope, 2.0 * slope, at_minus_zero], "the negative side's gradient");
            }
        }

        /// Bit patterns, so that NaN compares equal to itself.
        trait MapOrNan {
            fn map_or_nan(&self) -> Vec<u32>;
        }

        impl MapOrNan for [f32] {
            fn map_or_nan(&self) -> Vec<u32> {
                self.iter().map(|v| v.to_bits()).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    /// Values and the gradient of `sum(act(2 w) * w)` to `w`.
    fn through(act: impl Fn(Tensor<2>) -> Tensor<2>, w: &Tensor<2>) -> (Vec<f32>, Vec<f32>) {
        let w = w.clone().require_grad();
        // An intermediate tensor, not a leaf: the graph goes on through it.
        let y = act(w.clone().mul_scalar(2.0));
        let values = y.clone().into_data().try_to_vec::<f32>().unwrap();
        let grads = (y * w.clone()).sum().backward();
        (values, w.grad(&grads).expect("a gradient").into_data().try_to_vec::<f32>().unwrap())
    }

    /// Whether two lists hold the same numbers, NaN where the other has NaN (`-0 == +0`: Burn's
    /// leaky ReLU backward sums a `+0` into a `-0` gradient, one pass here keeps it `-0`).
    fn same(ours: &[f32], burns: &[f32]) -> bool {
        ours.len() == burns.len() && ours.iter().zip(burns).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }

    /// Bit patterns, for values that must match to the sign of 0.
    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn values_and_gradients_are_burns_on_one_and_several_tasks() {
        let device = Device::flex().autodiff();
        let special = [0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1e-40, 1e-40, -3.0];
        // 5 x 8 values (one task) and 3 x 2^15 (several tasks, a short last one).
        for (rows, cols) in [(5, 8), (3, (1 << 15) + 5)] {
            let mut w = Tensor::<2>::random([rows, cols], Distribution::Uniform(-2.0, 2.0), &Device::flex())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            w[..special.len()].copy_from_slice(&special);
            let w = Tensor::<2>::from_data(TensorData::new(w, [rows, cols]), &device);
            // Slope 0 is ReLU; otherwise leaky ReLU.
            for (name, slope) in [("relu", 0.0), ("leaky_relu", 0.2)] {
                let ours = |x| if slope == 0.0 { relu(x) } else { leaky_relu(x, slope) };
                let burns = |x| if slope == 0.0 { f::relu(x) } else { f::leaky_relu(x, slope) };
                let (values, grads) = through(ours, &w);
                let (want, want_grads) = through(burns, &w);
                assert_eq!(bits(&values), bits(&want), "{name} values, {rows} x {cols}");
                assert!(same(&grads, &want_grads), "{name} gradients, {rows} x {cols}: {grads:?} vs {want_grads:?}");
                // Leaky ReLU's negative side passes `slope` of the gradient on.
                assert_eq!(grads.iter().zip(&values).any(|(&g, &y)| y < 0.0 && g != 0.0), slope > 0.0, "{name}");
            }
        }
    }

    #[test]
    fn without_a_graph_it_gives_the_values() {
        let x = Tensor::<1>::from_floats([-2.0, -0.5, 0.0, 0.5, 2.0], &Device::flex());
        assert_eq!(relu(x.clone()).into_data().try_to_vec::<f32>().unwrap(), [0.0, 0.0, 0.0, 0.5, 2.0]);
        assert_eq!(leaky_relu(x, 0.01).into_data().try_to_vec::<f32>().unwrap(), [-0.02, -0.005, 0.0, 0.5, 2.0]);
    }
}
