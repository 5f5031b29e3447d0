//! A small safe wrapper around the CFITSIO calls the FITS image reader needs (open a file or bytes
//! read-only, count and move between HDUs, read an image's axes and pixels with a null value).
//! CFITSIO is compiled from the source `fitsio-sys` bundles, with `--enable-reentrant`, so files
//! opened on different threads do not interfere. This is the project's only `unsafe` code: each
//! call passes pointers that live for the call, and the file handle is closed on drop.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::Path;

use fitsio_sys as sys;

/// CFITSIO's read-only mode.
const READONLY: c_int = 0;
/// `ffmahd`'s HDU types.
const IMAGE_HDU: c_int = 0;
const ASCII_TBL: c_int = 1;
/// BITPIX of 32-bit float images.
const FLOAT_IMG: c_int = -32;

/// What an HDU holds, as CFITSIO reports it (a tile-compressed image is an image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HduKind {
    /// The primary array, an IMAGE extension or a tile-compressed image.
    Image,
    /// An ASCII `TABLE` extension.
    AsciiTable,
    /// A `BINTABLE` extension that is not a compressed image.
    BinaryTable,
}

/// Bytes CFITSIO reads as a file: the bytes, and the pointer/size pair whose addresses it keeps.
struct Memory {
    bytes: Vec<u8>,
    _location: Box<(*mut c_void, usize)>,
}

/// An open FITS file (read-only), closed on drop.
pub struct Fits {
    ptr: *mut sys::fitsfile,
    /// For files opened from memory: what must outlive the handle.
    memory: Option<Memory>,
}

/// CFITSIO's text for a status code.
fn status_text(status: c_int) -> String {
    let mut text = [0 as c_char; 31];
    // SAFETY: ffgerr writes at most 30 characters and a NUL into the 31-byte buffer.
    unsafe { sys::ffgerr(status, text.as_mut_ptr()) };
    let bytes: Vec<u8> = text.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    format!("{} (CFITSIO status {status})", String::from_utf8_lossy(&bytes).trim())
}

fn check(status: c_int, doing: &str) -> Result<(), String> {
    if status == 0 { Ok(()) } else { Err(format!("{doing}: {}", status_text(status))) }
}

impl Fits {
    /// Opens a file on disk by its plain name (CFITSIO's extended filename syntax is off, so
    /// brackets in a name are characters); gzip-compressed files are read through.
    pub fn open(path: &Path) -> Result<Self, String> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| "the path contains a NUL byte".to_string())?;
        let mut ptr = std::ptr::null_mut();
        let mut status = 0;
        // SAFETY: `name` is a NUL-terminated string alive for the call; `ptr` receives the handle.
        unsafe { sys::ffdkopn(&mut ptr, name.as_ptr(), READONLY, &mut status) };
        check(status, "cannot open it as FITS")?;
        Ok(Self { ptr, memory: None })
    }

    /// Opens FITS bytes held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut data = bytes.to_vec();
        let mut memory = Box::new((data.as_mut_ptr().cast::<c_void>(), data.len()));
        let name = CString::new("memory.fits").expect("no NUL");
        let mut ptr = std::ptr::null_mut();
        let mut status = 0;
        // SAFETY: CFITSIO keeps the addresses of the boxed pointer and size, which live in
        // `memory` as long as the handle; read-only with no realloc function, it never writes
        // the buffer or resizes it.
        unsafe {
            let (buffer, size) = &mut *memory;
            sys::ffomem(&mut ptr, name.as_ptr(), READONLY, buffer, size, 0, None, &mut status);
        }
        check(status, "cannot open it as FITS")?;
        Ok(Self { ptr, memory: Some(Memory { bytes: data, _location: memory }) })
    }

    /// The number of HDUs.
    pub fn hdu_count(&mut self) -> Result<usize, String> {
        let (mut n, mut status) = (0, 0);
        // SAFETY: `self.ptr` is an open handle; the outputs are locals.
        unsafe { sys::ffthdu(self.ptr, &mut n, &mut status) };
        check(status, "cannot count its HDUs")?;
        Ok(n.max(0) as usize)
    }

    /// Moves to HDU `index` (0 = primary) and says what it holds.
    pub fn select(&mut self, index: usize) -> Result<HduKind, String> {
        let number = c_int::try_from(index + 1).map_err(|_| format!("HDU {index} is out of range"))?;
        let (mut kind, mut status) = (0, 0);
        // SAFETY: as above.
        unsafe { sys::ffmahd(self.ptr, number, &mut kind, &mut status) };
        check(status, &format!("cannot read HDU {index}"))?;
        Ok(match kind {
            IMAGE_HDU => HduKind::Image,
            ASCII_TBL => HduKind::AsciiTable,
            _ => HduKind::BinaryTable,
        })
    }

    /// The current image HDU's axes, NAXIS1 first (0 axes for an empty primary).
    pub fn axes(&mut self) -> Result<Vec<usize>, String> {
        let (mut naxis, mut status) = (0, 0);
        // SAFETY: as above.
        unsafe { sys::ffgidm(self.ptr, &mut naxis, &mut status) };
        check(status, "cannot read NAXIS")?;
        let mut axes = vec![0 as sys::LONGLONG; naxis.max(0) as usize];
        // SAFETY: `axes` holds `naxis` elements, the most ffgiszll writes.
        unsafe { sys::ffgiszll(self.ptr, naxis, axes.as_mut_ptr(), &mut status) };
        check(status, "cannot read the NAXISn cards")?;
        axes.into_iter().map(|a| usize::try_from(a).map_err(|_| format!("an axis has length {a}"))).collect()
    }

    /// Whether the current HDU is a tile-compressed image, and its compression if so.
    pub fn compression(&mut self) -> Option<String> {
        let mut status = 0;
        // SAFETY: as above.
        let compressed = unsafe { sys::fits_is_compressed_image(self.ptr, &mut status) };
        if status != 0 || compressed == 0 {
            return None;
        }
        let key = CString::new("ZCMPTYPE").expect("no NUL");
        let mut value = [0 as c_char; 72];
        // SAFETY: a keyword value is at most 68 characters and a NUL (FLEN_VALUE is 71).
        unsafe { sys::ffgkys(self.ptr, key.as_ptr(), value.as_mut_ptr(), std::ptr::null_mut(), &mut status) };
        let bytes: Vec<u8> = value.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        Some(if status == 0 { String::from_utf8_lossy(&bytes).trim().to_string() } else { "unknown".into() })
    }

    /// Whether the current image stores 32-bit floats (BITPIX or ZBITPIX -32): read as such, as
    /// astropy does, so that quantised tiles decompress to the same numbers. Scaled integers are
    /// read as doubles (BZERO + BSCALE x stored, exact where astropy rounds to float32).
    fn is_float32(&mut self) -> Result<bool, String> {
        let (mut kind, mut status) = (0, 0);
        // SAFETY: as above.
        unsafe { sys::ffgidt(self.ptr, &mut kind, &mut status) };
        check(status, "cannot read BITPIX")?;
        Ok(kind == FLOAT_IMG)
    }

    /// For bytes in memory: refuses an HDU whose data runs past their end (CFITSIO's memory
    /// driver would read whatever follows the buffer's last whole block).
    fn check_in_memory(&mut self) -> Result<(), String> {
        let Some(memory) = &self.memory else { return Ok(()) };
        let length = memory.bytes.len();
        let (mut head, mut data, mut end, mut status) = (0, 0, 0, 0);
        // SAFETY: as above.
        unsafe { sys::ffghadll(self.ptr, &mut head, &mut data, &mut end, &mut status) };
        check(status, "cannot locate the HDU's data")?;
        if usize::try_from(end).map_or(true, |end| end > length) {
            return Err(format!("the file is truncated: the HDU's data ends at byte {end}, the file has {length}"));
        }
        Ok(())
    }

    /// Reads `n` physical values of the current image from the 0-based pixel `first` on (BSCALE
    /// and BZERO applied, tiles decompressed), NaN where a pixel is null (BLANK, ZBLANK or NaN).
    pub fn read(&mut self, first: usize, n: usize) -> Result<Vec<f64>, String> {
        let too_many = || format!("pixels {first}..{first}+{n} are out of range");
        let count = sys::LONGLONG::try_from(n).map_err(|_| too_many())?;
        let start = sys::LONGLONG::try_from(first).ok().and_then(|f| f.checked_add(1)).ok_or_else(too_many)?;
        self.check_in_memory()?;
        let (mut anynull, mut status) = (0, 0);
        if self.is_float32()? {
            let mut values = vec![0f32; n];
            // SAFETY: `values` holds `n` elements, the number requested.
            unsafe { sys::ffgpve(self.ptr, 1, start, count, f32::NAN, values.as_mut_ptr(), &mut anynull, &mut status) };
            check(status, "cannot read the pixels")?;
            return Ok(values.into_iter().map(f64::from).collect());
        }
        let mut values = vec![0f64; n];
        // SAFETY: as above.
        unsafe { sys::ffgpvd(self.ptr, 1, start, count, f64::NAN, values.as_mut_ptr(), &mut anynull, &mut status) };
        check(status, "cannot read the pixels")?;
        Ok(values)
    }
}

impl Drop for Fits {
    fn drop(&mut self) {
        let mut status = 0;
        // SAFETY: `self.ptr` is open and closed only here.
        unsafe { sys::ffclos(self.ptr, &mut status) };
    }
}

/// Whether the linked CFITSIO was built thread-safe.
pub fn is_reentrant() -> bool {
    // SAFETY: a query without arguments.
    unsafe { sys::fits_is_reentrant() != 0 }
}
