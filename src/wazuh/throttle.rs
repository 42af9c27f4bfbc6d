//! At most one error event a minute.
//!
//! integratord starts a new process per alert, so the memory of "already
//! reported" lives in a stamp file whose mtime is the last report. A broken
//! index must raise one Wazuh alert a minute, not one per alert.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often an error event may be sent.
pub const ERROR_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ErrorThrottle {
    /// None without a Wazuh home: nothing to throttle for, and no shared
    /// directory such as /tmp, where anyone could plant the name.
    stamp: Option<PathBuf>,
    every: Duration,
}

impl ErrorThrottle {
    /// The stamp lives in `<home>/var/run/` (writable by group wazuh, which runs
    /// integratord), one per tag.
    pub fn for_home(home: &Path, tag: &str) -> ErrorThrottle {
        let run = home.join("var").join("run");
        ErrorThrottle {
            stamp: run
                .is_dir()
                .then(|| run.join(format!("intelmatch-{tag}.error-stamp"))),
            every: ERROR_EVERY,
        }
    }

    pub fn stamp(&self) -> Option<&Path> {
        self.stamp.as_deref()
    }

    /// Whether an error event may go out now; if so the stamp is renewed. A stamp
    /// that cannot be written never silences errors: reporting too often beats
    /// hiding a broken index.
    pub fn allow(&self) -> bool {
        let Some(stamp) = &self.stamp else {
            return true;
        };
        let now = SystemTime::now();
        // lstat: a symlink's target says nothing about our last report.
        if let Ok(m) = std::fs::symlink_metadata(stamp) {
            // A stamp in the future (clock stepped back) counts as expired.
            let age = m.modified().ok().and_then(|t| now.duration_since(t).ok());
            if m.is_file() && age.is_some_and(|age| age < self.every) {
                return false;
            }
        }
        if let Err(e) = touch(stamp, now) {
            tracing::debug!("error stamp {}: {e}", stamp.display());
        }
        true
    }
}

/// Sets the stamp's mtime, creating it if needed. `var/run` is writable by
/// group wazuh, and this may run as root (`integrate` by hand): never follow a
/// symlink, never truncate, never wait on a FIFO.
fn touch(stamp: &Path, now: SystemTime) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = crate::modes::file_options()
        .create(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(stamp)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let file = crate::modes::owned_mode(file)?;
    file.set_modified(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run")).unwrap();
        let t = ErrorThrottle::for_home(dir.path(), "intelmatch");
        assert!(t.stamp().unwrap().starts_with(dir.path()));
        assert!(t.allow());
        assert!(!t.allow());
        // An old stamp lets the next one through.
        let old = SystemTime::now() - Duration::from_secs(61);
        std::fs::File::options()
            .write(true)
            .open(t.stamp().unwrap())
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(t.allow());
        assert!(!t.allow());
    }

    #[test]
    fn an_unwritable_stamp_never_silences() {
        let t = ErrorThrottle {
            stamp: Some(PathBuf::from("/nonexistent-dir/intelmatch.stamp")),
            every: ERROR_EVERY,
        };
        assert!(t.allow());
        assert!(t.allow());
    }

    #[test]
    fn a_planted_symlink_or_fifo_is_never_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run")).unwrap();
        let t = ErrorThrottle::for_home(dir.path(), "intelmatch");
        let target = dir.path().join("root-only");
        std::fs::write(&target, b"keep").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&target)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::os::unix::fs::symlink(&target, t.stamp().unwrap()).unwrap();
        assert!(t.allow());
        assert!(t.allow(), "a symlink is no stamp: errors still go out");
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(m.modified().unwrap(), old);

        std::fs::remove_file(t.stamp().unwrap()).unwrap();
        let fifo =
            std::ffi::CString::new(t.stamp().unwrap().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(t.allow(), "a FIFO neither blocks nor silences");
    }

    #[test]
    fn no_wazuh_home_means_no_stamp_in_a_shared_directory() {
        let dir = tempfile::tempdir().unwrap();
        let t = ErrorThrottle::for_home(dir.path(), "intelmatch");
        assert!(t.stamp().is_none());
        assert!(t.allow() && t.allow());
    }
}
