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

/// The project's crates each crate may depend on (ARCHITECTURE.md, "Architecture invariants"):
/// dependencies point one way, models never depend on data or simulators, and the simulators
/// and catalogue facts never depend on Burn.
const ALLOWED: [(&str, &[&str]); 6] = [
    ("survey", &[]),
    ("sim", &["astro-survey"]),
    ("data", &["astro-survey", "astro-sim"]),
    ("models", &["astro-survey"]),
    ("train", &["astro-survey", "astro-sim", "astro-data", "astro-models"]),
    // The binary uses astro-train alone; its integration tests also write data with astro-data.
    ("trainer", &["astro-train", "astro-data"]),
];

/// The dependencies (all kinds) that a crate's Cargo.toml names.
fn dependencies(manifest: &Path) -> Vec<String> {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .iter()
        .filter_map(|kind| table.get(*kind).and_then(|d| d.as_table()))
        .flat_map(|deps| deps.keys().cloned())
        .collect()
}

#[test]
fn dependencies_point_one_way() {
    let crates = support::root().join("crates");
    let mut found: Vec<String> = std::fs::read_dir(&crates)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    found.sort();
    let mut listed: Vec<String> = ALLOWED.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "every crate under crates/ has its allowed dependencies in ALLOWED");
    for (name, allowed) in ALLOWED {
        let deps = dependencies(&crates.join(name).join("Cargo.toml"));
        for dep in deps.iter().filter(|d| d.starts_with("astro-")) {
            assert!(allowed.contains(&dep.as_str()), "crates/{name} depends on {dep}, against the invariant");
        }
        if ["survey", "sim"].contains(&name) {
            assert!(!deps.iter().any(|d| d.starts_with("burn")), "crates/{name} depends on Burn");
        }
    }
}

#[test]
fn library_unit_tests_name_the_cpu_device() {
    // A build with GPU features makes `Device::default()` a GPU (Mesa's software Vulkan in CI):
    // unit tests name the CPU backend every build has; the wgpu integration tests prove the GPU
    // path. Assembled so that this file does not match itself.
    let default_device = ["Device::", "default()"].concat();
    let root = support::root();
    let mut files = Vec::new();
    for dir in ["crates/survey", "crates/sim", "crates/data", "crates/models", "crates/train"] {
        rust_files(&root.join(dir), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let test_code = if file.components().any(|c| c.as_os_str() == "tests") {
            text.as_str()
        } else {
            text.find("#[cfg(test)]").map_or("", |at| &text[at..])
        };
        assert!(!test_code.contains(&default_device), "{} tests on {default_device}", file.display());
    }
}
