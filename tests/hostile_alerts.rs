//! Alerts are attacker-influenced: whatever sits at a catalog path, extraction must
//! not panic, must stay bounded and must never emit a broken value.

use intelmatch::wazuh::catalog::{Cond, FieldRule, CATALOG};
use intelmatch::wazuh::extract::{
    extract, parse_alert, AlertError, ExtractOptions, Extraction, DEFAULT_MAX_CANDIDATES,
    MAX_FANOUT,
};
use intelmatch::wazuh::json::Json;
use serde_json::{json, Map, Value};

/// Inserts `leaf` at a catalog `path` (`x[]` becomes a one-element array, `*` the key `a0`).
fn insert(root: &mut Value, path: &str, leaf: Value) {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let (name, array) = match seg.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (*seg, false),
        };
        let name = if name == "*" { "a0" } else { name };
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().unwrap();
        if array {
            let slot = map.entry(name).or_insert_with(|| json!([{}]));
            if !slot.is_array() || slot.as_array().unwrap().is_empty() {
                *slot = json!([{}]);
            }
            let elem = &mut slot.as_array_mut().unwrap()[0];
            if last {
                *elem = leaf;
                return;
            }
            cur = elem;
        } else {
            if last {
                map.insert(name.to_string(), leaf);
                return;
            }
            cur = map.entry(name).or_insert_with(|| json!({}));
        }
    }
}

fn alert_with(path: &str, leaf: Value) -> Value {
    let mut a = json!({"rule": {"id": "1", "level": 3, "groups": ["x"]}, "agent": {"id": "001", "name": "a"}});
    insert(&mut a, path, leaf);
    a
}

/// The field name extraction reports for a value inserted by [`insert`].
fn field_of(path: &str) -> String {
    path.replace("[]", "[0]").replace('*', "a0")
}

/// Whether the rule's conditions hold in an alert holding only its own path.
fn applies_alone(rule: &FieldRule) -> bool {
    rule.when.iter().all(|c| match *c {
        Cond::Present(_) | Cond::Equals(..) => false,
        Cond::NotEquals(..) => true,
        Cond::Absent(p) => !rule.path.starts_with(p),
    })
}

fn opts() -> ExtractOptions {
    ExtractOptions {
        documentation_is_public: true,
        ..ExtractOptions::default()
    }
}

fn assert_clean(e: &Extraction, what: &str) {
    assert!(e.candidates.len() <= DEFAULT_MAX_CANDIDATES, "{what}");
    assert!(e.skipped.len() <= DEFAULT_MAX_CANDIDATES, "{what}");
    for c in &e.candidates {
        assert!(!c.value.is_empty(), "{what}: empty value");
        assert!(
            !c.value.chars().any(char::is_control),
            "{what}: {:?}",
            c.value
        );
        assert!(
            c.value.len() <= 16 * 1024,
            "{what}: {} bytes",
            c.value.len()
        );
        assert!(
            !c.field.starts_with("agent") && !c.field.starts_with("manager"),
            "{what}"
        );
    }
    for s in &e.skipped {
        assert!(
            s.value.len() <= 210,
            "{what}: skipped value {} bytes",
            s.value.len()
        );
    }
}

#[test]
fn wrong_types_at_every_catalog_path() {
    let hostile = [
        json!(42),
        json!(-1.5e300),
        json!(true),
        Value::Null,
        json!(["8.8.8.8", "evil.example.com"]),
        json!({"ip": "8.8.8.8", "a": {"b": "evil.example.com"}}),
        json!([[["8.8.8.8"]]]),
        json!([]),
        json!({}),
    ];
    for rule in CATALOG {
        for leaf in &hostile {
            let alert = alert_with(rule.path, leaf.clone());
            let e = extract(&Json::from(&alert), &opts());
            let what = format!("{} = {leaf}", rule.path);
            assert!(e.candidates.is_empty(), "{what}: {:?}", e.candidates);
            assert_clean(&e, &what);
            if applies_alone(rule) {
                assert!(
                    e.skipped
                        .iter()
                        .any(|s| s.field == field_of(rule.path) && s.reason == "expected a string"),
                    "{what}: {:?}",
                    e.skipped
                );
            }
        }
    }
}

#[test]
fn wrong_types_at_intermediate_segments() {
    for rule in CATALOG {
        let segs: Vec<&str> = rule.path.split('.').collect();
        for cut in 1..segs.len() {
            let prefix = segs[..cut].join(".");
            for leaf in [json!("8.8.8.8"), json!(7), json!(["8.8.8.8"]), Value::Null] {
                let e = extract(&Json::from(&alert_with(&prefix, leaf.clone())), &opts());
                assert_clean(&e, &format!("{prefix} = {leaf}"));
            }
        }
    }
}

#[test]
fn every_catalog_path_at_once_with_hostile_strings() {
    let strings = [
        "8.8.8.8\0evil.example.com".to_string(),
        "\0".repeat(1000),
        "A".repeat(1 << 20),
        format!("http://{}", "a.".repeat(300_000)),
        "é".repeat(300_000),
        "SHA256=".repeat(50_000),
        "type:  5 ".repeat(50_000),
        ";".repeat(200_000),
        format!("{}http://evil.example.com/x", "\\".repeat(100_000)),
        "%41".repeat(100_000),
        "[".repeat(100_000) + "::1]",
        "https://evil.example.com/\u{0}\u{1}\u{7f}x ".repeat(5_000),
    ];
    for s in &strings {
        let mut alert = json!({"rule": {"groups": []}});
        for rule in CATALOG {
            insert(&mut alert, rule.path, json!(s));
        }
        // The work is bounded by the caps (checked by the benches, not timed here).
        let e = extract(&Json::from(&alert), &opts());
        assert_clean(&e, &s.chars().take(20).collect::<String>());
        assert!(e.candidates.len() <= DEFAULT_MAX_CANDIDATES);
    }
}

#[test]
fn nul_bytes_never_reach_a_candidate() {
    for rule in CATALOG {
        for s in [
            "8.8.8.8\0",
            "\0evil.example.com",
            "https://evil.example.com/\0x",
            "a\0b.exe",
            "SHA1=\0",
        ] {
            let e = extract(&Json::from(&alert_with(rule.path, json!(s))), &opts());
            assert_clean(&e, rule.path);
        }
    }
}

#[test]
fn nesting_beyond_the_recursion_limit_is_a_clean_error() {
    let depth = 10_000;
    let text = format!("{}1{}", "{\"data\":".repeat(depth), "}".repeat(depth));
    match parse_alert(text.as_bytes()) {
        Err(AlertError::Json(msg)) => assert!(msg.contains("recursion limit"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let arrays = format!("{{\"data\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(matches!(
        parse_alert(arrays.as_bytes()),
        Err(AlertError::Json(_))
    ));
    // Deep but parseable (under the limit) at a catalog path: a wrong type, skipped.
    let deep = format!(
        "{{\"data\":{{\"win\":{{\"eventdata\":{{\"commandLine\":{}\"x\"{}}}}}}}}}",
        "{\"a\":".repeat(100),
        "}".repeat(100)
    );
    let alert = parse_alert(deep.as_bytes()).unwrap();
    let e = extract(&alert, &opts());
    assert!(e.candidates.is_empty());
    assert_eq!(e.skipped.len(), 1);
}

#[test]
fn huge_arrays_are_read_up_to_the_fanout() {
    let n = 200_000;
    let answers: Vec<Value> = (0..n).map(|i| json!({"rrtype": "A", "rdata": format!("8.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)})).collect();
    let grouped: Vec<Value> = (0..n).map(|i| json!(format!("h{i}.example.com"))).collect();
    let alert = json!({"data": {"dns": {"answers": answers, "grouped": {"CNAME": grouped}}}});
    let e = extract(
        &Json::from(&alert),
        &ExtractOptions {
            max_candidates: 10_000,
            ..opts()
        },
    );
    assert_eq!(e.candidates.len(), 2 * MAX_FANOUT);
    // With the default cap the output stops there, and says so.
    let e = extract(&Json::from(&alert), &opts());
    assert_eq!(e.candidates.len(), DEFAULT_MAX_CANDIDATES);
    assert!(e.truncated);
}

#[test]
fn not_an_object_yields_nothing() {
    for v in [json!(null), json!([1, 2]), json!("8.8.8.8"), json!(3)] {
        let e = extract(&Json::from(&v), &opts());
        assert!(e.candidates.is_empty() && e.skipped.is_empty());
    }
    for text in ["[1]", "\"x\"", "null"] {
        assert!(parse_alert(text.as_bytes()).is_err());
    }
}

#[test]
fn envelope_values_are_never_candidates() {
    let alert = json!({
        "agent": {"id": "001", "name": "evil.example.com", "ip": "8.8.8.8"},
        "manager": {"name": "mgr.example.com"},
        "decoder": {"name": "8.8.4.4"},
        "predecoder": {"hostname": "host.example.com"},
        "location": "http://evil.example.com/x",
        "full_log": "8.8.8.8 evil.example.com",
        "previous_output": "8.8.8.8",
    });
    let e = extract(&Json::from(&alert), &opts());
    assert!(e.candidates.is_empty(), "{:?}", e.candidates);
}
