//! Activation functions chosen by name in configs (`relu`, `leaky_relu`, `elu`, `selu`, `gelu`,
//! `silu`, `mish`, `tanh`, `sigmoid`, `softplus`, `softsign`, `hard_sigmoid`, `identity`).

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation as f;
use serde::{Deserialize, Serialize};

/// ELU (Clevert et al. 2016), `x` for positive `x` and `alpha (exp(x) - 1)` otherwise, written
/// as `relu(x) - alpha relu(1 - exp(x))`: the same values, and away from 0 the same gradient,
/// but its backward is two ReLU masks where Burn's `elu` (a `mask_where` of two branches) costs
/// two full `mask_where` passes, which on `flex` took about 15% of the DeepLens ResNet's
/// training step. At exactly 0 the gradient is 0 (Burn's: alpha).
///
/// Where the trainer said so ([`crate::host_elu::set_host_elu`]: backends whose `exp` runs one
/// element at a time), computed on the host's threads instead ([`crate::host_elu`]).
pub fn elu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    if crate::host_elu::host_elu() {
        return crate::host_elu::elu_on_host(x, alpha);
    }
    elu_as_tensors(x, alpha)
}

/// [`elu`] as tensor operations, whatever [`crate::host_elu::set_host_elu`] said.
pub fn elu_as_tensors<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    let below = f::relu(x.clone().exp().neg().add_scalar(1.0));
    f::relu(x) - below.mul_scalar(alpha)
}

/// An activation function. Parameterised ones use PyTorch's defaults unless a layer gives
/// `alpha` (leaky_relu: negative slope 0.01; elu: alpha 1.0; softplus: beta 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// x for x > 0, alpha x otherwise.
    LeakyRelu,
    /// Exponential linear unit.
    Elu,
    /// Scaled ELU (Klambauer et al. 2017).
    Selu,
    /// Gaussian error linear unit (exact form).
    Gelu,
    /// x sigmoid(x), also called swish.
    Silu,
    /// x tanh(softplus(x)).
    Mish,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// ln(1 + e^(beta x)) / beta.
    Softplus,
    /// x / (1 + |x|).
    Softsign,
    /// clamp(x / 6 + 1/2, 0, 1) as in PyTorch.
    HardSigmoid,
    /// x (no activation).
    Identity,
}

impl Activation {
    /// Every name a config may use, for error messages.
    pub const NAMES: &'static str =
        "relu, leaky_relu, elu, selu, gelu, silu, mish, tanh, sigmoid, softplus, softsign, hard_sigmoid, identity";

    /// The parameter PyTorch uses when none is given.
    pub fn default_alpha(self) -> f64 {
        match self {
            Activation::LeakyRelu => 0.01,
            _ => 1.0,
        }
    }

    /// Applies the function with parameter `alpha` (ignored where it has no meaning).
    pub fn apply<const D: usize>(self, x: Tensor<D>, alpha: f64) -> Tensor<D> {
        match self {
            Activation::Relu => crate::rectifier::relu(x),
            Activation::LeakyRelu => crate::rectifier::leaky_relu(x, alpha),
            Activation::Elu => elu(x, alpha),
            Activation::Selu => f::selu(x),
            Activation::Gelu => f::gelu(x),
            Activation::Silu => f::silu(x),
            Activation::Mish => f::mish(x),
            Activation::Tanh => f::tanh(x),
            Activation::Sigmoid => f::sigmoid(x),
            Activation::Softplus => f::softplus(x, alpha),
            Activation::Softsign => f::softsign(x),
            Activation::HardSigmoid => f::hard_sigmoid(x, 1.0 / 6.0, 0.5),
            Activation::Identity => x,
        }
    }
}

/// An activation as a (parameter-free) layer.
#[derive(Module, Debug)]
pub struct ActivationLayer {
    /// Which function.
    #[module(skip)]
    pub kind: Activation,
    /// Its parameter (see [`Activation::apply`]).
    pub alpha: f64,
}

impl ActivationLayer {
    /// A layer applying `kind` with parameter `alpha` (or the default one).
    pub fn new(kind: Activation, alpha: Option<f64>) -> Self {
        Self { kind, alpha: alpha.unwrap_or(kind.default_alpha()) }
    }

    /// Applies the activation elementwise.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.kind.apply(x, self.alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData, Tolerance};

    /// Reference values from `crates/models/reference/activations.py` (numpy/scipy from the
    /// definitions of torch.nn.functional), pasted from its output.
    #[test]
    #[allow(clippy::approx_constant)] // softplus(0) = ln 2, pasted as the script printed it
    fn activations_match_reference() {
        let device = Device::flex();
        let x = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
        let expected: [(Activation, [f64; 5]); 12] = [
            (Activation::Relu, [0.0, 0.0, 0.0, 0.5, 2.0]),
            (Activation::LeakyRelu, [-0.02, -0.005, 0.0, 0.5, 2.0]),
            (Activation::Elu, [-0.86466472, -0.39346934, 0.0, 0.5, 2.0]),
            (Activation::Selu, [-1.5201665, -0.69175819, 0.0, 0.52535049, 2.101402]),
            (Activation::Gelu, [-0.045500264, -0.15426877, 0.0, 0.34573123, 1.9544997]),
            (Activation::Silu, [-0.23840584, -0.18877033, 0.0, 0.31122967, 1.7615942]),
            (Activation::Mish, [-0.25250148, -0.22074377, 0.0, 0.37524521, 1.943959]),
            (Activation::Tanh, [-0.96402758, -0.46211716, 0.0, 0.46211716, 0.96402758]),
            (Activation::Sigmoid, [0.11920292, 0.37754067, 0.5, 0.62245933, 0.88079708]),
            (Activation::Softplus, [0.12692801, 0.47407698, 0.69314718, 0.97407698, 2.126928]),
            (Activation::Softsign, [-0.66666667, -0.33333333, 0.0, 0.33333333, 0.66666667]),
            (Activation::HardSigmoid, [0.16666667, 0.41666667, 0.5, 0.58333333, 0.83333333]),
        ];
        for (kind, want) in expected {
            let input = Tensor::<1>::from_floats(x, &device);
            let got = ActivationLayer::new(kind, None).forward(input);
            got.into_data()
                .assert_approx_eq::<f32>(&TensorData::from(want.map(|v| v as f32)), Tolerance::absolute(1e-5));
        }
    }

    #[test]
    fn elu_as_two_relus_has_burns_values_and_gradients() {
        let device = Device::flex().autodiff();
        let x: Vec<f32> = (0..41).map(|i| -4.0 + 0.2 * i as f32 + 0.013).collect();
        for alpha in [1.0, 0.5] {
            let grads = |ours: bool| {
                let input = Tensor::<1>::from_floats(x.as_slice(), &device).require_grad();
                let y = if ours { elu(input.clone(), alpha) } else { f::elu(input.clone(), alpha) };
                let values = y.clone().into_data();
                let g = (y * Tensor::<1>::from_floats(x.as_slice(), &device)).sum().backward();
                (values, input.grad(&g).unwrap().into_data())
            };
            let ((ours, d_ours), (burn, d_burn)) = (grads(true), grads(false));
            ours.assert_approx_eq::<f32>(&burn, Tolerance::absolute(1e-6));
            d_ours.assert_approx_eq::<f32>(&d_burn, Tolerance::absolute(1e-6));
        }
    }

    #[test]
    fn names_parse_from_snake_case() {
        #[derive(Deserialize)]
        struct Wrapper {
            act: Activation,
        }
        let w: Wrapper = toml::from_str("act = \"leaky_relu\"").expect("parses");
        assert_eq!(w.act, Activation::LeakyRelu);
        let err = toml::from_str::<Wrapper>("act = \"swishy\"").err().expect("rejects");
        assert!(err.to_string().contains("unknown variant `swishy`"), "{err}");
    }
}
