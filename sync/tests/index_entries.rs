mod common;

use common::*;
use matcher::{Kind, MatchKey, RecordKind, Related};
use serde_json::json;
use store::{Batch, Deletion, IndexEntry, IndicatorRow, ObjectType, Store};

fn entries(store: &Store) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    let n = store
        .for_each_index_entry(&mut |e| {
            out.push(e);
            Ok(())
        })
        .unwrap();
    assert_eq!(n as usize, out.len());
    out
}

fn plain(entries: &[IndexEntry]) -> Vec<&IndexEntry> {
    entries
        .iter()
        .filter(|e| e.record.related.is_none())
        .collect()
}

fn related(entries: &[IndexEntry]) -> Vec<&IndexEntry> {
    entries
        .iter()
        .filter(|e| e.record.related.is_some())
        .collect()
}

#[test]
fn records_carry_the_full_provenance_of_their_rows() {
    let (_dir, mut store) = temp_store();
    let mut extra = serde_json::Map::new();
    extra.insert("category".into(), json!("Network activity"));
    let row = IndicatorRow {
        ext_id: "0b7e...-internal".into(),
        record_kind: RecordKind::Indicator,
        standard_id: Some("indicator--1234".into()),
        name: "C2 server".into(),
        description: Some("seen in campaign X".into()),
        pattern: Some("[ipv4-addr:value = '192.0.2.1' AND ipv4-addr:value = '192.0.2.2']".into()),
        pattern_type: Some("stix".into()),
        values: vec![],
        score: Some(80),
        confidence: Some(70),
        revoked: true,
        detection: Some(false),
        valid_from: Some("2024-01-01T00:00:00.000Z".into()),
        valid_until: Some("2024-02-01T00:00:00.000Z".into()),
        labels: vec!["c2".into()],
        markings: vec!["TLP:AMBER".into()],
        created_by: Some("ACME CERT".into()),
        created_at: Some("2024-01-01T00:00:00.000Z".into()),
        updated_at: Some("2024-01-02T00:00:00.000Z".into()),
        link: Some("https://opencti.example.org/dashboard/observations/indicators/x".into()),
        extra,
    };
    store
        .apply("octi", "opencti", indicators(vec![row]))
        .unwrap();
    let all = entries(&store);
    assert_eq!(all.len(), 1);
    let r = &all[0].record;
    assert_eq!(
        (r.source.as_str(), r.source_type.as_str()),
        ("octi", "opencti")
    );
    assert_eq!(r.record_kind, RecordKind::Indicator);
    assert_eq!(r.id, "0b7e...-internal");
    assert_eq!(r.name, "C2 server");
    assert_eq!(r.pattern_type.as_deref(), Some("stix"));
    assert!(r.pattern.as_deref().unwrap().contains("AND"));
    assert_eq!((r.score, r.confidence), (Some(80), Some(70)));
    assert!(
        r.revoked,
        "revoked records are included; the compiler filters them"
    );
    assert_eq!(r.detection, Some(false));
    assert_eq!(r.valid_from.as_deref(), Some("2024-01-01T00:00:00.000Z"));
    assert_eq!(r.valid_until.as_deref(), Some("2024-02-01T00:00:00.000Z"));
    assert_eq!(r.labels, vec!["c2"]);
    assert_eq!(r.markings, vec!["TLP:AMBER"]);
    assert_eq!(r.created_by.as_deref(), Some("ACME CERT"));
    assert_eq!(r.updated_at.as_deref(), Some("2024-01-02T00:00:00.000Z"));
    assert!(r.link.as_deref().unwrap().ends_with("/indicators/x"));
    assert!(r.partial, "an AND pattern is partial");
    assert_eq!(r.extra["category"], json!("Network activity"));
    assert_eq!(r.extra["standard_id"], json!("indicator--1234"));
    assert_eq!(
        all[0].keys,
        vec![
            MatchKey::exact(Kind::Ipv4, "192.0.2.1"),
            MatchKey::exact(Kind::Ipv4, "192.0.2.2")
        ]
    );
}

#[test]
fn only_live_objects_with_keys_are_entries() {
    let (_dir, mut store) = temp_store();
    let yara = IndicatorRow {
        pattern: Some("rule x { condition: true }".into()),
        pattern_type: Some("yara".into()),
        ..stix("i-yara", "")
    };
    let mut b = indicators(vec![
        ipv4_indicator("i-live", "192.0.2.1"),
        ipv4_indicator("i-gone", "192.0.2.2"),
        yara,
    ]);
    b.observables.push(observable(
        "o-live",
        "Domain-Name",
        Kind::Domain,
        "evil.example",
    ));
    store.apply("octi", "opencti", b).unwrap();
    let del = Batch {
        deletions: vec![Deletion {
            object: ObjectType::Indicator,
            ext_id: "i-gone".into(),
        }],
        ..Default::default()
    };
    store.apply("octi", "opencti", del).unwrap();
    let all = entries(&store);
    let ids: Vec<&str> = all.iter().map(|e| e.record.id.as_str()).collect();
    assert_eq!(ids, vec!["i-live", "o-live"]);
    let o = &all[1].record;
    assert_eq!(o.record_kind, RecordKind::Observable);
    assert_eq!(o.name, "evil.example");
    assert_eq!(o.extra["entity_type"], json!("Domain-Name"));
}

#[test]
fn an_observable_folds_into_the_indicators_based_on_it() {
    let (_dir, mut store) = temp_store();
    let mut i1 = ipv4_indicator("i1", "192.0.2.1");
    i1.name = "Bad IP".into();
    i1.score = Some(75);
    let yara = IndicatorRow {
        name: "yara on file".into(),
        pattern: Some("rule x { condition: true }".into()),
        pattern_type: Some("yara".into()),
        ..stix("i-yara", "")
    };
    let mut b = indicators(vec![i1, yara, ipv4_indicator("i-unrelated", "192.0.2.7")]);
    b.observables
        .push(observable("o1", "IPv4-Addr", Kind::Ipv4, "192.0.2.1"));
    b.relationships.push(rel("r1", "based-on", "i1", "o1"));
    b.relationships.push(rel("r2", "based-on", "i-yara", "o1"));
    store.apply("octi", "opencti", b).unwrap();

    let all = entries(&store);
    // Never an entry of its own while it has an indicator...
    assert!(all.iter().all(|e| e.record.id != "o1"));
    // ...but its keys are entered as each indicator's, the observable named.
    let folded: Vec<&IndexEntry> = all
        .iter()
        .filter(|e| e.record.extra.contains_key("observable"))
        .collect();
    let ids: Vec<&str> = folded.iter().map(|e| e.record.id.as_str()).collect();
    assert_eq!(ids, ["i1", "i-yara"]);
    for e in &folded {
        assert_eq!(
            e.record.extra["observable"],
            json!({"id": "o1", "value": "192.0.2.1", "type": "IPv4-Addr"})
        );
        assert_eq!(e.keys, [MatchKey::exact(Kind::Ipv4, "192.0.2.1")]);
    }
    // The yara indicator, unmatchable itself, is reported with its name and score.
    assert_eq!(folded[1].record.name, "yara on file");
    assert_eq!(folded[0].record.score, Some(75));
    assert!(
        related(&all).is_empty(),
        "based-on alone makes no related entry"
    );
}

#[test]
fn related_entries_follow_resolves_to_both_ways() {
    let (_dir, mut store) = temp_store();
    // The domain observable resolves to an IP observable that an indicator is
    // based on; separately, a domain indicator resolves to a clean IP.
    let mut b = indicators(vec![
        ipv4_indicator("i-ip", "192.0.2.1"),
        stix("i-dom", "[domain-name:value = 'c2.example']"),
    ]);
    b.observables.push(observable(
        "o-dom",
        "Domain-Name",
        Kind::Domain,
        "www.example",
    ));
    b.observables
        .push(observable("o-ip", "IPv4-Addr", Kind::Ipv4, "192.0.2.1"));
    b.observables
        .push(observable("o-ip2", "IPv4-Addr", Kind::Ipv4, "198.51.100.5"));
    b.relationships.push(rel("r1", "based-on", "i-ip", "o-ip"));
    b.relationships
        .push(rel("r2", "resolves-to", "o-dom", "o-ip"));
    b.relationships
        .push(rel("r3", "resolves-to", "i-dom", "o-ip2"));
    store.apply("octi", "opencti", b).unwrap();

    let all = entries(&store);
    let mut rel_entries: Vec<(String, Vec<MatchKey>, Related)> = related(&all)
        .into_iter()
        .map(|e| {
            (
                e.record.id.clone(),
                e.keys.clone(),
                e.record.related.clone().unwrap(),
            )
        })
        .collect();
    rel_entries.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rel_entries,
        vec![
            // The clean IP reaches the domain indicator it is resolved from.
            (
                "i-dom".to_string(),
                vec![MatchKey::exact(Kind::Ipv4, "198.51.100.5")],
                Related {
                    relationship: "resolves-to".into(),
                    via: "c2.example".into()
                },
            ),
            // The domain reaches the indicator of the IP it resolves to.
            (
                "i-ip".to_string(),
                vec![MatchKey::exact(Kind::Domain, "www.example")],
                Related {
                    relationship: "resolves-to".into(),
                    via: "192.0.2.1".into()
                },
            ),
        ]
    );
    // The related record is the indicator's own record.
    let e = related(&all)
        .into_iter()
        .find(|e| e.record.id == "i-ip")
        .unwrap();
    assert_eq!(
        e.record.pattern.as_deref(),
        Some("[ipv4-addr:value = '192.0.2.1']")
    );
    assert_eq!(e.record.source, "octi");
    assert_eq!(plain(&all).len(), 5);
}

#[test]
fn related_to_links_either_way_and_dead_links_do_not() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![ipv4_indicator("i-ip", "192.0.2.1")]);
    b.observables.push(observable(
        "o-url",
        "Url",
        Kind::Url,
        "http://evil.example/path",
    ));
    b.observables
        .push(observable("o-a", "Domain-Name", Kind::Domain, "a.example"));
    b.observables
        .push(observable("o-b", "Domain-Name", Kind::Domain, "b.example"));
    b.observables
        .push(observable("o-c", "Domain-Name", Kind::Domain, "c.example"));
    // Indicator first: the observable's value still reaches the indicator.
    b.relationships
        .push(rel("r1", "related-to", "i-ip", "o-url"));
    let mut revoked = rel("r2", "resolves-to", "o-a", "i-ip");
    revoked.revoked = true;
    b.relationships.push(revoked);
    let mut ended = rel("r3", "resolves-to", "o-b", "i-ip");
    ended.stop_time = Some("2001-01-01T00:00:00Z".into());
    b.relationships.push(ended);
    b.relationships
        .push(rel("r4", "resolves-to", "o-c", "i-ip"));
    // Unknown ends and other types are ignored.
    b.relationships
        .push(rel("r5", "resolves-to", "o-c", "nowhere"));
    b.relationships.push(rel("r6", "indicates", "i-ip", "o-c"));
    store.apply("octi", "opencti", b).unwrap();
    let del = Batch {
        deletions: vec![Deletion {
            object: ObjectType::Relationship,
            ext_id: "r4".into(),
        }],
        ..Default::default()
    };
    store.apply("octi", "opencti", del).unwrap();

    let all = entries(&store);
    let rel_entries = related(&all);
    assert_eq!(rel_entries.len(), 1, "{rel_entries:#?}");
    assert_eq!(rel_entries[0].record.id, "i-ip");
    assert_eq!(
        rel_entries[0].keys,
        vec![MatchKey::exact(Kind::Url, "http://evil.example/path")]
    );
    assert_eq!(
        rel_entries[0].record.related,
        Some(Related {
            relationship: "related-to".into(),
            via: "192.0.2.1".into()
        })
    );
}

#[test]
fn a_consumer_error_stops_the_stream() {
    let (_dir, mut store) = temp_store();
    let rows = (0..10).map(|i| ipv4_indicator(&format!("i{i}"), &format!("192.0.2.{i}")));
    store
        .apply("octi", "opencti", indicators(rows.collect()))
        .unwrap();
    let mut seen = 0;
    let err = store
        .for_each_index_entry(&mut |_| {
            seen += 1;
            if seen == 3 {
                return Err(store::StoreError::Consumer("index disk full".into()));
            }
            Ok(())
        })
        .unwrap_err();
    assert_eq!(seen, 3);
    assert_eq!(err.to_string(), "index disk full");
}
