//! Warninglists end to end: `intelmatch sync` from a stand-in MISP server
//! (sync/tests/support/misp_server.rs) whose attributes hold well-known
//! benign values, then `intelmatch lookup` with `matching.warninglists` =
//! suppress (default), annotate and off.
//!
//! `c2.evil.example` is the control: `.example` names are on no bundled list
//! (rfc6761 lists only example.com/.net/.org, exactly). 198.51.100.23 is a
//! documentation address, on the bundled rfc5735 list.

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use misp_server::{MispServer, KEY};
use serde_json::Value;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Env {
    dir: tempfile::TempDir,
    server: MispServer,
}

impl Env {
    fn new() -> Env {
        let server = MispServer::start();
        {
            let mut w = server.world();
            let e = w.add_event("Benign values reported as bad", true);
            w.add_attr(e, "ip-dst", "8.8.8.8", true);
            w.add_attr(e, "domain", "google.com", true);
            w.add_attr(e, "sha256", EMPTY_SHA256, true);
            w.add_attr(e, "ip-dst", "198.51.100.23", true);
            w.add_attr(e, "domain", "corp.example", true);
            w.add_attr(e, "email-src", "abuse@evil.example", true);
            w.add_attr(e, "domain", "c2.evil.example", true);
            w.add_attr(e, "domain", "mail.google.com", true);
            w.add_attr(e, "domain", "www.example.com", true);
            w.publish(e);
            w.warninglists.push((
                12,
                serde_json::json!({"name": "Instance benign list", "version": 4, "description": "local",
                    "type": "string", "matching_attributes": ["domain"], "list": ["mirrored.evil.example"]}),
                true,
            ));
            let e2 = w.add_event("More", true);
            w.add_attr(e2, "domain", "mirrored.evil.example", true);
            w.publish(e2);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lists/corp")).unwrap();
        std::fs::write(
            dir.path().join("lists/corp/list.json"),
            r#"{"name": "Our own domains", "version": 1, "description": "corp", "type": "hostname",
                "matching_attributes": ["domain", "hostname"], "list": ["corp.example"]}"#,
        )
        .unwrap();
        let env = Env { dir, server };
        env.config("suppress");
        env
    }

    fn config(&self, mode: &str) {
        std::fs::write(
            self.dir.path().join("intelmatch.toml"),
            format!(
                r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
warninglists = "{mode}"
warninglist_dirs = ["lists"]
[[sources]]
name = "misp"
type = "misp"
url = "{}"
key = "env:TEST_MISP_KEY"
"#,
                self.server.url
            ),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .env("TEST_MISP_KEY", KEY)
            .output()
            .unwrap()
    }

    fn sync(&self) {
        let out = self.run(&["sync"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains(KEY), "the key is in the sync output");
    }

    fn lookup(&self, value: &str) -> Value {
        let out = self.run(&["-q", "lookup", "--json", value]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn hits(v: &Value) -> usize {
    v["hits"].as_array().unwrap().len()
}

fn lists(v: &Value) -> Vec<String> {
    v["warninglists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn benign_values_never_hit_by_default_and_are_named_when_annotating() {
    let env = Env::new();
    env.sync();

    // Default: suppress.
    for value in [
        "8.8.8.8",
        "google.com",
        EMPTY_SHA256,
        "198.51.100.23",
        "sub.corp.example",
    ] {
        let v = env.lookup(value);
        assert_eq!(hits(&v), 0, "{value}: {v}");
        assert!(v["suppressed"].as_u64().unwrap() >= 1, "{value}: {v}");
        assert!(!lists(&v).is_empty(), "{value}: {v}");
    }
    // The regex list (abuse@ addresses), evaluated against the stored keys.
    let v = env.lookup("abuse@evil.example");
    assert_eq!(hits(&v), 0, "{v}");
    assert_eq!(lists(&v), ["Common contact e-mail addresses"]);
    // A list mirrored from the instance.
    let v = env.lookup("mirrored.evil.example");
    assert_eq!(lists(&v), ["Instance benign list"], "{v}");
    assert_eq!(hits(&v), 0);
    // The control hits.
    assert_eq!(hits(&env.lookup("c2.evil.example")), 1);
    // A `string` list entry is exact (MISP semantics): rfc6761's example.com
    // does not cover www.example.com ...
    let v = env.lookup("www.example.com");
    assert!(hits(&v) >= 1, "{v}");
    assert!(lists(&v).is_empty(), "{v}");
    // ... and a subdomain under a listed name (`.google.com`) is more specific
    // than the entry: it hits, named by the list (issue 23: a list never hides
    // a specific IoC).
    // (The parent-domain hit on the `google.com` indicator itself stays hidden.)
    let v = env.lookup("mail.google.com");
    assert_eq!(hits(&v), 1, "{v}");
    assert_eq!(v["hits"][0]["match"]["method"], "exact", "{v}");
    assert_eq!(lists(&v), ["List of known google domains"]);

    // Annotate: they hit and name the list; no re-sync needed.
    env.config("annotate");
    for (value, list) in [
        ("8.8.8.8", "List of known IPv4 public DNS resolvers"),
        ("google.com", "List of known google domains"),
        (EMPTY_SHA256, "List of known hashes for empty files"),
        ("198.51.100.23", "List of RFC 5735 CIDR blocks"),
        ("sub.corp.example", "Our own domains"),
    ] {
        let v = env.lookup(value);
        assert!(hits(&v) >= 1, "{value}: {v}");
        assert_eq!(v["suppressed"], 0, "{value}: {v}");
        assert!(lists(&v).iter().any(|l| l == list), "{value}: {v}");
    }
    let out = env.run(&["lookup", "8.8.8.8"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[on warninglist: List of known IPv4 public DNS resolvers]"),
        "{text}"
    );

    // Off: plain hits, no list named.
    env.config("off");
    let v = env.lookup("8.8.8.8");
    assert_eq!(hits(&v), 1, "{v}");
    assert!(lists(&v).is_empty());
}

/// A MISP instance mirrors lists whose entries would silence every hit of
/// every source: `com` (substring), `co.uk` (hostname), `0.0.0.0/0` and
/// `::/0` (cidr). They are refused and reported by `sync` and `status`, and
/// suppress nothing; the other entries of the same lists still do.
#[test]
fn hostile_mirrored_entries_are_refused_and_suppress_nothing() {
    let server = MispServer::start();
    {
        let mut w = server.world();
        let e = w.add_event("Intel under common suffixes", true);
        w.add_attr(e, "domain", "update.malware-cdn.com", true);
        w.add_attr(e, "domain", "c2.evil.co.uk", true);
        w.add_attr(e, "ip-dst", "45.33.32.156", true);
        w.add_attr(e, "ip-dst", "2a01:4f8:c17:b8f::2", true);
        w.add_attr(e, "domain", "benign.corp.example", true);
        w.add_attr(e, "ip-dst", "239.255.255.250", true);
        w.publish(e);
        let list = |name: &str, kind: &str, attrs: &[&str], entries: &[&str]| {
            serde_json::json!({"name": name, "version": 1, "type": kind,
                "matching_attributes": attrs, "list": entries})
        };
        w.warninglists.push((
            21,
            list(
                "Hostile substrings",
                "substring",
                &["domain", "url"],
                &["com"],
            ),
            true,
        ));
        w.warninglists.push((
            22,
            list(
                "Hostile hostnames",
                "hostname",
                &["domain", "hostname"],
                &["co.uk", "corp.example"],
            ),
            true,
        ));
        w.warninglists.push((
            23,
            list(
                "Hostile networks",
                "cidr",
                &["ip-src", "ip-dst"],
                &["0.0.0.0/0", "::/0", "224.0.0.0/4"],
            ),
            true,
        ));
    }
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
        server,
    };
    std::fs::create_dir_all(env.dir.path().join("lists")).unwrap();
    env.config("suppress");
    let out = env.run(&["sync"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    for line in [
        "index refused 3 keys: warninglist entry on a public suffix (e.g. warninglist \"Hostile ",
        // The bundled lists' own (Microsoft's `.azurewebsites.net`, ...) apart.
        "keys: bundled warninglist entry on a public suffix (e.g. warninglist \"",
        "index refused 1 key: warninglist IPv4 network broader than /8 \
         (e.g. warninglist \"Hostile networks\" (misp:misp): 0.0.0.0/0)",
        "index refused 1 key: warninglist IPv6 network broader than /16 \
         (e.g. warninglist \"Hostile networks\" (misp:misp): ::/0)",
    ] {
        assert!(summary.contains(line), "{line}\n{summary}");
    }

    for value in [
        "update.malware-cdn.com",
        "c2.evil.co.uk",
        "45.33.32.156",
        "2a01:4f8:c17:b8f::2",
    ] {
        let v = env.lookup(value);
        assert_eq!(
            (hits(&v), &v["suppressed"]),
            (1, &Value::from(0)),
            "{value}: {v}"
        );
    }
    // What the lists name within the limits still applies: an indicator
    // under a listed name is annotated (it is more specific than the entry).
    let v = env.lookup("benign.corp.example");
    assert_eq!(
        (hits(&v), lists(&v)),
        (1, vec!["Hostile hostnames".to_string()])
    );
    let v = env.lookup("239.255.255.250");
    assert_eq!(hits(&v), 0, "{v}");
    assert!(lists(&v).iter().any(|l| l == "Hostile networks"), "{v}");

    let out = env.run(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused = &status["index"]["refused"]["warninglist entry on a public suffix"];
    assert_eq!(refused["count"], 3, "{status}");
    assert!(
        refused["example"]
            .as_str()
            .unwrap()
            .starts_with("warninglist \"Hostile "),
        "{refused}"
    );
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains("index refused 3 keys: warninglist entry on a public suffix"),
        "{warnings}"
    );
    assert!(!warnings.contains("bundled"), "{warnings}");
}
