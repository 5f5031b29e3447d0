//! `[adaptation]`: train on labelled source images (`[data]`) and unlabelled target images
//! (`[adaptation.target]`) so that the body's features stop telling the two apart: MMD or DANN,
//! optionally with entropy minimisation on the target predictions (Ciprijanovic et al. 2021,
//! DeepMerge II; Ganin et al. 2016).

use astro_data::DataConfig;
use serde::{Deserialize, Serialize};

/// How the source and target features are brought together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Source only: the target is scored, never trained on (the baseline).
    #[default]
    None,
    /// Multi-kernel maximum mean discrepancy between each batch's source and target features,
    /// added to the loss times `weight`.
    Mmd,
    /// A domain classifier on the features behind a gradient-reversal layer; its loss is added
    /// times `weight`.
    Dann,
}

impl Method {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Mmd => "mmd",
            Method::Dann => "dann",
        }
    }
}

/// How DANN's gradient-reversal factor lambda grows over training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LambdaSchedule {
    /// `lambda_max * (2 / (1 + exp(-lambda_gamma * p)) - 1)` over training progress p in
    /// [0, 1] (Ganin et al. 2016): 0 at the start, so the domain classifier learns before it
    /// pushes the body.
    Ramp,
    /// `lambda_max` throughout.
    Constant,
}

/// One run of an adaptation comparison (`compare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Trained on the source only, scored on the target.
    None,
    /// Adapted by MMD.
    Mmd,
    /// Adapted by DANN.
    Dann,
    /// Trained on the target's own labels (the upper bound adaptation aims at).
    TargetTrained,
    /// Source only, scored with batch-norm statistics re-estimated on the target (AdaBN).
    #[serde(rename = "adabn")]
    AdaBn,
}

impl Arm {
    /// The arm's folder name.
    pub fn name(self) -> &'static str {
        match self {
            Arm::None => "source_only",
            Arm::Mmd => "mmd",
            Arm::Dann => "dann",
            Arm::TargetTrained => "target_trained",
            Arm::AdaBn => "adabn",
        }
    }
}

fn default_weight() -> f64 {
    1.0
}
fn default_lambda_max() -> f64 {
    1.0
}
fn default_lambda_gamma() -> f64 {
    10.0
}
fn default_domain_units() -> Vec<usize> {
    vec![64]
}
fn default_bandwidths() -> Vec<f64> {
    // DeepMerge II's widths (their `mmd.py`), spread over twelve decades so that some kernel
    // fits whatever scale the features take.
    vec![1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 100.0, 1e3, 1e4, 1e5, 1e6]
}

/// `[adaptation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptationConfig {
    /// `"none"` (default), `"mmd"` or `"dann"`; under `compare`, each arm sets its own.
    #[serde(default)]
    pub method: Method,
    /// Weight of the MMD term or of the domain classifier's loss (0 or more).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Weight of the mean entropy of the target predictions (classification; 0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub entropy_weight: f64,
    /// DANN: how lambda grows over training.
    #[serde(default = "default_lambda_schedule")]
    pub lambda_schedule: LambdaSchedule,
    /// DANN: lambda's final (or constant) value.
    #[serde(default = "default_lambda_max")]
    pub lambda_max: f64,
    /// DANN: how fast the ramp rises (Ganin et al.: 10).
    #[serde(default = "default_lambda_gamma")]
    pub lambda_gamma: f64,
    /// DANN: the domain classifier's hidden dense ReLU layers, first to last.
    #[serde(default = "default_domain_units")]
    pub domain_units: Vec<usize>,
    /// MMD: the Gaussian kernels' widths sigma^2, k(x, y) = exp(-|x - y|^2 / (2 sigma^2)), on
    /// the features' squared distances.
    #[serde(default = "default_bandwidths")]
    pub bandwidths: Vec<f64>,
    /// AdaBN (Li et al. 2016): before the target is scored, every batch-norm layer's running
    /// statistics are re-estimated on the target's training images (no labels); the source test
    /// split and `model.bpk` keep the source's, `model_target.bpk` holds the target's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub target_batch_norm: bool,
    /// Train these arms side by side on the same splits, each into its own folder, and
    /// compare them on the target test split (empty: one run with `method`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<Arm>,
    /// Repeat the comparison once per seed (`experiment.seed` set to each, which also draws the
    /// simulated data and the target's split unless `experiment.data_seed` fixes them), each
    /// into `seed_<seed>/`, and summarise every arm over the seeds (single runs of these
    /// networks vary by more than the gains asked of adaptation). Empty: one comparison.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Seed of the target set (simulated items, random splits); default: the data's seed plus
    /// one, so that a target simulated like the source holds other items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_seed: Option<u64>,
    /// The target images: any image source `[data]` takes. Its training split is used
    /// without labels; its labels, if any, score its test split.
    pub target: DataConfig,
}

fn default_lambda_schedule() -> LambdaSchedule {
    LambdaSchedule::Ramp
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl AdaptationConfig {
    /// Checks the ranges the types do not; the error names the field under `adaptation.`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, problem: String| Err((field.to_string(), problem));
        for (field, v) in [("weight", self.weight), ("entropy_weight", self.entropy_weight)] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(field, format!("must be zero or positive, got {v}"));
            }
        }
        if !(self.lambda_max >= 0.0 && self.lambda_max.is_finite()) {
            return bad("lambda_max", format!("must be zero or positive, got {}", self.lambda_max));
        }
        if !(self.lambda_gamma > 0.0 && self.lambda_gamma.is_finite()) {
            return bad("lambda_gamma", format!("must be positive, got {}", self.lambda_gamma));
        }
        if self.domain_units.contains(&0) {
            return bad("domain_units", "every hidden layer needs at least one unit".into());
        }
        if self.bandwidths.is_empty() || self.bandwidths.iter().any(|b| !(*b > 0.0 && b.is_finite())) {
            return bad("bandwidths", format!("must be one or more positive widths, got {:?}", self.bandwidths));
        }
        if !self.seeds.is_empty() && self.compare.is_empty() {
            return bad("seeds", "repeats a comparison: name its arms in `compare`".into());
        }
        if self.seeds.len() == 1 {
            return bad("seeds", "one seed is the comparison itself: give two or more, or leave `seeds` out".into());
        }
        if let Some(i) = (1..self.seeds.len()).find(|&i| self.seeds[..i].contains(&self.seeds[i])) {
            return bad("seeds", format!("{} is named twice", self.seeds[i]));
        }
        for (i, arm) in self.compare.iter().enumerate() {
            if self.compare[..i].contains(arm) {
                return bad("compare", format!("{:?} is named twice", arm.name()));
            }
        }
        Ok(())
    }

    /// λ of the gradient-reversal layer at training progress `p` in [0, 1].
    pub fn lambda_at(&self, p: f64) -> f64 {
        match self.lambda_schedule {
            LambdaSchedule::Constant => self.lambda_max,
            LambdaSchedule::Ramp => {
                self.lambda_max * (2.0 / (1.0 + (-self.lambda_gamma * p.clamp(0.0, 1.0)).exp()) - 1.0)
            }
        }
    }

    /// Whether training reads target images: adaptation or entropy minimisation.
    pub fn trains_on_target(&self) -> bool {
        self.method != Method::None || self.entropy_weight > 0.0
    }

    /// Whether this run, or an arm of its comparison, re-estimates batch-norm statistics on
    /// the target (AdaBN).
    pub fn uses_target_batch_norm(&self) -> bool {
        self.target_batch_norm || self.compare.contains(&Arm::AdaBn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AdaptationConfig {
        toml::from_str(&format!("{text}\n[target]\nsource = \"simulated_lenses\"\n")).unwrap()
    }

    #[test]
    fn the_ramp_goes_from_zero_to_lambda_max_as_ganin_et_al() {
        let c = parse("method = \"dann\"\nlambda_max = 0.5");
        assert_eq!(c.lambda_at(0.0), 0.0);
        // 2 / (1 + e^-5) - 1 = 0.98661 at half way.
        assert!((c.lambda_at(0.5) - 0.5 * 0.986_614_298_151_430_3).abs() < 1e-12);
        assert!((c.lambda_at(1.0) - 0.5 * 0.999_909_204_262_595_2).abs() < 1e-12);
        let c = parse("method = \"dann\"\nlambda_schedule = \"constant\"");
        assert_eq!(c.lambda_at(0.0), 1.0);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let err = |text: &str| parse(text).validate().unwrap_err();
        assert_eq!(err("method = \"mmd\"\nweight = -1").0, "weight");
        assert_eq!(err("method = \"mmd\"\nbandwidths = []").0, "bandwidths");
        assert_eq!(err("method = \"dann\"\ndomain_units = [0]").0, "domain_units");
        let (field, problem) = err("method = \"dann\"\ncompare = [\"mmd\", \"mmd\"]");
        assert_eq!((field.as_str(), problem.as_str()), ("compare", "\"mmd\" is named twice"));
        for (text, problem) in [
            ("seeds = [1, 2]", "repeats a comparison: name its arms in `compare`"),
            ("compare = [\"none\", \"mmd\"]\nseeds = [1]", "one seed is the comparison itself"),
            ("compare = [\"none\", \"mmd\"]\nseeds = [1, 2, 1]", "1 is named twice"),
        ] {
            let (field, got) = err(text);
            assert_eq!(field, "seeds", "{text}");
            assert!(got.starts_with(problem), "{text}: {got}");
        }
        assert!(
            parse("method = \"none\"\ncompare = [\"none\", \"mmd\", \"dann\", \"target_trained\", \"adabn\"]")
                .validate()
                .is_ok()
        );
    }
}
