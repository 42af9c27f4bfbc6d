//! IPv4 and IPv6 addresses and networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

use super::refang::refang;
use super::{Invalid, IpValue};
use crate::kind::Kind;

/// Parses an address or a CIDR network in any common textual form.
///
/// Accepts surrounding whitespace, defanged dots, `[brackets]`, upper-case hex,
/// expanded or compressed IPv6 and zone ids (dropped). IPv4-mapped IPv6 is
/// unmapped to IPv4. Networks have their host bits cleared; a full-length prefix
/// (`/32`, `/128`) gives the plain address.
pub fn ip(raw: &str) -> Result<IpValue, Invalid> {
    parse(raw, None)
}

/// Like [`ip`], but the value must be an address (a full-length prefix is allowed).
pub fn ip_addr(raw: &str) -> Result<IpAddr, Invalid> {
    match parse(raw, None)? {
        IpValue::Addr(a) => Ok(a),
        IpValue::Net(n) => Err(Invalid::new(
            family(n.is_ipv4()),
            raw,
            "is a network, not an address",
        )),
    }
}

/// [`ip`] restricted to one family. `kind` must be `Ipv4` or `Ipv6`; an IPv4-mapped
/// IPv6 value is accepted for both and is IPv4 afterwards.
pub(super) fn ip_as(kind: Kind, raw: &str) -> Result<IpValue, Invalid> {
    let value = parse(raw, Some(kind))?;
    let got = value.kind();
    if got != kind && !(got == Kind::Ipv4 && is_mapped_literal(raw)) {
        let reason = match got {
            Kind::Ipv4 => "is an IPv4 address",
            _ => "is an IPv6 address",
        };
        return Err(Invalid::new(kind, raw, reason));
    }
    Ok(value)
}

/// Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, longest zero run
/// compressed, a single zero group not compressed). Callers wanting unmapped
/// addresses get them from [`ip`] / [`ip_addr`]; this only formats.
pub fn format_ip(ip: IpAddr) -> String {
    ip.to_string()
}

/// `network/prefix` with host bits cleared: `198.51.100.0/24`, `2001:db8::/32`.
pub fn format_net(net: IpNetwork) -> String {
    format!("{}/{}", net.network(), net.prefix())
}

fn family(v4: bool) -> Kind {
    if v4 {
        Kind::Ipv4
    } else {
        Kind::Ipv6
    }
}

fn is_mapped_literal(raw: &str) -> bool {
    raw.contains(':')
}

fn parse(raw: &str, want: Option<Kind>) -> Result<IpValue, Invalid> {
    let refanged = refang(raw.trim());
    let s = refanged.trim();
    let kind = want.unwrap_or(family(!s.contains(':')));
    let err = |reason: String| Invalid::new(kind, raw, reason);
    if s.is_empty() {
        return Err(err("empty value".into()));
    }

    let s = unbracket(s);
    let (addr, prefix) = match s.rfind('/') {
        Some(i) => (unbracket(&s[..i]), Some(&s[i + 1..])),
        None => (s, None),
    };

    let addr = parse_addr(addr).map_err(err)?;
    let Some(prefix) = prefix else {
        return Ok(IpValue::Addr(unmap(addr)));
    };
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let len = parse_prefix(prefix, width).map_err(err)?;
    Ok(network(addr, len))
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s)
}

fn parse_addr(s: &str) -> Result<IpAddr, String> {
    if s.contains(':') {
        let s = match s.find('%') {
            Some(0) => return Err("not an IPv6 address".into()),
            Some(i) if i + 1 == s.len() => return Err("empty zone id after `%`".into()),
            Some(i) => &s[..i],
            None => s,
        };
        if s.contains('.') {
            // Embedded IPv4 (`::ffff:a.b.c.d`) follows the IPv4 rules.
            let tail = s.rsplit(':').next().unwrap_or(s);
            if let Some(octet) = leading_zero_octet(tail) {
                return Err(leading_zero_reason(octet));
            }
        }
        return s
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| "not an IPv6 address".into());
    }
    if s.contains('%') {
        return Err("zone ids only exist on IPv6 addresses".into());
    }
    if let Some(octet) = leading_zero_octet(s) {
        return Err(leading_zero_reason(octet));
    }
    match s.parse::<Ipv4Addr>() {
        Ok(a) => Ok(IpAddr::V4(a)),
        Err(_) => Err(ipv4_reason(s)),
    }
}

fn leading_zero_octet(s: &str) -> Option<&str> {
    s.split('.')
        .find(|o| o.len() > 1 && o.starts_with('0') && o.bytes().all(|b| b.is_ascii_digit()))
}

fn leading_zero_reason(octet: &str) -> String {
    format!("octet `{octet}` has a leading zero (ambiguous: octal or decimal)")
}

fn ipv4_reason(s: &str) -> String {
    if s.split('.')
        .any(|o| o.is_empty() || !o.bytes().all(|b| b.is_ascii_digit()))
    {
        return "not an IPv4 address".into();
    }
    let count = s.split('.').count();
    if count != 4 {
        return format!("expected 4 octets, got {count}");
    }
    match s
        .split('.')
        .find(|o| o.len() > 3 || o.parse::<u16>().map_or(true, |v| v > 255))
    {
        Some(o) => format!("octet `{}` is greater than 255", shorten(o)),
        None => "not an IPv4 address".into(),
    }
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(12) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_prefix(p: &str, width: u8) -> Result<u8, String> {
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("prefix length `{}` is not a number", shorten(p)));
    }
    match p.parse::<u8>() {
        Ok(n) if n <= width => Ok(n),
        _ => Err(format!("prefix length `{p}` is out of range (0..={width})")),
    }
}

fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// Host bits cleared; a mapped network of at least /96 becomes its IPv4 network.
fn network(addr: IpAddr, len: u8) -> IpValue {
    let (addr, len) = match addr {
        IpAddr::V6(v6) if len >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), len - 96),
            None => (addr, len),
        },
        _ => (addr, len),
    };
    match addr {
        IpAddr::V4(a) if len == 32 => IpValue::Addr(IpAddr::V4(a)),
        IpAddr::V6(a) if len == 128 => IpValue::Addr(IpAddr::V6(a)),
        IpAddr::V4(a) => {
            let masked = u32::from(a) & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            // Cannot fail: len < 32 here.
            match Ipv4Network::new(Ipv4Addr::from(masked), len) {
                Ok(n) => IpValue::Net(IpNetwork::V4(n)),
                Err(_) => IpValue::Addr(IpAddr::V4(a)),
            }
        }
        IpAddr::V6(a) => {
            let masked = u128::from(a) & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            match Ipv6Network::new(Ipv6Addr::from(masked), len) {
                Ok(n) => IpValue::Net(IpNetwork::V6(n)),
                Err(_) => IpValue::Addr(IpAddr::V6(a)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> String {
        ip(raw).unwrap().to_canonical()
    }

    fn reason(raw: &str) -> String {
        ip(raw).unwrap_err().reason
    }

    #[test]
    fn textual_forms() {
        assert_eq!(canon(" 192.0.2.1\t"), "192.0.2.1");
        assert_eq!(canon("192[.]0[.]2[.]1"), "192.0.2.1");
        assert_eq!(
            canon("2001:0DB8:0000:0000:0000:0000:0000:0001"),
            "2001:db8::1"
        );
        assert_eq!(canon("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(canon("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(canon("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(canon("fe80::1%eth0"), "fe80::1");
        assert_eq!(canon("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(canon("::FFFF:c000:0201"), "192.0.2.1");
        assert_eq!(canon("::"), "::");
    }

    #[test]
    fn networks() {
        assert_eq!(canon("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(canon("198.51.100.77/24"), "198.51.100.0/24");
        assert_eq!(canon("192.0.2.1/32"), "192.0.2.1");
        assert_eq!(canon("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(canon("2001:db8:1::5/32"), "2001:db8::/32");
        assert_eq!(canon("[2001:db8::1]/64"), "2001:db8::/64");
        assert_eq!(canon("[2001:db8::1/64]"), "2001:db8::/64");
        assert_eq!(canon("2001:db8::1/128"), "2001:db8::1");
        assert_eq!(canon("::ffff:192.0.2.7/120"), "192.0.2.0/24");
        assert_eq!(canon("::ffff:192.0.2.7/128"), "192.0.2.7");
        assert_eq!(canon("::ffff:0:0/95"), "::fffe:0:0/95");
        assert!(matches!(ip("10.0.0.0/8").unwrap(), IpValue::Net(_)));
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(reason("010.1.1.1").contains("leading zero"));
        assert!(reason("::ffff:010.1.1.1").contains("leading zero"));
        assert!(reason("192.0.2.256").contains("greater than 255"));
        assert!(reason("192.0.2").contains("expected 4 octets, got 3"));
        assert!(reason("3221225985").contains("expected 4 octets, got 1"));
        assert!(reason("evil.example").contains("not an IPv4"));
        assert!(reason("2001:db8::g").contains("not an IPv6"));
        assert!(reason("192.0.2.0/33").contains("out of range"));
        assert!(reason("2001:db8::/129").contains("out of range"));
        assert!(reason("192.0.2.0/").contains("not a number"));
        assert!(reason("192.0.2.0/+8").contains("not a number"));
        assert!(reason("192.0.2.1%eth0").contains("zone"));
        assert!(reason("fe80::1%").contains("zone"));
        assert!(reason("").contains("empty"));
        assert!(reason("192.0.2.1:80").contains("not an IPv6"));
    }

    #[test]
    fn families() {
        assert!(ip_as(Kind::Ipv4, "2001:db8::1").is_err());
        assert!(ip_as(Kind::Ipv6, "192.0.2.1").is_err());
        let v = ip_as(Kind::Ipv6, "::ffff:192.0.2.1").unwrap();
        assert_eq!(v.kind(), Kind::Ipv4);
        assert!(ip_as(Kind::Ipv4, "::ffff:192.0.2.1").is_ok());
    }

    #[test]
    fn addr_only() {
        assert_eq!(
            ip_addr("192.0.2.1/32").unwrap(),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert!(ip_addr("192.0.2.0/24")
            .unwrap_err()
            .reason
            .contains("network"));
    }

    #[test]
    fn formatting() {
        let f = |s: &str| format_ip(s.parse().unwrap());
        assert_eq!(f("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(f("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(f("2001:DB8::AB"), "2001:db8::ab");
        let n: IpNetwork = "192.0.2.9/24".parse().unwrap();
        assert_eq!(format_net(n), "192.0.2.0/24");
    }
}
