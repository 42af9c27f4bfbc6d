//! Guessing the kind of a free-standing value (list lines, the `lookup` command).

use super::domain::domain;
use super::email::email;
use super::hash::hash_kind_for_hex_len;
use super::ip::{ip, ip_addr};
use super::refang::refang;
use super::text::regkey;
use super::url::url;
use super::Normalized;
use crate::kind::Kind;

/// Guesses the kind of `raw` and normalises it; `None` if nothing fits.
///
/// Tried in order, the first that normalises wins: IP address or network; a
/// bare hex digest by length (32 md5, 40 sha1, 64 sha256, 128 sha512); a URL
/// with `scheme://` (also defanged, `hxxp[:]//`); an e-mail address (has `@`); a
/// registry key (starts with a hive); a domain whose top-level label is
/// alphabetic or `xn--`; finally `host/path` with such a host or an IP, as a URL.
///
/// File names are never guessed: `invoice.pdf` is a syntactically valid domain
/// (and `.zip` a real TLD), so it comes back as a domain.
pub fn detect(raw: &str) -> Option<Normalized> {
    let refanged = refang(raw.trim());
    let s = refanged.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(v) = ip(s) {
        return Some(Normalized::new(v.kind(), v.to_canonical()));
    }
    if let Some(kind) = hash_kind_for_hex_len(s.len()) {
        if s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Normalized::new(kind, s.to_ascii_lowercase()));
        }
    }
    if has_scheme_authority(s) {
        if let Ok(u) = url(s) {
            return Some(Normalized::new(Kind::Url, u.url));
        }
    }
    if s.contains('@') {
        if let Ok(e) = email(s) {
            return Some(Normalized::new(Kind::Email, e));
        }
    }
    if let Ok(k) = regkey(s) {
        return Some(Normalized::new(Kind::Regkey, k));
    }
    if let Some(d) = detect_domain(s) {
        return Some(Normalized::new(Kind::Domain, d));
    }
    if let Some((authority, _)) = s.split_once('/') {
        let host = strip_port(authority);
        if !host.is_empty() && (detect_domain(host).is_some() || ip_addr(host).is_ok()) {
            if let Ok(u) = url(s) {
                return Some(Normalized::new(Kind::Url, u.url));
            }
        }
    }
    None
}

/// A valid domain whose top-level label looks like a real TLD.
fn detect_domain(s: &str) -> Option<String> {
    let d = domain(s).ok()?;
    let tld = d.rsplit('.').next().unwrap_or("");
    let plausible = tld.starts_with("xn--") || tld.bytes().all(|b| b.is_ascii_lowercase());
    plausible.then_some(d)
}

/// `scheme://` with a syntactically valid scheme.
fn has_scheme_authority(s: &str) -> bool {
    let Some(i) = s.find("://") else {
        return false;
    };
    let mut b = s[..i].bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// `host:1234` → `host`; IPv6 brackets and other text are left alone.
fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port))
            if !host.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(raw: &str) -> Option<(Kind, String)> {
        detect(raw).map(|n| (n.kind, n.value))
    }

    fn is(kind: Kind, value: &str) -> Option<(Kind, String)> {
        Some((kind, value.to_string()))
    }

    #[test]
    fn order_and_kinds() {
        assert_eq!(d(" 192.0.2.1 "), is(Kind::Ipv4, "192.0.2.1"));
        assert_eq!(d("198.51.100.7/24"), is(Kind::Ipv4, "198.51.100.0/24"));
        assert_eq!(d("2001:DB8::1"), is(Kind::Ipv6, "2001:db8::1"));
        assert_eq!(d("::ffff:192.0.2.1"), is(Kind::Ipv4, "192.0.2.1"));
        assert_eq!(d("192[.]0[.]2[.]1"), is(Kind::Ipv4, "192.0.2.1"));
        assert_eq!(d(&"A".repeat(32)), is(Kind::Md5, &"a".repeat(32)));
        assert_eq!(d(&"b".repeat(40)), is(Kind::Sha1, &"b".repeat(40)));
        assert_eq!(d(&"c".repeat(64)), is(Kind::Sha256, &"c".repeat(64)));
        assert_eq!(d(&"d".repeat(128)), is(Kind::Sha512, &"d".repeat(128)));
        assert_eq!(
            d("hxxp://evil[.]example/x"),
            is(Kind::Url, "http://evil.example/x")
        );
        assert_eq!(
            d("HTTPS://Evil.Example"),
            is(Kind::Url, "https://evil.example/")
        );
        assert_eq!(d("John@Evil.Example"), is(Kind::Email, "john@evil.example"));
        assert_eq!(
            d("john[at]evil[.]example"),
            is(Kind::Email, "john@evil.example")
        );
        assert_eq!(
            d("HKLM\\Software\\Evil"),
            is(Kind::Regkey, "hkey_local_machine\\software\\evil")
        );
        assert_eq!(d("Evil.Example."), is(Kind::Domain, "evil.example"));
        assert_eq!(d("evil[.]example"), is(Kind::Domain, "evil.example"));
        assert_eq!(
            d("bücher.example"),
            is(Kind::Domain, "xn--bcher-kva.example")
        );
        assert_eq!(d("evil.xn--p1ai"), is(Kind::Domain, "evil.xn--p1ai"));
        assert_eq!(
            d("evil.example/x.php"),
            is(Kind::Url, "http://evil.example/x.php")
        );
        assert_eq!(
            d("evil.example:8080/x"),
            is(Kind::Url, "http://evil.example:8080/x")
        );
        assert_eq!(d("192.0.2.1/x"), is(Kind::Url, "http://192.0.2.1/x"));
    }

    #[test]
    fn nothing_fits() {
        for s in [
            "",
            "   ",
            "hello",
            "evil.123",
            "evil.c0m",
            "C:\\Windows\\evil.exe",
            "/etc/passwd",
            "abc123",
            "3:abc:def",
            "usr/bin/evil",
            "not a value",
        ] {
            assert_eq!(d(s), None, "{s}");
        }
    }
}
