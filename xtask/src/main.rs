//! Project automation, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`):
//!
//! - `ci`: what CI runs: formatting, clippy with warnings denied, and the whole test suite,
//!   with the `wgpu` backend compiled in so the GPU code path is tested on Mesa's software
//!   Vulkan driver, and the `hdf5` data feature (Galaxy10 DECaLS files) against the system
//!   libhdf5; and the `cuda` backend type-checked (`cargo check`; it cannot be built without
//!   network access to GitHub; see `ci`).
//! - `bench [cargo bench args]`: the criterion benchmarks (simulator, data loading, training
//!   steps; `--features trainer/tch` adds LibTorch), then one table of each network's training
//!   and inference throughput and peak memory per backend beside PyTorch's where a PyTorch twin
//!   is committed (`bench --table`: the table alone, from the last results).
//! - `fetch NAME [--dir PATH]`: download or check a real data set (`datasets/NAME.toml`).
//!
//! Written in Rust so it runs wherever cargo runs.

mod fetch;
mod side_by_side;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// Features the CI build compiles into the trainer: the default CPU backend plus wgpu, and the
/// HDF5 reader.
const CI_FEATURES: &str = "trainer/wgpu,trainer/hdf5";

fn cargo(args: &[&str]) -> Result<()> {
    cargo_with(&[], args)
}

/// `cargo args` with the environment variables `env` set.
fn cargo_with(env: &[(&str, &str)], args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    eprintln!("$ {}cargo {}", shown.concat(), args.join(" "));
    let status = Command::new(&cargo)
        .envs(env.iter().copied())
        .args(args)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--release", "--workspace", "--all-targets", "--features", CI_FEATURES, "--", "-D", "warnings"])?;
    // The CUDA backend, type-checked without a GPU or CUDA toolkit. It cannot be built here:
    // cubecl-cuda's build dependency `tracel-llvm-bundler` downloads an LLVM bundle from GitHub
    // at build time, which machines that reach only the package registries cannot; DOCS_RS
    // makes that build script skip the download, which `check` (it links nothing) never needs.
    cargo_with(&[("DOCS_RS", "1")], &["check", "-p", "trainer", "--features", "cuda"])?;
    cargo(&["test", "--release", "--workspace", "--features", CI_FEATURES])?;
    Ok(())
}

/// The workspace's root: from the `CARGO_MANIFEST_DIR` that `cargo run` sets when it runs this
/// program, because the one compiled in names the checkout that built the binary, and a target
/// folder shared between checkouts (as `.ci/run`'s) runs a binary another checkout built.
fn workspace_root() -> PathBuf {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn bench(rest: &[String]) -> Result<()> {
    // `--table`: only the table, from the last benchmarks' saved results.
    if rest != ["--table"] {
        let mut args = vec!["bench", "--workspace"];
        args.extend(rest.iter().map(String::as_str));
        cargo(&args)?;
    }
    let root = workspace_root();
    let criterion = side_by_side::criterion_dir(&root);
    side_by_side::require(&criterion)?;
    side_by_side::print_table(&root, &criterion)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("fetch") if args.len() == 2 || (args.len() == 4 && args[2] == "--dir") => {
            let root = workspace_root();
            fetch::fetch(&root, &args[1], args.get(3).map(PathBuf::from))
        }
        _ => {
            eprintln!("usage: cargo xtask <ci | bench [cargo bench args] | bench --table | fetch NAME [--dir PATH]>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
