//! `[data] source = "light_curve_folder"`: light curves in the published list-and-files format
//! ([`crate::formats::light_curve_files`]) as a data set of sequences. The label comes from a named list
//! column (a class name, or a value to regress); the other numeric list columns become item
//! properties that metrics are binned by (an `snr` column gives the per-S/N scores).
//!
//! Every star is read and encoded once when the data is opened (light-curve files are small).
//! Skipped stars are reported in [`DataInfo::warnings`] with their file and line.

use std::collections::BTreeSet;
use std::sync::Arc;

use burn::data::dataset::DatasetError;

use crate::opened::{DataInfo, OpenedData};
use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::item::{ImageItem, Layout};
pub use crate::formats::light_curve_files::LightCurveFolder;
use crate::formats::light_curve_files::{OnBadStar, Star};
use crate::split::{ImageSplit, LabelledImages};
use crate::sources::Source;
use crate::sources::shared::limit_to;
use crate::sequence::{band_statistics, curve_statistics};
use crate::task::Task;

/// One usable star, encoded.
#[derive(Debug)]
struct EncodedStar {
    id: String,
    pixels: Vec<f32>,
    target: f32,
    attributes: Vec<(String, f64)>,
    /// The list's columns that are not numbers (for messages about them).
    texts: Vec<(String, String)>,
}

impl LightCurveFolder {
    fn class_names(&self, stars: &[Star], label: &str) -> Vec<String> {
        self.classes.clone().unwrap_or_else(|| {
            let names: BTreeSet<&String> = stars.iter().map(|s| &s.row[label]).collect();
            names.into_iter().cloned().collect()
        })
    }

    fn target(&self, star: &Star, label: &str, names: &[String]) -> Result<f32, String> {
        let text = &star.row[label];
        match self.task {
            Task::Classification => names
                .iter()
                .position(|n| n == text)
                .or_else(|| names.iter().position(|n| Some(n) == self.other_class.as_ref()))
                .map(|c| c as f32)
                .ok_or_else(|| format!("class {text:?} is not one of classes = {names:?}")),
            Task::Regression | Task::Reconstruction => text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v as f32)
                .ok_or_else(|| format!("{label} = {text:?} is not a number")),
        }
    }
}

/// A star's model input and its numeric properties.
pub type EncodedCurves = (Vec<f32>, Vec<(String, f64)>);

impl LightCurveFolder {
    /// The model's input for `star` (its bands encoded by `[data.sequence]`) and its properties:
    /// the list's numeric columns other than `label`, the first band's curve statistics and the
    /// bands' colours. Fails when the input needs the star's period and the list gives none.
    pub fn encode_star(&self, star: &Star, label: &str) -> Result<EncodedCurves, String> {
        let period = match star.row.get("period").map(|p| p.parse::<f64>()) {
            Some(Ok(p)) if p > 0.0 && p.is_finite() => p,
            _ if !self.sequence.phase_times_period => 1.0,
            other => {
                let text = star.row.get("period").cloned().unwrap_or_default();
                let missing = if other.is_none() { " (missing)" } else { "" };
                return Err(format!("period {text:?} is not a positive number{missing}"));
            }
        };
        let attributes = [
            numeric_columns(star, label),
            curve_statistics(&star.curves[0], self.sequence.inputs.folded()),
            band_statistics(&star.curves, &self.bands),
        ]
        .concat();
        Ok((self.sequence.encode_bands(&star.curves, period), attributes))
    }
}

/// The list's numeric columns other than the label, as item properties.
fn numeric_columns(star: &Star, label: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = star
        .row
        .iter()
        .filter(|(k, _)| k.as_str() != label && k.as_str() != "id")
        .filter_map(|(k, v)| Some((k.clone(), v.parse::<f64>().ok().filter(|v| v.is_finite())?)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The list's columns whose values are not finite numbers.
pub fn text_columns(star: &Star) -> Vec<(String, String)> {
    let number = |v: &String| v.parse::<f64>().is_ok_and(f64::is_finite);
    star.row.iter().filter(|(_, v)| !number(v)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Some rows of the encoded stars.
#[derive(Debug)]
struct StarRows {
    stars: Arc<Vec<EncodedStar>>,
    rows: Vec<usize>,
    shape: [usize; 3],
}

impl LabelledImages for StarRows {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let star = &self.stars[self.rows[index]];
        Ok(ImageItem {
            id: star.id.clone(),
            pixels: star.pixels.clone(),
            shape: self.shape,
            targets: vec![star.target],
            features: Vec::new(),
        })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        Ok(vec![self.stars[self.rows[index]].target])
    }

    fn id(&self, index: usize) -> String {
        self.stars[self.rows[index]].id.clone()
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.stars[self.rows[index]].attributes.clone()
    }

    fn text_property(&self, index: usize, name: &str) -> Option<String> {
        let texts = &self.stars[self.rows[index]].texts;
        texts.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

impl Source for LightCurveFolder {
    fn kind(&self) -> &'static str {
        "light-curve list and per-star files"
    }

    /// Reads every star, checks labels, encodes the curves and returns the three splits.
    fn open(&self, seed: u64) -> Result<OpenedData, DataError> {
        if self.task == Task::Reconstruction {
            return Err(DataError::setting(
                "task",
                "must be \"classification\" or \"regression\" for a light-curve list",
            ));
        }
        self.sequence.validate()?;
        self.held_out.check()?;
        let label = self
            .label
            .as_deref()
            .ok_or_else(|| DataError::setting("label", "name the list column that holds each star's class or value"))?;
        let (stars, skipped) = self.load()?;
        if let Some(star) = stars.first().filter(|s| !s.row.contains_key(label)) {
            let mut names: Vec<&String> = star.row.keys().collect();
            names.sort();
            return Err(DataError::setting(
                "label",
                format!("{}: the list has no column `{label}` (it has {names:?})", self.list.display()),
            ));
        }
        let target_names = match self.task {
            Task::Classification => self.class_names(&stars, label),
            Task::Regression | Task::Reconstruction => vec![label.to_string()],
        };
        if let Some(other) = self.other_class.as_ref().filter(|o| !target_names.contains(o)) {
            return Err(DataError::setting(
                "other_class",
                format!("{other:?} is not one of the classes {target_names:?}: list it in `classes`"),
            ));
        }
        let mut encoded = Vec::with_capacity(stars.len());
        let mut warnings: Vec<String> =
            skipped.iter().map(|s| format!("skipped star {}: {}", s.id, s.reason)).collect();
        // A star whose label or period cannot be used is skipped and listed, or refused.
        let mut bad_star = |id: &str, reason: String| -> Result<(), DataError> {
            if self.on_bad_star == OnBadStar::Refuse {
                return Err(DataError::setting(
                    "on_bad_star",
                    format!("star {id}: {reason} (set on_bad_star = \"skip\" to leave such stars out)"),
                ));
            }
            warnings.push(format!("skipped star {id}: {reason}"));
            Ok(())
        };
        if self.sequence.phase_times_period && stars.first().is_some_and(|s| !s.row.contains_key("period")) {
            return Err(DataError::setting(
                "sequence.phase_times_period",
                format!("needs a `period` column in {}", self.list.display()),
            ));
        }
        for star in &stars {
            match self.encode_star(star, label).and_then(|e| Ok((e, self.target(star, label, &target_names)?))) {
                Ok(((pixels, attributes), target)) => encoded.push(EncodedStar {
                    id: star.id.clone(),
                    pixels,
                    target,
                    attributes,
                    texts: text_columns(star),
                }),
                Err(reason) => bad_star(&star.id, reason)?,
            }
        }
        if encoded.len() < 3 {
            return Err(DataError::setting(
                "list",
                format!(
                    "{}: only {} usable stars; {}",
                    self.list.display(),
                    encoded.len(),
                    warnings.first().map_or("the list is empty".to_string(), Clone::clone)
                ),
            ));
        }
        let split = match self.task {
            Task::Classification => {
                let labels: Vec<usize> = encoded.iter().map(|s| s.target as usize).collect();
                self.held_out.stratified_indices(&labels, seed)
            }
            Task::Regression | Task::Reconstruction => self.held_out.indices(encoded.len(), seed),
        };
        let all = Arc::new(encoded);
        let shape = self.sequence.shape_for(self.bands.len());
        let description = format!(
            "light curves from {} ({} stars{}{}, label `{label}`) as {} steps of {}: {}",
            self.list.display(),
            all.len(),
            if self.bands.is_empty() { String::new() } else { format!(" in {}", self.bands.join(", ")) },
            if warnings.is_empty() { String::new() } else { format!(", {} skipped", warnings.len()) },
            self.sequence.length,
            self.sequence.inputs.name(),
            split.counts()
        );
        let [channels, _, length] = shape;
        let info = DataInfo {
            input: shape,
            layout: Layout::Sequence,
            warnings,
            task: self.task,
            target_names,
            description,
            preprocess: Preprocess { crop: None, size: length as u32, channels: channels as u32, restretch: None },
            bands: if self.bands.len() > 1 { self.bands.clone() } else { Vec::new() },
            fits: None,
        };
        Ok(OpenedData::from_rows(info, split, |rows| ImageSplit::new(StarRows { stars: all.clone(), rows, shape })))
    }

    fn shrink_for_smoke(&mut self) {
        limit_to(&mut self.limit, 80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::simulated_light_curves::SimulatedLightCurvesConfig;
    use burn::data::dataset::Dataset;

    fn written(count: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sim: SimulatedLightCurvesConfig = toml::from_str("").unwrap();
        sim.write_list_and_files(7, count, dir.path()).unwrap();
        dir
    }

    fn config(dir: &std::path::Path, extra: &str) -> LightCurveFolder {
        toml::from_str(&format!(
            "list = \"{}\"\nsuffix = \".dat\"\nfold = true\n{extra}",
            dir.join("list.txt").display()
        ))
        .unwrap()
    }

    #[test]
    fn a_list_without_periods_is_folded_by_each_curves_periodogram() {
        use crate::formats::light_curve_files::Fold;
        let dir = written(120);
        // The list's own periods, to compare with; the loader is not told them.
        let listed = config(dir.path(), "label = \"class\"\n").load().unwrap().0;
        let search = LightCurveFolder { fold: Fold::Periodogram, ..config(dir.path(), "label = \"class\"\n") };
        let (stars, skipped) = search.load().unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let (mut rr, mut found) = (0, 0);
        for (star, truth) in stars.iter().zip(&listed) {
            assert_eq!(star.id, truth.id);
            // The list's period is kept beside the one found.
            assert_eq!(star.row["list_period"], truth.row["period"]);
            assert!(star.row["period_fap_log10"].parse::<f64>().unwrap() <= 0.0);
            assert!(star.curves[0].time.iter().all(|p| (0.0..1.0).contains(p)), "folded: phases in [0, 1)");
            if truth.row["class"].starts_with("RR") {
                rr += 1;
                let (p, t): (f64, f64) = (star.row["period"].parse().unwrap(), truth.row["period"].parse().unwrap());
                found += usize::from((p / t - 1.0).abs() < 1e-3);
            }
        }
        assert!(rr > 30 && found as f64 >= 0.95 * rr as f64, "{found} of {rr} RR Lyrae periods within 0.1%");
        // A second load takes the periods from the cache: one altered there is the one used.
        let again = LightCurveFolder { fold: Fold::Periodogram, ..config(dir.path(), "label = \"class\"\n") };
        let cache = crate::formats::period_cache::PeriodCache::open(&again.period_cache_key());
        if let Some(path) = cache.path() {
            let text = std::fs::read_to_string(path).unwrap();
            let row = text.lines().find(|l| l.starts_with("star-0\t")).expect("star-0 is cached");
            let mut fields: Vec<&str> = row.split('\t').collect();
            fields[2] = "0.4321";
            std::fs::write(path, text.replace(row, &fields.join("\t"))).unwrap();
            let (cached, _) = again.load().unwrap();
            assert_eq!(cached[0].row["period"], "0.4321");
        }
        // The found period is an item property, for evaluation bins and [features].
        let data = LightCurveFolder { fold: Fold::Periodogram, ..config(dir.path(), "label = \"class\"\n") }.open(1).unwrap();
        let names: Vec<String> = data.test.attributes(0).into_iter().map(|(k, _)| k).collect();
        for name in ["period", "period_power", "period_fap_log10", "list_period"] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }

    #[test]
    fn stars_in_several_bands_stack_as_channels_and_a_missing_band_file_skips_the_star() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim: SimulatedLightCurvesConfig = toml::from_str("").unwrap();
        sim.simulator.bands = vec!["V".into(), "I".into()];
        sim.write_list_and_files(7, 60, dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("star-3_I.dat")).unwrap();
        let bands = "label = \"class\"\nbands = [\"V\", \"I\"]\n";
        let two = LightCurveFolder { suffix: "_{band}.dat".into(), ..config(dir.path(), bands) };
        let data = two.open(1).unwrap();
        assert_eq!(data.info.input, [7, 1, 200], "(phase, mag, mask) per band and the step mask");
        assert_eq!(data.info.warnings.len(), 1, "{:?}", data.info.warnings);
        let warning = &data.info.warnings[0];
        assert!(warning.starts_with("skipped star star-3:") && warning.contains("star-3_I.dat"), "{warning}");
        for k in 0..data.test.len() {
            let item = data.test.get(k).unwrap();
            let i: u64 = item.id.trim_start_matches("star-").parse().unwrap();
            let star = sim.simulator.simulate(7, i);
            let count = |from: usize| item.pixels[from..from + 200].iter().filter(|m| **m == 1.0).count();
            // Curves longer than the 200 steps are thinned to 200.
            let (v, i_band) = (star.curve.time.len().min(200), star.more_bands[0].time.len().min(200));
            assert_eq!((count(400), count(1000), count(1200)), (v, i_band, v.max(i_band)), "masks of {}", item.id);
            // The I magnitudes sit below the V ones by the colour (both centred on V's mean).
            let mean = |from: usize, n: usize| item.pixels[from..from + n].iter().map(|&m| f64::from(m)).sum::<f64>() / n as f64;
            let colour = mean(200, v) - mean(800, i_band);
            assert!((colour - star.params.colour).abs() < 0.5, "{colour} vs {}", star.params.colour);
        }
        let names: Vec<String> = data.test.attributes(0).into_iter().map(|(k, _)| k).collect();
        assert!(names.contains(&"curve_V_minus_I".to_string()) && names.contains(&"curve_I_amplitude_ratio".to_string()));
        // One period folds both bands: the multi-band periodogram finds the RR Lyrae periods.
        use crate::formats::light_curve_files::Fold;
        let search = LightCurveFolder { fold: Fold::Periodogram, ..two.clone() };
        let (stars, _) = search.load().unwrap();
        let (mut rr, mut found) = (0, 0);
        for star in &stars {
            if star.row["class"].starts_with("RR") {
                rr += 1;
                let (p, t): (f64, f64) = (star.row["period"].parse().unwrap(), star.row["list_period"].parse().unwrap());
                found += usize::from((p / t - 1.0).abs() < 1e-3);
            }
            assert_eq!(star.curves.len(), 2);
            assert!(star.curves.iter().all(|c| c.time.iter().all(|p| (0.0..1.0).contains(p))));
        }
        assert!(rr > 15 && found as f64 >= 0.95 * rr as f64, "{found} of {rr}");
        // The suffix must say where the band goes; a band listed twice is refused.
        let err = config(dir.path(), bands).open(1).unwrap_err().to_string();
        assert!(err.starts_with("data.suffix: \".dat\" does not say where the band goes") && err.contains("_{band}.dat"), "{err}");
        let twice = LightCurveFolder { bands: vec!["V".into(), "V".into()], ..two.clone() };
        assert!(twice.open(1).unwrap_err().to_string().starts_with("data.bands: \"V\" is listed twice"));
    }

    #[test]
    fn the_fold_setting_reads_true_false_and_periodogram_and_names_the_choices() {
        use crate::formats::light_curve_files::Fold;
        let read = |value: &str| toml::from_str::<LightCurveFolder>(&format!("list = \"l\"\nfold = {value}\n"));
        assert_eq!(read("true").unwrap().fold, Fold::ListPeriod);
        assert_eq!(read("false").unwrap().fold, Fold::No);
        let periodogram = read("\"periodogram\"").unwrap();
        assert_eq!(periodogram.fold, Fold::Periodogram);
        // Written back (the run's config.toml) as it was given.
        let text = toml::to_string(&periodogram).unwrap();
        assert!(text.contains("fold = \"periodogram\""), "{text}");
        assert_eq!(toml::from_str::<LightCurveFolder>(&text).unwrap(), periodogram);
        let err = read("\"lomb\"").unwrap_err().to_string();
        assert!(err.contains("invalid value: string \"lomb\", expected true (by the list's period column), false, or \"periodogram\""), "{err}");
        let bad = LightCurveFolder {
            fold: Fold::Periodogram,
            period_search: astro_sim::period_search::PeriodSearch { min_period: 0.0, ..Default::default() },
            ..read("true").unwrap()
        };
        let err = bad.load().unwrap_err().to_string();
        assert!(err.starts_with("data.period_search.min_period: must be a positive number of days"), "{err}");
    }

    #[test]
    fn classes_come_from_the_label_column_and_splits_keep_them() {
        let dir = written(60);
        let data =
            config(dir.path(), "label = \"class\"\nvalid_fraction = 0.2\ntest_fraction = 0.2\n").open(1).unwrap();
        assert_eq!(data.info.target_names, ["EB-contact", "EB-detached", "RRab", "RRc", "constant"]);
        assert_eq!(data.info.layout, Layout::Sequence);
        assert_eq!(data.train.len() + data.valid.len() + data.test.len(), 60);
        let item = data.test.get(0).unwrap();
        assert_eq!(item.shape, [3, 1, 200]);
        let attributes = data.test.attributes(0);
        assert!(attributes.iter().any(|(k, _)| k == "snr") && attributes.iter().any(|(k, _)| k == "period"));
        // The folded file curve is the simulator's curve folded by the listed period.
        let sim: SimulatedLightCurvesConfig = toml::from_str("").unwrap();
        let i: u64 = item.id.trim_start_matches("star-").parse().unwrap();
        let (star, folded) = sim.star(7, i);
        let n = star.curve.time.len();
        assert_eq!(item.pixels[400..600].iter().filter(|m| **m == 1.0).count(), n);
        let mut phases = folded.time.clone();
        phases.sort_by(f64::total_cmp);
        if star.params.period > 0.0 {
            // The list rounds the period to 1e-7 d: over ~2000 d of epochs, phases shift ~1e-3.
            assert!((f64::from(item.pixels[0]) - phases[0]).abs() < 2e-3, "{} vs {}", item.pixels[0], phases[0]);
        }
    }

    #[test]
    fn regression_labels_skip_stars_without_a_value_and_say_so() {
        let dir = written(40);
        let data = config(dir.path(), "label = \"feh\"\ntask = \"regression\"\n").open(1).unwrap();
        assert_eq!(data.info.task, Task::Regression);
        assert_eq!(data.info.target_names, ["feh"]);
        let kept = data.train.len() + data.valid.len() + data.test.len();
        assert!(kept > 3 && kept < 40, "{kept}");
        assert_eq!(data.info.warnings.len(), 40 - kept);
        assert!(data.info.warnings[0].contains("feh = \"nan\" is not a number"), "{:?}", data.info.warnings);
        // A filter on the class leaves only RRab, so nothing is skipped.
        let rrab = config(dir.path(), "label = \"feh\"\ntask = \"regression\"\nfilter = [\"class == RRab\"]\n");
        let data = rrab.open(1).unwrap();
        assert!(data.info.warnings.is_empty());
        assert_eq!(data.train.len() + data.valid.len() + data.test.len(), kept);
        // on_bad_star = "refuse" stops at the first star without a value, naming it.
        let refuse = config(dir.path(), "label = \"feh\"\ntask = \"regression\"\non_bad_star = \"refuse\"\n");
        let err = refuse.open(1).unwrap_err().to_string();
        assert!(err.contains("on_bad_star") && err.contains("feh = \"nan\" is not a number"), "{err}");
    }

    #[test]
    fn missing_label_unknown_columns_and_unfolded_times_are_named() {
        let dir = written(10);
        let err = config(dir.path(), "").open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.label: name the list column"), "{err}");
        let err = config(dir.path(), "label = \"type\"\n").open(0).unwrap_err().to_string();
        assert!(err.contains("no column `type`") && err.contains("\"class\""), "{err}");
        let unfolded = LightCurveFolder { fold: crate::formats::light_curve_files::Fold::No, ..config(dir.path(), "label = \"class\"\n") };
        let err = unfolded.open(0).unwrap_err().to_string();
        assert!(err.starts_with("data.fold: star star-0") && err.contains("time_mag_err"), "{err}");
        let dir = written(30);
        let two = config(dir.path(), "label = \"class\"\nclasses = [\"RRab\", \"constant\"]\n").open(0).unwrap();
        let kept = two.train.len() + two.valid.len() + two.test.len();
        assert_eq!(kept + two.info.warnings.len(), 30);
        assert!(two.info.warnings.iter().all(|w| w.contains("is not one of classes = [\"RRab\", \"constant\"]")));
        // With `other_class`, the rest join that class instead of being skipped.
        let rest = config(dir.path(), "label = \"class\"\nclasses = [\"other\", \"RRab\"]\nother_class = \"other\"\n");
        let rest = rest.open(0).unwrap();
        assert!(rest.info.warnings.is_empty(), "{:?}", rest.info.warnings);
        assert_eq!(rest.train.len() + rest.valid.len() + rest.test.len(), 30);
        let bad = config(dir.path(), "label = \"class\"\nclasses = [\"RRab\"]\nother_class = \"rest\"\n");
        assert!(bad.open(0).unwrap_err().to_string().starts_with("data.other_class: \"rest\" is not one of"));
    }
}
