//! Writes a grid of simulated galaxies to look at, with each one's kind and components:
//! `cargo run --release -p astro-data --example galaxy_grid -- OUT.png [SIZE] [COUNT] [SEED] [ARCSEC_PER_PIXEL]`.

use std::path::PathBuf;

use astro_data::formats::image_io::save_grid;
use astro_sim::GalaxySimConfig;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).map_or("galaxies.png", |s| s.as_str()));
    let arg = |i: usize, default: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (size, count, seed) = (arg(2, 98) as usize, arg(3, 48), arg(4, 1));
    let defaults = GalaxySimConfig::default();
    let scale = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(defaults.pixel_scale_arcsec);
    let config = GalaxySimConfig { image_size: size, pixel_scale_arcsec: scale, ..defaults };
    let galaxies: Vec<_> = (0..count).map(|i| config.simulate(seed, i)).collect();
    for (i, g) in galaxies.iter().enumerate() {
        let p = &g.params;
        println!(
            "{i:3} {:?} snr {:5.0} B/T {:.2} incl {:4.0} bar {:.2} arms {} pitch {:4.1} str {:.2} ring {:.2} dust {:.1} knots {:.2} companion {:.2} stars {}  smooth {:.2} features {:.2} star {:.2}",
            p.kind,
            p.snr,
            p.bulge_to_total,
            p.inclination_deg,
            p.bar_fraction,
            p.arm_count,
            p.arm_pitch_deg,
            p.arm_strength,
            p.ring_fraction,
            p.dust_depth,
            p.knot_fraction,
            p.companion_ratio,
            p.foreground_stars,
            g.answers[0],
            g.answers[1],
            g.answers[2]
        );
    }
    let images: Vec<(&[f32], [usize; 3])> = galaxies.iter().map(|g| (g.rgb.as_slice(), [3, size, size])).collect();
    save_grid(&out, &images, 8, 2).expect("write the grid");
    println!("wrote {}", out.display());
}
