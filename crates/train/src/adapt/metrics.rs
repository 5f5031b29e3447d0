//! What adaptation logs per training epoch, as Burn metrics: the adaptation term of the loss
//! (MMD, or the domain classifier's cross-entropy) and the domain classifier's accuracy
//! (0.5: the features no longer tell the domains apart). Training batches only.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
};

/// Burn's names of the two metrics, which `metrics.csv` reads back.
pub const DOMAIN_LOSS: &str = "Domain Loss";
/// See [`DOMAIN_LOSS`].
pub const DOMAIN_ACCURACY: &str = "Domain Accuracy";

/// One batch's adaptation outputs.
#[derive(Debug, Clone)]
pub struct DomainOutput {
    /// The adaptation term before its weight `[1]`.
    pub loss: Tensor<1>,
    /// Per image, 1.0 where the domain classifier told its domain right (DANN).
    pub correct: Option<Tensor<1>>,
}

/// A metric's input: the batch's adaptation outputs, if it had any.
pub struct DomainInput(pub Option<DomainOutput>);

/// Which number of [`DomainOutput`] a metric follows.
#[derive(Clone, Copy)]
enum Which {
    Loss,
    Accuracy,
}

/// The epoch mean of the adaptation term or of the domain accuracy.
#[derive(Clone)]
pub struct DomainMetric {
    which: Which,
    name: Arc<String>,
    state: NumericMetricState,
}

impl DomainMetric {
    /// The adaptation term.
    pub fn loss() -> Self {
        Self { which: Which::Loss, name: Arc::new(DOMAIN_LOSS.into()), state: NumericMetricState::default() }
    }

    /// The domain classifier's accuracy.
    pub fn accuracy() -> Self {
        Self { which: Which::Accuracy, name: Arc::new(DOMAIN_ACCURACY.into()), state: NumericMetricState::default() }
    }
}

impl Metric for DomainMetric {
    type Input = DomainInput;

    fn update(&mut self, input: &DomainInput, _metadata: &MetricMetadata) -> Result<SerializedEntry, TensorReadError> {
        let value = match (&input.0, self.which) {
            (Some(out), Which::Loss) => Some((out.loss.clone().into_scalar::<f32>(), 1)),
            (Some(DomainOutput { correct: Some(c), .. }), Which::Accuracy) => {
                Some((c.clone().mean().into_scalar::<f32>(), c.dims()[0]))
            }
            _ => None,
        };
        if let Some((v, n)) = value {
            self.state.update(f64::from(v), n);
        }
        Ok(self.state.compute_update(FormatOptions::new(self.name()).precision(3)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(FormatOptions::new(self.name()).precision(3)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes { unit: None, higher_is_better: false }.into()
    }
}

impl Numeric for DomainMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
