//! Fuzzing as tests: experiment configs (each shipped config, mutated, and random TOML) with
//! random `--set` overrides must load or fail with an error, never panic. `ASTRO_FUZZ_CASES`
//! sets the cases (default 1,000).

use std::path::{Path, PathBuf};

use astro_train::config::parse_config;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("ASTRO_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

fn shipped_configs() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut configs: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    configs.sort();
    configs
}

/// `--set` assignments: keys the configs use (and nonsense), values of every TOML kind.
fn assignment() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("data.source".to_string()),
        Just("model.kind".to_string()),
        Just("schedule.kind".to_string()),
        Just("training.epochs".to_string()),
        Just("validation.folds".to_string()),
        Just("validation.fold_column".to_string()),
        Just("model.layers.1.units".to_string()),
        Just("stages.0.epochs".to_string()),
        Just("data.sequence.length".to_string()),
        Just("evaluation.bins.snr".to_string()),
        "[a-z_.0-9]{0,24}",
    ];
    let value = prop_oneof![
        Just("simulated_light_curves".to_string()),
        Just("light_curve_folder".to_string()),
        Just("recurrent".to_string()),
        Just("cosine".to_string()),
        Just("[1, 2, 3]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just("18446744073709551616".to_string()),
        "\\PC{0,12}",
    ];
    (key, value, any::<bool>()).prop_map(|(k, v, eq)| if eq { format!("{k}={v}") } else { format!("{k}{v}") })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn shipped_configs_with_random_overrides_never_panic(
        which in 0usize..64,
        sets in proptest::collection::vec(assignment(), 0..4),
        smoke in any::<bool>(),
    ) {
        let configs = shipped_configs();
        let (path, text) = &configs[which % configs.len()];
        let _ = parse_config(path, text, &sets, smoke);
    }

    #[test]
    fn mutated_and_random_config_text_never_panics(
        which in 0usize..64,
        cut in 0usize..4000,
        insert in "\\PC{0,40}",
        at in 0usize..4000,
        random in "(\\[[a-z_.]{0,12}\\]\\n|[a-z_]{1,10} = [-0-9a-z\"\\[\\], .]{0,16}\\n){0,12}",
    ) {
        let configs = shipped_configs();
        let (path, text) = &configs[which % configs.len()];
        let mut mutated: String = text.chars().take(cut).collect();
        let k = mutated.char_indices().map(|(i, _)| i).nth(at).unwrap_or(mutated.len());
        mutated.insert_str(k, &insert);
        let _ = parse_config(path, &mutated, &[], false);
        let _ = parse_config(Path::new("random.toml"), &random, &[], false);
    }
}
