use std::path::Path;

use matcher::{Kind, RecordKind};
use serde_json::{json, Value};
use store::config::StixConfig;
use store::sources::{stix_bundle, FileSourceError};

use super::{rejects, write};

const TLP_AMBER_V1: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const TLP_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const AUTHOR: &str = "identity--8b7c2d3e-0000-4000-8000-000000000001";

fn cfg(path: &Path) -> StixConfig {
    StixConfig {
        path: path.to_path_buf(),
    }
}

fn bundle(objects: Value) -> String {
    serde_json::to_string_pretty(&json!({
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000000",
        "objects": objects,
    }))
    .unwrap()
}

fn load(path: &Path) -> store::sources::Loaded {
    stix_bundle::load(&cfg(path), "local-stix").unwrap()
}

#[test]
fn indicators_take_every_field_and_resolve_markings_and_author() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.json",
        bundle(json!([
            {"type": "identity", "id": AUTHOR, "name": "Example CERT", "identity_class": "organization"},
            {"type": "marking-definition", "id": "marking-definition--00000000-0000-4000-8000-0000000000aa",
             "definition_type": "statement", "definition": {"statement": "Internal use"}, "name": "Internal"},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--1234",
             "name": "C2 server", "description": "seen in campaign X",
             "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
             "valid_from": "2024-03-01T00:00:00Z", "valid_until": "2025-03-01T00:00:00Z",
             "revoked": false, "confidence": 70, "x_opencti_score": 80, "x_opencti_detection": true,
             "labels": ["c2", "campaign-x"], "indicator_types": ["malicious-activity"],
             "object_marking_refs": [TLP_AMBER_V1, "marking-definition--00000000-0000-4000-8000-0000000000aa",
                                     TLP_AMBER_STRICT, "marking-definition--99999999-0000-4000-8000-000000000000"],
             "created_by_ref": AUTHOR,
             "created": "2024-03-01T10:00:00.000Z", "modified": "2024-03-02T10:00:00.000Z"},
            {"type": "indicator", "id": "indicator--5678", "pattern": "rule x { condition: true }",
             "pattern_type": "yara", "valid_from": "2024-03-01T00:00:00Z",
             "created_by_ref": "identity--not-in-bundle",
             "extensions": {"extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba":
                 {"extension_type": "property-extension", "id": "0c8f-internal", "score": 40,
                  "detection": false, "labels": ["yara-rule"]}}},
            {"type": "indicator", "id": "indicator--9abc", "pattern": "[domain-name:value = 'evil.example']",
             "valid_from": "2024-03-01T00:00:00Z"}
        ])),
    );
    let loaded = load(dir.path());
    assert_eq!(rejects(&loaded.batch), Vec::<String>::new());
    assert!(loaded.batch.snapshot);
    assert_eq!(loaded.files, 1);
    let ind = &loaded.batch.indicators;
    assert_eq!(ind.len(), 3);

    let c2 = &ind[0];
    assert_eq!(c2.ext_id, "indicator--1234");
    assert_eq!(c2.record_kind, RecordKind::Indicator);
    assert_eq!(c2.name, "C2 server");
    assert_eq!(c2.description.as_deref(), Some("seen in campaign X"));
    assert_eq!(
        c2.pattern.as_deref(),
        Some("[ipv4-addr:value = '203.0.113.7']")
    );
    assert_eq!(c2.pattern_type.as_deref(), Some("stix"));
    assert!(c2.values.is_empty());
    assert_eq!(c2.score, Some(80));
    assert_eq!(c2.confidence, Some(70));
    assert_eq!(c2.detection, Some(true));
    assert!(!c2.revoked);
    assert_eq!(c2.valid_from.as_deref(), Some("2024-03-01T00:00:00Z"));
    assert_eq!(c2.valid_until.as_deref(), Some("2025-03-01T00:00:00Z"));
    assert_eq!(c2.labels, ["c2", "campaign-x"]);
    assert_eq!(
        c2.markings,
        [
            "TLP:AMBER",
            "Internal",
            "TLP:AMBER+STRICT",
            // Unknown definitions stay visible by id.
            "marking-definition--99999999-0000-4000-8000-000000000000"
        ]
    );
    assert_eq!(c2.created_by.as_deref(), Some("Example CERT"));
    assert_eq!(c2.created_at.as_deref(), Some("2024-03-01T10:00:00.000Z"));
    assert_eq!(c2.updated_at.as_deref(), Some("2024-03-02T10:00:00.000Z"));
    assert_eq!(c2.extra["file"], "a.json");
    assert_eq!(c2.extra["indicator_types"], json!(["malicious-activity"]));

    let yara = &ind[1];
    assert_eq!(yara.pattern_type.as_deref(), Some("yara"));
    assert_eq!(
        yara.name, "rule x { condition: true }",
        "the pattern names an unnamed indicator"
    );
    assert_eq!(yara.score, Some(40));
    assert_eq!(yara.detection, Some(false));
    assert_eq!(yara.labels, ["yara-rule"]);
    assert_eq!(yara.created_by.as_deref(), Some("identity--not-in-bundle"));
    assert_eq!(yara.extra["opencti_id"], "0c8f-internal");

    assert_eq!(
        ind[2].pattern_type.as_deref(),
        Some("stix"),
        "pattern_type defaults to stix"
    );

    // Identities and marking definitions are used, not imported, and not rejected.
    assert_eq!(loaded.skipped.get("identity"), Some(&1));
    assert_eq!(loaded.skipped.get("marking-definition"), Some(&1));
}

#[test]
fn observables_give_their_values_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("observables.json");
    write(
        dir.path(),
        "observables.json",
        bundle(json!([
            {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.0/24", "x_opencti_score": 60,
             "object_marking_refs": [TLP_CLEAR]},
            {"type": "ipv6-addr", "id": "ipv6-addr--1", "value": "2001:db8::7"},
            {"type": "domain-name", "id": "domain-name--1", "value": "evil.example",
             "resolves_to_refs": ["ipv4-addr--1", "ipv6-addr--1"]},
            {"type": "hostname", "id": "hostname--1", "value": "c2.evil.example"},
            {"type": "url", "id": "url--1", "value": "http://evil.example/payload"},
            {"type": "email-addr", "id": "email-addr--1", "value": "phish@evil.example"},
            {"type": "file", "id": "file--1", "name": "invoice.exe",
             "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e",
                        "SHA-1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                        "SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "SHA-512": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                        "SSDEEP": "3::"}},
            {"type": "windows-registry-key", "id": "windows-registry-key--1",
             "key": "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"},
            {"type": "mutex", "id": "mutex--1", "name": "Global\\evil-mutex"},
            {"type": "user-agent", "id": "user-agent--1", "value": "EvilBot/1.0"},
            {"type": "x509-certificate", "id": "x509-certificate--1",
             "hashes": {"SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
            {"type": "relationship", "id": "relationship--1", "relationship_type": "based-on",
             "source_ref": "indicator--1234", "target_ref": "ipv4-addr--1", "confidence": 50,
             "start_time": "2024-01-01T00:00:00Z", "modified": "2024-03-02T10:00:00Z"},
            {"type": "relationship", "id": "relationship--2", "relationship_type": "indicates",
             "source_ref": "indicator--1234", "target_ref": "malware--1", "revoked": true},
            {"type": "malware", "id": "malware--1", "name": "EvilRAT", "is_family": true}
        ])),
    );
    let loaded = stix_bundle::load(&cfg(&file), "local-stix").unwrap();
    assert_eq!(rejects(&loaded.batch), Vec::<String>::new());
    let obs = &loaded.batch.observables;
    let by_id = |id: &str| obs.iter().find(|o| o.ext_id == id).unwrap();
    let values = |id: &str| by_id(id).values.clone();
    let v = |k: Kind, s: &str| (k, s.to_string());

    assert_eq!(values("ipv4-addr--1"), [v(Kind::Ipv4, "198.51.100.0/24")]);
    assert_eq!(by_id("ipv4-addr--1").score, Some(60));
    assert_eq!(by_id("ipv4-addr--1").markings, ["TLP:CLEAR"]);
    assert_eq!(by_id("ipv4-addr--1").entity_type, "ipv4-addr");
    assert_eq!(values("ipv6-addr--1"), [v(Kind::Ipv6, "2001:db8::7")]);
    assert_eq!(values("domain-name--1"), [v(Kind::Domain, "evil.example")]);
    assert_eq!(values("hostname--1"), [v(Kind::Domain, "c2.evil.example")]);
    assert_eq!(
        values("url--1"),
        [v(Kind::Url, "http://evil.example/payload")]
    );
    assert_eq!(
        values("email-addr--1"),
        [v(Kind::Email, "phish@evil.example")]
    );
    let file_values = values("file--1");
    assert_eq!(file_values.len(), 6);
    for (kind, prefix) in [
        (Kind::Md5, "d41d8"),
        (Kind::Sha1, "da39a"),
        (Kind::Sha256, "e3b0c"),
        (Kind::Sha512, "cf83e"),
        (Kind::Hash, "3::"),
        (Kind::Filename, "invoice.exe"),
    ] {
        assert!(
            file_values
                .iter()
                .any(|(k, val)| *k == kind && val.starts_with(prefix)),
            "{kind} missing from {file_values:?}"
        );
    }
    assert!(
        by_id("file--1").display_value.starts_with("cf83e"),
        "SHA-512 is shown first"
    );
    assert_eq!(
        values("windows-registry-key--1"),
        [v(
            Kind::Regkey,
            "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
        )]
    );
    assert_eq!(values("mutex--1"), [v(Kind::Mutex, "Global\\evil-mutex")]);
    assert_eq!(values("user-agent--1"), [v(Kind::UserAgent, "EvilBot/1.0")]);
    assert_eq!(
        values("x509-certificate--1"),
        [v(
            Kind::Hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )]
    );
    assert_eq!(by_id("url--1").extra["file"], "observables.json");

    let rels = &loaded.batch.relationships;
    let based_on = rels.iter().find(|r| r.ext_id == "relationship--1").unwrap();
    assert_eq!(based_on.relationship_type, "based-on");
    assert_eq!(
        (based_on.from_id.as_str(), based_on.to_id.as_str()),
        ("indicator--1234", "ipv4-addr--1")
    );
    assert_eq!(based_on.confidence, Some(50));
    assert_eq!(based_on.start_time.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(based_on.updated_at.as_deref(), Some("2024-03-02T10:00:00Z"));
    assert!(
        rels.iter()
            .find(|r| r.ext_id == "relationship--2")
            .unwrap()
            .revoked
    );
    let resolves: Vec<(&str, &str, &str)> = rels
        .iter()
        .filter(|r| r.relationship_type == "resolves-to")
        .map(|r| (r.ext_id.as_str(), r.from_id.as_str(), r.to_id.as_str()))
        .collect();
    assert_eq!(
        resolves,
        [
            (
                "domain-name--1+resolves-to+ipv4-addr--1",
                "domain-name--1",
                "ipv4-addr--1"
            ),
            (
                "domain-name--1+resolves-to+ipv6-addr--1",
                "domain-name--1",
                "ipv6-addr--1"
            ),
        ]
    );
    assert_eq!(loaded.skipped.get("malware"), Some(&1));
}

#[test]
fn malformed_files_and_objects_are_rejected_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "a-good.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--good", "pattern": "[url:value = 'http://evil.example/']"}
        ])),
    );
    write(
        d,
        "bad.json",
        "{\n  \"type\": \"bundle\",\n  \"objects\": [\n    {\"id\": ,}\n  ]\n}",
    );
    write(
        d,
        "not-bundle.json",
        r#"{"type": "indicator", "id": "indicator--x"}"#,
    );
    write(
        d,
        "objects-object.json",
        r#"{"type": "bundle", "objects": {"a": 1}}"#,
    );
    write(
        d,
        "utf8.json",
        b"{\"type\": \"bundle\", \"objects\": [\"\xC3\x28\"]}",
    );
    write(d, "array.json", "[]");
    write(
        d,
        "sub/objects.json",
        bundle(json!([
            "just a string",
            {"type": "indicator", "pattern": "[ipv4-addr:value = '192.0.2.1']"},
            {"id": "indicator--no-type", "pattern": "[ipv4-addr:value = '192.0.2.2']"},
            {"type": "indicator", "id": "indicator--1234", "name": "no pattern"},
            {"type": "indicator", "id": "indicator--num", "pattern": 42},
            {"type": "indicator", "id": "indicator--bad-pattern", "pattern": "[ipv4-addr:value = "},
            {"type": "ipv4-addr", "id": "ipv4-addr--novalue"},
            {"type": "file", "id": "file--empty", "hashes": {}},
            {"type": "relationship", "id": "relationship--half", "relationship_type": "based-on",
             "source_ref": "indicator--good"},
            {"type": "network-traffic", "id": "network-traffic--1", "dst_port": 443},
            {"type": "network-traffic", "id": "network-traffic--2", "dst_port": 8443},
            {"type": "autonomous-system", "id": "autonomous-system--1", "number": 64500}
        ])),
    );
    let loaded = load(d);
    let got = rejects(&loaded.batch);
    let p = |rel: &str| d.join(rel).display().to_string();
    // Files in byte order of their relative paths (`a-good` < `array`).
    let expected = vec![
        format!("{}: not a STIX bundle: the top level is not an object", p("array.json")),
        format!("{}: not JSON at line 4 column 12: expected value", p("bad.json")),
        format!("{}: not a STIX bundle: type is `indicator`", p("not-bundle.json")),
        format!("{}: `objects` is not an array", p("objects-object.json")),
        format!("{}: objects[0]: not a JSON object", p("sub/objects.json")),
        format!("{}: objects[1]: id missing", p("sub/objects.json")),
        format!("{}: indicator--no-type: type missing", p("sub/objects.json")),
        format!("{}: indicator--1234: pattern missing", p("sub/objects.json")),
        format!("{}: indicator--num: pattern is not a string", p("sub/objects.json")),
        format!("{}: ipv4-addr--novalue: value missing", p("sub/objects.json")),
        format!("{}: file--empty: no hashes and no name", p("sub/objects.json")),
        format!("{}: relationship--half: target_ref missing", p("sub/objects.json")),
        format!("{}: invalid UTF-8 at byte 32", p("utf8.json")),
        format!(
            "{}: autonomous-system--1: type autonomous-system has no matchable value (1 object of this type skipped)",
            p("sub/objects.json")
        ),
        format!(
            "{}: network-traffic--1: type network-traffic has no matchable value (2 objects of this type skipped)",
            p("sub/objects.json")
        ),
    ];
    assert_eq!(got, expected);
    // An unusable file means its intel is unknown: nothing may be deleted.
    assert!(!loaded.batch.snapshot);
    assert_eq!(loaded.files, 7);
    let ids: Vec<&str> = loaded
        .batch
        .indicators
        .iter()
        .map(|i| i.ext_id.as_str())
        .collect();
    assert_eq!(ids, ["indicator--good", "indicator--bad-pattern"]);
    // Invalid patterns pass through untouched: the store compiles and counts them.
    assert_eq!(
        loaded.batch.indicators[1].pattern.as_deref(),
        Some("[ipv4-addr:value = ")
    );
}

#[test]
fn a_clean_directory_is_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.json", bundle(json!([])));
    write(
        dir.path(),
        "b.json",
        r#"{"type": "bundle", "id": "bundle--1"}"#,
    );
    write(dir.path(), "notes.txt", "not a bundle, not read");
    let loaded = load(dir.path());
    assert!(loaded.batch.snapshot);
    assert_eq!(loaded.files, 2);
    assert!(loaded.batch.rejects.is_empty());
    assert!(loaded.batch.indicators.is_empty());
}

#[test]
fn duplicates_identical_are_merged_different_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tlp = json!({"type": "marking-definition", "id": TLP_AMBER_V1, "definition_type": "tlp",
                     "definition": {"tlp": "amber"}});
    let author = json!({"type": "identity", "id": AUTHOR, "name": "Example CERT"});
    write(
        d,
        "1.json",
        bundle(json!([
            tlp, author,
            {"type": "indicator", "id": "indicator--a", "name": "old", "pattern": "[ipv4-addr:value = '192.0.2.10']"},
            {"type": "indicator", "id": "indicator--b", "pattern": "[ipv4-addr:value = '192.0.2.11']"},
            {"type": "indicator", "id": "indicator--c", "pattern": "[ipv4-addr:value = '192.0.2.12']"}
        ])),
    );
    // A differing copy of an object that makes no row replaces it silently.
    let author_again = json!({"type": "identity", "id": AUTHOR, "name": "Example CERT",
                              "modified": "2024-04-01T00:00:00Z"});
    write(
        d,
        "2.json",
        bundle(json!([
            tlp, author_again,
            {"type": "indicator", "id": "indicator--a", "name": "new", "pattern": "[ipv4-addr:value = '192.0.2.10']",
             "object_marking_refs": [TLP_AMBER_V1], "created_by_ref": AUTHOR},
            {"type": "indicator", "id": "indicator--b", "pattern": "[ipv4-addr:value = '192.0.2.11']"},
            {"type": "indicator", "id": "indicator--c", "name": "now broken"}
        ])),
    );
    let loaded = load(d);
    let p2 = d.join("2.json").display().to_string();
    let p1 = d.join("1.json").display().to_string();
    // Versions are counted apart from rejects: only the broken one is rejected.
    let _ = p1;
    assert_eq!(
        rejects(&loaded.batch),
        [format!("{p2}: indicator--c: pattern missing")]
    );
    assert_eq!(loaded.skipped.get(stix_bundle::SUPERSEDED), Some(&2));
    let ind = &loaded.batch.indicators;
    assert_eq!(ind.len(), 2);
    assert_eq!(
        (ind[0].ext_id.as_str(), ind[0].name.as_str()),
        ("indicator--a", "new")
    );
    assert_eq!(ind[0].markings, ["TLP:AMBER"]);
    assert_eq!(ind[0].created_by.as_deref(), Some("Example CERT"));
    assert_eq!(ind[1].ext_id, "indicator--b");
    assert_eq!(
        loaded.skipped.get("identity"),
        Some(&1),
        "the same identity twice counts once"
    );
}

#[test]
fn the_latest_modified_wins_whatever_the_file_order() {
    // A newer, revoked version read first must not lose to an older live copy
    // read after it (real bundles repeat ids across files).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "1.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--a", "name": "v2", "revoked": true,
             "modified": "2024-06-01T00:00:00.000Z", "pattern": "[ipv4-addr:value = '192.0.2.10']"}
        ])),
    );
    write(
        d,
        "2.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--a", "name": "v1",
             "modified": "2024-01-01T00:00:00Z", "pattern": "[ipv4-addr:value = '192.0.2.10']"},
            {"type": "indicator", "id": "indicator--b", "name": "b1",
             "modified": "2024-01-01T00:00:00Z", "pattern": "[ipv4-addr:value = '192.0.2.11']"}
        ])),
    );
    write(
        d,
        "3.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--b", "name": "b2",
             "modified": "2024-02-01T00:00:00+01:00", "pattern": "[ipv4-addr:value = '192.0.2.11']"}
        ])),
    );
    let loaded = load(d);
    let by_id: Vec<(&str, &str)> = loaded
        .batch
        .indicators
        .iter()
        .map(|i| (i.ext_id.as_str(), i.name.as_str()))
        .collect();
    assert_eq!(by_id, [("indicator--a", "v2"), ("indicator--b", "b2")]);
    assert!(loaded.batch.indicators[0].revoked);
    assert!(
        loaded.batch.rejects.is_empty(),
        "{:?}",
        rejects(&loaded.batch)
    );
    assert_eq!(loaded.skipped.get(stix_bundle::SUPERSEDED), Some(&2));
}

#[test]
fn definitions_resolve_across_files_and_tlp2_objects_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "a/indicators.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--x", "pattern": "[ipv4-addr:value = '192.0.2.20']",
             "object_marking_refs": ["marking-definition--custom-tlp2"], "created_by_ref": AUTHOR}
        ])),
    );
    write(
        d,
        "z/definitions.json",
        bundle(json!([
            {"type": "identity", "id": AUTHOR, "name": "Example CERT"},
            {"type": "marking-definition", "id": "marking-definition--custom-tlp2", "name": "whatever",
             "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                 {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}
        ])),
    );
    let loaded = load(d);
    let row = &loaded.batch.indicators[0];
    assert_eq!(row.markings, ["TLP:AMBER+STRICT"]);
    assert_eq!(row.created_by.as_deref(), Some("Example CERT"));
    assert_eq!(row.extra["file"], "a/indicators.json");
}

#[test]
fn output_is_deterministic_and_follows_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, n) in [("c.json", 3), ("a.json", 1), ("b/inner.json", 2)] {
        write(
            d,
            name,
            bundle(json!([
                {"type": "indicator", "id": format!("indicator--{n}"),
                 "pattern": format!("[ipv4-addr:value = '192.0.2.{n}']")},
                {"type": "domain-name", "id": format!("domain-name--{n}"), "value": format!("d{n}.example"),
                 "resolves_to_refs": [format!("ipv4-addr--{n}")]}
            ])),
        );
    }
    let first = load(d);
    let second = load(d);
    assert_eq!(first.batch.indicators, second.batch.indicators);
    assert_eq!(first.batch.observables, second.batch.observables);
    assert_eq!(first.batch.relationships, second.batch.relationships);
    assert_eq!(first.fingerprint, second.fingerprint);
    let ids: Vec<&str> = first
        .batch
        .indicators
        .iter()
        .map(|i| i.ext_id.as_str())
        .collect();
    assert_eq!(ids, ["indicator--1", "indicator--2", "indicator--3"]);
}

#[test]
fn fingerprint_changes_with_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.json", bundle(json!([])));
    let config = cfg(d);
    let before = stix_bundle::fingerprint(&config).unwrap();
    assert_eq!(before, load(d).fingerprint);
    write(
        d,
        "a.json",
        bundle(json!([{"type": "identity", "id": AUTHOR, "name": "x"}])),
    );
    let edited = stix_bundle::fingerprint(&config).unwrap();
    assert_ne!(before, edited);
    write(d, "b.json", bundle(json!([])));
    assert_ne!(edited, stix_bundle::fingerprint(&config).unwrap());
    // Files the source does not read do not count.
    let with_b = stix_bundle::fingerprint(&config).unwrap();
    write(d, "README.txt", "notes");
    assert_eq!(with_b, stix_bundle::fingerprint(&config).unwrap());
}

#[test]
fn a_missing_path_is_fatal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("intel");
    let err = stix_bundle::load(&cfg(&missing), "local-stix").unwrap_err();
    assert!(matches!(err, FileSourceError::Missing { .. }));
    assert_eq!(err.to_string(), format!("{}: not found", missing.display()));
}

#[test]
fn hostile_input_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    write(d, "deep.json", &deep);
    write(d, "empty.json", "");
    write(d, "nul.json", b"\0\0\0");
    write(
        d,
        "weird.json",
        bundle(json!([
            {"type": "indicator", "id": "indicator--w", "pattern": "[x:y = 'z']", "confidence": "high",
             "labels": "not-a-list", "object_marking_refs": [1, 2], "valid_from": 7, "revoked": "yes",
             "x_opencti_score": 1e300},
            {"type": "file", "id": "file--w", "hashes": {"MD5": 5, "SHA-256": ""}, "name": ""},
            {"type": "domain-name", "id": "domain-name--w", "value": "w.example", "resolves_to_refs": "x"},
            {"type": "marking-definition", "id": "marking-definition--w", "definition": 3}
        ])),
    );
    let loaded = load(d);
    assert_eq!(loaded.batch.indicators.len(), 1);
    let w = &loaded.batch.indicators[0];
    assert_eq!((w.confidence, w.score, w.revoked), (None, None, false));
    assert!(w.labels.is_empty() && w.markings.is_empty() && w.valid_from.is_none());
    assert_eq!(
        loaded.batch.observables.len(),
        1,
        "file--w has nothing usable"
    );
    assert!(loaded.batch.relationships.is_empty());
    assert!(rejects(&loaded.batch)
        .iter()
        .any(|r| r.contains("deep.json: not JSON") && r.contains("recursion limit")));
}
