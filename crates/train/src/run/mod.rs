//! The commands that drive a run and the folder it writes: [`train`] (one experiment, stage by
//! stage, then its test and report), [`comparison`] (`[comparison]`: from scratch against from
//! `[init]`), [`cross_validation`] (`[validation]`: one run per fold, scored out of fold), [`eval`] (`eval` on a finished run), [`predict`] (`predict`: a run's model on
//! files, streamed), [`catalog`] (`trainer list`),
//! [`folder`] (run folders and their status) and [`model_io`] (what inference needs).

pub mod catalog;
pub mod comparison;
pub mod cross_validation;
pub mod eval;
pub mod folder;
pub mod model_io;
pub mod predict;
pub mod train;
