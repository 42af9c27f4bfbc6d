//! Delivery to analysisd for the resident mode: one long-lived socket, and
//! backpressure instead of loss. A full queue blocks the send; a missing
//! analysisd (restart, upgrade) is waited for, with the wait logged once.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::wazuh::sender;

/// How long one blocked send waits before checking for a stop request.
const SEND_SLICE: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// After a stop request, an alert's remaining events still get this long.
const DRAIN_ON_STOP: Duration = Duration::from_secs(10);

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// It can never be sent (not encodable); logged.
    Dropped,
    /// A stop request came while analysisd stayed unreachable: the alert must
    /// not be committed, so that the next start sends it.
    Stopped,
}

pub struct Sink {
    path: PathBuf,
    socket: Option<UnixDatagram>,
}

impl Sink {
    pub fn new(path: &Path) -> Sink {
        Sink {
            path: path.to_path_buf(),
            socket: UnixDatagram::unbound()
                .and_then(|s| s.set_write_timeout(Some(SEND_SLICE)).map(|()| s))
                .ok(),
        }
    }

    /// Sends one event, waiting as long as it takes (or until shortly after a
    /// stop request).
    pub fn send(&self, location: &str, event: &Value, stop: &AtomicBool) -> Delivery {
        let datagram = match sender::encode(location, event) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("event not sent: {e}");
                return Delivery::Dropped;
            }
        };
        let Some(socket) = &self.socket else {
            tracing::error!("cannot create a datagram socket; event not sent");
            return Delivery::Stopped;
        };
        let mut backoff = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        let mut said = false;
        loop {
            match socket.send_to(datagram.as_bytes(), &self.path) {
                Ok(_) => {
                    if said {
                        tracing::info!("{} accepts events again", self.path.display());
                    }
                    return Delivery::Sent;
                }
                Err(e) => {
                    let full = matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    );
                    if !said {
                        if full {
                            tracing::warn!(
                                "{}: analysisd's queue is full; waiting (nothing is dropped)",
                                self.path.display()
                            );
                        } else {
                            tracing::error!(
                                "{}: {e} (is wazuh-analysisd running?); retrying until it is back",
                                self.path.display()
                            );
                        }
                        said = true;
                    }
                    if stop.load(Ordering::Relaxed) && waited >= DRAIN_ON_STOP {
                        tracing::error!(
                            "stopping with an alert's events undelivered; they are sent at the next start"
                        );
                        return Delivery::Stopped;
                    }
                    if !full {
                        std::thread::sleep(backoff);
                        waited += backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    } else {
                        waited += SEND_SLICE;
                    }
                }
            }
        }
    }
}
