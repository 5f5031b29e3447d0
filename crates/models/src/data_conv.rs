//! A network's first convolution, the one over the data itself, computed for training as
//! matrix products over kernel rows.
//!
//! Burn computes a convolution's weight gradient as another convolution with the batch as its
//! channels, which CPU backends run through an im2col buffer as large as the batch times the
//! kernel (354 MB for the Dieleman network's first layer at batch 32) and parallelise over the
//! input's few channels: on `flex` the first layer's weight gradient took most of that layer's
//! time. Where the input carries no gradient (the images themselves), the same convolution is a
//! sum over kernel rows `ky` of `W[:, :, ky, :] @ rows[ky..ky + out_h]`, where `rows` holds each
//! input row's `kw` horizontal shifts (kw times the input, made once); its weight gradient is
//! then matrix products only. The values equal the convolution's (up to summation order).
//! Elsewhere (inference, an input that carries a gradient, strides, dilation, groups) it is
//! `Conv2d::forward` itself.
//!
//! Whether it pays depends on the shapes, so networks opt in where it was measured to: the
//! Dieleman network's first layer (3 channels, 6 x 6 kernel, 8 to 32 filters on 45 x 45 parts)
//! trains 1.4-1.6 times faster per step on `flex`; the DeepLens ResNet's stem (1 channel, 7 x 7)
//! gained nothing, and the semantic autoencoder's first layer (1 channel, 3 x 3, "same") ran at
//! half speed (its rows give products with an inner dimension of 3), so those keep `forward`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

/// `conv.forward(x)`, as kernel-row products when training on an input without a gradient.
pub fn conv_on_data(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let weight = conv.weight.val();
    let plain = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
    if !plain || x.is_require_grad() || !weight.is_require_grad() {
        return conv.forward(x);
    }
    let ((top, bottom), (left, right)) = padding(&conv.padding, conv.kernel_size);
    let x = if top + bottom + left + right > 0 { x.pad([(top, bottom), (left, right)], 0.0) } else { x };
    let y = by_kernel_rows(x, weight);
    crate::conv2d::with_bias(conv, y)
}

/// The padding of a unit-stride convolution, `((top, bottom), (left, right))`, as `Conv2d`
/// computes it.
fn padding(config: &PaddingConfig2d, [kh, kw]: [usize; 2]) -> ((usize, usize), (usize, usize)) {
    // "Same" at unit stride: the kernel's extent less one, the smaller half first.
    let same = |k: usize| ((k - 1) / 2, k - 1 - (k - 1) / 2);
    match config {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Same => (same(kh), same(kw)),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((*top, *bottom), (*left, *right)),
    }
}

/// A valid, unit-stride convolution without bias of `x` `[n, c, h, w]` with `weight`
/// `[co, c, kh, kw]`, as `kh` batched products over views of the row shifts.
fn by_kernel_rows(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [co, _, kh, kw] = weight.dims();
    let (out_h, out_w) = (h + 1 - kh, w + 1 - kw);
    // Windows along x, [n, c, h, out_w, kw] -> [n, c, kw, h, out_w], copied
    // once, so that each kernel row's slice of rows is one stretch per (image, channel, kx).
    let shifts: Tensor<5> = x.unfold::<5, _>(3, kw, 1).permute([0, 1, 4, 2, 3]);
    let shifts: Tensor<3> = shifts.reshape([n, c * kw, h * out_w]);
    let mut out: Option<Tensor<3>> = None;
    for ky in 0..kh {
        let rows = shifts.clone().slice([0..n, 0..c * kw, ky * out_w..(ky + out_h) * out_w]);
        let kernel_row: Tensor<3> = weight.clone().slice([0..co, 0..c, ky..ky + 1, 0..kw]).reshape([1, co, c * kw]);
        let term = kernel_row.matmul(rows);
        out = Some(match out {
            None => term,
            Some(sum) => sum + term,
        });
    }
    out.expect("a kernel has at least one row").reshape([n, co, out_h, out_w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    fn max_abs(t: Tensor<4>) -> f32 {
        t.abs().max().into_scalar::<f32>()
    }

    /// The layer's output and its weight and bias gradients (of a weighted sum of the output),
    /// through `forward`.
    fn run(conv: &Conv2d, x: Tensor<4>, forward: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>) -> [TensorData; 3] {
        let y = forward(conv, x);
        let count = y.shape().num_elements();
        let pattern: Vec<f32> = (0..count).map(|k| (k as f32 * 0.37).sin()).collect();
        let weights = Tensor::<4>::from_data(TensorData::new(pattern, y.dims()), &y.device());
        let grads = (y.clone() * weights).sum().backward();
        let w = conv.weight.val().grad(&grads).expect("the weight's gradient");
        let b = conv.bias.as_ref().expect("a bias").val().grad(&grads).expect("the bias's gradient");
        [y.into_data(), w.into_data(), b.into_data()]
    }

    #[test]
    fn equals_the_convolution_and_its_gradients_for_every_padding_and_kernel() {
        let device = Device::flex().autodiff();
        let cases = [
            ([3, 8], [6, 6], PaddingConfig2d::Valid, [13, 13]),
            ([1, 4], [7, 7], PaddingConfig2d::Explicit(3, 3, 3, 3), [12, 10]),
            ([2, 5], [3, 5], PaddingConfig2d::Same, [9, 11]),
            ([2, 3], [4, 4], PaddingConfig2d::Same, [8, 8]),
        ];
        for (channels, kernel, padding, [h, w]) in cases {
            let conv = Conv2dConfig::new(channels, kernel).with_padding(padding.clone()).init(&device);
            let x = Tensor::<4>::random([3, channels[0], h, w], Distribution::Default, &device);
            let want = run(&conv, x.clone(), |c, x| c.forward(x));
            let got = run(&conv, x, conv_on_data);
            for (name, (a, b)) in ["output", "weight gradient", "bias gradient"].iter().zip(want.iter().zip(&got)) {
                assert_eq!(a.shape(), b.shape(), "{name}, {padding:?}");
                let (a, b) = (a.try_to_vec::<f32>().unwrap(), b.try_to_vec::<f32>().unwrap());
                let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
                let worst = a.iter().zip(&b).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(worst < 1e-5 * scale, "{name}, {channels:?} {kernel:?} {padding:?}: off by {worst} of {scale}");
            }
        }
    }

    #[test]
    fn an_input_with_a_gradient_or_a_stride_takes_the_convolution_itself() {
        let device = Device::flex().autodiff();
        let conv = Conv2dConfig::new([2, 3], [3, 3]).init(&device);
        let x = Tensor::<4>::random([2, 2, 7, 7], Distribution::Default, &device).require_grad();
        let y = conv_on_data(&conv, x.clone());
        let grads = y.sum().backward();
        assert!(x.grad(&grads).is_some(), "the input's gradient flows");
        let strided = Conv2dConfig::new([2, 3], [3, 3]).with_stride([2, 2]).init(&device);
        let x = Tensor::<4>::random([2, 2, 7, 7], Distribution::Default, &device);
        assert_eq!(max_abs(conv_on_data(&strided, x.clone()) - strided.forward(x)), 0.0);
        // Inference (no gradients anywhere) is the convolution itself.
        let plain = Conv2dConfig::new([2, 3], [3, 3]).init(&Device::flex());
        let x = Tensor::<4>::random([2, 2, 7, 7], Distribution::Default, &Device::flex());
        assert_eq!(max_abs(conv_on_data(&plain, x.clone()) - plain.forward(x)), 0.0);
    }
}
