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
    stamp: PathBuf,
    every: Duration,
}

impl ErrorThrottle {
    /// The stamp lives in `<home>/var/run/` (writable by group wazuh, which runs
    /// integratord), one per tag, or the temp dir when that directory is absent.
    pub fn for_home(home: &Path, tag: &str) -> ErrorThrottle {
        let run = home.join("var").join("run");
        let dir = if run.is_dir() {
            run
        } else {
            std::env::temp_dir()
        };
        ErrorThrottle {
            stamp: dir.join(format!("intelmatch-{tag}.error-stamp")),
            every: ERROR_EVERY,
        }
    }

    pub fn stamp(&self) -> &Path {
        &self.stamp
    }

    /// Whether an error event may go out now; if so the stamp is renewed. A stamp
    /// that cannot be written never silences errors: reporting too often beats
    /// hiding a broken index.
    pub fn allow(&self) -> bool {
        let now = SystemTime::now();
        if let Ok(modified) = std::fs::metadata(&self.stamp).and_then(|m| m.modified()) {
            // A stamp in the future (clock stepped back) counts as expired.
            if let Ok(age) = now.duration_since(modified) {
                if age < self.every {
                    return false;
                }
            }
        }
        let touched = crate::modes::file_options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&self.stamp)
            .and_then(|f| f.set_modified(now));
        if let Err(e) = touched {
            tracing::debug!("error stamp {}: {e}", self.stamp.display());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run")).unwrap();
        let t = ErrorThrottle::for_home(dir.path(), "intelmatch");
        assert!(t.stamp().starts_with(dir.path()));
        assert!(t.allow());
        assert!(!t.allow());
        // An old stamp lets the next one through.
        let old = SystemTime::now() - Duration::from_secs(61);
        std::fs::File::options()
            .write(true)
            .open(t.stamp())
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(t.allow());
        assert!(!t.allow());
    }

    #[test]
    fn an_unwritable_stamp_never_silences() {
        let t = ErrorThrottle {
            stamp: PathBuf::from("/nonexistent-dir/intelmatch.stamp"),
            every: ERROR_EVERY,
        };
        assert!(t.allow());
        assert!(t.allow());
    }
}
