//! The condition the `flex` kernels share (`max_pool_2x2`, `host_elu`, `conv2d`): a tensor on
//! `flex`, with or without autodiff, holding `f32` values.

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

/// `t` (`f32`) contiguous over a buffer no other tensor shares (`Ok`: a kernel may overwrite
/// its values in place, through `storage_mut`, without a copy), or as it came (`Err`).
#[cfg(feature = "flex")]
pub(crate) fn unshared(
    t: burn::backend::flex::FlexTensor,
) -> Result<burn::backend::flex::FlexTensor, burn::backend::flex::FlexTensor> {
    let t = whole(t);
    if t.is_unique() { Ok(t) } else { Err(t) }
}
