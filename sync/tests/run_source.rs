mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use matcher::Kind;
use store::{
    run_source, Batch, Progress, RunOptions, RunStatus, Source, SourceError, SourceErrorKind,
    SyncContext, SyncFuture, SyncReport,
};

/// Commits one page per batch, each with its own watermark; can fail or be
/// stopped after a given page.
struct Paged {
    pages: Vec<Batch>,
    fail_at: Option<usize>,
    /// Set this flag after committing page N (a SIGTERM arriving mid-sync).
    stop_after: Option<(usize, Arc<AtomicBool>)>,
    /// Return `Ok` when stopped instead of the cancelled error.
    graceful: bool,
    seen_full: Option<bool>,
    seen_watermark: Option<Option<String>>,
}

fn page(i: usize) -> Batch {
    let mut b = indicators(vec![attribute(
        &format!("a{i}"),
        Kind::Domain,
        &format!("d{i}.example"),
    )]);
    b.state.push((
        "watermark".into(),
        format!("2024-05-0{}T00:00:00.000Z", i + 1),
    ));
    b
}

fn paged(n: usize) -> Paged {
    Paged {
        pages: (0..n).map(page).collect(),
        fail_at: None,
        stop_after: None,
        graceful: false,
        seen_full: None,
        seen_watermark: None,
    }
}

impl Source for Paged {
    fn name(&self) -> &str {
        "feed"
    }

    fn type_name(&self) -> &'static str {
        "stix"
    }

    fn sync<'a>(&'a mut self, ctx: &'a mut SyncContext<'_>) -> SyncFuture<'a> {
        Box::pin(async move {
            self.seen_full = Some(ctx.full);
            self.seen_watermark = Some(ctx.state("watermark")?);
            let mut report = SyncReport::default();
            ctx.progress().set_total(Some(self.pages.len() as u64));
            for (i, batch) in std::mem::take(&mut self.pages).into_iter().enumerate() {
                if ctx.is_cancelled() {
                    if self.graceful {
                        report.notes.push("stopped between pages".into());
                        return Ok(report);
                    }
                    ctx.check_cancelled()?;
                }
                if self.fail_at == Some(i) {
                    return Err(SourceError::network(
                        ctx.source_name(),
                        format!("page {} failed: connection reset\nby peer", i + 1),
                    ));
                }
                tokio::task::yield_now().await;
                report.fetched += batch.indicators.len() as u64;
                report.pages += 1;
                ctx.commit(batch)?;
                ctx.progress().inc(1, 1);
                if let Some((n, flag)) = &self.stop_after {
                    if *n == i {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            }
            Ok(report)
        })
    }
}

#[derive(Default)]
struct Recorder {
    total: Mutex<Option<u64>>,
    pages: AtomicU64,
}

impl Progress for Recorder {
    fn set_total(&self, total: Option<u64>) {
        *self.total.lock().unwrap() = total;
    }
    fn inc(&self, pages: u64, _items: u64) {
        self.pages.fetch_add(pages, Ordering::Relaxed);
    }
    fn message(&self, _: &str) {}
}

fn last_run(store: &store::Store) -> store::RunInfo {
    store
        .source_status("feed")
        .unwrap()
        .unwrap()
        .last_run
        .unwrap()
}

#[tokio::test]
async fn a_successful_run_is_recorded_with_its_counts() {
    let (_dir, mut store) = temp_store();
    let progress = Recorder::default();
    let mut source = paged(3);
    let opts = RunOptions {
        full: true,
        progress: &progress,
        ..RunOptions::default()
    };
    let report = run_source(&mut store, &mut source, opts).await.unwrap();
    assert_eq!(source.seen_full, Some(true));
    assert_eq!(source.seen_watermark, Some(None));
    assert_eq!(
        (report.source.as_str(), report.source_type.as_str()),
        ("feed", "stix")
    );
    assert_eq!((report.fetched, report.pages, report.batches), (3, 3, 3));
    assert_eq!((report.applied.inserted, report.applied.keys), (3, 3));
    assert!(report.full && !report.cancelled);
    assert_eq!(
        (
            *progress.total.lock().unwrap(),
            progress.pages.load(Ordering::Relaxed)
        ),
        (Some(3), 3)
    );

    let run = last_run(&store);
    assert_eq!(run.status, RunStatus::Ok);
    assert_eq!(run.counts["applied"]["inserted"], 3);
    assert!(run.finished_at.is_some() && run.error.is_none());
    assert_eq!(
        store.state("feed", "watermark").unwrap().as_deref(),
        Some("2024-05-03T00:00:00.000Z")
    );

    // The next run starts from the committed watermark.
    let mut again = paged(0);
    run_source(&mut store, &mut again, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        again.seen_watermark,
        Some(Some("2024-05-03T00:00:00.000Z".into()))
    );
}

#[tokio::test]
async fn a_failed_run_keeps_the_committed_pages_and_records_the_error() {
    let (_dir, mut store) = temp_store();
    let mut source = paged(3);
    source.fail_at = Some(1);
    let err = run_source(&mut store, &mut source, RunOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Network);
    assert_eq!(
        err.to_string(),
        "source `feed`: page 2 failed: connection reset by peer"
    );

    let run = last_run(&store);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_deref(), Some(err.to_string().as_str()));
    assert_eq!(run.counts["batches"], 1);
    // Page 1 and its watermark are in; nothing of page 2.
    assert_eq!(
        store.state("feed", "watermark").unwrap().as_deref(),
        Some("2024-05-01T00:00:00.000Z")
    );
    assert_eq!(store.source_status("feed").unwrap().unwrap().indicators, 1);
}

#[tokio::test]
async fn a_cancelled_run_is_interrupted_and_resumable() {
    let (_dir, mut store) = temp_store();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut source = paged(3);
    source.stop_after = Some((0, Arc::clone(&cancel)));
    let opts = RunOptions {
        cancel: Arc::clone(&cancel),
        ..RunOptions::default()
    };
    let err = run_source(&mut store, &mut source, opts).await.unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Cancelled);
    assert_eq!(err.to_string(), "source `feed`: stopped on request");
    let run = last_run(&store);
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(
        store.state("feed", "watermark").unwrap().as_deref(),
        Some("2024-05-01T00:00:00.000Z")
    );

    // A source that stops gracefully returns its report, marked cancelled.
    let cancel = Arc::new(AtomicBool::new(false));
    let mut source = paged(3);
    source.stop_after = Some((1, Arc::clone(&cancel)));
    source.graceful = true;
    let opts = RunOptions {
        cancel: Arc::clone(&cancel),
        ..RunOptions::default()
    };
    let report = run_source(&mut store, &mut source, opts).await.unwrap();
    assert!(report.cancelled);
    assert_eq!(report.batches, 2);
    assert_eq!(report.notes, vec!["stopped between pages"]);
    assert_eq!(last_run(&store).status, RunStatus::Interrupted);
}

#[test]
fn the_run_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let (_dir, mut store) = temp_store();
    let mut source = paged(1);
    let fut = run_source(&mut store, &mut source, RunOptions::default());
    assert_send(&fut);
}
