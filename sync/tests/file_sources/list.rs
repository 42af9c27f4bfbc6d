use std::collections::BTreeSet;
use std::path::Path;

use matcher::{Kind, RecordKind};
use store::config::ListConfig;
use store::sources::{list, FileSourceError, Loaded};

use super::{rejects, write};

fn cfg(path: &Path) -> ListConfig {
    ListConfig {
        path: path.to_path_buf(),
        kind: None,
        column: None,
        delimiter: ',',
        score: None,
        labels: Vec::new(),
    }
}

fn load(cfg: &ListConfig) -> Loaded {
    list::load(cfg, "blocklist").unwrap()
}

fn entries(loaded: &Loaded) -> Vec<(String, Kind, String)> {
    loaded
        .batch
        .indicators
        .iter()
        .map(|r| {
            assert_eq!(r.values.len(), 1);
            (r.ext_id.clone(), r.values[0].0, r.values[0].1.clone())
        })
        .collect()
}

fn e(id: &str, kind: Kind, value: &str) -> (String, Kind, String) {
    (id.to_string(), kind, value.to_string())
}

#[test]
fn one_value_per_line_with_comments_and_detection() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "iocs.txt",
        "\u{feff}# exported 2024-03-01\r\n\
         \r\n\
         203.0.113.7\r\n\
         ; another comment style\n\
         198.51.100.0/24 ; SBL123\n\
         evil.example   # c2\n\
         2001:db8::1\n\
         http://evil.example/payload?a=1;b=2#frag\n\
         phish@evil.test\n\
         d41d8cd98f00b204e9800998ecf8427e\n\
         203.0.113.7\n\
         \t  \n",
    );
    let mut config = cfg(&dir.path().join("iocs.txt"));
    config.score = Some(75);
    config.labels = vec!["blocklist".into()];
    let loaded = load(&config);
    assert_eq!(rejects(&loaded.batch), Vec::<String>::new());
    assert!(loaded.batch.snapshot);
    assert_eq!(
        entries(&loaded),
        [
            e("iocs.txt:203.0.113.7", Kind::Ipv4, "203.0.113.7"),
            e("iocs.txt:198.51.100.0/24", Kind::Ipv4, "198.51.100.0/24"),
            e("iocs.txt:evil.example", Kind::Domain, "evil.example"),
            e("iocs.txt:2001:db8::1", Kind::Ipv6, "2001:db8::1"),
            e(
                "iocs.txt:http://evil.example/payload?a=1;b=2#frag",
                Kind::Url,
                "http://evil.example/payload?a=1;b=2#frag"
            ),
            e("iocs.txt:phish@evil.test", Kind::Email, "phish@evil.test"),
            e(
                "iocs.txt:d41d8cd98f00b204e9800998ecf8427e",
                Kind::Md5,
                "d41d8cd98f00b204e9800998ecf8427e"
            ),
        ]
    );
    assert_eq!(loaded.skipped["duplicate line"], 1);
    let first = &loaded.batch.indicators[0];
    assert_eq!(first.record_kind, RecordKind::ListEntry);
    assert_eq!(first.name, "203.0.113.7");
    assert_eq!(first.score, Some(75));
    assert_eq!(first.labels, ["blocklist"]);
    assert_eq!(first.extra["file"], "iocs.txt");
    assert_eq!(first.pattern, None);
}

#[test]
fn a_bad_line_is_rejected_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    let mut text = String::new();
    for i in 1..=16 {
        text.push_str(&format!("192.0.2.{i}\n"));
    }
    text.push_str("300.1.1.1\n192.0.2.200\n");
    write(dir.path(), "list.txt", text);
    let mut config = cfg(&path);
    config.kind = Some(Kind::Ipv4);
    let loaded = load(&config);
    assert_eq!(loaded.batch.rejects.len(), 1);
    let reject = &loaded.batch.rejects[0];
    assert_eq!(reject.item, format!("{}:17", path.display()));
    assert!(
        reject.reason.starts_with("invalid ipv4 `300.1.1.1`"),
        "{}",
        reject.reason
    );
    assert_eq!(loaded.batch.indicators.len(), 17);
}

#[test]
fn invalid_utf8_rejects_only_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.txt");
    write(
        dir.path(),
        "mixed.txt",
        b"evil.example\nbad\xff\xfe.example\nother.example\n",
    );
    let loaded = load(&cfg(&path));
    assert_eq!(
        rejects(&loaded.batch),
        [format!("{}:2: invalid UTF-8 at byte 3", path.display())]
    );
    assert_eq!(
        entries(&loaded),
        [
            e("mixed.txt:evil.example", Kind::Domain, "evil.example"),
            e("mixed.txt:other.example", Kind::Domain, "other.example"),
        ]
    );
}

#[test]
fn unrecognised_values_are_rejected_when_detecting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.txt");
    write(dir.path(), "l.txt", "not an ioc at all\nevil.example\n");
    let loaded = load(&cfg(&path));
    assert_eq!(
        rejects(&loaded.batch),
        [format!(
            "{}:1: `not an ioc at all` is not a recognised IoC (set `kind` to force one)",
            path.display()
        )]
    );
    assert_eq!(loaded.batch.indicators.len(), 1);
}

#[test]
fn free_text_kinds_keep_hashes_and_semicolons() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ua.txt");
    write(
        dir.path(),
        "ua.txt",
        "# user agents\nMozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) EvilBot ;x #1\n",
    );
    let mut config = cfg(&path);
    config.kind = Some(Kind::UserAgent);
    let loaded = load(&config);
    assert_eq!(
        loaded.batch.indicators[0].values,
        [(
            Kind::UserAgent,
            "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) EvilBot ;x #1".to_string()
        )]
    );
}

#[test]
fn csv_column_with_quotes_and_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.csv");
    write(
        dir.path(),
        "feed.csv",
        "first_seen,host,note\n\
         # comment\n\
         2024-03-01,evil.example,c2\n\
         2024-03-02,\"bad.example\",\"phish, \"\"kit\"\"\"\n\
         2024-03-03\n\
         2024-03-04,\"unterminated\n\
         2024-03-05,,empty\n\
         2024-03-06,other.example\n",
    );
    let mut config = cfg(&path);
    config.column = Some(2);
    let loaded = load(&config);
    let p = path.display();
    assert_eq!(
        rejects(&loaded.batch),
        [
            format!("{p}:5: no column 2: the line has 1 column"),
            format!("{p}:6: unterminated quote in column 2"),
            format!("{p}:7: column 2 is empty"),
        ]
    );
    assert_eq!(
        entries(&loaded),
        [
            e("feed.csv:evil.example", Kind::Domain, "evil.example"),
            e("feed.csv:bad.example", Kind::Domain, "bad.example"),
            e("feed.csv:other.example", Kind::Domain, "other.example"),
        ]
    );
}

#[test]
fn csv_with_semicolons_and_tabs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", ";198.51.100.1\n# c\nx;198.51.100.2\n");
    write(dir.path(), "b.tsv", "\t198.51.100.3\n");
    let mut config = cfg(&dir.path().join("a.csv"));
    config.column = Some(2);
    config.delimiter = ';';
    config.kind = Some(Kind::Ipv4);
    let ids: Vec<String> = entries(&load(&config)).into_iter().map(|e| e.0).collect();
    assert_eq!(ids, ["a.csv:198.51.100.1", "a.csv:198.51.100.2"]);

    config.path = dir.path().join("b.tsv");
    config.delimiter = '\t';
    let ids: Vec<String> = entries(&load(&config)).into_iter().map(|e| e.0).collect();
    assert_eq!(ids, ["b.tsv:198.51.100.3"]);
}

#[test]
fn a_directory_of_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "z.txt", "203.0.113.1\n");
    write(d, "a/ips.txt", "203.0.113.1\n203.0.113.2\n");
    write(d, ".hidden", "203.0.113.3\n");
    write(d, "b.txt~", "");
    let loaded = load(&cfg(d));
    assert_eq!(loaded.files, 3);
    let ids: Vec<String> = entries(&loaded).into_iter().map(|e| e.0).collect();
    // The same value in two files is two entries: each file is its own provenance.
    assert_eq!(
        ids,
        [
            "a/ips.txt:203.0.113.1",
            "a/ips.txt:203.0.113.2",
            "z.txt:203.0.113.1"
        ]
    );
}

#[test]
fn reordering_a_file_keeps_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.txt");
    write(dir.path(), "l.txt", "a.example\nb.example\nc.example\n");
    let ids = |loaded: &Loaded| -> BTreeSet<String> {
        loaded
            .batch
            .indicators
            .iter()
            .map(|r| r.ext_id.clone())
            .collect()
    };
    let before = load(&cfg(&path));
    let first = load(&cfg(&path));
    assert_eq!(
        before.batch.indicators, first.batch.indicators,
        "deterministic"
    );
    write(
        dir.path(),
        "l.txt",
        "# reordered\nc.example\n\na.example\nb.example\n",
    );
    let after = load(&cfg(&path));
    assert_eq!(ids(&before), ids(&after));
    assert_ne!(before.fingerprint, after.fingerprint);
}

#[test]
fn an_overlong_line_is_rejected_and_the_next_line_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.txt");
    let mut content = "a".repeat(100_000);
    content.push_str("\nok.example\n");
    write(dir.path(), "l.txt", content);
    let loaded = load(&cfg(&path));
    assert_eq!(
        rejects(&loaded.batch),
        [format!(
            "{}:1: line too long (100001 bytes, at most 65536)",
            path.display()
        )]
    );
    assert_eq!(
        entries(&loaded),
        [e("l.txt:ok.example", Kind::Domain, "ok.example")]
    );
}

#[test]
fn rejects_are_capped_for_a_binary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob.bin");
    let blob: Vec<u8> = (0..1000).flat_map(|_| [0xffu8, b'\n']).collect();
    write(dir.path(), "blob.bin", blob);
    let loaded = load(&cfg(&path));
    assert_eq!(loaded.batch.rejects.len(), 101);
    assert_eq!(
        loaded.batch.rejects[100].to_string(),
        format!(
            "{}: 900 more rejects in this file not listed",
            path.display()
        )
    );
}

#[test]
fn fingerprint_and_fatal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.txt");
    write(dir.path(), "l.txt", "a.example\n");
    let mut config = cfg(&path);
    let fp = list::fingerprint(&config).unwrap();
    assert_eq!(fp, load(&config).fingerprint);
    write(dir.path(), "l.txt", "a.example\nb.example\n");
    assert_ne!(fp, list::fingerprint(&config).unwrap());
    let now = list::fingerprint(&config).unwrap();
    config.score = Some(10);
    assert_ne!(
        now,
        list::fingerprint(&config).unwrap(),
        "config changes count"
    );

    config.column = Some(0);
    assert!(matches!(
        list::load(&config, "blocklist"),
        Err(FileSourceError::Unusable { .. })
    ));
    let missing = cfg(&dir.path().join("nope.txt"));
    let err = list::load(&missing, "blocklist").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: not found", dir.path().join("nope.txt").display())
    );
}
