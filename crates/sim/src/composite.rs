//! Colour composites: how the galaxy simulator's three linear bands become the RGB picture a
//! survey ships, so that a network trained on simulations sees what it will be shown.
//!
//! - `sdss` (the default): bands (i, r, g) as (R, G, B), one asinh stretch softened at twice the
//!   sky noise with full intensity at `white_point` counts, like the SDSS colour composites
//!   (Lupton et al. 2004) that Galaxy Zoo 2 classified.
//! - `gz_decals`: bands (z, r, g) as (R, G, B) in nanomaggies, through the composite that made the
//!   Galaxy Zoo DECaLS images (Walmsley et al. 2022; the Legacy Surveys' DR2-style composite,
//!   with the settings of the GZ DECaLS download code): each band divided by its scale (z 0.019,
//!   r 0.014, g 0.008 nanomaggies), `asinh` with black at -0.5 and white at 300 scaled units,
//!   then pixels that one colour dominates pulled towards their grey (so sky noise is not
//!   confetti). Counts become nanomaggies through `counts_per_nanomaggy`, and the bands' sky
//!   noise differs as it does in those images (see [`GZ_DECALS_NOISE_RATIO`]).

use serde::{Deserialize, Serialize};

/// The colour composite a simulated galaxy is shown in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Composite {
    /// (i, r, g), SDSS-like asinh stretch (Galaxy Zoo 2's images).
    #[default]
    Sdss,
    /// (z, r, g) in nanomaggies, Galaxy Zoo DECaLS's composite.
    GzDecals,
}

/// `(g - r, r - i, r - z)` colours of a stellar population, AB magnitudes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour {
    /// g - r.
    pub g_r: f64,
    /// r - i.
    pub r_i: f64,
    /// r - z.
    pub r_z: f64,
}

impl Composite {
    /// Flux multipliers over the r band for the composite's (red, green, blue) bands.
    pub fn band_factors(self, c: Colour) -> [f64; 3] {
        let red = match self {
            Composite::Sdss => c.r_i,
            Composite::GzDecals => c.r_z,
        };
        [10f64.powf(0.4 * red), 1.0, 10f64.powf(-0.4 * c.g_r)]
    }

    /// Each band's sky noise over the r band's: 1 for the SDSS-like composite; for GZ DECaLS the
    /// ratios of the robust sky scatter measured on the 470 images of `decals_rings` (z 1.55, r 1,
    /// g 0.57, through the composite's inverse; `gz_decals_calibration.py` beside the tests'
    /// fixtures).
    pub fn noise_ratio(self) -> [f64; 3] {
        match self {
            Composite::Sdss => [1.0; 3],
            Composite::GzDecals => GZ_DECALS_NOISE_RATIO,
        }
    }
}

/// The sky noise of the z, r and g bands of the Galaxy Zoo DECaLS images, over r's.
pub const GZ_DECALS_NOISE_RATIO: [f64; 3] = [1.55, 1.0, 0.57];

/// Nanomaggies per scaled unit in the GZ DECaLS composite, for (z, r, g).
const GZ_DECALS_SCALES: [f64; 3] = [0.019, 0.014, 0.008];
/// Scaled values that become black and white.
const GZ_DECALS_BLACK: f64 = -0.5;
const GZ_DECALS_WHITE: f64 = 300.0;

/// The GZ DECaLS composite of one pixel, (z, r, g) in nanomaggies to (R, G, B) in [0, 1].
pub fn gz_decals_pixel(zrg: [f64; 3]) -> [f64; 3] {
    let (low, high) = (GZ_DECALS_BLACK.asinh(), GZ_DECALS_WHITE.asinh());
    let rgb: [f64; 3] = std::array::from_fn(|k| ((zrg[k] / GZ_DECALS_SCALES[k]).asinh() - low) / (high - low));
    let mean = rgb.iter().sum::<f64>() / 3.0;
    let mean = if mean == 0.0 { 1.0 } else { mean };
    // How far one colour dominates: 1 (or more) at 2.5 times the pixel's mean, where the
    // pixel keeps its colour; a grey pixel is pulled all the way to its mean.
    let dominance = (rgb.iter().map(|v| v / mean).fold(f64::MIN, f64::max) / 2.5).min(1.0);
    let w = ((1.0 - dominance) * std::f64::consts::FRAC_PI_2).sin();
    rgb.map(|v| (v * w + mean * (1.0 - w) + mean * (1.0 - w).powi(2) * v).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gz_decals_composite_matches_the_numpy_reference() {
        // Embedded, so that a test binary built from another checkout reads its own fixture.
        let text = include_str!("../tests/fixtures/gz_decals_composite_reference.txt");
        let rows: Vec<Vec<f64>> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
            .collect();
        assert_eq!(rows.len(), 11);
        for row in rows {
            let got = gz_decals_pixel([row[0], row[1], row[2]]);
            for k in 0..3 {
                assert!((got[k] - row[3 + k]).abs() < 1e-12, "{row:?}: {got:?}");
            }
        }
    }

    #[test]
    fn band_factors_pick_the_composites_red_band() {
        let c = Colour { g_r: 0.5, r_i: 0.25, r_z: 0.45 };
        let sdss = Composite::Sdss.band_factors(c);
        let decals = Composite::GzDecals.band_factors(c);
        assert!((sdss[0] - 10f64.powf(0.1)).abs() < 1e-12 && (decals[0] - 10f64.powf(0.18)).abs() < 1e-12);
        assert_eq!(sdss[1..], decals[1..]);
        assert!((sdss[2] - 10f64.powf(-0.2)).abs() < 1e-12);
    }
}
