//! Domain adaptation (`[adaptation]`): training on labelled source images and unlabelled target
//! images so that the network's body gives both the same features (Ciprijanovic et al. 2021,
//! DeepMerge II; Ganin et al. 2016, DANN).
//!
//! - [`config`]: the section and its checks.
//! - [`losses`]: gradient reversal, MMD, entropy.
//! - [`domain`]: DANN's domain classifier and its loss.
//! - [`step`]: one adapted training step.
//! - [`metrics`]: the domain loss and accuracy logged per epoch.
//! - [`target`]: opening the target set and scoring the trained model on it.
//! - [`target_batch_norm`]: AdaBN, the batch-norm statistics re-estimated on the target.
//! - [`features_plot`]: `features.png`, the two domains' features in two dimensions.
//! - [`comparison`]: source-only, MMD, DANN and target-trained side by side.
//! - [`over_seeds`]: that comparison repeated over seeds, each arm paired with source only.

pub mod comparison;
pub mod config;
pub mod domain;
pub mod features_plot;
pub mod losses;
pub mod metrics;
pub mod over_seeds;
pub mod report;
pub mod step;
pub mod target;
pub mod target_batch_norm;
