//! `trainer`: train, check, evaluate and apply the experiments of this workspace.
//!
//! ```text
//! cargo run --release -p trainer -- --config galaxy_cnn.toml
//! ```
//!
//! The binary is thin: it parses the command line, picks the devices (the only code that names
//! a backend, in [`device`]), and hands over to `astro-train`.

mod allocator;
mod cli;
mod device;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use astro_train::config::{ExperimentConfig, load_config};
use astro_train::init::pretrain::{finished_run, resolve_pretraining};
use astro_train::run::catalog::list_experiments;
use astro_train::run::comparison::train_comparison;
use astro_train::run::eval::{Domain, evaluate_run};
use astro_train::run::predict::{PictureCut, predict_inputs};
use astro_train::run::train::{Hardware, RunTarget, check_training, model_table, prepare, train};
use clap::Parser;

use crate::cli::{Cli, Command, TrainArgs};

/// mimalloc keeps freed memory in the process for the next allocation of its size, where glibc
/// gives large blocks back to the kernel and takes them again, one page fault per page: a
/// training step allocates and frees the same large tensors every time (README, speed;
/// `allocator.rs` for how long it keeps them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes in one line, each cause left out when an earlier message already
/// says it (the errors of this workspace include their cause's text).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = if text.is_empty() { said } else { format!("{text}: {said}") };
        }
    }
    text
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => train_command(cli.train),
        Some(Command::Train(args)) => train_command(args),
        Some(Command::Check(args)) => check_command(&args.config, &args.set, args.smoke),
        Some(Command::Eval(args)) => {
            let (_, _, devices) = device::resolve(args.device.as_deref(), &[])?;
            let report = evaluate_run(&args.run, args.data.as_deref(), &devices[0], Domain::target_if(args.target))?;
            println!("evaluated {} ({} images) with {}", report.data, report.metrics.samples(), report.weights);
            let h = report.metrics.headline();
            println!("{}: {:.5}", h.metric, h.value);
            println!("baseline ({}): {:.5}", h.baseline_name, h.baseline);
            println!("saved: {}", report.report_file);
            Ok(())
        }
        Some(Command::Predict(args)) => {
            let (_, _, devices) = device::resolve(args.device.as_deref(), &[])?;
            let cut = PictureCut { crop: args.crop, pixel_scale_arcsec: args.pixel_scale, composite: args.composite };
            let done = predict_inputs(
                &args.run,
                &args.inputs,
                args.out.as_deref(),
                cut,
                &devices[0],
                Domain::target_if(args.target),
            )?;
            println!("predicted {} input(s): {}", done.predicted, done.out.display());
            if done.skipped > 0 {
                println!(
                    "skipped {} unreadable input(s), with the reasons: {}",
                    done.skipped,
                    done.skipped_file.display()
                );
            }
            for note in &done.notes {
                println!("{note}");
            }
            Ok(())
        }
        Some(Command::List(args)) => list_command(args.configs.as_deref()),
    }
}

/// The folders a bare config name is looked up in: `./configs`, then the source tree's.
fn config_dirs() -> Vec<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    vec![PathBuf::from("configs"), source]
}

/// A config path as given, or a bare name looked up in `configs/` (with or without `.toml`).
fn resolve_config(given: &Path) -> Result<PathBuf> {
    if given.is_file() {
        return Ok(given.to_path_buf());
    }
    let bare = given.components().count() == 1;
    let mut tried = vec![given.display().to_string()];
    if bare {
        for dir in config_dirs() {
            for name in [given.to_path_buf(), given.with_extension("toml")] {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return Ok(candidate);
                }
                tried.push(candidate.display().to_string());
            }
        }
    }
    bail!(
        "config file {} not found (looked for {}); `trainer list` shows the experiments",
        given.display(),
        tried.join(", ")
    )
}

fn load(config: &Path, set: &[String], smoke: bool) -> Result<ExperimentConfig> {
    let path = resolve_config(config)?;
    let mut config = load_config(&path, set, smoke)?;
    // `init.pretrain` names a config beside this one (or in configs/): make it a path that
    // opens from here.
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Some(pretrain) = config.init.as_mut().and_then(|i| i.pretrain.as_mut()) {
        let beside = dir.join(&*pretrain);
        *pretrain = if beside.is_file() { beside } else { resolve_config(pretrain).context("init.pretrain")? };
    }
    Ok(config)
}

/// Loads the config a `pretrain` entry names, as `load` resolved it (shrunk like the experiment
/// that names it).
fn pretrain_loader(smoke: bool) -> impl Fn(&Path) -> Result<ExperimentConfig, astro_train::RunError> {
    move |path: &Path| load(path, &[], smoke).map_err(|e| astro_train::RunError::Run(format!("init.pretrain: {e:#}")))
}

fn train_command(args: TrainArgs) -> Result<()> {
    let (mut config, target) = match (&args.config, &args.resume) {
        (Some(_), Some(_)) => bail!("give --config to start a run or --resume to continue one, not both"),
        (None, None) => bail!("nothing to train: give --config FILE (see `trainer list`) or --resume RUN_DIR"),
        (Some(file), None) => {
            let config = load(file, &args.common.set, args.common.smoke)?;
            (config, RunTarget::New(args.common.out.clone().unwrap_or_else(|| PathBuf::from("runs"))))
        }
        (None, Some(dir)) => {
            if !args.common.set.is_empty() || args.common.smoke {
                bail!("--resume continues a run with its saved config: --set and --smoke cannot change it");
            }
            let config = load_config(&dir.join("config.toml"), &[], false)
                .with_context(|| format!("cannot resume {}", dir.display()))?;
            (config, RunTarget::Resume(dir.clone()))
        }
    };
    let (backend, names, devices) = device::resolve(args.common.device.as_deref(), &config.hardware.devices)?;
    println!("experiment {}: {}", config.experiment.name, config.experiment.description);
    println!("device: {} ({})", names.join(", "), backend);
    let half_batches = device::steps_in_half_batches(&backend);
    let hardware = Hardware { backend, devices, names, half_batches };
    if let RunTarget::New(root) = &target {
        resolve_pretraining(&mut config, &hardware, root, &pretrain_loader(args.common.smoke))?;
    }
    let lines = if config.model.is_gan() {
        astro_train::gan::train_gan(&config, &hardware, &target)?.console_lines()
    } else if config.comparison.is_some() {
        train_comparison(&config, &hardware, &target)?.console_lines()
    } else if config.adaptation.as_ref().is_some_and(|a| !a.compare.is_empty()) {
        astro_train::adapt::comparison::train_adaptation_comparison(&config, &hardware, &target)?.console_lines()
    } else {
        train(&config, &hardware, &target)?.console_lines()
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn check_command(config: &Path, set: &[String], smoke: bool) -> Result<()> {
    let config = load(config, set, smoke)?;
    device::resolve(None, &config.hardware.devices)?;
    let (data, shapes) = prepare(&config)?;
    if !config.model.is_gan() {
        check_training(&config, &data, &burn::tensor::Device::default())?;
    }
    println!("{}", toml::to_string_pretty(&config).context("cannot print the config")?);
    println!("# data: {}", data.info.description);
    println!("# model:");
    for line in model_table(&config, astro_train::run::train::input_shape(&data), &shapes).lines() {
        println!("#   {line}");
    }
    let mut init = config.init.clone();
    if let Some(file) = init.as_ref().and_then(|i| i.pretrain.clone()) {
        let source = pretrain_loader(smoke)(&file)?;
        let root = Path::new("runs");
        match finished_run(&source, root) {
            Some(run) => {
                println!("# init: pretrain {}: its finished run {}", file.display(), run.display());
                init = Some(astro_train::init::InitConfig { run: Some(run), pretrain: None, ..Default::default() });
            }
            None => {
                println!(
                    "# init: pretrain {}: no finished run of it under runs/ yet; training trains it first",
                    file.display()
                );
                init = None;
            }
        }
    }
    if let Some(init) = &init {
        // Loads the weights once on the CPU, so that a mismatch is found before training.
        let (_, what) =
            astro_train::init::pretrained_model(init, &config, &data.info, &burn::tensor::Device::default())?;
        println!("# init: {what}");
    }
    println!("# config is valid");
    Ok(())
}

fn list_command(dir: Option<&Path>) -> Result<()> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            config_dirs().into_iter().find(|d| d.is_dir()).context("no configs/ folder found; give --configs DIR")?
        }
    };
    let entries = list_experiments(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let file = entry.file.file_name().unwrap_or_default().to_string_lossy().to_string();
        match entry.summary {
            Ok((_, description, paper, source)) => {
                println!("{file:<28} {description}\n{:<28} paper: {paper}; data: {source}", "")
            }
            Err(e) => println!("{file:<28} (invalid: {e})"),
        }
    }
    Ok(())
}
