//! FITS cutouts as the lens finders see them, one definition for training and `predict`: each
//! band's centred square is divided by its own noise (1.4826 x the median absolute deviation of
//! its unmasked pixels) and stretched like the simulated lenses, `asinh(v / (3 sigma)) / 5`;
//! masked and non-finite pixels become 0. A run records a [`FitsCutouts`] so that `predict` reads
//! new files (a cube, a single band, or one file per band matched by id) exactly as training did.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::formats::fits::{FitsImage, Planes, read_fits_planes};
use crate::sources::simulated_lenses::stretch;

/// How FITS cutouts become model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitsCutouts {
    /// Band names in channel order (the challenge's file names carry them: `imageSDSS_R-<ID>`).
    pub bands: Vec<String>,
    /// Pixel value that marks masked pixels (none: no pixel is masked).
    pub masked_value: Option<f64>,
    /// Side of the centred square cut from every band: the model's input side.
    pub side: usize,
}

/// The median of `values` (not empty; the upper one of an even count), sorting them in place.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// 1.4826 x the median absolute deviation of the finite pixels other than `masked` (the Gaussian
/// sigma for pure noise, robust to the object in the middle); 1 when it cannot be estimated.
pub fn noise_sigma(pixels: &[f64], masked: f64) -> f64 {
    let mut values: Vec<f64> = pixels.iter().copied().filter(|v| v.is_finite() && *v != masked).collect();
    if values.is_empty() {
        return 1.0;
    }
    let m = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&mut deviations);
    if mad > 0.0 { 1.4826 * mad } else { 1.0 }
}

/// The centred `side` square of one band, noise-scaled and stretched; `name` is for errors.
pub fn stretch_band(
    values: &[f64],
    (width, height): (usize, usize),
    side: usize,
    masked: Option<f64>,
    name: &str,
) -> Result<Vec<f32>, String> {
    if side > width || side > height {
        return Err(format!("{name}: it is {width}x{height} pixels, smaller than the {side}-pixel cutout"));
    }
    let (x0, y0) = ((width - side) / 2, (height - side) / 2);
    let pixels: Vec<f64> = (0..side * side).map(|k| values[(y0 + k / side) * width + x0 + k % side]).collect();
    let masked_value = masked.unwrap_or(f64::NAN);
    let sigma = noise_sigma(&pixels, masked_value);
    Ok(pixels.iter().map(|&v| if Some(v) == masked || !v.is_finite() { 0.0 } else { stretch(v, sigma) }).collect())
}

impl FitsCutouts {
    /// One file holding every band: a cube of as many planes (in band order), or a 2-D image
    /// for a one-band model.
    pub fn read_file(&self, path: &Path) -> Result<Vec<f32>, String> {
        let image = read_fits_planes(path, None, Planes::All).map_err(|e| e.to_string())?;
        if image.planes != self.bands.len() {
            return Err(format!(
                "{}: {} plane(s), the model reads {} band(s) ({}): give a cube of that many planes or one \
                 file per band",
                path.display(),
                image.planes,
                self.bands.len(),
                self.bands.join(", ")
            ));
        }
        self.stack(&image, &path.display().to_string())
    }

    /// One file per band, in band order.
    pub fn read_files(&self, paths: &[PathBuf]) -> Result<Vec<f32>, String> {
        let mut out = Vec::with_capacity(self.bands.len() * self.side * self.side);
        for path in paths {
            let image = read_fits_planes(path, None, Planes::Single).map_err(|e| e.to_string())?;
            out.extend(self.stack(&image, &path.display().to_string())?);
        }
        Ok(out)
    }

    fn stack(&self, image: &FitsImage, name: &str) -> Result<Vec<f32>, String> {
        let mut out = Vec::with_capacity(image.planes * self.side * self.side);
        for k in 0..image.planes {
            out.extend(stretch_band(image.plane(k), (image.width, image.height), self.side, self.masked_value, name)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::fits::write_fits;

    #[test]
    fn a_cube_and_its_planes_as_files_give_the_same_input() {
        let dir = tempfile::tempdir().unwrap();
        let cube = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rice_cube.fits.fz");
        let image = read_fits_planes(&cube, None, Planes::All).unwrap();
        let cutouts = FitsCutouts { bands: vec!["g".into(), "r".into(), "i".into()], masked_value: None, side: 16 };
        let from_cube = cutouts.read_file(&cube).unwrap();
        assert_eq!(from_cube.len(), 3 * 16 * 16);
        let paths: Vec<PathBuf> = (0..3)
            .map(|k| {
                let path = dir.path().join(format!("band{k}.fits"));
                let plane: Vec<f32> = image.plane(k).iter().map(|&v| v as f32).collect();
                write_fits(&path, image.width, image.height, &plane).unwrap();
                path
            })
            .collect();
        assert_eq!(cutouts.read_files(&paths).unwrap(), from_cube);
        // Pixel (0, 0) of plane 1's centred 16 x 16 (offsets 2, 4), stretched by that plane's noise.
        let plane = image.plane(1);
        let crop: Vec<f64> = (0..256).map(|k| plane[(4 + k / 16) * 20 + 2 + k % 16]).collect();
        assert_eq!(from_cube[256], stretch(crop[0], noise_sigma(&crop, f64::NAN)));
        // A single band for a three-band model, and a file smaller than the cutout, are named.
        let err = cutouts.read_file(&paths[0]).unwrap_err();
        assert!(err.contains("band0.fits: 1 plane(s), the model reads 3 band(s) (g, r, i)"), "{err}");
        let big = FitsCutouts { side: 40, ..cutouts };
        let err = big.read_file(&cube).unwrap_err();
        assert!(err.contains("rice_cube.fits.fz: it is 20x24 pixels, smaller than the 40-pixel cutout"), "{err}");
    }

    #[test]
    fn masked_pixels_become_zero() {
        let values = [1.0, 100.0, f64::NAN, -2.0];
        let out = stretch_band(&values, (2, 2), 2, Some(100.0), "x").unwrap();
        assert_eq!((out[1], out[2]), (0.0, 0.0));
        assert!(out[0] > 0.0 && out[3] < 0.0);
    }
}
