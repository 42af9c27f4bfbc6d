//! Modes of the files and directories intelmatch creates: intel, positions
//! and locks are nobody else's business (contract §7), whatever the umask.
//! Files 0640 and directories 0750, so the `wazuh` group can read.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub use matcher::index::fsutil::{create_dir_all, FILE_MODE};

/// `OpenOptions` whose created file gets [`FILE_MODE`]; the caller adds the
/// rest, and passes the opened file through [`owned_mode`].
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Sets [`FILE_MODE`] on a file we opened with [`file_options`], so that the
/// umask neither tightens nor widens it.
pub fn owned_mode(file: std::fs::File) -> io::Result<std::fs::File> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
/// Unlike the index's `write_atomic`, no fsync: this is state rewritten every
/// second (watch status) or on every run (scheduler), where the last copy
/// lost to a power cut is rewritten anyway.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = owned_mode(
        file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?,
    )?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}
