//! The Galaxy Zoo 2 decision tree: its 11 questions and 37 answers as laid out in the Kaggle
//! "Galaxy Zoo - The Galaxy Challenge" catalogue (`Class1.1` ... `Class11.6`), and answer
//! fractions derived from a simulated galaxy's generating parameters.
//!
//! In the catalogue each answer is a *cumulative* fraction: the answers of a question sum to the
//! fraction of volunteers who reached it (Willett et al. 2013; Dieleman et al. 2015, sec. 2.2).
//! [`answer_fractions`] produces exactly that structure, checked by [`tree_violation`].

use crate::galaxy::GalaxyParams;

/// Number of answers (outputs) in the tree.
pub const NUM_ANSWERS: usize = 37;

/// A question: its answers' columns, and the column whose value every answer's sum must equal
/// (`None` for the questions everyone answers: Q1 and Q6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// Kaggle question number (1-based).
    pub number: usize,
    /// First answer column (0-based).
    pub start: usize,
    /// Number of answers.
    pub len: usize,
    /// The answer column that gates this question.
    pub parent: Option<usize>,
}

/// The 11 questions, in catalogue order (Dieleman et al. 2015, table 1 and sec. 3.4).
pub const QUESTIONS: [Question; 11] = [
    Question { number: 1, start: 0, len: 3, parent: None },
    Question { number: 2, start: 3, len: 2, parent: Some(1) },
    Question { number: 3, start: 5, len: 2, parent: Some(4) },
    Question { number: 4, start: 7, len: 2, parent: Some(4) },
    Question { number: 5, start: 9, len: 4, parent: Some(4) },
    Question { number: 6, start: 13, len: 2, parent: None },
    Question { number: 7, start: 15, len: 3, parent: Some(0) },
    Question { number: 8, start: 18, len: 7, parent: Some(13) },
    Question { number: 9, start: 25, len: 3, parent: Some(3) },
    Question { number: 10, start: 28, len: 3, parent: Some(7) },
    Question { number: 11, start: 31, len: 6, parent: Some(7) },
];

/// The catalogue's column names, `Class1.1` ... `Class11.6`.
pub fn answer_names() -> Vec<String> {
    QUESTIONS.iter().flat_map(|q| (1..=q.len).map(move |a| format!("Class{}.{a}", q.number))).collect()
}

/// The largest violation of the tree's sum rules in `answers` (0 for a consistent vector).
pub fn tree_violation(answers: &[f64; NUM_ANSWERS]) -> f64 {
    QUESTIONS
        .iter()
        .map(|q| {
            let sum: f64 = answers[q.start..q.start + q.len].iter().sum();
            let expected = q.parent.map_or(1.0, |p| answers[p]);
            (sum - expected).abs()
        })
        .fold(0.0, f64::max)
}

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

/// Writes `probs * weight` into the question's columns.
fn set(answers: &mut [f64; NUM_ANSWERS], question: usize, probs: &[f64], weight: f64) {
    let q = QUESTIONS[question];
    debug_assert_eq!(q.len, probs.len());
    for (k, p) in probs.iter().enumerate() {
        answers[q.start + k] = p * weight;
    }
}

/// Expected volunteer answer fractions for a simulated galaxy.
///
/// The single-Sersic simulator has no bars, arms or odd features, so those questions get the
/// low, parameter-independent fractions volunteers give to galaxies without them; the answers
/// that the image does determine (smooth vs disk by Sersic index, edge-on and roundness by axis
/// ratio, bulge prominence and shape by index, star/artifact by faintness) vary smoothly with the
/// generating parameters, so a network can learn them from the pixels.
pub fn answer_fractions(p: &GalaxyParams) -> [f64; NUM_ANSWERS] {
    let mut a = [0.0; NUM_ANSWERS];
    // Q1: smooth / features or disk / star or artifact.
    let artifact = 0.01 + 0.25 * sigmoid(-(p.snr.log10() - 1.3) / 0.12);
    let smooth = sigmoid(1.8 * (p.sersic_n - 2.0));
    set(&mut a, 0, &[smooth * (1.0 - artifact), (1.0 - smooth) * (1.0 - artifact), artifact], 1.0);
    let features = a[1];
    // Q2: edge-on? Thin disks seen at high inclination have small axis ratios.
    let edge_on = sigmoid((0.32 - p.axis_ratio) / 0.05);
    set(&mut a, 1, &[edge_on, 1.0 - edge_on], features);
    let face_on = a[4];
    // Q3: bar? Q4: spiral arms? Neither is simulated; disks with low n look more "spiral".
    set(&mut a, 2, &[0.12, 0.88], face_on);
    let spiral = 0.15 + 0.5 * sigmoid(3.0 * (1.2 - p.sersic_n));
    set(&mut a, 3, &[spiral, 1.0 - spiral], face_on);
    // Q5: bulge prominence (none, just noticeable, obvious, dominant) from the index.
    set(&mut a, 4, &soft_bins(p.sersic_n, [0.6, 1.3, 2.2, 3.5], 0.5), face_on);
    // Q6: anything odd? Q8: which odd feature (ring, lens, disturbed, irregular, other,
    // merger, dust lane): fixed, feature-less answers.
    set(&mut a, 5, &[0.08, 0.92], 1.0);
    let odd = a[13];
    set(&mut a, 7, &[0.10, 0.05, 0.15, 0.20, 0.35, 0.10, 0.05], odd);
    // Q7: roundness of smooth galaxies (completely round, in between, cigar-shaped).
    let smooth_total = a[0];
    set(&mut a, 6, &soft_bins(p.axis_ratio, [0.92, 0.6, 0.3], 0.12), smooth_total);
    // Q9: bulge shape of edge-on disks (rounded, boxy, none), from the index.
    let edge_on_total = a[3];
    set(&mut a, 8, &soft_bins(p.sersic_n, [3.0, 2.0, 0.8], 0.6), edge_on_total);
    // Q10 and Q11: arm winding and count; no arms are drawn, so the answers are uninformed.
    let arms = a[7];
    set(&mut a, 9, &[0.3, 0.45, 0.25], arms);
    set(&mut a, 10, &[0.08, 0.35, 0.12, 0.05, 0.10, 0.30], arms);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::galaxy::GalaxySimConfig;

    #[test]
    fn questions_tile_the_37_columns_in_order() {
        let mut next = 0;
        for q in QUESTIONS {
            assert_eq!(q.start, next, "question {}", q.number);
            next += q.len;
        }
        assert_eq!(next, NUM_ANSWERS);
        let names = answer_names();
        assert_eq!(names.len(), NUM_ANSWERS);
        assert_eq!(names[0], "Class1.1");
        assert_eq!(names[13], "Class6.1");
        assert_eq!(names[36], "Class11.6");
    }

    #[test]
    fn simulated_answers_satisfy_the_tree_for_many_galaxies() {
        let config = GalaxySimConfig::default();
        for index in 0..2000 {
            let params = config.sample_params(11, index);
            let a = answer_fractions(&params);
            assert!(tree_violation(&a) < 1e-12, "galaxy {index}: {a:?}");
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "galaxy {index}");
        }
    }

    #[test]
    fn answers_follow_the_generating_parameters() {
        let config = GalaxySimConfig::default();
        let mut p = config.sample_params(1, 0);
        p.snr = 200.0;
        p.sersic_n = 4.0;
        p.axis_ratio = 0.95;
        let elliptical = answer_fractions(&p);
        assert!(elliptical[0] > 0.9, "a round n=4 galaxy is smooth");
        assert!(elliptical[15] > elliptical[17], "and completely round rather than cigar");
        p.sersic_n = 0.8;
        p.axis_ratio = 0.15;
        let edge_on_disk = answer_fractions(&p);
        assert!(edge_on_disk[1] > 0.8, "a thin n=0.8 galaxy is a disk");
        assert!(edge_on_disk[3] > 0.8 * edge_on_disk[1], "seen edge-on");
        assert!(tree_violation(&edge_on_disk) < 1e-12);
    }
}
