//! The test split's pictures: the confusion matrix and ROC curve of a classifier, predicted
//! against true values of a regression, and the gallery of test items (images or light curves)
//! captioned with their true and predicted answers.

use astro_data::OpenedData;
use astro_data::{ImageItem, Layout};
use burn::data::dataset::Dataset;

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::evaluate::{Predictions, TestScores};
use crate::report::confusion_plot::confusion_png;
use crate::report::curve_gallery::save_curve_gallery;
use crate::report::gallery::{GalleryItem, gallery_rows, save_gallery};
use crate::report::roc_plot::roc_png;
use crate::report::scatter_plot::predicted_vs_true;
use crate::run::folder::RunDir;

/// Draws the task's plots and the gallery of `data`'s test split into `run`.
pub fn test_figures(
    config: &ExperimentConfig,
    run: &RunDir,
    data: &OpenedData,
    scores: &TestScores,
    predictions: &Predictions,
) -> Result<(), RunError> {
    let task = data.info.task;
    match scores {
        TestScores::Classification(m) => {
            let name = format!("{}: confusion matrix (test)", config.experiment.name);
            confusion_png(&run.file("confusion.png"), &name, &data.info.target_names, &m.confusion)?;
            if let Some(b) = &m.binary {
                let title = format!("{}: ROC curve (test)", config.experiment.name);
                roc_png(&run.file("roc.png"), &title, b)?;
            }
        }
        TestScores::Regression(_) => {
            let title = format!("{}: predicted vs true (test)", config.experiment.name);
            predicted_vs_true(
                &run.file("predicted_vs_true.png"),
                &title,
                &data.info.target_names,
                predictions,
                config.evaluation.published.as_deref(),
            )?;
        }
        TestScores::Reconstruction(_) => {}
    }
    let index_of: std::collections::HashMap<String, usize> =
        (0..data.test.len()).map(|i| (data.test.id(i), i)).collect();
    let picked: Vec<(usize, ImageItem)> = gallery_rows(task, predictions)
        .into_iter()
        .filter_map(|row| Some((row, data.test.get(*index_of.get(&predictions.ids[row])?).ok()?)))
        .collect();
    let cells: Vec<GalleryItem> = picked
        .iter()
        .map(|(row, s)| GalleryItem {
            pixels: &s.pixels,
            shape: s.shape,
            targets: &predictions.targets[*row],
            outputs: &predictions.outputs[*row],
        })
        .collect();
    match data.info.layout {
        Layout::Image => save_gallery(&run.file("gallery.png"), task, &data.info.target_names, &cells, 4, 2)?,
        Layout::Sequence => {
            let path = run.file("gallery.png");
            save_curve_gallery(&path, task, &data.info.target_names, &data.info.bands, &cells, 4)?
        }
    }
    Ok(())
}
