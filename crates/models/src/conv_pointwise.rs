//! 1 x 1 convolutions of stride 1 without padding (the bottleneck ResNets' reductions and
//! expansions) as one matrix product per batch item, on plain slices: the input of an item is
//! already the `[channels, positions]` matrix that the unfolded forms ([`crate::conv_columns`])
//! copy it into, and its transpose, which the weight gradient needs, is the same slice read with
//! swapped strides (`gemm` packs it as fast here, the products being long).
//!
//! - Forward: `y_i = weight x_i` (`[filters, channels] x [channels, positions]`).
//! - Weight gradient: `sum_i dy_i x_i^T`, each group of 8 items summed on a thread into a
//!   buffer of its own, the groups' sums then added.
//! - Input gradient: `dx_i = weight^T dy_i`.
//!
//! Items run on rayon's threads, one product each on its thread; a batch smaller than the
//! threads runs item by item, a large product split by `gemm` between the threads. On DeepLens's
//! 1 x 1 layers (batch 64, 2 threads) the unfolded weight gradient spent most of its time
//! transposing each item (im2row), and `flex`'s own convolution, which the forward pass took,
//! ran at a third to a half of the speed of these products (0.9-1.5 ms against 0.4-0.5 a layer).

use rayon::prelude::*;

use crate::conv_columns::{Geometry, threads};
use crate::matrix_product::{Strided, Threads, matmul};

/// Items whose weight gradients one task sums (a fixed number, not one share per thread, so
/// that the sums do not depend on the threads).
const ITEMS_PER_SUM: usize = 8;

/// Whether the convolution is 1 x 1 of stride 1 without padding.
pub(crate) fn applies(geometry: &Geometry) -> bool {
    geometry.kernel == [1, 1] && geometry.stride == [1, 1] && geometry.padding == [0, 0]
}

/// `[filters, channels, positions]` of the convolution.
fn dims(geometry: &Geometry) -> [usize; 3] {
    [geometry.filters, geometry.channels, geometry.size[0] * geometry.size[1]]
}

/// `out_i = lhs input_i` for each of the `batch` items (`lhs` `[m, k]`, `input_i` `[k, n]`,
/// `out_i` `[m, n]`, both items' slices row by row): items on rayon's threads, or one by one
/// with each product on the threads [`threads`] gives it.
fn product_per_item(batch: usize, lhs: Strided, [m, k, n]: [usize; 3], input: &[f32], out: &mut [f32]) {
    let product = |item: usize, out: &mut [f32], threads: Threads| {
        let rhs = Strided { values: &input[item * k * n..][..k * n], rows: n, columns: 1 };
        matmul(lhs, rhs, out, [m, k, n], [n, 1], false, threads);
    };
    if batch >= rayon::current_num_threads() {
        out.par_chunks_mut(m * n).enumerate().for_each(|(item, out)| product(item, out, Threads::This));
    } else {
        out.chunks_mut(m * n).enumerate().for_each(|(item, out)| product(item, out, threads([m, k, n])));
    }
}

/// `y = weight * x` as [`crate::conv_columns::convolve`]'s, for a geometry where [`applies`].
pub(crate) fn convolve(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32], y: &mut [f32]) {
    let [filters, channels, positions] = dims(geometry);
    let weight = Strided { values: weight, rows: channels, columns: 1 };
    product_per_item(batch, weight, [filters, channels, positions], x, y);
}

/// `d loss / d x` as [`crate::conv_columns::input_gradient`]'s, for a geometry where
/// [`applies`].
pub(crate) fn input_gradient(geometry: &Geometry, batch: usize, dy: &[f32], weight: &[f32], dx: &mut [f32]) {
    let [filters, channels, positions] = dims(geometry);
    // weight^T: [channels, filters].
    let weight = Strided { values: weight, rows: 1, columns: channels };
    product_per_item(batch, weight, [channels, filters, positions], dy, dx);
}

/// `d loss / d weight` as [`crate::conv_columns::weight_gradient`]'s, for a geometry where
/// [`applies`].
pub(crate) fn weight_gradient(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    let [filters, channels, positions] = dims(geometry);
    let product = [filters, positions, channels];
    // Items first..last summed into `sum` (its values overwritten).
    let sum_items = |items: std::ops::Range<usize>, sum: &mut [f32], threads: Threads| {
        sum.fill(0.0);
        for item in items {
            let dy = Strided {
                values: &dy[item * filters * positions..][..filters * positions],
                rows: positions,
                columns: 1,
            };
            // x_i^T: [positions, channels].
            let x = Strided {
                values: &x[item * channels * positions..][..channels * positions],
                rows: 1,
                columns: positions,
            };
            matmul(dy, x, sum, product, [channels, 1], true, threads);
        }
    };
    // Groups of items, each summed in order into a buffer of its own (the first into
    // `gradient`), the buffers then added in order: the same sums on any number of threads.
    let groups = batch.div_ceil(ITEMS_PER_SUM).max(1);
    let each = if groups == 1 { threads(product) } else { Threads::This };
    let mut others = vec![vec![0f32; gradient.len()]; groups - 1];
    let sums = std::iter::once(&mut *gradient).chain(others.iter_mut().map(Vec::as_mut_slice));
    sums.collect::<Vec<&mut [f32]>>().into_par_iter().enumerate().for_each(|(group, sum)| {
        let first = group * ITEMS_PER_SUM;
        sum_items(first..(first + ITEMS_PER_SUM).min(batch), sum, each)
    });
    for other in &others {
        for (g, v) in gradient.iter_mut().zip(other) {
            *g += v;
        }
    }
}
