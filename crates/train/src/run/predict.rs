//! `trainer predict`: a finished run's model (or its folds' ensemble) on any number of inputs:
//! pictures, FITS cutouts and cubes, band sets in the lens challenge's layout; light-curve lists,
//! star files and folders of them for a light-curve model. The inputs are
//! read in chunks on all cores and predicted chunk by chunk, so memory stays flat however many
//! there are; rows are appended to the CSV as they come, progress and ETA go to the console, and
//! an input that cannot be read becomes a row of the skipped file with its reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use astro_data::formats::curve_inputs::{CurveFeatures, CurveInput, CurveReader};
use astro_data::formats::files::{InputReader, PredictInput, collect_inputs};
pub use astro_data::formats::restretch::Composite;
use astro_data::formats::restretch::Restretch;
use astro_data::{DataConfig, ImageItem};
use burn::data::dataset::InMemDataset;
use burn::tensor::Device;

use crate::error::RunError;
use crate::evaluate::{prediction_rows, predictions_header, quote};
use crate::fit::progress::clock;
use crate::run::eval::{Domain, TrainedRun, load_run, refuse_reconstruction};
use crate::run::model_io::{model_composite, model_field_arcsec};

/// Inputs read and predicted per chunk (the most held in memory at once).
const CHUNK: usize = 512;

/// What a `predict` wrote.
#[derive(Debug, Clone)]
pub struct PredictSummary {
    /// The predictions CSV.
    pub out: PathBuf,
    /// The inputs that could not be read, with the reason (`input,id,reason`).
    pub skipped_file: PathBuf,
    /// Inputs predicted.
    pub predicted: usize,
    /// Inputs skipped.
    pub skipped: usize,
    /// What else the user should know (values imputed, ...).
    pub notes: Vec<String>,
}

/// The skipped file beside `out`: `<out stem>.skipped.csv`.
pub fn skipped_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "predictions".into(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}.skipped.csv"))
}

/// A CSV field of the skipped file, on one line.
fn csv_field(s: &str) -> String {
    quote(&s.replace('\n', " "))
}

fn create(path: &Path, what: &'static str) -> Result<std::io::BufWriter<std::fs::File>, RunError> {
    std::fs::File::create(path).map(std::io::BufWriter::new).map_err(|source| RunError::Io {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// How pictures are cut before resampling: a crop in pixels, or the inputs' pixel scale (the
/// crop then spans the sky square the model was trained on); neither: the run's own crop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PictureCut {
    /// Centre crop, pixels.
    pub crop: Option<u32>,
    /// Arcseconds per pixel of the input pictures.
    pub pixel_scale_arcsec: Option<f64>,
    /// The colour composite the input pictures were made in (redrawn in the model's).
    pub composite: Option<Composite>,
}

/// Predicts every input in `inputs` (files or folders) with the run at `path`, cutting pictures
/// as `cut` says. A light-curve run reads lists, star files and folders of them as it was
/// trained to; a run with `[adaptation]` applies its weights for `domain`. Fails only when no
/// input could be read.
pub fn predict_inputs(
    path: &Path,
    inputs: &[PathBuf],
    out: Option<&Path>,
    cut: PictureCut,
    device: &Device,
    domain: Domain,
) -> Result<PredictSummary, RunError> {
    let trained = load_run(path, device, domain)?;
    refuse_reconstruction(&trained.io, path)?;
    let out = match out {
        Some(p) => p.to_path_buf(),
        None => {
            let dir = trained.run.file("predict");
            std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
                what: "predict folder",
                path: dir.clone(),
                source,
            })?;
            dir.join(format!("{}.csv", chrono::Local::now().format("%Y-%m-%dT%H-%M-%S%.3f")))
        }
    };
    if trained.io.layout == astro_data::Layout::Sequence {
        if cut != PictureCut::default() {
            return Err(RunError::Run(format!(
                "{} reads light curves: --crop, --pixel-scale and --composite apply to pictures",
                path.display()
            )));
        }
        let reader = curve_reader(&trained, path)?;
        let inputs = reader.collect(inputs)?;
        let describe = |c: &CurveInput| (c.location.clone(), c.id.clone());
        let mut done = predict_chunks(&trained, &inputs, describe, |chunk| reader.read_all(chunk), out, device)?;
        if reader.imputed() > 0 {
            done.notes.push(format!(
                "{} catalogue feature value(s) were missing and given the training mean (missing = \"mean\")",
                reader.imputed()
            ));
        }
        return Ok(done);
    }
    if let Some(features) = &trained.io.features {
        return Err(RunError::Run(format!(
            "{} reads catalogue features ({}) beside each image, which image files do not carry: score a \
             catalogue with `trainer eval --run {} --data <data.toml>`",
            path.display(),
            features.names.join(", "),
            path.display()
        )));
    }
    let reader = image_reader(&trained, path, cut)?;
    let inputs = collect_inputs(inputs, reader.fits.as_ref())?;
    let describe = |i: &PredictInput| (i.location(), i.id());
    predict_chunks(&trained, &inputs, describe, |chunk| reader.read_all(chunk), out, device)
}

/// How the run's image inputs are read, cut as `cut` says.
fn image_reader(trained: &TrainedRun, path: &Path, cut: PictureCut) -> Result<InputReader, RunError> {
    let mut preprocess = trained.io.preprocess;
    if cut.crop.is_some() {
        preprocess.crop = cut.crop;
    }
    let field_pixels = match (cut.pixel_scale_arcsec, cut.crop) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(RunError::Run("give either --crop or --pixel-scale, not both".into()));
        }
        (Some(scale), None) if !(scale.is_finite() && scale > 0.0) => {
            return Err(RunError::Run(format!("--pixel-scale must be a positive number of arcseconds, got {scale}")));
        }
        (Some(scale), None) => match model_field_arcsec(&trained.config) {
            Some(field) => Some(field / scale),
            None => {
                let why = match &trained.config.data {
                    DataConfig::SimulatedGalaxies(c) if c.simulator.frames_each_galaxy() => format!(
                        "the run's galaxies were each framed by their own size (framing_half_light_radii = {}), not \
                         drawn at one angular scale",
                        c.simulator.framing_half_light_radii
                    ),
                    _ => "the run's data does not say its angular scale".to_string(),
                };
                return Err(RunError::Run(format!(
                    "{}: {why}, so --pixel-scale cannot be matched to it: give --crop in pixels",
                    path.display()
                )));
            }
        },
    };
    if let Some(files) = cut.composite {
        preprocess.restretch = redrawing(trained, path, files)?;
        preprocess.validate().map_err(|e| RunError::Run(format!("{}: {e}", path.display())))?;
    }
    Ok(InputReader { preprocess, fits: trained.io.fits.clone(), field_pixels })
}

/// How pictures made in `files` are redrawn for the run's model (none where it saw the same).
fn redrawing(trained: &TrainedRun, path: &Path, files: Composite) -> Result<Option<Restretch>, RunError> {
    if trained.io.fits.is_some() {
        return Err(RunError::Run(format!(
            "{} reads FITS cutouts: --composite applies to PNG and JPEG pictures",
            path.display()
        )));
    }
    let Some(model) = model_composite(&trained.config) else {
        return Err(RunError::Run(format!(
            "{}: the run's data does not say its colour composite, so --composite cannot be matched to it",
            path.display()
        )));
    };
    Restretch::between(files, model).map_err(|e| RunError::Run(format!("--composite {}: {e}", files.name())))
}

/// How the light-curve run at `path` reads new stars: its own reading settings (a run trained
/// on simulated stars: the layout the simulator writes), with its catalogue features.
fn curve_reader(trained: &TrainedRun, path: &Path) -> Result<CurveReader, RunError> {
    let reading = match &trained.config.data {
        DataConfig::LightCurveFolder(c) => c.clone(),
        DataConfig::SimulatedLightCurves(c) => c.written_files_reading(),
        other => {
            return Err(RunError::Run(format!(
                "{}: light curves from {} cannot be read from files",
                path.display(),
                other.source_name()
            )));
        }
    };
    let features = match (&trained.config.features, &trained.io.features) {
        (Some(config), Some(scaling)) => {
            Some(CurveFeatures { config: config.clone(), train_mean: scaling.mean.clone() })
        }
        _ => None,
    };
    let reader = CurveReader::new(reading, features)?;
    if reader.shape() != trained.io.input {
        return Err(RunError::Run(format!(
            "{}: its settings encode a star as {:?}, but the model reads {:?}",
            path.display(),
            reader.shape(),
            trained.io.input
        )));
    }
    Ok(reader)
}

/// Predicts `inputs` chunk by chunk (`read` makes a chunk's items; `describe` gives an input's
/// location and id for the skipped file), appending rows to `out` as they come.
fn predict_chunks<I>(
    trained: &TrainedRun,
    inputs: &[I],
    describe: impl Fn(&I) -> (String, String),
    read: impl Fn(&[I]) -> Vec<Result<ImageItem, String>>,
    out: PathBuf,
    device: &Device,
) -> Result<PredictSummary, RunError> {
    let skipped_file = skipped_path(&out);
    let (task, names) = (trained.io.task, &trained.io.target_names);
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { what: "predictions file", path: path.clone(), source }
    };
    let mut rows = create(&out, "predictions file")?;
    rows.write_all(predictions_header(task, names, false).as_bytes()).map_err(write_error(&out))?;
    let mut skipped_rows = create(&skipped_file, "skipped-inputs file")?;
    skipped_rows.write_all(b"input,id,reason\n").map_err(write_error(&skipped_file))?;

    let started = Instant::now();
    let (mut predicted, mut skipped) = (0usize, 0usize);
    for chunk in inputs.chunks(CHUNK) {
        let mut items = Vec::with_capacity(chunk.len());
        for (input, item) in chunk.iter().zip(read(chunk)) {
            match item {
                Ok(item) => items.push(item),
                Err(reason) => {
                    skipped += 1;
                    let (location, id) = describe(input);
                    let line = format!("{},{},{}\n", csv_field(&location), csv_field(&id), csv_field(&reason));
                    skipped_rows.write_all(line.as_bytes()).map_err(write_error(&skipped_file))?;
                }
            }
        }
        if !items.is_empty() {
            predicted += items.len();
            let predictions = trained.predict(InMemDataset::new(items), device)?;
            rows.write_all(prediction_rows(task, names, &predictions, false).as_bytes()).map_err(write_error(&out))?;
        }
        let done = predicted + skipped;
        let elapsed = started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(1e-9);
        eprintln!(
            "predict: {done}/{} inputs ({skipped} skipped)  {rate:.0} inputs/s  ETA {}",
            inputs.len(),
            clock((inputs.len() - done) as f64 / rate.max(1e-9))
        );
    }
    rows.flush().map_err(write_error(&out))?;
    skipped_rows.flush().map_err(write_error(&skipped_file))?;
    if predicted == 0 {
        return Err(RunError::Run(format!(
            "none of the {} input(s) could be read: the reasons are in {}",
            inputs.len(),
            skipped_file.display()
        )));
    }
    Ok(PredictSummary { out, skipped_file, predicted, skipped, notes: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skipped_file_sits_beside_the_predictions() {
        assert_eq!(skipped_path(Path::new("/r/predict/t.csv")), Path::new("/r/predict/t.skipped.csv"));
        assert_eq!(csv_field("a,b \"c\""), "\"a,b \"\"c\"\"\"");
    }
}
