//! col2im for strides that divide the kernel (the GANs' 4 x 4 kernels of stride 2), on plain
//! slices: [`crate::conv_columns`]'s fold where [`applies`], the step after the product of the
//! input gradient and of the transposed convolution.
//!
//! With a kernel `k = s q` of stride `s`, kernel offset `(i, j)` sends output `(oy, ox)` to
//! padded input position `(s oy + i, s ox + j)`: to row `oy + i / s`, column `ox + j / s` of the
//! padded input's phase `(i mod s, j mod s)` (every `s`-th row and column). Each phase of the
//! padded input holds `out + q - 1` rows and columns, so every offset's outputs add as one whole
//! block, row by row, with no clipping at the edges; the plane is then read out of its phases,
//! the padding left out. Planes are taken channel by channel, so that an offset's outputs are
//! read in one run across the items. The general fold (offsets clipped to the input, item by
//! item) took 1.5-2.0 times as long on the DCGAN's 8 x 8, 16 x 16 and 32 x 32 planes (one
//! thread, one chunk each: 1.32 -> 0.75, 0.84 -> 0.43 and 0.49 -> 0.32 ms).

use rayon::prelude::*;

use crate::conv_columns::{Geometry, tasks_of};

/// Whether [`fold`] applies: a stride above 1 that divides the kernel on both axes.
pub(crate) fn applies(geometry: &Geometry) -> bool {
    let Geometry { kernel, stride, .. } = *geometry;
    geometry.out().is_some() && (0..2).all(|axis| stride[axis] > 1 && kernel[axis] % stride[axis] == 0)
}

/// The sum, into each input position of `items` items (`image`, `[items, channels, height,
/// width]`, overwritten), of the `columns` (`[channels k k, items positions]`) that unfolding
/// would have copied from it. Planes on rayon's threads.
///
/// # Panics
/// Unless [`applies`], or if a slice's length is not its shape's.
pub(crate) fn fold(geometry: &Geometry, items: usize, columns: &[f32], image: &mut [f32]) {
    assert!(applies(geometry), "a stride above 1 that divides the kernel");
    let Geometry { channels, size: [height, width], kernel: [kh, kw], stride: [sy, sx], .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let positions = out_h * out_w;
    let n = items * positions;
    assert_eq!(columns.len(), geometry.rows() * n, "columns of the wrong size");
    assert_eq!(image.len(), items * geometry.per_input(), "image of the wrong size");
    // Rows and columns of each phase of the padded input.
    let phase = [out_h + kh / sy - 1, out_w + kw / sx - 1];
    let phase_len = phase[0] * phase[1];
    let add_block = block_adder(out_w);
    // The planes channel by channel, item after item: an offset's outputs for consecutive items
    // lie side by side in `columns`, read in one run, where item by item each plane's offsets
    // read a few values from each of `k k` rows `items positions` apart.
    let mut items_planes: Vec<_> =
        image.chunks_exact_mut(channels * height * width).map(|item| item.chunks_exact_mut(height * width)).collect();
    let mut planes = Vec::with_capacity(items * channels);
    for c in 0..channels {
        for (item, item_planes) in items_planes.iter_mut().enumerate() {
            planes.push((item, c, item_planes.next().expect("a plane per channel")));
        }
    }
    planes.into_par_iter().with_min_len(tasks_of(height * width)).for_each_init(
        Vec::new,
        |phases, (item, c, plane)| {
            phases.clear();
            phases.resize(sy * sx * phase_len, 0.0);
            for i in 0..kh {
                for j in 0..kw {
                    let outputs = &columns[((c * kh + i) * kw + j) * n + item * positions..][..positions];
                    let at = ((i % sy) * sx + j % sx) * phase_len + i / sy * phase[1] + j / sx;
                    add_block(&mut phases[at..], outputs, out_w, phase[1]);
                }
            }
            read_plane(geometry, phases, phase, plane);
        },
    );
}

/// Adds an `[out height, out width]` block of outputs (`outputs`, `out width`), row by row, to
/// rows of a phase `phase width` values apart (`sums`, from the block's first value on).
type BlockAdder = fn(&mut [f32], &[f32], usize, usize);

/// [`add_block_of`] for rows `out_w` wide: the networks' widths as fixed-size arrays (one or
/// two vector additions a row, where a loop of a few values cost more in its bounds than in
/// adding).
fn block_adder(out_w: usize) -> BlockAdder {
    match out_w {
        1 => add_block_of::<1>,
        2 => add_block_of::<2>,
        4 => add_block_of::<4>,
        8 => add_block_of::<8>,
        16 => add_block_of::<16>,
        32 => add_block_of::<32>,
        _ => add_block_any,
    }
}

/// [`BlockAdder`] for rows `WIDTH` wide.
fn add_block_of<const WIDTH: usize>(sums: &mut [f32], outputs: &[f32], _: usize, phase_width: usize) {
    for (oy, row) in outputs.chunks_exact(WIDTH).enumerate() {
        let row: &[f32; WIDTH] = row.try_into().expect("WIDTH values");
        let sums: &mut [f32; WIDTH] = (&mut sums[oy * phase_width..][..WIDTH]).try_into().expect("WIDTH values");
        for (sum, value) in sums.iter_mut().zip(row) {
            *sum += value;
        }
    }
}

/// [`BlockAdder`] for rows of any width.
fn add_block_any(sums: &mut [f32], outputs: &[f32], out_w: usize, phase_width: usize) {
    for (oy, row) in outputs.chunks_exact(out_w).enumerate() {
        for (sum, value) in sums[oy * phase_width..][..out_w].iter_mut().zip(row) {
            *sum += value;
        }
    }
}

/// The plane `[height, width]` (overwritten) out of the padded input's phases (`[stride rows,
/// stride columns, phase rows, phase columns]`): input `(y, x)` is padded `(y + top, x + left)`;
/// positions no window reaches (past the last window) are 0.
fn read_plane(geometry: &Geometry, phases: &[f32], phase: [usize; 2], plane: &mut [f32]) {
    let Geometry { size: [_, width], stride: [sy, sx], padding: [top, left], .. } = *geometry;
    let phase_len = phase[0] * phase[1];
    // Whether some columns lie past the last window (then 0 before the runs are written).
    let short = sx * phase[1] < width + left;
    for (y, line) in plane.chunks_exact_mut(width).enumerate() {
        let (a, r) = ((y + top) % sy, (y + top) / sy);
        if r >= phase[0] {
            line.fill(0.0);
            continue;
        }
        // The phase row holding input row `y`'s values of padded columns `b, b + s, ...`.
        let run = |b: usize| &phases[(a * sx + b) * phase_len + r * phase[1]..][..phase[1]];
        if short {
            line.fill(0.0);
        }
        if sx == 2 {
            // Two runs interleaved pairwise (a loop the compiler vectorises).
            // The values of input columns `x, x + 2, ...`.
            let from = |x: usize| &run((x + left) % 2)[(x + left) / 2..];
            let (even, odd) = (from(0), from(1));
            let mut pairs = line.chunks_exact_mut(2);
            for ((pair, even), odd) in (&mut pairs).zip(even).zip(odd) {
                pair.copy_from_slice(&[*even, *odd]);
            }
            if let ([last], Some(value)) = (pairs.into_remainder(), even.get(width / 2)) {
                *last = *value;
            }
            continue;
        }
        for first in 0..sx.min(width) {
            let padded = first + left;
            let values = &run(padded % sx)[padded / sx..];
            for (to, from) in line[first..].iter_mut().step_by(sx).zip(values) {
                *to = *from;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed).wrapping_mul(40503) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// The fold by phases sums what the general fold sums, value for value (the same additions
    /// in the same order), on the GANs' 4 x 4 / 2 down to one output, odd sizes, padding past a
    /// whole window, no padding, and strides of 3 and mixed.
    #[test]
    fn the_fold_by_phases_is_the_general_fold() {
        let g =
            |channels, size, kernel, stride, padding| Geometry { channels, filters: 1, size, kernel, stride, padding };
        let cases = [
            (g(3, [8, 8], [4, 4], [2, 2], [1, 1]), 4),
            (g(2, [2, 2], [4, 4], [2, 2], [1, 1]), 3),
            (g(3, [9, 7], [4, 4], [2, 2], [1, 1]), 2),
            (g(2, [33, 31], [4, 4], [2, 2], [1, 1]), 2),
            (g(2, [10, 10], [4, 4], [2, 2], [0, 0]), 2),
            (g(2, [6, 7], [4, 4], [2, 2], [3, 3]), 2),
            (g(2, [5, 6], [2, 2], [2, 2], [0, 0]), 3),
            (g(2, [11, 10], [6, 6], [3, 3], [2, 2]), 2),
            (g(2, [12, 9], [4, 6], [2, 3], [1, 0]), 2),
            (g(1, [64, 64], [4, 4], [2, 2], [1, 1]), 2),
        ];
        for (geometry, items) in cases {
            assert!(applies(&geometry), "{geometry:?}");
            let columns = values(geometry.rows() * items * geometry.positions(), 7);
            let mut general = vec![f32::NAN; items * geometry.per_input()];
            let mut phases = vec![f32::NAN; items * geometry.per_input()];
            crate::conv_columns::fold(&geometry, items, &columns, &mut general);
            fold(&geometry, items, &columns, &mut phases);
            assert_eq!(phases, general, "{geometry:?}");
        }
    }

    #[test]
    fn only_strides_that_divide_the_kernel_apply() {
        let g = |kernel, stride| Geometry { channels: 1, filters: 1, size: [8, 8], kernel, stride, padding: [1, 1] };
        assert!(!applies(&g([3, 3], [2, 2])));
        assert!(!applies(&g([4, 4], [1, 1])));
        assert!(!applies(&g([4, 3], [2, 2])));
        assert!(applies(&g([4, 6], [2, 3])));
    }
}
