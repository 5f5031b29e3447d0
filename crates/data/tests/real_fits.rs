//! The real FITS files of `../shared/data` (`ASTRO_REAL_DATA`), read as astropy reads them: the
//! HSC 5-band cube and its PSF cube, and the HST image (`datasets/hsc_hst_pair.toml`). Runs where
//! `ASTRO_REAL_DATA` names the folder, and says so where it does not.

use std::path::PathBuf;

use astro_data::formats::fits::{Planes, read_fits, read_fits_planes};

fn real_data() -> Option<PathBuf> {
    let dir = std::env::var_os("ASTRO_REAL_DATA").map(PathBuf::from);
    if dir.is_none() {
        eprintln!("NOT RUN: set ASTRO_REAL_DATA to the folder of the real data sets (../shared/data)");
    }
    dir
}

#[test]
fn the_hsc_and_hst_files_read_as_astropy_reads_them() {
    let Some(root) = real_data() else { return };
    let dir = root.join("hsc_hst_pair");
    // Sums per plane and first values, from astropy 8.0.2 (`fits.getdata`).
    let cube = read_fits_planes(&dir.join("Cut_HSC.fits"), None, Planes::All).unwrap();
    assert_eq!((cube.planes, cube.height, cube.width), (5, 50, 50));
    let sums = [1998.99990567, 1999.00000207, 1999.00004266, 1999.00012087, 1998.99983032];
    for (k, want) in sums.iter().enumerate() {
        let got: f64 = cube.plane(k).iter().sum();
        assert!((got - want).abs() < 1e-6, "plane {k}: {got} vs {want}");
    }
    assert!((cube.data[0] - -0.23567367).abs() < 1e-8 && (cube.data[1] - -1.11221993).abs() < 1e-8);
    let psf = read_fits_planes(&dir.join("PSF_HSC.fits"), None, Planes::One(4)).unwrap();
    assert_eq!((psf.planes, psf.width), (1, 31));
    assert!((psf.data.iter().sum::<f64>() - 0.99487705).abs() < 1e-7);
    let hst = read_fits(&dir.join("Cut_HST.fits"), None).unwrap();
    assert_eq!((hst.width, hst.height), (250, 250));
    assert!((hst.data.iter().sum::<f64>() - 62500.0).abs() < 0.1);
    // The cube as one 2-D image is refused, saying what it is.
    let err = read_fits(&dir.join("Cut_HSC.fits"), None).unwrap_err().to_string();
    assert!(err.contains("Cut_HSC.fits") && err.contains("cube of 5 planes of 50x50"), "{err}");
}
