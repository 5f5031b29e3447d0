//! Label statistics of the simulated Galaxy Zoo answers: spread of the expected fractions and
//! the vote noise around them; the Galaxy10 classes the same votes give.
fn main() {
    let c = astro_sim::GalaxySimConfig { image_size: 98, ..Default::default() };
    let n = 3000;
    let mut mean = [0.0; 37];
    let rows: Vec<([f64; 37], [f64; 37])> =
        (0..n).map(|i| (astro_sim::galaxy_zoo::expected_answers(&c.sample_params(42, i)), c.answers(42, i))).collect();
    for (_, v) in &rows {
        for k in 0..37 {
            mean[k] += v[k] / n as f64;
        }
    }
    let (mut noise, mut base, mut exp_base) = (0.0, 0.0, 0.0);
    let mut emean = [0.0; 37];
    for (e, _) in &rows {
        for k in 0..37 {
            emean[k] += e[k] / n as f64;
        }
    }
    for (e, v) in &rows {
        for k in 0..37 {
            noise += (v[k] - e[k]).powi(2);
            base += (v[k] - mean[k]).powi(2);
            exp_base += (e[k] - emean[k]).powi(2);
        }
    }
    let d = (n * 37) as f64;
    println!(
        "vote noise rmse {:.4}, baseline rmse {:.4}, expected-answer spread {:.4}",
        (noise / d).sqrt(),
        (base / d).sqrt(),
        (exp_base / d).sqrt()
    );
    galaxy10_mix(&c, n);
}

/// The share of galaxies the Galaxy10 cut accepts, and the class mix it gives.
fn galaxy10_mix(c: &astro_sim::GalaxySimConfig, n: u64) {
    let mut counts = [0usize; 10];
    let (mut accepted, mut agree) = (0, 0);
    for i in 0..n {
        if let Some(k) = astro_sim::galaxy10::galaxy10_class(&c.answers(42, i)) {
            counts[k] += 1;
            accepted += 1;
            let expected = astro_sim::galaxy_zoo::expected_answers(&c.sample_params(42, i));
            agree += usize::from(astro_sim::galaxy10::galaxy10_class(&expected) == Some(k));
        }
    }
    println!(
        "Galaxy10: {:.1}% of galaxies accepted; {:.1}% of them have the class their expected answers give",
        100.0 * accepted as f64 / n as f64,
        100.0 * agree as f64 / accepted.max(1) as f64
    );
    for (k, name) in astro_sim::galaxy10::GALAXY10_CLASSES.iter().enumerate() {
        println!("  {k} {name:<24} {:5.1}%", 100.0 * counts[k] as f64 / accepted.max(1) as f64);
    }
}
