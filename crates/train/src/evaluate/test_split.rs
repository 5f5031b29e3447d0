//! The test split of a supervised run: predictions averaged over the test-time views, their
//! scores for the task, `test_predictions.csv`, and the loss of a model that learned nothing
//! from the inputs (the baseline line of the learning curves).

use astro_data::OpenedData;
use burn::tensor::Device;

use crate::config::ExperimentConfig;
use crate::error::RunError;
use crate::evaluate::{Predictions, TestScores, predict, score, write_predictions_csv};
use crate::fit::supervised::Supervised;
use crate::report::plot::BaselineLoss;
use crate::run::folder::RunDir;
use crate::run::model_io::ModelIo;

/// What the test split gave.
pub struct TestOutcome {
    /// The task's scores.
    pub scores: TestScores,
    /// Every test item's outputs and targets.
    pub predictions: Predictions,
    /// The name of the training loss.
    pub loss_name: &'static str,
    /// The loss of the trivial baseline.
    pub baseline: BaselineLoss<'static>,
}

/// Predicts the test split with `model`, scores it and writes `test_predictions.csv`.
pub fn evaluate_test_split(
    config: &ExperimentConfig,
    run: &RunDir,
    data: &OpenedData,
    model: &Supervised,
    io: &ModelIo,
    device: &Device,
) -> Result<TestOutcome, RunError> {
    let (t, task) = (&config.training, io.task);
    let mut predictions =
        predict(model, data.test.clone(), t.batch_size, t.workers, config.test_time.as_ref(), device)?;
    predictions.attach_attributes(&[&data.test]);
    let scores = score(task, &predictions, &io.train_mean, &io.target_names, &config.evaluation);
    write_predictions_csv(&run.file("test_predictions.csv"), task, &data.info.target_names, &predictions)?;
    let (loss_name, baseline) = match &scores {
        TestScores::Classification(_) => {
            let loss = prior_cross_entropy(&io.train_mean, &predictions);
            ("cross-entropy", BaselineLoss { loss, label: "training class shares" })
        }
        TestScores::Regression(m) => {
            let loss = if config.model.has_own_loss() { f64::NAN } else { m.baseline_rmse.powi(2) };
            ("mean squared error", BaselineLoss { loss, label: "training mean" })
        }
        TestScores::Reconstruction(m) => {
            ("mean squared error", BaselineLoss { loss: m.baseline_rmse.powi(2), label: "mean training image" })
        }
    };
    Ok(TestOutcome { scores, predictions, loss_name, baseline })
}

/// The cross-entropy of answering the training class shares `prior` for every labelled test
/// item: the classification loss a model that learned nothing from the images would reach.
fn prior_cross_entropy(prior: &[f32], predictions: &Predictions) -> f64 {
    let losses: Vec<f64> = predictions
        .targets
        .iter()
        .filter_map(|t| astro_data::task::class_of(t, prior.len()))
        .map(|c| -f64::from(prior[c]).max(1e-12).ln())
        .collect();
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
}
