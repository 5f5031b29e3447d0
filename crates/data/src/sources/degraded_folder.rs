//! Real galaxy images for GalaxyGAN (`[data.images]` of `source = "degraded_galaxies"`): each
//! file in a folder is an original, degraded by the same pipeline as the simulated galaxies
//! (crate `sim`'s [`DegradeConfig`]) at the images' pixel scale. FITS files (`.fits`, `.fit`; one
//! band in flux units, as the SDSS frames Schawinski et al. cut their galaxies from) give one
//! channel, shown through GalaxyGAN's stretch with the white point at 150 times the band's noise
//! (the simulated galaxies' ratio); PNG and
//! JPEG files give RGB whose 0-1 values are taken as linear, and stay in that scale. The noise of
//! each original band is measured as 1.4826 x its median absolute deviation (the sky dominates a
//! galaxy cutout), so that `noise_factor` means what it means for simulated galaxies. Files are
//! centre-cropped to `size`; the split is a seeded shuffle of the sorted files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use astro_sim::deconvolution::richardson_lucy;
use astro_sim::degrade::{DegradeConfig, galaxygan_stretch};
use astro_sim::image::Image;
use astro_sim::rng::SampleRng;
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::ByteCache;
use crate::error::DataError;
use crate::formats::cutouts::noise_sigma;
use crate::formats::files::is_picture_name;
use crate::formats::fits::{Planes, is_fits_name, read_fits_planes};
use crate::item::ImageItem;
use crate::sources::shared::RandomSplit;
use crate::split::{ImageSplit, LabelledImages};

/// The random stream of the added noise (as for simulated galaxies).
const STREAM_DEGRADE: u64 = 40;
/// The white point of a FITS band, in units of its noise (the galaxy simulator's default ratio).
const WHITE_SIGMAS: f64 = 150.0;
fn default_size() -> usize {
    64
}

fn default_pixel_scale() -> f64 {
    0.396
}

/// `[data.images]`: a folder of real galaxy images to degrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalaxyImagesConfig {
    /// The folder: FITS files (a 2-D image is one band; a cube's planes are bands) or PNG/JPEG
    /// files (RGB), not both.
    pub dir: PathBuf,
    /// Only the files whose names match this pattern (`*` matches any run of characters), e.g.
    /// `"Cut_HSC*.fits"` in a folder that also holds PSFs.
    #[serde(default)]
    pub pattern: Option<String>,
    /// FITS cubes: use only this plane (0-based; default: every plane as a band).
    #[serde(default)]
    pub plane: Option<usize>,
    /// Arcseconds per pixel of the files (default: SDSS's 0.396), for the PSF's width in pixels.
    #[serde(default = "default_pixel_scale")]
    pub pixel_scale_arcsec: f64,
    /// Side of the centred square cut from each file, pixels (a power of two for the U-Net).
    #[serde(default = "default_size")]
    pub size: usize,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`).
    #[serde(flatten)]
    pub held_out: RandomSplit,
    /// Use at most this many files (the first by name).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// How the files are read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    /// One band in flux units.
    Fits,
    /// RGB, values in [0, 1].
    Picture,
}

/// The three splits of a folder, and the channels of its images.
pub struct FolderSplits {
    /// Channels per image (1 for FITS, 3 for pictures).
    pub channels: usize,
    /// Files in the folder that are used.
    pub files: usize,
    /// Training, validation and test pairs.
    pub splits: [ImageSplit; 3],
}

impl GalaxyImagesConfig {
    /// Lists and checks the files, reads the first to prove it can be read, and splits them.
    pub fn open(
        &self,
        degrade: DegradeConfig,
        rl_iterations: usize,
        seed: u64,
        cache: bool,
    ) -> Result<FolderSplits, DataError> {
        self.held_out.check().map_err(|e| nested(e, "images."))?;
        if !(self.pixel_scale_arcsec.is_finite() && self.pixel_scale_arcsec > 0.0) {
            return Err(DataError::setting(
                "images.pixel_scale_arcsec",
                format!("must be positive, got {}", self.pixel_scale_arcsec),
            ));
        }
        if self.size < 4 {
            return Err(DataError::setting("images.size", format!("must be at least 4 pixels, got {}", self.size)));
        }
        let (mut paths, format) = self.list()?;
        paths.truncate(self.limit.unwrap_or(usize::MAX));
        let mut folder = Folder { config: self.clone(), degrade, rl_iterations, seed, format, paths, channels: None };
        let channels = folder.originals(0).map_err(|e| DataError::setting("images.dir", e))?.len();
        folder.channels = Some(channels);
        let folder = Arc::new(folder);
        let n = folder.paths.len();
        let idx = self.held_out.indices(n, seed);
        let split = |rows: Vec<usize>| {
            ImageSplit::new(FolderSplit { cache: ByteCache::new(rows.len(), cache), folder: folder.clone(), rows })
        };
        Ok(FolderSplits { channels, files: n, splits: [split(idx.train), split(idx.valid), split(idx.test)] })
    }

    /// The image files of the folder, sorted, and their format.
    fn list(&self) -> Result<(Vec<PathBuf>, Format), DataError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| DataError::Io {
            what: "image folder (data.images.dir)",
            path: self.dir.clone(),
            source,
        })?;
        let wanted = |p: &Path| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            self.pattern.as_deref().is_none_or(|pattern| name_matches(&name, pattern))
        };
        let mut paths: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| format_of(p).is_some() && wanted(p)).collect();
        paths.sort();
        let fits = paths.iter().filter(|p| format_of(p) == Some(Format::Fits)).count();
        if paths.is_empty() {
            return Err(DataError::setting(
                "images.dir",
                match &self.pattern {
                    None => format!(
                        "{} holds no FITS (.fits, .fit, .fts, .fz, .gz of those), .png, .jpg or .jpeg file",
                        self.dir.display()
                    ),
                    Some(p) => format!("{} holds no FITS or picture file whose name matches {p:?}", self.dir.display()),
                },
            ));
        }
        if fits != 0 && fits != paths.len() {
            return Err(DataError::setting(
                "images.dir",
                format!(
                    "{} mixes FITS files ({fits}) with pictures ({}): use one kind",
                    self.dir.display(),
                    paths.len() - fits
                ),
            ));
        }
        Ok((paths, if fits > 0 { Format::Fits } else { Format::Picture }))
    }
}

/// Whether a file name matches a pattern where `*` stands for any run of characters.
fn name_matches(name: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return name == pattern;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The same error with its field under `prefix`.
fn nested(e: DataError, prefix: &str) -> DataError {
    match e {
        DataError::Setting { field, problem } => DataError::Setting { field: format!("{prefix}{field}"), problem },
        other => other,
    }
}

fn format_of(path: &Path) -> Option<Format> {
    if is_fits_name(path) {
        Some(Format::Fits)
    } else if is_picture_name(path) {
        Some(Format::Picture)
    } else {
        None
    }
}

/// Original bands, degraded bands and each band's measured noise.
type Pair = (Vec<Image>, Vec<Image>, Vec<f64>);

/// The files and how to degrade them, shared by the splits.
#[derive(Debug)]
struct Folder {
    config: GalaxyImagesConfig,
    degrade: DegradeConfig,
    rl_iterations: usize,
    seed: u64,
    format: Format,
    paths: Vec<PathBuf>,
    /// Bands per file, from the first file (checked on every other).
    channels: Option<usize>,
}

/// The centred `size` square of `image` (`width x height`, row-major).
fn centre_crop(data: &[f64], width: usize, height: usize, size: usize) -> Result<Image, String> {
    if size > width || size > height {
        return Err(format!(
            "it is {width}x{height} pixels, smaller than the {size}-pixel centre cut (data.images.size)"
        ));
    }
    let (x0, y0) = ((width - size) / 2, (height - size) / 2);
    Ok(Image {
        width: size,
        height: size,
        data: (0..size * size).map(|k| data[(y0 + k / size) * width + x0 + k % size]).collect(),
    })
}

impl Folder {
    /// The bands of file `row`, cropped.
    fn originals(&self, row: usize) -> Result<Vec<Image>, String> {
        let path = &self.paths[row];
        let size = self.config.size;
        match self.format {
            Format::Fits => {
                let planes = self.config.plane.map_or(Planes::All, Planes::One);
                let image = read_fits_planes(path, None, planes).map_err(|e| e.to_string())?;
                if self.channels.is_some_and(|c| c != image.planes) {
                    return Err(format!(
                        "{}: {} plane(s), where the folder's first file has {} (use data.images.pattern to \
                         choose files of one kind, or data.images.plane)",
                        path.display(),
                        image.planes,
                        self.channels.unwrap_or(0)
                    ));
                }
                (0..image.planes)
                    .map(|k| {
                        let data: Vec<f64> =
                            image.plane(k).iter().map(|v| if v.is_finite() { *v } else { 0.0 }).collect();
                        centre_crop(&data, image.width, image.height, size)
                            .map_err(|e| format!("{}: {e}", path.display()))
                    })
                    .collect()
            }
            Format::Picture => {
                let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let picture = image::load_from_memory(&bytes)
                    .map_err(|e| format!("cannot decode image {}: {e}", path.display()))?
                    .to_rgb8();
                let (w, h) = (picture.width() as usize, picture.height() as usize);
                (0..3)
                    .map(|c| {
                        let data: Vec<f64> = picture.pixels().map(|p| f64::from(p.0[c]) / 255.0).collect();
                        centre_crop(&data, w, h, size).map_err(|e| format!("{}: {e}", path.display()))
                    })
                    .collect()
            }
        }
    }

    /// The display values of `bands` whose original noise is `sigmas`, channel-major in [0, 1].
    fn display(&self, bands: &[Image], sigmas: &[f64]) -> Vec<f32> {
        bands
            .iter()
            .zip(sigmas)
            .flat_map(|(band, &sigma)| {
                band.data.iter().map(move |&v| match self.format {
                    Format::Fits => galaxygan_stretch(v, WHITE_SIGMAS * sigma),
                    Format::Picture => v.clamp(0.0, 1.0) as f32,
                })
            })
            .collect()
    }

    /// Original bands, degraded bands and each band's measured noise.
    fn pair(&self, row: usize) -> Result<Pair, String> {
        let originals = self.originals(row)?;
        let sigmas: Vec<f64> = originals.iter().map(|b| noise_sigma(&b.data, f64::NAN)).collect();
        let mut rng = SampleRng::for_sample(self.seed, STREAM_DEGRADE, row as u64);
        let scale = self.config.pixel_scale_arcsec;
        let degraded =
            originals.iter().zip(&sigmas).map(|(b, &s)| self.degrade.degrade(b, s, scale, &mut rng)).collect();
        Ok((originals, degraded, sigmas))
    }

    fn id(&self, row: usize) -> String {
        let path = &self.paths[row];
        path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().to_string())
    }
}

/// The pairs of some of the folder's files.
#[derive(Debug)]
struct FolderSplit {
    folder: Arc<Folder>,
    rows: Vec<usize>,
    /// Degraded then original pixels of each pair.
    cache: ByteCache,
}

impl LabelledImages for FolderSplit {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let row = *self.rows.get(index).ok_or_else(|| {
            DatasetError::new(std::io::Error::other(format!("index {index} out of {} pairs", self.rows.len())))
        })?;
        let both = self.cache.get_or_make(index, || {
            let (original, degraded, sigmas) =
                self.folder.pair(row).map_err(|e| DatasetError::new(std::io::Error::other(e)))?;
            Ok::<_, DatasetError>(
                [self.folder.display(&degraded, &sigmas), self.folder.display(&original, &sigmas)].concat(),
            )
        })?;
        let half = both.len() / 2;
        let size = self.folder.config.size;
        let channels = half / (size * size);
        Ok(ImageItem {
            id: self.id(index),
            pixels: both[..half].to_vec(),
            shape: [channels, size, size],
            targets: both[half..].to_vec(),
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.item(index).map(|item| item.targets)
    }

    fn id(&self, index: usize) -> String {
        self.folder.id(self.rows[index])
    }

    fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        let (_, degraded, sigmas) = self.folder.pair(self.rows[index]).ok()?;
        let psf = self.folder.degrade.psf(self.folder.config.pixel_scale_arcsec);
        let restored: Vec<Image> =
            degraded.iter().map(|band| richardson_lucy(band, psf, self.folder.rl_iterations)).collect();
        Some(self.folder.display(&restored, &sigmas))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::fits::write_fits;
    use burn::data::dataset::Dataset;

    /// A `width x height` frame: a round Gaussian galaxy of `peak` on sky noise of `sigma`.
    fn galaxy(width: usize, height: usize, peak: f64, sigma: f64, seed: u64) -> Vec<f32> {
        let mut rng = SampleRng::for_sample(seed, 1, 0);
        let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
        (0..width * height)
            .map(|k| {
                let (x, y) = ((k % width) as f64 - cx, (k / width) as f64 - cy);
                (peak * (-(x * x + y * y) / 8.0).exp() + sigma * rng.normal()) as f32
            })
            .collect()
    }

    fn config(dir: &Path, extra: &str) -> GalaxyImagesConfig {
        let size = if extra.contains("size") { "" } else { "size = 32\n" };
        toml::from_str(&format!("dir = {:?}\n{size}valid_fraction = 0.2\ntest_fraction = 0.2\n{extra}", dir.display()))
            .unwrap()
    }

    #[test]
    fn fits_frames_become_stretched_pairs_with_a_deconvolved_baseline() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..10 {
            write_fits(&dir.path().join(format!("g{i}.fits")), 40, 36, &galaxy(40, 36, 50.0, 2.0, i)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        let opened = config(dir.path(), "").open(DegradeConfig::default(), 20, 3, false).unwrap();
        assert_eq!((opened.channels, opened.files), (1, 10));
        let [train, valid, test] = &opened.splits;
        assert_eq!((train.len(), valid.len(), test.len()), (6, 2, 2));
        let item = test.get(0).unwrap();
        assert_eq!(item.shape, [1, 32, 32]);
        // The original is the file's centre 32 x 32 (offsets 4, 2), stretched by its noise,
        // which the median absolute deviation measures near the true 2.
        let id: u64 = item.id.trim_start_matches('g').parse().unwrap();
        let frame = galaxy(40, 36, 50.0, 2.0, id);
        let crop: Vec<f64> = (0..32 * 32).map(|k| f64::from(frame[(2 + k / 32) * 40 + 4 + k % 32])).collect();
        let sigma = noise_sigma(&crop, f64::NAN);
        assert!((1.6..2.5).contains(&sigma), "{sigma}");
        let expected: Vec<f32> = crop.iter().map(|&v| galaxygan_stretch(v, WHITE_SIGMAS * sigma)).collect();
        assert_eq!(item.targets, expected);
        // Blurred: the degraded peak is lower; the baseline is an image of the same size.
        let peak = |v: &[f32]| v.iter().cloned().fold(0.0f32, f32::max);
        assert!(peak(&item.pixels) < peak(&item.targets));
        assert_eq!(test.baseline(0).unwrap().len(), 32 * 32);
    }

    #[test]
    fn pictures_give_rgb_pairs_and_bad_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5u8 {
            image::RgbImage::from_fn(48, 48, |x, y| image::Rgb([((x + y) as u8).wrapping_mul(2), 40 + i, 90]))
                .save(dir.path().join(format!("{i}.png")))
                .unwrap();
        }
        let opened = config(dir.path(), "").open(DegradeConfig::default(), 5, 1, true).unwrap();
        assert_eq!(opened.channels, 3);
        let item = opened.splits[0].get(0).unwrap();
        assert_eq!(item.shape, [3, 32, 32]);
        // The blue band is 90 everywhere: its original is 90/255 exactly.
        assert!(item.targets[2 * 1024..].iter().all(|&v| (v - 90.0 / 255.0).abs() < 1e-6));
        // A file that no longer decodes: its targets are an error naming it, not an empty list.
        std::fs::write(dir.path().join("3.png"), b"not a png any more").unwrap();
        let failures: Vec<String> = opened
            .splits
            .iter()
            .flat_map(|split| (0..split.len()).filter_map(|i| split.targets(i).err()))
            .map(|e| e.to_string())
            .collect();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("3.png"), "{failures:?}");
        let split = opened.splits.iter().find(|s| s.every_target().is_err()).unwrap();
        assert!(split.every_target().unwrap_err().starts_with("item 3: cannot read its targets: "));
        image::RgbImage::from_fn(48, 48, |x, y| image::Rgb([((x + y) as u8).wrapping_mul(2), 43, 90]))
            .save(dir.path().join("3.png"))
            .unwrap();

        let err = |text: &str, dir: &Path| {
            config(dir, text)
                .open(DegradeConfig::default(), 5, 1, false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e = err("size = 64", dir.path());
        assert!(e.contains("0.png: it is 48x48 pixels, smaller than the 64-pixel centre cut"), "{e}");
        write_fits(&dir.path().join("x.fits"), 40, 40, &galaxy(40, 40, 1.0, 1.0, 0)).unwrap();
        let e = err("", dir.path());
        assert!(e.contains("mixes FITS files (1) with pictures (5)"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = err("", empty.path());
        assert!(e.starts_with("data.images.dir: ") && e.contains("holds no FITS"), "{e}");
        let e = err("", &empty.path().join("missing"));
        assert!(e.contains("image folder (data.images.dir)"), "{e}");
        let e = err("pixel_scale_arcsec = 0", dir.path());
        assert!(e.starts_with("data.images.pixel_scale_arcsec: must be positive"), "{e}");
        let e = err("pattern = \"*.jpg\"", dir.path());
        assert!(e.contains("no FITS or picture file whose name matches \"*.jpg\""), "{e}");
    }

    #[test]
    fn cube_planes_are_bands_or_one_is_chosen() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::copy(fixtures.join("rice_cube.fits.fz"), dir.path().join(format!("Cut_{i}.fits.fz"))).unwrap();
        }
        write_fits(&dir.path().join("PSF.fits"), 20, 24, &galaxy(20, 24, 1.0, 0.1, 0)).unwrap();
        let open = |extra: &str| {
            config(dir.path(), &format!("size = 16\n{extra}")).open(DegradeConfig::default(), 0, 1, false)
        };
        let all = open("pattern = \"Cut_*.fz\"").unwrap();
        assert_eq!((all.channels, all.files), (3, 5));
        let item = all.splits[0].get(0).unwrap();
        assert_eq!(item.shape, [3, 16, 16]);
        let one = open("pattern = \"Cut_*\"\nplane = 2").unwrap();
        assert_eq!(one.channels, 1);
        let second = one.splits[0].get(0).unwrap();
        assert_eq!(second.shape, [1, 16, 16]);
        // Without the pattern the 2-D PSF file joins the cubes: named, with what to do.
        let mixed = open("").unwrap();
        let failures: Vec<String> = mixed
            .splits
            .iter()
            .flat_map(|split| (0..split.len()).filter_map(|i| split.targets(i).err()))
            .map(|e| e.to_string())
            .collect();
        assert!(failures.len() == 1 && failures[0].contains("PSF.fits: 1 plane(s)"), "{failures:?}");
        assert!(failures[0].contains("data.images.pattern"), "{failures:?}");
        assert!(
            !name_matches("Cut_1.fits", "Cut_*.fz") && name_matches("a_b_c", "a*b*c") && !name_matches("ab", "a*b*b")
        );
    }
}
