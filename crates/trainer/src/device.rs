//! Backends and devices: the only place in the workspace that names a backend. Which backends
//! exist is decided by this crate's cargo features; `--device` picks among them.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// The backends compiled into this binary, best first (GPUs before CPUs).
pub fn compiled() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    if cfg!(feature = "metal") {
        names.push("metal");
    }
    if cfg!(feature = "wgpu") {
        names.extend(["wgpu", "wgpu-cpu"]);
    }
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "tch") {
        names.extend(["tch", "tch-cuda"]);
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    names
}

/// The device `--device` names when it is not given: the first compiled in, except that the
/// software `wgpu-cpu` and the opt-in LibTorch devices are never a default, and `wgpu` is one
/// only where it finds a GPU (without one it runs on Mesa's software Vulkan, several times
/// slower than `flex`; then `flex` where it is compiled in).
pub fn default_name() -> &'static str {
    let candidates: Vec<&str> =
        compiled().into_iter().filter(|n| !["wgpu-cpu", "tch", "tch-cuda"].contains(n)).collect();
    let usable = candidates.iter().copied().find(|n| *n != "wgpu" || wgpu_finds_a_gpu());
    usable.or(candidates.first().copied()).unwrap_or("flex")
}

/// Whether wgpu sees an adapter that is not a CPU (a software renderer such as lavapipe).
#[cfg(feature = "wgpu")]
fn wgpu_finds_a_gpu() -> bool {
    let instance = wgpu::Instance::default();
    let adapters = futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters.iter().any(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
}
#[cfg(not(feature = "wgpu"))]
fn wgpu_finds_a_gpu() -> bool {
    false
}

// Unused only in a build with every backend compiled in.
#[allow(dead_code)]
fn missing(name: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "device `{name}` needs the `{feature}` backend, which this binary was built without; rebuild with `cargo run --release -p trainer --features {feature} -- ...` (compiled in: {})",
        compiled().join(", ")
    )
}

/// Whether the backend evaluates sigmoid, tanh and exp one element at a time (Burn's CPU
/// backends), where the recurrent cells' rational gate functions are faster (`gate_functions =
/// "auto"`): 1.8 times on `flex`; on LibTorch they were 0.3-0.7 times the backend's own.
pub fn has_scalar_transcendentals(backend: &str) -> bool {
    matches!(backend, "flex" | "ndarray")
}

/// Whether training steps run as two concurrent half batches on the backend (Burn's CPU
/// backends, where about half of a step runs on one core; `astro_train::fit::halves`): on 2
/// cores the bench's steps went 1.1-1.3 times (`galaxy_cnn`) to 1.6 times (`rrlyrae_rnn`) as
/// fast. GPU backends step whole batches.
pub fn steps_in_half_batches(backend: &str) -> bool {
    matches!(backend, "flex" | "ndarray")
}

/// The backend family of a device name (`cuda:1` is `cuda`).
pub fn backend_of(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// Parses one device name: `flex`, `ndarray`, `wgpu`, `wgpu-cpu`, `cuda[:N]`, `metal`, `tch`
/// (LibTorch on the CPU), `tch-cuda[:N]`.
pub fn parse(name: &str) -> Result<Device> {
    let (backend, index) = match name.split_once(':') {
        Some((b, i)) => {
            let i: usize = i.parse().map_err(|_| anyhow::anyhow!("device `{name}`: `{i}` is not a device index"))?;
            (b, Some(i))
        }
        None => (name, None),
    };
    if index.is_some() && !["cuda", "tch-cuda"].contains(&backend) {
        bail!("device `{name}`: only cuda devices take an index (cuda:0, cuda:1, tch-cuda:0, ...)");
    }
    match backend {
        "flex" => flex(name),
        "ndarray" => ndarray(name),
        "wgpu" => wgpu(name, false),
        "wgpu-cpu" => wgpu(name, true),
        "cuda" => cuda(name, index.unwrap_or(0)),
        "metal" => metal(name),
        "tch" => tch(name, None),
        "tch-cuda" => tch(name, Some(index.unwrap_or(0))),
        other => {
            bail!("unknown device `{other}`: use flex, ndarray, wgpu, wgpu-cpu, cuda[:N], metal, tch or tch-cuda[:N]")
        }
    }
}

// One constructor per backend, each compiled to an error where its feature is off.

#[cfg(feature = "flex")]
fn flex(_name: &str) -> Result<Device> {
    Ok(Device::flex())
}
#[cfg(not(feature = "flex"))]
fn flex(name: &str) -> Result<Device> {
    Err(missing(name, "flex"))
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // kept on purpose, to compare with flex
fn ndarray(_name: &str) -> Result<Device> {
    Ok(Device::ndarray())
}
#[cfg(not(feature = "ndarray"))]
fn ndarray(name: &str) -> Result<Device> {
    Err(missing(name, "ndarray"))
}

#[cfg(feature = "wgpu")]
fn wgpu(_name: &str, software: bool) -> Result<Device> {
    use burn::tensor::DeviceKind;
    Ok(Device::wgpu(if software { DeviceKind::Cpu } else { DeviceKind::DefaultDevice }))
}
#[cfg(not(feature = "wgpu"))]
fn wgpu(name: &str, _software: bool) -> Result<Device> {
    Err(missing(name, "wgpu"))
}

#[cfg(feature = "cuda")]
fn cuda(_name: &str, index: usize) -> Result<Device> {
    Ok(Device::cuda(index))
}
#[cfg(not(feature = "cuda"))]
fn cuda(name: &str, _index: usize) -> Result<Device> {
    Err(missing(name, "cuda"))
}

#[cfg(feature = "metal")]
fn metal(_name: &str) -> Result<Device> {
    Ok(Device::metal(burn::tensor::DeviceKind::DefaultDevice))
}
#[cfg(not(feature = "metal"))]
fn metal(name: &str) -> Result<Device> {
    Err(missing(name, "metal"))
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // Burn marks its LibTorch backend deprecated; it is the PyTorch-kernel comparison
fn tch(_name: &str, cuda: Option<usize>) -> Result<Device> {
    Ok(match cuda {
        None => Device::libtorch(),
        Some(index) => Device::libtorch_cuda(index),
    })
}
#[cfg(not(feature = "tch"))]
fn tch(name: &str, _cuda: Option<usize>) -> Result<Device> {
    Err(missing(name, "tch"))
}

/// The devices to use: `--device` (comma-separated) if given, else the config's
/// `[hardware] devices`, else the default. Several devices must share one backend. Also sets
/// what the recurrent cells' `gate_functions = "auto"` means for that backend.
pub fn resolve(flag: Option<&str>, config: &[String]) -> Result<(String, Vec<String>, Vec<Device>)> {
    let names: Vec<String> = match flag {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None if !config.is_empty() => config.to_vec(),
        None => vec![default_name().to_string()],
    };
    let Some(first) = names.first() else {
        bail!("--device names no device: give one or more of {}, separated by commas", compiled().join(", "));
    };
    let backend = backend_of(first).to_string();
    if let Some(other) = names.iter().find(|n| backend_of(n) != backend) {
        bail!("devices `{first}` and `{other}` are different backends; data-parallel training needs one backend");
    }
    let devices = names.iter().map(|n| parse(n)).collect::<Result<Vec<_>>>()?;
    astro_train::set_auto_gate_functions(has_scalar_transcendentals(&backend));
    astro_train::set_host_elu(has_scalar_transcendentals(&backend));
    // `flex` and `ndarray` have no batch-norm kernel: Burn's default form copies the activation.
    astro_train::set_copy_free_batch_norm(has_scalar_transcendentals(&backend));
    Ok((backend, names, devices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_device_is_never_a_software_renderer() {
        // On a machine without a GPU (CI: wgpu finds only Mesa's lavapipe) the default is a
        // native CPU backend, not wgpu on the software Vulkan driver.
        let name = default_name();
        assert_ne!(name, "wgpu-cpu");
        if name == "wgpu" {
            assert!(wgpu_finds_a_gpu(), "wgpu is the default without a GPU");
        }
        if cfg!(feature = "flex") && !wgpu_finds_a_gpu() && !cfg!(any(feature = "cuda", feature = "metal")) {
            assert_eq!(name, "flex");
        }
    }
}
