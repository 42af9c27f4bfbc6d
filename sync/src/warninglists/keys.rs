//! Warninglist entries → index records and keys, with MISP's matching
//! semantics mapped onto the index (misp.md §9):
//!
//! | type | keys | record |
//! |---|---|---|
//! | string | exact keys of every kind the list's `matching_attributes` allow | exact only |
//! | string, `.example.com` entry | a domain key | subdomains too |
//! | hostname | domain keys (host and every parent, across public suffixes) | subdomains and URL hosts |
//! | cidr | IP and network keys | containment |
//! | substring | substring keys per allowed kind | substring |
//! | regex | evaluated at compile time against the stored keys of the allowed kinds: the matching values become exact keys | exact only |
//!
//! An "exact only" record is flagged `partial`: the lookup then lets it
//! suppress only a value equal to one of its keys (not a subdomain, not a
//! URL's host), which is what a MISP `string` list means.

use std::collections::HashSet;

use matcher::normalize::{detect, normalize};
use matcher::{KeyMethod, Kind, MatchKey};

use super::list::{ListType, Warninglist};
use crate::sources::misp_types::{self, MispType, Part};

/// The value kinds a list applies to; empty = decide per entry.
pub fn kinds(list: &Warninglist) -> Vec<Kind> {
    let mut out = Vec::new();
    let mut push = |p: Option<Part>| {
        let kinds: &[Kind] = match &p {
            Some(Part::Kind(k)) => std::slice::from_ref(k),
            Some(Part::Ip) => &[Kind::Ipv4, Kind::Ipv6],
            None => &[],
        };
        for k in kinds {
            if !out.contains(k) {
                out.push(*k);
            }
        }
    };
    for t in &list.matching_attributes {
        match misp_types::lookup(t) {
            Some(MispType::Single(p)) => push(Some(p)),
            Some(MispType::Composite(a, b)) => {
                push(a);
                push(b);
            }
            _ => {}
        }
    }
    out
}

/// Keys without duplicates, in first-seen order.
#[derive(Default)]
struct Keys {
    keys: Vec<MatchKey>,
    seen: HashSet<MatchKey>,
}

impl Keys {
    fn push(&mut self, key: MatchKey) {
        if self.seen.insert(key.clone()) {
            self.keys.push(key);
        }
    }
}

/// Keys of one entry for the kinds allowed (`kinds` empty: the detected kind).
fn exact_keys(entry: &str, kinds: &[Kind], out: &mut Keys) -> bool {
    let mut any = false;
    let mut push = |kind: Kind, value: String| {
        let method = if kind.is_ip() && value.contains('/') {
            KeyMethod::Cidr
        } else {
            KeyMethod::Exact
        };
        out.push(MatchKey::new(kind, value, method));
        any = true;
    };
    if kinds.is_empty() {
        if let Some(n) = detect(entry) {
            push(n.kind, n.value);
        }
        return any;
    }
    for &kind in kinds {
        // MISP's `string` lists of hashes list every length together: the
        // normaliser of each hash kind keeps only its own.
        if let Ok(n) = normalize(kind, entry) {
            push(n.kind, n.value);
        }
    }
    any
}

/// The keys of a list that is not a regex list: `(exact-only keys, other
/// keys, entries that gave no key)`.
pub fn list_keys(list: &Warninglist) -> (Vec<MatchKey>, Vec<MatchKey>, usize) {
    let kinds = kinds(list);
    let mut exact = Keys::default();
    let mut other = Keys::default();
    let mut unusable = 0;
    for entry in &list.entries {
        let ok = match list.list_type {
            ListType::String => match entry.strip_prefix('.') {
                Some(domain) if kinds.is_empty() || kinds.contains(&Kind::Domain) => {
                    exact_keys(domain, &[Kind::Domain], &mut other)
                }
                _ => {
                    // A bare name in a list that also applies to `url`
                    // attributes is not a URL: the normaliser would make one.
                    let kinds: Vec<Kind> = kinds
                        .iter()
                        .copied()
                        .filter(|&k| k != Kind::Url || entry.contains("://"))
                        .collect();
                    exact_keys(entry, &kinds, &mut exact)
                }
            },
            ListType::Hostname => {
                let host = hostname(entry);
                exact_keys(host, &[Kind::Domain], &mut other)
            }
            ListType::Cidr => {
                let kind = if entry.contains(':') {
                    Kind::Ipv6
                } else {
                    Kind::Ipv4
                };
                exact_keys(entry, &[kind], &mut other)
            }
            ListType::Substring => {
                let text = entry.to_lowercase();
                let kinds: Vec<Kind> = if kinds.is_empty() {
                    vec![Kind::Domain, Kind::Url]
                } else {
                    kinds.iter().copied().filter(|k| !k.is_ip()).collect()
                };
                for &k in &kinds {
                    other.push(MatchKey::new(k, text.clone(), KeyMethod::Substring));
                }
                !kinds.is_empty()
            }
            ListType::Regex => false,
        };
        if !ok {
            unusable += 1;
        }
    }
    (exact.keys, other.keys, unusable)
}

/// The host of a hostname-list entry: before the first `/`, or after `//`;
/// trailing dots trimmed.
fn hostname(entry: &str) -> &str {
    let rest = entry.split_once("//").map_or(entry, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    host.trim_matches('.')
}

/// A MISP regex entry (`/pattern/flags`) as a Rust regex.
pub fn regex(entry: &str) -> Result<regex::Regex, String> {
    let (pattern, flags) = match entry.strip_prefix('/').and_then(|r| r.rsplit_once('/')) {
        Some((p, f)) => (p, f),
        None => (entry, ""),
    };
    let mut prefix = String::new();
    for f in flags.chars() {
        match f {
            'i' | 'm' | 's' | 'x' => prefix.push(f),
            // `u` (UTF-8) is Rust's default; `g` (global, from JavaScript-style
            // lists such as the bundled phone_numbers) changes nothing for a
            // yes/no match.
            'u' | 'g' => {}
            other => return Err(format!("unsupported regex flag `{other}`")),
        }
    }
    // PCRE escapes that Rust's regex does not know but that mean the
    // character itself (`\@`, `\/`).
    let pattern = pattern.replace("\\@", "@").replace("\\/", "/");
    let full = if prefix.is_empty() {
        pattern
    } else {
        format!("(?{prefix}){pattern}")
    };
    regex::Regex::new(&full).map_err(|e| format!("invalid regex: {e}").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(t: ListType, attrs: &[&str], entries: &[&str]) -> Warninglist {
        Warninglist {
            name: "t".into(),
            version: 1,
            description: String::new(),
            list_type: t,
            matching_attributes: attrs.iter().map(|s| s.to_string()).collect(),
            entries: entries.iter().map(|s| s.to_string()).collect(),
            origin: "test".into(),
        }
    }

    #[test]
    fn string_lists_are_exact_and_dotted_entries_cover_subdomains() {
        let l = list(
            ListType::String,
            &["domain", "hostname", "url"],
            &["google.com", ".google.ad", "TLD"],
        );
        let (exact, other, bad) = list_keys(&l);
        assert_eq!(bad, 1, "TLD");
        assert!(exact.contains(&MatchKey::exact(Kind::Domain, "google.com")));
        // A bare TLD is no domain value: nothing to key (MISP's `tlds` list).
        assert_eq!(exact.len(), 1);
        assert_eq!(other, [MatchKey::exact(Kind::Domain, "google.ad")]);
    }

    #[test]
    fn hash_lists_keep_each_hash_under_its_own_kind() {
        let l = list(
            ListType::String,
            &["md5", "sha1", "sha256", "filename|sha256"],
            &[
                "d41d8cd98f00b204e9800998ecf8427e",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ],
        );
        let (exact, _, bad) = list_keys(&l);
        assert_eq!(bad, 0);
        assert!(exact.contains(&MatchKey::exact(
            Kind::Md5,
            "d41d8cd98f00b204e9800998ecf8427e"
        )));
        assert!(exact.iter().any(|k| k.kind == Kind::Sha256));
        assert!(!exact.iter().any(|k| k.kind == Kind::Sha1));
    }

    #[test]
    fn cidr_hostname_and_substring_lists() {
        let (_, other, _) = list_keys(&list(
            ListType::Cidr,
            &[],
            &["8.8.8.8", "192.0.2.0/24", "2001:db8::/32"],
        ));
        assert_eq!(other[0], MatchKey::exact(Kind::Ipv4, "8.8.8.8"));
        assert_eq!(other[1].method, KeyMethod::Cidr);
        assert_eq!(other[2].kind, Kind::Ipv6);
        let (_, other, _) = list_keys(&list(
            ListType::Hostname,
            &[],
            &["https://bit.ly/", "t.co."],
        ));
        assert_eq!(
            other,
            [
                MatchKey::exact(Kind::Domain, "bit.ly"),
                MatchKey::exact(Kind::Domain, "t.co")
            ]
        );
        let (_, other, _) = list_keys(&list(ListType::Substring, &["domain", "url"], &["Any.Run"]));
        assert_eq!(other.len(), 2);
        assert!(other
            .iter()
            .all(|k| k.method == KeyMethod::Substring && k.key == "any.run"));
    }

    #[test]
    fn misp_regexes_translate() {
        let r = regex(r"/^(security|noc|soc|abuse)\@.*\..*$/i").unwrap();
        assert!(r.is_match("ABUSE@corp.example"));
        assert!(!r.is_match("ceo@corp.example"));
        assert!(regex("/x/e").unwrap_err().contains("flag `e`"));
        // The bundled phone_numbers list is written with `/g`.
        let r = regex(r"/((?:\+|00)1)?55501([0-9]{2})/g").unwrap();
        assert!(r.is_match("+15550123"));
    }

    #[test]
    fn every_bundled_regex_list_compiles() {
        for (dir, text) in crate::warninglists::bundled::BUNDLED {
            let l = crate::warninglists::parse(text, dir).unwrap();
            if l.list_type == ListType::Regex {
                for e in &l.entries {
                    regex(e).unwrap_or_else(|err| panic!("{dir}: {e}: {err}"));
                }
            }
        }
    }
}
