//! `[validation]`: k-fold cross-validation of a supervised experiment. The data's items are
//! pooled and split into folds (dealt at random, class by class for classification, or read
//! from a numeric item property such as a list's `fold` column); each fold is the test split of
//! one run, trained on the other folds with `valid_fraction` of them held out for validation.

use astro_data::folds::FoldPlan;
use serde::{Deserialize, Serialize};

use super::ConfigError;

fn default_valid_fraction() -> f64 {
    0.1
}

/// `[validation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Folds dealt at random with the experiment's seed (2 or more).
    #[serde(default)]
    pub folds: Option<usize>,
    /// An item property (e.g. a list column) that holds each item's fold, whole numbers.
    #[serde(default)]
    pub fold_column: Option<String>,
    /// The share of the training folds held out for validation (early stopping, best epoch),
    /// in (0, 0.5].
    #[serde(default = "default_valid_fraction")]
    pub valid_fraction: f64,
    /// Train only these folds (by their value in the fold column, or number `0..folds`); the
    /// out-of-fold scores then cover their items only. Default: every fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_folds: Option<Vec<i64>>,
}

impl ValidationConfig {
    /// How folds are made; checks that exactly one way is given.
    pub fn plan(&self) -> Result<FoldPlan, ConfigError> {
        match (self.folds, &self.fold_column) {
            (Some(k), None) if k >= 2 => Ok(FoldPlan::Random(k)),
            (Some(k), None) => Err(ConfigError::invalid("validation.folds", format!("must be at least 2, got {k}"))),
            (None, Some(column)) => Ok(FoldPlan::Column(column.clone())),
            _ => Err(ConfigError::invalid(
                "validation",
                "give one of `folds` (dealt at random) or `fold_column` (an item property holding each item's fold)",
            )),
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.plan()?;
        if !(self.valid_fraction > 0.0 && self.valid_fraction <= 0.5) {
            return Err(ConfigError::invalid(
                "validation.valid_fraction",
                format!("must be in (0, 0.5], got {}", self.valid_fraction),
            ));
        }
        if self.run_folds.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::invalid("validation.run_folds", "name one fold or more (leave it out for all)"));
        }
        Ok(())
    }
}
