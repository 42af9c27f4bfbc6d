//! Builders shared by the store tests. Values are already canonical so the
//! tests do not depend on normalisation details.
#![allow(dead_code)]

use matcher::{Kind, RecordKind};
use rusqlite::Connection;
use store::{Batch, IndicatorRow, ObservableRow, RelationshipRow, Store};
use tempfile::TempDir;

pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("data/store.sqlite")).unwrap();
    (dir, store)
}

/// A second, raw connection to the same file, for checks and sabotage.
pub fn raw(store: &Store) -> Connection {
    let c = Connection::open(store.path()).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    c
}

pub fn stix(ext_id: &str, pattern: &str) -> IndicatorRow {
    IndicatorRow {
        ext_id: ext_id.into(),
        record_kind: RecordKind::Indicator,
        name: pattern.into(),
        pattern: Some(pattern.into()),
        pattern_type: Some("stix".into()),
        updated_at: Some("2024-05-01T10:00:00.000Z".into()),
        ..Default::default()
    }
}

pub fn ipv4_indicator(ext_id: &str, ip: &str) -> IndicatorRow {
    stix(ext_id, &format!("[ipv4-addr:value = '{ip}']"))
}

pub fn attribute(ext_id: &str, kind: Kind, value: &str) -> IndicatorRow {
    IndicatorRow {
        ext_id: ext_id.into(),
        record_kind: RecordKind::Attribute,
        name: value.into(),
        values: vec![(kind, value.into())],
        ..Default::default()
    }
}

pub fn observable(ext_id: &str, entity_type: &str, kind: Kind, value: &str) -> ObservableRow {
    ObservableRow {
        ext_id: ext_id.into(),
        entity_type: entity_type.into(),
        values: vec![(kind, value.into())],
        display_value: value.into(),
        ..Default::default()
    }
}

pub fn rel(ext_id: &str, rel_type: &str, from: &str, to: &str) -> RelationshipRow {
    RelationshipRow {
        ext_id: ext_id.into(),
        relationship_type: rel_type.into(),
        from_id: from.into(),
        to_id: to.into(),
        ..Default::default()
    }
}

pub fn indicators(rows: Vec<IndicatorRow>) -> Batch {
    Batch {
        indicators: rows,
        ..Default::default()
    }
}

pub fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}
