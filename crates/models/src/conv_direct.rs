//! Direct 2-d convolutions of stride 1, on plain slices: the convolution where [`convolves`] (few
//! filters, or output rows that fill the tiles), its weight gradient for layers with few filters
//! (a network's first layers, where [`applies`]) or large outputs ([`weight_gradient_applies`]),
//! and its input gradient as the convolution of the output gradient by the turned kernel (where
//! [`turns`]); [`crate::conv_columns`] takes these forms where they apply.
//!
//! The unfolded form copies each input value `k x k` times into its columns and `gemm` packs
//! them again, for products whose other side (the filters) is a few rows: the Dieleman network's
//! first layer (3 channels, 6 x 6 kernel, 8 filters on 45 x 45 parts) spent most of its time
//! copying and packing 354 MB of columns per step. Here each output tile of 16 columns of one
//! row for a block of 8 filters is summed in registers (`8 x 16` accumulators, eight AVX-512 or
//! sixteen AVX2 registers) over the channels and kernel offsets, reading the input's rows in
//! place, three rows' tiles at a time with AVX-512's 32 registers; the weight gradient keeps one
//! kernel offset's `8 x 16` partial sums in registers (three offsets' with AVX-512) over a pass of
//! output rows, and sums the 16 lanes at the end. Each item's input is first copied with its zero
//! padding and 32 more zeros (a tile may read past its row's end: those columns' outputs are not
//! stored, and their output gradients are zero).

use rayon::prelude::*;

use crate::conv_columns::{Geometry, with_buffer};
use crate::vectorised::{Kernel, TILE, Tile, vectorised};

/// Filters per block.
const BLOCK: usize = 8;

/// Zeros after an item's padded input: a tile may read past its row's end, and
/// [`tile_sums_of_width`] reads two tiles' worth from where a tile starts.
const OVERRUN: usize = 2 * TILE;

/// Runs of items whose weight gradients are summed apart (a fixed number, for fixed sums; enough
/// to share among the threads).
const PARTS: usize = 16;

/// Bytes of output gradient per pass of the weight gradient's kernel offsets.
const PASS_BYTES: usize = 32 << 10;

/// Whether the direct forms (the convolution and its weight gradient) apply to (and were
/// measured faster for) `geometry`: stride 1, at most 16 filters, at least a quarter of the
/// tiles' lanes holding outputs, and 16 tiles or more per filter block and item. Measured against
/// the unfolded form (forward and weight gradient, ms, 2 threads): the Dieleman network's first
/// layer 31 -> 9 and 60 -> 19, its second (8 -> 16 filters, 5 x 5 on 20 x 20) 12 -> 8 and 44 -> 14,
/// DeepLens's stem (1 -> 16, 7 x 7 on 45 x 45) 6.8 -> 2.4 and 12 -> 5.4; but a 3 x 3 convolution to
/// 1 filter on 4 x 4 (a lane in 32 used) 0.7 -> 0.5 and 0.7 -> 4.4, and 16 -> 16 filters on 12 x 12
/// (12 tiles) 1.6 -> 0.7 and 2.0 -> 2.5.
pub(crate) fn applies(geometry: &Geometry) -> bool {
    geometry.filters <= 2 * BLOCK && fills(geometry, 0.25)
}

/// Output positions an item needs for the direct weight gradient past 16 filters
/// ([`weight_gradient_applies`]).
const GRADIENT_POSITIONS: usize = 45 * 45;

/// Whether the direct weight gradient applies to `geometry`: where [`applies`], and for any
/// number of filters where [`convolves`] and an item has 45 x 45 outputs or more. Its partial
/// sums hold 16 lanes a weight (`[blocks, rows, BLOCK, TILE]`, per run of items), added to once
/// per pass of output rows: `256 / positions` values of them for each multiply-add of a tile,
/// which on small outputs costs more than the unfolded form's copies. One thread, 10 items,
/// 3 x 3 "same" convolutions, forward and weight gradient, unfolded -> direct (ms; the
/// `conv_layers` example): 32 -> 32 filters on 64 x 64 31.8 -> 19.2; 1 -> 32 on 64 x 64 5.6 ->
/// 4.8; but 32 -> 64 on 32 x 32 9.5 -> 15.8 and 64 -> 128 on 16 x 16 8.3 -> 38.6. The training
/// step of the semantic autoencoder at full widths went 114-127 -> 140-146 images/s and DeepLens
/// at full widths (its 7 x 7 stem on 45 x 45) 144-145 -> 150-152 (2 threads, two rounds).
pub(crate) fn weight_gradient_applies(geometry: &Geometry) -> bool {
    applies(geometry) || (convolves(geometry) && geometry.positions() >= GRADIENT_POSITIONS)
}

/// Whether the direct convolution (forward only) applies to `geometry`: where [`applies`], and
/// for any number of filters where 7 in 8 of the tiles' lanes hold outputs. Each `8 x 16` tile
/// sums in registers over the channels and kernel offsets and reads the input in place, where
/// the unfolded form copies each input value `k x k` times and `gemm` packs the copies again.
/// One thread, 3 x 3 kernels, padding 1, unfolded -> direct (ms): 10 items, 16 -> 32 filters on
/// 32 x 32 1.18 -> 0.91, 32 -> 32 on 32 x 32 2.30 -> 1.75, 32 -> 64 on 16 x 16 1.06 -> 0.87, 64 -> 64
/// on 32 x 32 8.16 -> 6.85, 128 -> 128 on 16 x 16 7.57 -> 6.69; 8 items, 32 -> 32 on 45 x 45 3.36 ->
/// 2.99; 4 x 4 kernels, 8 items, 128 -> 256 on 16 x 16 18.7 -> 17.8, 64 -> 128 on 32 x 32 20.1 ->
/// 18.3. With part-filled tiles the unfolded form is faster: 16 items, 32 -> 32 filters on 23 x 23
/// (72% of the lanes) 1.85 -> 1.98, 64 -> 64 on 12 x 12 (75%) 1.99 -> 2.08, on 6 x 6 1.89 -> 4.02;
/// 8 items, 128 -> 128 on 14 x 14 (14 tiles) 4.67 -> 4.72. The weight gradient keeps the unfolded
/// form past 16 filters: its direct form sums one block of filters at a time (128 -> 128 filters on
/// 16 x 16: 7.5 ms unfolded, 62 direct).
pub(crate) fn convolves(geometry: &Geometry) -> bool {
    applies(geometry) || fills(geometry, 0.875)
}

/// Whether `geometry` has stride 1 and an output, at least `fraction` of its tiles' lanes hold
/// outputs (filters in blocks of [`BLOCK`], output rows in tiles of [`TILE`]), and there are 16
/// tiles or more per filter block and item.
fn fills(geometry: &Geometry, fraction: f64) -> bool {
    if geometry.out().is_none() || geometry.stride != [1, 1] {
        return false;
    }
    let Layout { out: [out_h, out_w], tiles, blocks, .. } = Layout::of(geometry);
    let used = (geometry.filters * out_w) as f64 / (blocks * BLOCK * tiles * TILE) as f64;
    used >= fraction && out_h * tiles >= 16
}

/// Whether [`input_gradient`] applies to `geometry`: the transposed geometry's convolution
/// ([`transposed`]) [`convolves`]. Unfolded (`weight^T dy` folded back) -> direct, ms, one thread:
/// 64 -> 128 filters 4 x 4 on 32 x 32, padding 1, 8 items 20.5 -> 18.9; 128 -> 256 on 16 x 16 19.6
/// -> 19.0; 16 -> 16 3 x 3 on 64 x 64, 10 items 2.76 -> 1.88. The turned kernel also sums over the
/// padding's zeros: the Dieleman network's valid 5 x 5 layer (8 -> 16 filters on 20 x 20, 400
/// inputs for 256 outputs, 64 items) took 1.74 -> 2.35 ms on one thread, 2.26 -> 1.20 on two, and
/// its training step ran 1.06-1.09 times as fast in four alternated rounds with it.
pub(crate) fn turns(geometry: &Geometry) -> bool {
    transposed(geometry).is_some_and(|transposed| convolves(&transposed))
}

/// `dx`, the input gradient of the stride-1 convolution by `weight` whose output gradient is
/// `dy`, as [`convolve`] computes the convolution of `dy` (the transposed geometry of
/// [`transposed`]) by the weight flipped and transposed: `dx[c](y, x) = sum over f, i, j of
/// dy[f](y + pad - i, x + pad - j) w[f, c](i, j)`.
pub(crate) fn input_gradient(geometry: &Geometry, batch: usize, dy: &[f32], weight: &[f32], dx: &mut [f32]) {
    let transposed = transposed(geometry).expect("a stride-1 geometry with padding under the kernel");
    let Geometry { channels, filters, kernel: [kh, kw], .. } = *geometry;
    // [filters, channels, kh, kw] -> [channels, filters, kh, kw], each kernel turned half a turn.
    let mut flipped = vec![0f32; weight.len()];
    for (f, weight) in weight.chunks_exact(channels * kh * kw).enumerate() {
        for (c, kernel) in weight.chunks_exact(kh * kw).enumerate() {
            let to = &mut flipped[(c * filters + f) * kh * kw..][..kh * kw];
            to.iter_mut().zip(kernel.iter().rev()).for_each(|(to, from)| *to = *from);
        }
    }
    convolve(&transposed, batch, dy, &flipped, dx)
}

/// The geometry whose convolution is the input gradient of `geometry`'s ([`input_gradient`]):
/// the output's size, channels and filters swapped, padding `k - 1 - pad`; `None` unless the
/// stride is 1 and each padding under its kernel side.
pub(crate) fn transposed(geometry: &Geometry) -> Option<Geometry> {
    let Geometry { channels, filters, kernel, stride, padding, .. } = *geometry;
    let size = geometry.out()?;
    let fits = stride == [1, 1] && padding[0] < kernel[0] && padding[1] < kernel[1];
    fits.then(|| Geometry {
        channels: filters,
        filters: channels,
        size,
        kernel,
        stride,
        padding: [kernel[0] - 1 - padding[0], kernel[1] - 1 - padding[1]],
    })
}

/// The sizes of one item's padded input and of its output tiles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Padded input rows and columns.
    pub(crate) padded: [usize; 2],
    /// Output rows and columns.
    pub(crate) out: [usize; 2],
    /// Output tiles per row.
    tiles: usize,
    /// Blocks of filters (the last one zero-filled past the filters).
    blocks: usize,
}

impl Layout {
    pub(crate) fn of(geometry: &Geometry) -> Layout {
        let out = geometry.out().expect("a convolution with an output");
        let padded = [0, 1].map(|axis| geometry.size[axis] + 2 * geometry.padding[axis]);
        Layout { padded, out, tiles: out[1].div_ceil(TILE), blocks: geometry.filters.div_ceil(BLOCK) }
    }

    /// Values of one item's padded input, with the tiles' overrun.
    pub(crate) fn padded_len(&self, channels: usize) -> usize {
        channels * self.padded[0] * self.padded[1] + OVERRUN
    }

    /// Values of the weight gradient's partial sums, `[blocks, rows, BLOCK, TILE]`.
    fn lanes_len(&self, rows: usize) -> usize {
        self.blocks * rows * BLOCK * TILE
    }
}

/// Copies one item's input (`[channels, height, width]`) into `padded` with the geometry's zero
/// borders and the tiles' overrun of zeros. Writes every value (the borders' zeros only, where
/// zeroing all of `padded` first was a second pass over it).
pub(crate) fn pad_item(geometry: &Geometry, layout: &Layout, x: &[f32], padded: &mut [f32]) {
    let [height, width] = geometry.size;
    let [top, left] = geometry.padding;
    let [rows, columns] = layout.padded;
    let (planes, overrun) = padded.split_at_mut(geometry.channels * rows * columns);
    for (plane, input) in planes.chunks_exact_mut(rows * columns).zip(x.chunks_exact(height * width)) {
        let (above, rest) = plane.split_at_mut(top * columns);
        let (inside, below) = rest.split_at_mut(height * columns);
        above.fill(0.0);
        below.fill(0.0);
        for (row, input) in inside.chunks_exact_mut(columns).zip(input.chunks_exact(width)) {
            let (before, rest) = row.split_at_mut(left);
            let (values, after) = rest.split_at_mut(width);
            before.fill(0.0);
            values.copy_from_slice(input);
            after.fill(0.0);
        }
    }
    overrun.fill(0.0);
}

/// The weight (`[filters, channels k k]`) in blocks of [`BLOCK`] filters, each row of the
/// unfolded input holding its block's weights side by side: `[blocks, channels k k, BLOCK]`,
/// zeros past the last filter.
fn pack_weight(geometry: &Geometry, layout: &Layout, weight: &[f32]) -> Vec<f32> {
    let rows = geometry.rows();
    let mut packed = vec![0f32; layout.blocks * rows * BLOCK];
    for (filter, values) in weight.chunks_exact(rows).enumerate() {
        let (block, lane) = (filter / BLOCK, filter % BLOCK);
        for (row, value) in values.iter().enumerate() {
            packed[(block * rows + row) * BLOCK + lane] = *value;
        }
    }
    packed
}

/// `y = weight * x` for `batch` items, as [`crate::conv_columns::convolve`]; one task per item.
pub(crate) fn convolve(geometry: &Geometry, batch: usize, x: &[f32], weight: &[f32], y: &mut [f32]) {
    let layout = Layout::of(geometry);
    let per_input = geometry.per_input();
    convolve_items(geometry, batch, weight, y, |item, padded| {
        pad_item(geometry, &layout, &x[item * per_input..][..per_input], padded)
    });
}

/// [`convolve`] of the items that `fill(item, padded)` writes into `padded` as [`pad_item`]
/// lays them out (every value, the overrun's zeros included), for inputs that are not a batch
/// as it lies ([`crate::conv_phases`]).
pub(crate) fn convolve_items(
    geometry: &Geometry,
    batch: usize,
    weight: &[f32],
    y: &mut [f32],
    fill: impl Fn(usize, &mut [f32]) + Sync,
) {
    let layout = Layout::of(geometry);
    let packed = pack_weight(geometry, &layout, weight);
    let per_output = geometry.per_output();
    let padded_len = layout.padded_len(geometry.channels);
    y[..batch * per_output].par_chunks_mut(per_output).enumerate().for_each(|(item, y)| {
        with_buffer(padded_len, |padded| {
            fill(item, padded);
            vectorised(ForwardItem { geometry, layout: &layout, x: padded, weight: &packed, y });
        })
    });
}

/// `d loss / d weight` (`[filters, channels k k]`, into `gradient`) for output gradient `dy`,
/// as [`crate::conv_columns::weight_gradient`], the partial sums summed over runs of items by
/// [`summed_in_parts`].
pub(crate) fn weight_gradient(geometry: &Geometry, batch: usize, x: &[f32], dy: &[f32], gradient: &mut [f32]) {
    let layout = Layout::of(geometry);
    let (per_input, per_output, rows) = (geometry.per_input(), geometry.per_output(), geometry.rows());
    let [out_h, _] = layout.out;
    let lanes = summed_in_parts(geometry, batch, x, dy, layout.lanes_len(rows), |x, dy, lanes| {
        with_buffer(layout.padded_len(geometry.channels), |padded| {
            with_buffer(layout.blocks * BLOCK * out_h * layout.tiles * TILE, |tiles| {
                for (x, dy) in x.chunks_exact(per_input).zip(dy.chunks_exact(per_output)) {
                    pad_item(geometry, &layout, x, padded);
                    tile_output_gradient(&layout, dy, tiles);
                    vectorised(GradientItem { geometry, layout: &layout, x: padded, dy: tiles, lanes: &mut *lanes });
                }
            })
        })
    });
    // [blocks, rows, BLOCK, TILE] summed over the lanes -> [filters, rows].
    for (filter, gradient) in gradient.chunks_exact_mut(rows).enumerate() {
        let (block, lane) = (filter / BLOCK, filter % BLOCK);
        for (row, value) in gradient.iter_mut().enumerate() {
            *value = lanes[((block * rows + row) * BLOCK + lane) * TILE..][..TILE].iter().sum();
        }
    }
}

/// `len` sums over the batch, for weight gradients: `add(x, dy, sums)` adds those of a run of
/// items (their inputs and output gradients) to `sums`; the items in [`PARTS`] runs on rayon's
/// threads, each run's sums added in the runs' order, so that the sums do not depend on how the
/// threads shared the work (a seed gives the same run every time).
pub(crate) fn summed_in_parts(
    geometry: &Geometry,
    batch: usize,
    x: &[f32],
    dy: &[f32],
    len: usize,
    add: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let (per_input, per_output) = (geometry.per_input(), geometry.per_output());
    let per_part = batch.div_ceil(PARTS).max(1);
    let parts: Vec<Vec<f32>> = x[..batch * per_input]
        .par_chunks(per_part * per_input)
        .zip(dy.par_chunks(per_part * per_output))
        .map(|(x, dy)| {
            let mut sums = vec![0f32; len];
            add(x, dy, &mut sums);
            sums
        })
        .collect();
    let mut sums = vec![0f32; len];
    for part in &parts {
        sums.iter_mut().zip(part).for_each(|(sum, value)| *sum += value);
    }
    sums
}

/// One item's output gradient (`[filters, out h, out w]`) as `[blocks, out h, tiles, BLOCK,
/// TILE]`: each tile's block of filters side by side, rows padded to whole tiles and filters to
/// whole blocks with zeros. Writes every value.
fn tile_output_gradient(layout: &Layout, dy: &[f32], tiles: &mut [f32]) {
    let [out_h, out_w] = layout.out;
    if dy.len() != tiles.len() {
        // Tiles or blocks with padding (else the copies below fill `tiles`).
        tiles.fill(0.0);
    }
    for (filter, dy) in dy.chunks_exact(out_h * out_w).enumerate() {
        let (block, lane) = (filter / BLOCK, filter % BLOCK);
        for (oy, dy) in dy.chunks_exact(out_w).enumerate() {
            for (tile, dy) in dy.chunks(TILE).enumerate() {
                let at = (((block * out_h + oy) * layout.tiles + tile) * BLOCK + lane) * TILE;
                tiles[at..at + dy.len()].copy_from_slice(dy);
            }
        }
    }
}

/// The first [`TILE`] values of `values`, as the array [`Tile::load`] takes.
#[inline(always)]
pub(crate) fn tile(values: &[f32]) -> &[f32; TILE] {
    values[..TILE].try_into().expect("a whole tile")
}

/// One item's convolution (`x` padded by [`pad_item`], `weight` packed by [`pack_weight`]).
struct ForwardItem<'a> {
    geometry: &'a Geometry,
    layout: &'a Layout,
    x: &'a [f32],
    weight: &'a [f32],
    y: &'a mut [f32],
}

impl Kernel for ForwardItem<'_> {
    type Output = ();

    /// Three output rows at a time where the registers hold their `3 x 8` tiles of sums
    /// (AVX-512): each input tile loaded and each weight broadcast then serves 24 multiply-adds
    /// instead of 8, which left the kernel bound by its loads. One row at a time elsewhere, and
    /// for the rows left over.
    #[inline(always)]
    fn run<T: Tile>(self) {
        if T::REGISTERS >= 32 { self.rows::<T, 3>() } else { self.rows::<T, 1>() }
    }
}

impl ForwardItem<'_> {
    /// The item's output, `R` rows of tiles at a time for each block of filters.
    #[inline(always)]
    fn rows<T: Tile, const R: usize>(self) {
        let Self { geometry, layout, x, weight, y } = self;
        let filters = geometry.filters;
        let [out_h, out_w] = layout.out;
        for (block, weight) in weight.chunks_exact(geometry.rows() * BLOCK).enumerate() {
            let in_block = BLOCK.min(filters - block * BLOCK);
            let whole = out_h - out_h % R;
            for first in (0..out_w).step_by(TILE) {
                // Where each tile's row of each filter of the block goes: the tiles' own
                // `store`s are inlined into this function, which a closure's would not be (a
                // closure is not compiled with the instructions its kernel is).
                let at = |oy: usize, lane: usize| ((block * BLOCK + lane) * out_h + oy) * out_w + first;
                for oy in (0..whole).step_by(R) {
                    let sums = if geometry.kernel[1] == 3 {
                        tile_sums_of_width::<T, R, 3>(geometry, layout, x, weight, oy, first)
                    } else if geometry.kernel[1] == 2 {
                        tile_sums_of_width::<T, R, 2>(geometry, layout, x, weight, oy, first)
                    } else {
                        tile_sums::<T, R>(geometry, layout, x, weight, oy, first)
                    };
                    for (r, sums) in sums.iter().enumerate() {
                        for (lane, sums) in sums.iter().enumerate().take(in_block) {
                            store_tile(*sums, &mut y[at(oy + r, lane)..], out_w - first);
                        }
                    }
                }
                for oy in whole..out_h {
                    let [sums] = tile_sums::<T, 1>(geometry, layout, x, weight, oy, first);
                    for (lane, sums) in sums.iter().enumerate().take(in_block) {
                        store_tile(*sums, &mut y[at(oy, lane)..], out_w - first);
                    }
                }
            }
        }
    }
}

/// Writes the first `count` values of `sums` (all 16 when `count` is 16 or more) into `out`.
#[inline(always)]
fn store_tile<T: Tile>(sums: T, out: &mut [f32], count: usize) {
    if count >= TILE {
        sums.store((&mut out[..TILE]).try_into().expect("a whole tile"));
    } else {
        let mut row = [0f32; TILE];
        sums.store(&mut row);
        out[..count].copy_from_slice(&row[..count]);
    }
}

/// The sums of output rows `oy..oy + R`, columns `first..first + TILE`, for one block of
/// filters (`weight`, `[channels k k, BLOCK]`): `R x BLOCK` tiles summed in registers over the
/// channels and kernel offsets.
#[inline(always)]
fn tile_sums<T: Tile, const R: usize>(
    geometry: &Geometry,
    layout: &Layout,
    x: &[f32],
    weight: &[f32],
    oy: usize,
    first: usize,
) -> [[T; BLOCK]; R] {
    let Geometry { channels, kernel: [kh, kw], .. } = *geometry;
    let [rows, columns] = layout.padded;
    let mut sums = [[T::zero(); BLOCK]; R];
    for c in 0..channels {
        for i in 0..kh {
            let taps = &weight[(c * kh + i) * kw * BLOCK..][..kw * BLOCK];
            let line = (c * rows + oy + i) * columns + first;
            for (j, taps) in taps.chunks_exact(BLOCK).enumerate() {
                let values: [T; R] = std::array::from_fn(|r| T::load(tile(&x[line + r * columns + j..])));
                add_taps(&mut sums, taps, &values);
            }
        }
    }
    sums
}

/// Adds each of a kernel offset's taps (one a filter of the block) times each row's input tile
/// to that row's sums for the filter.
#[inline(always)]
fn add_taps<T: Tile, const R: usize>(sums: &mut [[T; BLOCK]; R], taps: &[f32], values: &[T; R]) {
    for (f, tap) in taps.iter().enumerate() {
        let tap = T::splat(*tap);
        for (sums, values) in sums.iter_mut().zip(values) {
            sums[f] = sums[f].add_product(tap, *values);
        }
    }
}

/// [`tile_sums`] for kernels `KW` wide (3, the networks' usual width, and 2, the phases of the
/// GANs' 4-wide kernels of stride 2, [`crate::conv_phases`]): each kernel row's taps
/// and input lines taken as arrays once, so that the offsets' loads need no bounds checks and
/// the offsets' loop unrolls (the general form checked each load's bounds and kept its loop
/// counters on the stack).
#[inline(always)]
fn tile_sums_of_width<T: Tile, const R: usize, const KW: usize>(
    geometry: &Geometry,
    layout: &Layout,
    x: &[f32],
    weight: &[f32],
    oy: usize,
    first: usize,
) -> [[T; BLOCK]; R] {
    const { assert!(KW <= OVERRUN - TILE + 1, "a tile at each offset lies within two tiles") };
    let Geometry { channels, kernel: [kh, _], .. } = *geometry;
    let [rows, columns] = layout.padded;
    let (weight, _) = weight.as_chunks::<BLOCK>();
    let mut sums = [[T::zero(); BLOCK]; R];
    for c in 0..channels {
        for i in 0..kh {
            let taps: &[[f32; BLOCK]; KW] = weight[(c * kh + i) * KW..][..KW].try_into().expect("a kernel row");
            let line = (c * rows + oy + i) * columns + first;
            let lines: [&[f32; OVERRUN]; R] =
                std::array::from_fn(|r| x[line + r * columns..][..OVERRUN].try_into().expect("an input line"));
            for (j, taps) in taps.iter().enumerate() {
                let values: [T; R] = std::array::from_fn(|r| T::load(tile(&lines[r][j..])));
                add_taps(&mut sums, taps, &values);
            }
        }
    }
    sums
}

/// One item's weight gradient, added to the partial sums `lanes` (`[blocks, rows, BLOCK,
/// TILE]`).
struct GradientItem<'a> {
    geometry: &'a Geometry,
    layout: &'a Layout,
    /// The padded input.
    x: &'a [f32],
    /// The output gradient in tiles by [`tile_output_gradient`].
    dy: &'a [f32],
    lanes: &'a mut [f32],
}

impl Kernel for GradientItem<'_> {
    type Output = ();

    /// Three kernel offsets of a row at a time where the registers hold their `3 x 8` tiles of
    /// sums (AVX-512): each tile of output gradient loaded then serves 3 offsets, where one
    /// offset at a time loaded 9 tiles for 8 multiply-adds. One offset at a time elsewhere.
    #[inline(always)]
    fn run<T: Tile>(self) {
        if T::REGISTERS >= 32 { self.offsets::<T, 3>() } else { self.offsets::<T, 1>() }
    }
}

impl GradientItem<'_> {
    /// The item's weight gradient, `J` kernel offsets of a row at a time.
    #[inline(always)]
    fn offsets<T: Tile, const J: usize>(self) {
        let Self { geometry, layout, x, dy, lanes } = self;
        let Geometry { channels, kernel: [kh, kw], .. } = *geometry;
        let [out_h, _] = layout.out;
        let per_row = layout.tiles * BLOCK * TILE;
        // Output rows per pass over the kernel offsets: their output gradient (32 KB) stays in
        // the first-level cache while every offset reads it.
        let pass = (PASS_BYTES / (4 * per_row)).max(1);
        let whole = kw - kw % J;
        for (block, lanes) in lanes.chunks_exact_mut(geometry.rows() * BLOCK * TILE).enumerate() {
            let dy = &dy[block * out_h * per_row..][..out_h * per_row];
            for (part, dy) in dy.chunks(pass * per_row).enumerate() {
                let mut offsets = lanes.chunks_exact_mut(BLOCK * TILE);
                for c in 0..channels {
                    for i in 0..kh {
                        let line = |row: usize| (c * layout.padded[0] + part * pass + row + i) * layout.padded[1];
                        for j in (0..whole).step_by(J) {
                            add_to_lanes(&offset_sums::<T, J>(layout, x, dy, &line, j), &mut offsets);
                        }
                        for j in whole..kw {
                            add_to_lanes(&offset_sums::<T, 1>(layout, x, dy, &line, j), &mut offsets);
                        }
                    }
                }
            }
        }
    }
}

/// Adds each offset's sums to the next offset's lanes of `offsets` (a function, not a closure,
/// so that it is compiled with its kernel's instructions).
#[inline(always)]
fn add_to_lanes<'a, T: Tile>(sums: &[[T; BLOCK]], offsets: &mut impl Iterator<Item = &'a mut [f32]>) {
    for sums in sums {
        let lanes = offsets.next().expect("a kernel offset's lanes");
        for (lanes, sums) in lanes.chunks_exact_mut(TILE).zip(sums) {
            // The sums plus the lanes (times 1, exactly), in registers.
            let lanes: &mut [f32; TILE] = lanes.try_into().expect("a whole tile");
            sums.add_product(T::splat(1.0), T::load(lanes)).store(lanes);
        }
    }
}

/// The partial sums of kernel offsets `j..j + J` of one channel and kernel row for one block of
/// filters, over the output rows of `dy` (tiled, `[rows, tiles, BLOCK, TILE]`), `line(row)`
/// being where the padded input's line for output row `row` starts.
#[inline(always)]
fn offset_sums<T: Tile, const J: usize>(
    layout: &Layout,
    x: &[f32],
    dy: &[f32],
    line: &impl Fn(usize) -> usize,
    j: usize,
) -> [[T; BLOCK]; J] {
    let tiles = layout.tiles;
    let mut sums = [[T::zero(); BLOCK]; J];
    for (row, dy) in dy.chunks_exact(tiles * BLOCK * TILE).enumerate() {
        let line = &x[line(row) + j..][..tiles * TILE + J - 1];
        for (tile_at, grads) in dy.chunks_exact(BLOCK * TILE).enumerate() {
            let values: [T; J] = std::array::from_fn(|jj| T::load(tile(&line[tile_at * TILE + jj..])));
            for (f, grads) in grads.chunks_exact(TILE).enumerate() {
                let grads = T::load(tile(grads));
                for (sums, values) in sums.iter_mut().zip(&values) {
                    sums[f] = sums[f].add_product(grads, *values);
                }
            }
        }
    }
    sums
}
