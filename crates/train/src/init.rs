//! `[init]`: start training from the evaluated weights of a finished run (transfer learning).
//! The run's model must have this experiment's body (every layer but the output layer) and
//! take the same input; when its outputs differ (other targets, other classes) the output
//! layer is a fresh one for this task, otherwise it is kept too.

use std::path::PathBuf;

use astro_data::DataInfo;
use astro_models::Model;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::eval_run::load_run;
use crate::model_io::input_feature_shape;

/// `[init]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// A finished run folder (`runs/<experiment>/<stamp>`) whose `model.bpk` starts training.
    pub run: PathBuf,
}

/// The pretrained model for `config` on data `info`, on `device`, and one line saying what
/// was taken from where.
pub fn pretrained_model(
    init: &InitConfig,
    config: &ExperimentConfig,
    info: &DataInfo,
    device: &Device,
) -> Result<(Model, String), RunError> {
    let bad = |problem: String| RunError::Run(format!("init.run: {}: {problem}", init.run.display()));
    let trained = load_run(&init.run, device)?;
    let io = &trained.io;
    if io.input != info.input || io.layout != info.layout {
        return Err(bad(format!(
            "its model takes {} but this experiment's data is {}",
            io.input_shape(),
            input_feature_shape(info.input, info.layout)
        )));
    }
    config
        .model
        .same_body(&trained.config.model)
        .map_err(|why| bad(format!("its model is not this experiment's up to the output layer ({why})")))?;
    let outputs = info.target_names.len();
    if io.task == info.task && io.target_names == info.target_names {
        return Ok((trained.model.model, format!("every layer from {}", init.run.display())));
    }
    let fresh = config.model.init(input_feature_shape(info.input, info.layout), outputs, device)?;
    let model = trained.model.model.with_head_of(fresh).map_err(bad)?;
    Ok((
        model,
        format!(
            "every layer but the output layer from {} ({} outputs there, {outputs} here: a fresh output layer)",
            init.run.display(),
            io.target_names.len()
        ),
    ))
}
