//! `cargo xtask fetch NAME [--dir PATH]`: gets a real data set described by
//! `datasets/NAME.toml` and checks it. Where the manifest names a download URL and the files
//! are missing, it downloads them with `curl` (and verifies the SHA-256 when the manifest
//! records one); otherwise, as for Kaggle's login-only files, it checks a copy the user placed
//! by hand: every expected file or folder present, CSV headers, row and file counts, sizes and
//! format signatures. It never trains; it says which config flags use the data.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// A `datasets/*.toml` manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Folder name under `datasets/`.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Where the data is described.
    pub source: String,
    /// A URL to download the (single) file from, or `manual`.
    pub download: String,
    /// Terms of use.
    pub licence: String,
    /// What to cite.
    pub citation: String,
    /// Size, in words.
    pub size: String,
    /// SHA-256 of the downloaded file (empty: not recorded).
    #[serde(default)]
    pub checksum: String,
    /// The experiment config that uses it.
    #[serde(default)]
    pub config: String,
    /// `--set` flags that point that config at the data.
    #[serde(default)]
    pub config_overrides: Vec<String>,
    /// What must be there.
    pub files: Vec<Expected>,
}

/// One expected file or folder, relative to the data folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Path inside the data folder.
    pub path: String,
    /// `file` (present), `csv`, `folder` or `hdf5`.
    pub kind: String,
    /// CSV: the header must start with this.
    #[serde(default)]
    pub header_starts: String,
    /// CSV: columns in the header.
    #[serde(default)]
    pub columns: Option<usize>,
    /// CSV: data rows at least.
    #[serde(default)]
    pub min_rows: Option<usize>,
    /// Folder: file extension counted.
    #[serde(default)]
    pub extension: String,
    /// Folder: files at least.
    #[serde(default)]
    pub min_count: Option<usize>,
    /// File size at least, bytes.
    #[serde(default)]
    pub min_bytes: Option<u64>,
    /// Missing is fine (e.g. the unlabelled test images).
    #[serde(default)]
    pub optional: bool,
    /// The file's SHA-256, checked when given.
    #[serde(default)]
    pub sha256: String,
}

/// The first bytes of every HDF5 file.
const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Reads `datasets/<name>.toml` under `root`.
pub fn read_manifest(root: &Path, name: &str) -> Result<Manifest> {
    let path = root.join("datasets").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).with_context(|| {
        let known: Vec<String> = std::fs::read_dir(root.join("datasets"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(String::from))
                    .filter(|n| n != "README")
                    .collect()
            })
            .unwrap_or_default();
        format!("no manifest {} (known: {})", path.display(), known.join(", "))
    })?;
    toml::from_str(&text).with_context(|| format!("{}: not a valid manifest", path.display()))
}

/// Checks one expected entry; returns a line describing what was found.
pub fn check(dir: &Path, e: &Expected) -> Result<Option<String>> {
    let path = dir.join(&e.path);
    if !path.exists() {
        if e.optional {
            return Ok(None);
        }
        bail!("{} is missing", path.display());
    }
    let line = check_kind(&path, e)?;
    if e.sha256.is_empty() {
        return Ok(Some(line));
    }
    let got = sha256(&path)?;
    if got != e.sha256 {
        bail!(
            "{}: SHA-256 {got} does not match the manifest's {} (another version of the file?)",
            path.display(),
            e.sha256
        );
    }
    Ok(Some(format!("{line}, SHA-256 ok")))
}

/// Checks what `e.kind` says of the file or folder at `path`; returns what was found.
fn check_kind(path: &Path, e: &Expected) -> Result<String> {
    match e.kind.as_str() {
        "file" => Ok(format!("{}: {} bytes", e.path, std::fs::metadata(path)?.len())),
        "csv" => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            if !header.starts_with(&e.header_starts) {
                bail!("{}: header should start with {:?}, found {:?}", path.display(), e.header_starts, header);
            }
            let columns = header.split(',').count();
            if let Some(expected) = e.columns
                && columns != expected
            {
                bail!("{}: {columns} columns in the header, expected {expected}", path.display());
            }
            let rows = lines.filter(|l| !l.trim().is_empty()).count();
            if let Some(min) = e.min_rows
                && rows < min
            {
                bail!("{}: {rows} data rows, expected at least {min} (incomplete copy?)", path.display());
            }
            Ok(format!("{}: {rows} rows, {columns} columns", e.path))
        }
        "folder" => {
            let count = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|entry| entry.ok())
                .filter(|entry| entry.path().extension().is_some_and(|x| x.eq_ignore_ascii_case(&e.extension)))
                .count();
            if let Some(min) = e.min_count
                && count < min
            {
                bail!("{}: {count} .{} files, expected at least {min} (incomplete copy?)", path.display(), e.extension);
            }
            Ok(format!("{}: {count} .{} files", e.path, e.extension))
        }
        "hdf5" => {
            let bytes = std::fs::metadata(path)?.len();
            let mut head = [0u8; 8];
            use std::io::Read;
            std::fs::File::open(path)?.read_exact(&mut head).ok();
            if head != HDF5_SIGNATURE {
                bail!("{} is not an HDF5 file (no HDF5 signature)", path.display());
            }
            if let Some(min) = e.min_bytes
                && bytes < min
            {
                bail!("{}: {bytes} bytes, expected at least {min} (interrupted download?)", path.display());
            }
            Ok(format!("{}: HDF5, {bytes} bytes", e.path))
        }
        other => bail!("unknown kind {other:?} for {} (file, csv, folder or hdf5)", e.path),
    }
}

fn sha256(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum").arg(path).output().context("cannot run sha256sum")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().map(String::from).context("sha256sum printed nothing")
}

fn download(url: &str, target: &Path) -> Result<()> {
    eprintln!("downloading {url}\n         to {}", target.display());
    let partial = target.with_extension("part");
    let status = Command::new("curl")
        .args(["-fL", "--retry", "3", "-C", "-", "-o"])
        .arg(&partial)
        .arg(url)
        .status()
        .context("cannot run curl")?;
    if !status.success() {
        bail!("download failed ({status}); is there network access? Place the file by hand at {}", target.display());
    }
    std::fs::rename(&partial, target)?;
    Ok(())
}

/// Runs `fetch` for `name`, with the data folder `dir` (default `datasets/<name>/`).
pub fn fetch(root: &Path, name: &str, dir: Option<PathBuf>) -> Result<()> {
    let m = read_manifest(root, name)?;
    let dir = dir.unwrap_or_else(|| root.join("datasets").join(&m.name));
    println!("{} ({})\n  licence: {}\n  cite: {}\n  size: {}", m.title, m.source, m.licence, m.citation, m.size);
    let missing: Vec<&Expected> = m.files.iter().filter(|e| !e.optional && !dir.join(&e.path).exists()).collect();
    if !missing.is_empty() {
        if m.download == "manual" {
            bail!(
                "missing from {}: {}; this data set must be downloaded by hand (see {}), then unpacked there",
                dir.display(),
                missing.iter().map(|e| e.path.as_str()).collect::<Vec<_>>().join(", "),
                root.join("datasets").join(format!("{name}.toml")).display()
            );
        }
        let [only] = missing.as_slice() else {
            bail!("a download URL serves one file, but {} are missing", missing.len())
        };
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(&only.path);
        download(&m.download, &target)?;
        if !m.checksum.is_empty() {
            let got = sha256(&target)?;
            if got != m.checksum {
                bail!("{}: SHA-256 {got} does not match the manifest's {}", target.display(), m.checksum);
            }
            println!("  checksum ok");
        }
    }
    for e in &m.files {
        if let Some(line) = check(&dir, e)? {
            println!("  ok  {line}");
        }
    }
    if m.checksum.is_empty() && m.files.iter().all(|e| e.sha256.is_empty()) {
        println!("  (no checksum recorded in the manifest: contents checked, not hashed)");
    }
    if !m.config.is_empty() {
        let flags: Vec<String> = m.config_overrides.iter().map(|o| format!("--set {o}")).collect();
        println!("train on it:\n  cargo run --release -p trainer -- --config {} {}", m.config, flags.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_a_placed_copy_is_checked() {
        // Cargo sets the variable when it runs the test too: a test binary built in another
        // checkout that shares the target folder still looks at this one.
        let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let root = Path::new(&manifest).parent().unwrap();
        for name in ["galaxy_zoo2", "galaxy10_decals", "lens_challenge", "ackermann_mergers", "rrlyrae_gaia_g"] {
            let m = read_manifest(root, name).unwrap();
            assert_eq!(m.name, name);
        }
        let dir = std::env::temp_dir().join(format!("xtask-fetch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("imgs")).unwrap();
        std::fs::write(dir.join("t.csv"), "GalaxyID,Class1.1\n1,0.5\n2,0.25\n").unwrap();
        std::fs::write(dir.join("imgs/1.jpg"), b"x").unwrap();
        let csv = Expected {
            path: "t.csv".into(),
            kind: "csv".into(),
            header_starts: "GalaxyID,".into(),
            columns: Some(2),
            min_rows: Some(2),
            extension: String::new(),
            min_count: None,
            min_bytes: None,
            optional: false,
            sha256: String::new(),
        };
        assert_eq!(check(&dir, &csv).unwrap().unwrap(), "t.csv: 2 rows, 2 columns");
        let too_many = Expected { min_rows: Some(3), ..csv };
        assert!(check(&dir, &too_many).unwrap_err().to_string().contains("2 data rows, expected at least 3"));
        let folder = Expected {
            path: "imgs".into(),
            kind: "folder".into(),
            header_starts: String::new(),
            columns: None,
            min_rows: None,
            extension: "jpg".into(),
            min_count: Some(2),
            min_bytes: None,
            optional: false,
            sha256: String::new(),
        };
        assert!(check(&dir, &folder).unwrap_err().to_string().contains("1 .jpg files, expected at least 2"));
        // A file's SHA-256 (computed by hand with sha256sum), right and wrong.
        let hashed = Expected {
            path: "t.csv".into(),
            kind: "file".into(),
            sha256: "891dc62fd3dc4f3b8f132d41091a9b28f28f70a2edef571e321a4360f6fc3bca".into(),
            ..folder.clone()
        };
        assert_eq!(check(&dir, &hashed).unwrap().unwrap(), "t.csv: 31 bytes, SHA-256 ok");
        let wrong = Expected { sha256: "0".repeat(64), ..hashed };
        assert!(check(&dir, &wrong).unwrap_err().to_string().contains("does not match the manifest's 000"));
        let absent = Expected { path: "nope".into(), optional: true, ..folder };
        assert!(check(&dir, &absent).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
