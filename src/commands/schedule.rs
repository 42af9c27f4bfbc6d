//! `intelmatch sync --schedule "CRON"`: stay resident and sync on a schedule.
//!
//! Each run takes the same sync lock as a manual `sync`, so two schedulers
//! and a manual run never overlap: a run that finds the lock taken is skipped
//! and logged. SIGTERM stops the scheduler between batches (a run in progress
//! keeps what it committed). The state is written to `<data_dir>/scheduler.json`
//! for `status`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::sync::{select, summary_line, sync_once};
use super::Failure;
use crate::cli::SyncArgs;
use crate::config::{parse_schedule, Config};

/// What `status` shows about the scheduler.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SchedulerState {
    pub pid: u32,
    pub schedule: String,
    /// `waiting`, `running` or `stopped`.
    pub state: String,
    pub next_run: Option<String>,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    /// `ok`, `failed`, `skipped` (another sync held the lock) or `cancelled`.
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub runs: u64,
}

pub fn state_path(config: &Config) -> PathBuf {
    config.data_dir.join("scheduler.json")
}

/// Reads the scheduler state, if a scheduler ever ran.
pub fn read_state(config: &Config) -> Option<SchedulerState> {
    let bytes = std::fs::read(state_path(config)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn run(config: &Config, args: &SyncArgs, expr: &str) -> Result<ExitCode, Failure> {
    let schedule = parse_schedule(expr).map_err(|e| Failure::Usage(format!("--schedule: {e}")))?;
    let selected = select(config, &args.sources)?;
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&cancel))
            .map_err(|e| Failure::Runtime(format!("cannot handle signal {sig}: {e}")))?;
    }
    let path = state_path(config);
    if let Err(e) = crate::modes::create_dir_all(&config.data_dir) {
        return Err(Failure::Runtime(format!(
            "data_dir {}: {e}",
            config.data_dir.display()
        )));
    }
    let mut state = SchedulerState {
        pid: std::process::id(),
        schedule: expr.to_string(),
        ..SchedulerState::default()
    };
    let jitter = config.sync.jitter_secs;
    tracing::info!("sync scheduled: `{expr}` (random delay up to {jitter} s)");
    while !cancel.load(Ordering::Relaxed) {
        let Some(next) = schedule.upcoming(Utc).next() else {
            return Err(Failure::Usage(format!("--schedule `{expr}` never fires")));
        };
        let delay = if jitter > 0 {
            rand::rng().random_range(0..=jitter)
        } else {
            0
        };
        let at = next + chrono::Duration::seconds(delay as i64);
        state.state = "waiting".into();
        state.next_run = Some(stamp(at));
        write_state(&path, &state);
        tracing::debug!("next sync at {}", stamp(at));
        if !sleep_until(at, &cancel) {
            break;
        }
        state.state = "running".into();
        state.last_started = Some(stamp(Utc::now()));
        state.runs += 1;
        write_state(&path, &state);
        let result = sync_once(config, &selected, args.full, args.compile_only, &cancel);
        state.last_finished = Some(stamp(Utc::now()));
        state.last_error = None;
        match result {
            Ok(outcome) => {
                for r in &outcome.reports {
                    tracing::info!("{}", summary_line(r));
                }
                for (name, error) in &outcome.failed {
                    tracing::error!("sync {name}: FAILED: {error}");
                }
                if let Some(meta) = &outcome.generation {
                    tracing::info!("published index generation {}", meta.generation);
                }
                state.last_result = Some(
                    if outcome.cancelled {
                        "cancelled"
                    } else if outcome.failed.is_empty() {
                        "ok"
                    } else {
                        "failed"
                    }
                    .into(),
                );
                if !outcome.failed.is_empty() {
                    let names: Vec<&str> = outcome.failed.iter().map(|(n, _)| n.as_str()).collect();
                    state.last_error = Some(format!("failed: {}", names.join(", ")));
                }
            }
            Err(f) if f.message().contains("another sync is running") => {
                tracing::info!("scheduled sync skipped: {}", f.message());
                state.last_result = Some("skipped".into());
            }
            Err(f) => {
                tracing::error!("scheduled sync failed: {}", f.message());
                state.last_result = Some("failed".into());
                state.last_error = Some(f.message().to_string());
            }
        }
    }
    state.state = "stopped".into();
    state.next_run = None;
    write_state(&path, &state);
    tracing::info!("scheduler stopped");
    Ok(ExitCode::SUCCESS)
}

/// Sleeps until `at` in short slices; false when a stop was requested.
fn sleep_until(at: DateTime<Utc>, cancel: &AtomicBool) -> bool {
    loop {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        let left = at.signed_duration_since(Utc::now());
        if left <= chrono::Duration::zero() {
            return true;
        }
        let slice = left
            .to_std()
            .unwrap_or_default()
            .min(Duration::from_millis(200));
        std::thread::sleep(slice);
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn write_state(path: &Path, state: &SchedulerState) {
    let body = serde_json::to_vec_pretty(state).unwrap_or_default();
    if let Err(e) = crate::modes::write_replacing(path, &body) {
        tracing::warn!("scheduler state {}: {e}", path.display());
    }
}
