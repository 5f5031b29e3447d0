//! Simulator throughput: galaxies per second at the default 64-pixel size and at 128 pixels;
//! strong-lens scenes (45 x 45, one band) per second; variable-star light curves per second;
//! periods found per second.
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

/// The period search of `fold = "periodogram"`, per curve on one core (simulated stars of every
/// kind, 50-300 epochs over 2-6 seasons).
fn periods(c: &mut Criterion) {
    let mut group = c.benchmark_group("period_search");
    group.throughput(Throughput::Elements(1));
    let config = astro_sim::variable_star::VariableStarSimConfig::default();
    let curves: Vec<_> = (0..64).map(|i| config.simulate(42, i).curve).collect();
    let search = astro_sim::period_search::PeriodSearch::default();
    let mut index = 0usize;
    group.bench_function("light_curve", |b| {
        b.iter(|| {
            index += 1;
            std::hint::black_box(search.find(&curves[index % curves.len()]))
        })
    });
    group.finish();
}

criterion_group!(benches, galaxies, lenses, stars, periods);
criterion_main!(benches);
