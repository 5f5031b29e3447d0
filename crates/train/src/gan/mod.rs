//! GAN experiments end to end: `[model] kind = "pix2pix"` (GalaxyGAN: recover a galaxy from its
//! degraded image) or `"dcgan"` (cosmic-web slices from noise), trained by the adversarial loop
//! ([`fit`]) into a run folder with checkpoints, losses, sample grids and resume, then tested:
//! [`recovery`] (PSNR and SSIM beside Richardson-Lucy and the degraded image) or [`cosmic`]
//! (power spectrum, pixel histogram, peak counts beside held-out slices). `summary.json` and
//! `report.md` hold the results beside the paper's number.

pub mod config;
pub mod cosmic;
pub mod fit;
pub mod losses_plot;
pub mod pair;
pub mod recovery;

use astro_data::DataConfig;
use astro_models::ModelConfig;
use burn::tensor::Device;
use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::report::PaperNumber;
use crate::run::folder::{Environment, RunDir, RunState};
use crate::run::train::{Hardware, RunTarget, input_shape, prepare};
use cosmic::{CosmicScores, evaluate_cosmic};
use fit::{Fit, last_gan_checkpoint, read_losses};
use pair::{DcganPair, GanPair, Pix2pixPair};
use recovery::{RecoveryScores, evaluate_recovery};

/// What a GAN run found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GanScores {
    /// GalaxyGAN's test.
    Recovery(RecoveryScores),
    /// The cosmic-web GAN's test.
    Statistics(CosmicScores),
}

/// `summary.json` of a GAN run.
#[derive(Debug, Clone, Serialize)]
pub struct GanSummary {
    /// The experiment.
    pub experiment: String,
    /// The run folder.
    pub run_dir: String,
    /// The test's results.
    pub test: GanScores,
    /// The paper's number.
    pub paper: Option<PaperNumber>,
    /// This run's value of the paper's metric.
    pub paper_metric: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// Generator updates.
    pub steps: usize,
    /// Seconds of training (all sessions).
    pub train_seconds: f64,
    /// Generator updates per second.
    pub steps_per_second: f64,
    /// Diversity of the last sample grid over the real images' (near 0: a collapsed generator).
    pub final_diversity: Option<f64>,
    /// Parameters of the generator and the discriminator.
    pub parameters: [usize; 2],
    /// Where the data came from.
    pub data: String,
    /// The backend and devices.
    pub backend: String,
}

impl GanSummary {
    /// The lines printed at the end of a run.
    pub fn console_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.test {
            GanScores::Recovery(r) => {
                lines.push(format!("test PSNR (n = {}): GAN {:.2} dB, SSIM {:.4}", r.samples, r.gan.psnr, r.gan.ssim));
                lines.push(format!(
                    "baselines: Richardson-Lucy {:.2} dB (SSIM {:.4}); degraded {:.2} dB (SSIM {:.4})",
                    r.richardson_lucy.psnr, r.richardson_lucy.ssim, r.degraded.psnr, r.degraded.ssim
                ));
                lines.push(format!(
                    "the GAN beats Richardson-Lucy on {} of {} test galaxies",
                    r.gan_beats_rl, r.samples
                ));
            }
            GanScores::Statistics(s) => {
                lines.push(format!(
                    "power spectrum of {} generated vs {} held-out slices, per k bin:",
                    s.samples, s.samples
                ));
                for p in &s.power {
                    lines.push(format!(
                        "  k {:.3} h/Mpc: {:+.1}% (held-out P {:.3e} +- {:.1}%)",
                        p.k,
                        100.0 * p.relative_error,
                        p.real,
                        100.0 * p.real_error / p.real
                    ));
                }
                if let Some(e) = s.power_error_paper_range {
                    lines.push(format!("mean |relative error| for k = 0.06-0.4 h/Mpc: {:.1}%", 100.0 * e));
                }
                lines.push(format!("pixel histogram distance: {:.3}", s.histogram_distance));
            }
        }
        if let Some(p) = &self.paper {
            let value = p.value.map_or("none published".to_string(), |v| format!("{v}"));
            let ours = self.paper_metric.map_or("not measured".to_string(), |v| format!("{v:.4}"));
            lines.push(format!("paper {}: {value} ({}; {}); this run: {ours}", p.metric, p.citation, p.note));
        }
        if let Some(d) = self.final_diversity {
            let warning = if d < 0.2 { " (low: the generator may have collapsed)" } else { "" };
            lines.push(format!("sample diversity over the data's: {d:.2}{warning}"));
        }
        lines.push(format!(
            "{} epochs, {} generator updates in {:.0} s ({:.2} updates/s)",
            self.epochs, self.steps, self.train_seconds, self.steps_per_second
        ));
        lines.push(format!("run folder: {}", self.run_dir));
        lines
    }
}

/// The device a GAN trains on: refuses several (the loop is not data-parallel).
fn the_one_device(hardware: &Hardware) -> Result<Device, RunError> {
    match hardware.devices.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(RunError::Run("no device to train on".into())),
        _ => Err(RunError::Run(format!(
            "a GAN trains on one device, not data-parallel; give one with --device or [hardware] devices (got {})",
            hardware.names.join(", ")
        ))),
    }
}

/// Trains the GAN of `config` on `hardware` into `target` and tests it.
pub fn train_gan(config: &ExperimentConfig, hardware: &Hardware, target: &RunTarget) -> Result<GanSummary, RunError> {
    the_one_device(hardware)?;
    let (data, _) = prepare(config)?;
    let (run, resume_from) = match target {
        RunTarget::New(root) => (RunDir::create(root, &config.experiment.name)?, None),
        RunTarget::At(path) => (RunDir::create_at(path)?, None),
        RunTarget::Resume(path) => {
            let run = RunDir::open(path)?;
            if run.status().is_some_and(|s| s.state == RunState::Complete) {
                return Err(RunError::Run(format!("{} has already finished; start a new run instead", path.display())));
            }
            let epoch = last_gan_checkpoint(path);
            if epoch.is_none() {
                // Killed before its first checkpoint: nothing to go on from, so say so.
                eprintln!(
                    "{}: no complete checkpoint to resume from; training starts again at epoch 1",
                    path.display()
                );
            }
            (run, Some(epoch.unwrap_or(0)))
        }
    };
    // A resumed run keeps the config and environment it was started with.
    if resume_from.is_none() {
        let text = toml::to_string_pretty(config)
            .map_err(|e| RunError::Run(format!("cannot write the resolved config: {e}")))?;
        run.write("config.toml", &text)?;
        run.write_json("environment.json", &Environment::capture(&hardware.backend, &hardware.names))?;
    }
    run.track(|| run_gan(config, hardware, &run, &data, resume_from.unwrap_or(0)))
}

fn run_gan(
    config: &ExperimentConfig,
    hardware: &Hardware,
    run: &RunDir,
    data: &astro_data::OpenedData,
    resume_from: usize,
) -> Result<GanSummary, RunError> {
    // Sample grids and validation losses come from the validation split, the scores from the test
    // split: a run with any split empty would report numbers it never measured.
    for (split, name) in [(&data.train, "training"), (&data.valid, "validation"), (&data.test, "test")] {
        if burn::data::dataset::Dataset::is_empty(split) {
            return Err(RunError::Run(format!(
                "the {name} split is empty: give it items (data.valid / data.test, or the *_fraction keys of \
                 the data source, e.g. data.images.{}_fraction)",
                match name {
                    "test" => "test",
                    "validation" => "valid",
                    _ => "{valid,test}",
                }
            )));
        }
    }
    let device = the_one_device(hardware)?;
    device.seed(config.experiment.seed);
    let autodiff = device.clone().autodiff();
    let t = &config.training;
    let gan = config.gan.clone().unwrap_or_default();
    let fit = Fit {
        run: &run.path,
        train: &data.train,
        valid: &data.valid,
        gan: &gan,
        epochs: t.epochs,
        batch_size: t.batch_size,
        workers: t.workers,
        seed: config.experiment.seed,
        checkpoint_every: t.checkpoint_every,
        keep_checkpoints: t.keep_checkpoints,
        device: &autodiff,
    };
    let input = input_shape(data);
    let eval_device = device.clone();
    let (test, steps, seconds, parameters) = match &config.model {
        ModelConfig::Pix2pix(_) => {
            let (g, d) = Pix2pixPair::init(&config.model, input, &autodiff)?;
            let parameters = [burn::module::Module::num_params(&g), burn::module::Module::num_params(&d)];
            let trained = fit.run::<Pix2pixPair>(g, d, resume_from)?;
            let generator = burn::module::Module::valid(&trained.generator);
            let scores = evaluate_recovery(&generator, &data.test, t.batch_size, t.workers, &eval_device, &run.path)?;
            (GanScores::Recovery(scores), trained.steps, trained.seconds, parameters)
        }
        ModelConfig::Dcgan(_) => {
            let DataConfig::SimulatedDensitySlices(slices) = &config.data else {
                return Err(RunError::Run(
                    "the cosmic-web GAN's statistics turn pixels back into densities: it needs data.source = \"simulated_density_slices\"".into(),
                ));
            };
            let (g, d) = DcganPair::init(&config.model, input, &autodiff)?;
            let parameters = [burn::module::Module::num_params(&g), burn::module::Module::num_params(&d)];
            let trained = fit.run::<DcganPair>(g, d, resume_from)?;
            let generator = burn::module::Module::valid(&trained.generator);
            let scores =
                evaluate_cosmic(&generator, &data.test, &slices.simulator, t.batch_size, &eval_device, &run.path)?;
            (GanScores::Statistics(scores), trained.steps, trained.seconds, parameters)
        }
        other => return Err(RunError::Run(format!("kind {:?} is not a GAN", other.kind()))),
    };
    let losses = read_losses(&run.file("losses.csv"));
    losses_plot::losses_png(&run.file("losses.png"), &format!("{}: losses", config.experiment.name), &losses)?;
    let paper_metric = config.experiment.paper.as_ref().and_then(|p| match (&test, p.metric.as_str()) {
        (GanScores::Recovery(r), "psnr") => Some(r.gan.psnr),
        (GanScores::Recovery(r), "ssim") => Some(r.gan.ssim),
        (GanScores::Statistics(s), "power_spectrum_error") => s.power_error_paper_range,
        _ => None,
    });
    // The diversity logged with the last sample grid.
    let final_diversity = losses.iter().rev().find_map(|r| r.diversity);
    let summary = GanSummary {
        experiment: config.experiment.name.clone(),
        run_dir: run.path.display().to_string(),
        test,
        paper: config.experiment.paper.as_ref().map(PaperNumber::of),
        paper_metric,
        epochs: t.epochs,
        steps,
        train_seconds: seconds,
        steps_per_second: steps as f64 / seconds.max(1e-9),
        final_diversity,
        parameters,
        data: data.info.description.clone(),
        backend: format!("{} ({})", hardware.backend, hardware.names.join(", ")),
    };
    run.write_json("summary.json", &summary)?;
    run.write("report.md", &report(config, &summary))?;
    Ok(summary)
}

fn report(config: &ExperimentConfig, s: &GanSummary) -> String {
    let e = &config.experiment;
    let mut md = format!("# {}\n\n{}\n\n## Result\n\n", e.name, e.description);
    match &s.test {
        GanScores::Recovery(r) => {
            md.push_str(&format!(
                "| test galaxies (n = {}) | PSNR (dB) | SSIM |\n|---|---|---|\n| GAN | {:.2} | {:.4} |\n| Richardson-Lucy | {:.2} | {:.4} |\n| degraded image | {:.2} | {:.4} |\n\nThe GAN beats Richardson-Lucy on {} of {} test galaxies ([test_quality.csv](test_quality.csv)).\n\n![original, degraded, GAN, Richardson-Lucy](gallery.png)\n\n",
                r.samples, r.gan.psnr, r.gan.ssim, r.richardson_lucy.psnr, r.richardson_lucy.ssim, r.degraded.psnr, r.degraded.ssim, r.gan_beats_rl, r.samples
            ));
        }
        GanScores::Statistics(st) => {
            md.push_str("| k (h/Mpc) | held-out P(k) | generated P(k) | relative error |\n|---|---|---|---|\n");
            for p in &st.power {
                md.push_str(&format!(
                    "| {:.3} | {:.3e} | {:.3e} | {:+.1}% |\n",
                    p.k,
                    p.real,
                    p.generated,
                    100.0 * p.relative_error
                ));
            }
            if let Some(err) = st.power_error_paper_range {
                md.push_str(&format!("\nMean |relative error| for k = 0.06-0.4 h/Mpc: {:.1}%.\n", 100.0 * err));
            }
            md.push_str(&format!(
                "\nPixel histogram distance: {:.3}.\n\n![power spectrum](power_spectrum.png)\n\n![pixel histogram](pixel_histogram.png)\n\n![peak counts](peak_counts.png)\n\nHeld-out slices (top row) and generated ones (bottom row):\n\n![slices](gallery.png)\n\n",
                st.histogram_distance
            ));
        }
    }
    if let Some(p) = &s.paper {
        let ours = s.paper_metric.map_or("-".to_string(), |v| format!("{v:.4}"));
        md.push_str(&format!(
            "Paper ({}): {} = {}; this run: {ours}. {}\n\nData: {}.\n\n",
            p.citation,
            p.metric,
            p.value.map_or("none published".to_string(), |v| v.to_string()),
            p.note,
            s.data
        ));
    }
    if let Some(d) = s.final_diversity {
        let verdict = if d < 0.2 {
            "low: the generator may have collapsed to a few images; see samples/"
        } else {
            "the generated images differ from each other about as the data's do"
        };
        md.push_str(&format!(
            "Sample diversity (spread across the last sample grid over the data's): {d:.2}, {verdict}.\n\n"
        ));
    }
    md.push_str(&format!(
        "## Training\n\n- epochs: {}, generator updates: {} in {:.0} s ({:.2} /s)\n- parameters: generator {}, discriminator {}\n- backend: {}\n\n![losses](losses.png)\n\nSample grids during training: [samples/](samples/).\n\n## Files\n\n- [config.toml](config.toml), [environment.json](environment.json), [summary.json](summary.json)\n- [losses.csv](losses.csv): every generator update's losses, and the sample diversity where a grid was saved\n- [checkpoint/](checkpoint/): both networks and both optimisers, per epoch (resume with `--resume`)\n",
        s.epochs, s.steps, s.train_seconds, s.steps_per_second, s.parameters[0], s.parameters[1], s.backend
    ));
    md
}
