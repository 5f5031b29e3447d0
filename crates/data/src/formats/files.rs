//! Unlabelled image files for `predict`: single files or every image in a folder.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;

/// Extensions `predict` reads from a folder.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Image files with no targets; the id of each is its file stem (the Galaxy Zoo id).
#[derive(Debug, Clone)]
pub struct ImageFiles {
    /// The files, in order.
    pub paths: Vec<PathBuf>,
    /// How they become model input.
    pub preprocess: Preprocess,
}

/// Expands `inputs` (files and folders) into image files, sorted within each folder.
pub fn collect_images(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|source| DataError::Io {
                what: "input folder",
                path: input.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            if found.is_empty() {
                return Err(DataError::setting(
                    "inputs",
                    format!("folder {} holds no .jpg, .jpeg or .png image", input.display()),
                ));
            }
            found.sort();
            out.extend(found);
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            return Err(DataError::setting("inputs", format!("{} does not exist", input.display())));
        }
    }
    Ok(out)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().to_string())
}

impl Dataset<ImageItem> for ImageFiles {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let path = &self.paths[index];
        let pixels = self.preprocess.load(path).map_err(DatasetError::new)?;
        let p = self.preprocess;
        Ok(ImageItem {
            id: stem(path),
            pixels,
            shape: [p.channels as usize, p.size as usize, p.size as usize],
            targets: Vec::new(),
            features: Vec::new(),
        })
    }

    fn len(&self) -> usize {
        self.paths.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let found = collect_images(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap().to_string_lossy().to_string()).collect();
        assert_eq!(names, ["a.jpg", "b.png"]);
        let files = ImageFiles { paths: found, preprocess: Preprocess { crop: None, size: 4, channels: 3 } };
        assert_eq!(files.get(1).unwrap().id, "b");
        let err = collect_images(&[dir.path().join("nope")]).unwrap_err().to_string();
        assert!(err.contains("nope does not exist"), "{err}");
    }
}
