//! Sample weights by inverse target density (`[training] weigh_by_density`), as Dekany & Grebel
//! (2022) weigh their stars so that rare metallicities count as much as common ones: a Gaussian
//! kernel density estimate of the training targets (Scott's bandwidth, as
//! `scipy.stats.gaussian_kde`), weight `1 / density`, held at the weights of the lowest and
//! highest targets whose density exceeds the cutoff (so that the few extreme stars do not
//! dominate), then scaled linearly so that the training weights span [0.01, 1].

/// The weight of any target value, fitted on the training targets.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityWeights {
    targets: Vec<f64>,
    bandwidth: f64,
    low: f64,
    high: f64,
    min_weight: f64,
    max_weight: f64,
}

/// The smallest scaled weight (the authors' `MinMaxScaler(feature_range=(0.01, 1))`).
const FLOOR: f64 = 0.01;

impl DensityWeights {
    /// Fits the density of `targets`; weights are held constant where it is below `cutoff`.
    pub fn fit(targets: &[f64], cutoff: f64) -> Result<Self, String> {
        let n = targets.len();
        if n < 2 {
            return Err(format!("needs two training targets or more, got {n}"));
        }
        if let Some(bad) = targets.iter().find(|t| !t.is_finite()) {
            return Err(format!("a training target is {bad}"));
        }
        let mean = targets.iter().sum::<f64>() / n as f64;
        let sd = (targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        if sd <= 0.0 {
            return Err("every training target is the same: there is no density to weigh by".into());
        }
        let mut fitted = Self {
            targets: targets.to_vec(),
            bandwidth: sd * (n as f64).powf(-0.2),
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
            min_weight: 0.0,
            max_weight: 1.0,
        };
        let dense: Vec<f64> = targets.iter().copied().filter(|&t| fitted.density(t) > cutoff).collect();
        if dense.is_empty() {
            let peak = targets.iter().map(|&t| fitted.density(t)).fold(0.0, f64::max);
            return Err(format!("no training target has a density above {cutoff} (the highest is {peak:.4})"));
        }
        fitted.low = dense.iter().copied().fold(f64::INFINITY, f64::min);
        fitted.high = dense.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let raw: Vec<f64> = targets.iter().map(|&t| fitted.raw_weight(t)).collect();
        fitted.min_weight = raw.iter().copied().fold(f64::INFINITY, f64::min);
        fitted.max_weight = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ok(fitted)
    }

    /// The kernel density estimate at `y`.
    pub fn density(&self, y: f64) -> f64 {
        let h = self.bandwidth;
        let norm = 1.0 / (self.targets.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt());
        norm * self.targets.iter().map(|t| (-0.5 * ((y - t) / h).powi(2)).exp()).sum::<f64>()
    }

    /// `1 / density`, held constant beyond the dense range.
    fn raw_weight(&self, y: f64) -> f64 {
        1.0 / self.density(y.clamp(self.low, self.high)).max(f64::MIN_POSITIVE)
    }

    /// The weight of a sample with target `y`, in [0.01, 1] over the training targets.
    pub fn weight(&self, y: f64) -> f64 {
        let span = self.max_weight - self.min_weight;
        if span <= 0.0 {
            return 1.0;
        }
        FLOOR + (1.0 - FLOOR) * (self.raw_weight(y) - self.min_weight) / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computed_kernel_density_and_scaling() {
        // Five targets, mean 0.4: the sample standard deviation and Scott bandwidth by hand.
        let y = [0.0, 0.0, 0.5, 1.0, 0.5];
        let w = DensityWeights::fit(&y, 0.0).unwrap();
        let sd: f64 = ((0.16 + 0.16 + 0.01 + 0.36 + 0.01) / 4.0f64).sqrt();
        let h = sd * 5f64.powf(-0.2);
        let k = |d: f64| (-0.5 * (d / h).powi(2)).exp() / (h * (2.0 * std::f64::consts::PI).sqrt());
        let at_zero = (2.0 * k(0.0) + 2.0 * k(0.5) + k(1.0)) / 5.0;
        assert!((w.density(0.0) - at_zero).abs() < 1e-12, "{} vs {at_zero}", w.density(0.0));
        // Scaled: the densest target weighs 0.01, the sparsest 1.
        let weights: Vec<f64> = y.iter().map(|&t| w.weight(t)).collect();
        let lo = weights.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!((lo - 0.01).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12, "{weights:?}");
        assert_eq!(weights[3], hi, "the lone target at 1.0 is the rarest");
        let (d0, d5, d1) = (at_zero, w.density(0.5), w.density(1.0));
        let expected = 0.01 + 0.99 * (1.0 / d0 - 1.0 / d5) / (1.0 / d1 - 1.0 / d5);
        assert!((weights[0] - expected).abs() < 1e-12, "{} vs {expected}", weights[0]);
    }

    #[test]
    fn weights_are_held_outside_the_dense_range_and_bad_targets_refused() {
        let mut y: Vec<f64> = (0..200).map(|i| (i as f64 / 200.0 - 0.5) * 0.2).collect();
        y.extend([2.0, 3.0]);
        let w = DensityWeights::fit(&y, 0.5).unwrap();
        // The two outliers are below the cutoff: they weigh what the densest-range edge weighs.
        assert_eq!(w.weight(2.0), w.weight(3.0));
        assert_eq!(w.weight(3.0), w.weight(10.0));
        assert!(w.weight(0.0) < w.weight(3.0));
        assert!(DensityWeights::fit(&[1.0], 0.5).unwrap_err().contains("two training targets"));
        assert!(DensityWeights::fit(&[1.0, 1.0], 0.5).unwrap_err().contains("the same"));
        assert!(DensityWeights::fit(&y, 1e9).unwrap_err().contains("no training target has a density above"));
    }
}
