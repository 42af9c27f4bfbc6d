//! Which lists an export writes, under which names, in which format.
//!
//! - `default`: one `intelmatch-<kind>` list per kind, values carrying short
//!   provenance, networks as octet-boundary prefixes for `address_match_key`.
//! - `malicious-ioc`: the names and formats of Wazuh's built-in
//!   `etc/lists/malicious-ioc` lists (4.13+), so that the stock rules
//!   99901–99920 work unchanged: `1.2.3.4:`, `domain.tld:` and
//!   `<sha256>:<family>`. Those rules use `match_key`, so networks become
//!   single addresses there.

use matcher::Kind;

use super::cidr::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Default,
    MaliciousIoc,
}

/// What a list's values say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueStyle {
    /// `source=a,b score=80 net=10.0.0.0/8 related`
    Provenance,
    /// Empty (`key:`), as in `malicious-ip` and `malicious-domains`.
    Empty,
    /// The malware family (a label, else the name, else the source), as in
    /// `malware-hashes`.
    Family,
}

/// One list of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSpec {
    /// File name under the output directory.
    pub name: &'static str,
    pub kinds: &'static [Kind],
    pub values: ValueStyle,
    /// What IPv4 networks become (IP lists only).
    pub networks: Target,
    /// The lookup rules should use on this list.
    pub lookup: &'static str,
}

const fn spec(
    name: &'static str,
    kinds: &'static [Kind],
    values: ValueStyle,
    networks: Target,
    lookup: &'static str,
) -> ListSpec {
    ListSpec {
        name,
        kinds,
        values,
        networks,
        lookup,
    }
}

const P: ValueStyle = ValueStyle::Provenance;
const OCTETS: Target = Target::OctetPrefixes;

const DEFAULT: [ListSpec; 8] = [
    spec(
        "intelmatch-ip",
        &[Kind::Ipv4, Kind::Ipv6],
        P,
        OCTETS,
        "address_match_key",
    ),
    spec("intelmatch-domain", &[Kind::Domain], P, OCTETS, "match_key"),
    spec("intelmatch-url", &[Kind::Url], P, OCTETS, "match_key"),
    spec("intelmatch-md5", &[Kind::Md5], P, OCTETS, "match_key"),
    spec("intelmatch-sha1", &[Kind::Sha1], P, OCTETS, "match_key"),
    spec("intelmatch-sha256", &[Kind::Sha256], P, OCTETS, "match_key"),
    spec("intelmatch-sha512", &[Kind::Sha512], P, OCTETS, "match_key"),
    spec("intelmatch-email", &[Kind::Email], P, OCTETS, "match_key"),
];

const MALICIOUS_IOC: [ListSpec; 3] = [
    spec(
        "malicious-ip",
        &[Kind::Ipv4, Kind::Ipv6],
        ValueStyle::Empty,
        Target::Addresses,
        "match_key",
    ),
    spec(
        "malicious-domains",
        &[Kind::Domain],
        ValueStyle::Empty,
        OCTETS,
        "match_key",
    ),
    spec(
        "malware-hashes",
        &[Kind::Sha256],
        ValueStyle::Family,
        OCTETS,
        "match_key",
    ),
];

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Default => "default",
            Layout::MaliciousIoc => "malicious-ioc",
        }
    }

    pub fn lists(self) -> &'static [ListSpec] {
        match self {
            Layout::Default => &DEFAULT,
            Layout::MaliciousIoc => &MALICIOUS_IOC,
        }
    }

    /// The index of the list that takes `kind`, if any.
    pub fn list_for(self, kind: Kind) -> Option<usize> {
        self.lists().iter().position(|l| l.kinds.contains(&kind))
    }

    /// Where the lists conventionally go, relative to the Wazuh home.
    pub fn default_dir(self) -> &'static str {
        match self {
            Layout::Default => "etc/lists/intelmatch",
            Layout::MaliciousIoc => "etc/lists/malicious-ioc",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        match s {
            "default" | "intelmatch" => Ok(Layout::Default),
            "malicious-ioc" => Ok(Layout::MaliciousIoc),
            _ => Err(format!(
                "unknown layout `{s}` (expected default or malicious-ioc)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_at_most_one_list() {
        for layout in [Layout::Default, Layout::MaliciousIoc] {
            for kind in Kind::ALL {
                let n = layout
                    .lists()
                    .iter()
                    .filter(|l| l.kinds.contains(&kind))
                    .count();
                assert!(n <= 1, "{kind} in {n} lists of {layout:?}");
            }
        }
        assert_eq!(Layout::Default.lists()[0].name, "intelmatch-ip");
        assert_eq!(Layout::MaliciousIoc.list_for(Kind::Md5), None);
        assert_eq!(Layout::MaliciousIoc.list_for(Kind::Ipv6), Some(0));
    }
}
