//! Datasets for astronomy deep learning: simulator-backed data sets that need no disk, the real
//! survey formats (image folders with a CSV catalogue, as the Kaggle Galaxy Zoo 2 release; class
//! sub-folders; the Galaxy10 DECaLS HDF5 file behind the `hdf5` feature; FITS cutouts;
//! light-curve lists and files), and the batcher that turns items into Burn tensors. Light
//! curves travel as one-row images with a mask channel ([`sequence`]).
//!
//! `[data]` in an experiment config is a [`DataConfig`]; [`DataConfig::open`] checks it and
//! returns the train, validation and test splits with a description of their shapes.

pub mod augment;
pub mod batcher;
pub mod cache;
pub mod catalogue;
pub mod config;
pub mod degraded_folder;
pub mod degraded_galaxies;
pub mod density_slices;
pub mod error;
pub mod files;
pub mod fits;
pub mod galaxy10_h5;
pub mod image_csv;
pub mod image_folder;
pub mod image_io;
pub mod item;
pub mod lens_challenge;
pub mod light_curve_files;
pub mod light_curve_folder;
pub mod sequence;
pub mod simulated;
pub mod simulated_lenses;
pub mod simulated_light_curves;
pub mod simulated_mergers;
pub mod simulated_profiles;
pub mod split;
pub mod splits;
pub mod stratified;
pub mod task;

pub use augment::{AugmentConfig, Augmenter, TestTimeConfig, Transform};
pub use batcher::{ImageBatch, ImageBatcher};
pub use config::{DataConfig, DataInfo, OpenedData};
pub use error::DataError;
pub use image_io::Preprocess;
pub use item::{ImageItem, Layout};
pub use split::ImageSplit;
pub use task::Task;
