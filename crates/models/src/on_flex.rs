//! What the `flex` kernels share: the condition they run under (`max_pool_2x2`, `host_elu`,
//! `conv2d`: a tensor on `flex`, with or without autodiff, holding `f32` values), and the
//! layout and ownership checks of the kernels that write in place (`adam_kernel`,
//! `rectifier`, `batch_norm_kernel`).

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

/// Whether `x` is an `f32` tensor on `flex` (with or without autodiff).
pub fn is_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    let on_flex = matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_));
    on_flex && x.dtype() == DType::F32
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
