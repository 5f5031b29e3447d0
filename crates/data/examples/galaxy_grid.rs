//! Writes a grid of simulated galaxies to look at, with each one's kind and components:
//! `cargo run --release -p astro-data --example galaxy_grid -- OUT.png [SIZE] [COUNT] [SEED] [ARCSEC_PER_PIXEL] [SIMULATOR.toml]`.
//! `SIMULATOR.toml` holds `[data.simulator]` keys (the size and scale arguments win over its
//! own). Last, it prints the pictures' sky level and scatter, the brightness of their centres and
//! the number of field sources around the galaxy, the numbers
//! `crates/sim/tests/fixtures/gz_decals_calibration.py` prints for real images.

use std::path::PathBuf;

use astro_data::formats::image_io::save_grid;
use astro_sim::GalaxySimConfig;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).map_or("galaxies.png", |s| s.as_str()));
    let arg = |i: usize, default: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (size, count, seed) = (arg(2, 98) as usize, arg(3, 48), arg(4, 1));
    let defaults = match args.get(6) {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
            toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
        None => GalaxySimConfig::default(),
    };
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
    print_look(&galaxies, size);
    print_ring_colours(&galaxies, size);
    print_field_sources(&galaxies, size);
}

/// Sources other than the central galaxy, per picture, as `gz_decals_calibration.py` counts
/// them in real ones: 8-connected groups of at least 2 pixels whose mean over the planes lies 5
/// robust scatters (1.4826 MAD over the whole picture) above its median, less those reaching the
/// central 5 x 5 pixels.
fn print_field_sources(galaxies: &[astro_sim::SimulatedGalaxy], size: usize) {
    let n = size * size;
    let mut counts: Vec<usize> = galaxies
        .iter()
        .map(|g| {
            let mean: Vec<f64> = (0..n).map(|p| f64::from(g.rgb[p] + g.rgb[n + p] + g.rgb[2 * n + p]) / 3.0).collect();
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let level = median(mean.clone());
            let scatter = 1.4826 * median(mean.iter().map(|v| (v - level).abs()).collect());
            let mut unvisited: Vec<bool> = mean.iter().map(|&v| v > level + 5.0 * scatter).collect();
            let centre = size / 2;
            let central = |p: usize| (p % size).abs_diff(centre) <= 2 && (p / size).abs_diff(centre) <= 2;
            let mut sources = 0;
            for start in 0..n {
                if !unvisited[start] {
                    continue;
                }
                unvisited[start] = false;
                let (mut stack, mut pixels, mut touches_centre) = (vec![start], 0, false);
                while let Some(p) = stack.pop() {
                    pixels += 1;
                    touches_centre |= central(p);
                    let (x, y) = ((p % size) as i64, (p / size) as i64);
                    for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                        let (nx, ny) = (x + dx, y + dy);
                        if (0..size as i64).contains(&nx) && (0..size as i64).contains(&ny) {
                            let q = ny as usize * size + nx as usize;
                            if unvisited[q] {
                                unvisited[q] = false;
                                stack.push(q);
                            }
                        }
                    }
                }
                sources += usize::from(pixels >= 2 && !touches_centre);
            }
            sources
        })
        .collect();
    counts.sort_unstable();
    let at = |q: f64| counts[((counts.len() - 1) as f64 * q).round() as usize];
    let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    println!("field sources per picture: mean {mean:.1}, percentiles 10/50/90 {} {} {}", at(0.1), at(0.5), at(0.9));
}

/// The mean R - B of pixels brighter than 0.3 (mean of the planes), averaged over galaxies with
/// a ring component and over the others, as `gz_decals_calibration.py` prints for real rings.
fn print_ring_colours(galaxies: &[astro_sim::SimulatedGalaxy], size: usize) {
    let n = size * size;
    let mut sums = [(0.0, 0); 2];
    for g in galaxies {
        let bright: Vec<f64> = (0..n)
            .filter(|&p| (g.rgb[p] + g.rgb[n + p] + g.rgb[2 * n + p]) / 3.0 > 0.3)
            .map(|p| f64::from(g.rgb[p] - g.rgb[2 * n + p]))
            .collect();
        if !bright.is_empty() {
            let class = usize::from(g.params.ring_fraction > 0.0);
            sums[class].0 += bright.iter().sum::<f64>() / bright.len() as f64;
            sums[class].1 += 1;
        }
    }
    for (class, name) in [(1, "ring"), (0, "no ring")] {
        let (sum, count) = sums[class];
        println!("{name}: {count} galaxies, mean R - B of bright pixels {:.3}", sum / count.max(1) as f64);
    }
}

/// The median over galaxies of each plane's sky level and robust scatter (median and 1.4826 MAD
/// of the four corners, a seventh of the side each), and percentiles of the central squares'
/// (a sixteenth of the side) mean brightness, in 8-bit units.
fn print_look(galaxies: &[astro_sim::SimulatedGalaxy], size: usize) {
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (corner, centre) = ((size / 7).max(1), (size / 16).max(1));
    for (plane, name) in ["R", "G", "B"].iter().enumerate() {
        let (mut levels, mut scatters, mut centres) = (vec![], vec![], vec![]);
        for g in galaxies {
            let pixel = |x: usize, y: usize| f64::from(g.rgb[plane * size * size + y * size + x]) * 255.0;
            let near = |c: usize, n: usize| c < n || c >= size - n;
            let mut sky: Vec<f64> = (0..size * size)
                .map(|i| (i % size, i / size))
                .filter(|&(x, y)| near(x, corner) && near(y, corner))
                .map(|(x, y)| pixel(x, y))
                .collect();
            let level = median(&mut sky);
            let mut deviations: Vec<f64> = sky.iter().map(|v| (v - level).abs()).collect();
            scatters.push(1.4826 * median(&mut deviations));
            levels.push(level);
            let from = (size - centre) / 2;
            let square: Vec<f64> = (from..from + centre)
                .flat_map(|y| (from..from + centre).map(move |x| (x, y)))
                .map(|(x, y)| pixel(x, y))
                .collect();
            centres.push(square.iter().sum::<f64>() / square.len() as f64);
        }
        centres.sort_by(f64::total_cmp);
        let at = |q: f64| centres[((centres.len() - 1) as f64 * q).round() as usize];
        println!(
            "{name}: sky level {:.1}/255, scatter {:.2}/255; centre percentiles 10/50/90 {:.1} {:.1} {:.1}/255",
            median(&mut levels),
            median(&mut scatters),
            at(0.1),
            at(0.5),
            at(0.9)
        );
    }
}
