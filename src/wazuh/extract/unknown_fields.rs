//! The fallback for fields no catalog rule reads (`[extract] unknown_fields`):
//! custom decoders put IoCs anywhere under `data` (a mail gateway's
//! `data.mail.from`). A string there is looked up only when its **whole** value
//! is a strong value: a public IP, an absolute URL, an e-mail address, a
//! 32/40/64/128-hex digest, or a host name under a public suffix. Never the
//! envelope, never `full_log`: only `data` is walked.
//!
//! Not every whole value that looks strong is an IoC: `data.win.system.*` is
//! the event's own metadata (the agent's computer name), fields a catalog rule
//! names are left to that rule and its conditions (an outbound connection's
//! `sourceHostname` is the agent itself), and fields named as identifiers or
//! versions (`id`, `detectorId`, `UserKey`, `serial`, `fileVersion`: a version
//! `1.0.3.0` parses as an address, a 32-hex id as an MD5) are skipped.
//!
//! Bounded per alert: at most [`MAX_LEAVES`] strings are looked at, [`MAX_DEPTH`]
//! levels deep, and most are rejected by their first bytes.

use std::fmt::Write as _;

use matcher::Kind;

use super::{digest, exact, host, ip, url, Collector};
use crate::wazuh::catalog::CATALOG;
use crate::wazuh::json::Json;

/// Strings looked at per alert.
const MAX_LEAVES: usize = 512;
/// Nesting below `data` (the deepest catalog field has 8 segments).
const MAX_DEPTH: usize = 12;

/// Looks up the strong whole values under `data` whose leaves no rule read
/// (`read`: the addresses of the leaves the catalog resolved, sorted).
pub(super) fn collect(alert: &Json<'_>, read: &[usize], c: &mut Collector) {
    let Some(data) = alert.get("data") else {
        return;
    };
    let mut path = String::from("data");
    let mut budget = MAX_LEAVES;
    walk(data, &mut path, 0, read, &mut budget, c);
}

fn walk(
    v: &Json<'_>,
    path: &mut String,
    depth: usize,
    read: &[usize],
    budget: &mut usize,
    c: &mut Collector,
) {
    if *budget == 0 || depth > MAX_DEPTH || c.full() {
        return;
    }
    match v {
        Json::String(s) => {
            *budget -= 1;
            let at = v as *const Json<'_> as usize;
            if read.binary_search(&at).is_err() {
                strong(path, s, c);
            }
        }
        Json::Object(o) => {
            for (k, child) in o.iter() {
                if depth == 0 && k.eq_ignore_ascii_case("win") {
                    // Only `data.win.eventdata`: `system` is the event's metadata.
                    if let Some(ed) = child.get("eventdata") {
                        let len = path.len();
                        path.push_str(".win.eventdata");
                        walk(ed, path, depth + 2, read, budget, c);
                        path.truncate(len);
                    }
                    continue;
                }
                if is_identifier_key(k) {
                    continue;
                }
                let len = path.len();
                path.push('.');
                path.push_str(k);
                walk(child, path, depth + 1, read, budget, c);
                path.truncate(len);
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(child, path, depth + 1, read, budget, c);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Keys whose values are identifiers or versions, not indicators, and TLS
/// fingerprints (JA3/JA3S/JA4, JARM: MD5-length, but no file's MD5).
/// Without allocating: it runs on every key under `data`.
fn is_identifier_key(k: &str) -> bool {
    let b = k.as_bytes();
    let ends =
        |w: &str| b.len() >= w.len() && b[b.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes());
    let has = |w: &str| {
        b.windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
    };
    k.eq_ignore_ascii_case("id")
        || ends("_id")
        || k.ends_with("Id")
        || k.ends_with("ID")
        || ends("key")
        || [
            "version",
            "serial",
            "uuid",
            "guid",
            "ja3",
            "ja4",
            "jarm",
            "fingerprint",
        ]
        .iter()
        .any(|w| has(w))
}

/// Whether a catalog rule names `field` or a field around it (array
/// positions and case aside): that rule decides, conditions and wrong types
/// included (a catalog field holding an array is that rule's to refuse).
fn named_by_catalog(field: &str) -> bool {
    let bare = |seg: &'static str| seg.split('[').next().unwrap_or("");
    CATALOG.iter().any(|r| {
        let mut have = field
            .split('.')
            .map(|seg| seg.split('[').next().unwrap_or(""));
        r.path.split('.').map(bare).all(|want| {
            have.next()
                .is_some_and(|h| want == "*" || want.eq_ignore_ascii_case(h))
        })
    })
}

/// What a strong whole value is looked up as.
enum Strong {
    Ip,
    Digest(Kind),
    Url,
    Email,
    Host,
}

/// Looks `s` up when it is one strong value as a whole and no catalog rule
/// names its field (checked last: most strings are not strong).
fn strong(field: &str, s: &str, c: &mut Collector) {
    let Some(what) = classify(s) else {
        return;
    };
    if named_by_catalog(field) {
        return;
    }
    match what {
        Strong::Ip => ip(c, field, s, false),
        Strong::Digest(kind) => digest(c, field, kind, s, false),
        Strong::Url => url(c, field, s, false),
        Strong::Email => exact(c, field, Kind::Email, s),
        Strong::Host => host(c, field, s),
    }
}

fn classify(s: &str) -> Option<Strong> {
    // Shortest strong value: `a.b.co` is 6 bytes; anything with space,
    // backslash, quotes or braces is a path, a sentence or a GUID.
    let b = s.as_bytes();
    if b.len() < 6
        || b.len() > 2048
        || b.iter().any(|&x| {
            x.is_ascii_whitespace() || matches!(x, b'\\' | b'"' | b'{' | b'}' | b'<' | b'>')
        })
    {
        return None;
    }
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Some(Strong::Ip);
    }
    if let Some(kind) = digest_kind(b) {
        return Some(Strong::Digest(kind));
    }
    let lower = |p: &str| b.len() > p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if lower("http://") || lower("https://") || lower("ftp://") {
        return Some(Strong::Url);
    }
    if b.iter().filter(|&&x| x == b'@').count() == 1 {
        return Some(Strong::Email);
    }
    is_host_under_public_suffix(s).then_some(Strong::Host)
}

fn digest_kind(b: &[u8]) -> Option<Kind> {
    let kind = match b.len() {
        32 => Kind::Md5,
        40 => Kind::Sha1,
        64 => Kind::Sha256,
        128 => Kind::Sha512,
        _ => return None,
    };
    b.iter().all(u8::is_ascii_hexdigit).then_some(kind)
}

/// `name.tld` with letters, digits, `-` and dots only, at least two labels,
/// and a top level the public suffix list knows (`exe`, `dll` and `local` are
/// not; note `zip` and `py` are, as in [`matcher::normalize::detect`]).
fn is_host_under_public_suffix(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if !s.contains('.')
        || !s
            .bytes()
            .all(|x| x.is_ascii_alphanumeric() || x == b'-' || x == b'.')
        || s.rsplit('.').next().is_none_or(|tld| {
            !(tld.bytes().all(|x| x.is_ascii_alphabetic()) || tld.starts_with("xn--"))
        })
    {
        return false;
    }
    psl::suffix(s.to_ascii_lowercase().as_bytes()).is_some_and(|x| x.is_known())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_suffixes_make_hosts() {
        for yes in [
            "mail.evil-corp.com",
            "a.b.co.uk",
            "update.example.org",
            "cdn.xn--p1ai",
        ] {
            assert!(is_host_under_public_suffix(yes), "{yes}");
        }
        for no in [
            "svchost.exe",
            "kernel32.dll",
            "host.local",
            "1.2.3.4",
            "a_b.com",
            "x",
            "evil.c0m",
        ] {
            assert!(!is_host_under_public_suffix(no), "{no}");
        }
    }

    #[test]
    fn identifiers_and_catalog_fields_are_left_alone() {
        for k in [
            "id",
            "detectorId",
            "UserKey",
            "serial",
            "fileVersion",
            "event_id",
            "ProcessGuid",
        ] {
            assert!(is_identifier_key(k), "{k}");
        }
        for k in ["from", "sender", "url", "remote", "hashes"] {
            assert!(!is_identifier_key(k), "{k}");
        }
        assert!(named_by_catalog("data.win.eventdata.sourceHostname"));
        assert!(named_by_catalog("data.dns.answers[3].rdata"));
        assert!(named_by_catalog("data.audit.execve.a2"));
        assert!(!named_by_catalog("data.mail.from"));
    }
}
