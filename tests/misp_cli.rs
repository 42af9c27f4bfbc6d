//! The MISP source through the real CLI, as an operator meets it: a key the
//! instance refuses, the logs at every verbosity, and `status` telling which
//! attribute types were not matchable.
//!
//! Values are documentation ranges and `.example` names (on warninglists,
//! which play no part in what is asserted here).

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use misp_server::{MispServer, KEY};
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    server: MispServer,
}

impl Env {
    fn new() -> Env {
        let server = MispServer::start();
        {
            let mut w = server.world();
            let e = w.add_event("Campaign", true);
            w.add_attr(e, "ip-dst", "198.51.100.9", true);
            w.add_attr(e, "domain", "c2.evil.example", true);
            w.add_attr(e, "yara", "rule a { condition: true }", true);
            w.add_attr(e, "yara", "rule b { condition: true }", true);
            w.add_attr(e, "snort", "alert ip any any -> any any (sid:1;)", true);
            w.publish(e);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"wazuh\"\n[[sources]]\nname = \"misp\"\n\
                 type = \"misp\"\nurl = \"{}\"\nkey = \"env:TEST_MISP_KEY\"\nretries = 1\n",
                server.url
            ),
        )
        .unwrap();
        Env { dir, server }
    }

    fn ok_sync(&self) {
        let out = self.run(&["sync"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .env("TEST_MISP_KEY", KEY)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_refused_key_is_one_line_naming_the_url_and_the_key_is_never_logged() {
    let env = Env::new();
    let ok = env.run(&["-vv", "sync"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        !text(&ok.stderr).contains(KEY),
        "the key is in the trace log"
    );

    // The instance revokes the key.
    env.server.world().key = "Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF9eD8cB7a".into();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let url = format!("{}/servers/getVersion", env.server.url);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("HTTP 403")).collect();
    assert!(!lines.is_empty(), "{stderr}");
    for l in &lines {
        assert!(l.contains(&url) && l.contains("check the key"), "{l}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");

    // At every verbosity and in both log formats, the key stays out.
    for args in [
        &["-vv", "sync"][..],
        &["-v", "--log-format", "json", "sync"][..],
        &["-q", "sync"][..],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let all = text(&out.stderr) + &text(&out.stdout);
        assert!(!all.contains(KEY), "{args:?}: the key is in the output");
        assert!(all.contains("HTTP 403"), "{args:?}: {all}");
    }
    let out = env.run(&["--print-config"]);
    assert!(!text(&out.stdout).contains(KEY));

    // `status` keeps the last error, and the intel of the last good sync
    // still matches.
    let status = env.run(&["status"]);
    let s = text(&status.stdout);
    assert!(s.contains("last error") && s.contains("HTTP 403"), "{s}");
    assert!(!s.contains(KEY));
    let out = env.run(&["-q", "lookup", "--json", "c2.evil.example"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // On the rfc6761 list? No: only example.com/.net/.org are. It hits.
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn status_counts_the_attribute_types_that_are_not_matchable() {
    let env = Env::new();
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("skipped 2 × unsupported type yara")
            && summary.contains("skipped 1 × unsupported type snort"),
        "{summary}"
    );
    let status = env.run(&["status"]);
    let s = text(&status.stdout);
    assert!(
        s.contains("skipped 2 × unsupported type yara")
            && s.contains("skipped 1 × unsupported type snort"),
        "{s}"
    );
    assert!(
        s.contains("not matchable, left out: snort 1, yara 2"),
        "{s}"
    );
    assert!(s.contains("server 2."), "the MISP version: {s}");
    let status = env.run(&["status", "--json"]);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    let source = &v["store"]["sources"][0];
    let notes = source["last_run"]["counts"]["notes"].to_string();
    assert!(notes.contains("unsupported type yara"), "{v}");
    assert_eq!(
        source["unsupported_types"],
        serde_json::json!({"snort": 1, "yara": 2})
    );

    // The count outlives the run that saw them: a sync that fetches nothing
    // still shows it ...
    env.ok_sync();
    let s = text(&env.run(&["status"]).stdout);
    assert!(!s.contains("last sync: skipped"), "{s}");
    assert!(
        s.contains("not matchable, left out: snort 1, yara 2"),
        "{s}"
    );
    // ... and it follows the instance: one yara rule deleted, another
    // event with a sigma rule added.
    {
        let mut w = env.server.world();
        let yara = w.events[&1]
            .attrs
            .iter()
            .find(|a| a.kind == "yara")
            .unwrap()
            .uuid
            .clone();
        w.hard_delete_attr(&yara);
        let e = w.add_event("Detection content", true);
        w.add_attr(e, "sigma", "title: x", true);
        w.publish_all();
    }
    env.ok_sync();
    let s = text(&env.run(&["status"]).stdout);
    assert!(
        s.contains("not matchable, left out: sigma 1, snort 1, yara 1"),
        "{s}"
    );
}

#[test]
fn synced_attributes_reach_the_misp_profile_with_their_provenance() {
    let env = Env::new();
    {
        let mut w = env.server.world();
        let e = w.add_event("Public infrastructure", true);
        // Public-looking values: the default warninglists stay on here.
        w.add_attr(e, "ip-dst|port", "45.137.21.9|443", true);
        w.add_attr(e, "ip-dst", "185.100.86.0/24", true);
        let id = w.add_attr(
            e,
            "filename|sha256",
            &format!("inv.exe|{}", "4f".repeat(32)),
            true,
        );
        w.edit(&id, |a| a.tags.push("tlp:amber".into()));
        // Benign values reported anyway: suppressed by the default lists.
        w.add_attr(e, "ip-dst", "8.8.8.8", true);
        w.publish(e);
    }
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alert = env.dir.path().join("alert.json");
    std::fs::write(
        &alert,
        serde_json::json!({
            "id": "1733220000.42", "timestamp": "2026-12-03T10:00:00.000+0000",
            "rule": {"id": "86601", "level": 3, "description": "Suricata: Alert"},
            "agent": {"id": "003", "name": "web01", "ip": "10.0.0.3"},
            "data": {"src_ip": "45.137.21.9", "dest_ip": "185.100.86.77",
                     "dns": {"rrname": "google.com"}},
            "syscheck": {"path": "/tmp/inv.exe", "sha256_after": "4f".repeat(32)}
        })
        .to_string(),
    )
    .unwrap();
    let out = env.run(&["-q", "match", "--events", "misp", alert.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_value = |v: &str| -> &Value {
        events
            .iter()
            .map(|e| &e["misp"])
            .find(|m| m["match"]["value"] == v || m["value"] == v)
            .unwrap_or_else(|| panic!("{v}: {events:?}"))
    };
    assert_eq!(events.len(), 3, "{events:?}");
    for e in &events {
        // The published MISP rules depend on there being no `integration` key.
        assert!(e.get("integration").is_none(), "{e}");
        assert_eq!(e["misp"]["event_id"], "2", "{e}");
        assert_eq!(e["misp"]["event_info"], "Public infrastructure", "{e}");
        assert_eq!(e["misp"]["org"], "Test Org", "{e}");
        assert_eq!(e["misp"]["to_ids"], true, "{e}");
    }
    let m = by_value("45.137.21.9");
    assert_eq!(m["type"], "ip-dst|port", "{m}");
    assert_eq!(m["category"], "Network activity", "{m}");
    let m = by_value("185.100.86.77");
    assert_eq!(m["type"], "ip-dst", "{m}");
    assert_eq!(m["match"]["method"], "cidr", "{m}");
    assert_eq!(m["match"]["matched"], "185.100.86.0/24", "{m}");
    let m = by_value(&"4f".repeat(32));
    assert_eq!(m["type"], "filename|sha256", "{m}");
    assert!(
        m["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "TLP:AMBER"),
        "{m}"
    );
}
