//! What the `flex` kernels share: the condition they run under (`max_pool_2x2`, `host_elu`,
//! `conv2d`: a tensor on `flex`, with or without autodiff, holding `f32` values), the layout
//! and ownership checks of the kernels that write in place (`adam_kernel`, `rectifier`,
//! `batch_norm_kernel`), and their new outputs' zeroed buffers ([`zeros`]).

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Device, Tensor};

/// Whether `x` is an `f32` tensor on `flex` (with or without autodiff).
pub fn is_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    is_flex(&x.device()) && x.dtype() == DType::F32
}

/// Whether `device` is `flex` (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    matches!(device.as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// `t` laid out contiguously over its whole buffer: itself where it already is, else a
/// contiguous copy.
#[cfg(feature = "flex")]
pub(crate) fn whole(t: burn::backend::flex::FlexTensor) -> burn::backend::flex::FlexTensor {
    let covers_buffer = t.as_slice::<f32>().is_some_and(|values| values.len() == t.storage::<f32>().len());
    if covers_buffer { t } else { t.to_contiguous() }
}

/// `t` (`f32`) made [`whole`], then `Ok` where no other tensor shares its buffer (a kernel may
/// overwrite its values in place, through `storage_mut`, without a copy), else `Err`.
#[cfg(feature = "flex")]
pub(crate) fn unshared(
    t: burn::backend::flex::FlexTensor,
) -> Result<burn::backend::flex::FlexTensor, burn::backend::flex::FlexTensor> {
    let t = whole(t);
    if t.is_unique() { Ok(t) } else { Err(t) }
}

/// `len` zeros (a kernel's new output), written on rayon's threads where they are many. The
/// trainer's allocator keeps freed memory (`crates/trainer/src/allocator.rs`) and zeroes a reused
/// block on the calling thread while the other threads wait: `vec![0; len]` for the
/// convolutions' outputs was 5.8% of the DeepLens training step at full widths, and zeroing
/// them on both threads made the step 1.07 times as fast.
#[cfg(feature = "flex")]
pub(crate) fn zeros<T: Copy + Default + Send + Sync>(len: usize) -> Vec<T> {
    use rayon::prelude::*;
    if len < 1 << 16 {
        return vec![T::default(); len];
    }
    let mut values = Vec::with_capacity(len);
    values.par_extend(rayon::iter::repeat_n(T::default(), len));
    values
}
