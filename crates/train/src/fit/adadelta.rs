//! Adadelta (Zeiler 2012), the optimiser of the semantic autoencoder (Aragon-Calvo & Carvajal
//! 2020), which Burn does not ship. PyTorch's form:
//!
//! ```text
//! v = rho v + (1 - rho) g^2
//! d = sqrt(u + eps) / sqrt(v + eps) * g
//! u = rho u + (1 - rho) d^2
//! x = x - lr d
//! ```
//!
//! with `g` the gradient (plus `weight_decay * x`), `v` and `u` running means of the squared
//! gradients and updates.

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// The optimiser's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adadelta {
    /// Decay of the running means, in [0, 1).
    pub rho: f64,
    /// Added under the square roots (> 0).
    pub epsilon: f64,
    /// L2 penalty added to the gradient (>= 0).
    pub weight_decay: f64,
}

impl Default for Adadelta {
    fn default() -> Self {
        Self { rho: 0.9, epsilon: 1e-6, weight_decay: 0.0 }
    }
}

/// The running means of one parameter.
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Mean squared gradient.
    pub square_avg: Tensor<D>,
    /// Mean squared update.
    pub acc_delta: Tensor<D>,
}

impl<const D: usize> RecordState for AdadeltaState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "square_avg", self.square_avg.clone().into_data());
        out.push_tensor(prefix, "acc_delta", self.acc_delta.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let square_avg = Tensor::from_data(src.take_tensor(prefix, "square_avg")?, device);
        let acc_delta = Tensor::from_data(src.take_tensor(prefix, "acc_delta")?, device);
        Some(Self { square_avg, acc_delta })
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let grad = if self.weight_decay > 0.0 { grad.add(tensor.clone().mul_scalar(self.weight_decay)) } else { grad };
        let (square_avg, acc_delta) = match state {
            Some(s) => (s.square_avg, s.acc_delta),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let square_avg = square_avg.mul_scalar(self.rho).add(grad.clone().square().mul_scalar(1.0 - self.rho));
        let delta = acc_delta
            .clone()
            .add_scalar(self.epsilon)
            .sqrt()
            .div(square_avg.clone().add_scalar(self.epsilon).sqrt())
            .mul(grad);
        let acc_delta = acc_delta.mul_scalar(self.rho).add(delta.clone().square().mul_scalar(1.0 - self.rho));
        (tensor.sub(delta.mul_scalar(lr)), Some(AdadeltaState { square_avg, acc_delta }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState { square_avg: state.square_avg.to_device(device), acc_delta: state.acc_delta.to_device(device) }
    }
}

impl Adadelta {
    /// The optimiser for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn two_steps_follow_the_recurrence() {
        // torch.optim.Adadelta's update (lr 1, rho 0.9, eps 1e-6) on x = [1, -2] with the
        // gradients g1 = [0.5, -1.0] then g2 = [0.25, 0.5], written out:
        //   v1 = 0.1 g1^2;  d1 = sqrt(1e-6) / sqrt(v1 + 1e-6) g1;  u1 = 0.1 d1^2;  x1 = x - d1
        //   v2 = 0.9 v1 + 0.1 g2^2;  d2 = sqrt(u1 + 1e-6) / sqrt(v2 + 1e-6) g2;  x2 = x1 - d2
        let device = Device::flex();
        let optim = Adadelta::default();
        let x = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, -2.0], [2]), &device);
        let g1 = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -1.0], [2]), &device);
        let g2 = Tensor::<1>::from_data(TensorData::new(vec![0.25f32, 0.5], [2]), &device);
        let (x, state) = optim.step(1.0, x, g1, None);
        let (x, _) = optim.step(1.0, x, g2, state);
        let got = x.into_data().try_to_vec::<f32>().unwrap();
        // The same recurrence in f64, by hand.
        let expected: Vec<f64> = [(1.0, 0.5, 0.25), (-2.0, -1.0, 0.5)]
            .iter()
            .map(|&(x, g1, g2): &(f64, f64, f64)| {
                let v1 = 0.1 * g1 * g1;
                let d1 = 1e-6f64.sqrt() / (v1 + 1e-6).sqrt() * g1;
                let u1 = 0.1 * d1 * d1;
                let v2 = 0.9 * v1 + 0.1 * g2 * g2;
                let d2 = (u1 + 1e-6).sqrt() / (v2 + 1e-6).sqrt() * g2;
                x - d1 - d2
            })
            .collect();
        for (g, e) in got.iter().zip(&expected) {
            assert!((f64::from(*g) - e).abs() < 1e-6, "{got:?} vs {expected:?}");
        }
    }
}
