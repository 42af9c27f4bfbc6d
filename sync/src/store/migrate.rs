//! Versioned schema migrations keyed on `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[include_str!("../../../schema.sql")];

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `PRAGMA application_id` of intelmatch stores ("IMat"), so that a foreign
/// SQLite file at the configured path is refused rather than altered.
const APPLICATION_ID: i64 = 0x494d_6174;

struct Header {
    application_id: i64,
    user_version: i64,
}

fn header(conn: &Connection) -> rusqlite::Result<Header> {
    Ok(Header {
        application_id: conn.pragma_query_value(None, "application_id", |r| r.get(0))?,
        user_version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
    })
}

fn check_ours(h: &Header, path: &Path) -> Result<(), StoreError> {
    let ours = h.application_id == APPLICATION_ID;
    let empty = h.application_id == 0 && h.user_version == 0;
    if ours || empty {
        return Ok(());
    }
    Err(StoreError::Foreign {
        path: path.to_path_buf(),
        found: h.application_id,
    })
}

/// Applies every pending migration, each in its own transaction together with
/// its version bump, so a crash leaves the store at a consistent version.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let h = header(conn)?;
    check_ours(&h, path)?;
    if h.user_version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: h.user_version,
            supported: SCHEMA_VERSION,
        });
    }
    if h.application_id == 0 && h.user_version == 0 && has_tables(conn)? {
        // Tables without our id: someone else's database.
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            found: 0,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(h.user_version as usize) {
        let version = from as i64 + 1;
        let fail = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(fail)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(path = %path.display(), version, "store schema migrated");
    }
    Ok(())
}

/// For read-only opens: the schema must be exactly this binary's.
pub(crate) fn check_current(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let h = header(conn)?;
    check_ours(&h, path)?;
    let path = path.to_path_buf();
    match h.user_version {
        v if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path,
            found: v,
            supported: SCHEMA_VERSION,
        }),
        v if v < SCHEMA_VERSION => Err(StoreError::TooOld {
            path,
            found: v,
            needed: SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table')",
        [],
        |r| r.get(0),
    )
}
