//! Limits a feed cannot exceed (issue 22), through `sync`, `lookup`, `match`
//! and `status` as an operator runs them: a /0 indicator floods nothing, and
//! 200,000 substring patterns are capped; both are reported with a count and
//! an example. (Warninglists mirrored from MISP: `tests/warninglists_cli.rs`.)
//!
//! The control intel uses documentation addresses and `.example` names,
//! which are on the bundled warninglists, so these configs turn them off.

#[path = "support/cli.rs"]
mod cli;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn indicator(i: usize, name: &str, pattern: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{i:012}","name":"{name}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"}}"#
    )
}

fn bundle(indicators: &[String]) -> String {
    format!(
        r#"{{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[{}]}}"#,
        indicators.join(",\n")
    )
}

/// A config with one STIX source over `bundle`, plus `matching` lines.
fn site(bundle: &str, matching: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("intel.json"), bundle).unwrap();
    std::fs::write(
        dir.path().join("intelmatch.toml"),
        format!(
            r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
# The control values are documentation addresses and .example names.
warninglists = "off"
{matching}
[extract]
documentation_is_public = true
[[sources]]
name = "feed"
type = "stix"
path = "intel.json"
"#
        ),
    )
    .unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = cli::intelmatch(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hit_names(dir: &Path, value: &str) -> Vec<String> {
    let v: Value =
        serde_json::from_slice(&run(dir, &["-q", "lookup", "--json", value]).stdout).unwrap();
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["indicator"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn status_json(dir: &Path) -> Value {
    serde_json::from_slice(&run(dir, &["status", "--json"]).stdout).unwrap()
}

/// The Sysmon network alert with `ip` as its destination.
fn alert_to(dir: &Path, ip: &str) -> String {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/sysmon-eid3-ipv4.json");
    let mut alert: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    alert["data"]["win"]["eventdata"]["destinationIp"] = ip.into();
    let path = dir.join(format!("alert-{ip}.json"));
    std::fs::write(&path, alert.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn zero_networks_do_not_make_every_address_a_hit() {
    let dir = site(
        &bundle(&[
            indicator(1, "everything", "[ipv4-addr:value ISSUBSET '0.0.0.0/0']"),
            indicator(2, "everything v6", "[ipv6-addr:value ISSUBSET '::/0']"),
            indicator(3, "half", "[ipv4-addr:value ISSUBSET '128.0.0.0/1']"),
            // The refused network goes; the domain of the same indicator stays.
            indicator(
                4,
                "mixed",
                "[ipv4-addr:value ISSUBSET '0.0.0.0/0'] OR [domain-name:value = 'c2.evil.example']",
            ),
            indicator(5, "control", "[ipv4-addr:value = '198.51.100.23']"),
            indicator(6, "a /8", "[ipv4-addr:value ISSUBSET '45.0.0.0/8']"),
        ]),
        "",
    );
    let path = dir.path();
    let sync = stdout(&run(path, &["sync"]));
    assert!(
        sync.contains(
            "index refused 3 keys: indicator IPv4 network broader than /8 \
             (e.g. feed: \"everything\": 0.0.0.0/0)"
        ),
        "{sync}"
    );
    assert!(
        sync.contains(
            "index refused 1 key: indicator IPv6 network broader than /16 \
             (e.g. feed: \"everything v6\": ::/0)"
        ),
        "{sync}"
    );

    for ip in ["93.184.216.34", "203.0.113.9", "2606:2800:220:1::1"] {
        assert!(hit_names(path, ip).is_empty(), "{ip} hit");
    }
    assert_eq!(hit_names(path, "198.51.100.23"), ["control"]);
    assert_eq!(hit_names(path, "45.33.32.156"), ["a /8"]);
    assert_eq!(hit_names(path, "c2.evil.example"), ["mixed"]);

    // An alert to a public address sends nothing; the control still alerts.
    let miss = run(path, &["match", "--json", &alert_to(path, "93.184.216.34")]);
    assert_eq!(stdout(&miss), "");
    let hit = stdout(&run(
        path,
        &["match", "--json", &alert_to(path, "198.51.100.23")],
    ));
    assert_eq!(hit.lines().count(), 1, "{hit}");

    let status = status_json(path);
    let refused = &status["index"]["refused"];
    assert_eq!(
        refused["indicator IPv4 network broader than /8"]["count"],
        3
    );
    assert_eq!(
        refused["indicator IPv6 network broader than /16"]["example"],
        "feed: \"everything v6\": ::/0"
    );
    let text = stdout(&run(path, &["status"]));
    assert!(
        text.contains("warning index refused 3 keys: indicator IPv4 network broader than /8"),
        "{text}"
    );

    // The minimum is the operator's to set.
    let dir = site(
        &bundle(&[indicator(
            1,
            "a /8",
            "[ipv4-addr:value ISSUBSET '45.0.0.0/8']",
        )]),
        "min_prefix_ipv4 = 16",
    );
    let sync = stdout(&run(dir.path(), &["sync"]));
    assert!(
        sync.contains("indicator IPv4 network broader than /16"),
        "{sync}"
    );
    assert!(hit_names(dir.path(), "45.33.32.156").is_empty());
}

#[test]
fn substring_patterns_over_the_cap_are_refused_and_reported() {
    const N: usize = 200_000;
    let mut objects = Vec::with_capacity(N);
    let mut pattern = String::new();
    for i in 0..N {
        pattern.clear();
        write!(pattern, "[url:value LIKE '%/p{i:06}/%']").unwrap();
        objects.push(indicator(i + 1, &format!("like {i}"), &pattern));
    }
    let dir = site(&bundle(&objects), "");
    let path = dir.path();
    let sync = stdout(&run(path, &["sync"]));
    assert!(
        sync.contains(
            "index refused 190000 keys: substring/prefix patterns over 10000 for one source \
             (e.g. feed: \"like 10000\": /p010000/)"
        ),
        "{sync}"
    );
    let status = status_json(path);
    // The feed's 10,000 and the bundled warninglists' few substring entries.
    let kept = status["index"]["substrings"].as_u64().unwrap();
    assert!((10_000..10_100).contains(&kept), "{kept}");
    assert_eq!(
        status["index"]["refused"]["substring/prefix patterns over 10000 for one source"]["count"],
        190_000
    );
    // The oldest patterns are kept, the rest refused.
    assert_eq!(
        hit_names(path, "http://x.example/p000042/gate.php"),
        ["like 42"]
    );
    assert_eq!(
        hit_names(path, "http://x.example/p009999/gate.php"),
        ["like 9999"]
    );
    assert!(hit_names(path, "http://x.example/p150000/gate.php").is_empty());
}
