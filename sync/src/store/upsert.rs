//! Per-table upserts by (source, ext_id). A row equal to the stored one is not
//! written at all, so replays and overlapping windows cause no churn.

use chrono::DateTime;
use matcher::MatchKey;
use rusqlite::{params, Row};

use super::apply::Writer;
use super::derive::{derive_indicator, derive_observable, Derived, DERIVE_VERSION};
use super::encode::*;
use super::StoreError;
use crate::{IndicatorRow, ObservableRow, RelationshipRow};

/// Which object owns a set of match keys.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner {
    Indicator(i64),
    Observable(i64),
}

/// A stored row and what decides whether it is rewritten.
struct Existing<R> {
    deleted: bool,
    keys_version: i64,
    row: R,
}

enum Action {
    /// Equal to the stored row with current keys: touch nothing.
    Skip,
    /// Equal, but keys from an older derivation: rewrite, count as unchanged.
    Rederive,
    Insert,
    Update,
}

impl<R: PartialEq> Existing<R> {
    fn action(&self, new: &R, older: bool, snapshot: bool, keyed: bool) -> Action {
        if self.deleted {
            // A tombstone coming back is, for the index, a new object.
            return Action::Insert;
        }
        if self.row == *new || (older && !snapshot) {
            if keyed && self.keys_version != DERIVE_VERSION {
                return Action::Rederive;
            }
            return Action::Skip;
        }
        Action::Update
    }
}

/// True when `new` is strictly older than `stored` (both RFC 3339): a replay of
/// an out-of-date copy that must not overwrite the newer one (opencti.md §7).
fn is_older(new: Option<&str>, stored: Option<&str>) -> bool {
    let parse = |t: Option<&str>| t.and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    match (parse(new), parse(stored)) {
        (Some(n), Some(s)) => n < s,
        _ => false,
    }
}

impl Writer<'_> {
    fn count(&mut self, action: &Action) {
        match action {
            Action::Skip | Action::Rederive => self.stats.unchanged += 1,
            Action::Insert => self.stats.inserted += 1,
            Action::Update => self.stats.updated += 1,
        }
    }

    pub(super) fn indicator(&mut self, row: &IndicatorRow) -> Result<(), StoreError> {
        let existing = self.load_indicator(&row.ext_id)?;
        let action = match &existing {
            None => Action::Insert,
            Some(e) => e.action(
                row,
                is_older(row.updated_at.as_deref(), e.row.updated_at.as_deref()),
                self.snapshot,
                true,
            ),
        };
        self.count(&action);
        if let Action::Skip = action {
            return Ok(());
        }
        // A rederive of an "older" replay must use the stored row, not the replay.
        let row = match (&action, &existing) {
            (Action::Rederive, Some(e)) => &e.row,
            _ => row,
        };
        let d = derive_indicator(row);
        let id: i64 = self
            .tx
            .prepare_cached(
                "INSERT INTO indicators (source_id, ext_id, standard_id, record_kind, name,
                     description, pattern, pattern_type, raw_values, score, confidence, revoked,
                     detection, valid_from, valid_until, labels, markings, created_by, created_at,
                     updated_at, link, extra, parse_status, parse_error, partial, keys_version,
                     stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)
                 ON CONFLICT (source_id, ext_id) DO UPDATE SET
                     standard_id = excluded.standard_id, record_kind = excluded.record_kind,
                     name = excluded.name, description = excluded.description,
                     pattern = excluded.pattern, pattern_type = excluded.pattern_type,
                     raw_values = excluded.raw_values, score = excluded.score,
                     confidence = excluded.confidence, revoked = excluded.revoked,
                     detection = excluded.detection, valid_from = excluded.valid_from,
                     valid_until = excluded.valid_until, labels = excluded.labels,
                     markings = excluded.markings, created_by = excluded.created_by,
                     created_at = excluded.created_at, updated_at = excluded.updated_at,
                     link = excluded.link, extra = excluded.extra,
                     parse_status = excluded.parse_status, parse_error = excluded.parse_error,
                     partial = excluded.partial, keys_version = excluded.keys_version,
                     stored_at = excluded.stored_at, deleted = 0, deleted_at = NULL
                 RETURNING id",
            )?
            .query_row(
                params![
                    self.source.0,
                    row.ext_id,
                    row.standard_id,
                    record_kind_to_str(row.record_kind),
                    row.name,
                    row.description,
                    row.pattern,
                    row.pattern_type,
                    values_to_json(&row.values),
                    row.score,
                    row.confidence,
                    row.revoked,
                    row.detection,
                    row.valid_from,
                    row.valid_until,
                    strings_to_json(&row.labels),
                    strings_to_json(&row.markings),
                    row.created_by,
                    row.created_at,
                    row.updated_at,
                    row.link,
                    map_to_json(&row.extra),
                    d.status.as_str(),
                    d.error,
                    d.partial,
                    DERIVE_VERSION,
                    self.now,
                ],
                |r| r.get(0),
            )?;
        self.replace_keys(Owner::Indicator(id), d)
    }

    pub(super) fn observable(&mut self, row: &ObservableRow) -> Result<(), StoreError> {
        let existing = self.load_observable(&row.ext_id)?;
        let action = match &existing {
            None => Action::Insert,
            Some(e) => e.action(
                row,
                is_older(row.updated_at.as_deref(), e.row.updated_at.as_deref()),
                self.snapshot,
                true,
            ),
        };
        self.count(&action);
        if let Action::Skip = action {
            return Ok(());
        }
        let row = match (&action, &existing) {
            (Action::Rederive, Some(e)) => &e.row,
            _ => row,
        };
        let d = derive_observable(row);
        let id: i64 = self
            .tx
            .prepare_cached(
                "INSERT INTO observables (source_id, ext_id, standard_id, entity_type,
                     display_value, raw_values, score, labels, markings, created_by, updated_at,
                     link, extra, keys_version, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (source_id, ext_id) DO UPDATE SET
                     standard_id = excluded.standard_id, entity_type = excluded.entity_type,
                     display_value = excluded.display_value, raw_values = excluded.raw_values,
                     score = excluded.score, labels = excluded.labels,
                     markings = excluded.markings, created_by = excluded.created_by,
                     updated_at = excluded.updated_at, link = excluded.link,
                     extra = excluded.extra, keys_version = excluded.keys_version,
                     stored_at = excluded.stored_at, deleted = 0, deleted_at = NULL
                 RETURNING id",
            )?
            .query_row(
                params![
                    self.source.0,
                    row.ext_id,
                    row.standard_id,
                    row.entity_type,
                    row.display_value,
                    values_to_json(&row.values),
                    row.score,
                    strings_to_json(&row.labels),
                    strings_to_json(&row.markings),
                    row.created_by,
                    row.updated_at,
                    row.link,
                    map_to_json(&row.extra),
                    DERIVE_VERSION,
                    self.now,
                ],
                |r| r.get(0),
            )?;
        self.replace_keys(Owner::Observable(id), d)
    }

    pub(super) fn relationship(&mut self, row: &RelationshipRow) -> Result<(), StoreError> {
        let existing = self.load_relationship(&row.ext_id)?;
        let action = match &existing {
            None => Action::Insert,
            Some(e) => e.action(
                row,
                is_older(row.updated_at.as_deref(), e.row.updated_at.as_deref()),
                self.snapshot,
                false,
            ),
        };
        self.count(&action);
        if let Action::Skip | Action::Rederive = action {
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "INSERT INTO relationships (source_id, ext_id, type, from_id, to_id, confidence,
                     revoked, start_time, stop_time, updated_at, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (source_id, ext_id) DO UPDATE SET
                     type = excluded.type, from_id = excluded.from_id, to_id = excluded.to_id,
                     confidence = excluded.confidence, revoked = excluded.revoked,
                     start_time = excluded.start_time, stop_time = excluded.stop_time,
                     updated_at = excluded.updated_at, stored_at = excluded.stored_at,
                     deleted = 0, deleted_at = NULL",
            )?
            .execute(params![
                self.source.0,
                row.ext_id,
                row.relationship_type,
                row.from_id,
                row.to_id,
                row.confidence,
                row.revoked,
                row.start_time,
                row.stop_time,
                row.updated_at,
                self.now,
            ])?;
        Ok(())
    }

    /// Replaces the owner's keys with freshly derived ones and queues the
    /// derivation's rejects.
    fn replace_keys(&mut self, owner: Owner, d: Derived) -> Result<(), StoreError> {
        let (indicator, observable) = match owner {
            Owner::Indicator(id) => (Some(id), None),
            Owner::Observable(id) => (None, Some(id)),
        };
        let del = match owner {
            Owner::Indicator(_) => "DELETE FROM match_keys WHERE indicator_id = ?1",
            Owner::Observable(_) => "DELETE FROM match_keys WHERE observable_id = ?1",
        };
        self.tx
            .prepare_cached(del)?
            .execute([indicator.or(observable)])?;
        let mut ins = self.tx.prepare_cached(
            "INSERT INTO match_keys (source_id, indicator_id, observable_id, kind, key, method,
                 partial)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for MatchKey { kind, key, method } in &d.keys {
            ins.execute(params![
                self.source.0,
                indicator,
                observable,
                kind.as_str(),
                key,
                method.as_str(),
                d.partial
            ])?;
        }
        self.stats.keys += d.keys.len() as u64;
        self.rejects.extend(d.rejects);
        Ok(())
    }

    fn load_indicator(
        &mut self,
        ext_id: &str,
    ) -> Result<Option<Existing<IndicatorRow>>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT deleted, keys_version, standard_id, record_kind, name, description,
                 pattern, pattern_type, raw_values, score, confidence, revoked, detection,
                 valid_from, valid_until, labels, markings, created_by, created_at, updated_at,
                 link, extra
             FROM indicators WHERE source_id = ?1 AND ext_id = ?2",
        )?;
        let mut rows = stmt.query_and_then(params![self.source.0, ext_id], |r| {
            Ok::<_, StoreError>(Existing {
                deleted: r.get(0)?,
                keys_version: r.get(1)?,
                row: IndicatorRow {
                    ext_id: ext_id.to_string(),
                    standard_id: r.get(2)?,
                    record_kind: record_kind_from_str(&r.get::<_, String>(3)?)?,
                    name: r.get(4)?,
                    description: r.get(5)?,
                    pattern: r.get(6)?,
                    pattern_type: r.get(7)?,
                    values: values_from_json("raw_values", &r.get::<_, String>(8)?)?,
                    score: r.get(9)?,
                    confidence: r.get(10)?,
                    revoked: r.get(11)?,
                    detection: r.get(12)?,
                    valid_from: r.get(13)?,
                    valid_until: r.get(14)?,
                    labels: json_strings(r, 15, "labels")?,
                    markings: json_strings(r, 16, "markings")?,
                    created_by: r.get(17)?,
                    created_at: r.get(18)?,
                    updated_at: r.get(19)?,
                    link: r.get(20)?,
                    extra: map_from_json("extra", &r.get::<_, String>(21)?)?,
                },
            })
        })?;
        rows.next().transpose()
    }

    fn load_observable(
        &mut self,
        ext_id: &str,
    ) -> Result<Option<Existing<ObservableRow>>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT deleted, keys_version, standard_id, entity_type, display_value,
                 raw_values, score, labels, markings, created_by, updated_at, link, extra
             FROM observables WHERE source_id = ?1 AND ext_id = ?2",
        )?;
        let mut rows = stmt.query_and_then(params![self.source.0, ext_id], |r| {
            Ok::<_, StoreError>(Existing {
                deleted: r.get(0)?,
                keys_version: r.get(1)?,
                row: ObservableRow {
                    ext_id: ext_id.to_string(),
                    standard_id: r.get(2)?,
                    entity_type: r.get(3)?,
                    display_value: r.get(4)?,
                    values: values_from_json("raw_values", &r.get::<_, String>(5)?)?,
                    score: r.get(6)?,
                    labels: json_strings(r, 7, "labels")?,
                    markings: json_strings(r, 8, "markings")?,
                    created_by: r.get(9)?,
                    updated_at: r.get(10)?,
                    link: r.get(11)?,
                    extra: map_from_json("extra", &r.get::<_, String>(12)?)?,
                },
            })
        })?;
        rows.next().transpose()
    }

    fn load_relationship(
        &mut self,
        ext_id: &str,
    ) -> Result<Option<Existing<RelationshipRow>>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT deleted, type, from_id, to_id, confidence, revoked, start_time,
                 stop_time, updated_at
             FROM relationships WHERE source_id = ?1 AND ext_id = ?2",
        )?;
        let mut rows = stmt.query_and_then(params![self.source.0, ext_id], |r| {
            Ok::<_, StoreError>(Existing {
                deleted: r.get(0)?,
                keys_version: DERIVE_VERSION,
                row: RelationshipRow {
                    ext_id: ext_id.to_string(),
                    relationship_type: r.get(1)?,
                    from_id: r.get(2)?,
                    to_id: r.get(3)?,
                    confidence: r.get(4)?,
                    revoked: r.get(5)?,
                    start_time: r.get(6)?,
                    stop_time: r.get(7)?,
                    updated_at: r.get(8)?,
                },
            })
        })?;
        rows.next().transpose()
    }
}

pub(crate) fn json_strings(r: &Row<'_>, idx: usize, col: &str) -> Result<Vec<String>, StoreError> {
    let text = r.get_ref(idx)?;
    match text.as_str() {
        Ok("[]") => Ok(Vec::new()),
        Ok(text) => strings_from_json(col, text),
        Err(e) => Err(StoreError::Corrupt(format!("column {col}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::is_older;

    #[test]
    fn older_compares_instants_not_text() {
        assert!(is_older(
            Some("2024-01-01T00:00:00Z"),
            Some("2024-01-01T00:00:01.000Z")
        ));
        // Same instant in another offset is not older.
        assert!(!is_older(
            Some("2024-01-01T01:00:00+01:00"),
            Some("2024-01-01T00:00:00Z")
        ));
        assert!(!is_older(None, Some("2024-01-01T00:00:00Z")));
        assert!(!is_older(Some("garbage"), Some("2024-01-01T00:00:00Z")));
    }
}
