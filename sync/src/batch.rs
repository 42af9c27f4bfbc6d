//! What a source hands to the store: rows of intel plus the sync state that
//! must commit with them (contract §7: one source's batch commits together with
//! its watermark).

use matcher::{Kind, RecordKind};
use serde_json::{Map, Value};

/// A unit of work committed atomically for one source.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub indicators: Vec<IndicatorRow>,
    pub observables: Vec<ObservableRow>,
    pub relationships: Vec<RelationshipRow>,
    /// Objects the source says are gone (soft deletes, reconciliation).
    pub deletions: Vec<Deletion>,
    /// Sync state (watermarks, cursors) written in the same transaction.
    pub state: Vec<(String, String)>,
    /// Items that could not be used, each with a one-line reason naming it.
    pub rejects: Vec<Reject>,
    /// The batch is a complete snapshot of the source: everything of this source
    /// not in it is deleted (file sources).
    pub snapshot: bool,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
            && self.observables.is_empty()
            && self.relationships.is_empty()
            && self.deletions.is_empty()
            && self.state.is_empty()
            && self.rejects.is_empty()
            && !self.snapshot
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
            + self.observables.len()
            + self.relationships.len()
            + self.deletions.len()
    }
}

/// An indicator (STIX/OpenCTI), a MISP attribute or a list entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorRow {
    /// The source's id; unique per source (upsert key).
    pub ext_id: String,
    pub record_kind: RecordKind,
    /// STIX id when different from `ext_id` (OpenCTI standard_id).
    pub standard_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// The pattern text (STIX or other language), if any.
    pub pattern: Option<String>,
    /// `stix`, `yara`, `sigma`, ...; `None` for bare values.
    pub pattern_type: Option<String>,
    /// Values given directly (MISP attributes, list lines) instead of a pattern:
    /// kind and raw value, normalised by the store.
    pub values: Vec<(Kind, String)>,
    pub score: Option<i64>,
    pub confidence: Option<i64>,
    pub revoked: bool,
    /// OpenCTI `x_opencti_detection`.
    pub detection: Option<bool>,
    /// RFC 3339.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub labels: Vec<String>,
    pub markings: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Link to the object in the source's UI.
    pub link: Option<String>,
    /// Source-specific provenance copied into hits (MISP event, category, type, to_ids, ...).
    pub extra: Map<String, Value>,
}

/// A cyber observable: a value (or several hashes) that indicators may be based on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservableRow {
    pub ext_id: String,
    pub standard_id: Option<String>,
    /// STIX/OpenCTI type (`ipv4-addr`, `domain-name`, `file`, ...).
    pub entity_type: String,
    /// Kind and raw value of every matchable value (a file has several hashes).
    pub values: Vec<(Kind, String)>,
    /// The representative value to show.
    pub display_value: String,
    pub score: Option<i64>,
    pub labels: Vec<String>,
    pub markings: Vec<String>,
    pub created_by: Option<String>,
    pub updated_at: Option<String>,
    pub link: Option<String>,
    pub extra: Map<String, Value>,
}

/// A relationship between two objects of the same source, by their ext ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationshipRow {
    pub ext_id: String,
    /// `based-on`, `resolves-to`, `related-to`, ...
    pub relationship_type: String,
    pub from_id: String,
    pub to_id: String,
    pub confidence: Option<i64>,
    pub revoked: bool,
    pub start_time: Option<String>,
    pub stop_time: Option<String>,
    pub updated_at: Option<String>,
}

/// Which table a deletion applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Indicator,
    Observable,
    Relationship,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub object: ObjectType,
    pub ext_id: String,
}

/// An item a source could not use. `item` names it (file and line, object id,
/// attribute uuid); `reason` says why, in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub item: String,
    pub reason: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.item, self.reason)
    }
}
