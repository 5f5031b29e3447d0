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

impl std::str::FromStr for Composite {
    type Err = String;

    /// The composite of a config's or flag's name: `sdss` or `gz_decals`.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "sdss" => Ok(Composite::Sdss),
            "gz_decals" => Ok(Composite::GzDecals),
            other => Err(format!("unknown colour composite `{other}`: use sdss or gz_decals")),
        }
    }
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
    /// The name configs and flags give it.
    pub fn name(self) -> &'static str {
        match self {
            Composite::Sdss => "sdss",
            Composite::GzDecals => "gz_decals",
        }
    }

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
    let w = desaturation_weight(&rgb, mean);
    rgb.map(|v| (v * w + mean * (1.0 - w) + mean * (1.0 - w).powi(2) * v).clamp(0.0, 1.0))
}

/// The weight a pixel keeps of its own colour in the GZ DECaLS composite: `sin((1 - d) pi / 2)`
/// with `d` how far its brightest channel is above `mean` (1 at 2.5 times).
fn desaturation_weight(rgb: &[f64; 3], mean: f64) -> f64 {
    let dominance = (rgb.iter().map(|v| v / mean).fold(f64::MIN, f64::max) / 2.5).min(1.0);
    ((1.0 - dominance) * std::f64::consts::FRAC_PI_2).sin()
}

/// The (z, r, g) nanomaggies behind a GZ DECaLS composite pixel: the pull towards grey
/// undone as for a grey pixel, then the asinh.
///
/// The pull is affine in the pixel's asinh values `v` once their mean `m` and the weight `w` a
/// pixel keeps of its colour are fixed (`out = v (w + m (1 - w)^2) + m (1 - w)`), and `w`
/// depends on the colour itself; undoing it exactly is ambiguous for faint pixels (two colours
/// make the same pixel for about a third of sky pixels), and the wrong choice turns sky noise
/// into colour noise many times larger. Taking a grey pixel's `w` for every pixel is exact for
/// grey pixels and one-to-one: a galaxy's colours come back within a few per cent in flux
/// (2-7% for r - z up to 0.75 and g - r up to 1.3, brighter where redder), and sky noise about
/// 7% low.
pub fn gz_decals_unstretch(rgb: [f64; 3]) -> [f64; 3] {
    let (low, high) = (GZ_DECALS_BLACK.asinh(), GZ_DECALS_WHITE.asinh());
    // A grey pixel's brightest channel is its mean: dominance 1 / 2.5.
    let w = desaturation_weight(&[1.0; 3], 1.0);
    let c = (1.0 - w) * (1.0 - w);
    // The mean m of the asinh values: m + c m^2 = the output's mean (never negative).
    let mean_out = rgb.iter().sum::<f64>() / 3.0;
    let m = (-1.0 + (1.0 + 4.0 * c * mean_out).sqrt()) / (2.0 * c);
    std::array::from_fn(|k| {
        let v = (rgb[k] - m * (1.0 - w)) / (w + m * c);
        GZ_DECALS_SCALES[k] * (v * (high - low) + low).sinh()
    })
}

/// The SDSS-like asinh stretch of one band's value, in units of the softening (twice the sky
/// noise), with full intensity at `white_over_soft` softenings: in [0, 1].
pub fn sdss_value(value_over_soft: f64, white_over_soft: f64) -> f64 {
    SdssStretch::new(white_over_soft).value(value_over_soft)
}

/// [`sdss_value`] for many pixels: the white point's `asinh` taken once, not per pixel.
#[derive(Debug, Clone, Copy)]
pub struct SdssStretch {
    white_asinh: f64,
}

impl SdssStretch {
    /// The stretch with full intensity at `white_over_soft` softenings.
    pub fn new(white_over_soft: f64) -> Self {
        Self { white_asinh: white_over_soft.asinh() }
    }

    /// One band's value, in softenings, stretched into [0, 1].
    pub fn value(&self, value_over_soft: f64) -> f64 {
        (value_over_soft.asinh() / self.white_asinh).clamp(0.0, 1.0)
    }
}

/// The i-band flux between r and z, from the colours the simulator draws (r - i = 0.556 (r - z)
/// for every population), linear in flux so that noise stays symmetric (at r - z = 0.72 it is
/// 5% above the geometric mean that the magnitudes give).
pub fn i_from_r_and_z(r: f64, z: f64) -> f64 {
    R_I_OVER_R_Z * z + (1.0 - R_I_OVER_R_Z) * r
}

/// r - i over r - z of the simulator's populations.
pub const R_I_OVER_R_Z: f64 = 0.556;

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
    fn undoing_the_composite_gives_back_grey_fluxes_exactly_and_galaxy_colours_closely() {
        // Grey in the composite's scaled units (each band at the same multiple of its scale),
        // from below the sky to near white.
        for level in [-0.2, 0.0, 0.02, 0.1, 1.0, 10.0, 60.0] {
            let zrg = [0, 1, 2].map(|k| level * GZ_DECALS_SCALES[k]);
            let back = gz_decals_unstretch(gz_decals_pixel(zrg));
            for k in 0..3 {
                assert!((back[k] - zrg[k]).abs() < 1e-12, "{zrg:?} -> {back:?}");
            }
        }
        // Galaxy colours from faint to bright (the numbers quoted in the doc comment).
        for zrg in [[0.08, 0.05, 0.03], [0.5, 0.3, 0.12], [2.0, 1.0, 0.3]] {
            let back = gz_decals_unstretch(gz_decals_pixel(zrg));
            for k in 0..3 {
                let ratio = back[k] / zrg[k];
                assert!((1.0..1.08).contains(&ratio), "{zrg:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn sky_noise_keeps_its_level_and_its_band_ratios() {
        let mut rng = crate::SampleRng::for_sample(3, 0, 0);
        let sigma = 0.0011; // the r band's sky noise in the GZ DECaLS pictures, nanomaggies
        let n = 20_000;
        let mut sums = [[0.0; 2]; 3];
        for _ in 0..n {
            let zrg: [f64; 3] = std::array::from_fn(|k| sigma * GZ_DECALS_NOISE_RATIO[k] * rng.normal());
            let back = gz_decals_unstretch(gz_decals_pixel(zrg));
            for k in 0..3 {
                sums[k][0] += zrg[k] * zrg[k];
                sums[k][1] += back[k] * back[k];
            }
        }
        for (k, [given, got]) in sums.iter().enumerate() {
            let ratio = (got / given).sqrt();
            assert!((0.88..0.98).contains(&ratio), "band {k}: sky noise comes back {ratio:.3} times");
        }
    }

    #[test]
    fn the_sdss_stretch_and_the_i_band_interpolation() {
        assert_eq!(sdss_value(0.0, 50.0), 0.0);
        assert_eq!(sdss_value(-3.0, 50.0), 0.0);
        assert!((sdss_value(50.0, 50.0) - 1.0).abs() < 1e-12);
        assert!((sdss_value(1.0, 50.0) - 1f64.asinh() / 50f64.asinh()).abs() < 1e-12);
        // A population's i flux from its r and z fluxes (r = 1): r - i = 0.556 (r - z) in
        // magnitudes, to the 5% of the linear interpolation.
        for c in [BULGE_LIKE, Colour { g_r: 0.2, r_i: 0.05, r_z: 0.09 }] {
            let [i, r, _] = Composite::Sdss.band_factors(c);
            let [z, _, _] = Composite::GzDecals.band_factors(c);
            let got = i_from_r_and_z(r, z);
            assert!((got / i - 1.0).abs() < 0.06, "{c:?}: {got} vs {i}");
        }
    }

    const BULGE_LIKE: Colour = Colour { g_r: 0.78, r_i: 0.40, r_z: 0.72 };

    #[test]
    fn composites_are_named_as_in_configs() {
        assert_eq!("sdss".parse(), Ok(Composite::Sdss));
        assert_eq!("gz_decals".parse(), Ok(Composite::GzDecals));
        let err = "decals".parse::<Composite>().unwrap_err();
        assert!(err.contains("unknown colour composite `decals`: use sdss or gz_decals"), "{err}");
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
