//! `features.png` of an adapted run: the body's features of the source and target test images
//! projected on their first two principal components (fitted on both together), drawn twice:
//! coloured by domain (well mixed when adaptation worked) and by class (separated when the
//! features still carry the labels).

use std::path::Path;

use plotters::prelude::*;

use crate::error::RunError;
use crate::report::plot::{ensure_font, legend};

/// The features of one domain's test items.
#[derive(Debug, Clone)]
pub struct FeatureCloud {
    /// `source` or `target`.
    pub domain: &'static str,
    /// One row per item.
    pub features: Vec<Vec<f32>>,
    /// Each item's class, where it has one.
    pub classes: Vec<Option<usize>>,
}

/// The first `k` principal axes of `rows` (centred on `mean`), by power iteration with
/// deflation on the covariance matrix: unit vectors, the largest variance first.
pub fn principal_axes(rows: &[Vec<f64>], mean: &[f64], k: usize) -> Vec<Vec<f64>> {
    let d = mean.len();
    let mut cov = vec![0.0; d * d];
    for row in rows {
        let x: Vec<f64> = row.iter().zip(mean).map(|(v, m)| v - m).collect();
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += x[i] * x[j];
            }
        }
    }
    let mut axes: Vec<Vec<f64>> = Vec::new();
    for a in 0..k.min(d) {
        // A start not orthogonal to any axis in practice, different for each axis.
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + ((i * 7 + a * 13) % 11) as f64 / 11.0).collect();
        let mut eigen = 0.0;
        for _ in 0..500 {
            let mut w: Vec<f64> = (0..d).map(|i| (0..d).map(|j| cov[i * d + j] * v[j]).sum()).collect();
            for axis in &axes {
                let dot: f64 = w.iter().zip(axis).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(axis).for_each(|(x, y)| *x -= dot * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= norm);
            let change: f64 = w.iter().zip(&v).map(|(x, y)| (x - y).abs()).sum();
            v = w;
            if (norm - eigen).abs() <= 1e-12 * norm && change < 1e-10 {
                break;
            }
            eigen = norm;
        }
        axes.push(v);
    }
    axes
}

/// Each row's coordinates on the first two principal axes of all rows together.
fn project(clouds: &[FeatureCloud]) -> Vec<Vec<(f64, f64)>> {
    let all: Vec<Vec<f64>> =
        clouds.iter().flat_map(|c| c.features.iter().map(|r| r.iter().map(|v| f64::from(*v)).collect())).collect();
    let d = all.first().map_or(0, Vec::len);
    let mut mean = vec![0.0; d];
    for row in &all {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / all.len() as f64);
    }
    let axes = principal_axes(&all, &mean, 2);
    let coordinate = |row: &[f32], k: usize| {
        axes.get(k).map_or(0.0, |axis| row.iter().zip(&mean).zip(axis).map(|((v, m), a)| (f64::from(*v) - m) * a).sum())
    };
    clouds.iter().map(|c| c.features.iter().map(|r| (coordinate(r, 0), coordinate(r, 1))).collect()).collect()
}

const DOMAIN_COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
const CLASS_COLOURS: [RGBColor; 6] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Draws `clouds` (source first) into `path`: left coloured by domain, right by class (circles
/// for the source, crosses for the target); `class_names` empty for regression (one panel).
pub fn features_png(path: &Path, title: &str, clouds: &[FeatureCloud], class_names: &[String]) -> Result<(), RunError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| RunError::Run(format!("cannot draw {}: {e}", path.display()));
    let points = project(clouds);
    let (mut lo_x, mut hi_x, mut lo_y, mut hi_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points.iter().flatten() {
        (lo_x, hi_x, lo_y, hi_y) = (lo_x.min(*x), hi_x.max(*x), lo_y.min(*y), hi_y.max(*y));
    }
    if lo_x > hi_x {
        (lo_x, hi_x, lo_y, hi_y) = (-1.0, 1.0, -1.0, 1.0);
    }
    let pad = |lo: f64, hi: f64| {
        let p = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        (lo - p, hi + p)
    };
    let ((lo_x, hi_x), (lo_y, hi_y)) = (pad(lo_x, hi_x), pad(lo_y, hi_y));
    let panels = if class_names.is_empty() { 1 } else { 2 };
    let size = 520u32;
    let root = BitMapBackend::new(path, (size * panels, size + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (header, body) = root.split_vertically(40);
    header.titled(title, ("sans-serif", 20)).map_err(|e| err(&e))?;
    for (panel, area) in body.split_evenly((1, panels as usize)).iter().enumerate() {
        let caption = if panel == 0 { "by domain" } else { "by class (o source, x target)" };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(lo_x..hi_x, lo_y..hi_y)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("principal component 1")
            .y_desc("principal component 2")
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| err(&e))?;
        if panel == 0 {
            for ((cloud, pts), colour) in clouds.iter().zip(&points).zip(DOMAIN_COLOURS) {
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 2, colour.mix(0.6).filled())))
                    .map_err(|e| err(&e))?
                    .label(format!("{} ({} items)", cloud.domain, pts.len()))
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
            }
        } else {
            for (k, name) in class_names.iter().enumerate() {
                let colour = CLASS_COLOURS[k % CLASS_COLOURS.len()];
                for (d, (cloud, pts)) in clouds.iter().zip(&points).enumerate() {
                    let mine = pts.iter().zip(&cloud.classes).filter(|(_, c)| **c == Some(k)).map(|(p, _)| *p);
                    let series = if d == 0 {
                        chart.draw_series(mine.map(|p| Circle::new(p, 2, colour.mix(0.6).filled()).into_dyn()))
                    } else {
                        chart.draw_series(mine.map(|p| Cross::new(p, 3, colour.stroke_width(1)).into_dyn()))
                    }
                    .map_err(|e| err(&e))?;
                    if d == 0 {
                        series.label(name.clone()).legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
                    }
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_axis_follows_the_largest_spread() {
        // Points along (1, 1, 0) with a little spread along (0, 0, 1).
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                let t = i as f64 - 25.0;
                vec![t, t, 0.1 * ((i % 5) as f64 - 2.0)]
            })
            .collect();
        let mut mean = vec![0.0; 3];
        for r in &rows {
            mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / 50.0);
        }
        let axes = principal_axes(&rows, &mean, 2);
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert!((axes[0][0].abs() - s).abs() < 1e-6 && (axes[0][1].abs() - s).abs() < 1e-6, "{:?}", axes[0]);
        assert!((axes[1][2].abs() - 1.0).abs() < 1e-6, "{:?}", axes[1]);
    }

    #[test]
    fn both_panels_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = |domain, shift: f32| FeatureCloud {
            domain,
            features: (0..20).map(|i| vec![i as f32 + shift, (i % 3) as f32, shift]).collect(),
            classes: (0..20).map(|i| Some(i % 2)).collect(),
        };
        let path = dir.path().join("features.png");
        let names = vec!["a".to_string(), "b".to_string()];
        features_png(&path, "t", &[cloud("source", 0.0), cloud("target", 5.0)], &names).unwrap();
        let image = image::open(&path).unwrap();
        assert_eq!((image.width(), image.height()), (1040, 560));
    }
}
