//! `gallery.png` of a light-curve run: each cell draws a test curve as the model saw it (the
//! unmasked steps of its first channel, phase or scaled time, against its second, magnitude,
//! brighter up) with the gallery's caption of true and predicted label. Curves in several bands
//! draw each band's unmasked steps in its own colour, named in the caption.

use std::path::Path;

use astro_data::Task;
use plotters::prelude::*;

use crate::error::RunError;
use crate::report::gallery::{GalleryItem, caption, draw_caption};
use crate::report::plot::ensure_font;

/// Band colours, in band order.
const BAND_COLOURS: [(RGBColor, &str); 4] = [
    (BLUE, "blue"),
    (RGBColor(200, 30, 30), "red"),
    (RGBColor(20, 140, 40), "green"),
    (RGBColor(120, 60, 160), "purple"),
];

/// The (phase, magnitude) points of each band of an encoded curve: one band's channels are
/// (phase, magnitude, ..., mask); several bands' are such blocks, band after band, then the step
/// mask ([`astro_data::sequence`]).
fn band_points(pixels: &[f32], [channels, _, steps]: [usize; 3], bands: usize) -> Vec<Vec<(f64, f64)>> {
    let at = |c: usize, t: usize| f64::from(pixels[c * steps + t]);
    let (bands, block) = if bands > 1 { (bands, (channels - 1) / bands) } else { (1, channels) };
    (0..bands)
        .map(|b| {
            let (first, mask) = (b * block, b * block + block - 1);
            (0..steps).filter(|&t| at(mask, t) > 0.5).map(|t| (at(first, t), at(first + 1, t))).collect()
        })
        .collect()
}

/// Draws `items` (encoded curves `[channels, 1, steps]`, mask last; `bands` names the bands of
/// curves in several, empty for one) in a grid of `columns`.
pub fn save_curve_gallery(
    path: &Path,
    task: Task,
    names: &[String],
    bands: &[String],
    items: &[GalleryItem],
    columns: usize,
) -> Result<(), RunError> {
    if items.is_empty() {
        return Ok(());
    }
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    // A third caption line names the bands' colours.
    let (cell_w, plot_h, text_h) = (260usize, 150usize, if bands.len() > 1 { 56usize } else { 40 });
    let rows = items.len().div_ceil(columns);
    let root =
        BitMapBackend::new(path, ((columns * cell_w) as u32, (rows * (plot_h + text_h)) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (k, item) in items.iter().enumerate() {
        let (ox, oy) = ((k % columns) * cell_w, (k / columns) * (plot_h + text_h));
        let per_band = band_points(item.pixels, item.shape, bands.len());
        let (lo, hi) = per_band.iter().flatten().fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
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
        for (points, (colour, _)) in per_band.iter().zip(BAND_COLOURS.iter().cycle()) {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, colour.filled()))).map_err(|e| err(&e))?;
        }
        let mut lines = caption(task, names, item.targets, item.outputs);
        if bands.len() > 1 {
            let named: Vec<String> =
                bands.iter().zip(BAND_COLOURS.iter().cycle()).map(|(b, (_, colour))| format!("{b} {colour}")).collect();
            lines.push(named.join(", "));
        }
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
        save_curve_gallery(&path, Task::Classification, &names, &[], &[item, item, item], 2).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (520, 380));
    }

    #[test]
    fn each_band_is_drawn_from_its_own_block_and_mask() {
        // Two bands of (phase, mag, mask) and the step mask, 4 steps: V has 3 points, I 2.
        let pixels = [
            [0.1, 0.4, 0.7, 0.0],
            [0.0, -0.2, 0.1, 0.0],
            [1.0, 1.0, 1.0, 0.0],
            [0.2, 0.6, 0.0, 0.0],
            [0.5, 0.6, 0.0, 0.0],
            [1.0, 1.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 0.0],
        ]
        .concat();
        let per_band = band_points(&pixels, [7, 1, 4], 2);
        assert_eq!(per_band.len(), 2);
        assert_eq!(per_band[0].len(), 3);
        assert_eq!(per_band[1], [(f64::from(0.2f32), 0.5), (f64::from(0.6f32), f64::from(0.6f32))]);
        assert_eq!(band_points(&pixels[..12], [3, 1, 4], 0)[0].len(), 3, "one band: mask last");
        let dir = tempfile::tempdir().unwrap();
        let item = GalleryItem { pixels: &pixels, shape: [7, 1, 4], targets: &[1.0], outputs: &[0.2, 0.8] };
        let bands = ["V".to_string(), "I".to_string()];
        let names = ["other".to_string(), "RRab".to_string()];
        save_curve_gallery(&dir.path().join("g.png"), Task::Classification, &names, &bands, &[item], 1).unwrap();
    }
}
