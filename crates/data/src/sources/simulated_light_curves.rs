//! Simulated variable-star light curves (crate `sim`'s [`VariableStarSimConfig`]) as a data set
//! of sequences. Star `i` is simulated on demand from `(seed, first + i)` (62 us per curve),
//! folded by its period, and encoded by `[data.sequence]`; the encoded curve is kept in memory
//! unless `cache = false` (the same star each epoch: with the fused LSTM the training step ran
//! faster than the simulator could feed it beside the training threads).
//!
//! Labels (`labels`):
//! - `rrab`: two classes, `other` (0) and `RRab` (1): Dekany & Grebel's RRab-against-the-rest task;
//! - `classes`: the five simulated kinds (RRab, RRc, detached and contact binaries, constant);
//! - `feh`: regression of the RRab's [Fe/H] (the simulator must make only RRab).
//!
//! `[data.simulator] bands = [...]` observes each star in several bands, stacked as channels
//! ([`crate::sequence`]); each band after the first adds its colour and amplitude ratio against
//! the first to the item properties.
//!
//! Folding uses the true period, as a catalogue's period would be; a constant star has none, so
//! it is folded by a period drawn uniformly from 0.2-1 d, as a periodogram of pure noise would
//! pick some peak. Each item records its S/N, that period, its true amplitude and mean magnitude
//! (and [Fe/H]) for binned metrics and `[features]`.

use astro_sim::SampleRng;
use astro_sim::light_curve::LightCurve;
use astro_sim::variable_star::{STAR_CLASSES, SimulatedStar, StarClass, StarParams, VariableStarSimConfig};
use burn::data::dataset::DatasetError;
use serde::{Deserialize, Serialize};

use crate::cache::FloatCache;
use crate::opened::{DataInfo, OpenedData};
use crate::sources::shared::SimulatedSplits;
use crate::sources::Source;
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::formats::light_curve_files::{Fold, LightCurveFolder};
use crate::item::{ImageItem, Layout};
use crate::sequence::{SequenceConfig, band_statistics, curve_statistics};
use crate::split::{ImageSplit, LabelledImages};
use crate::task::Task;

const STREAM_NOISE_PERIOD: u64 = 22;

/// What a simulated star is labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StarLabels {
    /// `other` / `RRab`.
    #[default]
    Rrab,
    /// The five simulated kinds.
    Classes,
    /// [Fe/H] of RRab stars (regression).
    Feh,
}

/// `[data]` with `source = "simulated_light_curves"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedLightCurvesConfig {
    /// Items in each split (`train`, `valid`, `test`), consecutive index ranges.
    #[serde(flatten)]
    pub splits: SimulatedSplits,
    /// What the stars are labelled with.
    #[serde(default)]
    pub labels: StarLabels,
    /// Model inputs (`[data.sequence]`).
    #[serde(default)]
    pub sequence: SequenceConfig,
    /// Keep each encoded curve in memory (4 bytes a value, exact: 2.3 KB for 64 steps of three
    /// channels) so that later epochs do not run the simulator again.
    #[serde(default = "crate::cache::on_by_default")]
    pub cache: bool,
    /// Simulator settings (`[data.simulator]`).
    #[serde(default)]
    pub simulator: VariableStarSimConfig,
}

impl StarLabels {
    fn names(self) -> Vec<String> {
        match self {
            StarLabels::Rrab => vec!["other".into(), "RRab".into()],
            StarLabels::Classes => STAR_CLASSES.iter().map(|s| s.to_string()).collect(),
            StarLabels::Feh => vec!["feh".into()],
        }
    }

    fn target(self, params: &StarParams) -> f32 {
        match self {
            StarLabels::Rrab => f32::from(u8::from(params.class == StarClass::Rrab)),
            StarLabels::Classes => STAR_CLASSES.iter().position(|c| *c == class_name(params.class)).unwrap_or(0) as f32,
            StarLabels::Feh => params.feh.unwrap_or(f64::NAN) as f32,
        }
    }
}

fn class_name(class: StarClass) -> &'static str {
    match class {
        StarClass::Rrab => STAR_CLASSES[0],
        StarClass::Rrc => STAR_CLASSES[1],
        StarClass::Detached => STAR_CLASSES[2],
        StarClass::Contact => STAR_CLASSES[3],
        StarClass::Constant => STAR_CLASSES[4],
    }
}

impl SimulatedLightCurvesConfig {
    /// The star and the curve the model sees (folded when the inputs are phases).
    pub fn star(&self, seed: u64, index: u64) -> (SimulatedStar, LightCurve) {
        let (star, mut curves) = self.star_in_bands(seed, index);
        (star, curves.swap_remove(0))
    }

    /// The star and its curve in every band, as the model sees them (folded when the inputs
    /// are phases).
    pub fn star_in_bands(&self, seed: u64, index: u64) -> (SimulatedStar, Vec<LightCurve>) {
        let star = self.simulator.simulate(seed, index);
        let mut curves: Vec<LightCurve> = std::iter::once(&star.curve).chain(&star.more_bands).cloned().collect();
        if self.sequence.inputs.folded() {
            let period = self.folding_period(seed, index, &star.params);
            for curve in &mut curves {
                curve.time.iter_mut().for_each(|t| *t = (*t / period).rem_euclid(1.0));
            }
        }
        (star, curves)
    }

    /// The shape of an item: the sequence's channels for every band.
    fn shape(&self) -> [usize; 3] {
        self.sequence.shape_for(self.simulator.bands.len())
    }

    fn folding_period(&self, seed: u64, index: u64, params: &StarParams) -> f64 {
        if params.period > 0.0 {
            params.period
        } else {
            SampleRng::for_sample(seed, STREAM_NOISE_PERIOD, index).uniform_in(0.2, 1.0)
        }
    }
}

impl SimulatedLightCurvesConfig {
    /// Writes stars `0..count` in the published list-and-files format: `list.txt` (`# id class
    /// period feh snr`, [Fe/H] `nan` for non-RRab, constant stars with the noise period they are
    /// folded by) and one `<id>.dat` per star with unfolded `time mag err` lines; with several
    /// bands, one `<id>_<band>.dat` per star and band. For other tools, and to test the folder
    /// reader on real files.
    pub fn write_list_and_files(&self, seed: u64, count: usize, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut list = String::from("# id class period feh snr\n");
        for i in 0..count as u64 {
            let star = self.simulator.simulate(seed, i);
            let p = &star.params;
            let id = format!("star-{i}");
            let feh = p.feh.map_or("nan".to_string(), |f| format!("{f:.3}"));
            let period = self.folding_period(seed, i, p);
            list.push_str(&format!("{id} {} {period:.7} {feh} {:.2}\n", class_name(p.class), star.snr));
            let curves = std::iter::once(&star.curve).chain(&star.more_bands);
            for (c, band) in curves.zip(&self.simulator.bands) {
                let lines: String =
                    (0..c.time.len()).map(|k| format!("{:.5} {:.4} {:.4}\n", c.time[k], c.mag[k], c.err[k])).collect();
                let name = if self.simulator.bands.len() == 1 { format!("{id}.dat") } else { format!("{id}_{band}.dat") };
                std::fs::write(dir.join(name), lines)?;
            }
        }
        std::fs::write(dir.join("list.txt"), list)
    }
}

impl SimulatedLightCurvesConfig {
    /// How the files [`Self::write_list_and_files`] writes are read back as this config's
    /// model inputs: `<id>.dat` (`<id>_<band>.dat` with several bands) beside the list, folded
    /// by the list's `period` where the model reads phases, encoded by `[data.sequence]`.
    pub fn written_files_reading(&self) -> LightCurveFolder {
        use serde::de::IntoDeserializer;
        let list = std::collections::BTreeMap::from([("list", "list.txt")]);
        let mut reading = LightCurveFolder::deserialize(list.into_deserializer())
            .unwrap_or_else(|e: serde::de::value::Error| unreachable!("a list alone is a complete setting: {e}"));
        let several = self.simulator.bands.len() > 1;
        reading.suffix = if several { "_{band}.dat".into() } else { ".dat".into() };
        reading.bands = if several { self.simulator.bands.clone() } else { Vec::new() };
        reading.fold = if self.sequence.inputs.folded() { Fold::ListPeriod } else { Fold::No };
        reading.sequence = self.sequence.clone();
        reading
    }
}

/// A contiguous range of simulated stars.
#[derive(Debug, Clone)]
pub struct SimulatedLightCurves {
    config: SimulatedLightCurvesConfig,
    seed: u64,
    first: u64,
    len: usize,
    cache: FloatCache,
}

impl LabelledImages for SimulatedLightCurves {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.len {
            return Err(DatasetError::new(std::io::Error::other(format!("index {index} out of {} stars", self.len))));
        }
        let i = self.first + index as u64;
        let pixels = self.cache.get_or_make(index, || {
            let (star, curves) = self.config.star_in_bands(self.seed, i);
            let period = self.config.folding_period(self.seed, i, &star.params);
            Ok::<_, DatasetError>(self.config.sequence.encode_bands(&curves, period))
        })?;
        Ok(ImageItem {
            id: self.id(index),
            pixels,
            shape: self.config.shape(),
            targets: self.targets(index)?,
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.len
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![self.config.labels.target(&self.config.simulator.sample_params(self.seed, self.first + index as u64))])
    }

    fn id(&self, index: usize) -> String {
        format!("star-{}", self.first + index as u64)
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        // The S/N and the curve statistics need the observed epochs, so the star is simulated.
        let (star, curves) = self.config.star_in_bands(self.seed, self.first + index as u64);
        let p = &star.params;
        let mut out = vec![
            ("snr".to_string(), star.snr),
            // The period the star is folded by, as a catalogue or a periodogram would give one:
            // a constant star's is the noise period, not a telltale 0.
            ("period".to_string(), self.config.folding_period(self.seed, self.first + index as u64, p)),
            // The true amplitude (0 for a constant star: as a feature it gives the class away;
            // `curve_amplitude` is the observed one).
            ("amplitude".to_string(), p.amplitude),
            ("mean_mag".to_string(), p.mean_mag),
            ("points".to_string(), star.curve.time.len() as f64),
        ];
        out.extend(p.feh.map(|f| ("feh".to_string(), f)));
        out.extend(curve_statistics(&curves[0], self.config.sequence.inputs.folded()));
        out.extend(band_statistics(&curves, &self.config.simulator.bands));
        out
    }
}

impl Source for SimulatedLightCurvesConfig {
    fn kind(&self) -> &'static str {
        "simulated variable-star light curves (built in)"
    }

    /// Checks the settings and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        self.simulator.validate()?;
        self.sequence.validate()?;
        self.splits.check()?;
        if self.labels == StarLabels::Feh && self.simulator.class_fractions[0] < 1.0 {
            return Err(DataError::setting(
                "labels",
                "\"feh\" regresses RRab metallicities: set simulator.class_fractions = [1.0, 0.0, 0.0, 0.0]",
            ));
        }
        let split = |first: usize, len: usize| {
            let cache = FloatCache::new(len, self.cache);
            ImageSplit::new(SimulatedLightCurves { config: self.clone(), seed, first: first as u64, len, cache })
        };
        let [channels, _, length] = self.shape();
        let task = if self.labels == StarLabels::Feh { Task::Regression } else { Task::Classification };
        Ok(self.splits.open(
            DataInfo {
            input: self.shape(),
            layout: Layout::Sequence,
            warnings: Vec::new(),
            task,
            target_names: self.labels.names(),
            description: format!(
                "simulated light curves (labels {}), {} to {} epochs in {} as {length} steps of {}: {}",
                self.labels.names().join("/"),
                self.simulator.cadence.points[0],
                self.simulator.cadence.points[1],
                self.simulator.bands.join(", "),
                self.sequence.inputs.name(),
                self.splits.counts()
            ),
            preprocess: Preprocess { crop: None, size: length as u32, channels: channels as u32, restretch: None },
            bands: if self.simulator.bands.len() > 1 { self.simulator.bands.clone() } else { Vec::new() },
            fits: None,
            },
            split,
        ))
    }

    fn shrink_for_smoke(&mut self) {
        self.splits.shrink(64, 16, 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::Dataset;

    fn config(text: &str) -> SimulatedLightCurvesConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn items_are_masked_folded_sequences_with_their_labels() {
        let c = config("train = 30\nvalid = 5\ntest = 5\n[sequence]\nlength = 300\n");
        let data = c.open(4).unwrap();
        assert_eq!(data.info.input, [3, 1, 300]);
        assert_eq!(data.info.layout, Layout::Sequence);
        assert_eq!(data.info.target_names, ["other", "RRab"]);
        let mut rrab = 0;
        for i in 0..30 {
            let item = data.train.get(i).unwrap();
            assert_eq!(item.targets, data.train.targets(i).unwrap());
            let (star, _) = c.star(4, i as u64);
            rrab += usize::from(star.params.class == StarClass::Rrab);
            assert_eq!(item.targets[0] == 1.0, star.params.class == StarClass::Rrab);
            // Real steps are the star's points, phases in [0, 1) and increasing; the rest masked.
            let n = star.curve.time.len();
            let mask = &item.pixels[600..900];
            assert_eq!(mask.iter().filter(|m| **m == 1.0).count(), n);
            assert!(mask[..n].iter().all(|m| *m == 1.0));
            let phase = &item.pixels[..n];
            assert!(phase.windows(2).all(|w| w[0] <= w[1]) && phase.iter().all(|p| (0.0..1.0).contains(p)));
        }
        assert!((4..=16).contains(&rrab), "{rrab} RRab of 30 at a 30% share");
        assert_eq!(data.test.id(0), "star-35");
        let attributes = data.train.attributes(0);
        assert_eq!(attributes[0].0, "snr");
    }

    #[test]
    fn cached_curves_are_the_simulated_ones_on_every_read() {
        let cached = config("train = 6\nvalid = 1\ntest = 1\n");
        assert!(cached.cache, "on by default");
        let fresh = config("train = 6\nvalid = 1\ntest = 1\ncache = false\n");
        let (cached, fresh) = (cached.open(5).unwrap(), fresh.open(5).unwrap());
        for index in 0..6 {
            let first = cached.train.get(index).unwrap();
            for item in [cached.train.get(index).unwrap(), fresh.train.get(index).unwrap()] {
                assert_eq!(item, first, "star {index}");
            }
        }
        assert!(cached.train.get(6).is_err() && fresh.train.get(6).is_err(), "past the end");
    }

    #[test]
    fn gaias_three_bands_make_ten_channels_and_colour_properties() {
        let c = config("train = 6\nvalid = 1\ntest = 1\n[sequence]\nlength = 50\nresample = true\n[simulator]\nbands = [\"G\", \"BP\", \"RP\"]\n");
        let data = c.open(3).unwrap();
        assert_eq!(data.info.input, [10, 1, 50]);
        assert!(data.info.description.contains("in G, BP, RP"), "{}", data.info.description);
        let item = data.train.get(2).unwrap();
        let (star, curves) = c.star_in_bands(3, 2);
        assert_eq!(item.pixels, c.sequence.encode_bands(&curves, c.folding_period(3, 2, &star.params)));
        assert_eq!(curves.len(), 3);
        let properties = data.train.attributes(2);
        let colour = properties.iter().find(|(k, _)| k == "curve_BP_minus_RP").map(|(_, v)| *v);
        assert!(colour.is_none(), "colours are against the first band");
        let g_rp = properties.iter().find(|(k, _)| k == "curve_G_minus_RP").unwrap().1;
        // G - RP = (slope_G - slope_RP) (V-I) = 0.85 (V-I), within the noise and the shape's mean.
        assert!((g_rp - 0.85 * star.params.colour).abs() < 0.3, "{g_rp} vs {}", star.params.colour);
        let dir = tempfile::tempdir().unwrap();
        c.write_list_and_files(3, 2, dir.path()).unwrap();
        for name in ["star-1_G.dat", "star-1_BP.dat", "star-1_RP.dat", "list.txt"] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        let bad = config("[simulator]\nbands = [\"G\", \"K\"]\n");
        assert!(bad.open(0).unwrap_err().to_string().contains("unknown band \"K\""));
    }

    #[test]
    fn feh_labels_need_an_rrab_only_simulator() {
        let err = config("labels = \"feh\"\n").open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.labels:") && err.contains("class_fractions"), "{err}");
        let c = config(
            "labels = \"feh\"\ntrain = 4\nvalid = 1\ntest = 1\n[simulator]\nclass_fractions = [1.0, 0.0, 0.0, 0.0]\n",
        );
        let data = c.open(0).unwrap();
        assert_eq!(data.info.task, Task::Regression);
        let feh = data.train.targets(2).unwrap()[0];
        assert!((-2.5..=0.0).contains(&feh), "{feh}");
        assert!(data.train.attributes(2).iter().any(|(k, v)| k == "feh" && (*v as f32 - feh).abs() < 1e-6));
    }

    #[test]
    fn five_classes_cover_every_kind() {
        let c = config("labels = \"classes\"\ntrain = 200\nvalid = 1\ntest = 1\n");
        let data = c.open(2).unwrap();
        let mut seen = [0usize; 5];
        for i in 0..200 {
            seen[data.train.targets(i).unwrap()[0] as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 10), "{seen:?}");
    }
}
