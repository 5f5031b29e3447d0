//! How close a recovered image is to the original: the peak signal-to-noise ratio and the
//! structural similarity index (Wang et al. 2004), the metrics of GalaxyGAN (Schawinski et al.
//! 2017). SSIM uses scikit-image's conventions (`gaussian_weights=True`): local statistics in an
//! 11 x 11 Gaussian window of sigma 1.5, `K1 = 0.01`, `K2 = 0.03`, averaged over the pixels at
//! least 5 from the border; tested against scikit-image's numbers.

use crate::image::Image;

/// `10 log10(range^2 / MSE)`, decibels (infinite for identical images).
pub fn psnr(reference: &Image, test: &Image, data_range: f64) -> f64 {
    let mse = reference.data.iter().zip(&test.data).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
        / reference.data.len().max(1) as f64;
    10.0 * (data_range * data_range / mse).log10()
}

/// The Gaussian window's half-width (scikit-image: `int(3.5 * 1.5 + 0.5)`).
const RADIUS: usize = 5;
const SIGMA: f64 = 1.5;

/// Separable Gaussian smoothing of the interior pixels (those `RADIUS` from every edge), the
/// only ones SSIM averages; the rest stay 0.
fn smooth(image: &Image, weights: &[f64]) -> Image {
    let (w, h) = (image.width, image.height);
    let mut rows = Image::zeros(w, h);
    for y in 0..h {
        for x in RADIUS..w.saturating_sub(RADIUS) {
            rows.data[y * w + x] = weights.iter().enumerate().map(|(k, c)| c * image.get(x + k - RADIUS, y)).sum();
        }
    }
    let mut out = Image::zeros(w, h);
    for y in RADIUS..h.saturating_sub(RADIUS) {
        for x in RADIUS..w.saturating_sub(RADIUS) {
            out.data[y * w + x] = weights.iter().enumerate().map(|(k, c)| c * rows.get(x, y + k - RADIUS)).sum();
        }
    }
    out
}

/// The mean structural similarity of `test` to `reference` (1 for identical images).
pub fn ssim(reference: &Image, test: &Image, data_range: f64) -> f64 {
    let raw: Vec<f64> =
        (0..=2 * RADIUS).map(|k| (-((k as f64 - RADIUS as f64).powi(2)) / (2.0 * SIGMA * SIGMA)).exp()).collect();
    let total: f64 = raw.iter().sum();
    let weights: Vec<f64> = raw.iter().map(|v| v / total).collect();
    let product = |a: &Image, b: &Image| Image {
        width: a.width,
        height: a.height,
        data: a.data.iter().zip(&b.data).map(|(x, y)| x * y).collect(),
    };
    let (mx, my) = (smooth(reference, &weights), smooth(test, &weights));
    let (xx, yy, xy) = (
        smooth(&product(reference, reference), &weights),
        smooth(&product(test, test), &weights),
        smooth(&product(reference, test), &weights),
    );
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let (w, h) = (reference.width, reference.height);
    let (mut sum, mut n) = (0.0, 0usize);
    for y in RADIUS..h.saturating_sub(RADIUS) {
        for x in RADIUS..w.saturating_sub(RADIUS) {
            let i = y * w + x;
            let (ux, uy) = (mx.data[i], my.data[i]);
            let (vx, vy, cov) = (xx.data[i] - ux * ux, yy.data[i] - uy * uy, xy.data[i] - ux * uy);
            sum += ((2.0 * ux * uy + c1) * (2.0 * cov + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            n += 1;
        }
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formula images of `tests/fixtures/make_image_quality_reference.py`.
    fn pair() -> (Image, Image) {
        let (h, w) = (40, 48);
        let mut a = Image::zeros(w, h);
        let mut b = Image::zeros(w, h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64, y as f64);
                let v = 0.5 + 0.4 * (0.3 * fx).sin() * (0.2 * fy).cos();
                a.data[y * w + x] = v;
                b.data[y * w + x] = v + 0.05 * (1.7 * fx + 0.9 * fy).sin() + 0.02 * (fx / 48.0);
            }
        }
        (a, b)
    }

    #[test]
    fn psnr_and_ssim_match_scikit_image() {
        // Embedded, so that a test binary built from another checkout reads its own fixture.
        let text = include_str!("../tests/fixtures/image_quality_reference.json");
        let number = |key: &str| -> f64 {
            let rest = &text[text.find(&format!("\"{key}\":")).unwrap() + key.len() + 3..];
            rest.trim_start().split([',', '\n', '}']).next().unwrap().trim().parse().unwrap()
        };
        let (a, b) = pair();
        assert!((psnr(&a, &b, 1.0) - number("psnr")).abs() < 1e-9, "{}", psnr(&a, &b, 1.0));
        assert!((ssim(&a, &b, 1.0) - number("ssim")).abs() < 1e-9, "{}", ssim(&a, &b, 1.0));
        assert!((ssim(&a, &a, 1.0) - number("ssim_same")).abs() < 1e-12);
    }
}
