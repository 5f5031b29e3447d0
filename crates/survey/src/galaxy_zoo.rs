//! The Galaxy Zoo 2 decision tree: its 11 questions and 37 answers as laid out in the Kaggle
//! "Galaxy Zoo - The Galaxy Challenge" catalogue (`Class1.1` ... `Class11.6`).
//!
//! In the catalogue each answer is a *cumulative* fraction: the answers of a question sum to the
//! fraction of volunteers who reached it (Willett et al. 2013; Dieleman et al. 2015, sec. 2.2).
//! [`QUESTIONS`] records which answer gates each question, and [`tree_violation`] measures how
//! far a vector of answers is from those sum rules.

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

/// Each answer in words (Willett et al. 2013, table 2), in column order.
pub const ANSWER_LABELS: [&str; NUM_ANSWERS] = [
    "smooth",
    "features or disk",
    "star or artifact",
    "edge-on",
    "not edge-on",
    "bar",
    "no bar",
    "spiral",
    "no spiral",
    "no bulge",
    "just noticeable bulge",
    "obvious bulge",
    "dominant bulge",
    "odd feature",
    "nothing odd",
    "completely round",
    "in between",
    "cigar-shaped",
    "ring",
    "lens or arc",
    "disturbed",
    "irregular",
    "other",
    "merger",
    "dust lane",
    "rounded bulge",
    "boxy bulge",
    "no bulge (edge-on)",
    "tight arms",
    "medium arms",
    "loose arms",
    "1 arm",
    "2 arms",
    "3 arms",
    "4 arms",
    "more than 4 arms",
    "can't tell arms",
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_sum_rules_hold_for_a_consistent_vector_and_name_a_broken_one() {
        // Everyone answers Q1 (smooth 0.25, features 0.75) and Q6; the rest split what reaches them.
        let mut answers = [0.0; NUM_ANSWERS];
        for q in QUESTIONS {
            let total = q.parent.map_or(1.0, |p| answers[p]);
            for a in 0..q.len {
                answers[q.start + a] = total * if a == 0 { 0.25 } else { 0.75 / (q.len - 1) as f64 };
            }
        }
        assert!(tree_violation(&answers) < 1e-12, "{answers:?}");
        answers[5] += 0.1; // Q3 (bar) no longer sums to Q2's "not edge-on"
        assert!((tree_violation(&answers) - 0.1).abs() < 1e-12);
    }
}
