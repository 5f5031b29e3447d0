//! Every experiment in `configs/` trains a tiny (`--smoke`) run end to end through the real
//! binary; the run folder holds everything the design promises, and `eval`, `predict` and
//! `--resume` work on it.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

/// Checks the files of a finished one-epoch run folder.
fn check_run_folder(run: &Path) {
    check_run_folder_of(run, 1);
}

/// Checks the files of a finished run folder of `epochs` epochs.
fn check_run_folder_of(run: &Path, epochs_run: usize) {
    let summary = json(&run.join("summary.json"));
    let test = &summary["test"];
    let samples = test["samples"].as_u64().unwrap() as usize;
    let per_item = if test["task"] == "reconstruction" {
        ["latent.csv", "reconstruction_errors.csv", "reconstructions.png", "anomalies.png"].as_slice()
    } else {
        ["test_predictions.csv", "gallery.png"].as_slice()
    };
    for file in [
        "config.toml",
        "environment.json",
        "metrics.csv",
        "summary.json",
        "report.md",
        "model.bpk",
        "model_io.json",
        "learning_curves.png",
        "status.json",
    ]
    .iter()
    .chain(per_item)
    {
        assert!(run.join(file).is_file(), "{} is missing from {}", file, run.display());
    }
    assert_eq!(json(&run.join("status.json"))["state"], "complete");
    let listed = if test["task"] == "reconstruction" { "latent.csv" } else { "test_predictions.csv" };
    assert_eq!(csv_rows(&run.join(listed)).len(), samples);
    let epochs = csv_rows(&run.join("metrics.csv"));
    assert_eq!(epochs.len(), epochs_run, "a smoke run trains one epoch per stage");
    assert!(epochs[0].iter().skip(1).all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)), "{epochs:?}");
    let (train_loss, train_metric): (f64, f64) = (epochs[0][1].parse().unwrap(), epochs[0][2].parse().unwrap());
    match test["task"].as_str() {
        Some("reconstruction") => {
            let (rmse, baseline) = (test["rmse"].as_f64().unwrap(), test["baseline_rmse"].as_f64().unwrap());
            assert!(rmse.is_finite() && rmse > 0.0 && baseline.is_finite() && baseline > 0.0, "{summary}");
            assert!((train_metric - train_loss.sqrt()).abs() < 1e-4 * train_metric, "{epochs:?}");
        }
        Some("regression") => {
            let rmse = test["rmse"].as_f64().expect("test rmse");
            let baseline = test["baseline_rmse"].as_f64().expect("baseline rmse");
            assert!(rmse.is_finite() && rmse > 0.0 && baseline.is_finite() && baseline > 0.0, "{summary}");
            assert!((train_metric - train_loss.sqrt()).abs() < 1e-4 * train_metric, "{epochs:?}");
            assert!(run.join("predicted_vs_true.png").is_file(), "predicted_vs_true.png is missing");
        }
        Some("classification") => {
            let accuracy = test["accuracy"].as_f64().expect("test accuracy");
            let baseline = test["baseline_accuracy"].as_f64().expect("baseline accuracy");
            assert!((0.0..=1.0).contains(&accuracy) && (0.0..=1.0).contains(&baseline), "{summary}");
            assert!((0.0..=1.0).contains(&train_metric) && train_loss > 0.0, "{epochs:?}");
            let confusion: u64 = test["confusion"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap())
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(confusion as usize, samples, "every test image is in the confusion matrix");
            assert!(run.join("confusion.png").is_file(), "confusion.png is missing");
        }
        other => panic!("unknown task {other:?} in {summary}"),
    }
    let env = json(&run.join("environment.json"));
    assert!(env["backend"].is_string() && env["version"].is_string(), "{env}");
    let curves = image::open(run.join("learning_curves.png")).expect("learning_curves.png is an image");
    assert!(curves.width() >= 600 && curves.height() >= 400);
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for link in ["learning_curves.png", "metrics.csv", "summary.json", "config.toml", listed] {
        assert!(report.contains(&format!("({link})")), "report.md does not link {link}");
    }
    let last = format!("checkpoint/model-{epochs_run}.bpk");
    assert!(run.join(&last).is_file(), "{last} is missing");
    // The saved config is complete: it loads on its own and reproduces the run's settings.
    let saved: toml::Table = toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    let stages = saved.get("stages").and_then(|s| s.as_array()).map_or(0, Vec::len);
    if stages == 0 {
        assert_eq!(saved["training"]["epochs"].as_integer(), Some(epochs_run as i64));
    } else {
        assert_eq!(stages, epochs_run, "one epoch per stage");
    }
}

/// Checks a finished comparison: two complete runs (one epoch per stage each) and the
/// comparison's own files.
fn check_comparison_folder(run: &Path) {
    for file in ["config.toml", "environment.json", "status.json", "summary.json", "report.md", "comparison.png"] {
        assert!(run.join(file).is_file(), "{file} is missing from {}", run.display());
    }
    assert_eq!(json(&run.join("status.json"))["state"], "complete");
    let saved: toml::Table = toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    let stages = saved.get("stages").and_then(|s| s.as_array()).map_or(1, Vec::len);
    check_run_folder_of(&run.join("scratch"), stages);
    check_run_folder_of(&run.join("transfer"), stages);
    let summary = json(&run.join("summary.json"));
    for arm in ["scratch", "transfer"] {
        let value = summary[arm]["value"].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&value), "{arm}: {summary}");
    }
    assert!(summary["verdict"].as_str().is_some_and(|v| v.starts_with("transfer learning")), "{summary}");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("(scratch/report.md)") && report.contains("(transfer/report.md)"), "{report}");
}

#[test]
fn every_config_trains_a_smoke_run_with_a_complete_run_folder() {
    let out = tempfile::tempdir().unwrap();
    // Configs on real data by default train in their own tests, where the data is.
    let configs = simulated_configs();
    assert!(!configs.is_empty(), "configs/ holds no experiment");
    for config in configs {
        let name = experiment_name(&config);
        let output = run(&[
            "--config",
            config.to_str().unwrap(),
            "--smoke",
            "--device",
            "flex",
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert_ok(&output, &format!("smoke run of {}", config.display()));
        let (stdout, stderr) = text(&output);
        let gan = stdout.contains("test PSNR") || stdout.contains("power spectrum of");
        assert!(
            (gan || ((stdout.contains("test rmse") || stdout.contains("test accuracy"))
                && stdout.contains("baseline (")))
                && stdout.contains("run folder:"),
            "{stdout}"
        );
        assert!(stderr.contains("epoch 1/"), "no progress shown:\n{stderr}");
        let run_dir = only_run(out.path(), &name);
        if gan {
            check_gan_folder(&run_dir);
        } else if run_dir.join("scratch").is_dir() {
            check_comparison_folder(&run_dir);
        } else if run_dir.join("source_only").is_dir() {
            check_adaptation_folder(&run_dir, &["source_only", "mmd", "dann", "target_trained"]);
        } else {
            check_run_folder(&run_dir);
        }
    }
}

/// The reports `trainer eval` wrote into `run_dir`.
fn eval_reports(run_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run_dir.join("eval"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn eval_reproduces_the_test_metric_and_predict_writes_a_row_per_image() {
    let out = tempfile::tempdir().unwrap();
    let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", "flex", "--out", out.path().to_str().unwrap()]);
    assert_ok(&output, "smoke run");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    let summary = json(&run_dir.join("summary.json"));

    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval");
    let reports = eval_reports(&run_dir);
    assert_eq!(reports.len(), 1);
    let report = json(&reports[0]);
    let (a, b) = (report["metrics"]["rmse"].as_f64().unwrap(), summary["test"]["rmse"].as_f64().unwrap());
    assert!((a - b).abs() < 1e-5, "eval rmse {a} differs from the run's test rmse {b}");
    assert_eq!(report["metrics"]["baseline_rmse"], summary["test"]["baseline_rmse"]);
    // A run without [adaptation] has no target domain.
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--target", "--device", "flex"]);
    assert_fails_with(&output, "was not trained with [adaptation]: it has no target domain to apply it to");

    // Another data set: all of it is evaluated; one of the wrong shape is refused.
    let data_file = out.path().join("other.toml");
    std::fs::write(
        &data_file,
        "[data]\nsource = \"simulated_galaxies\"\ntrain = 4\nvalid = 3\ntest = 5\n[data.simulator]\nimage_size = 98\n",
    )
    .unwrap();
    let output =
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", data_file.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval --data");
    assert!(text(&output).0.contains("(12 images)"), "{}", text(&output).0);
    std::fs::write(&data_file, "[data]\nsource = \"simulated_galaxies\"\n[data.simulator]\nimage_size = 32\n").unwrap();
    let output =
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", data_file.to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "the data gives [3, 32, 32] images but the model takes [3, 98, 98]");

    let images = tempfile::tempdir().unwrap();
    for i in 0..3u8 {
        image::RgbImage::from_pixel(80, 80, image::Rgb([10 * i, 20, 30]))
            .save(images.path().join(format!("{}.png", 1000 + u32::from(i))))
            .unwrap();
    }
    let csv = out.path().join("pred.csv");
    let header = predict_header(&run_dir, images.path(), &csv);
    // The Kaggle submission format: GalaxyID, then the 37 answers.
    assert!(header.starts_with("GalaxyID,Class1.1,Class1.2"), "{header}");
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "1000");
    assert_eq!(rows[0].len(), 38);
    // Every answer of every row is a finite number (NaN parses as a float, so check it).
    assert!(rows.iter().all(|r| r[1..].iter().all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))), "{rows:?}");
    // Pictures at a given pixel scale are cut to the model's sky square (98 px x 1.188"/px at
    // 2"/px: 58 of the 80 pixels); a crop and a scale together are refused.
    let (run_str, images_str) = (run_dir.to_str().unwrap(), images.path().to_str().unwrap());
    let scaled = out.path().join("scaled.csv");
    let args = ["predict", "--run", run_str, images_str, "--pixel-scale", "2", "--out", scaled.to_str().unwrap()];
    assert_ok(&run(&[&args[..], &["--device", "flex"]].concat()), "predict --pixel-scale");
    assert_eq!(csv_rows(&scaled).len(), 3);
    let both = ["predict", "--run", run_str, images_str, "--pixel-scale", "2", "--crop", "50", "--device", "flex"];
    assert_fails_with(&run(&both), "give either --crop or --pixel-scale, not both");

    // Galaxy Zoo DECaLS fractions (configs/data/decals_galaxy_zoo.toml's columns) at another
    // pixel scale: the GZ2 answers are converted, the crop spans the model's field (capped at the
    // images' size, with a warning), and the report has one RMSE per DECaLS answer.
    let columns =
        ["smooth-or-featured_featured-or-disk_fraction", "disk-edge-on_no_fraction", "has-spiral-arms_no_fraction"];
    let mut catalogue = format!("id,{}\n", columns.join(","));
    for i in 0..10u8 {
        image::RgbImage::from_pixel(120, 120, image::Rgb([10 * i, 20, 30]))
            .save(images.path().join(format!("d{i}.png")))
            .unwrap();
        catalogue.push_str(&format!("d{i},0.{i},0.5,0.25\n"));
    }
    std::fs::write(out.path().join("decals.csv"), catalogue).unwrap();
    let quoted: Vec<String> = columns.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        &data_file,
        format!(
            "[data]\nsource = \"image_csv\"\nimages = {:?}\ntargets = {:?}\nextension = \"png\"\ncolumns = [{}]\n\
             pixel_scale_arcsec = 0.262\nsize = 98\nvalid_fraction = 0.2\ntest_fraction = 0.2\n",
            images.path().display(),
            out.path().join("decals.csv").display(),
            quoted.join(", ")
        ),
    )
    .unwrap();
    let output =
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", data_file.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval --data on GZ DECaLS fractions");
    let (stdout, stderr) = text(&output);
    assert!(stdout.contains("(10 images)") && stdout.contains("converted to the data's Galaxy Zoo DECaLS"), "{stdout}");
    assert!(stderr.contains("needs 444 px at 0.262\"/px, the images have 120"), "{stderr}");
    let report = std::fs::read_dir(run_dir.join("eval"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| json(&p))
        .find(|r| r["data"].as_str().is_some_and(|d| d.contains("DECaLS")))
        .expect("the DECaLS eval report");
    assert_eq!(report["metrics"]["rmse_per_target"].as_array().map(Vec::len), Some(3), "{report}");

    // Pictures that say they are GZ DECaLS composites are redrawn in the model's SDSS-like one.
    let with_composite = std::fs::read_to_string(&data_file).unwrap() + "composite = \"gz_decals\"\n";
    std::fs::write(&data_file, with_composite).unwrap();
    let output =
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", data_file.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval --data with composite");
    let stdout = text(&output).0;
    assert!(stdout.contains("GZ DECaLS pictures redrawn in the model's SDSS-like composite"), "{stdout}");
    let redrawn = out.path().join("redrawn.csv");
    let args =
        ["predict", "--run", run_str, images_str, "--composite", "gz_decals", "--out", redrawn.to_str().unwrap()];
    assert_ok(&run(&[&args[..], &["--device", "flex"]].concat()), "predict --composite");
    let row_1000 = |file: &Path| csv_rows(file).into_iter().find(|r| r[0] == "1000").expect("picture 1000's row");
    assert_ne!(row_1000(&csv)[1..], row_1000(&redrawn)[1..], "the redrawn picture gives other answers");
    // A misspelt composite is a usage error (exit status 2).
    let bad = run(&["predict", "--run", run_str, images_str, "--composite", "decals", "--device", "flex"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("unknown colour composite `decals`: use sdss or gz_decals"), "{:?}", text(&bad));
}

#[test]
fn a_killed_run_resumes_from_its_last_checkpoint() {
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().to_str().unwrap();
    let mut child = trainer()
        .args(["--config", "galaxy_cnn", "--smoke", "--device", "flex", "--out", out_str])
        .args(["--set", "training.epochs=3", "--set", "data.train=600", "--set", "training.workers=1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first epoch's row and checkpoint, then kill the process outright.
    let started = Instant::now();
    // Burn writes checkpoints from a background thread: wait until all three files of epoch 1
    // exist and have stopped growing.
    let sizes = |dir: &Path| -> Option<Vec<u64>> {
        ["model", "optim", "scheduler"]
            .iter()
            .map(|f| std::fs::metadata(dir.join(format!("checkpoint/{f}-1.bpk"))).ok().map(|m| m.len()))
            .collect()
    };
    let run_dir = loop {
        // The run folder exists a moment before its metrics file does.
        if let Some(dir) = run_dirs(out.path(), "galaxy_cnn").first()
            && dir.join("metrics.csv").is_file()
            && csv_rows(&dir.join("metrics.csv")).len() == 1
            && let Some(before) = sizes(dir)
        {
            std::thread::sleep(Duration::from_secs(1));
            if sizes(dir) == Some(before) {
                break dir.clone();
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "the run finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint after 5 minutes");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(json(&run_dir.join("status.json"))["state"], "running");
    assert!(!run_dir.join("summary.json").exists(), "a killed run must not look complete");

    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resume");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("resuming at epoch"), "{stderr}");
    let epochs: Vec<String> = csv_rows(&run_dir.join("metrics.csv")).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(epochs, ["1", "2", "3"], "each epoch is recorded exactly once");
    assert_eq!(json(&run_dir.join("status.json"))["state"], "complete");
    assert_eq!(run_dirs(out.path(), "galaxy_cnn").len(), 1, "resume writes into the same folder");

    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "has already finished");
}

#[test]
fn early_stopping_ends_a_run_that_stops_improving() {
    // A learning rate too small to move any f32 weight keeps the validation loss exactly
    // constant, so patience 1 stops the run after its second epoch.
    let out = tempfile::tempdir().unwrap();
    let sets = ["training.epochs=5", "training.early_stopping_patience=1", "optimizer.lr=1e-12"];
    let mut args = vec!["--config", "galaxy_cnn", "--smoke", "--device", "flex", "--out", out.path().to_str().unwrap()];
    for set in &sets {
        args.extend(["--set", set]);
    }
    let output = run(&args);
    assert_ok(&output, "early-stopping run");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    assert_eq!(csv_rows(&run_dir.join("metrics.csv")).len(), 2);
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["epochs_trained"], 2);
    assert_eq!(summary["best_epoch"], 1);
}

#[test]
fn a_seed_gives_the_same_run_whatever_the_data_workers() {
    // Twelve batches of 8, with augmentation: the loader's order and draws are the seed's,
    // not the order in which three worker threads finish their batches.
    let losses = |workers: &str| {
        let out = tempfile::tempdir().unwrap();
        let workers = format!("training.workers={workers}");
        let sets = ["data.train=96", "training.batch_size=8", "training.epochs=2", workers.as_str()];
        let output = smoke("galaxy_cnn", out.path(), &sets);
        assert_ok(&output, "smoke run");
        let rows = csv_rows(&only_run(out.path(), "galaxy_cnn").join("metrics.csv"));
        // Each epoch's train and valid losses (the last column is the epoch's wall time).
        rows.iter().map(|row| row[1..row.len() - 1].to_vec()).collect::<Vec<_>>()
    };
    let three = losses("3");
    assert_eq!(three, losses("3"), "the same seed twice");
    assert_eq!(three, losses("1"), "one worker against three");
}

/// The `learning_rate` column of a run's `metrics.csv`.
fn learning_rates(run_dir: &Path) -> Vec<String> {
    let path = run_dir.join("metrics.csv");
    let header = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_string();
    let column = header.split(',').position(|c| c == "learning_rate").expect("a learning_rate column");
    csv_rows(&path).iter().map(|row| row[column].clone()).collect()
}

#[test]
fn data_parallel_training_on_two_devices_completes() {
    // Two flex devices exercise Burn's multi-device strategy without GPUs.
    let out = tempfile::tempdir().unwrap();
    let output =
        run(&["--config", "galaxy_cnn", "--smoke", "--device", "flex,flex", "--out", out.path().to_str().unwrap()]);
    assert_ok(&output, "two-device smoke run");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    check_run_folder(&run_dir);
    let env = json(&run_dir.join("environment.json"));
    assert_eq!(env["devices"], serde_json::json!(["flex", "flex"]));
    // Both devices stepped batches: each its share of the epoch's.
    let summary = json(&run_dir.join("summary.json"));
    let counts: Vec<u64> =
        summary["batches_per_device"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(counts.len(), 2, "{summary}");
    assert!(counts.iter().all(|&n| n > 0), "{summary}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("- training batches per device: "), "{report}");
}

#[test]
fn data_parallel_training_drops_the_learning_rate_where_one_device_does() {
    // The schedule counts optimiser steps, one per round of the two devices' batches (it once
    // counted batches, and never dropped the rate). Four epochs take the config's schedule past
    // its drops at 72% and 92% of the steps.
    let epochs = "training.epochs=4";
    let two = tempfile::tempdir().unwrap();
    let path = two.path().to_str().unwrap();
    let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", "flex,flex", "--out", path, "--set", epochs]);
    assert_ok(&output, "two-device smoke run");
    let one = tempfile::tempdir().unwrap();
    assert_ok(&smoke("galaxy_cnn", one.path(), &[epochs]), "one-device smoke run");
    let single = learning_rates(&only_run(one.path(), "galaxy_cnn"));
    assert_eq!(learning_rates(&only_run(two.path(), "galaxy_cnn")), single);
    assert_ne!(single.first(), single.last(), "the schedule dropped the rate: {single:?}");
}

/// The GPU code path, on Mesa's software Vulkan driver (lavapipe): the same kernels a GPU runs.
#[cfg(feature = "wgpu")]
#[test]
fn the_wgpu_backend_trains_the_smoke_run() {
    let out = tempfile::tempdir().unwrap();
    let output =
        run(&["--config", "galaxy_cnn", "--smoke", "--device", "wgpu-cpu", "--out", out.path().to_str().unwrap()]);
    assert_ok(&output, "wgpu-cpu smoke run (needs mesa-vulkan-drivers)");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    check_run_folder(&run_dir);
    assert_eq!(json(&run_dir.join("environment.json"))["backend"], "wgpu-cpu");
}

#[test]
fn the_galaxy_config_trains_on_a_folder_in_the_kaggle_layout() {
    // images_training_rev1/<GalaxyID>.jpg and training_solutions_rev1.csv, as Kaggle ships
    // them (smaller images, fewer galaxies).
    let data = tempfile::tempdir().unwrap();
    let images = data.path().join("images_training_rev1");
    std::fs::create_dir(&images).unwrap();
    let names: Vec<String> = [3, 2, 2, 2, 4, 2, 3, 7, 3, 3, 6]
        .iter()
        .enumerate()
        .flat_map(|(q, &n)| (1..=n).map(move |a| format!("Class{}.{a}", q + 1)))
        .collect();
    let mut csv = format!("GalaxyID,{}\n", names.join(","));
    for i in 0..40u32 {
        let id = 100_000 + i;
        let shade = (i * 6) as u8;
        image::RgbImage::from_fn(140, 140, |x, y| {
            let r = ((x as f32 - 70.0).powi(2) + (y as f32 - 70.0).powi(2)).sqrt();
            let v = (255.0 * (-r / (8.0 + f32::from(shade) / 20.0)).exp()) as u8;
            image::Rgb([v, v.saturating_sub(shade / 4), v / 2])
        })
        .save(images.join(format!("{id}.jpg")))
        .unwrap();
        let row: Vec<String> =
            (0..37).map(|k| format!("{:.3}", ((i as usize * 7 + k * 3) % 10) as f32 / 10.0)).collect();
        csv.push_str(&format!("{id},{}\n", row.join(",")));
    }
    let targets = data.path().join("training_solutions_rev1.csv");
    std::fs::write(&targets, csv).unwrap();

    let out = tempfile::tempdir().unwrap();
    let images_set = format!("data.images={}", images.display());
    let targets_set = format!("data.targets={}", targets.display());
    let sets = ["data.source=image_csv", &images_set, &targets_set, "data.crop=120", "data.size=98"];
    let output = smoke("galaxy_cnn", out.path(), &sets);
    assert_ok(&output, "galaxy_cnn on a Kaggle-layout folder");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    check_run_folder(&run_dir);
    let summary = json(&run_dir.join("summary.json"));
    assert!(summary["data"].as_str().unwrap().contains("images_training_rev1"), "{summary}");
    assert_eq!(summary["test"]["per_group"].as_array().unwrap().len(), 11, "one RMSE per question");
}

#[test]
fn a_classification_run_evaluates_and_predicts_classes() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("galaxy10", out.path(), &[]);
    assert_ok(&output, "galaxy10 smoke run");
    let run_dir = only_run(out.path(), "galaxy10");
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["metric"], "accuracy");
    assert_eq!(summary["test"]["per_class"].as_array().unwrap().len(), 10);

    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval");
    assert!(text(&output).0.contains("accuracy: "), "{}", text(&output).0);
    let report = std::fs::read_dir(run_dir.join("eval"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let report = json(&report);
    assert_eq!(report["metrics"]["accuracy"], summary["test"]["accuracy"]);
    assert_eq!(report["metrics"]["confusion"], summary["test"]["confusion"]);

    let images = tempfile::tempdir().unwrap();
    for i in 0..2u8 {
        image::RgbImage::from_pixel(98, 98, image::Rgb([40 * i, 20, 30]))
            .save(images.path().join(format!("g{i}.png")))
            .unwrap();
    }
    let csv = out.path().join("pred.csv");
    let header = predict_header(&run_dir, images.path(), &csv);
    assert!(header.starts_with("id,predicted,p_Disturbed,p_Merging"), "{header}");
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2);
    let probabilities: Vec<f64> = rows[0][2..12].iter().map(|v| v.parse().unwrap()).collect();
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{probabilities:?}");
    let names = summary["test"]["per_class"].as_array().unwrap();
    assert!(names.iter().any(|c| c["class"] == rows[0][1].as_str()), "{:?} is not a class", rows[0][1]);
}

#[test]
fn the_galaxy10_config_trains_on_class_folders() {
    let data = tempfile::tempdir().unwrap();
    for (class, shade) in [("elliptical", 200u8), ("spiral", 90), ("edge_on", 30)] {
        std::fs::create_dir(data.path().join(class)).unwrap();
        for i in 0..12u8 {
            image::RgbImage::from_pixel(120, 120, image::Rgb([shade, i, 40]))
                .save(data.path().join(format!("{class}/{i}.jpg")))
                .unwrap();
        }
    }
    let out = tempfile::tempdir().unwrap();
    let root = format!("data.root={}", data.path().display());
    let sets =
        ["data.source=image_folder", &root, "data.size=98", "data.valid_fraction=0.25", "data.test_fraction=0.25"];
    let output = smoke("galaxy10", out.path(), &sets);
    assert_ok(&output, "galaxy10 on class folders");
    let run_dir = only_run(out.path(), "galaxy10");
    check_run_folder(&run_dir);
    let summary = json(&run_dir.join("summary.json"));
    let classes: Vec<&str> =
        summary["test"]["per_class"].as_array().unwrap().iter().map(|c| c["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["edge_on", "elliptical", "spiral"]);
    assert_eq!(summary["test"]["samples"], 9, "3 test images of each class");
}

/// The Galaxy10 DECaLS file layout, read through the `hdf5` feature from the h5py-written fixture.
#[cfg(feature = "hdf5")]
#[test]
fn the_galaxy10_config_trains_on_a_galaxy10_hdf5_file() {
    let out = tempfile::tempdir().unwrap();
    let fixture = root().join("crates/data/tests/fixtures/galaxy10_tiny.h5");
    let path = format!("data.path={}", fixture.display());
    let sets =
        ["data.source=galaxy10_h5", &path, "data.size=98", "data.valid_fraction=0.34", "data.test_fraction=0.34"];
    let output = smoke("galaxy10", out.path(), &sets);
    assert_ok(&output, "galaxy10 on an HDF5 file");
    let run_dir = only_run(out.path(), "galaxy10");
    check_run_folder(&run_dir);
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["test"]["samples"], 10, "one test galaxy of each class");
    assert!(summary["data"].as_str().unwrap().contains("galaxy10_tiny.h5"), "{summary}");
}

#[test]
fn the_lens_config_trains_on_a_folder_in_the_challenge_layout() {
    // Band1..4/imageSDSS_{R,I,G,U}-<ID>.fits and classifications.csv, as the Strong Lens
    // Finding Challenge ships them (smaller cutouts, fewer of them); lenses carry a ring.
    let data = tempfile::tempdir().unwrap();
    let side = 45;
    let mut csv = String::from("ID,is_lens,Einstein_area,numb_pix_lensed_image\n");
    for (k, band) in ["R", "I", "G", "U"].iter().enumerate() {
        let folder = data.path().join(format!("Band{}", k + 1));
        std::fs::create_dir(&folder).unwrap();
        for id in 0..30usize {
            let lens = id % 2 == 0;
            let pixels: Vec<f32> = (0..side * side)
                .map(|p| {
                    let (x, y) = ((p % side) as f32 - 22.0, (p / side) as f32 - 22.0);
                    let r = (x * x + y * y).sqrt();
                    let noise = ((p * 31 + id * 17 + k * 7) % 13) as f32 - 6.0;
                    let ring = if lens { 40.0 * (-(r - 9.0).powi(2) / 4.0).exp() } else { 0.0 };
                    200.0 * (-r / 3.0).exp() + ring + noise
                })
                .collect();
            astro_data::formats::fits::write_fits(
                &folder.join(format!("imageSDSS_{band}-{}.fits", 100_000 + id)),
                side,
                side,
                &pixels,
            )
            .unwrap();
        }
    }
    for id in 0..30usize {
        csv.push_str(&format!("{},{},{},{}\n", 100_000 + id, usize::from(id % 2 == 0), id as f64 * 0.5, id));
    }
    std::fs::write(data.path().join("classifications.csv"), csv).unwrap();

    let out = tempfile::tempdir().unwrap();
    let root = format!("data.root={}", data.path().display());
    let sets = ["data.source=lens_challenge", &root, "data.valid_fraction=0.2", "data.test_fraction=0.4"];
    let output = smoke("deeplens_resnet", out.path(), &sets);
    assert_ok(&output, "deeplens_resnet on a challenge-layout folder");
    let run_dir = only_run(out.path(), "deeplens_resnet");
    check_run_folder(&run_dir);
    assert!(run_dir.join("roc.png").is_file(), "roc.png is missing");
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["test"]["samples"], 12, "40% of 30 cutouts, per class");
    let auc = summary["test"]["binary"]["roc_auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc), "{summary}");
    // The paper's subset is empty here (no such property): its metric is not measured, and
    // says why, rather than a completeness of 0.
    assert!(summary["paper"]["subset"].is_string(), "{summary}");
    assert!(summary["paper_metric"].is_null(), "{summary}");
    let why = summary["paper_metric_missing"].as_str().unwrap_or_default();
    assert!(why.starts_with("no items: the test split has no positives in subset"), "{summary}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("completeness at 1% FPR") && report.contains("(roc.png)"), "{report}");
    assert!(report.contains("not measured (no items"), "{report}");
    // The bins and the subset are on properties the catalogue lacks: said when the data opens,
    // naming the catalogue's properties, and their table cells are not numbers.
    let (_, stderr) = text(&output);
    assert!(
        stderr.contains("evaluation.bins: no item has the property \"einstein_radius\"")
            && stderr.contains("the data's item properties are Einstein_area, numb_pix_lensed_image"),
        "{stderr}"
    );
    assert!(report.contains("| einstein_radius | [0.5, 1) | 0 | not measured (no items) |"), "{report}");

    // `predict` on the challenge folder: one row per id, from its four band files, read exactly
    // as training read them (the test cutouts get the probabilities the test gave them). An
    // unreadable band file becomes a row of the skipped file, and the others go on.
    std::fs::write(data.path().join("Band3/imageSDSS_G-100001.fits"), b"SIMPLE  = broken").unwrap();
    let csv = out.path().join("challenge.csv");
    let args = [
        "predict",
        "--run",
        run_dir.to_str().unwrap(),
        data.path().to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--device",
        "flex",
    ];
    let output = run(&args);
    assert_ok(&output, "predict on band folders");
    assert!(text(&output).0.contains("skipped 1 unreadable input(s)"), "{}", text(&output).0);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 29);
    let skipped = csv_rows(&out.path().join("challenge.skipped.csv"));
    assert!(skipped.len() == 1 && skipped[0][1] == "100001" && skipped[0][2].contains("imageSDSS_G-100001.fits"));
    let tested: std::collections::HashMap<String, f64> = csv_rows(&run_dir.join("test_predictions.csv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[3].parse().unwrap()))
        .collect();
    let mut compared = 0;
    for row in &rows {
        if let Some(p_lens) = tested.get(&row[0]) {
            let got: f64 = row[3].parse().unwrap();
            assert!((got - p_lens).abs() < 1e-4, "{}: predict {got}, test {p_lens}", row[0]);
            compared += 1;
        }
    }
    assert!(compared >= 10, "{compared}");
    // Nothing readable: the command fails and says where the reasons are.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("a.fits"), b"not fits").unwrap();
    let args = ["predict", "--run", run_dir.to_str().unwrap(), broken.path().to_str().unwrap(), "--device", "flex"];
    assert_fails_with(&run(&args), "none of the 1 input(s) could be read");
}

#[test]
fn the_feh_config_trains_on_a_light_curve_folder() {
    // A list file (`# id class period feh snr`) and one `<id>.dat` of time, mag, err per star,
    // written from the simulator: half RRab (with [Fe/H]), the rest other kinds without it.
    let data = tempfile::tempdir().unwrap();
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig =
        toml::from_str("[simulator]\nclass_fractions = [0.5, 0.1, 0.1, 0.1]\n").unwrap();
    sim.write_list_and_files(3, 90, data.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let list = format!("data.list={}", data.path().join("list.txt").display());
    let sets = [
        "data.source=light_curve_folder",
        &list,
        "data.suffix=.dat",
        "data.fold=true",
        "data.label=feh",
        "data.task=regression",
    ];
    // A baseline feature that is no column of the list is refused, naming the columns.
    let typo: Vec<&str> = sets.iter().copied().chain(["baseline.features=[\"perod\"]"]).collect();
    let output = smoke("rrlyrae_feh", out.path(), &typo);
    assert_fails_with(&output, "baseline.features: \"perod\" is not a property of any item");
    let sets: Vec<&str> = sets.iter().copied().chain(["baseline.features=[\"period\"]"]).collect();
    let output = smoke("rrlyrae_feh", out.path(), &sets);
    assert_ok(&output, "rrlyrae_feh on a light-curve folder");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("data: skipped star") && stderr.contains("is not a number"), "{stderr}");
    let run_dir = only_run(out.path(), "rrlyrae_feh");
    check_run_folder(&run_dir);
    let warnings = std::fs::read_to_string(run_dir.join("data_warnings.txt")).unwrap();
    let summary = json(&run_dir.join("summary.json"));
    let scored = summary["test"]["samples"].as_u64().unwrap() as usize;
    let stars = 90 - warnings.lines().count();
    assert!(stars > 30 && scored > 0 && scored < stars, "{stars} usable stars, {scored} scored");
    assert!(summary["test"]["rmse"].as_f64().unwrap().is_finite(), "{summary}");
    // `--set data.source=...` kept the config's own [data.sequence]: 60 resampled, aligned steps.
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(run_dir.join("config.toml")).unwrap()).unwrap();
    let sequence = &config["data"]["sequence"];
    assert_eq!((sequence["length"].as_integer(), sequence["align"].as_bool()), (Some(60), Some(true)), "{sequence}");
    let ids: Vec<String> = csv_rows(&run_dir.join("test_predictions.csv")).into_iter().map(|r| r[0].clone()).collect();
    assert!(ids.iter().all(|id| id.starts_with("star-")), "{ids:?}");
    // The shallow baseline ran on the same test stars, from the curves' statistics and the
    // list's period, and the report shows it beside the network.
    let shallow = &summary["shallow_baseline"];
    assert_eq!(shallow["test_items"].as_u64(), Some(scored as u64), "{summary}");
    assert!(shallow["value"].as_f64().is_some_and(f64::is_finite) && shallow["metric"] == "rmse", "{summary}");
    let features: Vec<&str> = shallow["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(features.contains(&"curve_fourier_phi31") && features.contains(&"period"), "{features:?}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("| shallow baseline: random forest (100 trees) on 20 features"), "{report}");
    // ... with the paired test of the network against it on the same stars.
    let paired = &shallow["against_network"];
    assert_eq!(paired["test"], "paired squared errors", "{summary}");
    assert_eq!(paired["items"].as_u64(), Some(scored as u64), "{summary}");
    assert!(paired["z"].as_f64().is_some_and(f64::is_finite), "{summary}");
    assert!(report.contains("; the network against it: paired squared errors z = "), "{report}");

    // `eval` scores the same stars again; `predict` reads the list as training did (no label
    // needed: the stars without [Fe/H] are predicted too) and gives the test stars' values.
    let summary = json(&run_dir.join("summary.json"));
    eval_reproduces_the_test_rmse(&run_dir, &summary);
    let list = data.path().join("list.txt");
    let rows = predict_curves(&run_dir, &[&list], 90);
    predictions_match_the_test_split(&run_dir, &rows);
    // Star files without a list carry no period to fold by: refused with what to give.
    let output =
        run(&["predict", "--run", run_dir.to_str().unwrap(), data.path().to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "star files carry none: give a list with `id` and `period` columns");
    // A star whose file is missing, and one with an unusable period, are skipped with reasons.
    let text = std::fs::read_to_string(&list).unwrap();
    let short = data.path().join("short.txt");
    let first_lines: Vec<&str> = text.lines().take(6).collect();
    let bad_period = first_lines[2].replacen(first_lines[2].split_whitespace().nth(2).unwrap(), "-1", 1);
    let lines =
        [first_lines[0], first_lines[1], &bad_period, first_lines[3], first_lines[4], "nobody RRab 0.5 -1.0 50"];
    std::fs::write(&short, lines.join("\n") + "\n").unwrap();
    let csv = data.path().join("short.csv");
    let output = run(&[
        "predict",
        "--run",
        run_dir.to_str().unwrap(),
        short.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--device",
        "flex",
    ]);
    assert_ok(&output, "predict on a list with two bad stars");
    assert!(text_of(&output).contains("skipped 2 unreadable input(s)"), "{}", text_of(&output));
    assert_eq!(csv_rows(&csv).len(), 3);
    let skipped = csv_rows(&data.path().join("short.skipped.csv"));
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0][2].contains("-1") && skipped[0][2].contains("is not a positive number"), "{skipped:?}");
    assert!(skipped[1][1] == "nobody" && skipped[1][2].contains("nobody.dat"), "{skipped:?}");
}

/// Runs `predict` of the light-curve run `run_dir` on `inputs`, checks that it predicted
/// `expected` stars and skipped none, and returns the rows.
fn predict_curves(run_dir: &Path, inputs: &[&Path], expected: usize) -> Vec<Vec<String>> {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("p.csv");
    let mut args = vec!["predict", "--run", run_dir.to_str().unwrap(), "--out", csv.to_str().unwrap()];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--device", "flex"]);
    let output = run(&args);
    assert_ok(&output, "predict on light curves");
    assert!(text_of(&output).contains(&format!("predicted {expected} input(s)")), "{}", text_of(&output));
    csv_rows(&csv)
}

/// Checks that `rows` of `predict` give the run's own test predictions for the test stars.
fn predictions_match_the_test_split(run_dir: &Path, rows: &[Vec<String>]) {
    let tested: std::collections::HashMap<String, Vec<String>> =
        csv_rows(&run_dir.join("test_predictions.csv")).into_iter().map(|r| (r[0].clone(), r)).collect();
    let mut compared = 0;
    for row in rows {
        if let Some(test) = tested.get(&row[0]) {
            for (got, want) in row[1..].iter().zip(&test[1..]) {
                match (got.parse::<f64>(), want.parse::<f64>()) {
                    (Ok(g), Ok(w)) => assert!((g - w).abs() < 1e-4, "{}: predict {g}, test {w}", row[0]),
                    _ => assert_eq!(got, want, "{}", row[0]),
                }
            }
            compared += 1;
        }
    }
    assert_eq!(compared, tested.len(), "every test star is among the predicted");
}

/// The output of a command, stdout and stderr together.
fn text_of(output: &std::process::Output) -> String {
    let (stdout, stderr) = text(output);
    format!("{stdout}{stderr}")
}

#[test]
fn catalogue_features_feed_the_network_and_eval_applies_the_runs_own_scaling() {
    let data = tempfile::tempdir().unwrap();
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig =
        toml::from_str("[simulator]\nclass_fractions = [0.5, 0.1, 0.1, 0.1]\n").unwrap();
    sim.write_list_and_files(3, 90, data.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let sets = light_curve_folder_sets(data.path());
    let with = |extra: &[&str]| -> Vec<String> {
        sets.iter().cloned().chain(extra.iter().map(|s| s.to_string())).collect::<Vec<String>>()
    };
    // A text column is refused by name, with what it holds.
    let text = with(&["features.columns=[\"period\", \"class\"]"]);
    let output = smoke("rrlyrae_feh", out.path(), &text.iter().map(String::as_str).collect::<Vec<_>>());
    assert_fails_with(&output, "features.columns: column \"class\" holds text (\"RRab\" for item star-");
    // With a second head on the body: trained beside the main head, left out of `model.bpk`
    // (eval and predict below reproduce the test scores from it).
    let good =
        with(&["features.columns=[\"period\", \"snr\"]", "features.log=[\"period\"]", "features.body_loss_weight=0.5"]);
    let output = smoke("rrlyrae_feh", out.path(), &good.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&output, "rrlyrae_feh with catalogue features");
    assert!(text_of(&output).contains("a second head reads the body's output alone in training, its loss x 0.5"));
    let run_dir = only_run(out.path(), "rrlyrae_feh");
    check_run_folder(&run_dir);
    // The scaling is the training split's, saved beside the model.
    let io = json(&run_dir.join("model_io.json"));
    assert_eq!(io["features"]["names"], serde_json::json!(["log10(period)", "snr"]), "{io}");
    let mean_log_period = io["features"]["mean"][0].as_f64().unwrap();
    assert!((-0.5..-0.1).contains(&mean_log_period), "RRab periods are 0.4-0.9 d: {io}");
    assert!(io["features"]["std"].as_array().unwrap().iter().all(|s| s.as_f64().unwrap() > 0.0), "{io}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("| concatenate 2 catalogue features | [66] |"), "{report}");
    assert!(report.contains("- a second head on the body's output alone (training only), its loss x 0.5"), "{report}");
    // The shallow baseline learns from the same columns.
    let summary = json(&run_dir.join("summary.json"));
    let features = summary["shallow_baseline"]["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f == "period") && features.iter().any(|f| f == "snr"), "{summary}");
    // `eval` and `predict` (on the list, which holds the features' columns) reproduce the test
    // scores with the saved scaling.
    eval_reproduces_the_test_rmse(&run_dir, &summary);
    let rows = predict_curves(&run_dir, &[&data.path().join("list.txt")], 90);
    predictions_match_the_test_split(&run_dir, &rows);
    // A list without one of the columns: every star is skipped, naming it.
    let text = std::fs::read_to_string(data.path().join("list.txt")).unwrap();
    let no_snr: String = text.lines().map(|l| l.rsplit_once(' ').unwrap().0.to_string() + "\n").collect();
    let list = data.path().join("no_snr.txt");
    std::fs::write(&list, no_snr).unwrap();
    let output = run(&["predict", "--run", run_dir.to_str().unwrap(), list.to_str().unwrap(), "--device", "flex"]);
    let err = assert_fails_with(&output, "none of the 90 input(s) could be read");
    let skipped = err.rsplit("the reasons are in ").next().unwrap().trim();
    let reasons = csv_rows(Path::new(skipped));
    assert!(reasons.len() == 90 && reasons[0][2].contains("has no value in column") && reasons[0][2].contains("snr"));
}

#[test]
fn two_bands_with_catalogue_features_train_beside_the_forest_and_a_missing_band_file_skips_its_star() {
    let data = tempfile::tempdir().unwrap();
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig =
        toml::from_str("[simulator]\nbands = [\"V\", \"I\"]\n").unwrap();
    sim.write_list_and_files(5, 90, data.path()).unwrap();
    std::fs::remove_file(data.path().join("star-5_I.dat")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let list = format!("data.list={}", data.path().join("list.txt").display());
    let sets = [
        "data.source=light_curve_folder",
        list.as_str(),
        "data.suffix=_{band}.dat",
        "data.bands=[\"V\", \"I\"]",
        "data.fold=true",
        "data.label=class",
        "features.columns=[\"period\", \"curve_V_minus_I\"]",
        "features.log=[\"period\"]",
    ];
    let output = smoke("rrlyrae_rnn", out.path(), &sets);
    assert_ok(&output, "rrlyrae_rnn on two bands with features");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        format!("{stdout}{stderr}").contains("skipped star star-5:")
            && format!("{stdout}{stderr}").contains("star-5_I.dat"),
        "the star without its I file is named\n{stdout}\n{stderr}"
    );
    let run_dir = only_run(out.path(), "rrlyrae_rnn");
    check_run_folder(&run_dir);
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    // (phase, mag, mask) per band and the step mask; the mask is not a feature of the network.
    assert!(report.contains("| mask (last channel) | [6, 64] |"), "{report}");
    assert!(report.contains("| concatenate 2 catalogue features | [66] |"), "{report}");
    let summary = json(&run_dir.join("summary.json"));
    let features = summary["shallow_baseline"]["features"].as_array().unwrap();
    for name in ["period", "curve_V_minus_I", "curve_I_amplitude_ratio"] {
        assert!(features.iter().any(|f| f == name), "the forest reads {name}: {summary}");
    }
    assert_eq!(summary["shallow_baseline"]["metric"], "accuracy", "{summary}");
    assert!(summary["shallow_baseline"]["value"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a)), "{summary}");
    // McNemar's counts agree with the two accuracies: the difference is the items only one of
    // them gets right, over the test items.
    let paired = &summary["shallow_baseline"]["against_network"];
    let count = |key: &str| paired[key].as_u64().unwrap() as f64;
    let n = count("items");
    let (network, forest) =
        (summary["test"]["accuracy"].as_f64().unwrap(), summary["shallow_baseline"]["value"].as_f64().unwrap());
    let from_counts = (count("only_network_right") - count("only_baseline_right")) / n;
    assert!((network - forest - from_counts).abs() < 1e-9, "{summary}");
    assert_eq!(paired["test"], "McNemar", "{summary}");
}

/// Runs `eval` on the finished regression run `run_dir` and checks that it scores its test split
/// as the run did (`summary`).
fn eval_reproduces_the_test_rmse(run_dir: &Path, summary: &serde_json::Value) {
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval of the light-curve run");
    let report = std::fs::read_dir(run_dir.join("eval"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"));
    let again = json(&report.expect("an eval report").path())["metrics"]["rmse"].as_f64().unwrap();
    let rmse = summary["test"]["rmse"].as_f64().unwrap();
    assert!((again - rmse).abs() < 1e-5, "eval rmse {again} differs from the run's test rmse {rmse}");
}

/// The `--set`s that point `rrlyrae_feh` at a simulator-written light-curve folder in `data`.
fn light_curve_folder_sets(data: &Path) -> Vec<String> {
    [
        "data.source=light_curve_folder".to_string(),
        format!("data.list={}", data.join("list.txt").display()),
        "data.suffix=.dat".into(),
        "data.fold=true".into(),
        "data.label=feh".into(),
        "data.task=regression".into(),
        "data.filter=[\"class == RRab\"]".into(),
    ]
    .to_vec()
}

#[test]
fn a_cross_validated_run_predicts_every_star_once_out_of_fold_and_resumes_its_unfinished_folds() {
    let data = tempfile::tempdir().unwrap();
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig =
        toml::from_str("[simulator]\nclass_fractions = [1.0, 0.0, 0.0, 0.0]\n").unwrap();
    sim.write_list_and_files(5, 45, data.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut sets = light_curve_folder_sets(data.path());
    sets.extend(["validation.folds=3".to_string(), "evaluation.published=snr".to_string()]);
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let output = smoke("rrlyrae_feh", out.path(), &sets);
    assert_ok(&output, "a 3-fold run");
    let (stdout, stderr) = text(&output);
    assert!(stdout.contains("per-fold rmse:") && stdout.contains("mean +- sd over 3 folds"), "{stdout}");
    assert!(stderr.contains("fold 2 (3 of 3)"), "{stderr}");
    let run_dir = only_run(out.path(), "rrlyrae_feh");
    let ids: Vec<String> = csv_rows(&run_dir.join("predictions.csv")).into_iter().map(|r| r[0].clone()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (45, 45), "every star predicted once, out of its fold");
    let summary = json(&run_dir.join("summary.json"));
    let folds = summary["cross_validation"]["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    assert_eq!(folds.iter().map(|f| f["samples"].as_u64().unwrap()).sum::<u64>(), 45);
    assert!(summary["test"]["rmse"].as_f64().is_some_and(f64::is_finite), "{summary}");
    let published = &summary["test"]["published"];
    assert_eq!((published["property"].as_str(), published["samples"].as_u64()), (Some("snr"), Some(45)), "{summary}");
    for k in 0..3 {
        check_run_folder(&run_dir.join(format!("fold-{k}")));
    }
    for file in ["report.md", "predicted_vs_true.png", "status.json", "config.toml"] {
        assert!(run_dir.join(file).is_file(), "{file} is missing");
    }
    // `eval` predicts every star with its fold's model again; on other data it averages the
    // three fold models.
    let rmse = summary["test"]["rmse"].as_f64().unwrap();
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval of the 3-fold run");
    let (stdout, _) = text(&output);
    assert!(stdout.contains(&format!("{rmse:.5}")), "eval gives the out-of-fold rmse {rmse:.5}:\n{stdout}");
    let data_file = data.path().join("data.toml");
    let list = data.path().join("list.txt");
    std::fs::write(
        &data_file,
        format!(
            "[data]\nsource = \"light_curve_folder\"\nlist = \"{}\"\nsuffix = \".dat\"\nfold = true\nlabel = \"feh\"\ntask = \"regression\"\n[data.sequence]\nlength = 60\nresample = true\nsmooth = true\nalign = true\n",
            list.display()
        ),
    )
    .unwrap();
    // Another encoding than the run's is refused; without [data.sequence] the data file takes
    // the run's.
    let eval_on_data = || {
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", data_file.to_str().unwrap(), "--device", "flex"])
    };
    let written = std::fs::read_to_string(&data_file).unwrap();
    std::fs::write(&data_file, written.replace("length = 60", "length = 50")).unwrap();
    let err = assert_fails_with(&eval_on_data(), "[data.sequence] encodes the curves as {");
    assert!(err.contains("length = 50") && err.contains("leave [data.sequence] out to use the run's"), "{err}");
    std::fs::write(&data_file, written.split("[data.sequence]").next().unwrap()).unwrap();
    let output = eval_on_data();
    assert_ok(&output, "eval of the 3-fold run on a data file");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("(mean of the 3 fold models)"), "{stdout}");
    // `predict` on the list gives the same means of the three fold models.
    let evaluated = std::fs::read_dir(run_dir.join("eval"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-predictions.csv"))
        .max()
        .expect("eval's predictions (the latest: of the data file)");
    let evaluated: std::collections::HashMap<String, f64> =
        csv_rows(&evaluated).into_iter().map(|r| (r[0].clone(), r[1].parse().unwrap())).collect();
    let rows = predict_curves(&run_dir, &[&list], 45);
    for row in &rows {
        let got: f64 = row[1].parse().unwrap();
        assert!((got - evaluated[&row[0]]).abs() < 1e-4, "{}: predict {got}, eval {}", row[0], evaluated[&row[0]]);
    }

    // Killed during fold 2: --resume trains fold 2 only and writes the same out-of-fold rows.
    let fold0_metrics = std::fs::read(run_dir.join("fold-0/metrics.csv")).unwrap();
    let fold0_time = std::fs::metadata(run_dir.join("fold-0/summary.json")).unwrap().modified().unwrap();
    std::fs::remove_dir_all(run_dir.join("fold-2")).unwrap();
    std::fs::write(run_dir.join("status.json"), "{\"state\": \"running\"}").unwrap();
    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resuming the 3-fold run");
    let (_, stderr) = text(&output);
    assert!(!stderr.contains("fold 0 (") && stderr.contains("fold 2 (3 of 3)"), "{stderr}");
    assert_eq!(std::fs::read(run_dir.join("fold-0/metrics.csv")).unwrap(), fold0_metrics);
    assert_eq!(std::fs::metadata(run_dir.join("fold-0/summary.json")).unwrap().modified().unwrap(), fold0_time);
    assert_eq!(csv_rows(&run_dir.join("predictions.csv")).len(), 45);
    assert_eq!(json(&run_dir.join("status.json"))["state"], "complete");
}

#[test]
fn a_published_column_with_missing_values_and_a_bad_fold_column_are_refused_before_training() {
    let data = tempfile::tempdir().unwrap();
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig =
        toml::from_str("[simulator]\nclass_fractions = [0.5, 0.2, 0.2, 0.1]\n").unwrap();
    sim.write_list_and_files(5, 40, data.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut sets = light_curve_folder_sets(data.path());
    // Regress the period of every star; `feh` is "nan" for all but the RRab.
    sets.retain(|s| !s.starts_with("data.filter") && !s.starts_with("data.label"));
    sets.extend(["data.label=period".to_string(), "evaluation.published=feh".to_string()]);
    let sets_ref: Vec<&str> = sets.iter().map(String::as_str).collect();
    let err = assert_fails_with(&smoke("rrlyrae_feh", out.path(), &sets_ref), "evaluation.published: item star-");
    assert!(err.contains("no numeric property `feh` (a missing or NaN value in the list?)"), "{err}");
    sets.pop();
    sets.push("validation.fold_column=snr".into());
    let sets_ref: Vec<&str> = sets.iter().map(String::as_str).collect();
    let err = assert_fails_with(&smoke("rrlyrae_feh", out.path(), &sets_ref), "data.fold_column: item star-");
    assert!(err.contains("is not a whole number"), "{err}");
    assert!(run_dirs(out.path(), "rrlyrae_feh").is_empty(), "nothing half-written");
}

#[test]
fn the_gaia_feh_config_cross_validates_on_the_authors_stars_beside_their_predictions() {
    let Some(real) = real_data("the_gaia_feh_config_cross_validates_on_the_authors_stars") else { return };
    let out = tempfile::tempdir().unwrap();
    let root = format!("data.root={}", real.join("rrlyrae_gaia_g").display());
    let output = smoke("rrlyrae_feh_gaia", out.path(), &[&root, "validation.run_folds=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"]);
    assert_ok(&output, "rrlyrae_feh_gaia on the shared Gaia stars");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("published predictions (`published_feh`) on the same 80 items"), "{stdout}");
    let run_dir = only_run(out.path(), "rrlyrae_feh_gaia");
    let rows = csv_rows(&run_dir.join("predictions.csv"));
    let mut ids: Vec<&String> = rows.iter().map(|r| &r[0]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((rows.len(), ids.len()), (80, 80), "the smoke run's 80 stars, each once");
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["cross_validation"]["folds"].as_array().unwrap().len(), 10, "the authors' 10 folds");
    let published = summary["test"]["published"]["rmse"].as_f64().unwrap();
    // The authors' out-of-fold predictions on these stars: about their published 0.18 dex.
    assert!(published > 0.1 && published < 0.3, "{published}");
    assert!(run_dir.join("predicted_vs_true.png").is_file());
    // The ten fold models predict their own folds again in `eval`.
    let rmse = summary["test"]["rmse"].as_f64().unwrap();
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval of the Gaia run");
    let (stdout, _) = text(&output);
    assert!(stdout.contains(&format!("{rmse:.5}")) && stdout.contains("out of fold (10 folds)"), "{stdout}");
    // `predict` on a list of the authors' layout (the archive of curves beside it, as the run's
    // `dir`): the mean of the ten fold models for each star.
    let folder = tempfile::tempdir().unwrap();
    let stars = std::fs::read_to_string(real.join("rrlyrae_gaia_g/stars.dat")).unwrap();
    let head: String = stars.lines().take(101).map(|l| format!("{l}\n")).collect();
    std::fs::write(folder.path().join("stars.dat"), head).unwrap();
    std::os::unix::fs::symlink(real.join("rrlyrae_gaia_g/lc_dev_g.tar.gz"), folder.path().join("lc_dev_g.tar.gz"))
        .unwrap();
    let rows = predict_curves(&run_dir, &[&folder.path().join("stars.dat")], 100);
    assert!(rows.iter().all(|r| r[1].parse::<f64>().is_ok_and(|f| (-4.0..1.0).contains(&f))), "{rows:?}");
}

#[test]
fn the_rrlyrae_classifier_reports_rrab_precision_and_recall_by_snr() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("rrlyrae_rnn", out.path(), &[]);
    assert_ok(&output, "rrlyrae_rnn smoke run");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("RRab [S/N > 60] (n = "), "{stdout}");
    assert!(stdout.contains("paper f1 of RRab [S/N > 60]: 0.99000"), "{stdout}");
    let run_dir = only_run(out.path(), "rrlyrae_rnn");
    let summary = json(&run_dir.join("summary.json"));
    let groups = summary["test"]["groups"].as_array().expect("per-bin scores");
    // Seven S/N bins and the subset, each with both classes.
    assert_eq!(groups.len(), 8, "{summary}");
    let binned: u64 = groups[..7].iter().map(|g| g["items"].as_u64().unwrap()).sum();
    assert_eq!(binned, summary["test"]["samples"].as_u64().unwrap(), "every star falls in one S/N bin");
    assert!(summary["paper_metric"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{summary}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("### Per bin and subset") && report.contains("| S/N > 60 |"), "{report}");
}

#[test]
fn a_run_on_simulated_stars_predicts_the_files_the_simulator_writes() {
    let out = tempfile::tempdir().unwrap();
    assert_ok(&smoke("rrlyrae_rnn", out.path(), &[]), "rrlyrae_rnn smoke run");
    let run_dir = only_run(out.path(), "rrlyrae_rnn");
    // The run's own stars (its seed, its simulator settings), written as list and files.
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(run_dir.join("config.toml")).unwrap()).unwrap();
    let seed = config["experiment"]["seed"].as_integer().unwrap() as u64;
    let mut data = config["data"].as_table().unwrap().clone();
    data.remove("source");
    let sim: astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig = data.try_into().unwrap();
    let total = ["train", "valid", "test"].iter().map(|k| config["data"][k].as_integer().unwrap()).sum::<i64>();
    let files = tempfile::tempdir().unwrap();
    sim.write_list_and_files(seed, total as usize, files.path()).unwrap();
    let rows = predict_curves(&run_dir, &[&files.path().join("list.txt")], total as usize);
    // The files hold times to 1e-5 d and magnitudes to 1e-4: the class probabilities agree
    // closely, not exactly.
    let tested: std::collections::HashMap<String, f64> = csv_rows(&run_dir.join("test_predictions.csv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[3].parse().unwrap()))
        .collect();
    let matched: Vec<f64> =
        rows.iter().filter_map(|r| Some((r[3].parse::<f64>().unwrap() - tested.get(&r[0])?).abs())).collect();
    assert_eq!(matched.len(), tested.len());
    assert!(matched.iter().all(|d| *d < 0.01), "{matched:?}");
}

#[test]
fn a_finished_run_initialises_another_experiments_network() {
    // Galaxy Zoo answers (37 outputs) -> Galaxy10 classes (10): the same Dieleman body.
    let out = tempfile::tempdir().unwrap();
    assert_ok(&smoke("galaxy_cnn", out.path(), &[]), "galaxy_cnn smoke run");
    let pretrained = only_run(out.path(), "galaxy_cnn");
    let init = format!("init.run={}", pretrained.display());
    let output = smoke("galaxy10", out.path(), &[&init]);
    assert_ok(&output, "galaxy10 from the galaxy_cnn run");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("init: every layer but the head ("), "{stderr}");
    assert!(stderr.contains("(37 outputs there, 10 here: a fresh head)"), "{stderr}");
    let run_dir = only_run(out.path(), "galaxy10");
    check_run_folder(&run_dir);
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(saved.contains("[init]"), "the resolved config records where the weights came from");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        report.contains(&format!("- initial weights: {} (`[init]`)\n\n## Model", pretrained.display())),
        "{report}"
    );

    // Another body or another input is refused by name.
    let output = smoke("galaxy10", out.path(), &[&init, "model.dense_units=128"]);
    assert_fails_with(
        &output,
        "its model is not this experiment's up to the output layer (dense_units = 128 here, 256 there)",
    );
    let output = smoke("rrlyrae_rnn", out.path(), &[&init]);
    assert_fails_with(&output, "its model takes [3, 98, 98] but this experiment's data is [3, 64]");
}

#[test]
fn pytorch_weights_initialise_a_resnet_by_name() {
    // A torchvision-layout ResNet-18 state dict at tiny widths, written by
    // crates/train/tests/fixtures/make_resnet_safetensors.py (5 classes).
    let weights = root().join("crates/train/tests/fixtures/resnet18_tiny.safetensors");
    let init = format!("init.weights={}", weights.display());
    let resnet = ["model.kind=resnet", "model.preset=resnet18", "model.stem_channels=4", "model.widths=[4,8,8,8]"];
    let out = tempfile::tempdir().unwrap();
    let mut sets: Vec<&str> = resnet.to_vec();
    sets.push(&init);
    let output = smoke("galaxy10", out.path(), &sets);
    assert_ok(&output, "galaxy10 on a ResNet-18 from PyTorch weights");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("init: 100 tensors from") && stderr.contains("a fresh head (fc)"), "{stderr}");
    check_run_folder(&only_run(out.path(), "galaxy10"));
    // One-band cutouts do not fit the RGB stem: the mismatch is named.
    let output = smoke("deeplens_resnet", out.path(), &sets);
    assert_fails_with(&output, "1 of another shape [\"conv1.weight");
}

#[test]
fn the_merger_comparison_trains_both_networks_reuses_its_pretraining_and_resumes() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("merger_transfer", out.path(), &[]);
    assert_ok(&output, "merger_transfer smoke run");
    let (stdout, stderr) = text(&output);
    assert!(
        stderr.contains("merger_pretrain.toml with these settings") && stderr.contains("training it first"),
        "{stderr}"
    );
    assert!(stderr.contains("stage 1/2 \"head\": epochs 1-1, training head, fc, adam lr 1e-3"), "{stderr}");
    assert!(stderr.contains("stage 2/2 \"all layers\": epochs 2-2, training every layer, sgd"), "{stderr}");
    assert!(!stderr.contains("resuming"), "a new stage is not a resumed run:\n{stderr}");
    assert!(stdout.contains("paper error_rate: scratch 0.0380, transfer 0.0320"), "{stdout}");
    assert!(stdout.contains("McNemar z ="), "{stdout}");
    let pretrained = only_run(out.path(), "merger_pretrain");
    let top = only_run(out.path(), "merger_transfer");
    check_comparison_folder(&top);
    let transfer = json(&top.join("transfer/summary.json"));
    assert_eq!(transfer["stages"][0]["train"], "head", "{transfer}");
    assert_eq!(transfer["stages"][1]["optimizer"], "sgd", "{transfer}");
    let saved = std::fs::read_to_string(top.join("transfer/config.toml")).unwrap();
    assert!(saved.contains(&format!("run = \"{}\"", pretrained.display())), "{saved}");
    let scratch = std::fs::read_to_string(top.join("scratch/config.toml")).unwrap();
    assert!(!scratch.contains("[init]") && !scratch.contains("[[stages]]"), "{scratch}");
    let report = std::fs::read_to_string(top.join("transfer/report.md")).unwrap();
    assert!(report.contains("### Stages") && report.contains("| head | 1-1 | head | adam |"), "{report}");

    // A second run finds the finished pretraining instead of training it again.
    let output = smoke("merger_transfer", out.path(), &[]);
    assert_ok(&output, "second merger_transfer smoke run");
    let (_, stderr) = text(&output);
    assert!(stderr.contains(&format!("init: pretraining source: {}", pretrained.display())), "{stderr}");
    assert_eq!(run_dirs(out.path(), "merger_pretrain").len(), 1);

    // Killed at the stage boundary: the run from scratch is read back, the transferred one goes
    // on with stage 2 from the stage-1 checkpoint, with a fresh optimiser.
    let transfer_dir = top.join("transfer");
    for name in ["model", "optim", "scheduler"] {
        std::fs::remove_file(transfer_dir.join(format!("checkpoint/{name}-2.bpk"))).unwrap();
    }
    let metrics = std::fs::read_to_string(transfer_dir.join("metrics.csv")).unwrap();
    let kept: Vec<&str> = metrics.lines().take(2).collect();
    std::fs::write(transfer_dir.join("metrics.csv"), kept.join("\n") + "\n").unwrap();
    let running = "{\"state\": \"running\", \"updated\": \"2026-01-01T00:00:00+00:00\"}";
    std::fs::write(transfer_dir.join("status.json"), running).unwrap();
    std::fs::write(top.join("status.json"), running).unwrap();
    std::fs::remove_file(top.join("summary.json")).unwrap();
    let output = run(&["--resume", top.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resume the comparison");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("comparison: scratch finished before; reading it"), "{stderr}");
    assert!(stderr.contains("stage 2/2") && !stderr.contains("stage 1/2"), "{stderr}");
    check_comparison_folder(&top);

    // eval takes one of the two runs, and says so.
    let output = run(&["eval", "--run", top.to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "compares two runs: give one of them");
}

#[test]
fn the_merger_config_trains_on_folders_in_the_paper_layout() {
    // Ackermann et al.'s layout: {merger,noninteracting}/{training,validation,test}/images/*.jpeg.
    let data = tempfile::tempdir().unwrap();
    for (class, shade) in [("merger", 200u8), ("noninteracting", 40)] {
        for (split, n) in [("training", 12), ("validation", 4), ("test", 6)] {
            let dir = data.path().join(class).join(split).join("images");
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                let pixel = image::Rgb([shade, (i * 9) as u8, 60]);
                image::RgbImage::from_pixel(80, 80, pixel).save(dir.join(format!("{class}{i}.jpeg"))).unwrap();
            }
        }
    }
    let out = tempfile::tempdir().unwrap();
    let root = format!("data.root={}", data.path().display());
    let sets = ["data.source=image_folder", &root, "data.classes=[\"noninteracting\",\"merger\"]", "data.size=64"];
    let output = smoke("merger_transfer", out.path(), &sets);
    assert_ok(&output, "merger_transfer on image folders");
    let top = only_run(out.path(), "merger_transfer");
    check_comparison_folder(&top);
    let summary = json(&top.join("transfer/summary.json"));
    assert_eq!(summary["test"]["samples"], 12, "the test folders' images: {summary}");
    assert_eq!(summary["test"]["per_class"][1]["class"], "merger", "{summary}");
}

#[test]
fn the_semantic_autoencoder_reports_the_scatter_of_each_parameter_beside_the_papers() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("semantic_autoencoder", out.path(), &[]);
    assert_ok(&output, "semantic_autoencoder smoke run");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("scatter of angle: paper 9.2000e-1; this run"), "{stdout}");
    let run_dir = only_run(out.path(), "semantic_autoencoder");
    let summary = json(&run_dir.join("summary.json"));
    let targets = summary["paper_targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3, "{summary}");
    assert!(targets.iter().all(|t| t["this_run"].as_f64().is_some_and(|v| v.is_finite() && v > 0.0)), "{summary}");
    // Angles near the 0/180 wrap are left out of the angle's scatter only.
    let items: Vec<u64> =
        summary["test"]["scatter_items"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let samples = summary["test"]["samples"].as_u64().unwrap();
    assert_eq!((items[0], items[1]), (samples, samples));
    assert!(items[2] < samples, "{items:?} of {samples}");
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(report.contains("| angle |") && report.contains("9.2000e-1"), "{report}");
    // The model's loss is its own (image space): the learning curves have no target-space baseline.
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(saved.contains("kind = \"adadelta\""), "{saved}");
}

#[test]
fn the_galaxy_autoencoder_writes_latent_vectors_and_its_worst_reconstructions() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("galaxy_autoencoder", out.path(), &[]);
    assert_ok(&output, "galaxy_autoencoder smoke run");
    let run_dir = only_run(out.path(), "galaxy_autoencoder");
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["test"]["task"], "reconstruction");
    assert_eq!(summary["test"]["latent_size"], 32);
    let latent = csv_rows(&run_dir.join("latent.csv"));
    let finite = |v: &String| v.parse::<f64>().is_ok_and(f64::is_finite);
    assert!(latent.iter().all(|row| row.len() == 33 && row[1..].iter().all(finite)), "{latent:?}");
    assert_consecutive_ids(&latent);
    let errors: Vec<f64> =
        csv_rows(&run_dir.join("reconstruction_errors.csv")).iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(errors.len(), latent.len());
    assert!(errors.windows(2).all(|w| w[0] >= w[1]), "worst first: {errors:?}");
    let worst = summary["test"]["worst"][0][0].as_str().unwrap().to_string();
    assert_eq!(csv_rows(&run_dir.join("reconstruction_errors.csv"))[0][0], worst);
    let picture = image::open(run_dir.join("reconstructions.png")).unwrap();
    assert!(picture.width() > picture.height(), "originals above reconstructions, side by side");
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "is an autoencoder run: its reconstruction scores");
}

/// Asserts that the rows' first column holds simulated items' ids (`sim-N`) in the test split's
/// order, whatever the order the data workers finished their batches in.
fn assert_consecutive_ids(rows: &[Vec<String>]) {
    let numbers: Vec<u64> =
        rows.iter().map(|r| r[0].strip_prefix("sim-").and_then(|n| n.parse().ok()).unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "not in the split's order: {numbers:?}");
}

/// Checks a finished GAN run folder.
fn check_gan_folder(run: &Path) {
    for file in [
        "config.toml",
        "environment.json",
        "status.json",
        "summary.json",
        "report.md",
        "losses.csv",
        "losses.png",
        "gallery.png",
    ] {
        assert!(run.join(file).is_file(), "{file} is missing from {}", run.display());
    }
    assert_eq!(json(&run.join("status.json"))["state"], "complete");
    assert!(std::fs::read_dir(run.join("samples")).unwrap().count() >= 1, "no sample grid");
    let summary = json(&run.join("summary.json"));
    assert!(summary["steps"].as_u64().unwrap() >= 1 && summary["train_seconds"].as_f64().unwrap() > 0.0, "{summary}");
    let losses = csv_rows(&run.join("losses.csv"));
    assert_eq!(losses.len() as u64, summary["steps"].as_u64().unwrap(), "one row per generator update");
    assert!(losses.iter().all(|r| r[2].parse::<f64>().is_ok_and(f64::is_finite)), "{losses:?}");
}

#[test]
fn the_galaxy_gan_recovers_degraded_galaxies_beside_richardson_lucy() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("galaxy_gan", out.path(), &[]);
    assert_ok(&output, "galaxy_gan smoke run");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("test PSNR (n = 8): GAN") && stdout.contains("baselines: Richardson-Lucy"), "{stdout}");
    let run_dir = only_run(out.path(), "galaxy_gan");
    check_gan_folder(&run_dir);
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["test"]["kind"], "recovery");
    for way in ["gan", "richardson_lucy", "degraded"] {
        let psnr = summary["test"][way]["psnr"].as_f64().unwrap();
        let ssim = summary["test"][way]["ssim"].as_f64().unwrap();
        assert!(psnr.is_finite() && psnr > 0.0 && (-1.0..=1.0).contains(&ssim), "{way}: {summary}");
    }
    let quality = csv_rows(&run_dir.join("test_quality.csv"));
    assert_eq!(quality.len(), 8);
    assert_consecutive_ids(&quality);
    assert!(run_dir.join("checkpoint/generator-1.bpk").is_file() && run_dir.join("checkpoint/optim_d-1.bpk").is_file());
    let output = run(&["eval", "--run", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_fails_with(&output, "is a GAN run: its test results are in its summary.json");
}

#[test]
fn the_cosmic_gan_compares_power_spectra_and_a_killed_run_resumes() {
    let out = tempfile::tempdir().unwrap();
    let sets = ["training.epochs=4", "training.checkpoint_every=2", "training.keep_checkpoints=3"];
    let output = smoke("cosmo_gan", out.path(), &sets);
    assert_ok(&output, "cosmo_gan smoke run");
    let run_dir = only_run(out.path(), "cosmo_gan");
    check_gan_folder(&run_dir);
    for file in ["power_spectrum.png", "pixel_histogram.png", "peak_counts.png"] {
        assert!(run_dir.join(file).is_file(), "{file} is missing");
    }
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["test"]["kind"], "statistics");
    let power = summary["test"]["power"].as_array().unwrap();
    assert!(power.len() >= 5, "{summary}");
    assert!(power.iter().all(|p| p["relative_error"].as_f64().is_some_and(f64::is_finite)), "{summary}");
    let steps = summary["steps"].as_u64().unwrap();

    // A checkpoint every second epoch, as configured.
    let mut saved: Vec<String> = std::fs::read_dir(run_dir.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("generator-"))
        .collect();
    saved.sort();
    assert_eq!(saved, ["generator-2.bpk", "generator-4.bpk"]);

    // Killed after epoch 3: the newest checkpoint is epoch 2; the run goes on from there.
    for name in ["generator", "discriminator", "optim_g", "optim_d"] {
        std::fs::remove_file(run_dir.join(format!("checkpoint/{name}-4.bpk"))).unwrap();
    }
    std::fs::write(run_dir.join("status.json"), "{\"state\": \"running\", \"updated\": \"2026-01-01T00:00:00+00:00\"}")
        .unwrap();
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resume the GAN");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("resuming after epoch 2 of 4"), "{stderr}");
    let resumed = json(&run_dir.join("summary.json"));
    assert_eq!(resumed["steps"].as_u64().unwrap(), steps, "the same number of generator updates in all");
    assert_eq!(csv_rows(&run_dir.join("losses.csv")).len() as u64, steps);

    // Killed before any checkpoint: it says it starts again, and keeps the run's own config.
    std::fs::remove_dir_all(run_dir.join("checkpoint")).unwrap();
    std::fs::write(run_dir.join("status.json"), "{\"state\": \"running\", \"updated\": \"2026-01-01T00:00:00+00:00\"}")
        .unwrap();
    let config = run_dir.join("config.toml");
    let marked = std::fs::read_to_string(&config).unwrap() + "# written when the run started\n";
    std::fs::write(&config, &marked).unwrap();
    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resume the GAN without a checkpoint");
    let (_, stderr) = text(&output);
    assert!(stderr.contains("no complete checkpoint to resume from; training starts again at epoch 1"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), marked, "the run's config.toml is not rewritten");
}

/// Checks a finished adaptation comparison: one complete run per arm, each scored on the
/// target, and the comparison's table.
fn check_adaptation_folder(run: &Path, arms: &[&str]) {
    for file in ["config.toml", "environment.json", "status.json", "summary.json", "report.md"] {
        assert!(run.join(file).is_file(), "{file} is missing from {}", run.display());
    }
    let summary = json(&run.join("summary.json"));
    let rows = summary["arms"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["arm"].as_str().unwrap()).collect::<Vec<_>>(), arms, "{summary}");
    for (row, arm) in rows.iter().zip(arms) {
        check_run_folder(&run.join(arm));
        for file in ["features.png", "target_test_predictions.csv"] {
            assert!(run.join(arm).join(file).is_file(), "{arm}: {file} is missing");
        }
        let auc = row["target_roc_auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{arm}: {row}");
        // Every arm but source only is tested against it on the same target items.
        assert_eq!(row["mcnemar_vs_source_only"].is_array(), *arm != "source_only", "{row}");
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(arms.iter().all(|a| report.contains(&format!("({a}/report.md)"))), "{report}");
    assert!(arms.iter().all(|a| report.contains(&format!("({a}/features.png)"))), "{report}");
}

#[test]
fn the_merger_adaptation_comparison_trains_every_arm_and_scores_them_on_the_target() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("merger_adaptation", out.path(), &[]);
    assert_ok(&output, "merger_adaptation smoke run");
    let top = only_run(out.path(), "merger_adaptation");
    check_adaptation_folder(&top, &["source_only", "mmd", "dann", "target_trained"]);
    // DANN logs its domain classifier; MMD its discrepancy; source only reads no target image.
    let header = |arm: &str| std::fs::read_to_string(top.join(arm).join("metrics.csv")).unwrap();
    assert!(header("dann").lines().next().unwrap().ends_with(",train_domain_loss,train_domain_accuracy"));
    let dann = json(&top.join("dann/summary.json"));
    let accuracy = dann["adaptation"]["domain_accuracy_by_epoch"][0].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "{dann}");
    let mmd = json(&top.join("mmd/summary.json"));
    assert!(mmd["adaptation"]["domain_loss_by_epoch"][0].as_f64().unwrap().is_finite(), "{mmd}");
    assert!(mmd["adaptation"]["domain_accuracy_by_epoch"].is_null(), "MMD has no domain classifier: {mmd}");
    assert!(!header("source_only").contains("domain"), "source only trains on the source alone");
    // The upper bound trains and tests on the very target items the others are scored on (ids
    // are simulation indices, the same in both domains: the labels tell the items apart).
    let truth = |arm: &str, file: &str| -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> =
            csv_rows(&top.join(arm).join(file)).into_iter().map(|r| (r[0].clone(), r[r.len() - 1].clone())).collect();
        rows.sort();
        rows
    };
    assert_eq!(truth("target_trained", "test_predictions.csv"), truth("dann", "target_test_predictions.csv"));
    assert_ne!(truth("dann", "test_predictions.csv"), truth("dann", "target_test_predictions.csv"));
}

#[test]
fn an_adaptation_comparison_over_seeds_pairs_each_arm_with_source_only_seed_by_seed() {
    let out = tempfile::tempdir().unwrap();
    let sets = ["adaptation.compare=[\"none\", \"mmd\"]", "adaptation.seeds=[3, 4]"];
    let output = smoke("merger_adaptation", out.path(), &sets);
    assert_ok(&output, "merger_adaptation smoke run over two seeds");
    let top = only_run(out.path(), "merger_adaptation");
    let auc = |seed: u64, arm: usize| {
        json(&top.join(format!("seed_{seed}/summary.json")))["arms"][arm]["target_roc_auc"].as_f64().unwrap()
    };
    for seed in [3, 4] {
        check_adaptation_folder(&top.join(format!("seed_{seed}")), &["source_only", "mmd"]);
        let config = std::fs::read_to_string(top.join(format!("seed_{seed}/config.toml"))).unwrap();
        assert!(config.contains(&format!("seed = {seed}")) && !config.contains("seeds"), "{config}");
    }
    let summary = json(&top.join("summary.json"));
    let arms = summary["over_seeds"]["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2, "{summary}");
    assert!(arms[0]["roc_auc_minus_source_only"].is_null(), "{summary}");
    let paired: Vec<f64> = arms[1]["roc_auc_minus_source_only"]["per_seed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(paired.len(), 2);
    for (d, seed) in paired.iter().zip([3, 4]) {
        assert!((d - (auc(seed, 1) - auc(seed, 0))).abs() < 1e-12, "seed {seed}: {d}");
    }
    let stdout = text(&output).0;
    assert!(stdout.contains("mmd over 2 seeds: target ROC AUC ") && stdout.contains("seed 4: mmd: target"), "{stdout}");
    let report = std::fs::read_to_string(top.join("report.md")).unwrap();
    assert!(report.contains("## Over 2 seeds") && report.contains("(seed_3/report.md)"), "{report}");
    // eval takes one arm of one seed, and names them.
    for dir in [top.clone(), top.join("seed_3")] {
        let (_, err) = text(&run(&["eval", "--run", dir.to_str().unwrap(), "--device", "flex"]));
        assert!(err.contains("compares domain-adaptation arms: give one of them"), "{err}");
        assert!(err.contains(&format!("seed_3{}mmd", std::path::MAIN_SEPARATOR)), "{err}");
    }
}

/// Writes a PNG `<dir>/<i>.png` for each entry of `order` of `size` pixels (a blob whose width follows the target)
/// and a catalogue `<dir>.csv` of one regression target, the targets in `order`.
fn regression_folder(dir: &Path, size: u32, shift: u8, order: &[usize]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut csv = "id,width\n".to_string();
    for (i, label) in order.iter().enumerate() {
        let width = 1.0 + (i % 5) as f32;
        image::GrayImage::from_fn(size, size, |x, y| {
            let r2 = (x as f32 - size as f32 / 2.0).powi(2) + (y as f32 - size as f32 / 2.0).powi(2);
            image::Luma([((200.0 * (-r2 / (2.0 * width * width)).exp()) as u8).saturating_add(shift)])
        })
        .save(dir.join(format!("{i}.png")))
        .unwrap();
        csv.push_str(&format!("{i},{}\n", 1.0 + (label % 5) as f32));
    }
    let catalogue = dir.with_extension("csv");
    std::fs::write(&catalogue, csv).unwrap();
    catalogue
}

/// An image_csv `[data]`-style table body for `images` and `catalogue`.
fn image_csv(images: &Path, catalogue: &Path) -> String {
    format!(
        "source = \"image_csv\"\nimages = \"{}\"\ntargets = \"{}\"\nextension = \"png\"\nchannels = 1\nvalid_fraction = 0.25\ntest_fraction = 0.25\n",
        images.display(),
        catalogue.display()
    )
}

/// A tiny DANN experiment on image folders: source `source`, target `target` (tables of
/// [`image_csv`]).
fn tiny_dann(dir: &Path, name: &str, source: &str, target: &str, model: &str) -> PathBuf {
    let text = format!(
        "[experiment]\nname = \"{name}\"\nseed = 5\n\n[data]\n{source}\n{model}\n\n[adaptation]\nmethod = \"dann\"\n\n\
         [adaptation.target]\n{target}\n[training]\nepochs = 2\nbatch_size = 4\nworkers = 0\n"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

const TINY_CNN: &str = "[model]\nkind = \"sequential\"\n[[model.layers]]\ntype = \"conv2d\"\nchannels = 3\nkernel = 3\n\
    activation = \"relu\"\n[[model.layers]]\ntype = \"flatten\"\n[[model.layers]]\ntype = \"dense\"\nunits = 4\n\
    activation = \"relu\"\n[[model.layers]]\ntype = \"dense\"\nunits = 1\n";

#[test]
fn the_target_labels_never_reach_training_and_bad_targets_are_refused_before_it() {
    let data = tempfile::tempdir().unwrap();
    let n = 24;
    let identity: Vec<usize> = (0..n).collect();
    let shuffled: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect();
    let source =
        image_csv(&data.path().join("source"), &regression_folder(&data.path().join("source"), 12, 0, &identity));
    let target_images = data.path().join("target");
    let labels = regression_folder(&target_images, 12, 40, &identity);
    let target = image_csv(&target_images, &labels);
    let shuffled_labels = data.path().join("shuffled.csv");
    std::fs::copy(regression_folder(&data.path().join("target2"), 12, 40, &shuffled), &shuffled_labels).unwrap();
    let target_shuffled = image_csv(&target_images, &shuffled_labels);

    let out = tempfile::tempdir().unwrap();
    // model.bpk holds per-save metadata: the same weights show as the same test outputs.
    let mut outputs = Vec::new();
    let mut truths = Vec::new();
    for (name, target) in [("plain", &target), ("shuffled", &target_shuffled)] {
        let config = tiny_dann(data.path(), name, &source, target, TINY_CNN);
        let output =
            run(&["--config", config.to_str().unwrap(), "--device", "flex", "--out", out.path().to_str().unwrap()]);
        assert_ok(&output, name);
        let run_dir = only_run(out.path(), name);
        outputs.push(std::fs::read_to_string(run_dir.join("test_predictions.csv")).unwrap());
        let rows = csv_rows(&run_dir.join("target_test_predictions.csv"));
        // id, predicted, true.
        truths.push(rows.iter().map(|r| r[2].clone()).collect::<Vec<_>>());
        outputs.push(rows.iter().map(|r| r[..2].join(",")).collect::<Vec<_>>().join("\n"));
    }
    assert_eq!(outputs[0], outputs[2], "shuffled target labels changed the source test outputs");
    assert_eq!(outputs[1], outputs[3], "shuffled target labels changed the target test outputs");
    assert_ne!(truths[0], truths[1], "the shuffled labels do score the target test split");

    // A DANN run cut after its first epoch resumes from that checkpoint, domain classifier
    // and all, and logs the adaptation columns of every epoch once.
    let run_dir = only_run(out.path(), "plain");
    for f in ["model", "optim", "scheduler"] {
        std::fs::remove_file(run_dir.join(format!("checkpoint/{f}-2.bpk"))).unwrap();
    }
    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    std::fs::write(run_dir.join("metrics.csv"), metrics.lines().take(2).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    std::fs::write(run_dir.join("status.json"), "{\"state\": \"running\", \"message\": null, \"updated\": \"\"}")
        .unwrap();
    let output = run(&["--resume", run_dir.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "resume of a DANN run");
    let rows = csv_rows(&run_dir.join("metrics.csv"));
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["1", "2"]);
    assert!(
        rows.iter().all(|r| r.len() == 9 && r[8].parse::<f64>().is_ok_and(|a| (0.0..=1.0).contains(&a))),
        "{rows:?}"
    );

    // A target of other bands, an empty target folder, DANN on a model without a body.
    let colour = target.replace("channels = 1", "channels = 3");
    let config = tiny_dann(data.path(), "colour", &source, &colour, TINY_CNN);
    let output = run(&["check", "--config", config.to_str().unwrap()]);
    assert_fails_with(
        &output,
        "adaptation.target: its images are 3 band(s) of 64x64 pixels, but [data]'s are 1 band(s) of 64x64",
    );
    std::fs::create_dir(data.path().join("empty")).unwrap();
    std::fs::write(data.path().join("empty.csv"), "id,width\n").unwrap();
    let empty = image_csv(&data.path().join("empty"), &data.path().join("empty.csv"));
    let config = tiny_dann(data.path(), "empty", &source, &empty, TINY_CNN);
    let (_, err) = text(&run(&["check", "--config", config.to_str().unwrap()]));
    assert!(err.contains("adaptation.target") && !err.contains("panicked"), "{err}");
    let pool_only = "[model]\nkind = \"sequential\"\n[[model.layers]]\ntype = \"global_avgpool\"\n";
    let config = tiny_dann(data.path(), "bodiless", &source, &target, pool_only);
    let output = run(&["check", "--config", config.to_str().unwrap()]);
    assert_fails_with(
        &output,
        "adaptation.method: \"dann\" needs the body's features: a \"sequential\" model needs a dense layer",
    );
    // Target pictures in a composite the source's cannot be redrawn into (real SDSS-like
    // pictures, whose stretch is unknown).
    let sdss = format!("{source}composite = \"sdss\"\n");
    let decals = format!("{target}composite = \"gz_decals\"\n");
    let config = tiny_dann(data.path(), "composites", &sdss, &decals, TINY_CNN);
    let output = run(&["check", "--config", config.to_str().unwrap()]);
    assert_fails_with(
        &output,
        "adaptation.target: composite = \"gz_decals\": the model was trained on real SDSS-like pictures",
    );
}

#[test]
fn adabn_scores_the_target_with_its_batch_statistics_and_leaves_the_source_model_alone() {
    let data = tempfile::tempdir().unwrap();
    let order: Vec<usize> = (0..24).collect();
    // Two classes: blobs narrower or wider than 2.5 pixels; the target brighter.
    let classes = |images: &Path, shift: u8| {
        let catalogue = regression_folder(images, 12, shift, &order);
        let labels: String = (0..24).map(|i| format!("{i},{}\n", u8::from(i % 5 >= 2))).collect();
        std::fs::write(&catalogue, format!("id,wide\n{labels}")).unwrap();
        image_csv(images, &catalogue) + "columns = [\"wide\"]\nclasses = [\"narrow\", \"wide\"]\n"
    };
    let source = classes(&data.path().join("source"), 0);
    let target = classes(&data.path().join("target"), 60);
    let with_norm = TINY_CNN
        .replace(
            "[[model.layers]]\ntype = \"flatten\"",
            "[[model.layers]]\ntype = \"batchnorm\"\n[[model.layers]]\ntype = \"flatten\"",
        )
        .replace("units = 1\n", "units = 2\n");
    let config = tiny_dann(data.path(), "adabn", &source, &target, &with_norm).to_str().unwrap().to_string();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("method = \"dann\"", "compare = [\"none\", \"adabn\"]")
        .replace("epochs = 2", "epochs = 1");
    std::fs::write(&config, text).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run(&["--config", &config, "--device", "flex", "--out", out.path().to_str().unwrap()]);
    assert_ok(&output, "source only and AdaBN");
    let top = only_run(out.path(), "adabn");
    check_adaptation_folder(&top, &["source_only", "adabn"]);
    let read = |arm: &str, file: &str| std::fs::read_to_string(top.join(arm).join(file)).unwrap();
    // The same trained weights with the source's statistics on the source test split; the
    // target's statistics on the target test split.
    assert_eq!(read("source_only", "test_predictions.csv"), read("adabn", "test_predictions.csv"));
    assert_ne!(read("source_only", "target_test_predictions.csv"), read("adabn", "target_test_predictions.csv"));
    assert!(top.join("adabn/model_target.bpk").is_file() && !top.join("source_only/model_target.bpk").exists());
    let summary = json(&top.join("adabn/summary.json"));
    // 24 target images, a quarter each for validation and test: 12 train the statistics.
    assert_eq!(summary["adaptation"]["target_batch_norm_items"].as_u64(), Some(12), "{summary}");
    assert!(read("adabn", "report.md").contains("AdaBN"));

    // `eval --target` scores the target test split with each arm's weights for the target
    // (AdaBN's model_target.bpk, source only's model.bpk) and reproduces the run's target scores.
    for (arm, weights) in [("adabn", "model_target.bpk"), ("source_only", "model.bpk")] {
        let arm_dir = top.join(arm);
        let output = run(&["eval", "--run", arm_dir.to_str().unwrap(), "--target", "--device", "flex"]);
        assert_ok(&output, "eval --target");
        let reports = eval_reports(&arm_dir);
        let report = json(&reports[0]);
        assert_eq!(report["weights"].as_str(), Some(weights), "{report}");
        assert!(report["data"].as_str().unwrap().starts_with("target test split"), "{report}");
        let scored = json(&arm_dir.join("summary.json"))["adaptation"]["target_test"].clone();
        for metric in ["/accuracy", "/binary/roc_auc"] {
            let score = |v: &serde_json::Value| v.pointer(metric).and_then(|x| x.as_f64()).unwrap();
            let (a, b) = (score(&report["metrics"]), score(&scored));
            assert!((a - b).abs() < 1e-6, "{arm}: eval --target {metric} {a}, the run's {b}");
        }
    }
    // `predict --target` applies the same weights to target pictures: other outputs than
    // model.bpk's for AdaBN, the same for source only (one model for both domains).
    let predict_csv = |arm: &str, target: bool| {
        let out_csv = out.path().join(format!("{arm}-{target}.csv"));
        let (arm_dir, images) = (top.join(arm), data.path().join("target"));
        let mut args = vec!["predict", "--run", arm_dir.to_str().unwrap(), images.to_str().unwrap()];
        args.extend(["--out", out_csv.to_str().unwrap(), "--device", "flex"]);
        if target {
            args.push("--target");
        }
        assert_ok(&run(&args), "predict");
        let mut rows: Vec<String> = std::fs::read_to_string(out_csv).unwrap().lines().map(String::from).collect();
        rows.sort();
        assert_eq!(rows.len(), 25, "a header and the 24 target pictures");
        rows
    };
    assert_ne!(predict_csv("adabn", true), predict_csv("adabn", false));
    assert_eq!(predict_csv("source_only", true), predict_csv("source_only", false));

    // A comparison of arms needs classes.
    let order: Vec<usize> = (0..24).collect();
    let values = |name: &str, shift: u8| {
        image_csv(&data.path().join(name), &regression_folder(&data.path().join(name), 12, shift, &order))
    };
    let one_value = with_norm.replace("units = 2\n", "units = 1\n");
    let regression = tiny_dann(data.path(), "values", &values("values", 0), &values("values_target", 60), &one_value);
    let text =
        std::fs::read_to_string(&regression).unwrap().replace("method = \"dann\"", "compare = [\"none\", \"adabn\"]");
    std::fs::write(&regression, text).unwrap();
    let output = run(&["check", "--config", regression.to_str().unwrap()]);
    assert_fails_with(&output, "adaptation.compare: compares the arms by target accuracy, ROC AUC and McNemar's test");

    // A model without batch norm cannot take the target's statistics.
    let plain = tiny_dann(data.path(), "no_norm", &source, &target, TINY_CNN);
    let text = std::fs::read_to_string(&plain).unwrap().replace("method = \"dann\"", "target_batch_norm = true");
    std::fs::write(&plain, text).unwrap();
    let output = run(&["check", "--config", plain.to_str().unwrap()]);
    assert_fails_with(
        &output,
        "adaptation.target_batch_norm: re-estimates batch-norm statistics on the target (AdaBN), but this \
         \"sequential\" model has no batch-norm layer",
    );
}

#[test]
fn galaxies_framed_by_their_size_train_and_a_pixel_scale_is_refused_at_prediction() {
    let out = tempfile::tempdir().unwrap();
    let output = smoke("galaxy_cnn", out.path(), &["data.simulator.framing_half_light_radii=17.0"]);
    assert_ok(&output, "galaxy_cnn smoke run framed by size");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    let data = json(&run_dir.join("summary.json"))["data"].as_str().unwrap().to_string();
    assert!(data.contains("98x98 px RGB framed to 17 half-light radii"), "{data}");
    let images = tempfile::tempdir().unwrap();
    image::RgbImage::from_pixel(120, 120, image::Rgb([40, 20, 30])).save(images.path().join("a.png")).unwrap();
    let (run_str, images_str) = (run_dir.to_str().unwrap(), images.path().to_str().unwrap());
    let scaled = ["predict", "--run", run_str, images_str, "--pixel-scale", "0.262", "--device", "flex"];
    assert_fails_with(
        &run(&scaled),
        "the run's galaxies were each framed by their own size (framing_half_light_radii = 17), not drawn at one \
         angular scale, so --pixel-scale cannot be matched to it: give --crop in pixels",
    );
    let csv = out.path().join("pred.csv");
    predict_header(&run_dir, images.path(), &csv);
    assert_eq!(csv_rows(&csv).len(), 1);
}

#[test]
fn a_simulation_trained_galaxy_model_is_scored_on_the_real_decals_galaxies_redrawn() {
    let Some(data) = real_data("a_simulation_trained_galaxy_model_is_scored_on_the_real_decals_galaxies_redrawn")
    else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    assert_ok(&smoke("galaxy_cnn", out.path(), &[]), "galaxy_cnn smoke run");
    let run_dir = only_run(out.path(), "galaxy_cnn");
    // The recipe as committed, reading the real-data folder this test was given.
    let recipe = std::fs::read_to_string(root().join("configs/data/decals_galaxy_zoo.toml")).unwrap();
    let recipe = recipe.replace("\"../shared/data/", &format!("\"{}/", data.display()));
    let file = out.path().join("decals_galaxy_zoo.toml");
    std::fs::write(&file, recipe).unwrap();
    let output =
        run(&["eval", "--run", run_dir.to_str().unwrap(), "--data", file.to_str().unwrap(), "--device", "flex"]);
    assert_ok(&output, "eval --data configs/data/decals_galaxy_zoo.toml");
    let stdout = text(&output).0;
    assert!(stdout.contains("(470 images)"), "{stdout}");
    assert!(stdout.contains("GZ DECaLS pictures redrawn in the model's SDSS-like composite"), "{stdout}");
    let reports = eval_reports(&run_dir);
    let report = json(reports.last().unwrap());
    let per_answer = report["metrics"]["rmse_per_target"].as_array().unwrap().clone();
    assert_eq!(per_answer.len(), 3, "{report}");
    assert!(per_answer.iter().all(|v| v.as_f64().is_some_and(|v| v.is_finite() && v > 0.0)), "{report}");
}

#[test]
fn the_ring_finder_adapts_from_simulated_to_real_decals_galaxies() {
    let Some(data) = real_data("the_ring_finder_adapts_from_simulated_to_real_decals_galaxies") else { return };
    let rings = data.join("decals_rings");
    let out = tempfile::tempdir().unwrap();
    let images = format!("adaptation.target.images={}", rings.join("images").display());
    let targets = format!("adaptation.target.targets={}", rings.join("catalog.csv").display());
    // The smoke run reads the catalogue's first 80 rows, all rings: the whole set instead; the
    // pictures said to be GZ DECaLS composites, so that they are redrawn in the simulations'.
    let composite = "adaptation.target.composite=\"gz_decals\"";
    let output = smoke("rings_sim_to_real", out.path(), &[&images, &targets, "adaptation.target.limit=470", composite]);
    assert_ok(&output, "rings_sim_to_real smoke run on the real galaxies");
    let top = only_run(out.path(), "rings_sim_to_real");
    check_adaptation_folder(&top, &["source_only", "mmd", "dann", "target_trained"]);
    let dann = json(&top.join("dann/summary.json"));
    let target = &dann["adaptation"]["target_test"];
    // 40% of the 470 real galaxies, both classes.
    assert_eq!(target["samples"].as_u64(), Some(188), "{dann}");
    assert_eq!(target["per_class"].as_array().unwrap().len(), 2, "{dann}");
    let described = dann["adaptation"]["target"].as_str().unwrap();
    assert!(described.contains("GZ DECaLS pictures redrawn in the model's SDSS-like composite"), "{described}");
    // The network trained on the real labels saw them as they are.
    let upper = json(&top.join("target_trained/summary.json"));
    assert!(!upper["adaptation"]["target"].as_str().unwrap().contains("redrawn"), "{upper}");
}
