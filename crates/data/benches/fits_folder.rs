//! FITS read throughput: a folder of 64 x 64 float32 cutouts (10,000 by default;
//! `ASTRO_BENCH_FILES` sets another count) read with this project's reader on one thread and on
//! all cores, and with astropy (`fits_folder_astropy.py`, one process, one thread) where
//! `ASTRO_PYTHON` (default `python3`) imports it: files/s of each, in one run on one folder.
//! `cargo bench -p astro-data --bench fits_folder`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use astro_data::formats::fits::{read_fits, write_fits};
use rayon::prelude::*;

fn main() {
    let n: usize = std::env::var("ASTRO_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let side = 64;
    let paths: Vec<PathBuf> = (0..n)
        .into_par_iter()
        .map(|i| {
            let data: Vec<f32> = (0..side * side).map(|k| ((k * 7 + i * 13) % 101) as f32 * 0.01 - 0.5).collect();
            let path = dir.path().join(format!("cutout-{i:06}.fits"));
            write_fits(&path, side, side, &data).expect("written");
            path
        })
        .collect();
    let sum = |values: Vec<f64>| values.iter().sum::<f64>();

    let started = Instant::now();
    let total = sum(paths.iter().map(|p| read_fits(p, None).expect("read").data.iter().sum::<f64>()).collect());
    let one_thread = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = sum(paths.par_iter().map(|p| read_fits(p, None).expect("read").data.iter().sum::<f64>()).collect());
    let all_cores = n as f64 / started.elapsed().as_secs_f64();
    assert!((total - again).abs() <= 1e-6 * total.abs().max(1.0));
    println!("fits_folder: {n} files of {side}x{side} float32");
    println!("  this project (CFITSIO), 1 thread: {one_thread:.0} files/s");
    println!("  this project (CFITSIO), {} threads: {all_cores:.0} files/s", rayon::current_num_threads());

    let python = std::env::var("ASTRO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fits_folder_astropy.py");
    match Command::new(&python).arg(script).arg(dir.path()).output() {
        Ok(out) if out.status.success() => print!("  {}", String::from_utf8_lossy(&out.stdout)),
        Ok(out) => println!("  astropy: not measured ({})", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => println!("  astropy: not measured ({python}: {e})"),
    }
}
