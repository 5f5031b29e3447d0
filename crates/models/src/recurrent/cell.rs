//! One recurrent layer in one direction, LSTM or GRU, for sequences padded at their end: run
//! forwards, the state goes on updating over the padding, but the caller reads each sequence's
//! state at its last real step; run backwards, the state is zeroed at padded steps, so the pass
//! starts fresh at the last real step. Either way the outputs at real steps, and the final
//! state the caller reads, equal those of the unpadded sequence, as with Keras' `Masking` layer
//! in the papers' networks.
//!
//! Gates follow Keras (and PyTorch): LSTM `i, f, g, o` with the forget-gate bias starting at 1;
//! GRU `r, z, n` with the reset gate applied after the hidden projection (`reset_after`). Both
//! projections run once per step: the caller passes the input already cut into steps, and each
//! step's slice goes through the input projection on its own (Burn's autodiff gives each slice
//! of one big projected tensor a gradient buffer of the full tensor's size). The gates'
//! sigmoid and tanh are, on backends that evaluate those one element at a time (`flex`), the
//! rational forms of [`crate::rational_tanh`] (within 3.5e-7 of the exact functions), all four
//! LSTM gates in one pass: there the exact ones cost two thirds of the network's time.
//!
//! On `flex`, an LSTM with the rational gates runs instead as [`super::fused_lstm`]'s
//! whole-sequence kernel ([`MaskedCell::forward_sequence`], chosen by the network's `body`); the
//! step-by-step form here serves the other backends, GRU cells and exact gates, and is what the
//! kernel is tested against.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};

use crate::rational_tanh;

/// The recurrent unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// Long short-term memory (Hochreiter & Schmidhuber 1997).
    #[default]
    Lstm,
    /// Gated recurrent unit (Cho et al. 2014).
    Gru,
}

impl CellKind {
    /// Gate blocks in the projections.
    fn gates(self) -> usize {
        match self {
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The name in layer tables.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }
}

/// How the cells compute their gates' sigmoid and tanh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GateFunctions {
    /// `rational` where the backend evaluates sigmoid and tanh one element at a time, else
    /// `exact`: what [`set_auto_gate_functions`] said (the trainer says it for its device; without
    /// it, `rational`).
    #[default]
    Auto,
    /// The rational forms of [`crate::rational_tanh`] (within 3.5e-7), element-wise products
    /// and sums: 1.8 times as fast on `flex`, whose exact functions run one element at a time,
    /// but 0.3-0.7 times on LibTorch, whose own are vectorised.
    Rational,
    /// The backend's own `sigmoid` and `tanh`, one operation each.
    Exact,
}

/// What [`GateFunctions::Auto`] means in this process: `true` for the rational forms.
static AUTO_IS_RATIONAL: AtomicBool = AtomicBool::new(true);

/// Sets what `gate_functions = "auto"` means from here on: the rational forms (`true`, for
/// backends whose sigmoid and tanh run one element at a time) or the backend's own.
pub fn set_auto_gate_functions(rational: bool) {
    AUTO_IS_RATIONAL.store(rational, Ordering::Relaxed);
}

impl GateFunctions {
    /// Whether the cells use the backend's own functions.
    fn is_exact(self) -> bool {
        match self {
            GateFunctions::Auto => !AUTO_IS_RATIONAL.load(Ordering::Relaxed),
            GateFunctions::Rational => false,
            GateFunctions::Exact => true,
        }
    }
}

/// One direction of one recurrent layer.
#[derive(Module, Debug)]
pub struct MaskedCell {
    /// Input to every gate, `[features, gates * hidden]`, with the gate biases.
    pub input: Linear,
    /// Hidden state to every gate, `[hidden, gates * hidden]` (GRU: with the bias of `n`'s
    /// hidden part, as Keras' `reset_after`).
    pub hidden: Linear,
    /// LSTM or GRU.
    #[module(skip)]
    pub kind: CellKind,
    /// State size.
    #[module(skip)]
    pub size: usize,
    /// Runs from the last step to the first.
    #[module(skip)]
    pub reverse: bool,
    /// How the gates' sigmoid and tanh are computed.
    #[module(skip)]
    pub gate_functions: GateFunctions,
}

impl MaskedCell {
    /// A cell with Glorot-uniform input weights, orthogonal recurrent weights and zero biases
    /// (LSTM forget gate: 1), Keras' defaults.
    pub fn new(kind: CellKind, features: usize, size: usize, reverse: bool, device: &Device) -> Self {
        let gates = kind.gates() * size;
        let mut input =
            LinearConfig::new(features, gates).with_initializer(Initializer::XavierUniform { gain: 1.0 }).init(device);
        let mut bias = vec![0.0f32; gates];
        if kind == CellKind::Lstm {
            bias[size..2 * size].fill(1.0);
        }
        input.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias, [gates]), device)));
        // Burn's orthogonal initializer takes matrices only: the GRU's hidden bias is set apart.
        let mut hidden = LinearConfig::new(size, gates)
            .with_bias(false)
            .with_initializer(Initializer::Orthogonal { gain: 1.0 })
            .init(device);
        if kind == CellKind::Gru {
            hidden.bias = Some(Param::from_tensor(Tensor::zeros([gates], device)));
        }
        Self { input, hidden, kind, size, reverse, gate_functions: GateFunctions::default() }
    }

    /// The same cell with its gates computed by `gate_functions`.
    pub fn with_gate_functions(self, gate_functions: GateFunctions) -> Self {
        Self { gate_functions, ..self }
    }

    /// Runs over the sequence, given as one tensor per step (slicing one big tensor per step
    /// would cost a full-size gradient buffer per step in Burn's autodiff).
    ///
    /// Padding must sit at the end (`keep` is 1 then 0). Run forwards, the state at padded
    /// steps is not used: the caller takes the state at each sequence's last real step. Run
    /// backwards, the state is zeroed at padded steps, so the pass starts fresh at the last
    /// real step, as if the padding were not there.
    ///
    /// # Shapes
    /// - steps: `steps x [batch, features]`
    /// - keep: `steps x [batch, 1]`, 1 for a real step and 0 for padding
    /// - returns the state after every step, `steps x [batch, size]`, in step order whatever
    ///   the direction
    pub fn forward(&self, steps: &[Tensor<2>], keep: &[Tensor<2>]) -> Vec<Tensor<2>> {
        let Some(first) = steps.first() else { return Vec::new() };
        let [batch, _] = first.dims();
        let size = self.size;
        let device = first.device();
        let mut h = Tensor::<2>::zeros([batch, size], &device);
        let mut c = Tensor::<2>::zeros([batch, size], &device);
        let mut states: Vec<Option<Tensor<2>>> = vec![None; steps.len()];
        let order: Vec<usize> =
            if self.reverse { (0..steps.len()).rev().collect() } else { (0..steps.len()).collect() };
        let gate = |z: &Tensor<2>, k: usize| z.clone().narrow(1, k * size, size);
        let exact = self.gate_functions.is_exact();
        let sigmoid = |x: Tensor<2>| if exact { activation::sigmoid(x) } else { rational_tanh::sigmoid(x) };
        let tanh = |x: Tensor<2>| if exact { x.tanh() } else { rational_tanh::tanh(x) };
        for t in order {
            let xw = self.input.forward(steps[t].clone());
            let hw = self.hidden.forward(h.clone());
            h = match self.kind {
                CellKind::Lstm => {
                    let z = xw + hw;
                    let (i, f, g, o) = if exact {
                        let s = activation::sigmoid(z.clone());
                        (gate(&s, 0), gate(&s, 1), gate(&z, 2).tanh(), gate(&s, 3))
                    } else {
                        let s = rational_tanh::lstm_gates(z, size);
                        (gate(&s, 0), gate(&s, 1), gate(&s, 2), gate(&s, 3))
                    };
                    c = f * c.clone() + i * g;
                    if self.reverse {
                        c = c.clone() * keep[t].clone();
                    }
                    o * tanh(c.clone())
                }
                CellKind::Gru => {
                    let r = sigmoid(gate(&xw, 0) + gate(&hw, 0));
                    let z = sigmoid(gate(&xw, 1) + gate(&hw, 1));
                    let n = tanh(gate(&xw, 2) + r * gate(&hw, 2));
                    n.clone() + z * (h.clone() - n)
                }
            };
            if self.reverse {
                h = h.clone() * keep[t].clone();
            }
            states[t] = Some(h.clone());
        }
        states.into_iter().map(|s| s.expect("every step ran")).collect()
    }
}

impl MaskedCell {
    /// Whether this cell can run as [`super::fused_lstm`]'s kernel: an LSTM with the rational gate
    /// functions (the kernel's), the input bias and no hidden bias (as [`Self::new`] makes it).
    pub fn fuses(&self) -> bool {
        self.kind == CellKind::Lstm
            && !self.gate_functions.is_exact()
            && self.input.bias.is_some()
            && self.hidden.bias.is_none()
    }

    /// [`Self::forward`] on the whole sequence at once through [`super::fused_lstm`]'s kernel
    /// (input projections and recurrence as one operation). Call it where [`Self::fuses`] and [`super::fused_lstm::runs_on`] hold.
    ///
    /// # Shapes
    /// - sequence: `[batch, steps, features]`
    /// - keep: `[batch, steps]`, 1 for a real step and 0 for padding
    /// - returns the state after every step, `[batch, steps, size]`
    #[cfg(feature = "flex")]
    pub fn forward_sequence(&self, sequence: Tensor<3>, keep: Tensor<2>) -> Tensor<3> {
        let bias = self.input.bias.as_ref().expect("an LSTM that fuses has an input bias (checked)");
        super::fused_lstm::lstm_sequence(
            sequence,
            self.input.weight.val(),
            bias.val(),
            self.hidden.weight.val(),
            keep,
            self.reverse,
        )
    }
}

/// One tensor per step of `x` `[batch, steps, features]` (for tests and callers that hold
/// whole sequences without gradients).
pub fn split_steps(x: Tensor<3>) -> Vec<Tensor<2>> {
    let [batch, steps, features] = x.dims();
    (0..steps).map(|t| x.clone().narrow(1, t, 1).reshape([batch, features])).collect()
}

/// The state at each sequence's last real step: `states` `steps x [batch, size]`, `lengths`
/// `[batch]` real steps per sequence (at least 1).
pub fn state_at_last_step(states: &[Tensor<2>], lengths: &Tensor<1, Int>) -> Tensor<2> {
    last_real_step(Tensor::stack::<3>(states.to_vec(), 1), lengths)
}

/// The state at each sequence's last real step: `states` `[batch, steps, size]`, `lengths`
/// `[batch]` real steps per sequence (at least 1).
pub fn last_real_step(states: Tensor<3>, lengths: &Tensor<1, Int>) -> Tensor<2> {
    let [batch, _, size] = states.dims();
    let index = (lengths.clone() - 1).clamp_min(0).reshape([batch, 1, 1]).repeat_dim(2, size);
    states.gather(1, index).reshape([batch, size])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(u, v)| (u - v).abs() < 1e-5)
    }

    fn ones(batch: usize, steps: usize) -> Vec<Tensor<2>> {
        (0..steps).map(|_| Tensor::ones([batch, 1], &Device::flex())).collect()
    }

    #[test]
    fn lstm_step_matches_the_gate_equations() {
        let device = Device::flex();
        let cell = MaskedCell::new(CellKind::Lstm, 2, 3, false, &device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [1, 2]), &device);
        let h = cell.forward(&[x], &ones(1, 1)).pop().unwrap();
        // From zero state, one step: z = W x + b; c = i g; h = o tanh(c).
        let w = cell.input.weight.val().into_data().try_to_vec::<f32>().unwrap(); // [2, 12]
        let b = cell.input.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
        let z: Vec<f64> = (0..12).map(|j| 0.5 * f64::from(w[j]) - f64::from(w[12 + j]) + f64::from(b[j])).collect();
        let s = |v: f64| 1.0 / (1.0 + (-v).exp());
        let h = values(h);
        for k in 0..3 {
            let c = s(z[k]) * z[6 + k].tanh();
            let expected = s(z[9 + k]) * c.tanh();
            assert!((f64::from(h[k]) - expected).abs() < 1e-6, "unit {k}: {} vs {expected}", h[k]);
        }
        assert_eq!(&b[3..6], &[1.0; 3], "forget bias starts at 1");
    }

    #[test]
    fn padding_at_the_end_changes_nothing_in_either_direction() {
        let device = Device::flex();
        for kind in [CellKind::Lstm, CellKind::Gru] {
            for reverse in [false, true] {
                let cell = MaskedCell::new(kind, 3, 4, reverse, &device);
                let x = Tensor::<3>::random([2, 5, 3], Distribution::Normal(0.0, 1.0), &device);
                let plain = cell.forward(&split_steps(x.clone()), &ones(2, 5));
                // The same sequences followed by 4 steps of junk that the mask hides.
                let junk = Tensor::<3>::random([2, 4, 3], Distribution::Normal(0.0, 5.0), &device);
                let mut keep = ones(2, 5);
                keep.extend((0..4).map(|_| Tensor::zeros([2, 1], &device)));
                let padded = cell.forward(&split_steps(Tensor::cat(vec![x, junk], 1)), &keep);
                for t in 0..5 {
                    let (a, b) = (values(plain[t].clone()), values(padded[t].clone()));
                    assert!(close(&a, &b), "{kind:?} reverse {reverse} step {t}: {a:?} {b:?}");
                }
                let lengths = Tensor::<1, Int>::from_data(TensorData::new(vec![5i64, 5], [2]), &device);
                let last = values(state_at_last_step(&padded, &lengths));
                assert!(close(&last, &values(plain[4].clone())), "{kind:?} reverse {reverse}: last state");
            }
        }
    }

    #[test]
    fn rational_and_exact_gate_functions_give_the_same_states_and_gradients() {
        let device = Device::flex().autodiff();
        for kind in [CellKind::Lstm, CellKind::Gru] {
            let rational = MaskedCell::new(kind, 3, 4, true, &device).with_gate_functions(GateFunctions::Rational);
            let exact = rational.clone().with_gate_functions(GateFunctions::Exact);
            let x = Tensor::<3>::random([5, 7, 3], Distribution::Normal(0.0, 2.0), &device);
            let run = |cell: &MaskedCell| {
                let states = cell.forward(&split_steps(x.clone()), &ones(5, 7));
                let loss = Tensor::cat(states.clone(), 1).powi_scalar(2).sum();
                let grad = cell.hidden.weight.val().grad(&loss.backward()).expect("a gradient");
                (values(Tensor::cat(states, 1).without_autodiff()), values(grad))
            };
            let ((a, da), (b, db)) = (run(&rational), run(&exact));
            let largest = |u: &[f32], v: &[f32]| u.iter().zip(v).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(largest(&a, &b) < 1e-5, "{kind:?}: states differ by {}", largest(&a, &b));
            assert!(largest(&da, &db) < 1e-4, "{kind:?}: gradients differ by {}", largest(&da, &db));
            assert!(da.iter().any(|g| g.abs() > 1e-3), "{kind:?}: the gradient is not trivially 0");
        }
    }

    #[test]
    fn the_last_state_is_taken_per_sequence() {
        let device = Device::flex();
        let states: Vec<Tensor<2>> = (0..4).map(|t| Tensor::full([2, 3], t as f32, &device)).collect();
        let lengths = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 4], [2]), &device);
        assert_eq!(values(state_at_last_step(&states, &lengths)), [1.0, 1.0, 1.0, 3.0, 3.0, 3.0]);
    }
}
