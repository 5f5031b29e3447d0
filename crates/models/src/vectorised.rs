//! Runs a host kernel compiled for the CPU's vector instructions: AVX-512 or AVX2 with FMA where
//! the CPU has them (chosen at run time, so the binary stays portable), as it is elsewhere. A
//! kernel is plain loops written for the compiler to vectorise (the fused LSTM's rows) or
//! written on [`Tile`]s of 16 values, which are one AVX-512 register, two AVX2 registers or an
//! array elsewhere (the direct convolution's, where the compiler's own vectorisation of such
//! loops kept its sums in memory or gathered across tiles).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256, __m512, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Values in a [`Tile`].
pub(crate) const TILE: usize = 16;

/// 16 `f32` values in vector registers, as [`vectorised`] compiled the kernel for.
pub(crate) trait Tile: Copy {
    /// Tiles the CPU's vector registers hold (32 AVX-512 registers; 16 AVX2 ones hold 8 tiles),
    /// for kernels that size their blocks of sums by them.
    const REGISTERS: usize;

    /// All zeros.
    fn zero() -> Self;
    /// Every value `value`.
    fn splat(value: f32) -> Self;
    /// The values of `values`.
    fn load(values: &[f32; TILE]) -> Self;
    /// `self + a * b`, value by value (one fused multiply-add where the CPU has them).
    fn add_product(self, a: Self, b: Self) -> Self;
    /// Writes the values into `out`.
    fn store(self, out: &mut [f32; TILE]);
}

/// A kernel run by [`vectorised`].
pub(crate) trait Kernel {
    /// What the kernel gives back.
    type Output;

    /// Runs the kernel (inlined into [`vectorised`]'s instances, so compiled with their
    /// features), on tiles of type `T`.
    fn run<T: Tile>(self) -> Self::Output;
}

/// Runs `kernel` compiled for AVX-512, or AVX2 and FMA, where the CPU has them (loops vectorise
/// 16 or 8 wide), as it is elsewhere.
#[allow(unsafe_code)]
pub(crate) fn vectorised<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn with_avx512<K: Kernel>(kernel: K) -> K::Output {
            kernel.run::<Avx512>()
        }
        #[target_feature(enable = "avx2,fma")]
        fn with_avx2<K: Kernel>(kernel: K) -> K::Output {
            kernel.run::<Avx2>()
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features (checked).
            return unsafe { with_avx512(kernel) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { with_avx2(kernel) };
        }
    }
    kernel.run::<Portable>()
}

/// Runs `f`, plain loops written for the compiler to vectorise, compiled as [`vectorised`]
/// compiles a kernel (16 values an instruction with AVX-512, 8 with AVX2, 4 on the baseline).
/// Products and sums stay as written (Rust fuses none into multiply-adds), so every
/// instruction set gives the same values. `f` is compiled with those instructions only where it
/// is inlined into the three instances, which the compiler does for short loops (the
/// element-wise passes'); a longer one should be a [`Kernel`] with an `#[inline(always)]` `run`.
pub(crate) fn vectorised_loop<R>(f: impl FnOnce() -> R) -> R {
    /// `f` as a kernel (the tile type unused: the compiler vectorises the loops itself).
    struct Loop<F>(F);

    impl<R, F: FnOnce() -> R> Kernel for Loop<F> {
        type Output = R;

        #[inline(always)]
        fn run<T: Tile>(self) -> R {
            (self.0)()
        }
    }
    vectorised(Loop(f))
}

/// A tile as an array (loops the compiler may vectorise for the target's baseline).
#[derive(Debug, Clone, Copy)]
struct Portable([f32; TILE]);

impl Tile for Portable {
    /// As many as AVX2's (the compiler's own vectorisation of the arrays keeps few in registers).
    const REGISTERS: usize = 8;

    #[inline(always)]
    fn zero() -> Self {
        Portable([0.0; TILE])
    }

    #[inline(always)]
    fn splat(value: f32) -> Self {
        Portable([value; TILE])
    }

    #[inline(always)]
    fn load(values: &[f32; TILE]) -> Self {
        Portable(*values)
    }

    #[inline(always)]
    fn add_product(self, a: Self, b: Self) -> Self {
        // A product and a sum: `mul_add` is a library call on the baseline x86-64 target.
        Portable(std::array::from_fn(|t| self.0[t] + a.0[t] * b.0[t]))
    }

    #[inline(always)]
    fn store(self, out: &mut [f32; TILE]) {
        *out = self.0;
    }
}

// The two x86-64 tiles are private to this module, and only `vectorised` runs kernels with
// them, after checking that the CPU has their instructions: that check is what makes their
// intrinsics sound. Their methods are inlined into `vectorised`'s instances, which enable the
// features, so the intrinsics compile to single instructions there.

/// A tile as one AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Avx512(__m512);

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
impl Tile for Avx512 {
    const REGISTERS: usize = 32;

    #[inline(always)]
    fn zero() -> Self {
        // SAFETY: AVX-512F is present (see above).
        Avx512(unsafe { _mm512_setzero_ps() })
    }

    #[inline(always)]
    fn splat(value: f32) -> Self {
        // SAFETY: as above.
        Avx512(unsafe { _mm512_set1_ps(value) })
    }

    #[inline(always)]
    fn load(values: &[f32; TILE]) -> Self {
        // SAFETY: as above; the array holds the 16 values read.
        Avx512(unsafe { _mm512_loadu_ps(values.as_ptr()) })
    }

    #[inline(always)]
    fn add_product(self, a: Self, b: Self) -> Self {
        // SAFETY: as above.
        Avx512(unsafe { _mm512_fmadd_ps(a.0, b.0, self.0) })
    }

    #[inline(always)]
    fn store(self, out: &mut [f32; TILE]) {
        // SAFETY: as above; the array holds the 16 values written.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), self.0) }
    }
}

/// A tile as two AVX2 registers.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Avx2([__m256; 2]);

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
impl Tile for Avx2 {
    const REGISTERS: usize = 8;

    #[inline(always)]
    fn zero() -> Self {
        // SAFETY: AVX2 and FMA are present (see above).
        Avx2(unsafe { [_mm256_setzero_ps(); 2] })
    }

    #[inline(always)]
    fn splat(value: f32) -> Self {
        // SAFETY: as above.
        Avx2(unsafe { [_mm256_set1_ps(value); 2] })
    }

    #[inline(always)]
    fn load(values: &[f32; TILE]) -> Self {
        // SAFETY: as above; the array holds the 16 values read, 8 from each half.
        Avx2(unsafe { [_mm256_loadu_ps(values.as_ptr()), _mm256_loadu_ps(values[8..].as_ptr())] })
    }

    #[inline(always)]
    fn add_product(self, a: Self, b: Self) -> Self {
        // SAFETY: as above.
        Avx2(unsafe { [_mm256_fmadd_ps(a.0[0], b.0[0], self.0[0]), _mm256_fmadd_ps(a.0[1], b.0[1], self.0[1])] })
    }

    #[inline(always)]
    fn store(self, out: &mut [f32; TILE]) {
        // SAFETY: as above; the array holds the 16 values written, 8 from each half.
        unsafe {
            _mm256_storeu_ps(out.as_mut_ptr(), self.0[0]);
            _mm256_storeu_ps(out[8..].as_mut_ptr(), self.0[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `zero + a * 2.5 + c * a` through every operation of a tile type, stored.
    #[inline(always)]
    fn exercise<T: Tile>(a: &[f32; TILE], c: &[f32; TILE]) -> [f32; TILE] {
        let a = T::load(a);
        let sum = T::zero().add_product(a, T::splat(2.5)).add_product(T::load(c), a);
        let mut out = [f32::NAN; TILE];
        sum.store(&mut out);
        out
    }

    #[test]
    #[allow(unsafe_code)]
    fn every_tile_type_computes_the_same_values() {
        let a: [f32; TILE] = std::array::from_fn(|t| t as f32 * 0.37 - 2.0);
        let c: [f32; TILE] = std::array::from_fn(|t| 1.5 - t as f32 * 0.11);
        let expected: [f32; TILE] = std::array::from_fn(|t| a[t] * 2.5 + c[t] * a[t]);
        let mut results = vec![("portable", exercise::<Portable>(&a, &c))];
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn on_avx512(a: &[f32; TILE], c: &[f32; TILE]) -> [f32; TILE] {
                exercise::<Avx512>(a, c)
            }
            #[target_feature(enable = "avx2,fma")]
            fn on_avx2(a: &[f32; TILE], c: &[f32; TILE]) -> [f32; TILE] {
                exercise::<Avx2>(a, c)
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features (checked).
                results.push(("avx512", unsafe { on_avx512(&a, &c) }));
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                results.push(("avx2", unsafe { on_avx2(&a, &c) }));
            }
        }
        for (name, values) in results {
            for (value, want) in values.iter().zip(&expected) {
                assert!((value - want).abs() <= 1e-5 * want.abs().max(1.0), "{name}: {value} against {want}");
            }
        }
    }
}
