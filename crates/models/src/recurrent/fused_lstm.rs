//! The masked LSTM of [`super::cell`] over a whole sequence as one `flex` kernel, with its own
//! backward pass through time.
//!
//! Run step by step as tensor operations, a BiLSTM of 32 units on 256 curves of 64 steps records
//! about fifteen small operations per step and direction, each one pass of one thread over
//! 256 x 128 values: inference ran at a quarter of PyTorch's speed. Here one direction of one
//! layer is one operation: the curves are cut into groups of rows on rayon's threads (each
//! curve's recurrence is independent of the others'); each group projects the input of all its
//! steps in one matrix product (`gemm`, the crate `flex` uses), then runs every step as one small
//! product and one loop over its gates and states, compiled for the CPU's vector instructions.
//!
//! The values are those of [`super::cell::MaskedCell::forward`] with the rational gate functions
//! ([`crate::rational_tanh`], the same `f32` operations in the same order; the matrix products
//! sum in another order, so states agree to rounding). The backward pass is the LSTM's
//! backpropagation through time, with the derivatives of the exact functions at the computed
//! values (`s (1 - s)`, `1 - t^2`) as the step-by-step form's. It needs the gates and cell states
//! of every step, kept by the forward pass under autodiff only.
//!
//! Layouts are batch first: the sequence `[batch, steps, features]`, `keep` `[batch, steps]` (1
//! for a real step, 0 for padding; read only run backwards), states `[batch, steps, size]`, gates
//! `i, f, g, o` in blocks of `size` along the last axis of the weights `[in, 4 size]`.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

/// Whether [`runs_on`] allows the kernel (on by default; benchmarks switch it off to time the
/// step-by-step form).
static FUSED: AtomicBool = AtomicBool::new(true);

/// Sets whether LSTM layers on `flex` run as the fused kernel from here on.
pub fn set_fused_lstm(on: bool) {
    FUSED.store(on, Ordering::Relaxed);
}

/// Whether [`lstm_sequence`] can run for `x` (an `f32` tensor on `flex`, the kernel not switched
/// off).
pub fn runs_on(x: &Tensor<3>) -> bool {
    #[cfg(feature = "flex")]
    return FUSED.load(Ordering::Relaxed) && crate::on_flex::is_flex_f32(x);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, &FUSED);
        false
    }
}

#[cfg(feature = "flex")]
pub use kernel::lstm_sequence;

/// The kernel on `flex` and autodiff over it.
#[cfg(feature = "flex")]
mod kernel {
    use std::cell::RefCell;

    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
    use burn::tensor::{Tensor, TensorData};
    use rayon::prelude::*;

    use crate::matrix_product::{Strided, Threads, matmul};
    use crate::recurrent::lstm_rows::{BackwardRows, ForwardRows, Pass, Weights};
    use crate::vectorised::vectorised;

    /// One direction of one LSTM layer as a backend operation: `flex`'s kernel, and autodiff
    /// over it.
    #[backend_extension(Flex, Autodiff)]
    pub trait FusedLstmBackend: Backend {
        /// The states after every step (see [`lstm_sequence`]).
        fn lstm_sequence(
            sequence: FloatTensor<Self>,
            input: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            hidden: FloatTensor<Self>,
            keep: FloatTensor<Self>,
            reverse: bool,
        ) -> FloatTensor<Self>;
    }

    /// The forward pass keeping what the backward pass reads, and the backward pass.
    pub trait FusedLstmTraining: Backend {
        /// The states, and the activated gates `[batch, steps, 4 size]` and cell states
        /// `[batch, steps, size]` of every step.
        fn lstm_sequence_saving(
            sequence: FloatTensor<Self>,
            input: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            hidden: FloatTensor<Self>,
            keep: FloatTensor<Self>,
            reverse: bool,
        ) -> [FloatTensor<Self>; 3];

        /// The gradients of the sequence (when `sequence_gradient`; otherwise `None`), the input
        /// weights, the biases and the hidden weights from that of the states.
        fn lstm_sequence_backward(
            grad: FloatTensor<Self>,
            saved: &Saved<Self>,
            sequence_gradient: bool,
        ) -> (Option<FloatTensor<Self>>, [FloatTensor<Self>; 3]);
    }

    /// What the backward pass reads.
    #[derive(Debug, Clone)]
    pub struct Saved<B: Backend> {
        sequence: FloatTensor<B>,
        input: FloatTensor<B>,
        hidden: FloatTensor<B>,
        keep: FloatTensor<B>,
        reverse: bool,
        states: FloatTensor<B>,
        gates: FloatTensor<B>,
        cells: FloatTensor<B>,
    }

    /// The states after every step of an LSTM direction with input weights `input`, gate biases
    /// `bias` and hidden weights `hidden`; run from the last step to the first when `reverse`, with
    /// the state zeroed at padded steps. Call it where [`super::runs_on`] holds.
    ///
    /// # Shapes
    /// - sequence: `[batch, steps, features]`
    /// - input: `[features, 4 size]`, bias: `[4 size]`, hidden: `[size, 4 size]`
    /// - keep: `[batch, steps]`
    /// - output: `[batch, steps, size]`
    pub fn lstm_sequence(
        sequence: Tensor<3>,
        input: Tensor<2>,
        bias: Tensor<1>,
        hidden: Tensor<2>,
        keep: Tensor<2>,
        reverse: bool,
    ) -> Tensor<3> {
        Tensor::from_dispatch(<Dispatch as FusedLstmBackend>::lstm_sequence(
            sequence.into_dispatch(),
            input.into_dispatch(),
            bias.into_dispatch(),
            hidden.into_dispatch(),
            keep.into_dispatch(),
            reverse,
        ))
    }

    /// Rows per rayon task: about four tasks a thread, so that the threads finish together.
    fn rows_per_task(batch: usize) -> usize {
        batch.div_ceil(4 * rayon::current_num_threads()).max(1)
    }

    /// A `flex` tensor made contiguous, and its dimensions.
    fn contiguous(x: &FlexTensor) -> (FlexTensor, Vec<usize>) {
        let x = x.clone().to_contiguous();
        let dims = x.layout().shape().to_vec();
        (x, dims)
    }

    thread_local! {
        /// The gates and cells of a group of rows in inference, kept from one call to the next:
        /// every value is written before it is read, so reusing it saves zeroing new memory.
        static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// The forward pass on `flex`: the states, and with `saving` the gates and cells of every
    /// step (otherwise each group of rows keeps them in [`SCRATCH`]).
    fn forward(
        sequence: &FlexTensor,
        input: &FlexTensor,
        bias: &FlexTensor,
        hidden: &FlexTensor,
        keep: &FlexTensor,
        reverse: bool,
        saving: bool,
    ) -> (FlexTensor, Option<[FlexTensor; 2]>) {
        let (sequence, dims) = contiguous(sequence);
        let [(input, _), (bias, _), (hidden, hidden_dims), (keep, _)] = [input, bias, hidden, keep].map(contiguous);
        let [batch, steps, features] = [dims[0], dims[1], dims[2]];
        let size = hidden_dims[0];
        let pass = Pass { steps, features, size, reverse };
        let width = pass.gates();
        let per = rows_per_task(batch);
        let weights = Weights { input: input.storage(), bias: bias.storage(), hidden: hidden.storage() };
        let mut states = vec![0f32; batch * steps * size];
        let (sequence, keep): (&[f32], &[f32]) = (sequence.storage(), keep.storage());
        let groups = states
            .par_chunks_mut(per * steps * size)
            .zip(sequence.par_chunks(per * steps * features).zip(keep.par_chunks(per * steps)));
        let tensor = |v: Vec<f32>, last: usize| FlexTensor::from_data(TensorData::new(v, [batch, steps, last]));
        if !saving {
            groups.for_each(|(states, (x, keep))| {
                let rows = keep.len() / steps;
                SCRATCH.with_borrow_mut(|scratch| {
                    let (gate_len, cell_len) = (rows * steps * width, rows * steps * size);
                    if scratch.len() < gate_len + cell_len {
                        scratch.resize(gate_len + cell_len, 0.0);
                    }
                    let (gates, cells) = scratch[..gate_len + cell_len].split_at_mut(gate_len);
                    vectorised(ForwardRows { pass, x, weights, keep, states, gates, cells });
                });
            });
            return (tensor(states, size), None);
        }
        let mut gates = vec![0f32; batch * steps * width];
        let mut cells = vec![0f32; batch * steps * size];
        groups.zip(gates.par_chunks_mut(per * steps * width).zip(cells.par_chunks_mut(per * steps * size))).for_each(
            |((states, (x, keep)), (gates, cells))| {
                vectorised(ForwardRows { pass, x, weights, keep, states, gates, cells });
            },
        );
        (tensor(states, size), Some([tensor(gates, width), tensor(cells, size)]))
    }

    impl FusedLstmBackend for Flex {
        fn lstm_sequence(
            sequence: FlexTensor,
            input: FlexTensor,
            bias: FlexTensor,
            hidden: FlexTensor,
            keep: FlexTensor,
            reverse: bool,
        ) -> FlexTensor {
            forward(&sequence, &input, &bias, &hidden, &keep, reverse, false).0
        }
    }

    impl FusedLstmTraining for Flex {
        fn lstm_sequence_saving(
            sequence: FlexTensor,
            input: FlexTensor,
            bias: FlexTensor,
            hidden: FlexTensor,
            keep: FlexTensor,
            reverse: bool,
        ) -> [FlexTensor; 3] {
            let (states, saved) = forward(&sequence, &input, &bias, &hidden, &keep, reverse, true);
            let [gates, cells] = saved.expect("kept when saving");
            [states, gates, cells]
        }

        fn lstm_sequence_backward(
            grad: FlexTensor,
            saved: &Saved<Flex>,
            sequence_gradient: bool,
        ) -> (Option<FlexTensor>, [FlexTensor; 3]) {
            let (grad, dims) = contiguous(&grad);
            let (sequence, sequence_dims) = contiguous(&saved.sequence);
            let [(input, _), (hidden, _), (keep, _), (states, _), (gates, _), (cells, _)] =
                [&saved.input, &saved.hidden, &saved.keep, &saved.states, &saved.gates, &saved.cells].map(contiguous);
            let [batch, steps, size] = [dims[0], dims[1], dims[2]];
            let features = sequence_dims[2];
            let pass = Pass { steps, features, size, reverse: saved.reverse };
            let width = pass.gates();
            let per = rows_per_task(batch);
            let mut dz = vec![0f32; batch * steps * width];
            let [grad, gates, cells, hidden, keep]: [&[f32]; 5] =
                [&grad, &gates, &cells, &hidden, &keep].map(|t| t.storage());
            let bias_parts: Vec<Vec<f32>> = dz
                .par_chunks_mut(per * steps * width)
                .zip(grad.par_chunks(per * steps * size))
                .zip(gates.par_chunks(per * steps * width))
                .zip(cells.par_chunks(per * steps * size))
                .zip(keep.par_chunks(per * steps))
                .map(|((((dz, grad), gates), cells), keep)| {
                    vectorised(BackwardRows { pass, grad, gates, cells, hidden, keep, dz })
                })
                .collect();
            let mut d_bias = vec![0f32; width];
            for part in bias_parts {
                for (b, p) in d_bias.iter_mut().zip(part) {
                    *b += p;
                }
            }
            // hidden gradient = sum over rows and steps of h(step before)^T dz(step): the states
            // moved one step along the pass (zero where no step came before), then one product.
            let states: &[f32] = states.storage();
            let mut before = vec![0f32; batch * steps * size];
            before.par_chunks_mut(steps * size).zip(states.par_chunks(steps * size)).for_each(|(before, states)| {
                for t in 0..steps {
                    if let Some(p) = pass.before(t) {
                        before[t * size..(t + 1) * size].copy_from_slice(&states[p * size..(p + 1) * size]);
                    }
                }
            });
            let rows = batch * steps;
            let dz_matrix = Strided { values: &dz, rows: width, columns: 1 };
            let mut d_hidden = vec![0f32; size * width];
            let before = Strided { values: &before, rows: 1, columns: size };
            matmul(before, dz_matrix, &mut d_hidden, [size, rows, width], [width, 1], false, Threads::All);
            // input gradient = x^T dz; the sequence's = dz input^T.
            let x = Strided { values: sequence.storage(), rows: 1, columns: features };
            let mut d_input = vec![0f32; features * width];
            matmul(x, dz_matrix, &mut d_input, [features, rows, width], [width, 1], false, Threads::All);
            let d_sequence = sequence_gradient.then(|| {
                let mut d_sequence = vec![0f32; rows * features];
                let input_t = Strided { values: input.storage(), rows: 1, columns: width };
                let dims = [rows, width, features];
                matmul(dz_matrix, input_t, &mut d_sequence, dims, [features, 1], false, Threads::All);
                FlexTensor::from_data(TensorData::new(d_sequence, [batch, steps, features]))
            });
            let gradients = [
                FlexTensor::from_data(TensorData::new(d_input, [features, width])),
                FlexTensor::from_data(TensorData::new(d_bias, [width])),
                FlexTensor::from_data(TensorData::new(d_hidden, [size, width])),
            ];
            (d_sequence, gradients)
        }
    }

    /// The backward step through time.
    #[derive(Debug)]
    struct LstmStep;

    impl<B: Backend + FusedLstmTraining> Backward<B, 4> for LstmStep {
        type State = Saved<B>;

        fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [node_sequence, node_input, node_bias, node_hidden] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (d_sequence, [d_input, d_bias, d_hidden]) =
                B::lstm_sequence_backward(grad, &ops.state, node_sequence.is_some());
            if let (Some(node), Some(d)) = (node_sequence, d_sequence) {
                grads.register::<B>(node.id, d);
            }
            for (node, d) in [(node_input, d_input), (node_bias, d_bias), (node_hidden, d_hidden)] {
                if let Some(node) = node {
                    grads.register::<B>(node.id, d);
                }
            }
        }
    }

    impl<B, C> FusedLstmBackend for Autodiff<B, C>
    where
        B: Backend + FusedLstmBackend + FusedLstmTraining,
        C: CheckpointStrategy,
    {
        fn lstm_sequence(
            sequence: FloatTensor<Self>,
            input: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            hidden: FloatTensor<Self>,
            keep: FloatTensor<Self>,
            reverse: bool,
        ) -> FloatTensor<Self> {
            let keep = keep.into_parts().0;
            let nodes = [sequence.node(), input.node(), bias.node(), hidden.node()];
            let [sequence, input, bias, hidden] = [sequence, input, bias, hidden].map(|t| t.into_parts().0);
            match LstmStep.prepare::<C>(nodes).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let [states, gates, cells] = B::lstm_sequence_saving(
                        sequence.clone(),
                        input.clone(),
                        bias,
                        hidden.clone(),
                        keep.clone(),
                        reverse,
                    );
                    let saved = Saved { sequence, input, hidden, keep, reverse, states: states.clone(), gates, cells };
                    prep.finish(saved, states)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::lstm_sequence(sequence, input, bias, hidden, keep, reverse)),
            }
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use crate::recurrent::cell::{CellKind, GateFunctions, MaskedCell, split_steps};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(u, v)| (u - v).abs()).fold(0.0, f32::max)
    }

    /// `keep` `[batch, steps]` with sequence `b` `steps - b % 4` steps long.
    fn keep(batch: usize, steps: usize) -> Vec<f32> {
        (0..batch).flat_map(|b| (0..steps).map(move |t| if t + b % 4 < steps { 1.0 } else { 0.0 })).collect()
    }

    /// The states and the gradients (input weights, input bias, hidden weights, sequence) of a
    /// fixed weighting of them: through the kernel or step by step.
    fn run(cell: &MaskedCell, x: &Tensor<3>, keep: &[f32], weights: &Tensor<3>, fused: bool) -> Vec<Vec<f32>> {
        let device = x.device();
        let [batch, steps, _] = x.dims();
        let x = x.clone().require_grad();
        let states = if fused {
            let keep = Tensor::<2>::from_data(TensorData::new(keep.to_vec(), [batch, steps]), &device);
            cell.forward_sequence(x.clone() * 1.0, keep)
        } else {
            let keep = Tensor::<2>::from_data(TensorData::new(keep.to_vec(), [batch, steps]), &device);
            let keep: Vec<Tensor<2>> = (0..steps).map(|t| keep.clone().narrow(1, t, 1)).collect();
            Tensor::stack(cell.forward(&split_steps(x.clone() * 1.0), &keep), 1)
        };
        let grads = (states.clone() * weights.clone()).sum().backward();
        let grad = |p: Tensor<2>| values(p.grad(&grads).expect("a gradient"));
        vec![
            values(states.without_autodiff()),
            grad(cell.input.weight.val()),
            values(cell.input.bias.as_ref().unwrap().val().grad(&grads).expect("a bias gradient")),
            grad(cell.hidden.weight.val()),
            values(x.grad(&grads).expect("an input gradient")),
        ]
    }

    #[test]
    fn states_and_gradients_are_the_step_by_step_ones() {
        let device = Device::flex().autodiff();
        // Small (one row a task) and the paper's width (several rows a task); padded sequences.
        for (batch, steps, features, size) in [(5, 7, 3, 4), (37, 19, 6, 32)] {
            for reverse in [false, true] {
                let cell = MaskedCell::new(CellKind::Lstm, features, size, reverse, &device)
                    .with_gate_functions(GateFunctions::Rational);
                assert!(cell.fuses());
                let x = Tensor::<3>::random([batch, steps, features], Distribution::Normal(0.0, 1.5), &device);
                let weights = Tensor::<3>::random([batch, steps, size], Distribution::Normal(0.0, 1.0), &device);
                let keep = keep(batch, steps);
                let fused = run(&cell, &x, &keep, &weights, true);
                let stepped = run(&cell, &x, &keep, &weights, false);
                for (k, name) in ["states", "input weights", "input bias", "hidden weights", "input"].iter().enumerate()
                {
                    let scale = stepped[k].iter().fold(1.0f32, |m, v| m.max(v.abs()));
                    let difference = largest_difference(&fused[k], &stepped[k]);
                    assert!(
                        difference <= 2e-5 * scale,
                        "{name}, {batch} x {steps} x {size}, reverse {reverse}: differ by {difference} (largest {scale})"
                    );
                    assert!(stepped[k].iter().any(|v| v.abs() > 1e-3), "{name}: not trivially 0");
                }
                if reverse {
                    // Run backwards, padded steps hold a zero state.
                    let states = &fused[0];
                    for (n, &k) in keep.iter().enumerate() {
                        if k == 0.0 {
                            assert!(states[n * size..(n + 1) * size].iter().all(|&v| v == 0.0), "padded step {n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn without_autodiff_it_gives_the_same_states() {
        use burn::module::Module;
        let device = Device::flex().autodiff();
        let cell = MaskedCell::new(CellKind::Lstm, 2, 8, true, &device);
        let x = Tensor::<3>::random([9, 11, 2], Distribution::Normal(0.0, 1.0), &device);
        let keep = Tensor::<2>::from_data(TensorData::new(keep(9, 11), [9, 11]), &device);
        let traced = values(cell.forward_sequence(x.clone(), keep.clone()).without_autodiff());
        // The inference form (`valid`) on the same values: the kernel without kept gates.
        let plain = cell.valid().forward_sequence(x.without_autodiff(), keep.without_autodiff());
        assert_eq!(values(plain), traced, "the inference pass and the training pass agree");
    }
}
