//! `meta.json` of a generation and the `CURRENT` pointer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::iptable::IpTableStats;

/// Describes one generation. Written last inside the generation directory,
/// before the directory is renamed into place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GenerationMeta {
    pub format: u32,
    pub generation: u64,
    /// RFC 3339.
    pub created_at: String,
    pub records: u64,
    pub exact_keys: u64,
    pub domain_keys: u64,
    pub ip: IpTableStats,
    pub substrings: u64,
    /// Keys the builder could not place (corrupt store rows), with a count per reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, u64>,
    /// Exact keys per kind name.
    #[serde(default)]
    pub keys_by_kind: BTreeMap<String, u64>,
    /// File name keys that are whole paths: alerts' paths are looked up whole
    /// only when there is one.
    #[serde(default)]
    pub path_keys: u64,
    /// Size of every data file, checked when the generation is opened.
    pub files: BTreeMap<String, u64>,
    /// Build-time choices (min score, revoked/expired inclusion, ...), for `status`.
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
    /// Records excluded at compile time, per reason (revoked, expired, below min_score).
    #[serde(default)]
    pub excluded: BTreeMap<String, u64>,
    /// Keys refused by the limits a feed cannot exceed, per reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, Refused>,
    /// Milliseconds spent per build phase (`collect` is the caller feeding
    /// records, the rest is `finish`), to see where a slow compile goes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_ms: BTreeMap<String, u64>,
}

/// How many keys one limit refused, and the first of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Refused {
    pub count: u64,
    /// Source, record and key, on one line.
    pub example: String,
}

impl GenerationMeta {
    pub fn total_size(&self) -> u64 {
        self.files.values().sum()
    }
}

/// The content of `CURRENT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    pub generation: u64,
    pub dir: String,
}
