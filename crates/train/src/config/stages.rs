//! `[[stages]]`: training in stages, each with its own epochs, optimiser, learning rate and
//! schedule, and its own set of layers that learn. The fine-tuning recipe of transfer learning
//! (Ackermann et al. 2018): train only the new head with the pretrained body frozen, then
//! everything at a small learning rate. Without `[[stages]]` a run is one stage made of
//! `[optimizer]`, `[schedule]` and `training.epochs`, training every layer. A stage that names
//! no optimiser or no schedule inherits `[optimizer]` or `[schedule]` (applied over the
//! stage's own epochs).

use serde::{Deserialize, Serialize};

use super::load::ConfigError;
use super::optimizer::OptimizerConfig;
use super::schedule::ScheduleConfig;

/// Which layers a stage trains: `"all"`, `"head"` (the layers a transferred network gets
/// fresh: its output layer, and a ResNet's dense head), or a list of layer names as weight
/// files name them (`["layers.3", "fc"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Trainable {
    /// `"all"` or `"head"`.
    Word(String),
    /// Layer names; everything else is frozen.
    Layers(Vec<String>),
}

impl Default for Trainable {
    fn default() -> Self {
        Trainable::Word("all".into())
    }
}

/// One `[[stages]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// What the stage is, for progress lines and reports (default `stage N`).
    #[serde(default)]
    pub name: Option<String>,
    /// Epochs of this stage (1 or more).
    pub epochs: usize,
    /// The layers that learn; the rest are frozen (their batch norms use their running
    /// statistics). Default `"all"`.
    #[serde(default)]
    pub train: Trainable,
    /// The optimiser (default: `[optimizer]`); a fresh one starts each stage.
    #[serde(default)]
    pub optimizer: Option<OptimizerConfig>,
    /// The learning rate, replacing the optimiser's (> 0).
    #[serde(default)]
    pub lr: Option<f64>,
    /// The schedule over this stage's epochs (default: `[schedule]`, over this stage's epochs).
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
}

/// A stage as training runs it: global epoch numbers and resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Its name.
    pub name: String,
    /// The last epoch before it (0 for the first stage).
    pub after_epoch: usize,
    /// Its last epoch.
    pub last_epoch: usize,
    /// The layers that train (`head` is resolved by the caller, who knows the model).
    pub train: Trainable,
    /// The optimiser, with the stage's learning rate.
    pub optimizer: OptimizerConfig,
    /// The schedule over the stage.
    pub schedule: ScheduleConfig,
}

impl Stage {
    /// Epochs in the stage.
    pub fn epochs(&self) -> usize {
        self.last_epoch - self.after_epoch
    }

    /// Whether every layer trains.
    pub fn trains_all(&self) -> bool {
        self.train == Trainable::Word("all".into())
    }

    /// The layers that train, in words.
    pub fn train_text(&self) -> String {
        match &self.train {
            Trainable::Word(w) => w.clone(),
            Trainable::Layers(names) => names.join(", "),
        }
    }
}

/// Checks the stages; errors name `stages[i].field`.
pub fn validate_stages(
    stages: &[StageConfig],
    default_optimizer: &OptimizerConfig,
    default_schedule: &ScheduleConfig,
) -> Result<(), ConfigError> {
    let at = |i: usize, e: ConfigError| match e {
        ConfigError::Invalid { field, problem } => ConfigError::invalid(format!("stages[{i}].{field}"), problem),
        other => other,
    };
    for (i, stage) in stages.iter().enumerate() {
        if stage.epochs == 0 {
            return Err(ConfigError::invalid(format!("stages[{i}].epochs"), "must be at least 1"));
        }
        match &stage.train {
            Trainable::Word(w) if w != "all" && w != "head" => {
                return Err(ConfigError::invalid(
                    format!("stages[{i}].train"),
                    format!("must be \"all\", \"head\" or a list of layer names, got {w:?}"),
                ));
            }
            Trainable::Layers(names) if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) => {
                return Err(ConfigError::invalid(format!("stages[{i}].train"), "name at least one layer, none empty"));
            }
            _ => {}
        }
        if let Some(lr) = stage.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(ConfigError::invalid(format!("stages[{i}].lr"), format!("must be positive, got {lr}")));
        }
        let optimizer = stage_optimizer(stage, default_optimizer);
        optimizer.validate().map_err(|e| at(i, e))?;
        stage.schedule.as_ref().unwrap_or(default_schedule).validate(optimizer.lr).map_err(|e| at(i, e))?;
    }
    Ok(())
}

fn stage_optimizer(stage: &StageConfig, default_optimizer: &OptimizerConfig) -> OptimizerConfig {
    let mut optimizer = stage.optimizer.clone().unwrap_or_else(|| default_optimizer.clone());
    if let Some(lr) = stage.lr {
        optimizer.lr = lr;
    }
    optimizer
}

/// The stages of a run, in order: `[[stages]]`, or one stage of every layer from the plain
/// settings.
pub fn plan(
    stages: &[StageConfig],
    optimizer: &OptimizerConfig,
    schedule: &ScheduleConfig,
    epochs: usize,
) -> Vec<Stage> {
    if stages.is_empty() {
        return vec![Stage {
            name: "training".into(),
            after_epoch: 0,
            last_epoch: epochs,
            train: Trainable::default(),
            optimizer: optimizer.clone(),
            schedule: schedule.clone(),
        }];
    }
    let mut done = 0;
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let stage = Stage {
                name: s.name.clone().unwrap_or_else(|| format!("stage {}", i + 1)),
                after_epoch: done,
                last_epoch: done + s.epochs,
                train: s.train.clone(),
                optimizer: stage_optimizer(s, optimizer),
                schedule: s.schedule.clone().unwrap_or_else(|| schedule.clone()),
            };
            done += s.epochs;
            stage
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schedule::ScheduleKind;

    fn stages(text: &str) -> Vec<StageConfig> {
        #[derive(Deserialize)]
        struct File {
            stages: Vec<StageConfig>,
        }
        toml::from_str::<File>(text).unwrap().stages
    }

    #[test]
    fn stages_number_their_epochs_globally_and_inherit_the_optimizer() {
        let s = stages(
            "[[stages]]\nname = \"head\"\nepochs = 2\ntrain = \"head\"\n\n[[stages]]\nepochs = 3\nlr = 1.5e-5\n[stages.optimizer]\nkind = \"sgd\"\nmomentum = 0.9\n",
        );
        let adam = OptimizerConfig { lr: 1e-3, ..OptimizerConfig::default() };
        validate_stages(&s, &adam, &ScheduleConfig::default()).unwrap();
        let p = plan(&s, &adam, &ScheduleConfig::default(), 99);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].name.as_str(), p[0].after_epoch, p[0].last_epoch), ("head", 0, 2));
        assert_eq!((p[1].name.as_str(), p[1].after_epoch, p[1].last_epoch, p[1].epochs()), ("stage 2", 2, 5, 3));
        assert_eq!(p[0].optimizer, adam);
        assert_eq!(p[1].optimizer.lr, 1.5e-5);
        assert_eq!(p[1].optimizer.momentum, Some(0.9));
        assert!(!p[0].trains_all() && p[1].trains_all());
        // A stage without a schedule inherits [schedule], as it inherits [optimizer].
        let cosine: ScheduleConfig = toml::from_str("kind = \"cosine\"").unwrap();
        let p = plan(&s, &adam, &cosine, 99);
        assert_eq!((p[0].schedule.kind, p[1].schedule.kind), (ScheduleKind::Cosine, ScheduleKind::Cosine));
        let own = stages("[[stages]]\nepochs = 1\n[stages.schedule]\nkind = \"exponential\"\ngamma = 0.9\n");
        validate_stages(&own, &adam, &cosine).unwrap();
        assert_eq!(plan(&own, &adam, &cosine, 99)[0].schedule.kind, ScheduleKind::Exponential);
        // Without stages: one stage of every layer over training.epochs.
        let one = plan(&[], &adam, &ScheduleConfig::default(), 7);
        assert_eq!((one.len(), one[0].after_epoch, one[0].last_epoch), (1, 0, 7));
    }

    #[test]
    fn bad_stages_are_named() {
        let adam = OptimizerConfig::default();
        let err =
            validate_stages(&stages("[[stages]]\nepochs = 1\ntrain = \"body\"\n"), &adam, &ScheduleConfig::default())
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stages[0].train: must be \"all\", \"head\" or a list of layer names, got \"body\""
        );
        let err = validate_stages(
            &stages("[[stages]]\nepochs = 1\n[[stages]]\nepochs = 0\n"),
            &adam,
            &ScheduleConfig::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "stages[1].epochs: must be at least 1");
        let err = validate_stages(&stages("[[stages]]\nepochs = 1\nlr = -1.0\n"), &adam, &ScheduleConfig::default())
            .unwrap_err();
        assert_eq!(err.to_string(), "stages[0].lr: must be positive, got -1");
        let text = "[[stages]]\nepochs = 1\n[stages.optimizer]\nkind = \"sgd\"\nbeta1 = 0.5\n";
        let err = validate_stages(&stages(text), &adam, &ScheduleConfig::default()).unwrap_err();
        assert_eq!(err.to_string(), "stages[0].optimizer.beta1: does not apply to kind = \"sgd\"");
        let err = validate_stages(&stages("[[stages]]\nepochs = 1\ntrain = []\n"), &adam, &ScheduleConfig::default())
            .unwrap_err();
        assert!(err.to_string().starts_with("stages[0].train: name at least one layer"), "{err}");
    }
}
