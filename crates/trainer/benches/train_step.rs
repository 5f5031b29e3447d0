//! Training and inference throughput on the backends compiled into the trainer: the
//! `galaxy_cnn` model (images per second, batch 32, the config's images) and the `rrlyrae_rnn`
//! bidirectional LSTM (light curves per second, the paper's batch of 256, the config's 64
//! steps); and data-loading throughput: simulating a batch of galaxies, and augmenting one.
//! `cargo bench -p trainer` (or `cargo xtask bench`); with `--features tch`, LibTorch too.
//! `rrlyrae_rnn_pytorch.py` beside this file times the same BiLSTM in PyTorch.

use std::path::Path;

use astro_data::{AugmentConfig, Augmenter, ImageBatch, ImageBatcher, ImageItem};
use astro_train::config::{ExperimentConfig, load_config};
use astro_train::fit::supervised::Supervised;
use astro_train::run::train::{input_shape, prepare};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 32;

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

fn throughput(c: &mut Criterion) {
    // As the trainer does: freed memory is kept for the next step.
    astro_train::memory::keep_freed_memory();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/galaxy_cnn.toml");
    // Uncached, so that `simulate+batch` runs the simulator for every image.
    let config = load_config(&path, &["data.cache=false".to_string()], false).expect("galaxy_cnn.toml loads");
    let (data, _) = prepare(&config).expect("data opens");
    let items: Vec<_> = (0..BATCH).map(|i| data.train.get(i).expect("item")).collect();

    let mut group = c.benchmark_group("galaxy_cnn");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("simulate+batch", |b| {
        let mut start = 0;
        b.iter(|| {
            start += BATCH;
            let batch: Vec<_> =
                (start..start + BATCH).map(|i| data.train.get(i % data.train.len()).expect("item")).collect();
            std::hint::black_box(ImageBatcher::default().batch(batch, &Device::default()))
        })
    });
    group.bench_function("augment+batch", |b| {
        let batcher = ImageBatcher::augmented(Augmenter::new(AugmentConfig::default(), 1));
        b.iter(|| std::hint::black_box(batcher.batch(items.clone(), &Device::default())))
    });
    model_steps(&mut group, &config, &items);
    group.finish();

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/rrlyrae_rnn.toml");
    let config = load_config(&path, &[], false).expect("rrlyrae_rnn.toml loads");
    let (data, _) = prepare(&config).expect("data opens");
    let batch = config.training.batch_size;
    let items: Vec<_> = (0..batch).map(|i| data.train.get(i).expect("item")).collect();
    let mut group = c.benchmark_group("rrlyrae_rnn");
    group.throughput(Throughput::Elements(batch as u64));
    group.sample_size(10);
    model_steps(&mut group, &config, &items);
    group.finish();
}

/// A training step (forward, backward, optimiser) and inference on one batch of `items`, on
/// every compiled backend.
fn model_steps(group: &mut BenchmarkGroup<WallTime>, config: &ExperimentConfig, items: &[ImageItem]) {
    let (data, _) = prepare(config).expect("data opens");
    for (name, device) in devices() {
        let ad = device.clone().autodiff();
        let mut model = Supervised::new(
            config.model.init(input_shape(&data), data.info.target_names.len(), &ad).expect("model builds"),
            data.info.task,
        );
        let mut optim = config.optimizer.build();
        let batch: ImageBatch = ImageBatcher::default().batch(items.to_vec(), &ad);
        group.bench_function(format!("train_step/{name}"), |b| {
            b.iter(|| {
                let out = model.forward_step(batch.clone());
                let grads = GradientsParams::from_grads(out.loss.mean().backward(), &model);
                model = optim.step(1e-3_f64, model.clone(), grads);
                std::hint::black_box(&model);
            })
        });
        let inference = Supervised::new(
            config.model.init(input_shape(&data), data.info.target_names.len(), &device).expect("model builds"),
            data.info.task,
        )
        .valid();
        let batch: ImageBatch = ImageBatcher::default().batch(items.to_vec(), &device);
        group.bench_function(format!("inference/{name}"), |b| {
            b.iter(|| std::hint::black_box(inference.predict(batch.images.clone(), None).into_data()))
        });
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
