//! Opening a generation: read-only memory maps, O(1) in the index size.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};

use crate::kind::Kind;

use super::domains::{reverse_labels, walk, DomainHit};
use super::generation::read_current;
use super::hashes::{hash_width, HashTable};
use super::iptable::{IpHit, IpTable};
use super::layout;
use super::meta::GenerationMeta;
use super::postings::{resolve, RecordId};
use super::records::Records;
use super::strings::Strings;
use super::substrings::{self, SubstringSet};

/// Why a generation could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no index generation in {0}: run `intelmatch sync` first")]
    NoIndex(PathBuf),
    #[error("index {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("index {} is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

impl OpenError {
    fn corrupt(path: &Path, reason: impl Into<String>) -> OpenError {
        OpenError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Mapped bytes of one file (zero-length files cannot be mapped).
#[derive(Debug)]
pub enum Bytes {
    Mapped(Mmap),
    Empty,
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Empty => &[],
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_ref()
    }
}

/// An open, immutable index generation.
pub struct Index {
    dir: PathBuf,
    meta: GenerationMeta,
    exact: fst::Map<Bytes>,
    hash_bytes: Bytes,
    hashes: HashTable,
    domains: fst::Map<Bytes>,
    ip_bytes: Bytes,
    ip: IpTable,
    substring_bytes: Bytes,
    substrings: substrings::Layout,
    postings: Bytes,
    records_idx: Bytes,
    records_dat: Bytes,
    strings: Bytes,
    /// Shared lock on `.readers`: cleanup leaves this generation alone while
    /// held. None when it could not be had in time (see [`lock_readers`]).
    _readers: Option<File>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .field("generation", &self.meta.generation)
            .finish()
    }
}

/// How long a reader waits for its shared lock on `.readers`.
const READERS_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Takes the shared lock without ever blocking for long. Cleanup holds the
/// exclusive lock only while it removes a generation, but anyone who can read
/// `.readers` (group wazuh) can hold it too: a blocking `flock` would let them
/// stall integratord. Past the wait the generation is mapped without the
/// lock; mappings outlive an unlink, so the worst case is a removal racing
/// the open, which reports NotFound and makes [`Index::open`] read CURRENT again.
fn lock_readers(readers: File) -> io::Result<Option<File>> {
    let start = std::time::Instant::now();
    loop {
        match readers.try_lock_shared() {
            Ok(()) => return Ok(Some(readers)),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        if start.elapsed() >= READERS_LOCK_WAIT {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

impl Index {
    /// Opens the generation `CURRENT` points to. Retries when a concurrent
    /// cleanup removed the generation between reading `CURRENT` and opening it.
    pub fn open(index_dir: &Path) -> Result<Index, OpenError> {
        let mut last = None;
        for _ in 0..5 {
            let current = read_current(index_dir).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => {
                    OpenError::corrupt(&index_dir.join(layout::CURRENT), e.to_string())
                }
                _ => OpenError::Io {
                    path: index_dir.join(layout::CURRENT),
                    source: e,
                },
            })?;
            let Some(current) = current else {
                return Err(OpenError::NoIndex(index_dir.to_path_buf()));
            };
            if layout::parse_generation_dir_name(&current.dir).is_none() {
                return Err(OpenError::corrupt(
                    &index_dir.join(layout::CURRENT),
                    format!("names `{}`, not a generation", current.dir),
                ));
            }
            match Index::open_generation(&index_dir.join(&current.dir)) {
                Err(OpenError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    last = Some(source);
                }
                other => return other,
            }
        }
        Err(OpenError::Io {
            path: index_dir.to_path_buf(),
            source: last.unwrap_or_else(|| io::Error::other("generation vanished")),
        })
    }

    /// Opens one generation directory.
    pub fn open_generation(dir: &Path) -> Result<Index, OpenError> {
        let io_err = |path: PathBuf| move |source| OpenError::Io { path, source };
        let readers_path = dir.join(layout::READERS_LOCK);
        let readers = File::open(&readers_path).map_err(io_err(readers_path.clone()))?;
        let readers = lock_readers(readers).map_err(io_err(readers_path))?;

        let meta_path = dir.join(layout::META);
        let meta_bytes = std::fs::read(&meta_path).map_err(io_err(meta_path.clone()))?;
        let meta: GenerationMeta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| OpenError::corrupt(&meta_path, e.to_string()))?;
        if meta.format != layout::FORMAT {
            return Err(OpenError::corrupt(
                &meta_path,
                format!(
                    "format {} (this binary reads format {}): rebuild it from the store with `intelmatch compile`",
                    meta.format,
                    layout::FORMAT
                ),
            ));
        }

        let map = |name: &str| -> Result<Bytes, OpenError> {
            let path = dir.join(name);
            let file = File::open(&path).map_err(io_err(path.clone()))?;
            let len = file.metadata().map_err(io_err(path.clone()))?.len();
            let expected = meta.files.get(name).copied();
            if expected != Some(len) {
                return Err(OpenError::corrupt(
                    &path,
                    format!("size {len}, meta.json says {expected:?}"),
                ));
            }
            if len == 0 {
                return Ok(Bytes::Empty);
            }
            // SAFETY: generation files are never modified after publication
            // (they are written under a temporary name, then renamed), so the
            // mapping cannot change under us.
            // The length is given so that memmap2 does not stat the file again.
            let len = usize::try_from(len).map_err(|_| OpenError::corrupt(&path, "too large"))?;
            let m = unsafe { MmapOptions::new().len(len).map(&file) }.map_err(io_err(path))?;
            Ok(Bytes::Mapped(m))
        };
        let fst_of = |name: &str| -> Result<fst::Map<Bytes>, OpenError> {
            let bytes = map(name)?;
            fst::Map::new(bytes).map_err(|e| OpenError::corrupt(&dir.join(name), e.to_string()))
        };

        let exact = fst_of(layout::EXACT)?;
        let hash_bytes = map(layout::HASHES)?;
        let hashes = HashTable::open(&hash_bytes)
            .map_err(|e| OpenError::corrupt(&dir.join(layout::HASHES), e.to_string()))?;
        let domains = fst_of(layout::DOMAINS)?;
        let ip_bytes = map(layout::IP)?;
        let ip = IpTable::open(&ip_bytes)
            .map_err(|e| OpenError::corrupt(&dir.join(layout::IP), e.to_string()))?;
        let substring_bytes = map(layout::SUBSTRINGS)?;
        let substrings = substrings::Layout::check(&substring_bytes)
            .map_err(|e| OpenError::corrupt(&dir.join(layout::SUBSTRINGS), e.to_string()))?;
        let postings = map(layout::POSTINGS)?;
        let records_idx = map(layout::RECORDS_IDX)?;
        let records_dat = map(layout::RECORDS_DAT)?;
        let strings = map(layout::STRINGS)?;
        if Strings::new(&strings).is_none() {
            return Err(OpenError::corrupt(
                &dir.join(layout::STRINGS),
                "string table shorter than its offsets",
            ));
        }
        if records_idx.len() as u64 != meta.records * super::records::HEADER_LEN as u64 {
            return Err(OpenError::corrupt(
                &dir.join(layout::RECORDS_IDX),
                "record count does not match meta.json",
            ));
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            meta,
            exact,
            hash_bytes,
            hashes,
            domains,
            ip_bytes,
            ip,
            substring_bytes,
            substrings,
            postings,
            records_idx,
            records_dat,
            strings,
            _readers: readers,
        })
    }

    pub fn generation(&self) -> u64 {
        self.meta.generation
    }

    pub fn meta(&self) -> &GenerationMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records sharing the exact key `(kind, key)`; `key` must be normalised.
    /// Domains are not here: use [`Index::domain`].
    pub fn exact(
        &self,
        kind: Kind,
        key: &str,
        scratch: &mut Vec<u8>,
        out: &mut Vec<RecordId>,
    ) -> bool {
        let posting = match hash_width(kind, key) {
            Some(width) => self.hashes.get(&self.hash_bytes, kind, key, width),
            None => {
                scratch.clear();
                scratch.push(kind.tag());
                scratch.extend_from_slice(key.as_bytes());
                self.exact.get(&scratch[..])
            }
        };
        match posting {
            Some(posting) => {
                resolve(&self.postings, posting, out);
                true
            }
            None => false,
        }
    }

    /// The domain itself and every indicator parent of it (unbounded: the
    /// caller applies the public-suffix bound).
    pub fn domain(&self, domain: &str, scratch: &mut Vec<u8>, out: &mut Vec<DomainHit>) {
        reverse_labels(domain, scratch);
        walk(self.domains.as_fst(), scratch, out);
    }

    /// Every network containing `addr` (the address itself included).
    pub fn ip(&self, addr: IpAddr, max_len: u8, out: &mut Vec<IpHit>) {
        self.ip.lookup(&self.ip_bytes, addr, max_len, out);
    }

    /// The substring/prefix set (checked at open; nothing to build).
    pub fn substrings(&self) -> SubstringSet<'_> {
        SubstringSet::new(&self.substring_bytes, &self.substrings)
    }

    pub fn postings(&self, posting: u64, out: &mut Vec<RecordId>) {
        resolve(&self.postings, posting, out);
    }

    pub fn records(&self) -> Records<'_> {
        let strings = Strings::new(&self.strings).unwrap_or_default();
        Records::new(&self.records_dat, &self.records_idx, strings)
    }

    /// Every exact key of `kind`, in order (for exports).
    pub fn exact_keys(&self, kind: Kind) -> impl Iterator<Item = (String, u64)> + '_ {
        use fst::{IntoStreamer, Streamer};
        let tag = [kind.tag()];
        let upper = [kind.tag() + 1];
        let mut stream = self.exact.range().ge(tag).lt(upper).into_stream();
        let mut items = Vec::new();
        while let Some((k, v)) = stream.next() {
            items.push((String::from_utf8_lossy(&k[1..]).into_owned(), v));
        }
        self.hashes.keys(&self.hash_bytes, kind, &mut items);
        items.sort_unstable();
        items.into_iter()
    }
}
