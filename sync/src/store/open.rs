//! Opening the store: file modes, connection settings, migrations.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

// Intel is confidential (contract §7): the store gets the index's modes.
use matcher::index::fsutil::FILE_MODE;
use rusqlite::{Connection, OpenFlags};

use super::{migrate, Store, StoreError};

/// A concurrent `sync` or `status` holds the lock for at most one batch.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

impl Store {
    /// Opens (creating if needed) the store at `path` for reading and writing,
    /// and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_file(&path)?;
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        // WAL lets `status` and the index compiler read while a sync writes;
        // it cannot be switched inside a transaction, so it is not in schema.sql.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "store is not in WAL mode");
        }
        // NORMAL is durable enough in WAL mode: a power loss may drop the last
        // commit, and its watermark with it, so the next sync fetches it again.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        migrate::migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            path,
            readonly: false,
        })
    }

    /// Opens an existing store without writing to it (`status`, `export`).
    /// Refuses a schema older or newer than this binary's.
    pub fn open_readonly(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::Missing { path });
        }
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrate::check_current(&conn, &path)?;
        Ok(Store {
            conn,
            path,
            readonly: true,
        })
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Creates the data directory (0750) and an empty database file (0640) so that
/// SQLite never creates it with the umask's wider default. SQLite gives its
/// `-wal` and `-shm` files the database file's mode.
fn create_file(path: &Path) -> Result<(), StoreError> {
    let create_err = |path: &Path, source| StoreError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            matcher::index::fsutil::create_dir_all(dir).map_err(|e| create_err(dir, e))?;
        }
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        // chmod: the umask must not tighten it (SQLite copies this mode to -wal and -shm).
        Ok(f) => f
            .set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(|e| create_err(path, e)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            warn_if_world_readable(path);
            Ok(())
        }
        Err(e) => Err(create_err(path, e)),
    }
}

/// An existing store is left as it is, but a wide mode is worth a warning.
fn warn_if_world_readable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the store is accessible to all users: chmod 0640 it"
            );
        }
    }
}
