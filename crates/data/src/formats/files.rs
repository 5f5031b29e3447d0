//! Unlabelled inputs for `predict`, found in the files and folders a user names: pictures
//! (PNG/JPEG), FITS files (a cutout, or a cube with a plane per band) and band sets (the Strong
//! Lens Finding Challenge layout: a folder holding one folder per band, `imageSDSS_<B>-<ID>.fits`,
//! matched by id). [`InputReader`] turns each into model input the way the run's training did.

use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::formats::cutouts::FitsCutouts;
use crate::formats::fits::is_fits_name;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::sources::lens_challenge::{band_file, band_folders, band_ids};

/// Extensions of the pictures `predict` reads from a folder.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// One input to predict.
#[derive(Debug, Clone, PartialEq)]
pub enum PredictInput {
    /// A PNG or JPEG file.
    Picture(PathBuf),
    /// A FITS file: a cutout, or a cube with one plane per band.
    Fits(PathBuf),
    /// One FITS file per band of the cutout `id`, in band order.
    BandSet {
        /// The id shared by the band files.
        id: String,
        /// The files, in the model's band order.
        files: Vec<PathBuf>,
    },
}

fn stem(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().to_string());
    // `cutout.fits.fz` and `cutout.fits.gz` are `cutout`, as `cutout.png` is.
    let lower = name.to_ascii_lowercase();
    let cut = [".fits.fz", ".fits.gz", ".fit.gz", ".fts.gz", ".fits", ".fit", ".fts", ".fz", ".jpeg", ".jpg", ".png"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name.len(), |ext| name.len() - ext.len());
    name[..cut].to_string()
}

impl PredictInput {
    /// The id written in the predictions (the file stem, or the band set's id).
    pub fn id(&self) -> String {
        match self {
            Self::Picture(p) | Self::Fits(p) => stem(p),
            Self::BandSet { id, .. } => id.clone(),
        }
    }

    /// Where the input is, for `skipped.csv`.
    pub fn location(&self) -> String {
        match self {
            Self::Picture(p) | Self::Fits(p) => p.display().to_string(),
            Self::BandSet { files, .. } => files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(" "),
        }
    }
}

/// Whether a file name says PNG or JPEG (any case).
pub fn is_picture_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expands `inputs` (files and folders) into inputs, sorted within each folder. A folder laid
/// out as the lens challenge (a sub-folder per band of `fits`) gives band sets; any other folder
/// its pictures and FITS files.
pub fn collect_inputs(inputs: &[PathBuf], fits: Option<&FitsCutouts>) -> Result<Vec<PredictInput>, DataError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            if let Some(sets) = band_sets(input, fits)? {
                out.extend(sets);
                continue;
            }
            let entries = std::fs::read_dir(input).map_err(|source| DataError::Io {
                what: "input folder",
                path: input.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| is_picture_name(p) || is_fits_name(p)).collect();
            if found.is_empty() {
                return Err(DataError::setting(
                    "inputs",
                    format!("folder {} holds no .jpg, .jpeg, .png or FITS file, nor band folders", input.display()),
                ));
            }
            found.sort();
            out.extend(found.into_iter().map(file_input));
        } else if input.is_file() {
            out.push(file_input(input.clone()));
        } else {
            return Err(DataError::setting("inputs", format!("{} does not exist", input.display())));
        }
    }
    Ok(out)
}

fn file_input(path: PathBuf) -> PredictInput {
    if is_fits_name(&path) { PredictInput::Fits(path) } else { PredictInput::Picture(path) }
}

/// The band sets of `folder` when it holds a folder for every band of `fits` (ids from the first
/// band's folder; a missing band file surfaces when the set is read).
fn band_sets(folder: &Path, fits: Option<&FitsCutouts>) -> Result<Option<Vec<PredictInput>>, DataError> {
    let Some(fits) = fits else { return Ok(None) };
    let has_subfolders = std::fs::read_dir(folder).into_iter().flatten().flatten().any(|e| e.path().is_dir());
    if !has_subfolders {
        return Ok(None);
    }
    let Ok(bands) = band_folders(folder, &fits.bands) else { return Ok(None) };
    let (first_dir, first_band) = &bands[0];
    let sets = band_ids(first_dir, first_band)?
        .into_iter()
        .map(|id| {
            let files = bands.iter().map(|(dir, band)| band_file(dir, band, &id)).collect();
            PredictInput::BandSet { id, files }
        })
        .collect();
    Ok(Some(sets))
}

/// How a run's model reads inputs: its picture preprocessing and, for models trained on FITS-like
/// cutouts, how FITS files become input.
#[derive(Debug, Clone)]
pub struct InputReader {
    /// Crop, size and channels of pictures.
    pub preprocess: Preprocess,
    /// FITS reading (none: the run's model does not read FITS).
    pub fits: Option<FitsCutouts>,
    /// Pictures: the centred crop spans this many pixels (the model's sky square at the
    /// inputs' pixel scale), capped at each picture's shorter side; none: `preprocess.crop`.
    pub field_pixels: Option<f64>,
}

impl InputReader {
    /// Reads one input as model input; the error says why it cannot be (and names the file).
    pub fn read(&self, input: &PredictInput) -> Result<ImageItem, String> {
        let no_fits = |path: &str| {
            format!(
                "{path}: this run's model was not trained on FITS cutouts (its model_io.json records no FITS \
                 reading): give it PNG/JPEG images"
            )
        };
        let (pixels, shape) = match (input, &self.fits) {
            (PredictInput::Picture(path), _) => {
                let mut p = self.preprocess;
                if let Some(field) = self.field_pixels {
                    let (w, h) = image::image_dimensions(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    p.crop = Some((field.round().max(1.0) as u32).min(w.min(h)));
                }
                let pixels = p.load(path).map_err(|e| e.to_string())?;
                (pixels, [p.channels as usize, p.size as usize, p.size as usize])
            }
            (PredictInput::Fits(path), Some(fits)) => (fits.read_file(path)?, [fits.bands.len(), fits.side, fits.side]),
            (PredictInput::BandSet { files, .. }, Some(fits)) => {
                (fits.read_files(files)?, [fits.bands.len(), fits.side, fits.side])
            }
            (other, None) => return Err(no_fits(&other.location())),
        };
        Ok(ImageItem { id: input.id(), pixels, shape, targets: Vec::new(), features: Vec::new() })
    }

    /// Reads `inputs` on all cores, in order.
    pub fn read_all(&self, inputs: &[PredictInput]) -> Vec<Result<ImageItem, String>> {
        use rayon::prelude::*;
        inputs.par_iter().map(|input| self.read(input)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::fits::write_fits;

    #[test]
    fn folders_expand_to_their_images_and_missing_inputs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.jpg", "notes.txt"] {
            let path = dir.path().join(name);
            if name.ends_with(".txt") {
                std::fs::write(&path, "x").unwrap();
            } else {
                image::RgbImage::new(4, 4).save(&path).unwrap();
            }
        }
        write_fits(&dir.path().join("c.fits"), 4, 4, &[0.5; 16]).unwrap();
        let found = collect_inputs(&[dir.path().to_path_buf()], None).unwrap();
        let ids: Vec<_> = found.iter().map(PredictInput::id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(matches!(found[2], PredictInput::Fits(_)));
        let reader = InputReader {
            preprocess: Preprocess { crop: None, size: 4, channels: 3, restretch: None },
            fits: None,
            field_pixels: None,
        };
        assert_eq!(reader.read(&found[1]).unwrap().shape, [3, 4, 4]);
        let err = reader.read(&found[2]).unwrap_err();
        assert!(err.contains("c.fits: this run's model was not trained on FITS"), "{err}");
        let err = collect_inputs(&[dir.path().join("nope")], None).unwrap_err().to_string();
        assert!(err.contains("nope does not exist"), "{err}");
        assert_eq!(stem(Path::new("x/J1234+56.fits.fz")), "J1234+56");
    }

    #[test]
    fn band_folders_give_band_sets_matched_by_id() {
        let dir = tempfile::tempdir().unwrap();
        for (k, band) in ["R", "I"].iter().enumerate() {
            let folder = dir.path().join(format!("Band{}", k + 1));
            std::fs::create_dir(&folder).unwrap();
            for id in ["200001", "200000"] {
                if *band == "I" && id == "200001" {
                    continue; // a missing band file: the set is still listed, and fails when read
                }
                write_fits(&band_file(&folder, band, id), 6, 6, &[k as f32; 36]).unwrap();
            }
        }
        let fits = FitsCutouts { bands: vec!["r".into(), "i".into()], masked_value: Some(100.0), side: 4 };
        let found = collect_inputs(&[dir.path().to_path_buf()], Some(&fits)).unwrap();
        assert_eq!(found.iter().map(PredictInput::id).collect::<Vec<_>>(), ["200000", "200001"]);
        let reader = InputReader { preprocess: Preprocess::whole(4, 2), fits: Some(fits), field_pixels: None };
        assert_eq!(reader.read(&found[0]).unwrap().shape, [2, 4, 4]);
        let err = reader.read(&found[1]).unwrap_err();
        assert!(err.contains("imageSDSS_I-200001.fits"), "{err}");
    }
}
