//! `[adaptation] target_batch_norm = true` (AdaBN; Li et al. 2016, "Revisiting batch
//! normalization for practical domain adaptation"): before the target is scored, every
//! batch-norm layer's running mean and variance are replaced by the statistics of the target's
//! training images (no labels), so that a shift in the target's low-level statistics (noise,
//! colour scaling, seeing) is normalised away. The weights stay the source-trained ones.
//!
//! The statistics are exact, whatever each layer's momentum: with the model in training mode
//! (dropout off), one pass over a batch moves a running value r to `(1 - m) r + m s`, where s
//! is the batch's statistic. Starting once from r = 0 and once from r = 1 gives `m s` and
//! `1 - m + m s`, hence m and s for every channel of every layer; the deeper layers' statistics
//! are those of their inputs normalised by the batch itself, as in training.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::data::dataset::transform::PartialDataset;
use burn::module::{Flag, Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::RunError;
use crate::fit::supervised::Supervised;
use crate::run::folder::RunDir;
use astro_data::OpenedData;

/// At most this many target training images give the statistics (one batch: the statistics
/// of a layer are over the whole batch at once).
pub const MAX_ITEMS: usize = 512;

/// Burn's name of the batch-norm struct, as its derived `Module` reports it.
const BATCH_NORM: &str = "Struct:BatchNorm";
const DROPOUT: &str = "Struct:Dropout";

/// What [`Rewrite`] puts in the running statistics.
enum Fill {
    /// Every value of every running mean and variance.
    Constant(f32),
    /// The values per running tensor, in the order the model is walked.
    Values(Vec<Vec<f32>>),
}

/// Where a walk through a module is: each entered field and the type of its container.
#[derive(Default)]
struct ModulePath(Vec<(String, String)>);

impl ModulePath {
    fn enter(&mut self, name: &str, container_type: &str) {
        self.0.push((name.to_string(), container_type.to_string()));
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    /// The type of the container of the field being walked.
    fn container(&self) -> Option<&str> {
        self.0.last().map(|(_, container)| container.as_str())
    }

    /// Whether the field being walked is a batch norm's running mean or variance.
    fn in_running_statistic(&self) -> bool {
        matches!(self.0.last(), Some((name, container)) if container == BATCH_NORM
            && (name == "running_mean" || name == "running_var"))
    }
}

/// Walks the model: sets the running statistics as `fill` says and, with `passes`, turns batch
/// norm's training behaviour on (statistics from the batch) and dropout's off (deterministic
/// passes).
struct Rewrite {
    fill: Fill,
    passes: bool,
    path: ModulePath,
    next: usize,
}

impl ModuleMapper for Rewrite {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if !self.path.in_running_statistic() {
            return param;
        }
        let index = self.next;
        self.next += 1;
        match &self.fill {
            Fill::Constant(v) => param.map(|t| t.full_like(*v)),
            Fill::Values(values) => param.map(|t| {
                let shape = t.shape();
                Tensor::from_data(TensorData::new(values[index].clone(), shape), &t.device())
            }),
        }
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        if !self.passes {
            return flag;
        }
        match self.path.container() {
            Some(BATCH_NORM) => flag.with_value(true),
            Some(DROPOUT) => flag.with_value(false),
            _ => flag,
        }
    }
}

/// Reads every running mean and variance, in the order [`Rewrite`] walks them.
#[derive(Default)]
struct ReadStatistics {
    path: ModulePath,
    values: Vec<Vec<f32>>,
}

impl ModuleVisitor for ReadStatistics {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.path.in_running_statistic() {
            self.values.push(param.val().into_data().try_to_vec::<f32>().unwrap_or_default());
        }
    }
}

/// `model` with its running statistics set as `fill` says (and, with `passes`, ready for
/// statistics passes). The running statistics of a module are shared by its clones: give it a
/// copy of its own (`valid` makes one).
fn rewrite(model: Supervised, fill: Fill, passes: bool) -> Supervised {
    model.map(&mut Rewrite { fill, passes, path: ModulePath::default(), next: 0 })
}

fn read(model: &Supervised) -> Vec<Vec<f32>> {
    let mut reader = ReadStatistics::default();
    model.visit(&mut reader);
    reader.values
}

/// How many batch-norm layers `model` has.
pub fn batch_norm_layers(model: &Supervised) -> usize {
    read(model).len() / 2
}

/// `model` with every batch-norm layer's running statistics taken from up to [`MAX_ITEMS`]
/// images of `images` (the first ones), on `device` (the passes run on its autodiff form,
/// where batch norm computes batch statistics; the model comes back on the plain one). Returns
/// the model and the number of images used.
pub fn with_target_statistics(
    model: &Supervised,
    images: impl Dataset<astro_data::ImageItem> + 'static,
    device: &Device,
) -> Result<(Supervised, usize), RunError> {
    let eval_device = device.clone().inner();
    let train_device = &eval_device.clone().autodiff();
    let n = images.len().min(MAX_ITEMS);
    if n < 2 {
        return Err(RunError::Run(format!(
            "[adaptation] target_batch_norm: the target's training split has {n} image(s); batch statistics need 2 or more"
        )));
    }
    let loader = DataLoaderBuilder::new(astro_data::ImageBatcher::default())
        .batch_size(n)
        .num_workers(0)
        .set_device(train_device.clone())
        .build(PartialDataset::new(images, 0, n));
    let batch = loader
        .iter()
        .next()
        .ok_or_else(|| RunError::Run("[adaptation] target_batch_norm: no target batch".into()))?
        .map_err(|e| RunError::Run(format!("cannot load the target's training images: {e}")))?;
    // Burn's running statistics are shared between a module's clones and take a forward
    // pass's update when synchronised; `valid` synchronises and gives fresh ones, so each
    // pass works on a copy of its own and `model` is left as it was.
    let pass = |fill: f32| {
        let m = rewrite(model.valid().to_device(train_device).no_grad(), Fill::Constant(fill), true);
        let _ = m.forward(batch.images.clone(), batch.features.clone());
        read(&m.valid())
    };
    let (from_zero, from_one) = (pass(0.0), pass(1.0));
    let mut values = Vec::with_capacity(from_zero.len());
    for (layer, (zero, one)) in from_zero.iter().zip(&from_one).enumerate() {
        let mut s = Vec::with_capacity(zero.len());
        for (z, o) in zero.iter().zip(one) {
            // z = m s, o = 1 - m + m s.
            let momentum = 1.0 - (o - z);
            if momentum.abs() < 1e-6 {
                return Err(RunError::Run(format!(
                    "[adaptation] target_batch_norm: batch-norm layer {} has momentum 0, so its running statistics \
                     never take a batch's; give it a momentum above 0",
                    layer / 2 + 1
                )));
            }
            s.push(z / momentum);
        }
        values.push(s);
    }
    let adapted = rewrite(model.valid(), Fill::Values(values), false).to_device(&eval_device);
    Ok((adapted, n))
}

/// The file the target-statistics model is saved to, beside `model.bpk`.
pub const MODEL_FILE: &str = "model_target.bpk";

/// [`with_target_statistics`] on the target's training split, saved to [`MODEL_FILE`] in
/// `run`, with what it says on the console.
pub fn adapt_and_save(
    run: &RunDir,
    model: &Supervised,
    target: &OpenedData,
    device: &Device,
) -> Result<(Supervised, usize), RunError> {
    let (adapted, used) = with_target_statistics(model, target.train.clone(), device)?;
    let file = run.file(MODEL_FILE);
    adapted.clone().save_file(&file).map_err(|e| RunError::Run(format!("cannot save {}: {e}", file.display())))?;
    eprintln!(
        "adaptation: {} batch-norm layer(s) re-estimated on {used} target training images (AdaBN), saved to {}",
        batch_norm_layers(&adapted),
        file.display()
    );
    Ok((adapted, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_data::{ImageItem, Task};
    use astro_models::{FeatureShape, ModelConfig};
    use burn::data::dataset::InMemDataset;

    /// Batch norm on the input (momentum 0.3), dropout, batch norm (default momentum), dense.
    fn model(first_momentum: f64) -> Supervised {
        let config: ModelConfig = toml::from_str(&format!(
            "kind = \"sequential\"\n[[layers]]\ntype = \"batchnorm\"\nmomentum = {first_momentum}\n[[layers]]\ntype = \
             \"dropout\"\nrate = 0.5\n[[layers]]\ntype = \"batchnorm\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\n\
             type = \"dense\"\nunits = 2\n"
        ))
        .unwrap();
        let shape = FeatureShape::Image { channels: 2, height: 3, width: 3 };
        Supervised::new(config.init(shape, 2, &Device::flex()).unwrap(), Task::Classification)
    }

    /// 20 images of 2 bands of 3x3: band 0 around 5, band 1 around -2, with spreads 2 and 0.5.
    fn images() -> Vec<ImageItem> {
        (0..20)
            .map(|i| {
                let mut pixels = Vec::new();
                for (level, spread) in [(5.0f32, 2.0f32), (-2.0, 0.5)] {
                    pixels.extend((0..9).map(|p| level + spread * ((i * 9 + p) as f32 * 0.7).sin()));
                }
                ImageItem { id: i.to_string(), pixels, shape: [2, 3, 3], targets: Vec::new(), features: Vec::new() }
            })
            .collect()
    }

    #[test]
    fn running_statistics_become_the_target_batch_statistics_whatever_the_momentum() {
        let items = images();
        let source = model(0.3);
        assert_eq!(batch_norm_layers(&source), 2);
        let (adapted, used) =
            with_target_statistics(&source, InMemDataset::new(items.clone()), &Device::flex()).unwrap();
        assert_eq!(used, 20);
        let [mean1, var1, mean2, var2] = <[Vec<f32>; 4]>::try_from(read(&adapted)).unwrap();
        // The first layer: each band's mean and biased variance over all images and pixels.
        for band in 0..2 {
            let values: Vec<f64> =
                items.iter().flat_map(|it| it.pixels[band * 9..(band + 1) * 9].iter().map(|&v| f64::from(v))).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
            assert!((f64::from(mean1[band]) - mean).abs() < 1e-4, "mean {} vs {mean}", mean1[band]);
            assert!((f64::from(var1[band]) - var).abs() < 1e-4 * var.max(1.0), "var {} vs {var}", var1[band]);
        }
        // The second layer reads the first's output normalised by the batch (beta 0, gamma 1),
        // dropout off: mean 0 and variance var / (var + eps), about 1 (dropout would give ~2).
        assert!(mean2.iter().all(|m| m.abs() < 1e-4), "{mean2:?}");
        assert!(var2.iter().all(|v| (v - 1.0).abs() < 1e-3), "{var2:?}");
        // The source model keeps its own statistics (Burn's initial zeros and ones).
        assert_eq!(read(&source), [vec![0.0; 2], vec![1.0; 2], vec![0.0; 2], vec![1.0; 2]]);
        // The weights are the source's: every float that is not a running statistic.
        assert_eq!(weights(&adapted), weights(&source));
    }

    /// Every trained float of `model`, in walking order (gamma, beta, the dense layer).
    fn weights(model: &Supervised) -> Vec<f32> {
        struct Weights(ModulePath, Vec<f32>);
        impl ModuleVisitor for Weights {
            fn enter_module(&mut self, name: &str, container_type: &str) {
                self.0.enter(name, container_type);
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.0.exit();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if !self.0.in_running_statistic() {
                    self.1.extend(param.val().into_data().try_to_vec::<f32>().unwrap());
                }
            }
        }
        let mut w = Weights(ModulePath::default(), Vec::new());
        model.visit(&mut w);
        assert!(w.1.len() > 8);
        w.1
    }

    #[test]
    fn a_layer_with_momentum_zero_and_a_single_image_are_refused() {
        let plain = Device::flex();
        let e = with_target_statistics(&model(0.0), InMemDataset::new(images()), &plain).unwrap_err();
        assert!(e.to_string().contains("batch-norm layer 1 has momentum 0"), "{e}");
        let one = images().into_iter().take(1).collect::<Vec<_>>();
        let e = with_target_statistics(&model(0.1), InMemDataset::new(one), &plain).unwrap_err();
        assert!(e.to_string().contains("has 1 image(s)"), "{e}");
    }
}
