//! How an adapted run's target-domain results read: the console lines and the `report.md`
//! section (source and target test scores side by side, the domain classifier over training,
//! the feature picture).

use crate::adapt::target::AdaptationScores;
use crate::evaluate::TestScores;

/// The headline metric and ROC AUC (two classes) of `scores`.
fn headline(scores: &TestScores) -> (String, f64, Option<f64>) {
    let h = scores.headline();
    let auc = match scores {
        TestScores::Classification(m) => m.binary.as_ref().map(|b| b.roc_auc),
        _ => None,
    };
    (h.metric.to_string(), h.value, auc)
}

fn auc_text(auc: Option<f64>) -> String {
    match auc {
        None => "not measured (not two classes)".into(),
        Some(v) if v.is_nan() => "not measured (the test split holds one class only)".into(),
        Some(v) => format!("{v:.4}"),
    }
}

/// The adaptation's console lines.
pub fn console_lines(a: &AdaptationScores) -> Vec<String> {
    let (metric, value, auc) = headline(&a.target_test);
    let mut lines = vec![format!(
        "target test {metric} (n = {}): {value:.5}; ROC AUC {} [adaptation: {}]",
        a.target_test.samples(),
        auc_text(auc),
        a.method
    )];
    if let Some(n) = a.target_batch_norm_items {
        lines.push(format!("target scored with batch-norm statistics from {n} target training images (AdaBN)"));
    }
    if let Some(last) = a.domain_accuracy_by_epoch.last() {
        lines.push(format!("domain classifier accuracy, last epoch: {last:.3} (0.5: the domains look alike)"));
    }
    lines
}

/// The `report.md` section.
pub fn markdown(a: &AdaptationScores, source: &TestScores) -> String {
    let (metric, s_value, s_auc) = headline(source);
    let (_, t_value, t_auc) = headline(&a.target_test);
    let mut md = format!(
        "## Domain adaptation ({})\n\nTrained on the labelled source ([data]) {}; target: {}.\n\n\
         | test split | items | {metric} | ROC AUC |\n|---|---|---|---|\n\
         | source | {} | {s_value:.5} | {} |\n| target | {} | {t_value:.5} | {} |\n\n",
        a.method,
        if a.domain_loss_by_epoch.is_empty() && a.method == "none" {
            "only (the target is scored, never trained on)".to_string()
        } else {
            format!("beside {} unlabelled target training images", a.target_train_items)
        },
        a.target,
        source.samples(),
        auc_text(s_auc),
        a.target_test.samples(),
        auc_text(t_auc),
    );
    if let Some(n) = a.target_batch_norm_items {
        md.push_str(&format!(
            "The target is scored with the batch-norm layers' running statistics re-estimated on {n} unlabelled \
             target training images (AdaBN, Li et al. 2016; [model_target.bpk](model_target.bpk)); the source \
             with the source's ([model.bpk](model.bpk)).\n\n"
        ));
    }
    if !a.domain_loss_by_epoch.is_empty() {
        md.push_str("| epoch | adaptation term | domain classifier accuracy |\n|---|---|---|\n");
        for (i, loss) in a.domain_loss_by_epoch.iter().enumerate() {
            let acc = a.domain_accuracy_by_epoch.get(i).filter(|v| v.is_finite());
            md.push_str(&format!(
                "| {} | {loss:.4e} | {} |\n",
                i + 1,
                acc.map_or("-".to_string(), |v| format!("{v:.3}"))
            ));
        }
        md.push_str(
            "\nThe adaptation term is the MMD^2 (mmd) or the domain classifier's cross-entropy (dann) on the training \
             batches; a domain accuracy near 0.5 means the features no longer tell the domains apart.\n\n",
        );
    }
    md.push_str(
        "Target predictions: [target_test_predictions.csv](target_test_predictions.csv).\n\n\
         ![body features of the source and target test images, first two principal components](features.png)\n\n",
    );
    md
}
