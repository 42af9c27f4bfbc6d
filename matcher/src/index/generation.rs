//! Publishing, finding and retiring generations (tantivy style: immutable
//! directories, published by atomically replacing a small pointer file).
//!
//! A publisher writes and fsyncs a complete directory under a temporary name,
//! renames it to `gen-N`, then replaces `CURRENT` (temp file, fsync, rename,
//! fsync the directory). A reader reads `CURRENT`, takes a shared lock on the
//! generation's `.readers` file and maps its files. Because files are never
//! modified in place, a mapped reader is never affected by later generations,
//! and a reader can only ever see a complete generation.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::builder::{err, BuildError};
use super::fsutil::{create_file, sync_dir, write_atomic};
use super::layout;
use super::meta::{Current, GenerationMeta};

/// Reads `CURRENT`. `Ok(None)` when no generation was ever published.
pub fn read_current(index_dir: &Path) -> io::Result<Option<Current>> {
    let path = index_dir.join(layout::CURRENT);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("CURRENT: {e}")))
}

/// Generation numbers present as directories, ascending.
pub fn list(index_dir: &Path) -> io::Result<Vec<u64>> {
    let mut gens = Vec::new();
    for entry in fs::read_dir(index_dir)? {
        let entry = entry?;
        if let Some(g) = entry
            .file_name()
            .to_str()
            .and_then(layout::parse_generation_dir_name)
        {
            gens.push(g);
        }
    }
    gens.sort_unstable();
    Ok(gens)
}

/// Moves the finished temporary directory `tmp` into place as the next
/// generation and points `CURRENT` at it. Returns the generation number.
pub(crate) fn publish(
    index_dir: &Path,
    tmp: &Path,
    meta: &mut GenerationMeta,
) -> Result<u64, BuildError> {
    let lock_path = index_dir.join(layout::PUBLISH_LOCK);
    let lock = File::options()
        .mode(super::fsutil::FILE_MODE)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|f| {
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
                super::fsutil::FILE_MODE,
            ))?;
            Ok(f)
        })
        .map_err(err(&lock_path, "open publish lock"))?;
    lock.lock().map_err(err(&lock_path, "lock"))?;

    let last_listed = list(index_dir)
        .map_err(err(index_dir, "list generations"))?
        .last()
        .copied()
        .unwrap_or(0);
    let last_current = read_current(index_dir)
        .ok()
        .flatten()
        .map_or(0, |c| c.generation);
    let generation = last_listed.max(last_current) + 1;
    meta.generation = generation;

    let meta_path = tmp.join(layout::META);
    let body = serde_json::to_vec_pretty(meta).map_err(|e| BuildError {
        path: meta_path.clone(),
        action: "encode",
        source: io::Error::other(e),
    })?;
    {
        use std::io::Write;
        let mut f = create_file(&meta_path).map_err(err(&meta_path, "create"))?;
        f.write_all(&body).map_err(err(&meta_path, "write"))?;
        f.sync_all().map_err(err(&meta_path, "fsync"))?;
    }
    sync_dir(tmp).map_err(err(tmp, "fsync"))?;

    let name = layout::generation_dir_name(generation);
    let dest = index_dir.join(&name);
    fs::rename(tmp, &dest).map_err(err(&dest, "rename into place"))?;
    sync_dir(index_dir).map_err(err(index_dir, "fsync"))?;

    let current = Current {
        generation,
        dir: name,
    };
    let current_path = index_dir.join(layout::CURRENT);
    let text = serde_json::to_vec(&current).map_err(|e| BuildError {
        path: current_path.clone(),
        action: "encode",
        source: io::Error::other(e),
    })?;
    write_atomic(&current_path, &text).map_err(err(&current_path, "publish"))?;
    drop(lock);
    Ok(generation)
}

/// What a cleanup pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: Vec<u64>,
    /// Kept because a reader still holds them (within the grace period).
    pub in_use: Vec<u64>,
    /// Temporary build directories removed: their builder died (killed, out
    /// of memory) before publishing them.
    pub abandoned: Vec<String>,
}

/// A build directory younger than this is left alone even with its lock free:
/// its builder takes the lock right after creating it, but may not have yet.
const BUILD_LOCK_MARGIN: Duration = Duration::from_secs(10);
/// A build directory without a lock file (older binaries) is removed at this age.
const ABANDONED_UNLOCKED: Duration = Duration::from_secs(6 * 3600);

/// Removes generations older than the newest `keep` (never the current one):
/// at once when no reader holds them, or after `grace` even if one does (a
/// reader that already mapped its files is unaffected by the removal).
/// Also removes temporary directories left by crashed builders: at once when
/// no builder holds their `.building` lock, else never.
pub fn cleanup(index_dir: &Path, keep: usize, grace: Duration) -> io::Result<Cleanup> {
    let mut done = Cleanup::default();
    let current = read_current(index_dir)?.map(|c| c.generation);
    let gens = list(index_dir)?;
    let keep = keep.max(1);
    let cutoff = gens.len().saturating_sub(keep);
    for &g in &gens[..cutoff] {
        if Some(g) == current {
            continue;
        }
        let dir = index_dir.join(layout::generation_dir_name(g));
        let unused = match File::open(dir.join(layout::READERS_LOCK)) {
            Ok(f) => f.try_lock().is_ok(),
            Err(_) => true,
        };
        if unused || older_than(&dir, grace) {
            fs::remove_dir_all(&dir)?;
            done.removed.push(g);
        } else {
            done.in_use.push(g);
        }
    }
    for entry in fs::read_dir(index_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !name.starts_with(layout::TMP_PREFIX) || !path.is_dir() {
            continue;
        }
        let abandoned = match File::open(path.join(layout::BUILDING_LOCK)) {
            Ok(f) => older_than(&path, BUILD_LOCK_MARGIN) && f.try_lock().is_ok(),
            // Being published (the lock file is removed just before), or
            // left by an older binary: only its age tells.
            Err(_) => older_than(&path, ABANDONED_UNLOCKED),
        };
        if abandoned && fs::remove_dir_all(&path).is_ok() {
            done.abandoned.push(name);
        }
    }
    Ok(done)
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d >= age)
}

/// The directory of a generation.
pub fn generation_path(index_dir: &Path, generation: u64) -> PathBuf {
    index_dir.join(layout::generation_dir_name(generation))
}
