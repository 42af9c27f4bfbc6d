//! Logging setup (`tracing-subscriber`).
//!
//! Commands log to stderr, or append to a file, as text or JSON lines
//! (`--log-format`), at a level set by `-v`/`-q` or else `RUST_LOG`. The
//! per-alert `integrate` path has its own cheaper setup ([`init_integrate`]):
//! no `RUST_LOG` parsing, a fixed target filter, and Wazuh's
//! `integrations.log` as destination.
//!
//! Secrets cannot reach a log: the config types print them masked and a
//! resolved secret has no `Display` (see `store::config::Secret`).

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::Dispatch;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The crates whose events `-v` makes more verbose (tracing targets are module
/// paths, which start with the library name).
mod integrate;

const OUR_TARGETS: [&str; 3] = ["intelmatch", "matcher", "store"];

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for machines.
    Json,
}

/// How a command wants its logs.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub format: LogFormat,
    /// `-v` count: 1 = debug, 2 = trace (and info from dependencies), 3 = trace everywhere.
    pub verbose: u8,
    /// `-q` count: 1 = warnings and errors only, 2 = errors only.
    pub quiet: u8,
    /// Append to this file (created 0640) instead of writing to stderr.
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log file {}: cannot open it for appending: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("logging was already set up")]
    AlreadySet,
}

/// Set up logging for a command. `-v`/`-q` win over `RUST_LOG`; a `RUST_LOG`
/// that does not parse is ignored with a warning.
pub fn init(opts: &LogOptions) -> Result<(), LogError> {
    let (filter, bad_env) = command_filter(opts, std::env::var("RUST_LOG").ok().as_deref());
    let (writer, ansi) = match &opts.file {
        Some(path) => {
            let file = open_log_file(path).map_err(|source| LogError::Open {
                path: path.clone(),
                source,
            })?;
            (BoxMakeWriter::new(Mutex::new(file)), false)
        }
        None => {
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            (BoxMakeWriter::new(std::io::stderr), ansi)
        }
    };
    command_dispatch(opts.format, filter, writer, ansi, opts.verbose > 0)
        .try_init()
        .map_err(|_| LogError::AlreadySet)?;
    if let Some(err) = bad_env {
        tracing::warn!("RUST_LOG ignored: {err}");
    }
    Ok(())
}

/// Report panics (bugs) as one error line through the log set up above,
/// instead of std's multi-line message on stderr. The callers catch the
/// unwind and go on or exit cleanly.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(
            "internal error{place}: {} (please report it)",
            panic_message(info.payload())
        );
    }));
}

/// The text a panic was raised with (`panic!("...")` gives `&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// Set up logging for `integrate`: append to `log_file` (Wazuh's
/// `<home>/logs/integrations.log`) when it can be opened for writing, else
/// stderr. Warnings and errors only, unless `debug` (integratord's `debug`
/// argument or the options file) asks for debug lines. Never fails: an
/// integration must not die for want of a log. A subscriber already set up is
/// kept.
pub fn init_integrate(log_file: &Path, debug: bool) {
    let log = integrate::IntegrateLog::new(log_file.to_path_buf(), debug);
    // Setting up twice (tests, or a caller that already did) is not an error here.
    let _ = tracing::subscriber::set_global_default(log);
}

/// Append-only, created 0640: logs may name indicators and hosts.
fn open_log_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // `logs/` is Wazuh's: never append through a planted symlink or block on a FIFO.
        options
            .mode(0o640)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// The filter for a command, and why `RUST_LOG` was ignored if it was.
fn command_filter(opts: &LogOptions, rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    let mut bad_env = None;
    if opts.verbose == 0 && opts.quiet == 0 {
        if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
            match EnvFilter::builder().parse(spec) {
                Ok(filter) => return (filter, None),
                Err(err) => bad_env = Some(err.to_string()),
            }
        }
    }
    let directives = verbosity_directives(opts.verbose, opts.quiet);
    // Built from our own fixed directive words, so it always parses.
    (EnvFilter::new(directives), bad_env)
}

/// `-v`/`-q` → directives: our crates at the chosen level, dependencies
/// quieter unless asked for (`-vv`, `-vvv`).
fn verbosity_directives(verbose: u8, quiet: u8) -> String {
    const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
    let ours = LEVELS[(2 + i32::from(verbose) - i32::from(quiet)).clamp(0, 4) as usize];
    let others = match (verbose, quiet) {
        (v, _) if v >= 3 => "trace",
        (2, _) => "info",
        (0, q) if q >= 2 => "error",
        _ => "warn",
    };
    let mut out = others.to_owned();
    for target in OUR_TARGETS {
        out.push_str(&format!(",{target}={ours}"));
    }
    // rustls logs every refused certificate at ERROR, naming no source: the
    // source's own error line already carries the reason. Shown from -vv on.
    if verbose < 2 {
        out.push_str(",rustls=off");
    }
    out
}

fn command_dispatch<F>(
    format: LogFormat,
    filter: F,
    writer: BoxMakeWriter,
    ansi: bool,
    show_targets: bool,
) -> Dispatch
where
    F: Filter<Registry> + Send + Sync + 'static,
{
    let layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .with_target(show_targets)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    Dispatch::new(Registry::default().with(layer))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer whose output the test can read back.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn writer(&self) -> BoxMakeWriter {
            let buf = self.0.clone();
            BoxMakeWriter::new(move || CapturedWriter(buf.clone()))
        }

        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for CapturedWriter {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A text subscriber at trace level for everything, writing to `out`.
    pub(crate) fn capture_all(out: &Captured) -> Dispatch {
        command_dispatch(
            LogFormat::Text,
            EnvFilter::new("trace"),
            out.writer(),
            false,
            true,
        )
    }

    fn opts(verbose: u8, quiet: u8) -> LogOptions {
        LogOptions {
            verbose,
            quiet,
            ..LogOptions::default()
        }
    }

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(
            verbosity_directives(0, 0),
            "warn,intelmatch=info,matcher=info,store=info,rustls=off"
        );
        assert_eq!(
            verbosity_directives(1, 0),
            "warn,intelmatch=debug,matcher=debug,store=debug,rustls=off"
        );
        assert_eq!(
            verbosity_directives(2, 0),
            "info,intelmatch=trace,matcher=trace,store=trace"
        );
        assert_eq!(
            verbosity_directives(5, 0),
            "trace,intelmatch=trace,matcher=trace,store=trace"
        );
        assert_eq!(
            verbosity_directives(0, 1),
            "warn,intelmatch=warn,matcher=warn,store=warn,rustls=off"
        );
        assert_eq!(
            verbosity_directives(0, 9),
            "error,intelmatch=error,matcher=error,store=error,rustls=off"
        );
    }

    #[test]
    fn rust_log_applies_only_without_flags() {
        let (filter, bad) = command_filter(&opts(0, 0), Some("store=trace"));
        assert_eq!(filter.to_string(), "store=trace");
        assert_eq!(bad, None);
        let (filter, _) = command_filter(&opts(1, 0), Some("store=trace"));
        assert!(filter.to_string().contains("intelmatch=debug"), "{filter}");
        let (filter, bad) = command_filter(&opts(0, 0), Some("store=loud"));
        assert!(filter.to_string().contains("intelmatch=info"), "{filter}");
        assert!(bad.is_some());
    }

    #[test]
    fn text_and_json_formats() {
        let out = Captured::default();
        let (filter, _) = command_filter(&opts(0, 0), None);
        tracing::dispatcher::with_default(
            &command_dispatch(LogFormat::Text, filter, out.writer(), false, false),
            || {
                tracing::info!(target: "intelmatch::sync", source = "misp", "synced");
                tracing::debug!(target: "intelmatch::sync", "hidden at info");
                tracing::info!(target: "hyper::client", "dependency chatter");
            },
        );
        let text = out.text();
        assert!(
            text.contains("INFO") && text.contains("synced source=\"misp\""),
            "{text}"
        );
        assert!(
            !text.contains("hidden") && !text.contains("chatter"),
            "{text}"
        );

        let out = Captured::default();
        let (filter, _) = command_filter(&opts(0, 0), None);
        tracing::dispatcher::with_default(
            &command_dispatch(LogFormat::Json, filter, out.writer(), false, false),
            || tracing::warn!(target: "store::sqlite", count = 3, "stale"),
        );
        let line: serde_json::Value = serde_json::from_str(out.text().trim()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "stale");
        assert_eq!(line["count"], 3);
        assert_eq!(line["target"], "store::sqlite");
    }
}
