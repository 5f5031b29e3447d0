//! Batch normalisation in training without moving the channel axis, for the CPU backends.
//!
//! Burn's `BatchNorm` trains through `batch_norm_train`, whose default form (the one `flex`
//! runs: it has no batch-norm kernel of its own) swaps the batch and channel axes to take each
//! channel's mean and variance, forward and backward, a full copy of the activation each time.
//! Here the statistics are means over the contiguous pixels of each (item, channel), then over
//! the items (every item has as many pixels, so the mean of means is the mean): no copies. The
//! values are Burn's: the biased variance normalises and enters the running variance, and the
//! running statistics move by the layer's `momentum`.
//!
//! On `flex` (f32) the same values come from two kernels and a backward pass of their own
//! (`batch_norm_kernel.rs`: a pass per channel for the moments, one over the rows for the
//! output, two backward), where the tensor operations below are some eight recorded passes each
//! way, mostly on one thread: DeepLens training step, the two forms alternated every 4 steps in
//! one process (medians of 11 rounds, 2026-12-03), 116.8, 113.0 -> 150.2, 147.8 images/s;
//! pix2pix 12.3 -> 12.9 and the DCGAN 52.4 -> 53.5 (their time is in the convolutions).
//!
//! The trainer switches it on for `flex` and `ndarray` ([`set_copy_free_batch_norm`]);
//! elsewhere (GPU backends have their own batch-norm kernels) it is Burn's `BatchNorm::forward`.
//! Inference on `flex` (without autodiff) is one kernel pass from the running statistics.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::BatchNorm;
use burn::tensor::Tensor;

/// Whether [`normalise`] trains without copies in this process.
static COPY_FREE: AtomicBool = AtomicBool::new(false);

/// Sets whether batch norm trains without moving the channel axis from here on (`true` for the
/// CPU backends).
pub fn set_copy_free_batch_norm(on: bool) {
    COPY_FREE.store(on, Ordering::Relaxed);
}

/// `layer` applied to `x` `[batch, channels, ...]`: Burn's `BatchNorm::forward`, or in training
/// with [`set_copy_free_batch_norm`] on, the same without copies.
pub fn normalise<const D: usize>(layer: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let training = x.device().is_autodiff() && layer.training.is_enabled();
    #[cfg(feature = "flex")]
    if !training && !x.device().is_autodiff() && crate::on_flex::is_flex_f32(&x) {
        return infer_on_flex(layer, x);
    }
    if !training {
        return layer.forward(x);
    }
    train(layer, x, COPY_FREE.load(Ordering::Relaxed))
}

/// `layer`'s training forward on `x`: without copies (`copy_free`) or Burn's, its running
/// statistics then settled ([`settle_running_statistics`]).
fn train<const D: usize>(layer: &BatchNorm, x: Tensor<D>, copy_free: bool) -> Tensor<D> {
    let y = if copy_free { train_without_copies(layer, x, true) } else { layer.forward(x) };
    settle_running_statistics(layer);
    y
}

/// Folds this thread's update of `layer`'s running statistics into their value at once. Burn
/// keeps a running state's updates per thread and averages the threads' pending updates when it
/// next synchronises (for data-parallel training); the trainer's steps run on whichever thread of
/// rayon's pool takes them (`crate::pool_step`), so an update left pending on one thread was
/// averaged with the next step's from another (and that step read the value from before both).
/// Settled at once, each step reads the one before's statistics, whatever the thread, as when
/// every step ran on one thread.
fn settle_running_statistics(layer: &BatchNorm) {
    let _ = layer.running_mean.value_sync();
    let _ = layer.running_var.value_sync();
}

/// `layer`'s inference on `x` `[batch, channels, ...]` (`flex`, f32, without autodiff) as one
/// pass on rayon's threads, `x a + b` per channel ([`crate::batch_norm_kernel::infer`]), where
/// Burn's `BatchNorm::forward` takes four broadcast passes on one thread (3% of the pix2pix
/// generator's inference). The values agree with Burn's to float rounding.
#[cfg(feature = "flex")]
fn infer_on_flex<const D: usize>(layer: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let rest: usize = dims[2..].iter().product();
    let device = x.device();
    let y = crate::batch_norm_kernel::infer(
        x.reshape([dims[0], dims[1], rest]),
        layer.running_mean.value().to_device(&device),
        layer.running_var.value().to_device(&device),
        layer.gamma.val(),
        layer.beta.val(),
        layer.epsilon as f32,
    );
    y.reshape(dims)
}

/// `layer`'s training forward on `x` `[batch, channels, ...]`, the statistics taken without
/// moving the channel axis, as `flex` kernels where `kernels` is set and `x` is on `flex` (f32)
/// and as tensor operations otherwise; updates the running statistics.
fn train_without_copies<const D: usize>(layer: &BatchNorm, x: Tensor<D>, kernels: bool) -> Tensor<D> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let rest: usize = dims[2..].iter().product();
    let flat = x.reshape([n, c, rest]);
    #[cfg(not(feature = "flex"))]
    let _ = kernels;
    let (output, mean, variance) = match () {
        #[cfg(feature = "flex")]
        () if kernels && crate::on_flex::is_flex_f32(&flat) => {
            let (y, moments) =
                crate::batch_norm_kernel::train(flat, layer.gamma.val(), layer.beta.val(), layer.epsilon as f32);
            let mean = moments.clone().slice([0..1, 0..c]).reshape([1, c, 1]);
            (y, mean, moments.slice([1..2, 0..c]).reshape([1, c, 1]))
        }
        () => {
            let mean = flat.clone().mean_dim(2).mean_dim(0); // [1, c, 1]
            let centered = flat - mean.clone();
            let variance = (centered.clone() * centered.clone()).mean_dim(2).mean_dim(0); // [1, c, 1]
            let scale =
                variance.clone().add_scalar(layer.epsilon).sqrt().recip() * layer.gamma.val().reshape([1, c, 1]);
            (centered * scale + layer.beta.val().reshape([1, c, 1]), mean, variance)
        }
    };

    let device = output.device();
    let momentum = layer.momentum;
    let update = |running: Tensor<1>, batch: Tensor<3>| {
        running.to_device(&device).mul_scalar(1.0 - momentum).add(batch.detach().reshape([c]).mul_scalar(momentum))
    };
    layer.running_mean.update(update(layer.running_mean.value_sync(), mean).detach());
    layer.running_var.update(update(layer.running_var.value_sync(), variance).detach());
    output.reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Device, TensorData, Tolerance};

    /// A `[6, 3, 5, 4]` tensor of spread-out values, the same every call (no shared generator).
    fn values(phase: f32, device: &Device) -> Tensor<4> {
        let v: Vec<f32> =
            (0..360).map(|i| 2.0 + 3.0 * (i as f32 * 0.37 + phase).sin() + (i % 7) as f32 * 0.1).collect();
        Tensor::from_data(TensorData::new(v, [6, 3, 5, 4]), device)
    }

    /// Output, input gradient, gamma and beta gradients, running mean and variance after one
    /// training step of `forward`.
    fn step(forward: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>) -> Vec<TensorData> {
        let device = Device::flex().autodiff();
        let x = values(0.0, &device).require_grad();
        let mut layer = BatchNormConfig::new(3).init(&device);
        layer.gamma = Param::from_tensor(Tensor::from_floats([1.5, 0.5, 2.0], &device).require_grad());
        layer.beta = Param::from_tensor(Tensor::from_floats([0.25, -1.0, 0.0], &device).require_grad());
        let y = forward(&layer, x.clone());
        let grads = (y.clone() * values(1.0, &device)).sum().backward();
        vec![
            y.into_data(),
            x.grad(&grads).unwrap().into_data(),
            layer.gamma.grad(&grads).unwrap().into_data(),
            layer.beta.grad(&grads).unwrap().into_data(),
            layer.running_mean.value().into_data(),
            layer.running_var.value().into_data(),
        ]
    }

    #[test]
    fn without_copies_it_is_burns_batch_norm_with_its_gradients_and_running_statistics() {
        let burns = step(|layer, x| layer.forward(x));
        let ours = step(|layer, x| train_without_copies(layer, x, false));
        let kernels = step(|layer, x| train_without_copies(layer, x, true));
        let names = ["output", "input gradient", "gamma gradient", "beta gradient", "running mean", "running variance"];
        for form in [&ours, &kernels] {
            for (what, (a, b)) in names.iter().zip(burns.iter().zip(form)) {
                assert_eq!(a.shape(), b.shape(), "{what}");
                let scale = a.iter::<f32>().fold(1f32, |m, v| m.max(v.abs()));
                b.assert_approx_eq::<f32>(a, Tolerance::absolute(1e-5 * scale));
            }
        }
    }

    #[test]
    fn running_statistics_do_not_depend_on_the_thread_of_each_step() {
        let device = Device::flex().autodiff();
        let statistics = |threads: [bool; 3], copy_free: bool| {
            let layer: BatchNorm = BatchNormConfig::new(3).init(&device);
            for (phase, elsewhere) in threads.into_iter().enumerate() {
                let step = || {
                    let _ = train(&layer, values(phase as f32, &device), copy_free);
                };
                if elsewhere { std::thread::scope(|s| s.spawn(step).join().unwrap()) } else { step() }
            }
            let layer = layer.valid();
            (layer.running_mean.value().into_data(), layer.running_var.value().into_data())
        };
        for copy_free in [true, false] {
            let one_thread = statistics([false; 3], copy_free);
            assert_eq!(statistics([false, true, false], copy_free), one_thread, "copy-free {copy_free}");
            assert_eq!(statistics([true, false, true], copy_free), one_thread, "copy-free {copy_free}");
        }
    }

    #[test]
    fn in_inference_on_flex_it_is_burns_batch_norm_from_the_running_statistics() {
        let device = Device::flex();
        let mut layer = BatchNormConfig::new(3).init(&device);
        layer.gamma = Param::from_tensor(Tensor::from_floats([1.5, 0.5, 2.0], &device));
        layer.beta = Param::from_tensor(Tensor::from_floats([0.25, -1.0, 0.0], &device));
        layer.running_mean = burn::module::RunningState::new(Tensor::from_floats([0.5, -2.0, 3.0], &device));
        layer.running_var = burn::module::RunningState::new(Tensor::from_floats([2.0, 0.25, 9.0], &device));
        let x = values(0.0, &device);
        let (ours, burns) = (normalise(&layer, x.clone()).into_data(), layer.forward(x).into_data());
        assert_eq!(ours.shape(), burns.shape());
        let scale = burns.iter::<f32>().fold(1f32, |m, v| m.max(v.abs()));
        ours.assert_approx_eq::<f32>(&burns, Tolerance::absolute(1e-6 * scale));
        // Each channel its own statistics: channel 1 of item 0, value 0, by hand.
        let first = values(0.0, &device).into_data().iter::<f32>().nth(20).unwrap();
        let want = (first + 2.0) / (0.25f32 + 1e-5).sqrt() * 0.5 - 1.0;
        assert!((ours.iter::<f32>().nth(20).unwrap() - want).abs() < 1e-5, "channel 1");
    }
}
