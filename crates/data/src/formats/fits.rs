//! FITS images (Wells et al. 1981; FITS standard 4.0) read through CFITSIO, the reference
//! implementation: the primary array, IMAGE extensions and tile-compressed images (`.fits.fz`:
//! RICE_1, GZIP_1, GZIP_2, HCOMPRESS_1, PLIO_1), plain or gzipped files (`.fits.gz`), every
//! BITPIX, with BSCALE/BZERO applied and null pixels (BLANK, ZBLANK, NaN) read as NaN. Rows are
//! in file order: row 0 is FITS `y = 1`, as numpy arrays from astropy have it. A cube (NAXIS3 > 1)
//! gives one chosen plane or all planes (bands, plane-major). Errors name the HDU and what it
//! holds. The writer makes the single-HDU float files the tests and simulations use.

use std::path::Path;

use crate::error::DataError;
use crate::formats::cfitsio::{Fits, HduKind};

/// Bytes in a FITS block; headers and data are padded to whole blocks.
const BLOCK: usize = 2880;

/// An image read from a FITS file: one plane, or several of the same size.
#[derive(Debug, Clone, PartialEq)]
pub struct FitsImage {
    /// NAXIS1: columns.
    pub width: usize,
    /// NAXIS2: rows.
    pub height: usize,
    /// Planes read (1 for a 2-D image or one chosen plane of a cube).
    pub planes: usize,
    /// Physical values (BZERO + BSCALE x stored), plane by plane, row-major, NaN where null.
    pub data: Vec<f64>,
}

impl FitsImage {
    /// Plane `k`'s values, row-major.
    pub fn plane(&self, k: usize) -> &[f64] {
        let n = self.width * self.height;
        &self.data[k * n..(k + 1) * n]
    }
}

/// Whether a file name says FITS: `.fits`, `.fit`, `.fts`, tile-compressed `.fz`, or any of the
/// first three gzipped (`.fits.gz`), in any case.
pub fn is_fits_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".fits", ".fit", ".fts", ".fz"].iter().any(|ext| name.ends_with(ext))
}

/// Which planes of an image to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planes {
    /// A 2-D image (or a cube of one plane); a cube of several planes is refused.
    Single,
    /// Plane `k` (0-based, NAXIS3 order) of a cube; `0` of a 2-D image.
    One(usize),
    /// Every plane, in NAXIS3 order.
    All,
}

/// Reads the first 2-D image of `path`: the primary HDU if it holds one, else the first image
/// extension, compressed or not (`hdu` picks another HDU by 0-based index).
pub fn read_fits(path: &Path, hdu: Option<usize>) -> Result<FitsImage, DataError> {
    read_fits_planes(path, hdu, Planes::Single)
}

/// [`read_fits`] with a choice of planes for cubes.
pub fn read_fits_planes(path: &Path, hdu: Option<usize>, planes: Planes) -> Result<FitsImage, DataError> {
    let image_error = |message| DataError::Image { path: path.to_path_buf(), message };
    let mut fits = match Fits::open(path) {
        Ok(fits) => fits,
        Err(message) if !path.exists() => {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, message);
            return Err(DataError::Io { what: "FITS file", path: path.to_path_buf(), source });
        }
        Err(message) => return Err(image_error(not_fits_hint(path, message))),
    };
    read_image(&mut fits, hdu, planes).map_err(image_error)
}

/// [`read_fits`] on bytes in memory.
pub fn parse_fits(bytes: &[u8], hdu: Option<usize>) -> Result<FitsImage, String> {
    if !bytes.starts_with(b"SIMPLE  =") {
        return Err("not a FITS file (it does not start with a SIMPLE card)".into());
    }
    read_image(&mut Fits::from_bytes(bytes)?, hdu, Planes::Single)
}

/// Adds what a file that is not FITS starts with to CFITSIO's message.
fn not_fits_hint(path: &Path, message: String) -> String {
    let mut start = [0u8; 9];
    let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut start)).unwrap_or(0);
    let gzip = start.starts_with(&[0x1f, 0x8b]);
    if read == 0 || gzip || start.starts_with(b"SIMPLE  =") {
        message
    } else {
        format!("not a FITS file (it does not start with a SIMPLE card): {message}")
    }
}

/// One HDU as the error messages describe it.
fn describe(fits: &mut Fits, index: usize, kind: HduKind) -> String {
    match kind {
        HduKind::AsciiTable => format!("{index}: TABLE"),
        HduKind::BinaryTable => format!("{index}: BINTABLE"),
        HduKind::Image => {
            let what = if index == 0 { "primary image" } else { "image extension" };
            let compression = fits.compression().map(|c| format!(" ({c}-compressed)")).unwrap_or_default();
            match fits.axes() {
                Ok(axes) if axes.is_empty() => format!("{index}: {what}{compression}, empty (NAXIS 0)"),
                Ok(axes) => format!("{index}: {what}{compression}, axes {axes:?}"),
                Err(e) => format!("{index}: {what}{compression}, {e}"),
            }
        }
    }
}

/// Finds the wanted HDU (the first image with two or more axes unless `hdu` names one) and reads
/// the planes asked for.
fn read_image(fits: &mut Fits, hdu: Option<usize>, planes: Planes) -> Result<FitsImage, String> {
    let count = fits.hdu_count()?;
    let mut seen = Vec::new();
    for index in 0..count {
        if hdu.is_some_and(|k| k != index) {
            continue;
        }
        let kind = fits.select(index)?;
        if hdu.is_some() || (kind == HduKind::Image && fits.axes()?.len() >= 2) {
            return decode(fits, index, kind, planes);
        }
        seen.push(describe(fits, index, kind));
    }
    Err(match hdu {
        Some(k) => format!("it has no HDU {k} (it has {count}, numbered from 0)"),
        None => format!("it holds no image with 2 or more axes (HDUs: {})", seen.join("; ")),
    })
}

fn decode(fits: &mut Fits, index: usize, kind: HduKind, planes: Planes) -> Result<FitsImage, String> {
    if kind != HduKind::Image {
        let name = if kind == HduKind::AsciiTable { "TABLE" } else { "BINTABLE" };
        return Err(format!("HDU {index} is a {name} extension, not an image"));
    }
    let axes = fits.axes()?;
    if axes.len() < 2 || axes[3.min(axes.len())..].iter().any(|&n| n != 1) {
        return Err(format!("HDU {index} has axes {axes:?}; images with 2 axes, or 3 (planes), are read"));
    }
    let (width, height) = (axes[0], axes[1]);
    let available = axes.get(2).copied().unwrap_or(1);
    let pixels = width.checked_mul(height).ok_or_else(|| format!("HDU {index}'s axes {axes:?} overflow"))?;
    let (first, read) = match planes {
        Planes::Single if available > 1 => {
            return Err(format!(
                "HDU {index} is a cube of {available} planes of {width}x{height} (axes {axes:?}): choose one \
                 plane, or read the planes as bands"
            ));
        }
        Planes::Single => (0, 1),
        Planes::One(k) if k >= available => {
            return Err(format!("HDU {index} has {available} plane(s) (axes {axes:?}); plane {k} does not exist"));
        }
        Planes::One(k) => (k, 1),
        Planes::All => (0, available),
    };
    let n = pixels.checked_mul(read).ok_or_else(|| format!("HDU {index}'s axes {axes:?} overflow"))?;
    let data = fits.read(first * pixels, n).map_err(|e| format!("HDU {index}: {e}"))?;
    Ok(FitsImage { width, height, planes: read, data })
}

/// Writes a 2-D image as a single-HDU FITS file of 32-bit floats (BITPIX -32), row 0 first.
pub fn write_fits(path: &Path, width: usize, height: usize, data: &[f32]) -> Result<(), DataError> {
    assert_eq!(data.len(), width * height, "write_fits: data is not width x height");
    let card = |text: String| format!("{text:<80}");
    let mut header = [
        card(format!("{:<8}= {:>20}", "SIMPLE", "T")),
        card(format!("{:<8}= {:>20}", "BITPIX", -32)),
        card(format!("{:<8}= {:>20}", "NAXIS", 2)),
        card(format!("{:<8}= {:>20}", "NAXIS1", width)),
        card(format!("{:<8}= {:>20}", "NAXIS2", height)),
        card("END".to_string()),
    ]
    .concat()
    .into_bytes();
    header.resize(header.len().div_ceil(BLOCK) * BLOCK, b' ');
    let mut bytes = header;
    for v in data {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.resize(bytes.len().div_ceil(BLOCK) * BLOCK, 0);
    std::fs::write(path, bytes).map_err(|source| DataError::Io { what: "FITS file", path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    /// One file's expectation from `make_fits_fixtures.py`: astropy's reading.
    #[derive(serde::Deserialize)]
    struct Expected {
        hdu: usize,
        shape: [usize; 3],
        values: Vec<Option<f64>>,
    }

    fn assert_reads_as_astropy(name: &str, image: &FitsImage, want: &Expected) {
        assert_eq!([image.planes, image.height, image.width], want.shape, "{name}: shape");
        assert_eq!(image.data.len(), want.values.len(), "{name}");
        for (k, (got, want)) in image.data.iter().zip(&want.values).enumerate() {
            match want {
                None => assert!(got.is_nan(), "{name} pixel {k}: {got} should be NaN"),
                Some(v) => assert!((got - v).abs() <= 1e-9 * v.abs().max(1.0), "{name} pixel {k}: {got} vs {v}"),
            }
        }
    }

    #[test]
    fn every_pixel_type_and_compression_reads_as_astropy_reads_it() {
        let text = std::fs::read_to_string(fixture("fits_expected.json")).unwrap();
        let expected: std::collections::BTreeMap<String, Expected> = serde_json::from_str(&text).unwrap();
        assert_eq!(expected.len(), 27);
        for (name, want) in &expected {
            let image = read_fits_planes(&fixture(name), None, Planes::All).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_reads_as_astropy(name, &image, want);
            // The same HDU named explicitly, and the bytes from memory, read the same.
            let again = read_fits_planes(&fixture(name), Some(want.hdu), Planes::All).unwrap();
            assert_eq!(format!("{:?}", again.data), format!("{:?}", image.data), "{name}");
            if want.shape[0] == 1 && !name.ends_with(".gz") {
                let bytes = std::fs::read(fixture(name)).unwrap();
                let from_memory = parse_fits(&bytes, None).unwrap();
                assert_eq!(format!("{:?}", from_memory.data), format!("{:?}", image.data), "{name}");
            }
        }
        // Null pixels of quantised and lossless compressed floats stay NaN.
        for name in ["rice_1_nan.fits.fz", "hcompress_1_nan.fits.fz", "gzip_2_lossless.fits.fz"] {
            let image = read_fits(&fixture(name), None).unwrap();
            assert_eq!(image.data.iter().filter(|v| v.is_nan()).count(), 2, "{name}");
        }
    }

    #[test]
    fn cubes_give_one_plane_or_all() {
        for name in ["cube.fits", "rice_cube.fits.fz"] {
            let all = read_fits_planes(&fixture(name), None, Planes::All).unwrap();
            assert!(all.planes >= 2, "{name}");
            for k in 0..all.planes {
                let one = read_fits_planes(&fixture(name), None, Planes::One(k)).unwrap();
                assert_eq!((one.planes, one.width, one.height), (1, all.width, all.height));
                assert_eq!(one.data, all.plane(k), "{name} plane {k}");
            }
            let err = read_fits(&fixture(name), None).unwrap_err().to_string();
            assert!(err.contains(&format!("cube of {} planes", all.planes)) && err.contains("choose one"), "{err}");
            let err = read_fits_planes(&fixture(name), None, Planes::One(all.planes)).unwrap_err().to_string();
            assert!(err.contains(&format!("plane {} does not exist", all.planes)), "{err}");
        }
    }

    #[test]
    fn fits_names_are_recognised() {
        for name in ["a.fits", "B.FITS", "c.fit", "d.fts", "e.fits.fz", "f.fz", "g.fits.gz", "h.FIT.GZ"] {
            assert!(is_fits_name(Path::new(name)), "{name}");
        }
        for name in ["a.png", "b.gz", "c.tar.gz", "fits", "d.fits.bz2"] {
            assert!(!is_fits_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn written_images_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.fits");
        let data: Vec<f32> = (0..12).map(|v| v as f32 * 0.25 - 1.0).collect();
        write_fits(&path, 4, 3, &data).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() % 2880, 0);
        let image = read_fits(&path, None).unwrap();
        assert_eq!((image.width, image.height, image.planes), (4, 3, 1));
        assert_eq!(image.data, data.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
    }

    #[test]
    fn the_linked_cfitsio_is_thread_safe() {
        assert!(crate::formats::cfitsio::is_reentrant());
        let paths: Vec<_> = ["f32.fits", "rice_1_float.fits.fz", "hcompress_1_int.fits.fz", "f32.fits.gz"]
            .iter()
            .map(|n| fixture(n))
            .collect();
        let first: Vec<_> = paths.iter().map(|p| read_fits(p, None).unwrap()).collect();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        for (p, want) in paths.iter().zip(&first) {
                            assert_eq!(format!("{:?}", read_fits(p, None).unwrap()), format!("{want:?}"));
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn what_is_not_an_image_is_named() {
        let err = read_fits(&fixture("table_only.fits"), None).unwrap_err().to_string();
        assert!(err.contains("holds no image") && err.contains("1: BINTABLE") && err.contains("NAXIS 0"), "{err}");
        let err = read_fits(&fixture("extension.fits"), Some(1)).unwrap_err().to_string();
        assert!(err.contains("HDU 1 is a BINTABLE extension"), "{err}");
        let err = read_fits(&fixture("extension.fits"), Some(5)).unwrap_err().to_string();
        assert!(err.contains("no HDU 5 (it has 3"), "{err}");
        let err = read_fits(&fixture("fits_expected.json"), None).unwrap_err().to_string();
        assert!(err.contains("fits_expected.json") && err.contains("not a FITS file"), "{err}");
        let err = read_fits(&fixture("missing.fits"), None).unwrap_err().to_string();
        assert!(err.contains("missing.fits"), "{err}");
        let err = parse_fits(b"PNG....", None).unwrap_err();
        assert!(err.contains("not a FITS file"), "{err}");
        let bytes = std::fs::read(fixture("f32.fits")).unwrap();
        let err = parse_fits(&bytes[..2900], None).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.fits");
        std::fs::write(&cut, &bytes[..2900]).unwrap();
        let err = read_fits(&cut, None).unwrap_err().to_string();
        assert!(err.contains("cut.fits") && err.contains("HDU 0"), "{err}");
    }
}
