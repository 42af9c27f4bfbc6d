-- intelmatch store, schema version 1.
--
-- Applied by sync/src/store/migrate.rs inside one transaction; PRAGMA user_version
-- then records the version. Later versions are new entries in that migrations
-- list, never edits of this file.
--
-- Conventions: times are RFC 3339 text as the source sent them (local times are
-- UTC with milliseconds); JSON columns hold text; booleans are 0/1. Objects are
-- never hard-deleted by a sync: `deleted = 1` keeps a tombstone, and a trigger
-- drops the tombstone's match keys so only live objects carry keys.

CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Watermarks, cursors, server version, last reconciliation: whatever a source
-- needs to resume. Written in the same transaction as the rows they cover.
CREATE TABLE sync_state (
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;

CREATE TABLE indicators (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    ext_id        TEXT NOT NULL,
    standard_id   TEXT,
    record_kind   TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    description   TEXT,
    pattern       TEXT,
    pattern_type  TEXT,
    -- Values given directly instead of a pattern: [["ipv4","1.2.3.4"], ...], raw.
    raw_values    TEXT NOT NULL DEFAULT '[]',
    score         INTEGER,
    confidence    INTEGER,
    revoked       INTEGER NOT NULL DEFAULT 0,
    detection     INTEGER,
    valid_from    TEXT,
    valid_until   TEXT,
    labels        TEXT NOT NULL DEFAULT '[]',
    markings      TEXT NOT NULL DEFAULT '[]',
    created_by    TEXT,
    created_at    TEXT,
    updated_at    TEXT,
    link          TEXT,
    extra         TEXT NOT NULL DEFAULT '{}',
    deleted       INTEGER NOT NULL DEFAULT 0,
    deleted_at    TEXT,
    parse_status  TEXT NOT NULL CHECK (parse_status IN
                    ('ok', 'partial', 'unsupported', 'invalid', 'not_stix', 'no_value')),
    parse_error   TEXT,
    partial       INTEGER NOT NULL DEFAULT 0,
    -- Version of the key derivation that produced this row's keys: a newer
    -- binary re-derives keys of unchanged rows instead of trusting old ones.
    keys_version  INTEGER NOT NULL DEFAULT 0,
    -- Local time of the last write.
    stored_at     TEXT NOT NULL,
    UNIQUE (source_id, ext_id)
);

CREATE TABLE observables (
    id             INTEGER PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    ext_id         TEXT NOT NULL,
    standard_id    TEXT,
    entity_type    TEXT NOT NULL,
    display_value  TEXT NOT NULL,
    raw_values     TEXT NOT NULL DEFAULT '[]',
    score          INTEGER,
    labels         TEXT NOT NULL DEFAULT '[]',
    markings       TEXT NOT NULL DEFAULT '[]',
    created_by     TEXT,
    updated_at     TEXT,
    link           TEXT,
    extra          TEXT NOT NULL DEFAULT '{}',
    deleted        INTEGER NOT NULL DEFAULT 0,
    deleted_at     TEXT,
    keys_version   INTEGER NOT NULL DEFAULT 0,
    stored_at      TEXT NOT NULL,
    UNIQUE (source_id, ext_id)
);

-- Edges between objects of one source, by their ext ids (opencti.md §10).
CREATE TABLE relationships (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    ext_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    from_id     TEXT NOT NULL,
    to_id       TEXT NOT NULL,
    confidence  INTEGER,
    revoked     INTEGER NOT NULL DEFAULT 0,
    start_time  TEXT,
    stop_time   TEXT,
    updated_at  TEXT,
    deleted     INTEGER NOT NULL DEFAULT 0,
    deleted_at  TEXT,
    stored_at   TEXT NOT NULL,
    UNIQUE (source_id, ext_id)
);
CREATE INDEX relationships_from ON relationships(source_id, from_id, type);
CREATE INDEX relationships_to ON relationships(source_id, to_id, type);

-- Keys derived from patterns and values; exactly one owner per key.
CREATE TABLE match_keys (
    id             INTEGER PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    indicator_id   INTEGER REFERENCES indicators(id) ON DELETE CASCADE,
    observable_id  INTEGER REFERENCES observables(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    key            TEXT NOT NULL,
    method         TEXT NOT NULL CHECK (method IN ('exact', 'cidr', 'substring', 'prefix')),
    partial        INTEGER NOT NULL DEFAULT 0,
    CHECK ((indicator_id IS NULL) <> (observable_id IS NULL))
);
CREATE INDEX match_keys_by_key ON match_keys(kind, key);
CREATE INDEX match_keys_by_indicator ON match_keys(indicator_id) WHERE indicator_id IS NOT NULL;
CREATE INDEX match_keys_by_observable ON match_keys(observable_id) WHERE observable_id IS NOT NULL;
CREATE INDEX match_keys_by_source ON match_keys(source_id);

CREATE TRIGGER indicators_tombstone_drops_keys
AFTER UPDATE OF deleted ON indicators WHEN NEW.deleted <> 0
BEGIN
    DELETE FROM match_keys WHERE indicator_id = NEW.id;
END;

CREATE TRIGGER observables_tombstone_drops_keys
AFTER UPDATE OF deleted ON observables WHEN NEW.deleted <> 0
BEGIN
    DELETE FROM match_keys WHERE observable_id = NEW.id;
END;

CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    counts       TEXT NOT NULL DEFAULT '{}',
    error        TEXT
);
CREATE INDEX sync_runs_by_source ON sync_runs(source_id, id);

-- The newest rejected items per source (the store prunes older ones).
CREATE TABLE rejects (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    item        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX rejects_by_source ON rejects(source_id, id);
