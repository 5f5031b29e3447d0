//! Galaxy Zoo 2 answer fractions derived from a simulated galaxy's generating parameters. The
//! decision tree itself (questions, answer columns, sum rules) is a fact of the catalogue and
//! lives in `astro-survey`; it is re-exported here.
//!
//! In the catalogue each answer is a *cumulative* fraction: the answers of a question sum to the
//! fraction of volunteers who reached it (Willett et al. 2013; Dieleman et al. 2015, sec. 2.2).
//! [`expected_answers`] gives the expected fractions for a simulated galaxy from its generating
//! parameters, and [`volunteer_votes`] the fractions that a finite number of volunteers walking
//! the tree would give: both have exactly that structure, checked by [`tree_violation`].

use crate::galaxy::{GalaxyKind, GalaxyParams};
use crate::rng::SampleRng;

pub use astro_survey::galaxy_zoo::{ANSWER_LABELS, NUM_ANSWERS, QUESTIONS, Question, answer_names, tree_violation};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Soft assignment of `value` to the nearest of `centres` (a normalised Gaussian kernel).
fn soft_bins<const N: usize>(value: f64, centres: [f64; N], width: f64) -> [f64; N] {
    let mut w = centres.map(|c| (-(value - c).powi(2) / (2.0 * width * width)).exp() + 1e-3);
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    w
}

/// Writes the question's answer probabilities `probs`, times the cumulative fraction of the
/// answer that leads to it, into its columns (its parent must already be set).
fn set(answers: &mut [f64; NUM_ANSWERS], question: usize, probs: &[f64]) {
    let q = QUESTIONS[question];
    debug_assert_eq!(q.len, probs.len());
    let weight = q.parent.map_or(1.0, |p| answers[p]);
    for (k, p) in probs.iter().enumerate() {
        answers[q.start + k] = p * weight;
    }
}

/// Normalises `w` to sum to one.
fn normalised<const N: usize>(mut w: [f64; N]) -> [f64; N] {
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    w
}

/// Expected volunteer answer fractions for a simulated galaxy.
///
/// Each question's answer probabilities follow what the image shows: smooth vs features from
/// the bulge-to-total ratio and the visible disk structure (arms, bar, edge-on disk); star for
/// point sources and very faint blobs; edge-on from the inclination; bar and spiral from their
/// strength; bulge prominence and edge-on bulge shape from the bulge-to-total ratio; roundness
/// from the axis ratio; odd features from the ring, merger, dust lane and knots; arm winding
/// from the pitch angle and arm count from the number of arms. Faint features are seen by
/// fewer volunteers, and everything is blurred a little, as volunteers disagree.
pub fn expected_answers(p: &GalaxyParams) -> [f64; NUM_ANSWERS] {
    let mut a = [0.0; NUM_ANSWERS];
    let disk = p.kind == GalaxyKind::Disk;
    let edge_on = if disk { sigmoid((p.inclination_deg - 76.0) / 3.0) } else { 0.0 };
    let face_on_view = 1.0 - edge_on;
    let arms_seen = if p.arm_count > 0 { sigmoid((p.arm_strength - 0.25) / 0.08) * face_on_view } else { 0.0 };
    let bar_seen = if p.bar_fraction > 0.0 { sigmoid((p.bar_fraction - 0.08) / 0.02) } else { 0.0 };
    // Faint galaxies lose their structure in the noise.
    let visibility = sigmoid((p.snr.log10() - 1.2) / 0.15);
    // Q1: smooth / features or disk / star or artifact.
    let artifact = match p.kind {
        GalaxyKind::Star => 0.85,
        _ => 0.01 + 0.2 * sigmoid(-(p.snr.log10() - 1.1) / 0.1),
    };
    let features = if disk {
        let structure =
            2.2 * (1.0 - p.bulge_to_total) + 2.0 * arms_seen + 1.5 * bar_seen + 2.5 * edge_on + 1.5 * p.knot_fraction;
        0.05 + 0.9 * sigmoid(2.5 * (structure * visibility - 1.6))
    } else {
        0.06
    };
    set(&mut a, 0, &[(1.0 - features) * (1.0 - artifact), features * (1.0 - artifact), artifact]);
    // Q2: edge-on?
    let edge_answer = 0.04 + 0.92 * edge_on;
    set(&mut a, 1, &[edge_answer, 1.0 - edge_answer]);
    // Q3: bar? Q4: spiral arms?
    let bar = 0.06 + 0.84 * bar_seen * visibility;
    set(&mut a, 2, &[bar, 1.0 - bar]);
    let spiral = 0.08 + 0.85 * arms_seen * visibility;
    set(&mut a, 3, &[spiral, 1.0 - spiral]);
    // Q5: bulge prominence (none, just noticeable, obvious, dominant).
    set(&mut a, 4, &soft_bins(p.bulge_to_total, [0.02, 0.15, 0.35, 0.6], 0.08));
    // Q6: anything odd? Q8: which (ring, lens or arc, disturbed, irregular, other, merger, dust
    // lane).
    let ring = sigmoid((p.ring_fraction - 0.05) / 0.02) * face_on_view * (p.ring_fraction > 0.0) as u8 as f64;
    let merger = sigmoid((p.companion_ratio - 0.15) / 0.05) * (p.companion_ratio > 0.0) as u8 as f64;
    let dust = sigmoid((p.dust_depth - 0.3) / 0.1) * (p.dust_depth > 0.0) as u8 as f64;
    let irregular = sigmoid((p.knot_fraction - 0.1) / 0.03) * (p.knot_fraction > 0.0) as u8 as f64;
    let stars = 0.4 * (p.foreground_stars > 0) as u8 as f64;
    let odd_signal = ring.max(merger).max(dust).max(irregular);
    let odd = 0.06 + 0.86 * odd_signal * visibility + 0.1 * stars * (1.0 - odd_signal);
    set(&mut a, 5, &[odd, 1.0 - odd]);
    let which = normalised([
        0.02 + ring,
        0.02,
        0.03 + 0.4 * merger + 0.3 * irregular,
        0.03 + irregular,
        0.05 + 0.3 * stars + 0.3 * (1.0 - odd_signal),
        0.02 + merger,
        0.02 + dust,
    ]);
    set(&mut a, 7, &which);
    // Q7: roundness of smooth galaxies (completely round, in between, cigar-shaped).
    let roundness = if disk { p.disk_q().max(p.bulge_q * p.bulge_to_total) } else { p.bulge_q };
    set(&mut a, 6, &soft_bins(roundness, [0.92, 0.62, 0.3], 0.12));
    // Q9: bulge shape of edge-on disks (rounded, boxy, none).
    set(&mut a, 8, &soft_bins(p.bulge_to_total, [0.45, 0.22, 0.02], 0.1));
    // Q10: arm winding (tight, medium, loose); Q11: arm count (1, 2, 3, 4, more, can't tell).
    set(&mut a, 9, &soft_bins(p.arm_pitch_deg, [12.0, 22.0, 34.0], 5.0));
    let count = |n: u32| (p.arm_count == n) as u8 as f64;
    let unclear = 0.08 + 0.5 * (1.0 - arms_seen * visibility);
    let counts = normalised([
        count(1) + 0.02,
        count(2) + 0.05,
        count(3) + 0.03,
        count(4) + 0.02,
        (p.arm_count >= 5) as u8 as f64 + 0.02,
        unclear,
    ]);
    set(&mut a, 10, &counts);
    a
}

/// The answer fractions that `volunteers` volunteers give when each walks the decision tree
/// answering every question it reaches at random with the expected probabilities: counts are
/// multinomial, and a question's answers sum exactly to the count of the answer that leads to
/// it, so the result obeys the tree like the real catalogue (everyone answers Q1 and Q6).
pub fn volunteer_votes(expected: &[f64; NUM_ANSWERS], volunteers: u32, rng: &mut SampleRng) -> [f64; NUM_ANSWERS] {
    let mut counts = [0u32; NUM_ANSWERS];
    for q in QUESTIONS {
        let reached = q.parent.map_or(volunteers, |p| counts[p]);
        // The conditional answer probabilities: the cumulative fractions divided by their sum.
        let slice = &expected[q.start..q.start + q.len];
        let total: f64 = slice.iter().sum();
        for _ in 0..reached {
            let mut u = rng.uniform() * total;
            let mut pick = q.len - 1;
            for (k, &w) in slice.iter().enumerate() {
                if u < w {
                    pick = k;
                    break;
                }
                u -= w;
            }
            counts[q.start + pick] += 1;
        }
    }
    counts.map(|c| c as f64 / volunteers as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::galaxy::GalaxySimConfig;

    #[test]
    fn simulated_answers_satisfy_the_tree_for_many_galaxies() {
        let config = GalaxySimConfig::default();
        for index in 0..2000 {
            let expected = expected_answers(&config.sample_params(11, index));
            assert!(tree_violation(&expected) < 1e-12, "galaxy {index}: {expected:?}");
            assert!(expected.iter().all(|v| (0.0..=1.0).contains(v)), "galaxy {index}");
            let votes = config.answers(11, index);
            assert!(tree_violation(&votes) < 1e-12, "galaxy {index}: {votes:?}");
            // Fractions of 40 volunteers.
            assert!(votes.iter().all(|v| (v * 40.0 - (v * 40.0).round()).abs() < 1e-9));
        }
    }

    #[test]
    fn votes_average_to_the_expected_fractions() {
        let config = GalaxySimConfig::default();
        let expected = expected_answers(&config.sample_params(5, 3));
        let draws = 4000;
        let mut mean = [0.0; NUM_ANSWERS];
        for i in 0..draws {
            let votes = volunteer_votes(&expected, 20, &mut SampleRng::for_sample(1, 2, i));
            mean.iter_mut().zip(votes).for_each(|(m, v)| *m += v / draws as f64);
        }
        for k in 0..NUM_ANSWERS {
            // Standard error of a mean of 4000 x 20 votes is below 0.002.
            assert!((mean[k] - expected[k]).abs() < 0.01, "answer {k}: {} vs {}", mean[k], expected[k]);
        }
    }

    fn find(config: &GalaxySimConfig, keep: impl Fn(&GalaxyParams) -> bool) -> GalaxyParams {
        (0..100_000)
            .map(|i| config.sample_params(2, i))
            .find(|p| keep(p))
            .expect("such a galaxy among the first 100000")
    }

    #[test]
    fn answers_follow_the_generating_parameters() {
        let config = GalaxySimConfig::default();
        let bright = |p: &GalaxyParams| p.snr > 100.0 && p.companion_ratio == 0.0 && p.foreground_stars == 0;
        let round = find(&config, |p| bright(p) && p.kind == GalaxyKind::Elliptical && p.bulge_q > 0.9);
        let a = expected_answers(&round);
        assert!(a[0] > 0.85, "a round elliptical is smooth: {a:?}");
        assert!(a[15] > a[17], "and completely round rather than cigar");
        let spiral = find(&config, |p| {
            bright(p)
                && p.kind == GalaxyKind::Disk
                && p.arm_count == 2
                && p.arm_strength > 0.6
                && p.inclination_deg < 40.0
        });
        let a = expected_answers(&spiral);
        assert!(a[1] > 0.8, "a bright two-armed face-on disk has features: {a:?}");
        assert!(a[7] > 0.6 * a[4], "with spiral arms");
        assert!(a[32] > a[31] && a[32] > a[33], "two of them");
        let edge_on = find(&config, |p| bright(p) && p.kind == GalaxyKind::Disk && p.inclination_deg > 85.0);
        let a = expected_answers(&edge_on);
        assert!(a[3] > 0.8 * a[1], "an edge-on disk is seen edge-on: {a:?}");
        let star = find(&config, |p| p.kind == GalaxyKind::Star);
        assert!(expected_answers(&star)[2] > 0.8, "a star is a star");
        let merger = find(&config, |p| p.snr > 100.0 && p.companion_ratio > 0.5);
        let a = expected_answers(&merger);
        assert!(a[13] > 0.7 && a[23] > a[18], "a merger is odd, and a merger: {a:?}");
    }
}
