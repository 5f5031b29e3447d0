//! `losses.png`: both players' losses against generator updates (a running mean over 50
//! updates), the picture that shows a GAN's balance: a discriminator loss falling to 0 while the
//! generator's climbs means the discriminator has won and the generator learns nothing.

use std::path::Path;

use plotters::prelude::*;

use super::fit::LossRow;
use crate::error::RunError;
use crate::report::plot::{ensure_font, legend};

/// Updates in the running mean.
const WINDOW: usize = 50;

fn running_mean(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= WINDOW {
            sum -= values[i - WINDOW];
        }
        out.push(sum / (i + 1).min(WINDOW) as f64);
    }
    out
}

/// Draws the logged losses into `path`.
pub fn losses_png(path: &Path, title: &str, rows: &[LossRow]) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let steps: Vec<f64> = rows.iter().map(|r| r.step as f64).collect();
    let mut series = vec![
        ("discriminator", BLUE, running_mean(&rows.iter().map(|r| r.d_loss).collect::<Vec<_>>())),
        ("generator (adversarial)", RED, running_mean(&rows.iter().map(|r| r.g_adversarial).collect::<Vec<_>>())),
    ];
    if rows.iter().all(|r| r.g_l1.is_some()) && !rows.is_empty() {
        series.push((
            "generator L1",
            GREEN,
            running_mean(&rows.iter().map(|r| r.g_l1.unwrap_or(0.0)).collect::<Vec<_>>()),
        ));
    }
    let top = series.iter().flat_map(|s| s.2.iter()).fold(0.0f64, |m, v| if v.is_finite() { m.max(*v) } else { m })
        * 1.1
        + 1e-9;
    let last = steps.last().copied().unwrap_or(1.0).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..last, 0.0..top)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("generator update")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(format!("loss (running mean of {WINDOW})"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    for (name, colour, values) in series {
        let points: Vec<(f64, f64)> = steps.iter().copied().zip(values).collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_mean_averages_the_last_window_and_a_png_is_drawn() {
        let values: Vec<f64> = (0..120).map(|i| i as f64).collect();
        let mean = running_mean(&values);
        assert_eq!(mean[0], 0.0);
        assert!((mean[9] - 4.5).abs() < 1e-12);
        assert!((mean[119] - (70..120).sum::<usize>() as f64 / 50.0).abs() < 1e-9);
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<_> = (1..=100)
            .map(|step| LossRow {
                step,
                d_loss: 0.7,
                g_adversarial: 1.0 + 0.001 * step as f64,
                g_l1: Some(0.1),
                diversity: None,
            })
            .collect();
        losses_png(&dir.path().join("l.png"), "t", &rows).unwrap();
        assert!(dir.path().join("l.png").is_file());
    }
}
