mod common;

use common::*;
use matcher::{KeyMethod, Kind, MatchKey};
use store::{
    ApplyStats, Batch, Deletion, ObjectType, ParseStatus, Reject, StoreError, DERIVE_VERSION,
    REJECTS_KEPT,
};

fn keys(store: &store::Store, object: ObjectType, id: &str) -> Option<Vec<MatchKey>> {
    store.keys_of("octi", object, id).unwrap()
}

#[test]
fn upsert_counts_inserts_updates_unchanged_and_deletes() {
    let (_dir, mut store) = temp_store();
    let batch = || {
        let mut b = indicators(vec![
            ipv4_indicator("i1", "192.0.2.1"),
            ipv4_indicator("i2", "192.0.2.2"),
        ]);
        b.observables.push(observable(
            "o1",
            "Domain-Name",
            Kind::Domain,
            "evil.example",
        ));
        b.relationships.push(rel("r1", "based-on", "i1", "o1"));
        b
    };
    let s = store.apply("octi", "opencti", batch()).unwrap();
    assert_eq!(
        s,
        ApplyStats {
            inserted: 4,
            keys: 3,
            ..Default::default()
        }
    );

    // The same content again writes nothing.
    let c = raw(&store);
    // data_version moves whenever another connection commits a change.
    let version = |c: &rusqlite::Connection| -> i64 {
        c.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let version_before = version(&c);
    let stored_at = |c: &rusqlite::Connection| -> String {
        c.query_row(
            "SELECT stored_at FROM indicators WHERE ext_id = 'i1'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = stored_at(&c);
    let s = store.apply("octi", "opencti", batch()).unwrap();
    assert_eq!(
        s,
        ApplyStats {
            unchanged: 4,
            ..Default::default()
        }
    );
    assert_eq!(
        stored_at(&c),
        before,
        "an unchanged upsert must not rewrite the row"
    );
    assert_eq!(
        version(&c),
        version_before,
        "an unchanged batch must not write"
    );

    // A real change is an update.
    let mut b = batch();
    b.indicators[0].score = Some(80);
    b.indicators[0].updated_at = Some("2024-05-02T10:00:00.000Z".into());
    let s = store.apply("octi", "opencti", b).unwrap();
    assert_eq!((s.updated, s.unchanged, s.keys), (1, 3, 1));
    assert_ne!(
        version(&c),
        version_before,
        "a change must be visible to other connections"
    );

    // Deletions: live rows become tombstones; unknown ids are no-ops.
    let b = Batch {
        deletions: vec![
            Deletion {
                object: ObjectType::Indicator,
                ext_id: "i2".into(),
            },
            Deletion {
                object: ObjectType::Relationship,
                ext_id: "r1".into(),
            },
            Deletion {
                object: ObjectType::Indicator,
                ext_id: "never-seen".into(),
            },
        ],
        ..Default::default()
    };
    let s = store.apply("octi", "opencti", b).unwrap();
    assert_eq!(s.deleted, 2);
    let st = store.source_status("octi").unwrap().unwrap();
    assert_eq!(
        (st.indicators, st.observables, st.relationships, st.deleted),
        (1, 1, 0, 2)
    );
    assert_eq!(keys(&store, ObjectType::Indicator, "i2"), None);

    // A deleted object that comes back is a new live object with its keys again.
    let s = store.apply(
        "octi",
        "opencti",
        indicators(vec![ipv4_indicator("i2", "192.0.2.2")]),
    );
    assert_eq!(s.unwrap().inserted, 1);
    assert_eq!(
        keys(&store, ObjectType::Indicator, "i2"),
        Some(vec![MatchKey::exact(Kind::Ipv4, "192.0.2.2")])
    );
}

#[test]
fn an_older_replay_does_not_overwrite_a_newer_row() {
    let (_dir, mut store) = temp_store();
    let mut newer = ipv4_indicator("i1", "192.0.2.1");
    newer.updated_at = Some("2024-06-01T00:00:00.000Z".into());
    newer.score = Some(90);
    store
        .apply("octi", "opencti", indicators(vec![newer]))
        .unwrap();

    let mut older = ipv4_indicator("i1", "192.0.2.1");
    older.updated_at = Some("2024-05-01T00:00:00.000Z".into());
    older.score = Some(10);
    let s = store
        .apply("octi", "opencti", indicators(vec![older.clone()]))
        .unwrap();
    assert_eq!((s.unchanged, s.updated), (1, 0));
    let mut seen = Vec::new();
    store
        .for_each_index_entry(&mut |e| {
            seen.push(e.record.score);
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, vec![Some(90)]);

    // A snapshot is authoritative: the file says what is true now.
    let mut b = indicators(vec![older]);
    b.snapshot = true;
    assert_eq!(store.apply("octi", "opencti", b).unwrap().updated, 1);
}

#[test]
fn a_snapshot_deletes_what_it_does_not_contain() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![
        attribute("f:1", Kind::Domain, "a.example"),
        attribute("f:2", Kind::Domain, "b.example"),
        attribute("f:3", Kind::Domain, "c.example"),
    ]);
    b.snapshot = true;
    store.apply("file", "list", b).unwrap();
    // Another source is not touched by this source's snapshot.
    store
        .apply(
            "other",
            "list",
            indicators(vec![attribute("f:1", Kind::Domain, "z.example")]),
        )
        .unwrap();

    let mut b = indicators(vec![
        attribute("f:1", Kind::Domain, "a.example"),
        attribute("f:4", Kind::Domain, "d.example"),
    ]);
    b.snapshot = true;
    let s = store.apply("file", "list", b).unwrap();
    assert_eq!((s.inserted, s.unchanged, s.deleted), (1, 1, 2));
    let st = store.status().unwrap();
    let file = st.sources.iter().find(|s| s.name == "file").unwrap();
    let other = st.sources.iter().find(|s| s.name == "other").unwrap();
    assert_eq!((file.indicators, file.keys, file.deleted), (2, 2, 2));
    assert_eq!((other.indicators, other.keys), (1, 1));

    // An empty snapshot empties the source.
    let s = store
        .apply(
            "file",
            "list",
            Batch {
                snapshot: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(s.deleted, 2);
    assert_eq!(store.source_status("file").unwrap().unwrap().keys, 0);
}

#[test]
fn a_failure_mid_apply_leaves_nothing_of_the_batch_and_no_watermark() {
    let (_dir, mut store) = temp_store();
    let mut first = indicators(vec![ipv4_indicator("i1", "192.0.2.1")]);
    first
        .state
        .push(("watermark".into(), "2024-01-01T00:00:00.000Z".into()));
    store.apply("octi", "opencti", first).unwrap();

    // Sabotage: the store fails on a relationship, after the batch's
    // indicators, observables and deletions were already written.
    raw(&store)
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON relationships WHEN NEW.ext_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .unwrap();
    let mut b = indicators(vec![ipv4_indicator("i2", "192.0.2.2"), {
        let mut i1 = ipv4_indicator("i1", "198.51.100.1");
        i1.updated_at = Some("2024-07-01T00:00:00.000Z".into());
        i1
    }]);
    b.observables
        .push(observable("o1", "IPv4-Addr", Kind::Ipv4, "192.0.2.9"));
    b.relationships.push(rel("boom", "related-to", "i2", "o1"));
    b.state
        .push(("watermark".into(), "2024-07-01T00:00:00.000Z".into()));
    b.rejects.push(Reject {
        item: "x".into(),
        reason: "y".into(),
    });
    let err = store.apply("octi", "opencti", b).unwrap_err();
    assert!(err.to_string().contains("simulated failure"), "{err}");

    assert_eq!(
        store.state("octi", "watermark").unwrap().as_deref(),
        Some("2024-01-01T00:00:00.000Z")
    );
    let st = store.source_status("octi").unwrap().unwrap();
    assert_eq!((st.indicators, st.observables, st.relationships), (1, 0, 0));
    assert_eq!(st.recent_rejects, 0);
    assert_eq!(
        keys(&store, ObjectType::Indicator, "i1"),
        Some(vec![MatchKey::exact(Kind::Ipv4, "192.0.2.1")])
    );
    // The store is still usable.
    let ok = indicators(vec![ipv4_indicator("i3", "192.0.2.3")]);
    assert_eq!(store.apply("octi", "opencti", ok).unwrap().inserted, 1);
}

#[test]
fn keys_are_derived_replaced_and_dropped() {
    let (_dir, mut store) = temp_store();
    let mut obs = observable(
        "o1",
        "StixFile",
        Kind::Md5,
        "44d88612fea8a8f36de82e1278abb02f",
    );
    obs.values.push((
        Kind::Sha256,
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into(),
    ));
    let mut b = indicators(vec![stix(
        "i1",
        "[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '10.0.0.0/8']",
    )]);
    b.observables.push(obs);
    store.apply("octi", "opencti", b).unwrap();
    assert_eq!(
        keys(&store, ObjectType::Indicator, "i1").unwrap(),
        vec![
            MatchKey::exact(Kind::Ipv4, "192.0.2.1"),
            MatchKey::new(Kind::Ipv4, "10.0.0.0/8", KeyMethod::Cidr),
        ]
    );
    assert_eq!(keys(&store, ObjectType::Observable, "o1").unwrap().len(), 2);

    let mut changed = stix("i1", "[domain-name:value = 'evil.example']");
    changed.updated_at = Some("2024-06-01T00:00:00.000Z".into());
    store
        .apply("octi", "opencti", indicators(vec![changed]))
        .unwrap();
    assert_eq!(
        keys(&store, ObjectType::Indicator, "i1").unwrap(),
        vec![MatchKey::exact(Kind::Domain, "evil.example")]
    );
    let c = raw(&store);
    assert_eq!(
        count(&c, "SELECT count(*) FROM match_keys WHERE kind = 'ipv4'"),
        0
    );

    let del = Batch {
        deletions: vec![Deletion {
            object: ObjectType::Observable,
            ext_id: "o1".into(),
        }],
        ..Default::default()
    };
    store.apply("octi", "opencti", del).unwrap();
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM match_keys WHERE observable_id IS NOT NULL"
        ),
        0
    );
}

#[test]
fn keys_from_an_older_derivation_are_rederived_on_the_next_upsert() {
    let (_dir, mut store) = temp_store();
    let row = ipv4_indicator("i1", "192.0.2.1");
    store
        .apply("octi", "opencti", indicators(vec![row.clone()]))
        .unwrap();
    let c = raw(&store);
    // As if written by a binary whose derivation missed this key.
    c.execute_batch("UPDATE indicators SET keys_version = 0; DELETE FROM match_keys;")
        .unwrap();
    let s = store
        .apply("octi", "opencti", indicators(vec![row]))
        .unwrap();
    assert_eq!((s.unchanged, s.updated, s.keys), (1, 0, 1));
    let v = count(&c, "SELECT keys_version FROM indicators");
    assert_eq!(v, DERIVE_VERSION);
    assert_eq!(count(&c, "SELECT count(*) FROM match_keys"), 1);
}

#[test]
fn unusable_patterns_are_kept_and_counted_never_a_failure() {
    let (_dir, mut store) = temp_store();
    let yara = store::IndicatorRow {
        pattern: Some("rule x { condition: true }".into()),
        pattern_type: Some("yara".into()),
        ..stix("i-yara", "")
    };
    let sigma = store::IndicatorRow {
        pattern: Some("title: x".into()),
        pattern_type: Some("sigma".into()),
        ..stix("i-sigma", "")
    };
    let empty = store::IndicatorRow {
        pattern: None,
        pattern_type: None,
        ..stix("i-empty", "")
    };
    let s = store
        .apply(
            "octi",
            "opencti",
            indicators(vec![
                ipv4_indicator("i-ok", "192.0.2.1"),
                stix("i-invalid", "this is [not stix"),
                yara,
                sigma,
                empty,
            ]),
        )
        .unwrap();
    assert_eq!((s.inserted, s.keys, s.rejected), (5, 1, 0));

    let (status, error) = store.parse_status_of("octi", "i-invalid").unwrap().unwrap();
    assert_eq!(status, ParseStatus::Invalid);
    assert!(error.is_some_and(|e| !e.is_empty() && !e.contains('\n')));
    assert_eq!(
        store.parse_status_of("octi", "i-yara").unwrap().unwrap().0,
        ParseStatus::NotStix
    );
    let st = store.source_status("octi").unwrap().unwrap();
    assert_eq!(st.indicators, 5);
    assert_eq!(st.parse_status.get("ok"), Some(&1));
    assert_eq!(st.parse_status.get("invalid"), Some(&1));
    assert_eq!(st.parse_status.get("not_stix"), Some(&2));
    assert_eq!(st.parse_status.get("no_value"), Some(&1));
    assert_eq!(st.non_stix_pattern_types.get("yara"), Some(&1));
    assert_eq!(st.non_stix_pattern_types.get("sigma"), Some(&1));
}

#[test]
fn bad_values_become_rejects_naming_the_item() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![
        attribute("attr-1", Kind::Ipv4, "192.0.2.1"),
        attribute("attr-2", Kind::Ipv4, "999.1.1.1.1"),
        store::IndicatorRow {
            ext_id: String::new(),
            ..attribute("", Kind::Domain, "x.example")
        },
    ]);
    b.observables
        .push(observable("obs-1", "IPv4-Addr", Kind::Ipv4, "not an ip"));
    b.rejects.push(Reject {
        item: "feed.csv:7".into(),
        reason: "unknown type `foo`".into(),
    });
    let s = store.apply("misp", "misp", b).unwrap();
    assert_eq!(s.rejected, 4);
    assert_eq!(
        s.inserted, 3,
        "rows with bad values are kept; the id-less one is not"
    );

    let rejects = store.recent_rejects("misp", 10).unwrap();
    let items: Vec<&str> = rejects.iter().map(|r| r.item.as_str()).collect();
    assert!(items.contains(&"indicator attr-2"), "{items:?}");
    assert!(items.contains(&"observable obs-1"), "{items:?}");
    assert!(items.contains(&"feed.csv:7"), "{items:?}");
    assert!(
        items
            .iter()
            .any(|i| i.starts_with("indicator #3 of the batch")),
        "{items:?}"
    );
    let bad = rejects
        .iter()
        .find(|r| r.item == "indicator attr-2")
        .unwrap();
    assert!(bad.reason.contains("999.1.1.1.1"), "{}", bad.reason);
    assert_eq!(
        store.parse_status_of("misp", "attr-2").unwrap().unwrap().0,
        ParseStatus::Invalid
    );

    // Only the newest REJECTS_KEPT per source are kept.
    let many = Batch {
        rejects: (0..REJECTS_KEPT + 50)
            .map(|i| Reject {
                item: format!("line {i}"),
                reason: "bad".into(),
            })
            .collect(),
        ..Default::default()
    };
    store.apply("misp", "misp", many).unwrap();
    let st = store.source_status("misp").unwrap().unwrap();
    assert_eq!(st.recent_rejects, REJECTS_KEPT as u64);
    let newest = store.recent_rejects("misp", 1).unwrap();
    assert_eq!(newest[0].item, format!("line {}", REJECTS_KEPT + 49));
}

#[test]
fn state_commits_with_the_batch_and_reads_back() {
    let (_dir, mut store) = temp_store();
    assert_eq!(store.state("octi", "watermark").unwrap(), None);
    let mut b = indicators(vec![ipv4_indicator("i1", "192.0.2.1")]);
    b.state = vec![
        (
            "watermark.indicators".into(),
            "2024-05-01T10:00:00.000Z".into(),
        ),
        ("server_version".into(), "6.9.0".into()),
    ];
    store.apply("octi", "opencti", b).unwrap();
    let b = Batch {
        state: vec![(
            "watermark.indicators".into(),
            "2024-05-02T10:00:00.000Z".into(),
        )],
        ..Default::default()
    };
    store.apply("octi", "opencti", b).unwrap();
    let all = store.states("octi").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["watermark.indicators"], "2024-05-02T10:00:00.000Z");
    assert_eq!(all["server_version"], "6.9.0");
}

#[test]
fn a_source_keeps_its_type_and_ids_are_per_source() {
    let (_dir, mut store) = temp_store();
    store
        .apply(
            "feed",
            "list",
            indicators(vec![attribute("x", Kind::Domain, "a.example")]),
        )
        .unwrap();
    let err = store
        .apply(
            "feed",
            "stix",
            indicators(vec![attribute("x", Kind::Domain, "a.example")]),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::SourceType { .. }));
    assert!(err
        .to_string()
        .contains("stored with type `list` but configured as `stix`"));

    let s = store
        .apply(
            "feed2",
            "list",
            indicators(vec![attribute("x", Kind::Domain, "b.example")]),
        )
        .unwrap();
    assert_eq!(
        s.inserted, 1,
        "the same ext_id in another source is another object"
    );
}

#[test]
fn live_ids_list_what_reconciliation_compares() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![
        ipv4_indicator("i1", "192.0.2.1"),
        ipv4_indicator("i2", "192.0.2.2"),
        ipv4_indicator("i3", "192.0.2.3"),
    ]);
    b.deletions.push(Deletion {
        object: ObjectType::Indicator,
        ext_id: "i2".into(),
    });
    store.apply("octi", "opencti", b).unwrap();
    store
        .apply(
            "other",
            "opencti",
            indicators(vec![ipv4_indicator("x", "192.0.2.9")]),
        )
        .unwrap();
    let mut ids = Vec::new();
    let n = store
        .for_each_live_id("octi", ObjectType::Indicator, &mut |id| {
            ids.push(id.to_string());
            Ok(())
        })
        .unwrap();
    ids.sort();
    assert_eq!((n, ids), (2, vec!["i1".to_string(), "i3".to_string()]));
    assert_eq!(store.live_count("octi", ObjectType::Indicator).unwrap(), 2);
    assert_eq!(store.live_count("octi", ObjectType::Observable).unwrap(), 0);
}
