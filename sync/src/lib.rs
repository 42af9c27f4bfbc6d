//! Sources (OpenCTI, MISP, STIX bundles, MISP feeds, lists) and the SQLite store.

pub mod config;

pub use config::{Secret, SourceConfig, SourceSettings};
