//! `roc.png`: the ROC curve of a two-class detector (true-positive rate, the completeness,
//! against false-positive rate on a log axis, where lens finding operates), with the chance
//! line and the configured false-positive rates marked.

use std::path::Path;

use plotters::prelude::*;

use crate::error::RunError;
use crate::evaluate::binary::BinaryScores;
use crate::report::plot::ensure_font;

/// The smallest false-positive rate drawn.
const FPR_FLOOR: f64 = 1e-4;

/// Draws `scores.roc` with the completeness at each configured FPR.
pub fn roc_png(path: &Path, title: &str, scores: &BinaryScores) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let root = BitMapBackend::new(path, (760, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(FPR_FLOOR.log10()..0.0, 0.0..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("completeness (true-positive rate)")
        .x_labels(5)
        .x_label_formatter(&|x| format!("{}", 10f64.powf(*x)))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    // The chance line, TPR = FPR.
    let chance: Vec<(f64, f64)> =
        (0..=40).map(|k| FPR_FLOOR.log10() * (1.0 - k as f64 / 40.0)).map(|x| (x, 10f64.powf(x))).collect();
    chart.draw_series(LineSeries::new(chance, BLACK.mix(0.4).stroke_width(1))).map_err(|e| err(&e))?;
    let curve: Vec<(f64, f64)> = scores.roc.iter().map(|&(f, t)| (f.max(FPR_FLOOR).log10(), t)).collect();
    chart
        .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(format!("all test items (AUC {:.3})", scores.roc_auc))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    for a in &scores.at_fpr {
        let point = (a.fpr.max(FPR_FLOOR).log10(), a.completeness);
        chart.draw_series(std::iter::once(Circle::new(point, 5, RED.filled()))).map_err(|e| err(&e))?;
        let label = format!("{:.2} at {}%", a.completeness, 100.0 * a.fpr);
        chart
            .draw_series(std::iter::once(Text::new(label, (point.0 + 0.05, point.1 - 0.03), ("sans-serif", 15))))
            .map_err(|e| err(&e))?;
    }
    crate::report::plot::legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::binary::{EvaluationConfig, score_binary};

    #[test]
    fn draws_a_png() {
        let scores: Vec<f64> = (0..200).map(|i| (i % 100) as f64 / 100.0 + if i >= 100 { 0.3 } else { 0.0 }).collect();
        let positive: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let b = score_binary(&scores, &positive, &[], &EvaluationConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roc.png");
        roc_png(&path, "test", &b).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (760, 600));
    }
}
