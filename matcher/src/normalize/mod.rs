//! Canonical normalisation: one function per kind, used by ingest and lookup alike.
//!
//! Rules (see the developers' guide):
//! - every value is refanged first (`hxxp`, `[.]`, `(.)`, `[:]`, ...);
//! - hashes become lowercase hex, validated by length;
//! - IPv6 is compressed and IPv4-mapped addresses are unmapped (then they are IPv4);
//! - domains are lowercased, the trailing dot is dropped and IDN becomes punycode;
//! - URLs follow WHATWG (the `url` crate) and keep their host;
//! - invalid values are rejected with a reason.

// Implementation lives in the submodules; this file holds the public API.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::kind::Kind;

/// A value that cannot be normalised as the requested kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {reason}")]
pub struct Invalid {
    pub kind: Kind,
    /// The offending input, truncated for display.
    pub value: String,
    pub reason: String,
}

/// An address or a network, as found in an IP-kind value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpValue {
    Addr(IpAddr),
    /// A network with host bits cleared and a prefix shorter than the address width.
    Net(IpNetwork),
}

/// A normalised URL and its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedUrl {
    /// WHATWG serialisation.
    pub url: String,
    /// The host, normalised as a domain or an IP address (`None` for hostless URLs).
    pub host: Option<Host>,
}

/// The host part of a URL or of an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Domain(String),
    Ip(IpAddr),
}
