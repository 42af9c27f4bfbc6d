//! Streaming reads for the index compiler: one [`IndexEntry`] at a time, so
//! memory stays bounded whatever the size of the store.

use std::collections::HashMap;

use matcher::{MatchKey, Record, RecordKind};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Map, Value};

use super::derive::ParseStatus;
use super::encode::{kind_from_str, map_from_json, method_from_str, record_kind_from_str, table};
use super::upsert::json_strings;
use super::{related, Store, StoreError};
use crate::ObjectType;

/// A record and the keys under which the index finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub record: Record,
    pub keys: Vec<MatchKey>,
}

/// Source id → (name, type), loaded once per read.
pub(crate) type Sources = HashMap<i64, (String, String)>;

/// Indicator columns as [`indicator_record`] reads them, in this order.
pub(crate) const INDICATOR_COLS: &str = "i.id, i.source_id, i.ext_id, i.standard_id, \
     i.record_kind, i.name, i.pattern, i.pattern_type, i.score, i.confidence, i.revoked, \
     i.detection, i.valid_from, i.valid_until, i.labels, i.markings, i.created_by, i.updated_at, \
     i.link, i.extra, i.partial";
const INDICATOR_NCOLS: usize = 21;

/// Observable columns as [`observable_record`] reads them, in this order.
const OBSERVABLE_COLS: &str = "o.id, o.source_id, o.ext_id, o.standard_id, o.entity_type, \
     o.display_value, o.score, o.labels, o.markings, o.created_by, o.updated_at, o.link, o.extra";
const OBSERVABLE_NCOLS: usize = 13;

impl Store {
    /// Calls `f` with every entry the index needs and returns how many there were:
    /// every live indicator and observable that has keys, then the `related`
    /// entries (see `related.rs`). Revoked and expired records are included; the
    /// compiler filters them by config. Everything is read from one snapshot, so
    /// a concurrent sync never shows half a batch.
    pub fn for_each_index_entry(
        &self,
        f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        // A read transaction pins one WAL snapshot; it is rolled back on drop.
        let tx = self.conn.unchecked_transaction()?;
        let sources = load_sources(&tx)?;
        let mut n = indicator_entries(&tx, &sources, f)?;
        n += observable_entries(&tx, &sources, f)?;
        n += related::related_entries(&tx, &sources, f)?;
        Ok(n)
    }

    /// The live keys of one object (`None` if the object is unknown or deleted).
    pub fn keys_of(
        &self,
        source: &str,
        object: ObjectType,
        ext_id: &str,
    ) -> Result<Option<Vec<MatchKey>>, StoreError> {
        let (table, column) = match object {
            ObjectType::Indicator => ("indicators", "indicator_id"),
            ObjectType::Observable => ("observables", "observable_id"),
            ObjectType::Relationship => return Ok(None),
        };
        let sql = format!(
            "SELECT t.id FROM {table} t JOIN sources s ON s.id = t.source_id
             WHERE s.name = ?1 AND t.ext_id = ?2 AND t.deleted = 0"
        );
        let id: Option<i64> = self
            .conn
            .query_row(&sql, params![source, ext_id], |r| r.get(0))
            .optional()?;
        id.map(|id| keys_by(&self.conn, column, id)).transpose()
    }

    /// Streams the ext ids of a source's live objects of one type, for deletion
    /// reconciliation against the server's id list. Returns how many there were.
    pub fn for_each_live_id(
        &self,
        source: &str,
        object: ObjectType,
        f: &mut dyn FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT t.ext_id FROM {} t JOIN sources s ON s.id = t.source_id
             WHERE s.name = ?1 AND t.deleted = 0",
            table(object)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([source])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let id = r.get_ref(0)?;
            f(id.as_str()
                .map_err(|e| StoreError::Corrupt(format!("ext_id: {e}")))?)?;
            n += 1;
        }
        Ok(n)
    }

    /// How many live objects of one type a source has (to compare with the
    /// server's `globalCount` before deciding to reconcile).
    pub fn live_count(&self, source: &str, object: ObjectType) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM {} t JOIN sources s ON s.id = t.source_id
             WHERE s.name = ?1 AND t.deleted = 0",
            table(object)
        );
        let n: i64 = self.conn.query_row(&sql, [source], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Parse status and error text of one indicator (`None` if unknown).
    pub fn parse_status_of(
        &self,
        source: &str,
        ext_id: &str,
    ) -> Result<Option<(ParseStatus, Option<String>)>, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT i.parse_status, i.parse_error FROM indicators i
                 JOIN sources s ON s.id = i.source_id WHERE s.name = ?1 AND i.ext_id = ?2",
                params![source, ext_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(status, error)| {
            ParseStatus::parse(&status)
                .map(|s| (s, error))
                .ok_or_else(|| StoreError::Corrupt(format!("parse_status `{status}`")))
        })
        .transpose()
    }
}

pub(crate) fn load_sources(conn: &Connection) -> Result<Sources, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name, type FROM sources")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Streams `query` (rows of one owner are consecutive: record columns, then
/// kind, key, method) grouped into entries.
fn grouped(
    conn: &Connection,
    query: &str,
    key_col: usize,
    f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
    record: &mut dyn FnMut(&Row<'_>) -> Result<Record, StoreError>,
) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare(query)?;
    let mut rows = stmt.query([])?;
    let mut current: Option<(i64, IndexEntry)> = None;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let key = key_at(r, key_col)?;
        match &mut current {
            Some((cid, e)) if *cid == id => e.keys.push(key),
            _ => {
                if let Some((_, e)) = current.take() {
                    f(e)?;
                    n += 1;
                }
                let entry = IndexEntry {
                    record: record(r)?,
                    keys: vec![key],
                };
                current = Some((id, entry));
            }
        }
    }
    if let Some((_, e)) = current {
        f(e)?;
        n += 1;
    }
    Ok(n)
}

// CROSS JOIN fixes the object table as the outer loop: rows come out in id
// order straight from the table and the key index, with no sort of the whole
// set (which for 10M rows would spill to temporary files).
fn indicator_entries_sql() -> String {
    format!(
        "SELECT {INDICATOR_COLS}, k.kind, k.key, k.method
         FROM indicators i CROSS JOIN match_keys k ON k.indicator_id = i.id
         WHERE i.deleted = 0 ORDER BY i.id, k.id"
    )
}

fn observable_entries_sql() -> String {
    format!(
        "SELECT {OBSERVABLE_COLS}, k.kind, k.key, k.method
         FROM observables o CROSS JOIN match_keys k ON k.observable_id = o.id
         WHERE o.deleted = 0 ORDER BY o.id, k.id"
    )
}

/// Indicators `based-on` one observable (source id, observable ext id), as
/// [`INDICATOR_COLS`]. Detection turned off leaves an indicator out here; the
/// compiler's liveness rule (revoked, expired, `min_score`) applies to what
/// comes out, as to every other record.
fn based_on_sql() -> String {
    format!(
        "SELECT {INDICATOR_COLS}
         FROM relationships r
         JOIN indicators i ON i.source_id = r.source_id AND i.ext_id = r.from_id
         WHERE r.source_id = ?1 AND r.to_id = ?2 AND r.type = 'based-on'
           AND r.deleted = 0 AND i.deleted = 0 AND (i.detection IS NULL OR i.detection != 0)
         ORDER BY r.id"
    )
}

fn indicator_entries(
    conn: &Connection,
    sources: &Sources,
    f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    grouped(
        conn,
        &indicator_entries_sql(),
        INDICATOR_NCOLS,
        f,
        &mut |r| indicator_record(r, sources),
    )
}

/// Observables fold into their indicators: an observable that indicators are
/// `based-on` is evidence for them, so its keys are entered as keys of each
/// indicator (a copy of its record naming the observable in `extra.observable`),
/// and the observable is no entry of its own. One without any indicator is
/// entered as itself; the compiler leaves it out unless observables are reported.
fn observable_entries(
    conn: &Connection,
    sources: &Sources,
    f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut based_on = conn.prepare_cached(&based_on_sql())?;
    let mut folded = 0u64;
    let mut fold = |e: IndexEntry| -> Result<(), StoreError> {
        let obs = &e.record;
        let source_id = sources
            .iter()
            .find(|(_, (name, _))| *name == obs.source)
            .map(|(id, _)| *id)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown source {}", obs.source)))?;
        let mut rows = based_on.query(params![source_id, obs.id])?;
        let mut seen: Vec<String> = Vec::new();
        while let Some(r) = rows.next()? {
            let mut record = indicator_record(r, sources)?;
            if seen.contains(&record.id) {
                continue;
            }
            seen.push(record.id.clone());
            let mut via = Map::new();
            via.insert("id".into(), json!(obs.id));
            via.insert("value".into(), json!(obs.name));
            if let Some(t) = obs.extra.get("entity_type") {
                via.insert("type".into(), t.clone());
            }
            record.extra.insert("observable".into(), Value::Object(via));
            f(IndexEntry {
                record,
                keys: e.keys.clone(),
            })?;
            folded += 1;
        }
        if seen.is_empty() {
            f(e)?;
        } else {
            // Counted as the entries made, not as the observable.
            folded -= 1;
        }
        Ok(())
    };
    let n = grouped(
        conn,
        &observable_entries_sql(),
        OBSERVABLE_NCOLS,
        &mut fold,
        &mut |r| observable_record(r, sources),
    )?;
    Ok(n + folded)
}

/// A text column borrowed from the row (no allocation per row).
fn text_at<'r>(r: &'r Row<'_>, col: usize, name: &str) -> Result<&'r str, StoreError> {
    r.get_ref(col)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

fn key_at(r: &Row<'_>, col: usize) -> Result<MatchKey, StoreError> {
    Ok(MatchKey {
        kind: kind_from_str(text_at(r, col, "kind")?)?,
        key: r.get(col + 1)?,
        method: method_from_str(text_at(r, col + 2, "method")?)?,
    })
}

/// The `extra` JSON object; most rows have none, so `{}` skips the parser.
fn extra_at(r: &Row<'_>, col: usize) -> Result<Map<String, Value>, StoreError> {
    match text_at(r, col, "extra")? {
        "{}" => Ok(Map::new()),
        text => map_from_json("extra", text),
    }
}

/// Keys of one owner; `column` is `indicator_id` or `observable_id`.
pub(crate) fn keys_by(
    conn: &Connection,
    column: &str,
    id: i64,
) -> Result<Vec<MatchKey>, StoreError> {
    let sql = format!("SELECT kind, key, method FROM match_keys WHERE {column} = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id])?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        keys.push(key_at(r, 0)?);
    }
    Ok(keys)
}

fn source_of(sources: &Sources, id: i64) -> Result<(String, String), StoreError> {
    sources
        .get(&id)
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("row of unknown source id {id}")))
}

/// Copies a store-level field into `extra` unless the source already set it.
fn extra_default(extra: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        extra.entry(key).or_insert(Value::String(v));
    }
}

/// Builds a record from [`INDICATOR_COLS`].
pub(crate) fn indicator_record(r: &Row<'_>, sources: &Sources) -> Result<Record, StoreError> {
    let (source, source_type) = source_of(sources, r.get(1)?)?;
    let mut extra = extra_at(r, 19)?;
    extra_default(&mut extra, "standard_id", r.get(3)?);
    Ok(Record {
        source,
        source_type,
        record_kind: record_kind_from_str(text_at(r, 4, "record_kind")?)?,
        id: r.get(2)?,
        name: r.get(5)?,
        pattern: r.get(6)?,
        pattern_type: r.get(7)?,
        score: r.get(8)?,
        confidence: r.get(9)?,
        revoked: r.get(10)?,
        detection: r.get(11)?,
        valid_from: r.get(12)?,
        valid_until: r.get(13)?,
        labels: json_strings(r, 14, "labels")?,
        markings: json_strings(r, 15, "markings")?,
        created_by: r.get(16)?,
        updated_at: r.get(17)?,
        link: r.get(18)?,
        partial: r.get(20)?,
        related: None,
        extra,
    })
}

/// Builds a record from [`OBSERVABLE_COLS`]: the display value is its name.
fn observable_record(r: &Row<'_>, sources: &Sources) -> Result<Record, StoreError> {
    let (source, source_type) = source_of(sources, r.get(1)?)?;
    let mut extra = extra_at(r, 12)?;
    extra_default(&mut extra, "standard_id", r.get(3)?);
    extra_default(&mut extra, "entity_type", r.get(4)?);
    Ok(Record {
        source,
        source_type,
        record_kind: RecordKind::Observable,
        id: r.get(2)?,
        name: r.get(5)?,
        score: r.get(6)?,
        labels: json_strings(r, 7, "labels")?,
        markings: json_strings(r, 8, "markings")?,
        created_by: r.get(9)?,
        updated_at: r.get(10)?,
        link: r.get(11)?,
        extra,
        ..Record::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let rows = stmt
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    /// The streaming reads must never sort or scan the key table as a whole.
    #[test]
    fn streaming_queries_use_indexes_and_never_sort() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.sqlite")).unwrap();
        for (sql, index) in [
            (indicator_entries_sql(), "match_keys_by_indicator"),
            (observable_entries_sql(), "match_keys_by_observable"),
            (based_on_sql(), "relationships_to"),
        ] {
            let p = plan(&store.conn, &sql);
            assert!(!p.contains("TEMP B-TREE"), "{p}");
            assert!(p.contains(index), "{p}");
            assert!(!p.contains("SCAN k"), "{p}");
        }
    }
}
