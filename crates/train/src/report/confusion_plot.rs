//! `confusion.png`: the confusion matrix of a classifier, rows the true class and columns the
//! predicted one, each cell shaded by its share of the row (the recall on the diagonal) and
//! labelled with its count.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::RunError;
use crate::report::plot::ensure_font;

/// Draws `confusion` (`[true][predicted]` counts) for `classes`.
pub fn confusion_png(path: &Path, title: &str, classes: &[String], confusion: &[Vec<usize>]) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let k = classes.len().max(1);
    let cell = if k > 6 { 56 } else { 90 };
    let label_w = 12 + 9 * classes.iter().map(|c| c.len() + 4).max().unwrap_or(4);
    let (left, top) = (label_w as i32, 70);
    let width = left as u32 + (k * cell) as u32 + 24;
    let height = top as u32 + (k * cell) as u32 + 60;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let centred = |size: u32| ("sans-serif", size).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(title.to_string(), (width as i32 / 2, 22), centred(20))).map_err(|e| err(&e))?;
    let note = "rows: true class, columns: predicted; shade: share of the row";
    root.draw(&Text::new(note, (width as i32 / 2, 48), centred(14))).map_err(|e| err(&e))?;
    for (r, row) in confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        let y = top + (r * cell) as i32;
        let label = ("sans-serif", 15).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(format!("{r}  {}", classes[r]), (left - 8, y + cell as i32 / 2), label))
            .map_err(|e| err(&e))?;
        for (c, &count) in row.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            let x = left + (c * cell) as i32;
            let shade = |full: u8| (255.0 - share * (255.0 - f64::from(full))).round() as u8;
            let fill = RGBColor(shade(31), shade(90), shade(180));
            root.draw(&Rectangle::new([(x, y), (x + cell as i32, y + cell as i32)], fill.filled()))
                .map_err(|e| err(&e))?;
            root.draw(&Rectangle::new([(x, y), (x + cell as i32, y + cell as i32)], BLACK.mix(0.3)))
                .map_err(|e| err(&e))?;
            let ink = if share > 0.55 { WHITE } else { BLACK };
            let text = ("sans-serif", 15).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(count.to_string(), (x + cell as i32 / 2, y + cell as i32 / 2), text))
                .map_err(|e| err(&e))?;
        }
    }
    let bottom = top + (k * cell) as i32;
    for c in 0..k {
        let x = left + (c * cell) as i32 + cell as i32 / 2;
        root.draw(&Text::new(c.to_string(), (x, bottom + 14), centred(15))).map_err(|e| err(&e))?;
    }
    let axis = "predicted class";
    root.draw(&Text::new(axis, (left + (k * cell) as i32 / 2, bottom + 40), centred(15))).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_sized_to_the_classes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion.png");
        let classes: Vec<String> = ["round", "spiral", "edge-on"].iter().map(|s| s.to_string()).collect();
        confusion_png(&path, "test", &classes, &[vec![5, 1, 0], vec![2, 7, 1], vec![0, 0, 4]]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        // The (spiral, spiral) cell, 7 of 10, is shaded darker than the (round, edge-on) cell, 0.
        let cell = 90;
        let left = 12 + 9 * ("edge-on".len() + 4) as u32;
        let at = |r: u32, c: u32| img.get_pixel(left + c * cell + 8, 70 + r * cell + 8).0;
        assert!(at(1, 1)[0] < 150, "{:?}", at(1, 1));
        assert_eq!(at(0, 2), [255, 255, 255]);
    }
}
