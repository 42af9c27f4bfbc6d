//! `intelmatch sync`: pull the sources, update the store, publish a generation.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{run_source, NoProgress, Progress, RunOptions, SourceConfig, Store, SyncReport};

use super::progress::Bar;
use super::Failure;
use crate::cli::SyncArgs;
use crate::config::Config;

/// Held for the whole sync: two syncs never run at once (a scheduled one and
/// a manual one, say). The lock is released by the kernel if we die.
pub struct SyncLock {
    _file: File,
}

impl SyncLock {
    pub fn acquire(data_dir: &Path) -> Result<SyncLock, Failure> {
        let path = data_dir.join("sync.lock");
        let mut file = crate::modes::file_options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .and_then(crate::modes::owned_mode)
            .map_err(|e| Failure::Runtime(format!("sync lock {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Err(Failure::Runtime(format!(
                    "another sync is running{} (lock {}): wait for it to finish",
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {holder})")
                    },
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Failure::Runtime(format!(
                    "sync lock {}: {e}",
                    path.display()
                )))
            }
        }
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        Ok(SyncLock { _file: file })
    }
}

/// What one `sync` run did, for the summary and for `status`.
#[derive(Debug, Default)]
pub struct SyncOutcome {
    pub reports: Vec<SyncReport>,
    pub failed: Vec<(String, String)>,
    pub generation: Option<matcher::index::GenerationMeta>,
    pub cancelled: bool,
}

pub fn run(config: &Config, args: &SyncArgs) -> Result<ExitCode, Failure> {
    if let Some(expr) = &args.schedule {
        let expr = match (expr.trim(), &config.sync.schedule) {
            ("", Some(configured)) => configured.as_str(),
            ("", None) => {
                return Err(Failure::Usage(
                    "--schedule without a value needs `[sync] schedule` in the config".into(),
                ))
            }
            (given, _) => given,
        };
        return super::schedule::run(config, args, expr);
    }
    let selected = select(config, &args.sources)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let outcome = sync_once(config, &selected, args.full, args.compile_only, &cancel)?;
    for r in &outcome.reports {
        println!("{}", summary_line(r));
    }
    for (name, error) in &outcome.failed {
        println!("sync {name}: FAILED: {error}");
    }
    if let Some(meta) = &outcome.generation {
        print_generation(meta);
    }
    if outcome.cancelled {
        return Err(Failure::Runtime(
            "sync stopped on request; what was committed is kept, the index was not rebuilt".into(),
        ));
    }
    if !outcome.failed.is_empty() {
        let names: Vec<&str> = outcome.failed.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Failure::Runtime(format!(
            "sync failed for {}; the index was rebuilt from what the store holds",
            names.join(", ")
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `intelmatch compile`: a new generation from the store as it is, with this
/// binary's index format and `[matching]` settings; no source is contacted.
pub fn compile(config: &Config) -> Result<ExitCode, Failure> {
    if !config.store_path().exists() {
        return Err(Failure::Runtime(format!(
            "no store at {}: run `intelmatch sync` first",
            config.store_path().display()
        )));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let outcome = sync_once(config, &[], false, true, &cancel)?;
    match &outcome.generation {
        Some(meta) => print_generation(meta),
        None => return Err(Failure::Runtime("compile stopped on request".into())),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_generation(meta: &matcher::index::GenerationMeta) {
    println!(
        "index generation {}: {} records, {} exact + {} domain + {} IP keys, {} substrings, {:.1} MiB",
        meta.generation,
        meta.records,
        meta.exact_keys,
        meta.domain_keys,
        meta.ip.v4_entries + meta.ip.v6_entries,
        meta.substrings,
        meta.total_size() as f64 / (1024.0 * 1024.0)
    );
    // Limits a feed cannot exceed: what was refused, with an example.
    for (_, line) in refused_lines(meta) {
        println!("{}", super::terminal::text(&line));
    }
}

/// The configured sources to sync: all enabled ones, or those named.
pub fn select<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c SourceConfig>, Failure> {
    if names.is_empty() {
        return Ok(config.sources.iter().filter(|s| s.enabled).collect());
    }
    names
        .iter()
        .map(|n| {
            config.source(n).ok_or_else(|| {
                let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
                Failure::Usage(format!(
                    "--source {n}: no such source in {} (configured: {})",
                    config.origin().display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })
        })
        .collect()
}

/// Syncs `sources`, then compiles and publishes a generation. Shared by the
/// one-shot command and the scheduler.
pub fn sync_once(
    config: &Config,
    sources: &[&SourceConfig],
    full: bool,
    compile_only: bool,
    cancel: &Arc<AtomicBool>,
) -> Result<SyncOutcome, Failure> {
    create_data_dir(&config.data_dir)?;
    let _lock = SyncLock::acquire(&config.data_dir)?;
    let mut store =
        Store::open(config.store_path()).map_err(|e| Failure::Runtime(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))?;
    watch_signals(&rt, cancel);

    let mut outcome = SyncOutcome::default();
    if !compile_only {
        for cfg in sources {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let mut source = match store::sources::build(cfg) {
                Ok(s) => s,
                Err(e) => {
                    outcome.failed.push((cfg.name.clone(), e.to_string()));
                    continue;
                }
            };
            let bar = Bar::for_source(&cfg.name);
            let progress: &dyn Progress = match &bar {
                Some(b) => b,
                None => &NoProgress,
            };
            let result = rt.block_on(run_source(
                &mut store,
                source.as_mut(),
                RunOptions {
                    full,
                    cancel: Arc::clone(cancel),
                    progress,
                },
            ));
            if let Some(b) = &bar {
                b.finish();
            }
            match result {
                Ok(report) => {
                    outcome.cancelled |= report.cancelled;
                    outcome.reports.push(report);
                }
                Err(e) => {
                    tracing::error!(source = %cfg.name, "{e}");
                    outcome.failed.push((cfg.name.clone(), e.to_string()));
                }
            }
        }
    }
    outcome.cancelled |= cancel.load(Ordering::Relaxed);
    if outcome.cancelled {
        return Ok(outcome);
    }
    let started = Instant::now();
    // Marks the end of the fetch phase in the logs (the crash tests kill here).
    tracing::info!(index_dir = %config.index_dir().display(), "compiling the index");
    let extra = crate::intel::extra_entries(config);
    let extra_refs: Vec<&dyn store::compile::ExtraEntries> =
        extra.iter().map(|e| e.as_ref()).collect();
    let meta = store::compile::compile(
        &store,
        &config.index_dir(),
        &config.matching.compile_options(),
        &extra_refs,
    )
    .map_err(|e| Failure::Runtime(format!("index compile failed: {e}")))?;
    tracing::info!(
        generation = meta.generation,
        records = meta.records,
        secs = started.elapsed().as_secs_f64(),
        "index generation published"
    );
    for (reason, line) in refused_lines(&meta) {
        // The bundled lists' refusals are the same every run: the summary
        // and `status` show them; the log keeps what a feed did.
        if store::limits::is_bundled(reason) {
            tracing::debug!("{line}");
        } else {
            tracing::warn!("{line}");
        }
    }
    match matcher::index::cleanup(
        &config.index_dir(),
        config.sync.generations_keep,
        Duration::from_secs(config.sync.generation_grace_secs),
    ) {
        Ok(c) => {
            if !c.removed.is_empty() {
                tracing::info!(removed = ?c.removed, "old generations removed");
            }
            if !c.abandoned.is_empty() {
                tracing::info!(
                    dirs = ?c.abandoned,
                    "unfinished generations of killed syncs removed"
                );
            }
        }
        Err(e) => tracing::warn!("cleaning up old generations: {e}"),
    }
    outcome.generation = Some(meta);
    Ok(outcome)
}

fn create_data_dir(dir: &Path) -> Result<(), Failure> {
    crate::modes::create_dir_all(dir)
        .map_err(|e| Failure::Runtime(format!("data_dir {}: {e}", dir.display())))
}

/// SIGINT/SIGTERM set `cancel`; sources stop between pages and keep what
/// they committed.
fn watch_signals(rt: &tokio::runtime::Runtime, cancel: &Arc<AtomicBool>) {
    let cancel = Arc::clone(cancel);
    rt.spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("stop requested: finishing the current batch");
        cancel.store(true, Ordering::Relaxed);
    });
}

/// One line per limit that refused keys of a feed (`crate::limits` in the
/// sync crate), with the count and the first example: shown by `sync` and
/// `status`, never left to `meta.json` alone.
pub fn refused_lines(meta: &matcher::index::GenerationMeta) -> Vec<(&str, String)> {
    meta.refused
        .iter()
        .map(|(reason, r)| {
            let line = format!(
                "index refused {} {}: {reason} (e.g. {})",
                r.count,
                if r.count == 1 { "key" } else { "keys" },
                r.example
            );
            (reason.as_str(), line)
        })
        .collect()
}

/// One line per source, for people, logs and cron mails.
pub fn summary_line(r: &SyncReport) -> String {
    let a = &r.applied;
    let mut line = format!(
        "sync {}: {} fetched, {} new, {} updated, {} unchanged, {} deleted, {} keys, {} rejected ({:.1} s)",
        r.source,
        r.fetched,
        a.inserted,
        a.updated,
        a.unchanged,
        a.deleted,
        a.keys,
        a.rejected,
        r.duration_ms as f64 / 1000.0
    );
    for n in &r.notes {
        line.push_str("; ");
        line.push_str(n);
    }
    if r.cancelled {
        line.push_str("; stopped on request");
    }
    line
}
