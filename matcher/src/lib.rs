//! # intelmatch matcher
//!
//! Everything the per-alert path needs, and nothing it must not touch (no SQLite,
//! no async runtime, no network):
//!
//! - [`kind`]: the kinds of value (ipv4, domain, sha256, ...);
//! - [`normalize`]: one canonical normalisation function per kind, shared by ingest
//!   and lookup;
//! - [`stix`]: the STIX 2.1 pattern parser and its compiler to [`key::MatchKey`]s;
//! - [`index`]: immutable index generations (FST, IP prefix table, reversed-label
//!   domains, substring set, record table) written by the compiler and memory-mapped
//!   by readers;
//! - [`safe_dir`]: writing into directories others can write to (root-run commands);
//! - [`lookup`]: value → hits, with the method (exact, cidr, parent_domain, ...) and
//!   full provenance.

pub mod index;
pub mod key;
pub mod kind;
pub mod lookup;
pub mod normalize;
pub mod record;
pub mod safe_dir;
pub mod stix;
pub mod tokenize;

pub use key::{HitMethod, KeyMethod, MatchKey};
pub use kind::Kind;
pub use record::{Record, RecordKind, Related};
