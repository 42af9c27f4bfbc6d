//! Immutable, memory-mapped index generations.
//!
//! [`IndexBuilder`] compiles records and match keys into a new generation and
//! publishes it atomically; [`Index`] opens the current generation read-only in
//! O(1). See [`layout`] for the files and [`generation`] for the publication
//! protocol.

pub mod builder;
pub mod domains;
pub mod fsutil;
pub mod generation;
pub mod hashes;
pub mod iptable;
pub mod layout;
pub mod meta;
pub mod postings;
pub mod reader;
mod record_codec;
pub mod records;
pub mod strings;
pub mod substrings;

pub use builder::{parse_ip_key, BuildError, IndexBuilder};
pub use generation::{cleanup, read_current, Cleanup};
pub use meta::{Current, GenerationMeta, Refused};
pub use postings::RecordId;
pub use reader::{Index, OpenError};
pub use records::{RecordHeader, Records};
