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
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                walk(child, path, depth + 1, read, budget, c);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Keys whose values are identifiers or versions, not indicators, and TLS
/// fingerprints (JA3/JA3S/JA4, JARM: MD5-length, but no file's MD5).
fn is_identifier_key(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    l == "id"
        || l.ends_with("_id")
        || (k.ends_with("Id") || k.ends_with("ID"))
        || l.ends_with("key")
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
        .any(|w| l.contains(w))
}

/// Whether a catalog rule names `field` or a field around it (array
/// positions and case aside): that rule decides, conditions and wrong types
/// included (a catalog field holding an array is that rule's to refuse).
fn named_by_catalog(field: &str) -> bool {
    let segments = |p: &str| -> Vec<String> {
        p.split('.')
            .map(|seg| seg.split('[').next().unwrap_or("").to_ascii_lowercase())
            .collect()
    };
    let have = segments(field);
    CATALOG.iter().any(|r| {
        let want = segments(r.path);
        want.len() <= have.len() && want.iter().zip(&have).all(|(w, h)| w == "*" || w == h)
    })
}

/// Looks `s` up when it is one strong value as a whole.
fn strong(field: &str, s: &str, c: &mut Collector) {
    if !might_be_strong(s) || named_by_catalog(field) {
        return;
    }
    strong_value(field, s, c);
}

fn might_be_strong(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 6
        && b.len() <= 2048
        && !b.iter().any(|&x| {
            x.is_ascii_whitespace() || matches!(x, b'\\' | b'"' | b'{' | b'}' | b'<' | b'>')
        })
}

fn strong_value(field: &str, s: &str, c: &mut Collector) {
    // Shortest strong value: `a.b.co` is 6 bytes; anything with space,
    // backslash, quotes or braces is a path, a sentence or a GUID.
    let b = s.as_bytes();
    if s.parse::<std::net::IpAddr>().is_ok() {
        return ip(c, field, s, false);
    }
    if let Some(kind) = digest_kind(b) {
        return digest(c, field, kind, s, false);
    }
    let lower = |p: &str| b.len() > p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if lower("http://") || lower("https://") || lower("ftp://") {
        return url(c, field, s, false);
    }
    if b.iter().filter(|&&x| x == b'@').count() == 1 {
        return exact(c, field, Kind::Email, s);
    }
    if is_host_under_public_suffix(s) {
        host(c, field, s);
    }
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
