//! The command line, parsed by clap: `trainer [--config FILE] | train | check | eval |
//! predict | list`.

use std::path::PathBuf;

use astro_train::run::predict::Composite;
use clap::{Args, Parser, Subcommand};

/// Train, check, evaluate and apply the astronomy deep-learning experiments of this workspace.
///
/// `trainer --config galaxy_cnn.toml` is the same as `trainer train --config galaxy_cnn.toml`.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: train).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training options, when no command is given.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train an experiment (the default command).
    Train(TrainArgs),
    /// Validate a config and that its data is reachable, without training; prints the resolved config.
    Check(CheckArgs),
    /// Evaluate a finished run's weights on its test split (or on --data), printing and saving the metrics.
    Eval(EvalArgs),
    /// Run a finished run's model on image or light-curve files and folders and write a CSV of predictions.
    Predict(PredictArgs),
    /// List the experiments in configs/, one line each.
    List(ListArgs),
}

/// Options shared by the commands that read a config.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// Device(s) to train on: flex, ndarray, wgpu, wgpu-cpu, cuda[:N], metal, tch, tch-cuda[:N];
    /// comma-separated for data-parallel training (default: the config's [hardware] devices, else
    /// the best compiled in).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Override one config field, e.g. --set training.epochs=3 (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
    /// Root folder for run folders (default: runs/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A tiny version of the same experiment (a few dozen samples, one epoch), for tests.
    #[arg(long)]
    pub smoke: bool,
}

/// `trainer train`.
#[derive(Debug, Args, Clone, Default)]
pub struct TrainArgs {
    /// Experiment config: a path, or a bare name looked up in configs/ (e.g. galaxy_cnn).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue a killed run from its last checkpoint, with its saved config.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Device, overrides, output folder, smoke mode.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `trainer check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Experiment config: a path, or a bare name looked up in configs/.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Override one config field, e.g. --set data.train=100 (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
    /// Check the smoke version of the experiment.
    #[arg(long)]
    pub smoke: bool,
}

/// `trainer eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder (runs/<experiment>/<timestamp>).
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// A TOML file with a [data] table: evaluate on all of that data instead of the run's test split.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// For a run with [adaptation]: its target domain. Evaluates the target's test split (or
    /// --data) with the weights for the target: model_target.bpk where the run re-estimated its
    /// batch-norm statistics there (target_batch_norm, AdaBN), else model.bpk.
    #[arg(long)]
    pub target: bool,
    /// Device to evaluate on (default: the best compiled in).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// `trainer predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The run folder (runs/<experiment>/<timestamp>).
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Image files (.jpg, .jpeg, .png; FITS: .fits, .fit, .fts, .fz and their .gz, a cutout or a
    /// cube with a plane per band) or folders of them; a folder with one sub-folder per band
    /// (the lens challenge's Band1/imageSDSS_R-<ID>.fits ...) gives one input per id. For a
    /// light-curve model: lists (an `id` column, `period` where the model folds by it, its
    /// catalogue features; the star files beside the list, or the run's `dir` or `long_csv`
    /// under the list's folder), star files (<id><suffix>), folders of them, or long CSVs (id,
    /// time, mag[, err, band] columns), read as the run was trained.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output CSV (default: <run>/predict/<timestamp>.csv).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Centre crop in pixels before resampling to the model's input (default: the run's).
    #[arg(long, value_name = "PIXELS")]
    pub crop: Option<u32>,
    /// Arcseconds per pixel of the input pictures: each is centre-cropped to the sky square the
    /// model was trained on (capped at its shorter side), where the run's data says its scale.
    #[arg(long, value_name = "ARCSEC")]
    pub pixel_scale: Option<f64>,
    /// The colour composite the input pictures were made in (gz_decals, sdss): pictures of
    /// another composite than the model's are redrawn in its (GZ DECaLS pictures for a model
    /// trained on the SDSS-like simulations).
    #[arg(long, value_name = "COMPOSITE")]
    pub composite: Option<Composite>,
    /// For a run with [adaptation]: the inputs are of its target domain, so the weights for the
    /// target apply (model_target.bpk where the run made one with target_batch_norm, AdaBN).
    #[arg(long)]
    pub target: bool,
    /// Device to predict on (default: the best compiled in).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// `trainer list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The folder of experiment configs (default: configs/).
    #[arg(long, value_name = "DIR")]
    pub configs: Option<PathBuf>,
}
