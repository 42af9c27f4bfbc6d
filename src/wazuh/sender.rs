//! Sending events to analysisd over its queue socket.
//!
//! `<home>/queue/sockets/queue` is an AF_UNIX datagram socket. analysisd reads at
//! most 65,535 bytes per datagram and silently cuts the rest, which leaves broken
//! JSON that no decoder matches; so every datagram is built to fit, by shortening
//! the longest strings of the event, and never sent broken. A missing or refusing
//! socket (analysisd down) is a clear error, and a full queue cannot hang the
//! process: sends have a short timeout.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::location;

/// Largest datagram analysisd reads whole (`OS_MAXSTR`).
pub const MAX_DATAGRAM: usize = 65_535;
/// Default send timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Appended to shortened strings.
const ELLIPSIS: &str = "…";

/// Why an event was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// analysisd is not there: no socket file, or nobody bound to it.
    #[error("wazuh queue socket {}: {reason} (is wazuh-analysisd running?)", path.display())]
    Unavailable { path: PathBuf, reason: &'static str },
    #[error("wazuh queue socket {}: permission denied (run as the wazuh user or root)", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("wazuh queue socket {}: send timed out after {timeout:?} (analysisd's queue is full)", path.display())]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("wazuh queue socket {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The payload must be a non-empty JSON object (the JSON decoder needs `{"`).
    #[error("event payload is not a non-empty JSON object")]
    NotAnObject,
    #[error("event cannot be cut down to {MAX_DATAGRAM} bytes (its keys alone are too long)")]
    TooLarge,
}

/// Sends one datagram per event to analysisd.
#[derive(Debug, Clone)]
pub struct QueueSender {
    path: PathBuf,
    timeout: Duration,
}

impl QueueSender {
    /// A sender to an explicit socket path (the `queue_socket` override).
    pub fn new(path: impl Into<PathBuf>) -> QueueSender {
        QueueSender {
            path: path.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A sender to `<home>/queue/sockets/queue`.
    pub fn for_home(home: &Path) -> QueueSender {
        QueueSender::new(home.join("queue").join("sockets").join("queue"))
    }

    pub fn with_timeout(mut self, timeout: Duration) -> QueueSender {
        // A zero timeout would mean "block forever" to the OS.
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `event` under `location` (already escaped, see
    /// [`location::reply_location`]); returns the datagram's size.
    pub fn send(&self, location: &str, event: &Value) -> Result<usize, QueueError> {
        let datagram = encode(location, event)?;
        let socket = UnixDatagram::unbound().map_err(|e| self.io_error(e))?;
        socket
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| self.io_error(e))?;
        socket
            .send_to(datagram.as_bytes(), &self.path)
            .map_err(|e| self.io_error(e))
    }

    fn io_error(&self, e: io::Error) -> QueueError {
        let path = self.path.clone();
        match e.kind() {
            io::ErrorKind::NotFound => QueueError::Unavailable {
                path,
                reason: "no such socket",
            },
            io::ErrorKind::ConnectionRefused => QueueError::Unavailable {
                path,
                reason: "connection refused",
            },
            io::ErrorKind::PermissionDenied => QueueError::PermissionDenied { path },
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => QueueError::Timeout {
                path,
                timeout: self.timeout,
            },
            _ => QueueError::Io { path, source: e },
        }
    }
}

/// Builds the datagram `1:<location>:<json>`, at most [`MAX_DATAGRAM`] bytes.
pub fn encode(location: &str, event: &Value) -> Result<String, QueueError> {
    let header = location::message(location, "");
    let budget = MAX_DATAGRAM
        .checked_sub(header.len())
        .ok_or(QueueError::TooLarge)?;
    let json = fit(event, budget)?;
    Ok(location::message(location, &json))
}

/// Serialises `event` in at most `budget` bytes: when the full text is longer, every
/// string longer than some cap is cut to the cap (at a UTF-8 boundary) and marked
/// with `…`, the cap being the largest that fits. Short strings and all keys are
/// kept, and the result is always valid JSON.
pub fn fit(event: &Value, budget: usize) -> Result<String, QueueError> {
    match event {
        Value::Object(m) if !m.is_empty() => {}
        _ => return Err(QueueError::NotAnObject),
    }
    let full = to_json(event);
    if full.len() <= budget {
        return Ok(full);
    }
    let render = |cap: usize| {
        let mut v = event.clone();
        cap_strings(&mut v, cap);
        to_json(&v)
    };
    let floor = render(0);
    if floor.len() > budget {
        return Err(QueueError::TooLarge);
    }
    // The rendered size only grows with the cap: binary search the largest that fits.
    let (mut lo, mut hi) = (0usize, longest_string(event));
    let mut best = floor;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let text = render(mid);
        if text.len() <= budget {
            lo = mid;
            best = text;
        } else {
            hi = mid;
        }
    }
    Ok(best)
}

fn to_json(v: &Value) -> String {
    // Serialising a Value cannot fail (its keys are strings).
    serde_json::to_string(v).unwrap_or_default()
}

fn longest_string(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(m) => m.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

fn cap_strings(v: &mut Value, cap: usize) {
    match v {
        Value::String(s) if s.len() > cap => {
            let mut end = cap;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str(ELLIPSIS);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| cap_strings(x, cap)),
        Value::Object(m) => m.values_mut().for_each(|x| cap_strings(x, cap)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_events_are_unchanged() {
        let e = json!({"integration": "intelmatch", "intelmatch": {"a": "b"}});
        assert_eq!(
            encode("intelmatch", &e).unwrap(),
            format!("1:intelmatch:{e}")
        );
    }

    #[test]
    fn large_strings_are_cut_to_fit() {
        let e = json!({"integration": "intelmatch", "intelmatch": {
            "big": "é".repeat(100_000), "quotes": "\"".repeat(40_000), "small": "keep me"}});
        let d = encode("[001] (a) any->intelmatch", &e).unwrap();
        assert!(d.len() <= MAX_DATAGRAM);
        let json = d.strip_prefix("1:[001] (a) any->intelmatch:").unwrap();
        assert!(json.starts_with("{\""));
        let back: Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["intelmatch"]["small"], "keep me");
        assert!(back["intelmatch"]["big"].as_str().unwrap().ends_with('…'));
        // The cut uses most of the room.
        assert!(d.len() > MAX_DATAGRAM - 1024, "{}", d.len());
    }

    #[test]
    fn refuses_what_cannot_fit_or_decode() {
        assert!(matches!(
            fit(&json!([1]), 100),
            Err(QueueError::NotAnObject)
        ));
        assert!(matches!(fit(&json!({}), 100), Err(QueueError::NotAnObject)));
        let keys: serde_json::Map<String, Value> = (0..10)
            .map(|i| (format!("key-{i:0>20}"), json!("v")))
            .collect();
        assert!(matches!(
            fit(&Value::Object(keys), 50),
            Err(QueueError::TooLarge)
        ));
        assert!(matches!(
            encode(&"x".repeat(70_000), &json!({"a": 1})),
            Err(QueueError::TooLarge)
        ));
    }
}
