//! How the trainer's allocator (mimalloc, `#[global_allocator]` in `main.rs`) treats freed
//! memory: kept for the next allocation, never given back to the kernel while the process runs.
//!
//! A training step frees and allocates the same large tensors every time. mimalloc 3 gives
//! memory freed for 1 s back to the kernel (its purge delay), and the next step then takes it
//! again one zeroed page at a time: on a DeepLens step (about 1 s on 2 cores) a tenth of the
//! CPU time went to the kernel zeroing pages (144,852 page faults in a 25 s bench run, 814
//! without purging); the bench step, alternated three times, ran at 68.7, 61.8, 68.6 images/s
//! against 75.1, 89.8, 77.7 without purging. End to end (a short `deeplens_resnet` run, two
//! pairs) the kernel's time fell from 7.6 to 2.2 s and the wall time by 0-6%. The cost: the
//! process holds its peak memory until it ends (peak RSS 329-333 -> 369-382 MB on that run).
//! `MIMALLOC_PURGE_DELAY` in the environment (milliseconds; mimalloc reads it at start) keeps its
//! own say.

// The one place the trainer calls into C: mimalloc's option functions.
#![allow(unsafe_code)]

use std::os::raw::c_int;

/// mimalloc's `mi_option_purge_delay` (the 16th entry of `mi_option_e` in mimalloc 3's
/// `include/mimalloc.h`; the Rust bindings name no constant for it).
const PURGE_DELAY: c_int = 15;

/// Makes mimalloc keep freed memory for the life of the process, unless
/// `MIMALLOC_PURGE_DELAY` is set. Call it before other threads start (mimalloc's option calls
/// are not thread-safe).
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one option of the bundled mimalloc; called before other threads run.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
    }
}

#[cfg(test)]
mod tests {
    // Paths, not imports: the bench includes this file without running its tests.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("skipped: MIMALLOC_PURGE_DELAY is set");
            return;
        }
        // SAFETY: reads one option; the test threads do not set options.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        // mimalloc 3's purge delay is the one option whose default is 1000 (ms).
        assert_eq!(default, 1000, "option {}", super::PURGE_DELAY);
        super::keep_freed_memory();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, -1);
    }
}
