//! Matter density fields for the cosmic-web GAN (Rodriguez et al. 2018): a Gaussian random field
//! in a periodic 3-D box with a parametrised CDM power spectrum, evolved by the Zel'dovich
//! approximation (particles moved along the linear displacement field and assigned to the grid
//! cloud-in-cell) or turned lognormal (Coles & Jones 1991), smoothed with a Gaussian, and cut
//! into 2-D slices; the slices are mapped to [-1, 1) with `s(x) = 2x/(x + a) - 1` (the paper's
//! pixel map, `x` the density in units of the mean).
//!
//! Power spectrum: `P(k) = A k^n T(k)^2` with the BBKS transfer function of shape parameter
//! Gamma (Bardeen et al. 1986), `q = k / Gamma`, `k` in h/Mpc. Conventions: a field `d(x)` on
//! `N^3` cells of a box of volume `V` has `P(k) = V / N^6 |FFT(d)_k|^2` (see
//! [`crate::field_statistics`]). Box `b` of the set seeded by `seed` is a pure function of
//! `(seed, b)`.

use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};

use crate::SimConfigError;
use crate::fft::{fft_nd, frequency};
use crate::rng::SampleRng;

const STREAM_FIELD: u64 = 30;

/// How the linear field becomes the density.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evolution {
    /// `1 + delta` of the Gaussian field itself (can be negative; for tests of the spectrum).
    Gaussian,
    /// `exp(delta - sigma^2 / 2)`: positive, with the skewed tail of the cosmic web.
    Lognormal,
    /// Particles on the grid moved by the Zel'dovich displacement, counted cloud-in-cell.
    #[default]
    Zeldovich,
}

/// Settings of the density-field simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DensityFieldConfig {
    /// Cells per side of the 3-D box (the slices are this many pixels on a side).
    pub grid: usize,
    /// Side of the box, Mpc/h (Rodriguez et al.: 500).
    pub box_mpc: f64,
    /// Amplitude `A` of the linear power spectrum, (Mpc/h)^3.
    pub amplitude: f64,
    /// Spectral index `n`.
    pub spectral_index: f64,
    /// Shape parameter Gamma of the BBKS transfer function (about Omega_m h), h/Mpc.
    pub shape_gamma: f64,
    /// How the field is evolved.
    pub evolution: Evolution,
    /// Gaussian smoothing of the density, Mpc/h (0: none).
    pub smoothing_mpc: f64,
    /// Cells summed into one slice (its thickness).
    pub slice_cells: usize,
    /// The pixel map's `a`: `s(x) = 2x/(x + a) - 1` (Rodriguez et al.: 4).
    pub map_a: f64,
}

impl Default for DensityFieldConfig {
    fn default() -> Self {
        Self {
            grid: 64,
            box_mpc: 500.0,
            amplitude: 2.0e6,
            spectral_index: 1.0,
            shape_gamma: 0.21,
            evolution: Evolution::Zeldovich,
            smoothing_mpc: 4.0,
            slice_cells: 4,
            map_a: 4.0,
        }
    }
}

impl DensityFieldConfig {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(8..=512).contains(&self.grid) || !self.grid.is_multiple_of(2) {
            return Err(SimConfigError::new(
                "grid",
                format!("must be an even number of cells, 8 to 512, got {}", self.grid),
            ));
        }
        for (field, v) in [
            ("box_mpc", self.box_mpc),
            ("amplitude", self.amplitude),
            ("shape_gamma", self.shape_gamma),
            ("map_a", self.map_a),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SimConfigError::new(field, format!("must be positive, got {v}")));
            }
        }
        if !(self.smoothing_mpc.is_finite() && self.smoothing_mpc >= 0.0) {
            return Err(SimConfigError::new(
                "smoothing_mpc",
                format!("must be zero or positive, got {}", self.smoothing_mpc),
            ));
        }
        if self.slice_cells == 0 || self.slice_cells > self.grid {
            return Err(SimConfigError::new(
                "slice_cells",
                format!("must be 1 to grid = {} cells, got {}", self.grid, self.slice_cells),
            ));
        }
        Ok(())
    }

    /// The linear power spectrum at `k` (h/Mpc).
    pub fn power(&self, k: f64) -> f64 {
        if k <= 0.0 {
            return 0.0;
        }
        let q = k / self.shape_gamma;
        let t = (1.0 + 2.34 * q).ln() / (2.34 * q)
            * (1.0 + 3.89 * q + (16.1 * q).powi(2) + (5.46 * q).powi(3) + (6.71 * q).powi(4)).powf(-0.25);
        self.amplitude * k.powf(self.spectral_index) * t * t
    }

    /// The fundamental wavenumber `2 pi / L`, h/Mpc.
    pub fn k_fundamental(&self) -> f64 {
        std::f64::consts::TAU / self.box_mpc
    }

    /// `|k|` of grid bin `(i, j, l)`.
    fn k_of(&self, i: usize, j: usize, l: usize) -> (f64, f64, f64) {
        let (n, kf) = (self.grid, self.k_fundamental());
        (kf * frequency(i, n), kf * frequency(j, n), kf * frequency(l, n))
    }

    /// The Fourier transform of the linear Gaussian field of box `index`: white noise coloured
    /// by `sqrt(P(k) N^3 / V)`, the `k = 0` mode removed.
    pub fn linear_modes(&self, seed: u64, index: u64) -> Vec<Complex64> {
        let n = self.grid;
        let mut rng = SampleRng::for_sample(seed, STREAM_FIELD, index);
        let mut modes: Vec<Complex64> = (0..n * n * n).map(|_| Complex64::new(rng.normal(), 0.0)).collect();
        fft_nd(&mut modes, &[n, n, n], false);
        let volume = self.box_mpc.powi(3);
        let cells = (n * n * n) as f64;
        for i in 0..n {
            for j in 0..n {
                for l in 0..n {
                    let (kx, ky, kz) = self.k_of(i, j, l);
                    let k = (kx * kx + ky * ky + kz * kz).sqrt();
                    modes[(i * n + j) * n + l] *= (self.power(k) * cells / volume).sqrt();
                }
            }
        }
        modes
    }

    /// The density in units of the mean, `[z][y][x]` row-major, of box `index`.
    pub fn density(&self, seed: u64, index: u64) -> Vec<f64> {
        let n = self.grid;
        let dims = [n, n, n];
        let modes = self.linear_modes(seed, index);
        let real = |mut m: Vec<Complex64>| -> Vec<f64> {
            fft_nd(&mut m, &dims, true);
            m.into_iter().map(|c| c.re).collect()
        };
        let mut density = match self.evolution {
            Evolution::Gaussian => real(modes.clone()).into_iter().map(|d| 1.0 + d).collect(),
            Evolution::Lognormal => {
                let delta = real(modes.clone());
                let variance = delta.iter().map(|d| d * d).sum::<f64>() / delta.len() as f64;
                delta.into_iter().map(|d| (d - 0.5 * variance).exp()).collect()
            }
            Evolution::Zeldovich => self.zeldovich(&modes),
        };
        if self.smoothing_mpc > 0.0 {
            let sigma = self.smoothing_mpc;
            let mut field: Vec<Complex64> = density.iter().map(|&d| Complex64::new(d, 0.0)).collect();
            fft_nd(&mut field, &dims, false);
            for i in 0..n {
                for j in 0..n {
                    for l in 0..n {
                        let (kx, ky, kz) = self.k_of(i, j, l);
                        field[(i * n + j) * n + l] *= (-0.5 * (kx * kx + ky * ky + kz * kz) * sigma * sigma).exp();
                    }
                }
            }
            density = real(field);
        }
        density
    }

    /// Particles on the grid moved by `psi = FFT^-1[i k / k^2 delta_k]` (the linear displacement
    /// whose divergence is `-delta`), assigned cloud-in-cell with periodic wrap.
    fn zeldovich(&self, modes: &[Complex64]) -> Vec<f64> {
        let n = self.grid;
        let dims = [n, n, n];
        let cell = self.box_mpc / n as f64;
        let mut displacement: Vec<Vec<f64>> = Vec::with_capacity(3);
        for axis in 0..3 {
            let mut component: Vec<Complex64> = modes
                .iter()
                .enumerate()
                .map(|(idx, d)| {
                    let (i, j, l) = (idx / (n * n), (idx / n) % n, idx % n);
                    let (kx, ky, kz) = self.k_of(i, j, l);
                    let k2 = kx * kx + ky * ky + kz * kz;
                    let k_axis = [kx, ky, kz][axis];
                    // The Nyquist planes have no sign: leave them out so the field stays real.
                    let nyquist = [i, j, l][axis] == n / 2;
                    if k2 == 0.0 || nyquist { Complex64::new(0.0, 0.0) } else { Complex64::new(0.0, k_axis / k2) * d }
                })
                .collect();
            fft_nd(&mut component, &dims, true);
            displacement.push(component.into_iter().map(|c| c.re / cell).collect());
        }
        let mut counts = vec![0.0; n * n * n];
        let wrap = |v: f64| v.rem_euclid(n as f64);
        let moves = displacement[0].iter().zip(&displacement[1]).zip(&displacement[2]);
        for (idx, ((dz, dy), dx)) in moves.enumerate() {
            // Axis 0 is z (slowest), 2 is x; displacement components follow the same order.
            let pos =
                [wrap((idx / (n * n)) as f64 + dz), wrap(((idx / n) % n) as f64 + dy), wrap((idx % n) as f64 + dx)];
            let base = pos.map(|p| p.floor());
            let frac = [pos[0] - base[0], pos[1] - base[1], pos[2] - base[2]];
            for corner in 0..8 {
                let mut weight = 1.0;
                let mut cell_index = 0;
                for (axis, (&b, &f)) in base.iter().zip(&frac).enumerate() {
                    let up = (corner >> (2 - axis)) & 1 == 1;
                    weight *= if up { f } else { 1.0 - f };
                    cell_index = cell_index * n + ((b as usize + usize::from(up)) % n);
                }
                counts[cell_index] += weight;
            }
        }
        counts
    }

    /// Slice `slice` (of `grid / slice_cells`) of `density` along z: the mean of its cells, in
    /// units of the mean density, `[y][x]` row-major.
    pub fn slice(&self, density: &[f64], slice: usize) -> Vec<f64> {
        let n = self.grid;
        let mut out = vec![0.0; n * n];
        for z in slice * self.slice_cells..(slice + 1) * self.slice_cells {
            for (o, d) in out.iter_mut().zip(&density[z * n * n..(z + 1) * n * n]) {
                *o += d / self.slice_cells as f64;
            }
        }
        out
    }

    /// Slices per box.
    pub fn slices_per_box(&self) -> usize {
        self.grid / self.slice_cells
    }

    /// The paper's pixel map `s(x) = 2x/(x + a) - 1` of a density `x >= 0` (negative densities
    /// of a Gaussian field are clipped to 0).
    pub fn map(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        2.0 * x / (x + self.map_a) - 1.0
    }

    /// The inverse of [`map`](Self::map): the density of a pixel value in [-1, 1).
    pub fn unmap(&self, s: f64) -> f64 {
        let s = s.clamp(-1.0, 1.0 - 1e-9);
        self.map_a * (1.0 + s) / (1.0 - s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_statistics::power_spectrum_3d;

    fn gaussian(grid: usize) -> DensityFieldConfig {
        DensityFieldConfig { grid, evolution: Evolution::Gaussian, smoothing_mpc: 0.0, ..DensityFieldConfig::default() }
    }

    #[test]
    fn the_gaussian_field_has_the_input_power_spectrum_within_cosmic_variance() {
        let config = gaussian(48);
        let delta: Vec<f64> = config.density(3, 0).into_iter().map(|d| d - 1.0).collect();
        let kf = config.k_fundamental();
        let edges: Vec<f64> = (0..=8).map(|b| kf * (1.0 + 2.5 * b as f64)).collect();
        let measured = power_spectrum_3d(&delta, config.grid, config.box_mpc, &edges);
        for bin in &measured {
            // The input averaged over the same modes; an estimate from m independent complex
            // modes scatters by P / sqrt(m), m about half the bin's modes (real field).
            let expected = bin.mean_input(|k| config.power(k));
            let sigma = expected / (bin.modes as f64 / 2.0).sqrt();
            assert!(
                (bin.power - expected).abs() < 4.0 * sigma,
                "k {:.3}: {:.4e} vs {:.4e} +- {:.1e} ({} modes)",
                bin.k_mean,
                bin.power,
                expected,
                sigma,
                bin.modes
            );
        }
        assert!(measured.iter().all(|b| b.modes > 20));
    }

    #[test]
    fn zeldovich_moves_mass_without_losing_it_and_builds_a_skewed_web() {
        let config = DensityFieldConfig { grid: 32, smoothing_mpc: 0.0, ..DensityFieldConfig::default() };
        let rho = config.density(1, 2);
        let mean = rho.iter().sum::<f64>() / rho.len() as f64;
        assert!((mean - 1.0).abs() < 1e-9, "one particle per cell on average: {mean}");
        assert!(rho.iter().all(|&r| r >= 0.0));
        // Gravity piles matter into walls and knots: the density is skewed to the right.
        let var = rho.iter().map(|r| (r - 1.0).powi(2)).sum::<f64>() / rho.len() as f64;
        let skew = rho.iter().map(|r| (r - 1.0).powi(3)).sum::<f64>() / rho.len() as f64 / var.powf(1.5);
        assert!(var > 0.05 && skew > 0.5, "variance {var}, skewness {skew}");
        assert_eq!(rho, config.density(1, 2), "a box is a pure function of (seed, index)");
        // On large scales (where it is linear) the evolved field keeps the input spectrum's
        // shape: its lowest-k power is within a factor of 2 of the linear one.
        let delta: Vec<f64> = rho.iter().map(|r| r - 1.0).collect();
        let kf = config.k_fundamental();
        let low = power_spectrum_3d(&delta, config.grid, config.box_mpc, &[kf, 2.5 * kf]);
        let ratio = low[0].power / low[0].mean_input(|k| config.power(k));
        assert!((0.5..2.0).contains(&ratio), "{ratio}");
    }

    #[test]
    fn the_pixel_map_spans_minus_one_to_one_and_inverts() {
        let config = DensityFieldConfig::default();
        assert_eq!(config.map(0.0), -1.0);
        assert!((config.map(4.0) - 0.0).abs() < 1e-12, "x = a maps to 0");
        assert!(config.map(1e9) < 1.0 && config.map(1e9) > 0.999);
        for x in [0.0, 0.5, 3.0, 40.0] {
            assert!((config.unmap(config.map(x)) - x).abs() < 1e-9);
        }
        let bad = DensityFieldConfig { slice_cells: 100, ..config };
        assert_eq!(bad.validate().unwrap_err().field, "slice_cells");
    }
}
