//! A reader for 2-D FITS images (Wells et al. 1981; FITS standard 4.0): the primary HDU or an
//! `IMAGE` extension, BITPIX 8, 16, 32, 64, -32 and -64, with BSCALE/BZERO applied and integer
//! BLANK values read as NaN. Rows are in file order: row 0 is FITS `y = 1`, as numpy arrays from
//! astropy have it. Anything else (tables, cubes, random groups) is refused with a message that
//! says what the file holds.

use std::path::Path;

use crate::error::DataError;

/// Bytes in a FITS block; headers and data are padded to whole blocks.
const BLOCK: usize = 2880;
/// Bytes in a header card.
const CARD: usize = 80;

/// A 2-D image read from a FITS file.
#[derive(Debug, Clone, PartialEq)]
pub struct FitsImage {
    /// NAXIS1: columns.
    pub width: usize,
    /// NAXIS2: rows.
    pub height: usize,
    /// Physical values (BZERO + BSCALE x stored), row-major, NaN where BLANK.
    pub data: Vec<f64>,
}

/// One header: its cards as `(keyword, value text)`.
#[derive(Debug, Clone, Default)]
struct Header {
    cards: Vec<(String, String)>,
}

impl Header {
    fn raw(&self, key: &str) -> Option<&str> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.raw(key)?.trim().parse().ok()
    }

    fn float(&self, key: &str) -> Option<f64> {
        // FITS allows a D exponent (Fortran double).
        self.raw(key)?.trim().replace(['D', 'd'], "E").parse().ok()
    }

    fn string(&self, key: &str) -> Option<String> {
        let v = self.raw(key)?.trim();
        Some(v.trim_matches('\'').trim_end().to_string())
    }
}

/// Parses the header starting at `offset`; returns it and the offset of its data.
fn read_header(bytes: &[u8], offset: usize) -> Result<(Header, usize), String> {
    let mut header = Header::default();
    let mut at = offset;
    loop {
        if at + CARD > bytes.len() {
            return Err(format!("the header starting at byte {offset} has no END card"));
        }
        // FITS headers are ASCII: checked first, so that slicing a card at fixed offsets is safe.
        let raw = &bytes[at..at + CARD];
        if !raw.is_ascii() {
            return Err(format!("non-ASCII header card at byte {at}"));
        }
        let card = std::str::from_utf8(raw).map_err(|_| format!("non-ASCII header card at byte {at}"))?;
        at += CARD;
        let key = card[..8].trim_end().to_string();
        if key == "END" {
            break;
        }
        if &card[8..10] == "= " {
            // The value ends at a ` /` comment, except inside a quoted string.
            let rest = &card[10..];
            let value = if rest.trim_start().starts_with('\'') {
                let start = rest.find('\'').unwrap_or(0);
                let end = rest[start + 1..].find('\'').map_or(rest.len(), |e| start + 1 + e + 1);
                &rest[..end]
            } else {
                rest.split('/').next().unwrap_or("")
            };
            header.cards.push((key, value.trim().to_string()));
        }
    }
    Ok((header, at.div_ceil(BLOCK) * BLOCK))
}

/// The most axes the FITS standard allows.
const MAX_AXES: i64 = 999;

/// The data bytes of an HDU, from its header (refusing sizes that overflow).
fn data_bytes(h: &Header) -> Result<usize, String> {
    let bitpix = h.int("BITPIX").ok_or("no BITPIX card")?;
    let naxis = h.int("NAXIS").ok_or("no NAXIS card")?;
    if !(0..=MAX_AXES).contains(&naxis) {
        return Err(format!("NAXIS = {naxis} is not 0 to {MAX_AXES}"));
    }
    if naxis == 0 {
        return Ok(0);
    }
    let too_big = || format!("the data size announced by the header overflows (NAXIS = {naxis})");
    let mut n: usize = 1;
    for i in 1..=naxis {
        let axis = usize::try_from(h.int(&format!("NAXIS{i}")).ok_or(format!("no NAXIS{i} card"))?)
            .map_err(|_| format!("NAXIS{i} is negative"))?;
        n = n.checked_mul(axis).ok_or_else(too_big)?;
    }
    let gcount = usize::try_from(h.int("GCOUNT").unwrap_or(1).max(1)).map_err(|_| too_big())?;
    let pcount = usize::try_from(h.int("PCOUNT").unwrap_or(0).max(0)).map_err(|_| too_big())?;
    let width = usize::try_from(bitpix.unsigned_abs() / 8).map_err(|_| too_big())?;
    pcount.checked_add(n).and_then(|v| v.checked_mul(gcount)).and_then(|v| v.checked_mul(width)).ok_or_else(too_big)
}

/// Reads the first 2-D image of `path`: the primary HDU if it has one, else the first `IMAGE`
/// extension (`hdu` picks another HDU by 0-based index).
pub fn read_fits(path: &Path, hdu: Option<usize>) -> Result<FitsImage, DataError> {
    let bytes =
        std::fs::read(path).map_err(|source| DataError::Io { what: "FITS file", path: path.to_path_buf(), source })?;
    parse_fits(&bytes, hdu).map_err(|message| DataError::Image { path: path.to_path_buf(), message })
}

/// [`read_fits`] on bytes in memory.
pub fn parse_fits(bytes: &[u8], hdu: Option<usize>) -> Result<FitsImage, String> {
    if !bytes.starts_with(b"SIMPLE  =") {
        return Err("not a FITS file (it does not start with a SIMPLE card)".into());
    }
    let mut offset = 0;
    let mut index = 0;
    let mut seen = Vec::new();
    while offset < bytes.len() {
        let (header, data_at) = read_header(bytes, offset)?;
        let size = data_bytes(&header)?;
        let kind = if index == 0 { "primary".to_string() } else { header.string("XTENSION").unwrap_or_default() };
        let naxis = header.int("NAXIS").unwrap_or(0);
        let wanted = match hdu {
            Some(k) => k == index,
            None => naxis >= 2 && (index == 0 || kind == "IMAGE"),
        };
        if wanted {
            return decode_image(&header, bytes, data_at, size, index, &kind);
        }
        seen.push(format!("{index}: {kind}, NAXIS {naxis}"));
        offset = size
            .div_ceil(BLOCK)
            .checked_mul(BLOCK)
            .and_then(|padded| data_at.checked_add(padded))
            .ok_or_else(|| format!("HDU {index}'s data size overflows"))?;
        index += 1;
    }
    Err(match hdu {
        Some(k) => format!("it has no HDU {k} (HDUs: {})", seen.join("; ")),
        None => format!("it holds no 2-D image (HDUs: {})", seen.join("; ")),
    })
}

fn decode_image(
    h: &Header,
    bytes: &[u8],
    at: usize,
    size: usize,
    index: usize,
    kind: &str,
) -> Result<FitsImage, String> {
    if kind != "primary" && kind != "IMAGE" {
        return Err(format!("HDU {index} is a {kind} extension, not an image"));
    }
    let naxis = h.int("NAXIS").unwrap_or(0);
    let axes: Vec<usize> = (1..=naxis).map(|i| h.int(&format!("NAXIS{i}")).unwrap_or(0).max(0) as usize).collect();
    if axes.len() < 2 || axes[2..].iter().any(|&n| n != 1) {
        return Err(format!("HDU {index} has axes {axes:?}; only 2-D images are read"));
    }
    let (width, height) = (axes[0], axes[1]);
    let bitpix = h.int("BITPIX").unwrap_or(0);
    if at.checked_add(size).is_none_or(|end| end > bytes.len()) {
        return Err(format!(
            "HDU {index} is truncated: {size} data bytes announced, {} present",
            bytes.len().saturating_sub(at)
        ));
    }
    // Within the announced size, which the header's axes and BITPIX gave without overflow.
    let image_bytes = width * height * (bitpix.unsigned_abs() as usize / 8);
    let raw = &bytes[at..at + image_bytes.min(size)];
    let stored: Vec<f64> = match bitpix {
        8 => raw.iter().map(|&b| f64::from(b)).collect(),
        16 => raw.chunks_exact(2).map(|c| f64::from(i16::from_be_bytes([c[0], c[1]]))).collect(),
        32 => raw.chunks_exact(4).map(|c| f64::from(i32::from_be_bytes(c.try_into().expect("4 bytes")))).collect(),
        64 => raw.chunks_exact(8).map(|c| i64::from_be_bytes(c.try_into().expect("8 bytes")) as f64).collect(),
        -32 => raw.chunks_exact(4).map(|c| f64::from(f32::from_be_bytes(c.try_into().expect("4 bytes")))).collect(),
        -64 => raw.chunks_exact(8).map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes"))).collect(),
        other => return Err(format!("BITPIX {other} is not a FITS pixel type (8, 16, 32, 64, -32, -64)")),
    };
    let (scale, zero) = (h.float("BSCALE").unwrap_or(1.0), h.float("BZERO").unwrap_or(0.0));
    let blank = if bitpix > 0 { h.int("BLANK").map(|b| b as f64) } else { None };
    let data = stored.into_iter().map(|v| if Some(v) == blank { f64::NAN } else { zero + scale * v }).collect();
    Ok(FitsImage { width, height, data })
}

/// Writes a 2-D image as a single-HDU FITS file of 32-bit floats (BITPIX -32), row 0 first.
pub fn write_fits(path: &Path, width: usize, height: usize, data: &[f32]) -> Result<(), DataError> {
    assert_eq!(data.len(), width * height, "write_fits: data is not width x height");
    let card = |text: String| format!("{text:<80}");
    let mut header = [
        card(format!("{:<8}= {:>20}", "SIMPLE", "T")),
        card(format!("{:<8}= {:>20}", "BITPIX", -32)),
        card(format!("{:<8}= {:>20}", "NAXIS", 2)),
        card(format!("{:<8}= {:>20}", "NAXIS1", width)),
        card(format!("{:<8}= {:>20}", "NAXIS2", height)),
        card("END".to_string()),
    ]
    .concat()
    .into_bytes();
    header.resize(header.len().div_ceil(BLOCK) * BLOCK, b' ');
    let mut bytes = header;
    for v in data {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.resize(bytes.len().div_ceil(BLOCK) * BLOCK, 0);
    std::fs::write(path, bytes).map_err(|source| DataError::Io { what: "FITS file", path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn every_pixel_type_reads_as_astropy_reads_it() {
        let text = std::fs::read_to_string(fixture("fits_expected.json")).unwrap();
        let expected: std::collections::BTreeMap<String, Vec<Vec<Option<f64>>>> = serde_json::from_str(&text).unwrap();
        assert_eq!(expected.len(), 10);
        for (name, rows) in expected {
            let image = read_fits(&fixture(&name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((image.width, image.height), (rows[0].len(), rows.len()), "{name}");
            for (y, row) in rows.iter().enumerate() {
                for (x, want) in row.iter().enumerate() {
                    let got = image.data[y * image.width + x];
                    match want {
                        None => assert!(got.is_nan(), "{name} ({x}, {y}): {got} should be NaN"),
                        Some(v) => {
                            assert!((got - v).abs() <= 1e-9 * v.abs().max(1.0), "{name} ({x}, {y}): {got} vs {v}")
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn written_images_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.fits");
        let data: Vec<f32> = (0..12).map(|v| v as f32 * 0.25 - 1.0).collect();
        write_fits(&path, 4, 3, &data).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() % 2880, 0);
        let image = read_fits(&path, None).unwrap();
        assert_eq!((image.width, image.height), (4, 3));
        assert_eq!(image.data, data.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
    }

    #[test]
    fn what_is_not_a_2d_image_is_named() {
        let err = read_fits(&fixture("cube.fits"), None).unwrap_err().to_string();
        assert!(err.contains("holds no 2-D image") || err.contains("only 2-D images"), "{err}");
        let err = read_fits(&fixture("cube.fits"), Some(0)).unwrap_err().to_string();
        assert!(err.contains("axes [5, 4, 2]; only 2-D images are read"), "{err}");
        let err = read_fits(&fixture("table_only.fits"), None).unwrap_err().to_string();
        assert!(err.contains("holds no 2-D image") && err.contains("BINTABLE"), "{err}");
        let err = read_fits(&fixture("extension.fits"), Some(1)).unwrap_err().to_string();
        assert!(err.contains("HDU 1 is a BINTABLE extension"), "{err}");
        let err = parse_fits(b"PNG....", None).unwrap_err();
        assert!(err.contains("not a FITS file"), "{err}");
        let bytes = std::fs::read(fixture("f32.fits")).unwrap();
        let err = parse_fits(&bytes[..2900], None).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
