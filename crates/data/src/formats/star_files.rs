//! Where the per-star light-curve files are: a folder (each file plain or gzipped, `<name>` or
//! `<name>.gz`), or a tar archive (`.tar`, `.tar.gz`, `.tgz`) read once into memory, its files
//! found by their base name wherever they sit inside it (the papers' archives hold one folder).
//! A folder that does not exist is looked for as an archive of the same name.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::DataError;

/// The per-star files of a list.
#[derive(Debug)]
pub enum StarFiles {
    /// A folder of files.
    Folder(PathBuf),
    /// The wanted files of an archive, by base name.
    Archive {
        /// The archive.
        path: PathBuf,
        /// Base name -> contents.
        files: HashMap<String, Vec<u8>>,
    },
}

/// The archive extensions tried after a folder name that does not exist.
const ARCHIVE_EXTENSIONS: [&str; 3] = ["tar.gz", "tgz", "tar"];

fn is_archive(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    ARCHIVE_EXTENSIONS.iter().any(|ext| name.ends_with(&format!(".{ext}")))
}

impl StarFiles {
    /// Opens `dir`: a folder, an archive, or (when `dir` does not exist) `dir.tar.gz`,
    /// `dir.tgz` or `dir.tar`. From an archive only the files named in `wanted` are kept.
    pub fn open(dir: &Path, wanted: &HashSet<String>) -> Result<Self, DataError> {
        if dir.is_dir() {
            return Ok(Self::Folder(dir.to_path_buf()));
        }
        let archive = if is_archive(dir) && dir.is_file() {
            Some(dir.to_path_buf())
        } else {
            ARCHIVE_EXTENSIONS.iter().map(|ext| PathBuf::from(format!("{}.{ext}", dir.display()))).find(|p| p.is_file())
        };
        match archive {
            Some(path) => {
                let files = read_archive(&path, wanted)?;
                Ok(Self::Archive { path, files })
            }
            None => Err(DataError::Io {
                what: "folder of light-curve files",
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "neither a folder nor an archive ({})",
                        ARCHIVE_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
                    ),
                ),
            }),
        }
    }

    /// Whether `dir` is there to open: a folder, an archive, or an archive of its name.
    pub fn is_there(dir: &Path) -> bool {
        dir.is_dir()
            || (is_archive(dir) && dir.is_file())
            || ARCHIVE_EXTENSIONS.iter().any(|ext| PathBuf::from(format!("{}.{ext}", dir.display())).is_file())
    }

    /// The text of file `name` (a `name.gz` beside a missing `name` is decompressed), and
    /// how to name it in messages.
    pub fn read(&self, name: &str) -> Result<(String, String), String> {
        match self {
            Self::Folder(dir) => {
                let path = dir.join(name);
                let zipped = dir.join(format!("{name}.gz"));
                if !path.exists() && zipped.is_file() {
                    let bytes = std::fs::read(&zipped).map_err(|e| format!("{}: {e}", zipped.display()))?;
                    let text = gunzip(&bytes).map_err(|e| format!("{}: {e}", zipped.display()))?;
                    return Ok((text, zipped.display().to_string()));
                }
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok((text, path.display().to_string()))
            }
            Self::Archive { path, files } => {
                let label = format!("{}:{name}", path.display());
                let bytes = files.get(name).ok_or_else(|| format!("{} holds no file {name}", path.display()))?;
                let text = String::from_utf8(bytes.clone()).map_err(|_| format!("{label}: not UTF-8 text"))?;
                Ok((text, label))
            }
        }
    }
}

fn gunzip(bytes: &[u8]) -> Result<String, String> {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).map_err(|e| format!("cannot decompress: {e}"))?;
    Ok(text)
}

/// The files of a tar archive (gzipped or not) whose base names are in `wanted`.
fn read_archive(path: &Path, wanted: &HashSet<String>) -> Result<HashMap<String, Vec<u8>>, DataError> {
    let fail = |message: String| DataError::Io {
        what: "archive of light-curve files",
        path: path.to_path_buf(),
        source: std::io::Error::other(message),
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        what: "archive of light-curve files",
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let reader: Box<dyn Read> =
        if name.ends_with(".tar") { Box::new(file) } else { Box::new(GzDecoder::new(std::io::BufReader::new(file))) };
    let mut archive = tar::Archive::new(reader);
    let mut files = HashMap::new();
    let entries = archive.entries().map_err(|e| fail(format!("not a readable tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("not a readable tar archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let base = entry
            .path()
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_default();
        if wanted.contains(&base) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read {base} from it: {e}")))?;
            files.insert(base, bytes);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn wanted(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn tar_gz(path: &Path, files: &[(&str, &str)]) {
        let gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::default());
        let mut builder = tar::Builder::new(gz);
        for (name, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, text.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn an_archive_stands_in_for_a_missing_folder_and_keeps_only_wanted_files() {
        let dir = tempfile::tempdir().unwrap();
        tar_gz(
            &dir.path().join("curves.tar.gz"),
            &[("curves/", ""), ("curves/a.dat", "0.1 15\n"), ("curves/b.dat", "x")],
        );
        let files = StarFiles::open(&dir.path().join("curves"), &wanted(&["a.dat", "c.dat"])).unwrap();
        let (text, label) = files.read("a.dat").unwrap();
        assert_eq!(text, "0.1 15\n");
        assert!(label.ends_with("curves.tar.gz:a.dat"), "{label}");
        let err = files.read("b.dat").unwrap_err();
        assert!(err.contains("holds no file b.dat"), "{err}");
        // Named directly, the archive reads the same.
        let direct = StarFiles::open(&dir.path().join("curves.tar.gz"), &wanted(&["a.dat"])).unwrap();
        assert_eq!(direct.read("a.dat").unwrap().0, "0.1 15\n");
    }

    #[test]
    fn gzipped_files_in_a_folder_read_as_text_and_missing_places_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = GzEncoder::new(std::fs::File::create(dir.path().join("a.dat.gz")).unwrap(), Compression::fast());
        gz.write_all(b"0.2 16\n").unwrap();
        gz.finish().unwrap();
        let files = StarFiles::open(dir.path(), &wanted(&[])).unwrap();
        assert_eq!(files.read("a.dat").unwrap().0, "0.2 16\n");
        assert!(files.read("b.dat").unwrap_err().contains("b.dat"));
        let err = StarFiles::open(&dir.path().join("nowhere"), &wanted(&[])).unwrap_err().to_string();
        assert!(err.contains("nowhere") && err.contains("neither a folder nor an archive"), "{err}");
        std::fs::write(dir.path().join("bad.tar.gz"), b"not gzip").unwrap();
        let err = StarFiles::open(&dir.path().join("bad.tar.gz"), &wanted(&[])).unwrap_err().to_string();
        assert!(err.contains("bad.tar.gz") && err.contains("not a readable tar archive"), "{err}");
    }
}
