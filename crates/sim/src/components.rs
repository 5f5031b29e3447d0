//! The parts a simulated galaxy is built from, besides the Sersic bulge ([`crate::sersic`]):
//! an exponential disk seen at an inclination, with optional logarithmic spiral arms; a bar; a
//! ring; star-forming knots; a tidal tail; point sources. Each renders a unit-flux (or stated
//! flux) shape, integrated over each pixel by sub-sampling, into an [`Image`].
//!
//! Disk-plane quantities are deprojected from the sky: in the frame of the disk's major axis
//! `(x', y')`, the disk-plane position is `(x', y' / q)` with `q` the projected axis ratio.

use crate::image::Image;

/// Sub-samples per pixel side for the smooth components (profiles here have no cusp).
const SUBSAMPLES: usize = 4;

/// Adds `scale * f(x, y)` integrated over each pixel (mean of `SUBSAMPLES^2` points, times the
/// pixel area 1) to `image`.
pub fn add_integrated(image: &mut Image, scale: f64, f: impl Fn(f64, f64) -> f64) {
    let step = 1.0 / SUBSAMPLES as f64;
    let weight = scale / (SUBSAMPLES * SUBSAMPLES) as f64;
    for y in 0..image.height {
        for x in 0..image.width {
            let mut acc = 0.0;
            for j in 0..SUBSAMPLES {
                for i in 0..SUBSAMPLES {
                    acc += f(x as f64 + (i as f64 + 0.5) * step, y as f64 + (j as f64 + 0.5) * step);
                }
            }
            image.data[y * image.width + x] += acc * weight;
        }
    }
}

/// The frame of a disk on the sky: centre, position angle of the major axis, projected axis
/// ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskFrame {
    /// Centre, pixels.
    pub x0: f64,
    /// Centre, pixels.
    pub y0: f64,
    /// Position angle of the major axis, radians counter-clockwise from +x.
    pub angle: f64,
    /// Projected axis ratio (1 face-on).
    pub q: f64,
}

impl DiskFrame {
    /// Disk-plane coordinates of sky point `(x, y)`: along the major axis, and along the
    /// deprojected minor axis.
    pub fn to_plane(&self, x: f64, y: f64) -> (f64, f64) {
        self.plane_map()(x, y)
    }

    /// [`to_plane`](Self::to_plane) with the angle's sine and cosine taken once, for the many
    /// points of a rendered component.
    pub fn plane_map(&self) -> impl Fn(f64, f64) -> (f64, f64) + Copy {
        let (s, c) = self.angle.sin_cos();
        let (x0, y0, q) = (self.x0, self.y0, self.q);
        move |x, y| {
            let (dx, dy) = (x - x0, y - y0);
            (dx * c + dy * s, (-dx * s + dy * c) / q)
        }
    }

    /// Sky-plane offset along the minor axis (for dust lanes), pixels.
    pub fn minor_offset(&self, x: f64, y: f64) -> f64 {
        let (s, c) = self.angle.sin_cos();
        -(x - self.x0) * s + (y - self.y0) * c
    }
}

/// Logarithmic spiral arms: `m` arms of pitch angle `pitch` (radians), whose share of the
/// disk light rises from 0 at the centre to `strength` beyond one scale length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpiralArms {
    /// Number of arms.
    pub count: u32,
    /// Pitch angle, radians (small is tightly wound).
    pub pitch: f64,
    /// Share of the disk light in the arms at large radius, 0 to 1.
    pub strength: f64,
    /// Phase, radians.
    pub phase: f64,
}

/// Mean over azimuth of the arm pattern `((1 + cos)/2)^2`.
const ARM_PATTERN_MEAN: f64 = 3.0 / 8.0;

impl SpiralArms {
    /// At disk-plane radius `r` (in scale lengths) and azimuth `phi`: the share of the light
    /// in the arms, and the arm pattern (mean 1 over azimuth, so arms move light around a
    /// ring without changing its total).
    pub fn at(&self, r: f64, phi: f64) -> (f64, f64) {
        self.at_with(r, phi, self.pitch.tan())
    }

    /// [`at`](Self::at) with `tan(pitch)` given, taken once for all of a disk's points.
    fn at_with(&self, r: f64, phi: f64, tan_pitch: f64) -> (f64, f64) {
        let share = self.strength * (1.0 - (-r * r).exp());
        let wind = r.max(1e-6).ln() / tan_pitch;
        let c = 0.5 * (1.0 + (self.count as f64 * (phi - wind) + self.phase).cos());
        (share, c * c / ARM_PATTERN_MEAN)
    }
}

/// An exponential disk of scale length `h` (pixels) and unit total flux, split into its smooth
/// light and its arm light (which have different colours). Without arms, all light is smooth.
pub fn add_disk(smooth: &mut Image, arm_light: &mut Image, frame: DiskFrame, h: f64, arms: Option<SpiralArms>) {
    // Surface brightness of a unit-flux disk seen at axis ratio q: exp(-r/h) / (2 pi h^2 q).
    let norm = 1.0 / (std::f64::consts::TAU * h * h * frame.q);
    let tan_pitch = arms.map_or(1.0, |a| a.pitch.tan());
    let to_plane = frame.plane_map();
    let split = |x: f64, y: f64| {
        let (u, v) = to_plane(x, y);
        let r = (u * u + v * v).sqrt();
        let base = norm * (-r / h).exp();
        match arms {
            Some(a) => {
                let (share, pattern) = a.at_with(r / h, v.atan2(u), tan_pitch);
                (base * (1.0 - share), base * share * pattern)
            }
            None => (base, 0.0),
        }
    };
    if arms.is_none() {
        add_integrated(smooth, 1.0, |x, y| split(x, y).0);
        return;
    }
    // One pass for both parts: the disk profile and the arm pattern are the costly part.
    let step = 1.0 / SUBSAMPLES as f64;
    let weight = 1.0 / (SUBSAMPLES * SUBSAMPLES) as f64;
    for y in 0..smooth.height {
        for x in 0..smooth.width {
            let (mut a, mut b) = (0.0, 0.0);
            for j in 0..SUBSAMPLES {
                for i in 0..SUBSAMPLES {
                    let (s, t) = split(x as f64 + (i as f64 + 0.5) * step, y as f64 + (j as f64 + 0.5) * step);
                    a += s;
                    b += t;
                }
            }
            smooth.data[y * smooth.width + x] += a * weight;
            arm_light.data[y * arm_light.width + x] += b * weight;
        }
    }
}

/// A bar: a Gaussian ellipsoid in the disk plane, of half-length `length` (pixels, its
/// 1-sigma extent along the bar) and axis ratio 1:4, at `angle` (radians) from the disk's
/// major axis; `flux` in total.
pub fn add_bar(image: &mut Image, frame: DiskFrame, length: f64, angle: f64, flux: f64) {
    let width = 0.25 * length;
    let (s, c) = angle.sin_cos();
    // The disk-plane Gaussian integrates to 2 pi L W; projection shrinks areas by q.
    let norm = flux / (std::f64::consts::TAU * length * width * frame.q);
    let to_plane = frame.plane_map();
    add_integrated(image, norm, |x, y| {
        let (u, v) = to_plane(x, y);
        let (a, b) = (u * c + v * s, -u * s + v * c);
        (-0.5 * ((a / length).powi(2) + (b / width).powi(2))).exp()
    });
}

/// A ring of radius `radius` and Gaussian width `0.15 radius` in the disk plane, of total
/// `flux` (normalised on the grid, so flux outside the image is not counted).
pub fn add_ring(image: &mut Image, frame: DiskFrame, radius: f64, flux: f64) {
    let width = 0.15 * radius;
    let mut ring = Image::zeros(image.width, image.height);
    let to_plane = frame.plane_map();
    add_integrated(&mut ring, 1.0, |x, y| {
        let (u, v) = to_plane(x, y);
        (-0.5 * (((u * u + v * v).sqrt() - radius) / width).powi(2)).exp()
    });
    add_scaled(image, &ring, flux);
}

/// A tidal tail: a one-armed, loosely wound spiral on an extended exponential of scale
/// `h` (pixels), from the galaxy at `frame`, of total `flux` (normalised on the grid).
pub fn add_tidal_tail(image: &mut Image, frame: DiskFrame, h: f64, phase: f64, flux: f64) {
    let arm = SpiralArms { count: 1, pitch: 35f64.to_radians(), strength: 1.0, phase };
    let mut tail = Image::zeros(image.width, image.height);
    let (to_plane, tan_pitch) = (frame.plane_map(), arm.pitch.tan());
    add_integrated(&mut tail, 1.0, |x, y| {
        let (u, v) = to_plane(x, y);
        let r = (u * u + v * v).sqrt() / h;
        let (share, pattern) = arm.at_with(r, v.atan2(u), tan_pitch);
        // Only the outer arm: the tail leaves the galaxy, it does not cross its centre.
        (-r).exp() * share * pattern.powi(2) * (1.0 - (-r * r / 4.0).exp())
    });
    add_scaled(image, &tail, flux);
}

/// Round Gaussian knots (star-forming clumps) of `sigma` pixels at `positions`, with `flux`
/// each.
pub fn add_knots(image: &mut Image, positions: &[(f64, f64)], sigma: f64, flux: f64) {
    let norm = flux / (std::f64::consts::TAU * sigma * sigma);
    for &(x0, y0) in positions {
        add_integrated(image, norm, |x, y| (-((x - x0).powi(2) + (y - y0).powi(2)) / (2.0 * sigma * sigma)).exp());
    }
}

/// A point source of `flux` at `(x, y)` (pixels), shared between the four nearest pixel
/// centres so that its centroid is exact; the PSF then gives it its shape.
pub fn add_point(image: &mut Image, x: f64, y: f64, flux: f64) {
    let (fx, fy) = (x - 0.5, y - 0.5);
    let (x0, y0) = (fx.floor(), fy.floor());
    let (ax, ay) = (fx - x0, fy - y0);
    for (dx, dy, w) in
        [(0, 0, (1.0 - ax) * (1.0 - ay)), (1, 0, ax * (1.0 - ay)), (0, 1, (1.0 - ax) * ay), (1, 1, ax * ay)]
    {
        let (px, py) = (x0 as i64 + dx, y0 as i64 + dy);
        if px >= 0 && py >= 0 && (px as usize) < image.width && (py as usize) < image.height {
            image.data[py as usize * image.width + px as usize] += flux * w;
        }
    }
}

/// A tidal bridge or stream: light along the quadratic Bezier curve from `from` to `to` whose
/// midpoint is pushed `bend` pixels sideways (a quarter turn from the direction of travel,
/// towards +y for a stream running along +x),
/// Gaussian across with `width` pixels sigma, of total `flux` (normalised on the grid).
pub fn add_stream(image: &mut Image, from: (f64, f64), to: (f64, f64), bend: f64, width: f64, flux: f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = dx.hypot(dy).max(1e-9);
    // The control point that puts the curve's midpoint `bend` off the chord.
    let control = (0.5 * (from.0 + to.0) - 2.0 * bend * dy / length, 0.5 * (from.1 + to.1) + 2.0 * bend * dx / length);
    let points: Vec<(f64, f64)> = (0..=STREAM_SEGMENTS)
        .map(|k| {
            let t = k as f64 / STREAM_SEGMENTS as f64;
            let (a, b, c) = ((1.0 - t) * (1.0 - t), 2.0 * t * (1.0 - t), t * t);
            (a * from.0 + b * control.0 + c * to.0, a * from.1 + b * control.1 + c * to.1)
        })
        .collect();
    let mut stream = Image::zeros(image.width, image.height);
    add_integrated(&mut stream, 1.0, |x, y| {
        let d2 = points.windows(2).map(|s| segment_distance2((x, y), s[0], s[1])).fold(f64::INFINITY, f64::min);
        (-0.5 * d2 / (width * width)).exp()
    });
    add_scaled(image, &stream, flux);
}

/// Straight pieces a stream's curve is drawn with.
const STREAM_SEGMENTS: usize = 24;

/// Squared distance from `p` to the segment `a`-`b`.
fn segment_distance2(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (ux, uy) = (b.0 - a.0, b.1 - a.1);
    let len2 = ux * ux + uy * uy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * ux + (p.1 - a.1) * uy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (qx, qy) = (a.0 + t * ux - p.0, a.1 + t * uy - p.1);
    qx * qx + qy * qy
}

/// Shells of a radial minor merger (Quinn 1984): arcs around `(x0, y0)` at `radii` (pixels),
/// alternating between the two ends of the axis at `axis` (radians), each spanning about
/// `opening` radians either side of it. A shell has a sharp outer edge and fades inwards
/// (its stars pile up at their orbits' apocentre). `flux` in all, shared equally.
pub fn add_shells(image: &mut Image, (x0, y0): (f64, f64), axis: f64, radii: &[f64], opening: f64, flux: f64) {
    for (k, &radius) in radii.iter().enumerate() {
        let direction = axis + if k % 2 == 0 { 0.0 } else { std::f64::consts::PI };
        let (inner, edge) = (0.15 * radius, (0.03 * radius).max(0.5));
        let mut shell = Image::zeros(image.width, image.height);
        add_integrated(&mut shell, 1.0, |x, y| {
            let (dx, dy) = (x - x0, y - y0);
            let r = dx.hypot(dy);
            let off = (dy.atan2(dx) - direction + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                - std::f64::consts::PI;
            if off.abs() >= opening {
                return 0.0;
            }
            let across = (0.5 * std::f64::consts::PI * off / opening).cos().powi(2);
            let radial =
                if r <= radius { (-(radius - r) / inner).exp() } else { (-0.5 * ((r - radius) / edge).powi(2)).exp() };
            across * radial
        });
        add_scaled(image, &shell, flux / radii.len() as f64);
    }
}

/// `image += scale * shape / sum(shape)` (nothing for an empty shape).
fn add_scaled(image: &mut Image, shape: &Image, flux: f64) {
    let total = shape.sum();
    if total > 0.0 {
        image.data.iter_mut().zip(&shape.data).for_each(|(a, b)| *a += flux * b / total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_on(size: usize) -> DiskFrame {
        DiskFrame { x0: size as f64 / 2.0, y0: size as f64 / 2.0, angle: 0.3, q: 1.0 }
    }

    #[test]
    fn an_exponential_disk_has_unit_flux_and_its_half_light_radius() {
        let size = 161;
        let h = 8.0;
        for q in [1.0, 0.5] {
            let frame = DiskFrame { q, ..face_on(size) };
            let (mut disk, mut arms) = (Image::zeros(size, size), Image::zeros(size, size));
            add_disk(&mut disk, &mut arms, frame, h, None);
            // 10 scale lengths hold 1 - 11 e^-10 of the light.
            assert!((disk.sum() - 1.0).abs() < 2e-3, "flux {}", disk.sum());
            // Half the light of an exponential lies inside 1.678 h (Sersic b_1).
            let inside: f64 = (0..size * size)
                .filter(|i| {
                    let (x, y) = ((i % size) as f64 + 0.5, (i / size) as f64 + 0.5);
                    let (u, v) = frame.to_plane(x, y);
                    (u * u + v * v).sqrt() < 1.678_35 * h
                })
                .map(|i| disk.data[i])
                .sum();
            assert!((inside - 0.5).abs() < 0.01, "half light {inside} at q {q}");
        }
    }

    #[test]
    fn arms_move_light_around_without_changing_the_disk_flux() {
        let size = 161;
        let arms = SpiralArms { count: 2, pitch: 0.3, strength: 0.6, phase: 0.0 };
        let (mut smooth, mut arm_light) = (Image::zeros(size, size), Image::zeros(size, size));
        add_disk(&mut smooth, &mut arm_light, face_on(size), 8.0, Some(arms));
        let total = smooth.sum() + arm_light.sum();
        assert!((total - 1.0).abs() < 5e-3, "flux {total}");
        assert!(arm_light.sum() > 0.3, "the arms hold a good share: {}", arm_light.sum());
        // Two arms: in an annulus around 2 h the arm light has a strong azimuthal m = 2
        // Fourier component, and weak m = 1 and m = 3 ones.
        let frame = face_on(size);
        let amplitude = |m: f64| {
            let (mut re, mut im, mut total) = (0.0, 0.0, 0.0);
            for (i, v) in arm_light.data.iter().enumerate() {
                let (u, w) = frame.to_plane((i % size) as f64 + 0.5, (i / size) as f64 + 0.5);
                let r = (u * u + w * w).sqrt() / 8.0;
                if (1.5..2.5).contains(&r) {
                    let phi = w.atan2(u);
                    re += v * (m * phi).cos();
                    im += v * (m * phi).sin();
                    total += v;
                }
            }
            (re * re + im * im).sqrt() / total
        };
        let (a1, a2, a3) = (amplitude(1.0), amplitude(2.0), amplitude(3.0));
        assert!(a2 > 0.3 && a2 > 5.0 * a1 && a2 > 5.0 * a3, "m=1 {a1}, m=2 {a2}, m=3 {a3}");
    }

    #[test]
    fn a_stream_follows_its_curve_and_shells_alternate_sides_with_sharp_outer_edges() {
        let size = 101;
        // A straight stream along y = 50: its light is symmetric about the line, sigma 2 across.
        let mut stream = Image::zeros(size, size);
        add_stream(&mut stream, (20.0, 50.5), (80.0, 50.5), 0.0, 2.0, 1.0);
        let (cx, cy, _, syy, _) = stream.moments();
        assert!((cx - 50.0).abs() < 0.05 && (cy - 50.5).abs() < 0.01, "centroid {cx}, {cy}");
        // Pixel integration adds 1/12 to the variance across.
        assert!((syy - (4.0 + 1.0 / 12.0)).abs() < 0.05, "sigma^2 across {syy}");
        // Bent to the left of travel (+x): the middle of the stream moves to +y.
        let mut bent = Image::zeros(size, size);
        add_stream(&mut bent, (20.0, 50.5), (80.0, 50.5), 10.0, 1.0, 1.0);
        let column: Vec<f64> = (0..size).map(|y| bent.get(50, y)).collect();
        let peak = column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, 60, "the midpoint is 10 px off the chord");
        // Two shells on opposite sides of the axis (+x, then -x).
        let mut shells = Image::zeros(size, size);
        add_shells(&mut shells, (50.5, 50.5), 0.0, &[20.0, 30.0], 0.8, 1.0);
        let row: Vec<f64> = (0..size).map(|x| shells.get(x, 50)).collect();
        let (right, left) = (&row[51..], &row[..50]);
        let argmax = |v: &[f64]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(argmax(right), 19, "shell 1 peaks at r = 20 on the +x side");
        assert_eq!(50 - argmax(left), 30, "shell 2 peaks at r = 30 on the -x side");
        // Sharp outside, gradual inside.
        assert!(right[23] < 0.05 * right[19] && right[16] > 0.3 * right[19], "{:?}", &right[10..26]);
        assert!(row[50 + 35] == 0.0 || row[50 + 35] < 1e-6, "nothing beyond the outer shell on +x");
    }

    #[test]
    fn bar_ring_knots_and_points_have_their_flux() {
        let size = 121;
        let frame = face_on(size);
        let mut image = Image::zeros(size, size);
        add_bar(&mut image, frame, 10.0, 0.7, 3.0);
        assert!((image.sum() - 3.0).abs() < 1e-3, "bar {}", image.sum());
        let mut image = Image::zeros(size, size);
        add_ring(&mut image, frame, 20.0, 2.0);
        add_knots(&mut image, &[(40.0, 50.0), (70.5, 61.2)], 1.5, 0.5);
        add_point(&mut image, 30.3, 90.8, 4.0);
        assert!((image.sum() - 7.0).abs() < 1e-3, "{}", image.sum());
        let mut debris = Image::zeros(size, size);
        add_stream(&mut debris, (30.0, 40.0), (90.0, 70.0), 8.0, 2.0, 1.5);
        add_shells(&mut debris, (60.0, 60.0), 0.4, &[12.0, 20.0, 30.0], 1.0, 2.5);
        assert!((debris.sum() - 4.0).abs() < 1e-9, "{}", debris.sum());
        let mut point = Image::zeros(size, size);
        add_point(&mut point, 30.3, 90.8, 4.0);
        let (cx, cy, ..) = point.moments();
        assert!((cx - 30.3).abs() < 1e-9 && (cy - 90.8).abs() < 1e-9);
    }
}
