//! Index generations end to end: build, publish, open, look up, swap, clean up.
//!
//! Values use documentation ranges and `.example` names; warninglists are not
//! part of these generations (or are switched off), so nothing suppresses them.

use std::time::Duration;

use matcher::index::{cleanup, Index, IndexBuilder};
use matcher::lookup::{Lookup, LookupOptions, WarninglistMode};
use matcher::{HitMethod, KeyMethod, Kind, MatchKey, Record, RecordKind};

fn record(id: &str, score: i64) -> Record {
    Record {
        source: "demo".into(),
        source_type: "stix".into(),
        id: id.into(),
        name: format!("indicator {id}"),
        score: Some(score),
        labels: vec!["c2".into()],
        markings: vec!["TLP:AMBER".into()],
        ..Record::default()
    }
}

fn opts() -> LookupOptions {
    LookupOptions {
        warninglists: WarninglistMode::Off,
        ..LookupOptions::default()
    }
}

fn build(dir: &std::path::Path, entries: &[(Record, Vec<MatchKey>)]) -> u64 {
    let mut b = IndexBuilder::new(dir).unwrap();
    for (r, keys) in entries {
        b.add(r, keys).unwrap();
    }
    b.finish().unwrap().generation
}

fn hits(l: &mut Lookup, kind: Kind, value: &str) -> Vec<(String, HitMethod, String)> {
    let out = l.value(kind, value);
    out.hits
        .iter()
        .map(|h| {
            let r = l.index().records().get(h.record).unwrap();
            (r.id, h.method, h.matched.clone())
        })
        .collect()
}

fn sample() -> Vec<(Record, Vec<MatchKey>)> {
    vec![
        (
            record("ip", 80),
            vec![MatchKey::exact(Kind::Ipv4, "198.51.100.23")],
        ),
        (
            record("net24", 60),
            vec![MatchKey::new(
                Kind::Ipv4,
                "198.51.100.0/24",
                KeyMethod::Cidr,
            )],
        ),
        (
            record("net16", 40),
            vec![MatchKey::new(Kind::Ipv4, "198.51.0.0/16", KeyMethod::Cidr)],
        ),
        (
            record("v6", 70),
            vec![MatchKey::exact(Kind::Ipv6, "2001:db8:bad::10")],
        ),
        (
            record("dom", 75),
            vec![MatchKey::exact(Kind::Domain, "evil.example")],
        ),
        // `co.uk` is a public suffix: it must never match names under it.
        (
            record("suffix", 90),
            vec![MatchKey::exact(Kind::Domain, "co.uk")],
        ),
        (
            record("url", 50),
            vec![MatchKey::exact(Kind::Url, "http://bad.example/payload")],
        ),
        (
            record("hash", 85),
            vec![MatchKey::exact(
                Kind::Sha256,
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            )],
        ),
        (
            record("mail", 65),
            vec![MatchKey::exact(Kind::Email, "phish@evil.example")],
        ),
        (
            Record {
                partial: true,
                ..record("compound", 55)
            },
            vec![
                MatchKey::exact(Kind::Ipv4, "203.0.113.45"),
                MatchKey::exact(Kind::Domain, "c2.other.example"),
            ],
        ),
        (
            record("like", 30),
            vec![MatchKey::new(
                Kind::Url,
                "/wp-admin/evil",
                KeyMethod::Substring,
            )],
        ),
    ]
}

#[test]
fn every_lookup_method_answers_with_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), &sample());
    let index = Index::open(tmp.path()).unwrap();
    let mut l = Lookup::new(&index, opts());

    assert_eq!(
        hits(&mut l, Kind::Ipv4, "198.51.100.23"),
        vec![
            ("ip".into(), HitMethod::Exact, "198.51.100.23".into()),
            ("net24".into(), HitMethod::Cidr, "198.51.100.0/24".into()),
            ("net16".into(), HitMethod::Cidr, "198.51.0.0/16".into()),
        ]
    );
    assert_eq!(hits(&mut l, Kind::Ipv4, "198.51.7.1").len(), 1);
    assert_eq!(
        hits(&mut l, Kind::Ipv6, "2001:db8:bad::10"),
        vec![("v6".into(), HitMethod::Exact, "2001:db8:bad::10".into())]
    );
    assert_eq!(
        hits(&mut l, Kind::Domain, "cdn.evil.example"),
        vec![("dom".into(), HitMethod::ParentDomain, "evil.example".into())]
    );
    assert_eq!(
        hits(&mut l, Kind::Domain, "evil.example"),
        vec![("dom".into(), HitMethod::Exact, "evil.example".into())]
    );
    assert!(hits(&mut l, Kind::Domain, "devil.example").is_empty());
    assert!(
        hits(&mut l, Kind::Domain, "shop.co.uk").is_empty(),
        "public suffix bound"
    );
    assert_eq!(
        hits(&mut l, Kind::Domain, "co.uk").len(),
        1,
        "exact on a suffix still hits"
    );
    assert_eq!(
        hits(&mut l, Kind::Url, "http://bad.example/payload"),
        vec![(
            "url".into(),
            HitMethod::Exact,
            "http://bad.example/payload".into()
        )]
    );
    assert_eq!(
        hits(&mut l, Kind::Url, "https://www.evil.example/login"),
        vec![("dom".into(), HitMethod::ParentDomain, "evil.example".into())]
    );
    assert_eq!(
        hits(&mut l, Kind::Url, "http://evil.example/"),
        vec![("dom".into(), HitMethod::UrlHost, "evil.example".into())]
    );
    assert_eq!(
        hits(&mut l, Kind::Url, "http://198.51.100.23/x"),
        vec![
            ("ip".into(), HitMethod::UrlHost, "198.51.100.23".into()),
            ("net24".into(), HitMethod::Cidr, "198.51.100.0/24".into()),
            ("net16".into(), HitMethod::Cidr, "198.51.0.0/16".into()),
        ]
    );
    assert_eq!(
        hits(&mut l, Kind::Url, "http://x.test/wp-admin/evil.php"),
        vec![("like".into(), HitMethod::Substring, "/wp-admin/evil".into())]
    );
    // `LIKE` is compared in one case form: a path in capitals still hits
    // (`[url:value LIKE '%Payload%']` missed `…/Payload.bin` before).
    assert_eq!(
        hits(&mut l, Kind::Url, "http://x.test/WP-Admin/Evil.php"),
        vec![("like".into(), HitMethod::Substring, "/wp-admin/evil".into())]
    );
    assert_eq!(
        hits(
            &mut l,
            Kind::Sha256,
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        )
        .len(),
        1
    );
    assert_eq!(hits(&mut l, Kind::Email, "phish@evil.example").len(), 1);

    let out = l.value(Kind::Ipv4, "203.0.113.45");
    let r = index.records().get(out.hits[0].record).unwrap();
    assert!(r.partial);
    assert_eq!(r.markings, ["TLP:AMBER"]);
    assert_eq!(r.score, Some(55));
}

#[test]
fn expiry_revocation_and_score_apply_at_match_time() {
    let tmp = tempfile::tempdir().unwrap();
    let md5 = |r: Record, h: &str| (r, vec![MatchKey::exact(Kind::Md5, h)]);
    build(
        tmp.path(),
        &[
            md5(
                Record {
                    valid_until: Some("2020-01-01T00:00:00Z".into()),
                    ..record("expired", 80)
                },
                "0cc175b9c0f1b6a831c399e269772661",
            ),
            md5(
                Record {
                    revoked: true,
                    ..record("revoked", 80)
                },
                "92eb5ffee6ae2fec3ad71c777531578f",
            ),
            md5(record("low", 10), "4a8a08f09d37b73795649038408b5f33"),
        ],
    );
    let index = Index::open(tmp.path()).unwrap();
    let mut l = Lookup::new(
        &index,
        LookupOptions {
            min_score: 20,
            ..opts()
        },
    );
    for h in [
        "0cc175b9c0f1b6a831c399e269772661",
        "92eb5ffee6ae2fec3ad71c777531578f",
        "4a8a08f09d37b73795649038408b5f33",
    ] {
        assert!(l.value(Kind::Md5, h).hits.is_empty(), "{h}");
    }
    let mut l = Lookup::new(
        &index,
        LookupOptions {
            include_expired: true,
            include_revoked: true,
            ..opts()
        },
    );
    assert_eq!(
        l.value(Kind::Md5, "0cc175b9c0f1b6a831c399e269772661")
            .hits
            .len(),
        1
    );
    assert_eq!(
        l.value(Kind::Md5, "92eb5ffee6ae2fec3ad71c777531578f")
            .hits
            .len(),
        1
    );
}

#[test]
fn warninglists_suppress_annotate_or_stay_off() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = |id: &str| Record {
        source: "warninglists".into(),
        source_type: "warninglist".into(),
        record_kind: RecordKind::Warninglist,
        id: id.into(),
        name: format!("list {id}"),
        ..Record::default()
    };
    build(
        tmp.path(),
        &[
            (
                record("sub", 80),
                vec![MatchKey::exact(Kind::Domain, "mail.google.com")],
            ),
            (
                record("dom", 80),
                vec![MatchKey::exact(Kind::Domain, "google.com")],
            ),
            (
                record("short-url", 80),
                vec![MatchKey::exact(Kind::Url, "http://bit.ly/2A5rxKB")],
            ),
            (
                record("dns", 70),
                vec![MatchKey::exact(Kind::Ipv4, "8.8.8.8")],
            ),
            (
                record("wide", 60),
                vec![MatchKey::new(Kind::Ipv4, "8.8.0.0/16", KeyMethod::Cidr)],
            ),
            (
                wl("google"),
                vec![MatchKey::exact(Kind::Domain, "google.com")],
            ),
            (
                wl("shorteners"),
                vec![MatchKey::exact(Kind::Domain, "bit.ly")],
            ),
            (
                wl("resolvers"),
                vec![MatchKey::new(Kind::Ipv4, "8.8.8.0/24", KeyMethod::Cidr)],
            ),
        ],
    );
    let index = Index::open(tmp.path()).unwrap();
    let ids = |o: &matcher::lookup::Outcome| -> Vec<(String, usize)> {
        o.hits
            .iter()
            .map(|h| {
                (
                    index.records().get(h.record).unwrap().id,
                    h.warninglists.len(),
                )
            })
            .collect()
    };
    let with = |mode, kind, value: &str| {
        let mut l = Lookup::new(
            &index,
            LookupOptions {
                warninglists: mode,
                ..LookupOptions::default()
            },
        );
        l.value(kind, value)
    };
    // A list hides an indicator whose own value it lists...
    let s = with(WarninglistMode::Suppress, Kind::Domain, "google.com");
    assert!(s.hits.is_empty());
    assert_eq!(s.suppressed, 1);
    let s = with(WarninglistMode::Suppress, Kind::Ipv4, "8.8.8.8");
    assert_eq!(
        ids(&s),
        [("wide".to_string(), 1)],
        "8.8.8.8 is inside 8.8.8.0/24; 8.8.0.0/16 is not"
    );
    assert_eq!(s.suppressed, 1);
    // ...never a more specific one under a listed entry: it is annotated.
    let s = with(WarninglistMode::Suppress, Kind::Domain, "mail.google.com");
    assert_eq!(ids(&s), [("sub".to_string(), 1)]);
    assert_eq!(
        s.suppressed, 1,
        "the parent-domain hit on google.com itself is hidden"
    );
    let s = with(
        WarninglistMode::Suppress,
        Kind::Url,
        "http://bit.ly/2A5rxKB",
    );
    assert_eq!(ids(&s), [("short-url".to_string(), 1)]);
    assert_eq!(s.suppressed, 0);

    let a = with(WarninglistMode::Annotate, Kind::Domain, "google.com");
    assert_eq!(ids(&a), [("dom".to_string(), 1)]);
    let o = with(WarninglistMode::Off, Kind::Domain, "google.com");
    assert_eq!(ids(&o), [("dom".to_string(), 0)]);
}

#[test]
fn an_open_reader_is_unaffected_by_a_new_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let g1 = build(
        tmp.path(),
        &[(
            record("old", 50),
            vec![MatchKey::exact(Kind::Domain, "old.example")],
        )],
    );
    let held = Index::open(tmp.path()).unwrap();
    assert_eq!(held.generation(), g1);

    let g2 = build(
        tmp.path(),
        &[(
            record("new", 50),
            vec![MatchKey::exact(Kind::Domain, "new.example")],
        )],
    );
    assert_eq!(g2, g1 + 1);
    // The held generation still answers from its own data.
    let mut l = Lookup::new(&held, opts());
    assert_eq!(l.value(Kind::Domain, "old.example").hits.len(), 1);
    assert!(l.value(Kind::Domain, "new.example").hits.is_empty());
    // The next open sees the new data.
    let fresh = Index::open(tmp.path()).unwrap();
    assert_eq!(fresh.generation(), g2);
    let mut l2 = Lookup::new(&fresh, opts());
    assert!(l2.value(Kind::Domain, "old.example").hits.is_empty());
    assert_eq!(l2.value(Kind::Domain, "new.example").hits.len(), 1);

    // Cleanup keeps a generation a reader holds (within the grace period)...
    let c = cleanup(tmp.path(), 1, Duration::from_secs(3600)).unwrap();
    assert_eq!(c.in_use, vec![g1]);
    drop(l);
    drop(held);
    // ...and removes it once unused.
    let c = cleanup(tmp.path(), 1, Duration::from_secs(3600)).unwrap();
    assert_eq!(c.removed, vec![g1]);
    assert!(Index::open(tmp.path()).is_ok());
}

#[test]
fn missing_and_corrupt_generations_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Index::open(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("run `intelmatch sync` first"), "{e}");

    let g = build(tmp.path(), &sample());
    let dir = tmp
        .path()
        .join(matcher::index::layout::generation_dir_name(g));
    // Truncate a data file behind the index's back: the size check catches it.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("records.dat"))
        .unwrap();
    f.set_len(3).unwrap();
    let e = Index::open(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("corrupt") && e.contains("records.dat"), "{e}");

    std::fs::write(tmp.path().join("CURRENT"), b"{not json").unwrap();
    let e = Index::open(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("CURRENT"), "{e}");
}

#[test]
fn generation_files_are_not_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let g = build(tmp.path(), &sample());
    let dir = tmp
        .path()
        .join(matcher::index::layout::generation_dir_name(g));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o750
    );
    for f in std::fs::read_dir(&dir).unwrap() {
        let m = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o640);
    }
}

#[test]
fn a_generation_of_another_format_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let g = build(tmp.path(), &sample());
    let meta_path = tmp
        .path()
        .join(matcher::index::layout::generation_dir_name(g))
        .join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    assert_eq!(meta["format"], matcher::index::layout::FORMAT);
    // Format 1 held JSON record bodies: this binary must not try to read them.
    meta["format"] = 1.into();
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let e = Index::open(tmp.path()).unwrap_err().to_string();
    assert!(
        e.contains("meta.json") && e.contains("format 1") && e.contains("intelmatch compile"),
        "{e}"
    );
}

#[test]
fn records_round_trip_through_a_published_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let mut extra = serde_json::Map::new();
    extra.insert("event_id".into(), 42.into());
    let full = Record {
        source: "opencti".into(),
        source_type: "opencti".into(),
        id: "indicator--6f1e3c8a-2b4d-4e6f-8a0b-1c2d3e4f5a6b".into(),
        name: "198.51.100.23".into(),
        pattern: Some("[ipv4-addr:value = '198.51.100.23']".into()),
        pattern_type: Some("stix".into()),
        score: Some(80),
        confidence: Some(90),
        labels: vec!["c2".into(), "botnet".into()],
        markings: vec!["TLP:AMBER".into()],
        valid_from: Some("2024-01-02T03:04:05.678Z".into()),
        valid_until: Some("2099-01-01T00:00:00Z".into()),
        detection: Some(true),
        created_by: Some("ACME CERT".into()),
        link: Some("https://opencti.example/dashboard/observations/indicators/6f1e3c8a-2b4d-4e6f-8a0b-1c2d3e4f5a6b".into()),
        updated_at: Some("2024-01-02T03:04:05+01:00".into()),
        extra,
        ..Record::default()
    };
    let mut entries = vec![(
        full.clone(),
        vec![MatchKey::exact(Kind::Ipv4, "198.51.100.23")],
    )];
    entries.extend(sample());
    build(tmp.path(), &entries);
    let index = Index::open(tmp.path()).unwrap();
    assert_eq!(index.records().get(0).unwrap(), full);
    for (i, (r, _)) in entries.iter().enumerate() {
        assert_eq!(&index.records().get(i as u32).unwrap(), r);
    }
}

#[test]
fn hash_keys_are_found_and_listed_whichever_structure_holds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let entries = vec![
        (record("md5", 80), vec![MatchKey::exact(Kind::Md5, md5)]),
        (record("md5-dup", 60), vec![MatchKey::exact(Kind::Md5, md5)]),
        // Not lowercase hex (a corrupt store row): kept in the FST, still exact.
        (
            record("odd", 50),
            vec![MatchKey::exact(Kind::Md5, "not-a-hash")],
        ),
        (
            record("url", 70),
            vec![MatchKey::exact(Kind::Url, "http://evil.example/x")],
        ),
    ];
    build(tmp.path(), &entries);
    let index = Index::open(tmp.path()).unwrap();
    let mut l = Lookup::new(&index, opts());
    let ids: Vec<String> = hits(&mut l, Kind::Md5, md5)
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(ids, ["md5", "md5-dup"]);
    assert_eq!(hits(&mut l, Kind::Md5, "not-a-hash").len(), 1);
    assert!(hits(&mut l, Kind::Sha1, md5).is_empty());
    let keys: Vec<String> = index.exact_keys(Kind::Md5).map(|k| k.0).collect();
    assert_eq!(keys, [md5, "not-a-hash"]);
    assert_eq!(index.meta().exact_keys, 3);
}

/// Sets a directory's modification time `age` into the past.
fn backdate(dir: &std::path::Path, age: Duration) {
    let then = std::time::SystemTime::now() - age;
    std::fs::File::open(dir)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(then))
        .unwrap();
}

fn tmp_dirs(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    names.sort();
    names
}

#[test]
fn cleanup_removes_the_builds_of_dead_builders_at_once_and_never_a_live_one() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path(), &sample());
    // A builder killed mid-build (SIGKILL, OOM) leaves its directory with a
    // lock nobody holds.
    let dead = tmp.path().join(".tmp-4242-1");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join(".building"), b"").unwrap();
    std::fs::write(dead.join("records.dat"), b"half").unwrap();
    backdate(&dead, Duration::from_secs(60));
    // A builder at work, its directory as old.
    let live = IndexBuilder::new(tmp.path()).unwrap();
    let live_dir = tmp_dirs(tmp.path())
        .into_iter()
        .find(|n| n != ".tmp-4242-1")
        .unwrap();
    backdate(&tmp.path().join(&live_dir), Duration::from_secs(60));
    // One without a lock file (an older binary): only its age counts.
    let old_style = tmp.path().join(".tmp-4243-1");
    std::fs::create_dir(&old_style).unwrap();
    backdate(&old_style, Duration::from_secs(60));
    // A directory created just now, its lock maybe not taken yet (dated in
    // the future here, so that no pause of the test can age it).
    let fresh = tmp.path().join(".tmp-4244-1");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join(".building"), b"").unwrap();
    std::fs::File::open(&fresh)
        .unwrap()
        .set_times(
            std::fs::FileTimes::new()
                .set_modified(std::time::SystemTime::now() + Duration::from_secs(3600)),
        )
        .unwrap();

    let c = cleanup(tmp.path(), 1, Duration::from_secs(3600)).unwrap();
    assert_eq!(c.abandoned, vec![".tmp-4242-1".to_string()]);
    let mut left = vec![
        ".tmp-4243-1".to_string(),
        ".tmp-4244-1".to_string(),
        live_dir,
    ];
    left.sort();
    assert_eq!(tmp_dirs(tmp.path()), left);
    // The live builder publishes normally, without a lock file in its generation.
    let meta = live.finish().unwrap();
    let published = tmp
        .path()
        .join(matcher::index::layout::generation_dir_name(meta.generation));
    assert!(!published.join(".building").exists());
    assert!(Index::open(tmp.path()).is_ok());
}

#[test]
fn a_reader_is_never_stalled_by_someone_holding_the_readers_lock() {
    // `.readers` is readable by group wazuh, so anyone there can flock it
    // exclusively; integrate must still answer.
    let tmp = tempfile::tempdir().unwrap();
    let g = build(tmp.path(), &sample());
    let lock = tmp
        .path()
        .join(matcher::index::layout::generation_dir_name(g))
        .join(matcher::index::layout::READERS_LOCK);
    let holder = std::fs::File::open(&lock).unwrap();
    holder.lock().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = tmp.path().to_path_buf();
    std::thread::spawn(move || {
        let index = Index::open(&dir).unwrap();
        let mut l = Lookup::new(&index, opts());
        tx.send(hits(&mut l, Kind::Ipv4, "198.51.100.23").len())
            .unwrap();
    });
    let found = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("Index::open blocked on a lock someone else holds");
    assert_eq!(found, 3, "the address, its /24 and its /16");
    drop(holder);
}

/// A warninglist entry on a public suffix that reached a generation anyway
/// (the compiler refuses them) still suppresses nothing under the suffix,
/// while an entry under it does.
#[test]
fn warninglist_entries_on_a_public_suffix_suppress_nothing_under_it() {
    let tmp = tempfile::tempdir().unwrap();
    let list = |name: &str| Record {
        source: "warninglists".into(),
        record_kind: RecordKind::Warninglist,
        id: format!("warninglist:{name}"),
        name: name.into(),
        ..Record::default()
    };
    build(
        tmp.path(),
        &[
            (
                record("uk", 80),
                vec![MatchKey::exact(Kind::Domain, "c2.evil.co.uk")],
            ),
            (
                record("ex", 80),
                vec![MatchKey::exact(Kind::Domain, "c2.corp.example")],
            ),
            (
                list("hostile"),
                vec![MatchKey::exact(Kind::Domain, "co.uk")],
            ),
            (
                list("ours"),
                vec![MatchKey::exact(Kind::Domain, "corp.example")],
            ),
        ],
    );
    let index = Index::open(tmp.path()).unwrap();
    let mut l = Lookup::new(&index, LookupOptions::default());
    let out = l.value(Kind::Domain, "c2.evil.co.uk");
    assert_eq!((out.hits.len(), out.suppressed), (1, 0));
    assert!(out.hits[0].warninglists.is_empty());
    // Under a listed name the more specific indicator still hits, annotated.
    let out = l.value(Kind::Domain, "c2.corp.example");
    assert_eq!((out.hits.len(), out.suppressed), (1, 0));
    assert_eq!(out.hits[0].warninglists.len(), 1);
}

/// MISP `regkey` values often have no hive (ESET's
/// `Software\Wow6432Node\Microsoft\Windows\CurrentVersion\Run`): they match
/// the key path under any hive, a user's SID included.
#[test]
fn registry_keys_without_a_hive_match_the_key_path() {
    let tmp = tempfile::tempdir().unwrap();
    let key =
        matcher::normalize::regkey(r"Software\Wow6432Node\Microsoft\Windows\CurrentVersion\Run")
            .unwrap();
    build(
        tmp.path(),
        &[(record("run", 70), vec![MatchKey::exact(Kind::Regkey, key)])],
    );
    let index = Index::open(tmp.path()).unwrap();
    let mut l = Lookup::new(&index, opts());
    for alert_key in [
        r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Run",
        r"HKU\S-1-5-21-1004336348-1177238915-682003330-512\Software\Wow6432Node\Microsoft\Windows\CurrentVersion\Run",
    ] {
        let n = matcher::normalize::regkey(alert_key).unwrap();
        assert_eq!(hits(&mut l, Kind::Regkey, &n).len(), 1, "{alert_key}");
    }
    let other =
        matcher::normalize::regkey(r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run").unwrap();
    assert!(hits(&mut l, Kind::Regkey, &other).is_empty());
}
