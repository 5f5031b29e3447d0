//! Light curves to predict (`trainer predict` with a light-curve model): lists in the published
//! format (an `id` column, and whatever else the model needs: `period` to fold by, the catalogue
//! features), their star files where the run's reading puts them relative to the list (its
//! `dir`, taken under the list's folder, when that holds it; else beside the list) or the run's
//! long CSV under the list's folder, star files, or folders of them, given without a list (each
//! file's id is its name less the suffix), and long CSVs given without a list (`id`, `time`,
//! `mag` columns; every star in them, by id). A long CSV is read once and held in memory.
//!
//! Every star is read, folded and encoded with the run's own settings ([`LightCurveFolder`]),
//! and given the catalogue features the model reads; one that cannot be used comes back as its
//! reason, so that the job goes on without it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::catalogue_features::{FeaturesConfig, MissingFeature};
use crate::error::DataError;
use crate::formats::light_curve_files::{Fold, LightCurveFolder, LongCsv, OnBadStar, read_list};
use crate::formats::star_files::StarFiles;
use crate::item::ImageItem;
use crate::sources::light_curve_folder::text_columns;

/// One star to predict.
#[derive(Debug, Clone)]
pub struct CurveInput {
    /// Where it comes from: its list, or its star file.
    pub location: String,
    /// Its id.
    pub id: String,
    /// Its list row (only `id` for a star file given without a list).
    row: HashMap<String, String>,
    /// How its list (or folder) is read: the run's settings with `list` and `dir` set.
    reading: Arc<LightCurveFolder>,
    /// The long CSV its points come from, read once for its whole list; `None`: star files.
    long: Option<Arc<LongCsv>>,
}

/// The catalogue features a model reads beside the curve, and the training split's mean of
/// each (the value of a missing one under `missing = "mean"`).
#[derive(Debug, Clone)]
pub struct CurveFeatures {
    /// `[features]` of the run.
    pub config: FeaturesConfig,
    /// The training split's mean of each feature (as read: log10 where `log` says).
    pub train_mean: Vec<f32>,
}

/// Reads stars as a run was trained to read them.
#[derive(Debug)]
pub struct CurveReader {
    reading: LightCurveFolder,
    /// The long CSV the run read its curves from (`long_csv`), looked for under a list's folder.
    run_long_csv: Option<PathBuf>,
    features: Option<CurveFeatures>,
    imputed: AtomicUsize,
}

impl CurveReader {
    /// A reader with the run's reading settings (`reading`: list layout, folding, sequence
    /// encoding) and its catalogue features. The run's own list, filter and limit are not used.
    pub fn new(mut reading: LightCurveFolder, features: Option<CurveFeatures>) -> Result<Self, DataError> {
        reading.on_bad_star = OnBadStar::Skip;
        reading.filter.clear();
        reading.limit = None;
        reading.label = None;
        reading.root = None;
        let run_long_csv = reading.long_csv.take();
        reading.check_reading()?;
        reading.sequence.validate()?;
        if let Some(f) = &features {
            f.config.validate()?;
        }
        Ok(Self { reading, run_long_csv, features, imputed: AtomicUsize::new(0) })
    }

    /// The shape of an encoded star: `[channels, 1, steps]`.
    pub fn shape(&self) -> [usize; 3] {
        self.reading.sequence.shape_for(self.reading.bands.len().max(1))
    }

    /// Feature values filled with the training mean so far (`missing = "mean"`).
    pub fn imputed(&self) -> usize {
        self.imputed.load(Ordering::Relaxed)
    }

    /// The star file name ending of the first band (`.dat`, `_G.dat`).
    fn suffix(&self) -> String {
        self.reading.file_name("", self.reading.band_names()[0])
    }

    /// The id of the star file `name`, if it is one.
    fn star_id(&self, name: &str) -> Option<String> {
        let suffix = self.suffix();
        let name = name.strip_suffix(".gz").unwrap_or(name);
        name.strip_suffix(suffix.as_str()).filter(|id| !id.is_empty()).map(str::to_string)
    }

    /// Every star of `inputs`: lists, star files, and folders of star files, in the order given
    /// (a folder's files by name).
    pub fn collect(&self, inputs: &[PathBuf]) -> Result<Vec<CurveInput>, DataError> {
        let mut out = Vec::new();
        for input in inputs {
            let missing = || DataError::Io {
                what: "light-curve input",
                path: input.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            };
            let name = input.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if input.is_dir() {
                out.extend(self.star_files_in(input)?);
            } else if !input.is_file() {
                return Err(missing());
            } else if let Some(id) = self.star_id(name) {
                let dir = input.parent().map(Path::to_path_buf).unwrap_or_default();
                out.extend(self.without_list(input, &dir, vec![id])?);
            } else if is_long_csv(input) {
                out.extend(self.long_csv(input)?);
            } else {
                out.extend(self.list(input)?);
            }
        }
        Ok(out)
    }

    /// The stars of the star files in folder `dir`.
    fn star_files_in(&self, dir: &Path) -> Result<Vec<CurveInput>, DataError> {
        let io = |source| DataError::Io { what: "folder of light-curve files", path: dir.to_path_buf(), source };
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if let Some(id) = entry.file_name().to_str().and_then(|n| self.star_id(n)) {
                ids.push(id);
            }
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Err(io(std::io::Error::other(format!(
                "holds no light-curve file (<id>{}, or that gzipped)",
                self.suffix()
            ))));
        }
        self.without_list(dir, dir, ids)
    }

    /// Refuses stars given without a list (`source`: the file or folder given) when the model
    /// folds by the list's period.
    fn refuse_without_list(&self, source: &Path) -> Result<(), DataError> {
        if self.reading.fold == Fold::ListPeriod || self.reading.sequence.phase_times_period {
            return Err(DataError::setting(
                "fold",
                format!(
                    "{}: the model reads each star's curve by its period from a list, and star files carry none: \
                     give a list with `id` and `period` columns (the star files or the long CSV beside it)",
                    source.display()
                ),
            ));
        }
        Ok(())
    }

    /// Every star of the long CSV `path`, with no list.
    fn long_csv(&self, path: &Path) -> Result<Vec<CurveInput>, DataError> {
        self.refuse_without_list(path)?;
        let long = Arc::new(LongCsv::read(path, !self.reading.bands.is_empty())?);
        let reading = Arc::new(LightCurveFolder { list: path.to_path_buf(), dir: None, ..self.reading.clone() });
        let location = path.display().to_string();
        Ok(long
            .ids()
            .into_iter()
            .map(|id| CurveInput {
                location: location.clone(),
                row: HashMap::from([("id".to_string(), id.clone())]),
                id,
                reading: reading.clone(),
                long: Some(long.clone()),
            })
            .collect())
    }

    /// Stars `ids` whose files are in `dir`, with no list (`source`: the file or folder given).
    fn without_list(&self, source: &Path, dir: &Path, ids: Vec<String>) -> Result<Vec<CurveInput>, DataError> {
        self.refuse_without_list(source)?;
        let reading = Arc::new(LightCurveFolder {
            list: source.to_path_buf(),
            dir: Some(dir.to_path_buf()),
            ..self.reading.clone()
        });
        Ok(ids
            .into_iter()
            .map(|id| CurveInput {
                location: dir.join(self.reading.file_name(&id, self.reading.band_names()[0])).display().to_string(),
                row: HashMap::from([("id".to_string(), id.clone())]),
                id,
                reading: reading.clone(),
                long: None,
            })
            .collect())
    }

    /// The stars of the list `list`.
    fn list(&self, list: &Path) -> Result<Vec<CurveInput>, DataError> {
        let rows = read_list(list)?;
        let needs_period = self.reading.fold == Fold::ListPeriod || self.reading.sequence.phase_times_period;
        if needs_period && rows.first().is_some_and(|r| !r.contains_key("period")) {
            return Err(DataError::setting(
                "fold",
                format!(
                    "{}: the model reads each star's curve by its period, and the list has no `period` column",
                    list.display()
                ),
            ));
        }
        let folder = list.parent().map(Path::to_path_buf).unwrap_or_default();
        // The run's `dir` under the list's folder, where it is (as in the training layout).
        let dir = match &self.reading.dir {
            Some(d) if d.is_relative() && StarFiles::is_there(&folder.join(d)) => folder.join(d),
            _ => folder.clone(),
        };
        // The run's long CSV under the list's folder, where it is; else the star files.
        let long = match self.run_long_csv.as_ref().map(|p| folder.join(p)).filter(|p| p.is_file()) {
            Some(path) => Some(Arc::new(LongCsv::read(&path, !self.reading.bands.is_empty())?)),
            None => None,
        };
        let reading = Arc::new(LightCurveFolder { list: list.to_path_buf(), dir: Some(dir), ..self.reading.clone() });
        let location = list.display().to_string();
        Ok(rows
            .into_iter()
            .map(|row| CurveInput {
                location: location.clone(),
                id: row["id"].clone(),
                row,
                reading: reading.clone(),
                long: long.clone(),
            })
            .collect())
    }

    /// Each star of `chunk` as the model's input, or why it cannot be used.
    pub fn read_all(&self, chunk: &[CurveInput]) -> Vec<Result<ImageItem, String>> {
        let mut out = Vec::with_capacity(chunk.len());
        let mut start = 0;
        while start < chunk.len() {
            let reading = &chunk[start].reading;
            let end = start + chunk[start..].iter().take_while(|c| Arc::ptr_eq(&c.reading, reading)).count();
            out.extend(self.read_group(reading, chunk[start].long.as_ref(), &chunk[start..end]));
            start = end;
        }
        out
    }

    /// Stars of one list or folder.
    fn read_group(
        &self,
        reading: &LightCurveFolder,
        long: Option<&Arc<LongCsv>>,
        group: &[CurveInput],
    ) -> Vec<Result<ImageItem, String>> {
        let rows = group.iter().map(|c| c.row.clone()).collect();
        let (stars, skipped) = match reading.load_rows_from(rows, long) {
            Ok(read) => read,
            Err(e) => return group.iter().map(|_| Err(e.to_string())).collect(),
        };
        let mut results: HashMap<String, Result<ImageItem, String>> =
            skipped.into_iter().map(|s| (s.id, Err(s.reason))).collect();
        for star in stars {
            let item = reading.encode_star(&star, "").and_then(|(pixels, properties)| {
                let features = self.features_of(&properties, &text_columns(&star))?;
                Ok(ImageItem { id: star.id.clone(), pixels, shape: self.shape(), targets: Vec::new(), features })
            });
            results.insert(star.id, item);
        }
        group.iter().map(|c| results.get(&c.id).cloned().unwrap_or_else(|| Err("not read".to_string()))).collect()
    }

    /// The catalogue features of a star with numeric `properties` and text `texts`.
    fn features_of(&self, properties: &[(String, f64)], texts: &[(String, String)]) -> Result<Vec<f32>, String> {
        let Some(features) = &self.features else { return Ok(Vec::new()) };
        let text = |column: &str| texts.iter().find(|(k, _)| k == column).map(|(_, v)| v.clone());
        let values = features.config.values_from(properties, text);
        values
            .into_iter()
            .enumerate()
            .map(|(c, value)| match value {
                Ok(v) => Ok(v),
                Err(_) if features.config.missing == MissingFeature::Mean => {
                    self.imputed.fetch_add(1, Ordering::Relaxed);
                    Ok(features.train_mean[c])
                }
                Err(reason) => Err(reason),
            })
            .collect()
    }
}

/// Whether `path` is a long CSV of light-curve points: its header names `id`, `time` and `mag`.
fn is_long_csv(path: &Path) -> bool {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut header = String::new();
    if std::io::BufReader::new(file).read_line(&mut header).is_err() {
        return false;
    }
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
    ["id", "time", "mag"].iter().all(|want| columns.iter().any(|c| c == want))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::simulated_light_curves::SimulatedLightCurvesConfig;

    /// Stars 0..count written by the simulator, and how its files are read.
    fn written(count: usize) -> (tempfile::TempDir, LightCurveFolder) {
        let dir = tempfile::tempdir().unwrap();
        let sim: SimulatedLightCurvesConfig = toml::from_str("[sequence]\nlength = 50\nresample = true\n").unwrap();
        sim.write_list_and_files(4, count, dir.path()).unwrap();
        let reading = LightCurveFolder { list: dir.path().join("list.txt"), ..sim.written_files_reading() };
        (dir, reading)
    }

    #[test]
    fn a_list_reads_as_training_reads_it_and_bad_stars_come_back_as_reasons() {
        let (dir, reading) = written(12);
        let (stars, _) = reading.load().unwrap();
        let reader = CurveReader::new(reading.clone(), None).unwrap();
        let inputs = reader.collect(&[dir.path().join("list.txt")]).unwrap();
        assert_eq!(inputs.len(), 12);
        let items = reader.read_all(&inputs);
        for (star, item) in stars.iter().zip(&items) {
            let item = item.as_ref().unwrap();
            assert_eq!(item.id, star.id);
            assert_eq!(item.pixels, reading.encode_star(star, "class").unwrap().0);
            assert_eq!(item.shape, reading.sequence.shape_for(1));
            assert_eq!(item.shape[2], 50);
        }
        std::fs::remove_file(dir.path().join("star-3.dat")).unwrap();
        let items = reader.read_all(&inputs);
        let err = items[3].as_ref().unwrap_err();
        assert!(err.contains("star-3.dat"), "{err}");
        assert!(items[4].is_ok());
    }

    #[test]
    fn star_files_without_a_list_are_read_by_name_and_folded_by_their_periodogram() {
        let (dir, mut reading) = written(6);
        reading.fold = Fold::Periodogram;
        let (stars, _) = reading.load().unwrap();
        let reader = CurveReader::new(reading.clone(), None).unwrap();
        // The folder's star files by name (list.txt is none); one file alone is one star.
        let inputs = reader.collect(&[dir.path().to_path_buf(), dir.path().join("star-2.dat")]).unwrap();
        let ids: Vec<&str> = inputs.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["star-0", "star-1", "star-2", "star-3", "star-4", "star-5", "star-2"]);
        let items = reader.read_all(&inputs);
        let by_id: HashMap<&str, &crate::formats::light_curve_files::Star> =
            stars.iter().map(|s| (s.id.as_str(), s)).collect();
        for item in &items {
            let item = item.as_ref().unwrap();
            assert_eq!(item.pixels, reading.encode_star(by_id[item.id.as_str()], "class").unwrap().0);
        }
        // Folding by the list's period needs a list.
        reading.fold = Fold::ListPeriod;
        let reader = CurveReader::new(reading, None).unwrap();
        let err = reader.collect(&[dir.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("give a list with `id` and `period` columns"), "{err}");
        let err = reader.collect(&[dir.path().join("nowhere.txt")]).unwrap_err().to_string();
        assert!(err.contains("nowhere.txt") && err.contains("no such file"), "{err}");
    }

    /// Writes every star file of `dir` (ids `star-0..count`) into one long CSV `all.csv`.
    fn long_csv_of(dir: &Path, count: usize) {
        let mut csv = String::from("id,time,mag,err\n");
        for i in 0..count {
            let name = format!("star-{i}.dat");
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let curve = crate::formats::light_curve_files::parse_star_file(&text, &name, None).unwrap();
            for k in 0..curve.time.len() {
                csv.push_str(&format!("star-{i},{},{},{}\n", curve.time[k], curve.mag[k], curve.err[k]));
            }
        }
        std::fs::write(dir.join("all.csv"), csv).unwrap();
    }

    #[test]
    fn a_long_csv_reads_as_the_star_files_alone_or_beside_a_list() {
        let (dir, mut reading) = written(5);
        let (stars, _) = reading.load().unwrap();
        let by_periodogram = LightCurveFolder { fold: Fold::Periodogram, ..reading.clone() };
        let (found, _) = by_periodogram.load().unwrap();
        long_csv_of(dir.path(), 5);
        let expected = |reading: &LightCurveFolder, id: &str| {
            reading.encode_star(stars.iter().find(|s| s.id == id).unwrap(), "class").unwrap().0
        };
        // A run that read a list and a long CSV: a list beside that CSV reads its points from it
        // (the star files are gone).
        let trained = LightCurveFolder { long_csv: Some(PathBuf::from("all.csv")), ..reading.clone() };
        for i in 0..5 {
            std::fs::rename(dir.path().join(format!("star-{i}.dat")), dir.path().join(format!("moved-{i}"))).unwrap();
        }
        let reader = CurveReader::new(trained, None).unwrap();
        let inputs = reader.collect(&[dir.path().join("list.txt")]).unwrap();
        let items = reader.read_all(&inputs);
        assert_eq!(items.len(), 5);
        for item in &items {
            let item = item.as_ref().unwrap();
            assert_eq!(item.pixels, expected(&reading, &item.id));
        }
        // The long CSV alone, every star by id, folded by its periodogram.
        reading.fold = Fold::Periodogram;
        let reader = CurveReader::new(reading.clone(), None).unwrap();
        let inputs = reader.collect(&[dir.path().join("all.csv")]).unwrap();
        let ids: Vec<&str> = inputs.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["star-0", "star-1", "star-2", "star-3", "star-4"]);
        for (item, star) in reader.read_all(&inputs).iter().zip(&found) {
            let item = item.as_ref().unwrap();
            assert_eq!(item.id, star.id);
            assert_eq!(item.pixels, by_periodogram.encode_star(star, "class").unwrap().0);
        }
        // Folding by a list's period: a long CSV alone is refused, naming it.
        reading.fold = Fold::ListPeriod;
        let err = CurveReader::new(reading, None).unwrap().collect(&[dir.path().join("all.csv")]).unwrap_err();
        assert!(err.to_string().contains("all.csv") && err.to_string().contains("give a list"), "{err}");
    }

    #[test]
    fn missing_features_are_reasons_or_the_training_mean() {
        let (dir, reading) = written(5);
        let features: FeaturesConfig = toml::from_str("columns = [\"period\", \"snr\", \"colour\"]").unwrap();
        let reader = CurveReader::new(
            reading.clone(),
            Some(CurveFeatures { config: features.clone(), train_mean: vec![0.5, 30.0, 0.25] }),
        )
        .unwrap();
        let inputs = reader.collect(&[dir.path().join("list.txt")]).unwrap();
        let err = reader.read_all(&inputs)[0].clone().unwrap_err();
        assert!(err.contains("has no value in column \"colour\""), "{err}");
        let mean = FeaturesConfig { missing: MissingFeature::Mean, ..features };
        let reader =
            CurveReader::new(reading, Some(CurveFeatures { config: mean, train_mean: vec![0.5, 30.0, 0.25] })).unwrap();
        let items = reader.read_all(&inputs);
        let list = read_list(&dir.path().join("list.txt")).unwrap();
        for (item, row) in items.iter().zip(&list) {
            let f = &item.as_ref().unwrap().features;
            assert_eq!(f[0], row["period"].parse::<f32>().unwrap());
            assert_eq!((f[1], f[2]), (row["snr"].parse::<f32>().unwrap(), 0.25));
        }
        assert_eq!(reader.imputed(), 5);
    }
}
