//! The typed layout of an experiment config. Every section rejects unknown keys; every field
//! has a `///` doc giving its unit and range, and a default where one makes sense.

use astro_data::{AugmentConfig, DataConfig, TestTimeConfig};
use astro_models::ModelConfig;

use crate::evaluate::binary::EvaluationConfig;
use crate::evaluate::shallow_baseline::ShallowBaselineConfig;
use crate::init::InitConfig;
use serde::{Deserialize, Serialize};

use super::optimizer::OptimizerConfig;
use super::schedule::ScheduleConfig;
use super::stages::StageConfig;
use super::validation::ValidationConfig;

/// A whole experiment: what to learn, from which data, with which model, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name, seed, description and the paper reproduced.
    pub experiment: ExperimentSection,
    /// Where the images and targets come from.
    pub data: DataConfig,
    /// The network.
    pub model: ModelConfig,
    /// Start from a finished run's weights (transfer learning; none when absent).
    #[serde(default)]
    pub init: Option<InitConfig>,
    /// Random transforms of the training images (none when absent).
    #[serde(default)]
    pub augment: Option<AugmentConfig>,
    /// Test-time averaging of predictions over views of each image, for the test split,
    /// `eval` and `predict` (none when absent).
    #[serde(default)]
    pub test_time: Option<TestTimeConfig>,
    /// What detector scores are reported for two-class tasks (false-positive rates, bins,
    /// subsets).
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    /// The optimiser.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Training in stages, each with its optimiser and trainable layers (none: one stage of
    /// `[optimizer]`, `[schedule]` and `training.epochs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageConfig>,
    /// How a GAN's two networks train (`[model] kind = "pix2pix"` or `"dcgan"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gan: Option<crate::gan::config::GanConfig>,
    /// Also train the same network from scratch and report both side by side (none when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonConfig>,
    /// Domain adaptation: train beside unlabelled target images so that the body's features
    /// do not tell the two domains apart (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<crate::adapt::config::AdaptationConfig>,
    /// k-fold cross-validation: one run per fold, scored on every item out of fold (none:
    /// one run on the data's own splits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationConfig>,
    /// Catalogue features beside the image or curve, concatenated to the body's output before
    /// the head (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<astro_data::catalogue_features::FeaturesConfig>,
    /// The shallow baseline trained beside the network on light-curve statistics and catalogue
    /// columns (a random forest by default).
    #[serde(default)]
    pub baseline: ShallowBaselineConfig,
    /// Epochs, batches, early stopping, checkpoints, data workers.
    #[serde(default)]
    pub training: TrainingConfig,
    /// Devices to train on.
    #[serde(default)]
    pub hardware: HardwareConfig,
}

fn default_seed() -> u64 {
    42
}

/// `[experiment]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    /// Short name; runs go to `runs/<name>/`. Letters, digits, `-` and `_`.
    pub name: String,
    /// Seed of everything random: weights, data order, simulated data.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Seed of the data alone (simulated items, random splits); default: `seed`. An
    /// adaptation comparison's target-trained arm sets it to the target's, so that it trains
    /// and tests on the very target items the other arms are scored on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    /// One line on what the experiment does.
    #[serde(default)]
    pub description: String,
    /// The paper this experiment reproduces, and its number.
    #[serde(default)]
    pub paper: Option<PaperReference>,
}

/// `[experiment.paper]`: the published result the run is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperReference {
    /// Authors, year, journal.
    pub citation: String,
    /// The metric the paper reports: `rmse`, `accuracy`, `roc_auc`, `completeness` (at the
    /// first false-positive rate of `[evaluation] fpr`), or `precision`, `recall`, `f1` of
    /// `class`.
    pub metric: String,
    /// The paper's value of that metric; leave it out where there is none (a benchmark data
    /// set without a reference number) and say so in `note`.
    #[serde(default)]
    pub value: Option<f64>,
    /// What the paper's number is (which model, which data).
    #[serde(default)]
    pub note: String,
    /// The `[[evaluation.subsets]]` the number is for (all test items when absent).
    #[serde(default)]
    pub subset: Option<String>,
    /// The class whose `precision`, `recall` or `f1` it is (default: the second of two).
    #[serde(default)]
    pub class: Option<String>,
    /// The paper's value of `metric` per regression target, by target name, where it gives one
    /// number per target (`[experiment.paper.per_target]`, e.g. the scatter of each parameter).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub per_target: std::collections::BTreeMap<String, f64>,
}

fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    32
}
fn default_workers() -> usize {
    2
}
fn default_checkpoint_every() -> usize {
    1
}
fn default_keep_checkpoints() -> usize {
    2
}

/// `[training]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training split (1 or more).
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Images per optimiser step (1 or more).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Stop when the validation loss has not improved for this many epochs (none: never).
    #[serde(default)]
    pub early_stopping_patience: Option<usize>,
    /// With early stopping: an epoch improves only when its validation loss is lower than the
    /// best by more than this (Keras' `min_delta`; Dekany & Grebel: 1e-5).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub early_stopping_min_delta: f64,
    /// Save a resumable checkpoint every N epochs (the last epoch is always saved).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
    /// How many of the latest checkpoints to keep (the best one is kept as well).
    #[serde(default = "default_keep_checkpoints")]
    pub keep_checkpoints: usize,
    /// Threads that load or simulate data while the model trains. The training batches and their
    /// order do not depend on it (0 means one thread there); validation and test data load on
    /// the training thread with 0.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Stratified batches: every training batch holds the same number of items of each class
    /// (classification; the batch size must be a multiple of the number of classes).
    #[serde(default)]
    pub stratified: bool,
    /// Adds this times the sum of |w| over every weight matrix and kernel (rank 2 or more:
    /// dense, convolution, recurrent input and state weights; not biases or norm scales) to the
    /// training loss, as Keras' L1 kernel and recurrent regularisers (Dekany & Grebel: 5e-6).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub l1_penalty: f64,
    /// The same with the sum of w^2 (L2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub l2_penalty: f64,
    /// Weighs each training sample by the inverse density of its (single regression) target,
    /// held constant where the density is below this value, scaled to [0.01, 1] (Dekany &
    /// Grebel's `weighing_by_density`, 0.5 for [Fe/H]). The validation loss is unweighted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weigh_by_density: Option<f64>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl ExperimentConfig {
    /// The seed the data is opened with.
    pub fn data_seed(&self) -> u64 {
        self.experiment.data_seed.unwrap_or(self.experiment.seed)
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            early_stopping_patience: None,
            early_stopping_min_delta: 0.0,
            checkpoint_every: default_checkpoint_every(),
            keep_checkpoints: default_keep_checkpoints(),
            workers: default_workers(),
            stratified: false,
            l1_penalty: 0.0,
            l2_penalty: 0.0,
            weigh_by_density: None,
        }
    }
}

/// `[comparison]`: the network of this experiment trained twice, from `[init]` (with its
/// `[[stages]]`) and from scratch (fresh weights, every layer, `[optimizer]`, `[schedule]` and
/// `training.epochs`), each into its own folder of the run, and reported side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonConfig {
    /// The paper's value of `[experiment.paper] metric` for the network trained from scratch
    /// (its `value` is the one started from [init]).
    #[serde(default)]
    pub paper_scratch: Option<f64>,
}

/// `[hardware]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HardwareConfig {
    /// Devices, e.g. `["cuda:0", "cuda:1"]`; several train data-parallel. Empty: `--device`,
    /// or the best backend compiled in.
    #[serde(default)]
    pub devices: Vec<String>,
}
