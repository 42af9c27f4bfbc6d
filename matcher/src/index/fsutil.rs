//! Durable file creation for generations: restrictive modes and fsync. The
//! modes are the ones every intelmatch file gets (the store and the CLI's
//! state files use them too). Each created file and directory is chmodded
//! after creation: the umask must neither tighten them (a manual sync under
//! umask 077 would hide the index from integratord's user) nor widen them.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Intel is confidential (contract §7): files 0640, directories 0750.
pub const FILE_MODE: u32 = 0o640;
pub const DIR_MODE: u32 = 0o750;

pub fn create_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

pub fn create_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(DIR_MODE).create(path)?;
    set_dir_mode(path)
}

/// Creates `path` and its missing parents, each [`DIR_MODE`]. Directories that
/// exist are left as they are (the package makes the data directory setgid).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => set_dir_mode(path),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`DIR_MODE`] when the umask made it anything else. Left alone when right:
/// a chmod by a user outside the directory's group clears the setgid bit it
/// inherited from the data directory (the binary sets its umask so that it
/// is right, `src/start.rs`; this is for library callers).
fn set_dir_mode(path: &Path) -> io::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o777 == DIR_MODE {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE | (mode & 0o2000)))
}

pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut f = create_file(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}
