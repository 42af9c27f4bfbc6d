//! Sources (OpenCTI, MISP, STIX bundles, MISP feeds, lists) and the SQLite store.

pub mod batch;
pub mod config;
pub mod sources;

pub use batch::{
    Batch, Deletion, IndicatorRow, ObjectType, ObservableRow, Reject, RelationshipRow,
};
pub use config::{Secret, SourceConfig, SourceSettings};
