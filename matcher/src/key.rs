//! Match keys: what an indicator compiles to, and how a key matches.

use serde::{Deserialize, Serialize};

use crate::kind::Kind;

/// How an index key matches a looked-up value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMethod {
    /// The normalised value equals the key. Domains also match their subdomains
    /// (bounded by the public suffix list); URLs also match by host.
    Exact,
    /// The key is an IP network (`addr/len`) containing the value.
    Cidr,
    /// The key occurs anywhere inside the value (STIX `LIKE '%k%'`).
    Substring,
    /// The value starts with the key (STIX `LIKE 'k%'`).
    Prefix,
}

impl KeyMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMethod::Exact => "exact",
            KeyMethod::Cidr => "cidr",
            KeyMethod::Substring => "substring",
            KeyMethod::Prefix => "prefix",
        }
    }

    pub fn parse(s: &str) -> Option<KeyMethod> {
        Some(match s {
            "exact" => KeyMethod::Exact,
            "cidr" => KeyMethod::Cidr,
            "substring" => KeyMethod::Substring,
            "prefix" => KeyMethod::Prefix,
            _ => return None,
        })
    }
}

/// One derived key of an indicator or observable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MatchKey {
    pub kind: Kind,
    /// The normalised key. For [`KeyMethod::Cidr`] it is `network/len` with host bits cleared;
    /// for substring and prefix keys it is lowercased text.
    pub key: String,
    pub method: KeyMethod,
}

impl MatchKey {
    pub fn new(kind: Kind, key: impl Into<String>, method: KeyMethod) -> Self {
        MatchKey {
            kind,
            key: key.into(),
            method,
        }
    }

    pub fn exact(kind: Kind, key: impl Into<String>) -> Self {
        MatchKey::new(kind, key, KeyMethod::Exact)
    }
}

/// How a looked-up value hit an indicator (contract §5.1 `match.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitMethod {
    Exact,
    Cidr,
    ParentDomain,
    UrlHost,
    Token,
    Substring,
    Related,
}

impl HitMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HitMethod::Exact => "exact",
            HitMethod::Cidr => "cidr",
            HitMethod::ParentDomain => "parent_domain",
            HitMethod::UrlHost => "url_host",
            HitMethod::Token => "token",
            HitMethod::Substring => "substring",
            HitMethod::Related => "related",
        }
    }

    /// Rank for "best hits first": a lower rank is a stronger, more specific hit.
    pub fn rank(self) -> u8 {
        match self {
            HitMethod::Exact => 0,
            HitMethod::Token => 1,
            HitMethod::UrlHost => 2,
            HitMethod::Cidr => 3,
            HitMethod::ParentDomain => 4,
            HitMethod::Substring => 5,
            HitMethod::Related => 6,
        }
    }
}
