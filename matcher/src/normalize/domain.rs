//! Domain and host names.

use std::net::IpAddr;

use idna::AsciiDenyList;

use super::refang::refang;
use super::Invalid;
use crate::kind::Kind;

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Normalises a domain or host name: trim, refang, IDN → punycode (UTS-46, which
/// also lowercases), one trailing dot dropped.
///
/// Rejects IP literals, `*` wildcards, names over 253 bytes, empty or over-long
/// labels, characters outside `[a-z0-9-_]`, labels starting or ending with `-`,
/// single-label names and numeric top-level labels.
pub fn domain(raw: &str) -> Result<String, Invalid> {
    let refanged = refang(raw.trim());
    canonical_name(refanged.trim(), false).map_err(|r| Invalid::new(Kind::Domain, raw, r))
}

/// The shared name rules; `single_label` allows `intranet`-style names (URL hosts).
pub(super) fn canonical_name(s: &str, single_label: bool) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty value".into());
    }
    if s.contains('*') {
        return Err("wildcard names are not supported (give the parent domain)".into());
    }
    let bare = s.strip_suffix('.').unwrap_or(s);
    let unbracketed = bare
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(bare);
    if unbracketed.parse::<IpAddr>().is_ok() {
        return Err("is an IP address, not a domain (use the ipv4 or ipv6 kind)".into());
    }
    let ascii = idna::domain_to_ascii_cow(s.as_bytes(), AsciiDenyList::EMPTY)
        .map_err(|_| "not a valid internationalised domain name (UTS-46)".to_string())?;
    // UTS-46 may map other dots (`。`) to `.`, so strip after it, not before.
    let name = ascii.strip_suffix('.').unwrap_or(&ascii);
    check_name(name, single_label)?;
    Ok(name.to_string())
}

/// Validates an ASCII, lowercase name (the output of UTS-46).
pub(super) fn check_name(name: &str, single_label: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty value".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "name is {} bytes long (at most {MAX_NAME})",
            name.len()
        ));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in name.split('.') {
        labels += 1;
        last = label;
        if label.is_empty() {
            return Err("empty label (`..` or a leading dot)".into());
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "label is {} bytes long (at most {MAX_LABEL})",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
        {
            return Err(format!(
                "character `{}` is not allowed in a domain name",
                c.escape_debug()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    if labels < 2 && !single_label {
        return Err("single-label name (a domain needs at least two labels)".into());
    }
    if is_numeric_label(last) {
        return Err(format!("top-level label `{last}` is numeric"));
    }
    Ok(())
}

/// WHATWG's "ends in a number" test for the last label: all digits, or `0x` hex.
fn is_numeric_label(label: &str) -> bool {
    if label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        domain(raw).unwrap()
    }

    fn reason(raw: &str) -> String {
        domain(raw).unwrap_err().reason
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ok("  Evil.EXAMPLE "), "evil.example");
        assert_eq!(ok("evil.example."), "evil.example");
        assert_eq!(ok("evil[.]example"), "evil.example");
        assert_eq!(ok("_dmarc.evil.example"), "_dmarc.evil.example");
        assert_eq!(ok("bücher.example"), "xn--bcher-kva.example");
        assert_eq!(ok("BÜCHER.example"), "xn--bcher-kva.example");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(ok("evil。example"), "evil.example");
        assert_eq!(ok("a-b.c-d.test"), "a-b.c-d.test");
        assert_eq!(ok("evil.xn--p1ai"), "evil.xn--p1ai");
        assert_eq!(ok("1password.example"), "1password.example");
    }

    #[test]
    fn rejects() {
        assert!(reason("evil.example..").contains("empty label"));
        assert!(reason(".evil.example").contains("empty label"));
        assert!(reason("*.evil.example").contains("wildcard"));
        assert!(reason("192.0.2.1").contains("IP address"));
        assert!(reason("[2001:db8::1]").contains("IP address"));
        assert!(reason("2001:db8::1").contains("IP address"));
        assert!(reason("localhost").contains("single-label"));
        assert!(reason("evil.123").contains("numeric"));
        assert!(reason("evil.0x1f").contains("numeric"));
        assert!(reason("-evil.example").contains("hyphen"));
        assert!(reason("evil-.example").contains("hyphen"));
        assert!(reason("evil example.test").contains("not allowed"));
        assert!(reason("evil.example/path").contains("not allowed"));
        assert!(reason("").contains("empty"));
        assert!(reason(&format!("{}.example", "a".repeat(64))).contains("at most 63"));
        let long = format!("{}example", "abcdefghi.".repeat(25));
        assert!(reason(&long).contains("at most 253"));
    }

    #[test]
    fn single_label_for_hosts() {
        assert_eq!(canonical_name("Intranet", true).unwrap(), "intranet");
        assert!(canonical_name("intranet", false).is_err());
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "\0",
            ".",
            "..",
            "xn--",
            "xn--a.example",
            "\u{200d}",
            "ß.example",
            "[",
            "[]",
        ] {
            let _ = domain(s);
        }
    }
}
