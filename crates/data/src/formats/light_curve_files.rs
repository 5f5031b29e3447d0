//! Light curves on disk in the published list-and-files format (Dekany & Grebel 2020 and the
//! OGLE/VVV catalogues they build on): a list file of whitespace columns whose header line starts
//! with `#` and names them (at least `id`), and one file per star at `<dir>/<id><suffix>`
//! with columns (time or phase, magnitude, optional error), separated by whitespace or commas
//! (one CSV per star; a header line is skipped); or, instead of per-star files, one long CSV
//! with `id,time,mag[,err]` named in its header. The per-star files may be gzipped or sit in a
//! tar archive ([`crate::formats::star_files`]). Curves already folded are read as they are,
//! points at phases from `max_phase` on dropped (published curves often repeat the start of the
//! cycle past phase 1); others can be folded by the list's `period`.
//!
//! Several bands (`bands = ["G", "BP", "RP"]`): a file per star and band, named by a suffix
//! holding `{band}` (`suffix = "_{band}.dat"`), or a `band` column in the long CSV. One period
//! folds every band; each band must have `min_points`.
//!
//! Every problem is reported with its file and line; stars with a missing file (of any band), an
//! unparsable line or too few points are skipped (and listed) or refused, as the settings say.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use astro_sim::light_curve::LightCurve;
use astro_sim::period_search::{FoundPeriod, PeriodSearch};
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::formats::catalogue::open_csv;
use crate::formats::period_cache::PeriodCache;
use crate::formats::star_files::StarFiles;
use crate::sequence::SequenceConfig;
use crate::sources::shared::{HeldOutShares, RandomSplit};
use crate::task::Task;

/// What to do with a star that cannot be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBadStar {
    /// Leave it out and report it.
    #[default]
    Skip,
    /// Stop with the error.
    Refuse,
}

/// A tenth of the stars for validation, a fifth for the test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenthAndFifth;

impl HeldOutShares for TenthAndFifth {
    const VALID: f64 = 0.1;
    const TEST: f64 = 0.2;
}

/// Where the light curves are and how their files are laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightCurveFolder {
    /// The folder that relative `list`, `dir` and `long_csv` paths start from (default: the
    /// working directory).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The list file.
    pub list: PathBuf,
    /// Folder of the per-star files, or a tar archive of them (`.tar`, `.tar.gz`, `.tgz`; a
    /// folder that does not exist is looked for as `<dir>.tar.gz`). Default: the list's folder.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Appended to the id to name a star's file (`.dat`); with `bands`, it holds `{band}`, which
    /// becomes each band's name (`"_{band}.dat"`: `<id>_G.dat`, `<id>_BP.dat`).
    #[serde(default)]
    pub suffix: String,
    /// The bands of each star, stacked as channels in this order (the first one's magnitudes set
    /// the scale); none: one band. Per-star files are named by `suffix`; a long CSV needs a
    /// `band` column.
    #[serde(default)]
    pub bands: Vec<String>,
    /// 0-based columns of time (or phase), magnitude and, optionally, error in the star files.
    /// Default: columns 0 and 1, and column 2 as the error where a line has it.
    #[serde(default)]
    pub columns: Option<Vec<usize>>,
    /// `true`: fold by the list's `period` column (times become phases in [0, 1));
    /// `"periodogram"`: fold by the period each curve's periodogram finds (`[data.period_search]`),
    /// kept as the `period` property with `period_power` and `period_fap_log10` (a list's own
    /// `period` column becomes `list_period`); `false` (default): the files hold phases, or the
    /// model reads times.
    #[serde(default)]
    pub fold: Fold,
    /// How `fold = "periodogram"` searches (periods tried, grid, the binaries' alias).
    #[serde(default)]
    pub period_search: PeriodSearch,
    /// For curves read as phases (already folded in the files): points at this phase or later
    /// are dropped, as Dekany & Grebel do with their curves that run to phase 1.2. Must be in
    /// (0, 1]; phases below 0 are refused.
    #[serde(default = "default_max_phase")]
    pub max_phase: f64,
    /// Stars with fewer points are unusable.
    #[serde(default = "default_min_points")]
    pub min_points: usize,
    /// Skip or refuse unusable stars.
    #[serde(default)]
    pub on_bad_star: OnBadStar,
    /// One CSV with every star's points (`id,time,mag[,err]` in its header) instead of
    /// per-star files.
    #[serde(default)]
    pub long_csv: Option<PathBuf>,
    /// Keep only the list rows that pass every condition: `"<column> <op> <value>"` with `op`
    /// one of `== != < <= > >=`, compared as numbers when both sides are (`"snr > 20"`,
    /// `"type == RRab"`).
    #[serde(default)]
    pub filter: Vec<String>,
    /// The list column with each star's label: a class name, or a value to regress.
    #[serde(default)]
    pub label: Option<String>,
    /// `classification` (default) or `regression`.
    #[serde(default = "default_task")]
    pub task: Task,
    /// Class names in label order (default: the label column's values, sorted).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// The class of stars whose label is not in `classes` (e.g. `"other"` for RRab against
    /// the rest); without it such stars are skipped.
    #[serde(default)]
    pub other_class: Option<String>,
    /// Shares held out for validation and test (`valid_fraction`, `test_fraction`; default
    /// 0.1 and 0.2).
    #[serde(flatten)]
    pub held_out: RandomSplit<TenthAndFifth>,
    /// Use at most this many stars of the list (after the filter), spread evenly over it.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Model inputs (`[data.sequence]`).
    #[serde(default)]
    pub sequence: SequenceConfig,
}

fn default_task() -> Task {
    Task::Classification
}

fn default_max_phase() -> f64 {
    1.0
}
fn default_min_points() -> usize {
    20
}

/// How the curves are folded (`fold = false | true | "periodogram"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fold {
    /// Not folded: the files hold phases, or the model reads times.
    #[default]
    No,
    /// By the list's `period` column.
    ListPeriod,
    /// By the period each curve's periodogram finds.
    Periodogram,
}

impl Fold {
    /// Whether the curves are folded here (their files hold times).
    pub fn folds(self) -> bool {
        self != Fold::No
    }
}

impl Serialize for Fold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Fold::No => serializer.serialize_bool(false),
            Fold::ListPeriod => serializer.serialize_bool(true),
            Fold::Periodogram => serializer.serialize_str("periodogram"),
        }
    }
}

impl<'de> Deserialize<'de> for Fold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Fold;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true (by the list's period column), false, or \"periodogram\"")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Fold, E> {
                Ok(if v { Fold::ListPeriod } else { Fold::No })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fold, E> {
                match v {
                    "periodogram" => Ok(Fold::Periodogram),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One star of the list: its list row (by column name) and its light curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Star {
    /// Its id.
    pub id: String,
    /// Its list row: column name -> text.
    pub row: HashMap<String, String>,
    /// One curve per band, in the order of `bands` (one without bands): times (or phases),
    /// magnitudes, errors (NaN where the file has none).
    pub curves: Vec<LightCurve>,
}

/// A star left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// Its id.
    pub id: String,
    /// What is wrong (with file and line).
    pub reason: String,
}

/// Reads a whitespace list file with a `#` header naming its columns.
pub fn read_list(path: &Path) -> Result<Vec<HashMap<String, String>>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        what: "list file",
        path: path.to_path_buf(),
        source,
    })?;
    let at = |line: u64, message: String| DataError::Catalogue { path: path.to_path_buf(), line, message };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| at(1, "the list is empty".into()))?;
    let Some(names) = header.trim().strip_prefix('#') else {
        return Err(at(
            1,
            format!("the first line must be a header starting with '#' that names the columns, got {header:?}"),
        ));
    };
    let names: Vec<String> = names.split_whitespace().map(str::to_string).collect();
    if !names.iter().any(|n| n == "id") {
        return Err(at(1, format!("the header must name an `id` column, it names {names:?}")));
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != names.len() {
            return Err(at(i as u64 + 1, format!("{} columns, the header names {}", fields.len(), names.len())));
        }
        rows.push(names.iter().cloned().zip(fields.iter().map(|f| f.to_string())).collect());
    }
    Ok(rows)
}

/// Parses one star file's text (`name` says where it came from in messages): columns `columns`
/// = (time, mag[, err]) separated by whitespace or commas, `#` comments allowed, a first line
/// that is not numbers taken as a header. Without `columns`, (0, 1) and column 2 as the error
/// where a line has it (NaN elsewhere).
pub fn parse_star_file(text: &str, name: &str, columns: Option<&[usize]>) -> Result<LightCurve, String> {
    let (columns, optional_error) = match columns {
        Some(c) if (2..=3).contains(&c.len()) => (c, false),
        Some(c) => return Err(format!("{name}: give 2 or 3 column indices (time, mag[, err]), got {c:?}")),
        None => (&[0, 1, 2][..], true),
    };
    let mut curve = LightCurve { time: Vec::new(), mag: Vec::new(), err: Vec::new() };
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(|c: char| c == ',' || c.is_whitespace()).filter(|f| !f.is_empty()).collect();
        let header = first && fields.first().is_some_and(|f| f.parse::<f64>().is_err());
        first = false;
        if header {
            continue;
        }
        let value = |k: usize| -> Result<f64, String> {
            let col = columns[k];
            let raw = fields.get(col).ok_or_else(|| format!("{name}:{}: no column {col}", i + 1))?;
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{name}:{}: {raw:?} is not a number", i + 1))
        };
        curve.time.push(value(0)?);
        curve.mag.push(value(1)?);
        let has_error = columns.len() > 2 && !(optional_error && fields.len() <= columns[2]);
        curve.err.push(if has_error { value(2)? } else { f64::NAN });
    }
    Ok(curve)
}

/// Sorts a curve by its first column (time or phase).
pub fn sort_by_time(curve: &mut LightCurve) {
    let mut order: Vec<usize> = (0..curve.time.len()).collect();
    order.sort_by(|&a, &b| curve.time[a].total_cmp(&curve.time[b]));
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    *curve = LightCurve { time: pick(&curve.time), mag: pick(&curve.mag), err: pick(&curve.err) };
}

impl LightCurveFolder {
    /// Reads the list and every star's file; returns the usable stars (folded and sorted by
    /// phase when asked) and those skipped, with reasons.
    pub fn load(&self) -> Result<(Vec<Star>, Vec<Skipped>), DataError> {
        self.check_reading()?;
        let list = self.under_root(&self.list);
        let mut rows = read_list(&list)?;
        let filters = self.filter.iter().map(|f| RowFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
        if let (Some(first), Some(f)) = (rows.first(), filters.iter().find(|f| !rows[0].contains_key(&f.column))) {
            let mut names: Vec<&String> = first.keys().collect();
            names.sort();
            return Err(DataError::setting(
                "filter",
                format!("{}: the list has no column `{}` (it has {names:?})", list.display(), f.column),
            ));
        }
        rows.retain(|row| filters.iter().all(|f| f.passes(row)));
        if let Some(limit) = self.limit.filter(|l| *l < rows.len()) {
            // Evenly spread over the list, so that a list sorted by class or fold keeps them all.
            let n = rows.len();
            let mut all: Vec<Option<HashMap<String, String>>> = rows.into_iter().map(Some).collect();
            rows = (0..limit).filter_map(|k| all[k * n / limit].take()).collect();
        }
        if self.fold == Fold::ListPeriod && rows.first().is_some_and(|r| !r.contains_key("period")) {
            return Err(DataError::setting("fold", format!("{} has no `period` column to fold by", list.display())));
        }
        self.load_rows(rows)
    }

    /// Checks the settings of how the curves are read (columns, `max_phase`, the period search,
    /// the bands).
    pub fn check_reading(&self) -> Result<(), DataError> {
        if let Some(columns) = self.columns.as_ref().filter(|c| !(2..=3).contains(&c.len())) {
            return Err(DataError::setting(
                "columns",
                format!("give 2 or 3 column indices (time, mag[, err]), got {columns:?}"),
            ));
        }
        if !(self.max_phase > 0.0 && self.max_phase <= 1.0) {
            return Err(DataError::setting("max_phase", format!("must be in (0, 1], got {}", self.max_phase)));
        }
        if self.fold == Fold::Periodogram {
            self.period_search
                .validate()
                .map_err(|(field, problem)| DataError::setting(format!("period_search.{field}"), problem))?;
        }
        self.check_bands()
    }

    /// The stars of list rows `rows` (each with an `id`), their curves read from the per-star
    /// files in `dir` (default: the list's folder) or the long CSV, folded and sorted as the
    /// settings say; those that cannot be used are skipped with the reason (or refused, as
    /// `on_bad_star` says).
    pub fn load_rows(&self, rows: Vec<HashMap<String, String>>) -> Result<(Vec<Star>, Vec<Skipped>), DataError> {
        self.load_rows_from(rows, None)
    }

    /// [`LightCurveFolder::load_rows`], the points taken from `long` where given (a long CSV
    /// read once for many calls) instead of the files or the long CSV the settings name.
    pub fn load_rows_from(
        &self,
        rows: Vec<HashMap<String, String>>,
        long: Option<&Arc<LongCsv>>,
    ) -> Result<(Vec<Star>, Vec<Skipped>), DataError> {
        let list = self.under_root(&self.list);
        let mut points = match (long, &self.long_csv) {
            (Some(long), _) => Points::Shared(long.clone()),
            (None, Some(path)) => {
                let path = self.under_root(path);
                Points::Long(read_long_csv(&path, !self.bands.is_empty())?, path)
            }
            (None, None) => {
                let dir = match &self.dir {
                    Some(dir) => self.under_root(dir),
                    None => list.parent().map(Path::to_path_buf).unwrap_or_default(),
                };
                let wanted = rows
                    .iter()
                    .flat_map(|r| self.band_names().into_iter().map(|band| self.file_name(&r["id"], band)))
                    .collect();
                Points::Files(StarFiles::open(&dir, &wanted)?)
            }
        };
        let (mut stars, mut skipped) = (Vec::new(), Vec::new());
        for row in rows {
            let id = row["id"].clone();
            let mut curves = Vec::new();
            let mut problem = None;
            for band in self.band_names() {
                let read = points.take(&id, band, &self.file_name(&id, band), self.columns.as_deref());
                if let Ok((curve, name)) = &read {
                    self.check_fold(&id, curve, name)?;
                }
                match read.and_then(|(curve, name)| self.star(curve, &name, &id, &row)) {
                    Ok(curve) => curves.push(curve),
                    Err(reason) => {
                        problem = Some(reason);
                        break;
                    }
                }
            }
            match problem {
                None => stars.push(Star { id, row, curves }),
                Some(reason) if self.on_bad_star == OnBadStar::Skip => skipped.push(Skipped { id, reason }),
                Some(reason) => {
                    return Err(DataError::setting(
                        "on_bad_star",
                        format!("star {id}: {reason} (set on_bad_star = \"skip\" to leave such stars out)"),
                    ));
                }
            }
        }
        if self.fold == Fold::Periodogram {
            self.fold_by_periodogram(&mut stars, &mut skipped)?;
        }
        Ok((stars, skipped))
    }

    /// Refuses a curve whose times do not fit the fold setting: times where phases are expected
    /// (the config forgot to fold), or phases where times are to be folded.
    fn check_fold(&self, id: &str, curve: &LightCurve, name: &str) -> Result<(), DataError> {
        // Phases past 1 are a repeated cycle; past 2 they are times: the config forgot to fold.
        if !self.fold.folds()
            && self.sequence.inputs.folded()
            && let Some(t) = curve.time.iter().find(|t| **t >= 2.0)
        {
            return Err(DataError::setting(
                "fold",
                format!(
                    "star {id}: the model reads phases but {name} holds times (up to {t}), not phases in \
                     [0, max_phase): set fold = true (with a `period` list column), fold = \"periodogram\" or \
                     sequence.inputs = \"time_mag_err\""
                ),
            ));
        }
        // Times within [0, 2) are phases: folding them again would make noise of the curve.
        if self.fold.folds() && !curve.time.is_empty() && curve.time.iter().all(|t| (0.0..2.0).contains(t)) {
            let last = curve.time.iter().fold(0.0f64, |a, &b| a.max(b));
            return Err(DataError::setting(
                "fold",
                format!(
                    "star {id}: {name} holds phases (0 to {last}), already folded, not times: leave fold unset \
                     (false) for such files"
                ),
            ));
        }
        Ok(())
    }

    /// The bands to read: `bands`, or one unnamed band.
    pub fn band_names(&self) -> Vec<Option<&str>> {
        if self.bands.is_empty() { vec![None] } else { self.bands.iter().map(|b| Some(b.as_str())).collect() }
    }

    /// The file of star `id` in `band`: the id and the suffix, `{band}` replaced.
    pub fn file_name(&self, id: &str, band: Option<&str>) -> String {
        match band {
            Some(band) => format!("{id}{}", self.suffix.replace("{band}", band)),
            None => format!("{id}{}", self.suffix),
        }
    }

    /// Checks `bands` against how the files are named.
    fn check_bands(&self) -> Result<(), DataError> {
        if let Some((k, band)) = self.bands.iter().enumerate().find(|(k, b)| self.bands[..*k].contains(b)) {
            return Err(DataError::setting("bands", format!("{band:?} is listed twice (at {k})")));
        }
        if let Some(band) = self.bands.iter().find(|b| b.is_empty() || b.contains(char::is_whitespace)) {
            return Err(DataError::setting("bands", format!("{band:?} is not a band name (empty or with spaces)")));
        }
        if !self.bands.is_empty() && self.long_csv.is_none() && !self.suffix.contains("{band}") {
            return Err(DataError::setting(
                "suffix",
                format!(
                    "{:?} does not say where the band goes in each star's file names: with bands, write \
                     {{band}} in it (e.g. \"_{{band}}.dat\" for <id>_{}.dat)",
                    self.suffix, self.bands[0]
                ),
            ));
        }
        if self.bands.is_empty() && self.suffix.contains("{band}") {
            return Err(DataError::setting(
                "bands",
                format!("suffix {:?} names a {{band}}: list the bands", self.suffix),
            ));
        }
        Ok(())
    }

    /// What the period cache of these stars is named by: the list, where the curves are, and
    /// the search settings.
    pub fn period_cache_key(&self) -> String {
        let list = self.under_root(&self.list);
        format!(
            "{}|{:?}|{:?}|{}|{:?}|{:?}{}",
            list.canonicalize().unwrap_or(list).display(),
            self.dir.as_ref().map(|d| self.under_root(d)),
            self.long_csv.as_ref().map(|p| self.under_root(p)),
            self.suffix,
            self.columns,
            self.period_search,
            if self.bands.is_empty() { String::new() } else { format!("|{:?}", self.bands) }
        )
    }

    /// Finds each star's period (in parallel, several bands searched together; those found
    /// before for the same curves and settings come from the period cache), folds its curves by
    /// it and keeps it in the row; a star without one is skipped with the reason (or refused, as
    /// `on_bad_star` says).
    fn fold_by_periodogram(&self, stars: &mut Vec<Star>, skipped: &mut Vec<Skipped>) -> Result<(), DataError> {
        use rayon::prelude::*;
        let mut cache = PeriodCache::open(&self.period_cache_key());
        let found: Vec<Result<FoundPeriod, String>> = stars
            .par_iter()
            .map(|star| {
                cache.get(&star.id, &star.curves).map_or_else(|| self.period_search.find_in_bands(&star.curves), Ok)
            })
            .collect();
        for (star, found) in stars.iter().zip(&found) {
            if let Ok(f) = found {
                cache.insert(&star.id, &star.curves, *f);
            }
        }
        if let Err(why) = cache.save() {
            eprintln!("data: {why} (the periods will be searched again next time)");
        }
        let mut kept = Vec::with_capacity(stars.len());
        for (mut star, found) in std::mem::take(stars).into_iter().zip(found) {
            match found {
                Ok(f) => {
                    if let Some(listed) = star.row.remove("period") {
                        star.row.insert("list_period".into(), listed);
                    }
                    star.row.insert("period".into(), f.period.to_string());
                    star.row.insert("period_power".into(), f.power.to_string());
                    star.row.insert("period_fap_log10".into(), f.fap_log10.to_string());
                    for curve in &mut star.curves {
                        curve.time.iter_mut().for_each(|t| *t = (*t / f.period).rem_euclid(1.0));
                        sort_by_time(curve);
                    }
                    kept.push(star);
                }
                Err(why) if self.on_bad_star == OnBadStar::Skip => {
                    skipped.push(Skipped { id: star.id, reason: format!("no period found: {why}") });
                }
                Err(why) => {
                    return Err(DataError::setting(
                        "on_bad_star",
                        format!(
                            "star {}: no period found: {why} (set on_bad_star = \"skip\" to leave such stars out)",
                            star.id
                        ),
                    ));
                }
            }
        }
        *stars = kept;
        Ok(())
    }

    /// `path` under `root`, unless it is absolute or there is no root.
    pub fn under_root(&self, path: &Path) -> PathBuf {
        match &self.root {
            Some(root) if path.is_relative() => root.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// One star's curve as read from `name`, trimmed at `max_phase`, checked, folded and sorted.
    fn star(
        &self,
        mut curve: LightCurve,
        name: &str,
        id: &str,
        row: &HashMap<String, String>,
    ) -> Result<LightCurve, String> {
        if !self.fold.folds() && self.sequence.inputs.folded() {
            if let Some(k) = curve.time.iter().position(|p| *p < 0.0) {
                return Err(format!("{name}: phase {} is negative (phases run from 0)", curve.time[k]));
            }
            let keep: Vec<bool> = curve.time.iter().map(|p| *p < self.max_phase).collect();
            let pick = |v: &[f64]| v.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect::<Vec<_>>();
            curve = LightCurve { time: pick(&curve.time), mag: pick(&curve.mag), err: pick(&curve.err) };
        }
        if curve.time.len() < self.min_points {
            return Err(format!("{id}: {} points, fewer than min_points = {}", curve.time.len(), self.min_points));
        }
        if self.fold == Fold::ListPeriod {
            let text = row.get("period").ok_or("no `period` to fold by")?;
            let period: f64 = text
                .parse()
                .ok()
                .filter(|p: &f64| *p > 0.0)
                .ok_or_else(|| format!("period {text:?} is not a positive number"))?;
            curve.time.iter_mut().for_each(|t| *t = (*t / period).rem_euclid(1.0));
        }
        sort_by_time(&mut curve);
        Ok(curve)
    }
}

/// Where the stars' points come from: one long CSV, or per-star files.
enum Points {
    /// Every star's points by id (and band: `id\tband`), or the error of its unreadable line,
    /// and the CSV's path.
    Long(HashMap<String, Result<LightCurve, String>>, PathBuf),
    /// A long CSV read once and shared: its curves are copied out, not taken.
    Shared(Arc<LongCsv>),
    /// Per-star files.
    Files(StarFiles),
}

/// A long CSV's curves, read once ([`read_long_csv`]), and its path.
#[derive(Debug)]
pub struct LongCsv {
    /// Every star's points by id (and band: `id\tband`), or the error of its unreadable line.
    pub curves: HashMap<String, Result<LightCurve, String>>,
    /// Where it was read from.
    pub path: PathBuf,
}

impl LongCsv {
    /// Reads `path` (with `bands`: a `band` column keys the curves `id\tband`).
    pub fn read(path: &Path, bands: bool) -> Result<Self, DataError> {
        Ok(Self { curves: read_long_csv(path, bands)?, path: path.to_path_buf() })
    }

    /// The star ids, sorted (without their bands).
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.curves.keys().map(|k| k.split_once('\t').map_or(k.as_str(), |(id, _)| id).to_string()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Points {
    /// Star `id`'s curve in `band` (from the long CSV, or the file `file`) and the name of the
    /// file it came from.
    fn take(
        &mut self,
        id: &str,
        band: Option<&str>,
        file: &str,
        columns: Option<&[usize]>,
    ) -> Result<(LightCurve, String), String> {
        match self {
            Self::Long(all, path) => {
                let (key, what) = long_key(id, band);
                let curve =
                    all.remove(&key).unwrap_or_else(|| Err(format!("{} has no points of {what}", path.display())))?;
                Ok((curve, path.display().to_string()))
            }
            Self::Shared(long) => {
                let (key, what) = long_key(id, band);
                let curve = long
                    .curves
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| Err(format!("{} has no points of {what}", long.path.display())))?;
                Ok((curve, long.path.display().to_string()))
            }
            Self::Files(files) => {
                let (text, name) = files.read(file)?;
                Ok((parse_star_file(&text, &name, columns)?, name))
            }
        }
    }
}

/// The key of star `id`'s curve in `band` in a long CSV, and how to name it.
fn long_key(id: &str, band: Option<&str>) -> (String, String) {
    match band {
        Some(band) => (format!("{id}\t{band}"), format!("star {id} in band {band}")),
        None => (id.to_string(), format!("star {id}")),
    }
}

/// One `"<column> <op> <value>"` condition on list rows.
#[derive(Debug, Clone, PartialEq)]
struct RowFilter {
    column: String,
    op: String,
    value: String,
}

impl RowFilter {
    fn parse(text: &str) -> Result<Self, DataError> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.as_slice() {
            [column, op, value] if ["==", "!=", "<", "<=", ">", ">="].contains(op) => {
                Ok(Self { column: column.to_string(), op: op.to_string(), value: value.to_string() })
            }
            _ => Err(DataError::setting(
                "filter",
                format!("{text:?} is not \"<column> <op> <value>\" with op one of == != < <= > >="),
            )),
        }
    }

    fn passes(&self, row: &HashMap<String, String>) -> bool {
        let field = &row[&self.column];
        let order = match (field.parse::<f64>(), self.value.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b),
            _ => Some(field.as_str().cmp(self.value.as_str())),
        };
        let Some(order) = order else { return false };
        match self.op.as_str() {
            "==" => order.is_eq(),
            "!=" => order.is_ne(),
            "<" => order.is_lt(),
            "<=" => order.is_le(),
            ">" => order.is_gt(),
            _ => order.is_ge(),
        }
    }
}

/// Reads a long CSV of every star's points: `id`, `time`, `mag` and optionally `err` columns
/// named in its header, and with `bands` a `band` column (the curves are then keyed
/// `id\tband`). A star with an unreadable line gets that line's error instead of a curve.
pub fn read_long_csv(path: &Path, bands: bool) -> Result<HashMap<String, Result<LightCurve, String>>, DataError> {
    let (mut reader, header) = open_csv(path, "light-curve CSV")?;
    let at = |line: u64, message: String| DataError::Catalogue { path: path.to_path_buf(), line, message };
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id), Some(time), Some(mag)) = (column("id"), column("time"), column("mag")) else {
        return Err(at(
            1,
            format!("the header needs id, time and mag columns, it has {:?}", header.iter().collect::<Vec<_>>()),
        ));
    };
    let err = column("err");
    let band = column("band");
    if bands && band.is_none() {
        return Err(at(
            1,
            format!("with bands, the header needs a band column, it has {:?}", header.iter().collect::<Vec<_>>()),
        ));
    }
    let mut curves: HashMap<String, Result<LightCurve, String>> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let star = match band.filter(|_| bands) {
            Some(b) => format!("{}\t{}", record.get(id).unwrap_or(""), record.get(b).unwrap_or("")),
            None => record.get(id).unwrap_or("").to_string(),
        };
        let entry =
            curves.entry(star).or_insert_with(|| Ok(LightCurve { time: Vec::new(), mag: Vec::new(), err: Vec::new() }));
        let Ok(curve) = entry else { continue };
        let number = |col: Option<usize>| -> Result<f64, String> {
            let Some(col) = col else { return Ok(f64::NAN) };
            let raw = record.get(col).unwrap_or("");
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{}:{line}: {raw:?} is not a number", path.display()))
        };
        match (number(Some(time)), number(Some(mag)), number(err)) {
            (Ok(t), Ok(m), Ok(e)) => {
                curve.time.push(t);
                curve.mag.push(m);
                curve.err.push(e);
            }
            (Err(reason), ..) | (_, Err(reason), _) | (.., Err(reason)) => *entry = Err(reason),
        }
    }
    Ok(curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(stars: &[(&str, &str)], list: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list.txt"), list).unwrap();
        for (id, text) in stars {
            std::fs::write(dir.path().join(format!("{id}.dat")), text).unwrap();
        }
        dir
    }

    fn curve_text(n: usize, period: f64) -> String {
        (0..n)
            .map(|i| format!("{:.4} {:.3} 0.01\n", 3.0 * i as f64 + 0.1, 15.0 + 0.1 * (i as f64 / period).sin()))
            .collect()
    }

    /// Reads the files' times as times (the tests that fold say so).
    fn config(dir: &Path) -> LightCurveFolder {
        toml::from_str(&format!(
            "list = \"{}\"\nsuffix = \".dat\"\nmin_points = 5\n[sequence]\ninputs = \"time_mag_err\"\n",
            dir.join("list.txt").display()
        ))
        .unwrap()
    }

    #[test]
    fn phased_files_lose_points_from_max_phase_and_may_have_two_columns() {
        // Dekany & Grebel's binned Gaia curves: (phase, mag), the cycle's start repeated to 1.2.
        let curve: String = (0..12).map(|i| format!("{:.3} {:.3}\n", 0.1 * i as f64, 15.0 + 0.01 * i as f64)).collect();
        let dir = folder(
            &[("a1", &curve), ("b2", "-0.1 15.0\n0.5 15.1\n0.7 15.2\n0.8 15.1\n0.9 15.0\n")],
            "# id feh\na1 -1.5\nb2 -1.0\n",
        );
        let phased = LightCurveFolder { sequence: SequenceConfig::default(), ..config(dir.path()) };
        let (stars, skipped) = phased.load().unwrap();
        assert_eq!(stars[0].curves[0].time.len(), 10, "phases 1.0 and 1.1 dropped");
        assert!(stars[0].curves[0].time.iter().all(|p| *p < 1.0));
        assert!(stars[0].curves[0].err.iter().all(|e| e.is_nan()), "no error column: errors unknown");
        assert_eq!(stars[0].curves[0].mag[9], 15.09);
        assert!(skipped[0].reason.contains("b2.dat: phase -0.1 is negative"), "{skipped:?}");
        let half = LightCurveFolder { max_phase: 0.5, ..phased.clone() };
        assert_eq!(half.load().unwrap().0[0].curves[0].time.len(), 5);
        let err = LightCurveFolder { max_phase: 1.2, ..phased.clone() }.load().unwrap_err().to_string();
        assert!(err.starts_with("data.max_phase: must be in (0, 1], got 1.2"), "{err}");
        // Explicit columns demand the error column.
        let three = LightCurveFolder { columns: Some(vec![0, 1, 2]), ..phased.clone() };
        assert!(three.load().unwrap().1[0].reason.contains("a1.dat:1: no column 2"));
        // Times where phases are expected: the config forgot to fold.
        let dir = folder(&[("a1", &curve_text(30, 0.6))], "# id period\na1 0.6\n");
        let unfolded = LightCurveFolder { sequence: SequenceConfig::default(), ..config(dir.path()) };
        let err = unfolded.load().unwrap_err().to_string();
        assert!(err.starts_with("data.fold: star a1: the model reads phases") && err.contains("time_mag_err"), "{err}");
    }

    #[test]
    fn a_root_and_an_archive_of_star_files_read_like_a_folder() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        let dir =
            folder(&[("a1", &curve_text(30, 0.6)), ("b2", &curve_text(12, 0.4))], "# id period\na1 0.5731\nb2 0.4\n");
        let plain = LightCurveFolder { fold: Fold::ListPeriod, ..config(dir.path()) };
        let archive = dir.path().join("curves.tar.gz");
        let mut builder =
            tar::Builder::new(GzEncoder::new(std::fs::File::create(&archive).unwrap(), Compression::fast()));
        for id in ["a1", "b2"] {
            builder.append_path_with_name(dir.path().join(format!("{id}.dat")), format!("curves/{id}.dat")).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        let from_archive = LightCurveFolder {
            root: Some(dir.path().to_path_buf()),
            list: "list.txt".into(),
            dir: Some("curves".into()),
            ..plain.clone()
        };
        let (a, b) = (plain.load().unwrap().0, from_archive.load().unwrap().0);
        assert_eq!(a.len(), 2);
        assert_eq!(a, b);
    }

    #[test]
    fn stars_load_fold_and_sort() {
        let dir = folder(
            &[("a1", &curve_text(30, 0.6)), ("b2", &curve_text(12, 0.4))],
            "# id period feh\na1 0.5731 -1.2\nb2 0.4 -0.5\n",
        );
        let (stars, skipped) = config(dir.path()).load().unwrap();
        assert!(skipped.is_empty());
        assert_eq!(stars.len(), 2);
        assert_eq!(stars[0].row["feh"], "-1.2");
        assert_eq!(stars[1].curves[0].time.len(), 12);
        let folded = LightCurveFolder { fold: Fold::ListPeriod, ..config(dir.path()) }.load().unwrap().0;
        let phases = &folded[0].curves[0].time;
        assert!(phases.iter().all(|p| (0.0..1.0).contains(p)) && phases.windows(2).all(|w| w[0] <= w[1]));
        // Folding keeps each point's magnitude with its own time.
        let t = 3.0 * 7.0 + 0.1;
        let k = phases.iter().position(|&p| (p - (t / 0.5731f64).rem_euclid(1.0)).abs() < 1e-9).unwrap();
        let expected = 15.0 + 0.1 * (7.0 / 0.6f64).sin();
        assert!(
            (folded[0].curves[0].mag[k] - expected).abs() < 1e-3,
            "{} vs {expected} at {k}",
            folded[0].curves[0].mag[k]
        );
    }

    #[test]
    fn bad_stars_are_skipped_with_file_and_line_or_refused() {
        let bad = "0.1 15.0 0.01\n0.2 oops 0.01\n";
        let dir = folder(
            &[("a1", &curve_text(30, 0.6)), ("c3", bad), ("d4", &curve_text(3, 0.5))],
            "# id period\na1 0.6\nc3 0.5\nd4 0.5\ne5 0.5\n",
        );
        let (stars, skipped) = config(dir.path()).load().unwrap();
        assert_eq!(stars.len(), 1);
        let reasons: Vec<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("c3.dat:2: \"oops\" is not a number"), "{reasons:?}");
        assert!(reasons[1].contains("d4: 3 points, fewer than min_points = 5"), "{reasons:?}");
        assert!(reasons[2].contains("e5.dat"), "{reasons:?}");
        let err =
            LightCurveFolder { on_bad_star: OnBadStar::Refuse, ..config(dir.path()) }.load().unwrap_err().to_string();
        assert!(err.contains("star c3") && err.contains("on_bad_star"), "{err}");
    }

    #[test]
    fn filters_keep_matching_rows_by_number_or_text() {
        let dir = folder(
            &[("a1", &curve_text(30, 0.6)), ("b2", &curve_text(30, 0.4)), ("c3", &curve_text(30, 0.4))],
            "# id snr type\na1 80 RRab\nb2 15.5 RRab\nc3 200 EB\n",
        );
        let keep = |filter: &[&str]| -> Vec<String> {
            let config =
                LightCurveFolder { filter: filter.iter().map(|f| f.to_string()).collect(), ..config(dir.path()) };
            config.load().unwrap().0.into_iter().map(|s| s.id).collect()
        };
        assert_eq!(keep(&["snr > 20"]), ["a1", "c3"]);
        assert_eq!(keep(&["snr >= 15.5", "type == RRab"]), ["a1", "b2"]);
        assert_eq!(keep(&["type != RRab"]), ["c3"]);
        let bad = LightCurveFolder { filter: vec!["snr >> 2".into()], ..config(dir.path()) };
        assert!(bad.load().unwrap_err().to_string().starts_with("data.filter: \"snr >> 2\" is not"));
        let bad = LightCurveFolder { filter: vec!["sn > 2".into()], ..config(dir.path()) };
        let err = bad.load().unwrap_err().to_string();
        assert!(err.contains("no column `sn`") && err.contains("\"snr\""), "{err}");
    }

    #[test]
    fn list_problems_are_named() {
        let dir = folder(&[], "id period\n");
        assert!(config(dir.path()).load().unwrap_err().to_string().contains("header starting with '#'"));
        let dir = folder(&[], "# name period\nx 1\n");
        assert!(config(dir.path()).load().unwrap_err().to_string().contains("must name an `id` column"));
        let dir = folder(&[], "# id period\nx 1 2\n");
        assert!(config(dir.path()).load().unwrap_err().to_string().contains(":2: 3 columns, the header names 2"));
        let dir = folder(&[], "# id feh\nx 1\n");
        let err = LightCurveFolder { fold: Fold::ListPeriod, ..config(dir.path()) }.load().unwrap_err().to_string();
        assert!(err.contains("no `period` column"), "{err}");
    }

    #[test]
    fn per_star_csvs_and_a_long_csv_read_the_same_curves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list.txt"), "# id period\na1 0.5731\nb2 0.41\nz9 1.0\n").unwrap();
        let mut long = String::from("id,time,mag,err\n");
        for id in ["a1", "b2"] {
            let mut csv = String::from("time,mag,err\n");
            for i in 0..8 {
                let (t, m) = (i as f64 * 1.7, 15.0 + i as f64 * 0.01);
                csv.push_str(&format!("{t},{m},0.02\n"));
                long.push_str(&format!("{id},{t},{m},0.02\n"));
            }
            std::fs::write(dir.path().join(format!("{id}.csv")), csv).unwrap();
        }
        long.push_str("z9,1.0,bad,0.1\n");
        std::fs::write(dir.path().join("all.csv"), long).unwrap();
        let per_star: LightCurveFolder = toml::from_str(&format!(
            "list = \"{}\"\nsuffix = \".csv\"\nmin_points = 5\n[sequence]\ninputs = \"time_mag_err\"\n",
            dir.path().join("list.txt").display()
        ))
        .unwrap();
        let (a, skipped_a) = per_star.load().unwrap();
        let long_config = LightCurveFolder { long_csv: Some(dir.path().join("all.csv")), ..per_star };
        let (b, skipped_b) = long_config.load().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a, b);
        assert_eq!(a[1].curves[0].mag[3], 15.03);
        assert!(skipped_a[0].reason.contains("z9.csv"), "{skipped_a:?}");
        // Two bands in one long CSV, told apart by its band column.
        let mut banded = String::from("id,band,time,mag\n");
        for (band, offset) in [("g", 0.0), ("r", -0.4)] {
            for i in 0..6 {
                banded.push_str(&format!("a1,{band},{},{}\n", i as f64 * 2.3, 15.0 + offset + i as f64 * 0.01));
            }
        }
        for i in 0..6 {
            banded.push_str(&format!("b2,g,{},15.0\n", i as f64 * 3.1));
        }
        std::fs::write(dir.path().join("banded.csv"), &banded).unwrap();
        let two = LightCurveFolder {
            long_csv: Some(dir.path().join("banded.csv")),
            bands: vec!["g".into(), "r".into()],
            ..long_config.clone()
        };
        let (stars, skipped) = two.load().unwrap();
        assert_eq!(stars.len(), 1);
        assert_eq!((stars[0].curves[0].mag[0], stars[0].curves[1].mag[0]), (15.0, 14.6));
        assert!(skipped[0].reason.contains("has no points of star b2 in band r"), "{skipped:?}");
        let without_column = LightCurveFolder { long_csv: Some(dir.path().join("all.csv")), ..two };
        let err = without_column.load().unwrap_err().to_string();
        assert!(err.contains("with bands, the header needs a band column"), "{err}");
        assert!(
            skipped_b[0].reason.contains("all.csv:") && skipped_b[0].reason.contains("\"bad\" is not a number"),
            "{skipped_b:?}"
        );
    }
}
