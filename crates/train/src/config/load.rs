//! Reading an experiment config: the file, then `--set key.path=value` overrides, then
//! validation. Every mistake becomes one [`ConfigError`] naming the file and line (or the
//! override) and the key.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::schema::ExperimentConfig;
use crate::adapt::config::Method;

/// A config that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A problem at a known place: `file:line:column` or `--set key=value`.
    #[error("{location}: {message}")]
    At {
        /// Where.
        location: String,
        /// What (starting with the key when known).
        message: String,
    },
    /// A value out of its range, before it is placed in the file.
    #[error("{field}: {problem}")]
    Invalid {
        /// The dotted key, e.g. `optimizer.lr`.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    /// A value that is out of range.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), problem: problem.into() }
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}

/// `file:line:column` of a byte span in `text`, or just the file when there is no span.
fn span_location(path: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => {
            let (line, col) = line_col(text, s.start);
            format!("{}:{line}:{col}", path.display())
        }
        None => path.display().to_string(),
    }
}

/// Splits `model.layers[2].units` or `model.layers.2.units` into key segments.
fn segments(field: &str) -> Vec<String> {
    field.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Byte offset where `field` is written in the TOML `text`, if it is.
pub fn locate(text: &str, field: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut span = root.span();
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for seg in segments(field) {
        let next = match value {
            None => root.get_ref().iter().find(|(k, _)| k.get_ref().as_ref() == seg).map(|(_, v)| v),
            Some(v) => match seg.parse::<usize>() {
                Ok(i) => v.get_ref().get(i),
                Err(_) => v.get_ref().get(seg.as_str()),
            },
        }?;
        span = next.span();
        value = Some(next);
    }
    Some(span.start)
}

/// Places a range error at its line in the file, or on the `--set` that wrote it.
pub fn place(error: ConfigError, path: &Path, text: &str, overrides: &[String]) -> ConfigError {
    let ConfigError::Invalid { field, problem } = error else { return error };
    let message = format!("{field}: {problem}");
    let target = segments(&field);
    if let Some(set) = overrides.iter().rev().find(|s| {
        let key = s.split('=').next().unwrap_or_default().trim();
        let key = segments(key);
        target.starts_with(&key) || key.starts_with(&target)
    }) {
        return ConfigError::At { location: format!("--set {set}"), message };
    }
    // Walk up the key until something is written in the file (a default has no line).
    let offset = (1..=target.len()).rev().find_map(|n| locate(text, &target[..n].join(".")));
    ConfigError::At { location: span_location(path, text, offset.map(|o| o..o)), message }
}

/// Turns a deserialisation error into one naming the key and its place.
fn deserialize_error(
    err: serde_path_to_error::Error<toml::de::Error>,
    location: impl FnOnce(Option<std::ops::Range<usize>>) -> String,
) -> ConfigError {
    let key = err.path().to_string();
    let inner = err.into_inner();
    let message =
        if key.is_empty() || key == "." { inner.message().to_string() } else { format!("{key}: {}", inner.message()) };
    ConfigError::At { location: location(inner.span()), message }
}

/// Parses a value written on the command line: TOML if it parses as TOML, else a string, so
/// `--set data.images=/data/gz2` needs no quotes.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Applies `key.path=value` to the parsed config.
pub fn apply_override(root: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let fail = |message: String| ConfigError::At { location: format!("--set {assignment}"), message };
    let (key, raw) = assignment.split_once('=').ok_or_else(|| fail("expected key.path=value".into()))?;
    let path = segments(key.trim());
    let (last, parents) = path.split_last().ok_or_else(|| fail("the key is empty".into()))?;
    let mut table = root;
    let mut walked = String::new();
    for seg in parents {
        walked = if walked.is_empty() { seg.clone() } else { format!("{walked}.{seg}") };
        let entry = table.entry(seg.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                // Only tables inside arrays can be addressed: `model.layers.2.units`.
                return set_in_array(items, &path[walked.split('.').count()..], raw).map_err(fail);
            }
            _ => return Err(fail(format!("`{walked}` is a value, not a table"))),
        };
    }
    let value = parse_value(raw.trim());
    // Switching the variant of a tagged section (`data.source`, `model.kind`) keeps the old
    // keys the new variant also reads (`[data.sequence]`, the split fractions) and drops the
    // rest, which mean nothing to it; a new `schedule.kind` starts afresh (every kind parses
    // every schedule key, and validation refuses those that do not apply). Later `--set`s fill
    // the section.
    let section = match (parents, last.as_str()) {
        ([p], "source") if p == "data" => Some(p.as_str()),
        ([p], "kind") if p == "model" || p == "schedule" => Some(p.as_str()),
        _ => None,
    };
    if let Some(section) = section
        && table.get(last) != Some(&value)
    {
        let old = std::mem::take(table);
        let kept = if section == "schedule" { Vec::new() } else { keys_the_variant_reads(section, last, &value, &old) };
        table.extend(old.into_iter().filter(|(key, _)| kept.contains(key)));
    }
    table.insert(last.clone(), value);
    Ok(())
}

/// The keys of `old` that the variant `tag = value` of `section` reads: the old table under the
/// new tag, with each key the variant reports unknown, or reads as something else (another
/// simulator's `[data.simulator]`), taken out in turn. A key the variant requires and the table
/// lacks is filled with an empty string meanwhile, so that serde's missing-key error does not
/// hide the others.
fn keys_the_variant_reads(section: &str, tag: &str, value: &toml::Value, old: &toml::Table) -> Vec<String> {
    let mut probe = old.clone();
    probe.insert(tag.to_string(), value.clone());
    let mut filled: Vec<String> = Vec::new();
    for _ in 0..old.len() + 16 {
        let Err(message) = read_section(section, &probe) else { break };
        let unknown = quoted_key(&message, "unknown field `").filter(|k| probe.contains_key(*k));
        if let Some(key) = unknown {
            probe.remove(key);
        } else if let Some(key) = quoted_key(&message, "missing field `")
            && !filled.iter().any(|f| f == key)
        {
            filled.push(key.to_string());
            probe.insert(key.to_string(), toml::Value::String(String::new()));
        } else {
            // The problem lies inside an old key (a `[data.simulator]` of another simulator):
            // drop the one whose removal changes it.
            let culprit = old.keys().filter(|k| *k != tag && probe.contains_key(*k)).find(|k| {
                let mut without = probe.clone();
                without.remove(*k);
                read_section(section, &without) != Err(message.clone())
            });
            match culprit {
                Some(key) => probe.remove(key),
                None => break,
            };
        }
    }
    old.keys().filter(|k| *k != tag && probe.contains_key(*k) && !filled.contains(k)).cloned().collect()
}

/// The key quoted after `prefix` in a serde message (`unknown field `train`, ...`).
fn quoted_key<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.split('`').next()
}

/// Reads `table` as `section` (`data` or `model`): `Ok`, or serde's message.
fn read_section(section: &str, table: &toml::Table) -> Result<(), String> {
    let value = toml::Value::Table(table.clone());
    let read = match section {
        "data" => value.try_into::<astro_data::DataConfig>().map(drop),
        _ => value.try_into::<astro_models::ModelConfig>().map(drop),
    };
    read.map_err(|e| e.message().to_string())
}

fn set_in_array(items: &mut [toml::Value], rest: &[String], raw: &str) -> Result<(), String> {
    let (index, rest) = rest.split_first().ok_or("give an index into the array")?;
    let i: usize = index.parse().map_err(|_| format!("`{index}` is not an array index"))?;
    let len = items.len();
    let item = items.get_mut(i).ok_or(format!("index {i} is out of range (the array has {len} entries)"))?;
    let toml::Value::Table(t) = item else { return Err(format!("entry {i} is not a table")) };
    let mut root = std::mem::take(t);
    apply_override(&mut root, &format!("{}={raw}", rest.join("."))).map_err(|e| match e {
        ConfigError::At { message, .. } => message,
        other => other.to_string(),
    })?;
    *t = root;
    Ok(())
}

/// Parses and validates config `text` (read from `path`): shrunk for a smoke run if `smoke`,
/// then with `overrides` applied (so `--set` wins over `--smoke`); what the overrides bring
/// (another data source) is shrunk too.
pub fn parse_config(
    path: &Path,
    text: &str,
    overrides: &[String],
    smoke: bool,
) -> Result<ExperimentConfig, ConfigError> {
    let at_span = |span| span_location(path, text, span);
    let de = toml::Deserializer::parse(text)
        .map_err(|e| ConfigError::At { location: at_span(e.span()), message: e.message().to_string() })?;
    let mut config: ExperimentConfig = serde_path_to_error::deserialize(de)
        .map_err(|e| point_to_features(name_the_key(deserialize_error(e, at_span), text, path)))?;
    config = with_overrides(&config, overrides).map_err(point_to_features)?;
    if smoke {
        // Shrink after the overrides, which may bring another data source, then let them win.
        config.shrink_for_smoke();
        config = with_overrides(&config, overrides)?;
    }
    config.validate().map_err(|e| place(e, path, text, overrides))?;
    Ok(config)
}

/// Catalogue features are a section of their own, not a `[data]` key: says so where a user
/// wrote them under `[data]`.
fn point_to_features(error: ConfigError) -> ConfigError {
    match error {
        ConfigError::At { location, message } if message.starts_with("data: unknown field `features`") => {
            ConfigError::At {
                location,
                message: format!(
                    "{message}: catalogue features beside the curve or image are their own section, \
                     [features] columns = [...] (--set 'features.columns=[...]')"
                ),
            }
        }
        other => other,
    }
}

/// `config` with the `--set` `overrides` applied.
fn with_overrides(config: &ExperimentConfig, overrides: &[String]) -> Result<ExperimentConfig, ConfigError> {
    if overrides.is_empty() {
        return Ok(config.clone());
    }
    let sets = overrides.join(" --set ");
    let toml::Value::Table(mut table) = toml::Value::try_from(config)
        .map_err(|e| ConfigError::At { location: format!("--set {sets}"), message: e.to_string() })?
    else {
        unreachable!("a config serializes to a table")
    };
    for set in overrides {
        apply_override(&mut table, set)?;
    }
    serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| deserialize_error(e, |_| format!("--set {sets}")))
}

/// serde loses the key inside internally tagged sections (`[data]`, `[model]` and its layers):
/// a wrong type there is reported against the section. Find the one key under it whose value
/// the message quotes, and name it and its line instead.
fn name_the_key(error: ConfigError, text: &str, path: &Path) -> ConfigError {
    let ConfigError::At { location, message } = &error else { return error };
    let Some((section, rest)) = message.split_once(": ") else { return error };
    let Some(found) = rest.strip_prefix("invalid type: ").or(rest.strip_prefix("invalid value: ")) else {
        return error;
    };
    let quoted = found.split(", expected").next().unwrap_or_default();
    let Ok(root) = toml::from_str::<toml::Table>(text) else { return error };
    let mut start = toml::Value::Table(root);
    for seg in segments(section) {
        let next = match (&start, seg.parse::<usize>()) {
            (toml::Value::Array(a), Ok(i)) => a.get(i).cloned(),
            (toml::Value::Table(t), _) => t.get(&seg).cloned(),
            _ => None,
        };
        let Some(next) = next else { return error };
        start = next;
    }
    let mut hits = Vec::new();
    find_values(&start, section, quoted, &mut hits);
    match hits.as_slice() {
        [key] => {
            let location = locate(text, key).map_or(location.clone(), |o| span_location(path, text, Some(o..o)));
            ConfigError::At { location, message: format!("{key}: {rest}") }
        }
        _ => error,
    }
}

/// How serde quotes a value in "invalid type" messages.
fn serde_quote(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(format!("string {s:?}")),
        toml::Value::Integer(i) => Some(format!("integer `{i}`")),
        toml::Value::Float(f) => Some(format!("floating point `{f}`")),
        toml::Value::Boolean(b) => Some(format!("boolean `{b}`")),
        _ => None,
    }
}

fn find_values(value: &toml::Value, at: &str, quoted: &str, hits: &mut Vec<String>) {
    match value {
        toml::Value::Table(t) => t.iter().for_each(|(k, v)| find_values(v, &format!("{at}.{k}"), quoted, hits)),
        toml::Value::Array(a) => {
            a.iter().enumerate().for_each(|(i, v)| find_values(v, &format!("{at}[{i}]"), quoted, hits))
        }
        other => {
            if serde_quote(other).is_some_and(|q| q == quoted) {
                hits.push(at.to_string());
            }
        }
    }
}

/// Reads, shrinks (for `--smoke`), overrides and validates the config at `path`.
pub fn load_config(path: &Path, overrides: &[String], smoke: bool) -> Result<ExperimentConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse_config(path, &text, overrides, smoke)
}

/// A file holding just a `[data]` table (for `trainer eval --data`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DataFile {
    data: astro_data::DataConfig,
}

/// Reads the `[data]` table of `path`, with the same located errors as a full config.
pub fn load_data_config(path: &Path) -> Result<astro_data::DataConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let at_span = |span| span_location(path, &text, span);
    let de = toml::Deserializer::parse(&text)
        .map_err(|e| ConfigError::At { location: at_span(e.span()), message: e.message().to_string() })?;
    let file: DataFile =
        serde_path_to_error::deserialize(de).map_err(|e| name_the_key(deserialize_error(e, at_span), &text, path))?;
    Ok(file.data)
}

/// The metrics a paper's number can be compared on.
pub const PAPER_METRICS: [&str; 12] = [
    "rmse",
    "accuracy",
    "error_rate",
    "roc_auc",
    "completeness",
    "precision",
    "recall",
    "f1",
    "scatter",
    "psnr",
    "ssim",
    "power_spectrum_error",
];

impl ExperimentConfig {
    /// Checks every range that the types do not (the model's shapes are checked against the
    /// data when it is opened).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.experiment.name;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ConfigError::invalid(
                "experiment.name",
                format!("must be letters, digits, '-' or '_', got {name:?}"),
            ));
        }
        let t = &self.training;
        for (field, v) in [
            ("epochs", t.epochs),
            ("batch_size", t.batch_size),
            ("checkpoint_every", t.checkpoint_every),
            ("keep_checkpoints", t.keep_checkpoints),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(format!("training.{field}"), "must be at least 1"));
            }
        }
        if t.early_stopping_patience == Some(0) {
            return Err(ConfigError::invalid(
                "training.early_stopping_patience",
                "must be at least 1 (leave it out to never stop early)",
            ));
        }
        for (field, v) in [
            ("l1_penalty", t.l1_penalty),
            ("l2_penalty", t.l2_penalty),
            ("early_stopping_min_delta", t.early_stopping_min_delta),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(ConfigError::invalid(
                    format!("training.{field}"),
                    format!("must be zero or positive, got {v}"),
                ));
            }
        }
        if let Some(cutoff) = t.weigh_by_density.filter(|c| !(*c > 0.0 && c.is_finite())) {
            return Err(ConfigError::invalid(
                "training.weigh_by_density",
                format!("is a density cutoff, positive, got {cutoff}"),
            ));
        }
        if let Some(features) = &self.features {
            features.validate().map_err(|e| match e {
                astro_data::DataError::Feature { field, problem } => {
                    ConfigError::invalid(format!("features.{field}"), problem)
                }
                other => ConfigError::invalid("features", other.to_string()),
            })?;
            if self.init.is_some() {
                return Err(ConfigError::invalid(
                    "features",
                    "a run that starts from other weights ([init]) cannot take catalogue features yet: its \
                     head was built without them",
                ));
            }
        }
        if let Some((field, problem)) = self.baseline.validate().err() {
            return Err(ConfigError::invalid(format!("baseline.{field}"), problem));
        }
        if let Some((field, problem)) = self.evaluation.validate().err() {
            return Err(ConfigError::invalid(format!("evaluation.{field}"), problem));
        }
        if let Some(paper) = &self.experiment.paper {
            if !PAPER_METRICS.contains(&paper.metric.as_str()) {
                return Err(ConfigError::invalid(
                    "experiment.paper.metric",
                    format!(
                        "must be one of those the runs report ({}), got {:?}",
                        PAPER_METRICS.join(", "),
                        paper.metric
                    ),
                ));
            }
            if let Some(subset) = &paper.subset
                && !self.evaluation.subsets.iter().any(|s| &s.name == subset)
            {
                return Err(ConfigError::invalid(
                    "experiment.paper.subset",
                    format!("{subset:?} is not the name of an [[evaluation.subsets]] entry"),
                ));
            }
        }
        if let Some(Err((field, problem))) = self.augment.as_ref().map(|a| a.validate()) {
            return Err(ConfigError::invalid(format!("augment.{field}"), problem));
        }
        if let Some(Err((field, problem))) = self.test_time.as_ref().map(|t| t.validate()) {
            return Err(ConfigError::invalid(format!("test_time.{field}"), problem));
        }
        self.optimizer.validate()?;
        self.schedule.validate(self.optimizer.lr)?;
        super::stages::validate_stages(&self.stages, &self.optimizer, &self.schedule)?;
        if let Some(init) = &self.init {
            let given = [init.run.is_some(), init.weights.is_some(), init.pretrain.is_some()];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(ConfigError::invalid(
                    "init",
                    "give one of `run` (a finished run folder), `weights` (a weights file) or `pretrain` (an experiment config, trained first unless a finished run of it exists)",
                ));
            }
            if init.weights_key.is_some() && init.weights.is_none() {
                return Err(ConfigError::invalid("init.weights_key", "applies to `weights` files only"));
            }
        }
        if let Some(gan) = &self.gan {
            gan.validate()?;
            if !self.model.is_gan() {
                return Err(ConfigError::invalid("gan", "applies to GANs: [model] kind = \"pix2pix\" or \"dcgan\""));
            }
        }
        if self.model.is_gan() {
            crate::gan::config::refuse_unused_settings(self)?;
        }
        if self.model.is_gan() && (self.comparison.is_some() || !self.stages.is_empty() || self.init.is_some()) {
            return Err(ConfigError::invalid(
                "model.kind",
                "a GAN trains from fresh weights in one stage: [init], [[stages]] and [comparison] do not apply",
            ));
        }
        if let Some(v) = &self.validation {
            v.validate()?;
            if self.model.is_gan() || self.model.reconstructs() || self.comparison.is_some() {
                return Err(ConfigError::invalid(
                    "validation",
                    "cross-validates supervised predictions (regression, classification); GANs, autoencoders and \
                     [comparison] runs are not cross-validated",
                ));
            }
        }
        if let Some(a) = &self.adaptation {
            a.validate().map_err(|(field, problem)| ConfigError::invalid(format!("adaptation.{field}"), problem))?;
            let refuse = |problem: &str| Err(ConfigError::invalid("adaptation", problem));
            if self.model.is_gan() || self.model.reconstructs() || self.model.has_own_loss() {
                return refuse(
                    "adapts supervised networks (classification, regression); GANs and autoencoders are not adapted",
                );
            }
            if a.method != Method::None
                && let Err(why) = self.model.has_body()
            {
                return Err(ConfigError::invalid(
                    "adaptation.method",
                    format!("{:?} needs the body's features: {why}", a.method.name()),
                ));
            }
            if a.uses_target_batch_norm() && !self.model.has_batch_norm() {
                return Err(ConfigError::invalid(
                    "adaptation.target_batch_norm",
                    format!(
                        "re-estimates batch-norm statistics on the target (AdaBN), but this {:?} model has no batch-norm \
                         layer",
                        self.model.kind()
                    ),
                ));
            }
            if self.features.is_some() {
                return refuse(
                    "cannot take catalogue features ([features]) yet: the target images would need them too",
                );
            }
            if self.validation.is_some() {
                return refuse("runs on the data's own splits; it is not cross-validated ([validation]) yet");
            }
            if !a.compare.is_empty() && self.comparison.is_some() {
                return refuse("compare = [...] and [comparison] each train several networks: use one of them");
            }
        }
        if self.comparison.is_some() {
            if self.init.is_none() {
                return Err(ConfigError::invalid(
                    "comparison",
                    "compares the network started from [init] with the same network trained from scratch: give [init]",
                ));
            }
            let total: usize = self.stages.iter().map(|s| s.epochs).sum();
            if !self.stages.is_empty() && self.training.epochs != total {
                return Err(ConfigError::invalid(
                    "training.epochs",
                    format!(
                        "is the epochs of the run from scratch under [comparison]: make it the stages' total, {total}, so that both runs train as long (got {})",
                        self.training.epochs
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A tiny version of the same experiment: a few dozen samples, one epoch.
    pub fn shrink_for_smoke(&mut self) {
        self.data.shrink_for_smoke();
        if let Some(a) = &mut self.adaptation {
            a.target.shrink_for_smoke();
        }
        self.stages.iter_mut().for_each(|s| s.epochs = 1);
        // A comparison's run from scratch trains as long as the stages together.
        self.training.epochs = if self.comparison.is_some() { self.stages.len().max(1) } else { 1 };
        self.training.batch_size = self.training.batch_size.min(16);
        self.training.early_stopping_patience = None;
        // Two views are enough to exercise test-time averaging.
        if let Some(t) = &mut self.test_time {
            t.rotations = t.rotations.min(2);
            t.zooms.truncate(1);
            t.flip = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"[experiment]
name = "t"

[data]
source = "simulated_galaxies"
train = 10

[model]
kind = "sequential"
[[model.layers]]
type = "flatten"
[[model.layers]]
type = "dense"
units = 37

[optimizer]
kind = "sgd"
lr = 0.1
momentum = 0.9

[training]
epochs = 3
"#;

    fn parse(text: &str, sets: &[&str]) -> Result<ExperimentConfig, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        parse_config(Path::new("exp.toml"), text, &sets, false)
    }

    #[test]
    fn a_good_config_parses_with_defaults() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(c.training.epochs, 3);
        assert_eq!(c.training.batch_size, 32);
        assert_eq!(c.experiment.seed, 42);
    }

    #[test]
    fn unknown_keys_name_the_file_line_and_key() {
        let text = BASE.replace("epochs = 3", "epochs = 3\nepoch = 4");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("exp.toml:23:1: training.epoch: unknown field `epoch`, expected one of `epochs`"),
            "{err}"
        );
        let text = BASE.replace("train = 10", "train = 10\ntrian = 5");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("exp.toml:") && err.contains("unknown field `trian`"), "{err}");
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        assert!((4..=7).contains(&line), "{err}");
    }

    #[test]
    fn catalogue_feature_settings_are_checked_and_a_features_key_under_data_points_to_its_section() {
        let err = parse(BASE, &["features.columns=[]"]).unwrap_err().to_string();
        assert!(err.contains("features.columns: name one or more item properties"), "{err}");
        let err = parse(BASE, &["features.columns=[\"snr\", \"snr\"]"]).unwrap_err().to_string();
        assert!(err.contains("features.columns: \"snr\" is named twice"), "{err}");
        let err = parse(BASE, &["features.columns=[\"snr\"]", "features.log=[\"period\"]"]).unwrap_err().to_string();
        assert!(err.contains("features.log: \"period\" is not one of columns = [\"snr\"]"), "{err}");
        let err = parse(BASE, &["features.columns=[\"snr\"]", "features.missing=\"drop\""]).unwrap_err().to_string();
        assert!(err.contains("unknown variant `drop`, expected one of `error`, `skip`, `mean`"), "{err}");
        let err = parse(BASE, &["features.columns=[\"snr\"]", "init.run=\"runs/x\""]).unwrap_err().to_string();
        assert!(err.contains("features: a run that starts from other weights ([init])"), "{err}");
        let text = BASE.replace("train = 10", "train = 10\nfeatures = [\"period\"]");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(err.contains("data: unknown field `features`") && err.contains("[features] columns = [...]"), "{err}");
        let err = parse(BASE, &["data.features=[\"period\"]"]).unwrap_err().to_string();
        assert!(err.contains("their own section, [features] columns"), "{err}");
        let c = parse(BASE, &["features.columns=[\"snr\", \"period\"]", "features.missing=\"skip\""]).unwrap();
        let f = c.features.expect("[features]");
        assert_eq!((f.columns.len(), f.missing), (2, astro_data::catalogue_features::MissingFeature::Skip));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let text = BASE.replace("epochs = 3", "epochs = \"ten\"");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("exp.toml:22:10: training.epochs: invalid type: string \"ten\", expected usize"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_inside_tagged_sections_name_the_key() {
        let text = BASE.replace("train = 10", "train = \"many\"");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert_eq!(err, "exp.toml:6:9: data.train: invalid type: string \"many\", expected usize");
        let text = BASE.replace("units = 37", "units = 3.5");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(err.starts_with("exp.toml:14:9: model.layers[1].units: invalid type: floating point `3.5`"), "{err}");
    }

    #[test]
    fn switching_the_data_source_starts_the_section_afresh() {
        let mut root: toml::Table = toml::from_str(BASE).unwrap();
        apply_override(&mut root, "data.source=image_csv").unwrap();
        apply_override(&mut root, "data.images=imgs").unwrap();
        let data = root["data"].as_table().unwrap();
        assert_eq!(data.len(), 2, "{data:?}");
        assert_eq!(data["source"].as_str(), Some("image_csv"));
        // Setting the same variant again keeps its keys.
        apply_override(&mut root, "data.source=image_csv").unwrap();
        assert_eq!(root["data"].as_table().unwrap().len(), 2);
        // So does the schedule's kind: multistep's milestones mean nothing to step.
        apply_override(&mut root, "schedule.kind=multistep").unwrap();
        apply_override(&mut root, "schedule.milestones=[0.5]").unwrap();
        apply_override(&mut root, "schedule.kind=step").unwrap();
        assert_eq!(root["schedule"].as_table().unwrap().len(), 1);
    }

    #[test]
    fn switching_the_data_source_keeps_what_the_new_source_reads() {
        let text = "[data]\nsource = \"simulated_light_curves\"\ntrain = 10\nvalid_fraction = 0.3\n[data.sequence]\nlength = 60\nresample = true\n[data.simulator]\nrrab_fraction = 1.0\n";
        let mut root: toml::Table = toml::from_str(&text.replace("valid_fraction = 0.3\n", "")).unwrap();
        apply_override(&mut root, "data.source=light_curve_folder").unwrap();
        let data = root["data"].as_table().unwrap();
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        assert_eq!(keys, ["sequence", "source"], "{data:?}");
        assert_eq!(data["sequence"]["length"].as_integer(), Some(60));
        // A key both read the same way stays; one the new source lacks goes.
        let mut root: toml::Table = toml::from_str(
            "[data]\nsource = \"image_folder\"\nroot = \"r\"\nlimit_per_class = 3\nvalid_fraction = 0.3\nsize = 32\n",
        )
        .unwrap();
        apply_override(&mut root, "data.source=lens_challenge").unwrap();
        let data = root["data"].as_table().unwrap();
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        assert_eq!(keys, ["root", "source", "valid_fraction"], "{data:?}");
        // Another simulator's `[data.simulator]` goes; the counts both read stay.
        let mut root: toml::Table = toml::from_str(
            "[data]\nsource = \"simulated_profiles\"\ntrain = 7\n[data.simulator]\nprofile = \"sersic\"\n",
        )
        .unwrap();
        apply_override(&mut root, "data.source=simulated_galaxies").unwrap();
        let data = root["data"].as_table().unwrap();
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        assert_eq!(keys, ["source", "train"], "{data:?}");
    }

    #[test]
    fn smoke_shrinks_and_overrides_still_win() {
        let sets = vec!["training.epochs=3".to_string()];
        let c = parse_config(Path::new("exp.toml"), BASE, &sets, true).unwrap();
        assert_eq!(c.training.epochs, 3);
        let c = parse_config(Path::new("exp.toml"), BASE, &[], true).unwrap();
        assert_eq!(c.training.epochs, 1);
        // What an override brings is shrunk too: another source gets its smoke limit...
        let sets = ["data.source=image_csv", "data.images=i", "data.targets=t.csv"].map(String::from);
        let c = parse_config(Path::new("exp.toml"), BASE, &sets, true).unwrap();
        let astro_data::DataConfig::ImageCsv(csv) = &c.data else { unreachable!("{:?}", c.data) };
        assert_eq!(csv.limit, Some(80));
        // ... and a value set explicitly stays.
        let sets = ["data.train=100".to_string()];
        let c = parse_config(Path::new("exp.toml"), BASE, &sets, true).unwrap();
        let astro_data::DataConfig::SimulatedGalaxies(sim) = &c.data else { unreachable!("{:?}", c.data) };
        assert_eq!((sim.splits.train, sim.splits.valid), (100, 16));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("[experiment\nname = 1", &[]).unwrap_err().to_string();
        assert!(err.starts_with("exp.toml:1:"), "{err}");
    }

    #[test]
    fn paper_metrics_subsets_and_evaluation_are_checked() {
        let paper = "[experiment.paper]\ncitation = \"x\"\nmetric = \"completeness\"\nvalue = 0.9\nsubset = \"big\"\n";
        let text = BASE.replace("[data]", &format!("{paper}\n[data]"));
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert!(
            err.contains("experiment.paper.subset: \"big\" is not the name of an [[evaluation.subsets]] entry"),
            "{err}"
        );
        let with_subset =
            format!("{text}\n[[evaluation.subsets]]\nname = \"big\"\nabove = {{ einstein_radius = 1.4 }}\n");
        assert!(parse(&with_subset, &[]).is_ok());
        let err = parse(&with_subset, &["experiment.paper.metric=\"f2\""]).unwrap_err().to_string();
        assert!(
            err.contains(
                "must be one of those the runs report (rmse, accuracy, error_rate, roc_auc, completeness, precision"
            ),
            "{err}"
        );
        let err = parse(&with_subset, &["evaluation.fpr=[0.0]"]).unwrap_err().to_string();
        assert!(err.contains("evaluation.fpr: false-positive rates must be in (0, 1)"), "{err}");
    }

    #[test]
    fn range_errors_point_at_the_line_or_the_override() {
        let text = BASE.replace("lr = 0.1", "lr = -0.1");
        let err = parse(&text, &[]).unwrap_err().to_string();
        assert_eq!(err, "exp.toml:18:6: optimizer.lr: must be positive, got -0.1");
        let err = parse(BASE, &["training.batch_size=0"]).unwrap_err().to_string();
        assert_eq!(err, "--set training.batch_size=0: training.batch_size: must be at least 1");
        let err = parse(BASE, &["optimizer.beta1=0.5"]).unwrap_err().to_string();
        assert_eq!(err, "--set optimizer.beta1=0.5: optimizer.beta1: does not apply to kind = \"sgd\"");
    }

    #[test]
    fn overrides_set_values_tables_and_array_entries() {
        let c = parse(
            BASE,
            &[
                "training.epochs=7",
                "data.simulator.image_size=48",
                "model.layers.1.units=37",
                "experiment.description=hello world",
            ],
        )
        .unwrap();
        assert_eq!(c.training.epochs, 7);
        assert_eq!(c.experiment.description, "hello world");
        match &c.data {
            astro_data::DataConfig::SimulatedGalaxies(c) => assert_eq!(c.simulator.image_size, 48),
            other => panic!("{other:?}"),
        }
        let err = parse(BASE, &["training.epoch=7"]).unwrap_err().to_string();
        assert!(err.starts_with("--set training.epoch=7: training.epoch: unknown field `epoch`"), "{err}");
        let err = parse(BASE, &["model.layers.9.units=3"]).unwrap_err().to_string();
        assert!(err.contains("index 9 is out of range"), "{err}");
        let err = parse(BASE, &["training.epochs"]).unwrap_err().to_string();
        assert!(err.contains("expected key.path=value"), "{err}");
    }

    #[test]
    fn locate_finds_nested_keys_and_array_entries() {
        let at = locate(BASE, "model.layers[1].units").unwrap();
        assert_eq!(line_col(BASE, at).0, 14);
        assert!(locate(BASE, "training.workers").is_none());
    }
}
