//! The [`Source`] trait: how a source pulls its intel into the store.
//!
//! A source fetches in pages, turns each page into a [`Batch`] (rows plus the
//! watermark that covers them) and commits it through its [`SyncContext`].
//! Because a batch commits together with its watermark, a sync that is
//! interrupted at any point resumes from the last committed page.

mod error;
mod run;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::store::{ApplyStats, Store};
use crate::{Batch, ObjectType};

pub(crate) use error::error_chain;
pub use error::{SourceError, SourceErrorKind};
pub use run::{run_source, RunOptions};

/// A configured intel source.
pub trait Source: Send {
    /// The configured name (`[[sources]] name`), unique.
    fn name(&self) -> &str;
    /// `opencti`, `misp`, `stix`, `misp-feed`, `list`.
    fn type_name(&self) -> &'static str;
    /// Pulls what changed (everything with `ctx.full`) and commits it.
    fn sync<'a>(&'a mut self, ctx: &'a mut SyncContext<'_>) -> SyncFuture<'a>;
}

/// What [`Source::sync`] returns: a boxed, sendable future (object safety
/// without an async-trait dependency). Implement with `Box::pin(async move { .. })`.
pub type SyncFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SyncReport, SourceError>> + Send + 'a>>;

/// Progress of one source's sync, drawn by the CLI (indicatif on a terminal).
pub trait Progress: Send + Sync {
    /// Total items expected, when the source knows (`globalCount`, file size).
    fn set_total(&self, total: Option<u64>);
    /// `pages` more pages and `items` more items fetched.
    fn inc(&self, pages: u64, items: u64);
    /// What the source is doing now, in a few words.
    fn message(&self, msg: &str);
}

/// Progress that goes nowhere (tests, non-terminal runs).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _: Option<u64>) {}
    fn inc(&self, _: u64, _: u64) {}
    fn message(&self, _: &str) {}
}

/// What one sync of one source did. A source fills what it knows (`fetched`,
/// `pages`, `notes`); [`run_source`] fills the rest from the store's side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub source_type: String,
    /// `--full`: watermarks ignored, deletions reconciled.
    pub full: bool,
    /// Objects received from the source.
    pub fetched: u64,
    /// Requests or files read.
    pub pages: u64,
    /// Batches committed.
    pub batches: u64,
    /// Totals of every commit.
    pub applied: ApplyStats,
    /// Stopped early on request (SIGTERM); what was committed stays.
    pub cancelled: bool,
    pub duration_ms: u64,
    /// Anything worth one line in the summary ("reconciled deletions", ...).
    pub notes: Vec<String>,
}

/// What a source may use while it syncs.
pub struct SyncContext<'s> {
    store: &'s mut Store,
    source: String,
    source_type: &'static str,
    /// `--full`: ignore watermarks and reconcile deletions.
    pub full: bool,
    cancel: Arc<AtomicBool>,
    progress: &'s dyn Progress,
    batches: u64,
    applied: ApplyStats,
}

impl<'s> SyncContext<'s> {
    pub fn new(
        store: &'s mut Store,
        source: &str,
        source_type: &'static str,
        full: bool,
        cancel: Arc<AtomicBool>,
        progress: &'s dyn Progress,
    ) -> SyncContext<'s> {
        SyncContext {
            store,
            source: source.to_string(),
            source_type,
            full,
            cancel,
            progress,
            batches: 0,
            applied: ApplyStats::default(),
        }
    }

    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// Commits one batch (rows and the state covering them) atomically.
    pub fn commit(&mut self, batch: Batch) -> Result<ApplyStats, SourceError> {
        if batch.is_empty() {
            return Ok(ApplyStats::default());
        }
        let stats = self
            .store
            .apply(&self.source, self.source_type, batch)
            .map_err(|e| SourceError::store(&self.source, &e))?;
        self.batches += 1;
        self.applied += stats;
        Ok(stats)
    }

    /// A committed state value (watermark, cursor, ...). Returned even with
    /// `full`: the source decides what `--full` ignores.
    pub fn state(&self, key: &str) -> Result<Option<String>, SourceError> {
        self.store
            .state(&self.source, key)
            .map_err(|e| SourceError::store(&self.source, &e))
    }

    /// Every committed state value of this source.
    pub fn states(&self) -> Result<BTreeMap<String, String>, SourceError> {
        self.store
            .states(&self.source)
            .map_err(|e| SourceError::store(&self.source, &e))
    }

    /// Streams the ext ids of this source's live objects of one type
    /// (deletion reconciliation: what the store has that the server no longer lists).
    pub fn for_each_live_id(
        &self,
        object: ObjectType,
        f: &mut dyn FnMut(&str),
    ) -> Result<u64, SourceError> {
        self.store
            .for_each_live_id(&self.source, object, &mut |id| {
                f(id);
                Ok(())
            })
            .map_err(|e| SourceError::store(&self.source, &e))
    }

    /// How many live objects of one type this source has in the store.
    pub fn live_count(&self, object: ObjectType) -> Result<u64, SourceError> {
        self.store
            .live_count(&self.source, object)
            .map_err(|e| SourceError::store(&self.source, &e))
    }

    /// True once a stop was requested: finish or drop the current page and return.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(cancelled)` once a stop was requested, for `?` between pages.
    pub fn check_cancelled(&self) -> Result<(), SourceError> {
        if self.is_cancelled() {
            return Err(SourceError::cancelled(&self.source));
        }
        Ok(())
    }

    /// The flag itself, for waits (retries, backoff) that must stop early.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    pub fn progress(&self) -> &dyn Progress {
        self.progress
    }

    /// Batches committed so far and their totals.
    pub fn committed(&self) -> (u64, ApplyStats) {
        (self.batches, self.applied)
    }
}
