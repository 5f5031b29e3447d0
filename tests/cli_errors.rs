//! Every error a user can cause gets one clear message and exit code 1, never a panic, and
//! never a run folder that looks complete.

mod support;

use std::path::Path;

use support::*;

fn out_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_string()
}

#[test]
fn a_missing_config_says_where_it_looked() {
    let output = run(&["--config", "no_such_experiment"]);
    let err = assert_fails_with(&output, "config file no_such_experiment not found");
    assert!(err.contains("configs/no_such_experiment.toml"), "{err}");
    assert_fails_with(&run(&[]), "nothing to train");
}

#[test]
fn unknown_keys_and_wrong_types_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), "bad_key", "source = \"simulated_galaxies\"", "epoch = 3");
    let output = run(&["--config", config.to_str().unwrap(), "--out", &out_arg(dir.path())]);
    let expected = format!("{}:25:1: training.epoch: unknown field `epoch`", config.display());
    assert_fails_with(&output, &expected);
    assert!(!dir.path().join("bad_key").exists(), "no run folder for a bad config");

    let config = tiny_config(dir.path(), "bad_type", "source = \"simulated_galaxies\"\ntrain = \"many\"", "");
    let output = run(&["--config", config.to_str().unwrap(), "--out", &out_arg(dir.path())]);
    assert_fails_with(
        &output,
        &format!("{}:7:9: data.train: invalid type: string \"many\", expected usize", config.display()),
    );

    let output = run(&["--config", "galaxy_cnn", "--set", "training.batch_size=zero", "--out", &out_arg(dir.path())]);
    assert_fails_with(&output, "--set training.batch_size=zero: training.batch_size: invalid type: string \"zero\"");

    let output = run(&["check", "--config", "galaxy_cnn", "--set", "optimizer.lr=-1"]);
    assert_fails_with(&output, "optimizer.lr: must be positive, got -1");
}

#[test]
fn a_model_that_does_not_fit_names_the_layer() {
    let output = run(&["check", "--config", "galaxy_cnn", "--set", "data.simulator.image_size=12"]);
    assert_fails_with(&output, "model.view_size: 69 is larger than the 12-pixel input images");
    // A sequential model in place of the config's: the layer at fault is named by position.
    let sequential = ["--set", "model.kind=\"sequential\""];
    let dense_on_image = "model.layers=[{type=\"dense\", units=10}]";
    let output = run(&[&["check", "--config", "galaxy_cnn"], &sequential[..], &["--set", dense_on_image]].concat());
    assert_fails_with(&output, "model.layers[0] (dense)");
    let too_few = "model.layers=[{type=\"flatten\"}, {type=\"dense\", units=10}]";
    let output = run(&[&["check", "--config", "galaxy_cnn"], &sequential[..], &["--set", too_few]].concat());
    assert_fails_with(&output, "the model's output is [10] but the task needs [37]");
}

#[test]
fn a_missing_data_folder_is_named_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let data = format!(
        "source = \"image_csv\"\nimages = \"{}\"\ntargets = \"{}\"",
        missing.display(),
        dir.path().join("t.csv").display()
    );
    let config = tiny_config(dir.path(), "no_data", &data, "");
    let output = run(&["--config", config.to_str().unwrap(), "--out", &out_arg(dir.path())]);
    assert_fails_with(&output, &format!("data.images: {} is not a folder", missing.display()));
    assert!(!dir.path().join("no_data").exists(), "no run folder when the data is missing");
}

#[test]
fn an_unreadable_image_fails_the_run_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let mut csv = String::from("GalaxyID");
    for k in 1..=37 {
        csv.push_str(&format!(",t{k}"));
    }
    csv.push('\n');
    for id in 0..12 {
        let path = images.join(format!("{id}.jpg"));
        if id == 5 {
            std::fs::write(&path, b"this is not a jpeg").unwrap();
        } else {
            image::RgbImage::from_pixel(20, 20, image::Rgb([id * 10, 50, 90])).save(&path).unwrap();
        }
        csv.push_str(&id.to_string());
        csv.push_str(&",0.5".repeat(37));
        csv.push('\n');
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let data = format!(
        "source = \"image_csv\"\nimages = \"{}\"\ntargets = \"{}\"\nsize = 16\nvalid_fraction = 0.2\ntest_fraction = 0.2",
        images.display(),
        dir.path().join("t.csv").display()
    );
    let config = tiny_config(dir.path(), "bad_image", &data, "");
    let output = run(&["--config", config.to_str().unwrap(), "--out", &out_arg(dir.path()), "--device", "flex"]);
    assert_fails_with(&output, &format!("cannot decode image {}", images.join("5.jpg").display()));
    let run_dir = only_run(dir.path(), "bad_image");
    assert_eq!(json(&run_dir.join("status.json"))["state"], "failed");
    assert!(!run_dir.join("summary.json").exists(), "a failed run must not look complete");
}

#[test]
fn a_nan_loss_stops_the_run_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    // A linear output and an absurd learning rate overflow the loss within a few steps.
    let extra = "\n[optimizer]\nkind = \"sgd\"\nlr = 1e12";
    let text = std::fs::read_to_string(tiny_config(
        dir.path(),
        "diverge",
        "source = \"simulated_galaxies\"\ntrain = 64\nvalid = 8\ntest = 8",
        "",
    ))
    .unwrap();
    let config = dir.path().join("diverge.toml");
    std::fs::write(&config, text + extra).unwrap();
    let output = run(&["--config", config.to_str().unwrap(), "--out", &out_arg(dir.path()), "--device", "flex"]);
    let err = assert_fails_with(&output, "training diverged: the train loss became");
    assert!(err.contains("lower optimizer.lr"), "{err}");
    let run_dir = only_run(dir.path(), "diverge");
    let status = json(&run_dir.join("status.json"));
    assert_eq!(status["state"], "failed");
    assert!(status["message"].as_str().unwrap().contains("diverged"));
    assert!(!run_dir.join("summary.json").exists());
}

#[test]
fn devices_that_are_not_compiled_in_say_how_to_get_them() {
    if cfg!(feature = "cuda") {
        return;
    }
    let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", "cuda:1"]);
    assert_fails_with(&output, "device `cuda:1` needs the `cuda` backend");
    assert_fails_with(&run(&["--config", "galaxy_cnn", "--device", "tpu"]), "unknown device `tpu`");
    if !cfg!(feature = "tch") {
        let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", "tch-cuda:1"]);
        let err = assert_fails_with(&output, "device `tch-cuda:1` needs the `tch` backend");
        assert!(err.contains("--features tch"), "{err}");
    }
    let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", "tch:1"]);
    assert_fails_with(&output, "device `tch:1`: only cuda devices take an index");
}

#[test]
fn an_empty_device_list_is_an_error_not_a_panic() {
    for empty in ["", ",", " , "] {
        let output = run(&["--config", "galaxy_cnn", "--smoke", "--device", empty]);
        assert_fails_with(&output, "--device names no device");
        assert_fails_with(&run(&["eval", "--run", "runs", "--device", empty]), "--device names no device");
    }
}

#[test]
fn eval_and_predict_refuse_what_is_not_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails_with(
        &run(&["eval", "--run", dir.path().to_str().unwrap()]),
        "is not a run folder (it has no config.toml)",
    );
    assert_fails_with(&run(&["predict", "--run", dir.path().to_str().unwrap(), "x.png"]), "is not a run folder");
}

#[test]
fn check_list_and_help_describe_the_experiments() {
    let output = run(&["check", "--config", "galaxy_cnn"]);
    assert_ok(&output, "check");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("[experiment]") && stdout.contains("name = \"galaxy_cnn\""), "{stdout}");
    assert!(stdout.contains("# config is valid"), "{stdout}");

    let output = run(&["list"]);
    assert_ok(&output, "list");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("galaxy_cnn.toml") && stdout.contains("Dieleman"), "{stdout}");

    let output = run(&["train", "--help"]);
    assert_ok(&output, "help");
    let (stdout, _) = text(&output);
    let described = [
        ("--config", "Experiment config"),
        ("--resume", "Continue a killed run"),
        ("--device", "Device(s) to train on"),
        ("--set", "Override one config field"),
        ("--out", "Root folder for run folders"),
        ("--smoke", "A tiny version of the same experiment"),
    ];
    for (flag, help) in described {
        assert!(stdout.contains(flag) && stdout.contains(help), "{flag} or its help text missing:\n{stdout}");
    }
}

#[test]
fn bad_stages_and_comparisons_are_named() {
    let output = run(&["check", "--config", "merger_transfer", "--set", "stages.0.train=\"body\""]);
    assert_fails_with(&output, "stages[0].train: must be \"all\", \"head\" or a list of layer names, got \"body\"");
    let output = run(&["check", "--config", "merger_transfer", "--set", "training.epochs=3"]);
    assert_fails_with(&output, "training.epochs: is the epochs of the run from scratch under [comparison]");
    let output = run(&["check", "--config", "merger_transfer", "--set", "init.run=runs/x"]);
    assert_fails_with(&output, "init: give one of `run` (a finished run folder), `weights`");
    let output = run(&["check", "--config", "merger_transfer", "--set", "training.batch_size=15"]);
    assert_fails_with(
        &output,
        "training.stratified: stratified batches need a batch size that is a multiple of the 2 classes, got 15",
    );
    let output = run(&["check", "--config", "merger_transfer", "--set", "stages.0.train=[\"layer4\"]"]);
    assert_fails_with(
        &output,
        "no layer of this model is named \"layer4\"; its layers are conv1, bn1, layers, head, fc",
    );
}

#[test]
fn autoencoders_name_what_does_not_fit() {
    let output = run(&["check", "--config", "semantic_autoencoder", "--set", "data.source=simulated_galaxies"]);
    assert_fails_with(&output, "\"semantic_autoencoder\" renders one-band images, but the data gives [3, 64, 64]");
    let output = run(&["check", "--config", "galaxy_autoencoder", "--set", "data.simulator.image_size=60"]);
    assert_fails_with(&output, "3 halvings need image sides divisible by 8");
    let output = run(&["check", "--config", "semantic_autoencoder", "--set", "optimizer.rho=1.5"]);
    assert_fails_with(&output, "optimizer.rho: must be in [0, 1), got 1.5");
}
