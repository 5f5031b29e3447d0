//! What a data source gives when it opens: [`DataInfo`] (shapes, task, names: what models are
//! checked against) and the three splits ([`OpenedData`]), with the helpers every source uses
//! to build them from row indices or from index ranges.

use crate::formats::cutouts::FitsCutouts;
use crate::formats::image_io::Preprocess;
use crate::item::Layout;
use crate::split::ImageSplit;
use crate::splits::SplitIndices;
use crate::task::Task;

/// What a model needs to know about the data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    /// `[channels, height, width]` of every item (`[channels, 1, steps]` for sequences).
    pub input: [usize; 3],
    /// Images, or sequences stored as one-row images.
    pub layout: Layout,
    /// What the source left out or could not use (skipped stars, with file and line); the
    /// trainer prints them and keeps them in the run folder.
    pub warnings: Vec<String>,
    /// Regression or classification.
    pub task: Task,
    /// Names of the model's outputs: the regression targets, or the classes in label order.
    pub target_names: Vec<String>,
    /// One line saying where the data comes from.
    pub description: String,
    /// How image files are prepared for this model (for `predict`).
    pub preprocess: Preprocess,
    /// The bands of light curves observed in several, stacked as channels in this order
    /// ([`crate::sequence`]); empty for images and one-band curves.
    pub bands: Vec<String>,
    /// How FITS cutouts become this model's input (lens finders: real or simulated cutouts
    /// share the noise-scaled stretch), for `predict`; none where the images are not FITS-like.
    pub fits: Option<FitsCutouts>,
}

impl DataInfo {
    /// The number of values a model gives per item: one per target, or one per input value
    /// when it gives the input back.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Reconstruction => self.input.iter().product(),
            _ => self.target_names.len(),
        }
    }
}

/// The opened data: what it is, and its three splits.
#[derive(Debug, Clone)]
pub struct OpenedData {
    /// Shapes and names.
    pub info: DataInfo,
    /// Training split.
    pub train: ImageSplit,
    /// Validation split (early stopping, best checkpoint).
    pub valid: ImageSplit,
    /// Held-out test split, evaluated once at the end.
    pub test: ImageSplit,
}

impl OpenedData {
    /// The same data for an autoencoder: every item's targets are its own pixels.
    pub fn for_reconstruction(self) -> Self {
        let [c, h, w] = self.info.input;
        let info = DataInfo {
            task: Task::Reconstruction,
            target_names: vec![format!("pixel values ({c} x {h} x {w})")],
            description: format!("{} (reconstructed: the images are their own targets)", self.info.description),
            ..self.info
        };
        Self {
            info,
            train: self.train.reconstructing(),
            valid: self.valid.reconstructing(),
            test: self.test.reconstructing(),
        }
    }
}

impl DataInfo {
    /// The description of images prepared by `preprocess` (the input is its shape), with no
    /// warnings.
    pub fn images(task: Task, target_names: Vec<String>, description: String, preprocess: Preprocess) -> Self {
        Self {
            input: preprocess.shape(),
            layout: Layout::Image,
            warnings: Vec::new(),
            task,
            target_names,
            description,
            preprocess,
            bands: Vec::new(),
            fits: None,
        }
    }
}

impl OpenedData {
    /// The three splits of a catalogue's rows: `make` turns one split's row indices into the
    /// source's split type.
    pub fn from_rows(info: DataInfo, rows: SplitIndices, make: impl Fn(Vec<usize>) -> ImageSplit) -> Self {
        let SplitIndices { train, valid, test } = rows;
        Self { info, train: make(train), valid: make(valid), test: make(test) }
    }
}
