//! The terms domain adaptation adds to the loss: the gradient-reversal layer (DANN), the
//! multi-kernel maximum mean discrepancy (MMD) and the entropy of the target predictions.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, softmax};

/// The identity forward, the gradient times `-lambda` backward (Ganin & Lempitsky 2015): the
/// domain classifier behind it learns to tell the domains apart while the body learns to hide
/// them.
pub fn reverse_gradient(x: Tensor<2>, lambda: f64) -> Tensor<2> {
    // x - x is exactly 0 forward, and carries -lambda times the gradient back to x.
    let fixed = x.clone().detach();
    fixed.clone() + (x - fixed).mul_scalar(-lambda)
}

/// Squared distances between every row of `a` `[n, d]` and of `b` `[m, d]`: `[n, m]`.
fn squared_distances(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let [n, _] = a.dims();
    let [m, _] = b.dims();
    let a2 = a.clone().square().sum_dim(1); // [n, 1]
    let b2 = b.clone().square().sum_dim(1).transpose(); // [1, m]
    let cross = a.matmul(b.transpose()); // [n, m]
    (a2.expand([n, m]) + b2.expand([n, m]) - cross.mul_scalar(2.0)).clamp_min(0.0)
}

/// The sum over `bandwidths` of Gaussian kernels exp(-d^2 / (2 sigma^2)) (sigma^2 each) between
/// every pair of rows, summed over the pairs.
fn kernel_sum(a: Tensor<2>, b: Tensor<2>, bandwidths: &[f64]) -> Tensor<1> {
    let d = squared_distances(a, b);
    let mut total: Option<Tensor<2>> = None;
    for &s in bandwidths {
        let k = d.clone().mul_scalar(-1.0 / (2.0 * s)).exp();
        total = Some(match total {
            Some(t) => t + k,
            None => k,
        });
    }
    total.expect("validated: one or more bandwidths").sum()
}

/// The unbiased squared maximum mean discrepancy between the rows of `source` `[n, d]` and
/// `target` `[m, d]` with the sum of Gaussian kernels of widths `bandwidths` (Gretton et al.
/// 2012, eq. 3): the mean k(s, s') and k(t, t') over distinct pairs, minus twice the mean
/// k(s, t). Near 0 (either sign) for two samples of one distribution; grows as they part.
/// Leaving out the pairs of a row with itself matters: with them (the biased estimate), narrow
/// kernels add about 2 / n per kernel for any spread of features, which a network lowers by
/// collapsing every feature to one point.
pub fn mmd(source: Tensor<2>, target: Tensor<2>, bandwidths: &[f64]) -> Tensor<1> {
    let (n, m) = (source.dims()[0] as f64, target.dims()[0] as f64);
    // k(x, x) = 1 for each kernel: the diagonal sums to rows x kernels.
    let kernels = bandwidths.len() as f64;
    let ss = kernel_sum(source.clone(), source.clone(), bandwidths)
        .sub_scalar(n * kernels)
        .div_scalar(n * (n - 1.0).max(1.0));
    let tt = kernel_sum(target.clone(), target.clone(), bandwidths)
        .sub_scalar(m * kernels)
        .div_scalar(m * (m - 1.0).max(1.0));
    let st = kernel_sum(source, target, bandwidths).div_scalar(n * m);
    ss + tt - st.mul_scalar(2.0)
}

/// The mean entropy of the class probabilities of `logits` `[batch, classes]`, in nats:
/// minimising it makes the target predictions confident (Grandvalet & Bengio 2005).
pub fn mean_entropy(logits: Tensor<2>) -> Tensor<1> {
    let log_p = log_softmax(logits.clone(), 1);
    let p = softmax(logits, 1);
    -(p * log_p).sum_dim(1).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    fn matrix(v: Vec<f32>, rows: usize, device: &Device) -> Tensor<2> {
        let cols = v.len() / rows;
        Tensor::from_data(TensorData::new(v, [rows, cols]), device)
    }

    fn value(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    #[test]
    fn mmd_matches_numpy_and_grows_with_a_mean_shift() {
        // Reference: crates/train/tests/fixtures/adaptation/mmd_reference.py (numpy), for these two samples
        // and widths [0.5, 2.0].
        let device = Device::flex();
        let s = matrix(vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0], 3, &device);
        let t = matrix(vec![1.0, 1.0, 2.0, 0.5], 2, &device);
        let got = value(mmd(s, t, &[0.5, 2.0]));
        assert!((got - 0.438_843_626_213_905_27).abs() < 1e-5, "{got}");
        // Two samples of one distribution: near 0; shifted apart: larger, the more the larger.
        let a = Tensor::<2>::random([200, 4], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<2>::random([200, 4], Distribution::Normal(0.0, 1.0), &device);
        let widths = [0.5, 1.0, 2.0, 4.0];
        let same = value(mmd(a.clone(), b.clone(), &widths));
        let shifted = value(mmd(a.clone(), b.clone().add_scalar(1.0), &widths));
        let far = value(mmd(a, b.add_scalar(3.0), &widths));
        assert!(same.abs() < 0.05, "{same}");
        assert!(shifted > 10.0 * same.abs() && far > shifted, "{same} {shifted} {far}");
    }

    #[test]
    fn the_reversed_gradient_is_minus_lambda_times_the_plain_one() {
        let device = Device::flex().autodiff();
        let w = matrix(vec![0.5, -1.0, 2.0, 0.25], 2, &device).require_grad();
        let x = matrix(vec![1.0, 2.0, -0.5, 3.0], 2, &device);
        let loss = |features: Tensor<2>| (features.clone() * features).sum().mul_scalar(0.5);
        let plain = loss(x.clone().matmul(w.clone())).backward();
        let g_plain = w.grad(&plain).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let features = x.matmul(w.clone());
        let reversed = reverse_gradient(features.clone(), 0.3);
        assert_eq!(
            reversed.clone().into_data().try_to_vec::<f32>().unwrap(),
            features.into_data().try_to_vec::<f32>().unwrap(),
            "identity forward"
        );
        let grads = loss(reversed).backward();
        let g = w.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        for (a, b) in g.iter().zip(&g_plain) {
            assert!((a + 0.3 * b).abs() < 1e-5, "{a} vs -0.3 * {b}");
        }
    }

    #[test]
    fn entropy_is_log_k_for_even_logits_and_zero_for_certain_ones() {
        let device = Device::flex();
        let even = value(mean_entropy(matrix(vec![0.3, 0.3, 0.3, 0.3], 1, &device)));
        assert!((even - 4f64.ln()).abs() < 1e-6, "{even}");
        let sure = value(mean_entropy(matrix(vec![50.0, 0.0, 0.0, 50.0], 2, &device)));
        assert!(sure.abs() < 1e-6, "{sure}");
    }
}
