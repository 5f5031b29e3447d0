//! Peak heap memory of each benchmark row: before criterion times a row, the bench runs its
//! first few steps with the global allocator counting ([`peak_of`]) and writes the most bytes
//! they held above what was held before them (the model and its batch are left out; a training
//! row's optimiser state, made in its first step, is counted) beside criterion's results, where
//! `cargo xtask bench` reads it. While criterion times, the allocator only checks one flag, so
//! counting does not slow the timed steps. It sees what Rust allocates: the CPU backends'
//! tensors; LibTorch's and GPU memory are not seen, and those rows record nothing.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use mimalloc::MiMalloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started (frees of older memory count too).
static HELD: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// The trainer's allocator (mimalloc), counting the bytes held and their peak while [`peak_of`] runs.
pub struct Counting;

fn change(bytes: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        let now = HELD.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call goes to mimalloc with the caller's own arguments; the counters
// are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract for `alloc`.
        let p = unsafe { MiMalloc.alloc(layout) };
        if !p.is_null() {
            change(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract for `alloc_zeroed`.
        let p = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            change(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller's contract for `dealloc`.
        unsafe { MiMalloc.dealloc(ptr, layout) };
        change(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller's contract for `realloc`.
        let p = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            change(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Steps run to measure a row's peak.
const STEPS: usize = 3;

/// The most bytes held above the start while `step` runs [`STEPS`] times.
pub fn peak_of(mut step: impl FnMut()) -> usize {
    HELD.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..STEPS {
        step();
    }
    COUNTING.store(false, Ordering::SeqCst);
    PEAK.load(Ordering::SeqCst).max(0) as usize
}

/// Writes a row's peak, in bytes, to `criterion/<group>/<bench>/peak_heap_bytes` (criterion's
/// own folder naming: `/` in a bench's name becomes `_`).
pub fn record(group: &str, bench: &str, peak: usize) {
    let dir = criterion_dir().join(group).join(bench.replace('/', "_"));
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("peak_heap_bytes"), format!("{peak}\n"));
    }
}

/// Criterion's results folder: `CARGO_TARGET_DIR/criterion`, else beside the bench binary
/// (`<target>/release/deps/train_step-*`: `<target>/criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("criterion");
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors().nth(3).map_or_else(|| PathBuf::from("target"), PathBuf::from).join("criterion")
}
