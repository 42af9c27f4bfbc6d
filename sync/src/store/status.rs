//! What `intelmatch status` shows about the store, per source.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::runs::RunStatus;
use super::{state_keys, SourceId, Store, StoreError, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    pub path: PathBuf,
    pub schema_version: i64,
    /// Database file plus its write-ahead log.
    pub size_bytes: u64,
    pub sources: Vec<SourceStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub source_type: String,
    pub created_at: String,
    pub last_run: Option<RunInfo>,
    /// When the last run with status `ok` finished.
    pub last_success: Option<String>,
    /// Live objects (tombstones are counted in `deleted`).
    pub indicators: u64,
    pub observables: u64,
    pub relationships: u64,
    pub deleted: u64,
    pub keys: u64,
    pub keys_by_kind: BTreeMap<String, u64>,
    /// Live indicators by parse status (`ok`, `partial`, `unsupported`, ...).
    pub parse_status: BTreeMap<String, u64>,
    /// Live `not_stix` indicators by pattern type (`yara`, `sigma`, ...).
    pub non_stix_pattern_types: BTreeMap<String, u64>,
    /// Rejects kept for this source (the newest, at most `REJECTS_KEPT`).
    pub recent_rejects: u64,
    pub server_version: Option<String>,
    /// How the last sync asked the server (`state_keys::QUERY_SHAPE`).
    pub query_shape: Option<String>,
    /// State keys starting with `watermark`.
    pub watermarks: BTreeMap<String, String>,
    pub last_reconcile: Option<String>,
    /// Items the source holds but that cannot be matched, by source type
    /// (MISP: `yara 12, snort 3`); kept out of the store, counted here.
    pub unsupported_types: BTreeMap<String, u64>,
    /// Every reason an item was rejected or a pattern is unsupported or
    /// invalid, grouped, with its count and one example: no category can
    /// crowd another out of view (the rejects kept are only the newest).
    pub reasons: Vec<ReasonCount>,
}

/// One kind of problem of a source's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// `reject`, `unsupported` or `invalid`.
    pub what: String,
    /// The reason with its particulars cut off (the part before the first quoted value).
    pub reason: String,
    pub count: u64,
    /// One item and its whole reason.
    pub example: String,
}

/// The general part of a reason: up to the first quoted value, at most 100 bytes.
fn reason_class(reason: &str) -> String {
    let cut = reason.find(['`', '\'', '"']).unwrap_or(reason.len());
    let mut class = reason[..cut]
        .trim_end_matches([' ', ':', '(', ','])
        .to_string();
    if class.is_empty() {
        class = reason.to_string();
    }
    let mut end = class.len().min(100);
    while !class.is_char_boundary(end) {
        end -= 1;
    }
    class.truncate(end);
    class
}

fn reasons(conn: &Connection, id: SourceId) -> Result<Vec<ReasonCount>, StoreError> {
    let mut groups: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    let mut add = |what: &str, item: String, reason: String| {
        let e = groups
            .entry((what.to_string(), reason_class(&reason)))
            .or_insert((0, String::new()));
        if e.0 == 0 {
            e.1 = format!("{item}: {reason}");
        }
        e.0 += 1;
    };
    let mut stmt = conn.prepare_cached("SELECT item, reason FROM rejects WHERE source_id = ?1")?;
    for row in stmt.query_map([id.0], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (item, reason) = row?;
        add("reject", item, reason);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT parse_status, ext_id, coalesce(parse_error, '') FROM indicators
         WHERE source_id = ?1 AND deleted = 0 AND parse_status IN ('unsupported', 'invalid')",
    )?;
    for row in stmt.query_map([id.0], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
    })? {
        let (what, item, reason) = row?;
        add(&what, item, reason);
    }
    let mut out: Vec<ReasonCount> = groups
        .into_iter()
        .map(|((what, reason), (count, example))| ReasonCount {
            what,
            reason,
            count,
            example,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    pub counts: serde_json::Value,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectEntry {
    pub item: String,
    pub reason: String,
    pub at: String,
}

impl Store {
    /// Status of the whole store, sources by name.
    pub fn status(&self) -> Result<StoreStatus, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt =
            tx.prepare("SELECT id, name, type, created_at FROM sources ORDER BY name")?;
        let sources = stmt
            .query_map([], |r| {
                Ok((SourceId(r.get(0)?), r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<Vec<(SourceId, String, String, String)>, _>>()?;
        let mut out = Vec::with_capacity(sources.len());
        for (id, name, source_type, created_at) in sources {
            out.push(source_status(&tx, id, name, source_type, created_at)?);
        }
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Ok(StoreStatus {
            path: self.path.clone(),
            schema_version: SCHEMA_VERSION,
            size_bytes: size(&self.path) + size(&wal),
            sources: out,
        })
    }

    /// Status of one source (`None` if the store has never seen it).
    pub fn source_status(&self, name: &str) -> Result<Option<SourceStatus>, StoreError> {
        let row: Option<(SourceId, String, String)> = self
            .conn
            .query_row(
                "SELECT id, type, created_at FROM sources WHERE name = ?1",
                [name],
                |r| Ok((SourceId(r.get(0)?), r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(id, t, c)| source_status(&self.conn, id, name.to_string(), t, c))
            .transpose()
    }

    /// The newest rejects of a source, newest first.
    pub fn recent_rejects(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<RejectEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.item, r.reason, r.at FROM rejects r JOIN sources s ON s.id = r.source_id
             WHERE s.name = ?1 ORDER BY r.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![source, limit as i64], |r| {
            Ok(RejectEntry {
                item: r.get(0)?,
                reason: r.get(1)?,
                at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn source_status(
    conn: &Connection,
    id: SourceId,
    name: String,
    source_type: String,
    created_at: String,
) -> Result<SourceStatus, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        Ok(conn.query_row(sql, [id.0], |r| r.get::<_, i64>(0))? as u64)
    };
    let grouped = |sql: &str| -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([id.0], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let state = grouped_state(conn, id)?;
    let keys_by_kind =
        grouped("SELECT kind, count(*) FROM match_keys WHERE source_id = ?1 GROUP BY kind")?;
    Ok(SourceStatus {
        last_run: last_run(conn, id)?,
        last_success: conn
            .query_row(
                "SELECT finished_at FROM sync_runs WHERE source_id = ?1 AND status = 'ok'
                 ORDER BY id DESC LIMIT 1",
                [id.0],
                |r| r.get(0),
            )
            .optional()?,
        indicators: count("SELECT count(*) FROM indicators WHERE source_id = ?1 AND deleted = 0")?,
        observables: count(
            "SELECT count(*) FROM observables WHERE source_id = ?1 AND deleted = 0",
        )?,
        relationships: count(
            "SELECT count(*) FROM relationships WHERE source_id = ?1 AND deleted = 0",
        )?,
        deleted: count(
            "SELECT (SELECT count(*) FROM indicators WHERE source_id = ?1 AND deleted = 1)
                  + (SELECT count(*) FROM observables WHERE source_id = ?1 AND deleted = 1)
                  + (SELECT count(*) FROM relationships WHERE source_id = ?1 AND deleted = 1)",
        )?,
        keys: keys_by_kind.values().sum(),
        keys_by_kind,
        parse_status: grouped(
            "SELECT parse_status, count(*) FROM indicators
             WHERE source_id = ?1 AND deleted = 0 GROUP BY parse_status",
        )?,
        non_stix_pattern_types: grouped(
            "SELECT coalesce(lower(pattern_type), ''), count(*) FROM indicators
             WHERE source_id = ?1 AND deleted = 0 AND parse_status = 'not_stix'
             GROUP BY 1",
        )?,
        recent_rejects: count("SELECT count(*) FROM rejects WHERE source_id = ?1")?,
        server_version: state.get(state_keys::SERVER_VERSION).cloned(),
        query_shape: state.get(state_keys::QUERY_SHAPE).cloned(),
        watermarks: state
            .iter()
            .filter(|(k, _)| k.starts_with(state_keys::WATERMARK_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        last_reconcile: state.get(state_keys::LAST_RECONCILE).cloned(),
        unsupported_types: state
            .get(state_keys::UNSUPPORTED_TYPES)
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default(),
        reasons: reasons(conn, id)?,
        name,
        source_type,
        created_at,
    })
}

fn grouped_state(conn: &Connection, id: SourceId) -> Result<BTreeMap<String, String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM sync_state WHERE source_id = ?1")?;
    let rows = stmt.query_map([id.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn last_run(conn: &Connection, id: SourceId) -> Result<Option<RunInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, started_at, finished_at, status, counts, error FROM sync_runs
         WHERE source_id = ?1 ORDER BY id DESC LIMIT 1",
    )?;
    let mut rows = stmt.query_and_then([id.0], |r| {
        let status: String = r.get(3)?;
        let counts: String = r.get(4)?;
        Ok::<_, StoreError>(RunInfo {
            id: r.get(0)?,
            started_at: r.get(1)?,
            finished_at: r.get(2)?,
            status: RunStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("run status `{status}`")))?,
            counts: serde_json::from_str(&counts)
                .map_err(|e| StoreError::Corrupt(format!("run counts: {e}")))?,
            error: r.get(5)?,
        })
    })?;
    rows.next().transpose()
}
