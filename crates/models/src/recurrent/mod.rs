//! Recurrent networks on light curves: stacked LSTM or GRU layers, one-way or bidirectional,
//! dropout between them, masking of padded steps, and a dense head on the last layer's final
//! state. With no setting but `kind = "recurrent"` it is the network of Dekany & Grebel (2020,
//! ApJ 898, 46): bidirectional LSTM (32, sequences out), dropout 0.1, bidirectional LSTM (32),
//! dropout 0.1, dense.
//!
//! `head_units` puts dense ReLU layers between the final state (with any catalogue features
//! concatenated to it) and the output layer, so that the features can interact with the curve
//! (Dekany & Grebel's `--meta_input` model passes them through dense layers too); the paper's
//! network has none. `feature_dropout` drops catalogue features at random in training, so that
//! the head cannot lean on them alone while the recurrent layers are still learning the curves.
//!
//! Input: sequences `[batch, channels, 1, steps]` whose last channel is the mask (1 for a real
//! step, 0 for padding, padding at the end), as the light-curve data sources make them; the other
//! channels are the per-step features (phase and magnitude, or time, magnitude and error).

pub mod cell;
pub mod fused_lstm;
#[cfg(feature = "flex")]
mod lstm_rows;

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

pub use cell::{CellKind, GateFunctions, MaskedCell, set_auto_gate_functions, state_at_last_step};

use crate::dropout::dropout;
use crate::model::LayerShape;
use crate::shape::{FeatureShape, ShapeError};

/// `[model]` with `kind = "recurrent"`; every field defaults to Dekany & Grebel's network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrentConfig {
    /// `lstm` or `gru`.
    #[serde(default)]
    pub cell: CellKind,
    /// State size of each stacked layer, first to last.
    #[serde(default = "paper_units")]
    pub units: Vec<usize>,
    /// Each layer reads the sequence both ways and concatenates the two states.
    #[serde(default = "yes")]
    pub bidirectional: bool,
    /// Dropout after each recurrent layer.
    #[serde(default = "paper_dropout")]
    pub dropout: f64,
    /// Dense ReLU layers between the final state (and catalogue features) and the output layer.
    #[serde(default)]
    pub head_units: Vec<usize>,
    /// Dropout on the catalogue features in training (0: none).
    #[serde(default)]
    pub feature_dropout: f64,
    /// `auto` (the default: the rational forms on backends whose sigmoid and tanh run one
    /// element at a time, the backend's own elsewhere), `rational` or `exact`.
    #[serde(default)]
    pub gate_functions: GateFunctions,
}

fn paper_units() -> Vec<usize> {
    vec![32, 32]
}

fn yes() -> bool {
    true
}

fn paper_dropout() -> f64 {
    0.1
}

impl Default for RecurrentConfig {
    fn default() -> Self {
        Self {
            cell: CellKind::Lstm,
            units: paper_units(),
            bidirectional: true,
            dropout: paper_dropout(),
            head_units: Vec::new(),
            feature_dropout: 0.0,
            gate_functions: GateFunctions::default(),
        }
    }
}

/// One stacked layer: a forward cell and, when bidirectional, a backward one.
#[derive(Module, Debug)]
pub struct RecurrentLayer {
    /// First step to last.
    pub forward: MaskedCell,
    /// Last step to first.
    pub backward: Option<MaskedCell>,
}

impl RecurrentLayer {
    /// The layer's cells, forward first.
    #[cfg_attr(not(feature = "flex"), allow(dead_code))]
    fn cells(&self) -> impl Iterator<Item = &MaskedCell> {
        std::iter::once(&self.forward).chain(&self.backward)
    }
}

/// A built recurrent network.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// The stacked layers.
    pub layers: Vec<RecurrentLayer>,
    /// Dropout after every layer.
    pub dropout: Dropout,
    /// Dropout on the catalogue features (`feature_dropout`).
    pub feature_dropout: Dropout,
    /// Dense ReLU layers on the last state (`head_units`).
    pub hidden: Vec<Linear>,
    /// Dense layer on the last state (or the last hidden layer).
    pub head: Linear,
}

impl RecurrentConfig {
    fn setting(field: &str, problem: String) -> ShapeError {
        ShapeError::Setting { field: field.into(), problem }
    }

    /// The shape after every layer, or the first setting that does not fit `input`.
    pub fn shapes(&self, input: FeatureShape, outputs: usize) -> Result<Vec<LayerShape>, ShapeError> {
        self.shapes_with_side(input, 0, outputs)
    }

    /// As [`Self::shapes`], with `side` catalogue features concatenated to the final state
    /// before the dense layer.
    pub fn shapes_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
    ) -> Result<Vec<LayerShape>, ShapeError> {
        let FeatureShape::Sequence { channels, length } = input else {
            return Err(Self::setting(
                "kind",
                format!("\"recurrent\" needs sequences (light curves), but the data gives {input}"),
            ));
        };
        if channels < 2 {
            return Err(Self::setting(
                "kind",
                format!("sequences need at least one feature and the mask channel, got {channels} channels"),
            ));
        }
        if self.units.is_empty() || self.units.contains(&0) {
            return Err(Self::setting("units", format!("needs one or more sizes of at least 1, got {:?}", self.units)));
        }
        if self.head_units.contains(&0) {
            return Err(Self::setting("head_units", "each dense layer of the head needs at least 1 unit".into()));
        }
        if !(0.0..1.0).contains(&self.feature_dropout) {
            return Err(Self::setting("feature_dropout", format!("must be in [0, 1), got {}", self.feature_dropout)));
        }
        if self.feature_dropout > 0.0 && side == 0 {
            return Err(Self::setting(
                "feature_dropout",
                "drops catalogue features, and this run has none: add a [features] section or leave it out".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Self::setting("dropout", format!("must be in [0, 1), got {}", self.dropout)));
        }
        let name = if self.bidirectional { format!("bi{}", self.cell.name()) } else { self.cell.name().to_string() };
        let ways = if self.bidirectional { 2 } else { 1 };
        let mut table =
            vec![LayerShape::new("mask (last channel)", FeatureShape::Sequence { channels: channels - 1, length })];
        for (i, &units) in self.units.iter().enumerate() {
            let last = i + 1 == self.units.len();
            let shape = if last {
                FeatureShape::Vector(ways * units)
            } else {
                FeatureShape::Sequence { channels: ways * units, length }
            };
            let what = if last { "final state" } else { "sequence" };
            table.push(LayerShape::new(format!("{name}({units}), {what}, dropout {}", self.dropout), shape));
        }
        if side > 0 {
            let state = ways * self.units.last().copied().unwrap_or(0);
            table.push(LayerShape::new(
                if self.feature_dropout > 0.0 {
                    format!("concatenate {side} catalogue features (dropout {})", self.feature_dropout)
                } else {
                    format!("concatenate {side} catalogue features")
                },
                FeatureShape::Vector(state + side),
            ));
        }
        for &units in &self.head_units {
            table.push(LayerShape::new(format!("dense {units}, relu"), FeatureShape::Vector(units)));
        }
        table.push(LayerShape::new(format!("dense {outputs}"), FeatureShape::Vector(outputs)));
        Ok(table)
    }

    /// Builds the network on `device`.
    pub fn init(&self, input: FeatureShape, outputs: usize, device: &Device) -> Result<Recurrent, ShapeError> {
        self.init_with_side(input, 0, outputs, device)
    }

    /// Builds the network on `device`, its dense layer reading the final state and `side`
    /// catalogue features.
    pub fn init_with_side(
        &self,
        input: FeatureShape,
        side: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<Recurrent, ShapeError> {
        self.shapes_with_side(input, side, outputs)?;
        let ways = if self.bidirectional { 2 } else { 1 };
        let mut features = input.channels() - 1;
        let mut layers = Vec::new();
        for &units in &self.units {
            layers.push(RecurrentLayer {
                forward: MaskedCell::new(self.cell, features, units, false, device)
                    .with_gate_functions(self.gate_functions),
                backward: self.bidirectional.then(|| {
                    MaskedCell::new(self.cell, features, units, true, device).with_gate_functions(self.gate_functions)
                }),
            });
            features = ways * units;
        }
        let mut width = features + side;
        let hidden = self
            .head_units
            .iter()
            .map(|&units| {
                let layer = LinearConfig::new(width, units).init(device);
                width = units;
                layer
            })
            .collect();
        Ok(Recurrent {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            feature_dropout: DropoutConfig::new(self.feature_dropout).init(),
            hidden,
            head: LinearConfig::new(width, outputs).init(device),
        })
    }
}

impl Recurrent {
    /// Outputs `[batch, outputs]` for sequences `[batch, channels, 1, steps]`, mask last, real
    /// steps first (every sequence has at least one).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with_side(x, None)
    }

    /// As [`Self::forward`], with catalogue features `[batch, side]` concatenated to the final
    /// state (after its dropout) before the dense layer.
    pub fn forward_with_side(&self, x: Tensor<4>, side: Option<Tensor<2>>) -> Tensor<2> {
        self.head_of(self.body(x), side)
    }

    /// The body's output: the last layer's final state after its dropout, `[batch, features]`.
    pub fn body(&self, x: Tensor<4>) -> Tensor<2> {
        let [batch, channels, _, steps] = x.dims();
        let x = x.reshape([batch, channels, steps]);
        #[cfg(feature = "flex")]
        if fused_lstm::runs_on(&x) && self.layers.iter().flat_map(RecurrentLayer::cells).all(MaskedCell::fuses) {
            return self.body_fused(x);
        }
        self.body_steps(x)
    }

    /// [`Self::body`] step by step (`x` `[batch, channels, steps]`): each layer's cells as tensor
    /// operations on one tensor per step.
    fn body_steps(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, channels, steps] = x.dims();
        // The input carries no gradient, so cutting it into steps is free.
        let step = |t: usize| x.clone().narrow(2, t, 1).reshape([batch, channels]);
        let keep: Vec<Tensor<2>> = (0..steps).map(|t| step(t).narrow(1, channels - 1, 1)).collect();
        let mut seq: Vec<Tensor<2>> = (0..steps).map(|t| step(t).narrow(1, 0, channels - 1)).collect();
        let lengths: Tensor<1, Int> = x.clone().narrow(1, channels - 1, 1).sum_dim(2).reshape([batch]).int();
        let mut last = None;
        for (i, layer) in self.layers.iter().enumerate() {
            let forward = layer.forward.forward(&seq, &keep);
            let backward = layer.backward.as_ref().map(|cell| cell.forward(&seq, &keep));
            if i + 1 == self.layers.len() {
                let mut state = state_at_last_step(&forward, &lengths);
                if let Some(b) = backward {
                    // Run backwards, the final state is the one after the first step.
                    state = Tensor::cat(vec![state, b[0].clone()], 1);
                }
                last = Some(state);
            } else {
                seq = match backward {
                    None => forward,
                    Some(b) => forward.into_iter().zip(b).map(|(f, b)| Tensor::cat(vec![f, b], 1)).collect(),
                };
                seq = seq.into_iter().map(|s| dropout(&self.dropout, s)).collect();
            }
        }
        dropout(&self.dropout, last.expect("a recurrent network has at least one layer (checked)"))
    }

    /// [`Self::body`] with every layer a whole-sequence kernel (`x` `[batch, channels, steps]`):
    /// the same network, dropout drawn over the whole sequence at once.
    #[cfg(feature = "flex")]
    fn body_fused(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, channels, steps] = x.dims();
        let keep = x.clone().narrow(1, channels - 1, 1).reshape([batch, steps]);
        let lengths: Tensor<1, Int> = keep.clone().sum_dim(1).reshape([batch]).int();
        let mut sequence = x.narrow(1, 0, channels - 1).swap_dims(1, 2); // [batch, steps, features]
        let mut last = None;
        for (i, layer) in self.layers.iter().enumerate() {
            let forward = layer.forward.forward_sequence(sequence.clone(), keep.clone());
            let backward = layer.backward.as_ref().map(|cell| cell.forward_sequence(sequence.clone(), keep.clone()));
            if i + 1 == self.layers.len() {
                let mut state = cell::last_real_step(forward, &lengths);
                if let Some(b) = backward {
                    // Run backwards, the final state is the one after the first step.
                    let size = b.dims()[2];
                    state = Tensor::cat(vec![state, b.narrow(1, 0, 1).reshape([batch, size])], 1);
                }
                last = Some(state);
            } else {
                sequence = match backward {
                    None => forward,
                    Some(b) => Tensor::cat(vec![forward, b], 2),
                };
                sequence = dropout(&self.dropout, sequence);
            }
        }
        dropout(&self.dropout, last.expect("a recurrent network has at least one layer (checked)"))
    }

    /// The head on the body's output `features` and the catalogue features `side`.
    pub fn head_of(&self, features: Tensor<2>, side: Option<Tensor<2>>) -> Tensor<2> {
        let mut x = match side {
            Some(side) => Tensor::cat(vec![features, dropout(&self.feature_dropout, side)], 1),
            None => features,
        };
        for layer in &self.hidden {
            x = crate::rectifier::relu(layer.forward(x));
        }
        self.head.forward(x)
    }

    /// The width of the body's output (the final state), for a network built to read `side`
    /// catalogue features beside it.
    pub fn feature_width(&self, side: usize) -> usize {
        self.hidden.first().unwrap_or(&self.head).weight.dims()[0] - side
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn sequences(values: Vec<f32>, mask: Vec<f32>, batch: usize, steps: usize) -> Tensor<4> {
        // Channels: one feature, then the mask.
        let mut data = Vec::new();
        for b in 0..batch {
            data.extend_from_slice(&values[b * steps..(b + 1) * steps]);
            data.extend_from_slice(&mask[b * steps..(b + 1) * steps]);
        }
        Tensor::from_data(TensorData::new(data, [batch, 2, 1, steps]), &Device::flex())
    }

    #[test]
    fn the_default_is_the_papers_network() {
        let config: RecurrentConfig = toml::from_str("").unwrap();
        assert_eq!(config, RecurrentConfig::default());
        let table = config.shapes(FeatureShape::Sequence { channels: 3, length: 100 }, 2).unwrap();
        let names: Vec<&str> = table.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[1], "bilstm(32), sequence, dropout 0.1");
        assert_eq!(table[1].shape, FeatureShape::Sequence { channels: 64, length: 100 });
        assert_eq!(table[2].shape, FeatureShape::Vector(64));
        // Keras' count for BiLSTM(32) on 2 features, BiLSTM(32) on 64, Dense(2):
        // 2 * 4 * (32 * (2 + 32) + 32) + 2 * 4 * (32 * (64 + 32) + 32) + 64 * 2 + 2.
        let net = config.init(FeatureShape::Sequence { channels: 3, length: 100 }, 2, &Device::flex()).unwrap();
        assert_eq!(net.num_params(), 2 * 4 * (32 * 34 + 32) + 2 * 4 * (32 * 96 + 32) + 130);
    }

    #[test]
    fn padding_does_not_change_the_output() {
        let device = Device::flex();
        for cell in [CellKind::Lstm, CellKind::Gru] {
            let config = RecurrentConfig {
                cell,
                units: vec![4, 3],
                bidirectional: true,
                dropout: 0.0,
                head_units: vec![],
                feature_dropout: 0.0,
                gate_functions: GateFunctions::default(),
            };
            let net = config.init(FeatureShape::Sequence { channels: 2, length: 6 }, 2, &device).unwrap();
            let x: Vec<f32> =
                Tensor::<1>::random([6], Distribution::Normal(0.0, 1.0), &device).into_data().try_to_vec().unwrap();
            let short = net.forward(sequences(x.clone(), vec![1.0; 6], 1, 6));
            // Same curve with 5 padded steps of junk, batched beside a full-length curve.
            let mut long = x.clone();
            long.extend([9.0, -7.0, 3.0, 8.0, -2.0]);
            long.extend((0..11).map(|i| i as f32 / 10.0));
            let mut mask = vec![1.0; 6];
            mask.extend([0.0; 5]);
            mask.extend([1.0; 11]);
            let padded = net.forward(sequences(long, mask, 2, 11));
            let a = short.into_data().try_to_vec::<f32>().unwrap();
            let b = padded.narrow(0, 0, 1).into_data().try_to_vec::<f32>().unwrap();
            assert!(a.iter().zip(&b).all(|(u, v)| (u - v).abs() < 1e-5), "{cell:?}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn the_fused_kernel_gives_the_step_by_step_network() {
        let device = Device::flex().autodiff();
        let config = RecurrentConfig { units: vec![6, 5], dropout: 0.0, ..Default::default() };
        let net = config.init(FeatureShape::Sequence { channels: 3, length: 9 }, 2, &device).unwrap();
        assert!(net.layers.iter().flat_map(RecurrentLayer::cells).all(MaskedCell::fuses));
        // Four curves, two of them padded at the end.
        let x = Tensor::<3>::random([4, 2, 9], Distribution::Normal(0.0, 1.0), &device);
        let mask: Vec<f32> =
            (0..4).flat_map(|b| (0..9).map(move |t| if t < 9 - 2 * (b % 2) { 1.0 } else { 0.0 })).collect();
        let x = Tensor::cat(vec![x, Tensor::from_data(TensorData::new(mask, [4, 1, 9]), &device)], 1);
        let run = |fused: bool| {
            let body = if fused { net.body_fused(x.clone()) } else { net.body_steps(x.clone()) };
            let out = net.head_of(body, None);
            let grads = out.clone().powi_scalar(2).sum().backward();
            let mut all = vec![out.without_autodiff().into_data().try_to_vec::<f32>().unwrap()];
            for cell in net.layers.iter().flat_map(RecurrentLayer::cells) {
                for p in [cell.input.weight.val(), cell.hidden.weight.val()] {
                    all.push(p.grad(&grads).expect("a gradient").into_data().try_to_vec::<f32>().unwrap());
                }
            }
            all
        };
        let (fused, stepped) = (run(true), run(false));
        for (k, (a, b)) in fused.iter().zip(&stepped).enumerate() {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let worst = a.iter().zip(b).map(|(u, v)| (u - v).abs()).fold(0.0f32, f32::max);
            assert!(worst <= 2e-5 * scale, "output or gradient {k}: differ by {worst} (largest {scale})");
        }
    }

    #[test]
    fn a_one_way_gru_has_keras_parameter_count_and_trains_every_weight() {
        let device = Device::flex().autodiff();
        let config = RecurrentConfig {
            cell: CellKind::Gru,
            units: vec![5],
            bidirectional: false,
            dropout: 0.0,
            feature_dropout: 0.0,
            head_units: vec![],
            gate_functions: GateFunctions::default(),
        };
        let net = config.init(FeatureShape::Sequence { channels: 3, length: 7 }, 1, &device).unwrap();
        // Keras GRU(5, reset_after=True) on 2 features: 3 * (5 * (2 + 5) + 2 * 5); Dense(1): 6.
        assert_eq!(net.num_params(), 3 * (5 * 7 + 10) + 6);
        let x = Tensor::<4>::random([2, 3, 1, 7], Distribution::Normal(0.0, 1.0), &device);
        let mask = Tensor::<4>::ones([2, 1, 1, 7], &device);
        let x = Tensor::cat(vec![x.narrow(1, 0, 2), mask], 1);
        let grads = net.forward(x).sum().backward();
        let first = net.layers[0].forward.input.weight.val().grad(&grads).expect("input weights get a gradient");
        let hidden = net.layers[0].forward.hidden.weight.val().grad(&grads).expect("recurrent weights get a gradient");
        assert!(first.abs().sum().into_scalar::<f32>() > 0.0 && hidden.abs().sum().into_scalar::<f32>() > 0.0);
    }

    #[test]
    fn catalogue_features_join_the_final_state_before_the_dense_layer() {
        let device = Device::flex();
        let config = RecurrentConfig { units: vec![3], bidirectional: true, dropout: 0.0, ..Default::default() };
        let input = FeatureShape::Sequence { channels: 2, length: 5 };
        let table = config.shapes_with_side(input, 2, 1).unwrap();
        assert_eq!(table[2].name, "concatenate 2 catalogue features");
        assert_eq!(table[2].shape, FeatureShape::Vector(8));
        let net = config.init_with_side(input, 2, 1, &device).unwrap();
        // Dense(1) on 6 state values and 2 features.
        assert_eq!(net.head.weight.dims(), [8, 1]);
        let x = sequences(vec![0.3, -0.1, 0.4, 0.2, 0.0], vec![1.0; 5], 1, 5);
        let side = |a: f32, b: f32| Tensor::<2>::from_data(TensorData::new(vec![a, b], [1, 2]), &device);
        let base = net.forward_with_side(x.clone(), Some(side(0.0, 0.0))).into_scalar::<f32>();
        let moved = net.forward_with_side(x, Some(side(1.0, 0.0))).into_scalar::<f32>();
        // The output moves by the dense weight of the first feature, nothing else.
        let w = net.head.weight.val().narrow(0, 6, 1).into_data().try_to_vec::<f32>().unwrap()[0];
        assert!((moved - base - w).abs() < 1e-5, "{moved} - {base} vs {w}");
    }

    #[test]
    fn head_units_put_dense_relu_layers_after_the_features() {
        let device = Device::flex();
        let config = RecurrentConfig {
            units: vec![3],
            bidirectional: true,
            dropout: 0.0,
            head_units: vec![4],
            ..Default::default()
        };
        let input = FeatureShape::Sequence { channels: 2, length: 5 };
        let table = config.shapes_with_side(input, 2, 1).unwrap();
        let rows: Vec<(&str, FeatureShape)> = table.iter().map(|r| (r.name.as_str(), r.shape)).collect();
        assert_eq!(rows[2], ("concatenate 2 catalogue features", FeatureShape::Vector(8)));
        assert_eq!(rows[3], ("dense 4, relu", FeatureShape::Vector(4)));
        assert_eq!(rows[4], ("dense 1", FeatureShape::Vector(1)));
        let net = config.init_with_side(input, 2, 1, &device).unwrap();
        assert_eq!((net.hidden[0].weight.dims(), net.head.weight.dims()), ([8, 4], [4, 1]));
        // The output is head(relu(hidden([state, features]))).
        let x = sequences(vec![0.3, -0.1, 0.4, 0.2, 0.0], vec![1.0; 5], 1, 5);
        let side = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [1, 2]), &device);
        let got = net.forward_with_side(x.clone(), Some(side.clone())).into_scalar::<f32>();
        let plain = RecurrentConfig { head_units: vec![], ..config.clone() };
        // The same network with the identity as its only dense layer: its output is the state.
        let eye = Tensor::<2>::from_data(
            TensorData::new((0..36).map(|k| if k % 7 == 0 { 1.0f32 } else { 0.0 }).collect::<Vec<_>>(), [6, 6]),
            &device,
        );
        let identity = Linear { weight: burn::module::Param::from_tensor(eye), bias: None };
        let bare = Recurrent { hidden: vec![], head: identity, ..net.clone() };
        let state = bare.forward(x);
        let hidden = crate::rectifier::relu(net.hidden[0].forward(Tensor::cat(vec![state, side], 1)));
        let want = net.head.forward(hidden).into_scalar::<f32>();
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        assert!(plain.shapes_with_side(input, 2, 1).unwrap().len() == 4);
        let bad = RecurrentConfig { head_units: vec![0], ..config.clone() };
        assert!(bad.shapes(input, 1).unwrap_err().to_string().starts_with("model.head_units:"));
        // Feature dropout needs features; outside training (no autodiff) it passes them through.
        let dropping = RecurrentConfig { feature_dropout: 0.5, ..config };
        let err = dropping.shapes(input, 1).unwrap_err().to_string();
        assert!(err.starts_with("model.feature_dropout: drops catalogue features, and this run has none"), "{err}");
        let table = dropping.shapes_with_side(input, 2, 1).unwrap();
        assert_eq!(table[2].name, "concatenate 2 catalogue features (dropout 0.5)");
        let net = dropping.init_with_side(input, 2, 1, &device).unwrap();
        let x = sequences(vec![0.3, -0.1, 0.4, 0.2, 0.0], vec![1.0; 5], 1, 5);
        let side = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [1, 2]), &device);
        let a = net.forward_with_side(x.clone(), Some(side.clone())).into_scalar::<f32>();
        let b = net.forward_with_side(x, Some(side)).into_scalar::<f32>();
        assert_eq!(a, b, "no dropout at inference");
    }

    #[test]
    fn images_and_bad_settings_are_refused_by_name() {
        let image = FeatureShape::Image { channels: 1, height: 4, width: 4 };
        let err = RecurrentConfig::default().shapes(image, 2).unwrap_err().to_string();
        assert!(err.starts_with("model.kind: \"recurrent\" needs sequences"), "{err}");
        let seq = FeatureShape::Sequence { channels: 3, length: 8 };
        let bad = RecurrentConfig { units: vec![], ..RecurrentConfig::default() };
        assert!(bad.shapes(seq, 2).unwrap_err().to_string().starts_with("model.units:"));
        let bad = RecurrentConfig { dropout: 1.0, ..RecurrentConfig::default() };
        assert!(bad.shapes(seq, 2).unwrap_err().to_string().starts_with("model.dropout:"));
    }
}
