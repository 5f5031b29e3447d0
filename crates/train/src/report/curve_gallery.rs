//! `gallery.png` of a light-curve run: each cell draws a test curve as the model saw it (the
//! unmasked steps of its first channel, phase or scaled time, against its second, magnitude,
//! brighter up) with the gallery's caption of true and predicted label.

use std::path::Path;

use astro_data::Task;
use plotters::prelude::*;

use crate::error::RunError;
use crate::report::gallery::{GalleryItem, caption, draw_caption};
use crate::report::plot::ensure_font;

/// Draws `items` (encoded curves `[channels, 1, steps]`, mask last) in a grid of `columns`.
pub fn save_curve_gallery(
    path: &Path,
    task: Task,
    names: &[String],
    items: &[GalleryItem],
    columns: usize,
) -> Result<(), RunError> {
    if items.is_empty() {
        return Ok(());
    }
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let (cell_w, plot_h, text_h) = (260usize, 150usize, 40usize);
    let rows = items.len().div_ceil(columns);
    let root =
        BitMapBackend::new(path, ((columns * cell_w) as u32, (rows * (plot_h + text_h)) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (k, item) in items.iter().enumerate() {
        let (ox, oy) = ((k % columns) * cell_w, (k / columns) * (plot_h + text_h));
        let [channels, _, steps] = item.shape;
        let at = |c: usize, t: usize| f64::from(item.pixels[c * steps + t]);
        let points: Vec<(f64, f64)> =
            (0..steps).filter(|&t| at(channels - 1, t) > 0.5).map(|t| (at(0, t), at(1, t))).collect();
        let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
        let (lo, hi) = if lo < hi { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
        let pad = 0.08 * (hi - lo);
        let area = root.clone().shrink((ox as i32, oy as i32), (cell_w as u32, plot_h as u32));
        // Magnitudes: brighter is smaller, so the axis runs from faint (bottom) to bright (top).
        let mut chart = ChartBuilder::on(&area)
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(36)
            .build_cartesian_2d(0.0..1.0, (hi + pad)..(lo - pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(3)
            .y_labels(3)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| err(&e))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, BLUE.filled()))).map_err(|e| err(&e))?;
        let lines = caption(task, names, item.targets, item.outputs);
        draw_caption(&root, &lines, ox + 8, oy + plot_h + 2).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_grid_of_curves() {
        let dir = tempfile::tempdir().unwrap();
        let steps = 10;
        let mut pixels = Vec::new();
        pixels.extend((0..steps).map(|t| t as f32 / 10.0));
        pixels.extend((0..steps).map(|t| (t as f32).sin() * 0.3));
        pixels.extend((0..steps).map(|t| if t < 7 { 1.0 } else { 0.0 }));
        let names = vec!["other".to_string(), "RRab".to_string()];
        let item = GalleryItem { pixels: &pixels, shape: [3, 1, steps], targets: &[1.0], outputs: &[0.2, 0.8] };
        let path = dir.path().join("g.png");
        save_curve_gallery(&path, Task::Classification, &names, &[item, item, item], 2).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (520, 380));
    }
}
