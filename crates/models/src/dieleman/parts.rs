//! The 16 rotated and flipped parts of Dieleman, Willett & Dambre (2015, sec. 3.3, fig. 4).
//!
//! Two views of the galaxy (the image, and the image rotated by 45 degrees), each also flipped,
//! give four views of `view_size` pixels; each view is cut into its four overlapping corner
//! parts of `part_size` pixels, each rotated by a multiple of 90 degrees so that the galaxy
//! centre sits in the same corner of every part. One shared conv stack then sees all 16, which
//! builds rotation invariance into the weights.
//!
//! The two views are cut from the input with four precomputed bilinear (index, weight) taps per
//! view pixel, applied in the forward pass with `select` (differentiable, on every backend); the
//! flips and quarter turns that make the 16 parts from them are exact, so one more `select`
//! with a precomputed index per part pixel cuts all 16 from the views. Both run on the images
//! as rows of pixels (`[batch * channels, pixels]`), where `select` is a plain gather along each
//! row: on `flex` the N-d `select` computes every element's coordinates with divisions, and
//! stacking 16 flipped and transposed slices copied them element by element through strides
//! (`apply` on a batch of 32 default `galaxy_cnn` images: 107 ms before, 33-55 ms this way, where
//! the whole training step takes about 520 ms). The unrotated view lands exactly on
//! input pixels (one tap of weight 1) when the input and view sizes have the same parity; the
//! 45-degree view reads outside a small input at its corners, where it is zero (an input of
//! `view_size * sqrt(2)` pixels or more avoids that, as the paper did by rotating the full
//! 424-pixel image).

use burn::tensor::{Device, Int, Tensor};

/// Number of parts: 2 rotations x 2 flips x 4 corners.
pub const NUM_PARTS: usize = 16;

/// The rotations of the two views, degrees.
const ANGLES: [f64; 2] = [0.0, 45.0];

/// Bilinear taps of every pixel of the two views: `index[k][p]` and `weight[k][p]` for tap `k`
/// of view pixel `p` (view-major, then row, then column), indices into the flattened input plane.
#[derive(Debug, Clone, PartialEq)]
pub struct PartTaps {
    /// Side of the (square) input, pixels.
    pub input_size: usize,
    /// Side of each view, pixels.
    pub view_size: usize,
    /// Side of each part, pixels.
    pub part_size: usize,
    /// Input pixel index of each tap.
    pub index: [Vec<i64>; 4],
    /// Weight of each tap (0 for taps outside the input).
    pub weight: [Vec<f32>; 4],
    /// Index into the two views (flattened `[2, view_size, view_size]`) of every part pixel,
    /// the 16 parts in [`Self::apply`]'s order, each row by row.
    pub part_index: Vec<i64>,
}

/// The input position `(x, y)` (pixel units, origin at the input's corner) that view pixel
/// offset `(u, v)` from the view centre samples in the view turned by `angle` degrees.
fn view_position(u: f64, v: f64, angle: f64, centre: f64) -> (f64, f64) {
    let (sin, cos) = angle.to_radians().sin_cos();
    (cos * u - sin * v + centre, sin * u + cos * v + centre)
}

impl PartTaps {
    /// The taps for an `input_size` image cut into views of `view_size` and parts of `part_size`.
    pub fn new(input_size: usize, view_size: usize, part_size: usize) -> Self {
        debug_assert!(part_size <= view_size, "the config checks part_size <= view_size");
        let n = ANGLES.len() * view_size * view_size;
        let mut index: [Vec<i64>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));
        let mut weight: [Vec<f32>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));
        let (centre, half_view) = view_centre(input_size, view_size);
        for angle in ANGLES {
            for row in 0..view_size {
                for col in 0..view_size {
                    let (u, v) = (col as f64 + 0.5 - half_view, row as f64 + 0.5 - half_view);
                    let (x, y) = view_position(u, v, angle, centre);
                    for (k, (i, w)) in bilinear(x - 0.5, y - 0.5, input_size).into_iter().enumerate() {
                        index[k].push(i);
                        weight[k].push(w);
                    }
                }
            }
        }
        let part_index = part_index(view_size, part_size);
        Self { input_size, view_size, part_size, index, weight, part_index }
    }

    /// Cuts a batch into its parts: for each view (unrotated, 45 degrees), itself and its mirror
    /// image (columns reversed), each turned by 0-3 right angles so that each corner of the view
    /// comes to the top left, where the part is cut.
    ///
    /// # Shapes
    /// - images: `[batch, channels, input_size, input_size]`
    /// - output: `[batch * 16, channels, part_size, part_size]`, the 16 parts of each image
    ///   consecutive (view, then mirror, then quarter turn)
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        let [batch, channels, height, width] = images.dims();
        debug_assert_eq!((height, width), (self.input_size, self.input_size));
        let device: Device = images.device();
        let flat = images.reshape([batch * channels, height * width]);
        let n = self.weight[0].len();
        let mut views: Option<Tensor<2>> = None;
        for k in 0..4 {
            let index = Tensor::<1, Int>::from_ints(self.index[k].as_slice(), &device);
            let weight = Tensor::<1>::from_floats(self.weight[k].as_slice(), &device).reshape([1, n]);
            let term = flat.clone().select(1, index) * weight;
            views = Some(match views {
                Some(sum) => sum + term,
                None => term,
            });
        }
        let part_index = Tensor::<1, Int>::from_ints(self.part_index.as_slice(), &device);
        let p = self.part_size;
        let parts = views.expect("four taps").select(1, part_index); // [batch * channels, 16 p p]
        // After the swap each (image, part, channel) plane is one contiguous run of p * p pixels.
        parts.reshape([batch, channels, NUM_PARTS, p * p]).swap_dims(1, 2).reshape([batch * NUM_PARTS, channels, p, p])
    }
}

/// The view pixel (index into the flattened `[2, v, v]` views) under every pixel of the 16
/// parts: for each view (unrotated, 45 degrees), itself and its mirror image (columns
/// reversed), each turned by 0-3 right angles so that each corner of the view comes to the top
/// left, where the `p` x `p` part is cut.
fn part_index(v: usize, p: usize) -> Vec<i64> {
    let mut index = Vec::with_capacity(NUM_PARTS * p * p);
    for view in 0..ANGLES.len() {
        for mirrored in [false, true] {
            for quarter in 0..4 {
                for r in 0..p {
                    for c in 0..p {
                        // Pixel (r, c) of the part comes from row y, column x of the view.
                        let (y, x) = match quarter {
                            0 => (r, c),
                            1 => (c, v - 1 - r),
                            2 => (v - 1 - r, v - 1 - c),
                            _ => (v - 1 - c, r),
                        };
                        let x = if mirrored { v - 1 - x } else { x };
                        index.push(((view * v + y) * v + x) as i64);
                    }
                }
            }
        }
    }
    index
}

/// The view centre in input pixels, placed so that an unrotated view is an integer-offset crop,
/// and half the view's side.
fn view_centre(input_size: usize, view_size: usize) -> (f64, f64) {
    let half_view = view_size as f64 / 2.0;
    ((input_size.saturating_sub(view_size) / 2) as f64 + half_view, half_view)
}

#[cfg(test)]
/// `(u, v)` turned by `quarter` right angles (exact, so pixel centres map to pixel centres).
fn rotate_quarters(u: f64, v: f64, quarter: usize) -> (f64, f64) {
    match quarter % 4 {
        0 => (u, v),
        1 => (-v, u),
        2 => (-u, -v),
        _ => (v, -u),
    }
}

/// The four bilinear taps at continuous pixel index `(x, y)` of a `size` x `size` plane; taps
/// outside the plane get weight 0, and weights below 1e-6 (exact pixel hits) are dropped to 0.
fn bilinear(x: f64, y: f64, size: usize) -> [(i64, f32); 4] {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let corners = [
        (0.0, 0.0, (1.0 - fx) * (1.0 - fy)),
        (1.0, 0.0, fx * (1.0 - fy)),
        (0.0, 1.0, (1.0 - fx) * fy),
        (1.0, 1.0, fx * fy),
    ];
    let mut taps = [(0_i64, 0_f32); 4];
    // Sort so that the heaviest tap comes first: an exact pixel hit then has one live tap.
    let mut order = [0, 1, 2, 3];
    order.sort_by(|a, b| corners[*b].2.total_cmp(&corners[*a].2));
    for (slot, &c) in order.iter().enumerate() {
        let (dx, dy, w) = corners[c];
        let (xi, yi) = (x0 + dx, y0 + dy);
        let inside = xi >= 0.0 && yi >= 0.0 && xi < size as f64 && yi < size as f64;
        if inside && w > 1e-6 {
            taps[slot] = ((yi as usize * size + xi as usize) as i64, w as f32);
        }
    }
    taps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(size: usize, f: impl Fn(usize, usize) -> f32, device: &Device) -> Tensor<4> {
        let data: Vec<f32> = (0..size * size).map(|i| f(i % size, i / size)).collect();
        Tensor::<1>::from_floats(data.as_slice(), device).reshape([1, 1, size, size])
    }

    fn part(parts: &Tensor<4>, k: usize) -> Vec<f32> {
        let [_, _, p, _] = parts.dims();
        parts.clone().slice([k..k + 1, 0..1, 0..p, 0..p]).into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn unrotated_parts_are_exact_crops_turned_by_right_angles() {
        let device = Device::flex();
        let (size, view, p) = (9, 7, 5);
        // Every pixel holds its own index: each unrotated part pixel must equal one input pixel.
        let x = image(size, |c, r| (r * size + c) as f32, &device);
        let parts = PartTaps::new(size, view, p).apply(x);
        assert_eq!(parts.dims(), [16, 1, p, p]);
        let first = part(&parts, 0);
        // Part 0 is the top-left 5x5 of the centred 7x7 view, which starts at input (1, 1).
        let expected: Vec<f32> = (0..p * p).map(|i| ((1 + i / p) * size + 1 + i % p) as f32).collect();
        assert_eq!(first, expected);
        // The four quarters of one view hold the same pixel values, differently arranged, and
        // the view centre (input pixel (4, 4)) sits at the same place, near the bottom-right
        // corner, in each.
        let centre = (4 * size + 4) as f32;
        for k in 0..4 {
            let values = part(&parts, k);
            assert_eq!(values[3 * p + 3], centre, "part {k} has the view centre at (3, 3)");
        }
        // The flipped view mirrors the first: same rows, reversed columns, about the centre.
        let flipped = part(&parts, 4);
        assert_eq!(flipped[0], (size + 7) as f32);
    }

    /// The parts computed pixel by pixel, as the paper describes them: part pixel (col, row) of
    /// quarter q of the (mirrored) view at `angle` samples the input bilinearly at the view
    /// position turned by q right angles, mirrored, then rotated by `angle`.
    fn reference_parts(input: &[f32], size: usize, view: usize, p: usize) -> Vec<f32> {
        let (centre, half) = view_centre(size, view);
        let mut out = Vec::new();
        for angle in ANGLES {
            for mirrored in [false, true] {
                for quarter in 0..4 {
                    for row in 0..p {
                        for col in 0..p {
                            let (u, v) = rotate_quarters(col as f64 + 0.5 - half, row as f64 + 0.5 - half, quarter);
                            let u = if mirrored { -u } else { u };
                            let (x, y) = view_position(u, v, angle, centre);
                            let value: f32 =
                                bilinear(x - 0.5, y - 0.5, size).iter().map(|(i, w)| input[*i as usize] * w).sum();
                            out.push(value);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_parts_equal_the_pixel_by_pixel_definition() {
        let device = Device::flex();
        // Same and different parity of input and view, the default galaxy_cnn sizes.
        for (size, view, p) in [(9, 7, 5), (10, 7, 5), (31, 21, 13), (98, 69, 45)] {
            // Two images of three channels, every plane different.
            let (batch, channels) = (2, 3);
            let plane = |k: usize| -> Vec<f32> {
                (0..size * size).map(|i| (((i + 101 * k) * 7919) % 1013) as f32 / 1013.0).collect()
            };
            let input: Vec<f32> = (0..batch * channels).flat_map(plane).collect();
            let x = Tensor::<1>::from_floats(input.as_slice(), &device).reshape([batch, channels, size, size]);
            let got: Vec<f32> = PartTaps::new(size, view, p).apply(x).into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(got.len(), batch * NUM_PARTS * channels * p * p);
            for b in 0..batch {
                for c in 0..channels {
                    let expected = reference_parts(&plane(b * channels + c), size, view, p);
                    for part in 0..NUM_PARTS {
                        let start = ((b * NUM_PARTS + part) * channels + c) * p * p;
                        let reference = &expected[part * p * p..(part + 1) * p * p];
                        let worst = got[start..start + p * p]
                            .iter()
                            .zip(reference)
                            .map(|(a, r)| (a - r).abs())
                            .fold(0.0, f32::max);
                        assert!(worst < 1e-5, "{size}/{view}/{p}: image {b} channel {c} part {part}: {worst}");
                    }
                }
            }
        }
    }

    #[test]
    fn rotated_parts_interpolate_and_preserve_a_constant_image() {
        let device = Device::flex();
        let (size, view, p) = (31, 21, 13);
        let parts = PartTaps::new(size, view, p).apply(image(size, |_, _| 2.0, &device));
        // An input of 31 >= 21 * sqrt(2) covers the 45-degree view: every part pixel is 2.
        for k in 0..16 {
            assert!(part(&parts, k).iter().all(|v| (v - 2.0).abs() < 1e-5), "part {k}");
        }
        // A ramp is reproduced exactly by bilinear interpolation: a pixel of the 45-degree part
        // equals the ramp at its rotated position.
        let taps = PartTaps::new(size, view, p);
        let ramp = taps.apply(image(size, |c, _| c as f32, &device));
        let centre = 5.0 + 10.5;
        let (u, v) = (3.5 - 10.5, 0.5 - 10.5);
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let expected = (s * u - s * v + centre - 0.5) as f32;
        assert!((expected - 17.12).abs() < 0.01, "the tap falls between pixels");
        assert!((part(&ramp, 8)[3] - expected).abs() < 1e-4, "{} vs {expected}", part(&ramp, 8)[3]);
    }
}
