//! `intelmatch export cdb` as a user runs it: sync a small STIX bundle and a
//! list into a store, export, and read the lists back the way analysisd does.
//!
//! The intel uses documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32) and `.example` names; export does not apply
//! warninglists, but the config still sets `warninglists = "off"` like the
//! other CLI tests.

#[path = "support/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use store::export::cdb::{parse_list, List};

fn indicator(n: u32, name: &str, pattern: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","name":"{name}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"{extra}}}"#
    )
}

fn bundle(extra_objects: &[String]) -> String {
    let mut objects = vec![
        indicator(1, "c2 ip", "[ipv4-addr:value = '198.51.100.23']", r#","x_opencti_score":80"#),
        indicator(2, "v6", "[ipv6-addr:value = '2001:db8:bad::10']", r#","x_opencti_score":70"#),
        indicator(3, "net23", "[ipv4-addr:value ISSUBSET '203.0.112.0/23']", ""),
        indicator(4, "net12", "[ipv4-addr:value ISSUBSET '172.16.0.0/12']", ""),
        indicator(5, "v6net", "[ipv6-addr:value ISSUBSET '2001:db8:f00::/48']", ""),
        indicator(6, "dom", "[domain-name:value = 'Evil.Example']", ""),
        indicator(7, "url", "[url:value = 'http://bad.example:8080/payload.exe']", ""),
        indicator(
            8,
            "hash",
            "[file:hashes.'SHA-256' = '9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08']",
            r#","labels":["Mirai"]"#,
        ),
        indicator(9, "md5", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", ""),
        indicator(10, "sha1", "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']", ""),
        indicator(11, "mail", "[email-addr:value = 'phish@evil.example']", ""),
        indicator(12, "like", "[url:value LIKE '%/gate.php%']", ""),
        indicator(13, "revoked", "[ipv4-addr:value = '198.51.100.99']", r#","revoked":true"#),
        indicator(14, "low", "[ipv4-addr:value = '198.51.100.98']", r#","x_opencti_score":5"#),
    ];
    objects.extend_from_slice(extra_objects);
    format!(
        r#"{{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[{}]}}"#,
        objects.join(",")
    )
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let intel = dir.path().join("intel");
        std::fs::create_dir_all(intel.join("stix")).unwrap();
        std::fs::write(intel.join("stix/intel.json"), bundle(&[])).unwrap();
        std::fs::write(intel.join("list.txt"), "198.51.100.77\n192.0.2.64/28\n").unwrap();
        std::fs::create_dir_all(dir.path().join("wazuh/etc/lists")).unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
# Documentation ranges and .example names are on the warninglists.
warninglists = "off"
min_score = 10
[[sources]]
name = "bundle"
type = "stix"
path = "intel/stix"
[[sources]]
name = "block-list"
type = "list"
path = "intel/list.txt"
score = 60
"#,
        )
        .unwrap();
        let env = Env { dir };
        env.ok(&["sync"]);
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn lists(&self) -> PathBuf {
        self.dir.path().join("wazuh/etc/lists/intelmatch")
    }

    fn export(&self, extra: &[&str]) -> Value {
        let out = self.lists();
        let mut args = vec![
            "-q",
            "export",
            "cdb",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.ok(&args)).unwrap()
    }
}

/// key → value of one list as analysisd stores it.
fn read(dir: &Path, name: &str) -> BTreeMap<String, String> {
    let data = std::fs::read(dir.join(name)).unwrap();
    parse_list(&data)
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

fn keys(dir: &Path, name: &str) -> Vec<String> {
    read(dir, name).into_keys().collect()
}

fn mtimes(dir: &Path) -> BTreeMap<String, std::time::SystemTime> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect()
}

#[test]
fn exported_lists_read_back_as_the_live_intel() {
    let env = Env::new();
    let summary = env.export(&[]);
    let dir = env.lists();
    let mut ip_keys = vec![
        "172.16.".to_string(),
        "198.51.100.23".into(),
        "198.51.100.77".into(),
        "2001:db8:bad::10".into(),
        "203.0.112.".into(),
        "203.0.113.".into(),
    ];
    ip_keys.extend((17..32).map(|b| format!("172.{b}.")));
    ip_keys.extend((64..80).map(|d| format!("192.0.2.{d}")));
    ip_keys.sort();
    assert_eq!(keys(&dir, "intelmatch-ip"), ip_keys);
    let ip = read(&dir, "intelmatch-ip");
    assert_eq!(ip["198.51.100.23"], "source=bundle score=80");
    assert_eq!(ip["198.51.100.77"], "source=block-list score=60");
    assert_eq!(ip["2001:db8:bad::10"], "source=bundle score=70");
    assert_eq!(ip["172.20."], "source=bundle net=172.16.0.0/12");
    assert_eq!(
        ip["192.0.2.70"],
        "source=block-list score=60 net=192.0.2.64/28"
    );
    assert_eq!(keys(&dir, "intelmatch-domain"), ["evil.example"]);
    assert_eq!(
        keys(&dir, "intelmatch-url"),
        ["http://bad.example:8080/payload.exe"]
    );
    assert_eq!(
        keys(&dir, "intelmatch-sha256"),
        ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    );
    assert_eq!(
        keys(&dir, "intelmatch-md5"),
        ["d41d8cd98f00b204e9800998ecf8427e"]
    );
    assert_eq!(
        keys(&dir, "intelmatch-sha1"),
        ["da39a3ee5e6b4b0d3255bfef95601890afd80709"]
    );
    assert_eq!(keys(&dir, "intelmatch-email"), ["phish@evil.example"]);
    assert!(keys(&dir, "intelmatch-sha512").is_empty());

    // What analysisd would answer.
    let list = List::parse(&std::fs::read(dir.join("intelmatch-ip")).unwrap());
    assert!(list.address_match_key(b"172.31.4.5").is_some());
    assert!(list.address_match_key(b"203.0.113.200").is_some());
    assert!(list.address_match_key(b"2001:db8:bad::10").is_some());
    assert!(
        list.address_match_key(b"198.51.100.99").is_none(),
        "revoked"
    );
    assert!(
        list.address_match_key(b"198.51.100.98").is_none(),
        "below min_score"
    );

    // The summary reports what was left out and why.
    assert_eq!(summary["layout"], "default");
    assert_eq!(summary["changed"], true);
    assert_eq!(summary["excluded"]["revoked"], 1);
    assert_eq!(summary["excluded"]["below min_score"], 1);
    let reasons: Vec<&str> = summary["not_exported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("IPv6 network")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("substring pattern")),
        "{reasons:?}"
    );
    let lists = summary["lists"].as_array().unwrap();
    assert_eq!(lists.len(), 8);
    let ip_summary = lists.iter().find(|l| l["name"] == "intelmatch-ip").unwrap();
    assert_eq!(ip_summary["lines"], ip_keys.len());
    assert_eq!(ip_summary["added"], ip_keys.len());
    assert_eq!(ip_summary["written"], true);
}

#[test]
fn a_second_export_without_changes_touches_nothing() {
    let env = Env::new();
    env.export(&[]);
    let dir = env.lists();
    // analysisd's compiled lists next to the text files.
    for name in ["intelmatch-ip", "intelmatch-domain"] {
        std::fs::write(dir.join(format!("{name}.cdb")), b"compiled").unwrap();
    }
    let before = mtimes(&dir);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let summary = env.export(&[]);
    assert_eq!(summary["changed"], false);
    assert_eq!(
        mtimes(&dir),
        before,
        "every mtime untouched, .cdb files kept"
    );
    let text = env.ok(&["export", "cdb", "--out", dir.to_str().unwrap()]);
    assert!(
        text.contains("unchanged") && text.contains("no list changed"),
        "{text}"
    );

    // One new indicator: only its list is rewritten, with a +1 summary, and
    // its stale .cdb goes so that analysisd rebuilds it.
    let extra = indicator(20, "new", "[domain-name:value = 'new.example']", "");
    std::fs::write(
        env.dir.path().join("intel/stix/intel.json"),
        bundle(&[extra]),
    )
    .unwrap();
    env.ok(&["sync"]);
    let summary = env.export(&[]);
    let lists = summary["lists"].as_array().unwrap();
    let written: Vec<&str> = lists
        .iter()
        .filter(|l| l["written"] == true)
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(written, ["intelmatch-domain"]);
    let dom = lists
        .iter()
        .find(|l| l["name"] == "intelmatch-domain")
        .unwrap();
    assert_eq!(
        (dom["added"].as_u64(), dom["removed"].as_u64()),
        (Some(1), Some(0))
    );
    let after = mtimes(&dir);
    assert_eq!(after["intelmatch-ip"], before["intelmatch-ip"]);
    assert!(after.contains_key("intelmatch-ip.cdb"));
    assert!(!after.contains_key("intelmatch-domain.cdb"));
    assert!(after.keys().all(|n| !n.ends_with(".tmp")), "{after:?}");
}

#[test]
fn the_cap_is_configurable_and_reported() {
    let env = Env::new();
    let summary = env.export(&["--max-expansion", "8"]);
    let dir = env.lists();
    let ip = keys(&dir, "intelmatch-ip");
    assert!(!ip.iter().any(|k| k.starts_with("172.")), "{ip:?}");
    assert!(ip.contains(&"203.0.112.".to_string()));
    let capped = summary["not_exported"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["reason"].as_str().unwrap().contains("expansion cap 8"))
        .unwrap();
    // The /12 (16 keys) and the /28 (16 addresses) are over 8.
    assert_eq!(capped["count"], 2);
    assert!(capped["examples"][0].as_str().unwrap().contains("/"));
}

#[test]
fn malicious_ioc_layout_writes_the_stock_names_and_formats() {
    let env = Env::new();
    let dir = env.dir.path().join("wazuh/etc/lists/malicious-ioc");
    let out = env.ok(&[
        "-q",
        "export",
        "cdb",
        "--layout",
        "malicious-ioc",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.contains("malware-hashes"), "{out}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["malicious-domains", "malicious-ip", "malware-hashes"]
    );
    let ip = std::fs::read_to_string(dir.join("malicious-ip")).unwrap();
    assert!(ip.starts_with("\"2001:db8:bad::10\":\n"), "{ip}");
    assert!(ip.contains("\n198.51.100.23:\n"), "{ip}");
    // match_key only: the /23 is 512 addresses, the /12 a million (over the cap).
    assert!(
        ip.contains("\n203.0.113.255:\n") && !ip.contains("172.16."),
        "{ip:.200}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("malicious-domains")).unwrap(),
        "evil.example:\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("malware-hashes")).unwrap(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:Mirai\n"
    );
}

#[test]
fn print_config_shows_the_declarations_and_rules() {
    let env = Env::new();
    let text = env.ok(&["export", "cdb", "--print-config"]);
    assert!(text.contains("<ruleset>"), "{text}");
    assert!(
        text.contains("<list>etc/lists/intelmatch/intelmatch-ip</list>"),
        "{text}"
    );
    assert!(text.contains("lookup=\"address_match_key\">etc/lists/intelmatch/intelmatch-ip</list>"));
    assert!(text.contains("win.eventdata.queryName"));
    let text = env.ok(&[
        "export",
        "cdb",
        "--print-config",
        "--layout",
        "malicious-ioc",
    ]);
    assert!(
        text.contains("<list>etc/lists/malicious-ioc/malware-hashes</list>"),
        "{text}"
    );
    assert!(text.contains("99901-99920"), "{text}");
}

#[test]
fn a_cluster_worker_refuses_to_write_etc_lists() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("wazuh/etc/ossec.conf"),
        "<ossec_config>\n  <cluster>\n    <node_type>worker</node_type>\n    <disabled>no</disabled>\n  </cluster>\n</ossec_config>\n",
    )
    .unwrap();
    let out = env.run(&["export", "cdb", "--out", env.lists().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cluster worker") && err.contains("master"),
        "{err}"
    );
    assert!(!env.lists().exists());
}

#[test]
fn without_a_store_export_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "data_dir = \"data\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_intelmatch"))
        .arg("--config")
        .arg(dir.path().join("c.toml"))
        .args(["export", "cdb", "--out"])
        .arg(dir.path().join("lists"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("intelmatch sync"), "{err}");
}

#[test]
fn a_reader_during_real_exports_never_sees_a_partial_list() {
    let env = Env::new();
    // Two versions of a list big enough that a non-atomic write would be
    // caught half-way: 30,000 addresses, then the same shifted by one.
    let version = |shift: u32| -> String {
        (0..30_000u32)
            .map(|i| {
                let n = i + shift;
                format!("45.{}.{}.{}\n", n / 65_536 + 1, (n / 256) % 256, n % 256)
            })
            .collect()
    };
    let list = env.dir.path().join("intel/list.txt");
    let ip = env.lists().join("intelmatch-ip");
    let mut texts = Vec::new();
    for shift in [0, 1] {
        std::fs::write(&list, version(shift)).unwrap();
        env.ok(&["-q", "sync"]);
        env.export(&[]);
        texts.push(std::fs::read(&ip).unwrap());
    }
    assert_ne!(texts[0], texts[1]);
    assert!(texts[0].len() > 500_000, "{}", texts[0].len());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (stop, ip, texts) = (stop.clone(), ip.clone(), texts.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got = std::fs::read(&ip).expect("the list is always there");
                assert!(
                    got == texts[0] || got == texts[1],
                    "partial list: {} bytes",
                    got.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for round in 0..4 {
        std::fs::write(&list, version(round % 2)).unwrap();
        env.ok(&["-q", "sync"]);
        let summary = env.export(&[]);
        assert_eq!(summary["changed"], true, "round {round}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 10, "{reads} reads");
}

#[test]
fn the_shipped_cdb_rules_look_up_only_exported_lists_the_right_way() {
    let xml = include_str!("../wazuh/rules/intelmatch_cdb_rules.xml");
    let exported: Vec<&str> = store::export::Layout::Default
        .lists()
        .iter()
        .map(|l| l.name)
        .collect();
    let mut ids = Vec::new();
    let mut lists = 0;
    for rule in xml.split("<rule id=\"").skip(1) {
        let id: u32 = rule[..rule.find('"').unwrap()].parse().unwrap();
        // Reserved for this file, clear of the community packs.
        assert!((100_900..=100_939).contains(&id), "{id}");
        ids.push(id);
        let body = &rule[..rule.find("</rule>").expect("every rule is closed")];
        assert!(body.contains("<description>"), "{id}");
        for list in body.split("<list ").skip(1) {
            lists += 1;
            let (attrs, rest) = list.split_once('>').unwrap();
            let path = &rest[..rest.find("</list>").unwrap()];
            let name = path
                .strip_prefix("etc/lists/intelmatch/")
                .unwrap_or_else(|| panic!("{id}: {path} is not where export writes"));
            assert!(exported.contains(&name), "{id}: {name} is never exported");
            // Networks are exported as octet prefixes: only address_match_key
            // tries them. Every other list is an exact lookup.
            let want = if name == "intelmatch-ip" {
                "lookup=\"address_match_key\""
            } else {
                "lookup=\"match_key\""
            };
            assert!(attrs.contains(want), "{id}: {attrs} for {name}");
            assert!(attrs.contains("field=\""), "{id}");
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate rule ids: {ids:?}");
    assert_eq!(
        xml.matches("<rule id=").count(),
        xml.matches("</rule>").count()
    );
    assert!(lists >= ids.len(), "every rule looks a list up");
    // The common fields of the issue are covered.
    for field in [
        "srcip",
        "dstip",
        "url",
        "win.eventdata.queryName",
        "sha256",
        "dns.rrname",
    ] {
        assert!(xml.contains(&format!("<list field=\"{field}\"")), "{field}");
    }
    // --print-config prints this very file for the default directory.
    let env = Env::new();
    let text = env.ok(&["export", "cdb", "--print-config"]);
    for id in &ids {
        assert!(text.contains(&format!("<rule id=\"{id}\"")), "{id}");
    }
}
