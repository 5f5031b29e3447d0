//! The Galaxy Zoo output layer of Dieleman, Willett & Dambre (2015, sec. 3.4): ReLU, then the
//! answers of each question normalised to sum to one, then scaled by the cumulative fraction of
//! the answer that leads to the question, so that the 37 outputs obey the decision tree's sum
//! rules exactly like the catalogue's cumulative vote fractions.

use crate::rectifier::relu;
use astro_survey::galaxy_zoo::{NUM_ANSWERS, QUESTIONS};
use burn::tensor::Tensor;

/// Added to each question's sum so that all-zero answers give zeros, not NaN.
const EPSILON: f64 = 1e-12;

/// Maps raw network outputs to tree-consistent answer fractions.
///
/// # Shapes
/// - raw: `[batch, 37]`
/// - output: `[batch, 37]`
pub fn galaxy_zoo_output(raw: Tensor<2>) -> Tensor<2> {
    let [batch, columns] = raw.dims();
    debug_assert_eq!(columns, NUM_ANSWERS);
    let positive = relu(raw);
    let mut questions: Vec<Tensor<2>> = Vec::with_capacity(QUESTIONS.len());
    for q in QUESTIONS {
        let answers = positive.clone().slice([0..batch, q.start..q.start + q.len]);
        let normalised = answers.clone() / (answers.sum_dim(1) + EPSILON);
        // Parents always belong to an earlier question, whose cumulative output is ready.
        let cumulative = match q.parent {
            None => normalised,
            Some(column) => {
                let (owner, parent) = QUESTIONS
                    .iter()
                    .enumerate()
                    .find(|(_, p)| (p.start..p.start + p.len).contains(&column))
                    .expect("every parent column belongs to a question");
                let offset = column - parent.start;
                normalised * questions[owner].clone().slice([0..batch, offset..offset + 1])
            }
        };
        questions.push(cumulative);
    }
    Tensor::cat(questions, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use astro_survey::galaxy_zoo::tree_violation;
    use burn::tensor::Device;

    #[test]
    fn outputs_obey_the_tree_and_match_the_papers_weights() {
        let device = Device::flex();
        // Some negatives, but never a whole question (whose answers would all be 0 after the
        // ReLU while its parent is not: the one case the paper's layer cannot keep exact).
        let firsts: Vec<usize> = QUESTIONS.iter().map(|q| q.start).collect();
        let values: Vec<f32> = (0..5 * NUM_ANSWERS)
            .map(|i| if firsts.contains(&(i % NUM_ANSWERS)) { 0.5 } else { ((i * 7) % 13) as f32 / 10.0 - 0.25 })
            .collect();
        let raw = Tensor::<1>::from_floats(values.as_slice(), &device).reshape([5, NUM_ANSWERS]);
        let out = galaxy_zoo_output(raw.clone());
        let values = out.into_data().try_to_vec::<f32>().unwrap();
        let raw = raw.into_data().try_to_vec::<f32>().unwrap();
        for (row, raw) in values.chunks(NUM_ANSWERS).zip(raw.chunks(NUM_ANSWERS)) {
            let answers: [f64; NUM_ANSWERS] = std::array::from_fn(|i| row[i] as f64);
            assert!(tree_violation(&answers) < 1e-5, "{answers:?}");
            // Spelled out for Q2 and Q10 as in the paper: Q2 by Q1[1]; Q10 by Q4[0] x Q4's weight.
            let r: Vec<f64> = raw.iter().map(|v| v.max(0.0) as f64).collect();
            let norm = |s: usize, n: usize| -> Vec<f64> {
                let total: f64 = r[s..s + n].iter().sum::<f64>() + EPSILON;
                r[s..s + n].iter().map(|v| v / total).collect()
            };
            let (q1, q2, q4, q10) = (norm(0, 3), norm(3, 2), norm(7, 2), norm(28, 3));
            assert!((answers[3] - q2[0] * q1[1]).abs() < 1e-5);
            assert!((answers[28] - q10[0] * q4[0] * q2[1] * q1[1]).abs() < 1e-5);
        }
    }
}
