//! Committing one source's batch: rows, deletions, snapshot, rejects and sync
//! state in one transaction (contract §7).

use rusqlite::{params, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::encode::{one_line, table};
use super::{now_rfc3339, SourceId, Store, StoreError, REJECTS_KEPT};
use crate::{Batch, Deletion, Reject};

/// What one [`Store::apply`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyStats {
    /// New rows, and tombstones brought back to life.
    pub inserted: u64,
    pub updated: u64,
    /// Rows identical to the stored ones, or older than them (replays).
    pub unchanged: u64,
    /// Live rows turned into tombstones (deletions and snapshot leftovers).
    pub deleted: u64,
    /// Match keys written for inserted and updated rows.
    pub keys: u64,
    /// Items rejected by the source or by the store (bad values).
    pub rejected: u64,
}

impl std::ops::AddAssign for ApplyStats {
    fn add_assign(&mut self, o: ApplyStats) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.keys += o.keys;
        self.rejected += o.rejected;
    }
}

/// Rejects reported one per log line; beyond this a batch logs a summary.
const REJECTS_LOGGED: usize = 20;
const REJECT_CHARS: usize = 500;

/// The state of one apply, shared by the per-table upserts.
pub(super) struct Writer<'t> {
    pub tx: &'t Transaction<'t>,
    pub source: SourceId,
    pub now: String,
    /// Snapshots are authoritative: no "older than stored" skipping.
    pub snapshot: bool,
    pub stats: ApplyStats,
    pub rejects: Vec<Reject>,
}

impl Store {
    /// Commits `batch` for `source` atomically: either all of it (rows, keys,
    /// deletions, rejects, state) is stored, or nothing is.
    pub fn apply(
        &mut self,
        source: &str,
        source_type: &str,
        batch: Batch,
    ) -> Result<ApplyStats, StoreError> {
        self.ensure_writable()?;
        let source_id = self.source_id(source, source_type)?;
        // IMMEDIATE takes the write lock up front: a deferred transaction that
        // upgrades later fails at once under WAL instead of waiting.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut w = Writer {
            tx: &tx,
            source: source_id,
            now: now_rfc3339(),
            snapshot: batch.snapshot,
            stats: ApplyStats::default(),
            rejects: batch.rejects,
        };
        for (i, row) in batch.indicators.iter().enumerate() {
            if row.ext_id.is_empty() {
                w.reject_unnamed("indicator", i, &row.name);
                continue;
            }
            w.indicator(row)?;
        }
        for (i, row) in batch.observables.iter().enumerate() {
            if row.ext_id.is_empty() {
                w.reject_unnamed("observable", i, &row.display_value);
                continue;
            }
            w.observable(row)?;
        }
        for (i, row) in batch.relationships.iter().enumerate() {
            if row.ext_id.is_empty() || row.from_id.is_empty() || row.to_id.is_empty() {
                let item = match row.ext_id.as_str() {
                    "" => format!("relationship #{} of the batch", i + 1),
                    id => format!("relationship {id}"),
                };
                w.rejects.push(Reject {
                    item,
                    reason: "needs an id and both ends".to_string(),
                });
                continue;
            }
            w.relationship(row)?;
        }
        for d in &batch.deletions {
            w.delete(d)?;
        }
        if batch.snapshot {
            w.delete_missing(&batch.indicators, &batch.observables, &batch.relationships)?;
        }
        w.record_rejects(source)?;
        for (key, value) in &batch.state {
            tx.prepare_cached(
                "INSERT INTO sync_state (source_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source_id, key) DO UPDATE
                 SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![source_id.0, key, value, w.now])?;
        }
        let stats = w.stats;
        tx.commit()?;
        Ok(stats)
    }
}

impl Writer<'_> {
    fn reject_unnamed(&mut self, what: &str, index: usize, label: &str) {
        let item = match label {
            "" => format!("{what} #{} of the batch", index + 1),
            label => format!("{what} #{} of the batch (`{label}`)", index + 1),
        };
        self.rejects.push(Reject {
            item,
            reason: "has no id".to_string(),
        });
    }

    fn delete(&mut self, d: &Deletion) -> Result<(), StoreError> {
        // The tombstone triggers drop the object's match keys.
        let sql = format!(
            "UPDATE {} SET deleted = 1, deleted_at = ?3, stored_at = ?3
             WHERE source_id = ?1 AND ext_id = ?2 AND deleted = 0",
            table(d.object)
        );
        let n =
            self.tx
                .prepare_cached(&sql)?
                .execute(params![self.source.0, d.ext_id, self.now])?;
        self.stats.deleted += n as u64;
        Ok(())
    }

    /// Snapshot semantics: every live object of the source that the batch does
    /// not contain is gone.
    fn delete_missing(
        &mut self,
        indicators: &[crate::IndicatorRow],
        observables: &[crate::ObservableRow],
        relationships: &[crate::RelationshipRow],
    ) -> Result<(), StoreError> {
        self.tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS snapshot_ids (
                 object TEXT NOT NULL, ext_id TEXT NOT NULL, PRIMARY KEY (object, ext_id)
             ) WITHOUT ROWID;
             DELETE FROM temp.snapshot_ids;",
        )?;
        {
            let mut ins = self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO temp.snapshot_ids VALUES (?1, ?2)")?;
            let ids = indicators
                .iter()
                .map(|r| ("indicators", &r.ext_id))
                .chain(observables.iter().map(|r| ("observables", &r.ext_id)))
                .chain(relationships.iter().map(|r| ("relationships", &r.ext_id)));
            for (t, id) in ids {
                ins.execute(params![t, id])?;
            }
        }
        for t in ["indicators", "observables", "relationships"] {
            let sql = format!(
                "UPDATE {t} SET deleted = 1, deleted_at = ?2, stored_at = ?2
                 WHERE source_id = ?1 AND deleted = 0 AND ext_id NOT IN
                     (SELECT ext_id FROM temp.snapshot_ids WHERE object = '{t}')"
            );
            let n = self.tx.execute(&sql, params![self.source.0, self.now])?;
            self.stats.deleted += n as u64;
        }
        self.tx.execute_batch("DROP TABLE temp.snapshot_ids")?;
        Ok(())
    }

    /// Stores the newest rejects (at most [`REJECTS_KEPT`] per source) and logs them.
    fn record_rejects(&mut self, source: &str) -> Result<(), StoreError> {
        let total = self.rejects.len();
        if total == 0 {
            return Ok(());
        }
        self.stats.rejected += total as u64;
        for r in self.rejects.iter().take(REJECTS_LOGGED) {
            tracing::warn!(source, item = %r.item, reason = %r.reason, "rejected");
        }
        if total > REJECTS_LOGGED {
            tracing::warn!(
                source,
                rejected = total,
                "{} more rejects in this batch: `intelmatch status` lists the newest",
                total - REJECTS_LOGGED
            );
        }
        let mut ins = self.tx.prepare_cached(
            "INSERT INTO rejects (source_id, item, reason, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in &self.rejects[total.saturating_sub(REJECTS_KEPT)..] {
            ins.execute(params![
                self.source.0,
                one_line(&r.item, REJECT_CHARS),
                one_line(&r.reason, REJECT_CHARS),
                self.now
            ])?;
        }
        self.tx
            .prepare_cached(
                "DELETE FROM rejects WHERE source_id = ?1 AND id <=
                     (SELECT id FROM rejects WHERE source_id = ?1 ORDER BY id DESC
                      LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![self.source.0, REJECTS_KEPT as i64])?;
        Ok(())
    }
}
