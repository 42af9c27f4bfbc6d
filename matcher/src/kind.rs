//! The kinds of value intelmatch knows how to normalise, index and look up.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The normalised kind of an indicator value or of a value taken from an alert.
///
/// Every kind has exactly one normalisation function (see [`crate::normalize`]),
/// used both when intel is ingested and when an alert value is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// IPv4 address or network (`a.b.c.d` or `a.b.c.d/len`).
    Ipv4,
    /// IPv6 address or network, compressed form, IPv4-mapped addresses unmapped.
    Ipv6,
    /// Domain or host name: lowercase, no trailing dot, punycode.
    Domain,
    /// URL in WHATWG serialisation.
    Url,
    /// E-mail address, lowercased.
    Email,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    /// PE import hash (MD5-sized, but a distinct key space).
    Imphash,
    /// Any other digest or fuzzy hash (sha224, sha384, sha3-*, ssdeep, tlsh, authentihash, ja3, ...).
    Hash,
    /// File base name.
    Filename,
    /// Windows registry key, hive spelled out, case-folded.
    Regkey,
    /// HTTP user agent, exact string.
    UserAgent,
    /// Mutex name, exact string.
    Mutex,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 15] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Domain,
        Kind::Url,
        Kind::Email,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Imphash,
        Kind::Hash,
        Kind::Filename,
        Kind::Regkey,
        Kind::UserAgent,
        Kind::Mutex,
    ];

    /// The name used in config, events, CDB file names and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Email => "email",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Sha512 => "sha512",
            Kind::Imphash => "imphash",
            Kind::Hash => "hash",
            Kind::Filename => "filename",
            Kind::Regkey => "regkey",
            Kind::UserAgent => "user_agent",
            Kind::Mutex => "mutex",
        }
    }

    /// A one-byte tag that prefixes exact keys in the index. Never reuse a value:
    /// it is part of the on-disk format.
    pub fn tag(self) -> u8 {
        match self {
            Kind::Ipv4 => b'4',
            Kind::Ipv6 => b'6',
            Kind::Domain => b'd',
            Kind::Url => b'u',
            Kind::Email => b'e',
            Kind::Md5 => b'm',
            Kind::Sha1 => b's',
            Kind::Sha256 => b'S',
            Kind::Sha512 => b'X',
            Kind::Imphash => b'i',
            Kind::Hash => b'h',
            Kind::Filename => b'f',
            Kind::Regkey => b'r',
            Kind::UserAgent => b'a',
            Kind::Mutex => b'x',
        }
    }

    /// Inverse of [`Kind::tag`].
    pub fn from_tag(tag: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// True for the address kinds, whose keys live in the prefix table.
    pub fn is_ip(self) -> bool {
        matches!(self, Kind::Ipv4 | Kind::Ipv6)
    }

    /// True for the digest kinds (lowercase hex).
    pub fn is_hash(self) -> bool {
        matches!(
            self,
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 | Kind::Imphash | Kind::Hash
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}` (expected one of: ipv4, ipv6, domain, url, email, md5, sha1, sha256, sha512, imphash, hash, filename, regkey, user_agent, mutex)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let kind = match lower.as_str() {
            "ipv4" | "ip4" => Kind::Ipv4,
            "ipv6" | "ip6" => Kind::Ipv6,
            "domain" | "hostname" | "host" => Kind::Domain,
            "url" => Kind::Url,
            "email" => Kind::Email,
            "md5" => Kind::Md5,
            "sha1" | "sha-1" => Kind::Sha1,
            "sha256" | "sha-256" => Kind::Sha256,
            "sha512" | "sha-512" => Kind::Sha512,
            "imphash" => Kind::Imphash,
            "hash" => Kind::Hash,
            "filename" => Kind::Filename,
            "regkey" => Kind::Regkey,
            "user_agent" | "user-agent" | "useragent" => Kind::UserAgent,
            "mutex" => Kind::Mutex,
            _ => return Err(UnknownKind(s.to_string())),
        };
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_tag(k.tag()), Some(k));
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        let mut tags: Vec<u8> = Kind::ALL.iter().map(|k| k.tag()).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), Kind::ALL.len());
    }

    #[test]
    fn unknown_kind_names_the_culprit() {
        let err = "ipv5".parse::<Kind>().unwrap_err();
        assert!(err.to_string().contains("`ipv5`"));
    }
}
