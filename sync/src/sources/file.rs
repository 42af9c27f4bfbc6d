//! The three file source types behind the [`Source`] trait.
//!
//! A file source is a complete snapshot of its path. It is skipped when the
//! fingerprint of its inputs (paths, sizes, mtimes, config) has not changed
//! since the last committed load, unless the sync is `--full`.

use crate::config::{ListConfig, MispFeedConfig, StixConfig};
use crate::source::{Source, SourceError, SyncContext, SyncFuture, SyncReport};

use super::{list, misp_feed, stix_bundle, FileSourceError, Loaded};

/// Sync-state key holding the fingerprint of the last committed load.
const FINGERPRINT: &str = "fingerprint";

/// Which loader a [`FileSource`] uses.
#[derive(Debug, Clone)]
pub enum FileKind {
    Stix(StixConfig),
    MispFeed(MispFeedConfig),
    List(ListConfig),
}

/// A `stix`, `misp-feed` or `list` source.
#[derive(Debug, Clone)]
pub struct FileSource {
    name: String,
    kind: FileKind,
}

impl FileSource {
    pub fn new(name: &str, kind: FileKind) -> FileSource {
        FileSource {
            name: name.to_string(),
            kind,
        }
    }

    fn fingerprint(&self) -> Result<String, FileSourceError> {
        match &self.kind {
            FileKind::Stix(c) => stix_bundle::fingerprint(c),
            FileKind::MispFeed(c) => misp_feed::fingerprint(c),
            FileKind::List(c) => list::fingerprint(c),
        }
    }

    fn load(&self) -> Result<Loaded, FileSourceError> {
        match &self.kind {
            FileKind::Stix(c) => stix_bundle::load(c, &self.name),
            FileKind::MispFeed(c) => misp_feed::load(c, &self.name),
            FileKind::List(c) => list::load(c, &self.name),
        }
    }
}

impl Source for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            FileKind::Stix(_) => "stix",
            FileKind::MispFeed(_) => "misp-feed",
            FileKind::List(_) => "list",
        }
    }

    fn sync<'a>(&'a mut self, ctx: &'a mut SyncContext<'_>) -> SyncFuture<'a> {
        Box::pin(async move {
            let io = |e: FileSourceError| SourceError::io(&self.name, e.to_string());
            let mut report = SyncReport::default();
            let fingerprint = self.fingerprint().map_err(io)?;
            if !ctx.full && ctx.state(FINGERPRINT)?.as_deref() == Some(fingerprint.as_str()) {
                report.notes.push("unchanged since the last sync".into());
                return Ok(report);
            }
            ctx.progress().message("reading files");
            let loaded = self.load().map_err(io)?;
            report.pages = loaded.files as u64;
            report.fetched = loaded.batch.len() as u64;
            for (what, n) in &loaded.skipped {
                report.notes.push(format!("skipped {n} × {what}"));
            }
            let mut batch = loaded.batch;
            // A file that could not be read whole is not a snapshot: keep the
            // fingerprint unset so that the next sync reads it again.
            if batch.snapshot {
                batch.state.push((FINGERPRINT.into(), loaded.fingerprint));
            } else {
                batch.state.push((FINGERPRINT.into(), String::new()));
                report.notes.push(
                    "some files could not be read whole; their previous intel is kept".into(),
                );
            }
            ctx.progress().inc(report.pages, report.fetched);
            ctx.commit(batch)?;
            Ok(report)
        })
    }
}
