//! Settings that several sources share, each declared and checked once: a source takes them
//! with `#[serde(flatten)]`, so they stay plain keys of `[data]` (the source's own
//! `deny_unknown_fields` still refuses any key that neither it nor these structs know).
//!
//! - [`SimulatedSplits`]: `train`, `valid`, `test` item counts of a simulated source, whose
//!   splits are consecutive index ranges.
//! - [`RandomSplit`]: `valid_fraction`, `test_fraction` of a source that splits its own rows
//!   at random (per class for classification), and the check that no split is empty.
//! - [`Resample`]: `crop` and `size` of a source that decodes image files, and [`Decode`]:
//!   those and `channels`, for files of either colour.
//!
//! A shared struct holds plain fields only: one flattened inside another would hide its keys
//! from the outer struct's unknown-key check.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::formats::image_io::Preprocess;
use crate::opened::{DataInfo, OpenedData};
use crate::split::ImageSplit;
use crate::splits::{SplitIndices, split_indices, stratified_split};

/// The default item counts of a simulated source's splits.
pub trait SplitSizes: Default + Clone + Copy + PartialEq + std::fmt::Debug {
    /// Training items.
    const TRAIN: usize;
    /// Validation items, and test items.
    const HELD_OUT: usize;
}

/// 8,000 training items, 1,000 validation and test items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandardSizes;

impl SplitSizes for StandardSizes {
    const TRAIN: usize = 8_000;
    const HELD_OUT: usize = 1_000;
}

/// How many items a simulated source draws for each split; item `i` of a split is the sample
/// `first + i` of the simulator, the splits' ranges following one another. `S` gives the
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulatedSplits<S: SplitSizes = StandardSizes> {
    /// Training items.
    pub train: usize,
    /// Validation items.
    pub valid: usize,
    /// Held-out test items.
    pub test: usize,
    #[serde(skip)]
    sizes: PhantomData<S>,
}

impl<S: SplitSizes> Default for SimulatedSplits<S> {
    fn default() -> Self {
        Self { train: S::TRAIN, valid: S::HELD_OUT, test: S::HELD_OUT, sizes: PhantomData }
    }
}

impl<S: SplitSizes> SimulatedSplits<S> {
    /// Each split needs at least one item.
    pub fn check(&self) -> Result<(), DataError> {
        for (field, n) in [("train", self.train), ("valid", self.valid), ("test", self.test)] {
            if n == 0 {
                return Err(DataError::setting(field, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// At most `train`, `valid` and `test` items (smoke runs).
    pub fn shrink(&mut self, train: usize, valid: usize, test: usize) {
        self.train = self.train.min(train);
        self.valid = self.valid.min(valid);
        self.test = self.test.min(test);
    }

    /// "N train, M valid, K test", for descriptions.
    pub fn counts(&self) -> String {
        format!("{} train, {} valid, {} test", self.train, self.valid, self.test)
    }

    /// The three splits as consecutive index ranges: `make(first, len)` builds one.
    pub fn open(&self, info: DataInfo, make: impl Fn(usize, usize) -> ImageSplit) -> OpenedData {
        OpenedData {
            info,
            train: make(0, self.train),
            valid: make(self.train, self.valid),
            test: make(self.train + self.valid, self.test),
        }
    }
}

/// The default shares of a source's rows held out for validation and test.
pub trait HeldOutShares: Default + Clone + Copy + PartialEq + std::fmt::Debug {
    /// Validation share.
    const VALID: f64;
    /// Test share.
    const TEST: f64;
}

/// A tenth for validation and a tenth for the test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tenths;

impl HeldOutShares for Tenths {
    const VALID: f64 = 0.1;
    const TEST: f64 = 0.1;
}

/// The shares of a source's rows held out for validation and test (`S` gives the defaults);
/// the rest trains.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RandomSplit<S: HeldOutShares = Tenths> {
    /// Fraction of the rows held out for validation.
    pub valid_fraction: f64,
    /// Fraction of the rows held out for the final test.
    pub test_fraction: f64,
    #[serde(skip)]
    shares: PhantomData<S>,
}

impl<S: HeldOutShares> Default for RandomSplit<S> {
    fn default() -> Self {
        Self { valid_fraction: S::VALID, test_fraction: S::TEST, shares: PhantomData }
    }
}

impl<S: HeldOutShares> RandomSplit<S> {
    /// Each fraction in [0, 1), and together below 1.
    pub fn check(&self) -> Result<(), DataError> {
        for (field, f) in [("valid_fraction", self.valid_fraction), ("test_fraction", self.test_fraction)] {
            if !(0.0..1.0).contains(&f) {
                return Err(DataError::setting(field, format!("must be in [0, 1), got {f}")));
            }
        }
        if self.valid_fraction + self.test_fraction >= 1.0 {
            return Err(DataError::setting("valid_fraction", "valid_fraction + test_fraction must be below 1"));
        }
        Ok(())
    }

    /// `n` rows shuffled with `seed` and cut.
    pub fn indices(&self, n: usize, seed: u64) -> SplitIndices {
        split_indices(n, self.valid_fraction, self.test_fraction, seed)
    }

    /// Rows with class `labels` cut class by class, so that every split keeps the class
    /// proportions.
    pub fn stratified_indices(&self, labels: &[usize], seed: u64) -> SplitIndices {
        stratified_split(labels, self.valid_fraction, self.test_fraction, seed)
    }

    /// [`Self::indices`], refusing an empty split; `what` names the rows in the error
    /// ("catalogue rows").
    pub fn rows(&self, n: usize, what: &str, seed: u64) -> Result<SplitIndices, DataError> {
        non_empty(self.indices(n, seed), n, what)
    }

    /// [`Self::stratified_indices`], refusing an empty split; `what` names the rows in the
    /// error.
    pub fn stratified(&self, labels: &[usize], what: &str, seed: u64) -> Result<SplitIndices, DataError> {
        non_empty(self.stratified_indices(labels, seed), labels.len(), what)
    }
}

/// Refuses splits one of which is empty, naming the setting that emptied it.
fn non_empty(idx: SplitIndices, n: usize, what: &str) -> Result<SplitIndices, DataError> {
    for (field, rows) in [("valid_fraction", &idx.valid), ("test_fraction", &idx.test), ("limit", &idx.train)] {
        if rows.is_empty() {
            return Err(DataError::setting(field, format!("leaves an empty split of the {n} {what}")));
        }
    }
    Ok(idx)
}

/// Lowers a source's `limit` (rows or files used) to at most `n` (smoke runs).
pub fn limit_to(limit: &mut Option<usize>, n: usize) {
    *limit = Some(limit.unwrap_or(usize::MAX).min(n));
}

fn default_size() -> u32 {
    64
}

/// How a source that decodes image files prepares them: an optional centre crop, then a
/// resampling to `size` x `size` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resample {
    /// Centre crop before resampling, pixels (Dieleman et al.: 207 of 424).
    #[serde(default)]
    pub crop: Option<u32>,
    /// Side the crop is resampled to, pixels.
    #[serde(default = "default_size")]
    pub size: u32,
}

impl Resample {
    /// The preparation of images with `channels` channels (1 grey, 3 RGB), checked.
    pub fn with_channels(self, channels: u32) -> Result<Preprocess, DataError> {
        let preprocess = Preprocess { crop: self.crop, size: self.size, channels, restretch: None };
        preprocess.validate()?;
        Ok(preprocess)
    }
}

fn default_channels() -> u32 {
    3
}

/// How a source that decodes JPEG or PNG files of either colour prepares them: the crop and
/// size of [`Resample`], then `channels`. (The fields are repeated rather than flattened:
/// serde's `flatten` inside a flattened struct hides the inner keys from the outer unknown-key
/// check.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decode {
    /// Centre crop before resampling, pixels.
    #[serde(default)]
    pub crop: Option<u32>,
    /// Side the crop is resampled to, pixels.
    #[serde(default = "default_size")]
    pub size: u32,
    /// 1 (grey) or 3 (RGB).
    #[serde(default = "default_channels")]
    pub channels: u32,
}

impl Decode {
    /// The preparation, checked.
    pub fn preprocess(self) -> Result<Preprocess, DataError> {
        Resample { crop: self.crop, size: self.size }.with_channels(self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct Small;

    impl SplitSizes for Small {
        const TRAIN: usize = 5;
        const HELD_OUT: usize = 2;
    }

    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct TenthAndFifth;

    impl HeldOutShares for TenthAndFifth {
        const VALID: f64 = 0.1;
        const TEST: f64 = 0.2;
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Source {
        #[serde(flatten)]
        splits: SimulatedSplits<Small>,
        #[serde(flatten)]
        held_out: RandomSplit<TenthAndFifth>,
        #[serde(default)]
        own: u32,
    }

    #[test]
    fn shared_keys_are_plain_keys_with_their_defaults_and_unknown_keys_are_refused() {
        let s: Source = toml::from_str("valid = 3\nown = 7\ntest_fraction = 0.5\n").unwrap();
        assert_eq!((s.splits.train, s.splits.valid, s.splits.test, s.own), (5, 3, 2, 7));
        assert_eq!((s.held_out.valid_fraction, s.held_out.test_fraction), (0.1, 0.5));
        let err = toml::from_str::<Source>("trian = 3\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `trian`"), "{err}");
        let err = toml::from_str::<Source>("train = \"many\"\n").unwrap_err().to_string();
        assert!(err.contains("invalid type: string \"many\", expected usize"), "{err}");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Files {
        #[serde(flatten)]
        decode: Decode,
        #[serde(flatten)]
        held_out: RandomSplit,
    }

    #[test]
    fn image_settings_flatten_beside_the_split_shares() {
        let f: Files = toml::from_str(
            "size = 32
channels = 1
crop = 100
test_fraction = 0.3
",
        )
        .unwrap();
        assert_eq!(f.decode, Decode { crop: Some(100), size: 32, channels: 1 });
        assert_eq!(f.decode.preprocess().unwrap().shape(), [1, 32, 32]);
        assert_eq!((f.held_out.valid_fraction, f.held_out.test_fraction), (0.1, 0.3));
        let err = toml::from_str::<Files>(
            "sise = 32
",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `sise`"), "{err}");
    }

    #[test]
    fn empty_splits_and_sizes_name_their_setting() {
        let held_out = RandomSplit::<Tenths>::default();
        let err = held_out.rows(4, "catalogue rows", 0).unwrap_err().to_string();
        assert!(err.starts_with("data.valid_fraction: leaves an empty split of the 4 catalogue rows"), "{err}");
        assert_eq!(held_out.rows(40, "rows", 0).unwrap().test.len(), 4);
        let splits = SimulatedSplits::<StandardSizes> { valid: 0, ..Default::default() };
        let err = splits.check().unwrap_err().to_string();
        assert!(err.starts_with("data.valid: must be at least 1"), "{err}");
    }
}
