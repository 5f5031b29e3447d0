//! Scoring a Galaxy Zoo 2 model on Galaxy Zoo DECaLS vote fractions. The two projects ask the
//! same questions for part of the tree, but GZ2's targets (Kaggle's 37 answers) are cumulative:
//! each answer's fraction is multiplied by the fractions of the answers that lead to its question
//! (Willett et al. 2013), so that answers 2.x sum to answer 1.2. GZ DECaLS catalogues give each
//! question's fractions among the volunteers who were asked it (Walmsley et al. 2022). An answer
//! converts by dividing by its question's total: `featured-or-disk = 1.2 / (1.1 + 1.2 + 1.3)`,
//! `edge-on no = 2.2 / (2.1 + 2.2)`, `spiral arms no = 4.2 / (4.1 + 4.2)` (and the yes/smooth
//! answers alike).

/// GZ DECaLS answer columns and the GZ2 answer and question answers they come from.
const DECALS_FROM_GZ2: [(&str, &str, &[&str]); 6] = [
    ("smooth-or-featured_smooth_fraction", "Class1.1", &["Class1.1", "Class1.2", "Class1.3"]),
    ("smooth-or-featured_featured-or-disk_fraction", "Class1.2", &["Class1.1", "Class1.2", "Class1.3"]),
    ("disk-edge-on_yes_fraction", "Class2.1", &["Class2.1", "Class2.2"]),
    ("disk-edge-on_no_fraction", "Class2.2", &["Class2.1", "Class2.2"]),
    ("has-spiral-arms_yes_fraction", "Class4.1", &["Class4.1", "Class4.2"]),
    ("has-spiral-arms_no_fraction", "Class4.2", &["Class4.1", "Class4.2"]),
];

/// How a model's outputs become the data's targets: for each target, the output index of its
/// answer and of its question's answers.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerMap {
    targets: Vec<(usize, Vec<usize>)>,
    /// One line saying what was converted, for the report.
    pub description: String,
}

impl AnswerMap {
    /// The map from a model's outputs named `model` to targets named `data`, where every data
    /// target is a GZ DECaLS answer this module knows and the model gives the GZ2 answers;
    /// `None` otherwise.
    pub fn gz2_to_decals(model: &[String], data: &[String]) -> Option<Self> {
        let index = |name: &str| model.iter().position(|m| m == name);
        let targets = data
            .iter()
            .map(|target| {
                let (_, answer, question) = DECALS_FROM_GZ2.iter().find(|(d, ..)| d == target)?;
                Some((index(answer)?, question.iter().map(|a| index(a)).collect::<Option<Vec<_>>>()?))
            })
            .collect::<Option<Vec<_>>>()?;
        let description = format!(
            "the model's cumulative Galaxy Zoo 2 answers converted to the data's Galaxy Zoo DECaLS fractions \
             (each answer over its question's total): {}",
            data.join(", ")
        );
        Some(Self { targets, description })
    }

    /// The data's targets from one row of model outputs (a question the model gives no weight
    /// to at all: 0).
    pub fn apply(&self, outputs: &[f32]) -> Vec<f32> {
        self.targets
            .iter()
            .map(|(answer, question)| {
                let total: f32 = question.iter().map(|&k| outputs[k]).sum();
                if total > 0.0 { outputs[*answer] / total } else { 0.0 }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_answers_become_fractions_of_their_question() {
        let names = astro_sim::galaxy_zoo::answer_names();
        let data: Vec<String> =
            ["smooth-or-featured_featured-or-disk_fraction", "disk-edge-on_no_fraction", "has-spiral-arms_no_fraction"]
                .map(String::from)
                .to_vec();
        let map = AnswerMap::gz2_to_decals(&names, &data).unwrap();
        // A galaxy 60% featured; of those 75% not edge-on; of those 1/3 without arms: the
        // cumulative GZ2 answers are 1.2 = 0.6, 2.2 = 0.45, 4.2 = 0.15.
        let mut outputs = vec![0.0f32; names.len()];
        let set =
            |outputs: &mut Vec<f32>, name: &str, v: f32| outputs[names.iter().position(|n| n == name).unwrap()] = v;
        for (name, v) in
            [("Class1.1", 0.38), ("Class1.2", 0.6), ("Class1.3", 0.02), ("Class2.1", 0.15), ("Class2.2", 0.45)]
        {
            set(&mut outputs, name, v);
        }
        set(&mut outputs, "Class4.1", 0.30);
        set(&mut outputs, "Class4.2", 0.15);
        let got = map.apply(&outputs);
        for (g, want) in got.iter().zip([0.6, 0.75, 1.0 / 3.0]) {
            assert!((g - want).abs() < 1e-6, "{got:?}");
        }
        // Other targets, or a model without the GZ2 answers: no map.
        assert!(AnswerMap::gz2_to_decals(&names, &["ring".to_string()]).is_none());
        assert!(AnswerMap::gz2_to_decals(&data, &data).is_none());
    }
}
