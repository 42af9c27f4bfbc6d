//! The input files of a file source and their fingerprint.
//!
//! A source's inputs are listed and stat'ed (never read) so that the caller
//! can compare fingerprints and skip an unchanged source before parsing it.
//! The fingerprint covers each file's relative path, size and modification
//! time plus the source's config, so changing `kind` or `to_ids_only` also
//! forces a reload. Files are stat'ed before they are read: a file modified
//! during a load changes the next fingerprint, so the change is not lost.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::FileSourceError;

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// Path relative to the source root, `/`-separated; the file name for a
    /// single-file source. Stable when the whole directory moves.
    pub rel: String,
    pub len: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 when unknown).
    pub mtime_ns: u128,
}

impl InputFile {
    /// How the file is named in rejects: the configured path joined with the
    /// relative path, which is what the user can go and open.
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

/// Which files of a directory a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// `*.json` (any case), recursively.
    JsonTree,
    /// `*.json` (any case) directly in the directory.
    JsonFlat,
    /// Every regular file, recursively.
    AllTree,
}

impl Select {
    fn accepts(self, name: &str) -> bool {
        match self {
            Select::JsonTree | Select::JsonFlat => name
                .rsplit_once('.')
                .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("json")),
            Select::AllTree => true,
        }
    }

    fn recursive(self) -> bool {
        !matches!(self, Select::JsonFlat)
    }
}

/// The files of a source, sorted by relative path (byte order) so every load
/// reads them in the same order.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub root: PathBuf,
    pub root_is_dir: bool,
    pub files: Vec<InputFile>,
}

impl Inputs {
    /// Lists the inputs under `path`: the file itself, or the selected files of
    /// the directory. Hidden entries (`.name`: editor swap files, `.git`) are
    /// skipped. Fails only when `path` or a directory below it cannot be read.
    pub fn collect(path: &Path, select: Select) -> Result<Inputs, FileSourceError> {
        let meta =
            fs::metadata(path).map_err(|e| FileSourceError::from_io(path.to_path_buf(), e))?;
        if meta.is_file() {
            let rel = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            return Ok(Inputs {
                root: path.to_path_buf(),
                root_is_dir: false,
                files: vec![input_file(path.to_path_buf(), rel, &meta)],
            });
        }
        if !meta.is_dir() {
            return Err(FileSourceError::Unusable {
                path: path.to_path_buf(),
                reason: "neither a file nor a directory".into(),
            });
        }
        let mut files = Vec::new();
        let mut visited = HashSet::new();
        walk(path, "", select, &mut visited, &mut files)?;
        Ok(Inputs {
            root: path.to_path_buf(),
            root_is_dir: true,
            files,
        })
    }

    /// The fingerprint of these inputs read with `config` by a `source_type`
    /// source. Stable across runs and platforms (FNV-1a, not `DefaultHasher`,
    /// whose output may change between Rust releases).
    pub fn fingerprint<C: Serialize>(&self, source_type: &str, config: &C) -> String {
        let mut h = Fnv128::new();
        h.write(source_type.as_bytes());
        h.write(b"\n");
        // Config serialisation cannot fail for plain structs; an empty string
        // would only make config changes invisible, never break a load.
        h.write(serde_json::to_string(config).unwrap_or_default().as_bytes());
        h.write(b"\n");
        for f in &self.files {
            h.write(f.rel.as_bytes());
            h.write(format!("\t{}\t{}\n", f.len, f.mtime_ns).as_bytes());
        }
        format!("v1-{}-{:032x}", self.files.len(), h.finish())
    }
}

fn input_file(path: PathBuf, rel: String, meta: &fs::Metadata) -> InputFile {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    InputFile {
        path,
        rel,
        len: meta.len(),
        mtime_ns,
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    select: Select,
    visited: &mut HashSet<PathBuf>,
    out: &mut Vec<InputFile>,
) -> Result<(), FileSourceError> {
    // Symlinks are followed; remembering canonical directories stops loops.
    let canonical =
        fs::canonicalize(dir).map_err(|e| FileSourceError::from_io(dir.to_path_buf(), e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let reader = fs::read_dir(dir).map_err(|e| FileSourceError::from_io(dir.to_path_buf(), e))?;
    let mut entries = Vec::new();
    for entry in reader {
        let entry = entry.map_err(|e| FileSourceError::from_io(dir.to_path_buf(), e))?;
        entries.push(entry.file_name());
    }
    entries.sort();
    for name in entries {
        let name_str = name.to_string_lossy().into_owned();
        if name_str.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink, or a file removed while listing.
                tracing::warn!(path = %path.display(), "skipping a file that vanished or is a dangling link");
                continue;
            }
            Err(e) => return Err(FileSourceError::from_io(path, e)),
        };
        let rel = if prefix.is_empty() {
            name_str.clone()
        } else {
            format!("{prefix}/{name_str}")
        };
        if meta.is_dir() {
            if select.recursive() {
                walk(&path, &rel, select, visited, out)?;
            }
        } else if meta.is_file() && select.accepts(&name_str) {
            out.push(input_file(path, rel, &meta));
        }
    }
    Ok(())
}

/// FNV-1a, 128 bits: tiny, dependency-free and plenty for change detection.
pub(crate) struct Fnv128(u128);

impl Fnv128 {
    pub(crate) fn new() -> Fnv128 {
        Fnv128(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self
                .0
                .wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }

    pub(crate) fn finish(&self) -> u128 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv128_known_vector() {
        // FNV-1a 128 of the empty string is the offset basis; of "a" a published value.
        assert_eq!(Fnv128::new().finish(), 0x6c62272e07bb014262b821756295c58d);
        let mut h = Fnv128::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn walk_is_sorted_recursive_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/sub")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        for f in [
            "z.json",
            "a.JSON",
            "b/sub/c.json",
            "b/x.txt",
            ".hidden.json",
            ".git/o.json",
        ] {
            fs::write(root.join(f), "{}").unwrap();
        }
        let rels = |s| {
            Inputs::collect(root, s)
                .unwrap()
                .files
                .into_iter()
                .map(|f| f.rel)
                .collect::<Vec<_>>()
        };
        assert_eq!(rels(Select::JsonTree), ["a.JSON", "b/sub/c.json", "z.json"]);
        assert_eq!(rels(Select::JsonFlat), ["a.JSON", "z.json"]);
        assert_eq!(
            rels(Select::AllTree),
            ["a.JSON", "b/sub/c.json", "b/x.txt", "z.json"]
        );
    }

    #[test]
    fn missing_path_is_fatal_and_named() {
        let err = Inputs::collect(Path::new("/nonexistent/intel"), Select::AllTree).unwrap_err();
        assert!(matches!(err, FileSourceError::Missing { .. }));
        assert_eq!(err.to_string(), "/nonexistent/intel: not found");
    }

    #[test]
    fn fingerprint_follows_files_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        fs::write(&f, "x").unwrap();
        let fp = |cfg: &str| {
            Inputs::collect(dir.path(), Select::AllTree)
                .unwrap()
                .fingerprint("list", &cfg)
        };
        let first = fp("c1");
        assert_eq!(first, fp("c1"));
        assert_ne!(first, fp("c2"));
        fs::write(&f, "xy").unwrap();
        assert_ne!(first, fp("c1"));
    }
}
