//! Classification from a folder of class sub-folders: `<root>/<class>/**/*.{jpg,jpeg,png}`,
//! the layout of torchvision's `ImageFolder`. When every class folder holds `training`,
//! `validation` and `test` sub-folders (Ackermann et al.'s merger data:
//! `merger/training/images/*.jpeg`), those are the splits; otherwise each class is split at
//! random with the configured fractions, so every split keeps the class proportions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::opened::{DataInfo, OpenedData};
use crate::error::DataError;
use crate::formats::files::is_picture_name;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::splits::{SplitIndices, split_indices};
use crate::sources::Source;
use crate::sources::shared::{Decode, RandomSplit, limit_to};
use crate::task::Task;

/// `[data]` with `source = "image_folder"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolderConfig {
    /// Folder with one sub-folder per class.
    pub root: PathBuf,
    /// The classes (sub-folder names) in label order; default: every sub-folder, sorted.
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// How each image is prepared (`crop`, `size`, `channels`).
    #[serde(flatten)]
    pub decode: Decode,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`).
    #[serde(flatten)]
    pub held_out: RandomSplit,
    /// Use at most this many images of each class in each split (quick runs).
    #[serde(default)]
    pub limit_per_class: Option<usize>,
}

/// Split folder names, as `(split, names)`: 0 train, 1 valid, 2 test.
const SPLIT_FOLDERS: [(usize, &[&str]); 3] =
    [(0, &["training", "train"]), (1, &["validation", "valid", "val"]), (2, &["test", "testing"])];

/// Image files under `dir`, at any depth, sorted.
fn images_under(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        what: "class folder",
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(images_under(&path)?);
        } else if is_picture_name(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The split a file's first folder below its class folder names, if any.
fn split_folder(class_dir: &Path, file: &Path) -> Option<usize> {
    let first = file.strip_prefix(class_dir).ok()?.components().next()?.as_os_str().to_str()?.to_ascii_lowercase();
    SPLIT_FOLDERS.iter().find(|(_, names)| names.contains(&first.as_str())).map(|(s, _)| *s)
}

impl ImageFolderConfig {
    /// The class names in label order.
    fn class_names(&self) -> Result<Vec<String>, DataError> {
        if let Some(classes) = &self.classes {
            if classes.len() < 2 {
                return Err(DataError::setting("classes", "name at least two classes"));
            }
            for c in classes {
                if !self.root.join(c).is_dir() {
                    return Err(DataError::setting(
                        "classes",
                        format!("class {c:?} has no folder {}", self.root.join(c).display()),
                    ));
                }
            }
            return Ok(classes.clone());
        }
        let entries = std::fs::read_dir(&self.root).map_err(|source| DataError::Io {
            what: "image folder",
            path: self.root.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        if names.len() < 2 {
            return Err(DataError::setting(
                "root",
                format!("{} needs one sub-folder per class, at least two; it has {}", self.root.display(), names.len()),
            ));
        }
        Ok(names)
    }
}

/// One split of a class-folder data set.
#[derive(Debug, Clone)]
pub struct ImageFolderDataset {
    root: PathBuf,
    files: Arc<Vec<(PathBuf, usize)>>,
    rows: Vec<usize>,
    preprocess: Preprocess,
}

impl LabelledImages for ImageFolderDataset {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let (path, class) = &self.files[self.rows[index]];
        let pixels = self.preprocess.load(path).map_err(DatasetError::new)?;
        Ok(ImageItem { id: self.id(index), pixels, shape: self.preprocess.shape(), targets: vec![*class as f32], features: Vec::new() })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![self.files[self.rows[index]].1 as f32])
    }

    /// The path below the root without its extension: `merger/test/images/587`.
    fn id(&self, index: usize) -> String {
        let path = &self.files[self.rows[index]].0;
        path.strip_prefix(&self.root).unwrap_or(path).with_extension("").to_string_lossy().replace('\\', "/")
    }
}

impl Source for ImageFolderConfig {
    fn kind(&self) -> &'static str {
        "class sub-folders of images"
    }

    /// Checks the settings and the folders (decoding one image), then returns the splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        if !self.root.is_dir() {
            return Err(DataError::setting("root", format!("{} is not a folder", self.root.display())));
        }
        let preprocess = self.decode.preprocess()?;
        self.held_out.check()?;
        let classes = self.class_names()?;
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        let mut splits: [Vec<usize>; 3] = Default::default();
        let mut predefined: Option<bool> = None;
        for (class, name) in classes.iter().enumerate() {
            let dir = self.root.join(name);
            let found = images_under(&dir)?;
            if found.is_empty() {
                return Err(DataError::setting(
                    "root",
                    format!("class folder {} holds no .jpg, .jpeg or .png image", dir.display()),
                ));
            }
            let tagged: Vec<Option<usize>> = found.iter().map(|f| split_folder(&dir, f)).collect();
            let has_folders = tagged.iter().all(Option::is_some);
            if tagged.iter().any(Option::is_some) && !has_folders {
                return Err(DataError::setting(
                    "root",
                    format!(
                        "{} mixes images in training/validation/test folders with images outside them",
                        dir.display()
                    ),
                ));
            }
            if *predefined.get_or_insert(has_folders) != has_folders {
                return Err(DataError::setting(
                    "root",
                    format!(
                        "some class folders have training/validation/test sub-folders and {} has not",
                        dir.display()
                    ),
                ));
            }
            let first = files.len();
            let mut per_split: [Vec<usize>; 3] = Default::default();
            if has_folders {
                for (k, split) in tagged.iter().enumerate() {
                    per_split[split.unwrap_or(0)].push(first + k);
                }
            } else {
                // Each class split on its own keeps the class proportions in every split.
                let (valid, test) = (self.held_out.valid_fraction, self.held_out.test_fraction);
                let idx = split_indices(found.len(), valid, test, seed.wrapping_add(class as u64));
                per_split = [idx.train, idx.valid, idx.test].map(|rows| rows.into_iter().map(|r| first + r).collect());
            }
            for (s, rows) in per_split.into_iter().enumerate() {
                let name_of = ["training", "validation", "test"][s];
                if rows.is_empty() {
                    return Err(DataError::setting(
                        "root",
                        format!("class {name:?} ({} images) has no {name_of} images", found.len()),
                    ));
                }
                let keep = self.limit_per_class.unwrap_or(usize::MAX).min(rows.len());
                splits[s].extend(&rows[..keep]);
            }
            files.extend(found.into_iter().map(|f| (f, class)));
        }
        // Decode one image now, so a wrong format or crop fails before training starts.
        preprocess.load(&files[0].0)?;
        let files = Arc::new(files);
        let [train, valid, test] = splits;
        let rows = SplitIndices { train, valid, test };
        let size = self.decode.size;
        let description = format!(
            "{} ({} classes: {}): {}, {size}x{size} px{}",
            self.root.display(),
            classes.len(),
            classes.join(", "),
            rows.counts(),
            if predefined == Some(true) { ", splits from the folders" } else { "" }
        );
        let info = DataInfo::images(Task::Classification, classes, description, preprocess);
        Ok(OpenedData::from_rows(info, rows, |rows| {
            ImageSplit::new(ImageFolderDataset { root: self.root.clone(), files: files.clone(), rows, preprocess })
        }))
    }

    fn shrink_for_smoke(&mut self) {
        limit_to(&mut self.limit_per_class, 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    fn write_png(path: &Path, value: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(12, 12, image::Rgb([value, 0, 0])).save(path).unwrap();
    }

    fn config(root: &Path) -> ImageFolderConfig {
        toml::from_str(&format!("root = \"{}\"\nsize = 8\nvalid_fraction = 0.2\ntest_fraction = 0.2\n", root.display()))
            .unwrap()
    }

    #[test]
    fn class_folders_split_per_class_and_label_by_sorted_name() {
        let dir = tempfile::tempdir().unwrap();
        for (class, n) in [("spiral", 10), ("elliptical", 5)] {
            for i in 0..n {
                write_png(&dir.path().join(format!("{class}/{i}.png")), if class == "spiral" { 200 } else { 50 });
            }
        }
        let data = config(dir.path()).open(1).unwrap();
        assert_eq!(data.info.task, Task::Classification);
        assert_eq!(data.info.target_names, ["elliptical", "spiral"]);
        // 10 spirals: 6/2/2; 5 ellipticals: 3/1/1.
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (9, 3, 3));
        let labels: Vec<f32> = (0..data.test.len()).map(|i| data.test.targets(i).unwrap()[0]).collect();
        assert_eq!(labels.iter().filter(|&&c| c == 0.0).count(), 1);
        for i in 0..data.train.len() {
            let item = data.train.get(i).unwrap();
            let class = item.targets[0];
            assert_eq!(item.id.starts_with("spiral/"), class == 1.0, "{}", item.id);
            // The red channel tells the class apart: 200 spirals, 50 ellipticals.
            assert!((item.pixels[0] - if class == 1.0 { 200.0 } else { 50.0 } / 255.0).abs() < 0.02);
        }
    }

    #[test]
    fn split_folders_are_used_as_given() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["merger", "noninteracting"] {
            for (split, n) in [("training", 4), ("validation", 2), ("test", 3)] {
                for i in 0..n {
                    write_png(&dir.path().join(format!("{class}/{split}/images/{i}.jpeg")), 9);
                }
            }
        }
        let data = config(dir.path()).open(0).unwrap();
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (8, 4, 6));
        let ids: Vec<String> = (0..data.test.len()).map(|i| data.test.get(i).unwrap().id).collect();
        assert!(ids.iter().all(|id| id.contains("/test/images/")), "{ids:?}");
    }

    #[test]
    fn bad_layouts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            write_png(&dir.path().join(format!("a/{i}.png")), 1);
        }
        let err = config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.contains("at least two") && err.starts_with("data.root:"), "{err}");
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        let err = config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.contains("holds no .jpg") && err.contains('b'), "{err}");
        write_png(&dir.path().join("b/0.png"), 1);
        let err = config(dir.path()).open(0).unwrap_err().to_string();
        assert!(err.contains("class \"b\" (1 images) has no validation images"), "{err}");
        let mut named = config(dir.path());
        named.classes = Some(vec!["a".into(), "c".into()]);
        let err = named.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.classes: class \"c\" has no folder"), "{err}");
    }
}
