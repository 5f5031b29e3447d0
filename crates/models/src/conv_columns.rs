//! 2-d convolutions of one group without dilation as matrix products with the unfolded input
//! (im2col), on plain slices: the host side of [`crate::conv2d`]'s `flex` kernels (the
//! convolution, its weight gradient, its input gradient, which is also the transposed
//! convolution).
//!
//! A chunk of batch items is unfolded side by side into one `[channels k k, items positions]`
//! matrix, so that each product is one `gemm` call over all the chunk's output positions. Per
//! item, as `flex`'s own convolution computes it, the products of the GANs' inner layers (8 x 8,
//! 4 x 4, 2 x 2 and 1 x 1 outputs) were a few rows each: `gemm`'s 16-row microkernel then ran a
//! quarter or a sixteenth full, 30% of the pix2pix training step's time. The products write
//! `[filters, items positions]`, which one copy turns into the batch's `[items, filters,
//! positions]` (none for a chunk of one item). Chunks are sized so that their columns (4 MB)
//! stay in the cache for their product; the columns and the reordered matrices live in
//! buffers reused from call to call, every value written before it is read. Where the batch
//! has a chunk for each thread, the chunks run side by side, each product on one thread (the
//! weight gradient in two halves summed apart, then added). The weight
//! gradient unfolds the chunk transposed, `[items positions, channels k k]` (im2row), the
//! layout `gemm` packs fast for that product.

use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::matrix_product::{Strided, Threads, matmul};
use crate::{conv_direct, conv_filter_lanes, conv_phases, conv_pointwise, fold_phases, unfold_channels_last};

/// Bytes of unfolded input per chunk: a chunk's columns stay in the cache for their product,
/// where the whole batch's (75 MB for a DeepLens layer) went to memory.
const CHUNK_BYTES: usize = 4 << 20;

/// Multiply-adds above which a product runs on all of rayon's threads (`gemm` splits it), below
/// which on the calling thread (the split would cost more than it saves).
const PARALLEL_PRODUCT: usize = 1 << 21;

/// Buffers for the unfolded columns, reordered matrices and phases, kept from call to call
/// (per process rather than per thread: the trainer's half-batch steps run one half on a thread
/// started for the step).
static BUFFERS: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// The shape of a convolution of an input `[batch, channels, height, width]` by a weight
/// `[filters, channels, kernel height, kernel width]`, zero-padded by `padding` on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) channels: usize,
    pub(crate) filters: usize,
    /// The input's height and width.
    pub(crate) size: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) padding: [usize; 2],
}

impl Geometry {
    /// The output's height and width, or `None` where the kernel is larger than the padded
    /// input or a stride is 0.
    pub(crate) fn out(&self) -> Option<[usize; 2]> {
        let side = |axis: usize| {
            let padded = self.size[axis] + 2 * self.padding[axis];
            (self.stride[axis] > 0 && padded >= self.kernel[axis] && self.kernel[axis] > 0)
                .then(|| (padded - self.kernel[axis]) / self.stride[axis] + 1)
        };
        Some([side(0)?, side(1)?])
    }

    /// Output positions per item.
    pub(crate) fn positions(&self) -> usize {
        let [height, width] = self.out().expect("a convolution with an output");
        height * width
    }

    /// Rows and columns of each of the input's `stride x stride` phases (every `s`-th row and
    /// column, [`unfold`] and [`fold`]).
    fn phase(&self) -> [usize; 2] {
        [self.size[0].div_ceil(self.stride[0]), self.size[1].div_ceil(self.stride[1])]
    }

    /// Rows of the unfolded input: one per channel and kernel offset.
    pub(crate) fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Input values per item.
    pub(crate) fn per_input(&self) -> usize {
        self.channels * self.size[0] * self.size[1]
    }

    /// Output values per item.
    pub(crate) fn per_output(&self) -> usize {
        self.filters * self.positions()
    }

    /// Items per chunk.
    fn chunk(&self, batch: usize) -> usize {
        (CHUNK_BYTES / (4 * self.rows() * self.positions()).max(1)).clamp(1, batch.max(1))
    }

    /// Calls `each(first item, items, the items' part of out, side by side)` for the batch in
    /// chunks, the chunks on rayon's threads (`out` holds `per_item` values an item).
    /// `side_by_side` says whether the batch has a chunk for each thread, so that the chunk's
    /// products run on its own ([`product_threads`]).
    fn for_chunks_side_by_side(
        &self,
        batch: usize,
        out: &mut [f32],
        per_item: usize,
        each: impl Fn(usize, usize, &mut [f32], bool) + Sync,
    ) {
        let chunk = self.chunk(batch);
        let side_by_side = batch.div_ceil(chunk) >= rayon::current_num_threads();
        if out.is_empty() {
            return;
        }
        out.par_chunks_mut(chunk * per_item)
            .enumerate()
            .for_each(|(index, out)| each(index * chunk, out.len() / per_item, out, side_by_side));
    }

    /// The batch's chunks: (first item, items).
    fn chunks(&self, batch: usize) -> Vec<(usize, usize)> {
        let chunk = self.chunk(batch);
        (0..batch).step_by(chunk).map(|first| (first, chunk.min(batch - first))).collect()
    }
}

/// `y = weight * x`: the convolution of `x` (`[batch, channels, height, width]`) by `weight`
/// (`[filters, channels k k]`) into `y` (`[batch, filters, out height, out width]`).
///
/// # Panics
/// If a slice's length is not its shape's.
pub(crate) fn convolve(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32], y: &mut [f32]) {
    check_lengths(geometry, batch, x, y);
    assert_eq!(weight.len(), geometry.filters * geometry.rows(), "weight of the wrong size");
    if conv_pointwise::applies(geometry) {
        conv_pointwise::convolve(geometry, batch, x, weight, y)
    } else if conv_direct::convolves(geometry) {
        conv_direct::convolve(geometry, batch, x, weight, y)
    } else if conv_phases::applies(geometry, batch) {
        conv_phases::convolve(geometry, batch, x, weight, y)
    } else {
        convolve_unfolded(geometry, batch, x, weight, y)
    }
}

/// [`convolve`] as products with the unfolded input.
fn convolve_unfolded(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32], y: &mut [f32]) {
    let (rows, positions, per_output) = (geometry.rows(), geometry.positions(), geometry.per_output());
    let weight = Strided { values: weight, rows, columns: 1 };
    geometry.for_chunks_side_by_side(batch, y, per_output, |first, items, y, side_by_side| {
        let n = items * positions;
        with_buffer(rows * n, |columns| {
            unfold(geometry, items, input_of(geometry, x, first, items), columns);
            let columns = Strided { values: columns, rows: n, columns: 1 };
            let dims = [geometry.filters, rows, n];
            let threads = product_threads(dims, side_by_side);
            if items == 1 {
                matmul(weight, columns, y, dims, [n, 1], false, threads);
            } else {
                with_buffer(geometry.filters * n, |product| {
                    matmul(weight, columns, product, dims, [n, 1], false, threads);
                    // [filters, items positions] -> [items, filters, positions]
                    y.par_chunks_mut(per_output).with_min_len(tasks_of(per_output)).enumerate().for_each(
                        |(item, y)| {
                            for (filter, y) in y.chunks_exact_mut(positions).enumerate() {
                                y.copy_from_slice(&product[filter * n + item * positions..][..positions]);
                            }
                        },
                    );
                });
            }
        });
    });
}

/// `d loss / d weight` (`[filters, channels k k]`, into `gradient`) of the convolution of `x`
/// whose output gradient is `dy` (`[batch, filters, out height, out width]`): the sum over
/// the batch of `dy_b unfold(x_b)^T`, one product per chunk.
///
/// The chunk is unfolded by output position ([`unfold_rows`]), so that the product's right
/// side is laid out as `gemm` reads it: given [`unfold`]'s matrix as a transposed operand,
/// `gemm` gathered it value by value while packing, and the product ran at a sixth of its
/// speed (the DCGAN's 32 -> 64 filter layer: 16 ms against 4.4 ms for a batch of 32).
///
/// # Panics
/// If a slice's length is not its shape's.
pub(crate) fn weight_gradient(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    check_lengths(geometry, batch, x, dy);
    assert_eq!(gradient.len(), geometry.filters * geometry.rows(), "weight gradient of the wrong size");
    if conv_pointwise::applies(geometry) {
        conv_pointwise::weight_gradient(geometry, batch, x, dy, gradient)
    } else if conv_direct::weight_gradient_applies(geometry) {
        conv_direct::weight_gradient(geometry, batch, x, dy, gradient)
    } else if conv_filter_lanes::applies(geometry) {
        conv_filter_lanes::weight_gradient(geometry, batch, x, dy, gradient)
    } else {
        weight_gradient_unfolded(geometry, batch, x, dy, gradient)
    }
}

/// [`weight_gradient`] as products with the unfolded input, in channels-last order where
/// [`unfold_channels_last`] applies.
fn weight_gradient_unfolded(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    if unfold_channels_last::applies(geometry, batch) {
        return unfold_channels_last::weight_gradient(geometry, batch, x, dy, gradient);
    }
    let chunks = geometry.chunks(batch);
    if chunks.len() < 2 {
        return weight_gradient_of_chunks(geometry, &chunks, x, dy, gradient, 1);
    }
    let (early, late) = chunks.split_at(chunks.len().div_ceil(2));
    with_buffer(gradient.len(), |late_sum| {
        rayon::join(
            || weight_gradient_of_chunks(geometry, early, x, dy, gradient, 2),
            || weight_gradient_of_chunks(geometry, late, x, dy, late_sum, 2),
        );
        add(gradient, late_sum);
    });
}

/// The sum of [`weight_gradient_unfolded`]'s products over `chunks` (first item, items) into
/// `gradient` (overwritten), one of `sums` such sums side by side: with two, each product on
/// the thread of its sum where there are no more threads than sums. The batch's chunks are
/// summed in two halves at once, then added: `gemm` splitting the DCGAN's 64-filter product
/// (`[64, 2048] x [2048, 512]`) over two threads ran it at 1.35 times one thread's speed, two
/// products side by side at 2.1 times; the halves are fixed by the chunks, not the threads, so
/// the sum does not depend on them.
fn weight_gradient_of_chunks(
    geometry: &Geometry,
    chunks: &[(usize, usize)],
    x: &[f32],
    dy: &[f32],
    gradient: &mut [f32],
    sums: usize,
) {
    let (rows, positions) = (geometry.rows(), geometry.positions());
    gradient.fill(0.0);
    for &(first, items) in chunks {
        let n = items * positions;
        with_buffer(rows * n, |patches| {
            // unfold(x)^T: [items positions, rows].
            unfold_rows(geometry, items, input_of(geometry, x, first, items), patches);
            let patches = Strided { values: patches, rows, columns: 1 };
            let dims = [geometry.filters, n, rows];
            let threads = product_threads(dims, rayon::current_num_threads() <= sums);
            with_output_gradient(geometry, dy, first, items, |dy| {
                matmul(dy, patches, gradient, dims, [rows, 1], true, threads);
            });
        });
    }
}

/// `d loss / d x` (`[batch, channels, height, width]`, into `dx`) of the convolution by
/// `weight` whose output gradient is `dy`: `weight^T dy` for each chunk, folded back onto the
/// input positions each column came from (col2im). The same operation is the transposed
/// convolution of `dy` by `weight`.
///
/// # Panics
/// If a slice's length is not its shape's.
pub(crate) fn input_gradient(geometry: &Geometry, batch: usize, dy: &[f32], weight: &[f32], dx: &mut [f32]) {
    check_lengths(geometry, batch, dx, dy);
    assert_eq!(weight.len(), geometry.filters * geometry.rows(), "weight of the wrong size");
    if conv_pointwise::applies(geometry) {
        return conv_pointwise::input_gradient(geometry, batch, dy, weight, dx);
    }
    if conv_direct::turns(geometry) {
        conv_direct::input_gradient(geometry, batch, dy, weight, dx)
    } else {
        input_gradient_unfolded(geometry, batch, dy, weight, dx)
    }
}

/// [`input_gradient`] as products with the output gradient, folded.
fn input_gradient_unfolded(geometry: &Geometry, batch: usize, dy: &[f32], weight: &[f32], dx: &mut [f32]) {
    let (rows, positions, per_input) = (geometry.rows(), geometry.positions(), geometry.per_input());
    // weight^T: [rows, filters].
    let weight = Strided { values: weight, rows: 1, columns: rows };
    geometry.for_chunks_side_by_side(batch, dx, per_input, |first, items, dx, side_by_side| {
        let n = items * positions;
        with_buffer(rows * n, |columns| {
            let dims = [rows, geometry.filters, n];
            with_output_gradient(geometry, dy, first, items, |dy| {
                matmul(weight, dy, columns, dims, [n, 1], false, product_threads(dims, side_by_side));
            });
            if fold_phases::applies(geometry) {
                fold_phases::fold(geometry, items, columns, dx)
            } else {
                fold(geometry, items, columns, dx)
            }
        });
    });
}

/// Panics unless `input` and `output` hold `batch` items of the geometry's input and output.
fn check_lengths(geometry: &Geometry, batch: usize, input: &[f32], output: &[f32]) {
    assert_eq!(input.len(), batch * geometry.per_input(), "input of the wrong size");
    assert_eq!(output.len(), batch * geometry.per_output(), "output of the wrong size");
}

/// Items `first..first + items` of the input `x`.
fn input_of<'a>(geometry: &Geometry, x: &'a [f32], first: usize, items: usize) -> &'a [f32] {
    let per_input = geometry.per_input();
    &x[first * per_input..(first + items) * per_input]
}

/// Calls `each` with items `first..first + items` of the output gradient `dy` as a
/// `[filters, items positions]` matrix: `dy` itself for one item, else reordered into a buffer.
pub(crate) fn with_output_gradient(
    geometry: &Geometry,
    dy: &[f32],
    first: usize,
    items: usize,
    each: impl FnOnce(Strided),
) {
    let (positions, per_output) = (geometry.positions(), geometry.per_output());
    let dy = &dy[first * per_output..(first + items) * per_output];
    let n = items * positions;
    if items == 1 {
        return each(Strided { values: dy, rows: n, columns: 1 });
    }
    with_buffer(geometry.filters * n, |reordered| {
        // [items, filters, positions] -> [filters, items positions]
        reordered.par_chunks_mut(n).with_min_len(tasks_of(n)).enumerate().for_each(|(filter, row)| {
            for (item, row) in row.chunks_exact_mut(positions).enumerate() {
                row.copy_from_slice(&dy[item * per_output + filter * positions..][..positions]);
            }
        });
        each(Strided { values: reordered, rows: n, columns: 1 });
    })
}

/// im2row: [`unfold`]'s matrix transposed, `[items positions, channels k k]`: row `(item, oy,
/// ox)` holds the window of that output position, channel by channel, kernel row by kernel
/// row, 0 in the padding. Writes every value. Output rows on rayon's threads.
///
/// Each window row is a few values (3 or 4): the networks' kernel widths copy them as fixed-size
/// arrays (a move or two) instead of a `memcpy` call each (a chunk of six items of DeepLens's
/// 32-filter 3 x 3 layer on 23 x 23: 0.53 -> 0.33 ms).
fn unfold_rows(geometry: &Geometry, items: usize, input: &[f32], patches: &mut [f32]) {
    assert_eq!(input.len(), items * geometry.per_input(), "input of the wrong size");
    assert_eq!(patches.len(), items * geometry.positions() * geometry.rows(), "patches of the wrong size");
    match geometry.kernel[1] {
        1 if geometry.kernel[0] == 1 => unfold_rows_pointwise(geometry, input, patches),
        1 => unfold_rows_of::<1>(geometry, input, patches),
        3 => unfold_rows_of::<3>(geometry, input, patches),
        4 => unfold_rows_of::<4>(geometry, input, patches),
        5 => unfold_rows_of::<5>(geometry, input, patches),
        7 => unfold_rows_of::<7>(geometry, input, patches),
        _ => unfold_rows_of::<0>(geometry, input, patches),
    }
}

/// [`unfold_rows`] for kernels `WIDTH` wide (0: any width), one output position after the
/// other: each position's row is written front to back, its window rows read from the input
/// lines that the block's output row covers (in the cache). Writing one window row of every
/// position in turn, rows `channels k k` values apart, took 1.3-1.9 times as long on the
/// semantic autoencoder's and the GANs' layers.
fn unfold_rows_of<const WIDTH: usize>(geometry: &Geometry, input: &[f32], patches: &mut [f32]) {
    let Geometry { channels, size: [height, width], kernel, stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let (rows, plane) = (geometry.rows(), height * width);
    patches.par_chunks_mut(out_w * rows).with_min_len(tasks_of(out_w * rows)).enumerate().for_each(|(index, block)| {
        let (item, oy) = (index / out_h, index % out_h);
        let item_input = &input[item * channels * plane..][..channels * plane];
        // Where each (channel, kernel row)'s input line starts; `None` in the padding.
        let lines: Vec<Option<usize>> = (0..channels * kernel[0])
            .map(|line| {
                let (c, i) = (line / kernel[0], line % kernel[0]);
                let iy = (oy * stride[0] + i) as isize - padding[0] as isize;
                (iy >= 0 && iy < height as isize).then(|| c * plane + iy as usize * width)
            })
            .collect();
        for (ox, patch) in block.chunks_exact_mut(rows).enumerate() {
            let left = (ox * stride[1]) as isize - padding[1] as isize;
            let inside = left >= 0 && left as usize + kernel[1] <= width;
            for (to, line) in patch.chunks_exact_mut(kernel[1]).zip(&lines) {
                match *line {
                    Some(start) if inside && WIDTH > 0 => {
                        let to: &mut [f32; WIDTH] = to.try_into().expect("WIDTH values");
                        *to = item_input[start + left as usize..][..WIDTH].try_into().expect("WIDTH values");
                    }
                    Some(start) if inside => to.copy_from_slice(&item_input[start + left as usize..][..kernel[1]]),
                    Some(start) => {
                        for (j, to) in to.iter_mut().enumerate() {
                            let ix = left + j as isize;
                            *to = if ix >= 0 && ix < width as isize { item_input[start + ix as usize] } else { 0.0 };
                        }
                    }
                    None => to.fill(0.0),
                }
            }
        }
    });
}

/// [`unfold_rows`] for 1 x 1 kernels: each item's `[channels, positions]` transposed (every
/// `stride`-th position, 0 for padding). Each output row's channels are read `plane` values
/// apart and written side by side; the value-by-value form, with a window's bounds checked for
/// each single value, took about 1 ns a value.
fn unfold_rows_pointwise(geometry: &Geometry, input: &[f32], patches: &mut [f32]) {
    let Geometry { channels, size: [height, width], stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let plane = height * width;
    let inside = |o: usize, axis: usize, size: usize| {
        let i = (o * stride[axis]) as isize - padding[axis] as isize;
        (i >= 0 && i < size as isize).then_some(i as usize)
    };
    let per_row = out_w * channels;
    patches.par_chunks_mut(per_row).with_min_len(tasks_of(per_row)).enumerate().for_each(|(index, block)| {
        let (item, oy) = (index / out_h, index % out_h);
        let Some(iy) = inside(oy, 0, height) else {
            return block.fill(0.0);
        };
        let item_input = &input[item * channels * plane..][..channels * plane];
        for (ox, row) in block.chunks_exact_mut(channels).enumerate() {
            match inside(ox, 1, width) {
                Some(ix) => {
                    for (to, &value) in row.iter_mut().zip(item_input[iy * width + ix..].iter().step_by(plane)) {
                        *to = value;
                    }
                }
                None => row.fill(0.0),
            }
        }
    });
}

/// Values a thread's task copies or sums at the least: the inner layers' loops over a few
/// values each were split into one task per row, costing more in waking threads than the
/// copies themselves.
const VALUES_PER_TASK: usize = 1 << 14;

/// The least number of `len`-value chunks a task takes.
pub(crate) fn tasks_of(len: usize) -> usize {
    VALUES_PER_TASK.div_ceil(len.max(1))
}

/// Which threads a chunk's product of `[m, k, n]` runs on: the calling one where the chunks run
/// side by side, one for each thread (two of the DCGAN's products side by side ran 1.2-1.5
/// times as fast as `gemm` splitting each over two threads), else as [`threads`] says.
pub(crate) fn product_threads(dims: [usize; 3], side_by_side: bool) -> Threads {
    if side_by_side { Threads::This } else { threads(dims) }
}

/// Which threads a product of `[m, k, n]` runs on.
pub(crate) fn threads([m, k, n]: [usize; 3]) -> Threads {
    if m * k * n >= PARALLEL_PRODUCT { Threads::All } else { Threads::This }
}

/// Runs `each` on `len` values of a buffer kept from earlier calls (grown as needed). Values
/// are left from earlier calls: `each` must write before it reads.
pub(crate) fn with_buffer<R>(len: usize, each: impl FnOnce(&mut [f32]) -> R) -> R {
    let taken = BUFFERS.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut buffer = taken.unwrap_or_default();
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let result = each(&mut buffer[..len]);
    BUFFERS.lock().unwrap_or_else(PoisonError::into_inner).push(buffer);
    result
}

/// Drops the buffers [`with_buffer`] keeps.
pub(crate) fn release_buffers() {
    BUFFERS.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

/// im2col of `items` items of the input (`[items, channels, height, width]`) into `columns`
/// (`[channels k k, items positions]`): row `(c, i, j)` holds, for each item and output
/// position, input channel `c` at offset `(i, j)` of the position's window, 0 in the padding.
/// Writes every value.
///
/// A strided convolution reads every `s`-th input value: the input is first split into its
/// `s x s` phases (as [`fold`] sums them), where each kernel offset's output row is a
/// contiguous run (copied as one block, where a gather of every second value was 15% of the
/// pix2pix training step). Stride 1 has one phase, the input itself.
fn unfold(geometry: &Geometry, items: usize, input: &[f32], columns: &mut [f32]) {
    let Geometry { size: [height, width], stride, .. } = *geometry;
    if stride == [1, 1] {
        return unfold_phases(geometry, items, input, [height, width], columns);
    }
    let phase = geometry.phase();
    let per_plane = stride[0] * stride[1] * phase[0] * phase[1];
    with_buffer(input.len() / (height * width) * per_plane, |phases| {
        phases
            .par_chunks_mut(per_plane)
            .zip(input.par_chunks(height * width))
            .with_min_len(tasks_of(per_plane))
            .for_each(|(phases, plane)| {
                for (iy, line) in plane.chunks_exact(width).enumerate() {
                    for q in 0..stride[1] {
                        let at = phase_run(iy, q, stride, phase);
                        for (to, from) in phases[at..].iter_mut().zip(line[q..].iter().step_by(stride[1])) {
                            *to = *from;
                        }
                    }
                }
            });
        unfold_phases(geometry, items, phases, phase, columns);
    });
}

/// [`unfold`] from the input's phases (`[items, channels, stride rows, stride columns, phase
/// rows, phase columns]`, `phase` their size). Rows on rayon's threads.
fn unfold_phases(geometry: &Geometry, items: usize, phases: &[f32], phase: [usize; 2], columns: &mut [f32]) {
    let Geometry { channels, size: [height, width], kernel, stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let positions = out_h * out_w;
    let phase_len = phase[0] * phase[1];
    let per_plane = stride[0] * stride[1] * phase_len;
    let offsets = kernel[0] * kernel[1];
    let maps = (out_w < GATHERED_WIDTH).then(|| gather_maps(geometry, phase));
    columns.par_chunks_mut(items * positions).with_min_len(tasks_of(items * positions)).enumerate().for_each(
        |(row, values)| {
            let (c, i, j) = (row / offsets, row % offsets / kernel[1], row % kernel[1]);
            let (rows, row_phase) = Offset::new(i, stride[0], padding[0], height, phase[0]);
            let (columns, column_phase) = Offset::new(j, stride[1], padding[1], width, phase[1]);
            let inside_rows = rows.first(out_h)..rows.last(out_h);
            let (first, last) = (columns.first(out_w), columns.last(out_w));
            for (item, values) in values.chunks_exact_mut(positions).enumerate() {
                let at = (item * channels + c) * per_plane + (row_phase * stride[1] + column_phase) * phase_len;
                let source = &phases[at..][..phase_len];
                if let Some(maps) = &maps {
                    for (value, &from) in values.iter_mut().zip(&maps[row % offsets]) {
                        *value = source.get(from as usize).copied().unwrap_or(0.0);
                    }
                    continue;
                }
                if first >= last || inside_rows.is_empty() {
                    values.fill(0.0);
                    continue;
                }
                values[..inside_rows.start * out_w].fill(0.0);
                values[inside_rows.end * out_w..].fill(0.0);
                let inside = &mut values[inside_rows.start * out_w..inside_rows.end * out_w];
                if phase[1] == out_w {
                    // Output rows as long as the phase's: the inside rows are one run of the
                    // phase shifted by the kernel offset (one copy, where a copy a row was 10%
                    // of the semantic autoencoder's step); the values it took across a row's
                    // end lie outside `first..last` and are set to 0 below.
                    let begin = (rows.shifted(inside_rows.start) * phase[1]) as isize + columns.shift;
                    let low = (-begin).max(0) as usize;
                    let high = inside.len().min((phase_len as isize - begin).max(0) as usize);
                    if low < high {
                        let start = (begin + low as isize) as usize;
                        inside[low..high].copy_from_slice(&source[start..start + high - low]);
                    }
                    for values in inside.chunks_exact_mut(out_w) {
                        values[..first].fill(0.0);
                        values[last..].fill(0.0);
                    }
                } else {
                    for (oy, values) in inside_rows.clone().zip(inside.chunks_exact_mut(out_w)) {
                        values[..first].fill(0.0);
                        values[last..].fill(0.0);
                        let from = rows.shifted(oy) * phase[1] + columns.shifted(first);
                        values[first..last].copy_from_slice(&source[from..][..last - first]);
                    }
                }
            }
        },
    );
}

/// Output rows shorter than this many values are unfolded value by value through
/// [`gather_maps`]: the copies and fills of a few values each cost more in calls than in
/// copying (the pix2pix's 2 x 2 and 4 x 4 outputs).
const GATHERED_WIDTH: usize = 8;

/// For each kernel offset `(i, j)` of [`unfold_phases`], for each output position, the index
/// in the offset's phase of the input value its window takes there, `u32::MAX` in the padding.
fn gather_maps(geometry: &Geometry, phase: [usize; 2]) -> Vec<Vec<u32>> {
    let Geometry { size: [height, width], kernel, stride, padding, .. } = *geometry;
    let [out_h, out_w] = geometry.out().expect("a convolution with an output");
    let mut maps = Vec::with_capacity(kernel[0] * kernel[1]);
    for i in 0..kernel[0] {
        let (rows, _) = Offset::new(i, stride[0], padding[0], height, phase[0]);
        for j in 0..kernel[1] {
            let (columns, _) = Offset::new(j, stride[1], padding[1], width, phase[1]);
            let (inside_rows, inside_columns) =
                (rows.first(out_h)..rows.last(out_h), columns.first(out_w)..columns.last(out_w));
            let map = (0..out_h * out_w).map(|position| {
                let (oy, ox) = (position / out_w, position % out_w);
                if inside_rows.contains(&oy) && inside_columns.contains(&ox) {
                    u32::try_from(rows.shifted(oy) * phase[1] + columns.shifted(ox))
                        .expect("a phase of under 2^32 values")
                } else {
                    u32::MAX
                }
            });
            maps.push(map.collect());
        }
    }
    maps
}

/// col2im: the sum, into each input position of `items` items (`image`, `[items, channels,
/// height, width]`, overwritten), of the `columns` (`[channels k k, items positions]`) that
/// unfolding would have copied from it. Planes on rayon's threads.
///
/// With a stride `s`, input row `s a + r` takes kernel row `i` of output row `a - (i - pad) / s`
/// exactly where `r = (i - pad) mod s` (columns alike), so the plane is summed as `s x s`
/// phases, each an array of every `s`-th row and column in which a kernel offset's output row
/// adds to a contiguous run (a loop the compiler vectorises, where adding into every `s`-th
/// value of the plane was a scalar loop: 34% of the DCGAN generator's time), then interleaved
/// into the plane. Stride 1 has one phase, the plane itself. Where the stride divides the
/// kernel, [`crate::fold_phases`] folds instead (and is tested against this one).
pub(crate) fn fold(geometry: &Geometry, items: usize, columns: &[f32], image: &mut [f32]) {
    let Geometry { channels, size: [height, width], kernel, stride, .. } = *geometry;
    let positions = geometry.positions();
    let n = items * positions;
    let phase = geometry.phase();
    let phase_len = phase[0] * phase[1];
    let strided = stride != [1, 1];
    let taps = Tap::all(geometry);
    image.par_chunks_mut(height * width).with_min_len(tasks_of(height * width)).enumerate().for_each_init(
        Vec::new,
        |phases, (index, plane)| {
            let (item, c) = (index / channels, index % channels);
            // Row (c, i, j) of this item: its outputs.
            let outputs = |i: usize, j: usize| {
                &columns[((c * kernel[0] + i) * kernel[1] + j) * n + item * positions..][..positions]
            };
            if !strided {
                plane.fill(0.0);
                return add_into_phases(geometry, &taps, outputs, plane);
            }
            phases.clear();
            phases.resize(stride[0] * stride[1] * phase_len, 0.0);
            add_into_phases(geometry, &taps, outputs, phases);
            for (iy, line) in plane.chunks_exact_mut(width).enumerate() {
                if stride[1] == 2 {
                    // Two runs interleaved pairwise (a loop the compiler vectorises).
                    let (even, odd) =
                        (&phases[phase_run(iy, 0, stride, phase)..], &phases[phase_run(iy, 1, stride, phase)..]);
                    let mut pairs = line.chunks_exact_mut(2);
                    for ((pair, even), odd) in (&mut pairs).zip(even).zip(odd) {
                        pair.copy_from_slice(&[*even, *odd]);
                    }
                    if let [last] = pairs.into_remainder() {
                        *last = even[width / 2];
                    }
                    continue;
                }
                for q in 0..stride[1] {
                    let at = phase_run(iy, q, stride, phase);
                    for (to, from) in line[q..].iter_mut().step_by(stride[1]).zip(&phases[at..]) {
                        *to = *from;
                    }
                }
            }
        },
    );
}

/// Adds each kernel offset's outputs (`outputs(i, j)`, `[out height, out width]`) into the
/// phases (`[stride rows, stride columns, phase rows, phase columns]`) of the plane they fold
/// onto, where `taps` ([`Tap::all`]) say.
fn add_into_phases<'a>(
    geometry: &Geometry,
    taps: &[Tap],
    outputs: impl Fn(usize, usize) -> &'a [f32],
    phases: &mut [f32],
) {
    let [_, out_w] = geometry.out().expect("a convolution with an output");
    let phase_width = geometry.phase()[1];
    for tap in taps {
        let outputs = outputs(tap.offset[0], tap.offset[1]);
        let sums = &mut phases[tap.phase_at..];
        let [rows, columns] = &tap.outputs;
        if columns.len() == out_w && out_w == phase_width {
            // Whole output rows onto whole phase rows: the rows are one run.
            let len = rows.len() * phase_width;
            let sums = &mut sums[tap.landing(rows.start, 0, phase_width)..][..len];
            add(sums, &outputs[rows.start * out_w..][..len]);
            continue;
        }
        for oy in rows.clone() {
            let sums = &mut sums[tap.landing(oy, columns.start, phase_width)..][..columns.len()];
            add(sums, &outputs[oy * out_w + columns.start..][..columns.len()]);
        }
    }
}

/// `sums += values`, value by value.
fn add(sums: &mut [f32], values: &[f32]) {
    for (sum, value) in sums.iter_mut().zip(values) {
        *sum += value;
    }
}

/// Where one kernel offset's outputs add in [`fold`]: worked out once per call rather than for
/// each plane (with its divisions, as it was: the GANs' inner layers have thousands of planes
/// of a few values each).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tap {
    /// Kernel row and column.
    offset: [usize; 2],
    /// Where its phase starts in the plane's phases.
    phase_at: usize,
    /// The output rows and columns that land inside the input.
    outputs: [std::ops::Range<usize>; 2],
    /// Output `(oy, ox)` lands on phase row `oy + shift[0]`, column `ox + shift[1]`.
    shift: [isize; 2],
}

impl Tap {
    /// The kernel offsets of `geometry` whose outputs land inside the input, in kernel order.
    fn all(geometry: &Geometry) -> Vec<Tap> {
        let Geometry { size: [height, width], kernel, stride, padding, .. } = *geometry;
        let [out_h, out_w] = geometry.out().expect("a convolution with an output");
        let phase = geometry.phase();
        let mut taps = Vec::new();
        for i in 0..kernel[0] {
            let (rows, row_phase) = Offset::new(i, stride[0], padding[0], height, phase[0]);
            for j in 0..kernel[1] {
                let (columns, column_phase) = Offset::new(j, stride[1], padding[1], width, phase[1]);
                let outputs = [rows.first(out_h)..rows.last(out_h), columns.first(out_w)..columns.last(out_w)];
                if outputs.iter().any(|range| range.is_empty()) {
                    continue;
                }
                let phase_at = (row_phase * stride[1] + column_phase) * phase[0] * phase[1];
                taps.push(Tap { offset: [i, j], phase_at, outputs, shift: [rows.shift, columns.shift] });
            }
        }
        taps
    }

    /// The index in its phase (`phase_width` columns) that output `(oy, ox)` lands on.
    fn landing(&self, oy: usize, ox: usize, phase_width: usize) -> usize {
        (oy as isize + self.shift[0]) as usize * phase_width + (ox as isize + self.shift[1]) as usize
    }
}

/// Where the phases (`[stride rows, stride columns, phase rows, phase columns]`, `phase` their
/// size) hold input row `iy`'s values in columns `q, q + s, q + 2 s, ...`, in a run.
fn phase_run(iy: usize, q: usize, stride: [usize; 2], phase: [usize; 2]) -> usize {
    ((iy % stride[0]) * stride[1] + q) * phase[0] * phase[1] + iy / stride[0] * phase[1]
}

/// Where one kernel offset's outputs land along one axis of the folded input: output `o`
/// adds to phase index `o + shift` of its phase, for the outputs whose index is inside the
/// phase's `len` values.
#[derive(Debug, Clone, Copy)]
struct Offset {
    shift: isize,
    len: usize,
}

impl Offset {
    /// Kernel offset `k` of a convolution of `stride` and `padding` over `size` input values
    /// whose phases hold `phase` values each; and the phase it adds to.
    fn new(k: usize, stride: usize, padding: usize, size: usize, phase: usize) -> (Offset, usize) {
        let from = k as isize - padding as isize;
        let (shift, rest) = (from.div_euclid(stride as isize), from.rem_euclid(stride as isize) as usize);
        // The phase's inside values: `stride a + rest < size`.
        let len = size.saturating_sub(rest).div_ceil(stride).min(phase);
        (Offset { shift, len }, rest)
    }

    /// The first output (of `out`) landing inside.
    fn first(self, out: usize) -> usize {
        (-self.shift).clamp(0, out as isize) as usize
    }

    /// One past the last output (of `out`) landing inside.
    fn last(self, out: usize) -> usize {
        (self.len as isize - self.shift).clamp(0, out as isize) as usize
    }

    /// The phase index output `o` lands on (`o` between first and last).
    fn shifted(self, o: usize) -> usize {
        (o as isize + self.shift) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition: each output the sum over the window inside the input.
    fn naive(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32]) -> Vec<f32> {
        let Geometry { channels, filters, size: [height, width], kernel, stride, padding } = *geometry;
        let [out_h, out_w] = geometry.out().unwrap();
        let mut y = vec![0f32; batch * filters * out_h * out_w];
        for b in 0..batch {
            for f in 0..filters {
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let mut sum = 0f64;
                        for c in 0..channels {
                            for i in 0..kernel[0] {
                                for j in 0..kernel[1] {
                                    let iy = (oy * stride[0] + i) as isize - padding[0] as isize;
                                    let ix = (ox * stride[1] + j) as isize - padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= height as isize || ix >= width as isize {
                                        continue;
                                    }
                                    let xv = x[((b * channels + c) * height + iy as usize) * width + ix as usize];
                                    let wv = weight[((f * channels + c) * kernel[0] + i) * kernel[1] + j];
                                    sum += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                        y[((b * filters + f) * out_h + oy) * out_w + ox] = sum as f32;
                    }
                }
            }
        }
        y
    }

    /// Deterministic values in [-1, 1].
    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed).wrapping_mul(40503) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum()
    }

    /// The geometries of the networks (the GANs' 4 x 4 / 2 down to one output position, the
    /// ResNets' strided and padded kernels, a 1 x 1 stride 2) on batches that fill one chunk,
    /// several chunks, and a last chunk of one item.
    fn cases() -> Vec<(Geometry, usize)> {
        let g = |channels, filters, size, kernel, stride, padding| Geometry {
            channels,
            filters,
            size,
            kernel,
            stride,
            padding,
        };
        vec![
            (g(3, 5, [8, 8], [4, 4], [2, 2], [1, 1]), 4),
            (g(4, 3, [2, 2], [4, 4], [2, 2], [1, 1]), 5),
            (g(2, 6, [9, 7], [3, 3], [2, 2], [1, 1]), 3),
            // Enough channels for the weight gradient's channels-last im2row (stride 1; the
            // strided case for the unfolding alone), its transposition in blocks of 64
            // positions, the last part-filled (110 and 81 positions).
            (g(33, 4, [10, 11], [4, 4], [2, 2], [1, 1]), 2),
            (g(32, 3, [9, 9], [3, 3], [1, 1], [1, 1]), 2),
            (g(2, 3, [7, 9], [3, 5], [1, 2], [1, 2]), 2),
            (g(5, 4, [6, 6], [1, 1], [2, 2], [0, 0]), 3),
            (g(1, 2, [12, 12], [7, 7], [1, 1], [3, 3]), 1),
            // Output rows shorter than the input's (or its phases') but of 8 values or more:
            // unfolded row by row (the cases above with narrower outputs are gathered value by
            // value).
            (g(2, 3, [6, 12], [3, 3], [1, 1], [0, 0]), 2),
            (g(3, 2, [11, 21], [5, 5], [2, 2], [0, 0]), 3),
            // Output rows longer than the phases' (the padding's outputs land outside): folded
            // row by row.
            (g(2, 3, [6, 5], [1, 1], [2, 2], [2, 2]), 2),
            // 1.6 MB of columns per item: chunks of 2, 2 and 1.
            (g(16, 3, [52, 52], [3, 3], [1, 1], [1, 1]), 5),
            // The Dieleman network's first layer (three tiles a row, the weight gradient in
            // passes of ten output rows), and two blocks of filters, the second part-filled,
            // with rows of 37 outputs and padding.
            (g(3, 8, [45, 45], [6, 6], [1, 1], [0, 0]), 3),
            (g(2, 12, [9, 37], [3, 3], [1, 1], [1, 1]), 2),
            // 1 x 1 of stride 1: one product per item, items on the threads (10 items: the
            // weight gradient in groups of 8 and 2) or one by one (1 item).
            (g(6, 20, [5, 7], [1, 1], [1, 1], [0, 0]), 10),
            (g(20, 3, [4, 4], [1, 1], [1, 1], [0, 0]), 1),
            // The direct convolution past 16 filters (whole tiles; a 4 x 4 kernel whose input
            // gradient pads by 2 and overruns its second tile; a 3 x 5 kernel with 14 outputs a
            // row), their input gradients by the direct form too (the first with 24 filters).
            (g(24, 24, [16, 16], [3, 3], [1, 1], [1, 1]), 2),
            (g(8, 32, [17, 17], [4, 4], [1, 1], [1, 1]), 2),
            (g(4, 24, [16, 14], [3, 5], [1, 1], [1, 2]), 1),
            // Channels-last patches of 45 KB an output row: the weight gradient's form in small
            // blocks takes one row of one item at a time.
            (g(32, 2, [40, 40], [3, 3], [1, 1], [1, 1]), 2),
            // The quarter-width Dieleman network's second to fourth layers (valid padding; the
            // second's input gradient by the turned kernel), 16 parts.
            (g(8, 16, [20, 20], [5, 5], [1, 1], [0, 0]), 16),
            (g(16, 32, [8, 8], [3, 3], [1, 1], [0, 0]), 16),
            (g(32, 32, [6, 6], [3, 3], [1, 1], [0, 0]), 16),
            // The direct weight gradient past 16 filters (45 x 45 outputs; four blocks of
            // filters, the last part-filled).
            (g(3, 30, [45, 45], [3, 3], [1, 1], [1, 1]), 2),
            // The weight gradient with the filters in the lanes: two blocks of 32 filters, a
            // 5 x 3 kernel, a run of 4 channels and 2 left over (and, above, the quarter-width
            // Dieleman network's 16 -> 32 and 32 -> 32 layers).
            (g(6, 64, [10, 9], [5, 3], [1, 1], [2, 1]), 3),
            // Strided convolutions as convolutions of the input's phases: the GANs' 4 x 4 kernels
            // of stride 2 (whole tiles past 16 filters; input rows and columns of odd length),
            // and a 2 x 2 kernel of stride 2 (1 x 1 phases).
            (g(4, 24, [32, 32], [4, 4], [2, 2], [1, 1]), 3),
            (g(3, 16, [33, 31], [4, 4], [2, 2], [1, 1]), 2),
            (g(5, 8, [32, 36], [2, 2], [2, 2], [0, 0]), 2),
        ]
    }

    type Convolution = fn(&Geometry, usize, &[f32], &[f32], &mut [f32]);

    /// Forms of one operation for `geometry`, named: the unfolded one, and the direct and
    /// pointwise ones where they apply.
    type Forms = Vec<(&'static str, Convolution)>;

    fn forward_forms(geometry: &Geometry) -> Forms {
        let mut forms: Forms = vec![("unfolded", convolve_unfolded)];
        if conv_direct::convolves(geometry) {
            forms.push(("direct", conv_direct::convolve));
        }
        if conv_phases::applies(geometry, usize::MAX) {
            forms.push(("phases", conv_phases::convolve));
        }
        if conv_pointwise::applies(geometry) {
            forms.push(("pointwise", conv_pointwise::convolve));
        }
        forms
    }

    /// Bytes of patches per product of the channels-last weight gradient's form in small
    /// blocks: rows of one item in the tests' cases (its own blocks hold whole items up to 64 MB).
    const SMALL_BLOCKS: usize = 64 << 10;

    fn weight_gradient_in_small_blocks(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], dw: &mut [f32]) {
        unfold_channels_last::weight_gradient_in_blocks(geometry, batch, x, dy, dw, SMALL_BLOCKS)
    }

    fn weight_gradient_forms(geometry: &Geometry) -> Forms {
        // The channels-last form computes any geometry's (it is taken where it is faster).
        let mut forms: Forms = vec![
            ("unfolded", weight_gradient_unfolded),
            ("channels-last in small blocks", weight_gradient_in_small_blocks),
        ];
        if conv_direct::weight_gradient_applies(geometry) {
            forms.push(("direct", conv_direct::weight_gradient));
        }
        if conv_filter_lanes::applies(geometry) {
            forms.push(("filter lanes", conv_filter_lanes::weight_gradient));
        }
        if conv_pointwise::applies(geometry) {
            forms.push(("pointwise", conv_pointwise::weight_gradient));
        }
        forms
    }

    fn input_gradient_forms(geometry: &Geometry) -> Forms {
        let mut forms: Forms = vec![("unfolded", input_gradient_unfolded)];
        if conv_direct::turns(geometry) {
            forms.push(("direct", conv_direct::input_gradient));
        }
        if conv_pointwise::applies(geometry) {
            forms.push(("pointwise", conv_pointwise::input_gradient));
        }
        forms
    }

    /// Every geometry class the direct forms take: the forward and the weight gradient past 16
    /// filters, the weight gradient with the filters in the lanes, and the input gradient by the
    /// direct form with either kind of transposed geometry; and the channels-last weight
    /// gradient in blocks of rows of one item.
    #[test]
    fn the_cases_reach_every_form() {
        let cases = cases();
        let reached = |form: &dyn Fn(&Geometry) -> bool| cases.iter().filter(|(g, _)| form(g)).count();
        assert!(reached(&|g| conv_direct::convolves(g) && !conv_direct::applies(g)) >= 3);
        assert!(reached(&|g| conv_phases::applies(g, usize::MAX)) >= 3);
        assert!(reached(&|g| conv_direct::weight_gradient_applies(g) && !conv_direct::applies(g)) >= 1);
        assert!(reached(&|g| conv_filter_lanes::applies(g) && !conv_direct::weight_gradient_applies(g)) >= 3);
        assert!(reached(&|g| conv_direct::turns(g) && g.channels > 16) >= 1);
        assert!(reached(&|g| conv_direct::turns(g) && g.channels <= 16) >= 2);
        let in_blocks = |(g, batch): &(Geometry, usize)| {
            let [out_h, out_w] = g.out().expect("an output");
            unfold_channels_last::applies(g, *batch) && SMALL_BLOCKS / (4 * g.rows() * out_w) < out_h
        };
        assert!(cases.iter().any(in_blocks), "a weight gradient in blocks of rows of one item");
    }

    #[test]
    fn the_convolution_is_its_definition_on_every_chunking() {
        for (geometry, batch) in cases() {
            let x = values(batch * geometry.per_input(), 1);
            let weight = values(geometry.filters * geometry.rows(), 2);
            let expected = naive(&geometry, batch, &x, &weight);
            for (form, convolve) in forward_forms(&geometry) {
                let mut y = vec![f32::NAN; batch * geometry.per_output()];
                convolve(&geometry, batch, &x, &weight, &mut y);
                for (a, b) in y.iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{form} {geometry:?}: {a} against {b}");
                }
            }
        }
    }

    /// The weight gradient's unfolding by output position is the unfolding by kernel offset
    /// transposed, on every geometry (the kernel widths copied as fixed-size arrays, 1, 3, 4, 5
    /// and 7, and the 6-wide copied value by value).
    #[test]
    fn the_rows_unfolding_is_the_columns_transposed() {
        for (geometry, batch) in cases() {
            let x = values(batch * geometry.per_input(), 9);
            let (rows, n) = (geometry.rows(), batch * geometry.positions());
            let mut columns = vec![f32::NAN; rows * n];
            unfold(&geometry, batch, &x, &mut columns);
            let mut patches = vec![f32::NAN; rows * n];
            unfold_rows(&geometry, batch, &x, &mut patches);
            for r in 0..rows {
                for k in 0..n {
                    assert_eq!(
                        patches[k * rows + r].to_bits(),
                        columns[r * n + k].to_bits(),
                        "{geometry:?}: row {r}, position {k}"
                    );
                }
            }
        }
    }

    /// The channels-last unfolding holds the same windows as [`unfold_rows`], each row's values
    /// in `[k k channels]` order, on every geometry.
    #[test]
    fn the_channels_last_unfolding_is_the_rows_unfolding_reordered() {
        for (geometry, batch) in cases() {
            let x = values(batch * geometry.per_input(), 5);
            let (rows, n) = (geometry.rows(), batch * geometry.positions());
            let (channels, offsets) = (geometry.channels, geometry.kernel[0] * geometry.kernel[1]);
            let mut patches = vec![f32::NAN; rows * n];
            unfold_rows(&geometry, batch, &x, &mut patches);
            let mut last = vec![f32::NAN; rows * n];
            unfold_channels_last::unfold_rows(&geometry, batch, &x, &mut last);
            for k in 0..n {
                for c in 0..channels {
                    for offset in 0..offsets {
                        assert_eq!(
                            last[k * rows + offset * channels + c].to_bits(),
                            patches[k * rows + c * offsets + offset].to_bits(),
                            "{geometry:?}: position {k}, channel {c}, offset {offset}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_direct_form_takes_stride_1_and_few_filters() {
        let g = |filters, stride| Geometry {
            channels: 3,
            filters,
            size: [45, 45],
            kernel: [6, 6],
            stride,
            padding: [0, 0],
        };
        assert!(conv_direct::applies(&g(8, [1, 1])));
        assert!(conv_direct::applies(&g(16, [1, 1])));
        assert!(!conv_direct::applies(&g(17, [1, 1])));
        assert!(!conv_direct::applies(&g(8, [2, 2])));
        assert!(!conv_direct::applies(&Geometry { size: [4, 4], ..g(8, [1, 1]) }));
        // A lane in 32 used (one filter, 4 outputs a row); 12 tiles per block.
        let small = |channels, filters, side| Geometry {
            channels,
            filters,
            size: [side, side],
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1, 1],
        };
        assert!(!conv_direct::applies(&small(256, 1, 4)));
        assert!(!conv_direct::applies(&small(16, 16, 12)));
        assert!(conv_direct::applies(&small(8, 8, 23)));
    }

    /// The gradients are the adjoints of the convolution: `<dy, conv(x, w)>` equals `<dx, x>`
    /// (with `dx` the input gradient) and `<dw, w>` (with `dw` the weight gradient), for any
    /// `dy`, `x`, `w`; a product summed in the wrong place or a value folded to the wrong
    /// position breaks the equality.
    #[test]
    fn the_gradients_are_the_convolutions_adjoints() {
        for (geometry, batch) in cases() {
            let x = values(batch * geometry.per_input(), 3);
            let weight = values(geometry.filters * geometry.rows(), 4);
            let dy = values(batch * geometry.per_output(), 5);
            let y = naive(&geometry, batch, &x, &weight);
            let reference = dot(&dy, &y);
            let scale = dy.len() as f64;
            for (form, input_gradient) in input_gradient_forms(&geometry) {
                let mut dx = vec![f32::NAN; x.len()];
                input_gradient(&geometry, batch, &dy, &weight, &mut dx);
                let value = dot(&dx, &x);
                assert!(
                    (value - reference).abs() < 1e-5 * scale,
                    "{form} input gradient of {geometry:?}: {value} against {reference}"
                );
                // Each input gradient value on its own: the sum of dy times the weight over the
                // outputs whose window covers it, as the convolution of a one-hot input gives.
                for probe in [0, x.len() / 3, x.len() - 1] {
                    let mut one_hot = vec![0f32; x.len()];
                    one_hot[probe] = 1.0;
                    let expected = dot(&dy, &naive(&geometry, batch, &one_hot, &weight));
                    assert!((f64::from(dx[probe]) - expected).abs() < 1e-4, "{form} {geometry:?} at {probe}");
                }
            }
            for (form, weight_gradient) in weight_gradient_forms(&geometry) {
                let mut dw = vec![f32::NAN; weight.len()];
                weight_gradient(&geometry, batch, &x, &dy, &mut dw);
                let value = dot(&dw, &weight);
                assert!(
                    (value - reference).abs() < 1e-5 * scale,
                    "{form} weight gradient of {geometry:?}: {value} against {reference}"
                );
            }
        }
    }

    /// A seed gives the same run: each form's values are the same bit for bit on one thread and
    /// on three (rayon splits the work differently).
    #[test]
    fn the_sums_do_not_depend_on_the_threads() {
        let on = |threads: usize, run: &(dyn Fn() -> Vec<f32> + Sync)| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(run)
        };
        for (geometry, batch) in cases() {
            let x = values(batch * geometry.per_input(), 6);
            let weight = values(geometry.filters * geometry.rows(), 7);
            let dy = values(batch * geometry.per_output(), 8);
            let operations: [(&str, Forms, &[f32], usize); 3] = [
                ("forward", forward_forms(&geometry), &x, dy.len()),
                ("weight gradient", weight_gradient_forms(&geometry), &dy, weight.len()),
                ("input gradient", input_gradient_forms(&geometry), &dy, x.len()),
            ];
            for (what, forms, input, len) in operations {
                for (form, operation) in forms {
                    let run = || {
                        let mut out = vec![f32::NAN; len];
                        match what {
                            "weight gradient" => operation(&geometry, batch, &x, input, &mut out),
                            _ => operation(&geometry, batch, input, &weight, &mut out),
                        }
                        out
                    };
                    let (one, three) = (on(1, &run), on(3, &run));
                    assert!(
                        one.iter().zip(&three).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{form} {what} of {geometry:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_kernel_larger_than_the_padded_input_has_no_output() {
        let geometry =
            Geometry { channels: 1, filters: 1, size: [2, 2], kernel: [5, 5], stride: [1, 1], padding: [1, 1] };
        assert_eq!(geometry.out(), None);
        assert_eq!(Geometry { stride: [0, 1], ..geometry }.out(), None);
        assert_eq!(Geometry { padding: [2, 2], ..geometry }.out(), Some([2, 2]));
    }
}
