//! An in-memory cache of prepared images as bytes (value x 255, like an 8-bit image file), so
//! that sources which render or decode slowly pay for each image once, not once per epoch.

use std::sync::{Arc, OnceLock};

/// One slot per item of a split; empty when caching is off.
#[derive(Debug, Clone, Default)]
pub struct ByteCache(Option<Arc<Vec<OnceLock<Vec<u8>>>>>);

impl ByteCache {
    /// A cache for `len` items, or none if `enabled` is false.
    pub fn new(len: usize, enabled: bool) -> Self {
        Self(enabled.then(|| Arc::new((0..len).map(|_| OnceLock::new()).collect())))
    }

    /// The pixels of item `index`: from the cache (to 8 bits), or made by `make` (and kept).
    pub fn get_or_make<E>(&self, index: usize, make: impl FnOnce() -> Result<Vec<f32>, E>) -> Result<Vec<f32>, E> {
        let Some(slots) = &self.0 else { return make() };
        if let Some(bytes) = slots[index].get() {
            return Ok(to_floats(bytes));
        }
        let pixels = make()?;
        let bytes =
            slots[index].get_or_init(|| pixels.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect());
        Ok(to_floats(bytes))
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
}
