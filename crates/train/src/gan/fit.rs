//! The adversarial training loop: for every batch, `d_steps` discriminator updates then one
//! generator update, each player with its own Adam. It logs every generator update
//! (`losses.csv`), prints progress, saves a grid of generated samples every `sample_every`
//! updates (`samples/step-NNNNNN.png`), stops with a message when a loss stops being a finite
//! number, and every `checkpoint_every` epochs (and at the last) writes a checkpoint of both
//! networks and both optimisers (`checkpoint/{generator,discriminator,optim_g,optim_d}-E.bpk`),
//! keeping the newest `keep_checkpoints`, from which a killed run resumes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use astro_data::epoch_loader::EpochLoader;
use astro_data::{ImageBatcher, ImageSplit};
use astro_models::pool_step::on_pool;
use burn::data::dataloader::{DataLoader, Dataset};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use burn::train::checkpoint::CheckpointingAction;

use super::config::GanConfig;
use super::pair::{GanBatch, GanPair};
use crate::error::RunError;
use crate::fit::checkpointing::Cadence;
use crate::fit::fused_adam::FusedAdam;
use crate::fit::progress::clock;

/// The four files of the checkpoint of `epoch`.
pub fn gan_checkpoint_files(run: &Path, epoch: usize) -> [PathBuf; 4] {
    let dir = run.join("checkpoint");
    ["generator", "discriminator", "optim_g", "optim_d"].map(|name| dir.join(format!("{name}-{epoch}.bpk")))
}

/// Epochs that have a generator checkpoint, ascending.
fn gan_checkpoints(run: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(run.join("checkpoint"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_prefix("generator-")?.strip_suffix(".bpk")?.parse().ok())
        .collect();
    epochs.sort_unstable();
    epochs
}

/// The newest epoch whose four checkpoint files all exist.
pub fn last_gan_checkpoint(run: &Path) -> Option<usize> {
    gan_checkpoints(run).into_iter().rev().find(|&e| gan_checkpoint_files(run, e).iter().all(|f| f.is_file()))
}

/// The header of `losses.csv`.
pub const LOSSES_HEADER: &str = "step,epoch,d_loss,g_adversarial,g_l1,diversity,seconds";

/// What training did.
pub struct Trained<P: GanPair> {
    /// The generator after the last epoch.
    pub generator: P::G,
    /// The discriminator after the last epoch.
    pub discriminator: P::D,
    /// Generator updates made in all sessions.
    pub steps: usize,
    /// Seconds of training in all sessions.
    pub seconds: f64,
}

/// Everything one training run needs.
pub struct Fit<'a> {
    /// The run folder.
    pub run: &'a Path,
    /// Training images.
    pub train: &'a ImageSplit,
    /// Validation images (the fixed inputs of the sample grids).
    pub valid: &'a ImageSplit,
    /// The loop's settings.
    pub gan: &'a GanConfig,
    /// Epochs in all.
    pub epochs: usize,
    /// Images per update.
    pub batch_size: usize,
    /// Loader threads.
    pub workers: usize,
    /// Seed of the data order.
    pub seed: u64,
    /// Write a checkpoint every this many epochs (and at the last).
    pub checkpoint_every: usize,
    /// Checkpoints kept (the newest).
    pub keep_checkpoints: usize,
    /// The autodiff device.
    pub device: &'a Device,
}

/// Each player's optimiser: Adam with the loop's `beta1`.
pub fn adam(gan: &GanConfig) -> ModuleOptimizer {
    // Burn's `AdamConfig` defaults but for beta 1 (epsilon 1e-5), its update one pass on `flex`.
    FusedAdam::new(gan.beta1 as f32, 0.999, 1e-5, None).init()
}

/// The losses of one adversarial update, as numbers.
#[derive(Debug, Clone, Copy)]
pub struct UpdateLosses {
    /// The discriminator's loss at its last step.
    pub discriminator: f64,
    /// The generator's adversarial loss.
    pub adversarial: f64,
    /// The generator's L1 loss (pix2pix), unweighted.
    pub l1: Option<f64>,
}

/// One adversarial update on `batch`: `gan.d_steps` discriminator steps, then one generator step
/// (the training loop's step, and the bench's); on a thread of rayon's pool on `flex`
/// ([`on_pool`]).
pub fn adversarial_update<P: GanPair>(
    players: (P::G, P::D),
    optimisers: (&mut ModuleOptimizer, &mut ModuleOptimizer),
    batch: &GanBatch,
    gan: &GanConfig,
) -> (P::G, P::D, UpdateLosses) {
    on_pool(&batch.real.device(), || update::<P>(players, optimisers, batch, gan))
}

/// [`adversarial_update`] on this thread.
fn update<P: GanPair>(
    players: (P::G, P::D),
    optimisers: (&mut ModuleOptimizer, &mut ModuleOptimizer),
    batch: &GanBatch,
    gan: &GanConfig,
) -> (P::G, P::D, UpdateLosses) {
    let (generator, mut discriminator) = players;
    let (optim_g, optim_d) = optimisers;
    let mut d_loss = 0.0;
    for _ in 0..gan.d_steps {
        let loss = P::d_loss(&generator, &discriminator, batch);
        d_loss = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &discriminator);
        discriminator = optim_d.step(gan.lr, discriminator, grads);
    }
    let loss = P::g_loss(&generator, &discriminator, batch, gan.l1_weight);
    let adversarial = f64::from(loss.adversarial.clone().into_scalar::<f32>());
    let l1 = loss.l1.as_ref().map(|l| f64::from(l.clone().into_scalar::<f32>()));
    let grads = GradientsParams::from_grads(loss.total.backward(), &generator);
    let generator = optim_g.step(gan.lr, generator, grads);
    (generator, discriminator, UpdateLosses { discriminator: d_loss, adversarial, l1 })
}

/// Mean over pixels of the standard deviation across the batch: how much the images of a batch
/// differ (a collapsed generator draws the same image every time: near 0).
pub fn batch_diversity(images: &Tensor<4>) -> f64 {
    let [batch, ..] = images.dims();
    if batch < 2 {
        return f64::NAN;
    }
    let flat = images.clone().flatten::<2>(1, 3); // [batch, pixels]
    let mean = flat.clone().mean_dim(0); // [1, pixels]
    let var = flat.sub(mean).square().mean_dim(0); // [1, pixels]
    f64::from(var.sqrt().mean().into_scalar::<f32>())
}

impl Fit<'_> {
    /// Trains `generator` and `discriminator` (or the checkpoint of `resume_epoch`) to the last
    /// epoch.
    pub fn run<P: GanPair>(
        &self,
        mut generator: P::G,
        mut discriminator: P::D,
        resume_epoch: usize,
    ) -> Result<Trained<P>, RunError> {
        let (mut optim_g, mut optim_d) = (adam(self.gan), adam(self.gan));
        let losses_path = self.run.join("losses.csv");
        let (mut steps, mut seconds) = (0, 0.0);
        if resume_epoch > 0 {
            let [g, d, og, od] = gan_checkpoint_files(self.run, resume_epoch);
            let fail =
                |what: &Path, e: String| RunError::Run(format!("cannot load the checkpoint {}: {e}", what.display()));
            generator = generator.try_load_file(&g).map_err(|e| fail(&g, e.to_string()))?;
            discriminator = discriminator.try_load_file(&d).map_err(|e| fail(&d, e.to_string()))?;
            optim_g = optim_g.load(&og).map_err(|e| fail(&og, e.to_string()))?;
            optim_d = optim_d.load(&od).map_err(|e| fail(&od, e.to_string()))?;
            (steps, seconds) = keep_losses_through(&losses_path, resume_epoch)?;
            eprintln!("resuming after epoch {resume_epoch} of {} ({steps} generator updates done)", self.epochs);
        }
        if !losses_path.exists() {
            std::fs::write(&losses_path, format!("{LOSSES_HEADER}\n")).map_err(io(&losses_path))?;
        }
        let fixed = self.fixed_inputs()?;
        let kept = gan_checkpoints(self.run).into_iter().filter(|&e| e <= resume_epoch).collect();
        let mut cadence = Cadence::new(self.checkpoint_every, self.keep_checkpoints, self.epochs, kept);
        let per_epoch = self.train.len().div_ceil(self.batch_size);
        let started = Instant::now();
        for epoch in resume_epoch + 1..=self.epochs {
            // Epoch `epoch` (1-based) is the loader's epoch `epoch - 1`: its batches and their
            // order are a function of the seed and the epoch, whatever the workers.
            let loader = EpochLoader::shuffled(
                self.train.clone(),
                self.batch_size,
                self.seed,
                epoch as u64 - 1,
                ImageBatcher::default(),
                self.workers,
            )
            .on(self.device.clone());
            let epoch_started = Instant::now();
            let mut lines = String::new();
            for (k, batch) in loader.iter().enumerate() {
                let batch = GanBatch::from_batch(
                    batch.map_err(|e| RunError::Run(format!("cannot read a training batch: {e}")))?,
                );
                let losses;
                (generator, discriminator, losses) =
                    adversarial_update::<P>((generator, discriminator), (&mut optim_g, &mut optim_d), &batch, self.gan);
                let UpdateLosses { discriminator: d_loss, adversarial, l1 } = losses;
                steps += 1;
                check_finite(d_loss, adversarial, steps, epoch)?;
                let diversity = if steps.is_multiple_of(self.gan.sample_every) {
                    let d = self.save_samples::<P>(&generator, &fixed, steps)?;
                    Some(d)
                } else {
                    None
                };
                let elapsed = seconds + started.elapsed().as_secs_f64();
                let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6e}"));
                lines.push_str(&format!(
                    "{steps},{epoch},{d_loss:.6e},{adversarial:.6e},{},{},{elapsed:.2}\n",
                    cell(l1),
                    cell(diversity)
                ));
                if k % 20 == 0 || k + 1 == per_epoch {
                    let rate = ((k + 1) * self.batch_size) as f64 / epoch_started.elapsed().as_secs_f64().max(1e-9);
                    let left = (per_epoch - k - 1) as f64 * self.batch_size as f64 / rate.max(1e-9);
                    let l1_text = l1.map_or(String::new(), |v| format!("  l1 {v:.4}"));
                    eprintln!(
                        "epoch {epoch}/{} batch {}/{per_epoch}  d {d_loss:.4}  g {adversarial:.4}{l1_text}  {rate:.0} img/s  ETA epoch {}",
                        self.epochs,
                        k + 1,
                        clock(left)
                    );
                }
            }
            append(&losses_path, &lines)?;
            for action in cadence.decide(epoch) {
                match action {
                    CheckpointingAction::Save => {
                        self.checkpoint(&generator, &discriminator, &optim_g, &optim_d, epoch)?
                    }
                    CheckpointingAction::Delete(old) => {
                        for file in gan_checkpoint_files(self.run, old) {
                            let _ = std::fs::remove_file(file);
                        }
                    }
                }
            }
            eprintln!(
                "epoch {epoch}/{} done: {} generator updates, {}",
                self.epochs,
                steps,
                clock(epoch_started.elapsed().as_secs_f64())
            );
        }
        self.save_samples::<P>(&generator, &fixed, steps)?;
        Ok(Trained { generator, discriminator, steps, seconds: seconds + started.elapsed().as_secs_f64() })
    }

    /// The same inputs for every sample grid: the first validation items (their conditions for
    /// pix2pix; for the DCGAN the noise is drawn afresh from a fixed seed). `run_gan` has refused
    /// an empty validation split.
    fn fixed_inputs(&self) -> Result<GanBatch, RunError> {
        let items = (0..self.gan.samples.min(self.valid.len()))
            .map(|i| self.valid.get(i).map_err(|e| RunError::Run(format!("cannot read validation item {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = burn::data::dataloader::batcher::Batcher::batch(
            &ImageBatcher::default(),
            items,
            &self.device.clone().inner(),
        );
        Ok(GanBatch::from_batch(batch))
    }

    /// Draws the generator's images for `fixed` into `samples/step-NNNNNN.png`; returns their
    /// diversity over the real images' (1: as varied as the data; near 0: collapsed).
    fn save_samples<P: GanPair>(&self, generator: &P::G, fixed: &GanBatch, step: usize) -> Result<f64, RunError> {
        let device = self.device.clone().inner();
        device.seed(7);
        let made = P::generate(&generator.valid(), fixed);
        let ratio = batch_diversity(&made) / batch_diversity(&fixed.real);
        let dir = self.run.join("samples");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let [n, c, h, w] = made.dims();
        let pixels = made.add_scalar(1.0).mul_scalar(0.5).into_data().try_to_vec::<f32>().unwrap_or_default();
        let per = c * h * w;
        let images: Vec<(&[f32], [usize; 3])> = (0..n).map(|k| (&pixels[k * per..(k + 1) * per], [c, h, w])).collect();
        let path = dir.join(format!("step-{step:06}.png"));
        let columns = (n as f64).sqrt().ceil() as usize;
        astro_data::formats::image_io::save_grid(&path, &images, columns, (128 / h.max(1)).max(1))
            .map_err(RunError::Data)?;
        Ok(ratio)
    }

    fn checkpoint<G: Module, D: Module>(
        &self,
        generator: &G,
        discriminator: &D,
        optim_g: &ModuleOptimizer,
        optim_d: &ModuleOptimizer,
        epoch: usize,
    ) -> Result<(), RunError> {
        let [g, d, og, od] = gan_checkpoint_files(self.run, epoch);
        if let Some(dir) = g.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let fail = |what: &Path, e: String| RunError::Run(format!("cannot write {}: {e}", what.display()));
        generator.clone().save_file(&g).map_err(|e| fail(&g, e.to_string()))?;
        discriminator.clone().save_file(&d).map_err(|e| fail(&d, e.to_string()))?;
        optim_g.save(&og).map_err(|e| fail(&og, e.to_string()))?;
        optim_d.save(&od).map_err(|e| fail(&od, e.to_string()))?;
        Ok(())
    }
}

/// Stops the run when a player's loss is no longer a finite number (the run cannot recover).
fn check_finite(d_loss: f64, g_loss: f64, step: usize, epoch: usize) -> Result<(), RunError> {
    match [("discriminator", d_loss), ("generator", g_loss)].into_iter().find(|(_, v)| !v.is_finite()) {
        Some((what, value)) => Err(RunError::Diverged(format!(
            "the {what} loss became {value} at generator update {step} (epoch {epoch}); lower gan.lr"
        ))),
        None => Ok(()),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { what: "run file", path: path.to_path_buf(), source }
}

fn append(path: &Path, text: &str) -> Result<(), RunError> {
    std::fs::OpenOptions::new().append(true).open(path).and_then(|mut f| f.write_all(text.as_bytes())).map_err(io(path))
}

/// Drops the rows of `losses.csv` after `epoch`; returns the steps and seconds up to it.
fn keep_losses_through(path: &Path, epoch: usize) -> Result<(usize, f64), RunError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let mut kept = String::from(LOSSES_HEADER);
    kept.push('\n');
    let (mut steps, mut seconds) = (0, 0.0);
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let row_epoch: usize = cells.get(1).and_then(|c| c.parse().ok()).unwrap_or(usize::MAX);
        if row_epoch <= epoch {
            steps = cells[0].parse().unwrap_or(steps);
            seconds = cells.last().and_then(|c| c.parse().ok()).unwrap_or(seconds);
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(path, kept).map_err(io(path))?;
    Ok((steps, seconds))
}

/// One row of `losses.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossRow {
    /// Generator updates so far.
    pub step: usize,
    /// The discriminator's loss.
    pub d_loss: f64,
    /// The generator's adversarial loss.
    pub g_adversarial: f64,
    /// The generator's L1 loss (pix2pix).
    pub g_l1: Option<f64>,
    /// The sample diversity, where a grid was saved.
    pub diversity: Option<f64>,
}

/// The rows of `losses.csv`, one per generator update.
pub fn read_losses(path: &Path) -> Vec<LossRow> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let c: Vec<&str> = line.split(',').collect();
            let optional = |k: usize| c.get(k).and_then(|v| v.parse().ok());
            Some(LossRow {
                step: c.first()?.parse().ok()?,
                d_loss: c.get(2)?.parse().ok()?,
                g_adversarial: c.get(3)?.parse().ok()?,
                g_l1: optional(4),
                diversity: optional(5),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn diversity_is_the_mean_spread_across_the_batch_and_zero_when_collapsed() {
        let device = Device::flex();
        // Two images of two pixels: spreads (population std) 1 and 3, mean 2.
        let images = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 0.0, 2.0, 6.0], [2, 1, 1, 2]), &device);
        assert!((batch_diversity(&images) - 2.0).abs() < 1e-6);
        let same = Tensor::<4>::from_data(TensorData::new(vec![0.3f32, 0.7, 0.3, 0.7], [2, 1, 1, 2]), &device);
        assert!(batch_diversity(&same).abs() < 1e-6);
    }

    #[test]
    fn a_loss_that_is_not_a_number_stops_the_run_naming_the_player() {
        assert!(check_finite(0.7, 1.2, 5, 1).is_ok());
        let err = check_finite(0.7, f64::NAN, 12, 2).unwrap_err().to_string();
        assert!(err.contains("the generator loss became NaN at generator update 12 (epoch 2)"), "{err}");
        let err = check_finite(f64::INFINITY, 1.0, 3, 1).unwrap_err().to_string();
        assert!(err.contains("the discriminator loss became inf"), "{err}");
    }

    #[test]
    fn resuming_keeps_the_logged_updates_of_finished_epochs_and_finds_the_complete_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let losses = dir.path().join("losses.csv");
        let rows = "1,1,0.5,1.0,,,1.00\n2,1,0.5,1.0,,0.8,2.00\n3,2,0.5,1.0,,,3.00\n";
        std::fs::write(&losses, format!("{LOSSES_HEADER}\n{rows}")).unwrap();
        assert_eq!(keep_losses_through(&losses, 1).unwrap(), (2, 2.0));
        assert_eq!(read_losses(&losses).len(), 2);
        // Epoch 2's checkpoint lacks a file (killed while writing it): epoch 1 is the newest.
        for epoch in [1, 2] {
            for file in gan_checkpoint_files(dir.path(), epoch).iter().take(if epoch == 1 { 4 } else { 3 }) {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, b"x").unwrap();
            }
        }
        assert_eq!(last_gan_checkpoint(dir.path()), Some(1));
    }
}
