//! Galaxy10 classes (Leung & Bovy; astroNN's `Galaxy10_DECals.h5`, labels 0-9) from Galaxy Zoo
//! answers. Galaxy10 was cut from Galaxy Zoo vote fractions, keeping galaxies whose volunteers
//! agreed; [`galaxy10_class`] applies the same kind of cut to simulated votes: walk the tree by
//! the majority answers, and give no class (the galaxy is left out) where a deciding answer has
//! less than [`AGREEMENT`] of the votes, or the galaxy is none of the ten kinds (a star, a
//! featureless face-on disk).

use crate::galaxy_zoo::{NUM_ANSWERS, QUESTIONS};

/// The ten classes, in label order, as astroNN names them.
pub const GALAXY10_CLASSES: [&str; 10] = [
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
];

/// The share of a question's votes a deciding answer needs, at least (astroNN's Galaxy10
/// documentation says more than 55% agreed; simulated votes come in steps of 1/40, and a share
/// of exactly 55% counts here).
pub const AGREEMENT: f64 = 0.55;

/// The answers of question `number` (1-based) as fractions of the volunteers who answered it
/// (the catalogue's cumulative fractions divided by the question's total); `None` if nobody did.
fn conditional(answers: &[f64; NUM_ANSWERS], number: usize) -> Option<Vec<f64>> {
    let q = QUESTIONS[number - 1];
    let row = &answers[q.start..q.start + q.len];
    let total: f64 = row.iter().sum();
    (total > 1e-9).then(|| row.iter().map(|a| a / total).collect())
}

/// The answer with most votes, if it has at least [`AGREEMENT`] of them.
fn decided(answers: &[f64; NUM_ANSWERS], number: usize) -> Option<usize> {
    let fractions = conditional(answers, number)?;
    let (best, share) = fractions.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (share >= AGREEMENT).then_some(best)
}

/// The Galaxy10 class of a galaxy with these Galaxy Zoo answer fractions, or `None` where
/// volunteers disagree or it is none of the ten kinds.
pub fn galaxy10_class(answers: &[f64; NUM_ANSWERS]) -> Option<usize> {
    // Odd features first: a merger or a disturbed/irregular galaxy is classed as such whatever
    // its shape (Q6 odd? then Q8 which feature).
    if decided(answers, 6) == Some(0) {
        match decided(answers, 8) {
            Some(5) => return Some(1),
            Some(2 | 3) => return Some(0),
            _ => {}
        }
    }
    match decided(answers, 1)? {
        // Smooth: by roundness (Q7).
        0 => decided(answers, 7).map(|round| 2 + round),
        // Features: edge-on (Q2) by bulge shape (Q9), else bar (Q3), else arms (Q4, Q10).
        1 => match decided(answers, 2)? {
            0 => match decided(answers, 9)? {
                2 => Some(8),
                _ => Some(9),
            },
            _ => {
                if decided(answers, 3)? == 0 {
                    return Some(5);
                }
                if decided(answers, 4)? != 0 {
                    return None;
                }
                let winding = conditional(answers, 10)?;
                Some(if winding[0] >= winding[2] { 6 } else { 7 })
            }
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers for one path through the tree: `(question, answer)` pairs, everyone agreeing.
    fn unanimous(path: &[(usize, usize)]) -> [f64; NUM_ANSWERS] {
        let mut a = [0.0; NUM_ANSWERS];
        for &(number, answer) in path {
            a[QUESTIONS[number - 1].start + answer] = 1.0;
        }
        a
    }

    #[test]
    fn each_path_gives_its_class() {
        let plain = (6, 1);
        assert_eq!(galaxy10_class(&unanimous(&[(1, 0), (7, 0), plain])), Some(2));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 0), (7, 1), plain])), Some(3));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 0), (7, 2), plain])), Some(4));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 0), (9, 2), plain])), Some(8));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 0), (9, 0), plain])), Some(9));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 1), (3, 0), (4, 0), plain])), Some(5));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 1), (3, 1), (4, 0), (10, 0), plain])), Some(6));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 1), (3, 1), (4, 0), (10, 2), plain])), Some(7));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 0), (7, 0), (6, 0), (8, 5)])), Some(1));
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 1), (6, 0), (8, 3)])), Some(0));
        // A ring is odd but not one of the ten: the galaxy is classed by its shape.
        assert_eq!(galaxy10_class(&unanimous(&[(1, 0), (7, 0), (6, 0), (8, 0)])), Some(2));
        // Stars and face-on disks without bar or arms are none of the ten.
        assert_eq!(galaxy10_class(&unanimous(&[(1, 2), plain])), None);
        assert_eq!(galaxy10_class(&unanimous(&[(1, 1), (2, 1), (3, 1), (4, 1), plain])), None);
    }

    #[test]
    fn split_votes_give_no_class() {
        let mut a = unanimous(&[(1, 0), (7, 0), (6, 1)]);
        // 40% smooth, 35% features, 25% star: no answer has half the votes.
        a[0] = 0.4;
        a[1] = 0.35;
        a[2] = 0.25;
        assert_eq!(galaxy10_class(&a), None);
    }
}
