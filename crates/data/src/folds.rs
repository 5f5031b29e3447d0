//! k-fold cross-validation over any source: the source's three splits pooled into one set of
//! items, each item given a fold (dealt at random, class by class for classification, or read
//! from a numeric item property such as a list's `fold` column), and for fold `k` the data a
//! run trains on: fold `k` as the test split, a share of the other folds for validation (early
//! stopping, best epoch), the rest for training.

use std::collections::BTreeSet;

use burn::data::dataset::{Dataset, DatasetError};

use crate::error::DataError;
use crate::item::ImageItem;
use crate::opened::{DataInfo, OpenedData};
use crate::split::{ImageSplit, LabelledImages};
use crate::splits::{split_indices, stratified_split};
use crate::task::{Task, class_of};

/// How items get their folds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldPlan {
    /// `k` folds dealt at random (class by class for classification) with the run's seed.
    Random(usize),
    /// The folds an item property holds (whole numbers; each distinct value is a fold).
    Column(String),
}

/// Every item of a source's three splits, in one set.
#[derive(Debug)]
struct Pooled {
    parts: Vec<ImageSplit>,
}

impl Pooled {
    fn locate(&self, mut index: usize) -> (&ImageSplit, usize) {
        for part in &self.parts {
            if index < part.len() {
                return (part, index);
            }
            index -= part.len();
        }
        // Callers index below `count()`; the last part answers (and reports) anything else.
        let last = &self.parts[self.parts.len() - 1];
        (last, index + last.len())
    }
}

impl LabelledImages for Pooled {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let (part, i) = self.locate(index);
        part.get(i)
    }
    fn count(&self) -> usize {
        self.parts.iter().map(Dataset::len).sum()
    }
    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        let (part, i) = self.locate(index);
        part.targets(i)
    }
    fn id(&self, index: usize) -> String {
        let (part, i) = self.locate(index);
        part.id(i)
    }
    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        let (part, i) = self.locate(index);
        part.attributes(i)
    }
    fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        let (part, i) = self.locate(index);
        part.baseline(i)
    }
    fn features(&self, index: usize) -> Vec<f32> {
        let (part, i) = self.locate(index);
        part.features(i)
    }
}

/// Some rows of a split.
#[derive(Debug)]
struct Rows {
    all: ImageSplit,
    rows: Vec<usize>,
}

impl LabelledImages for Rows {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        self.all.get(self.rows[index])
    }
    fn count(&self) -> usize {
        self.rows.len()
    }
    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.all.targets(self.rows[index])
    }
    fn id(&self, index: usize) -> String {
        self.all.id(self.rows[index])
    }
    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.all.attributes(self.rows[index])
    }
    fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        self.all.baseline(self.rows[index])
    }
    fn features(&self, index: usize) -> Vec<f32> {
        self.all.features(self.rows[index])
    }
}

/// The data of a cross-validated experiment: all items and the fold of each.
#[derive(Debug, Clone)]
pub struct Folds {
    /// What the data is.
    pub info: DataInfo,
    /// Every item.
    pub all: ImageSplit,
    /// The fold of each item, `0..count`.
    pub fold_of: Vec<usize>,
    /// The value of the fold property that each fold stands for (`0..k` when dealt at random).
    pub labels: Vec<i64>,
    /// The class of each item for classification (splits are stratified by it); 0 otherwise.
    groups: Vec<usize>,
}

impl Folds {
    /// Pools `data`'s splits and gives every item a fold as `plan` says.
    pub fn new(data: &OpenedData, plan: &FoldPlan, seed: u64) -> Result<Self, DataError> {
        let all = ImageSplit::new(Pooled { parts: vec![data.train.clone(), data.valid.clone(), data.test.clone()] });
        let n = all.len();
        let groups = class_groups(&all, data.info.task, data.info.outputs())?;
        let (fold_of, labels) = match plan {
            FoldPlan::Random(k) => {
                if *k < 2 || *k > n {
                    return Err(DataError::setting(
                        "folds",
                        format!("must be between 2 and the number of items ({n}), got {k}"),
                    ));
                }
                (deal(&groups, *k, seed), (0..*k as i64).collect())
            }
            FoldPlan::Column(name) => from_property(&all, name)?,
        };
        let k = labels.len();
        if k < 2 {
            return Err(DataError::setting(
                "fold_column",
                format!("every item is in the same fold ({:?}): cross-validation needs two folds or more", labels),
            ));
        }
        Ok(Self { info: data.info.clone(), all, fold_of, labels, groups })
    }

    /// The number of folds.
    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// The data of fold `k`: its items as the test split; of the others, `valid_fraction`
    /// (chosen with `seed`, class by class for classification) for validation and the rest
    /// for training.
    pub fn fold(&self, k: usize, valid_fraction: f64, seed: u64) -> Result<OpenedData, DataError> {
        let test: Vec<usize> = (0..self.fold_of.len()).filter(|&i| self.fold_of[i] == k).collect();
        let rest: Vec<usize> = (0..self.fold_of.len()).filter(|&i| self.fold_of[i] != k).collect();
        if test.is_empty() {
            return Err(DataError::setting("folds", format!("fold {} has no items", self.labels[k])));
        }
        let cut = match self.info.task {
            Task::Classification => {
                let labels: Vec<usize> = rest.iter().map(|&i| self.groups[i]).collect();
                stratified_split(&labels, valid_fraction, 0.0, seed.wrapping_add(k as u64))
            }
            _ => split_indices(rest.len(), valid_fraction, 0.0, seed.wrapping_add(k as u64)),
        };
        if cut.valid.is_empty() || cut.train.is_empty() {
            return Err(DataError::setting(
                "valid_fraction",
                format!("leaves an empty split of the {} items outside fold {}", rest.len(), self.labels[k]),
            ));
        }
        let rows = |picked: &[usize]| {
            ImageSplit::new(Rows { all: self.all.clone(), rows: picked.iter().map(|&j| rest[j]).collect() })
        };
        let description = format!(
            "{}; cross-validation fold {} of {}: {} train, {} valid, {} test",
            self.info.description,
            self.labels[k],
            self.count(),
            cut.train.len(),
            cut.valid.len(),
            test.len()
        );
        Ok(OpenedData {
            info: DataInfo { description, ..self.info.clone() },
            train: rows(&cut.train),
            valid: rows(&cut.valid),
            test: ImageSplit::new(Rows { all: self.all.clone(), rows: test }),
        })
    }
}

/// The class of every item for classification (an item whose targets cannot be read, or hold
/// no class, is an error naming it); 0 for every item otherwise.
fn class_groups(all: &ImageSplit, task: Task, outputs: usize) -> Result<Vec<usize>, DataError> {
    if task != Task::Classification {
        return Ok(vec![0; all.len()]);
    }
    (0..all.len())
        .map(|i| {
            let targets = all
                .targets(i)
                .map_err(|e| DataError::setting("folds", format!("item {}: cannot read its label: {e}", all.id(i))))?;
            class_of(&targets, outputs)
                .ok_or_else(|| DataError::setting("folds", format!("item {} has no class label", all.id(i))))
        })
        .collect()
}

/// `k` folds of equal size dealt from a shuffle of each group (class) of `groups`.
fn deal(groups: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let n = groups.len();
    // A shuffle of each group (the splitter's, all rows "test"), dealt round the folds in turn.
    let order = stratified_split(groups, 0.0, 1.0, seed ^ 0xF01D);
    let mut fold_of = vec![0; n];
    for (position, &i) in order.test.iter().enumerate() {
        fold_of[i] = position % k;
    }
    fold_of
}

/// Folds from the whole-number property `name` of every item.
fn from_property(all: &ImageSplit, name: &str) -> Result<(Vec<usize>, Vec<i64>), DataError> {
    let mut values = Vec::with_capacity(all.len());
    for i in 0..all.len() {
        let attributes = all.attributes(i);
        let Some(&(_, v)) = attributes.iter().find(|(k, _)| k == name) else {
            let mut names: Vec<&str> = attributes.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            return Err(DataError::setting(
                "fold_column",
                format!("item {} has no numeric property `{name}` (its numeric properties: {names:?})", all.id(i)),
            ));
        };
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(DataError::setting(
                "fold_column",
                format!("item {}: `{name}` = {v} is not a whole number", all.id(i)),
            ));
        }
        values.push(v as i64);
    }
    let labels: Vec<i64> = values.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let fold_of = values.iter().map(|v| labels.binary_search(v).unwrap_or(0)).collect();
    Ok((fold_of, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::image_io::Preprocess;

    /// Items `0..n` with target `i % classes` and a `fold` property `i % 3`.
    #[derive(Debug)]
    struct Numbered {
        from: usize,
        n: usize,
    }

    impl LabelledImages for Numbered {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            Ok(ImageItem {
                id: self.id(index),
                pixels: vec![0.0],
                shape: [1, 1, 1],
                targets: self.targets(index)?,
                features: Vec::new(),
            })
        }
        fn count(&self) -> usize {
            self.n
        }
        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![((self.from + index) % 2) as f32])
        }
        fn id(&self, index: usize) -> String {
            format!("item-{}", self.from + index)
        }
        fn attributes(&self, index: usize) -> Vec<(String, f64)> {
            let i = self.from + index;
            vec![("fold".into(), (i % 3) as f64 * 2.0), ("snr".into(), i as f64 + 0.5)]
        }
    }

    fn data(task: Task) -> OpenedData {
        let info = DataInfo::images(task, vec!["no".into(), "yes".into()], "numbers".into(), Preprocess::whole(1, 1));
        let part = |from, n| ImageSplit::new(Numbered { from, n });
        OpenedData { info, train: part(0, 70), valid: part(70, 10), test: part(80, 20) }
    }

    fn ids(split: &ImageSplit) -> Vec<String> {
        (0..split.len()).map(|i| split.id(i)).collect()
    }

    #[test]
    fn every_item_is_tested_once_and_never_trained_on_in_its_own_fold() {
        let folds = Folds::new(&data(Task::Classification), &FoldPlan::Random(4), 9).unwrap();
        assert_eq!(folds.count(), 4);
        let mut tested = Vec::new();
        for k in 0..4 {
            let fold = folds.fold(k, 0.1, 9).unwrap();
            let test = ids(&fold.test);
            assert_eq!(test.len(), 25);
            // Stratified: half of each fold's items are of each class.
            let positives = (0..fold.test.len()).filter(|&i| fold.test.targets(i).unwrap() == [1.0]).count();
            assert!((12..=13).contains(&positives), "fold {k}: {positives} of class 1");
            let (train, valid) = (ids(&fold.train), ids(&fold.valid));
            assert_eq!(train.len() + valid.len(), 75);
            assert!((7..=9).contains(&valid.len()), "{}", valid.len());
            assert!(test.iter().all(|id| !train.contains(id) && !valid.contains(id)));
            tested.extend(test);
        }
        tested.sort();
        tested.dedup();
        assert_eq!(tested.len(), 100);
        assert_eq!(Folds::new(&data(Task::Classification), &FoldPlan::Random(4), 9).unwrap().fold_of, folds.fold_of);
    }

    #[test]
    fn a_fold_property_groups_items_by_its_values() {
        let folds = Folds::new(&data(Task::Regression), &FoldPlan::Column("fold".into()), 1).unwrap();
        assert_eq!(folds.labels, [0, 2, 4]);
        let fold = folds.fold(1, 0.2, 1).unwrap();
        assert!(ids(&fold.test).iter().all(|id| id.trim_start_matches("item-").parse::<usize>().unwrap() % 3 == 1));
        assert_eq!(fold.test.len(), 33);
        assert!(fold.info.description.contains("cross-validation fold 2 of 3"), "{}", fold.info.description);
        assert_eq!(fold.test.attributes(0)[0].0, "fold", "items keep their properties");
    }

    #[test]
    fn bad_fold_settings_are_named() {
        let d = data(Task::Regression);
        let err = Folds::new(&d, &FoldPlan::Column("field".into()), 1).unwrap_err().to_string();
        assert!(
            err.starts_with("data.fold_column: item item-0 has no numeric property `field`") && err.contains("\"snr\""),
            "{err}"
        );
        let err = Folds::new(&d, &FoldPlan::Column("snr".into()), 1).unwrap_err().to_string();
        assert!(err.contains("item item-0: `snr` = 0.5 is not a whole number"), "{err}");
        let err = Folds::new(&d, &FoldPlan::Random(1), 1).unwrap_err().to_string();
        assert!(err.contains("must be between 2 and the number of items (100), got 1"), "{err}");
        let folds = Folds::new(&d, &FoldPlan::Random(50), 1).unwrap();
        let err = folds.fold(0, 0.0, 1).unwrap_err().to_string();
        assert!(err.starts_with("data.valid_fraction: leaves an empty split of the 98 items outside fold 0"), "{err}");
    }
}
