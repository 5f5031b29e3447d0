//! `comparison.png`: the learning curves of a comparison's two runs on one picture: the loss
//! (training dashed, validation solid, log scale) and the validation metric per epoch, with a
//! grey line where the transferred run's first stage (its frozen body) ends.

use std::path::Path;

use plotters::prelude::*;

use plotters::coord::types::RangedCoordf64;
use plotters::drawing::DrawingAreaErrorKind;

use crate::error::RunError;
use crate::fit::epoch_log::EpochRow;
use crate::report::plot::{ensure_font, legend};

/// Colours of the runs, in order.
const COLOURS: [RGBColor; 2] = [RGBColor(200, 60, 40), RGBColor(30, 90, 200)];

/// Draws `runs` (name, rows) into `path`; `stage_end` is the last epoch of the transferred
/// run's first stage, when it has several.
pub fn comparison_curves(
    path: &Path,
    title: &str,
    runs: &[(&str, Vec<EpochRow>)],
    stage_end: Option<usize>,
) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(600);
    let last = runs.iter().flat_map(|(_, r)| r.iter().map(|r| r.epoch)).max().unwrap_or(1).max(1);
    let x_range = 0.5f64..(last as f64 + 0.5);

    // Loss, as log10 on a linear axis (labels show the loss).
    let losses: Vec<f64> = runs
        .iter()
        .flat_map(|(_, rows)| rows.iter().flat_map(|r| [r.train_loss, r.valid_loss]))
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::log10)
        .collect();
    let (lo, hi) = losses.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (lo, hi) = if losses.is_empty() { (-3.0, 0.0) } else { (lo - 0.1, hi + 0.1) };
    let mut chart = ChartBuilder::on(&left)
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range.clone(), lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .x_labels(last.min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.2e}", 10f64.powf(*y)))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    for ((name, rows), colour) in runs.iter().zip(COLOURS) {
        let points = |f: fn(&EpochRow) -> f64| -> Vec<(f64, f64)> {
            rows.iter()
                .map(|r| (r.epoch as f64, f(r)))
                .filter(|(_, y)| y.is_finite() && *y > 0.0)
                .map(|(x, y)| (x, y.log10()))
                .collect()
        };
        chart
            .draw_series(LineSeries::new(points(|r| r.valid_loss), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(format!("{name}: validation"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(points(|r| r.train_loss), 6, 4, colour.stroke_width(1)))
            .map_err(|e| err(&e))?
            .label(format!("{name}: training"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(1)));
    }
    stage_line(&mut chart, stage_end, lo, hi).map_err(|e| err(&e))?;
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;

    // The validation metric (accuracy or RMSE) per epoch.
    let metrics: Vec<f64> =
        runs.iter().flat_map(|(_, rows)| rows.iter().map(|r| r.valid_metric)).filter(|v| v.is_finite()).collect();
    let (mlo, mhi) = metrics.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (mlo, mhi) = if metrics.is_empty() { (0.0, 1.0) } else { (mlo - 0.02, mhi + 0.02) };
    let mut chart = ChartBuilder::on(&right)
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, mlo..mhi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("validation metric (accuracy or RMSE)")
        .x_labels(last.min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    for ((name, rows), colour) in runs.iter().zip(COLOURS) {
        let points: Vec<(f64, f64)> =
            rows.iter().filter(|r| r.valid_metric.is_finite()).map(|r| (r.epoch as f64, r.valid_metric)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled()))).map_err(|e| err(&e))?;
    }
    stage_line(&mut chart, stage_end, mlo, mhi).map_err(|e| err(&e))?;
    legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A grey dashed line after epoch `end` from `lo` to `hi`, where the first stage ends.
fn stage_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    end: Option<usize>,
    lo: f64,
    hi: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if let Some(end) = end {
        let x = end as f64 + 0.5;
        chart.draw_series(DashedLineSeries::new(
            vec![(x, lo), (x, hi)],
            5,
            5,
            RGBColor(130, 130, 130).stroke_width(1),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("comparison.png");
        let rows = |shift: f64| -> Vec<EpochRow> {
            (1..=5)
                .map(|e| EpochRow {
                    epoch: e,
                    train_loss: shift / e as f64,
                    train_metric: 0.5,
                    valid_loss: 1.1 * shift / e as f64,
                    valid_metric: 0.5 + 0.05 * e as f64,
                    learning_rate: 1e-3,
                    seconds: 1.0,
                    domain_loss: f64::NAN,
                    domain_accuracy: f64::NAN,
                })
                .collect()
        };
        comparison_curves(&path, "t", &[("scratch", rows(1.0)), ("transfer", rows(0.6))], Some(2)).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (1200, 520));
    }
}
