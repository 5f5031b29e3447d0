//! In-memory caches of prepared images, so that sources which render or decode slowly pay for
//! each image once, not once per epoch: [`ByteCache`] keeps bytes (value x 255, like an 8-bit
//! image file) for values in [0, 1]; [`FloatCache`] keeps the `f32` values themselves, for
//! images on other scales (4 bytes a value).

use std::sync::{Arc, OnceLock};

/// The sources' `cache` setting when a config leaves it out: on.
pub(crate) fn on_by_default() -> bool {
    true
}

/// One slot per item of a split, each holding what is kept of its values; empty when caching is
/// off.
#[derive(Debug, Clone, Default)]
struct Slots<T>(Option<Arc<Vec<OnceLock<T>>>>);

impl<T> Slots<T> {
    fn new(len: usize, enabled: bool) -> Self {
        Self(enabled.then(|| Arc::new((0..len).map(|_| OnceLock::new()).collect())))
    }

    /// The values of item `index` as `read` gives them back from what `keep` kept, made by `make`
    /// the first time (and every time when caching is off, unchanged).
    fn get_or_make<E>(
        &self,
        index: usize,
        make: impl FnOnce() -> Result<Vec<f32>, E>,
        keep: impl FnOnce(Vec<f32>) -> T,
        read: impl Fn(&T) -> Vec<f32>,
    ) -> Result<Vec<f32>, E> {
        let Some(slots) = &self.0 else { return make() };
        if let Some(kept) = slots[index].get() {
            return Ok(read(kept));
        }
        let values = make()?;
        Ok(read(slots[index].get_or_init(|| keep(values))))
    }
}

/// Pixels in [0, 1] kept as bytes; empty when caching is off.
#[derive(Debug, Clone, Default)]
pub struct ByteCache(Slots<Vec<u8>>);

impl ByteCache {
    /// A cache for `len` items, or none if `enabled` is false.
    pub fn new(len: usize, enabled: bool) -> Self {
        Self(Slots::new(len, enabled))
    }

    /// The pixels of item `index`: from the cache (to 8 bits), or made by `make` (and kept).
    pub fn get_or_make<E>(&self, index: usize, make: impl FnOnce() -> Result<Vec<f32>, E>) -> Result<Vec<f32>, E> {
        let to_bytes = |pixels: Vec<f32>| pixels.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        self.0.get_or_make(index, make, to_bytes, |bytes: &Vec<u8>| to_floats(bytes))
    }
}

/// Values kept exactly as `f32`; empty when caching is off.
#[derive(Debug, Clone, Default)]
pub struct FloatCache(Slots<Vec<f32>>);

impl FloatCache {
    /// A cache for `len` items, or none if `enabled` is false.
    pub fn new(len: usize, enabled: bool) -> Self {
        Self(Slots::new(len, enabled))
    }

    /// The values of item `index`: from the cache, or made by `make` (and kept).
    pub fn get_or_make<E>(&self, index: usize, make: impl FnOnce() -> Result<Vec<f32>, E>) -> Result<Vec<f32>, E> {
        self.0.get_or_make(index, make, |values| values, Vec::clone)
    }
}

fn to_floats(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| f32::from(b) / 255.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_pixels_are_made_once_and_rounded_to_bytes() {
        let cache = ByteCache::new(2, true);
        let mut calls = 0;
        let mut make = || {
            calls += 1;
            Ok::<_, ()>(vec![0.5, 1.2])
        };
        let a = cache.get_or_make(1, &mut make).unwrap();
        let b = cache.get_or_make(1, &mut make).unwrap();
        assert_eq!(calls, 1);
        assert_eq!(a, b);
        assert_eq!(a, [128.0 / 255.0, 1.0]);
        let off = ByteCache::new(2, false);
        assert_eq!(off.get_or_make(0, || Ok::<_, ()>(vec![0.3])).unwrap(), [0.3]);
    }

    #[test]
    fn float_cache_makes_values_once_and_keeps_them_exactly() {
        let cache = FloatCache::new(3, true);
        let mut calls = 0;
        let mut make = || {
            calls += 1;
            Ok::<_, ()>(vec![-0.07, 1.2, 1e-9])
        };
        let a = cache.get_or_make(2, &mut make).unwrap();
        let b = cache.get_or_make(2, &mut make).unwrap();
        assert_eq!(calls, 1);
        assert_eq!(a, b);
        assert_eq!(a, [-0.07, 1.2, 1e-9]);
        assert_eq!(cache.get_or_make(0, || Err::<Vec<f32>, _>("failed")), Err("failed"));
        assert_eq!(cache.get_or_make(0, || Ok::<_, ()>(vec![0.5])).unwrap(), [0.5], "a failure is not kept");
        let off = FloatCache::new(2, false);
        let mut calls = 0;
        for _ in 0..2 {
            off.get_or_make(0, || {
                calls += 1;
                Ok::<_, ()>(vec![0.3])
            })
            .unwrap();
        }
        assert_eq!(calls, 2);
    }
}
