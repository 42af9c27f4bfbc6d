//! Sources (OpenCTI, MISP, STIX bundles, MISP feeds, lists) and the SQLite store.

pub mod batch;
pub mod compile;
pub mod config;
pub mod export;
pub mod http;
pub mod limits;
pub mod source;
pub mod sources;
pub mod store;
pub mod tls;
pub mod warninglists;

pub use batch::{
    Batch, Deletion, IndicatorRow, ObjectType, ObservableRow, Reject, RelationshipRow,
};
pub use config::{Secret, SecretError, SecretValue, SourceConfig, SourceSettings};
pub use source::{
    run_source, NoProgress, Progress, RunOptions, Source, SourceError, SourceErrorKind,
    SyncContext, SyncFuture, SyncReport,
};
pub use store::{
    state_keys, ApplyStats, IndexEntry, ParseStatus, RejectEntry, RunId, RunInfo, RunStatus,
    SourceId, SourceStatus, Store, StoreError, StoreStatus, DERIVE_VERSION, REJECTS_KEPT,
    SCHEMA_VERSION,
};
