//! Deterministic train / validation / test splits of a catalogue's rows.

use astro_sim::SampleRng;

/// Row indices of the three splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub valid: Vec<usize>,
    /// Held-out test rows.
    pub test: Vec<usize>,
}

impl SplitIndices {
    /// "N train, M valid, K test", for descriptions.
    pub fn counts(&self) -> String {
        format!("{} train, {} valid, {} test", self.train.len(), self.valid.len(), self.test.len())
    }
}

/// Shuffles `0..n` with `seed` (Fisher-Yates) and cuts test, then validation, off the front.
pub fn split_indices(n: usize, valid_fraction: f64, test_fraction: f64, seed: u64) -> SplitIndices {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SampleRng::for_sample(seed, 0x5911, 0);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let n_test = ((n as f64) * test_fraction).round() as usize;
    let n_valid = ((n as f64) * valid_fraction).round() as usize;
    let test = order[..n_test].to_vec();
    let valid = order[n_test..n_test + n_valid].to_vec();
    let train = order[n_test + n_valid..].to_vec();
    SplitIndices { train, valid, test }
}

/// Splits items with class `labels` class by class (each class shuffled with its own stream),
/// so that every split keeps the class proportions.
pub fn stratified_split(labels: &[usize], valid_fraction: f64, test_fraction: f64, seed: u64) -> SplitIndices {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut out = SplitIndices { train: Vec::new(), valid: Vec::new(), test: Vec::new() };
    for class in 0..classes {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let idx = split_indices(members.len(), valid_fraction, test_fraction, seed.wrapping_add(class as u64));
        out.train.extend(idx.train.iter().map(|&k| members[k]));
        out.valid.extend(idx.valid.iter().map(|&k| members[k]));
        out.test.extend(idx.test.iter().map(|&k| members[k]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partition_the_rows_reproducibly() {
        let s = split_indices(100, 0.1, 0.2, 7);
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (70, 10, 20));
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(s, split_indices(100, 0.1, 0.2, 7));
        assert_ne!(s, split_indices(100, 0.1, 0.2, 8));
    }

    #[test]
    fn stratified_splits_keep_class_proportions() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect(); // 75 / 25
        let s = stratified_split(&labels, 0.2, 0.2, 3);
        let ones = |rows: &[usize]| rows.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!((s.test.len(), ones(&s.test)), (20, 5));
        assert_eq!((s.valid.len(), ones(&s.valid)), (20, 5));
        assert_eq!((s.train.len(), ones(&s.train)), (60, 15));
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }
}
