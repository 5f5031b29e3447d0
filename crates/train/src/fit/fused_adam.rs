//! Adam as Burn's `Adam` computes it, with each parameter's update as one pass on rayon's
//! threads on `flex` (`astro_models::adam_kernel`; Burn's runs about twelve one-thread tensor
//! operations per parameter there). Its state is Burn's `AdamState`, so checkpoints written with
//! either optimiser resume with the other; off `flex`, and for a state that carries AMSGrad's
//! maximum, Burn's `Adam` takes the step.

#[cfg(feature = "flex")]
use astro_models::adam_kernel;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{Adam, AdamConfig, AdamState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

/// Adam's settings (as `AdamConfig`'s, without AMSGrad).
#[derive(Clone)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: Option<f32>,
    /// Burn's optimiser with the same settings, for the steps the kernel does not take.
    burns: Adam,
}

impl FusedAdam {
    /// Adam with these moment decays, `epsilon` and L2 penalty (none when `None`).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: Option<f32>) -> Self {
        let burns = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay.map(WeightDecayConfig::new))
            .build();
        Self { beta_1, beta_2, epsilon, weight_decay, burns }
    }

    /// The optimiser for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }

    /// One step through `astro_models::adam_kernel` (where it runs).
    #[cfg(feature = "flex")]
    fn kernel_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        // Burn's first step is the general one from zero moments.
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time + 1, s.momentum.moment_1, s.momentum.moment_2),
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let step = adam_kernel::AdamStep {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            lr: lr as f32,
            time,
        };
        let [tensor, moment_1, moment_2] = adam_kernel::adam_update(tensor, grad, m, v, step);
        let momentum = burn::optim::AdaptiveMomentumState { time, moment_1, moment_2, max_moment_2: None };
        (tensor, Some(AdamState { momentum }))
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        // A state carrying AMSGrad's maximum is not the kernel's to update.
        #[cfg(feature = "flex")]
        if adam_kernel::runs_on(&tensor) && state.as_ref().is_none_or(|s| s.momentum.max_moment_2.is_none()) {
            return self.kernel_step(lr, tensor, grad, state);
        }
        self.burns.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;

    /// The weights of `linear` after `steps` steps of `optim` on `sum((x W + b)^2)`.
    fn train(mut optim: ModuleOptimizer, mut linear: Linear, x: &Tensor<2>, steps: usize) -> Vec<u32> {
        for _ in 0..steps {
            let grads = linear.forward(x.clone()).powi_scalar(2).sum().backward();
            let grads = GradientsParams::from_grads(grads, &linear);
            linear = optim.step(1e-2, linear, grads);
        }
        let weights = linear.weight.val().into_data().try_to_vec::<f32>().unwrap();
        weights.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn a_module_trains_as_with_burns_adam_bit_for_bit() {
        let device = Device::flex().autodiff();
        let linear: Linear = LinearConfig::new(400, 300).init(&device);
        let x = Tensor::<2>::random([8, 400], Distribution::Normal(0.0, 1.0), &device);
        // What the optimiser is handed: the parameter without autodiff, where the kernel runs.
        assert!(adam_kernel::runs_on(&linear.weight.val().without_autodiff()));
        for decay in [None, Some(0.01f32)] {
            let fused = FusedAdam::new(0.5, 0.999, 1e-5, decay).init();
            let burns = AdamConfig::new()
                .with_beta_1(0.5)
                .with_epsilon(1e-5)
                .with_weight_decay(decay.map(WeightDecayConfig::new));
            let ours = train(fused, linear.clone(), &x, 4);
            assert_eq!(ours, train(burns.init(), linear.clone(), &x, 4), "weight decay {decay:?}");
            assert_ne!(ours, train(FusedAdam::new(0.5, 0.999, 1e-5, decay).init(), linear.clone(), &x, 0), "moved");
        }
    }
}
