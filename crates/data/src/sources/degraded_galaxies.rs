//! Pairs of galaxy images for GalaxyGAN (Schawinski et al. 2017): the input is a simulated
//! galaxy seen through worse seeing and with more noise (crate `sim`'s [`DegradeConfig`]), the
//! target the same galaxy as first simulated; both shown (and scored) through `stretch`:
//! GalaxyGAN's own (`"galaxygan"`, the default: clipped at the simulator's white point, then
//! `asinh(10 x) / 3`, so the sky noise is a few hundredths) or the galaxy simulator's SDSS-like
//! colour stretch (`"sdss"`, soft at twice the noise: the noise dominates the scores). Each item's
//! classical baseline is the Richardson-Lucy deconvolution of its degraded bands with the known
//! PSF, in the same stretch. Pair `i` is a pure function of
//! `(seed, first + i)`, kept in memory as bytes once drawn. With `[data.images]` the originals
//! are real images from a folder instead ([`crate::sources::degraded_folder`]).

use astro_sim::GalaxySimConfig;
use astro_sim::deconvolution::richardson_lucy;
use astro_sim::degrade::{DegradeConfig, galaxygan_stretch};
use astro_sim::image::Image;
use astro_sim::rng::SampleRng;
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::ByteCache;
use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::SimulatedSplits;
use crate::sources::Source;
use crate::sources::shared::limit_to;
use crate::sources::degraded_folder::GalaxyImagesConfig;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::ImageItem;
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

/// The random stream of the added noise.
const STREAM_DEGRADE: u64 = 40;

fn default_iterations() -> usize {
    30
}

/// How the bands become pixel values in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stretch {
    /// GalaxyGAN's: each band clipped at the white point, then `asinh(10 x) / 3`.
    #[default]
    Galaxygan,
    /// The galaxy simulator's colour stretch (softened at twice the sky noise).
    Sdss,
}

/// `[data]` with `source = "degraded_galaxies"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradedGalaxiesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits,
    /// Keep each drawn pair in memory (one byte per value).
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
    /// Richardson-Lucy iterations of the baseline (1 or more).
    #[serde(default = "default_iterations")]
    pub rl_iterations: usize,
    /// The galaxies (`[data.simulator]`).
    #[serde(default)]
    pub simulator: GalaxySimConfig,
    /// The degradation (`[data.degrade]`).
    #[serde(default)]
    pub degrade: DegradeConfig,
    /// How the simulated bands are shown and scored.
    #[serde(default)]
    pub stretch: Stretch,
    /// Real images to degrade instead of simulated galaxies (`[data.images]`; then `train`,
    /// `valid`, `test` and `[data.simulator]` are not used).
    #[serde(default)]
    pub images: Option<GalaxyImagesConfig>,
}

impl DegradedGalaxiesConfig {
    /// The pairs of a folder of real images.
    fn open_folder(&self, images: &GalaxyImagesConfig, seed: u64) -> Result<OpenedData, DataError> {
        use burn::data::dataset::Dataset;
        let opened = images.open(self.degrade, self.rl_iterations, seed, self.cache)?;
        let [train, valid, test] = opened.splits;
        let (size, channels) = (images.size, opened.channels);
        let description = format!(
            "{} images from {} ({size}x{size} px at {}\"/px) degraded by {}: {} train, {} valid, {} test",
            opened.files,
            images.dir.display(),
            images.pixel_scale_arcsec,
            self.degradation(),
            train.len(),
            valid.len(),
            test.len()
        );
        Ok(OpenedData { info: pairs_info(channels, size, description), train, valid, test })
    }

    /// The degradation in words.
    fn degradation(&self) -> String {
        format!("a {}\" Gaussian PSF and {}x the noise", self.degrade.psf_fwhm_arcsec, self.degrade.noise_factor)
    }

    /// `bands` as pixel values, channel-major, by `stretch`.
    pub fn display(&self, bands: &[Image; 3]) -> Vec<f32> {
        match self.stretch {
            Stretch::Sdss => self.simulator.stretch(bands),
            Stretch::Galaxygan => {
                let white = self.simulator.white_point;
                bands.iter().flat_map(|b| b.data.iter().map(move |&v| galaxygan_stretch(v, white))).collect()
            }
        }
    }

    /// Galaxy `index`'s original bands (counts), degraded bands and its noise sigma.
    pub fn bands(&self, seed: u64, index: u64) -> ([Image; 3], [Image; 3], f64) {
        let (original, sigma) = self.simulator.simulate_bands(seed, index);
        let mut rng = SampleRng::for_sample(seed, STREAM_DEGRADE, index);
        let scale = self.simulator.pixel_scale_arcsec;
        let degraded = [0, 1, 2].map(|b| self.degrade.degrade(&original[b], sigma, scale, &mut rng));
        (original, degraded, sigma)
    }
}

/// What the pairs are: images of `channels x size x size` that the model gives back recovered.
fn pairs_info(channels: usize, size: usize, description: String) -> DataInfo {
    let names = vec![format!("original pixel values ({channels} x {size} x {size})")];
    DataInfo::images(Task::Reconstruction, names, description, Preprocess::whole(size, channels))
}

/// A contiguous range of pairs.
#[derive(Debug, Clone)]
pub struct DegradedGalaxies {
    config: DegradedGalaxiesConfig,
    seed: u64,
    first: u64,
    len: usize,
    /// Degraded then original pixels of each pair.
    cache: ByteCache,
}

impl LabelledImages for DegradedGalaxies {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} pairs", self.len))));
        }
        let sim = &self.config.simulator;
        let both = self.cache.get_or_make(index, || {
            let (original, degraded, _) = self.config.bands(self.seed, self.first + index as u64);
            Ok::<_, DatasetError>([self.config.display(&degraded), self.config.display(&original)].concat())
        })?;
        let half = both.len() / 2;
        let size = sim.image_size;
        Ok(ImageItem {
            id: self.id(index),
            pixels: both[..half].to_vec(),
            shape: [3, size, size],
            targets: both[half..].to_vec(),
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.item(index).map(|item| item.targets)
    }

    fn id(&self, index: usize) -> String {
        format!("sim-{}", self.first + index as u64)
    }

    fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        let (_, degraded, _) = self.config.bands(self.seed, self.first + index as u64);
        let psf = self.config.degrade.psf(self.config.simulator.pixel_scale_arcsec);
        let restored = degraded.map(|band| richardson_lucy(&band, psf, self.config.rl_iterations));
        Some(self.config.display(&restored))
    }
}

impl Source for DegradedGalaxiesConfig {
    fn kind(&self) -> &'static str {
        "simulated galaxies, degraded and original (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        if self.simulator.frames_each_galaxy() {
            return Err(DataError::setting(
                "simulator.framing_half_light_radii",
                "the degradation's seeing and pixels are set in arcseconds at the simulator's one pixel scale, so \
                 galaxies framed by their size cannot be degraded: leave it at 0",
            ));
        }
        self.degrade.validate().map_err(|e| DataError::setting(format!("degrade.{}", e.field), e.problem))?;
        self.splits.check()?;
        if self.rl_iterations == 0 {
            return Err(DataError::setting("rl_iterations", "must be at least 1"));
        }
        if let Some(images) = &self.images {
            return self.open_folder(images, seed);
        }
        let size = self.simulator.image_size;
        let split = |first: usize, len: usize| {
            ImageSplit::new(DegradedGalaxies {
                config: self.clone(),
                seed,
                first: first as u64,
                len,
                cache: ByteCache::new(len, self.cache),
            })
        };
        let description = format!(
            "simulated galaxies ({size}x{size} px RGB at {}\"/px, seeing {}\") degraded by {}: {}",
            self.simulator.pixel_scale_arcsec,
            self.simulator.psf_fwhm_arcsec,
            self.degradation(),
            self.splits.counts()
        );
        Ok(self.splits.open(pairs_info(3, size, description), split))
    }

    fn shrink_for_smoke(&mut self) {
        self.splits.shrink(32, 8, 8);
        self.simulator.image_size = self.simulator.image_size.min(32);
        if let Some(images) = &mut self.images {
            limit_to(&mut images.limit, 48);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    #[test]
    fn a_pair_is_the_degraded_galaxy_and_its_original_with_a_deconvolved_baseline() {
        let config: DegradedGalaxiesConfig =
            toml::from_str("train = 2\nvalid = 1\ntest = 2\ncache = false\n[simulator]\nimage_size = 32\n").unwrap();
        let data = config.open(5).unwrap();
        assert_eq!(data.info.input, [3, 32, 32]);
        let item = data.test.get(1).unwrap();
        assert_eq!(item.id, "sim-4");
        let (original, degraded, _) = config.bands(5, 4);
        assert_eq!(item.targets, config.display(&original));
        assert_eq!(item.pixels, config.display(&degraded));
        // GalaxyGAN's stretch: a pixel at the white point shows as asinh(10) / 3.
        let white = config.simulator.white_point;
        assert_eq!(
            config.display(&[0, 1, 2].map(|_| Image { width: 1, height: 1, data: vec![white] }))[0],
            galaxygan_stretch(white, white)
        );
        // With the SDSS stretch the original is the galaxy simulator's own RGB for that galaxy.
        let sdss = DegradedGalaxiesConfig { stretch: Stretch::Sdss, ..config.clone() };
        assert_eq!(sdss.open(5).unwrap().test.get(1).unwrap().targets, config.simulator.simulate(5, 4).rgb);
        // Blurred: the degraded galaxy's peak counts are lower (the stretch may saturate both).
        let (original, degraded, _) = config.bands(5, 4);
        let peak = |band: &Image| band.data.iter().cloned().fold(f64::MIN, f64::max);
        assert!(peak(&degraded[1]) < 0.9 * peak(&original[1]), "{} vs {}", peak(&degraded[1]), peak(&original[1]));
        let baseline = data.test.baseline(1).unwrap();
        assert_eq!(baseline.len(), item.targets.len());
        let err =
            toml::from_str::<DegradedGalaxiesConfig>("[degrade]\nnoise_factor = 0.5\n").unwrap().open(0).unwrap_err();
        assert!(err.to_string().starts_with("data.degrade.noise_factor: must be at least 1"), "{err}");
        let err = toml::from_str::<DegradedGalaxiesConfig>("[simulator]\nframing_half_light_radii = 8.0\n")
            .unwrap()
            .open(0)
            .unwrap_err();
        assert!(err.to_string().starts_with("data.simulator.framing_half_light_radii: the degradation's"), "{err}");
    }
}
