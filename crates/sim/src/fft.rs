//! Multi-dimensional FFTs of square and cubic grids (row-major, last axis fastest) by 1-D
//! transforms along each axis (`rustfft`). Forward transforms are unnormalised
//! (`sum f(x) e^{-ikx}`), inverse ones divide by the number of cells, so that
//! `inverse(forward(f)) = f`.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

/// Transforms `data`, an array of `dims` (2 or 3 axes, row-major), in place.
pub fn fft_nd(data: &mut [Complex64], dims: &[usize], inverse: bool) {
    let mut planner = FftPlanner::<f64>::new();
    let total: usize = dims.iter().product();
    assert_eq!(data.len(), total, "the array has {} cells, the grid {total}", data.len());
    for (axis, &n) in dims.iter().enumerate() {
        let fft = if inverse { planner.plan_fft_inverse(n) } else { planner.plan_fft_forward(n) };
        let stride: usize = dims[axis + 1..].iter().product();
        let mut line = vec![Complex64::new(0.0, 0.0); n];
        // Every line along `axis`: fix the other indices.
        for start in 0..total {
            if !(start / stride).is_multiple_of(n) {
                continue;
            }
            for (k, v) in line.iter_mut().enumerate() {
                *v = data[start + k * stride];
            }
            fft.process(&mut line);
            for (k, v) in line.iter().enumerate() {
                data[start + k * stride] = *v;
            }
        }
    }
    if inverse {
        let scale = 1.0 / total as f64;
        data.iter_mut().for_each(|v| *v *= scale);
    }
}

/// The signed wavenumber index of FFT bin `i` of `n` (`0, 1, ..., n/2, -n/2 + 1, ..., -1`).
pub fn frequency(i: usize, n: usize) -> f64 {
    if i <= n / 2 { i as f64 } else { i as f64 - n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plane_wave_lands_in_its_bin_and_the_inverse_gives_the_field_back() {
        let n = 8;
        let dims = [n, n, n];
        // cos(2 pi (2 z + 1 y - 3 x) / n): bins (2, 1, -3) and (-2, -1, 3), each n^3 / 2.
        let field: Vec<Complex64> = (0..n * n * n)
            .map(|i| {
                let (z, y, x) = ((i / (n * n)) as f64, ((i / n) % n) as f64, (i % n) as f64);
                Complex64::new((std::f64::consts::TAU * (2.0 * z + y - 3.0 * x) / n as f64).cos(), 0.0)
            })
            .collect();
        let mut data = field.clone();
        fft_nd(&mut data, &dims, false);
        let bin = |z: usize, y: usize, x: usize| data[(z * n + y) * n + x];
        assert!((bin(2, 1, 5).re - 256.0).abs() < 1e-9 && (bin(6, 7, 3).re - 256.0).abs() < 1e-9);
        let others: f64 = data.iter().map(|v| v.norm()).sum::<f64>() - 512.0;
        assert!(others.abs() < 1e-8, "{others}");
        fft_nd(&mut data, &dims, true);
        assert!(data.iter().zip(&field).all(|(a, b)| (a - b).norm() < 1e-12));
        assert_eq!((frequency(3, 8), frequency(5, 8), frequency(4, 8)), (3.0, -3.0, 4.0));
    }
}
