//! Pictures made in one survey's colour composite, redrawn in the composite a model was trained
//! on: the prediction-side half of putting real images where a simulation-trained model looks.
//!
//! Only Galaxy Zoo DECaLS pictures (`gz_decals`: (z, r, g) through the composite the GZ DECaLS
//! images were made with, whose asinh [`astro_sim::composite::gz_decals_unstretch`] undoes) can be
//! redrawn, for a model trained on the simulator's SDSS-like composite: each pixel goes back to
//! nanomaggies (before resampling, so resampling averages flux, not stretched values), the i band
//! is interpolated between r and z, each band's sky level (its median) is subtracted and the sky
//! noise measured on the resampled r band, and each
//! band is stretched with the model's softening (twice the sky noise) and white point in units of
//! that noise, so a galaxy stands as far above the sky as it would in a training picture. The
//! SDSS-like composite cannot be undone without its pictures' softening and white point, which
//! real SDSS pictures do not record, so that direction is refused.

use crate::formats::cutouts::{median, noise_sigma};
pub use astro_sim::composite::Composite;
use astro_sim::composite::{SdssStretch, gz_decals_unstretch, i_from_r_and_z};

/// The composite a model was trained on, as a redrawing needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ModelComposite {
    /// The simulator's SDSS-like (i, r, g) asinh composite, with its white point in softenings
    /// (twice the training pictures' sky noise).
    Sdss {
        /// `white_point / (2 sky sigma)` of the training simulation.
        white_over_soft: f64,
    },
    /// Galaxy Zoo DECaLS's composite.
    GzDecals,
    /// The SDSS-like composite of real pictures, whose softening and white point are unknown.
    SdssUnknownScale,
}

/// How pictures are redrawn before they reach a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Restretch {
    /// GZ DECaLS pictures into the simulator's SDSS-like composite.
    GzDecalsToSdss {
        /// The model's white point in softenings.
        white_over_soft: f64,
    },
}

impl Restretch {
    /// The redrawing that shows pictures made in `files` as a model trained on `model` saw its
    /// own: none when they are the same composite; an error saying why when it cannot be done.
    pub fn between(files: Composite, model: ModelComposite) -> Result<Option<Self>, String> {
        match (files, model) {
            (Composite::GzDecals, ModelComposite::GzDecals) => Ok(None),
            (Composite::Sdss, ModelComposite::Sdss { .. } | ModelComposite::SdssUnknownScale) => Ok(None),
            (Composite::GzDecals, ModelComposite::Sdss { white_over_soft }) => {
                if !(white_over_soft.is_finite() && white_over_soft > 0.0) {
                    return Err(format!(
                        "the model's white point is {white_over_soft} softenings, not a positive number"
                    ));
                }
                Ok(Some(Self::GzDecalsToSdss { white_over_soft }))
            }
            (Composite::GzDecals, ModelComposite::SdssUnknownScale) => {
                Err("the model was trained on real SDSS-like pictures, whose softening and white point are not known, \
                 so GZ DECaLS pictures cannot be redrawn like them"
                    .into())
            }
            (Composite::Sdss, ModelComposite::GzDecals) => Err(
                "SDSS-like pictures cannot be redrawn in the GZ DECaLS composite: undoing their asinh stretch needs \
                 its softening and white point, which the pictures do not record"
                    .into(),
            ),
        }
    }

    /// One 8-bit picture pixel as linear fluxes (for GZ DECaLS: (z, r, g) nanomaggies).
    pub fn linear(&self, rgb: [u8; 3]) -> [f32; 3] {
        match self {
            Self::GzDecalsToSdss { .. } => gz_decals_unstretch(rgb.map(|v| f64::from(v) / 255.0)).map(|v| v as f32),
        }
    }

    /// Resampled linear planes (as [`linear`](Self::linear) gives them, each `width * height`)
    /// stretched into the model's composite, channel-major in [0, 1].
    pub fn stretch(&self, planes: &[Vec<f32>; 3]) -> Vec<f32> {
        match self {
            Self::GzDecalsToSdss { white_over_soft } => {
                // Each band less its sky level (the median: the galaxy covers a small part of a
                // survey cutout), as the simulator's bands are sky-subtracted.
                let [z, r, g] = planes.each_ref().map(|p| {
                    let p: Vec<f64> = p.iter().map(|v| f64::from(*v)).collect();
                    let sky = median(&mut p.clone());
                    p.into_iter().map(|v| v - sky).collect::<Vec<f64>>()
                });
                // The sky noise of the r band, robust to the galaxy (NaN never occurs here).
                let soft = 2.0 * noise_sigma(&r, f64::NAN);
                let i = z.iter().zip(&r).map(|(z, r)| i_from_r_and_z(*r, *z));
                let stretch = SdssStretch::new(*white_over_soft);
                let value = |v: f64| stretch.value(v / soft) as f32;
                i.map(value).chain(r.iter().map(|v| value(*v))).chain(g.iter().map(|v| value(*v))).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_sim::composite::{gz_decals_pixel, sdss_value};

    #[test]
    fn only_the_redrawings_that_can_be_done_are_offered() {
        let sdss = ModelComposite::Sdss { white_over_soft: 36.0 };
        assert_eq!(Restretch::between(Composite::GzDecals, ModelComposite::GzDecals), Ok(None));
        assert_eq!(Restretch::between(Composite::Sdss, sdss), Ok(None));
        assert_eq!(
            Restretch::between(Composite::GzDecals, sdss),
            Ok(Some(Restretch::GzDecalsToSdss { white_over_soft: 36.0 }))
        );
        let err = Restretch::between(Composite::Sdss, ModelComposite::GzDecals).unwrap_err();
        assert!(err.contains("softening and white point"), "{err}");
        let err = Restretch::between(Composite::GzDecals, ModelComposite::SdssUnknownScale).unwrap_err();
        assert!(err.contains("real SDSS-like pictures"), "{err}");
        let err = Restretch::between(Composite::GzDecals, ModelComposite::Sdss { white_over_soft: 0.0 }).unwrap_err();
        assert!(err.contains("not a positive number"), "{err}");
    }

    #[test]
    fn a_gz_decals_picture_is_redrawn_as_the_sdss_composite_of_its_fluxes() {
        // A galaxy (a round exponential in the disk's colours) on sky noise of known sigma, in
        // (z, r, g) nanomaggies; its GZ DECaLS picture in 8 bits; redrawn without resampling.
        let (side, sigma) = (48usize, 0.004);
        let mut rng = astro_sim::SampleRng::for_sample(5, 0, 0);
        let noise = astro_sim::composite::GZ_DECALS_NOISE_RATIO;
        let colour = [10f64.powf(0.4 * 0.45), 1.0, 10f64.powf(-0.4 * 0.5)];
        let fluxes: Vec<[f64; 3]> = (0..side * side)
            .map(|k| {
                let (x, y) = ((k % side) as f64 - 23.5, (k / side) as f64 - 23.5);
                let galaxy = 0.4 * (-(x * x + y * y).sqrt() / 2.0).exp();
                std::array::from_fn(|b| galaxy * colour[b] + sigma * noise[b] * rng.normal())
            })
            .collect();
        let restretch = Restretch::GzDecalsToSdss { white_over_soft: 40.0 };
        let mut planes: [Vec<f32>; 3] = std::array::from_fn(|_| Vec::new());
        for zrg in &fluxes {
            let rgb = gz_decals_pixel(*zrg).map(|v| (v * 255.0).round() as u8);
            let linear = restretch.linear(rgb);
            for b in 0..3 {
                planes[b].push(linear[b]);
            }
        }
        let got = restretch.stretch(&planes);
        // The SDSS-like composite of the true fluxes at the true noise.
        let soft = 2.0 * sigma;
        let n = side * side;
        let mut errors = Vec::new();
        for (k, [z, r, g]) in fluxes.iter().enumerate() {
            let want = [i_from_r_and_z(*r, *z), *r, *g].map(|v| sdss_value(v / soft, 40.0));
            for b in 0..3 {
                errors.push((f64::from(got[b * n + k]) - want[b]).abs());
            }
        }
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        let p95 = errors[errors.len() * 95 / 100];
        // 8-bit rounding is a third of the sky noise, and faint pixels' colours are ambiguous:
        // most pixels land close, and the galaxy (the brightest) closer still.
        assert!(median < 0.01 && p95 < 0.08, "median {median}, 95% {p95}");
        // The galaxy's centre in r (the noise estimate, from a picture the galaxy is part of,
        // is about 10% high).
        let centre = side / 2 * side + side / 2;
        let want = sdss_value(fluxes[centre][1] / soft, 40.0);
        assert!((f64::from(got[n + centre]) - want).abs() < 0.04, "{} vs {want}", got[n + centre]);
    }
}
