//! `related` entries (opencti.md §10): a value linked by `resolves-to` or
//! `related-to` to an indicator (or to an observable an indicator is based on)
//! hits that indicator, with `record.related` saying through what.

use chrono::{DateTime, Utc};
use matcher::{MatchKey, Record, Related};
use rusqlite::{params, Connection, OptionalExtension};

use super::read::{indicator_record, keys_by, IndexEntry, Sources, INDICATOR_COLS};
use super::StoreError;

/// Relationship types that make a `related` hit. Both are followed both ways:
/// a domain hits the indicator of the IP it resolves to and the IP hits the
/// domain's; `related-to` has no meaningful direction in OpenCTI (the UI
/// creates it from either end).
const RELATED_TYPES: &str = "'resolves-to', 'related-to'";

/// One end of a relationship, resolved to a live object of the same source.
struct End {
    /// The indicator's row id, when the end is an indicator.
    indicator: Option<i64>,
    /// The observable's row id, when the end is an observable.
    observable: Option<i64>,
    keys: Vec<MatchKey>,
    /// The value shown as `related.via` when this end leads to the indicator.
    display: String,
}

pub(crate) fn related_entries(
    conn: &Connection,
    sources: &Sources,
    f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let now = Utc::now();
    let mut stmt = conn.prepare(&format!(
        "SELECT source_id, type, from_id, to_id, stop_time FROM relationships
         WHERE deleted = 0 AND revoked = 0 AND type IN ({RELATED_TYPES}) ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let source_id: i64 = r.get(0)?;
        let rel_type: String = r.get(1)?;
        let stop: Option<String> = r.get(4)?;
        // A resolution that ended (stop_time in the past) no longer links the values.
        if stop
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t < now)
        {
            continue;
        }
        let (Some(a), Some(b)) = (
            resolve(conn, source_id, &r.get::<_, String>(2)?)?,
            resolve(conn, source_id, &r.get::<_, String>(3)?)?,
        ) else {
            continue;
        };
        n += emit(conn, sources, source_id, &rel_type, &a, &b, f)?;
        n += emit(conn, sources, source_id, &rel_type, &b, &a, f)?;
    }
    Ok(n)
}

/// Entries for values of `from` reaching the indicators behind `to`.
fn emit(
    conn: &Connection,
    sources: &Sources,
    source_id: i64,
    rel_type: &str,
    from: &End,
    to: &End,
    f: &mut dyn FnMut(IndexEntry) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    if from.keys.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for mut record in targets(conn, sources, source_id, to, from.indicator)? {
        record.related = Some(Related {
            relationship: rel_type.to_string(),
            via: to.display.clone(),
        });
        f(IndexEntry {
            record,
            keys: from.keys.clone(),
        })?;
        n += 1;
    }
    Ok(n)
}

/// Indicators with keys that `end` stands for: itself, or those based on it.
/// `skip` leaves out the indicator on the other end (it already hits directly).
fn targets(
    conn: &Connection,
    sources: &Sources,
    source_id: i64,
    end: &End,
    skip: Option<i64>,
) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    if let Some(id) = end.indicator {
        if !end.keys.is_empty() && Some(id) != skip {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {INDICATOR_COLS} FROM indicators i WHERE i.id = ?1"
            ))?;
            let mut rows = stmt.query([id])?;
            if let Some(r) = rows.next()? {
                out.push(indicator_record(r, sources)?);
            }
        }
    }
    if let Some(id) = end.observable {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {INDICATOR_COLS} FROM observables o
             JOIN relationships r ON r.source_id = o.source_id AND r.to_id = o.ext_id
                 AND r.type = 'based-on' AND r.deleted = 0
             JOIN indicators i ON i.source_id = r.source_id AND i.ext_id = r.from_id
                 AND i.deleted = 0
             WHERE o.id = ?1 AND r.source_id = ?2
               AND EXISTS (SELECT 1 FROM match_keys k WHERE k.indicator_id = i.id)
             ORDER BY r.id"
        ))?;
        let mut rows = stmt.query(params![id, source_id])?;
        while let Some(r) = rows.next()? {
            if Some(r.get::<_, i64>(0)?) != skip {
                out.push(indicator_record(r, sources)?);
            }
        }
    }
    Ok(out)
}

/// Finds the live indicator or observable with this ext id in the source.
fn resolve(conn: &Connection, source_id: i64, ext_id: &str) -> Result<Option<End>, StoreError> {
    let indicator: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, name FROM indicators WHERE source_id = ?1 AND ext_id = ?2 AND deleted = 0",
        )?
        .query_row(params![source_id, ext_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, name)) = indicator {
        let keys = keys_by(conn, "indicator_id", id)?;
        // An indicator's own value is its key when it has exactly one.
        let display = match keys.as_slice() {
            [only] => only.key.clone(),
            [first, ..] if name.is_empty() => first.key.clone(),
            _ => name,
        };
        return Ok(Some(End {
            indicator: Some(id),
            observable: None,
            keys,
            display,
        }));
    }
    let observable: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, display_value FROM observables
             WHERE source_id = ?1 AND ext_id = ?2 AND deleted = 0",
        )?
        .query_row(params![source_id, ext_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match observable {
        Some((id, display)) => Ok(Some(End {
            indicator: None,
            observable: Some(id),
            keys: keys_by(conn, "observable_id", id)?,
            display,
        })),
        None => Ok(None),
    }
}
