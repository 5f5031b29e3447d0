//! `gallery.png`: test images with what they are and what the model says. For Galaxy Zoo
//! targets each caption gives the top answer to "smooth, features or star?" and, for galaxies
//! with features, the top answer among edge-on / bar / spiral, true and predicted; for other
//! targets, the largest target and its prediction; for classes, the true class and the most
//! probable one with its probability.

use std::path::Path;

use astro_data::Task;
use astro_data::task::class_of;
use astro_sim::galaxy_zoo::{ANSWER_LABELS, answer_names};
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;

use crate::error::RunError;
use crate::report::plot::ensure_font;

/// One gallery cell: an image (channel-major, values in [0, 1]) and its targets and outputs.
#[derive(Clone, Copy)]
pub struct GalleryItem<'a> {
    /// Pixels, `[channels, height, width]`.
    pub pixels: &'a [f32],
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// True values (empty if unknown).
    pub targets: &'a [f32],
    /// The model's outputs.
    pub outputs: &'a [f32],
}

/// The prediction rows to show: for a two-class detector the 8 most confident true positives,
/// the 4 positives it scores lowest (the worst misses) and the 4 negatives it scores highest
/// (the worst false alarms); otherwise the first 16.
pub fn gallery_rows(task: Task, p: &crate::evaluate::Predictions) -> Vec<usize> {
    let binary = task == Task::Classification && p.outputs.first().is_some_and(|o| o.len() == 2);
    if !binary {
        return (0..p.ids.len().min(16)).collect();
    }
    let score = |i: &usize| p.outputs[*i][1];
    let mut positives: Vec<usize> = (0..p.ids.len()).filter(|&i| p.targets[i] == [1.0]).collect();
    let mut negatives: Vec<usize> = (0..p.ids.len()).filter(|&i| p.targets[i] == [0.0]).collect();
    positives.sort_by(|a, b| score(b).total_cmp(&score(a)));
    negatives.sort_by(|a, b| score(b).total_cmp(&score(a)));
    let confident = positives.iter().take(8).copied();
    let misses = positives.iter().rev().take(4.min(positives.len().saturating_sub(8))).copied();
    confident.chain(misses).chain(negatives.iter().take(4).copied()).collect()
}

/// The caption lines of one cell.
pub fn caption(task: Task, names: &[String], targets: &[f32], outputs: &[f32]) -> Vec<String> {
    if task == Task::Classification {
        let name = |c: Option<usize>| c.and_then(|c| names.get(c)).map_or("?", String::as_str);
        let predicted = (!outputs.is_empty()).then(|| crate::evaluate::classification::argmax(outputs));
        let p = predicted.map_or(f32::NAN, |c| outputs[c]);
        return vec![
            format!("true: {}", name(class_of(targets, names.len()))),
            format!("pred: {} {p:.2}", name(predicted)),
        ];
    }
    let galaxy_zoo = names == answer_names().as_slice();
    let top = |values: &[f32], range: std::ops::Range<usize>| {
        range.max_by(|&a, &b| values[a].total_cmp(&values[b])).map(|k| (k, values[k])).unwrap_or((0, f32::NAN))
    };
    let describe = |values: &[f32]| {
        if values.is_empty() {
            return "?".to_string();
        }
        if galaxy_zoo {
            let (k, v) = top(values, 0..3);
            let mut text = format!("{} {v:.2}", ANSWER_LABELS[k]);
            if k == 1 {
                // Among edge-on (3), bar (5), spiral (7): the strongest "yes".
                let (j, w) =
                    [3, 5, 7].iter().map(|&j| (j, values[j])).fold((3, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
                text.push_str(&format!(", {} {w:.2}", ANSWER_LABELS[j]));
            }
            text
        } else {
            let (k, v) = top(values, 0..values.len());
            format!("{} {v:.2}", names.get(k).map_or("?", String::as_str))
        }
    };
    vec![format!("true: {}", describe(targets)), format!("pred: {}", describe(outputs))]
}

/// Draws `items` in a grid of `columns`, each image scaled by `scale`, with its caption.
pub fn save_gallery(
    path: &Path,
    task: Task,
    names: &[String],
    items: &[GalleryItem],
    columns: usize,
    scale: usize,
) -> Result<(), RunError> {
    let captioned: Vec<(&[f32], [usize; 3], Vec<String>)> =
        items.iter().map(|i| (i.pixels, i.shape, caption(task, names, i.targets, i.outputs))).collect();
    save_captioned(path, &captioned, columns, scale)
}

/// Draws images (pixels, shape, caption lines) in a grid of `columns`, each scaled by `scale`.
pub fn save_captioned(
    path: &Path,
    items: &[(&[f32], [usize; 3], Vec<String>)],
    columns: usize,
    scale: usize,
) -> Result<(), RunError> {
    let Some(first) = items.first() else { return Ok(()) };
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let [_, h, w] = first.1;
    let cell_w = (w * scale).max(220) + 8;
    let cell_h = h * scale + 44;
    let rows = items.len().div_ceil(columns);
    let root = BitMapBackend::new(path, ((columns * cell_w) as u32, (rows * cell_h) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (k, (pixels, shape, lines)) in items.iter().enumerate() {
        let (ox, oy) = ((k % columns) * cell_w + 4, (k / columns) * cell_h + 2);
        let [c, h, w] = *shape;
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for y in 0..h * scale {
            for x in 0..w * scale {
                let p = (y / scale) * w + x / scale;
                let rgb = if c >= 3 {
                    RGBColor(byte(pixels[p]), byte(pixels[h * w + p]), byte(pixels[2 * h * w + p]))
                } else {
                    let g = byte(pixels[p]);
                    RGBColor(g, g, g)
                };
                root.draw_pixel(((ox + x) as i32, (oy + y) as i32), &rgb).map_err(|e| err(&e))?;
            }
        }
        draw_caption(&root, lines, ox, oy + h * scale + 4).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws caption `lines` downwards from `(x, y)`, one every 18 pixels.
pub fn draw_caption<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &[String],
    x: usize,
    y: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    for (line, text) in lines.iter().enumerate() {
        root.draw(&Text::new(text.clone(), (x as i32, (y + 18 * line) as i32), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galaxy_zoo_captions_name_the_top_answers() {
        let names = answer_names();
        let mut truth = vec![0.0f32; 37];
        truth[1] = 0.8;
        truth[7] = 0.6;
        truth[3] = 0.1;
        let mut pred = vec![0.0f32; 37];
        pred[0] = 0.7;
        let lines = caption(Task::Regression, &names, &truth, &pred);
        assert_eq!(lines, ["true: features or disk 0.80, spiral 0.60", "pred: smooth 0.70"]);
        let other = vec!["a".to_string(), "b".to_string()];
        assert_eq!(caption(Task::Regression, &other, &[0.1, 0.9], &[]), ["true: b 0.90", "pred: ?"]);
        let lines = caption(Task::Classification, &other, &[0.0], &[0.3, 0.7]);
        assert_eq!(lines, ["true: a", "pred: b 0.70"]);
    }
}
