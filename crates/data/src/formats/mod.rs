//! The file formats of real survey data, read (and, for tests and tools, written): [`fits`]
//! (FITS images through CFITSIO, wrapped in [`cfitsio`]), [`cutouts`] (FITS cutouts as lens
//! finders see them), [`image_io`] (JPEG/PNG decoding, crops, resampling, PNG grids),
//! [`restretch`] (pictures of one colour composite redrawn in a model's),
//! [`catalogue`] (CSV catalogues with line-numbered errors), [`light_curve_files`] (light-curve
//! lists and per-star files), [`star_files`] (where those files are: folders, gzip, tar
//! archives) and [`files`] (unlabelled images for `predict`).

pub mod catalogue;
pub mod cfitsio;
pub mod curve_inputs;
pub mod cutouts;
pub mod files;
pub mod fits;
pub mod image_io;
pub mod light_curve_files;
pub mod period_cache;
pub mod restretch;
pub mod star_files;
