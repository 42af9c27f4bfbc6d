//! Provenance records: who said a value is bad, how sure they are, and until when.

use serde::{Deserialize, Serialize};

/// What kind of intel object a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A STIX/OpenCTI indicator (has a pattern).
    #[default]
    Indicator,
    /// A STIX cyber observable (a bare value, possibly with indicators based on it).
    Observable,
    /// A MISP attribute.
    Attribute,
    /// A line of a plain list source.
    ListEntry,
    /// A warninglist entry (false-positive suppression, never a hit on its own).
    Warninglist,
}

/// The full provenance of one indicator, observable or attribute, as stored in
/// the record table of an index generation and reported with every hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Source name from the config (`[[sources]] name`).
    pub source: String,
    /// Source type: `opencti`, `misp`, `stix`, `misp-feed`, `list`.
    pub source_type: String,
    pub record_kind: RecordKind,
    /// The source's own id (OpenCTI internal id, STIX id, MISP attribute uuid, `file:line`).
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markings: Vec<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    /// OpenCTI `x_opencti_detection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Link to the object in the source's UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// RFC 3339 time the source last changed the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// True when the pattern is compound: a value can only satisfy part of it.
    #[serde(default)]
    pub partial: bool,
    /// Set on records that exist only to report a `related` hit: the value and
    /// relationship through which the indicator is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    /// Source-specific context (MISP event, category, type, to_ids; OpenCTI
    /// standard id, observable id, ...). Profiles read what they need.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// How a `related` record reaches its indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// `resolves-to`, `related-to`, `based-on`, ...
    pub relationship: String,
    /// The value the alert value is linked to (the indicator's own value).
    pub via: String,
}

impl Record {
    /// `valid_until` as Unix seconds, if present and parseable.
    pub fn valid_until_unix(&self) -> Option<i64> {
        self.valid_until
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    }
}
