//! The CDB list exporter (`store::export::Exporter`, both layouts) on records
//! and keys from the fuzz input, read back by an independent reader written
//! here from the analysisd rules (`Lists_OP_MakeCDB` and
//! `OS_DBSearchKeyAddress`, /work/shared/reference/wazuh.md §6.1, §6.4).
//!
//! Every key given is either found in its list, with a value that analysisd
//! and the Wazuh API read the same way, or reported as not exported. Every
//! line is one record, no key is written twice, and the product's own
//! reader (`export::cdb::parse_list`) agrees with this one.
//!
//! Input: byte 0 picks the layout and the expansion cap, then records
//! separated by 0xFE, each made of fields separated by 0xFF (bytes that
//! never occur in UTF-8, so keys may hold any character): `source`,
//! `label`, `score`, then one field per key whose first byte picks the kind
//! (`% 15`) and the method (`/ 15 % 4`: exact, cidr, substring, prefix).
#![no_main]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use matcher::normalize::{ip, IpValue};
use matcher::{KeyMethod, Kind, MatchKey, Record};
use store::export::{cdb, ExportOptions, Exporter, Layout, ValueStyle};

/// At most this many keys per input, so that every refused key is among the
/// examples the summary keeps (10 per reason).
const MAX_KEYS: usize = 10;

/// One line as analysisd stores it (from `fgets` with `OS_MAXSTR - 1`: at
/// most 65534 bytes per read, a longer line continues as the next "line").
fn read_analysisd(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    const READ: usize = 65536 - 2;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = match rest.iter().position(|&b| b == b'\n') {
            Some(p) if p < READ => p + 1,
            _ => rest.len().min(READ),
        };
        let (line, tail) = rest.split_at(n);
        rest = tail;
        // C strings: NUL ends the line; then `\r` and `\n` are cut.
        let mut s = line;
        for stop in [0u8, b'\r', b'\n'] {
            if let Some(p) = s.iter().position(|&b| b == stop) {
                s = &s[..p];
            }
        }
        let first_colon = s.iter().position(|&b| b == b':');
        let first_quote = s.iter().position(|&b| b == b'"');
        let (key, after_key) = match (first_quote, first_colon) {
            (Some(q), Some(c)) if q < c => {
                // Quoted key: up to the next quote; the separator is the
                // first `:` after it. No closing quote: line dropped.
                let Some(len) = s[q + 1..].iter().position(|&b| b == b'"') else {
                    continue;
                };
                (&s[q + 1..q + 1 + len], &s[q + 1 + len + 1..])
            }
            (_, Some(_)) => (&s[..0], s),
            (_, None) => continue,
        };
        let Some(c) = after_key.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = if first_quote.zip(first_colon).is_some_and(|(q, c)| q < c) {
            key
        } else {
            &after_key[..c]
        };
        let mut value = &after_key[c + 1..];
        if let Some(q) = value.iter().position(|&b| b == b'"') {
            let Some(len) = value[q + 1..].iter().position(|&b| b == b'"') else {
                continue;
            };
            value = &value[q + 1..q + 1 + len];
        }
        out.push((key.to_vec(), value.to_vec()));
    }
    out
}

/// `address_match_key`: the key, else each prefix ending in `.`, longest first.
fn address_lookup<'a>(list: &'a HashMap<Vec<u8>, Vec<u8>>, key: &[u8]) -> Option<&'a [u8]> {
    if let Some(v) = list.get(key) {
        return Some(v);
    }
    (1..key.len())
        .rev()
        .filter(|&n| key[n - 1] == b'.')
        .find_map(|n| list.get(&key[..n]).map(Vec::as_slice))
}

fn out_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("intelmatch-fuzz-cdb-{}", std::process::id()))
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((&opts_byte, rest)) = data.split_first() else {
        return;
    };
    let layout = if opts_byte & 1 == 0 {
        Layout::Default
    } else {
        Layout::MaliciousIoc
    };
    let max_expansion = [1, 16, 256, 65_536][usize::from(opts_byte >> 1 & 3)];
    let mut items: Vec<(Record, Vec<MatchKey>)> = Vec::new();
    let mut nkeys = 0;
    for rec in rest.split(|&b| b == 0xFE) {
        let mut fields = rec.split(|&b| b == 0xFF);
        let source = text(fields.next().unwrap_or_default());
        let label = text(fields.next().unwrap_or_default());
        let score = std::str::from_utf8(fields.next().unwrap_or_default())
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let record = Record {
            source: source.clone(),
            source_type: "list".into(),
            id: format!("{source}:1"),
            name: label.clone(),
            labels: if label.is_empty() {
                vec![]
            } else {
                vec![label]
            },
            score,
            ..Record::default()
        };
        let mut keys = Vec::new();
        for f in fields {
            let Some((&sel, key)) = f.split_first() else {
                continue;
            };
            if nkeys == MAX_KEYS {
                break;
            }
            nkeys += 1;
            let kind = Kind::ALL[usize::from(sel) % Kind::ALL.len()];
            let key = text(key);
            let key = match usize::from(sel) / Kind::ALL.len() % 4 {
                0 => MatchKey::exact(kind, key),
                // Networks as the compiler writes them (`ip()` canonical,
                // host bits cleared); anything else as given.
                1 => match ip(&key) {
                    Ok(v @ IpValue::Net(_)) => {
                        MatchKey::new(v.kind(), v.to_canonical(), KeyMethod::Cidr)
                    }
                    Ok(v @ IpValue::Addr(_)) => MatchKey::exact(v.kind(), v.to_canonical()),
                    Err(_) => MatchKey::new(kind, key, KeyMethod::Cidr),
                },
                2 => MatchKey::new(kind, key, KeyMethod::Substring),
                _ => MatchKey::new(kind, key, KeyMethod::Prefix),
            };
            keys.push(key);
        }
        items.push((record, keys));
    }

    let opts = ExportOptions {
        layout,
        max_expansion,
        ..ExportOptions::default()
    };
    let mut ex = Exporter::new(opts);
    for (r, k) in &items {
        ex.add(r, k);
    }
    let dir = out_dir().join(layout.as_str());
    let summary = ex
        .finish(&dir)
        .expect("export to a private tmpfs directory");

    // Every list, read back.
    let mut lists: Vec<HashMap<Vec<u8>, Vec<u8>>> = Vec::new();
    for spec in layout.lists() {
        let data = std::fs::read(dir.join(spec.name)).expect("every list is written");
        let records = read_analysisd(&data);
        assert_eq!(
            records,
            cdb::parse_list(&data),
            "{}: the readers disagree",
            spec.name
        );
        assert_eq!(
            records.len(),
            data.iter().filter(|&&b| b == b'\n').count(),
            "{}: every line is one record",
            spec.name
        );
        assert!(data.is_empty() || data.ends_with(b"\n"));
        let mut map = HashMap::new();
        for (k, v) in records {
            assert!(!k.is_empty(), "{}: empty key", spec.name);
            // What the Wazuh API validator also accepts as a value.
            assert!(
                !v.iter()
                    .any(|&b| matches!(b, b':' | b'"' | b'\r' | b'\n' | 0)),
                "{}: value {:?}",
                spec.name,
                text(&v)
            );
            assert!(v.len() <= 256, "{}: value of {} bytes", spec.name, v.len());
            assert!(
                std::str::from_utf8(&v).is_ok(),
                "value cut inside a character"
            );
            match spec.values {
                ValueStyle::Provenance => assert!(v.starts_with(b"source="), "{:?}", text(&v)),
                ValueStyle::Empty => assert!(v.is_empty()),
                ValueStyle::Family => {}
            }
            let shown = text(&k);
            assert!(
                map.insert(k, v).is_none(),
                "{}: key {shown:?} twice",
                spec.name
            );
        }
        lists.push(map);
    }

    // Every key given: found, or reported.
    let refused: HashSet<&str> = summary
        .not_exported
        .iter()
        .flat_map(|n| n.examples.iter().map(String::as_str))
        .collect();
    let reported = |key: &str| {
        refused.iter().any(|e| {
            *e == key
                || e.strip_suffix('…').is_some_and(|p| key.starts_with(p))
                || e.strip_prefix(key).is_some_and(|r| r.starts_with(" ("))
        })
    };
    for (_, keys) in &items {
        for k in keys {
            let list = layout.list_for(k.kind).map(|i| &lists[i]);
            let found = match (list, k.method) {
                (Some(l), KeyMethod::Exact) => l.contains_key(k.key.as_bytes()),
                (Some(l), KeyMethod::Cidr) => k
                    .key
                    .split_once('/')
                    .and_then(|(a, _)| a.parse::<std::net::Ipv4Addr>().ok())
                    .is_some_and(|a| address_lookup(l, a.to_string().as_bytes()).is_some()),
                _ => false,
            };
            assert!(
                found || reported(&k.key),
                "{} {:?} key {:?}: neither in its list nor reported ({:?})",
                k.kind,
                k.method,
                k.key,
                summary.not_exported
            );
        }
    }
});
