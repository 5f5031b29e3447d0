//! Light curves on disk in the published list-and-files format (Dekany & Grebel 2020 and the
//! OGLE/VVV catalogues they build on): a list file of whitespace columns whose header line starts
//! with `#` and names them (at least `id`), and one file per star at `<dir>/<id><suffix>`
//! with columns (time or phase, magnitude, optional error), separated by whitespace or commas
//! (one CSV per star; a header line is skipped); or, instead of per-star files, one long CSV
//! with `id,time,mag[,err]` named in its header. Curves already folded (phase in [0, 1)) are
//! read as they are; others can be folded by the list's `period`.
//!
//! Every problem is reported with its file and line; stars with a missing file, an unparsable
//! line or too few points are skipped (and listed) or refused, as the settings say.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use astro_sim::light_curve::LightCurve;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::formats::catalogue::open_csv;
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
    /// The list file.
    pub list: PathBuf,
    /// Folder of the per-star files (default: the list's folder).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Appended to the id to name a star's file (`.dat`).
    #[serde(default)]
    pub suffix: String,
    /// 0-based columns of time (or phase), magnitude and, optionally, error in the star files.
    #[serde(default = "default_columns")]
    pub columns: Vec<usize>,
    /// Fold by the list's `period` column (times become phases in [0, 1)).
    #[serde(default)]
    pub fold: bool,
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
    /// Use at most this many stars of the list (after the filter).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Model inputs (`[data.sequence]`).
    #[serde(default)]
    pub sequence: SequenceConfig,
}

fn default_task() -> Task {
    Task::Classification
}

fn default_columns() -> Vec<usize> {
    vec![0, 1, 2]
}
fn default_min_points() -> usize {
    20
}

/// One star of the list: its list row (by column name) and its light curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Star {
    /// Its id.
    pub id: String,
    /// Its list row: column name -> text.
    pub row: HashMap<String, String>,
    /// Times (or phases), magnitudes, errors (NaN where the file has none).
    pub curve: LightCurve,
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

/// Reads one star file: columns `columns` = (time, mag[, err]) separated by whitespace or
/// commas, `#` comments allowed, a first line that is not numbers taken as a header.
pub fn read_star_file(path: &Path, columns: &[usize]) -> Result<LightCurve, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
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
            let raw = fields.get(col).ok_or_else(|| format!("{}:{}: no column {col}", path.display(), i + 1))?;
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{}:{}: {raw:?} is not a number", path.display(), i + 1))
        };
        curve.time.push(value(0)?);
        curve.mag.push(value(1)?);
        curve.err.push(if columns.len() > 2 { value(2)? } else { f64::NAN });
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
        if !(2..=3).contains(&self.columns.len()) {
            return Err(DataError::setting(
                "columns",
                format!("give 2 or 3 column indices (time, mag[, err]), got {:?}", self.columns),
            ));
        }
        let mut rows = read_list(&self.list)?;
        let filters = self.filter.iter().map(|f| RowFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
        if let (Some(first), Some(f)) = (rows.first(), filters.iter().find(|f| !rows[0].contains_key(&f.column))) {
            let mut names: Vec<&String> = first.keys().collect();
            names.sort();
            return Err(DataError::setting(
                "filter",
                format!("{}: the list has no column `{}` (it has {names:?})", self.list.display(), f.column),
            ));
        }
        rows.retain(|row| filters.iter().all(|f| f.passes(row)));
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        if self.fold && rows.first().is_some_and(|r| !r.contains_key("period")) {
            return Err(DataError::setting(
                "fold",
                format!("{} has no `period` column to fold by", self.list.display()),
            ));
        }
        let dir = self.dir.clone().unwrap_or_else(|| self.list.parent().map(Path::to_path_buf).unwrap_or_default());
        let mut long = match &self.long_csv {
            Some(path) => Some(read_long_csv(path)?),
            None => None,
        };
        let (mut stars, mut skipped) = (Vec::new(), Vec::new());
        for row in rows {
            let id = row["id"].clone();
            let from_long = long.as_mut().map(|all| {
                all.remove(&id).unwrap_or_else(|| {
                    Err(format!(
                        "{} has no points of star {id}",
                        self.long_csv.as_ref().map_or(String::new(), |p| p.display().to_string())
                    ))
                })
            });
            match self.star(&dir, &id, &row, from_long) {
                Ok(curve) => stars.push(Star { id, row, curve }),
                Err(reason) if self.on_bad_star == OnBadStar::Skip => skipped.push(Skipped { id, reason }),
                Err(reason) => {
                    return Err(DataError::setting(
                        "on_bad_star",
                        format!("star {id}: {reason} (set on_bad_star = \"skip\" to leave such stars out)"),
                    ));
                }
            }
        }
        Ok((stars, skipped))
    }

    fn star(
        &self,
        dir: &Path,
        id: &str,
        row: &HashMap<String, String>,
        from_long: Option<Result<LightCurve, String>>,
    ) -> Result<LightCurve, String> {
        let mut curve = match from_long {
            Some(curve) => curve?,
            None => read_star_file(&dir.join(format!("{id}{}", self.suffix)), &self.columns)?,
        };
        if curve.time.len() < self.min_points {
            return Err(format!("{id}: {} points, fewer than min_points = {}", curve.time.len(), self.min_points));
        }
        if self.fold {
            let period: f64 = row["period"]
                .parse()
                .ok()
                .filter(|p: &f64| *p > 0.0)
                .ok_or_else(|| format!("period {:?} is not a positive number", row["period"]))?;
            curve.time.iter_mut().for_each(|t| *t = (*t / period).rem_euclid(1.0));
        }
        sort_by_time(&mut curve);
        Ok(curve)
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
/// named in its header. A star with an unreadable line gets that line's error instead of a curve.
pub fn read_long_csv(path: &Path) -> Result<HashMap<String, Result<LightCurve, String>>, DataError> {
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
    let mut curves: HashMap<String, Result<LightCurve, String>> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| at(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let star = record.get(id).unwrap_or("").to_string();
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

    fn config(dir: &Path) -> LightCurveFolder {
        toml::from_str(&format!("list = \"{}\"\nsuffix = \".dat\"\nmin_points = 5\n", dir.join("list.txt").display()))
            .unwrap()
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
        assert_eq!(stars[1].curve.time.len(), 12);
        let folded = LightCurveFolder { fold: true, ..config(dir.path()) }.load().unwrap().0;
        let phases = &folded[0].curve.time;
        assert!(phases.iter().all(|p| (0.0..1.0).contains(p)) && phases.windows(2).all(|w| w[0] <= w[1]));
        // Folding keeps each point's magnitude with its own time.
        let t = 3.0 * 7.0 + 0.1;
        let k = phases.iter().position(|&p| (p - (t / 0.5731f64).rem_euclid(1.0)).abs() < 1e-9).unwrap();
        let expected = 15.0 + 0.1 * (7.0 / 0.6f64).sin();
        assert!((folded[0].curve.mag[k] - expected).abs() < 1e-3, "{} vs {expected} at {k}", folded[0].curve.mag[k]);
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
        let err = LightCurveFolder { fold: true, ..config(dir.path()) }.load().unwrap_err().to_string();
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
            "list = \"{}\"\nsuffix = \".csv\"\nmin_points = 5\n",
            dir.path().join("list.txt").display()
        ))
        .unwrap();
        let (a, skipped_a) = per_star.load().unwrap();
        let long_config = LightCurveFolder { long_csv: Some(dir.path().join("all.csv")), ..per_star };
        let (b, skipped_b) = long_config.load().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a, b);
        assert_eq!(a[1].curve.mag[3], 15.03);
        assert!(skipped_a[0].reason.contains("z9.csv"), "{skipped_a:?}");
        assert!(
            skipped_b[0].reason.contains("all.csv:") && skipped_b[0].reason.contains("\"bad\" is not a number"),
            "{skipped_b:?}"
        );
    }
}
