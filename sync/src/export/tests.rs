//! Whole exports read back the way analysisd reads them.

use std::collections::BTreeMap;

use matcher::{KeyMethod, Kind, MatchKey, Record, Related};

use super::cdb::{parse_list, List};
use super::*;

fn record(source: &str, score: Option<i64>) -> Record {
    Record {
        source: source.into(),
        source_type: "stix".into(),
        id: format!("{source}-id"),
        score,
        ..Record::default()
    }
}

fn exact(kind: Kind, key: &str) -> MatchKey {
    MatchKey::exact(kind, key)
}

fn net(key: &str) -> MatchKey {
    let kind = if key.contains(':') {
        Kind::Ipv6
    } else {
        Kind::Ipv4
    };
    MatchKey::new(kind, key, KeyMethod::Cidr)
}

/// Every list of `dir`, parsed like analysisd: name → (key → value), with
/// duplicate keys failing the test.
fn read_back(dir: &Path, layout: Layout) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for spec in layout.lists() {
        let data = std::fs::read(dir.join(spec.name)).unwrap();
        let mut map = BTreeMap::new();
        for (k, v) in parse_list(&data) {
            let k = String::from_utf8(k).unwrap();
            let v = String::from_utf8(v).unwrap();
            assert!(map.insert(k.clone(), v).is_none(), "duplicate key {k}");
        }
        assert_eq!(
            map.len(),
            data.iter().filter(|&&b| b == b'\n').count(),
            "{}: every line is one record",
            spec.name
        );
        out.insert(spec.name.to_string(), map);
    }
    out
}

fn export(opts: ExportOptions, items: &[(Record, Vec<MatchKey>)], dir: &Path) -> ExportSummary {
    let mut ex = Exporter::new(opts);
    for (r, k) in items {
        ex.add(r, k);
    }
    ex.finish(dir).unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_kind_round_trips_through_the_analysisd_reader() {
    let odd = "feed \"β\": x,y\tz";
    let items = vec![
        (
            record("opencti", Some(80)),
            vec![
                exact(Kind::Ipv4, "198.51.100.23"),
                exact(Kind::Ipv6, "2001:db8:bad::10"),
                exact(Kind::Domain, "evil.example"),
                exact(Kind::Url, "http://bad.example:8080/p?q=1#f"),
                exact(Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
                exact(Kind::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                exact(
                    Kind::Sha256,
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ),
                exact(Kind::Sha512, &"ab".repeat(64)),
                exact(Kind::Email, "phish@evil.example"),
            ],
        ),
        (
            record(odd, None),
            vec![
                exact(Kind::Ipv4, "198.51.100.23"),
                exact(Kind::Ipv6, "::ffff:0:1"),
                exact(Kind::Domain, "xn--vil-bma.example"),
            ],
        ),
        (record("misp", Some(50)), vec![net("203.0.112.0/23")]),
        (
            Record {
                related: Some(Related {
                    relationship: "resolves-to".into(),
                    via: "198.51.100.23".into(),
                }),
                ..record("opencti", Some(80))
            },
            vec![exact(Kind::Domain, "resolver.example")],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let summary = export(ExportOptions::default(), &items, dir.path());
    let got = read_back(dir.path(), Layout::Default);
    let odd_src = "feed__β___x_y_z";
    assert_eq!(
        got["intelmatch-ip"],
        map(&[
            (
                "198.51.100.23",
                &format!("source={odd_src},opencti score=80")
            ),
            ("2001:db8:bad::10", "source=opencti score=80"),
            ("::ffff:0:1", &format!("source={odd_src}")),
            ("203.0.112.", "source=misp score=50 net=203.0.112.0/23"),
            ("203.0.113.", "source=misp score=50 net=203.0.112.0/23"),
        ])
    );
    assert_eq!(
        got["intelmatch-domain"],
        map(&[
            ("evil.example", "source=opencti score=80"),
            ("xn--vil-bma.example", &format!("source={odd_src}")),
            ("resolver.example", "source=opencti score=80 related"),
        ])
    );
    let one = |k: &str| map(&[(k, "source=opencti score=80")]);
    assert_eq!(
        got["intelmatch-url"],
        one("http://bad.example:8080/p?q=1#f")
    );
    assert_eq!(
        got["intelmatch-md5"],
        one("d41d8cd98f00b204e9800998ecf8427e")
    );
    assert_eq!(
        got["intelmatch-sha1"],
        one("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        got["intelmatch-sha256"],
        one("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    assert_eq!(got["intelmatch-sha512"], one(&"ab".repeat(64)));
    assert_eq!(got["intelmatch-email"], one("phish@evil.example"));
    // Quoting happened where it had to, nowhere else.
    let ip = std::fs::read_to_string(dir.path().join("intelmatch-ip")).unwrap();
    assert!(ip.contains("\"2001:db8:bad::10\":source=opencti"), "{ip}");
    assert!(ip.contains("\n198.51.100.23:source="), "{ip}");
    // Every value passes the Wazuh API validator's value rule (no `:` or `"`).
    for list in got.values() {
        for v in list.values() {
            assert!(!v.contains(':') && !v.contains('"'), "{v}");
        }
    }
    // Sorted: the file is its own sorted line list.
    let lines: Vec<&str> = ip.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert_eq!(summary.networks_expanded, 1);
    assert_eq!(summary.network_keys, 2);
    assert!(
        summary.not_exported.is_empty(),
        "{:?}",
        summary.not_exported
    );
    assert_eq!(summary.lists.len(), 8);
    assert!(summary.lists.iter().all(|l| l.written));
}

#[test]
fn analysisd_lookups_hit_the_expanded_networks() {
    let items = vec![(
        record("feed", Some(60)),
        vec![
            net("10.0.0.0/8"),
            net("192.168.0.0/16"),
            net("172.16.19.0/24"),
            net("172.16.0.0/12"),
            net("100.64.16.0/20"),
            net("203.0.112.0/23"),
            net("192.0.2.32/28"),
            exact(Kind::Ipv4, "198.51.100.7"),
        ],
    )];
    let dir = tempfile::tempdir().unwrap();
    export(ExportOptions::default(), &items, dir.path());
    let list = List::parse(&std::fs::read(dir.path().join("intelmatch-ip")).unwrap());
    let hit = |v: &str| list.address_match_key(v.as_bytes()).is_some();
    for v in [
        "10.200.3.4",
        "192.168.77.1",
        "172.16.19.250",
        "172.31.255.1",
        "100.64.31.9",
        "203.0.113.9",
        "192.0.2.47",
        "198.51.100.7",
    ] {
        assert!(hit(v), "{v} should hit");
    }
    for v in [
        "11.0.0.1",
        "172.32.0.1",
        "100.64.32.1",
        "203.0.114.1",
        "192.0.2.48",
        "198.51.100.70",
    ] {
        assert!(!hit(v), "{v} should not hit");
    }
}

#[test]
fn the_cap_and_the_unexportable_are_reported() {
    let items = vec![(
        record("feed", Some(60)),
        vec![
            net("10.1.16.0/20"),
            net("203.0.112.0/23"),
            net("2001:db8::/32"),
            MatchKey::new(Kind::Domain, "evil", KeyMethod::Substring),
            exact(Kind::Filename, "evil.exe"),
            exact(Kind::Url, "http://bad.example/\"quoted\""),
        ],
    )];
    let dir = tempfile::tempdir().unwrap();
    let opts = ExportOptions {
        max_expansion: 8,
        ..ExportOptions::default()
    };
    let summary = export(opts, &items, dir.path());
    let got = read_back(dir.path(), Layout::Default);
    assert_eq!(
        got["intelmatch-ip"].keys().collect::<Vec<_>>(),
        ["203.0.112.", "203.0.113."]
    );
    let reasons: BTreeMap<&str, (u64, &[String])> = summary
        .not_exported
        .iter()
        .map(|n| (n.reason.as_str(), (n.count, n.examples.as_slice())))
        .collect();
    let cap = reasons["network expands to more keys than the expansion cap 8 (--max-expansion)"];
    assert_eq!(cap, (1, &["10.1.16.0/20 (16 keys)".to_string()][..]));
    assert_eq!(
        reasons["IPv6 network: CDB lookups have no IPv6 prefix form"].1,
        ["2001:db8::/32"]
    );
    assert_eq!(
        reasons["substring pattern: CDB lookups match whole fields only"].0,
        1
    );
    assert_eq!(
        reasons["kind filename has no list in the default layout"].1,
        ["evil.exe"]
    );
    assert_eq!(
        reasons["key contains a double quote, which a CDB line cannot carry"].0,
        1
    );
    assert!(got["intelmatch-url"].is_empty());
}

#[test]
fn networks_the_index_refuses_are_not_exported_either() {
    let items = vec![(
        record("feed", Some(60)),
        vec![net("0.0.0.0/0"), net("10.0.0.0/7"), net("10.0.0.0/8")],
    )];
    let dir = tempfile::tempdir().unwrap();
    let summary = export(ExportOptions::default(), &items, dir.path());
    let got = read_back(dir.path(), Layout::Default);
    assert_eq!(got["intelmatch-ip"].keys().collect::<Vec<_>>(), ["10."]);
    let refused = &summary.not_exported[0];
    assert_eq!(
        refused.reason,
        "network broader than /8 (matching.min_prefix_ipv4)"
    );
    assert_eq!(refused.count, 2);
    assert_eq!(refused.examples, ["0.0.0.0/0", "10.0.0.0/7"]);
}

#[test]
fn malicious_ioc_layout_matches_the_stock_lists() {
    let items = vec![
        (
            Record {
                labels: vec!["Mirai botnet".into()],
                ..record("opencti", Some(80))
            },
            vec![
                exact(Kind::Ipv4, "198.51.100.23"),
                exact(Kind::Ipv6, "2001:db8::5"),
                net("203.0.113.252/30"),
                exact(Kind::Domain, "evil.example"),
                exact(
                    Kind::Sha256,
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ),
                exact(Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            ],
        ),
        (
            Record {
                name: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
                ..record("misp", None)
            },
            vec![exact(
                Kind::Sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            )],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let opts = ExportOptions {
        layout: Layout::MaliciousIoc,
        ..ExportOptions::default()
    };
    let summary = export(opts, &items, dir.path());
    let names: Vec<&str> = summary.lists.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["malicious-ip", "malicious-domains", "malware-hashes"]
    );
    let ip = std::fs::read_to_string(dir.path().join("malicious-ip")).unwrap();
    assert_eq!(
        ip,
        "\"2001:db8::5\":\n198.51.100.23:\n203.0.113.252:\n203.0.113.253:\n\
         203.0.113.254:\n203.0.113.255:\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("malicious-domains")).unwrap(),
        "evil.example:\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("malware-hashes")).unwrap(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:Mirai_botnet\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:misp\n"
    );
    // The stock rules use match_key: every address of the network hits exactly.
    let list = List::parse(ip.as_bytes());
    assert!(list.match_key(b"203.0.113.254").is_some());
    assert!(list.match_key(b"2001:db8::5").is_some());
    assert_eq!(
        summary.not_exported[0].reason,
        "kind md5 has no list in the malicious-ioc layout"
    );
}

#[test]
fn exclusions_mirror_the_index_compiler() {
    let opts = CompileOptions {
        min_score: 50,
        include_revoked: false,
        include_expired: false,
        report_observables: false,
        ..CompileOptions::default()
    };
    let now = chrono::Utc::now().timestamp();
    let live = record("a", Some(50));
    assert_eq!(exclusion(&live, &opts, now), None);
    let revoked = Record {
        revoked: true,
        ..live.clone()
    };
    assert_eq!(exclusion(&revoked, &opts, now), Some("revoked"));
    let expired = Record {
        valid_until: Some("2020-01-01T00:00:00Z".into()),
        ..live.clone()
    };
    assert_eq!(exclusion(&expired, &opts, now), Some("expired"));
    let no_detection = Record {
        detection: Some(false),
        ..live.clone()
    };
    assert_eq!(
        exclusion(&no_detection, &opts, now),
        Some("detection disabled")
    );
    let detection = Record {
        detection: Some(true),
        ..live.clone()
    };
    assert_eq!(exclusion(&detection, &opts, now), None);
    let low = record("a", Some(49));
    assert_eq!(exclusion(&low, &opts, now), Some("below min_score"));
    let bare = Record {
        record_kind: matcher::RecordKind::Observable,
        ..live.clone()
    };
    assert_eq!(
        exclusion(&bare, &opts, now),
        Some("observable without indicator")
    );
    let all = CompileOptions {
        min_score: 0,
        include_revoked: true,
        include_expired: true,
        report_observables: true,
        ..CompileOptions::default()
    };
    assert_eq!(exclusion(&bare, &all, now), None);
    assert_eq!(exclusion(&revoked, &all, now), None);
    assert_eq!(exclusion(&expired, &all, now), None);
    // `include_revoked` does not bring back what the analyst took off detection.
    assert_eq!(
        exclusion(&no_detection, &all, now),
        Some("detection disabled")
    );
}

#[cfg(unix)]
#[test]
fn a_new_output_directory_is_writable_by_the_parents_group() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    std::fs::set_permissions(&lists, std::fs::Permissions::from_mode(0o770)).unwrap();
    let out = lists.join("intelmatch");
    export(ExportOptions::default(), &[], &out);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o770);
    // Every list exists, even empty: analysisd drops rules naming a missing list.
    for spec in Layout::Default.lists() {
        assert_eq!(std::fs::read(out.join(spec.name)).unwrap(), b"");
    }
}

#[test]
fn partial_keys_say_so_in_their_value() {
    // `[ipv4 = a AND domain = b]`: each key is only part of the pattern. A key
    // that another record names alone is a full match and says nothing.
    let dir = tempfile::tempdir().unwrap();
    let mut compound = record("opencti", Some(80));
    compound.partial = true;
    let full = record("misp", Some(60));
    export(
        ExportOptions::default(),
        &[
            (
                compound.clone(),
                vec![
                    exact(Kind::Ipv4, "198.51.100.7"),
                    exact(Kind::Domain, "c2.example"),
                ],
            ),
            (full, vec![exact(Kind::Domain, "c2.example")]),
        ],
        dir.path(),
    );
    let lists = read_back(dir.path(), Layout::Default);
    assert_eq!(
        lists["intelmatch-ip"]["198.51.100.7"],
        "source=opencti score=80 partial"
    );
    assert_eq!(
        lists["intelmatch-domain"]["c2.example"],
        "source=misp,opencti score=80"
    );
}
