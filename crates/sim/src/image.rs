//! A single-band image: a row-major 2-D array of `f64` in physical units (counts per pixel).

/// One band of an image, row-major, `data[y * width + x]`. Pixel `(x, y)` covers
/// `[x, x + 1) x [y, y + 1)` in pixel coordinates, so its centre is at `(x + 0.5, y + 0.5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Pixel values, row-major.
    pub data: Vec<f64>,
}

impl Image {
    /// A blank (all-zero) image.
    pub fn zeros(width: usize, height: usize) -> Self {
        Self { width, height, data: vec![0.0; width * height] }
    }

    /// The value at column `x`, row `y`.
    pub fn get(&self, x: usize, y: usize) -> f64 {
        self.data[y * self.width + x]
    }

    /// The sum of all pixels (total flux).
    pub fn sum(&self) -> f64 {
        self.data.iter().sum()
    }

    /// Flux-weighted centroid and second central moments `(cx, cy, sxx, syy, sxy)`, in pixels.
    pub fn moments(&self) -> (f64, f64, f64, f64, f64) {
        let total = self.sum();
        let (mut cx, mut cy) = (0.0, 0.0);
        for y in 0..self.height {
            for x in 0..self.width {
                let v = self.get(x, y);
                cx += v * (x as f64 + 0.5);
                cy += v * (y as f64 + 0.5);
            }
        }
        cx /= total;
        cy /= total;
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for y in 0..self.height {
            for x in 0..self.width {
                let v = self.get(x, y);
                let dx = x as f64 + 0.5 - cx;
                let dy = y as f64 + 0.5 - cy;
                sxx += v * dx * dx;
                syy += v * dy * dy;
                sxy += v * dx * dy;
            }
        }
        (cx, cy, sxx / total, syy / total, sxy / total)
    }
}
