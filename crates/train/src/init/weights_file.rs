//! Weights written by PyTorch, mapped onto a model by name: a SafeTensors file or a `.pth` /
//! `.pt` state dict (e.g. a torchvision ResNet-18's). Burn's importer transposes linear weights
//! and renames BatchNorm's `weight`/`bias`; torchvision's ResNet names (`layer1` ... `layer4`,
//! `downsample.0` / `.1`) become this project's (`layers.0` ..., `downsample.conv` / `.bn`).
//!
//! Every tensor of the model must come from the file and every tensor of the file must be used,
//! except the head (the output layer, and a ResNet's dense head) when the file's is another shape
//! or absent (then the whole head is fresh, for this task) and BatchNorm's
//! `num_batches_tracked` counters; anything else is an error that lists the missing and the
//! unexpected names.

use std::path::Path;

use astro_models::Model;
use burn_store::{ApplyError, ApplyResult, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use crate::error::RunError;

/// torchvision's ResNet names -> this project's.
const TORCHVISION_NAMES: [(&str, &str); 6] = [
    (r"^layer1\.", "layers.0."),
    (r"^layer2\.", "layers.1."),
    (r"^layer3\.", "layers.2."),
    (r"^layer4\.", "layers.3."),
    (r"\.downsample\.0\.", ".downsample.conv."),
    (r"\.downsample\.1\.", ".downsample.bn."),
];

/// How many names an error lists.
const SHOWN: usize = 12;

/// What [`load_weights`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// One line saying what was loaded from where.
    pub what: String,
    /// Whether the head is not the file's (another shape, or absent there): the caller gives
    /// the model a fresh one ([`Model::with_head_of`]).
    pub fresh_head: bool,
}

/// Loads `path` into `model`; `key` is the entry of a `.pth` file holding the state dict
/// (`state_dict`, `model`), when it is not the top level.
pub fn load_weights(model: &mut Model, path: &Path, key: Option<&str>) -> Result<Loaded, RunError> {
    let bad = |problem: String| RunError::Run(format!("init.weights: {}: {problem}", path.display()));
    if !path.is_file() {
        return Err(bad("no such file".into()));
    }
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let result: ApplyResult = match extension.as_str() {
        "safetensors" => {
            let mut store = TORCHVISION_NAMES
                .iter()
                .fold(SafetensorsStore::from_file(path), |s, (from, to)| s.with_key_remapping(from, *to))
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            model.load_from(&mut store).map_err(|e| bad(e.to_string()))?
        }
        "pth" | "pt" => {
            let mut store = TORCHVISION_NAMES
                .iter()
                .fold(PytorchStore::from_file(path), |s, (from, to)| s.with_key_remapping(from, *to))
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            if let Some(key) = key {
                store = store.with_top_level_key(key);
            }
            model.load_from(&mut store).map_err(|e| bad(e.to_string()))?
        }
        other => return Err(bad(format!("unknown weights format {other:?}: give a .safetensors, .pth or .pt file"))),
    };
    let head = model.head_layers();
    let in_head = |p: &str| head.iter().any(|h| p.starts_with(&format!("{h}.")));
    let mismatched: Vec<String> = result
        .errors
        .iter()
        .map(|e| match e {
            ApplyError::ShapeMismatch { path, expected, found } => {
                format!("{path} (model {:?}, file {:?})", expected, found)
            }
            other => other.to_string(),
        })
        .collect();
    let fresh_head = result.errors.iter().any(|e| matches!(e, ApplyError::ShapeMismatch { path, .. } if in_head(path)))
        || result.missing.iter().any(|(p, _)| in_head(p));
    let other_errors: Vec<&String> = mismatched.iter().filter(|m| !in_head(m)).collect();
    let missing: Vec<&String> = result.missing.iter().map(|(p, _)| p).filter(|p| !(fresh_head && in_head(p))).collect();
    let unexpected: Vec<&String> = result.unused.iter().filter(|p| !p.ends_with("num_batches_tracked")).collect();
    if !other_errors.is_empty() || !missing.is_empty() || !unexpected.is_empty() {
        let list = |v: &[&String]| {
            let shown: Vec<&str> = v.iter().take(SHOWN).map(|s| s.as_str()).collect();
            let more = v.len().saturating_sub(SHOWN);
            if more > 0 { format!("{shown:?} and {more} more") } else { format!("{shown:?}") }
        };
        // A checkpoint that nests the state dict names every tensor `<entry>.<name>`.
        let first = unexpected.first().and_then(|n| n.split_once('.')).map(|(entry, _)| entry);
        let hint = match first {
            Some(entry) if !missing.is_empty() && unexpected.iter().all(|n| n.starts_with(&format!("{entry}."))) => {
                format!(" (the file nests its tensors under {entry:?}: set init.weights_key = {entry:?})")
            }
            _ => String::new(),
        };
        return Err(bad(format!(
            "the names do not match this model: {} missing from the file {}; {} in the file but not in the model {}; {} of another shape {}{hint}",
            missing.len(),
            list(&missing),
            unexpected.len(),
            list(&unexpected),
            other_errors.len(),
            list(&other_errors)
        )));
    }
    let head_note = if fresh_head {
        format!("; a fresh head ({}): the file's is another shape or absent", head.join(", "))
    } else {
        String::new()
    };
    Ok(Loaded { what: format!("{} tensors from {}{head_note}", result.applied.len(), path.display()), fresh_head })
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_models::resnet::units::Unit;
    use astro_models::{FeatureShape, ModelConfig};
    use burn::tensor::{Device, Tensor};

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/resnet18_tiny.safetensors");

    fn tiny_resnet18(widths: &str, outputs: usize) -> Model {
        let config: ModelConfig = toml::from_str(&format!(
            "kind = \"resnet\"\npreset = \"resnet18\"\nstem_channels = 4\nwidths = {widths}\n"
        ))
        .unwrap();
        config.init(FeatureShape::Image { channels: 3, height: 32, width: 32 }, outputs, &Device::flex()).unwrap()
    }

    fn at<const D: usize>(t: Tensor<D>, index: [usize; D]) -> f64 {
        let dims = t.dims();
        let flat = index.iter().zip(dims).fold(0, |acc, (i, d)| acc * d + i);
        f64::from(t.into_data().try_to_vec::<f32>().unwrap()[flat])
    }

    fn expected() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/resnet18_tiny_expected.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_torchvision_state_dict_maps_onto_resnet18_by_name() {
        let mut model = tiny_resnet18("[4, 8, 8, 8]", 5);
        let what = load_weights(&mut model, Path::new(FIXTURE), None).unwrap().what;
        assert!(what.starts_with("102 tensors from"), "{what}");
        let e = expected();
        let Model::Resnet(r) = &model else { unreachable!() };
        let Unit::Basic(b) = &r.layers[1][0] else { unreachable!() };
        let down = b.downsample.as_ref().unwrap();
        let Unit::Basic(last) = &r.layers[3][1] else { unreachable!() };
        let checks = [
            ("conv1.weight[1,2,3,4]", at(r.conv1.weight.val(), [1, 2, 3, 4])),
            ("bn1.weight[2]", at(r.bn1.gamma.val(), [2])),
            ("bn1.running_var[3]", at(r.bn1.running_var.value(), [3])),
            ("layer2.0.downsample.0.weight[5,3,0,0]", at(down.conv.weight.val(), [5, 3, 0, 0])),
            ("layer2.0.downsample.1.bias[6]", at(down.bn.beta.val(), [6])),
            ("layer4.1.conv2.weight[7,6,2,1]", at(last.conv2.weight.val(), [7, 6, 2, 1])),
            // PyTorch stores linear weights [out, in]; Burn [in, out].
            ("fc.weight[4,7]", at(r.fc.weight.val(), [7, 4])),
            ("fc.bias[3]", at(r.fc.bias.as_ref().unwrap().val(), [3])),
        ];
        for (name, got) in checks {
            let want = e[name].as_f64().unwrap();
            assert!((got - want).abs() < 1e-7, "{name}: {got} vs {want}");
        }
    }

    #[test]
    fn a_pth_checkpoint_loads_the_same_weights_from_its_state_dict_entry() {
        let pth = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/resnet18_tiny.pth");
        let mut from_pth = tiny_resnet18("[4, 8, 8, 8]", 5);
        let what = load_weights(&mut from_pth, Path::new(pth), Some("state_dict")).unwrap().what;
        assert!(what.starts_with("102 tensors from"), "{what}");
        let mut from_safetensors = tiny_resnet18("[4, 8, 8, 8]", 5);
        load_weights(&mut from_safetensors, Path::new(FIXTURE), None).unwrap();
        let (Model::Resnet(a), Model::Resnet(b)) = (&from_pth, &from_safetensors) else { unreachable!() };
        assert_eq!(a.conv1.weight.val().into_data(), b.conv1.weight.val().into_data());
        assert_eq!(a.fc.weight.val().into_data(), b.fc.weight.val().into_data());
        assert_eq!(a.bn1.running_mean.value().into_data(), b.bn1.running_mean.value().into_data());
        let err = load_weights(&mut tiny_resnet18("[4, 8, 8, 8]", 5), Path::new(pth), None).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("(the file nests its tensors under \"state_dict\": set init.weights_key = \"state_dict\")"),
            "{err}"
        );
    }

    #[test]
    fn loaded_weights_still_train() {
        let device = Device::flex().autodiff();
        let config: ModelConfig =
            toml::from_str("kind = \"resnet\"\npreset = \"resnet18\"\nstem_channels = 4\nwidths = [4, 8, 8, 8]\n")
                .unwrap();
        let mut model = config.init(FeatureShape::Image { channels: 3, height: 32, width: 32 }, 5, &device).unwrap();
        load_weights(&mut model, Path::new(FIXTURE), None).unwrap();
        let grads = model.forward(Tensor::ones([1, 3, 32, 32], &device)).sum().backward();
        let Model::Resnet(r) = &model else { unreachable!() };
        assert!(r.conv1.weight.val().grad(&grads).is_some(), "the loaded stem gets a gradient");
        assert!(r.fc.weight.val().grad(&grads).is_some(), "the loaded head gets a gradient");
    }

    #[test]
    fn another_output_count_gets_a_fresh_head_and_other_bodies_are_refused() {
        let mut model = tiny_resnet18("[4, 8, 8, 8]", 2);
        let loaded = load_weights(&mut model, Path::new(FIXTURE), None).unwrap();
        assert!(loaded.fresh_head, "{loaded:?}");
        assert!(loaded.what.ends_with("a fresh head (fc): the file's is another shape or absent"), "{loaded:?}");
        // A dense head the file lacks is fresh too, and the body still loads.
        let headed: ModelConfig = toml::from_str(
            "kind = \"resnet\"\npreset = \"resnet18\"\nstem_channels = 4\nwidths = [4, 8, 8, 8]\nhead_units = [16]\n",
        )
        .unwrap();
        let mut headed =
            headed.init(FeatureShape::Image { channels: 3, height: 32, width: 32 }, 5, &Device::flex()).unwrap();
        let loaded = load_weights(&mut headed, Path::new(FIXTURE), None).unwrap();
        assert!(loaded.fresh_head && loaded.what.contains("a fresh head (head, fc)"), "{loaded:?}");
        let mut wider = tiny_resnet18("[4, 8, 8, 16]", 5);
        let err = load_weights(&mut wider, Path::new(FIXTURE), None).unwrap_err().to_string();
        assert!(err.contains("the names do not match this model") && err.contains("layers.3.0.conv1.weight"), "{err}");
        let deeplens: ModelConfig = toml::from_str(
            "kind = \"resnet\"\npreset = \"deeplens\"\nwidths = [4, 8]\nunits = [1, 1]\nstem_channels = 4\n",
        )
        .unwrap();
        let mut other =
            deeplens.init(FeatureShape::Image { channels: 3, height: 16, width: 16 }, 5, &Device::flex()).unwrap();
        let err = load_weights(&mut other, Path::new(FIXTURE), None).unwrap_err().to_string();
        assert!(err.contains("missing from the file") && err.contains("in the file but not in the model"), "{err}");
        let err = load_weights(&mut model, Path::new("weights.h5"), None).unwrap_err().to_string();
        assert_eq!(err, "init.weights: weights.h5: no such file");
    }
}
