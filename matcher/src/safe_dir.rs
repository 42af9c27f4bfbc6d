//! Writing into directories that someone else may write to.
//!
//! `wazuh install` and `export cdb` run as root and write under
//! `<home>/etc/rules`, `<home>/etc/lists` and `<home>/integrations`, which
//! members of group `wazuh` can write to (or, for `etc`, rename entries in).
//! Anything done there by path can be redirected by a symlink planted or
//! swapped in between two calls, so a [`SafeDir`] does everything through
//! descriptors:
//!
//! - the directory is reached component by component with `O_NOFOLLOW`; a
//!   symlink on the way is followed only where no one but root could have
//!   put it (a root-owned directory that group and others cannot write);
//! - a new file gets a random name, created with `O_CREAT|O_EXCL|O_NOFOLLOW`
//!   inside the directory's descriptor; its owner and mode are set on the
//!   open handle (`fchown`, `fchmod`), and its content is read back through
//!   that handle;
//! - it is renamed into place with `renameat` against the directory's
//!   descriptor, after checking that its name still leads to our inode;
//! - an existing file is only ever read through `O_NOFOLLOW|O_NONBLOCK`
//!   handles that must be regular files.
//!
//! What the attacker can still do is what the directory's permissions already
//! allow (delete or rename entries); nothing outside the directory is ever
//! written, chowned or chmodded.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one walk before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// A directory held open by descriptor.
#[derive(Debug)]
pub struct SafeDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// A new file in a [`SafeDir`], removed on drop unless [`persist`](Self::persist)ed.
#[derive(Debug)]
pub struct TempFile<'d> {
    dir: &'d SafeDir,
    name: CString,
    file: File,
    kept: bool,
}

impl SafeDir {
    /// Opens `path` (made absolute against the working directory), refusing
    /// symlinks that anyone but root could have planted.
    pub fn open(path: &Path) -> io::Result<SafeDir> {
        let path = std::path::absolute(path)?;
        let fd = walk(&path)?;
        // The walk ends on an `O_PATH` descriptor; fsync and getdents need a real one.
        let fd = openat(
            fd.as_raw_fd(),
            c".",
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .map_err(|e| at(&path, e))?;
        Ok(SafeDir { fd, path })
    }

    /// Opens `path`, creating it and its missing parents (mode `mode`, then
    /// `fchmod`ed to it whatever the umask) when it does not exist.
    pub fn open_or_create(path: &Path, mode: u32) -> io::Result<(SafeDir, bool)> {
        let path = std::path::absolute(path)?;
        match SafeDir::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            r => return r.map(|d| (d, false)),
        }
        let (parent, name) = split(&path)?;
        let (parent, _) = SafeDir::open_or_create(parent, mode)?;
        let c = cname(name)?;
        // SAFETY: a valid descriptor and a NUL-terminated name.
        let rc = unsafe { libc::mkdirat(parent.fd.as_raw_fd(), c.as_ptr(), mode) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(at(&path, e));
            }
        }
        let dir = parent.open_dir(name)?;
        // SAFETY: a valid descriptor.
        cvt(unsafe { libc::fchmod(dir.fd.as_raw_fd(), mode) }).map_err(|e| at(&path, e))?;
        Ok((dir, true))
    }

    /// A subdirectory, never through a symlink.
    pub fn open_dir(&self, name: &OsStr) -> io::Result<SafeDir> {
        let path = self.path.join(name);
        let fd = openat(
            self.fd.as_raw_fd(),
            &cname(name)?,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )
        .map_err(|e| at(&path, e))?;
        Ok(SafeDir { fd, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's own metadata, from its descriptor.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.as_file(File::metadata)
    }

    /// Sets the directory's owner and mode through its descriptor.
    pub fn set_owner_and_mode(
        &self,
        uid: Option<u32>,
        gid: Option<u32>,
        mode: u32,
    ) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: a valid descriptor; -1 (as u32::MAX) leaves an id unchanged.
        cvt(unsafe { libc::fchown(fd, uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX)) })
            .and_then(|_| cvt(unsafe { libc::fchmod(fd, mode) }))
            .map(drop)
            .map_err(|e| at(&self.path, e))
    }

    /// Opens `name` for reading if it is a regular file; `None` if it does not
    /// exist. A symlink, FIFO or device there is an error, never followed or
    /// waited on.
    pub fn open_file(&self, name: &str) -> io::Result<Option<File>> {
        let r = openat(
            self.fd.as_raw_fd(),
            &cname(OsStr::new(name))?,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            0,
        );
        let fd = match r {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(at(&self.path.join(name), not_a_file(e))),
        };
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(at(
                &self.path.join(name),
                io::Error::other("not a regular file"),
            ));
        }
        Ok(Some(file))
    }

    /// Creates a new file named `.<stem>.<random>.tmp`, mode 0600 until the
    /// caller sets another. `.tmp`: Wazuh's cluster sync skips such names.
    pub fn create_temp(&self, stem: &str) -> io::Result<TempFile<'_>> {
        let mut last = None;
        for _ in 0..16 {
            let name = cname(OsStr::new(&format!(".{stem}.{:016x}.tmp", random_u64())))?;
            match openat(
                self.fd.as_raw_fd(),
                &name,
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600,
            ) {
                Ok(fd) => {
                    return Ok(TempFile {
                        dir: self,
                        name,
                        file: File::from(fd),
                        kept: false,
                    })
                }
                // Someone took the name: draw another.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(at(&self.path, e)),
            }
        }
        Err(at(
            &self.path,
            last.unwrap_or_else(|| io::Error::other("no free temp name")),
        ))
    }

    /// Removes `name` (never following a symlink: `unlinkat` removes the entry).
    /// False when there was nothing to remove.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        let c = cname(OsStr::new(name))?;
        // SAFETY: a valid descriptor and a NUL-terminated name.
        match cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(at(&self.path.join(name), e)),
        }
    }

    /// Flushes the directory's entries (after a rename).
    pub fn sync(&self) -> io::Result<()> {
        self.as_file(File::sync_all).map_err(|e| at(&self.path, e))
    }

    fn as_file<T>(&self, f: impl FnOnce(&File) -> io::Result<T>) -> io::Result<T> {
        // SAFETY: the File borrows our descriptor and is forgotten before it
        // could close it.
        let file = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(self.fd.as_raw_fd()) });
        f(&file)
    }
}

impl TempFile<'_> {
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// `fchown` on the handle; `None` leaves an id as it is.
    pub fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        // SAFETY: a valid descriptor; -1 (as u32::MAX) leaves an id unchanged.
        cvt(unsafe {
            libc::fchown(
                self.file.as_raw_fd(),
                uid.unwrap_or(u32::MAX),
                gid.unwrap_or(u32::MAX),
            )
        })
        .map(drop)
    }

    /// `fchmod` on the handle, so the umask has no say.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        // SAFETY: a valid descriptor.
        cvt(unsafe { libc::fchmod(self.file.as_raw_fd(), mode) }).map(drop)
    }

    /// fsyncs the file, renames it to `name` in its directory and fsyncs the
    /// directory. Refuses when its temp name no longer leads to the file we
    /// wrote (someone renamed it away and put something else there).
    pub fn persist(mut self, name: &str) -> io::Result<()> {
        self.file.sync_all()?;
        let ours = self.file.metadata()?;
        let there = fstatat_nofollow(self.dir.fd.as_raw_fd(), &self.name)?;
        use std::os::unix::fs::MetadataExt;
        if (there.st_dev as u64, there.st_ino as u64) != (ours.dev(), ours.ino()) {
            return Err(io::Error::other(
                "the temp file was replaced during the write",
            ));
        }
        let to = cname(OsStr::new(name))?;
        let dir = self.dir.fd.as_raw_fd();
        // SAFETY: valid descriptors and NUL-terminated names.
        cvt(unsafe { libc::renameat(dir, self.name.as_ptr(), dir, to.as_ptr()) })?;
        self.kept = true;
        self.dir.sync()
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.kept {
            // SAFETY: a valid descriptor and a NUL-terminated name.
            unsafe { libc::unlinkat(self.dir.fd.as_raw_fd(), self.name.as_ptr(), 0) };
        }
    }
}

/// The gid of group `name` from /etc/group (the fixed owners of what root
/// writes for Wazuh: `root:wazuh`).
pub fn group_id(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut f = line.split(':');
        (f.next()? == name).then_some(())?;
        f.next()?;
        f.next()?.parse().ok()
    })
}

/// Walks `path` from `/` and returns an `O_PATH` descriptor of it.
fn walk(path: &Path) -> io::Result<OwnedFd> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let mut fd = openat(libc::AT_FDCWD, c"/", flags, 0)?;
    // Components still to visit, last first.
    let mut todo: Vec<OsString> = components(path).rev().collect();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        let c = cname(&name)?;
        match openat(fd.as_raw_fd(), &c, flags, 0) {
            Ok(next) => fd = next,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                let st = fstatat_nofollow(fd.as_raw_fd(), &c)?;
                if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
                    return Err(at(path, e));
                }
                links += 1;
                if links > MAX_LINKS || !root_only(fd.as_raw_fd())? {
                    return Err(at(
                        path,
                        io::Error::other(format!(
                            "{} is a symlink in a directory that others than root can write to",
                            name.to_string_lossy()
                        )),
                    ));
                }
                let target = PathBuf::from(readlinkat(fd.as_raw_fd(), &c)?);
                if target.is_absolute() {
                    fd = openat(libc::AT_FDCWD, c"/", flags, 0)?;
                }
                todo.extend(components(&target).rev());
            }
            Err(e) => return Err(at(path, e)),
        }
    }
    Ok(fd)
}

/// `path`'s components as names to open (`..` included; `.` and the root dropped).
fn components(path: &Path) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

/// Whether only root can have made the entries of directory `fd`.
fn root_only(fd: RawFd) -> io::Result<bool> {
    let st = fstatat_nofollow(fd, c"")?;
    Ok(st.st_uid == 0 && st.st_mode & 0o022 == 0)
}

fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(at(path, io::Error::other("not a directory name"))),
    }
}

fn openat(dir: RawFd, name: &CStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; the returned descriptor is ours.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, mode as libc::c_uint) };
    cvt(fd).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstatat_nofollow(dir: RawFd, name: &CStr) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    let flags = libc::AT_SYMLINK_NOFOLLOW
        | if name.is_empty() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    // SAFETY: `st` is written by a successful call before it is read.
    cvt(unsafe { libc::fstatat(dir, name.as_ptr(), st.as_mut_ptr(), flags) })?;
    Ok(unsafe { st.assume_init() })
}

fn readlinkat(dir: RawFd, name: &CStr) -> io::Result<OsString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is as long as we say.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(usize::try_from(n).map_err(|_| io::Error::last_os_error())?);
    Ok(OsString::from_vec(buf))
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: the buffer is as long as we say. A short or failed read leaves
    // zeros mixed with the time, which O_EXCL still makes safe.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    u64::from_ne_bytes(b) ^ t ^ u64::from(std::process::id())
}

fn cname(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::other("a name with a NUL byte"))
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `O_NOFOLLOW` on a symlink gives ELOOP, which reads as "too many links":
/// say what it is.
fn not_a_file(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => io::Error::other("a symlink, not a regular file (refused)"),
        _ => e,
    }
}

/// The error with the path it concerns.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn writes_replaces_and_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SafeDir::open(tmp.path()).unwrap();
        let mut t = dir.create_temp("list").unwrap();
        t.file().write_all(b"new").unwrap();
        t.set_mode(0o640).unwrap();
        t.file().rewind().unwrap();
        let mut back = String::new();
        t.file().read_to_string(&mut back).unwrap();
        assert_eq!(back, "new");
        t.persist("list").unwrap();
        assert_eq!(std::fs::read(tmp.path().join("list")).unwrap(), b"new");
        let mode = std::fs::metadata(tmp.path().join("list"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        // A dropped temp leaves nothing.
        drop(dir.create_temp("list").unwrap());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlinked_directory_or_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        // Writable by others, as `etc/rules` is by group wazuh.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("secret"), b"s").unwrap();
        let link = tmp.path().join("link");
        symlink(&real, &link).unwrap();
        // The temp dir is not root-only: the link could have been planted.
        let err = SafeDir::open(&link).unwrap_err().to_string();
        assert!(err.contains("symlink"), "{err}");
        let dir = SafeDir::open(&real).unwrap();
        symlink(real.join("secret"), real.join("list")).unwrap();
        let err = dir.open_file("list").unwrap_err().to_string();
        assert!(err.contains("symlink"), "{err}");
        assert_eq!(dir.open_file("absent").unwrap().map(drop), None);
    }

    #[test]
    fn persist_refuses_a_swapped_temp_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SafeDir::open(tmp.path()).unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let t = dir.create_temp("x").unwrap();
        let name = tmp.path().join(OsStr::from_bytes(t.name.as_bytes()));
        std::fs::remove_file(&name).unwrap();
        symlink(&target, &name).unwrap();
        assert!(t.persist("out").is_err());
        assert!(!tmp.path().join("out").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn creates_a_missing_directory_with_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let (d, created) = SafeDir::open_or_create(&tmp.path().join("out"), 0o770).unwrap();
        assert!(created);
        assert_eq!(d.metadata().unwrap().permissions().mode() & 0o7777, 0o770);
        assert!(!SafeDir::open_or_create(d.path(), 0o770).unwrap().1);
    }
}
