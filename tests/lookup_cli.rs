//! `intelmatch sync` + `intelmatch lookup` as a user runs them, against the
//! release-shaped binary and a temporary config.
//!
//! The intel uses documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32) and `.example` names, which sit on MISP
//! warninglists: the config below sets `warninglists = "off"` so they hit.

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use serde_json::Value;

const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[
 {"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-0000000000aa","name":"Test CTI","identity_class":"organization","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","name":"c2 ip","pattern":"[ipv4-addr:value = '198.51.100.23']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","confidence":70,"x_opencti_score":80,"labels":["c2"],"created_by_ref":"identity--00000000-0000-4000-8000-0000000000aa","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000002","name":"v6","pattern":"[ipv6-addr:value = '2001:db8:bad::10']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000003","name":"net24","pattern":"[ipv4-addr:value ISSUBSET '203.0.113.0/24']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000004","name":"net16","pattern":"[ipv4-addr:value ISSUBSET '203.0.0.0/16']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000005","name":"dom","pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000006","name":"suffix","pattern":"[domain-name:value = 'github.io']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000007","name":"url","pattern":"[url:value = 'http://bad.example/payload.exe']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000008","name":"hash","pattern":"[file:hashes.'SHA-256' = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000009","name":"mail","pattern":"[email-addr:value = 'phish@evil.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000010","name":"compound","pattern":"[ipv4-addr:value = '192.0.2.44'] AND [domain-name:value = 'c2.other.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000011","name":"broken","pattern":"[ipv4-addr:value = '192.0.2.1'","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"}
]}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let intel = dir.path().join("intel");
        std::fs::create_dir_all(intel.join("stix")).unwrap();
        std::fs::write(intel.join("stix/good.json"), BUNDLE).unwrap();
        std::fs::write(
            intel.join("stix/bad.json"),
            "{\"type\": \"bundle\", \"objects\": [",
        )
        .unwrap();
        let mut list = b"# test list\n198.51.100.77\nnot-an-ioc value\n".to_vec();
        list.extend_from_slice(b"bad-\xff-utf8.example\n203.0.113.200\n");
        std::fs::write(intel.join("list.txt"), list).unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
# Documentation ranges and .example names are on the warninglists.
warninglists = "off"
[[sources]]
name = "bundle"
type = "stix"
path = "intel/stix"
[[sources]]
name = "list"
type = "list"
path = "intel/list.txt"
"#,
        )
        .unwrap();
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .output()
            .unwrap()
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

fn methods(v: &Value) -> Vec<(String, String, String)> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["match"]["method"].as_str().unwrap().to_string(),
                h["match"]["matched"].as_str().unwrap().to_string(),
                h["indicator"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn synced() -> Env {
    let env = Env::new();
    let out = env.run(&["sync"]);
    // A bad file makes the sync report rejects, not fail.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

#[test]
fn bad_input_is_named_and_the_rest_is_imported() {
    let env = Env::new();
    let out = env.run(&["sync"]);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("bad.json") && log.contains("not JSON"),
        "{log}"
    );
    assert!(
        log.contains("list.txt:3") && log.contains("not-an-ioc"),
        "{log}"
    );
    assert!(log.contains("list.txt:4") && log.contains("UTF-8"), "{log}");
    // The invalid pattern is kept and counted, not lost.
    let status = env.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("invalid 1"), "{text}");
    assert!(text.contains("invalid or unsupported patterns"), "{text}");
    // Everything else went in.
    assert_eq!(methods(&env.lookup("198.51.100.77")).len(), 1);
    assert_eq!(methods(&env.lookup("203.0.113.200")).len(), 3);
    assert_eq!(methods(&env.lookup("evil.example")).len(), 1);
}

#[test]
fn lookup_answers_every_acceptance_case_with_provenance() {
    let env = synced();
    let v = env.lookup("198.51.100.23");
    assert_eq!(
        methods(&v),
        [("exact".into(), "198.51.100.23".into(), "c2 ip".into())]
    );
    let ind = &v["hits"][0]["indicator"];
    assert_eq!(ind["source"], "bundle");
    assert_eq!(ind["source_type"], "stix");
    assert_eq!(ind["id"], "indicator--00000000-0000-4000-8000-000000000001");
    assert_eq!(ind["score"], 80);
    assert_eq!(ind["confidence"], 70);
    assert_eq!(ind["labels"][0], "c2");
    assert_eq!(ind["markings"][0], "TLP:AMBER");
    assert_eq!(ind["created_by"], "Test CTI");
    assert_eq!(ind["pattern"], "[ipv4-addr:value = '198.51.100.23']");

    for v6 in [
        "2001:0db8:0bad:0000:0000:0000:0000:0010",
        "2001:db8:bad::10",
        "2001:DB8:BAD::10",
    ] {
        assert_eq!(
            methods(&env.lookup(v6)),
            [("exact".into(), "2001:db8:bad::10".into(), "v6".into())],
            "{v6}"
        );
    }
    assert_eq!(
        methods(&env.lookup("203.0.113.9")),
        [
            ("cidr".into(), "203.0.113.0/24".into(), "net24".into()),
            ("cidr".into(), "203.0.0.0/16".into(), "net16".into()),
        ]
    );
    assert_eq!(
        methods(&env.lookup("a.b.evil.example")),
        [("parent_domain".into(), "evil.example".into(), "dom".into())]
    );
    assert!(
        methods(&env.lookup("someone.github.io")).is_empty(),
        "public suffix"
    );
    for url in [
        "HTTP://BAD.example/payload.exe",
        "http://bad.example:80/payload.exe",
    ] {
        assert_eq!(
            methods(&env.lookup(url)),
            [(
                "exact".into(),
                "http://bad.example/payload.exe".into(),
                "url".into()
            )],
            "{url}"
        );
    }
    assert_eq!(
        methods(&env.lookup("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"))
            .len(),
        1
    );
    assert_eq!(methods(&env.lookup("Phish@Evil.example")).len(), 1);
    let v = env.lookup("192.0.2.44");
    assert_eq!(methods(&v).len(), 1);
    assert_eq!(v["hits"][0]["indicator"]["partial"], true);
}

#[test]
fn unknown_values_and_kinds_are_usage_errors_naming_the_culprit() {
    let env = synced();
    let out = env.run(&["-q", "lookup", "no such thing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`no such thing`"));
    let out = env.run(&["-q", "lookup", "--kind", "ipv5", "1.2.3.4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ipv5"));
}

#[test]
fn print_config_shows_the_effective_config() {
    let env = Env::new();
    let out = env.run(&["--print-config"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[[sources]]") && text.contains("warninglists = \"off\""),
        "{text}"
    );
}

/// Intel text with terminal escape sequences (OSC 52 writes the operator's
/// clipboard, CSI clears the screen; C1 CSI too) reaches the terminal as
/// text in `lookup`, `match` and `status`, text and JSON alike.
#[test]
fn escape_sequences_from_a_feed_never_reach_the_terminal() {
    let env = Env::new();
    let hostile = r#"{"type":"bundle","id":"bundle--00000000-0000-4000-8000-0000000000e5","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-0000000000e1","name":"c2 \u001b]52;c;Y3VybCBldmlsfHNo\u0007 \u001b[2J","pattern":"[ipv4-addr:value = '198.51.100.66']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","labels":["apt\u009b31m","x\u007f"]},
 {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-0000000000e2","name":"bad \u001b]0;pwned\u0007","pattern":"[ipv4-addr:value = '\u001b[2J","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"}
]}"#;
    std::fs::write(env.dir.path().join("intel/stix/hostile.json"), hostile).unwrap();
    let out = env.run(&["-q", "sync"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alert = env.dir.path().join("alert.json");
    std::fs::write(
        &alert,
        r#"{"timestamp":"2026-01-02T00:00:00.000+0000","id":"1","rule":{"id":"61603","level":5,"groups":["sysmon"]},"agent":{"id":"001","name":"ws"},"data":{"win":{"eventdata":{"destinationIp":"198.51.100.66"}}}}"#,
    )
    .unwrap();
    let alert = alert.to_str().unwrap();
    for args in [
        &["lookup", "198.51.100.66"][..],
        &["lookup", "--json", "198.51.100.66"],
        &["lookup", "\u{1b}]52;c;eA==\u{7}"],
        &["match", alert],
        &["match", "--json", alert],
        &["status"],
        &["status", "--json"],
    ] {
        let out = env.run(args);
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            let raw: Vec<char> = text
                .chars()
                .filter(|c| c.is_control() && !matches!(c, '\n'))
                .collect();
            assert!(raw.is_empty(), "{args:?} {stream}: raw {raw:?} in\n{text}");
        }
        if args.contains(&"198.51.100.66") && !args.contains(&"--json") {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("\\u{1b}]52;c;"),
                "the name is still shown: {text}"
            );
        }
    }
}

/// `intelmatch compile` rebuilds the index from the store alone: after an
/// upgrade that changes the index format, the package runs it, and no CTI
/// server needs to answer.
#[test]
fn compile_rebuilds_the_index_without_any_source() {
    let env = Env::new();
    let out = env.run(&["-q", "compile"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `intelmatch sync` first"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = env.run(&["-q", "sync"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The sources vanish: compile must not read them.
    std::fs::remove_dir_all(env.dir.path().join("intel")).unwrap();
    let out = env.run(&["-q", "compile"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("index generation 2:"), "{text}");
    let v = env.lookup("198.51.100.23");
    assert_eq!(v["hits"].as_array().unwrap().len(), 1, "{v}");
}
