//! The Strong Lens Finding Challenge layout (Metcalf et al. 2019, ground-based set): one folder
//! per band, `Band1/imageSDSS_R-<ID>.fits` ... `Band4/imageSDSS_U-<ID>.fits` (101 x 101), and
//! `classifications.csv` with an `ID` and an `is_lens` column. The bands are stacked as
//! channels; masked pixels (value 100) become 0 after scaling; every other numeric column of the
//! catalogue (`Einstein_area`, ...) is an item property that metrics can be binned by.
//!
//! Scaling: each band is divided by its own noise (1.4826 x the median absolute deviation of
//! its unmasked pixels) and stretched like the simulated lenses, `asinh(v / (3 sigma)) / 5`, so
//! simulated and real cutouts share a scale. (This is the project's normalisation; the paper's
//! exact per-band scaling is not reproduced.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::formats::catalogue::open_csv;
use crate::opened::{DataInfo, OpenedData};
use crate::error::DataError;
use crate::formats::cutouts::{FitsCutouts, stretch_band};
use crate::formats::fits::read_fits;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::sources::simulated_lenses::LENS_CLASSES;
use crate::split::{ImageSplit, LabelledImages};
use crate::sources::Source;
use crate::sources::shared::{RandomSplit, limit_to};
use crate::task::Task;

fn default_bands() -> Vec<String> {
    ["R", "I", "G", "U"].map(String::from).to_vec()
}
fn default_masked() -> f64 {
    100.0
}

/// `[data]` with `source = "lens_challenge"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensChallengeConfig {
    /// Folder holding `Band1` ... and `classifications.csv`.
    pub root: PathBuf,
    /// Bands to stack, by the letter in the file names, in channel order.
    #[serde(default = "default_bands")]
    pub bands: Vec<String>,
    /// The catalogue, relative to `root` unless absolute.
    #[serde(default = "default_catalogue")]
    pub catalogue: PathBuf,
    /// Pixel value that marks masked pixels.
    #[serde(default = "default_masked")]
    pub masked_value: f64,
    /// Centre crop, pixels (none: the whole cutout).
    #[serde(default)]
    pub crop: Option<usize>,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`).
    #[serde(flatten)]
    pub held_out: RandomSplit,
    /// Use only the first N catalogue rows (quick runs).
    #[serde(default)]
    pub limit: Option<usize>,
}

fn default_catalogue() -> PathBuf {
    PathBuf::from("classifications.csv")
}

/// One catalogue row.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    is_lens: bool,
    properties: Vec<(String, f64)>,
}

/// Reads `ID`, `is_lens` and the other numeric columns.
fn read_catalogue(path: &Path) -> Result<Vec<Row>, DataError> {
    let (mut reader, header) = open_csv(path, "catalogue")?;
    let at = |line: u64, message: String| DataError::Catalogue { path: path.to_path_buf(), line, message };
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id_col), Some(lens_col)) = (column("ID"), column("is_lens")) else {
        return Err(at(
            1,
            format!("the header needs an ID and an is_lens column, it has {:?}", header.iter().collect::<Vec<_>>()),
        ));
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let is_lens = match record.get(lens_col).unwrap_or("").to_ascii_lowercase().as_str() {
            "1" | "1.0" | "true" => true,
            "0" | "0.0" | "false" => false,
            other => return Err(at(line, format!("is_lens must be 0 or 1, got {other:?}"))),
        };
        let properties = header
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != id_col && *k != lens_col)
            .filter_map(|(k, name)| Some((name.to_string(), record.get(k)?.parse::<f64>().ok()?)))
            .collect();
        rows.push(Row { id: record.get(id_col).unwrap_or("").to_string(), is_lens, properties });
    }
    if rows.is_empty() {
        return Err(at(2, "the catalogue has no rows".into()));
    }
    Ok(rows)
}

/// For each band letter, the folder under `root` whose files carry it (letters compared
/// without case: the simulator names its band `r`, the challenge `R`).
/// Returns each band's folder and the letter as its file names spell it.
pub fn band_folders(root: &Path, bands: &[String]) -> Result<Vec<(PathBuf, String)>, DataError> {
    let mut found: HashMap<String, (PathBuf, String)> = HashMap::new();
    let entries = std::fs::read_dir(root).map_err(|source| DataError::Io {
        what: "challenge folder",
        path: root.to_path_buf(),
        source,
    })?;
    for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let first = std::fs::read_dir(&dir).into_iter().flatten().flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("imageSDSS_").and_then(|r| r.split('-').next()).map(str::to_string)
        });
        if let Some(letter) = first {
            found.insert(letter.to_ascii_uppercase(), (dir, letter));
        }
    }
    bands
        .iter()
        .map(|b| {
            found.get(&b.to_ascii_uppercase()).cloned().ok_or_else(|| {
                DataError::setting(
                    "bands",
                    format!("no folder under {} holds imageSDSS_{b}-<ID>.fits files", root.display()),
                )
            })
        })
        .collect()
}


/// Where the files are and how they are read.
#[derive(Debug)]
struct Layout {
    /// Each band's folder and letter, in channel order.
    folders: Vec<(PathBuf, String)>,
    bands: Vec<String>,
    masked: f64,
    crop: Option<usize>,
    rows: Vec<Row>,
}

impl Layout {
    /// The stacked, scaled bands of catalogue row `row`, channel-major.
    fn read(&self, row: usize) -> Result<Vec<f32>, String> {
        let id = &self.rows[row].id;
        let mut out = Vec::new();
        let mut side = None;
        for (folder, band) in &self.folders {
            let path = band_file(folder, band, id);
            let image = read_fits(&path, None).map_err(|e| e.to_string())?;
            let s = self.crop.unwrap_or(image.width.min(image.height));
            if *side.get_or_insert(s) != s {
                return Err(format!("{}: the bands of cutout {id} differ in size", path.display()));
            }
            let name = path.display().to_string();
            out.extend(stretch_band(&image.data, (image.width, image.height), s, Some(self.masked), &name)?);
        }
        Ok(out)
    }
}

/// The file of band `band` of cutout `id` in its band's folder.
pub fn band_file(folder: &Path, band: &str, id: &str) -> PathBuf {
    folder.join(format!("imageSDSS_{band}-{id}.fits"))
}

/// The cutout ids of a band's folder (`imageSDSS_<band>-<ID>.fits`), sorted.
pub fn band_ids(folder: &Path, band: &str) -> Result<Vec<String>, DataError> {
    let prefix = format!("imageSDSS_{band}-");
    let entries = std::fs::read_dir(folder).map_err(|source| DataError::Io {
        what: "band folder",
        path: folder.to_path_buf(),
        source,
    })?;
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix(&prefix)?.strip_suffix(".fits").map(str::to_string)
        })
        .collect();
    ids.sort();
    Ok(ids)
}

/// One split of the challenge cutouts.
#[derive(Debug)]
struct ChallengeSplit {
    layout: Arc<Layout>,
    rows: Vec<usize>,
    side: usize,
}

impl LabelledImages for ChallengeSplit {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let row = self.rows[index];
        let pixels = self.layout.read(row).map_err(|e| DatasetError::new(std::io::Error::other(e)))?;
        Ok(ImageItem {
            id: self.id(index),
            pixels,
            shape: [self.layout.bands.len(), self.side, self.side],
            targets: self.targets(index)?,
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![if self.layout.rows[self.rows[index]].is_lens { 1.0 } else { 0.0 }])
    }

    fn id(&self, index: usize) -> String {
        self.layout.rows[self.rows[index]].id.clone()
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.layout.rows[self.rows[index]].properties.clone()
    }
}

impl Source for LensChallengeConfig {
    fn kind(&self) -> &'static str {
        "Strong Lens Finding Challenge FITS cutouts"
    }

    /// Checks the layout (reading the first cutout of every band), then returns stratified
    /// splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        if !self.root.is_dir() {
            return Err(DataError::setting("root", format!("{} is not a folder", self.root.display())));
        }
        if self.bands.is_empty() {
            return Err(DataError::setting("bands", "name at least one band"));
        }
        self.held_out.check()?;
        let folders = band_folders(&self.root, &self.bands)?;
        let mut rows = read_catalogue(&self.root.join(&self.catalogue))?;
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        let layout =
            Arc::new(Layout { folders, bands: self.bands.clone(), masked: self.masked_value, crop: self.crop, rows });
        let first = layout.read(0).map_err(|e| DataError::setting("root", e))?;
        let side = (first.len() / self.bands.len()).isqrt();
        let labels: Vec<usize> = layout.rows.iter().map(|r| usize::from(r.is_lens)).collect();
        let idx = self.held_out.stratified(&labels, "cutouts", seed)?;
        let lenses = labels.iter().sum::<usize>();
        let description = format!(
            "{} (bands {}, {side}x{side} px, {lenses} lenses of {}): {}",
            self.root.display(),
            self.bands.join(""),
            labels.len(),
            idx.counts()
        );
        let preprocess = Preprocess { crop: None, size: side as u32, channels: self.bands.len() as u32, restretch: None };
        let classes = LENS_CLASSES.iter().map(|s| s.to_string()).collect();
        let mut info = DataInfo::images(Task::Classification, classes, description, preprocess);
        info.fits = Some(FitsCutouts { bands: self.bands.clone(), masked_value: Some(self.masked_value), side });
        Ok(OpenedData::from_rows(info, idx, |rows| {
            ImageSplit::new(ChallengeSplit { layout: layout.clone(), rows, side })
        }))
    }

    fn shrink_for_smoke(&mut self) {
        limit_to(&mut self.limit, 80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cutouts::noise_sigma;
    use crate::formats::fits::write_fits;
    use burn::data::dataset::Dataset;

    /// A challenge-layout folder: `n` cutouts of `side` pixels in bands R, I, G, U, every
    /// third a lens; pixel (0, 0) of band k is masked.
    fn challenge(n: usize, side: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("ID,is_lens,Einstein_area,numb_pix_lensed_image\n");
        for (k, band) in ["R", "I", "G", "U"].iter().enumerate() {
            let folder = dir.path().join(format!("Band{}", k + 1));
            std::fs::create_dir(&folder).unwrap();
            for id in 0..n {
                let mut data: Vec<f32> = (0..side * side).map(|p| ((p * 7 + id * 3 + k) % 11) as f32 - 5.0).collect();
                data[0] = 100.0;
                write_fits(&folder.join(format!("imageSDSS_{band}-{}.fits", 200_000 + id)), side, side, &data).unwrap();
            }
        }
        for id in 0..n {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                200_000 + id,
                usize::from(id.is_multiple_of(3)),
                id as f64 * 0.1,
                id * 2
            ));
        }
        std::fs::write(dir.path().join("classifications.csv"), csv).unwrap();
        dir
    }

    fn config(root: &Path) -> LensChallengeConfig {
        toml::from_str(&format!("root = \"{}\"\nvalid_fraction = 0.2\ntest_fraction = 0.2\n", root.display())).unwrap()
    }

    #[test]
    fn cutouts_stack_their_bands_with_labels_and_properties() {
        let dir = challenge(15, 12);
        let data = config(dir.path()).open(0).unwrap();
        assert_eq!(data.info.input, [4, 12, 12]);
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (9, 3, 3));
        let item = data.test.get(0).unwrap();
        let id: usize = item.id.parse().unwrap();
        assert_eq!(item.targets, [if (id - 200_000).is_multiple_of(3) { 1.0 } else { 0.0 }]);
        assert_eq!(item.shape, [4, 12, 12]);
        // Masked pixels are 0; others are stretched by the band's noise.
        assert_eq!(item.pixels[0], 0.0);
        assert_eq!(item.pixels[144], 0.0);
        let attributes = data.test.attributes(0);
        assert_eq!(attributes[0], ("Einstein_area".to_string(), (id - 200_000) as f64 * 0.1));
        let cropped = LensChallengeConfig { crop: Some(8), bands: vec!["G".into(), "R".into()], ..config(dir.path()) };
        assert_eq!(cropped.open(0).unwrap().info.input, [2, 8, 8]);
    }

    #[test]
    fn missing_bands_files_and_columns_are_named() {
        let dir = challenge(6, 8);
        let bad = LensChallengeConfig { bands: vec!["Z".into()], ..config(dir.path()) };
        assert!(bad.open(0).unwrap_err().to_string().contains("no folder under"), "bands");
        std::fs::remove_file(dir.path().join("Band2/imageSDSS_I-200000.fits")).unwrap();
        let err = config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.contains("imageSDSS_I-200000.fits"), "{err}");
        std::fs::write(dir.path().join("classifications.csv"), "ID,label\n1,0\n").unwrap();
        let err = config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.contains("needs an ID and an is_lens column"), "{err}");
    }

    #[test]
    fn the_noise_estimate_is_robust_to_a_bright_centre() {
        // Values spread evenly over [-1, 1] (MAD 0.5) with a few huge ones and masked ones:
        // the estimate ignores both.
        let mut pixels: Vec<f64> = (0..401).map(|i| -1.0 + 2.0 * i as f64 / 400.0).collect();
        pixels.extend([1e4; 8]);
        pixels.extend([100.0; 30]);
        let sigma = noise_sigma(&pixels, 100.0);
        assert!((sigma / (1.4826 * 0.5) - 1.0).abs() < 0.03, "{sigma}");
    }
}
