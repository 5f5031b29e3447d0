//! Reading JPEG and PNG images into channel-major float arrays, with the centre crop and
//! resampling that put real cutouts on the grid a model was trained on.

use std::path::Path;

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::formats::restretch::Restretch;

/// How an image file becomes model input: optional centre crop, then resampling to a square,
/// and for pictures of another colour composite than the model's, their redrawing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Side of the centred square cut out first, pixels (none: the largest centred square).
    pub crop: Option<u32>,
    /// Side of the square the crop is resampled to, pixels.
    pub size: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: u32,
    /// Redraws RGB pictures in the model's colour composite (set by `eval --data` and `predict`
    /// where the pictures say theirs; never saved with a run).
    #[serde(skip)]
    pub restretch: Option<Restretch>,
}

impl Preprocess {
    /// Images made at `size` x `size` pixels with `channels` channels, used whole (no crop; the
    /// resampling keeps the size).
    pub fn whole(size: usize, channels: usize) -> Self {
        Self { crop: None, size: size as u32, channels: channels as u32, restretch: None }
    }

    /// Reads and prepares one image. Pixels are scaled to [0, 1].
    pub fn load(&self, path: &Path) -> Result<Vec<f32>, DataError> {
        let bytes =
            std::fs::read(path).map_err(|source| DataError::Io { what: "image", path: path.to_path_buf(), source })?;
        let img = image::load_from_memory(&bytes)
            .map_err(|e| DataError::Image { path: path.to_path_buf(), message: e.to_string() })?;
        self.prepare(&img).map_err(|message| DataError::Image { path: path.to_path_buf(), message })
    }

    /// Crops, resamples and converts a decoded image; the error says why it cannot be.
    pub fn prepare(&self, img: &image::DynamicImage) -> Result<Vec<f32>, String> {
        let (w, h) = (img.width(), img.height());
        let side = self.crop.unwrap_or(w.min(h));
        if side > w || side > h {
            return Err(format!("it is {w}x{h} pixels, smaller than the {side}-pixel centre crop"));
        }
        let cropped = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
        if let Some(restretch) = self.restretch {
            return Ok(self.redrawn(&cropped, restretch));
        }
        // Triangle (bilinear) widens its support when shrinking, so it averages like binning.
        let resized =
            if side == self.size { cropped } else { cropped.resize_exact(self.size, self.size, FilterType::Triangle) };
        let n = (self.size * self.size) as usize;
        let mut out = vec![0.0f32; n * self.channels as usize];
        if self.channels == 1 {
            for (o, p) in out.iter_mut().zip(resized.to_luma8().pixels()) {
                *o = f32::from(p.0[0]) / 255.0;
            }
        } else {
            for (k, p) in resized.to_rgb8().pixels().enumerate() {
                for c in 0..3 {
                    out[c * n + k] = f32::from(p.0[c]) / 255.0;
                }
            }
        }
        Ok(out)
    }

    /// A cropped RGB picture back to linear fluxes, resampled (so flux is averaged, not
    /// stretched values) and stretched into the model's composite.
    fn redrawn(&self, cropped: &image::DynamicImage, restretch: Restretch) -> Vec<f32> {
        let rgb = cropped.to_rgb8();
        let fluxes: Vec<[f32; 3]> = rgb.pixels().map(|p| restretch.linear(p.0)).collect();
        // The image crate clamps float pixels to [0, 1] when it resamples: each plane is mapped
        // onto [0, 1] first and back after (the triangle filter's weights are positive and sum
        // to 1, so it stays inside, and it commutes with the affine map).
        let range: [(f32, f32); 3] = std::array::from_fn(|c| {
            let (lo, hi) = fluxes.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p[c]), hi.max(p[c])));
            (lo, (hi - lo).max(f32::MIN_POSITIVE))
        });
        let unit = image::Rgb32FImage::from_fn(rgb.width(), rgb.height(), |x, y| {
            let p = fluxes[(y * rgb.width() + x) as usize];
            image::Rgb(std::array::from_fn(|c| (p[c] - range[c].0) / range[c].1))
        });
        let resized = if rgb.width() == self.size {
            unit
        } else {
            image::imageops::resize(&unit, self.size, self.size, FilterType::Triangle)
        };
        let planes: [Vec<f32>; 3] =
            std::array::from_fn(|c| resized.pixels().map(|p| range[c].0 + p.0[c] * range[c].1).collect());
        restretch.stretch(&planes)
    }

    /// The `[channels, height, width]` of what it produces.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels as usize, self.size as usize, self.size as usize]
    }

    /// Checks the settings a user gives (`channels`, `size`, `crop`), naming the field at fault.
    pub fn validate(&self) -> Result<(), DataError> {
        if !(self.channels == 1 || self.channels == 3) {
            return Err(DataError::setting("channels", format!("must be 1 or 3, got {}", self.channels)));
        }
        if self.size < 8 {
            return Err(DataError::setting("size", format!("must be at least 8 pixels, got {}", self.size)));
        }
        if self.crop == Some(0) {
            return Err(DataError::setting("crop", "must be at least 1 pixel"));
        }
        if self.restretch.is_some() && self.channels != 3 {
            return Err(DataError::setting(
                "composite",
                format!("redrawing pictures in another colour composite needs channels = 3, got {}", self.channels),
            ));
        }
        Ok(())
    }
}

/// Writes a channel-major image with values in [0, 1] as an 8-bit PNG or JPEG (by extension).
pub fn save_image(path: &Path, pixels: &[f32], shape: [usize; 3]) -> Result<(), DataError> {
    let [c, h, w] = shape;
    let n = h * w;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let result = if c == 1 {
        image::GrayImage::from_fn(w as u32, h as u32, |x, y| image::Luma([byte(pixels[y as usize * w + x as usize])]))
            .save(path)
    } else {
        image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let k = y as usize * w + x as usize;
            image::Rgb([byte(pixels[k]), byte(pixels[n + k]), byte(pixels[2 * n + k])])
        })
        .save(path)
    };
    result.map_err(|e| DataError::Image { path: path.to_path_buf(), message: e.to_string() })
}

/// Saves up to `columns * columns` images (all of one shape) as one PNG grid, each enlarged
/// `scale` times with a 2-pixel gap, so a user can see what the data looks like.
pub fn save_grid(path: &Path, images: &[(&[f32], [usize; 3])], columns: usize, scale: usize) -> Result<(), DataError> {
    let Some(&(_, [c, h, w])) = images.first() else { return Ok(()) };
    let columns = columns.max(1);
    let rows = images.len().div_ceil(columns);
    let (cell_w, cell_h) = (w * scale + 2, h * scale + 2);
    let mut grid =
        image::RgbImage::from_pixel((columns * cell_w) as u32, (rows * cell_h) as u32, image::Rgb([255, 255, 255]));
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    for (k, (pixels, _)) in images.iter().enumerate() {
        let (ox, oy) = ((k % columns) * cell_w + 1, (k / columns) * cell_h + 1);
        for y in 0..h * scale {
            for x in 0..w * scale {
                let p = (y / scale) * w + x / scale;
                let rgb = if c == 1 {
                    [byte(pixels[p]); 3]
                } else {
                    [byte(pixels[p]), byte(pixels[h * w + p]), byte(pixels[2 * h * w + p])]
                };
                grid.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb(rgb));
            }
        }
    }
    grid.save(path).map_err(|e| DataError::Image { path: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_and_resize_keep_the_centre_and_channel_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        // 12x12 image: red square in the centre 4x4, blue elsewhere.
        let img = image::RgbImage::from_fn(12, 12, |x, y| {
            if (4..8).contains(&x) && (4..8).contains(&y) { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) }
        });
        img.save(&path).unwrap();
        let p = Preprocess { crop: Some(4), size: 2, channels: 3, restretch: None };
        let px = p.load(&path).unwrap();
        assert_eq!(px.len(), 3 * 4);
        assert!(px[..4].iter().all(|v| (*v - 1.0).abs() < 1e-6), "red plane {:?}", &px[..4]);
        assert!(px[8..].iter().all(|v| v.abs() < 1e-6), "blue plane {:?}", &px[8..]);
        let grey = Preprocess { crop: None, size: 12, channels: 1, restretch: None }.load(&path).unwrap();
        assert_eq!(grey.len(), 144);
    }

    #[test]
    fn unreadable_and_too_small_images_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.jpg");
        std::fs::write(&bad, b"not a jpeg").unwrap();
        let p = Preprocess { crop: None, size: 8, channels: 3, restretch: None };
        let err = p.load(&bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot decode image {}", bad.display())), "{err}");
        let missing = p.load(&dir.path().join("nope.png")).unwrap_err().to_string();
        assert!(missing.contains("nope.png"), "{missing}");
        let small = dir.path().join("small.png");
        image::RgbImage::new(5, 5).save(&small).unwrap();
        let err =
            Preprocess { crop: Some(8), size: 8, channels: 3, restretch: None }.load(&small).unwrap_err().to_string();
        assert!(err.contains("smaller than the 8-pixel centre crop"), "{err}");
    }

    #[test]
    fn grids_place_images_in_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let white = vec![1.0f32; 3 * 4 * 4];
        let images: Vec<(&[f32], [usize; 3])> = (0..5).map(|_| (white.as_slice(), [3, 4, 4])).collect();
        save_grid(&path, &images, 3, 2).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (3 * 10, 2 * 10));
    }

    #[test]
    fn saved_images_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let pixels: Vec<f32> = (0..3 * 16).map(|k| (k % 16) as f32 / 15.0).collect();
        save_image(&path, &pixels, [3, 4, 4]).unwrap();
        let back = Preprocess { crop: None, size: 4, channels: 3, restretch: None }.load(&path).unwrap();
        for (a, b) in pixels.iter().zip(&back) {
            assert!((a - b).abs() < 1.0 / 255.0);
        }
    }
}
