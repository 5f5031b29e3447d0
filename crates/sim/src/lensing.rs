//! Gravitational lensing by a singular isothermal ellipsoid (SIE) with external shear, and
//! ray-tracing of a source through it (CMU DeepLens simulations, Lanusse et al. 2018).
//!
//! Angles are in arcsec on the sky. In the lens frame (major axis along x, axis ratio `q`,
//! `psi = sqrt(q^2 x^2 + y^2)`) the SIE deflection is (Kormann, Schneider & Bartelmann 1994)
//!
//! `ax = b / sqrt(1 - q^2) atan(sqrt(1 - q^2) x / psi)`,
//! `ay = b / sqrt(1 - q^2) atanh(sqrt(1 - q^2) y / psi)`,
//!
//! whose convergence is `kappa = b / (2 psi)`; for `q = 1` it is the singular isothermal sphere
//! with Einstein radius `b`. External shear `(g1, g2)` adds `(g1 x + g2 y, g2 x - g1 y)`. A
//! point `theta` on the sky sees the source plane at `beta = theta - alpha(theta)`, and lensing
//! conserves surface brightness: the image is the source's brightness at `beta`.

/// A singular isothermal ellipsoid with external shear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sie {
    /// Einstein radius `b`, arcsec.
    pub einstein_radius: f64,
    /// Axis ratio in (0, 1].
    pub q: f64,
    /// Position angle of the major axis, radians counter-clockwise from +x.
    pub angle: f64,
    /// Centre on the sky, arcsec.
    pub x0: f64,
    /// Centre on the sky, arcsec.
    pub y0: f64,
    /// External shear, first component.
    pub shear1: f64,
    /// External shear, second component.
    pub shear2: f64,
}

impl Sie {
    /// A circular lens (SIS) of Einstein radius `b` at the origin, without shear.
    pub fn sis(b: f64) -> Self {
        Self { einstein_radius: b, q: 1.0, angle: 0.0, x0: 0.0, y0: 0.0, shear1: 0.0, shear2: 0.0 }
    }

    /// The deflection `alpha(x, y)` at a sky position, arcsec.
    pub fn deflection(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.x0, y - self.y0);
        let (s, c) = self.angle.sin_cos();
        // Into the lens frame.
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        let b = self.einstein_radius;
        let q = self.q.clamp(1e-3, 1.0);
        let psi = (q * q * u * u + v * v).sqrt().max(1e-12);
        let e = (1.0 - q * q).sqrt();
        let (au, av) = if e < 1e-6 {
            (b * u / psi, b * v / psi)
        } else {
            (b / e * (e * u / psi).atan(), b / e * (e * v / psi).clamp(-1.0 + 1e-15, 1.0 - 1e-15).atanh())
        };
        // Back to the sky frame, plus the external shear about the lens centre.
        let (ax, ay) = (au * c - av * s, au * s + av * c);
        (ax + self.shear1 * dx + self.shear2 * dy, ay + self.shear2 * dx - self.shear1 * dy)
    }

    /// The convergence of the SIE alone, `b / (2 psi)`.
    pub fn convergence(&self, x: f64, y: f64) -> f64 {
        let (dx, dy) = (x - self.x0, y - self.y0);
        let (s, c) = self.angle.sin_cos();
        let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
        let q = self.q.clamp(1e-3, 1.0);
        self.einstein_radius / (2.0 * (q * q * u * u + v * v).sqrt().max(1e-12))
    }

    /// The source-plane position seen at sky position `(x, y)`: `beta = theta - alpha`.
    pub fn ray_trace(&self, x: f64, y: f64) -> (f64, f64) {
        let (ax, ay) = self.deflection(x, y);
        (x - ax, y - ay)
    }
}

/// Sub-samples per pixel side when ray-tracing: arcs are thin near the critical curve.
pub const LENS_SUBSAMPLES: usize = 6;

/// Renders the lensed image of a source with surface brightness `source(beta_x, beta_y)`
/// (counts per arcsec^2) on a `size x size` grid of `pixel_scale` arcsec pixels centred on the
/// sky origin, each pixel the mean over [`LENS_SUBSAMPLES`]^2 rays times its area.
pub fn render_lensed(
    lens: &Sie,
    size: usize,
    pixel_scale: f64,
    source: impl Fn(f64, f64) -> f64,
) -> crate::image::Image {
    let mut image = crate::image::Image::zeros(size, size);
    let half = size as f64 / 2.0;
    let step = 1.0 / LENS_SUBSAMPLES as f64;
    let area = pixel_scale * pixel_scale / (LENS_SUBSAMPLES * LENS_SUBSAMPLES) as f64;
    for py in 0..size {
        for px in 0..size {
            let mut acc = 0.0;
            for j in 0..LENS_SUBSAMPLES {
                for i in 0..LENS_SUBSAMPLES {
                    let x = (px as f64 + (i as f64 + 0.5) * step - half) * pixel_scale;
                    let y = (py as f64 + (j as f64 + 0.5) * step - half) * pixel_scale;
                    let (bx, by) = lens.ray_trace(x, y);
                    acc += source(bx, by);
                }
            }
            image.data[py * size + px] = acc * area;
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A circular Gaussian source of total flux 1 and width `sigma` at `(x0, y0)`.
    fn gaussian(x0: f64, y0: f64, sigma: f64) -> impl Fn(f64, f64) -> f64 {
        move |x, y| {
            let r2 = (x - x0).powi(2) + (y - y0).powi(2);
            (-r2 / (2.0 * sigma * sigma)).exp() / (std::f64::consts::TAU * sigma * sigma)
        }
    }

    #[test]
    fn the_sie_deflection_is_the_gradient_of_a_potential_with_its_convergence() {
        // div alpha = 2 kappa and curl alpha = 0, by central differences, away from the centre.
        let lens = Sie { einstein_radius: 1.3, q: 0.6, angle: 0.7, x0: 0.1, y0: -0.2, shear1: 0.0, shear2: 0.0 };
        let h = 1e-5;
        for &(x, y) in &[(0.9, 0.3), (-1.2, 0.8), (0.4, -1.6), (2.5, 2.0)] {
            let (axp, ayp) = lens.deflection(x + h, y);
            let (axm, aym) = lens.deflection(x - h, y);
            let (bxp, byp) = lens.deflection(x, y + h);
            let (bxm, bym) = lens.deflection(x, y - h);
            let div = (axp - axm) / (2.0 * h) + (byp - bym) / (2.0 * h);
            let curl = (ayp - aym) / (2.0 * h) - (bxp - bxm) / (2.0 * h);
            assert!((div - 2.0 * lens.convergence(x, y)).abs() < 1e-6, "div {div} at ({x}, {y})");
            assert!(curl.abs() < 1e-6, "curl {curl} at ({x}, {y})");
        }
    }

    #[test]
    fn the_sie_matches_the_analytic_formula_and_the_sis_limit() {
        let lens = Sie { einstein_radius: 1.0, q: 0.5, angle: 0.0, x0: 0.0, y0: 0.0, shear1: 0.0, shear2: 0.0 };
        // On the major axis (y = 0): psi = q x, ax = b/e atan(e/q), ay = 0.
        let e = (1.0f64 - 0.25).sqrt();
        let (ax, ay) = lens.deflection(0.8, 0.0);
        assert!((ax - (e / 0.5).atan() / e).abs() < 1e-12 && ay.abs() < 1e-12);
        // On the minor axis: psi = |y|, ay = b/e atanh(e).
        let (ax, ay) = lens.deflection(0.0, 0.3);
        assert!(ax.abs() < 1e-12 && (ay - e.atanh() / e).abs() < 1e-12);
        // q -> 1: the SIS, |alpha| = b everywhere.
        let near = Sie { q: 1.0 - 1e-9, ..Sie::sis(1.7) };
        let (ax, ay) = near.deflection(0.6, -2.1);
        assert!(((ax * ax + ay * ay).sqrt() - 1.7).abs() < 1e-6);
        // Rotating the lens rotates its deflection.
        let turned = Sie { angle: std::f64::consts::FRAC_PI_2, ..lens };
        let (a, b) = lens.deflection(0.8, 0.0);
        let (c, d) = turned.deflection(0.0, 0.8);
        assert!((c + b).abs() < 1e-12 && (d - a).abs() < 1e-12);
        // Shear adds the linear field about the lens centre.
        let sheared = Sie { shear1: 0.05, shear2: -0.02, ..lens };
        let (sx, sy) = sheared.deflection(0.8, 0.4);
        let (px, py) = lens.deflection(0.8, 0.4);
        assert!(
            (sx - px - (0.05 * 0.8 - 0.02 * 0.4)).abs() < 1e-12 && (sy - py - (-0.02 * 0.8 - 0.05 * 0.4)).abs() < 1e-12
        );
    }

    #[test]
    fn a_source_behind_an_sis_makes_an_einstein_ring_at_the_einstein_radius() {
        let (size, scale, b) = (81, 0.05, 1.2);
        let image = render_lensed(&Sie::sis(b), size, scale, gaussian(0.0, 0.0, 0.04));
        // Azimuthally averaged brightness in 0.05" annuli peaks at the Einstein radius.
        let mut sums = vec![(0.0, 0usize); 40];
        for y in 0..size {
            for x in 0..size {
                let r = (((x as f64 + 0.5 - size as f64 / 2.0).powi(2) + (y as f64 + 0.5 - size as f64 / 2.0).powi(2))
                    .sqrt())
                    * scale;
                let k = (r / scale) as usize;
                if k < sums.len() {
                    sums[k].0 += image.data[y * size + x];
                    sums[k].1 += 1;
                }
            }
        }
        let peak = (0..sums.len())
            .max_by(|&a, &c| (sums[a].0 / sums[a].1.max(1) as f64).total_cmp(&(sums[c].0 / sums[c].1.max(1) as f64)))
            .unwrap();
        let radius = (peak as f64 + 0.5) * scale;
        assert!((radius - b).abs() <= scale, "ring at {radius} arcsec for b = {b} arcsec");
    }

    #[test]
    fn an_sis_magnifies_a_small_source_by_two_b_over_beta() {
        // Two images at beta + b and b - beta with total magnification 2b / beta (beta < b).
        let (b, beta) = (1.0, 0.25);
        let image = render_lensed(&Sie::sis(b), 120, 0.025, gaussian(beta, 0.0, 0.01));
        let total = image.sum();
        assert!((total / (2.0 * b / beta) - 1.0).abs() < 0.02, "flux {total}, expected {}", 2.0 * b / beta);
        // Unlensed (b = 0), the same source keeps its flux: surface brightness is all that is moved.
        let flat = render_lensed(&Sie::sis(0.0), 120, 0.025, gaussian(beta, 0.0, 0.01));
        assert!((flat.sum() - 1.0).abs() < 1e-3, "{}", flat.sum());
    }
}
