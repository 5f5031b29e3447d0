//! `predicted_vs_true.png` of a regression run: the model's value against the true one for each
//! test item, with the identity line and the RMSE; one panel per target up to four targets,
//! all targets pooled in one panel beyond.

use std::path::Path;

use plotters::prelude::*;

use crate::error::RunError;
use crate::evaluate::{Predictions, rmse};
use crate::report::plot::ensure_font;

/// Draws predicted against true values of the targets `names`.
pub fn predicted_vs_true(path: &Path, title: &str, names: &[String], p: &Predictions) -> Result<(), RunError> {
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
    for ((name, cols), area) in panels.iter().zip(body.split_evenly((1, panels.len()))) {
        let pairs: Vec<(f64, f64)> = p
            .targets
            .iter()
            .zip(&p.outputs)
            .flat_map(|(t, o)| cols.iter().filter_map(|&j| Some((f64::from(*t.get(j)?), f64::from(*o.get(j)?)))))
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .collect();
        let (lo, hi) = pairs.iter().fold((f64::MAX, f64::MIN), |(l, h), (a, b)| (l.min(a.min(*b)), h.max(a.max(*b))));
        let (lo, hi) = if lo < hi { (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)) } else { (lo - 1.0, lo + 1.0) };
        let truth: Vec<Vec<f32>> = pairs.iter().map(|(a, _)| vec![*a as f32]).collect();
        let model: Vec<Vec<f32>> = pairs.iter().map(|(_, b)| vec![*b as f32]).collect();
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("{name}: RMSE {:.4} (n = {})", rmse(&model, &truth), pairs.len()), ("sans-serif", 17))
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
        chart
            .draw_series(pairs.iter().map(|&(a, b)| Circle::new((a, b), 2, BLUE.mix(0.5).filled())))
            .map_err(|e| err(&e))?;
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
            attributes: Vec::new(),
        };
        let names = vec!["x".to_string(), "y".to_string()];
        let path = dir.path().join("pvt.png");
        predicted_vs_true(&path, "test", &names, &p).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (1040, 560));
    }
}
