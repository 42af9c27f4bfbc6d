//! MISP attribute types → matchable values (misp.md §8), shared by the feed
//! source and the MISP API source.
//!
//! Every type MISP knows (`describeTypes.json`) has an entry: either how its
//! value becomes `(Kind, value)` pairs, or why it is not matchable. The table
//! test in `tests/file_sources/misp_types.rs` keeps it complete.
//!
//! Choices worth knowing:
//! - network fingerprints (JA3, JARM, HASSH, x509) go to [`Kind::Hash`], not
//!   [`Kind::Md5`]/[`Kind::Sha1`]: a JA3 digest must never match a file hash;
//! - `target-*` types describe the victim, so they never alert;
//! - `pdb` and `uri` are paths, not base names or URLs: no kind fits them;
//! - in `filename|<hash>` only the hash is a key;
//! - `ssh-fingerprint` and `favicon-mmh3` have no stable digest spelling
//!   (base64, colon-hex, signed integers) and are left out.

use matcher::Kind;

/// Where one value (or one half of a composite value) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Kind(Kind),
    /// An IP address or network; IPv4 or IPv6 is decided by the value.
    Ip,
}

/// Why a type is not matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// A rule or pattern language (snort, yara, sigma, ...): stored by MISP,
    /// not value-matched.
    Rule,
    /// A value intelmatch has no kind for (AS, MAC, BTC address, CVE, ...).
    NoKind,
    /// Context that never alerts (comments, links, people, targets, ...).
    Context,
}

/// How the value of a MISP type is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MispType {
    /// The whole value.
    Single(Part),
    /// `first|second` (split on the first `|`); `None` halves are not matched
    /// (the port of `ip-dst|port`, the data of `regkey|value`).
    Composite(Option<Part>, Option<Part>),
    Unsupported(Unsupported),
}

impl MispType {
    pub fn is_matchable(self) -> bool {
        !matches!(self, MispType::Unsupported(_))
    }
}

use MispType::{Composite, Single};
use Part::Ip;

const fn k(kind: Kind) -> MispType {
    Single(Part::Kind(kind))
}

/// `filename|<hash>`: the hash is the key; the name is context (kept in the
/// record's `value`), never a key of its own, or `csrss.exe|<sha1>` would hit
/// every csrss.exe whatever its hash.
const fn file_and(kind: Kind) -> MispType {
    Composite(None, Some(Part::Kind(kind)))
}

const RULE: MispType = MispType::Unsupported(Unsupported::Rule);
const NO_KIND: MispType = MispType::Unsupported(Unsupported::NoKind);
const CONTEXT: MispType = MispType::Unsupported(Unsupported::Context);

/// Every MISP type, in `describeTypes.json` order.
pub const TYPES: &[(&str, MispType)] = &[
    ("md5", k(Kind::Md5)),
    ("sha1", k(Kind::Sha1)),
    ("sha256", k(Kind::Sha256)),
    ("filename", k(Kind::Filename)),
    ("pdb", NO_KIND),
    ("filename|md5", file_and(Kind::Md5)),
    ("filename|sha1", file_and(Kind::Sha1)),
    ("filename|sha256", file_and(Kind::Sha256)),
    ("ip-src", Single(Ip)),
    ("ip-dst", Single(Ip)),
    ("hostname", k(Kind::Domain)),
    ("domain", k(Kind::Domain)),
    (
        "domain|ip",
        Composite(Some(Part::Kind(Kind::Domain)), Some(Ip)),
    ),
    ("email", k(Kind::Email)),
    ("email-src", k(Kind::Email)),
    // eduPersonPrincipalName looks like an address but names an identity.
    ("eppn", NO_KIND),
    ("email-dst", k(Kind::Email)),
    ("email-subject", NO_KIND),
    ("email-attachment", k(Kind::Filename)),
    ("email-body", NO_KIND),
    ("float", CONTEXT),
    ("git-commit-id", CONTEXT),
    ("url", k(Kind::Url)),
    ("http-method", NO_KIND),
    ("user-agent", k(Kind::UserAgent)),
    ("ja3-fingerprint-md5", k(Kind::Hash)),
    ("jarm-fingerprint", k(Kind::Hash)),
    ("favicon-mmh3", NO_KIND),
    ("hassh-md5", k(Kind::Hash)),
    ("hasshserver-md5", k(Kind::Hash)),
    ("regkey", k(Kind::Regkey)),
    (
        "regkey|value",
        Composite(Some(Part::Kind(Kind::Regkey)), None),
    ),
    ("AS", NO_KIND),
    ("snort", RULE),
    ("suricata", RULE),
    ("bro", RULE),
    ("zeek", RULE),
    ("community-id", NO_KIND),
    ("dom-hash", k(Kind::Hash)),
    ("pattern-in-file", RULE),
    ("pattern-in-traffic", RULE),
    ("pattern-in-memory", RULE),
    ("filename-pattern", RULE),
    ("pgp-public-key", CONTEXT),
    ("pgp-private-key", CONTEXT),
    ("ssh-fingerprint", NO_KIND),
    ("yara", RULE),
    ("stix2-pattern", RULE),
    ("sigma", RULE),
    ("gene", RULE),
    ("kusto-query", RULE),
    ("mime-type", NO_KIND),
    ("identity-card-number", CONTEXT),
    ("cookie", NO_KIND),
    ("vulnerability", NO_KIND),
    ("cpe", NO_KIND),
    ("weakness", NO_KIND),
    ("attachment", CONTEXT),
    ("malware-sample", file_and(Kind::Md5)),
    ("link", CONTEXT),
    ("comment", CONTEXT),
    ("text", CONTEXT),
    ("hex", CONTEXT),
    ("other", CONTEXT),
    ("named pipe", NO_KIND),
    ("mutex", k(Kind::Mutex)),
    ("process-state", NO_KIND),
    ("target-user", CONTEXT),
    ("target-email", CONTEXT),
    ("target-machine", CONTEXT),
    ("target-org", CONTEXT),
    ("target-location", CONTEXT),
    ("target-external", CONTEXT),
    ("btc", NO_KIND),
    ("dash", NO_KIND),
    ("xmr", NO_KIND),
    ("iban", NO_KIND),
    ("bic", NO_KIND),
    ("bank-account-nr", NO_KIND),
    ("aba-rtn", NO_KIND),
    ("bin", NO_KIND),
    ("cc-number", NO_KIND),
    ("prtn", NO_KIND),
    ("phone-number", CONTEXT),
    ("threat-actor", CONTEXT),
    ("campaign-name", CONTEXT),
    ("campaign-id", CONTEXT),
    ("malware-type", CONTEXT),
    ("uri", NO_KIND),
    ("authentihash", k(Kind::Hash)),
    ("vhash", k(Kind::Hash)),
    ("ssdeep", k(Kind::Hash)),
    ("imphash", k(Kind::Imphash)),
    ("telfhash", k(Kind::Hash)),
    ("pehash", k(Kind::Hash)),
    ("impfuzzy", k(Kind::Hash)),
    ("sha224", k(Kind::Hash)),
    ("sha384", k(Kind::Hash)),
    ("sha512", k(Kind::Sha512)),
    ("sha512/224", k(Kind::Hash)),
    ("sha512/256", k(Kind::Hash)),
    ("sha3-224", k(Kind::Hash)),
    ("sha3-256", k(Kind::Hash)),
    ("sha3-384", k(Kind::Hash)),
    ("sha3-512", k(Kind::Hash)),
    ("tlsh", k(Kind::Hash)),
    ("cdhash", k(Kind::Hash)),
    ("filename|authentihash", file_and(Kind::Hash)),
    ("filename|vhash", file_and(Kind::Hash)),
    ("filename|ssdeep", file_and(Kind::Hash)),
    ("filename|imphash", file_and(Kind::Imphash)),
    ("filename|impfuzzy", file_and(Kind::Hash)),
    ("filename|pehash", file_and(Kind::Hash)),
    ("filename|sha224", file_and(Kind::Hash)),
    ("filename|sha384", file_and(Kind::Hash)),
    ("filename|sha512", file_and(Kind::Sha512)),
    ("filename|sha512/224", file_and(Kind::Hash)),
    ("filename|sha512/256", file_and(Kind::Hash)),
    ("filename|sha3-224", file_and(Kind::Hash)),
    ("filename|sha3-256", file_and(Kind::Hash)),
    ("filename|sha3-384", file_and(Kind::Hash)),
    ("filename|sha3-512", file_and(Kind::Hash)),
    ("filename|tlsh", file_and(Kind::Hash)),
    ("windows-scheduled-task", NO_KIND),
    ("windows-service-name", NO_KIND),
    ("windows-service-displayname", NO_KIND),
    ("whois-registrant-email", k(Kind::Email)),
    ("whois-registrant-phone", CONTEXT),
    ("whois-registrant-name", CONTEXT),
    ("whois-registrant-org", CONTEXT),
    ("whois-registrar", CONTEXT),
    ("whois-creation-date", CONTEXT),
    ("x509-fingerprint-sha1", k(Kind::Hash)),
    ("x509-fingerprint-md5", k(Kind::Hash)),
    ("x509-fingerprint-sha256", k(Kind::Hash)),
    ("dns-soa-email", k(Kind::Email)),
    ("size-in-bytes", NO_KIND),
    ("counter", CONTEXT),
    ("integer", CONTEXT),
    ("datetime", CONTEXT),
    ("port", NO_KIND),
    ("ip-dst|port", Composite(Some(Ip), None)),
    ("ip-src|port", Composite(Some(Ip), None)),
    (
        "hostname|port",
        Composite(Some(Part::Kind(Kind::Domain)), None),
    ),
    ("mac-address", NO_KIND),
    ("mac-eui-64", NO_KIND),
    ("email-dst-display-name", NO_KIND),
    ("email-src-display-name", NO_KIND),
    ("email-header", NO_KIND),
    ("email-reply-to", k(Kind::Email)),
    ("email-x-mailer", NO_KIND),
    ("email-mime-boundary", NO_KIND),
    ("email-thread-index", NO_KIND),
    ("email-message-id", NO_KIND),
    ("github-username", CONTEXT),
    ("github-repository", CONTEXT),
    ("github-organisation", CONTEXT),
    ("jabber-id", NO_KIND),
    ("twitter-id", CONTEXT),
    ("dkim", RULE),
    ("dkim-signature", RULE),
    ("first-name", CONTEXT),
    ("middle-name", CONTEXT),
    ("last-name", CONTEXT),
    ("full-name", CONTEXT),
    ("date-of-birth", CONTEXT),
    ("place-of-birth", CONTEXT),
    ("gender", CONTEXT),
    ("passport-number", CONTEXT),
    ("passport-country", CONTEXT),
    ("passport-expiration", CONTEXT),
    ("redress-number", CONTEXT),
    ("nationality", CONTEXT),
    ("visa-number", CONTEXT),
    ("issue-date-of-the-visa", CONTEXT),
    ("primary-residence", CONTEXT),
    ("country-of-residence", CONTEXT),
    ("special-service-request", CONTEXT),
    ("frequent-flyer-number", CONTEXT),
    ("travel-details", CONTEXT),
    ("payment-details", CONTEXT),
    ("place-port-of-original-embarkation", CONTEXT),
    ("place-port-of-clearance", CONTEXT),
    ("place-port-of-onward-foreign-destination", CONTEXT),
    ("passenger-name-record-locator-number", CONTEXT),
    ("mobile-application-id", NO_KIND),
    ("azure-application-id", NO_KIND),
    ("chrome-extension-id", NO_KIND),
    ("edge-extension-id", NO_KIND),
    ("cortex", CONTEXT),
    ("boolean", CONTEXT),
    ("uuid", CONTEXT),
    ("anonymised", CONTEXT),
    ("onion-address", k(Kind::Domain)),
];

/// The mapping of a MISP type; `None` for a type this table does not know
/// (newer than `describeTypes.json`). Exact name first (MISP types are case
/// sensitive: `AS`), then lowercase for hand-written feeds.
pub fn lookup(misp_type: &str) -> Option<MispType> {
    let find = |t: &str| TYPES.iter().find(|(name, _)| *name == t).map(|(_, m)| *m);
    find(misp_type).or_else(|| find(&misp_type.to_ascii_lowercase()))
}

/// The single kind a type maps to, when it has exactly one (`ip-src` has two
/// possible kinds and a composite has two parts, so they answer `None`; use
/// [`values`] for those).
pub fn kind(misp_type: &str) -> Option<Kind> {
    match lookup(misp_type)? {
        Single(Part::Kind(kind)) => Some(kind),
        _ => None,
    }
}

/// Why an attribute value gave no matchable value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("unknown MISP type {0}")]
    UnknownType(String),
    #[error("MISP type {0} is not matchable")]
    NotMatchable(String),
    #[error("composite type {misp_type} wants `a|b`, got `{value}`")]
    NotComposite { misp_type: String, value: String },
    #[error("empty value")]
    Empty,
}

/// The matchable `(kind, raw value)` pairs of one attribute. Values are not
/// normalised here (the store does that, once, for every source).
pub fn values(misp_type: &str, value: &str) -> Result<Vec<(Kind, String)>, ValueError> {
    let mapping = lookup(misp_type).ok_or_else(|| ValueError::UnknownType(misp_type.into()))?;
    let mut out = Vec::new();
    match mapping {
        MispType::Unsupported(_) => return Err(ValueError::NotMatchable(misp_type.into())),
        Single(part) => push_part(&mut out, part, value),
        Composite(first, second) => {
            // MISP stores exactly two parts and splits on the first `|`.
            let Some((a, b)) = value.split_once('|') else {
                return Err(ValueError::NotComposite {
                    misp_type: misp_type.into(),
                    value: super::shown(value),
                });
            };
            if let Some(part) = first {
                push_part(&mut out, part, a);
            }
            if let Some(part) = second {
                push_part(&mut out, part, b);
            }
        }
    }
    if out.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(out)
}

fn push_part(out: &mut Vec<(Kind, String)>, part: Part, raw: &str) {
    let raw = raw.trim();
    if raw.is_empty() {
        return;
    }
    let kind = match part {
        Part::Kind(kind) => kind,
        // Only IPv6 has colons; the normaliser validates the rest.
        Part::Ip if raw.contains(':') => Kind::Ipv6,
        Part::Ip => Kind::Ipv4,
    };
    out.push((kind, raw.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composites_split_on_the_first_pipe() {
        assert_eq!(
            values("domain|ip", "evil.example|2001:db8::5").unwrap(),
            [
                (Kind::Domain, "evil.example".to_string()),
                (Kind::Ipv6, "2001:db8::5".to_string())
            ]
        );
        assert_eq!(
            values("ip-dst|port", "203.0.113.7|8443").unwrap(),
            [(Kind::Ipv4, "203.0.113.7".to_string())]
        );
        assert_eq!(
            values("filename|sha256", "a|b.exe|ABC").unwrap(),
            [(Kind::Sha256, "b.exe|ABC".to_string())]
        );
        // ESET's Glupteba event: the name half is no key of its own.
        assert_eq!(
            values(
                "filename|sha1",
                "csrss.exe|1645ad8468a2fb54763c0ebeb766dfd8c643f3db"
            )
            .unwrap(),
            [(
                Kind::Sha1,
                "1645ad8468a2fb54763c0ebeb766dfd8c643f3db".to_string()
            )]
        );
        assert!(matches!(
            values("filename|md5", "no-pipe"),
            Err(ValueError::NotComposite { .. })
        ));
        assert_eq!(values("hostname|port", "|443"), Err(ValueError::Empty));
    }

    #[test]
    fn unknown_and_unsupported_are_told_apart() {
        assert_eq!(
            values("yara", "rule x {}").unwrap_err().to_string(),
            "MISP type yara is not matchable"
        );
        assert_eq!(
            values("made-up", "x").unwrap_err(),
            ValueError::UnknownType("made-up".into())
        );
        assert_eq!(kind("AS"), None);
        assert_eq!(kind("SHA256"), Some(Kind::Sha256));
        assert_eq!(kind("ip-src"), None);
    }
}
