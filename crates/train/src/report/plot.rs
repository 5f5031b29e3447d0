//! `learning_curves.png`: training and validation loss per epoch, the picture that shows
//! under-fitting (both high) and over-fitting (validation rising while training falls), with
//! the baseline's loss for scale.

use std::path::Path;
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::RunError;
use crate::fit::epoch_log::EpochRow;

static FONT: Once = Once::new();

/// Registers the bundled font (no system fonts are needed).
pub fn ensure_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    });
}

/// A line with a dot at each point, named `name` in the legend.
pub fn labelled_curve<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    name: &str,
    colour: RGBColor,
    points: &[(f64, f64)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .draw_series(LineSeries::new(points.to_vec(), colour.stroke_width(2)))?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
    Ok(())
}

/// Draws the series legend of a chart at `position`, in the plots' common style.
pub fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
}

fn plot_err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> RunError + '_ {
    move |e| RunError::Run(format!("cannot draw {}: {e}", path.display()))
}

/// The loss of a trivial predictor on the test split, drawn for scale.
#[derive(Debug, Clone, Copy)]
pub struct BaselineLoss<'a> {
    /// Its loss.
    pub loss: f64,
    /// What it is, for the legend.
    pub label: &'a str,
}

/// Where a training stage begins, for the plot: after `after_epoch`, named `name`.
#[derive(Debug, Clone, Copy)]
pub struct StageMark<'a> {
    /// The last epoch before the stage.
    pub after_epoch: usize,
    /// The stage's name.
    pub name: &'a str,
}

/// Draws train and validation loss (named `loss_name`) against epoch, on a log axis, with
/// `baseline` as a dashed line and a grey line where each of `stages` after the first begins.
pub fn learning_curves(
    path: &Path,
    title: &str,
    loss_name: &str,
    rows: &[EpochRow],
    baseline: Option<BaselineLoss>,
    stages: &[StageMark],
) -> Result<(), RunError> {
    ensure_font();
    let err = plot_err(path);
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.train_loss, r.valid_loss])
        .chain(baseline.map(|b| b.loss))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (lo, hi) = if values.is_empty() { (1e-3, 1.0) } else { (lo / 1.5, hi * 1.5) };
    // A log axis drawn as log10(loss) on a linear one: plotters labels a log axis only at
    // powers of ten, and losses often span less than a decade. Labels show the loss itself.
    let (lo, hi) = (lo.log10(), hi.log10());
    let last = rows.last().map_or(1, |r| r.epoch).max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5f64..(last as f64 + 0.5), lo..hi)
        .map_err(&err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(format!("loss ({loss_name})"))
        .x_labels(last.min(12))
        .y_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.2e}", 10f64.powf(*y)))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(&err)?;
    let series = [
        ("train", BLUE, rows.iter().map(|r| (r.epoch as f64, r.train_loss)).collect::<Vec<_>>()),
        ("validation", RED, rows.iter().map(|r| (r.epoch as f64, r.valid_loss)).collect()),
    ];
    for (label, color, points) in series {
        let points: Vec<(f64, f64)> =
            points.into_iter().filter(|(_, y)| y.is_finite() && *y > 0.0).map(|(x, y)| (x, y.log10())).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(&err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled()))).map_err(&err)?;
    }
    for mark in stages.iter().filter(|m| m.after_epoch > 0) {
        let x = mark.after_epoch as f64 + 0.5;
        let grey = RGBColor(120, 120, 120);
        chart.draw_series(DashedLineSeries::new(vec![(x, lo), (x, hi)], 6, 6, grey.stroke_width(1))).map_err(&err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {}", mark.name),
                (x, hi - 0.04 * (hi - lo)),
                ("sans-serif", 15).into_font().color(&grey),
            )))
            .map_err(&err)?;
    }
    if let Some(BaselineLoss { loss: b, label }) = baseline.filter(|b| b.loss.is_finite() && b.loss > 0.0) {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.5, b.log10()), (last as f64 + 0.5, b.log10())],
                10,
                6,
                BLACK.stroke_width(2),
            ))
            .map_err(&err)?
            .label(format!("baseline: {label} (test)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let rows: Vec<EpochRow> = (1..=4)
            .map(|e| EpochRow {
                epoch: e,
                train_loss: 1.0 / e as f64,
                train_metric: 0.0,
                valid_loss: 1.2 / e as f64,
                valid_metric: 0.0,
                learning_rate: 1e-3,
                seconds: 1.0,
                domain_loss: f64::NAN,
                domain_accuracy: f64::NAN,
            })
            .collect();
        let baseline = BaselineLoss { loss: 0.9, label: "training mean" };
        let stages = [StageMark { after_epoch: 0, name: "head" }, StageMark { after_epoch: 2, name: "all" }];
        learning_curves(&path, "test", "mean squared error", &rows, Some(baseline), &stages).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (900, 560));
    }
}
