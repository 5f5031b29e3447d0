//! Peak heap memory of each benchmark row: the bench's global allocator counts the bytes held,
//! [`PeakMemory::start`] marks a row's start, and [`PeakMemory::record`] writes the most held
//! above that start (the model, its batch and its optimiser already held before the row are
//! left out) at the end of its steps, beside criterion's results, where `cargo xtask bench` reads it. It sees what
//! Rust allocates: the CPU backends' tensors; LibTorch's and GPU memory are not seen, and those
//! rows record nothing.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes held and their peak.
pub struct Counting;

fn grow(bytes: usize) {
    let now = HELD.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call goes to the system allocator with the caller's own arguments; the counters
// are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract for `alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract for `alloc_zeroed`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller's contract for `dealloc`.
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller's contract for `realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HELD.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        p
    }
}

/// One row's measurement.
pub struct PeakMemory {
    at_start: usize,
    /// The peak seen at the end of the row's last step so far (criterion's own analysis after
    /// the steps is left out).
    seen: Cell<usize>,
}

impl PeakMemory {
    /// Starts a row: the peak restarts from what is held now.
    pub fn start() -> Self {
        let at_start = HELD.load(Ordering::Relaxed);
        PEAK.store(at_start, Ordering::Relaxed);
        Self { at_start, seen: Cell::new(at_start) }
    }

    /// Called at the end of every step of the row.
    pub fn mark(&self) {
        self.seen.set(PEAK.load(Ordering::Relaxed));
    }

    /// Writes the row's peak above its start, in bytes, to
    /// `criterion/<group>/<bench>/peak_heap_bytes` (criterion's own folder naming: `/` in a
    /// bench's name becomes `_`), when a step ran (a row that criterion's filter left out writes
    /// nothing).
    pub fn record(self, group: &str, bench: &str) {
        let peak = self.seen.get().saturating_sub(self.at_start);
        if peak == 0 {
            return;
        }
        let dir = criterion_dir().join(group).join(bench.replace('/', "_"));
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join("peak_heap_bytes"), format!("{peak}\n"));
        }
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
