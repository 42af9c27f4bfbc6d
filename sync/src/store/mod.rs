//! The SQLite store: what every source has synced, with full provenance, the
//! match keys derived from it, sync state, runs and rejects.
//!
//! - [`open`](Store::open) applies the versioned migrations (`migrate.rs`);
//! - [`apply`](Store::apply) commits one source's [`Batch`](crate::Batch) in one
//!   transaction, deriving match keys on the way (`apply.rs`, `derive.rs`);
//! - [`for_each_index_entry`](Store::for_each_index_entry) streams what the
//!   index compiler needs (`read.rs`, `related.rs`);
//! - runs, state and [`status`](Store::status) live in `runs.rs` and `status.rs`.

mod apply;
mod derive;
mod encode;
mod error;
mod migrate;
mod open;
mod read;
mod related;
mod runs;
mod status;
mod upsert;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

pub use apply::ApplyStats;
pub use derive::{ParseStatus, DERIVE_VERSION};
pub use error::StoreError;
pub use migrate::SCHEMA_VERSION;
pub use read::IndexEntry;
pub use runs::{RunId, RunStatus};
pub use status::{ReasonCount, RejectEntry, RunInfo, SourceStatus, StoreStatus};

/// Rejected items kept per source; older ones are pruned on every apply.
pub const REJECTS_KEPT: usize = 1000;

/// Conventional state keys, so that `status` can show them for every source.
pub mod state_keys {
    /// The server's version string (OpenCTI, MISP).
    pub const SERVER_VERSION: &str = "server_version";
    /// How the last sync asked the server (OpenCTI's query shape, MISP's
    /// paging), in words for `status`.
    pub const QUERY_SHAPE: &str = "query_shape";
    /// Keys starting with this are watermarks (`watermark`, `watermark.indicators`, ...).
    pub const WATERMARK_PREFIX: &str = "watermark";
    /// RFC 3339 time of the last deletion reconciliation.
    pub const LAST_RECONCILE: &str = "last_reconcile";
    /// JSON object: source types that are not matchable → how many live
    /// items of the source have them (MISP attribute types).
    pub const UNSUPPORTED_TYPES: &str = "unsupported_types";
}

/// An open store. One per process and thread: the connection is `Send`, not `Sync`.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    readonly: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("readonly", &self.readonly)
            .finish()
    }
}

/// A source's row id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SourceId(pub i64);

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    fn ensure_writable(&self) -> Result<(), StoreError> {
        if self.readonly {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

pub(crate) use encode::one_line;

/// Local time for `*_at` columns: UTC, milliseconds, `Z`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
