"""Reference values for crates/models/src/activation.rs (activations_match_reference).

Written with numpy/scipy from the definitions PyTorch documents for torch.nn.functional
(relu, leaky_relu slope 0.01, elu alpha 1, selu, exact gelu, silu, mish, tanh, sigmoid,
softplus beta 1, softsign, hardsigmoid). Run: python3 activations.py
"""
import numpy as np
from scipy.special import erf

x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=np.float64)
softplus = np.log1p(np.exp(x))
sigmoid = 1.0 / (1.0 + np.exp(-x))
selu_alpha, selu_scale = 1.6732632423543772, 1.0507009873554805
funcs = {
    "Relu": np.maximum(x, 0.0),
    "LeakyRelu": np.where(x > 0, x, 0.01 * x),
    "Elu": np.where(x > 0, x, np.expm1(x)),
    "Selu": selu_scale * np.where(x > 0, x, selu_alpha * np.expm1(x)),
    "Gelu": 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "Silu": x * sigmoid,
    "Mish": x * np.tanh(softplus),
    "Tanh": np.tanh(x),
    "Sigmoid": sigmoid,
    "Softplus": softplus,
    "Softsign": x / (1.0 + np.abs(x)),
    "HardSigmoid": np.clip(x / 6.0 + 0.5, 0.0, 1.0),
}
for name, values in funcs.items():
    print(f"(Activation::{name}, [{', '.join(f'{v:.8}' for v in values)}]),")
