//! The host loops of [`super::fused_lstm`]'s kernel: one group of rows (curves) through every
//! step of an LSTM direction, forwards and backwards, as small `gemm` products and element-wise
//! loops written for the compiler to vectorise, run by [`vectorised`] compiled for the CPU's
//! vector instructions. Plain slices in, plain slices out; the tensors and autodiff are
//! the kernel's.

use crate::matrix_product::{Strided, Threads, matmul};
#[cfg(doc)]
use crate::vectorised::vectorised;
use crate::vectorised::{Kernel, Tile};

/// Sizes of one pass and the order of its steps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pass {
    pub(super) steps: usize,
    pub(super) features: usize,
    pub(super) size: usize,
    pub(super) reverse: bool,
}

impl Pass {
    /// Gate values per row and step.
    pub(super) fn gates(self) -> usize {
        4 * self.size
    }

    /// The step the pass runs `n`-th.
    fn step_at(self, n: usize) -> usize {
        if self.reverse { self.steps - 1 - n } else { n }
    }

    /// The step the pass runs before `t`, if any.
    pub(super) fn before(self, t: usize) -> Option<usize> {
        if self.reverse { (t + 1 < self.steps).then_some(t + 1) } else { t.checked_sub(1) }
    }
}

/// The logistic sigmoid as the step-by-step form's rational one: `(1 + tanh(x / 2)) / 2`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    crate::rational_tanh::tanh_scalar(x * 0.5) * 0.5 + 0.5
}

/// Values the element-wise loops take at a time: loops of a known 16 trips are unrolled into
/// vector instructions (one AVX-512 or two AVX2 operations), where a loop over the 32 values of
/// a state would be left scalar (the vectoriser wants 64 trips for its unrolled AVX-512 loop).
const LANES: usize = 16;

/// Runs `$body` with `$j` each range of exactly [`LANES`] in `0..$len`, then the remainder.
/// A macro, not a function taking a closure: the body must be compiled inline, with the vector
/// instructions [`vectorised`] enables (a closure may be compiled on its own, without them).
macro_rules! in_runs {
    ($len:expr, |$j:ident| $body:block) => {{
        let len: usize = $len;
        let full = len - len % LANES;
        for start in (0..full).step_by(LANES) {
            let $j = start..start + LANES;
            $body
        }
        if full < len {
            let $j = full..len;
            $body
        }
    }};
}

/// `values[j] = f(values[j])` in runs of [`LANES`].
#[inline(always)]
fn map_in_place(values: &mut [f32], f: impl Fn(f32) -> f32) {
    let (runs, rest) = values.as_chunks_mut::<LANES>();
    for run in runs {
        for v in run {
            *v = f(*v);
        }
    }
    for v in rest {
        *v = f(*v);
    }
}

/// The weights, as slices: `[features, 4 size]`, `[4 size]`, `[size, 4 size]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Weights<'a> {
    pub(super) input: &'a [f32],
    pub(super) bias: &'a [f32],
    pub(super) hidden: &'a [f32],
}

/// One group of rows through every step (the forward pass): `x` and `keep` hold the group's
/// rows; `states`, `gates` (activated) and `cells` receive every step's values. The loops are
/// written for the compiler to vectorise; [`vectorised`] compiles them for the CPU's vector
/// instructions where it has them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_rows(
    pass: Pass,
    x: &[f32],
    weights: Weights,
    keep: &[f32],
    states: &mut [f32],
    gates: &mut [f32],
    cells: &mut [f32],
) {
    let (steps, size, width) = (pass.steps, pass.size, pass.gates());
    let rows = keep.len() / steps;
    // Every step's input projection at once, then the biases, as `x weight + bias`.
    matmul(
        Strided { values: x, rows: pass.features, columns: 1 },
        Strided { values: weights.input, rows: width, columns: 1 },
        gates,
        [rows * steps, pass.features, width],
        [width, 1],
        false,
        Threads::This,
    );
    let bias = &weights.bias[..width];
    for z in gates.chunks_exact_mut(width) {
        in_runs!(width, |run| { add(&mut z[run.clone()], &bias[run]) });
    }
    let mut previous = vec![0f32; size];
    for n in 0..steps {
        let t = pass.step_at(n);
        let before = pass.before(t);
        if let Some(p) = before {
            // gates(t) += h(p) hidden, for all rows of the group at once.
            matmul(
                Strided { values: &states[p * size..], rows: steps * size, columns: 1 },
                Strided { values: weights.hidden, rows: width, columns: 1 },
                &mut gates[t * width..],
                [rows, size, width],
                [steps * width, 1],
                true,
                Threads::This,
            );
        }
        for r in 0..rows {
            let at = r * steps + t;
            let (ifg, o) = gates[at * width..][..width].split_at_mut(3 * size);
            let (i_f, g) = ifg.split_at_mut(2 * size);
            map_in_place(i_f, sigmoid);
            map_in_place(o, sigmoid);
            map_in_place(g, crate::rational_tanh::tanh_scalar);
            let (i, f) = i_f.split_at(size);
            // Run forwards the state goes on over padding (the caller reads the last real step);
            // backwards it is zeroed there (times 1 is exact elsewhere).
            let k = if pass.reverse { keep[at] } else { 1.0 };
            match before {
                Some(p) => previous.copy_from_slice(&cells[(r * steps + p) * size..][..size]),
                None => previous.fill(0.0),
            }
            let c = &mut cells[at * size..][..size];
            let h = &mut states[at * size..][..size];
            in_runs!(size, |j| {
                let (i, f, g, o) = (&i[j.clone()], &f[j.clone()], &g[j.clone()], &o[j.clone()]);
                cell_update([i, f, g, o], &previous[j.clone()], &mut c[j.clone()], &mut h[j], k);
            })
        }
    }
}

/// `c = k (f c_prev + i g)`, `h = k o tanh(c)` over a run of one row (`c_prev` zero at the
/// first step), from the activated gates `[i, f, g, o]`. A function of its own so that the
/// compiler knows `c` and `h` overlap nothing else and vectorises the loop.
#[inline(always)]
fn cell_update([i, f, g, o]: [&[f32]; 4], previous: &[f32], c: &mut [f32], h: &mut [f32], k: f32) {
    let size = c.len();
    let (i, f, g, o, previous, h) = (&i[..size], &f[..size], &g[..size], &o[..size], &previous[..size], &mut h[..size]);
    for j in 0..size {
        c[j] = (f[j] * previous[j] + i[j] * g[j]) * k;
        h[j] = o[j] * crate::rational_tanh::tanh_scalar(c[j]) * k;
    }
}

/// `a += b` over a run.
#[inline(always)]
fn add(a: &mut [f32], b: &[f32]) {
    let b = &b[..a.len()];
    for j in 0..a.len() {
        a[j] += b[j];
    }
}

/// What [`cell_backward`] reads over a run of one row: the state's gradient, the cell states
/// of this step and the one before, the activated gates `[i, f, g, o]` and the state gradient
/// from the next step.
struct BackwardRun<'a> {
    grad: &'a [f32],
    c: &'a [f32],
    c_prev: &'a [f32],
    gates: [&'a [f32]; 4],
    dh_next: &'a [f32],
}

/// One run of one row of one step backwards: the gates' gradients `[d_i, d_f, d_g, d_o]`, and
/// `dc_next` (the cell state's gradient from the next step) becomes the previous cell state's.
/// `k` is the mask. A function of its own so that the compiler knows the written slices overlap
/// nothing else and vectorises the loop.
#[inline(always)]
fn cell_backward(run: BackwardRun, k: f32, dc_next: &mut [f32], [d_i, d_f, d_g, d_o]: [&mut [f32]; 4]) {
    let size = run.c.len();
    let (grad, c, c_prev, dh_next) = (&run.grad[..size], run.c, &run.c_prev[..size], &run.dh_next[..size]);
    let [i, f, g, o] = run.gates.map(|gate| &gate[..size]);
    let (dc_next, d_i, d_f, d_g, d_o) =
        (&mut dc_next[..size], &mut d_i[..size], &mut d_f[..size], &mut d_g[..size], &mut d_o[..size]);
    for j in 0..size {
        let tc = crate::rational_tanh::tanh_scalar(c[j]);
        let dh = (grad[j] + dh_next[j]) * k;
        let dc = (dc_next[j] + dh * o[j] * (1.0 - tc * tc)) * k;
        d_i[j] = dc * g[j] * i[j] * (1.0 - i[j]);
        d_f[j] = dc * c_prev[j] * f[j] * (1.0 - f[j]);
        d_g[j] = dc * i[j] * (1.0 - g[j] * g[j]);
        d_o[j] = dh * tc * o[j] * (1.0 - o[j]);
        dc_next[j] = dc * f[j];
    }
}

/// One group of rows back through every step: `dz` receives the gradient of the gates before
/// their functions (of `x input + bias + h hidden` at each step), and the group's sum of it over
/// rows and steps (the bias gradient) is returned; the weights' gradients are products over all
/// rows afterwards. `grad` is the gradient of the states.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    pass: Pass,
    grad: &[f32],
    gates: &[f32],
    cells: &[f32],
    hidden: &[f32],
    keep: &[f32],
    dz: &mut [f32],
) -> Vec<f32> {
    let (steps, size, width) = (pass.steps, pass.size, pass.gates());
    let rows = keep.len() / steps;
    // The gradients reaching step t from the step after it (in the pass's order).
    let mut dh_next = vec![0f32; rows * size];
    let mut dc_next = vec![0f32; rows * size];
    let zeros = vec![0f32; size];
    for n in (0..steps).rev() {
        let t = pass.step_at(n);
        let before = pass.before(t);
        for r in 0..rows {
            let k = if pass.reverse { keep[r * steps + t] } else { 1.0 };
            let at = (r * steps + t) * size;
            let (grad, c) = (&grad[at..at + size], &cells[at..at + size]);
            let z = &gates[(r * steps + t) * width..][..width];
            let (i, f, g, o) = (&z[..size], &z[size..2 * size], &z[2 * size..3 * size], &z[3 * size..]);
            let c_prev = before.map_or(&zeros[..], |p| &cells[(r * steps + p) * size..][..size]);
            let dh_next = &dh_next[r * size..][..size];
            let dc_next = &mut dc_next[r * size..][..size];
            let (d_ifg, d_o) = dz[(r * steps + t) * width..][..width].split_at_mut(3 * size);
            let (d_i, d_fg) = d_ifg.split_at_mut(size);
            let (d_f, d_g) = d_fg.split_at_mut(size);
            in_runs!(size, |j| {
                let run = BackwardRun {
                    grad: &grad[j.clone()],
                    c: &c[j.clone()],
                    c_prev: &c_prev[j.clone()],
                    gates: [&i[j.clone()], &f[j.clone()], &g[j.clone()], &o[j.clone()]],
                    dh_next: &dh_next[j.clone()],
                };
                let d = [&mut d_i[j.clone()], &mut d_f[j.clone()], &mut d_g[j.clone()], &mut d_o[j.clone()]];
                cell_backward(run, k, &mut dc_next[j], d);
            })
        }
        if before.is_some() {
            // dh_next = dz(t) hidden^T for all rows of the group.
            matmul(
                Strided { values: &dz[t * width..], rows: steps * width, columns: 1 },
                Strided { values: hidden, rows: 1, columns: width },
                &mut dh_next,
                [rows, width, size],
                [size, 1],
                false,
                Threads::This,
            );
        }
    }
    let mut bias = vec![0f32; width];
    for z in dz.chunks_exact(width) {
        in_runs!(width, |run| { add(&mut bias[run.clone()], &z[run]) });
    }
    bias
}

/// A group of rows through [`forward_rows`].
pub(super) struct ForwardRows<'a> {
    pub(super) pass: Pass,
    pub(super) x: &'a [f32],
    pub(super) weights: Weights<'a>,
    pub(super) keep: &'a [f32],
    pub(super) states: &'a mut [f32],
    pub(super) gates: &'a mut [f32],
    pub(super) cells: &'a mut [f32],
}

impl Kernel for ForwardRows<'_> {
    type Output = ();

    /// Nothing is fused into multiply-adds: every instruction set gives the same values.
    #[inline(always)]
    fn run<T: Tile>(self) {
        let Self { pass, x, weights, keep, states, gates, cells } = self;
        forward_rows(pass, x, weights, keep, states, gates, cells);
    }
}

/// A group of rows through [`backward_rows`].
pub(super) struct BackwardRows<'a> {
    pub(super) pass: Pass,
    pub(super) grad: &'a [f32],
    pub(super) gates: &'a [f32],
    pub(super) cells: &'a [f32],
    pub(super) hidden: &'a [f32],
    pub(super) keep: &'a [f32],
    pub(super) dz: &'a mut [f32],
}

impl Kernel for BackwardRows<'_> {
    type Output = Vec<f32>;

    /// As [`ForwardRows`]'s.
    #[inline(always)]
    fn run<T: Tile>(self) -> Vec<f32> {
        let Self { pass, grad, gates, cells, hidden, keep, dz } = self;
        backward_rows(pass, grad, gates, cells, hidden, keep, dz)
    }
}
