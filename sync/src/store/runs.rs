//! Sources, their sync state, and run bookkeeping.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::encode::one_line;
use super::{now_rfc3339, SourceId, Store, StoreError};

/// A row of `sync_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RunId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or the process died: see [`Store::begin_run`]).
    Running,
    Ok,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "failed" => RunStatus::Failed,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }
}

/// Run errors are shown by `status`; keep them one bounded line.
const ERROR_CHARS: usize = 2000;

impl Store {
    /// The id of source `name`, created on first use. A source keeps its type:
    /// data synced as one type is never silently reinterpreted as another.
    pub fn source_id(&mut self, name: &str, source_type: &str) -> Result<SourceId, StoreError> {
        if let Some((id, stored)) = lookup_source(&self.conn, name)? {
            return check_type(id, name, &stored, source_type);
        }
        self.ensure_writable()?;
        self.conn.execute(
            "INSERT INTO sources (name, type, created_at) VALUES (?1, ?2, ?3)",
            params![name, source_type, now_rfc3339()],
        )?;
        Ok(SourceId(self.conn.last_insert_rowid()))
    }

    /// Removes a source and everything synced from it.
    pub fn remove_source(&mut self, name: &str) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let n = self
            .conn
            .execute("DELETE FROM sources WHERE name = ?1", [name])?;
        Ok(n > 0)
    }

    /// One sync state value of a source (`None` for an unknown source or key).
    pub fn state(&self, source: &str, key: &str) -> Result<Option<String>, StoreError> {
        let v = self
            .conn
            .query_row(
                "SELECT st.value FROM sync_state st JOIN sources s ON s.id = st.source_id
                 WHERE s.name = ?1 AND st.key = ?2",
                params![source, key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v)
    }

    /// All sync state of a source, by key.
    pub fn states(&self, source: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT st.key, st.value FROM sync_state st JOIN sources s ON s.id = st.source_id
             WHERE s.name = ?1",
        )?;
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the start of a sync of `source`. A run of the same source still
    /// marked `running` belonged to a process that died: it becomes `interrupted`.
    pub fn begin_run(&mut self, source: &str, source_type: &str) -> Result<RunId, StoreError> {
        let source_id = self.source_id(source, source_type)?;
        let now = now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE sync_runs SET status = 'interrupted', finished_at = ?2,
                 error = 'the process stopped before the run finished'
             WHERE source_id = ?1 AND status = 'running'",
            params![source_id.0, now],
        )?;
        tx.execute(
            "INSERT INTO sync_runs (source_id, started_at, status) VALUES (?1, ?2, 'running')",
            params![source_id.0, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(RunId(id))
    }

    /// Records how a run ended. `counts` is any JSON summary (a `SyncReport`).
    pub fn finish_run(
        &mut self,
        run: RunId,
        status: RunStatus,
        counts: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.ensure_writable()?;
        let counts = serde_json::to_string(counts).expect("a JSON value always serialises");
        let n = self.conn.execute(
            "UPDATE sync_runs SET finished_at = ?2, status = ?3, counts = ?4, error = ?5
             WHERE id = ?1",
            params![
                run.0,
                now_rfc3339(),
                status.as_str(),
                counts,
                error.map(|e| one_line(e, ERROR_CHARS))
            ],
        )?;
        if n == 0 {
            return Err(StoreError::UnknownRun(run.0));
        }
        Ok(())
    }
}

pub(crate) fn lookup_source(
    conn: &Connection,
    name: &str,
) -> Result<Option<(SourceId, String)>, StoreError> {
    let row = conn
        .prepare_cached("SELECT id, type FROM sources WHERE name = ?1")?
        .query_row([name], |r| Ok((SourceId(r.get(0)?), r.get(1)?)))
        .optional()?;
    Ok(row)
}

pub(crate) fn check_type(
    id: SourceId,
    name: &str,
    stored: &str,
    configured: &str,
) -> Result<SourceId, StoreError> {
    if stored == configured {
        return Ok(id);
    }
    Err(StoreError::SourceType {
        name: name.to_string(),
        stored: stored.to_string(),
        configured: configured.to_string(),
    })
}
