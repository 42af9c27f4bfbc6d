mod common;

use common::*;
use matcher::Kind;
use serde_json::json;
use store::{state_keys, IndicatorRow, Reject, RunStatus};

#[test]
fn status_counts_per_source() {
    let (_dir, mut store) = temp_store();
    let yara = IndicatorRow {
        pattern: Some("rule x { condition: true }".into()),
        pattern_type: Some("yara".into()),
        ..stix("i-yara", "")
    };
    let mut b = indicators(vec![
        ipv4_indicator("i1", "192.0.2.1"),
        stix(
            "i2",
            "[domain-name:value = 'evil.example' OR url:value = 'http://evil.example/path']",
        ),
        stix(
            "i3",
            "[ipv4-addr:value = '192.0.2.3' AND ipv4-addr:value = '192.0.2.4']",
        ),
        stix("i4", "[nonsense"),
        yara,
    ]);
    b.observables
        .push(observable("o1", "IPv4-Addr", Kind::Ipv4, "192.0.2.1"));
    b.relationships.push(rel("r1", "based-on", "i1", "o1"));
    b.rejects.push(Reject {
        item: "indicator x".into(),
        reason: "no pattern".into(),
    });
    b.state = vec![
        (state_keys::SERVER_VERSION.into(), "6.9.2".into()),
        (
            "watermark.indicators".into(),
            "2024-05-01T10:00:00.000Z".into(),
        ),
        ("cursor".into(), "YXJyYXljb25uZWN0aW9uOjk5".into()),
    ];
    store.apply("octi", "opencti", b).unwrap();
    let run = store.begin_run("octi", "opencti").unwrap();
    store
        .finish_run(run, RunStatus::Ok, &json!({"inserted": 7}), None)
        .unwrap();
    let run = store.begin_run("octi", "opencti").unwrap();
    store
        .finish_run(
            run,
            RunStatus::Failed,
            &json!({}),
            Some("source `octi`: HTTP 502\nretry"),
        )
        .unwrap();
    store
        .apply(
            "feed",
            "list",
            indicators(vec![attribute("l:1", Kind::Sha256, &"a".repeat(64))]),
        )
        .unwrap();

    let st = store.status().unwrap();
    assert_eq!(st.schema_version, store::SCHEMA_VERSION);
    assert!(st.size_bytes > 0);
    let names: Vec<&str> = st.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["feed", "octi"]);
    let o = &st.sources[1];
    assert_eq!(o.source_type, "opencti");
    assert_eq!(
        (o.indicators, o.observables, o.relationships, o.deleted),
        (5, 1, 1, 0)
    );
    assert_eq!(o.keys, 6);
    assert_eq!(o.keys_by_kind.get("ipv4"), Some(&4));
    assert_eq!(o.keys_by_kind.get("domain"), Some(&1));
    assert_eq!(o.keys_by_kind.get("url"), Some(&1));
    // One branch of an OR satisfies the pattern; AND makes it partial (matcher::stix).
    assert_eq!(o.parse_status.get("ok"), Some(&2));
    assert_eq!(o.parse_status.get("partial"), Some(&1));
    assert_eq!(o.parse_status.get("invalid"), Some(&1));
    assert_eq!(o.parse_status.get("not_stix"), Some(&1));
    assert_eq!(o.non_stix_pattern_types.get("yara"), Some(&1));
    assert_eq!(o.recent_rejects, 1);
    assert_eq!(o.server_version.as_deref(), Some("6.9.2"));
    assert_eq!(o.watermarks.len(), 1);
    assert_eq!(
        o.watermarks["watermark.indicators"],
        "2024-05-01T10:00:00.000Z"
    );
    let last = o.last_run.as_ref().unwrap();
    assert_eq!(last.status, RunStatus::Failed);
    assert_eq!(last.error.as_deref(), Some("source `octi`: HTTP 502 retry"));
    assert!(o.last_success.is_some());
    let f = &st.sources[0];
    assert_eq!((f.indicators, f.keys), (1, 1));
    assert_eq!(f.keys_by_kind.get("sha256"), Some(&1));
    assert!(f.last_run.is_none() && f.last_success.is_none());

    // The status is serialisable for `status --json`.
    let v = serde_json::to_value(&st).unwrap();
    assert_eq!(v["sources"][1]["last_run"]["status"], json!("failed"));
    assert_eq!(store.source_status("nope").unwrap().map(|s| s.name), None);
}

#[test]
fn a_run_left_running_by_a_dead_process_becomes_interrupted() {
    let (_dir, mut store) = temp_store();
    let _lost = store.begin_run("octi", "opencti").unwrap();
    let run = store.begin_run("octi", "opencti").unwrap();
    let c = raw(&store);
    let status: String = c
        .query_row(
            "SELECT status FROM sync_runs ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
    store
        .finish_run(run, RunStatus::Ok, &json!({}), None)
        .unwrap();
    let err = store
        .finish_run(store::RunId(999), RunStatus::Ok, &json!({}), None)
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown sync run 999");
}

/// A flood of one kind of problem (real bundles repeat ids thousands of times)
/// must not hide another: every reason is listed, grouped, with a count and
/// an example (issue 23 point 5).
#[test]
fn every_reason_is_counted_and_none_crowds_another_out() {
    let (_dir, mut store) = temp_store();
    let mut b = indicators(vec![
        stix("u1", "[process:command_line = 'a']"),
        stix("u2", "[process:command_line = 'b']"),
        stix("bad", "[nonsense"),
    ]);
    for i in 0..300 {
        b.rejects.push(Reject {
            item: format!("indicator--{i}"),
            reason: format!("pattern missing in `bundle-{i}.json`"),
        });
    }
    b.rejects.push(Reject {
        item: "indicator--x".into(),
        reason: "valid_until is not a timestamp".into(),
    });
    store.apply("octi", "opencti", b).unwrap();
    let st = store.status().unwrap();
    let r: Vec<(String, String, u64)> = st.sources[0]
        .reasons
        .iter()
        .map(|r| (r.what.clone(), r.reason.clone(), r.count))
        .collect();
    let has = |what: &str, reason: &str| {
        r.iter()
            .any(|(w, re, _)| w == what && re.starts_with(reason))
    };
    assert!(has("reject", "pattern missing in"), "{r:?}");
    assert!(has("reject", "valid_until is not a timestamp"), "{r:?}");
    assert!(
        has(
            "unsupported",
            "unsupported STIX pattern: process:command_line is not matchable"
        ),
        "{r:?}"
    );
    assert!(has("invalid", ""), "{r:?}");
    let unsupported = r.iter().find(|(w, _, _)| w == "unsupported").unwrap();
    assert_eq!(unsupported.2, 2, "{r:?}");
    assert!(st.sources[0].reasons.iter().all(|r| !r.example.is_empty()));
}
