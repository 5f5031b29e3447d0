//! Every image HDU in the installed astropy's own FITS test files reads as astropy reads it:
//! `fixtures/astropy_test_images.py` writes astropy's values, this test compares CFITSIO's. It
//! runs where `ASTRO_PYTHON` (default `python3`) imports astropy, and says so where it does not.
//! Values agree to 1e-9 relative, or to float32 rounding where astropy's values are float32.

use std::path::{Path, PathBuf};
use std::process::Command;

use astro_data::formats::fits::{Planes, read_fits_planes};

#[derive(serde::Deserialize)]
struct Manifest {
    astropy: String,
    images: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    file: PathBuf,
    hdu: usize,
    shape: [usize; 3],
    dtype: String,
    values: String,
}

fn python() -> String {
    std::env::var("ASTRO_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Compares one HDU; the error says how it differs.
fn compare(entry: &Entry, dir: &Path) -> Result<(), String> {
    let image = read_fits_planes(&entry.file, Some(entry.hdu), Planes::All).map_err(|e| e.to_string())?;
    let shape = [image.planes, image.height, image.width];
    if shape != entry.shape {
        return Err(format!("shape {shape:?}, astropy {:?}", entry.shape));
    }
    let bytes = std::fs::read(dir.join(&entry.values)).map_err(|e| e.to_string())?;
    let want: Vec<f64> = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    // Where astropy computes in float32 (scaled 16-bit integers: stored x BSCALE + BZERO rounded
    // at each step), the exact value read here differs from astropy's by float32 rounding.
    let tolerance = if entry.dtype == "float32" { 4.0 * f64::from(f32::EPSILON) } else { 1e-9 };
    for (k, (got, want)) in image.data.iter().zip(&want).enumerate() {
        let same = (got.is_nan() && want.is_nan()) || (got - want).abs() <= tolerance * want.abs().max(1.0);
        if !same {
            return Err(format!("pixel {k}: {got}, astropy {want}"));
        }
    }
    Ok(())
}

#[test]
fn every_image_in_astropys_test_data_reads_as_astropy_reads_it() {
    let python = python();
    let has_astropy = Command::new(&python).args(["-c", "import astropy"]).output().is_ok_and(|o| o.status.success());
    if !has_astropy {
        eprintln!("skipped: `{python}` cannot import astropy (set ASTRO_PYTHON to a Python that can)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/astropy_test_images.py");
    let run = Command::new(&python).arg(&script).arg(dir.path()).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.images.len() >= 20, "only {} image HDUs found", manifest.images.len());
    let failures: Vec<String> = manifest
        .images
        .iter()
        .filter_map(|e| compare(e, dir.path()).err().map(|why| format!("{} HDU {}: {why}", e.file.display(), e.hdu)))
        .collect();
    eprintln!(
        "{} of {} image HDUs in astropy {}'s test data read equal to astropy",
        manifest.images.len() - failures.len(),
        manifest.images.len(),
        manifest.astropy
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
