//! The weight gradient of a stride-1 convolution by 3-wide kernels with the filters in the
//! vector lanes: for each output position, two tiles of output gradient (32 filters, read from
//! the output gradient transposed to `[positions, filters]`) are multiplied by each of `4 x 3`
//! input values (4 channels, the kernel row's 3 offsets) broadcast, into `4 x 3 x 2` tiles of
//! sums in registers over all of an item's positions. Each weight's sum is then one lane of one
//! tile, added once per item: the direct form of [`crate::conv_direct`] keeps 16 partial sums a
//! weight (the positions in the lanes), which on small outputs cost more than its arithmetic,
//! and the unfolded form copies each input value 9 times before its matrix product.

use crate::conv_columns::{Geometry, with_buffer};
use crate::conv_direct::{Layout, pad_item, summed_in_parts, tile};
use crate::unfold_channels_last::to_channels_last;
use crate::vectorised::{Kernel, TILE, Tile, vectorised};

/// Filters per block: two tiles.
const FILTERS: usize = 2 * TILE;

/// Kernel width this form takes.
const WIDTH: usize = 3;

/// Whether this form applies to `geometry`: stride 1, a kernel 3 wide, filters in whole blocks
/// of 32.
pub(crate) fn applies(geometry: &Geometry) -> bool {
    geometry.stride == [1, 1]
        && geometry.kernel[1] == WIDTH
        && geometry.filters.is_multiple_of(FILTERS)
        && geometry.out().is_some()
}

/// `d loss / d weight` (`[filters, channels k k]`, into `gradient`) for output gradient `dy`, as
/// [`crate::conv_columns::weight_gradient`], summed over runs of items as
/// [`summed_in_parts`] sums (the same sums however the threads shared the work).
///
/// # Panics
/// Unless [`applies`].
pub(crate) fn weight_gradient(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    assert!(applies(geometry), "the filter-lanes weight gradient of {geometry:?}");
    let layout = Layout::of(geometry);
    let (per_input, per_output, rows) = (geometry.per_input(), geometry.per_output(), geometry.rows());
    let filters = geometry.filters;
    // [channels k k, filters]
    let sums = summed_in_parts(geometry, batch, x, dy, rows * filters, |x, dy, sums| {
        with_buffer(layout.padded_len(geometry.channels), |padded| {
            with_buffer(per_output, |transposed| {
                for (x, dy) in x.chunks_exact(per_input).zip(dy.chunks_exact(per_output)) {
                    pad_item(geometry, &layout, x, padded);
                    to_channels_last(filters, geometry.positions(), dy, transposed);
                    vectorised(ItemSums { geometry, layout: &layout, x: padded, dy: transposed, sums: &mut *sums });
                }
            })
        })
    });
    // -> [filters, channels k k]
    to_channels_last(rows, filters, &sums, gradient);
}

/// One item's weight gradient, added to `sums` (`[channels k k, filters]`).
struct ItemSums<'a> {
    geometry: &'a Geometry,
    layout: &'a Layout,
    /// The padded input ([`pad_item`]).
    x: &'a [f32],
    /// The output gradient as `[positions, filters]`.
    dy: &'a [f32],
    sums: &'a mut [f32],
}

impl Kernel for ItemSums<'_> {
    type Output = ();

    /// Four channels at a time where the registers hold their `4 x 3 x 2` tiles of sums
    /// (AVX-512), one elsewhere.
    #[inline(always)]
    fn run<T: Tile>(self) {
        if T::REGISTERS >= 32 { self.blocks::<T, 4>() } else { self.blocks::<T, 1>() }
    }
}

impl ItemSums<'_> {
    /// Every block of filters, kernel row and run of `C` channels (one at a time for the
    /// channels left over).
    #[inline(always)]
    fn blocks<T: Tile, const C: usize>(self) {
        let Self { geometry, layout, x, dy, sums } = self;
        let Geometry { channels, filters, kernel: [kh, _], .. } = *geometry;
        let whole = channels - channels % C;
        for first_filter in (0..filters).step_by(FILTERS) {
            for i in 0..kh {
                for c in (0..whole).step_by(C) {
                    let block = block_sums::<T, C>(geometry, layout, x, dy, [first_filter, i, c]);
                    add_block(geometry, &block, [first_filter, i, c], sums);
                }
                for c in whole..channels {
                    let block = block_sums::<T, 1>(geometry, layout, x, dy, [first_filter, i, c]);
                    add_block(geometry, &block, [first_filter, i, c], sums);
                }
            }
        }
    }
}

/// The sums over an item's positions for 32 filters from `first_filter`, kernel row `i` and
/// channels `c..c + C`: `[C, WIDTH, 2]` tiles.
#[inline(always)]
fn block_sums<T: Tile, const C: usize>(
    geometry: &Geometry,
    layout: &Layout,
    x: &[f32],
    dy: &[f32],
    [first_filter, i, c]: [usize; 3],
) -> [[[T; 2]; WIDTH]; C] {
    let filters = geometry.filters;
    let [rows, columns] = layout.padded;
    let [out_h, out_w] = layout.out;
    let mut sums = [[[T::zero(); 2]; WIDTH]; C];
    for oy in 0..out_h {
        let lines: [&[f32]; C] =
            std::array::from_fn(|k| &x[((c + k) * rows + oy + i) * columns..][..out_w + WIDTH - 1]);
        let gradients = &dy[oy * out_w * filters..][..out_w * filters];
        for (ox, gradients) in gradients.chunks_exact(filters).enumerate() {
            let gradients = &gradients[first_filter..][..FILTERS];
            let halves = [T::load(tile(gradients)), T::load(tile(&gradients[TILE..]))];
            for (sums, line) in sums.iter_mut().zip(&lines) {
                let values: &[f32; WIDTH] = line[ox..ox + WIDTH].try_into().expect("a kernel row's inputs");
                for (sums, value) in sums.iter_mut().zip(values) {
                    let value = T::splat(*value);
                    for (sum, half) in sums.iter_mut().zip(&halves) {
                        *sum = sum.add_product(*half, value);
                    }
                }
            }
        }
    }
    sums
}

/// Adds a block's tiles to `sums` (`[channels k k, filters]`).
#[inline(always)]
fn add_block<T: Tile, const C: usize>(
    geometry: &Geometry,
    block: &[[[T; 2]; WIDTH]; C],
    [first_filter, i, c]: [usize; 3],
    sums: &mut [f32],
) {
    let (kh, filters) = (geometry.kernel[0], geometry.filters);
    for (k, block) in block.iter().enumerate() {
        for (j, halves) in block.iter().enumerate() {
            let at = (((c + k) * kh + i) * WIDTH + j) * filters + first_filter;
            for (half, tile_sums) in halves.iter().enumerate() {
                let lanes: &mut [f32; TILE] = (&mut sums[at + half * TILE..][..TILE]).try_into().expect("a whole tile");
                // The sums plus the lanes (times 1, exactly), in registers.
                tile_sums.add_product(T::splat(1.0), T::load(lanes)).store(lanes);
            }
        }
    }
}
