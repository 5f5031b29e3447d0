//! The condition the `flex` kernels share (`max_pool_2x2`, `host_elu`, `conv2d`): a tensor on
//! `flex`, with or without autodiff, holding `f32` values.

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

/// Whether `x` is an `f32` tensor on `flex` (with or without autodiff).
pub fn is_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    let on_flex = matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_));
    on_flex && x.dtype() == DType::F32
}
