//! The MISP source through the real CLI, as an operator meets it: a key the
//! instance refuses, the logs at every verbosity, and `status` telling which
//! attribute types were not matchable.
//!
//! Values are documentation ranges and `.example` names (on warninglists,
//! which play no part in what is asserted here).

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;

use std::process::{Command, Output};

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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_intelmatch"))
            .arg("--config")
            .arg(self.dir.path().join("intelmatch.toml"))
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
    let status = env.run(&["status", "--json"]);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    let notes = v["store"]["sources"][0]["last_run"]["counts"]["notes"].to_string();
    assert!(notes.contains("unsupported type yara"), "{v}");
}
