//! Conventions kept by `cargo test`: every Rust file opens with a `//!` header; no ignored
//! or panic-expecting tests and no placeholder macros; every experiment names its paper.

mod support;

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_has_a_header_and_no_placeholders() {
    let root = support::root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} Rust files", files.len());
    // Assembled so that this file does not match itself.
    let banned = [
        ["#[", "ignore"].concat(),
        ["should", "_panic"].concat(),
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
        assert!(first.starts_with("//!"), "{} does not open with a //! header", file.display());
        for b in &banned {
            assert!(!text.contains(b.as_str()), "{} contains {b}", file.display());
        }
    }
}

#[test]
fn every_experiment_names_its_paper_and_number() {
    for config in support::configs() {
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        let paper = &table["experiment"]["paper"];
        assert!(paper["citation"].as_str().is_some_and(|c| !c.is_empty()), "{}: no citation", config.display());
        // A benchmark without a published number says so in its note instead.
        let explained = paper.get("note").and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
        assert!(
            paper.get("value").and_then(|v| v.as_float()).is_some() || explained,
            "{}: no paper value",
            config.display()
        );
    }
}
