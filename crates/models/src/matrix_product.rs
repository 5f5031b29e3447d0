//! One checked call into `gemm` (the matrix product `flex` itself uses) for matrices held in
//! plain slices with any strides: the host kernels' products (the fused LSTM's, the unfolded
//! convolutions') go through [`matmul`], which checks that each matrix lies inside its slice
//! before the one `unsafe` call.

/// A matrix inside a slice: element `(r, c)` at `r rows + c columns`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strided<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) columns: usize,
}

impl Strided<'_> {
    /// Whether an `m x n` matrix fits in the slice with these strides.
    fn holds(&self, [m, n]: [usize; 2]) -> bool {
        fits(self.values.len(), [m, n], [self.rows, self.columns])
    }
}

/// Whether an `m x n` matrix with strides `[rows, columns]` fits in `len` values.
fn fits(len: usize, [m, n]: [usize; 2], [rows, columns]: [usize; 2]) -> bool {
    m == 0 || n == 0 || (m - 1) * rows + (n - 1) * columns < len
}

/// Which threads a product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// The calling thread (inside a task of its own).
    This,
    /// All of rayon's (a large product).
    All,
}

/// `out = lhs rhs` (`out += lhs rhs` when `accumulate`) for `lhs` `m x k`, `rhs` `k x n` and
/// `out` `m x n` with strides `out_strides`, through `gemm` (as `flex`'s products): the one call
/// into it, after checking that every matrix lies inside its slice.
///
/// # Panics
/// If a matrix does not fit in its slice.
#[allow(unsafe_code)]
pub(crate) fn matmul(
    lhs: Strided,
    rhs: Strided,
    out: &mut [f32],
    [m, k, n]: [usize; 3],
    out_strides: [usize; 2],
    accumulate: bool,
    threads: Threads,
) {
    let parallelism = match threads {
        Threads::This => gemm::Parallelism::None,
        Threads::All => gemm::Parallelism::Rayon(rayon::current_num_threads()),
    };
    assert!(lhs.holds([m, k]) && rhs.holds([k, n]) && fits(out.len(), [m, n], out_strides), "matrix outside its slice");
    let stride = |s: usize| s as isize;
    // SAFETY: each matrix lies inside its slice (checked above); `out` is borrowed mutably, so it
    // overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            stride(out_strides[1]),
            stride(out_strides[0]),
            accumulate,
            lhs.values.as_ptr(),
            stride(lhs.columns),
            stride(lhs.rows),
            rhs.values.as_ptr(),
            stride(rhs.columns),
            stride(rhs.rows),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
