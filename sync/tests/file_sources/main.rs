//! The file sources (STIX bundles, MISP feeds, lists) read from real files.

mod list;
mod misp_feed;
mod misp_types;
mod stix;

use std::path::Path;

/// Writes `content` to `dir/rel`, creating parent directories.
pub fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Rejects as `item: reason` lines, for readable assertions.
pub fn rejects(batch: &store::Batch) -> Vec<String> {
    batch.rejects.iter().map(|r| r.to_string()).collect()
}
