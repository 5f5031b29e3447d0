//! Training and inference throughput of every paper network at its default config's size, on
//! the backends compiled into the trainer, with the peak heap memory of each row on the CPU
//! backends ([`peak_memory`]):
//! - `galaxy_cnn` (Dieleman, quarter widths, batch 32; the config's is 16), `rrlyrae_rnn` (bidirectional LSTM, the
//!   paper's batch of 256, 64 steps), `deeplens_resnet` (pre-activation ResNet, half widths,
//!   batch 64), `semantic_autoencoder` (the encoder at half widths and the rendering decoder,
//!   batch 20): a training step (the trainer's: forward, backward, optimiser; on the CPU backends
//!   as two concurrent half batches, `astro_train::fit::halves`) and inference on one batch;
//!   `rrlyrae_rnn` again with each form of the gates' sigmoid and tanh (`<backend>-exact-gates`
//!   and `<backend>-rational-gates` rows);
//! - `galaxy_gan` (pix2pix, half filters, batch 16) and `cosmo_gan` (DCGAN, half filters, batch
//!   32): one adversarial update (the config's discriminator steps and one generator step) and
//!   the generator's inference;
//! - data loading: simulating a batch of galaxies, and augmenting one;
//! - every network again at the paper's size ([`PAPER_SIZES`], groups `<name>_paper`).
//!
//! The CPU rows compute ELU on the host's threads and train batch norm without copies as the
//! trainer does (`astro_models::host_elu`, `astro_models::batch_norm`); `NO_HOST_ELU=1`,
//! `NO_COPY_FREE_BN=1`, `NO_DIRECT_MAX_POOL=1` (`astro_models::max_pool_2x2`) and
//! `NO_DIRECT_CONV=1` (`astro_models::conv2d`) in the environment keep Burn's forms, and
//! `NO_FUSED_LSTM=1` the LSTM step by step (`astro_models::recurrent::fused_lstm`), to time the
//! two against each other; `NO_HALVES=1` steps whole batches on the CPU backends.
//!
//! `cargo bench -p trainer` (or `cargo xtask bench`, which prints the table beside PyTorch's
//! twins, `*_pytorch.py` beside this folder); with `--features tch`, LibTorch too.

// The trainer's allocator settings, so that the steps run as in the trainer.
#[path = "../../src/allocator.rs"]
mod allocator;
mod peak_memory;

use std::cell::OnceCell;
use std::path::Path;

use astro_data::{AugmentConfig, Augmenter, ImageBatch, ImageBatcher, ImageItem, OpenedData};
use astro_train::config::{ExperimentConfig, load_config};
use astro_train::fit::supervised::Supervised;
use astro_train::gan::fit::{adam, adversarial_update};
use astro_train::gan::pair::{DcganPair, GanBatch, GanPair, Pix2pixPair};
use astro_train::run::train::{input_shape, prepare};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::TrainStep;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use peak_memory::Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// Pushes are cfg-gated per backend, so vec![] cannot be used.
#[allow(clippy::vec_init_then_push)]
fn devices() -> Vec<(&'static str, Device)> {
    let mut out = Vec::new();
    #[cfg(feature = "flex")]
    out.push(("flex", Device::flex()));
    #[cfg(feature = "ndarray")]
    out.push(("ndarray", Device::ndarray()));
    #[cfg(feature = "wgpu")]
    out.push(("wgpu", Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)));
    #[cfg(feature = "cuda")]
    out.push(("cuda", Device::cuda(0)));
    #[cfg(feature = "tch")]
    #[allow(deprecated)] // Burn's LibTorch backend: the PyTorch-kernel comparison
    out.push(("tch", Device::libtorch()));
    out
}

/// Whether the backend's tensors live in Rust's heap, where [`PeakMemory`] sees them (`backend`
/// may carry a variant after a dash: `flex-exact-gates`).
fn heap_is_seen(backend: &str) -> bool {
    matches!(backend.split('-').next(), Some("flex" | "ndarray"))
}

/// The overrides that give each network of `configs/` the paper's size (the sizes of issue 20's
/// table, which its PyTorch twin takes as arguments in `xtask/src/side_by_side.rs`): Dieleman at
/// full widths (42.3M parameters), batch 16; the BiLSTM on 200 steps, batch 64; DeepLens at full
/// widths, batch 64; the semantic encoder at full widths, batch 20; pix2pix with 64 filters on
/// 256-pixel images, batch 1; the DCGAN pair with 64 filters on 256-pixel slices, batch 16 (the
/// paper's code: 64; one update would take half a minute here, and the rate per slice hardly
/// depends on the batch at this size).
const PAPER_SIZES: [(&str, &[&str]); 6] = [
    ("galaxy_cnn", &["model.conv_channels=[32, 64, 128, 128]", "model.dense_units=2048", "training.batch_size=16"]),
    ("rrlyrae_rnn", &["data.sequence.length=200", "training.batch_size=64"]),
    ("deeplens_resnet", &["model.stem_channels=32", "model.widths=[32, 64, 128, 256, 512]"]),
    ("semantic_autoencoder", &["model.conv_widths=[32, 64, 128]"]),
    ("galaxy_gan", &["model.filters=64", "data.simulator.image_size=256", "training.batch_size=1"]),
    ("cosmo_gan", &["model.filters=64", "data.simulator.grid=256", "training.batch_size=16"]),
];

/// A config of `configs/` with `overrides`.
fn config(name: &str, overrides: &[&str]) -> ExperimentConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../configs/{name}.toml"));
    let overrides: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
    load_config(&path, &overrides, false).unwrap_or_else(|e| panic!("{name}.toml: {e}"))
}

/// A config's opened data and its first training batch, prepared when a row first needs them:
/// rows that criterion's filter leaves out build neither (the paper-size density boxes alone
/// took 13 s).
struct Prepared<'a> {
    config: &'a ExperimentConfig,
    name: &'a str,
    cell: OnceCell<(OpenedData, Vec<ImageItem>)>,
}

impl<'a> Prepared<'a> {
    fn new(config: &'a ExperimentConfig, name: &'a str) -> Self {
        Self { config, name, cell: OnceCell::new() }
    }

    /// The opened data and the first training batch.
    fn get(&self) -> (&OpenedData, &[ImageItem]) {
        let (data, items) = self.cell.get_or_init(|| {
            let (data, _) =
                prepare(self.config).unwrap_or_else(|e| panic!("{}: the data does not open: {e}", self.name));
            let items = (0..self.config.training.batch_size).map(|i| data.train.get(i).expect("item")).collect();
            (data, items)
        });
        (data, items)
    }
}

fn throughput(c: &mut Criterion) {
    allocator::keep_freed_memory();
    // Batch 32 (the config trains with 16), as the README's rows since the first measurement;
    // uncached, so that `simulate+batch` runs the simulator for every image.
    let galaxy_cnn = config("galaxy_cnn", &["training.batch_size=32", "data.cache=false"]);
    let prepared = Prepared::new(&galaxy_cnn, "galaxy_cnn");
    let batch = galaxy_cnn.training.batch_size;
    let mut group = c.benchmark_group("galaxy_cnn");
    group.throughput(Throughput::Elements(batch as u64));
    group.sample_size(20);
    group.bench_function("simulate+batch", |b| {
        let (data, _) = prepared.get();
        let mut start = 0;
        b.iter(|| {
            start += batch;
            let items: Vec<_> =
                (start..start + batch).map(|i| data.train.get(i % data.train.len()).expect("item")).collect();
            std::hint::black_box(ImageBatcher::default().batch(items, &Device::default()))
        })
    });
    group.bench_function("augment+batch", |b| {
        let batcher = ImageBatcher::augmented(Augmenter::new(AugmentConfig::default(), 1));
        let (_, items) = prepared.get();
        b.iter(|| std::hint::black_box(batcher.batch(items.to_vec(), &Device::default())))
    });
    model_steps(&mut group, "galaxy_cnn", &galaxy_cnn, &prepared, "");
    group.finish();

    for name in ["rrlyrae_rnn", "deeplens_resnet", "semantic_autoencoder", "galaxy_gan", "cosmo_gan"] {
        network(c, name, name, &config(name, &[]));
    }
    for (name, overrides) in PAPER_SIZES {
        network(c, name, &format!("{name}_paper"), &config(name, overrides));
    }
}

/// The rows of the network `name` (a config of `configs/`) as the group `group`: its training
/// step or adversarial update and its inference on the first training batch of `config`.
fn network(c: &mut Criterion, name: &str, group: &str, config: &ExperimentConfig) {
    let prepared = Prepared::new(config, group);
    let mut rows = c.benchmark_group(group);
    rows.throughput(Throughput::Elements(config.training.batch_size as u64));
    rows.sample_size(10);
    match name {
        "galaxy_gan" => gan_steps::<Pix2pixPair>(&mut rows, group, config, &prepared),
        "cosmo_gan" => gan_steps::<DcganPair>(&mut rows, group, config, &prepared),
        _ => model_steps(&mut rows, group, config, &prepared, ""),
    }
    if group == "rrlyrae_rnn" {
        // Both gate functions on every backend, beside the default (`auto`) rows.
        for gates in ["exact", "rational"] {
            let variant = self::config(name, &[&format!("model.gate_functions=\"{gates}\"")]);
            model_steps(&mut rows, group, &variant, &prepared, &format!("-{gates}-gates"));
        }
    }
    rows.finish();
}

/// Times the step that `make` builds as the row `bench` of `group` (`train_step/flex`, ...);
/// `make` runs only when criterion runs the row (not when its filter leaves the row out). When
/// the row runs and the backend's tensors live in Rust's heap, its first steps measure and record
/// its peak memory (a training row's include the optimiser state they make).
fn row<S: FnMut()>(group: &mut BenchmarkGroup<WallTime>, name: &str, bench: &str, make: impl FnOnce() -> S) {
    let backend = bench.rsplit('/').next().unwrap_or_default();
    let (mut make, mut step, mut peak) = (Some(make), None, None);
    group.bench_function(bench, |b| {
        // Criterion may call this more than once (warm-up, then samples): build and measure once, first.
        let step = step.get_or_insert_with(|| make.take().expect("the step is built once")());
        if peak.is_none() && heap_is_seen(backend) {
            // Rows run one after another in this process: the scratch buffers an earlier row grew
            // would serve this one uncounted.
            astro_train::release_scratch_buffers();
            peak = Some(peak_memory::peak_of(&mut *step));
        }
        b.iter(&mut *step)
    });
    if let Some(peak) = peak {
        peak_memory::record(name, bench, peak);
    }
}

/// A training step (forward, backward, optimiser) and inference on the first training batch of
/// `prepared`, on every compiled backend, for the model of `config`; `variant` follows the
/// backend in the rows' names.
fn model_steps(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    config: &ExperimentConfig,
    prepared: &Prepared,
    variant: &str,
) {
    for (backend, device) in devices() {
        let model = |device: &Device, data: &OpenedData| {
            Supervised::new(
                config.model.init(input_shape(data), data.info.target_names.len(), device).expect("model builds"),
                data.info.task,
            )
        };
        row(group, name, &format!("train_step/{backend}{variant}"), || {
            host_forms(backend);
            let (data, items) = prepared.get();
            let ad = device.clone().autodiff();
            let mut model = model(&ad, data);
            // Steps as the trainer's on this backend (two concurrent half batches on the CPU ones).
            model.halves = matches!(backend, "flex" | "ndarray") && std::env::var_os("NO_HALVES").is_none();
            let mut optim = config.optimizer.build();
            let lr = config.optimizer.lr;
            let batch: ImageBatch = ImageBatcher::default().batch(items.to_vec(), &ad);
            move || {
                let out = TrainStep::step(&model, batch.clone());
                model = optim.step(lr, model.clone(), out.grads);
                std::hint::black_box(&model);
            }
        });
        row(group, name, &format!("inference/{backend}{variant}"), || {
            host_forms(backend);
            let (data, items) = prepared.get();
            let inference = model(&device, data).valid();
            let batch: ImageBatch = ImageBatcher::default().batch(items.to_vec(), &device);
            move || {
                std::hint::black_box(inference.predict(batch.images.clone(), None).into_data());
            }
        });
    }
}

/// The gate functions, ELU and batch norm in the forms the trainer gives `backend`
/// (`crates/trainer/src/device.rs`), unless the environment asks for Burn's ELU, batch norm or
/// max pooling.
fn host_forms(backend: &str) {
    let cpu = matches!(backend, "flex" | "ndarray");
    astro_train::set_auto_gate_functions(cpu);
    astro_train::set_host_elu(cpu && std::env::var_os("NO_HOST_ELU").is_none());
    astro_train::set_copy_free_batch_norm(cpu && std::env::var_os("NO_COPY_FREE_BN").is_none());
    // The direct kernel applies on `flex` only, by itself; this switch times Burn's form there.
    astro_train::set_direct_max_pool(std::env::var_os("NO_DIRECT_MAX_POOL").is_none());
    astro_train::set_direct_conv(std::env::var_os("NO_DIRECT_CONV").is_none());
    astro_train::set_fused_lstm(std::env::var_os("NO_FUSED_LSTM").is_none());
}

/// One adversarial update (the training loop's own) and the generator's inference on the first
/// training batch of `prepared`, on every compiled backend.
fn gan_steps<P: GanPair>(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    config: &ExperimentConfig,
    prepared: &Prepared,
) {
    let init =
        |device: &Device, data: &OpenedData| P::init(&config.model, input_shape(data), device).expect("the GAN builds");
    let gan = config.gan.clone().unwrap_or_default();
    for (backend, device) in devices() {
        row(group, name, &format!("train_step/{backend}"), || {
            host_forms(backend);
            let (data, items) = prepared.get();
            let ad = device.clone().autodiff();
            let mut players: Option<(P::G, P::D)> = Some(init(&ad, data));
            let (mut optim_g, mut optim_d) = (adam(&gan), adam(&gan));
            let batch = GanBatch::from_batch(ImageBatcher::default().batch(items.to_vec(), &ad));
            let gan = gan.clone();
            move || {
                let (g, d, losses) = adversarial_update::<P>(
                    players.take().expect("players are put back after each update"),
                    (&mut optim_g, &mut optim_d),
                    &batch,
                    &gan,
                );
                std::hint::black_box(losses);
                players = Some((g, d));
            }
        });
        row(group, name, &format!("inference/{backend}"), || {
            host_forms(backend);
            let (data, items) = prepared.get();
            let (generator, _) = init(&device, data);
            let batch = GanBatch::from_batch(ImageBatcher::default().batch(items.to_vec(), &device));
            move || {
                std::hint::black_box(P::generate(&generator, &batch).into_data());
            }
        });
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
