//! Everything below a directory, as the tests that inspect what the commands
//! left on disk walk it.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// Every entry below `root` (links not followed), with its metadata.
pub fn walk(root: &Path) -> Vec<(PathBuf, Metadata)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                dirs.push(path.clone());
            }
            out.push((path, meta));
        }
    }
    out
}
