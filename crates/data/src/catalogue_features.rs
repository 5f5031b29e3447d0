//! Catalogue features beside the image or curve (`[features]`): named item properties (list
//! columns such as a period, an amplitude or a colour), optionally log10-scaled, read once
//! when the data opens and carried in each item's `features`, for the model to concatenate to
//! its body's output before the head. An item without a usable value is an error naming it
//! and the column, or is skipped or given the training split's mean, as `missing` says.
//!
//! The values carried are raw (log10 applied where asked); [`FeatureScaling`] standardises
//! them with the training split's mean and spread, and is saved with the model, so that `eval`
//! on other data applies the same numbers.

use burn::data::dataset::{Dataset, DatasetError};
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::item::ImageItem;
use crate::opened::OpenedData;
use crate::split::{ImageSplit, LabelledImages};

/// What to do with an item that has no usable value for a feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingFeature {
    /// Refuse the data, naming the item and the column.
    #[default]
    Error,
    /// Leave the item out (each one becomes a data warning with the reason).
    Skip,
    /// Give it the training split's mean of that feature (counted in a warning).
    Mean,
}

/// `[features]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Item properties (numeric list columns, a simulated star's `period`, `amplitude`, ...),
    /// in the order the model reads them.
    pub columns: Vec<String>,
    /// Those of `columns` taken as log10 (each value must then be positive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// `"error"` (the default), `"skip"` or `"mean"`.
    #[serde(default)]
    pub missing: MissingFeature,
    /// Above 0, training adds the loss of a second head that reads the body's output alone
    /// (without the features), times this weight, so that the body keeps learning from the
    /// curve or image while the main head can lean on the features. The second head is used
    /// in training only; predictions come from the main head.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub body_loss_weight: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn problem(field: &str, problem: impl Into<String>) -> DataError {
    DataError::Feature { field: field.to_string(), problem: problem.into() }
}

impl FeaturesConfig {
    /// Checks the names: some columns, none twice, `log` a subset of them.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.columns.is_empty() {
            return Err(problem("columns", "name one or more item properties, or leave out [features]"));
        }
        for (i, name) in self.columns.iter().enumerate() {
            if self.columns[..i].contains(name) {
                return Err(problem("columns", format!("{name:?} is named twice")));
            }
        }
        if let Some(name) = self.log.iter().find(|n| !self.columns.contains(n)) {
            return Err(problem("log", format!("{name:?} is not one of columns = {:?}", self.columns)));
        }
        if !self.body_loss_weight.is_finite() || self.body_loss_weight < 0.0 {
            return Err(problem(
                "body_loss_weight",
                format!("must be a finite number of 0 or more, got {}", self.body_loss_weight),
            ));
        }
        Ok(())
    }

    /// The features' names as reports print them (`log10(period)`).
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| if self.log.contains(c) { format!("log10({c})") } else { c.clone() }).collect()
    }

    /// Item `index`'s value of every column, or why one is unusable.
    fn values_of(&self, split: &ImageSplit, index: usize) -> Vec<Result<f32, String>> {
        self.values_from(&split.attributes(index), |column| split.text_property(index, column))
    }

    /// The value of every column among an item's numeric `properties` (its text properties by
    /// `text`, for the message when a column holds text), or why one is unusable.
    pub fn values_from(
        &self,
        properties: &[(String, f64)],
        text: impl Fn(&str) -> Option<String>,
    ) -> Vec<Result<f32, String>> {
        self.columns
            .iter()
            .map(|column| {
                let Some(&(_, value)) = properties.iter().find(|(k, _)| k == column) else {
                    return Err(match text(column) {
                        Some(text) if !text.trim().is_empty() => {
                            format!("column {column:?} holds {text:?}, not a number")
                        }
                        _ => format!("has no value in column {column:?}"),
                    });
                };
                if !value.is_finite() {
                    return Err(format!("column {column:?} holds {value}, not a finite number"));
                }
                if self.log.contains(column) {
                    if value <= 0.0 {
                        return Err(format!(
                            "column {column:?} holds {value}, which has no log10 (log = [{column:?}])"
                        ));
                    }
                    return Ok(value.log10() as f32);
                }
                Ok(value as f32)
            })
            .collect()
    }

    /// The same data with every item's features read, checked, and missing values handled
    /// as `missing` says. Every property name must be a property of some item.
    pub fn attach(&self, mut data: OpenedData) -> Result<OpenedData, DataError> {
        self.validate()?;
        let read = |split: &ImageSplit| -> Vec<Vec<Result<f32, String>>> {
            (0..split.len()).map(|i| self.values_of(split, i)).collect()
        };
        let (train, valid, test) = (read(&data.train), read(&data.valid), read(&data.test));
        // A name no item has is a typo, whatever `missing` says.
        for (c, column) in self.columns.iter().enumerate() {
            let somewhere = [&train, &valid, &test].iter().any(|s| s.iter().any(|v| v[c].is_ok()));
            if !somewhere {
                let text = (0..data.train.len()).find_map(|i| Some((i, data.train.text_property(i, column)?)));
                if let Some((i, text)) = text {
                    return Err(problem(
                        "columns",
                        format!("column {column:?} holds text ({text:?} for item {}), not numbers", data.train.id(i)),
                    ));
                }
                let known = known_properties(&data);
                return Err(problem(
                    "columns",
                    format!("no item has a numeric property {column:?}; the data's numeric properties are {known:?}"),
                ));
            }
        }
        let means: Vec<f32> = (0..self.columns.len())
            .map(|c| {
                let ok: Vec<f64> = train.iter().filter_map(|v| v[c].as_ref().ok()).map(|&x| f64::from(x)).collect();
                if ok.is_empty() { 0.0 } else { (ok.iter().sum::<f64>() / ok.len() as f64) as f32 }
            })
            .collect();
        let mut imputed = 0usize;
        let mut splits = Vec::new();
        for (split, values) in [(&data.train, train), (&data.valid, valid), (&data.test, test)] {
            let mut rows = Vec::new();
            let mut kept = Vec::new();
            for (i, row) in values.into_iter().enumerate() {
                let mut filled = Vec::with_capacity(row.len());
                let mut skip = None;
                for (c, value) in row.into_iter().enumerate() {
                    match (value, self.missing) {
                        (Ok(v), _) => filled.push(v),
                        (Err(why), MissingFeature::Error) => {
                            return Err(problem(
                                "columns",
                                format!(
                                    "item {}: {why} (set [features] missing = \"skip\" or \"mean\" to go on)",
                                    split.id(i)
                                ),
                            ));
                        }
                        (Err(why), MissingFeature::Skip) => {
                            skip.get_or_insert(why);
                        }
                        (Err(_), MissingFeature::Mean) => {
                            imputed += 1;
                            filled.push(means[c]);
                        }
                    }
                }
                match skip {
                    Some(why) => data.info.warnings.push(format!("item {} skipped: {why} ([features])", split.id(i))),
                    None => {
                        rows.push(i);
                        kept.push(filled);
                    }
                }
            }
            splits.push(ImageSplit::new(WithFeatures { inner: split.clone(), rows, values: kept }));
        }
        if imputed > 0 {
            data.info.warnings.push(format!(
                "[features]: {imputed} missing or unusable values took the training split's mean (missing = \"mean\")"
            ));
        }
        let [train, valid, test]: [ImageSplit; 3] = splits.try_into().expect("three splits");
        for (name, split) in [("training", &train), ("validation", &valid), ("test", &test)] {
            if split.is_empty() {
                return Err(problem("missing", format!("no item of the {name} split has every feature")));
            }
        }
        data.info.description = format!("{}; catalogue features: {}", data.info.description, self.names().join(", "));
        Ok(OpenedData { train, valid, test, ..data })
    }
}

/// Every numeric property name some item of `data` has (the first items of each split).
fn known_properties(data: &OpenedData) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for split in [&data.train, &data.valid, &data.test] {
        for i in 0..split.len().min(50) {
            names.extend(split.attributes(i).into_iter().map(|(k, _)| k));
        }
    }
    names.into_iter().filter(|n| !n.starts_with(crate::sequence::CURVE_STATISTIC_PREFIX)).collect()
}

/// A split whose items carry their features; items without them are left out.
#[derive(Debug)]
struct WithFeatures {
    inner: ImageSplit,
    /// The inner split's index of each item kept.
    rows: Vec<usize>,
    /// Each kept item's features.
    values: Vec<Vec<f32>>,
}

impl LabelledImages for WithFeatures {
    fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let item = self.inner.get(self.rows[index])?;
        Ok(ImageItem { features: self.values[index].clone(), ..item })
    }

    fn count(&self) -> usize {
        self.rows.len()
    }

    fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
        self.inner.targets(self.rows[index])
    }

    fn id(&self, index: usize) -> String {
        self.inner.id(self.rows[index])
    }

    fn attributes(&self, index: usize) -> Vec<(String, f64)> {
        self.inner.attributes(self.rows[index])
    }

    fn text_property(&self, index: usize, name: &str) -> Option<String> {
        self.inner.text_property(self.rows[index], name)
    }

    fn baseline(&self, index: usize) -> Option<Vec<f32>> {
        self.inner.baseline(self.rows[index])
    }

    fn features(&self, index: usize) -> Vec<f32> {
        self.values[index].clone()
    }
}

/// The training split's mean and standard deviation of each feature: what the model subtracts
/// and divides by. Saved with the model (`model_io.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureScaling {
    /// The features, as [`FeaturesConfig::names`] gives them.
    pub names: Vec<String>,
    /// Mean of each over the training split.
    pub mean: Vec<f32>,
    /// Standard deviation of each (1 where the training split's values are all equal).
    pub std: Vec<f32>,
}

impl FeatureScaling {
    /// The statistics of `split`'s items' features (features named `names`, in order), read
    /// without the images.
    pub fn fit(names: Vec<String>, split: &ImageSplit) -> Result<Self, DataError> {
        let n = names.len();
        let mut sum = vec![0.0f64; n];
        let mut square = vec![0.0f64; n];
        for i in 0..split.len() {
            let features = split.features(i);
            if features.len() != n {
                return Err(problem(
                    "columns",
                    format!("item {} carries {} features, not {n}", split.id(i), features.len()),
                ));
            }
            for (c, &v) in features.iter().enumerate() {
                sum[c] += f64::from(v);
                square[c] += f64::from(v) * f64::from(v);
            }
        }
        let count = split.len().max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = square
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let s = (q / count - m * m).max(0.0).sqrt();
                if s > 1e-12 { s as f32 } else { 1.0 }
            })
            .collect();
        Ok(Self { names, mean: mean.into_iter().map(|m| m as f32).collect(), std })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opened::DataInfo;
    use crate::task::Task;

    /// Items with properties `period` (index + 1, or 0 for index 3) and `kind` (text).
    #[derive(Debug)]
    struct Stars(usize);

    impl LabelledImages for Stars {
        fn item(&self, index: usize) -> Result<ImageItem, DatasetError> {
            Ok(ImageItem {
                id: format!("star{index}"),
                pixels: vec![0.0; 2],
                shape: [2, 1, 1],
                targets: vec![index as f32],
                features: Vec::new(),
            })
        }
        fn count(&self) -> usize {
            self.0
        }
        fn targets(&self, index: usize) -> Result<Vec<f32>, DatasetError> {
            Ok(vec![index as f32])
        }
        fn id(&self, index: usize) -> String {
            format!("star{index}")
        }
        fn attributes(&self, index: usize) -> Vec<(String, f64)> {
            let period = if index == 3 { 0.0 } else { index as f64 + 1.0 };
            let mut out = vec![("period".to_string(), period)];
            if index != 5 {
                out.push(("amplitude".to_string(), 0.5 * index as f64));
            }
            out
        }
        fn text_property(&self, _index: usize, name: &str) -> Option<String> {
            (name == "kind").then(|| "RRab".to_string())
        }
    }

    fn data(n: usize) -> OpenedData {
        let info = DataInfo::images(Task::Regression, vec!["y".into()], "stars".into(), crate::Preprocess::whole(1, 2));
        let split = || ImageSplit::new(Stars(n));
        OpenedData { info, train: split(), valid: split(), test: split() }
    }

    fn config(columns: &[&str], log: &[&str], missing: MissingFeature) -> FeaturesConfig {
        FeaturesConfig {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            log: log.iter().map(|s| s.to_string()).collect(),
            missing,
            body_loss_weight: 0.0,
        }
    }

    #[test]
    fn items_carry_their_features_in_column_order_with_log10_where_asked() {
        let opened = config(&["amplitude", "period"], &["period"], MissingFeature::Error).attach(data(3)).unwrap();
        let item = opened.test.get(2).unwrap();
        assert_eq!(item.features, vec![1.0, 3f32.log10()]);
        assert!(opened.info.description.ends_with("catalogue features: amplitude, log10(period)"));
    }

    #[test]
    fn the_body_loss_weight_is_a_finite_number_of_zero_or_more() {
        for bad in [-0.5, f64::NAN, f64::INFINITY] {
            let weighted = FeaturesConfig { body_loss_weight: bad, ..config(&["period"], &[], MissingFeature::Error) };
            let err = weighted.validate().unwrap_err().to_string();
            assert!(err.starts_with("features.body_loss_weight: must be a finite number of 0 or more"), "{err}");
        }
        let read: FeaturesConfig = toml::from_str("columns = [\"period\"]\nbody_loss_weight = 0.5").unwrap();
        assert_eq!(read.body_loss_weight, 0.5);
        assert!(read.validate().is_ok());
    }

    #[test]
    fn missing_values_are_errors_naming_item_and_column_or_skipped_or_the_training_mean() {
        let err = config(&["amplitude"], &[], MissingFeature::Error).attach(data(6)).unwrap_err().to_string();
        assert!(err.starts_with("features.columns: item star5: has no value in column \"amplitude\""), "{err}");
        // A period of 0 has no logarithm.
        let err = config(&["period"], &["period"], MissingFeature::Error).attach(data(6)).unwrap_err().to_string();
        assert!(err.contains("item star3: column \"period\" holds 0, which has no log10"), "{err}");
        let skipped = config(&["period", "amplitude"], &["period"], MissingFeature::Skip).attach(data(6)).unwrap();
        assert_eq!(skipped.train.len(), 4);
        let ids: Vec<String> = (0..4).map(|i| skipped.train.id(i)).collect();
        assert_eq!(ids, ["star0", "star1", "star2", "star4"]);
        assert!(skipped.info.warnings.iter().any(|w| w.starts_with("item star5 skipped: has no value in column")));
        let mean = config(&["amplitude"], &[], MissingFeature::Mean).attach(data(6)).unwrap();
        // The training items 0-4 have amplitudes 0, 0.5, 1, 1.5, 2: mean 1.
        assert_eq!(mean.test.get(5).unwrap().features, vec![1.0]);
        assert!(mean.info.warnings.iter().any(|w| w.contains("3 missing or unusable values took the training")));
    }

    #[test]
    fn a_text_column_and_an_unknown_name_are_refused_with_what_there_is() {
        let err = config(&["kind"], &[], MissingFeature::Skip).attach(data(3)).unwrap_err().to_string();
        assert_eq!(err, "features.columns: column \"kind\" holds text (\"RRab\" for item star0), not numbers");
        let err = config(&["period", "colour"], &[], MissingFeature::Mean).attach(data(3)).unwrap_err().to_string();
        assert_eq!(
            err,
            "features.columns: no item has a numeric property \"colour\"; the data's numeric properties are \
             [\"amplitude\", \"period\"]"
        );
        let bad = config(&["period"], &["amplitude"], MissingFeature::Error).validate().unwrap_err().to_string();
        assert_eq!(bad, "features.log: \"amplitude\" is not one of columns = [\"period\"]");
    }

    #[test]
    fn the_scaling_is_the_training_splits_and_reads_back_from_its_saved_form() {
        let opened = config(&["period", "amplitude"], &[], MissingFeature::Error).attach(data(3)).unwrap();
        let scaling = FeatureScaling::fit(vec!["period".into(), "amplitude".into()], &opened.train).unwrap();
        // Periods 1, 2, 3 and amplitudes 0, 0.5, 1: population standard deviations.
        assert_eq!(scaling.mean, vec![2.0, 0.5]);
        let sd = (2.0f32 / 3.0).sqrt();
        assert!((scaling.std[0] - sd).abs() < 1e-6 && (scaling.std[1] - sd / 2.0).abs() < 1e-6);
        let saved: FeatureScaling = serde_json::from_str(&serde_json::to_string(&scaling).unwrap()).unwrap();
        assert_eq!(saved, scaling);
    }
}
