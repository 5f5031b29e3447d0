//! Burn's dropout, with masks that a training step can draw from a seeded stream of its own
//! thread instead of the backend's one generator.
//!
//! Burn's CPU backends draw every random tensor from one generator behind a lock, so two
//! threads that drop out at the same time take its numbers in whichever order they arrive, and
//! a run no longer repeats itself. A step that trains two half batches on two threads
//! (`astro_train::fit::halves`) gives each thread its own stream with [`with_mask_stream`];
//! elsewhere (one thread, inference, GPU backends) [`dropout`] is Burn's `Dropout::forward`.

use std::cell::RefCell;

use burn::nn::Dropout;
use burn::tensor::{Tensor, TensorData};

thread_local! {
    /// This thread's mask stream, while [`with_mask_stream`] runs.
    static MASKS: RefCell<Option<MaskRng>> = const { RefCell::new(None) };
}

/// SplitMix64 (Steele, Lea & Flood 2014): enough for dropout masks, and kept here because
/// models do not depend on the simulators' crate, whose generator the data use.
struct MaskRng(u64);

impl MaskRng {
    /// The stream of `(seed, part)`.
    fn new(seed: u64, part: u64) -> Self {
        let mut rng = MaskRng(seed ^ part.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Runs `f` with this thread's dropout masks drawn from the stream of `(seed, part)`.
pub fn with_mask_stream<R>(seed: u64, part: u64, f: impl FnOnce() -> R) -> R {
    /// Puts the thread's previous stream back, also when `f` panics.
    struct Restore(Option<MaskRng>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            MASKS.with(|masks| *masks.borrow_mut() = previous);
        }
    }
    let previous = MASKS.with(|masks| masks.replace(Some(MaskRng::new(seed, part))));
    let _restore = Restore(previous);
    f()
}

/// `layer.forward(x)`, with the mask from this thread's stream when [`with_mask_stream`] set
/// one: each element kept with probability `1 - prob` and scaled by `1 / (1 - prob)`.
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let shape = x.dims();
    let mask = MASKS.with(|masks| {
        masks.borrow_mut().as_mut().map(|rng| {
            let count = shape.iter().product::<usize>();
            let values: Vec<f32> = (0..count).map(|_| if rng.uniform() < keep { 1.0 } else { 0.0 }).collect();
            TensorData::new(values, shape)
        })
    });
    match mask {
        Some(mask) => {
            let mask = Tensor::<D>::from_data(mask, &x.device());
            x * mask.mul_scalar(1.0 / keep)
        }
        None => layer.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    fn kept(t: Tensor<2>) -> Vec<bool> {
        t.into_data().try_to_vec::<f32>().unwrap().iter().map(|v| *v != 0.0).collect()
    }

    #[test]
    fn a_stream_gives_the_same_masks_whatever_else_draws_and_keeps_the_expected_share() {
        let device = Device::flex().autodiff();
        let layer = DropoutConfig::new(0.25).init();
        let x = Tensor::<2>::ones([200, 50], &device);
        let first = with_mask_stream(7, 0, || dropout(&layer, x.clone()));
        // Draws from the backend's generator in between change nothing.
        let _ = Tensor::<2>::random([10, 10], burn::tensor::Distribution::Default, &device);
        let again = with_mask_stream(7, 0, || dropout(&layer, x.clone()));
        assert_eq!(kept(first.clone()), kept(again));
        let other = with_mask_stream(7, 1, || dropout(&layer, x.clone()));
        assert_ne!(kept(first.clone()), kept(other));
        // Kept elements are scaled by 1 / (1 - p); about 75% are kept.
        let values = first.into_data().try_to_vec::<f32>().unwrap();
        let share = values.iter().filter(|v| **v != 0.0).count() as f64 / values.len() as f64;
        assert!((share - 0.75).abs() < 0.02, "kept share {share}");
        assert!(values.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.75).abs() < 1e-6));
    }

    #[test]
    fn outside_a_stream_and_in_inference_it_is_burns_dropout() {
        let layer = DropoutConfig::new(0.5).init();
        // Inference device: the input comes back unchanged, stream or not.
        let x = Tensor::<2>::ones([4, 4], &Device::flex());
        let y = with_mask_stream(1, 0, || dropout(&layer, x.clone()));
        assert_eq!(y.into_data(), x.into_data());
        // Training without a stream: Burn's masks (some zeros among 400 elements).
        let x = Tensor::<2>::ones([20, 20], &Device::flex().autodiff());
        assert!(kept(dropout(&layer, x)).iter().any(|k| !k));
        // The stream ends with its closure.
        MASKS.with(|masks| assert!(masks.borrow().is_none()));
    }
}
