//! The weight gradients of stride-1 convolutions ([`crate::conv_columns`] takes this form where
//! [`applies`]) as products with im2row in channels-last order: row `(item, oy, ox)` holds that
//! output position's window kernel row by kernel row, kernel column by kernel column, channel by
//! channel, `[k k channels]`, where [`crate::conv_columns`]'s own im2row writes `[channels k k]`.
//!
//! Each item's input is first transposed to `[height, width, channels]`, where one kernel row of
//! a window is `k channels` contiguous values: one copy of 96-384 values for the semantic
//! autoencoder's 3 x 3 layers, where the `[channels k k]` order copies `channels` runs of 3
//! values, each read from another input plane. The product with the output gradient then gives
//! the weight gradient as `[filters, k, k, channels]`, which [`reorder_gradient`] turns into the
//! weight's `[filters, channels, k, k]`.

use rayon::prelude::*;

use crate::conv_columns::{Geometry, tasks_of, threads, with_buffer, with_output_gradient};
use crate::matrix_product::{Strided, matmul};

/// Positions per task of the transposition: a block's `[positions, channels]` output stays in
/// the cache while each channel's run of input is read.
const TRANSPOSED_POSITIONS: usize = 64;

/// Channels from which the channels-last order is taken. Weight gradients, 2 threads,
/// `[channels k k]` against channels-last order (ms, two alternated runs), 3 x 3 kernels: with 10
/// items (the semantic autoencoder's half batch at the paper's widths), 64 -> 64 filters on
/// 32 x 32 6.4, 6.0 -> 5.0, 4.9; 64 -> 128 on 16 x 16 2.8, 2.3 -> 2.3, 2.2; 128 -> 128 on 16 x 16
/// 4.6, 4.3 -> 4.2, 4.1; 32 -> 32 on 32 x 32 2.1, 2.1 -> 1.8, 1.9; with 20 items, 32 -> 32 on
/// 64 x 64 16.6, 16.0 -> 15.2, 15.6; but 16 -> 32 on 32 x 32 2.2 either way, and 1 -> 32 on 64 x 64
/// 1.8 -> 2.1-2.3 (one value a window position: the transposition costs more than it saves).
const MIN_CHANNELS: usize = 32;

/// Bytes of unfolded input per product at most: whole items up to this size (the semantic
/// autoencoder's half batches of 10 items in one product at the paper's widths: 47 MB for its
/// 32 -> 32 filter layer on 64 x 64), rows of one item past it. Fewer, larger products trained
/// faster: the paper-width semantic autoencoder's step, alternated rounds, 0.91x at 512 KB
/// blocks and 1.09x at 16 MB against whole-item chunks of 4 MB, 1.10x again at 64 MB against
/// 16 MB (its default size 1.03x); DeepLens and pix2pix unchanged (1.03x, 1.00x). The price is
/// memory, the buffers kept for the next step: that step's peak heap is 296 MB (`cargo xtask
/// bench`, each row's own buffers counted), PyTorch's 146 MB.
const BLOCK_BYTES: usize = 64 << 20;

/// Products' sums (items times output positions) per filter from which the channels-last order
/// is taken: reordering the gradient costs about a nanosecond per weight, the unfolding saves a
/// fraction of that per unfolded value (one item of a 512 -> 512 filters 4 x 4 layer of stride 2
/// on 16 x 16, 64 sums per filter: 3.1 ms in `[channels k k]` order, 6.4-7.8 channels-last).
const SUMMED_PER_FILTER: usize = 8;

/// Whether the channels-last order applies to the weight gradient of `batch` items: stride 1, at
/// least [`MIN_CHANNELS`] channels and [`SUMMED_PER_FILTER`] sums per filter, kernels larger than
/// 1 x 1 (a 1 x 1 window is one value a channel: [`crate::conv_columns`] transposes those
/// directly). Strided kernels unfold each input value fewer times, so the transposition weighs
/// more: pix2pix's 4 x 4 stride-2 layers (16 items, 32 filters) took 0.7-1.15 times as long
/// layer by layer, and its whole update was no faster (0.91-1.02, alternated runs).
pub(crate) fn applies(geometry: &Geometry, batch: usize) -> bool {
    geometry.channels >= MIN_CHANNELS
        && geometry.stride == [1, 1]
        && geometry.kernel != [1, 1]
        && batch * geometry.positions() >= SUMMED_PER_FILTER * geometry.filters
}

/// `d loss / d weight` (`[filters, channels k k]`, into `gradient`) of the convolution of `x`
/// whose output gradient is `dy`, as [`crate::conv_columns::weight_gradient`]: the input
/// transposed to channels-last once, then for each block of output rows (whole items where an
/// item's patches fit in [`BLOCK_BYTES`], else rows of one item) the product of the block's output
/// gradient and its patches, summed in `[filters, k, k, channels]` and reordered at the end.
pub(crate) fn weight_gradient(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    weight_gradient_in_blocks(geometry, batch, x, dy, gradient, BLOCK_BYTES)
}

/// [`weight_gradient`] in products of at most `block_bytes` of patches (at least one output row).
pub(crate) fn weight_gradient_in_blocks(
    geometry: &Geometry,
    batch: usize,
    x: &[f32],
    dy: &[f32],
    gradient: &mut [f32],
    block_bytes: usize,
) {
    let Geometry { channels, filters, size: [height, width], .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let (rows, positions, per_output) = (geometry.rows(), geometry.positions(), geometry.per_output());
    let block_rows = (block_bytes / (4 * rows * out_w)).max(1);
    with_buffer(x.len(), |transposed| {
        to_channels_last(channels, height * width, x, transposed);
        let transposed = &*transposed;
        with_buffer(gradient.len(), |sums| {
            sums.fill(0.0);
            // The product of output rows `first..first + count` (counted over the items) whose
            // output gradient is `dy`.
            let mut product = |first: usize, count: usize, dy: Strided| {
                let n = count * out_w;
                with_buffer(rows * n, |patches| {
                    unfold_transposed(geometry, transposed, first, patches);
                    let dims = [filters, n, rows];
                    matmul(
                        dy,
                        Strided { values: patches, rows, columns: 1 },
                        sums,
                        dims,
                        [rows, 1],
                        true,
                        threads(dims),
                    );
                });
            };
            if block_rows >= out_h {
                let per_block = block_rows / out_h;
                for first in (0..batch).step_by(per_block) {
                    let items = per_block.min(batch - first);
                    with_output_gradient(geometry, dy, first, items, |dy| product(first * out_h, items * out_h, dy));
                }
            } else {
                for item in 0..batch {
                    for oy in (0..out_h).step_by(block_rows) {
                        let dy = Strided { values: &dy[item * per_output + oy * out_w..], rows: positions, columns: 1 };
                        product(item * out_h + oy, block_rows.min(out_h - oy), dy);
                    }
                }
            }
            reorder_gradient(geometry, sums, gradient);
        });
    });
}

/// im2row of `items` items of `input` (`[items, channels, height, width]`) into `patches`
/// (`[items positions, k k channels]`), 0 in the padding. Writes every value. (The tests'
/// reference for [`unfold_transposed`].)
#[cfg(test)]
pub(crate) fn unfold_rows(geometry: &Geometry, items: usize, input: &[f32], patches: &mut [f32]) {
    let Geometry { channels, size: [height, width], .. } = *geometry;
    assert_eq!(input.len(), items * geometry.per_input(), "input of the wrong size");
    assert_eq!(patches.len(), items * geometry.positions() * geometry.rows(), "patches of the wrong size");
    with_buffer(input.len(), |transposed| {
        to_channels_last(channels, height * width, input, transposed);
        unfold_transposed(geometry, transposed, 0, patches);
    });
}

/// im2row from the channels-last input `transposed` (`[items, height, width, channels]`) of the
/// output rows from `first` on (counted over the items: item `b`'s row `oy` is `b out_h + oy`),
/// as many as `patches` (`[rows' positions, k k channels]`) holds. Writes every value. Output rows
/// on rayon's threads.
fn unfold_transposed(geometry: &Geometry, transposed: &[f32], first: usize, patches: &mut [f32]) {
    let Geometry { channels, size: [height, width], kernel, stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let (rows, per_input) = (geometry.rows(), geometry.per_input());
    let per_block = out_w * rows;
    assert_eq!(patches.len() % per_block, 0, "patches of whole output rows");
    assert!((first + patches.len() / per_block).div_ceil(out_h) * per_input <= transposed.len(), "rows past the input");
    // One kernel row of a window: `k` input positions of `channels` values each.
    let run = kernel[1] * channels;
    patches.par_chunks_mut(per_block).with_min_len(tasks_of(per_block)).enumerate().for_each(|(index, block)| {
        let (item, oy) = ((first + index) / out_h, (first + index) % out_h);
        let image = &transposed[item * per_input..][..per_input];
        for (ox, patch) in block.chunks_exact_mut(rows).enumerate() {
            let left = (ox * stride[1]) as isize - padding[1] as isize;
            let inside = left >= 0 && left as usize + kernel[1] <= width;
            for (i, to) in patch.chunks_exact_mut(run).enumerate() {
                let iy = (oy * stride[0] + i) as isize - padding[0] as isize;
                if iy < 0 || iy >= height as isize {
                    to.fill(0.0);
                    continue;
                }
                let line = &image[iy as usize * width * channels..][..width * channels];
                if inside {
                    to.copy_from_slice(&line[left as usize * channels..][..run]);
                    continue;
                }
                for (j, to) in to.chunks_exact_mut(channels).enumerate() {
                    let ix = left + j as isize;
                    if ix >= 0 && ix < width as isize {
                        to.copy_from_slice(&line[ix as usize * channels..][..channels]);
                    } else {
                        to.fill(0.0);
                    }
                }
            }
        }
    });
}

/// Each item of `input` (`[items, channels, positions]`) transposed into `output` (`[items,
/// positions, channels]`), blocks of positions on rayon's threads.
pub(crate) fn to_channels_last(channels: usize, positions: usize, input: &[f32], output: &mut [f32]) {
    let per_item = channels * positions;
    output.par_chunks_mut(per_item).zip(input.par_chunks(per_item)).for_each(|(output, input)| {
        output.par_chunks_mut(TRANSPOSED_POSITIONS * channels).enumerate().for_each(|(block, output)| {
            let first = block * TRANSPOSED_POSITIONS;
            let count = output.len() / channels;
            for c in 0..channels {
                let from = &input[c * positions + first..][..count];
                for (to, &value) in output[c..].iter_mut().step_by(channels).zip(from) {
                    *to = value;
                }
            }
        });
    });
}

/// The weight gradient of the channels-last products, `[filters, k, k, channels]`, into the
/// weight's order `[filters, channels, k, k]` in `gradient` (overwritten).
pub(crate) fn reorder_gradient(geometry: &Geometry, channels_last: &[f32], gradient: &mut [f32]) {
    let (channels, offsets) = (geometry.channels, geometry.kernel[0] * geometry.kernel[1]);
    let rows = channels * offsets;
    assert_eq!(channels_last.len(), gradient.len(), "gradients of different sizes");
    gradient.par_chunks_mut(rows).zip(channels_last.par_chunks(rows)).with_min_len(tasks_of(rows)).for_each(
        |(to, from)| {
            for (c, to) in to.chunks_exact_mut(offsets).enumerate() {
                for (offset, to) in to.iter_mut().enumerate() {
                    *to = from[offset * channels + c];
                }
            }
        },
    );
}
