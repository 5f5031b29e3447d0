//! Burn's dropout, with masks that a training step can draw from a seeded stream of its own
//! thread instead of the backend's one generator.
//!
//! Burn's CPU backends draw every random tensor from one generator behind a lock, so two
//! threads that drop out at the same time take its numbers in whichever order they arrive, and
//! a run no longer repeats itself. A step that trains two half batches on two threads
//! (`astro_train::fit::halves`) gives each thread its own stream with [`with_mask_stream`].
//! Outside a stream on `flex`, a mask comes from a stream seeded by two draws from the backend's
//! generator: `flex` draws each value of a random tensor through that generator and a
//! distribution sampler, one thread, and the pix2pix generator's dropout masks took 4% of its
//! adversarial update there, on the thread that the update's other work waits for. Elsewhere
//! (inference, GPU backends) [`dropout`] is Burn's `Dropout::forward`.

use std::cell::RefCell;

use burn::nn::Dropout;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

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
/// one, else on `flex` from a stream seeded by the backend's generator: each element kept with
/// probability `1 - prob` and scaled by `1 / (1 - prob)`.
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let shape = x.dims();
    let mask = MASKS.with(|masks| masks.borrow_mut().as_mut().map(|rng| drawn_mask(rng, keep, shape)));
    let mask = match mask {
        Some(mask) => mask,
        None if on_flex(&x) => drawn_mask(&mut MaskRng::new(seed_from(&x.device()), 0), keep, shape),
        None => return layer.forward(x),
    };
    let mask = Tensor::<D>::from_data(mask, &x.device());
    x * mask
}

/// Whether `x` lies on `flex` (whose generator draws one value at a time).
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    #[cfg(feature = "flex")]
    return crate::on_flex::is_flex_f32(x);
    #[cfg(not(feature = "flex"))]
    false
}

/// A mask of `shape` from `rng`: `1 / keep` with probability `keep`, else 0.
fn drawn_mask<const D: usize>(rng: &mut MaskRng, keep: f64, shape: [usize; D]) -> TensorData {
    let count = shape.iter().product::<usize>();
    let kept = (1.0 / keep) as f32;
    let values: Vec<f32> = (0..count).map(|_| if rng.uniform() < keep { kept } else { 0.0 }).collect();
    TensorData::new(values, shape)
}

/// A seed from two draws of `device`'s generator (so that seeding the device repeats the masks).
pub fn seed_from(device: &Device) -> u64 {
    let draws = Tensor::<1>::random([2], Distribution::Default, device).into_data();
    let bits = draws.try_to_vec::<f32>().unwrap_or_default();
    bits.iter().fold(0u64, |seed, v| (seed << 32) | u64::from(v.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;

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
        let _ = Tensor::<2>::random([10, 10], Distribution::Default, &device);
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
    fn in_inference_the_input_comes_back_and_outside_a_stream_the_device_seed_repeats_the_masks() {
        let layer = DropoutConfig::new(0.5).init();
        // Inference device: the input comes back unchanged, stream or not.
        let x = Tensor::<2>::ones([4, 4], &Device::flex());
        let y = with_mask_stream(1, 0, || dropout(&layer, x.clone()));
        assert_eq!(y.into_data(), x.into_data());
        // Training without a stream: the device's seed gives the masks; about half kept.
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::ones([40, 50], &device);
        device.seed(3);
        let first = kept(dropout(&layer, x.clone()));
        let second = kept(dropout(&layer, x.clone()));
        device.seed(3);
        assert_eq!(kept(dropout(&layer, x.clone())), first);
        assert_ne!(first, second);
        let share = first.iter().filter(|k| **k).count() as f64 / first.len() as f64;
        assert!((share - 0.5).abs() < 0.03, "kept share {share}");
        // The stream ends with its closure.
        MASKS.with(|masks| assert!(masks.borrow().is_none()));
    }
}
