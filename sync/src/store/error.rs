use std::path::PathBuf;

/// Everything that can go wrong in the store. Each variant displays as one line
/// saying what failed and, where there is one, what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path} does not exist: run `intelmatch sync` first")]
    Missing { path: PathBuf },

    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "{path} is not an intelmatch store (application id {found:#x}): point data_dir elsewhere"
    )]
    Foreign { path: PathBuf, found: i64 },

    #[error(
        "store {path} has schema version {found} but this intelmatch knows only up to {supported}: \
         upgrade intelmatch or use another data_dir"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "store {path} has schema version {found}, this intelmatch needs {needed}: \
         run `intelmatch sync` once to upgrade it"
    )]
    TooOld {
        path: PathBuf,
        found: i64,
        needed: i64,
    },

    #[error("migrating store {path} to schema version {version} failed: {source}")]
    Migration {
        path: PathBuf,
        version: i64,
        #[source]
        source: rusqlite::Error,
    },

    #[error("store {path} is open read-only")]
    ReadOnly { path: PathBuf },

    #[error(
        "source `{name}` is stored with type `{stored}` but configured as `{configured}`: \
         give it another name, or remove its data first"
    )]
    SourceType {
        name: String,
        stored: String,
        configured: String,
    },

    #[error("unknown source `{0}` in the store")]
    UnknownSource(String),

    #[error("unknown sync run {0}")]
    UnknownRun(i64),

    #[error("store holds an unreadable value: {0}")]
    Corrupt(String),

    /// A consumer of a streaming read (the index compiler) stopped it.
    #[error("{0}")]
    Consumer(String),

    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}
