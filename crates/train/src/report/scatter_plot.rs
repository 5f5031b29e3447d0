//! `predicted_vs_true.png` of a regression run: the model's value against the true one for each
//! test item, with the identity line and the RMSE; one panel per target up to four targets,
//! all targets pooled in one panel beyond. A published model's predictions (an item property)
//! are drawn beside the run's in the first panel, with their RMSE.

use std::path::Path;

use plotters::prelude::*;

use crate::error::RunError;
use crate::evaluate::{Predictions, rmse};
use crate::report::plot::ensure_font;

/// Draws predicted against true values of the targets `names`, and the values of the item
/// property `published` against the first target when given.
pub fn predicted_vs_true(
    path: &Path,
    title: &str,
    names: &[String],
    p: &Predictions,
    published: Option<&str>,
) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let panels: Vec<(String, Vec<usize>)> = if names.len() <= 4 {
        names.iter().enumerate().map(|(j, n)| (n.clone(), vec![j])).collect()
    } else {
        vec![(format!("all {} targets", names.len()), (0..names.len()).collect())]
    };
    let size = 520u32;
    let root = BitMapBackend::new(path, (size * panels.len() as u32, size + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (header, body) = root.split_vertically(40);
    header.titled(title, ("sans-serif", 22)).map_err(|e| err(&e))?;
    for (panel, ((name, cols), area)) in panels.iter().zip(body.split_evenly((1, panels.len()))).enumerate() {
        let theirs: Vec<(f64, f64)> = match published.filter(|_| panel == 0 && cols.len() == 1) {
            Some(property) => p
                .attributes
                .iter()
                .zip(&p.targets)
                .filter_map(|(a, t)| Some((f64::from(*t.first()?), a.iter().find(|(k, _)| k == property)?.1)))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect(),
            None => Vec::new(),
        };
        let pairs: Vec<(f64, f64)> = p
            .targets
            .iter()
            .zip(&p.outputs)
            .flat_map(|(t, o)| cols.iter().filter_map(|&j| Some((f64::from(*t.get(j)?), f64::from(*o.get(j)?)))))
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .collect();
        let (lo, hi) = pairs
            .iter()
            .chain(&theirs)
            .fold((f64::MAX, f64::MIN), |(l, h), (a, b)| (l.min(a.min(*b)), h.max(a.max(*b))));
        let (lo, hi) = if lo < hi { (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)) } else { (lo - 1.0, lo + 1.0) };
        let truth: Vec<Vec<f32>> = pairs.iter().map(|(a, _)| vec![*a as f32]).collect();
        let model: Vec<Vec<f32>> = pairs.iter().map(|(_, b)| vec![*b as f32]).collect();
        let rmse_of = |v: &[(f64, f64)]| {
            let (t, m): (Vec<Vec<f32>>, Vec<Vec<f32>>) =
                v.iter().map(|(a, b)| (vec![*a as f32], vec![*b as f32])).unzip();
            rmse(&m, &t)
        };
        let caption = match published.filter(|_| !theirs.is_empty()) {
            Some(property) => format!(
                "{name}: RMSE {:.4}, {property} {:.4} (n = {})",
                rmse(&model, &truth),
                rmse_of(&theirs),
                pairs.len()
            ),
            None => format!("{name}: RMSE {:.4} (n = {})", rmse(&model, &truth), pairs.len()),
        };
        let mut chart = ChartBuilder::on(&area)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("true")
            .y_desc("predicted")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        chart.draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.mix(0.5))).map_err(|e| err(&e))?;
        if !theirs.is_empty() {
            chart
                .draw_series(
                    theirs.iter().map(|&(a, b)| Circle::new((a, b), 2, RGBColor(230, 120, 0).mix(0.45).filled())),
                )
                .map_err(|e| err(&e))?
                .label(published.unwrap_or_default())
                .legend(|(x, y)| Circle::new((x, y), 4, RGBColor(230, 120, 0).filled()));
        }
        let ours = chart
            .draw_series(pairs.iter().map(|&(a, b)| Circle::new((a, b), 2, BLUE.mix(0.5).filled())))
            .map_err(|e| err(&e))?;
        if !theirs.is_empty() {
            ours.label("this run").legend(|(x, y)| Circle::new((x, y), 4, BLUE.filled()));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_panel_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let p = Predictions {
            ids: vec!["a".into(), "b".into(), "c".into()],
            outputs: vec![vec![0.1, 1.0], vec![0.5, 2.0], vec![0.8, 2.5]],
            targets: vec![vec![0.0, 1.1], vec![0.6, 1.9], vec![0.9, f32::NAN]],
            attributes: vec![vec![("published".into(), 0.2)], vec![("published".into(), 0.4)], Vec::new()],
        };
        let names = vec!["x".to_string(), "y".to_string()];
        let path = dir.path().join("pvt.png");
        predicted_vs_true(&path, "test", &names, &p, Some("published")).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (1040, 560));
    }
}
