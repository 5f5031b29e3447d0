//! The semantic autoencoder's decoder: an analytic galaxy profile drawn from its parameters on
//! tensors, differentiably and without trainable weights (Aragon-Calvo & Carvajal 2020). It draws
//! exactly what crate `sim`'s `profile` module draws on plain arrays: `exp(-r^(1/n))` with
//! `r = sqrt((x'/a)^2 + (y'/b)^2)`, `b = a (1 - e)`, sampled at pixel centres on
//! `linspace(-half_span, half_span, size)`.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The profile drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// `exp(-r)`: parameters (scale, ellipticity, angle in degrees).
    #[default]
    Exponential,
    /// `exp(-r^(1/n))`: parameters (scale, ellipticity, angle in degrees, index n).
    Sersic,
}

impl Profile {
    /// The number of parameters it takes.
    pub fn parameters(self) -> usize {
        match self {
            Profile::Exponential => 3,
            Profile::Sersic => 4,
        }
    }
}

/// Keeps `r` away from 0, where the square root's gradient is infinite.
const R2_FLOOR: f64 = 1e-12;

/// Draws profiles on a `size` x `size` grid spanning `[-half_span, half_span]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileRenderer {
    /// The profile.
    pub profile: Profile,
    /// Pixels per side.
    pub size: usize,
    /// Half the width of the grid, in the parameters' length unit.
    pub half_span: f64,
}

impl ProfileRenderer {
    /// The grid coordinates, as `[1, 1, size]` (columns: x) on the device of `like`.
    fn axis(&self, like: &Tensor<2>) -> Tensor<3> {
        let n = self.size;
        let h = self.half_span;
        let values: Vec<f32> = (0..n).map(|i| (-h + 2.0 * h * i as f64 / (n - 1).max(1) as f64) as f32).collect();
        Tensor::<1>::from_data(TensorData::new(values, [n]), &like.device()).reshape([1, 1, n])
    }

    /// Images of the profiles of `params`.
    ///
    /// # Shapes
    /// - params: `[batch, parameters]`: scale, ellipticity, angle (degrees)[, Sersic index]
    /// - output: `[batch, 1, size, size]`
    pub fn render(&self, params: Tensor<2>) -> Tensor<4> {
        let [batch, _] = params.dims();
        let n = self.size;
        let column = |k: usize| params.clone().narrow(1, k, 1).reshape([batch, 1, 1]); // [batch, 1, 1]
        let (a, e) = (column(0), column(1));
        let theta = column(2).mul_scalar(std::f64::consts::PI / 180.0);
        let (sin, cos) = (theta.clone().sin(), theta.cos());
        let x = self.axis(&params); // [1, 1, n]: varies along columns
        let y = x.clone().reshape([1, n, 1]); // [1, n, 1]: varies along rows
        let u = x.clone().mul(cos.clone()).add(y.clone().mul(sin.clone())); // [batch, n, n]
        let v = y.mul(cos).sub(x.mul(sin)); // [batch, n, n]
        let b = a.clone().mul(e.neg().add_scalar(1.0)); // [batch, 1, 1]
        let r2 = u.div(a).powi_scalar(2).add(v.div(b).powi_scalar(2)).add_scalar(R2_FLOOR);
        let image = match self.profile {
            Profile::Exponential => r2.sqrt().neg().exp(),
            Profile::Sersic => {
                // r^(1/n) = exp(ln(r^2) / (2 n)).
                let index = column(3);
                r2.log().div(index.mul_scalar(2.0)).exp().neg().exp()
            }
        };
        image.reshape([batch, 1, n, n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn the_profile_is_one_at_the_centre_and_one_over_e_at_a_scale_length() {
        // 65 pixels over [-1, 1]: the centre pixel is the origin, a pixel is 1/32.
        let renderer = ProfileRenderer { profile: Profile::Exponential, size: 65, half_span: 1.0 };
        let device = Device::flex();
        let params = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.5, 90.0], [1, 3]), &device);
        let image = renderer.render(params).into_data().try_to_vec::<f32>().unwrap();
        let at = |col: usize, row: usize| f64::from(image[row * 65 + col]);
        assert!((at(32, 32) - 1.0).abs() < 1e-5);
        // Major axis along +y at 90 degrees: a = 0.25 = 8 pixels; minor b = 0.125 = 4 pixels.
        assert!((at(32, 40) - (-1f64).exp()).abs() < 1e-5, "{}", at(32, 40));
        assert!((at(36, 32) - (-1f64).exp()).abs() < 1e-5, "{}", at(36, 32));
        let sersic = ProfileRenderer { profile: Profile::Sersic, ..renderer };
        let params = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.0, 0.0, 2.0], [1, 4]), &device);
        let image = sersic.render(params).into_data().try_to_vec::<f32>().unwrap();
        // r = 4 scale lengths: exp(-4^(1/2)).
        assert!((f64::from(image[64 * 65 + 32]) - (-2f64).exp()).abs() < 1e-5);
    }
}
