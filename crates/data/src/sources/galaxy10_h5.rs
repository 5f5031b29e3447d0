//! Galaxy10 DECaLS (Leung & Bovy; astroNN): `Galaxy10_DECals.h5` holds `images`, uint8
//! `(17736, 256, 256, 3)`, and `ans`, the class (0-9) of each. Any HDF5 file laid out the same
//! way (N x H x W x C uint8 images, N integer labels) reads too. Reading needs the `hdf5` cargo
//! feature (and the system libhdf5); without it the config still parses and `open` says how to
//! rebuild. Images are read one at a time (the file is 3.5 GB) and kept in memory as prepared
//! bytes after their first read.

use std::path::PathBuf;

use astro_sim::galaxy10::GALAXY10_CLASSES;
use serde::{Deserialize, Serialize};

use crate::opened::OpenedData;
use crate::error::DataError;
use crate::sources::Source;
use crate::sources::shared::{Resample, RandomSplit, limit_to};

fn default_images_key() -> String {
    "images".into()
}
fn default_labels_key() -> String {
    "ans".into()
}
/// `[data]` with `source = "galaxy10_h5"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Galaxy10Config {
    /// The HDF5 file (`Galaxy10_DECals.h5`).
    pub path: PathBuf,
    /// Dataset of uint8 images, N x H x W x C (C = 1 or 3).
    #[serde(default = "default_images_key")]
    pub images_key: String,
    /// Dataset of N integer class labels.
    #[serde(default = "default_labels_key")]
    pub labels_key: String,
    /// Class names in label order (default: the ten Galaxy10 classes).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// Centre crop and resampling of each image (`crop`, `size`).
    #[serde(flatten)]
    pub resample: Resample,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`).
    #[serde(flatten)]
    pub held_out: RandomSplit,
    /// Use only the first N images (quick runs).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Keep prepared images in memory after their first read.
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
}

impl Galaxy10Config {
    /// The class names in label order.
    fn class_names(&self) -> Vec<String> {
        self.classes.clone().unwrap_or_else(|| GALAXY10_CLASSES.iter().map(|s| s.to_string()).collect())
    }

}

#[cfg(feature = "hdf5")]
mod reader {
    use std::sync::Arc;

    use burn::data::dataset::DatasetError;

    use super::Galaxy10Config;
    use crate::cache::ByteCache;
    use crate::opened::{DataInfo, OpenedData};
    use crate::error::DataError;
    use crate::formats::image_io::Preprocess;
    use crate::item::ImageItem;
    use crate::split::{ImageSplit, LabelledImages};
    use crate::task::Task;

    /// The opened file's image dataset and its geometry.
    #[derive(Debug)]
    struct Images {
        dataset: hdf5::Dataset,
        height: usize,
        width: usize,
        channels: usize,
    }

    pub(super) fn open(config: &Galaxy10Config, seed: u64) -> Result<OpenedData, DataError> {
        let path = &config.path;
        let bad = |problem: String| DataError::setting("path", format!("{}: {problem}", path.display()));
        if !path.is_file() {
            return Err(bad("no such file".into()));
        }
        let preprocess = config.resample.with_channels(3)?;
        config.held_out.check()?;
        let file = hdf5::File::open(path).map_err(|e| bad(format!("not a readable HDF5 file ({e})")))?;
        let dataset = file
            .dataset(&config.images_key)
            .map_err(|e| bad(format!("has no dataset {:?} (images_key): {e}", config.images_key)))?;
        let labels_set = file
            .dataset(&config.labels_key)
            .map_err(|e| bad(format!("has no dataset {:?} (labels_key): {e}", config.labels_key)))?;
        let shape = dataset.shape();
        let [n, height, width, channels] = shape[..] else {
            return Err(bad(format!("{:?} is {shape:?}, not N x height x width x channels", config.images_key)));
        };
        if !(channels == 1 || channels == 3) {
            return Err(bad(format!("{:?} has {channels} channels; 1 or 3 are read", config.images_key)));
        }
        let dtype = dataset.dtype().map_err(|e| bad(e.to_string()))?;
        if !dtype.is::<u8>() {
            return Err(bad(format!("{:?} is not uint8 images", config.images_key)));
        }
        let label_type = labels_set.dtype().and_then(|t| t.to_descriptor()).map_err(|e| bad(e.to_string()))?;
        if !matches!(label_type, hdf5::types::TypeDescriptor::Integer(_) | hdf5::types::TypeDescriptor::Unsigned(_)) {
            return Err(bad(format!(
                "{:?} (labels_key) holds {label_type}, not integer class labels",
                config.labels_key
            )));
        }
        let raw: Vec<i64> = labels_set
            .read_raw::<i64>()
            .map_err(|e| bad(format!("cannot read {:?} as integers: {e}", config.labels_key)))?;
        if raw.len() != n {
            return Err(bad(format!("{} images but {} labels", n, raw.len())));
        }
        let classes = config.class_names();
        let n = config.limit.map_or(n, |l| l.min(n));
        let mut labels = Vec::with_capacity(n);
        for (i, &label) in raw[..n].iter().enumerate() {
            match usize::try_from(label).ok().filter(|&c| c < classes.len()) {
                Some(c) => labels.push(c),
                None => {
                    return Err(bad(format!(
                        "{:?} label {label} of image {i} is not a class index (0 to {})",
                        config.labels_key,
                        classes.len() - 1
                    )));
                }
            }
        }
        let idx = config.held_out.stratified(&labels, "images", seed)?;
        let images = Arc::new(Images { dataset, height, width, channels });
        let labels = Arc::new(labels);
        // Read one image now, so a crop larger than the images fails before training starts.
        read_image(&images, &preprocess, 0).map_err(bad)?;
        let size = config.resample.size;
        let description = format!(
            "{} ({n} of {} galaxies, {height}x{width}x{channels} -> {size}x{size} px): {}",
            path.display(),
            raw.len(),
            idx.counts()
        );
        let info = DataInfo::images(Task::Classification, classes, description, preprocess);
        Ok(OpenedData::from_rows(info, idx, |rows| {
            let cache = ByteCache::new(rows.len(), config.cache);
            ImageSplit::new(Galaxy10Split { images: images.clone(), labels: labels.clone(), rows, preprocess, cache })
        }))
    }

    /// Image `row`, cropped and resampled.
    fn read_image(images: &Images, preprocess: &Preprocess, row: usize) -> Result<Vec<f32>, String> {
        let slab: Vec<hdf5::SliceOrIndex> = vec![(row..row + 1).into(), (..).into(), (..).into(), (..).into()];
        let pixels: ndarray::Array4<u8> = images
            .dataset
            .read_slice(hdf5::Hyperslab::from(slab))
            .map_err(|e| format!("cannot read image {row}: {e}"))?;
        let (w, h) = (images.width as u32, images.height as u32);
        let bytes = pixels.into_raw_vec_and_offset().0;
        let img = if images.channels == 1 {
            image::GrayImage::from_raw(w, h, bytes).map(image::DynamicImage::ImageLuma8)
        } else {
            image::RgbImage::from_raw(w, h, bytes).map(image::DynamicImage::ImageRgb8)
        };
        let img = img.ok_or_else(|| format!("image {row} has the wrong number of bytes"))?;
        preprocess.prepare(&img).map_err(|e| format!("image {row}: {e}"))
    }

    /// One split of the file.
    #[derive(Debug)]
    struct Galaxy10Split {
        images: Arc<Images>,
        labels: Arc<Vec<usize>>,
        rows: Vec<usize>,
        preprocess: Preprocess,
        cache: ByteCache,
    }

    impl LabelledImages for Galaxy10Split {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            let row = self.rows[index];
            let pixels = self.cache.get_or_make(index, || {
                read_image(&self.images, &self.preprocess, row).map_err(|e| DatasetError::new(std::io::Error::other(e)))
            })?;
            Ok(ImageItem {
                id: self.id(index),
                pixels,
                shape: self.preprocess.shape(),
                targets: vec![self.labels[row] as f32],
                features: Vec::new(),
            })
        }

        fn count(&self) -> usize {
            self.rows.len()
        }

        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![self.labels[self.rows[index]] as f32])
        }

        fn id(&self, index: usize) -> String {
            self.rows[index].to_string()
        }
    }
}

#[cfg(all(test, feature = "hdf5"))]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/galaxy10_tiny.h5");

    fn config(extra: &str) -> Galaxy10Config {
        let size = if extra.contains("size") { "" } else { "size = 20\n" };
        toml::from_str(&format!("path = \"{FIXTURE}\"\n{size}valid_fraction = 0.34\ntest_fraction = 0.34\n{extra}"))
            .unwrap()
    }

    #[test]
    fn reads_the_h5py_file_pixel_for_pixel() {
        let data = config("").open(0).unwrap();
        assert_eq!(data.info.target_names[0], "Disturbed");
        assert_eq!(data.info.input, [3, 20, 20]);
        // 3 galaxies of each of the 10 classes: one per split each.
        assert_eq!((data.train.len(), data.valid.len(), data.test.len()), (10, 10, 10));
        for split in [&data.train, &data.valid, &data.test] {
            for k in 0..split.len() {
                let item = split.get(k).unwrap();
                let i: usize = item.id.parse().unwrap();
                assert_eq!(item.targets, [(i % 10) as f32]);
                for (c, y, x) in [(0, 0, 0), (2, 19, 3), (1, 7, 11)] {
                    let expected = ((7 * i + 3 * y + 5 * x + 11 * c) % 256) as f32 / 255.0;
                    assert!((item.pixels[c * 400 + y * 20 + x] - expected).abs() < 1e-6, "image {i} ({c},{y},{x})");
                }
            }
        }
        // A centre crop and resampling give the smaller shape.
        let small = config("crop = 10\nsize = 8").open(0).unwrap();
        assert_eq!(small.train.get(0).unwrap().shape, [3, 8, 8]);
    }

    #[test]
    fn wrong_keys_crops_and_labels_are_named() {
        let err = config("images_key = \"imgs\"").open(0).unwrap_err().to_string();
        assert!(err.contains("has no dataset \"imgs\" (images_key)"), "{err}");
        let err = config("crop = 30").open(0).unwrap_err().to_string();
        assert!(err.contains("smaller than the 30-pixel centre crop"), "{err}");
        let err = config("classes = [\"a\", \"b\"]").open(0).unwrap_err().to_string();
        assert!(err.contains("\"ans\" label 2 of image 2 is not a class index (0 to 1)"), "{err}");
        let err = config("labels_key = \"ra\"").open(0).unwrap_err().to_string();
        assert!(err.contains("\"ra\" (labels_key) holds") && err.contains("not integer class labels"), "{err}");
    }
}

impl Source for Galaxy10Config {
    fn kind(&self) -> &'static str {
        "Galaxy10 HDF5 file"
    }

    /// Checks the settings and the file, then returns the stratified splits.
    #[cfg(not(feature = "hdf5"))]
    fn open(&self, _seed: u64) -> Result<OpenedData, DataError> {
        let _ = self.class_names();
        Err(DataError::setting(
            "source",
            format!(
                "reading {} needs HDF5 support, which this build lacks: install libhdf5 (Debian: apt install libhdf5-dev) and build with `--features hdf5`",
                self.path.display()
            ),
        ))
    }

    /// Checks the settings and the file, then returns the stratified splits.
    #[cfg(feature = "hdf5")]
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        reader::open(self, seed)
    }

    fn shrink_for_smoke(&mut self) {
        limit_to(&mut self.limit, 80);
    }
}
