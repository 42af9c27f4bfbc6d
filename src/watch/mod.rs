//! `intelmatch watch`: the resident matcher for alert rates integratord cannot
//! reach. It follows `alerts.json` (or `archives.json`) like Filebeat, matches
//! every alert in process with the same extraction and profiles as
//! `integrate`, and sends the events to the queue socket.
//!
//! Delivery: an alert's position is committed (see [`registry`]) right after
//! its events were sent, so nothing is lost across restarts, rotation or
//! analysisd going away (the send is retried until it succeeds), and a clean
//! stop (SIGTERM) duplicates nothing. A SIGKILL landing between the send and
//! the commit re-sends that one alert's events on restart.

pub mod filter;
pub mod follow;
pub mod registry;
pub mod sink;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use matcher::index::{generation, Index};
use serde::Serialize;
use serde_json::Value;

use crate::commands::integrate::OWN_TAGS;
use crate::config::{Config, Profile};
use crate::wazuh::enrich::Enricher;
use crate::wazuh::extract::{is_own_event, parse_alert};
use crate::wazuh::location::reply_location;
use crate::wazuh::profile::{self, AlertContext, ProfileOptions};

use filter::AlertFilter;
use follow::{Event, Follower};
use registry::Registry;
use sink::{Delivery, Sink};

/// How `watch` runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub file: PathBuf,
    /// Exit once the file is read to its end (tests, benchmarks, backfills).
    pub until_idle: bool,
    /// Pause when there is nothing to read.
    pub poll: Duration,
}

/// Counters, also written to the status file every second.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct WatchStats {
    pub file: PathBuf,
    pub generation: u64,
    pub offset: u64,
    pub lag_bytes: u64,
    pub alerts: u64,
    pub alerts_per_sec: f64,
    pub filtered: u64,
    pub own_events: u64,
    pub bad_lines: u64,
    pub alerts_with_hits: u64,
    pub events_sent: u64,
    pub updated_at: String,
    pub pid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("watch registry {}: {source}", path.display())]
    Registry {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the position and status of watching `file` are kept.
pub fn state_paths(config: &Config, file: &Path) -> (PathBuf, PathBuf) {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "alerts".into());
    let dir = config.data_dir.join("watch");
    (
        dir.join(format!("{name}.position")),
        dir.join(format!("{name}.status.json")),
    )
}

/// The status a watcher of `file` wrote last, if any.
pub fn read_status(config: &Config, file: &Path) -> Option<WatchStats> {
    let (_, status) = state_paths(config, file);
    serde_json::from_slice(&std::fs::read(status).ok()?).ok()
}

pub fn run(
    config: &Config,
    opts: &WatchOptions,
    stop: &AtomicBool,
) -> Result<WatchStats, WatchError> {
    let (registry_path, status_path) = state_paths(config, &opts.file);
    let mut registry = Registry::open(&registry_path).map_err(|source| WatchError::Registry {
        path: registry_path.clone(),
        source,
    })?;
    // Wazuh rotates into <dir>/<year>/<month>/.
    let rotated: Vec<PathBuf> = opts
        .file
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    let mut follower = Follower::open(&opts.file, registry.position(), &rotated);
    let profile = config.wazuh.profile.unwrap_or(Profile::Native);
    let filter = AlertFilter::new(&config.watch);
    let sink = Sink::new(&config.wazuh.queue_socket);
    let mut stats = WatchStats {
        file: opts.file.clone(),
        pid: std::process::id(),
        ..WatchStats::default()
    };
    let index_dir = config.index_dir();
    let profile_opts = config.matching.profile_options();
    tracing::info!(
        "watching {} (profile {profile}, position kept in {})",
        opts.file.display(),
        registry.path().display()
    );

    'generations: while !stop.load(Ordering::Relaxed) {
        let Some(index) = wait_for_index(&index_dir, stop, opts.poll) else {
            break;
        };
        stats.generation = index.generation();
        tracing::info!("matching against index generation {}", stats.generation);
        let mut enricher = new_enricher(&index, config);
        let mut tick = Instant::now();
        let mut refreshed = Instant::now();
        let mut alerts_at_tick = stats.alerts;
        loop {
            for note in follower.notes.drain(..) {
                tracing::warn!("{note}");
            }
            if tick.elapsed() >= Duration::from_secs(1) {
                let secs = tick.elapsed().as_secs_f64();
                stats.alerts_per_sec = (stats.alerts - alerts_at_tick) as f64 / secs;
                alerts_at_tick = stats.alerts;
                tick = Instant::now();
                write_status(&status_path, &mut stats, &follower);
                let _ = registry.flush();
                if current_generation(&index_dir).is_some_and(|g| g != stats.generation) {
                    continue 'generations;
                }
                // `now` moves on: indicators expiring meanwhile stop matching.
                if refreshed.elapsed() >= Duration::from_secs(30) {
                    enricher = new_enricher(&index, config);
                    refreshed = Instant::now();
                }
            }
            if stop.load(Ordering::Relaxed) {
                break 'generations;
            }
            let end = match follower.next_line() {
                Ok(Event::Line { end }) => end,
                Ok(Event::Idle) => {
                    if opts.until_idle {
                        break 'generations;
                    }
                    std::thread::sleep(opts.poll);
                    continue;
                }
                Err(source) => {
                    return Err(WatchError::Read {
                        path: opts.file.clone(),
                        source,
                    })
                }
            };
            stats.alerts += 1;
            // A bug on one hostile line must not crash-loop the service on
            // it: the line is counted as bad, its position committed.
            let judged =
                guarded(|| judge(follower.line(), &filter, &mut enricher)).unwrap_or_else(|bug| {
                    // Its scratch buffers may be half-written: start afresh.
                    enricher = new_enricher(&index, config);
                    Err(bug)
                });
            let sent = match judged {
                Ok(Judged::Filtered) => {
                    stats.filtered += 1;
                    0
                }
                Ok(Judged::Own) => {
                    stats.own_events += 1;
                    0
                }
                Ok(Judged::NoHits) => 0,
                Ok(Judged::Hits(alert, hits)) => {
                    stats.alerts_with_hits += 1;
                    match send_events(&sink, config, profile, &profile_opts, &alert, hits, stop) {
                        Some(n) => n,
                        // Not committed: the next start sends this alert.
                        None => break 'generations,
                    }
                }
                Err(e) => {
                    stats.bad_lines += 1;
                    if stats.bad_lines <= 10 || stats.bad_lines.is_power_of_two() {
                        tracing::warn!(
                            "{} before offset {}: {e} ({} such lines so far)",
                            opts.file.display(),
                            end.offset,
                            stats.bad_lines
                        );
                    }
                    0
                }
            };
            stats.events_sent += sent;
            registry.commit(end);
            stats.offset = end.offset;
        }
    }
    let _ = registry.flush();
    write_status(&status_path, &mut stats, &follower);
    Ok(stats)
}

/// What one alert line comes to before anything is sent.
enum Judged {
    Filtered,
    Own,
    NoHits,
    Hits(Value, Vec<profile::ResolvedHit>),
}

fn judge(line: &[u8], filter: &AlertFilter, enricher: &mut Enricher<'_>) -> Result<Judged, String> {
    let alert = parse_alert(line).map_err(|e| e.to_string())?;
    if !filter.passes(&alert) {
        return Ok(Judged::Filtered);
    }
    if is_own_event(&alert, &OWN_TAGS) {
        return Ok(Judged::Own);
    }
    let hits = enricher.alert(&alert).hits;
    Ok(if hits.is_empty() {
        Judged::NoHits
    } else {
        // The event builders take the owned tree; only hits pay for it.
        Judged::Hits(alert.to_value(), hits)
    })
}

/// Runs `f`, a panic in it (logged by the hook) becoming the outer error.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        format!(
            "internal error while matching: {}",
            crate::logging::panic_message(payload.as_ref())
        )
    })
}

fn new_enricher<'i>(index: &'i Index, config: &Config) -> Enricher<'i> {
    Enricher::new(
        index,
        config.matching.lookup_options(),
        config.extract.options(&config.matching),
    )
}

fn send_events(
    sink: &Sink,
    config: &Config,
    profile: Profile,
    opts: &ProfileOptions,
    alert: &Value,
    hits: Vec<profile::ResolvedHit>,
    stop: &AtomicBool,
) -> Option<u64> {
    let ctx = AlertContext {
        alert,
        hook_url: config.wazuh.hook_url.as_deref(),
        misp_integration_key: config.wazuh.misp_integration_key,
    };
    let location = reply_location(alert, profile.tag());
    let mut sent = 0;
    for event in profile::events(profile, &ctx, hits, opts) {
        match sink.send(&location, &event, stop) {
            Delivery::Sent => sent += 1,
            Delivery::Dropped => {}
            Delivery::Stopped => return None,
        }
    }
    Some(sent)
}

fn current_generation(index_dir: &Path) -> Option<u64> {
    generation::read_current(index_dir)
        .ok()
        .flatten()
        .map(|c| c.generation)
}

/// Opens the current generation, waiting (and saying so once) while there is none.
fn wait_for_index(index_dir: &Path, stop: &AtomicBool, poll: Duration) -> Option<Index> {
    let mut said = false;
    while !stop.load(Ordering::Relaxed) {
        match Index::open(index_dir) {
            Ok(i) => return Some(i),
            Err(e) => {
                if !said {
                    tracing::error!("{e}; waiting for `intelmatch sync` to publish one");
                    said = true;
                }
                std::thread::sleep(poll.max(Duration::from_millis(200)));
            }
        }
    }
    None
}

fn write_status(path: &Path, stats: &mut WatchStats, follower: &Follower) {
    stats.lag_bytes = follower.lag(stats.offset);
    stats.updated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = serde_json::to_vec_pretty(stats).unwrap_or_default();
    if crate::modes::write_replacing(path, &body).is_err() {
        tracing::debug!("cannot write {}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn a_panic_while_matching_becomes_an_error_for_that_line() {
        assert_eq!(guarded(|| 7), Ok(7));
        let err = guarded(|| -> u8 { panic!("index out of bounds") }).unwrap_err();
        assert_eq!(err, "internal error while matching: index out of bounds");
        let owned = guarded(|| -> u8 { panic!("{} bad", 1) }).unwrap_err();
        assert_eq!(owned, "internal error while matching: 1 bad");
    }
}
