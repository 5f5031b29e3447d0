//! Catalogues of targets: a CSV file with a header, one id column and numeric target columns,
//! like the Kaggle Galaxy Zoo 2 `training_solutions_rev1.csv` (`GalaxyID,Class1.1,...`).

use std::path::{Path, PathBuf};

use crate::error::DataError;

/// The rows of a catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// The file it was read from.
    pub path: PathBuf,
    /// Names of the target columns, in order.
    pub target_names: Vec<String>,
    /// `(id, targets)` per row.
    pub rows: Vec<(String, Vec<f32>)>,
}

/// Opens a CSV file with a header (fields trimmed) and reads the header; errors name `what`
/// the file is meant to be and, for the header, its line.
pub(crate) fn open_csv(
    path: &Path,
    what: &'static str,
) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord), DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { what, path: path.to_path_buf(), source })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(file);
    let header = reader
        .headers()
        .map_err(|e| DataError::Catalogue {
            path: path.to_path_buf(),
            line: 1,
            message: format!("cannot read the header: {e}"),
        })?
        .clone();
    Ok((reader, header))
}

impl Catalogue {
    /// Reads `path`: the first column is the id, every other column a finite number.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        Self::read_columns(path, None)
    }

    /// Reads `path`: the first column is the id; the targets are the columns named in
    /// `columns` (finite numbers; other columns may hold anything), or every other column.
    pub fn read_columns(path: &Path, columns: Option<&[String]>) -> Result<Self, DataError> {
        let (mut reader, header) = open_csv(path, "catalogue")?;
        let at = |line: u64, message: String| DataError::Catalogue { path: path.to_path_buf(), line, message };
        if header.len() < 2 {
            return Err(at(1, "the header needs an id column and at least one target column".into()));
        }
        let (target_names, places): (Vec<String>, Vec<usize>) = match columns {
            None => header.iter().enumerate().skip(1).map(|(k, h)| (h.to_string(), k)).unzip(),
            Some(wanted) => {
                let mut places = Vec::new();
                for name in wanted {
                    let k = header.iter().skip(1).position(|h| h == name).ok_or_else(|| {
                        let names: Vec<&str> = header.iter().skip(1).collect();
                        at(1, format!("no column `{name}`; the columns after the id are {}", names.join(", ")))
                    })?;
                    places.push(k + 1);
                }
                (wanted.to_vec(), places)
            }
        };
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                at(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let id = record.get(0).unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(at(line, "the id column is empty".into()));
            }
            let mut targets = Vec::with_capacity(target_names.len());
            if record.len() < header.len() {
                return Err(at(line, format!("{} fields, but the header has {}", record.len(), header.len())));
            }
            for (name, field) in target_names.iter().zip(places.iter().map(|&k| record.get(k).unwrap_or_default())) {
                let value: f32 = field
                    .parse()
                    .ok()
                    .filter(|v: &f32| v.is_finite())
                    .ok_or_else(|| at(line, format!("column `{name}` is `{field}`, not a finite number")))?;
                targets.push(value);
            }
            rows.push((id, targets));
        }
        if rows.is_empty() {
            return Err(at(1, "the catalogue has a header but no rows".into()));
        }
        Ok(Self { path: path.to_path_buf(), target_names, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cat.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_ids_and_targets() {
        let (_dir, path) = write("GalaxyID,Class1.1,Class1.2\n100008,0.38,0.62\n100023, 0.5 ,0.5\n");
        let cat = Catalogue::read(&path).unwrap();
        assert_eq!(cat.target_names, ["Class1.1", "Class1.2"]);
        assert_eq!(cat.rows[1], ("100023".to_string(), vec![0.5, 0.5]));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let (_dir, path) = write("id,a,b\n1,0.1,0.2\n2,0.3,oops\n");
        let err = Catalogue::read(&path).unwrap_err().to_string();
        assert_eq!(err, format!("{}:3: column `b` is `oops`, not a finite number", path.display()));
        let (_dir, path) = write("id,a,b\n1,0.1\n");
        let err = Catalogue::read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2:", path.display())), "{err}");
        let (_dir, path) = write("id,a\n");
        assert!(Catalogue::read(&path).unwrap_err().to_string().contains("no rows"));
        let (_dir, path) = write("id,path,a\n1,x.png,0.5\n");
        let cat = Catalogue::read_columns(&path, Some(&["a".to_string()])).unwrap();
        assert_eq!(cat.rows[0], ("1".to_string(), vec![0.5]));
        let err = Catalogue::read_columns(&path, Some(&["b".to_string()])).unwrap_err().to_string();
        assert!(err.ends_with("no column `b`; the columns after the id are path, a"), "{err}");
        let err = Catalogue::read(Path::new("/no/such/cat.csv")).unwrap_err().to_string();
        assert!(err.starts_with("cannot read catalogue /no/such/cat.csv"), "{err}");
    }
}
