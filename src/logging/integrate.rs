//! The per-alert `integrate` log: one line per event appended to Wazuh's
//! `integrations.log`, which every concurrent integration process shares.
//!
//! A small `Subscriber` of its own rather than tracing-subscriber's registry:
//! `integrate` has no spans, and the registry's set-up (a slab sized for 4,096
//! threads) and an eager open of the log file cost more than the rest of a
//! quiet run's logging. The file is opened on the first line written, so a run
//! that logs nothing never touches it.

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use super::{open_log_file, OUR_TARGETS};

/// Writes `2026-01-01T12:00:00.000Z intelmatch[4242] WARN: message key=value`
/// lines: the pid tells apart the processes integratord starts.
pub struct IntegrateLog {
    /// The most verbose level for our crates (dependencies: warnings and up).
    ours: Level,
    path: PathBuf,
    sink: OnceLock<Mutex<Sink>>,
}

enum Sink {
    File(File),
    Stderr,
    /// Test capture.
    #[cfg(test)]
    Memory(std::sync::Arc<Mutex<Vec<u8>>>),
}

impl IntegrateLog {
    /// Warnings and errors, or debug lines from our crates when `debug`.
    pub fn new(path: PathBuf, debug: bool) -> IntegrateLog {
        IntegrateLog {
            ours: if debug { Level::DEBUG } else { Level::WARN },
            path,
            sink: OnceLock::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn capturing(debug: bool, out: std::sync::Arc<Mutex<Vec<u8>>>) -> IntegrateLog {
        let log = IntegrateLog::new(PathBuf::new(), debug);
        let _ = log.sink.set(Mutex::new(Sink::Memory(out)));
        log
    }

    fn allows(&self, meta: &Metadata<'_>) -> bool {
        let target = meta.target();
        let ours = OUR_TARGETS.iter().any(|t| {
            target
                .strip_prefix(t)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        let max = if ours { self.ours } else { Level::WARN };
        *meta.level() <= max
    }

    fn sink(&self) -> &Mutex<Sink> {
        self.sink.get_or_init(|| {
            Mutex::new(match open_log_file(&self.path) {
                Ok(file) => Sink::File(file),
                Err(err) => {
                    let line = line(
                        Level::WARN,
                        format_args!(
                            "cannot append to {} ({err}); logging to stderr",
                            self.path.display()
                        ),
                    );
                    let _ = std::io::stderr().write_all(line.as_bytes());
                    Sink::Stderr
                }
            })
        })
    }
}

/// One whole line, written with a single `write` so that lines from concurrent
/// processes never interleave in the shared file (`O_APPEND`).
fn line(level: Level, body: fmt::Arguments<'_>) -> String {
    format!(
        "{} intelmatch[{}] {level}: {body}\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        std::process::id(),
    )
}

/// The message first, then ` key=value` for every other field.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for IntegrateLog {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.allows(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.allows(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.ours.max(Level::WARN).into())
    }

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = line(
            *event.metadata().level(),
            format_args!("{}{}", fields.message, fields.rest),
        );
        let mut sink = self.sink().lock().unwrap_or_else(|p| p.into_inner());
        let _ = match &mut *sink {
            Sink::File(f) => f.write_all(text.as_bytes()),
            Sink::Stderr => std::io::stderr().write_all(text.as_bytes()),
            #[cfg(test)]
            Sink::Memory(buf) => {
                buf.lock().unwrap().extend_from_slice(text.as_bytes());
                Ok(())
            }
        };
    }

    // No spans on this path: they are accepted and ignored.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn captured(debug: bool, f: impl FnOnce()) -> String {
        let out = Arc::new(Mutex::new(Vec::new()));
        let dispatch = tracing::Dispatch::new(IntegrateLog::capturing(debug, out.clone()));
        tracing::dispatcher::with_default(&dispatch, f);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn our_debug_lines_only_when_asked_and_dependencies_stay_quiet() {
        let text = captured(true, || {
            tracing::debug!(target: "intelmatch::integrate", "candidates: 3");
            tracing::debug!(target: "hyper", "not ours");
            tracing::debug!(target: "intelmatchx", "not ours either");
            tracing::warn!(target: "hyper", "a dependency's warning");
        });
        assert!(text.contains(" DEBUG: candidates: 3\n"), "{text}");
        assert!(!text.contains("not ours"), "{text}");
        assert!(text.contains(" WARN: a dependency's warning\n"), "{text}");

        let quiet = captured(false, || {
            tracing::debug!(target: "intelmatch", "hidden");
            tracing::error!(target: "matcher::index", "cannot map index");
        });
        assert!(!quiet.contains("hidden"), "{quiet}");
        assert!(quiet.contains(" ERROR: cannot map index\n"), "{quiet}");
    }

    #[test]
    fn a_line_has_time_pid_level_message_and_fields() {
        let text = captured(false, || {
            tracing::warn!(target: "intelmatch", source = "misp", count = 3, "stale");
        });
        let pid = format!(" intelmatch[{}] WARN: stale", std::process::id());
        assert!(text.contains(&pid), "{text}");
        assert!(text.ends_with(" source=\"misp\" count=3\n"), "{text}");
        assert!(
            text.as_bytes()[..4].iter().all(u8::is_ascii_digit),
            "{text}"
        );
    }

    #[test]
    fn the_file_is_appended_on_the_first_line_and_left_alone_otherwise() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("integrations.log");
        let quiet = tracing::Dispatch::new(IntegrateLog::new(path.clone(), false));
        tracing::dispatcher::with_default(&quiet, || {
            tracing::debug!(target: "intelmatch", "not written");
        });
        assert!(
            !path.exists(),
            "a run that logs nothing must not create the log"
        );

        std::fs::write(&path, "earlier line\n").unwrap();
        let log = tracing::Dispatch::new(IntegrateLog::new(path.clone(), false));
        tracing::dispatcher::with_default(&log, || {
            tracing::error!(target: "intelmatch", "cannot map index");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier line\n"), "{text}");
        assert!(text.contains("ERROR: cannot map index"), "{text}");

        let fresh = dir.path().join("new.log");
        let log = tracing::Dispatch::new(IntegrateLog::new(fresh.clone(), false));
        tracing::dispatcher::with_default(&log, || tracing::warn!(target: "intelmatch", "x"));
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "created with mode {mode:o}");
    }

    #[test]
    fn an_unwritable_log_falls_back_to_stderr_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        let log = IntegrateLog::new(dir.path().join("no/such/dir/x.log"), false);
        let dispatch = tracing::Dispatch::new(log);
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::error!(target: "intelmatch", "still reported");
        });
    }
}
