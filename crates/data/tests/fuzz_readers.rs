//! Fuzzing as tests: random and mutated bytes fed to every reader of user files (FITS images,
//! light-curve lists, star files and archives, CSV catalogues, image decoding), which must
//! answer with a value or an error, never a panic. `ASTRO_FUZZ_CASES` sets the cases per
//! reader (default 1,000; a long run: 100000).

use std::io::Write;

use astro_data::Preprocess;
use astro_data::formats::catalogue::Catalogue;
use astro_data::formats::fits::{parse_fits, write_fits};
use astro_data::formats::light_curve_files::{LightCurveFolder, parse_star_file, read_list};
use astro_data::formats::star_files::StarFiles;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("ASTRO_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

/// A valid FITS file of a 3 x 2 image, as bytes.
fn valid_fits() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.fits");
    write_fits(&path, 3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    std::fs::read(path).unwrap()
}

/// Header cards a mutation may write over a valid header: odd values, huge and negative axes,
/// multi-byte characters.
fn hostile_card() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NAXIS   = 999999999999".to_string()),
        Just("NAXIS   = -3".to_string()),
        Just("NAXIS1  = 9223372036854775807".to_string()),
        Just("NAXIS2  = 4294967296".to_string()),
        Just("BITPIX  = -9223372036854775808".to_string()),
        Just("BITPIX  = 7".to_string()),
        Just("GCOUNT  = 9223372036854775807".to_string()),
        Just("PCOUNT  = 9223372036854775807".to_string()),
        Just("BSCALE  = 1D400".to_string()),
        Just("BLANK   = 'x'".to_string()),
        Just("XTENSION= 'BINTABLE'".to_string()),
        Just("END".to_string()),
        "[ -~]{0,80}",
        "\\PC{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fits_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let _ = parse_fits(&bytes, None);
        let mut with_signature = b"SIMPLE  =".to_vec();
        with_signature.extend(&bytes);
        let _ = parse_fits(&with_signature, Some(1));
    }

    #[test]
    fn mutated_fits_headers_never_panic(
        card in 0usize..36,
        text in hostile_card(),
        flips in proptest::collection::vec((0usize..5760, any::<u8>()), 0..8),
        cut in 0usize..8000,
    ) {
        let mut bytes = valid_fits();
        let at = card * 80;
        let padded = format!("{text:<80}");
        // Written over the card byte by byte (a multi-byte character may straddle cards).
        for (k, b) in padded.bytes().take(80).enumerate() {
            bytes[at + k] = b;
        }
        for (i, b) in flips {
            if i < bytes.len() {
                bytes[i] = b;
            }
        }
        bytes.truncate(cut.max(9));
        let _ = parse_fits(&bytes, None);
        let _ = parse_fits(&bytes, Some(0));
    }

    #[test]
    fn star_files_never_panic(text in "\\PC{0,400}", columns in proptest::option::of(proptest::collection::vec(0usize..5, 0..4))) {
        let _ = parse_star_file(&text, "fuzz.dat", columns.as_deref());
    }

    #[test]
    fn light_curve_lists_and_their_stars_never_panic(
        list in "(# ?(id|period|feh|fold)( (id|period|feh|fold|snr)){0,4}\\n)?([-a-z0-9.# ]{0,30}\\n){0,8}",
        star in "([-0-9.eE, \\t]{0,30}\\n){0,30}",
        max_phase in -1.0f64..2.0,
        limit in proptest::option::of(0usize..10),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list.txt"), &list).unwrap();
        let _ = read_list(&dir.path().join("list.txt"));
        for id in ["a", "b", "1", "0"] {
            std::fs::write(dir.path().join(format!("{id}.dat")), &star).unwrap();
        }
        let config: LightCurveFolder = toml::from_str(&format!(
            "list = \"{}\"\nsuffix = \".dat\"\nmin_points = 2\nmax_phase = {max_phase}\n",
            dir.path().join("list.txt").display()
        ))
        .unwrap();
        let config = LightCurveFolder { limit, ..config };
        let _ = config.load();
        let folded = LightCurveFolder { fold: astro_data::formats::light_curve_files::Fold::ListPeriod, ..config };
        let _ = folded.load();
    }

    #[test]
    fn archives_of_star_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000), gzip in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.tar.gz");
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            gz.finish().unwrap();
        } else {
            std::fs::write(&path, &bytes).unwrap();
        }
        let wanted = ["a.dat".to_string()].into_iter().collect();
        if let Ok(files) = StarFiles::open(&path, &wanted) {
            let _ = files.read("a.dat");
        }
    }

    #[test]
    fn csv_catalogues_never_panic(text in "([-a-zA-Z0-9.,\"# ]{0,40}\\n){0,10}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalogue.csv");
        std::fs::write(&path, &text).unwrap();
        let _ = Catalogue::read(&path);
    }

    #[test]
    fn image_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), png in any::<bool>(), crop in proptest::option::of(0u32..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if png { "a.png" } else { "a.jpg" });
        let mut file = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { b"\xff\xd8\xff".to_vec() };
        file.extend(&bytes);
        std::fs::write(&path, &file).unwrap();
        let _ = Preprocess { crop, size: 16, channels: 3, restretch: None }.load(&path);
    }
}
