//! Times the parts of one simulated galaxy (render, PSF, noise) to see where the time goes.

use std::time::Instant;

use astro_sim::GalaxySimConfig;
use astro_sim::image::Image;
use astro_sim::noise::NoiseModel;
use astro_sim::rng::SampleRng;

fn main() {
    let config = GalaxySimConfig::default();
    let n = 300;
    let t = Instant::now();
    for i in 0..n {
        let p = config.sample_params(1, i);
        std::hint::black_box(config.render_shape(&p));
    }
    let shape = t.elapsed().as_secs_f64() / n as f64;
    let noise = NoiseModel { sky: config.sky, read_noise: config.read_noise };
    let t = Instant::now();
    for i in 0..n {
        let mut img = Image { width: 64, height: 64, data: vec![10.0; 4096] };
        noise.apply(&mut img, &mut SampleRng::for_sample(1, 1, i));
        std::hint::black_box(img);
    }
    let noise_t = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(config.simulate(1, i));
    }
    let total = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "shape+psf {:.3} ms, noise per band {:.3} ms, whole galaxy {:.3} ms",
        shape * 1e3,
        noise_t * 1e3,
        total * 1e3
    );
}
