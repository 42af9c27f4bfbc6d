//! The source implementations, one module each with its config and tests.
//!
//! File sources (STIX 2.1 bundles, MISP feed directories, plain IoC lists):
//! each loader is a pure function of the files under its configured path: it
//! reads them and returns one [`Batch`] that is a complete snapshot of the
//! source, plus a fingerprint of the inputs so an unchanged source can be
//! skipped without being parsed (every module also exposes `fingerprint`).
//!
//! Error policy: only I/O failures are fatal ([`FileSourceError`]: the path is
//! missing or cannot be read). Bad content (a malformed file, object, attribute
//! or line) becomes a [`Reject`] naming the file, the item and the reason, and
//! everything else is still imported.
//!
//! When a whole file could not be used (not JSON, not a bundle, invalid UTF-8,
//! an event file missing from a feed), the batch is marked `snapshot = false`:
//! its intel is unknown rather than gone, so the store must not delete what
//! that file contributed last time. The next good read is a snapshot again.

pub mod file;
pub mod fingerprint;
pub mod list;
pub mod misp;
pub mod misp_feed;
pub mod misp_types;
pub mod opencti;
pub mod stix_bundle;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::batch::{Batch, Reject};
use crate::config::{SourceConfig, SourceSettings};
use crate::source::{Source, SourceError};

pub use file::{FileKind, FileSource};

/// Builds the source a `[[sources]]` entry describes.
pub fn build(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    match &cfg.settings {
        SourceSettings::Stix(c) => Ok(Box::new(FileSource::new(
            &cfg.name,
            FileKind::Stix(c.clone()),
        ))),
        SourceSettings::MispFeed(c) => Ok(Box::new(FileSource::new(
            &cfg.name,
            FileKind::MispFeed(c.clone()),
        ))),
        SourceSettings::List(c) => Ok(Box::new(FileSource::new(
            &cfg.name,
            FileKind::List(c.clone()),
        ))),
        SourceSettings::Opencti(c) => Ok(Box::new(opencti::OpenCtiSource::new(&cfg.name, c)?)),
        SourceSettings::Misp(c) => Ok(Box::new(misp::MispSource::new(&cfg.name, c))),
    }
}

/// Why `status` should warn about a server's version: it is newer than any
/// the tests play (OpenCTI 7.260318.0, the MISP 2.5 series), so its changes
/// are unchecked. `None` for a tested or older version, or another source type.
pub fn untested_version(source_type: &str, version: &str) -> Option<String> {
    match source_type {
        "opencti" => {
            let newest = opencti::NEWEST_TESTED;
            (opencti::Version::parse(version)? > newest).then(|| {
                format!("OpenCTI {version} is newer than the newest version tested ({newest})")
            })
        }
        "misp" => {
            let (major, minor, _) = misp::paging::parse_version(version)?;
            let (tested_major, tested_minor) = misp::NEWEST_TESTED_SERIES;
            ((major, minor) > (tested_major, tested_minor)).then(|| {
                format!(
                    "MISP {version} is newer than the newest series tested \
                     ({tested_major}.{tested_minor}.x)"
                )
            })
        }
        _ => None,
    }
}

/// What a file source read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The rows, rejects and `snapshot` flag (see the module docs).
    pub batch: Batch,
    /// Changes whenever an input file (path, size, mtime) or the source's
    /// config changes; equal to what the module's `fingerprint` returns.
    pub fingerprint: String,
    /// Number of files read.
    pub files: usize,
    /// Items deliberately not imported, by reason (`identity`, `deleted attribute`,
    /// `to_ids=0`, `duplicate line`, ...): counted for status, not rejects.
    pub skipped: BTreeMap<String, usize>,
}

/// A file source cannot be read at all. One line, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    #[error("{}: not found", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: cannot read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not what the source type needs (e.g. a list
    /// source with `column = 0`, a special file).
    #[error("{}: {reason}", .path.display())]
    Unusable { path: PathBuf, reason: String },
}

impl FileSourceError {
    pub fn path(&self) -> &std::path::Path {
        match self {
            FileSourceError::Missing { path }
            | FileSourceError::Unreadable { path, .. }
            | FileSourceError::Unusable { path, .. } => path,
        }
    }

    fn from_io(path: PathBuf, err: std::io::Error) -> FileSourceError {
        if err.kind() == std::io::ErrorKind::NotFound {
            FileSourceError::Missing { path }
        } else {
            FileSourceError::Unreadable { path, source: err }
        }
    }
}

/// At most this many rejects are listed per file; the rest are summarised in
/// one extra reject, so a binary file dropped into a list directory cannot
/// flood the store with a million lines of noise.
const MAX_REJECTS_PER_FILE: usize = 100;

/// Trims `rejects[from..]` (the rejects of one file) to the cap.
fn cap_rejects(rejects: &mut Vec<Reject>, from: usize, file: &str) {
    let count = rejects.len() - from;
    if count > MAX_REJECTS_PER_FILE {
        rejects.truncate(from + MAX_REJECTS_PER_FILE);
        rejects.push(Reject {
            item: file.to_string(),
            reason: format!(
                "{} more rejects in this file not listed",
                count - MAX_REJECTS_PER_FILE
            ),
        });
    }
}

/// Decodes and parses a JSON file; the error is a one-line reason.
fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    // serde_json refuses a byte-order mark, which Windows editors like to add.
    let (bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("invalid UTF-8 at byte {}", bom + e.valid_up_to()))?;
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let location = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&location).unwrap_or(&full);
        format!(
            "not JSON at line {} column {}: {what}",
            e.line(),
            e.column()
        )
    })
}

/// A value for a reject message: bounded, on one line.
fn shown(value: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = value
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// RFC 3339 (UTC, seconds) for a Unix timestamp.
fn unix_to_rfc3339(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Adds `more` to `list`, keeping the first occurrence of each entry.
fn push_unique(list: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for item in more {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_say_where() {
        let err = parse_json(b"{\n  \"a\": \n}").unwrap_err();
        assert!(err.starts_with("not JSON at line 3 column 1: "), "{err}");
        assert!(!err.ends_with("column 1"), "{err}");
    }

    #[test]
    fn utf8_errors_give_the_byte_offset_past_a_bom() {
        let err = parse_json(b"\xEF\xBB\xBF{\"a\": \"\xFF\"}").unwrap_err();
        assert_eq!(err, "invalid UTF-8 at byte 10");
        assert!(parse_json(b"\xEF\xBB\xBF{}").is_ok());
    }

    #[test]
    fn rejects_are_capped_per_file() {
        let mut rejects: Vec<Reject> = (0..150)
            .map(|i| Reject {
                item: format!("f:{i}"),
                reason: "bad".into(),
            })
            .collect();
        cap_rejects(&mut rejects, 0, "f");
        assert_eq!(rejects.len(), MAX_REJECTS_PER_FILE + 1);
        assert_eq!(
            rejects.last().unwrap().reason,
            "50 more rejects in this file not listed"
        );
    }

    #[test]
    fn shown_values_are_bounded_and_single_line() {
        assert_eq!(shown("a\nb"), "a b");
        assert_eq!(shown(&"x".repeat(500)).chars().count(), 121);
    }

    #[test]
    fn only_versions_past_the_tested_ones_are_warned_about() {
        assert_eq!(super::untested_version("opencti", "6.9.28"), None);
        assert_eq!(super::untested_version("opencti", "7.260318.0"), None);
        assert_eq!(
            super::untested_version("opencti", "7.260722.0").as_deref(),
            Some("OpenCTI 7.260722.0 is newer than the newest version tested (7.260318.0)")
        );
        assert_eq!(super::untested_version("misp", "2.5.47"), None);
        assert!(super::untested_version("misp", "2.6.0").is_some());
        assert_eq!(super::untested_version("misp", "garbage"), None);
        assert_eq!(super::untested_version("stix", "9.9.9"), None);
    }
}
