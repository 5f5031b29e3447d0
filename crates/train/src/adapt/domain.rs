//! DANN's domain classifier: dense ReLU layers on the body's features to one logit, "is this a
//! target image?", trained with binary cross-entropy behind the gradient-reversal layer.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

/// The domain classifier.
#[derive(Module, Debug)]
pub struct DomainClassifier {
    /// Hidden dense layers (ReLU).
    pub hidden: Vec<Linear>,
    /// The output layer: one logit.
    pub output: Linear,
}

impl DomainClassifier {
    /// A classifier of features `width` wide with hidden layers of `units`.
    pub fn new(width: usize, units: &[usize], device: &Device) -> Self {
        let mut hidden = Vec::new();
        let mut from = width;
        for &n in units {
            hidden.push(LinearConfig::new(from, n).init(device));
            from = n;
        }
        Self { hidden, output: LinearConfig::new(from, 1).init(device) }
    }

    /// Logits `[batch]`: positive for "target".
    pub fn forward(&self, features: Tensor<2>) -> Tensor<1> {
        let x = self.hidden.iter().fold(features, |x, layer| relu(layer.forward(x)));
        self.output.forward(x).flatten(0, 1)
    }
}

/// The domain loss and whether each image's domain was told right, for `logits` `[n + m]` of
/// `n` source images (label 0) followed by `m` target images (label 1).
///
/// # Shapes
/// - result: the mean binary cross-entropy `[1]`, and 1.0 / 0.0 per image `[n + m]`
pub fn domain_loss(logits: Tensor<1>, n: usize, m: usize) -> (Tensor<1>, Tensor<1>) {
    let device = logits.device();
    let labels: Vec<f32> = (0..n + m).map(|i| if i < n { 0.0 } else { 1.0 }).collect();
    let y = Tensor::<1>::from_data(TensorData::new(labels, [n + m]), &device);
    // log(1 + e^z) - y z, computed without overflow as max(z, 0) + log(1 + e^-|z|) - y z.
    let softplus = relu(logits.clone()) + logits.clone().abs().neg().exp().log1p();
    let loss = (softplus - y.clone() * logits.clone()).mean();
    let predicted = logits.greater_elem(0.0).float();
    let correct = (predicted - y).abs().neg().add_scalar(1.0).detach();
    (loss, correct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_loss_is_binary_cross_entropy_and_counts_right_answers() {
        let device = Device::flex();
        let logits = Tensor::<1>::from_data(TensorData::new(vec![-2.0f32, 1.0, 3.0, -0.5], [4]), &device);
        let (loss, correct) = domain_loss(logits, 2, 2);
        // Labels 0, 0, 1, 1: -log(1 - s(-2)) - log(1 - s(1)) - log s(3) - log s(-0.5), over 4.
        let s = |z: f64| 1.0 / (1.0 + (-z).exp());
        let expected = -((1.0 - s(-2.0)).ln() + (1.0 - s(1.0)).ln() + s(3.0).ln() + s(-0.5).ln()) / 4.0;
        let got = f64::from(loss.into_scalar::<f32>());
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        assert_eq!(correct.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0, 1.0, 0.0]);
        let classifier = DomainClassifier::new(5, &[4, 3], &device);
        assert_eq!(classifier.forward(Tensor::zeros([7, 5], &device)).dims(), [7]);
    }
}
