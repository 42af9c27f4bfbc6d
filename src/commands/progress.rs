//! Sync progress: indicatif bars on a terminal, nothing otherwise (the
//! summary line at the end serves logs and cron mails).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use store::Progress;

/// One bar per source, drawn on stderr.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar for `source` when stderr is a terminal, else `None`.
    pub fn for_source(source: &str) -> Option<Bar> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template(
            "{spinner} {prefix:12} {msg:24} {pos:>9} items {per_sec:>12} [{elapsed}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(source.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Some(Bar { bar })
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn set_total(&self, total: Option<u64>) {
        if let Some(t) = total {
            self.bar.set_length(t);
        }
    }

    fn inc(&self, _pages: u64, items: u64) {
        self.bar.inc(items);
    }

    fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }
}
