//! `intelmatch watch`: follow alerts.json and match in process (see [`crate::watch`]).

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::Failure;
use crate::cli::WatchArgs;
use crate::config::Config;
use crate::watch::{self, WatchOptions};

pub fn run(config: &Config, args: &WatchArgs) -> Result<ExitCode, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Failure::Runtime(format!("cannot handle signal {sig}: {e}")))?;
    }
    let opts = WatchOptions {
        file: args
            .file
            .clone()
            .unwrap_or_else(|| config.watch.file.clone()),
        until_idle: args.until_idle,
        poll: Duration::from_millis(50),
    };
    let stats = watch::run(config, &opts, &stop).map_err(|e| Failure::Runtime(e.to_string()))?;
    tracing::info!(
        "watch stopped at offset {} of {}: {} alerts, {} with hits, {} events sent, {} filtered, {} own events, {} bad lines",
        stats.offset,
        stats.file.display(),
        stats.alerts,
        stats.alerts_with_hits,
        stats.events_sent,
        stats.filtered,
        stats.own_events,
        stats.bad_lines
    );
    Ok(ExitCode::SUCCESS)
}
