mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use matcher::Kind;
use store::{Store, StoreError, SCHEMA_VERSION};

#[test]
fn migrates_an_empty_store_and_reopens_it() {
    let (dir, mut store) = temp_store();
    let path = store.path().to_path_buf();
    let c = raw(&store);
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    for t in [
        "sources",
        "sync_state",
        "indicators",
        "observables",
        "relationships",
        "match_keys",
        "sync_runs",
        "rejects",
    ] {
        let n = count(
            &c,
            &format!("SELECT count(*) FROM sqlite_schema WHERE name = '{t}'"),
        );
        assert_eq!(n, 1, "table {t}");
    }
    store
        .apply(
            "feed",
            "list",
            indicators(vec![attribute("l:1", Kind::Ipv4, "192.0.2.1")]),
        )
        .unwrap();
    drop(store);
    drop(c);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.status().unwrap().sources[0].indicators, 1);
    drop(store);
    let ro = Store::open_readonly(&path).unwrap();
    assert_eq!(ro.status().unwrap().sources[0].keys, 1);
    drop(dir);
}

#[test]
fn refuses_a_newer_schema() {
    let (_dir, store) = temp_store();
    let path = store.path().to_path_buf();
    raw(&store)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    for result in [Store::open(&path), Store::open_readonly(&path)] {
        let err = result.unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
            "{msg}"
        );
        assert!(msg.contains("upgrade intelmatch"), "{msg}");
        assert!(!msg.contains('\n'));
    }
}

#[test]
fn refuses_a_foreign_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 7;")
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("not an intelmatch store"));
}

#[test]
fn readonly_needs_an_existing_current_store_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    let err = Store::open_readonly(&missing).unwrap_err();
    assert!(
        err.to_string().contains("run `intelmatch sync` first"),
        "{err}"
    );
    assert!(
        !missing.exists(),
        "a read-only open must not create the store"
    );

    let path = dir.path().join("s.sqlite");
    drop(Store::open(&path).unwrap());
    let mut ro = Store::open_readonly(&path).unwrap();
    let err = ro
        .apply(
            "feed",
            "list",
            indicators(vec![attribute("l:1", Kind::Ipv4, "192.0.2.1")]),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
}

#[test]
fn files_are_created_0640_in_a_0750_directory() {
    let (dir, mut store) = temp_store();
    // Force the WAL and shared-memory files into existence.
    store
        .apply(
            "feed",
            "list",
            indicators(vec![attribute("l:1", Kind::Ipv4, "192.0.2.1")]),
        )
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let data = dir.path().join("data");
    assert_eq!(mode(&data) & !0o750, 0, "data dir is {:o}", mode(&data));
    for suffix in ["", "-wal", "-shm"] {
        let p = data.join(format!("store.sqlite{suffix}"));
        assert!(p.exists(), "{}", p.display());
        assert_eq!(mode(&p) & !0o640, 0, "{} is {:o}", p.display(), mode(&p));
    }
}

#[test]
fn removing_a_source_cascades_to_everything_it_owns() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![ipv4_indicator("i1", "192.0.2.1")]);
    b.observables
        .push(observable("o1", "IPv4-Addr", Kind::Ipv4, "192.0.2.1"));
    b.relationships.push(rel("r1", "based-on", "i1", "o1"));
    b.state
        .push(("watermark".into(), "2024-01-01T00:00:00Z".into()));
    store.apply("octi", "opencti", b).unwrap();
    assert!(store.remove_source("octi").unwrap());
    let c = raw(&store);
    for t in [
        "indicators",
        "observables",
        "relationships",
        "match_keys",
        "sync_state",
    ] {
        assert_eq!(count(&c, &format!("SELECT count(*) FROM {t}")), 0, "{t}");
    }
}
