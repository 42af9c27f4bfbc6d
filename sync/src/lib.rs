//! Sources (OpenCTI, MISP, STIX bundles, MISP feeds, lists) and the SQLite store.

pub mod batch;
pub mod config;

pub use batch::{
    Batch, Deletion, IndicatorRow, ObjectType, ObservableRow, Reject, RelationshipRow,
};
pub use config::{Secret, SecretError, SecretValue, SourceConfig, SourceSettings};
