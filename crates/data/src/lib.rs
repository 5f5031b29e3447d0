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
pub mod catalogue_features;
pub mod epoch_loader;
pub mod error;
pub mod folds;
pub mod formats;
pub mod item;
pub mod opened;
pub mod paired;
pub mod sequence;
pub mod sources;
pub mod split;
pub mod splits;
pub mod stratified;
pub mod task;

pub use augment::{AugmentConfig, Augmenter, TestTimeConfig, Transform};
pub use batcher::{ImageBatch, ImageBatcher};
pub use error::DataError;
pub use formats::image_io::Preprocess;
pub use item::{ImageItem, Layout};
pub use opened::{DataInfo, OpenedData};
pub use sources::{DataConfig, Source};
pub use split::ImageSplit;
pub use task::Task;
