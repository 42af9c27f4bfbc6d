//! Modes of the files and directories intelmatch creates: intel, positions
//! and locks are nobody else's business (contract §7), whatever the umask.
//! Files 0640 and directories 0750, so the `wazuh` group can read.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o640;
pub const DIR_MODE: u32 = 0o750;

/// `OpenOptions` whose created file gets [`FILE_MODE`]; the caller adds the rest.
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// `create_dir_all` with [`DIR_MODE`] for every directory it creates.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}
