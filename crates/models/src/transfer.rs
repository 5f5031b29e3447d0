//! Transfer learning between architectures of the same body: which configs share every layer
//! but the output layer, and moving a trained body under a fresh output layer (for a task with
//! other outputs: Galaxy Zoo answers -> Galaxy10 classes -> mergers).

use crate::model::{Model, ModelConfig};
use crate::sequential::network::Layer;

impl ModelConfig {
    /// Whether the layers [`Model::with_head_of`] would replace are built alike in both configs
    /// (then a model trained for the same outputs keeps them).
    pub fn same_head(&self, other: &ModelConfig) -> bool {
        match (self, other) {
            (ModelConfig::Resnet(a), ModelConfig::Resnet(b)) => a.head_units == b.head_units,
            _ => true,
        }
    }

    /// `Ok` when `self` (this experiment's) and `other` (a pretrained model's) build the same
    /// layers up to the output layer (settings that only shape the output layer or fresh weights
    /// may differ); otherwise the settings that differ.
    pub fn same_body(&self, other: &ModelConfig) -> Result<(), String> {
        match (self, other) {
            (ModelConfig::Dieleman(a), ModelConfig::Dieleman(b)) => {
                // The output layer and how fresh weights are drawn are not part of the body.
                let mut a = a.clone();
                (a.output, a.init, a.init_std, a.init_bias) = (b.output, b.init, b.init_std, b.init_bias);
                if a == *b { Ok(()) } else { Err(differences(&ModelConfig::Dieleman(a), other)) }
            }
            (ModelConfig::Resnet(a), ModelConfig::Resnet(b)) => {
                // The dense head is replaced with the output layer.
                let a = crate::resnet::ResNetConfig { head_units: b.head_units.clone(), ..a.clone() };
                if a == *b { Ok(()) } else { Err(differences(&ModelConfig::Resnet(a), other)) }
            }
            (ModelConfig::Sequential { layers: a }, ModelConfig::Sequential { layers: b }) => {
                let body = |l: &[crate::sequential::LayerSpec]| l[..l.len().saturating_sub(1)].to_vec();
                if body(a) == body(b) { Ok(()) } else { Err("the layers before the last differ".to_string()) }
            }
            (a, b) if a.kind() != b.kind() => Err(format!("kind {:?} vs {:?}", a.kind(), b.kind())),
            (a, b) if a == b => Ok(()),
            (a, b) => Err(differences(a, b)),
        }
    }
}

/// The settings whose values differ, as `key = here / in the pretrained model`.
fn differences(a: &ModelConfig, b: &ModelConfig) -> String {
    let table = |c: &ModelConfig| match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let (x, y) = (table(a), table(b));
    let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&toml::Value>| v.map_or("unset".to_string(), ToString::to_string);
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| x.get(*k) != y.get(*k))
        .map(|k| format!("{k} = {} here, {} there", show(x.get(k)), show(y.get(k))))
        .collect();
    if diffs.is_empty() { "the settings differ".to_string() } else { diffs.join("; ") }
}

impl Model {
    /// The name prefix of the output layer's tensors (as weight files name them).
    pub fn output_layer_path(&self) -> String {
        match self {
            Model::Resnet(_) => "fc.".into(),
            Model::Dieleman(_) | Model::Recurrent(_) => "head.".into(),
            Model::Autoencoder(_) => "to_image.".into(),
            Model::SemanticAutoencoder(net) => {
                let last = net.encoder.layers.iter().rposition(|l| matches!(l, Layer::Dense(_))).unwrap_or(0);
                format!("encoder.layers.{last}.")
            }
            Model::Sequential(net) => {
                let last = net.layers.iter().rposition(|l| matches!(l, Layer::Dense(_))).unwrap_or(0);
                format!("layers.{last}.")
            }
        }
    }

    /// This model's trained body under `fresh`'s output layer (built for the new outputs by the
    /// same architecture). Fails when the two are different architectures.
    pub fn with_head_of(self, fresh: Model) -> Result<Model, String> {
        match (self, fresh) {
            (Model::Resnet(body), Model::Resnet(fresh)) => {
                Ok(Model::Resnet(crate::resnet::ResNet { head: fresh.head, fc: fresh.fc, ..body }))
            }
            (Model::Recurrent(body), Model::Recurrent(head)) => {
                Ok(Model::Recurrent(crate::recurrent::Recurrent { head: head.head, ..body }))
            }
            (Model::Dieleman(body), Model::Dieleman(head)) => Ok(Model::Dieleman(body.with_head_of(head))),
            (Model::Sequential(mut body), Model::Sequential(head)) => {
                // The output layer is the last dense layer (an activation may follow it).
                let last_dense = |layers: &[Layer]| layers.iter().rposition(|l| matches!(l, Layer::Dense(_)));
                let (Some(i), Some(j)) = (last_dense(&body.layers), last_dense(&head.layers)) else {
                    return Err("a sequential network without a dense layer has no output layer to replace".into());
                };
                body.layers.truncate(i);
                body.layers.extend(head.layers.into_iter().skip(j));
                Ok(Model::Sequential(body))
            }
            _ => Err("the pretrained model and this one are different architectures".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::FeatureShape;
    use burn::tensor::{Device, Tensor};

    fn config(text: &str) -> ModelConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_resnet_keeps_its_body_and_takes_the_new_head() {
        let device = Device::flex();
        let c =
            config("kind = \"resnet\"\npreset = \"deeplens\"\nstem_channels = 4\nwidths = [4, 8]\nunits = [1, 1]\n");
        let input = FeatureShape::Image { channels: 1, height: 12, width: 12 };
        let pretrained = c.init(input, 37, &device).unwrap();
        let fresh = c.init(input, 2, &device).unwrap();
        let x = Tensor::<4>::ones([1, 1, 12, 12], &device);
        let Model::Resnet(p) = &pretrained else { unreachable!() };
        let body_before = p.conv1.weight.val().into_data();
        let moved = pretrained.with_head_of(fresh).unwrap();
        assert_eq!(moved.forward(x).dims(), [1, 2]);
        let Model::Resnet(m) = &moved else { unreachable!() };
        assert_eq!(m.conv1.weight.val().into_data(), body_before, "the body is the pretrained one");
        assert_eq!(m.fc.weight.val().dims(), [8, 2]);
    }

    #[test]
    fn weights_loaded_from_a_run_file_still_train() {
        use burn::module::Module;
        let device = Device::flex().autodiff();
        let c =
            config("kind = \"resnet\"\npreset = \"deeplens\"\nstem_channels = 4\nwidths = [4, 8]\nunits = [1, 1]\n");
        let input = FeatureShape::Image { channels: 1, height: 12, width: 12 };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.bpk");
        c.init(input, 3, &device).unwrap().save_file(&file).unwrap();
        let loaded = c.init(input, 3, &device).unwrap().try_load_file(&file).unwrap();
        let moved = loaded.with_head_of(c.init(input, 2, &device).unwrap()).unwrap();
        let grads = moved.forward(Tensor::ones([1, 1, 12, 12], &device)).sum().backward();
        let Model::Resnet(r) = &moved else { unreachable!() };
        assert!(r.conv1.weight.val().grad(&grads).is_some() && r.fc.weight.val().grad(&grads).is_some());
    }

    #[test]
    fn bodies_compare_without_their_output_settings() {
        let gz = config("kind = \"dieleman\"\nconv_channels = [8, 16, 32, 32]\n");
        let classes =
            config("kind = \"dieleman\"\nconv_channels = [8, 16, 32, 32]\noutput = \"linear\"\ninit = \"he\"\n");
        assert!(gz.same_body(&classes).is_ok());
        let wider = config("kind = \"dieleman\"\nconv_channels = [16, 16, 32, 32]\n");
        assert_eq!(gz.same_body(&wider).unwrap_err(), "conv_channels = [8, 16, 32, 32] here, [16, 16, 32, 32] there");
        let resnet = config("kind = \"resnet\"\npreset = \"resnet18\"\n");
        assert_eq!(gz.same_body(&resnet).unwrap_err(), "kind \"dieleman\" vs \"resnet\"");
        let a =
            config("kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 37\n");
        let b =
            config("kind = \"sequential\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 2\n");
        assert!(a.same_body(&b).is_ok());
    }
}
