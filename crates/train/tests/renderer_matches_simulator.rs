//! The semantic autoencoder's decoder (crate `models`, on tensors) draws exactly the images the
//! profile simulator (crate `sim`, on plain arrays) makes for the same parameters: what the
//! network learns to match is what the data is.

use astro_models::semantic::renderer::{Profile, ProfileRenderer};
use astro_sim::profile::{ProfileKind, ProfileSimConfig};
use burn::tensor::{Device, Tensor, TensorData};

fn compare(kind: ProfileKind, profile: Profile) {
    let sim = ProfileSimConfig { profile: kind, ..ProfileSimConfig::default() };
    let renderer = ProfileRenderer { profile, size: sim.image_size, half_span: sim.half_span };
    let device = Device::flex();
    let samples: Vec<_> = (0..12).map(|i| sim.sample_params(7, i)).collect();
    let targets: Vec<f32> = samples.iter().flat_map(|p| p.as_targets(kind)).map(|v| v as f32).collect();
    let width = profile.parameters();
    let params = Tensor::<2>::from_data(TensorData::new(targets, [samples.len(), width]), &device);
    let rendered = renderer.render(params).into_data().try_to_vec::<f32>().unwrap();
    let n = sim.image_size * sim.image_size;
    for (k, p) in samples.iter().enumerate() {
        let expected = sim.render(p);
        let worst = rendered[k * n..(k + 1) * n]
            .iter()
            .zip(&expected.data)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        // f32 tensors against f64 arrays: agreement to single precision.
        assert!(worst < 2e-5, "{kind:?} sample {k} ({p:?}): largest difference {worst}");
    }
}

#[test]
fn the_exponential_renderer_draws_the_simulators_images() {
    compare(ProfileKind::Exponential, Profile::Exponential);
}

#[test]
fn the_sersic_renderer_draws_the_simulators_images() {
    compare(ProfileKind::Sersic, Profile::Sersic);
}
