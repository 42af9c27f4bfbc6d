//! The per-alert path as integratord 4.14 runs it: copies of the binary named
//! `custom-intelmatch`, `custom-opencti` and `custom-misp` under
//! `<home>/integrations/`, started with argv[0] `integrations`, a temp alert
//! file, api_key, hook_url, `""`, the options file, `10`, `3` and the literal
//! `> /dev/null 2>&1`, no `INTELMATCH_CONFIG`, stdin from /dev/null. The queue
//! is a real AF_UNIX datagram socket bound by the test, and every payload is
//! run through the published rule packs with the analysisd-style evaluator.
//!
//! `.ci/run` also runs this file against the release binary (`--release`).
//! The intel uses public-looking values (no documentation ranges), so the
//! default extraction settings apply.

#[path = "support/analysisd_rules.rs"]
mod analysisd_rules;

use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use analysisd_rules::{assert_fires, assert_no_alert, MISJE, MISP_README, SOCFORTRESS_OPENCTI};
use serde_json::{json, Value};

const NATIVE_PACK: &str = include_str!("../wazuh/rules/intelmatch_rules.xml");
const SECRET: &str = "opencti-token-7f3a9c1e5b";

const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--10000000-0000-4000-8000-000000000001","objects":[
 {"type":"identity","spec_version":"2.1","id":"identity--10000000-0000-4000-8000-0000000000aa","name":"Northwind CTI","identity_class":"organization","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--10000000-0000-4000-8000-000000000001","name":"Phishing kit domain","pattern":"[domain-name:value = 'login-verify-secure.net']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","confidence":70,"x_opencti_score":85,"labels":["phishing"],"created_by_ref":"identity--10000000-0000-4000-8000-0000000000aa","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
 {"type":"indicator","spec_version":"2.1","id":"indicator--10000000-0000-4000-8000-000000000002","name":"Staged C2","pattern":"[ipv4-addr:value = '91.215.85.12'] AND [domain-name:value = 'staging-c2.net']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","x_opencti_score":70},
 {"type":"indicator","spec_version":"2.1","id":"indicator--10000000-0000-4000-8000-000000000003","name":"Cobalt Strike team server","pattern":"[ipv4-addr:value = '185.220.101.47']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","x_opencti_score":90,"labels":["c2"]},
 {"type":"domain-name","spec_version":"2.1","id":"domain-name--10000000-0000-4000-8000-000000000010","value":"cdn-updates.xyz"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--10000000-0000-4000-8000-000000000004","name":"Beacon domain (sigma)","pattern":"title: beacon\ndetection: {sel: {query: cdn-updates.xyz}}","pattern_type":"sigma","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","x_opencti_score":60},
 {"type":"relationship","spec_version":"2.1","id":"relationship--10000000-0000-4000-8000-000000000020","relationship_type":"based-on","source_ref":"indicator--10000000-0000-4000-8000-000000000004","target_ref":"domain-name--10000000-0000-4000-8000-000000000010","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"domain-name","spec_version":"2.1","id":"domain-name--10000000-0000-4000-8000-000000000011","value":"resolver-relay.org","resolves_to_refs":["ipv4-addr--10000000-0000-4000-8000-000000000012"]},
 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--10000000-0000-4000-8000-000000000012","value":"185.100.87.41"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--10000000-0000-4000-8000-000000000005","name":"Relay IP","pattern":"[ipv4-addr:value = '185.100.87.41']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","x_opencti_score":75},
 {"type":"relationship","spec_version":"2.1","id":"relationship--10000000-0000-4000-8000-000000000021","relationship_type":"based-on","source_ref":"indicator--10000000-0000-4000-8000-000000000005","target_ref":"ipv4-addr--10000000-0000-4000-8000-000000000012","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"}
]}"#;

struct Wazuh {
    dir: tempfile::TempDir,
    queue: Option<UnixDatagram>,
}

impl Wazuh {
    /// A manager home with synced intel and the three integration copies.
    fn new() -> Wazuh {
        let w = Wazuh::bare();
        let root = w.dir.path();
        std::fs::create_dir_all(root.join("intel/stix")).unwrap();
        std::fs::write(root.join("intel/stix/bundle.json"), BUNDLE).unwrap();
        let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/intel/misp-feed");
        std::fs::create_dir_all(root.join("intel/misp-feed")).unwrap();
        for f in std::fs::read_dir(feed).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(
                &f,
                root.join("intel/misp-feed").join(f.file_name().unwrap()),
            )
            .unwrap();
        }
        let out = Command::new(env!("CARGO_BIN_EXE_intelmatch"))
            .arg("--config")
            .arg(w.config())
            .args(["-q", "sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        w
    }

    /// A manager home without any intel synced.
    fn bare() -> Wazuh {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ossec");
        for d in ["queue/sockets", "logs", "var/run", "integrations", "tmp"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                r#"data_dir = "data"
[wazuh]
home = "{}"
[[sources]]
name = "opencti"
type = "stix"
path = "intel/stix"
[[sources]]
name = "misp"
type = "misp-feed"
path = "intel/misp-feed"
"#,
                home.display()
            ),
        )
        .unwrap();
        for name in ["custom-intelmatch", "custom-opencti", "custom-misp"] {
            std::fs::copy(
                env!("CARGO_BIN_EXE_intelmatch"),
                home.join("integrations").join(name),
            )
            .unwrap();
        }
        let queue = UnixDatagram::bind(home.join("queue/sockets/queue")).unwrap();
        queue.set_nonblocking(true).unwrap();
        Wazuh {
            dir,
            queue: Some(queue),
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("ossec")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("intelmatch.toml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home().join("logs/integrations.log")).unwrap_or_default()
    }

    /// Writes the alert and options files as integratord does and runs `name`.
    fn call(&self, name: &str, alert: &[u8]) -> (ExitStatus, Vec<String>) {
        self.call_with(name, alert, json!({"config": self.config()}), false)
    }

    fn call_with(
        &self,
        name: &str,
        alert: &[u8],
        options: Value,
        debug: bool,
    ) -> (ExitStatus, Vec<String>) {
        let tmp = self.home().join("tmp");
        let alert_file = tmp.join(format!("{name}-1732097702-123456789.alert"));
        let options_file = tmp.join(format!("{name}-1732097702-123456789.options"));
        std::fs::write(&alert_file, alert).unwrap();
        std::fs::write(&options_file, options.to_string()).unwrap();
        let args = [
            alert_file.display().to_string(),
            SECRET.to_string(),
            "https://opencti.northwind.io/graphql".to_string(),
            if debug { "debug" } else { "" }.to_string(),
            options_file.display().to_string(),
            "10".to_string(),
            "3".to_string(),
        ];
        let mut cmd = Command::new(self.home().join("integrations").join(name));
        cmd.arg0("integrations")
            .args(&args)
            .current_dir(self.home().join("integrations"))
            .env_remove("INTELMATCH_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if !debug {
            cmd.arg("> /dev/null 2>&1");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.stdout.is_empty(),
            "stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status, self.drain())
    }

    fn drain(&self) -> Vec<String> {
        let Some(q) = &self.queue else {
            return Vec::new();
        };
        let mut got = Vec::new();
        let mut buf = vec![0u8; 70_000];
        while let Ok(n) = q.recv(&mut buf) {
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        got
    }
}

/// analysisd's split of a queue message: the unescaped location and the payload.
fn analysisd_split(datagram: &str) -> (String, Value) {
    let body = datagram.strip_prefix("1:").expect("queue byte 1");
    let bytes = body.as_bytes();
    let mut i = 0;
    let end = loop {
        match bytes[i] {
            b'|' => i += 2,
            b':' => break i,
            _ => i += 1,
        }
    };
    let mut location = String::new();
    let mut chars = body[..end].chars();
    while let Some(c) = chars.next() {
        location.push(if c == '|' {
            chars.next().unwrap_or('|')
        } else {
            c
        });
    }
    let payload = &body[end + 1..];
    assert!(payload.starts_with("{\""), "{payload}");
    assert!(datagram.len() <= 65_535, "{} bytes", datagram.len());
    (location, serde_json::from_str(payload).unwrap())
}

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A Sysmon EID 22 alert for `query` answered by `results`, from agent 000.
fn dns_alert(query: &str, results: &str) -> Value {
    let mut a = fixture("sysmon-eid22-cname.json");
    a["agent"] = json!({"id": "000", "name": "wazuh-mgr01"});
    a["data"]["win"]["eventdata"]["queryName"] = json!(query);
    a["data"]["win"]["eventdata"]["queryResults"] = json!(results);
    a
}

/// A Sysmon EID 3 connection to `ip`.
fn connection_alert(ip: &str) -> Value {
    let mut a = fixture("sysmon-eid3-ipv4.json");
    a["data"]["win"]["eventdata"]["destinationIp"] = json!(ip);
    a
}

fn bytes(v: &Value) -> Vec<u8> {
    let mut b = v.to_string().into_bytes();
    b.push(b'\n');
    b
}

fn one_event(w: &Wazuh, name: &str, alert: &Value) -> (String, Value) {
    let (status, got) = w.call(name, &bytes(alert));
    assert!(status.success(), "{status}: {}", w.log());
    assert_eq!(got.len(), 1, "{got:?}\nlog: {}", w.log());
    analysisd_split(&got[0])
}

#[test]
fn native_events_fire_the_native_pack() {
    let w = Wazuh::new();
    let (location, event) = one_event(&w, "custom-intelmatch", &connection_alert("185.220.101.47"));
    assert!(location.ends_with("->intelmatch"), "{location}");
    let m = &event["intelmatch"]["match"];
    assert_eq!(m["method"], "exact");
    assert_eq!(m["value"], "185.220.101.47");
    assert_eq!(event["intelmatch"]["indicator"]["score"], 90);
    assert_eq!(event["intelmatch"]["indicator"]["source"], "opencti");
    assert!(assert_fires(NATIVE_PACK, &event, 117110).contains("Cobalt Strike team server"));

    let (location, event) = one_event(
        &w,
        "custom-intelmatch",
        &dns_alert("portal.login-verify-secure.net", "91.215.85.99;"),
    );
    assert_eq!(location, "intelmatch");
    assert_eq!(event["intelmatch"]["match"]["method"], "parent_domain");
    assert_eq!(
        event["intelmatch"]["match"]["matched"],
        "login-verify-secure.net"
    );
    assert_fires(NATIVE_PACK, &event, 117110);
    for pack in [MISJE, SOCFORTRESS_OPENCTI, MISP_README] {
        assert_no_alert(pack, &event);
    }
}

#[test]
fn locations_are_escaped_for_agents_with_ipv6_and_colons() {
    let w = Wazuh::new();
    let mut alert = connection_alert("185.220.101.47");
    alert["agent"] = json!({"id": "007", "name": "db:replica-02", "ip": "2001:db8:100::25"});
    let (status, got) = w.call("custom-intelmatch", &bytes(&alert));
    assert!(status.success());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("1:[007] (db|:replica-02) 2001|:db8|:100|:|:25->intelmatch:{\""),
        "{}",
        &got[0][..80]
    );
    let (location, _) = analysisd_split(&got[0]);
    assert_eq!(
        location,
        "[007] (db:replica-02) 2001:db8:100::25->intelmatch"
    );

    // Agent 000 (the manager itself) and alerts without agent use the bare tag.
    alert["agent"] = json!({"id": "000", "name": "wazuh-mgr01"});
    let (_, got) = w.call("custom-opencti", &bytes(&alert));
    assert!(got[0].starts_with("1:opencti:{\""), "{}", &got[0][..40]);
    alert.as_object_mut().unwrap().remove("agent");
    let (_, got) = w.call("custom-misp", &bytes(&alert));
    assert!(got.iter().all(|d| d.starts_with("1:misp:{\"")), "{got:?}");
}

/// Issue 23: an observable is evidence for the indicators based on it, never a
/// hit of its own next to them.
#[test]
fn observables_fold_into_their_indicators() {
    let w = Wazuh::new();
    // Its only indicator is a sigma rule: reported with the indicator's name and
    // score, the observable in the provenance (it used to come out bare).
    let (_, event) = one_event(&w, "custom-intelmatch", &dns_alert("cdn-updates.xyz", ""));
    let ind = &event["intelmatch"]["indicator"];
    assert_eq!(ind["name"], "Beacon domain (sigma)", "{event}");
    assert_eq!(ind["score"], 60);
    assert_eq!(ind["record_kind"], "indicator");
    assert_eq!(
        ind["observable"],
        json!({"id": "domain-name--10000000-0000-4000-8000-000000000010",
               "value": "cdn-updates.xyz", "type": "domain-name"})
    );
    assert_fires(NATIVE_PACK, &event, 117103);
    // The indicator's own pattern and its observable hit the same value: one
    // event (it used to be two, the second `record_kind: observable`).
    let (status, got) = w.call(
        "custom-intelmatch",
        &bytes(&connection_alert("185.100.87.41")),
    );
    assert!(status.success());
    assert_eq!(got.len(), 1, "{got:#?}");
    let (_, event) = analysisd_split(&got[0]);
    assert_eq!(event["intelmatch"]["indicator"]["name"], "Relay IP");
}

#[test]
fn custom_opencti_fires_both_opencti_packs() {
    let w = Wazuh::new();
    let cases = [
        (
            "indicator",
            dns_alert("login-verify-secure.net", ""),
            100212,
        ),
        ("compound", connection_alert("91.215.85.12"), 100215),
        // A subdomain is reported as a partial match, as misje's script did.
        (
            "subdomain",
            dns_alert("portal.login-verify-secure.net", ""),
            100215,
        ),
        // An observable reports the (sigma) indicator based on it.
        ("observable", dns_alert("cdn-updates.xyz", ""), 100212),
        ("related", dns_alert("resolver-relay.org", ""), 100214),
    ];
    for (name, alert, rule) in cases {
        let (location, event) = one_event(&w, "custom-opencti", &alert);
        assert!(location.ends_with("opencti"), "{name}: {location}");
        let d = assert_fires(MISJE, &event, rule);
        assert!(!d.is_empty(), "{name}");
        let value = event["opencti"]["value"].as_str().unwrap().to_string();
        assert!(
            !event["opencti"]["id"].as_str().unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            assert_fires(SOCFORTRESS_OPENCTI, &event, 100625),
            format!("OpenCTI - IoC found in Threat Intel - {value}"),
            "{name}"
        );
        // `source` context copied from the alert.
        assert_eq!(
            event["opencti"]["source"]["alert_id"], alert["id"],
            "{name}: {event}"
        );
    }
}

#[test]
fn custom_misp_fires_the_misp_pack() {
    let w = Wazuh::new();
    let mut alert = fixture("sshd-auth-failed.json");
    alert["data"]["srcip"] = json!("194.26.29.113");
    let (location, event) = one_event(&w, "custom-misp", &alert);
    assert!(location.ends_with("misp"), "{location}");
    assert!(event.get("integration").is_none(), "{event}");
    assert_eq!(event["misp"]["value"], "194.26.29.113");
    let d = assert_fires(MISP_README, &event, 100622);
    assert!(d.ends_with("Attribute: 194.26.29.113"), "{d}");
}

#[test]
fn a_missing_index_is_one_error_event_a_minute_in_the_profile_shape() {
    let w = Wazuh::bare();
    let alert = bytes(&connection_alert("185.220.101.47"));
    let (status, got) = w.call("custom-opencti", &alert);
    assert_eq!(status.code(), Some(1));
    assert_eq!(got.len(), 1, "{got:?}");
    let (location, event) = analysisd_split(&got[0]);
    assert_eq!(location, "opencti");
    assert_fires(MISJE, &event, 100211);
    assert_fires(SOCFORTRESS_OPENCTI, &event, 100624);
    assert!(w.log().contains("run `intelmatch sync`"), "{}", w.log());

    // The next alert within the minute only logs.
    let (status, got) = w.call("custom-opencti", &alert);
    assert_eq!(status.code(), Some(1));
    assert!(got.is_empty(), "{got:?}");

    // Each profile throttles on its own and speaks its own shape.
    let (_, got) = w.call("custom-misp", &alert);
    let (_, event) = analysisd_split(&got[0]);
    assert_fires(MISP_README, &event, 100621);
    let (_, got) = w.call("custom-intelmatch", &alert);
    let (_, event) = analysisd_split(&got[0]);
    assert_fires(NATIVE_PACK, &event, 117101);
}

#[test]
fn oversized_events_are_cut_to_fit() {
    let w = Wazuh::new();
    let mut alert = connection_alert("185.220.101.47");
    alert["rule"]["description"] = json!("x".repeat(200_000));
    for name in ["custom-intelmatch", "custom-opencti", "custom-misp"] {
        let (status, got) = w.call(name, &bytes(&alert));
        assert!(status.success(), "{name}");
        assert_eq!(got.len(), 1, "{name}");
        let (_, event) = analysisd_split(&got[0]);
        assert!(event.is_object());
    }
}

#[test]
fn own_events_are_not_enriched_again() {
    let w = Wazuh::new();
    let (_, event) = one_event(&w, "custom-intelmatch", &connection_alert("185.220.101.47"));
    // The enrichment comes back as an alert of our rule pack.
    let back = json!({
        "timestamp": "2026-11-20T10:15:03.000+0000",
        "rule": {"id": "117110", "level": 12, "description": "intelmatch", "groups": ["intelmatch", "threat_intel", "intelmatch_hit"]},
        "agent": {"id": "000", "name": "wazuh-mgr01"},
        "id": "1732097703.2000",
        "location": "intelmatch",
        "data": event,
    });
    let (status, got) = w.call("custom-intelmatch", &bytes(&back));
    assert!(status.success());
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn analysisd_down_is_logged_and_exit_zero() {
    let mut w = Wazuh::new();
    w.queue = None;
    std::fs::remove_file(w.home().join("queue/sockets/queue")).unwrap();
    let (status, _) = w.call(
        "custom-intelmatch",
        &bytes(&connection_alert("185.220.101.47")),
    );
    assert!(status.success());
    assert!(
        w.log().contains("is wazuh-analysisd running?"),
        "{}",
        w.log()
    );
}

#[test]
fn hostile_alert_files_fail_cleanly_with_one_log_line() {
    let w = Wazuh::new();
    let mut deep = "{\"a\":".repeat(10_000).into_bytes();
    deep.extend(std::iter::repeat_n(b'}', 10_000));
    let mut big = b"{\"data\":{\"srcip\":\"".to_vec();
    big.resize(50 * 1024 * 1024, b'1');
    big.extend_from_slice(b"\"}}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        (
            "truncated",
            br#"{"rule":{"id":"5716","level":5},"data":{"srcip":"194.26"#.to_vec(),
            "not valid JSON",
        ),
        (
            "not json",
            b"alertdate='2024'\nruleid='5716'\n".to_vec(),
            "not JSON",
        ),
        ("50 MB", big, "larger than"),
        ("nesting", deep, "not valid JSON"),
        (
            "invalid utf-8",
            b"{\"data\":{\"srcip\":\"\xff\xfe\"}}".to_vec(),
            "not valid JSON",
        ),
        (
            "raw NUL byte",
            b"{\"data\":{\"srcip\":\"185.220.101.47\"}}\0\n".to_vec(),
            "not valid JSON",
        ),
    ];
    for (name, alert, reason) in cases {
        let before = w.log().lines().count();
        let (status, got) = w.call("custom-intelmatch", &alert);
        assert_eq!(status.code(), Some(1), "{name}");
        assert!(got.is_empty(), "{name}: {got:?}");
        let log = w.log();
        let new: Vec<&str> = log.lines().skip(before).collect();
        assert_eq!(new.len(), 1, "{name}: {new:?}");
        assert!(new[0].contains(reason), "{name}: {}", new[0]);
        assert!(
            new[0].contains(".alert"),
            "{name}: the line names the file: {}",
            new[0]
        );
    }

    // A missing alert file (integratord unlinks it when the child exits).
    let options = w.home().join("tmp/custom-intelmatch-9-9.options");
    std::fs::write(&options, json!({"config": w.config()}).to_string()).unwrap();
    let gone = w.home().join("tmp/custom-intelmatch-9-9.alert");
    let before = w.log().lines().count();
    let out = Command::new(w.home().join("integrations/custom-intelmatch"))
        .arg0("integrations")
        .arg(&gone)
        .args(["", "", ""])
        .arg(&options)
        .args(["10", "3"])
        .env_remove("INTELMATCH_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = w.log();
    let new: Vec<&str> = log.lines().skip(before).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(
        new[0].contains("not found") && new[0].contains("9-9.alert"),
        "{}",
        new[0]
    );

    // An alert without IoCs is a normal no-hit.
    let (status, got) = w.call("custom-intelmatch", b"{}\n");
    assert!(status.success());
    assert!(got.is_empty());
}

#[test]
fn escaped_nul_bytes_and_huge_arrays_are_matched_within_bounds() {
    let w = Wazuh::new();
    // A JSON-escaped NUL glued to the IoC: no candidate carries it, and the
    // clean value elsewhere still hits.
    let mut alert = connection_alert("185.220.101.47");
    alert["data"]["win"]["eventdata"]["sourceIp"] = json!("185.220.101.47\u{0}");
    alert["data"]["win"]["eventdata"]["commandLine"] = json!("\u{0}".repeat(100_000));
    let (status, got) = w.call("custom-intelmatch", &bytes(&alert));
    assert!(status.success(), "{}", w.log());
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(!got[0].contains("\\u0000"), "{}", got[0]);
    analysisd_split(&got[0]);

    // 200,000 array items (3 MB, under the 4 MiB cap) at a catalog path: read
    // up to the per-alert bounds, one event for the one known value.
    let mut alert = connection_alert("185.220.101.47");
    let many: Vec<Value> = (0..200_000u32)
        .map(|i| json!(format!("45.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)))
        .collect();
    alert["data"]["srcip"] = Value::Array(many);
    let (status, got) = w.call("custom-intelmatch", &bytes(&alert));
    assert!(status.success(), "{}", w.log());
    assert_eq!(got.len(), 1, "{got:?}");
    analysisd_split(&got[0]);
}

#[test]
fn wrong_types_at_catalog_paths_send_nothing_broken() {
    let w = Wazuh::new();
    let mut alert = connection_alert("185.220.101.47");
    let ed = &mut alert["data"]["win"]["eventdata"];
    ed["destinationIp"] = json!({"nested": ["185.220.101.47"]});
    ed["sourceIp"] = json!(42);
    ed["hashes"] = json!(null);
    ed["commandLine"] = json!([1, 2, 3]);
    alert["data"]["srcip"] = json!(true);
    let (status, got) = w.call("custom-intelmatch", &bytes(&alert));
    assert!(status.success());
    for d in got {
        analysisd_split(&d);
    }
}

#[test]
fn older_manager_argv_shapes_work() {
    let w = Wazuh::new();
    let alert_file = w.home().join("tmp/custom-intelmatch-1-2.alert");
    std::fs::write(&alert_file, bytes(&connection_alert("185.220.101.47"))).unwrap();
    let options = w.home().join("tmp/custom-intelmatch-1-2.options");
    std::fs::write(&options, json!({"config": w.config()}).to_string()).unwrap();
    let a = alert_file.display().to_string();
    let o = options.display().to_string();
    // 4.7: no timeout/retries. 4.6 and older have no options file, which leaves
    // only $INTELMATCH_CONFIG or the default path: given by env here.
    let shapes: Vec<(Vec<String>, bool)> = vec![
        (
            vec![
                a.clone(),
                "".into(),
                "".into(),
                "".into(),
                o.clone(),
                "> /dev/null 2>&1".into(),
            ],
            false,
        ),
        (
            vec![
                a.clone(),
                "key with".into(),
                "space".into(),
                "".into(),
                "".into(),
                o.clone(),
                "10".into(),
                "3".into(),
            ],
            false,
        ),
        (
            vec![
                a.clone(),
                "".into(),
                "".into(),
                ">".into(),
                "/dev/null 2>&1".into(),
            ],
            true,
        ),
    ];
    for (args, via_env) in shapes {
        let mut cmd = Command::new(w.home().join("integrations/custom-intelmatch"));
        cmd.arg0("integrations")
            .args(&args)
            .env_remove("INTELMATCH_CONFIG");
        if via_env {
            cmd.env("INTELMATCH_CONFIG", w.config());
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", w.log());
        assert_eq!(w.drain().len(), 1, "{args:?}");
    }
}

#[test]
fn secrets_never_reach_the_log_even_in_debug() {
    let w = Wazuh::new();
    let alert = bytes(&connection_alert("185.220.101.47"));
    let (status, got) = w.call_with(
        "custom-opencti",
        &alert,
        json!({"config": w.config(), "debug": true}),
        true,
    );
    assert!(status.success());
    assert_eq!(got.len(), 1);
    let log = w.log();
    assert!(log.contains("DEBUG"), "debug raises verbosity: {log}");
    assert!(!log.contains(SECRET), "{log}");
    assert!(got.iter().all(|d| !d.contains(SECRET)));
}
