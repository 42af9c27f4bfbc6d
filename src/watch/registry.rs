//! The persisted read position of `watch`: which file (by inode) and how far.
//!
//! A 64-byte memory-mapped file with two slots and a selector. A commit writes
//! the inactive slot, then flips the selector: one aligned store. Stores to a
//! shared mapping reach the page cache at once, so a position committed right
//! after an alert's events were sent survives the process being killed (even
//! with SIGKILL) without a write or fsync per alert. `flush` (fsync) runs on a
//! timer and at shutdown, for power loss.

use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::follow::{FileId, Position};

const MAGIC: &[u8; 8] = b"IMWATCH1";
const SIZE: usize = 64;
/// Layout: magic (8), selector (8), slot 0 (24: dev, ino, offset), slot 1 (24).
const SELECTOR: usize = 8;
const SLOTS: [usize; 2] = [16, 40];

pub struct Registry {
    path: PathBuf,
    map: MmapMut,
    /// Held with an exclusive lock: one watcher per registry.
    _file: std::fs::File,
}

impl Registry {
    /// Opens or creates the registry at `path`.
    pub fn open(path: &Path) -> io::Result<Registry> {
        if let Some(dir) = path.parent() {
            crate::modes::create_dir_all(dir)?;
        }
        let file = crate::modes::file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .and_then(crate::modes::owned_mode)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("another `intelmatch watch` holds {}", path.display()),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let fresh = file.metadata()?.len() != SIZE as u64;
        if fresh {
            file.set_len(SIZE as u64)?;
        }
        // SAFETY: the file is ours (one watcher per registry, see the watch lock);
        // nobody truncates it while mapped.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        if fresh || &map[..8] != MAGIC {
            map.fill(0);
            map[..8].copy_from_slice(MAGIC);
            map.flush()?;
        }
        Ok(Registry {
            path: path.to_path_buf(),
            map,
            _file: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last committed position, if any.
    pub fn position(&self) -> Option<Position> {
        let slot = SLOTS[(self.word(SELECTOR) & 1) as usize];
        let pos = Position {
            file: FileId {
                dev: self.word(slot),
                ino: self.word(slot + 8),
            },
            offset: self.word(slot + 16),
        };
        (pos.file.ino != 0).then_some(pos)
    }

    /// Records `pos` as processed.
    pub fn commit(&mut self, pos: Position) {
        let next = (self.word(SELECTOR) + 1) & 1;
        let slot = SLOTS[next as usize];
        self.set(slot, pos.file.dev);
        self.set(slot + 8, pos.file.ino);
        self.set(slot + 16, pos.offset);
        self.set(SELECTOR, next);
    }

    /// Forces the mapping to disk.
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    fn word(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.map[at..at + 8].try_into().unwrap_or([0; 8]))
    }

    fn set(&mut self, at: usize, v: u64) {
        self.map[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w/registry");
        let mut r = Registry::open(&p).unwrap();
        assert_eq!(r.position(), None);
        let pos = |ino, offset| Position {
            file: FileId { dev: 7, ino },
            offset,
        };
        r.commit(pos(11, 100));
        r.commit(pos(11, 250));
        assert!(Registry::open(&p).is_err(), "a second watcher is refused");
        drop(r);
        let mut r = Registry::open(&p).unwrap();
        assert_eq!(r.position(), Some(pos(11, 250)));
        r.commit(pos(12, 5));
        drop(r);
        assert_eq!(Registry::open(&p).unwrap().position(), Some(pos(12, 5)));
    }

    #[test]
    fn a_foreign_file_is_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("registry");
        std::fs::write(&p, [0xffu8; SIZE]).unwrap();
        assert_eq!(Registry::open(&p).unwrap().position(), None);
    }
}
