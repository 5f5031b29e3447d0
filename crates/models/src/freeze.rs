//! Freezing layers for fine-tuning: every weight outside the named layers stops taking
//! gradients, and the batch norms among them stop updating their running statistics (Burn's
//! `freeze`: their training flag is off), as Keras' `trainable = False` does since TF 2.
//!
//! Layers are named as weight files name them (`fc`, `head`, `layers.3`, `layers.2.1`):
//! Burn's module paths with the enum variants left out.

use burn::module::{Flag, Module, ModuleMapper, Param};
use burn::tensor::Tensor;

use crate::model::Model;

/// Walks a model, freezing what lies outside `trainable` and counting what lies inside.
struct Freezer<'a> {
    path: Vec<String>,
    trainable: &'a [Vec<String>],
    matched: Vec<usize>,
    names: Vec<String>,
}

impl Freezer<'_> {
    /// Whether the parameter at the current path stays trainable.
    fn trains(&mut self) -> bool {
        // Enum variants (`Resnet`, `PreactBottleneck`) are capitalised; fields and indices are not.
        let clean: Vec<&String> =
            self.path.iter().filter(|s| !s.starts_with(|c: char| c.is_ascii_uppercase())).collect();
        if let Some(first) = clean.first()
            && !self.names.contains(first)
        {
            self.names.push((*first).clone());
        }
        for (k, prefix) in self.trainable.iter().enumerate() {
            if clean.len() >= prefix.len() && clean.iter().zip(prefix).all(|(a, b)| *a == b) {
                self.matched[k] += 1;
                return true;
            }
        }
        false
    }
}

impl ModuleMapper for Freezer<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Set both ways: clones of a lazily initialised parameter share this setting.
        param.set_require_grad(self.trains())
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        if self.trains() { flag } else { flag.with_value(false) }
    }
}

impl Model {
    /// The layers that make up the head a transferred network is given: those that
    /// [`Model::with_head_of`] replaces (for a ResNet, its dense head and output layer).
    pub fn head_layers(&self) -> Vec<String> {
        match self {
            Model::Resnet(net) if !net.head.is_empty() => vec!["head".into(), "fc".into()],
            other => vec![other.output_layer_path().trim_end_matches('.').to_string()],
        }
    }

    /// This model with every layer frozen except those named in `trainable` (prefixes of
    /// dotted layer names, as [`Model::head_layers`] gives them). Fails, listing the model's
    /// layers, when a name matches nothing.
    pub fn freeze_all_but(self, trainable: &[String]) -> Result<Model, String> {
        let prefixes: Vec<Vec<String>> =
            trainable.iter().map(|t| t.split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()).collect();
        let mut freezer =
            Freezer { path: Vec::new(), trainable: &prefixes, matched: vec![0; prefixes.len()], names: Vec::new() };
        let model = self.map(&mut freezer);
        if let Some(k) = freezer.matched.iter().position(|&n| n == 0) {
            return Err(format!(
                "no layer of this model is named {:?}; its layers are {}",
                trainable[k],
                freezer.names.join(", ")
            ));
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::shape::FeatureShape;
    use burn::module::ModuleVisitor;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::Device;

    /// (path, requires grad) of every float parameter.
    struct Grads(Vec<String>, Vec<(String, bool)>);
    impl ModuleVisitor for Grads {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.0.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.0.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.1.push((self.0.join("."), param.is_require_grad()));
        }
    }

    fn requires_grad(model: &Model) -> Vec<(String, bool)> {
        let mut v = Grads(Vec::new(), Vec::new());
        model.visit(&mut v);
        v.1
    }

    /// A tiny ResNet whose dense head is wide enough (32 ReLUs) that a random init never leaves
    /// every unit dead, which would leave the head's weights without a gradient.
    fn small_resnet(device: &Device) -> Model {
        let config: ModelConfig = toml::from_str(
            "kind = \"resnet\"\npreset = \"resnet18\"\nstem_channels = 4\nwidths = [4, 8]\nunits = [1, 1]\nhead_units = [32]\n",
        )
        .unwrap();
        config.init(FeatureShape::Image { channels: 3, height: 16, width: 16 }, 2, device).unwrap()
    }

    #[test]
    fn only_the_named_layers_keep_their_gradients_and_train() {
        let device = Device::flex().autodiff();
        let model = small_resnet(&device);
        assert_eq!(model.head_layers(), ["head", "fc"]);
        let frozen = model.clone().freeze_all_but(&model.head_layers()).unwrap();
        for (path, grad) in requires_grad(&frozen) {
            let in_head = path.starts_with("Resnet.head") || path.starts_with("Resnet.fc");
            assert_eq!(grad, in_head, "{path}");
        }
        // One optimiser step moves the head and nothing else, batch-norm statistics included.
        let before = frozen.clone();
        let x = Tensor::<4>::random([4, 3, 16, 16], burn::tensor::Distribution::Default, &device);
        let loss = frozen.forward(x).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &frozen);
        let stepped = AdamConfig::new().init().step(0.1, frozen, grads);
        let (Model::Resnet(a), Model::Resnet(b)) = (&before, &stepped) else { unreachable!() };
        assert_eq!(a.conv1.weight.val().into_data(), b.conv1.weight.val().into_data());
        assert_eq!(a.bn1.running_mean.value().into_data(), b.bn1.running_mean.value().into_data());
        assert_ne!(a.fc.weight.val().into_data(), b.fc.weight.val().into_data());
        assert_ne!(a.head[0].weight.val().into_data(), b.head[0].weight.val().into_data());
        // Deeper names pick sub-layers; an unknown one lists the layers there are.
        let partly = model.clone().freeze_all_but(&["layers.1".to_string(), "fc".to_string()]).unwrap();
        let trained: Vec<String> = requires_grad(&partly).into_iter().filter(|(_, g)| *g).map(|(p, _)| p).collect();
        assert!(trained.iter().all(|p| p.starts_with("Resnet.layers.1.") || p.starts_with("Resnet.fc")), "{trained:?}");
        assert!(trained.iter().any(|p| p.starts_with("Resnet.layers.1.")));
        let err = model.freeze_all_but(&["layer4".to_string()]).unwrap_err();
        assert!(err.starts_with("no layer of this model is named \"layer4\"; its layers are conv1, bn1"), "{err}");
    }

    #[test]
    fn freezing_survives_loading_a_checkpoint() {
        let device = Device::flex().autodiff();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.bpk");
        small_resnet(&device).save_file(&file).unwrap();
        let model = small_resnet(&device);
        let frozen = model.clone().freeze_all_but(&model.head_layers()).unwrap();
        let loaded = frozen.try_load_file(&file).unwrap();
        let flags = requires_grad(&loaded);
        assert!(flags.iter().any(|(_, g)| *g) && flags.iter().any(|(_, g)| !*g));
        for (path, grad) in flags {
            assert_eq!(grad, path.starts_with("Resnet.head") || path.starts_with("Resnet.fc"), "{path}");
        }
    }
}
