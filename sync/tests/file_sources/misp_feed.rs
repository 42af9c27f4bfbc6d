use std::path::Path;

use matcher::{Kind, RecordKind};
use serde_json::{json, Value};
use store::config::MispFeedConfig;
use store::sources::{misp_feed, FileSourceError, Loaded};
use store::IndicatorRow;

use super::{rejects, write};

const EV1: &str = "5a1b0c2d-0000-4000-8000-000000000001";
const EV2: &str = "5a1b0c2d-0000-4000-8000-000000000002";

fn cfg(path: &Path, to_ids_only: bool) -> MispFeedConfig {
    MispFeedConfig {
        path: path.to_path_buf(),
        to_ids_only,
    }
}

fn manifest(dir: &Path, uuids: &[&str]) {
    let mut m = serde_json::Map::new();
    for u in uuids {
        m.insert(
            u.to_string(),
            json!({"info": "x", "Orgc": {"name": "Example CERT", "uuid": "o"}, "Tag": [],
                   "date": "2024-03-01", "analysis": "2", "threat_level_id": "1", "timestamp": "1709287200"}),
        );
    }
    write(
        dir,
        "manifest.json",
        serde_json::to_string(&Value::Object(m)).unwrap(),
    );
}

fn attr(uuid: &str, ty: &str, value: &str, to_ids: Value) -> Value {
    json!({"uuid": uuid, "type": ty, "category": "Network activity", "value": value,
           "to_ids": to_ids, "deleted": false, "comment": "", "timestamp": "1709290800"})
}

/// Event 1: the feed generator's shape (numbers as strings, `"0"`/`"1"` flags).
fn event1() -> Value {
    json!({"Event": {
        "id": "431", "uuid": EV1, "info": "Campaign X", "threat_level_id": "1", "analysis": "2",
        "timestamp": "1709290000", "published": true, "date": "2024-03-01",
        "Orgc": {"name": "Example CERT", "uuid": "org-1"},
        "Tag": [{"name": "tlp:amber", "colour": "#FFC000"}, {"name": "campaign:x"}],
        "Attribute": [
            {"uuid": "a-ip-dst", "type": "ip-dst", "category": "Network activity", "value": "203.0.113.7",
             "to_ids": "1", "deleted": "0", "comment": "C2", "timestamp": "1709290800",
             "Tag": [{"name": "c2"}, {"name": "tlp:red"}]},
            attr("a-domain-ip", "domain|ip", "evil.example|198.51.100.9", json!(true)),
            attr("a-ip-port", "ip-dst|port", "203.0.113.8|8443", json!(1)),
            attr("a-ip-src-cidr", "ip-src", "198.51.100.0/24", json!(true)),
            attr("a-host-port", "hostname|port", "c2.evil.example|443", json!(true)),
            attr("a-file-sha256", "filename|sha256",
                 "invoice.exe|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", json!(true)),
            attr("a-regkey", "regkey|value", "HKLM\\Software\\Run|evil.exe", json!(true)),
            attr("a-sample", "malware-sample", "sample.bin|d41d8cd98f00b204e9800998ecf8427e", json!(true)),
            attr("a-ua", "user-agent", "EvilBot/1.0", json!("0")),
            {"uuid": "a-deleted", "type": "ip-dst", "value": "203.0.113.99", "to_ids": true, "deleted": true},
            attr("a-yara-1", "yara", "rule a { condition: true }", json!(true)),
            attr("a-yara-2", "yara", "rule b { condition: true }", json!(true)),
            attr("a-comment", "comment", "just context", json!(false)),
            attr("a-bad-composite", "filename|md5", "no-pipe-here", json!(true))
        ],
        "Object": [
            {"name": "file", "uuid": "obj-1", "meta-category": "file", "deleted": false,
             "Attribute": [
                {"uuid": "o-md5", "type": "md5", "object_relation": "md5", "category": "Payload delivery",
                 "value": "d41d8cd98f00b204e9800998ecf8427e", "to_ids": true, "timestamp": "1709290801"},
                {"uuid": "o-name", "type": "filename", "object_relation": "filename",
                 "value": "dropper.exe", "to_ids": false}
             ]},
            {"name": "domain-ip", "uuid": "obj-2", "deleted": "1",
             "Attribute": [{"uuid": "o-gone", "type": "domain", "value": "gone.example", "to_ids": true}]}
        ]
    }})
}

/// Event 2: `{"response": [...]}`-wrapped, numbers as numbers, lowercase `orgc`.
fn event2() -> Value {
    json!({"response": [{"Event": {
        "id": 432, "uuid": EV2, "info": "Phishing wave", "threat_level_id": 2, "timestamp": 1709300000,
        "orgc": {"name": "Other Org"},
        "Tag": [{"name": "TLP:GREEN"}],
        "Attribute": [
            {"uuid": "b-ipv6", "type": "ip-dst", "value": "2001:db8::53", "to_ids": 1, "timestamp": 1709300001},
            {"uuid": "b-email", "type": "email-src", "value": "phish@evil.test", "to_ids": true},
            {"uuid": "b-url", "type": "url", "value": "http://evil.test/login", "to_ids": 0}
        ]
    }}]})
}

fn feed(dir: &Path) {
    manifest(dir, &[EV1, EV2]);
    write(
        dir,
        &format!("{EV1}.json"),
        serde_json::to_string_pretty(&event1()).unwrap(),
    );
    write(
        dir,
        &format!("{EV2}.json"),
        serde_json::to_string(&event2()).unwrap(),
    );
}

fn load(dir: &Path, to_ids_only: bool) -> Loaded {
    misp_feed::load(&cfg(dir, to_ids_only), "local-feed").unwrap()
}

fn row<'a>(loaded: &'a Loaded, uuid: &str) -> &'a IndicatorRow {
    loaded
        .batch
        .indicators
        .iter()
        .find(|r| r.ext_id == uuid)
        .unwrap_or_else(|| panic!("{uuid} not imported"))
}

fn v(kind: Kind, value: &str) -> (Kind, String) {
    (kind, value.to_string())
}

#[test]
fn attributes_become_indicator_rows_with_event_context() {
    let dir = tempfile::tempdir().unwrap();
    feed(dir.path());
    let loaded = load(dir.path(), true);
    assert_eq!(loaded.files, 3);

    let ip = row(&loaded, "a-ip-dst");
    assert_eq!(ip.record_kind, RecordKind::Attribute);
    assert_eq!(ip.name, "ip-dst: 203.0.113.7");
    assert_eq!(ip.description.as_deref(), Some("Campaign X"));
    assert_eq!(ip.values, [v(Kind::Ipv4, "203.0.113.7")]);
    assert_eq!(ip.labels, ["campaign:x", "c2"]);
    assert_eq!(ip.markings, ["TLP:AMBER", "TLP:RED"]);
    assert_eq!(ip.created_by.as_deref(), Some("Example CERT"));
    assert_eq!(ip.updated_at.as_deref(), Some("2024-03-01T11:00:00Z"));
    assert_eq!(ip.pattern, None);
    assert_eq!(ip.link, None);
    let extra = &ip.extra;
    assert_eq!(extra["event_id"], "431");
    assert_eq!(extra["event_uuid"], EV1);
    assert_eq!(extra["event_info"], "Campaign X");
    assert_eq!(extra["org"], "Example CERT");
    assert_eq!(extra["threat_level_id"], "1");
    assert_eq!(extra["category"], "Network activity");
    assert_eq!(extra["type"], "ip-dst");
    assert_eq!(extra["value"], "203.0.113.7");
    assert_eq!(extra["to_ids"], true);
    assert_eq!(extra["comment"], "C2");

    // Event 2: numbers as numbers, wrapped in `response`, lowercase `orgc`.
    let v6 = row(&loaded, "b-ipv6");
    assert_eq!(v6.values, [v(Kind::Ipv6, "2001:db8::53")]);
    assert_eq!(v6.extra["event_id"], "432");
    assert_eq!(v6.extra["threat_level_id"], "2");
    assert_eq!(v6.created_by.as_deref(), Some("Other Org"));
    assert_eq!(v6.markings, ["TLP:GREEN"]);
    assert!(v6.labels.is_empty());
    assert_eq!(
        row(&loaded, "b-email").values,
        [v(Kind::Email, "phish@evil.test")]
    );

    // Object attributes carry their object.
    let md5 = row(&loaded, "o-md5");
    assert_eq!(
        md5.values,
        [v(Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")]
    );
    assert_eq!(md5.extra["object_name"], "file");
    assert_eq!(md5.extra["object_uuid"], "obj-1");
    assert_eq!(md5.extra["object_relation"], "md5");
}

#[test]
fn composite_types_are_split() {
    let dir = tempfile::tempdir().unwrap();
    feed(dir.path());
    let loaded = load(dir.path(), true);
    assert_eq!(
        row(&loaded, "a-domain-ip").values,
        [
            v(Kind::Domain, "evil.example"),
            v(Kind::Ipv4, "198.51.100.9")
        ]
    );
    assert_eq!(
        row(&loaded, "a-ip-port").values,
        [v(Kind::Ipv4, "203.0.113.8")]
    );
    assert_eq!(
        row(&loaded, "a-ip-src-cidr").values,
        [v(Kind::Ipv4, "198.51.100.0/24")]
    );
    assert_eq!(
        row(&loaded, "a-host-port").values,
        [v(Kind::Domain, "c2.evil.example")]
    );
    assert_eq!(
        row(&loaded, "a-file-sha256").values,
        // The file name is context, not a key of its own.
        [v(
            Kind::Sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )]
    );
    assert_eq!(
        row(&loaded, "a-regkey").values,
        [v(Kind::Regkey, "HKLM\\Software\\Run")]
    );
    assert_eq!(
        row(&loaded, "a-sample").values,
        [v(Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")]
    );
    // The name keeps the whole MISP value.
    assert_eq!(
        row(&loaded, "a-ip-port").name,
        "ip-dst|port: 203.0.113.8|8443"
    );
}

#[test]
fn to_ids_deleted_and_unmatchable_types() {
    let dir = tempfile::tempdir().unwrap();
    feed(dir.path());
    let p1 = dir.path().join(format!("{EV1}.json")).display().to_string();

    let strict = load(dir.path(), true);
    let ids: Vec<&str> = strict
        .batch
        .indicators
        .iter()
        .map(|r| r.ext_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "a-ip-dst",
            "a-domain-ip",
            "a-ip-port",
            "a-ip-src-cidr",
            "a-host-port",
            "a-file-sha256",
            "a-regkey",
            "a-sample",
            "o-md5",
            "b-ipv6",
            "b-email"
        ]
    );
    assert_eq!(
        strict.skipped["to_ids=0"], 4,
        "a-ua, a-comment, o-name, b-url"
    );
    assert_eq!(
        strict.skipped["deleted attribute"], 2,
        "a-deleted and the deleted object's"
    );
    assert_eq!(
        rejects(&strict.batch),
        [
            format!("{p1}: a-bad-composite: composite type filename|md5 wants `a|b`, got `no-pipe-here`"),
            format!("{p1}: a-yara-1: MISP type yara is not matchable (2 attributes skipped)"),
        ]
    );
    assert!(strict.batch.snapshot);

    let all = load(dir.path(), false);
    for uuid in ["a-ua", "o-name", "b-url"] {
        row(&all, uuid);
    }
    assert_eq!(
        row(&all, "a-ua").values,
        [v(Kind::UserAgent, "EvilBot/1.0")]
    );
    assert_eq!(row(&all, "a-ua").extra["to_ids"], false);
    assert!(all
        .batch
        .indicators
        .iter()
        .all(|r| r.ext_id != "a-deleted" && r.ext_id != "o-gone"));
    assert_eq!(
        rejects(&all.batch),
        [
            format!("{p1}: a-bad-composite: composite type filename|md5 wants `a|b`, got `no-pipe-here`"),
            format!("{p1}: a-comment: MISP type comment is not matchable (1 attribute skipped)"),
            format!("{p1}: a-yara-1: MISP type yara is not matchable (2 attributes skipped)"),
        ]
    );
}

#[test]
fn a_missing_event_file_is_rejected_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev3 = "5a1b0c2d-0000-4000-8000-000000000003";
    manifest(d, &[EV1, EV2, ev3]);
    write(
        d,
        &format!("{EV1}.json"),
        serde_json::to_string(&event1()).unwrap(),
    );
    write(
        d,
        &format!("{EV2}.json"),
        serde_json::to_string(&event2()).unwrap(),
    );
    let loaded = load(d, true);
    let missing = d.join(format!("{ev3}.json")).display().to_string();
    assert!(rejects(&loaded.batch).contains(&format!(
        "{missing}: event listed in manifest.json but its file is missing"
    )));
    assert!(
        !loaded.batch.snapshot,
        "the missing event's attributes must not be deleted"
    );
    row(&loaded, "a-ip-dst");
    row(&loaded, "b-ipv6");
}

#[test]
fn a_missing_manifest_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!("{EV1}.json"),
        serde_json::to_string(&event1()).unwrap(),
    );
    let err = misp_feed::load(&cfg(dir.path(), true), "local-feed").unwrap_err();
    assert!(matches!(err, FileSourceError::Missing { .. }));
    assert_eq!(
        err.to_string(),
        format!("{}: not found", dir.path().join("manifest.json").display())
    );
    let err = misp_feed::load(&cfg(&dir.path().join("nope"), true), "local-feed").unwrap_err();
    assert!(matches!(err, FileSourceError::Missing { .. }));
}

#[test]
fn the_manifest_itself_may_be_given_as_the_path() {
    let dir = tempfile::tempdir().unwrap();
    feed(dir.path());
    let via_dir = load(dir.path(), true);
    let via_manifest = load(&dir.path().join("manifest.json"), true);
    assert_eq!(via_dir.batch.indicators, via_manifest.batch.indicators);
}

#[test]
fn malformed_event_files_and_hostile_manifest_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ev3 = "5a1b0c2d-0000-4000-8000-000000000003";
    let ev4 = "5a1b0c2d-0000-4000-8000-000000000004";
    let ev5 = "5a1b0c2d-0000-4000-8000-000000000005";
    let mut m = serde_json::Map::new();
    for k in [EV1, ev3, ev4, ev5, "../../etc/passwd"] {
        m.insert(k.to_string(), json!({}));
    }
    write(
        d,
        "manifest.json",
        serde_json::to_string(&Value::Object(m)).unwrap(),
    );
    write(
        d,
        &format!("{EV1}.json"),
        serde_json::to_string(&event1()).unwrap(),
    );
    write(d, &format!("{ev3}.json"), "{\"Event\": {\"uuid\": \n");
    write(d, &format!("{ev4}.json"), r#"{"Attribute": []}"#);
    write(
        d,
        &format!("{ev5}.json"),
        serde_json::to_string(&json!({"Event": {"uuid": ev5, "Attribute": [
            "not an object",
            {"type": "ip-dst", "value": "192.0.2.1", "to_ids": true},
            {"uuid": "c-notype", "value": "192.0.2.2", "to_ids": true},
            {"uuid": "c-novalue", "type": "ip-dst", "to_ids": true},
            {"uuid": "c-unknown", "type": "made-up-type", "value": "x", "to_ids": true},
            {"uuid": "c-empty", "type": "ip-dst|port", "value": "|80", "to_ids": true},
            {"uuid": "c-ok", "type": "ip-dst", "value": "192.0.2.3", "to_ids": true}
        ]}}))
        .unwrap(),
    );
    let loaded = load(d, true);
    let p = |u: &str| d.join(format!("{u}.json")).display().to_string();
    let got = rejects(&loaded.batch);
    let expected = [
        format!(
            "{}: `../../etc/passwd`: not an event uuid",
            d.join("manifest.json").display()
        ),
        format!(
            "{}: not JSON at line 2 column 0: EOF while parsing a value",
            p(ev3)
        ),
        format!("{}: not a MISP event: no `Event` object", p(ev4)),
        format!("{}: Attribute[0]: not a JSON object", p(ev5)),
        format!("{}: Attribute[1]: uuid missing", p(ev5)),
        format!("{}: c-notype: type missing", p(ev5)),
        format!("{}: c-novalue: value missing", p(ev5)),
        format!("{}: c-empty: empty value", p(ev5)),
    ];
    for e in &expected {
        assert!(got.contains(e), "missing reject {e}\n in {got:#?}");
    }
    assert!(got.contains(&format!(
        "{}: c-unknown: unknown MISP type made-up-type (1 attribute skipped)",
        p(ev5)
    )));
    assert!(!loaded.batch.snapshot);
    row(&loaded, "c-ok");
    row(&loaded, "a-ip-dst");
    assert!(!d.join("../../etc/passwd.json").exists());
}

#[test]
fn duplicate_attribute_uuids_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    manifest(d, &[EV1, EV2]);
    let ev = |uuid: &str, value: &str| {
        json!({"Event": {"uuid": uuid, "info": "e", "Attribute": [
            {"uuid": "same", "type": "domain", "value": value, "to_ids": true}]}})
    };
    write(
        d,
        &format!("{EV1}.json"),
        ev(EV1, "old.example").to_string(),
    );
    write(
        d,
        &format!("{EV2}.json"),
        ev(EV2, "new.example").to_string(),
    );
    let loaded = load(d, true);
    assert_eq!(loaded.batch.indicators.len(), 1);
    assert_eq!(
        loaded.batch.indicators[0].values,
        [v(Kind::Domain, "new.example")]
    );
    assert_eq!(
        rejects(&loaded.batch),
        [format!(
            "{}: same: duplicate attribute uuid: this one replaces the one in {}",
            d.join(format!("{EV2}.json")).display(),
            d.join(format!("{EV1}.json")).display()
        )]
    );
}

#[test]
fn deterministic_and_fingerprinted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    feed(d);
    let a = load(d, true);
    let b = load(d, true);
    assert_eq!(a.batch.indicators, b.batch.indicators);
    assert_eq!(a.batch.rejects, b.batch.rejects);
    assert_eq!(
        a.fingerprint,
        misp_feed::fingerprint(&cfg(d, true)).unwrap()
    );
    assert_ne!(
        a.fingerprint,
        load(d, false).fingerprint,
        "the config is part of it"
    );

    let mut changed = event2();
    changed["response"][0]["Event"]["Attribute"][0]["value"] = json!("2001:db8::54");
    write(
        d,
        &format!("{EV2}.json"),
        serde_json::to_string(&changed).unwrap(),
    );
    assert_ne!(
        a.fingerprint,
        misp_feed::fingerprint(&cfg(d, true)).unwrap()
    );
}
