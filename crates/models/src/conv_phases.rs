//! Strided convolutions as stride-1 convolutions of the input's phases, on plain slices: the
//! forward pass of [`crate::conv_columns::convolve`] where [`applies`].
//!
//! A convolution of stride `s` by a kernel `k = s q` wide reads, for output `(oy, ox)`, the
//! padded input at `(s oy + s i + a, s ox + s j + b)` for `a, b < s` and `i, j < q`: that is
//! the valid stride-1 convolution by a `q x q` kernel of the `s x s` phases `x_ab(u, v) =
//! padded(s u + a, s v + b)`, each phase a channel of its own. Splitting the input into its
//! phases copies each value once, where the unfolded form copies it `(k / s)^2` times (4 for the
//! GANs' 4 x 4 kernels of stride 2) and `gemm` packs the copies again; the stride-1 convolution
//! is then [`crate::conv_direct`]'s, which sums each output tile in registers.

use crate::conv_columns::Geometry;
use crate::conv_direct;

/// The stride-1 geometry whose valid convolution of the phases is `geometry`'s convolution:
/// `channels s s` channels (channel `c`'s phase `(a, b)` at `(c s + a) s + b`), the kernel `k / s`,
/// no padding, phases of `out + k / s - 1` rows and columns. `None` unless the stride is above 1
/// and divides the kernel on both axes.
fn phase_geometry(geometry: &Geometry) -> Option<Geometry> {
    let Geometry { channels, filters, kernel, stride, .. } = *geometry;
    let out = geometry.out()?;
    let divides = (0..2).all(|axis| stride[axis] > 1 && kernel[axis] % stride[axis] == 0);
    divides.then(|| {
        let kernel = [0, 1].map(|axis| kernel[axis] / stride[axis]);
        Geometry {
            channels: channels * stride[0] * stride[1],
            filters,
            size: [0, 1].map(|axis| out[axis] + kernel[axis] - 1),
            kernel,
            stride: [1, 1],
            padding: [0, 0],
        }
    })
}

/// Bytes of one item's phases above which the unfolded form is kept: the direct kernel reads an
/// item's whole input once per block of 8 filters, from the cache while it fits there (the
/// paper-size pix2pix's 64 -> 128 filter layer on 128 x 128 has 4.3 MB of phases an item).
const ITEM_BYTES: usize = 1 << 20;

/// Whether the convolution of the phases applies to `geometry` on `batch` items: a stride that
/// divides the kernel, phases whose stride-1 convolution [`conv_direct::convolves`], at most
/// [`ITEM_BYTES`] of them an item, and an item for each of rayon's threads (the direct kernel
/// shares the items among them, where the unfolded form's products share the work of one item).
/// Without the last two bounds the paper-size pix2pix (batch 1) trained at 0.72 and inferred at
/// 0.79 of the unfolded form's speed (one round, on a noisy hour); with them its rows are the
/// unfolded form's, and the paper-size DCGAN's (batch 16: only the discriminator's first layer
/// takes the phases) trained at 0.96-1.02 of it in three alternated rounds.
pub(crate) fn applies(geometry: &Geometry, batch: usize) -> bool {
    phase_geometry(geometry).is_some_and(|phases| {
        conv_direct::convolves(&phases) && 4 * phases.per_input() <= ITEM_BYTES && batch >= rayon::current_num_threads()
    })
}

/// `y = weight * x` for `batch` items, as [`crate::conv_columns::convolve`], as the direct
/// convolution of the input's phases.
///
/// # Panics
/// Unless `geometry`'s stride divides its kernel.
pub(crate) fn convolve(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32], y: &mut [f32]) {
    let phases = phase_geometry(geometry).expect("a stride that divides the kernel");
    let weight = phase_weight(geometry, weight);
    let (per_input, per_phases) = (geometry.per_input(), phases.per_input());
    conv_direct::convolve_items(&phases, batch, &weight, y, |item, padded| {
        let (split, overrun) = padded.split_at_mut(per_phases);
        split_item(geometry, &phases, &x[item * per_input..][..per_input], split);
        overrun.fill(0.0);
    });
}

/// The weight `[filters, channels, k, k]` as the phases' `[filters, channels s s, k / s, k / s]`:
/// `w'[f, (c s + a) s + b, i, j] = w[f, c, s i + a, s j + b]`.
fn phase_weight(geometry: &Geometry, weight: &[f32]) -> Vec<f32> {
    let Geometry { channels, filters, kernel: [kh, kw], stride: [sy, sx], .. } = *geometry;
    let [qh, qw] = [kh / sy, kw / sx];
    let mut phased = vec![0f32; weight.len()];
    for f in 0..filters {
        for c in 0..channels {
            let kernel = &weight[(f * channels + c) * kh * kw..][..kh * kw];
            for (a, b) in (0..sy).flat_map(|a| (0..sx).map(move |b| (a, b))) {
                let phase = (f * channels + c) * sy * sx + a * sx + b;
                for (i, j) in (0..qh).flat_map(|i| (0..qw).map(move |j| (i, j))) {
                    phased[(phase * qh + i) * qw + j] = kernel[(sy * i + a) * kw + sx * j + b];
                }
            }
        }
    }
    phased
}

/// One item's input `[channels, height, width]` as its phases `[channels s s, rows, columns]`
/// (the phase geometry's size), 0 in the padding. Writes every value.
fn split_item(geometry: &Geometry, phases: &Geometry, x: &[f32], split: &mut [f32]) {
    let Geometry { size: [height, width], stride: [sy, sx], padding: [top, left], .. } = *geometry;
    let [rows, columns] = phases.size;
    // Phase row `u` is input row `sy u + a - top`, phase column `v` input column `sx v + b - left`,
    // where inside the input.
    let inside = |index: usize, pad: usize, len: usize| index.checked_sub(pad).filter(|&at| at < len);
    for (c, input) in x.chunks_exact(height * width).enumerate() {
        for a in 0..sy {
            for b in 0..sx {
                let plane = &mut split[((c * sy + a) * sx + b) * rows * columns..][..rows * columns];
                // The phase columns inside the input, and the input column the first reads.
                let first = left.saturating_sub(b).div_ceil(sx).min(columns);
                let end = (width + left).saturating_sub(b).div_ceil(sx).clamp(first, columns);
                let from = (sx * first + b).saturating_sub(left);
                for (u, row) in plane.chunks_exact_mut(columns).enumerate() {
                    let Some(iy) = inside(sy * u + a, top, height) else {
                        row.fill(0.0);
                        continue;
                    };
                    let line = &input[iy * width..][..width];
                    row[..first].fill(0.0);
                    let values = line[from.min(width)..].iter().step_by(sx);
                    row[first..end].iter_mut().zip(values).for_each(|(value, input)| *value = *input);
                    row[end..].fill(0.0);
                }
            }
        }
    }
}
