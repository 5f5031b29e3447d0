//! A small, fast, reproducible random number generator for simulators.
//!
//! `xoshiro256++` (Blackman & Vigna 2019) seeded through SplitMix64 from `(seed, stream, index)`,
//! so that sample `index` of a data set is the same on every machine, in every thread order and
//! in every version of this crate. We keep the generator here rather than use `rand` so that the
//! stream never changes under us when a dependency is upgraded.

use crate::special::ln_gamma;

/// Random numbers for one simulated sample.
#[derive(Debug, Clone)]
pub struct SampleRng {
    state: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SampleRng {
    /// The generator for sample `index` of the data set seeded by `seed`; `stream` separates
    /// independent uses (e.g. parameters vs. noise) of the same sample.
    pub fn for_sample(seed: u64, stream: u64, index: u64) -> Self {
        let mut x = seed;
        let a = splitmix64(&mut x);
        let mut x = a ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let b = splitmix64(&mut x);
        let mut x = b ^ index.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
        let state = [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)];
        Self { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in [lo, hi), both positive.
    pub fn log_uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.uniform()).exp()
    }

    /// Standard normal (Box-Muller; one of the pair is discarded to keep the stream simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Poisson deviate of mean `lambda` (0 for `lambda <= 0`). Knuth's product method below
    /// 30, Hoermann's PTRS transformed rejection above (the algorithm numpy uses).
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda <= 0.0 {
            return 0.0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut k = 0.0;
            let mut p = self.uniform();
            while p > limit {
                k += 1.0;
                p *= self.uniform();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            // Only here are the logarithms needed (most draws return above).
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln() <= -lambda + k * lambda.ln() - ln_gamma(k + 1.0) {
                return k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn same_seed_and_index_give_the_same_stream() {
        let mut a = SampleRng::for_sample(7, 0, 123);
        let mut b = SampleRng::for_sample(7, 0, 123);
        let mut c = SampleRng::for_sample(7, 0, 124);
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn uniform_and_normal_have_the_right_moments() {
        let mut rng = SampleRng::for_sample(1, 2, 3);
        let u: Vec<f64> = (0..200_000).map(|_| rng.uniform()).collect();
        let (m, v) = mean_var(&u);
        assert!((m - 0.5).abs() < 0.005, "uniform mean {m}");
        assert!((v - 1.0 / 12.0).abs() < 0.002, "uniform variance {v}");
        let z: Vec<f64> = (0..200_000).map(|_| rng.normal()).collect();
        let (m, v) = mean_var(&z);
        assert!(m.abs() < 0.01, "normal mean {m}");
        assert!((v - 1.0).abs() < 0.01, "normal variance {v}");
    }

    #[test]
    fn poisson_mean_and_variance_equal_lambda_in_both_regimes() {
        let mut rng = SampleRng::for_sample(5, 0, 0);
        for lambda in [0.5, 4.0, 29.0, 31.0, 250.0, 10_000.0] {
            let xs: Vec<f64> = (0..100_000).map(|_| rng.poisson(lambda)).collect();
            let (m, v) = mean_var(&xs);
            // Standard error of the mean is sqrt(lambda / n); allow 5 of them.
            let tol = 5.0 * (lambda / 100_000.0).sqrt();
            assert!((m - lambda).abs() < tol, "lambda {lambda}: mean {m}");
            assert!((v / lambda - 1.0).abs() < 0.03, "lambda {lambda}: variance {v}");
            assert!(xs.iter().all(|x| *x >= 0.0 && x.fract() == 0.0));
        }
    }
}
