//! Early stopping on the validation loss with a minimum improvement (Keras' `min_delta`): an
//! epoch counts as better only when its loss is below the best so far by more than `min_delta`;
//! training stops after `patience` epochs without such an epoch.

use burn::train::EarlyStoppingStrategy;
use burn::train::metric::store::{Aggregate, EventStoreClient, Split};

/// The name Burn's `LossMetric` logs under.
const LOSS: &str = "Loss";

/// Stops after `patience` epochs without an improvement of more than `min_delta`.
#[derive(Debug, Clone)]
pub struct PatienceWithMinDelta {
    patience: usize,
    min_delta: f64,
    best: Option<(usize, f64)>,
}

impl PatienceWithMinDelta {
    /// A fresh strategy.
    pub fn new(patience: usize, min_delta: f64) -> Self {
        Self { patience, min_delta, best: None }
    }

    /// Takes epoch `epoch`'s validation loss; says whether to stop.
    pub fn update(&mut self, epoch: usize, loss: f64) -> bool {
        match self.best {
            Some((_, best)) if loss >= best - self.min_delta => {}
            _ => {
                self.best = Some((epoch, loss));
                return false;
            }
        }
        let (best_epoch, _) = self.best.unwrap_or((epoch, loss));
        epoch.saturating_sub(best_epoch) >= self.patience
    }
}

impl EarlyStoppingStrategy for PatienceWithMinDelta {
    fn should_stop(&mut self, epoch: usize, store: &EventStoreClient) -> bool {
        match store.find_metric(LOSS, epoch, Aggregate::Mean, &Split::Valid) {
            Some(loss) => self.update(epoch, loss),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_improvements_beyond_min_delta_reset_the_patience() {
        let mut s = PatienceWithMinDelta::new(2, 0.01);
        assert!(!s.update(1, 1.0));
        assert!(!s.update(2, 0.995), "0.005 better: not an improvement");
        assert!(s.update(3, 0.992), "two epochs since epoch 1");
        let mut s = PatienceWithMinDelta::new(2, 0.01);
        assert!(!s.update(1, 1.0));
        assert!(!s.update(2, 0.98), "0.02 better: the new best");
        assert!(!s.update(3, 0.985));
        assert!(s.update(4, 0.975));
        let mut plain = PatienceWithMinDelta::new(1, 0.0);
        assert!(!plain.update(5, 1.0) && !plain.update(6, 0.9999) && plain.update(7, 0.9999));
    }
}
