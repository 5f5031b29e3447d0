//! What a data set asks a model to learn: values to regress, or one class out of several.
//! Classification items carry their class index as their single target value.

use serde::{Deserialize, Serialize};

/// The learning task a data set defines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Real-valued targets, one model output per target (MSE loss, RMSE metric).
    #[default]
    Regression,
    /// One class per item, one model output (logit) per class (cross-entropy loss, accuracy).
    Classification,
    /// The items themselves, which an autoencoder gives back: one output per input value
    /// (squared error against the clean input, RMSE per value).
    Reconstruction,
}

impl Task {
    /// The headline metric of the task.
    pub fn metric(self) -> &'static str {
        match self {
            Task::Regression | Task::Reconstruction => "rmse",
            Task::Classification => "accuracy",
        }
    }
}

/// The class index an item's targets hold, if they hold a valid one for `classes` classes.
pub fn class_of(targets: &[f32], classes: usize) -> Option<usize> {
    match targets {
        [c] if *c >= 0.0 && c.fract() == 0.0 && (*c as usize) < classes => Some(*c as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_indices_are_single_whole_targets_in_range() {
        assert_eq!(class_of(&[3.0], 10), Some(3));
        assert_eq!(class_of(&[10.0], 10), None);
        assert_eq!(class_of(&[1.5], 10), None);
        assert_eq!(class_of(&[1.0, 2.0], 10), None);
        assert_eq!(class_of(&[], 10), None);
    }
}
