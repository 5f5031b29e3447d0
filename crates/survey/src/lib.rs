//! Facts of the survey catalogues the experiments learn from, with no code of their own to
//! run: what both the simulators (`astro-sim`) and the models (`astro-models`) must agree on,
//! kept here so that neither depends on the other.
//!
//! - [`galaxy_zoo`]: the Galaxy Zoo 2 decision tree (questions, answer columns, sum rules).

pub mod galaxy_zoo;
