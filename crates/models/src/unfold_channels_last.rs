//! im2row in channels-last order, for the weight gradients of stride-1 convolutions
//! ([`crate::conv_columns`]): row `(item, oy, ox)` holds that output position's window kernel row
//! by kernel row, kernel column by kernel column, channel by channel, `[k k channels]`, where
//! [`crate::conv_columns`]'s own im2row writes `[channels k k]`.
//!
//! Each item's input is first transposed to `[height, width, channels]`, where one kernel row of
//! a window is `k channels` contiguous values: one copy of 96-384 values for the semantic
//! autoencoder's 3 x 3 layers, where the `[channels k k]` order copies `channels` runs of 3
//! values, each read from another input plane. The product with the output gradient then gives
//! the weight gradient as `[filters, k, k, channels]`, which [`reorder_gradient`] turns into the
//! weight's `[filters, channels, k, k]`.

use rayon::prelude::*;

use crate::conv_columns::{Geometry, tasks_of, with_buffer};

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

/// im2row of `items` items of `input` (`[items, channels, height, width]`) into `patches`
/// (`[items positions, k k channels]`), 0 in the padding. Writes every value.
pub(crate) fn unfold_rows(geometry: &Geometry, items: usize, input: &[f32], patches: &mut [f32]) {
    let Geometry { channels, size: [height, width], kernel, stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let (rows, per_input) = (geometry.rows(), geometry.per_input());
    assert_eq!(input.len(), items * per_input, "input of the wrong size");
    assert_eq!(patches.len(), items * out_h * out_w * rows, "patches of the wrong size");
    with_buffer(input.len(), |transposed| {
        to_channels_last(channels, height * width, input, transposed);
        let transposed = &*transposed;
        // One kernel row of a window: `k` input positions of `channels` values each.
        let run = kernel[1] * channels;
        let per_block = out_w * rows;
        patches.par_chunks_mut(per_block).with_min_len(tasks_of(per_block)).enumerate().for_each(|(index, block)| {
            let (item, oy) = (index / out_h, index % out_h);
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
    });
}

/// Each item of `input` (`[items, channels, positions]`) transposed into `output` (`[items,
/// positions, channels]`), blocks of positions on rayon's threads.
fn to_channels_last(channels: usize, positions: usize, input: &[f32], output: &mut [f32]) {
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
