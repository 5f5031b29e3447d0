//! Simulator throughput: galaxies per second at the default 64-pixel size and at 128 pixels;
//! strong-lens scenes (45 x 45, one band) per second; variable-star light curves per second.
//! `cargo bench -p astro-sim` (or `cargo xtask bench`).

use astro_sim::GalaxySimConfig;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn galaxies(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_galaxy");
    group.throughput(Throughput::Elements(1));
    for size in [64usize, 128] {
        let config = GalaxySimConfig { image_size: size, ..GalaxySimConfig::default() };
        let mut index = 0u64;
        group.bench_function(format!("{size}px"), |b| {
            b.iter(|| {
                index += 1;
                std::hint::black_box(config.simulate(42, index))
            })
        });
    }
    group.finish();
}

fn lenses(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_lens");
    group.throughput(Throughput::Elements(1));
    let config = astro_sim::lens_scene::LensSimConfig::default();
    let mut index = 0u64;
    group.bench_function("45px", |b| {
        b.iter(|| {
            index += 1;
            std::hint::black_box(config.simulate(42, index))
        })
    });
    group.finish();
}

fn stars(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_star");
    group.throughput(Throughput::Elements(1));
    let config = astro_sim::variable_star::VariableStarSimConfig::default();
    let mut index = 0u64;
    group.bench_function("light_curve", |b| {
        b.iter(|| {
            index += 1;
            std::hint::black_box(config.simulate(42, index))
        })
    });
    group.finish();
}

criterion_group!(benches, galaxies, lenses, stars);
criterion_main!(benches);
