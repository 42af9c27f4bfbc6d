//! Following a file that Wazuh appends to, rotates and sometimes truncates,
//! the way Filebeat does: by inode, not by name.
//!
//! The open file is read to its end before a rotation is acted on: Wazuh
//! renames `alerts.json` into `logs/alerts/<year>/<month>/` and compresses it
//! later, and the descriptor we hold keeps the renamed (even unlinked) file
//! readable, so the alerts written just before the rotation are not lost.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Identity of a file across renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Where reading stands: the file and the offset just past the last line
/// handed out (and processed, once the caller commits it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub file: FileId,
    pub offset: u64,
}

/// What [`Follower::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete line (without its newline) ending at `end`.
    Line { end: Position },
    /// Nothing new for now.
    Idle,
}

/// A longer line is not an alert integratord would read either; it is skipped.
pub const MAX_LINE: usize = 4 * 1024 * 1024;
/// Bytes asked of each read; the buffer grows past it only for a longer line.
const CHUNK: usize = 64 << 10;

pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    id: FileId,
    /// File offset of `buf[start]`.
    base: u64,
    buf: Vec<u8>,
    start: usize,
    /// The line handed out last, as `buf[line.0..line.1]`.
    line: (usize, usize),
    /// Skipping the rest of an overlong line.
    skipping: bool,
    /// Notes for the log (rotation, truncation, overlong lines).
    pub notes: Vec<String>,
}

impl Follower {
    /// Follows `path`, resuming at `resume` when it names the file now at
    /// `path` or a rotated copy found in `rotated_dirs`; else from the start.
    pub fn open(path: &Path, resume: Option<Position>, rotated_dirs: &[PathBuf]) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            id: FileId::default(),
            base: 0,
            buf: Vec::with_capacity(CHUNK),
            start: 0,
            line: (0, 0),
            skipping: false,
            notes: Vec::new(),
        };
        if let Some(pos) = resume {
            let current = std::fs::metadata(path).ok().map(|m| FileId::of(&m));
            if current == Some(pos.file) {
                f.open_at(path, pos.offset);
            } else if let Some(old) = find_by_id(rotated_dirs, pos.file) {
                f.notes.push(format!(
                    "resuming in rotated file {} at offset {}",
                    old.display(),
                    pos.offset
                ));
                f.open_at(&old, pos.offset);
            } else {
                f.notes.push(format!(
                    "the file read last (inode {}) is gone (rotated and compressed?); starting {} from the beginning",
                    pos.file.ino,
                    path.display()
                ));
            }
        }
        if f.file.is_none() {
            f.open_at(path, 0);
        }
        f
    }

    fn open_at(&mut self, path: &Path, offset: u64) -> bool {
        let Ok(mut file) = File::open(path) else {
            return false;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        let offset = if meta.len() < offset {
            self.notes.push(format!(
                "{} is shorter than the saved offset {offset}: truncated, reading from the start",
                path.display()
            ));
            0
        } else {
            offset
        };
        if file.seek(SeekFrom::Start(offset)).is_err() {
            return false;
        }
        self.id = FileId::of(&meta);
        self.file = Some(file);
        self.base = offset;
        self.buf.clear();
        self.start = 0;
        self.skipping = false;
        true
    }

    /// The line returned by the last [`Event::Line`].
    pub fn line(&self) -> &[u8] {
        &self.buf[self.line.0..self.line.1]
    }

    /// The next complete line, or `Idle` when there is none yet.
    pub fn next_line(&mut self) -> io::Result<Event> {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[self.start..]) {
                let (s, e) = (self.start, self.start + nl);
                self.start = e + 1;
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                self.line = (s, e);
                return Ok(Event::Line {
                    end: Position {
                        file: self.id,
                        offset: self.base + self.start as u64,
                    },
                });
            }
            if self.fill()? == 0 {
                if self.switch_if_rotated()? {
                    continue;
                }
                return Ok(Event::Idle);
            }
        }
    }

    /// Reads more; returns the bytes read (0 at the end of the file).
    fn fill(&mut self) -> io::Result<usize> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        // Drop consumed bytes first.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        if self.buf.len() > MAX_LINE {
            self.notes.push(format!(
                "a line over {MAX_LINE} bytes at offset {} was skipped",
                self.base
            ));
            self.base += self.buf.len() as u64;
            self.buf.clear();
            self.skipping = true;
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let n = file.read(&mut self.buf[old..]);
        self.buf.truncate(old + *n.as_ref().unwrap_or(&0));
        n
    }

    /// At the end of the open file: move to a new file at `path` (rotation) or
    /// back to the start (truncation).
    fn switch_if_rotated(&mut self) -> io::Result<bool> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(false);
        };
        let now = FileId::of(&meta);
        if self.file.is_none() || now != self.id {
            if self.file.is_some() {
                // A last line without its newline still counts once the file is closed.
                if self.start < self.buf.len() && !self.skipping {
                    self.buf.push(b'\n');
                    return Ok(true);
                }
                self.notes.push(format!(
                    "{} was rotated; following the new file",
                    self.path.display()
                ));
            }
            let path = self.path.clone();
            return Ok(self.open_at(&path, 0));
        }
        let read_to = self.base + self.buf.len() as u64;
        if meta.len() < read_to {
            self.notes.push(format!(
                "{} was truncated; reading from the start",
                self.path.display()
            ));
            let path = self.path.clone();
            return Ok(self.open_at(&path, 0));
        }
        Ok(false)
    }

    /// Bytes written to the followed path and not read yet.
    pub fn lag(&self, committed: u64) -> u64 {
        match std::fs::metadata(&self.path) {
            Ok(m) if FileId::of(&m) == self.id => m.len().saturating_sub(committed),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
}

/// A regular file with identity `id` under `dirs` (two levels deep, as Wazuh's
/// `<year>/<month>/` layout).
fn find_by_id(dirs: &[PathBuf], id: FileId) -> Option<PathBuf> {
    fn walk(dir: &Path, id: FileId, depth: u8) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let p = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_file() && FileId::of(&meta) == id {
                return Some(p);
            }
            if meta.is_dir() && depth > 0 {
                if let Some(found) = walk(&p, id, depth - 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    dirs.iter().find_map(|d| walk(d, id, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        while let Event::Line { .. } = f.next_line().unwrap() {
            out.push(String::from_utf8(f.line().to_vec()).unwrap());
        }
        out
    }

    fn append(path: &Path, s: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(s.as_bytes())
            .unwrap();
    }

    #[test]
    fn follows_appends_and_waits_for_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.json");
        append(&p, "a\nb\npart");
        let mut f = Follower::open(&p, None, &[]);
        assert_eq!(lines(&mut f), ["a", "b"]);
        append(&p, "ial\nc\n");
        assert_eq!(lines(&mut f), ["partial", "c"]);
    }

    #[test]
    fn rotation_drains_the_old_file_then_takes_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.json");
        append(&p, "1\n2\n");
        let mut f = Follower::open(&p, None, &[]);
        assert_eq!(lines(&mut f), ["1", "2"]);
        append(&p, "3\n");
        std::fs::create_dir_all(dir.path().join("2026/Dec")).unwrap();
        std::fs::rename(&p, dir.path().join("2026/Dec/ossec-alerts-02.json")).unwrap();
        append(&p, "4\n");
        assert_eq!(lines(&mut f), ["3", "4"]);
    }

    #[test]
    fn truncation_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.json");
        append(&p, "1111\n2222\n");
        let mut f = Follower::open(&p, None, &[]);
        assert_eq!(lines(&mut f).len(), 2);
        std::fs::write(&p, "x\n").unwrap();
        assert_eq!(lines(&mut f), ["x"]);
    }

    #[test]
    fn resumes_by_inode_even_after_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.json");
        append(&p, "1\n2\n3\n");
        let mut f = Follower::open(&p, None, &[]);
        let Event::Line { end } = f.next_line().unwrap() else {
            panic!()
        };
        drop(f);
        // Resume in the same file.
        let mut f = Follower::open(&p, Some(end), &[]);
        assert_eq!(lines(&mut f), ["2", "3"]);
        // Rotated while we were away: the rest of the old file first.
        std::fs::create_dir_all(dir.path().join("2026/Dec")).unwrap();
        std::fs::rename(&p, dir.path().join("2026/Dec/ossec-alerts-02.json")).unwrap();
        append(&p, "4\n");
        let mut f = Follower::open(&p, Some(end), &[dir.path().to_path_buf()]);
        assert_eq!(lines(&mut f), ["2", "3", "4"]);
    }

    #[test]
    fn overlong_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.json");
        let long = "x".repeat(MAX_LINE + CHUNK + 10);
        append(&p, &format!("a\n{long}\nb\n"));
        let mut f = Follower::open(&p, None, &[]);
        assert_eq!(lines(&mut f), ["a", "b"]);
        assert!(f.notes.iter().any(|n| n.contains("skipped")));
    }
}
