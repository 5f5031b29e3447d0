//! Writes simulated variable-star light curves in the list-and-files layout that
//! `source = "light_curve_folder"` reads: `list.txt` (`# id class period feh snr`) and one
//! `<id>.dat` of time, magnitude and error per star (with several bands, `<id>_<band>.dat` per
//! star and band). For trying the loader and timing it at survey scale:
//!
//!     cargo run --release -p astro-data --example write_light_curves -- <dir> <count> [seed] [bands]
//!
//! `bands`: comma-separated simulator bands, e.g. `V,I` or `G,BP,RP` (default: V).

use astro_data::sources::simulated_light_curves::SimulatedLightCurvesConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: write_light_curves <dir> <count> [seed] [bands, e.g. V,I]";
    let dir = args.first().ok_or(usage)?;
    let count: usize = args.get(1).ok_or(usage)?.parse().map_err(|e| format!("<count>: {e}"))?;
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse()).map_err(|e| format!("[seed]: {e}"))?;
    let mut sim: SimulatedLightCurvesConfig = toml::from_str("")?;
    if let Some(bands) = args.get(3) {
        sim.simulator.bands = bands.split(',').map(str::to_string).collect();
        sim.simulator.validate().map_err(|e| format!("[bands]: {e}"))?;
    }
    sim.write_list_and_files(seed, count, std::path::Path::new(dir))?;
    println!("wrote {count} stars' light curves in {} and list.txt to {dir}", sim.simulator.bands.join(", "));
    Ok(())
}
