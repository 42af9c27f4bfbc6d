//! Writing one list safely.
//!
//! The new content goes to a temp file next to the list (named
//! `.<list>.<random>.tmp`: Wazuh's cluster sync skips `*.tmp`, and analysisd's
//! own `<list>.tmp` is a different name), is fsynced and compared with the
//! current list. `etc/lists` is writable by group wazuh and the export may run
//! as root, so all of it goes through descriptors (`matcher::safe_dir`): the
//! temp file and the list are read through handles, the owner is fixed
//! ([`ListOwner`]) and set on the handle. Unchanged
//! content is not rewritten, since analysisd recompiles a list whose mtime is
//! newer than its `.cdb`. Changed content is renamed over the list (readers
//! see the old file or the new one, never a mix), the directory is fsynced,
//! and the old `<list>.cdb` is removed so that analysisd rebuilds it at the
//! next start or reload even within the same second (it keeps its mapping of
//! the old one until then).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use matcher::index::fsutil::FILE_MODE;
use matcher::safe_dir::{self, SafeDir};

use serde::Serialize;

/// What happened to one list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListOutcome {
    pub name: String,
    pub path: PathBuf,
    pub lines: u64,
    pub bytes: u64,
    /// Lines in the new list that the old one lacked (a changed value counts
    /// as one added and one removed line).
    pub added: u64,
    pub removed: u64,
    /// False when the content was unchanged and the file left alone.
    pub written: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {what}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub what: &'static str,
    #[source]
    pub source: io::Error,
}

fn at<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError {
        path: path.to_owned(),
        what,
        source,
    }
}

/// Who owns the lists: analysisd (user `wazuh`) must read them. Fixed, never
/// copied from a file in the directory, which group wazuh controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOwner {
    /// `Some(0)` when run as root; `None` keeps ours.
    pub uid: Option<u32>,
    /// Group `wazuh` where it exists.
    pub gid: Option<u32>,
}

impl ListOwner {
    /// `root:wazuh` as root; otherwise our user and, where we are a member,
    /// group wazuh.
    pub fn for_wazuh() -> ListOwner {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        ListOwner {
            uid: root.then_some(0),
            gid: safe_dir::group_id("wazuh"),
        }
    }
}

/// Writes list `name` in `dir` from `fill`, which writes the sorted lines and
/// returns how many it wrote.
pub fn write_list(
    dir: &SafeDir,
    name: &str,
    owner: ListOwner,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<u64>,
) -> Result<ListOutcome, WriteError> {
    let path = dir.path().join(name);
    let mut tmp = dir
        .create_temp(name)
        .map_err(at(&path, "cannot create the temp file"))?;
    let tmp_at = |what| at(&path, what);
    let mut out = BufWriter::with_capacity(1 << 20, tmp.file());
    let lines = fill(&mut out).map_err(tmp_at("cannot write the temp file"))?;
    out.flush().map_err(tmp_at("cannot write the temp file"))?;
    drop(out);
    let bytes = tmp
        .file()
        .stream_position()
        .map_err(tmp_at("cannot write the temp file"))?;

    // Compared through the handles: the names may be swapped meanwhile.
    // A symlink, FIFO or unreadable file where the list should be is not a
    // list we wrote (group wazuh can plant one): it is replaced, never read.
    let current = dir.open_file(name).unwrap_or_else(|e| {
        tracing::warn!("{e}; replacing it with the list");
        None
    });
    let diff = match current {
        Some(old) => {
            tmp.file()
                .rewind()
                .map_err(tmp_at("cannot read back the temp file"))?;
            let new = tmp
                .file()
                .try_clone()
                .map_err(tmp_at("cannot read back the temp file"))?;
            diff(old, new).map_err(at(&path, "cannot compare with the current list"))?
        }
        None => Diff {
            added: lines,
            removed: 0,
            identical: false,
        },
    };
    let mut outcome = ListOutcome {
        name: name.to_string(),
        path: path.clone(),
        lines,
        bytes,
        added: diff.added,
        removed: diff.removed,
        written: false,
    };
    if diff.identical {
        return Ok(outcome);
    }
    // Only root may give files away; elsewhere keep what we can.
    if tmp.set_owner(owner.uid, owner.gid).is_err() && owner.uid.is_some() {
        tmp.set_owner(owner.uid, None)
            .map_err(at(&path, "cannot set the owner of the temp file"))?;
    }
    tmp.set_mode(FILE_MODE)
        .map_err(at(&path, "cannot set the mode of the temp file"))?;
    tmp.persist(name)
        .map_err(at(&path, "cannot rename the temp file over the list"))?;
    outcome.written = true;
    let cdb = format!("{name}.cdb");
    if let Err(e) = dir.remove(&cdb) {
        tracing::warn!(
            "{e}: cannot remove the compiled list; analysisd may not rebuild it \
             if the list changed within the same second"
        )
    }
    Ok(outcome)
}

#[derive(Debug, PartialEq, Eq)]
struct Diff {
    added: u64,
    removed: u64,
    identical: bool,
}

/// Line diff of the current list against the new temp file. The new file is
/// sorted; the old one is too when this exporter wrote it, which allows a
/// streaming merge. An old file edited by hand (out of order) is sorted in
/// memory instead.
fn diff(old_file: File, new: File) -> io::Result<Diff> {
    let mut old = Lines::new(old_file.try_clone()?);
    let mut new_lines = Lines::new(new.try_clone()?);
    let (mut added, mut removed) = (0u64, 0u64);
    let mut prev_old: Vec<u8> = Vec::new();
    let (mut a, mut b) = (old.next()?, new_lines.next()?);
    loop {
        if a.as_ref().is_some_and(|x| *x < prev_old) {
            return diff_unsorted(old_file, new);
        }
        let step = match (&a, &b) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
        if step != Ordering::Greater {
            prev_old = a.take().unwrap_or_default();
            a = old.next()?;
        }
        if step != Ordering::Less {
            b = new_lines.next()?;
        }
        match step {
            Ordering::Less => removed += 1,
            Ordering::Greater => added += 1,
            Ordering::Equal => {}
        }
    }
    // Lines keep their `\n`: equal sequences are equal files.
    Ok(Diff {
        added,
        removed,
        identical: added == 0 && removed == 0,
    })
}

fn diff_unsorted(mut old_file: File, mut new: File) -> io::Result<Diff> {
    old_file.rewind()?;
    new.rewind()?;
    let mut old_lines = Vec::new();
    let mut old = Lines::new(old_file);
    while let Some(l) = old.next()? {
        old_lines.push(l);
    }
    old_lines.sort_unstable();
    let (mut added, mut removed) = (0u64, 0u64);
    let mut i = 0;
    let mut new_lines = Lines::new(new);
    while let Some(y) = new_lines.next()? {
        while i < old_lines.len() && old_lines[i] < y {
            removed += 1;
            i += 1;
        }
        if i < old_lines.len() && old_lines[i] == y {
            i += 1;
        } else {
            added += 1;
        }
    }
    removed += (old_lines.len() - i) as u64;
    Ok(Diff {
        added,
        removed,
        identical: false,
    })
}

/// Lines with their `\n` (the last one may lack it).
struct Lines {
    r: BufReader<File>,
}

impl Lines {
    fn new(file: File) -> Lines {
        Lines {
            r: BufReader::with_capacity(1 << 20, file),
        }
    }

    fn next(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        match self.r.read_until(b'\n', &mut line)? {
            0 => Ok(None),
            _ => Ok(Some(line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
    use std::sync::Arc;

    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    fn write(dir: &Path, lines: &[&str]) -> ListOutcome {
        let dir = SafeDir::open(dir).unwrap();
        write_list(&dir, "intelmatch-ip", ListOwner::for_wazuh(), &mut |w| {
            for l in lines {
                w.write_all(l.as_bytes())?;
                w.write_all(b"\n")?;
            }
            Ok(lines.len() as u64)
        })
        .unwrap()
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), &["a:1", "b:2"]);
        assert!(first.written);
        assert_eq!((first.added, first.removed, first.lines), (2, 0, 2));
        let path = dir.path().join("intelmatch-ip");
        let cdb = dir.path().join("intelmatch-ip.cdb");
        std::fs::write(&cdb, b"compiled").unwrap();
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let again = write(dir.path(), &["a:1", "b:2"]);
        assert!(!again.written);
        assert_eq!((again.added, again.removed), (0, 0));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        assert!(cdb.exists(), "an unchanged list keeps its .cdb");
        assert!(leftovers(dir.path()).is_empty());

        let changed = write(dir.path(), &["a:1", "b:3", "c:4"]);
        assert!(changed.written);
        assert_eq!((changed.added, changed.removed), (2, 1));
        assert_eq!(std::fs::read(&path).unwrap(), b"a:1\nb:3\nc:4\n");
        assert!(!cdb.exists(), "a changed list loses its stale .cdb");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
    }

    #[test]
    fn a_hand_edited_list_is_diffed_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intelmatch-ip");
        std::fs::write(&path, "z:9\nb:2\na:1\na:1\nno newline").unwrap();
        let o = write(dir.path(), &["a:1", "b:2", "c:3"]);
        assert!(o.written);
        assert_eq!((o.added, o.removed), (1, 3));
        // Same lines in a different order still get rewritten sorted.
        std::fs::write(&path, "b:2\na:1\nc:3\n").unwrap();
        let o = write(dir.path(), &["a:1", "b:2", "c:3"]);
        assert!(o.written);
        assert_eq!((o.added, o.removed), (0, 0));
        // A missing final newline is a change.
        std::fs::write(&path, "a:1\nb:2\nc:3").unwrap();
        let o = write(dir.path(), &["a:1", "b:2", "c:3"]);
        assert!(o.written);
        assert_eq!((o.added, o.removed), (1, 1));
    }

    #[test]
    fn a_failed_fill_leaves_the_list_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &["a:1"]);
        let safe = SafeDir::open(dir.path()).unwrap();
        let err = write_list(&safe, "intelmatch-ip", ListOwner::for_wazuh(), &mut |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("store went away"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("store went away"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("intelmatch-ip")).unwrap(),
            b"a:1\n"
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_concurrent_reader_never_sees_a_partial_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intelmatch-ip");
        // Two versions big enough that a non-atomic write would be caught
        // half-way (several write calls each).
        let version = |tag: &str| -> Vec<String> {
            (0..40_000)
                .map(|i| format!("10.{}.{}.:{tag}", i / 256, i % 256))
                .collect()
        };
        let (a, b) = (version("a"), version("bb"));
        let text = |v: &[String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
        let (ta, tb) = (text(&a), text(&b));
        write(dir.path(), &refs(&a));

        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (stop, path, ta, tb) = (stop.clone(), path.clone(), ta.clone(), tb.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(AtomicOrdering::Relaxed) {
                    let got = std::fs::read_to_string(&path).unwrap();
                    assert!(got == ta || got == tb, "partial list: {} bytes", got.len());
                    reads += 1;
                }
                reads
            })
        };
        for i in 0..20 {
            let o = write(dir.path(), &refs(if i % 2 == 0 { &b } else { &a }));
            assert!(o.written);
        }
        stop.store(true, AtomicOrdering::Relaxed);
        let reads = reader.join().unwrap();
        assert!(reads > 0);
    }
}
