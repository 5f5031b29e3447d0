//! The semantic autoencoder of Aragon-Calvo & Carvajal (2020, MNRAS 498, 3713): a CNN encoder
//! whose last layer gives the physical parameters of a galaxy profile, and a decoder that is not
//! learned but renders that profile ([`renderer`]), so that the latent space is the parameters
//! themselves. Trained without labels: the loss is the mean absolute difference between the
//! rendered and the clean image (the clean image being the profile of the true parameters).
//!
//! The encoder (the paper's by default): conv 32, 32 (3x3, ReLU), max pool; 64, 64, pool;
//! 128, 128, pool; dense 64, 32 (sigmoid); one sigmoid unit per parameter. The sigmoid outputs
//! map to each parameter's `ranges` entry (the paper: scale and ellipticity as they are, the
//! angle over 180 degrees). The paper's Keras code is not public; "same" padding is assumed.

pub mod renderer;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::model::LayerShape;
use crate::sequential::{LayerSpec, Padding, Sequential, SequentialConfig};
use crate::shape::{FeatureShape, ShapeError};
use renderer::{Profile, ProfileRenderer};

fn default_half_span() -> f64 {
    4.0 / 64.0
}

/// `[model]` with `kind = "semantic_autoencoder"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticAutoencoderConfig {
    /// The profile the decoder draws: `exponential` (3 parameters) or `sersic` (4).
    #[serde(default)]
    pub profile: Profile,
    /// Half the width of the decoder's grid, in the scale's unit (the paper: 4/64).
    #[serde(default = "default_half_span")]
    pub half_span: f64,
    /// Convolution widths of the encoder's blocks (two 3x3 convolutions and a 2x2 max pool
    /// each; the paper: [32, 64, 128]).
    #[serde(default = "default_conv_widths")]
    pub conv_widths: Vec<usize>,
    /// Dense sigmoid layers after the convolutions (the paper: [64, 32]).
    #[serde(default = "default_dense_units")]
    pub dense_units: Vec<usize>,
    /// `[low, high]` of each parameter, which the encoder's sigmoid outputs (0 to 1) map to
    /// (default: scale [0, 1], ellipticity [0, 1], angle [0, 180] degrees, Sersic index [0, 10]).
    #[serde(default)]
    pub ranges: Option<Vec<[f64; 2]>>,
}

fn default_conv_widths() -> Vec<usize> {
    vec![32, 64, 128]
}

fn default_dense_units() -> Vec<usize> {
    vec![64, 32]
}

impl Default for SemanticAutoencoderConfig {
    fn default() -> Self {
        Self {
            profile: Profile::Exponential,
            half_span: default_half_span(),
            conv_widths: default_conv_widths(),
            dense_units: default_dense_units(),
            ranges: None,
        }
    }
}

impl SemanticAutoencoderConfig {
    fn ranges(&self) -> Vec<[f64; 2]> {
        self.ranges.clone().unwrap_or_else(|| {
            let mut r = vec![[0.0, 1.0], [0.0, 1.0], [0.0, 180.0]];
            if self.profile == Profile::Sersic {
                r.push([0.0, 10.0]);
            }
            r
        })
    }

    /// The encoder as a sequential network.
    fn encoder(&self) -> SequentialConfig {
        let conv = |channels| LayerSpec::Conv2d {
            channels,
            kernel: 3,
            stride: 1,
            padding: Padding::Same,
            bias: true,
            activation: Some(Activation::Relu),
        };
        let mut layers = Vec::new();
        for &w in &self.conv_widths {
            layers.extend([conv(w), conv(w), LayerSpec::Maxpool { size: 2, stride: None }]);
        }
        layers.push(LayerSpec::Flatten {});
        let dense = |units| LayerSpec::Dense { units, bias: true, activation: Some(Activation::Sigmoid) };
        layers.extend(self.dense_units.iter().map(|&u| dense(u)));
        layers.push(dense(self.profile.parameters()));
        SequentialConfig { layers }
    }

    fn check_settings(&self, input: FeatureShape) -> Result<usize, ShapeError> {
        let setting = |field: &str, problem: String| ShapeError::Setting { field: field.into(), problem };
        let FeatureShape::Image { channels: 1, height, width } = input else {
            return Err(setting(
                "kind",
                format!("\"semantic_autoencoder\" renders one-band images, but the data gives {input}"),
            ));
        };
        if height != width || height < 2 {
            return Err(setting("kind", format!("the renderer draws square images, but the data gives {input}")));
        }
        if !(self.half_span.is_finite() && self.half_span > 0.0) {
            return Err(setting("half_span", format!("must be positive, got {}", self.half_span)));
        }
        let ranges = self.ranges();
        if ranges.len() != self.profile.parameters() {
            return Err(setting(
                "ranges",
                format!("give one [low, high] per parameter: {} for {:?}", self.profile.parameters(), self.profile),
            ));
        }
        if ranges.iter().any(|[lo, hi]| !(lo.is_finite() && hi.is_finite() && lo < hi)) {
            return Err(setting("ranges", format!("each range must be [low, high] with low < high, got {ranges:?}")));
        }
        if self.conv_widths.contains(&0) || self.dense_units.contains(&0) {
            return Err(setting("conv_widths", "widths and units must be at least 1".into()));
        }
        Ok(height)
    }

    /// The shape after every layer of the encoder, then the rendered image.
    pub fn shapes(&self, input: FeatureShape, outputs: usize) -> Result<Vec<LayerShape>, ShapeError> {
        let size = self.check_settings(input)?;
        let encoder = self.encoder();
        let shapes = encoder.shapes(input)?;
        let mut table: Vec<LayerShape> =
            encoder.layers.iter().zip(shapes).map(|(l, s)| LayerShape::new(l.type_name(), s)).collect();
        let p = self.profile.parameters();
        if outputs != p {
            return Err(ShapeError::Setting {
                field: "profile".into(),
                problem: format!(
                    "the {:?} profile has {p} parameters but the data has {outputs} targets",
                    self.profile
                )
                .to_lowercase(),
            });
        }
        // The decoder draws the image from the parameters; the output is the parameters.
        table.push(LayerShape::new(
            format!("decoder: {:?} profile, rendered {size}x{size} (no weights)", self.profile).to_lowercase(),
            FeatureShape::Image { channels: 1, height: size, width: size },
        ));
        table.push(LayerShape::new("parameters", FeatureShape::Vector(p)));
        Ok(table)
    }

    /// Builds the encoder on `device`.
    pub fn init(
        &self,
        input: FeatureShape,
        outputs: usize,
        device: &Device,
    ) -> Result<SemanticAutoencoder, ShapeError> {
        self.shapes(input, outputs)?;
        let size = self.check_settings(input)?;
        let ranges = self.ranges();
        Ok(SemanticAutoencoder {
            encoder: self.encoder().init(input, device)?,
            low: ranges.iter().map(|r| r[0]).collect(),
            width: ranges.iter().map(|r| r[1] - r[0]).collect(),
            renderer: ProfileRenderer { profile: self.profile, size, half_span: self.half_span },
        })
    }
}

/// A built semantic autoencoder.
#[derive(Module, Debug)]
pub struct SemanticAutoencoder {
    /// Image to parameters in [0, 1].
    pub encoder: Sequential,
    /// Each parameter's low end (not a weight).
    #[module(skip)]
    pub low: Vec<f64>,
    /// Each parameter's range (not a weight).
    #[module(skip)]
    pub width: Vec<f64>,
    /// The decoder (no weights).
    #[module(skip)]
    pub renderer: ProfileRenderer,
}

impl SemanticAutoencoder {
    /// The physical parameters of the profiles in `images`.
    ///
    /// # Shapes
    /// - images: `[batch, 1, size, size]`
    /// - output: `[batch, parameters]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let unit = self.encoder.forward_tensor(images); // [batch, parameters] in [0, 1]
        let device = unit.device();
        let p = self.low.len();
        let to_tensor = |v: &[f64]| {
            let values: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::<1>::from_data(burn::tensor::TensorData::new(values, [p]), &device).reshape([1, p])
        };
        unit.mul(to_tensor(&self.width)).add(to_tensor(&self.low))
    }

    /// The paper's loss per image: the mean absolute difference between the profile of the
    /// predicted parameters and the clean image (the profile of the true ones).
    ///
    /// # Shapes
    /// - predicted, truth: `[batch, parameters]`
    /// - output: `[batch]`
    pub fn loss(&self, predicted: Tensor<2>, truth: Tensor<2>) -> Tensor<1> {
        let rendered = self.renderer.render(predicted); // [batch, 1, size, size]
        let clean = self.renderer.render(truth.detach()); // [batch, 1, size, size]
        let [batch, ..] = rendered.dims();
        rendered.sub(clean).abs().reshape([batch as i32, -1]).mean_dim(1).flatten(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn image(side: usize) -> FeatureShape {
        FeatureShape::Image { channels: 1, height: side, width: side }
    }

    #[test]
    fn the_papers_encoder_has_its_layer_table() {
        let config = SemanticAutoencoderConfig::default();
        let table = config.shapes(image(64), 3).unwrap();
        let shapes: Vec<String> = table.iter().map(|r| r.shape.to_string()).collect();
        assert_eq!(
            shapes,
            [
                "[32, 64, 64]",
                "[32, 64, 64]",
                "[32, 32, 32]",
                "[64, 32, 32]",
                "[64, 32, 32]",
                "[64, 16, 16]",
                "[128, 16, 16]",
                "[128, 16, 16]",
                "[128, 8, 8]",
                "[8192]",
                "[64]",
                "[32]",
                "[3]",
                "[1, 64, 64]",
                "[3]"
            ]
        );
        // Weights: six 3x3 convolutions and three dense layers; the decoder has none.
        let convs = 9 * (32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128) + (32 + 32 + 64 + 64 + 128 + 128);
        let dense = 8192 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3;
        let model = config.init(image(64), 3, &Device::flex()).unwrap();
        assert_eq!(model.num_params(), convs + dense);
        let err = config.shapes(FeatureShape::Image { channels: 3, height: 64, width: 64 }, 3).unwrap_err();
        assert!(err.to_string().contains("renders one-band images"), "{err}");
        assert!(config.shapes(image(64), 4).unwrap_err().to_string().contains("has 3 parameters but the data has 4"));
    }

    #[test]
    fn outputs_map_to_their_ranges_and_the_loss_reaches_the_encoder() {
        let device = Device::flex().autodiff();
        let config = SemanticAutoencoderConfig { conv_widths: vec![4], dense_units: vec![8], ..Default::default() };
        let model = config.init(image(16), 3, &device).unwrap();
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Default, &device);
        let params = model.forward(x);
        let values = params.clone().into_data().try_to_vec::<f32>().unwrap();
        assert!(values.chunks(3).all(|p| (0.0..=1.0).contains(&p[0]) && (0.0..=180.0).contains(&p[2])), "{values:?}");
        let truth =
            Tensor::<2>::from_data(TensorData::new(vec![0.03f32, 0.5, 40.0, 0.02, 0.3, 120.0], [2, 3]), &device);
        let loss = model.loss(params, truth.clone());
        assert_eq!(loss.dims(), [2]);
        let grads = loss.mean().backward();
        let first = match &model.encoder.layers[0] {
            crate::sequential::network::Layer::Conv2d(c) => c.weight.val(),
            other => panic!("{other:?}"),
        };
        let grad = first.grad(&grads).expect("the loss reaches the first convolution");
        assert!(grad.abs().sum().into_scalar::<f32>() > 0.0);
        // The true parameters render the clean image: zero loss.
        let zero = model.loss(truth.clone(), truth).into_data().try_to_vec::<f32>().unwrap();
        assert!(zero.iter().all(|v| v.abs() < 1e-7), "{zero:?}");
    }
}
