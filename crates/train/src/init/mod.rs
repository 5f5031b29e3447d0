//! `[init]`: start training from other weights (transfer learning): the evaluated weights of a
//! finished run (`run`), or a PyTorch-written file mapped by name (`weights`, see
//! [`crate::init::weights_file`]). A run's model must have this experiment's body (every layer but the
//! output layer) and take the same input; when its outputs differ (other targets, other
//! classes) the output layer is a fresh one for this task, otherwise it is kept too.
//!
//! The folder: [`pretrain`] (`init.pretrain`: the run of another experiment, found or trained
//! first) and [`weights_file`] (PyTorch and SafeTensors weights by name).

pub mod pretrain;
pub mod weights_file;

use std::path::PathBuf;

use astro_data::DataInfo;
use astro_models::Model;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::init::weights_file::load_weights;
use crate::run::eval::{Domain, load_run};
use crate::run::model_io::input_feature_shape;

/// `[init]`: give `run`, `weights` or `pretrain`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// A finished run folder (`runs/<experiment>/<stamp>`) whose `model.bpk` starts training.
    #[serde(default)]
    pub run: Option<PathBuf>,
    /// A SafeTensors or PyTorch (`.pth`, `.pt`) file of weights named as PyTorch names them
    /// (torchvision's ResNet names are understood).
    #[serde(default)]
    pub weights: Option<PathBuf>,
    /// The entry of a `.pth` file that holds the state dict (`state_dict`, `model`), when the
    /// file is not the state dict itself.
    #[serde(default)]
    pub weights_key: Option<String>,
    /// An experiment config (a path, or a name in `configs/`) whose finished run starts
    /// training: the newest complete run of it with the same settings under the runs folder,
    /// or, when there is none, a run of it trained first (with `--smoke` when this one is).
    #[serde(default)]
    pub pretrain: Option<PathBuf>,
}

/// The pretrained model for `config` on data `info`, on `device`, and one line saying what
/// was taken from where.
pub fn pretrained_model(
    init: &InitConfig,
    config: &ExperimentConfig,
    info: &DataInfo,
    device: &Device,
) -> Result<(Model, String), RunError> {
    let input = input_feature_shape(info.input, info.layout);
    let outputs = info.outputs();
    let run = match (&init.run, &init.weights) {
        (Some(run), None) => run,
        (None, Some(file)) => {
            let mut model = config.model.init(input, outputs, device)?;
            let loaded = load_weights(&mut model, file, init.weights_key.as_deref())?;
            if loaded.fresh_head {
                // Whatever part of the head did load belongs to another head: start it afresh.
                let fresh = config.model.init(input, outputs, device)?;
                model = model.with_head_of(fresh).map_err(RunError::Run)?;
            }
            return Ok((model, loaded.what));
        }
        _ => {
            return Err(RunError::Run(
                "init: give one of `run` (a finished run) or `weights` (a file); `pretrain` is turned into the run it names before training".into(),
            ));
        }
    };
    let bad = |problem: String| RunError::Run(format!("init.run: {}: {problem}", run.display()));
    let trained = load_run(run, device, Domain::Source)?;
    let io = &trained.io;
    if io.input != info.input || io.layout != info.layout {
        return Err(bad(format!("its model takes {} but this experiment's data is {}", io.input_shape(), input)));
    }
    config
        .model
        .same_body(&trained.config.model)
        .map_err(|why| bad(format!("its model is not this experiment's up to the output layer ({why})")))?;
    if io.task == info.task && io.target_names == info.target_names && config.model.same_head(&trained.config.model) {
        return Ok((trained.model.model, format!("every layer from {}", run.display())));
    }
    let fresh = config.model.init(input, outputs, device)?;
    let head = fresh.head_layers().join(", ");
    let model = trained.model.model.with_head_of(fresh).map_err(bad)?;
    let why = if io.target_names.len() == outputs && io.task == info.task && io.target_names != info.target_names {
        "other targets".to_string()
    } else if io.target_names.len() != outputs {
        format!("{} outputs there, {outputs} here", io.target_names.len())
    } else {
        "another head here".to_string()
    };
    Ok((model, format!("every layer but the head ({head}) from {} ({why}: a fresh head)", run.display())))
}
