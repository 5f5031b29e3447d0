//! One Adam update of one parameter as a `flex` kernel: a single pass on rayon's threads.
//!
//! Burn's `Adam` is about twelve element-wise tensor operations per parameter and step (the two
//! moments, the bias-corrected step, the update), and `flex` runs each on one thread: on the
//! pix2pix step, with its millions of parameters, that was about 8% of the CPU time while the
//! other core idled. Here the same arithmetic, in the same `f32` operations and order as Burn's
//! `AdaptiveMomentum`, reads the parameter, its gradient and both moments once and writes the
//! three new arrays once, in tasks of [`PER_TASK`] values. AMSGrad is not covered (the caller
//! keeps Burn's optimiser for it).
//!
//! The parameter and the moments are updated in place where this step holds the only
//! reference to their buffers (the optimiser's usual case), else copied first. Writing the
//! three into one new buffer, as this kernel first did, made the next step copy each of them out
//! of it again and zero a fresh buffer: on the pix2pix update the copies and the zeroing were
//! about 30% of the optimiser's time (1.6% of the step's CPU time against 3.7% for the arithmetic).

use burn::tensor::Tensor;

/// What one step needs besides the arrays: Burn's `AdamConfig` settings, the learning rate and
/// the step number (1 for the first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// First-moment decay.
    pub beta_1: f32,
    /// Second-moment decay.
    pub beta_2: f32,
    /// Added to the root of the second moment (scaled by the bias correction, as Burn does).
    pub epsilon: f32,
    /// L2 penalty added to the gradient (`penalty x + g`), if any.
    pub weight_decay: Option<f32>,
    /// Learning rate.
    pub lr: f32,
    /// The step number after this update (Burn's `time`).
    pub time: usize,
}

/// Whether [`adam_update`] runs for `x`: an `f32` tensor on `flex` without autodiff (the
/// optimiser's parameters are plain tensors).
pub fn runs_on<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "flex")]
    return crate::on_flex::is_flex_f32(x) && !x.is_autodiff();
    #[cfg(not(feature = "flex"))]
    {
        let _ = x;
        false
    }
}

/// The parameter `x`, first moment `m` and second moment `v` after one step with gradient `g`
/// (zeros for `m` and `v` at the first step: Burn's first step is the general one from zero).
/// Call it where [`runs_on`] holds.
#[cfg(feature = "flex")]
pub fn adam_update<const D: usize>(
    x: Tensor<D>,
    g: Tensor<D>,
    m: Tensor<D>,
    v: Tensor<D>,
    step: AdamStep,
) -> [Tensor<D>; 3] {
    let dims = x.dims();
    kernel::update(x.flatten(0, D - 1), g.flatten(0, D - 1), m.flatten(0, D - 1), v.flatten(0, D - 1), step)
        .map(|t| t.reshape(dims))
}

/// Values a rayon task takes at least.
#[cfg(feature = "flex")]
const PER_TASK: usize = 1 << 15;

/// The kernel on `flex`.
#[cfg(feature = "flex")]
mod kernel {
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::Tensor;
    use rayon::prelude::*;

    use super::{AdamStep, PER_TASK};

    /// One Adam step as a backend operation on `flex`.
    #[backend_extension(Flex)]
    pub trait AdamBackend: Backend {
        /// The new parameter, first and second moments.
        fn adam_update(
            x: FloatTensor<Self>,
            g: FloatTensor<Self>,
            m: FloatTensor<Self>,
            v: FloatTensor<Self>,
            step: AdamStep,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    }

    /// Through the kernel (flat tensors of `n` values).
    pub fn update(x: Tensor<1>, g: Tensor<1>, m: Tensor<1>, v: Tensor<1>, step: AdamStep) -> [Tensor<1>; 3] {
        let (x, m, v) = <Dispatch as AdamBackend>::adam_update(
            x.into_dispatch(),
            g.into_dispatch(),
            m.into_dispatch(),
            v.into_dispatch(),
            step,
        );
        [x, m, v].map(Tensor::from_dispatch)
    }

    impl AdamBackend for Flex {
        fn adam_update(
            x: FlexTensor,
            g: FlexTensor,
            m: FlexTensor,
            v: FlexTensor,
            step: AdamStep,
        ) -> (FlexTensor, FlexTensor, FlexTensor) {
            // Each updated in place unless shared (then `storage_mut` copies it first).
            let [mut x, g, mut m, mut v] = [x, g, m, v].map(crate::on_flex::whole);
            let n = x.layout().num_elements();
            for other in [&g, &m, &v] {
                assert_eq!(other.layout().num_elements(), n, "Adam's arrays of different lengths");
            }
            let AdamStep { beta_1, beta_2, epsilon, weight_decay, lr, time } = step;
            // The scalars as Burn's `AdaptiveMomentum` computes them, in f32.
            let time = time as i32;
            let correction = (1.0 - beta_2.powi(time)).sqrt();
            let factor = correction / (1.0 - beta_1.powi(time));
            let shift = epsilon * correction;
            let (xs, ms, vs) = (x.storage_mut::<f32>(), m.storage_mut::<f32>(), v.storage_mut::<f32>());
            xs.par_chunks_mut(PER_TASK)
                .zip(ms.par_chunks_mut(PER_TASK).zip(vs.par_chunks_mut(PER_TASK)))
                .zip(g.storage::<f32>().par_chunks(PER_TASK))
                // `move`: the scalars copied into the closure. Read through references they were
                // reloaded after every store (they might alias the arrays) and the loop stayed
                // scalar: 3.7 ns a value against 0.9 (16,384 values in the cache).
                .for_each(move |((x, (m, v)), g)| {
                    for j in 0..x.len() {
                        let g = match weight_decay {
                            Some(penalty) => x[j] * penalty + g[j],
                            None => g[j],
                        };
                        m[j] = m[j] * beta_1 + g * (1.0 - beta_1);
                        v[j] = v[j] * beta_2 + g * g * (1.0 - beta_2);
                        let update = m[j] * factor / (v[j].sqrt() + shift);
                        x[j] -= update * lr;
                    }
                });
            (x, m, v)
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, Optimizer};
    use burn::tensor::{Device, Distribution};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        t.into_data().try_to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn three_steps_are_burns_bit_for_bit_on_one_and_several_tasks() {
        let device = Device::flex();
        for (shape, decay) in [([3, 5], None), ([70, 1000], Some(0.01f32))] {
            let mut config = AdamConfig::new().with_beta_1(0.5).with_epsilon(1e-5);
            if let Some(penalty) = decay {
                config = config.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(penalty)));
            }
            let burns = config.build();
            let x0 = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let (mut x, mut state) = (x0.clone(), None);
            let (mut ours, mut m, mut v) = (x0.clone(), x0.zeros_like(), x0.zeros_like());
            for time in 1..=3 {
                let g = Tensor::<2>::random(shape, Distribution::Normal(0.0, 0.1), &device);
                let lr = 2e-3 * time as f64;
                (x, state) = burns.step(lr, x, g.clone(), state);
                let step =
                    AdamStep { beta_1: 0.5, beta_2: 0.999, epsilon: 1e-5, weight_decay: decay, lr: lr as f32, time };
                assert!(runs_on(&ours));
                // At the second step another tensor shares the parameter's buffer: the update
                // must leave that one as it was (copy on write) and still be Burn's.
                let shared = (time == 2).then(|| (ours.clone(), values(ours.clone())));
                [ours, m, v] = adam_update(ours, g, m, v, step);
                if let Some((shared, before)) = shared {
                    assert_eq!(values(shared), before, "a shared parameter changed in place");
                }
                let momentum = &state.as_ref().expect("a state").momentum;
                assert_eq!(momentum.time, time);
                assert_eq!(values(ours.clone()), values(x.clone()), "parameter, step {time}, {shape:?}");
                assert_eq!(values(m.clone()), values(momentum.moment_1.clone()), "first moment, step {time}");
                assert_eq!(values(v.clone()), values(momentum.moment_2.clone()), "second moment, step {time}");
            }
            assert_ne!(values(ours), values(x0), "the parameter moved");
        }
    }
}
