//! Running one source with run bookkeeping around it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{NoProgress, Progress, Source, SourceError, SourceErrorKind, SyncContext, SyncReport};
use crate::store::{RunStatus, Store};

/// How [`run_source`] runs a source.
pub struct RunOptions<'p> {
    /// `--full`.
    pub full: bool,
    /// Set on SIGTERM/SIGINT; sources check it between pages.
    pub cancel: Arc<AtomicBool>,
    pub progress: &'p dyn Progress,
}

impl Default for RunOptions<'static> {
    fn default() -> Self {
        RunOptions {
            full: false,
            cancel: Arc::new(AtomicBool::new(false)),
            progress: &NoProgress,
        }
    }
}

/// Syncs one source, recording the run: `ok`, `failed` with the error, or
/// `interrupted` when stopped on request. A source that notices the stop and
/// returns normally yields `Ok` with `cancelled` set; what it committed stays.
pub async fn run_source(
    store: &mut Store,
    source: &mut dyn Source,
    opts: RunOptions<'_>,
) -> Result<SyncReport, SourceError> {
    let name = source.name().to_string();
    let source_type = source.type_name();
    let run = store
        .begin_run(&name, source_type)
        .map_err(|e| SourceError::store(&name, &e))?;
    tracing::info!(source = %name, source_type, full = opts.full, "sync started");
    let started = Instant::now();
    let (result, (batches, applied)) = {
        let mut ctx = SyncContext::new(
            store,
            &name,
            source_type,
            opts.full,
            Arc::clone(&opts.cancel),
            opts.progress,
        );
        let result = source.sync(&mut ctx).await;
        (result, ctx.committed())
    };
    let cancelled = opts.cancel.load(Ordering::Relaxed)
        || matches!(&result, Err(e) if e.kind() == SourceErrorKind::Cancelled);
    let status = match (&result, cancelled) {
        (_, true) => RunStatus::Interrupted,
        (Ok(_), false) => RunStatus::Ok,
        (Err(_), false) => RunStatus::Failed,
    };
    let mut report = result.as_ref().cloned().unwrap_or_default();
    report.source = name.clone();
    report.source_type = source_type.to_string();
    report.full = opts.full;
    report.batches = batches;
    report.applied = applied;
    report.cancelled = cancelled;
    report.duration_ms = started.elapsed().as_millis() as u64;
    let error = result.as_ref().err().map(|e| e.to_string());
    let counts = serde_json::to_value(&report).expect("a report always serialises");
    if let Err(e) = store.finish_run(run, status, &counts, error.as_deref()) {
        tracing::error!(source = %name, error = %e, "cannot record the end of the sync run");
        if result.is_ok() {
            return Err(SourceError::store(&name, &e));
        }
    }
    match result {
        Ok(_) => {
            tracing::info!(
                source = %name,
                status = status.as_str(),
                inserted = applied.inserted,
                updated = applied.updated,
                deleted = applied.deleted,
                rejected = applied.rejected,
                "sync finished"
            );
            Ok(report)
        }
        // The caller reports the error itself (one line per failure): here it
        // is only worth a warning when the run was stopped on request.
        Err(e) if cancelled => {
            tracing::warn!(source = %name, status = status.as_str(), error = %e, "sync ended early");
            Err(e)
        }
        Err(e) => {
            tracing::debug!(source = %name, status = status.as_str(), error = %e, "sync ended early");
            Err(e)
        }
    }
}
