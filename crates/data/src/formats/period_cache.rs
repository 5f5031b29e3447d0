//! The periods `fold = "periodogram"` found, kept on disk between runs, so that `eval`, a
//! resumed run or the next experiment on the same curves does not search them again. One
//! tab-separated file per list and search setting under the cache folder
//! (`$ASTRO_BURN_CACHE`, else `$XDG_CACHE_HOME/astro-burn`, else `~/.cache/astro-burn`), in
//! `periods/`: a row per star with a hash of its curve, so that a changed curve is searched
//! again.

use std::collections::HashMap;
use std::path::PathBuf;

use astro_sim::light_curve::LightCurve;
use astro_sim::period_search::FoundPeriod;

/// The periods found before for one list and one search setting.
#[derive(Debug, Default)]
pub struct PeriodCache {
    /// The file (none: no cache folder could be named).
    path: Option<PathBuf>,
    /// Star id -> (hash of its curve, what was found).
    entries: HashMap<String, (u64, FoundPeriod)>,
    /// Whether entries were added since the file was read.
    changed: bool,
}

/// The cache folder: `$ASTRO_BURN_CACHE`, `$XDG_CACHE_HOME/astro-burn` or `~/.cache/astro-burn`.
pub fn cache_folder() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("ASTRO_BURN_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("astro-burn")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("astro-burn")))
}

/// FNV-1a over `bytes`: a hash that stays the same across builds and machines.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A hash of a curve's times and magnitudes.
fn curve_hash(bands: &[LightCurve]) -> u64 {
    fnv(bands.iter().flat_map(|c| c.time.iter().chain(&c.mag)).flat_map(|v| v.to_bits().to_le_bytes()))
}

impl PeriodCache {
    /// The cache of the stars described by `key` (the list, its files and the search settings,
    /// in words), read from the cache folder if it has one.
    pub fn open(key: &str) -> Self {
        Self::at(cache_folder().map(|d| d.join("periods").join(format!("{:016x}.tsv", fnv(key.bytes())))))
    }

    /// The cache in file `path` (none: a cache that keeps nothing).
    fn at(path: Option<PathBuf>) -> Self {
        let mut entries = HashMap::new();
        if let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                if let Some((id, entry)) = parse_row(line) {
                    entries.insert(id, entry);
                }
            }
        }
        Self { path, entries, changed: false }
    }

    /// The file, when there is a cache folder.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// What was found for star `id` if its curves (one per band) are the same as then.
    pub fn get(&self, id: &str, bands: &[LightCurve]) -> Option<FoundPeriod> {
        self.entries.get(id).filter(|(hash, _)| *hash == curve_hash(bands)).map(|(_, found)| *found)
    }

    /// Keeps what was found for star `id` in `bands`.
    pub fn insert(&mut self, id: &str, bands: &[LightCurve], found: FoundPeriod) {
        let entry = (curve_hash(bands), found);
        if self.entries.get(id) != Some(&entry) {
            self.entries.insert(id.to_string(), entry);
            self.changed = true;
        }
    }

    /// Writes the file when something was added; the error says which file could not be
    /// written.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = self.path.as_ref().filter(|_| self.changed) else { return Ok(()) };
        let mut text = String::from("# id\tcurve_hash\tperiod\tpower\tfap_log10\tdoubled\n");
        let mut ids: Vec<&String> = self.entries.keys().collect();
        ids.sort();
        for id in ids {
            let (hash, f) = &self.entries[id];
            text.push_str(&format!(
                "{id}\t{hash:016x}\t{:e}\t{:e}\t{:e}\t{}\n",
                f.period, f.power, f.fap_log10, f.doubled
            ));
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Written aside and renamed, so that a killed run leaves the old file whole.
            let partial = path.with_extension("tsv.partial");
            std::fs::write(&partial, text)?;
            std::fs::rename(&partial, path)
        };
        write().map_err(|e| format!("cannot write the period cache {}: {e}", path.display()))
    }
}

fn parse_row(line: &str) -> Option<(String, (u64, FoundPeriod))> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [id, hash, period, power, fap, doubled] = fields[..] else { return None };
    let found = FoundPeriod {
        period: period.parse().ok()?,
        power: power.parse().ok()?,
        fap_log10: fap.parse().ok()?,
        doubled: doubled.parse().ok()?,
    };
    Some((id.to_string(), (u64::from_str_radix(hash, 16).ok()?, found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(*b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_saved_cache_reads_back_and_a_killed_write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("periods").join("x.tsv");
        let curve = LightCurve { time: vec![0.0, 2.0], mag: vec![15.0, 15.5], err: vec![0.01; 2] };
        let found = FoundPeriod { period: 0.61, power: 12.0, fap_log10: -3.5, doubled: false };
        let mut cache = PeriodCache::at(Some(path.clone()));
        assert_eq!(cache.get("a", std::slice::from_ref(&curve)), None);
        cache.insert("a", std::slice::from_ref(&curve), found);
        cache.save().unwrap();
        assert_eq!(PeriodCache::at(Some(path.clone())).get("a", std::slice::from_ref(&curve)), Some(found));
        assert!(!path.with_extension("tsv.partial").exists());
        // Nothing new: nothing written.
        std::fs::remove_file(&path).unwrap();
        PeriodCache::at(Some(path.clone())).save().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn rows_read_back_and_a_changed_curve_is_not_taken_from_the_cache() {
        let curve = [LightCurve { time: vec![0.0, 1.5, 3.0], mag: vec![15.0, 15.3, 14.9], err: vec![0.01; 3] }];
        let found = FoundPeriod { period: 0.5123456789, power: 42.5, fap_log10: -15.25, doubled: true };
        let mut cache = PeriodCache { path: None, entries: HashMap::new(), changed: false };
        cache.insert("star-1", &curve, found);
        assert_eq!(cache.get("star-1", &curve), Some(found));
        let changed = [LightCurve { mag: vec![15.0, 15.3, 14.8], ..curve[0].clone() }];
        assert_eq!(cache.get("star-1", &changed), None);
        // A second band is part of what the period was found in.
        assert_eq!(cache.get("star-1", &[curve[0].clone(), curve[0].clone()]), None);
        assert_eq!(cache.get("star-2", &curve), None);
        let row = format!("star-1\t{:016x}\t{:e}\t{:e}\t{:e}\ttrue", curve_hash(&curve), 0.5123456789, 42.5, -15.25);
        assert_eq!(parse_row(&row), Some(("star-1".to_string(), (curve_hash(&curve), found))));
        assert_eq!(parse_row("star-1\tnot hex\t1\t2\t3\tfalse"), None);
    }
}
