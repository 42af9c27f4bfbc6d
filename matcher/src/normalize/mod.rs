//! Canonical normalisation: one function per kind, used by ingest and lookup alike.
//!
//! Rules:
//! - IP, domain, URL and e-mail values are refanged first (`hxxp`, `[.]`, `(.)`, `[:]`, ...);
//! - hashes become lowercase hex, validated by length;
//! - IPv6 is compressed and IPv4-mapped addresses are unmapped (then they are IPv4);
//! - domains are lowercased, one trailing dot is dropped and IDN becomes punycode;
//! - URLs follow WHATWG (the `url` crate) and keep their host;
//! - file names are case-folded; a path stays whole, its standard Windows folders
//!   written as their variable (`%appdata%\x.exe`); registry keys have their hive
//!   spelled out;
//! - invalid values are rejected with a reason ([`Invalid`]).
//!
//! The same functions run on intel at ingest and on alert values at lookup, so a
//! value and its indicator always meet in the same canonical form. The lookup side
//! calls them per alert: they avoid allocating when the input is already clean and
//! never panic.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::kind::Kind;

mod class;
mod detect;
mod domain;
mod email;
mod file_path;
mod hash;
mod ip;
mod refang;
mod text;
mod url;

pub use self::url::url;
pub use class::{classify, AddrClass};
pub use detect::detect;
pub use domain::domain;
pub use email::email;
pub use file_path::{file_path, is_path};
pub use hash::{hash, hash_kind_for_hex_len};
pub use ip::{format_ip, format_net, ip, ip_addr};
pub use refang::refang;
pub use text::{filename, mutex, regkey, regkey_path, user_agent};

/// Longest input shown in an [`Invalid`] message, in characters.
const SHOWN_CHARS: usize = 80;

/// A value that cannot be normalised as the requested kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {reason}")]
pub struct Invalid {
    pub kind: Kind,
    /// The offending input, truncated for display.
    pub value: String,
    pub reason: String,
}

impl Invalid {
    /// Builds the error; `raw` is shortened to about 80 characters, and control
    /// characters in it and in the reason (which may quote parts of the input)
    /// are escaped, so that the message stays on one line.
    pub fn new(kind: Kind, raw: &str, reason: impl Into<String>) -> Invalid {
        let mut value = String::with_capacity(raw.len().min(SHOWN_CHARS + 4));
        let mut chars = raw.chars();
        push_escaped(&mut value, chars.by_ref().take(SHOWN_CHARS));
        if chars.next().is_some() {
            value.push('…');
        }
        let mut reason = reason.into();
        if reason.contains(char::is_control) {
            let mut escaped = String::with_capacity(reason.len() + 8);
            push_escaped(&mut escaped, reason.chars());
            reason = escaped;
        }
        Invalid {
            kind,
            value,
            reason,
        }
    }
}

fn push_escaped(out: &mut String, chars: impl Iterator<Item = char>) {
    for c in chars {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
}

/// A value in canonical form, with its (possibly corrected) kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Normalized {
    pub kind: Kind,
    pub value: String,
}

impl Normalized {
    pub fn new(kind: Kind, value: impl Into<String>) -> Normalized {
        Normalized {
            kind,
            value: value.into(),
        }
    }
}

/// An address or a network, as found in an IP-kind value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpValue {
    Addr(IpAddr),
    /// A network with host bits cleared and a prefix shorter than the address width.
    Net(IpNetwork),
}

impl IpValue {
    /// `Ipv4` or `Ipv6`, after unmapping.
    pub fn kind(&self) -> Kind {
        let v4 = match self {
            IpValue::Addr(a) => a.is_ipv4(),
            IpValue::Net(n) => n.is_ipv4(),
        };
        if v4 {
            Kind::Ipv4
        } else {
            Kind::Ipv6
        }
    }

    /// The canonical text: [`format_ip`] or [`format_net`].
    pub fn to_canonical(&self) -> String {
        match *self {
            IpValue::Addr(a) => format_ip(a),
            IpValue::Net(n) => format_net(n),
        }
    }
}

/// A normalised URL and its host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedUrl {
    /// WHATWG serialisation.
    pub url: String,
    /// The host, normalised as a domain or an IP address (`None` for hostless URLs).
    pub host: Option<Host>,
}

/// The host part of a URL or of an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Domain(String),
    Ip(IpAddr),
}

/// The one entry point per kind.
///
/// IP, domain, URL and e-mail values are refanged first. The returned kind equals
/// `kind` except for an IPv4-mapped IPv6 address (or network) asked for as `Ipv6`,
/// which comes back unmapped as `Ipv4`.
pub fn normalize(kind: Kind, raw: &str) -> Result<Normalized, Invalid> {
    let value = match kind {
        Kind::Ipv4 | Kind::Ipv6 => {
            let v = ip::ip_as(kind, raw)?;
            return Ok(Normalized::new(v.kind(), v.to_canonical()));
        }
        Kind::Domain => domain(raw)?,
        Kind::Url => url(raw)?.url,
        Kind::Email => email(raw)?,
        Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 | Kind::Imphash | Kind::Hash => {
            hash(kind, raw)?
        }
        Kind::Filename => filename(raw)?,
        Kind::Regkey => regkey(raw)?,
        Kind::UserAgent => user_agent(raw)?,
        Kind::Mutex => mutex(raw)?,
    };
    Ok(Normalized { kind, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_display_is_one_line_and_truncated() {
        let e = Invalid::new(Kind::Sha256, "abc", "expected 64 hex digits, got 3");
        assert_eq!(
            e.to_string(),
            "invalid sha256 `abc`: expected 64 hex digits, got 3"
        );
        let long = "a\n".repeat(100);
        let e = Invalid::new(Kind::Mutex, &long, "bad `\n`");
        let shown = e.to_string();
        assert!(!shown.contains('\n'));
        assert!(shown.contains('…'));
        assert!(e.value.chars().count() < 200);
        assert_eq!(e.reason, "bad `\\n`");
    }

    #[test]
    fn normalize_dispatches_every_kind() {
        let cases = [
            (Kind::Ipv4, " 192.0.2.1 ", "192.0.2.1"),
            (Kind::Ipv6, "2001:DB8::1", "2001:db8::1"),
            (Kind::Domain, "Evil.Example.", "evil.example"),
            (Kind::Url, "evil.example", "http://evil.example/"),
            (Kind::Email, "A@Evil.Example", "a@evil.example"),
            (Kind::Md5, &"A".repeat(32), &"a".repeat(32)),
            (Kind::Sha1, &"B".repeat(40), &"b".repeat(40)),
            (Kind::Sha256, &"C".repeat(64), &"c".repeat(64)),
            (Kind::Sha512, &"D".repeat(128), &"d".repeat(128)),
            (Kind::Imphash, &"E".repeat(32), &"e".repeat(32)),
            (Kind::Hash, "3:AbC:dEf", "3:AbC:dEf"),
            (Kind::Filename, "Evil.EXE", "evil.exe"),
            (Kind::Filename, "C:\\Temp\\Evil.EXE", "c:\\temp\\evil.exe"),
            (
                Kind::Regkey,
                "HKLM\\Software",
                "hkey_local_machine\\software",
            ),
            (Kind::UserAgent, " Mozilla/5.0 ", "Mozilla/5.0"),
            (Kind::Mutex, "Global\\M", "Global\\M"),
        ];
        for (kind, raw, want) in cases {
            let got = normalize(kind, raw).unwrap();
            assert_eq!(got, Normalized::new(kind, want), "{kind} {raw}");
        }
    }

    #[test]
    fn mapped_ipv6_comes_back_as_ipv4() {
        let got = normalize(Kind::Ipv6, "::ffff:192.0.2.1").unwrap();
        assert_eq!(got, Normalized::new(Kind::Ipv4, "192.0.2.1"));
    }
}
