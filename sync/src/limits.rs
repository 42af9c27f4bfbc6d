//! Limits a feed cannot exceed: keys that would make one indicator hit every
//! address, one warninglist entry silence every hit, or one source fill the
//! index with substring patterns are refused when a generation is compiled.
//! Each refusal is counted by reason with its first example in `meta.json`,
//! which the sync summary and `status` print; the rest of the record stays.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use matcher::index::{parse_ip_key, IndexBuilder};
use matcher::normalize::{classify, AddrClass};
use matcher::{KeyMethod, Kind, MatchKey, Record, RecordKind};

/// The limits (`[matching]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Indicator networks broader than `/min_prefix_ipv4` (`/min_prefix_ipv6`) are refused.
    pub min_prefix_ipv4: u8,
    pub min_prefix_ipv6: u8,
    /// The same for warninglist networks, except those wholly inside one
    /// non-public range (multicast 224.0.0.0/4, link-local fe80::/10...):
    /// suppressing those cannot silence hits on Internet hosts.
    pub warninglist_min_prefix_ipv4: u8,
    pub warninglist_min_prefix_ipv6: u8,
    /// Substring and prefix patterns one source may have in the index; the
    /// first ones in store order (oldest first) are kept.
    pub max_substring_patterns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_prefix_ipv4: 8,
            min_prefix_ipv6: 16,
            warninglist_min_prefix_ipv4: 8,
            warninglist_min_prefix_ipv6: 16,
            max_substring_patterns: 10_000,
        }
    }
}

/// Applies [`Limits`] to the records of one compile.
pub struct Checker<'l> {
    limits: &'l Limits,
    /// Substring and prefix patterns kept so far, per source.
    patterns: HashMap<String, HashSet<(KeyMethod, Kind, String)>>,
}

impl<'l> Checker<'l> {
    pub fn new(limits: &'l Limits) -> Checker<'l> {
        Checker {
            limits,
            patterns: HashMap::new(),
        }
    }

    /// The keys of `record` that are within the limits; each refused one is
    /// counted in `builder`.
    pub fn keys<'k>(
        &mut self,
        record: &Record,
        keys: &'k [MatchKey],
        builder: &mut IndexBuilder,
    ) -> Cow<'k, [MatchKey]> {
        let mut kept: Option<Vec<MatchKey>> = None;
        for (i, key) in keys.iter().enumerate() {
            match self.refusal(record, key) {
                None => {
                    if let Some(kept) = &mut kept {
                        kept.push(key.clone());
                    }
                }
                Some(reason) => {
                    builder.refuse(&reason, || example(record, key));
                    kept.get_or_insert_with(|| keys[..i].to_vec());
                }
            }
        }
        kept.map_or(Cow::Borrowed(keys), Cow::Owned)
    }

    fn refusal(&mut self, record: &Record, key: &MatchKey) -> Option<String> {
        let l = self.limits;
        let warninglist = record.record_kind == RecordKind::Warninglist;
        // The lists shipped in the binary are counted apart: the operator
        // cannot change them, and their few refusals must not hide a feed's.
        let list = match origin(record) {
            Some(o) if o.starts_with("bundled:") => BUNDLED_LIST,
            _ => "warninglist",
        };
        if key.kind.is_ip() {
            if !key.key.contains('/') {
                return None;
            }
            let (addr, len) = parse_ip_key(&key.key)?;
            let (family, min) = match (addr, warninglist) {
                (IpAddr::V4(_), false) => ("IPv4", l.min_prefix_ipv4),
                (IpAddr::V6(_), false) => ("IPv6", l.min_prefix_ipv6),
                (IpAddr::V4(_), true) => ("IPv4", l.warninglist_min_prefix_ipv4),
                (IpAddr::V6(_), true) => ("IPv6", l.warninglist_min_prefix_ipv6),
            };
            if len >= min || (warninglist && len > 0 && special_purpose(addr, len)) {
                return None;
            }
            let what = if warninglist { list } else { "indicator" };
            return Some(format!("{what} {family} network broader than /{min}"));
        }
        let pattern = matches!(key.method, KeyMethod::Substring | KeyMethod::Prefix);
        // An exact-only (`string`) list names the suffix itself, nothing under it.
        let covers_names = pattern || (key.kind == Kind::Domain && !record.partial);
        if warninglist && covers_names && is_public_suffix(&key.key) {
            return Some(format!("{list} entry on a public suffix"));
        }
        if !pattern {
            return None;
        }
        if key.method == KeyMethod::Substring
            && key.key.len() > matcher::index::substrings::MAX_PATTERN_LEN
        {
            return Some(format!(
                "substring pattern longer than {} bytes",
                matcher::index::substrings::MAX_PATTERN_LEN
            ));
        }
        let kept = self.patterns.entry(record.source.clone()).or_default();
        let id = (key.method, key.kind, key.key.to_lowercase());
        if kept.contains(&id) {
            return None;
        }
        if kept.len() >= l.max_substring_patterns {
            return Some(format!(
                "substring/prefix patterns over {} for one source",
                l.max_substring_patterns
            ));
        }
        kept.insert(id);
        None
    }
}

/// How refusals of the bundled lists' entries begin.
pub const BUNDLED_LIST: &str = "bundled warninglist";

/// Whether `reason` is about the bundled lists only (nothing to act on).
pub fn is_bundled(reason: &str) -> bool {
    reason.starts_with(BUNDLED_LIST)
}

fn origin(record: &Record) -> Option<&str> {
    record.extra.get("origin").and_then(|o| o.as_str())
}

/// Whether `name` (dots around it ignored) is a public suffix (`com`,
/// `co.uk`, `github.io`) or a single label, which the suffix list's default
/// rule also makes one: an entry there would cover every name below it.
fn is_public_suffix(name: &str) -> bool {
    let name = name.trim_matches('.');
    name.is_empty() || psl::suffix_str(name) == Some(name)
}

/// Whether every address of the network is of one non-public class.
fn special_purpose(addr: IpAddr, len: u8) -> bool {
    let host = u32::from(len);
    let last = match addr {
        IpAddr::V4(a) => {
            IpAddr::V4((u32::from(a) | u32::MAX.checked_shr(host).unwrap_or(0)).into())
        }
        IpAddr::V6(a) => {
            IpAddr::V6((u128::from(a) | u128::MAX.checked_shr(host).unwrap_or(0)).into())
        }
    };
    // 0.0.0.0 starts 0.0.0.0/8 and 255.255.255.255 ends 240.0.0.0/4.
    let class = |ip: IpAddr| match classify(ip) {
        AddrClass::Unspecified if ip.is_ipv4() => AddrClass::ThisNetwork,
        AddrClass::Broadcast => AddrClass::Reserved,
        c => c,
    };
    let first = class(addr);
    !first.is_public() && first == class(last)
}

/// `source: "name": key` on one line, at most 200 characters, control
/// characters escaped (it is printed to terminals).
fn example(record: &Record, key: &MatchKey) -> String {
    let line = if record.record_kind == RecordKind::Warninglist {
        format!(
            "warninglist \"{}\" ({}): {}",
            record.name,
            origin(record).unwrap_or("?"),
            key.key
        )
    } else {
        let name = if record.name.is_empty() {
            &record.id
        } else {
            &record.name
        };
        format!("{}: \"{name}\": {}", record.source, key.key)
    };
    matcher::stix::one_line(&line, 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::index::GenerationMeta;

    fn indicator(source: &str, name: &str) -> Record {
        Record {
            source: source.into(),
            name: name.into(),
            ..Record::default()
        }
    }

    fn warninglist(name: &str, exact_only: bool) -> Record {
        let mut r = Record {
            source: "warninglists".into(),
            record_kind: RecordKind::Warninglist,
            name: name.into(),
            partial: exact_only,
            ..Record::default()
        };
        r.extra.insert("origin".into(), "misp:feed".into());
        r
    }

    fn net(kind: Kind, key: &str) -> MatchKey {
        MatchKey::new(kind, key, KeyMethod::Cidr)
    }

    /// Runs `records` through a checker into a real generation.
    fn compile(
        limits: &Limits,
        records: &[(Record, Vec<MatchKey>)],
    ) -> (Vec<Vec<MatchKey>>, GenerationMeta) {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = IndexBuilder::new(dir.path()).unwrap();
        let mut checker = Checker::new(limits);
        let mut kept = Vec::new();
        for (r, keys) in records {
            let k = checker.keys(r, keys, &mut builder).into_owned();
            builder.add(r, &k).unwrap();
            kept.push(k);
        }
        (kept, builder.finish().unwrap())
    }

    #[test]
    fn public_suffixes_and_single_labels() {
        for s in [
            "com",
            ".com",
            "co.uk",
            ".co.uk.",
            "github.io",
            "e",
            "",
            "/wp-admin",
        ] {
            assert!(is_public_suffix(s), "{s}");
        }
        for s in ["google.com", "corp.example", "any.run", "evil.co.uk", "o.c"] {
            assert!(!is_public_suffix(s), "{s}");
        }
    }

    #[test]
    fn special_purpose_networks() {
        let sp = |s: &str| {
            let (a, l) = parse_ip_key(s).unwrap();
            special_purpose(a, l)
        };
        for s in [
            "224.0.0.0/4",
            "240.0.0.0/4",
            "0.0.0.0/8",
            "10.0.0.0/8",
            "fe80::/10",
            "ff00::/8",
            "fc00::/7",
        ] {
            assert!(sp(s), "{s}");
        }
        for s in [
            "0.0.0.0/0",
            "0.0.0.0/1",
            "10.0.0.0/7",
            "224.0.0.0/3",
            "::/0",
            "2000::/3",
            "fe00::/7",
        ] {
            assert!(!sp(s), "{s}");
        }
    }

    #[test]
    fn indicator_networks_broader_than_the_minimum_are_refused_alone() {
        let keys = vec![
            net(Kind::Ipv4, "0.0.0.0/0"),
            MatchKey::exact(Kind::Ipv4, "93.184.216.34"),
            net(Kind::Ipv4, "10.0.0.0/7"),
            net(Kind::Ipv4, "10.0.0.0/8"),
            net(Kind::Ipv6, "::/0"),
            net(Kind::Ipv6, "2001:db8::/32"),
            // Multicast is no exception for an indicator.
            net(Kind::Ipv4, "224.0.0.0/4"),
        ];
        let (kept, meta) = compile(
            &Limits::default(),
            &[(indicator("feed", "Everything"), keys)],
        );
        let kept: Vec<&str> = kept[0].iter().map(|k| k.key.as_str()).collect();
        assert_eq!(kept, ["93.184.216.34", "10.0.0.0/8", "2001:db8::/32"]);
        let v4 = &meta.refused["indicator IPv4 network broader than /8"];
        assert_eq!(v4.count, 3);
        assert_eq!(v4.example, "feed: \"Everything\": 0.0.0.0/0");
        assert_eq!(
            meta.refused["indicator IPv6 network broader than /16"].count,
            1
        );
    }

    #[test]
    fn warninglist_suffixes_and_zero_networks_are_refused() {
        let sub = |k: &str| MatchKey::new(Kind::Domain, k, KeyMethod::Substring);
        let records = [
            (
                warninglist("hostile hostnames", false),
                vec![
                    MatchKey::exact(Kind::Domain, "co.uk"),
                    MatchKey::exact(Kind::Domain, "github.io"),
                    MatchKey::exact(Kind::Domain, "corp.example"),
                ],
            ),
            // A `string` list names the suffix itself only: harmless, kept.
            (
                warninglist("second-level-tlds", true),
                vec![MatchKey::exact(Kind::Domain, "co.uk")],
            ),
            (
                warninglist("hostile substrings", false),
                vec![sub("com"), sub(".com"), sub("any.run")],
            ),
            (
                warninglist("hostile networks", false),
                vec![
                    net(Kind::Ipv4, "0.0.0.0/0"),
                    net(Kind::Ipv6, "::/0"),
                    net(Kind::Ipv4, "1.0.0.0/4"),
                    net(Kind::Ipv4, "224.0.0.0/4"),
                    net(Kind::Ipv6, "fe80::/10"),
                    net(Kind::Ipv4, "104.16.0.0/13"),
                ],
            ),
        ];
        let (kept, meta) = compile(&Limits::default(), &records);
        let keys = |i: usize| kept[i].iter().map(|k| k.key.as_str()).collect::<Vec<_>>();
        assert_eq!(keys(0), ["corp.example"]);
        assert_eq!(keys(1), ["co.uk"]);
        assert_eq!(keys(2), ["any.run"]);
        assert_eq!(keys(3), ["224.0.0.0/4", "fe80::/10", "104.16.0.0/13"]);
        let suffix = &meta.refused["warninglist entry on a public suffix"];
        assert_eq!(suffix.count, 4);
        assert_eq!(
            suffix.example,
            "warninglist \"hostile hostnames\" (misp:feed): co.uk"
        );
        assert_eq!(
            meta.refused["warninglist IPv4 network broader than /8"].count,
            2
        );
        assert_eq!(
            meta.refused["warninglist IPv6 network broader than /16"].count,
            1
        );
    }

    #[test]
    fn the_bundled_lists_are_counted_apart_and_lose_only_suffix_entries() {
        use crate::compile::ExtraEntries;
        let dir = tempfile::tempdir().unwrap();
        let mut builder = IndexBuilder::new(dir.path()).unwrap();
        let limits = Limits::default();
        let mut checker = Checker::new(&limits);
        crate::warninglists::Warninglists::bundled()
            .for_each(&mut |r, keys| {
                checker.keys(r, keys, &mut builder);
                Ok(())
            })
            .unwrap();
        let meta = builder.finish().unwrap();
        // 224.0.0.0/4, 240.0.0.0/4 and fe80::/10 are kept: not public space.
        let reasons: Vec<&str> = meta.refused.keys().map(String::as_str).collect();
        assert_eq!(reasons, ["bundled warninglist entry on a public suffix"]);
        assert!(is_bundled(reasons[0]));
        let mut mirrored = warninglist("google", false);
        mirrored.extra.insert("origin".into(), "misp:feed".into());
        let (_, meta) = compile(
            &limits,
            &[(
                mirrored,
                vec![MatchKey::exact(Kind::Domain, "translate.goog")],
            )],
        );
        assert!(!is_bundled(meta.refused.keys().next().unwrap()));
    }

    #[test]
    fn substring_patterns_are_capped_per_source_oldest_first() {
        let limits = Limits {
            max_substring_patterns: 3,
            ..Limits::default()
        };
        let like = |k: &str| MatchKey::new(Kind::Url, k, KeyMethod::Substring);
        let mut records = Vec::new();
        for i in 0..5 {
            records.push((
                indicator("noisy", &format!("n{i}")),
                vec![like(&format!("/n{i}/"))],
            ));
        }
        // A pattern already kept costs nothing; another source has its own cap;
        // the other keys of a record over the cap stay.
        records.push((
            indicator("noisy", "again"),
            vec![like("/n0/"), MatchKey::exact(Kind::Domain, "x.example")],
        ));
        records.push((indicator("quiet", "q"), vec![like("/q/")]));
        records.push((indicator("noisy", "long"), vec![like(&"x".repeat(300))]));
        let (kept, meta) = compile(&limits, &records);
        let counts: Vec<usize> = kept.iter().map(Vec::len).collect();
        assert_eq!(counts, [1, 1, 1, 0, 0, 2, 1, 0]);
        let cap = &meta.refused["substring/prefix patterns over 3 for one source"];
        assert_eq!(
            (cap.count, cap.example.as_str()),
            (2, "noisy: \"n3\": /n3/")
        );
        assert_eq!(
            meta.refused["substring pattern longer than 256 bytes"].count,
            1
        );
        assert_eq!(meta.substrings, 4);
    }

    #[test]
    fn examples_are_one_short_line() {
        let r = indicator("feed", "evil\x1b]52;c;payload\x07\nname");
        let e = example(&r, &net(Kind::Ipv4, "0.0.0.0/0"));
        assert!(!e.chars().any(char::is_control), "{e}");
        let r = indicator("feed", &"n".repeat(500));
        assert_eq!(
            example(&r, &net(Kind::Ipv4, "0.0.0.0/0")).chars().count(),
            201
        );
    }
}
