//! A training step as two half-batch steps that overlap on two threads, for CPU backends.
//!
//! On Burn's CPU backends about half of a step's time runs on one core: the autodiff
//! bookkeeping, the allocation and layout copies around each operation, and the operations too
//! small to be split over threads (a `galaxy_cnn` step on 2 cores: 846 ms on one thread, 554 on
//! two). Two half batches, each on its own thread, fill that idle core with the other half's
//! work (bench steps on 2 cores: `galaxy_cnn` 1.1-1.3 times, `rrlyrae_rnn` 1.6 times as fast). The gradient is the whole batch's: each half's training loss is weighted by its share
//! of the batch (the loss is a mean over samples, and the weight penalties, counted once per
//! half, add up to one), and the halves' gradients are summed. The second half runs through a
//! fork of the model (the same parameters and ids, its own autodiff graph).
//!
//! Both halves run at once, so their dropout masks cannot come from the backend's one generator
//! (the threads would take its numbers in the order they arrive): each half draws its masks
//! from its own stream ([`astro_models::dropout::with_mask_stream`]), seeded by one draw from
//! the backend's generator per step. A run therefore repeats itself, but its values are not
//! those of whole-batch steps: the masks differ and sums are taken in another order.
//!
//! Models whose layers normalise by batch statistics (batch norm) would see half batches and
//! update their running statistics twice, so they step whole
//! ([`astro_models::Model::normalises_by_batch`]), as do adapted steps and steps with a second
//! head on the body.

use std::thread;

use astro_data::ImageBatch;
use astro_models::dropout::{seed_from, with_mask_stream};
use burn::module::Module;
use burn::optim::GradientsAccumulator;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::train::TrainOutput;

use crate::fit::supervised::{StepOutput, Supervised};

impl Supervised {
    /// The step of `batch` as two overlapping half-batch steps, or `None` where this model or
    /// batch steps whole (halves off, batch-statistics layers, adaptation, a body head, fewer
    /// than two items).
    pub fn step_in_halves(&self, batch: &ImageBatch) -> Option<TrainOutput<StepOutput>> {
        self.step_in_halves_with(batch, || seed_from(&batch.images.device()))
    }

    /// Why this model steps whole batches although the backend would step halves, or `None`
    /// where it steps halves (or the backend does not: [`Supervised::halves`] off).
    pub fn whole_steps_because(&self) -> Option<&'static str> {
        if !self.halves {
            None
        } else if self.model.normalises_by_batch() {
            Some("its layers normalise by batch statistics")
        } else if self.adaptation.is_some() {
            Some("adapted steps pair source and target batches")
        } else if self.body_head.is_some() {
            Some("a second head reads the body")
        } else {
            None
        }
    }

    /// What the trainer prints about its steps on a backend that steps halves; `None` on others.
    pub fn step_form(&self) -> Option<String> {
        if !self.halves {
            return None;
        }
        Some(match self.whole_steps_because() {
            Some(reason) => format!("whole batches ({reason})"),
            None => "each training batch as two concurrent half batches, with the whole batch's gradient".to_string(),
        })
    }

    /// As [`Self::step_in_halves`], the halves' dropout masks seeded by `seed()`.
    fn step_in_halves_with(&self, batch: &ImageBatch, seed: impl FnOnce() -> u64) -> Option<TrainOutput<StepOutput>> {
        let whole = !self.halves || self.whole_steps_because().is_some() || batch.target_images.is_some();
        let n = batch.targets.dims()[0];
        if whole || n < 2 || batch.images.dims()[0] != n {
            return None;
        }
        let (first, second) = split(batch, n / 2);
        let share = |part: &ImageBatch| part.targets.dims()[0] as f64 / n as f64;
        let (share_first, share_second) = (share(&first), share(&second));
        let twin = self.clone().fork(&batch.images.device());

        let seed = seed();
        let half_step = |model: &Supervised, part: ImageBatch, share: f64, index: u64| {
            with_mask_stream(seed, index, || {
                let item = model.forward_step(part);
                let grads = model.shared(model.training_loss(&item)).mul_scalar(share).backward();
                (item, grads)
            })
        };
        let ((item_first, grads_first), (item_second, grads_second)) = thread::scope(|scope| {
            let first = scope.spawn(|| half_step(self, first, share_first, 0));
            let second = half_step(&twin, second, share_second, 1);
            match first.join() {
                Ok(first) => (first, second),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });

        let mut sum = GradientsAccumulator::<Supervised>::new();
        sum.accumulate(self, GradientsParams::from_grads(grads_first, self));
        sum.accumulate(self, GradientsParams::from_grads(grads_second, &twin));
        let item = StepOutput {
            loss: cat(item_first.loss, item_second.loss),
            output: cat(item_first.output, item_second.output),
            targets: cat(item_first.targets, item_second.targets),
            domain: None,
        };
        Some(TrainOutput { grads: sum.grads(), item })
    }
}

/// The batch's first `k` items and the rest.
fn split(batch: &ImageBatch, k: usize) -> (ImageBatch, ImageBatch) {
    let n = batch.targets.dims()[0];
    let part = |range: std::ops::Range<usize>| ImageBatch {
        ids: batch.ids.get(range.clone()).map(<[String]>::to_vec).unwrap_or_default(),
        images: batch.images.clone().narrow(0, range.start, range.len()),
        targets: batch.targets.clone().narrow(0, range.start, range.len()),
        features: batch.features.clone().map(|f| f.narrow(0, range.start, range.len())),
        target_images: None,
    };
    (part(0..k), part(k..n))
}

/// Two halves' per-sample values, one after the other, out of the autodiff graph.
fn cat<const D: usize>(first: Tensor<D>, second: Tensor<D>) -> Tensor<D> {
    Tensor::cat(vec![first.detach(), second.detach()], 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::supervised::LossRecipe;
    use astro_data::Task;
    use astro_models::{FeatureShape, ModelConfig};
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::{Device, Distribution};
    use burn::train::TrainStep;

    /// A small conv + dense network, with a dropout layer of `rate` before the dense one.
    fn network(rate: f64, device: &Device) -> Supervised {
        let config: ModelConfig = toml::from_str(&format!(
            "kind = \"sequential\"\n\
             [[layers]]\ntype = \"conv2d\"\nchannels = 3\nkernel = 3\nactivation = \"relu\"\n\
             [[layers]]\ntype = \"flatten\"\n\
             [[layers]]\ntype = \"dropout\"\nrate = {rate}\n\
             [[layers]]\ntype = \"dense\"\nunits = 2\n"
        ))
        .unwrap();
        let shape = FeatureShape::Image { channels: 2, height: 6, width: 6 };
        let mut model = Supervised::new(config.init(shape, 2, device).unwrap(), Task::Regression);
        model.recipe = LossRecipe { l2: 0.01, ..LossRecipe::default() };
        model
    }

    fn batch(n: usize, device: &Device) -> ImageBatch {
        let images = Tensor::<4>::random([n, 2, 6, 6], Distribution::Default, device);
        let targets = Tensor::<2>::random([n, 2], Distribution::Default, device);
        ImageBatch {
            ids: (0..n).map(|i| i.to_string()).collect(),
            images,
            targets,
            features: None,
            target_images: None,
        }
    }

    /// Every parameter's gradient, flattened, in the module's order.
    struct Collect<'a>(&'a GradientsParams, Vec<f32>);

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let grad = self.0.get::<D>(param.id).expect("every parameter has a gradient");
            self.1.extend(grad.into_data().try_to_vec::<f32>().unwrap());
        }
    }

    fn gradient(model: &Supervised, output: &TrainOutput<StepOutput>) -> Vec<f32> {
        let mut collect = Collect(&output.grads, Vec::new());
        model.visit(&mut collect);
        collect.1
    }

    #[test]
    fn two_half_steps_give_the_whole_batchs_gradient_and_per_sample_outputs() {
        let device = Device::flex().autodiff();
        let mut model = network(0.0, &device);
        // An odd batch: halves of 2 and 3, weighted 2/5 and 3/5; the L2 penalty counted once.
        let batch = batch(5, &device);
        let whole = TrainStep::step(&model, batch.clone());
        model.halves = true;
        let halves = model.step_in_halves(&batch).expect("a plain model steps in halves");
        let (a, b) = (gradient(&model, &whole), gradient(&model, &halves));
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(worst <= 1e-5 * scale.max(1.0), "largest difference {worst} (gradient scale {scale})");
        let per_sample = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let (w, h) = (per_sample(whole.item.loss), per_sample(halves.item.loss));
        assert_eq!(w.len(), 5);
        assert!(w.iter().zip(&h).all(|(x, y)| (x - y).abs() < 1e-6), "{w:?} vs {h:?}");
        assert_eq!(halves.item.output.dims(), [5, 2]);
        assert_eq!(halves.item.targets.into_data(), batch.targets.into_data());
    }

    #[test]
    fn a_devices_share_of_a_data_parallel_round_scales_its_gradient() {
        // Two devices: each loss weighs 1/2, so that the round's summed gradients are the mean
        // of the two batches'; whole and half-batch steps alike.
        let device = Device::flex().autodiff();
        let mut model = network(0.0, &device);
        let batch = batch(4, &device);
        let alone = gradient(&model, &TrainStep::step(&model, batch.clone()));
        model.loss_share = 0.5;
        let shared = gradient(&model, &TrainStep::step(&model, batch.clone()));
        model.halves = true;
        let halves = gradient(&model, &model.step_in_halves(&batch).expect("steps in halves"));
        let scale = alone.iter().fold(0f32, |m, x| m.max(x.abs())).max(1.0);
        for (what, g) in [("whole", &shared), ("halves", &halves)] {
            let worst = alone.iter().zip(g).fold(0f32, |m, (a, b)| m.max((0.5 * a - b).abs()));
            assert!(worst <= 1e-5 * scale, "{what}: largest difference {worst} from half the gradient");
        }
    }

    #[test]
    fn with_dropout_a_mask_seed_gives_one_step_whatever_the_threads_timing() {
        let device = Device::flex().autodiff();
        let mut model = network(0.5, &device);
        model.halves = true;
        let batch = batch(8, &device);
        let step = |seed: u64| gradient(&model, &model.step_in_halves_with(&batch, || seed).expect("steps in halves"));
        let (first, again, second) = (step(3), step(3), step(4));
        assert_eq!(first, again, "one seed, one step");
        assert_ne!(first, second, "another seed, other masks");
    }

    #[test]
    fn batch_norm_adaptation_and_single_items_step_whole() {
        let device = Device::flex().autodiff();
        let mut model = network(0.0, &device);
        model.halves = true;
        assert!(model.step_in_halves(&batch(1, &device)).is_none());
        let mut adapted = batch(4, &device);
        adapted.target_images = Some(adapted.images.clone());
        assert!(model.step_in_halves(&adapted).is_none());
        assert_eq!(model.whole_steps_because(), None);
        assert!(model.step_form().unwrap().contains("two concurrent half batches"));
        model.halves = false;
        assert!(model.step_in_halves(&batch(4, &device)).is_none());
        assert_eq!(model.step_form(), None, "backends that step whole say nothing");
        let config: ModelConfig = toml::from_str(
            "kind = \"sequential\"\n[[layers]]\ntype = \"conv2d\"\nchannels = 2\nkernel = 3\n\
             [[layers]]\ntype = \"batchnorm\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 2\n",
        )
        .unwrap();
        let shape = FeatureShape::Image { channels: 2, height: 6, width: 6 };
        let mut normed = Supervised::new(config.init(shape, 2, &device).unwrap(), Task::Regression);
        normed.halves = true;
        assert!(normed.model.normalises_by_batch());
        assert!(normed.step_in_halves(&batch(4, &device)).is_none());
        assert_eq!(normed.step_form().unwrap(), "whole batches (its layers normalise by batch statistics)");
    }
}
