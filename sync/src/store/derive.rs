//! Match keys from stored rows: STIX patterns through `matcher::stix`, bare
//! values through `matcher::normalize`. Never fails: what cannot be used is
//! described in the parse status or as a reject.

use std::collections::HashSet;

use matcher::normalize::normalize;
use matcher::stix::{compile, PatternError};
use matcher::{KeyMethod, Kind, MatchKey};
use serde::{Deserialize, Serialize};

use crate::{IndicatorRow, ObservableRow, Reject};

/// Bump when derivation changes (a better compiler, new normalisation):
/// rows whose keys came from an older version are re-derived on their next
/// upsert even when the row itself is unchanged.
/// 2: URLs normalise to a serialisation that parses back to itself.
/// 3: an `OR` branch is an exact match, not partial; `LIKE` on an IPv4 octet
///    prefix is a network and `LIKE '%.d'` a parent domain; a bad date in a
///    comparison no longer invalidates the pattern.
/// 4: a path-valued file name stays a whole path, never its base name.
/// 5: a registry key without its hive (`Software\...`) is kept as its path.
pub const DERIVE_VERSION: i64 = 5;

/// What became of an indicator's pattern or values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseStatus {
    /// Every leaf compiled (or every value normalised).
    Ok,
    /// Compiled, but a value can satisfy only part of the pattern.
    Partial,
    /// Valid STIX the compiler cannot turn into keys (kept, not matched).
    Unsupported,
    /// Not valid STIX, or no value could be normalised.
    Invalid,
    /// Another pattern language (yara, sigma, ...): stored verbatim.
    NotStix,
    /// Neither a pattern nor values.
    NoValue,
}

impl ParseStatus {
    pub const ALL: [ParseStatus; 6] = [
        ParseStatus::Ok,
        ParseStatus::Partial,
        ParseStatus::Unsupported,
        ParseStatus::Invalid,
        ParseStatus::NotStix,
        ParseStatus::NoValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParseStatus::Ok => "ok",
            ParseStatus::Partial => "partial",
            ParseStatus::Unsupported => "unsupported",
            ParseStatus::Invalid => "invalid",
            ParseStatus::NotStix => "not_stix",
            ParseStatus::NoValue => "no_value",
        }
    }

    pub fn parse(s: &str) -> Option<ParseStatus> {
        ParseStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Keys and diagnostics for one row.
#[derive(Debug)]
pub(crate) struct Derived {
    /// Unique, in derivation order (the first is the row's "own" value).
    pub keys: Vec<MatchKey>,
    pub partial: bool,
    pub status: ParseStatus,
    pub error: Option<String>,
    pub rejects: Vec<Reject>,
}

/// A `pattern_type` of `stix`, or none at all with a pattern present (bundles
/// written by hand often omit it).
fn is_stix(row: &IndicatorRow) -> bool {
    match row.pattern_type.as_deref() {
        Some(t) => t.trim().eq_ignore_ascii_case("stix"),
        None => true,
    }
}

pub(crate) fn derive_indicator(row: &IndicatorRow) -> Derived {
    let mut keys = KeySet::default();
    let mut rejects = Vec::new();
    let (good, first_bad) = add_values(
        &format!("indicator {}", row.ext_id),
        &row.values,
        &mut keys,
        &mut rejects,
    );
    let pattern = row
        .pattern
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let mut partial = false;
    let (status, error) = if !is_stix(row) {
        (ParseStatus::NotStix, None)
    } else if let Some(p) = pattern {
        match compile(p) {
            Ok(c) => {
                let mut notes = Vec::new();
                if !c.skipped.is_empty() {
                    notes.push(format!("skipped: {}", c.skipped.join(", ")));
                }
                if !c.regexes.is_empty() {
                    notes.push(format!(
                        "{} MATCHES comparison(s) not indexed",
                        c.regexes.len()
                    ));
                }
                let status = if c.keys.is_empty() {
                    if notes.is_empty() {
                        notes.push("the pattern yields no match key".to_string());
                    }
                    ParseStatus::Unsupported
                } else if c.partial {
                    ParseStatus::Partial
                } else {
                    ParseStatus::Ok
                };
                partial = c.partial && !c.keys.is_empty();
                for k in c.keys {
                    keys.push(k);
                }
                (status, (!notes.is_empty()).then(|| notes.join("; ")))
            }
            Err(e) => (pattern_error_status(&e), Some(e.to_string())),
        }
    } else if row.values.is_empty() {
        (ParseStatus::NoValue, None)
    } else if good > 0 {
        (ParseStatus::Ok, None)
    } else {
        (ParseStatus::Invalid, first_bad)
    };
    Derived {
        keys: keys.keys,
        partial,
        status,
        error,
        rejects,
    }
}

pub(crate) fn derive_observable(row: &ObservableRow) -> Derived {
    let mut keys = KeySet::default();
    let mut rejects = Vec::new();
    let (good, first_bad) = add_values(
        &format!("observable {}", row.ext_id),
        &row.values,
        &mut keys,
        &mut rejects,
    );
    let (status, error) = match (row.values.is_empty(), good) {
        (true, _) => (ParseStatus::NoValue, None),
        (false, 0) => (ParseStatus::Invalid, first_bad),
        _ => (ParseStatus::Ok, None),
    };
    Derived {
        keys: keys.keys,
        partial: false,
        status,
        error,
        rejects,
    }
}

// The matcher's `PatternError` tells a parse error from a valid but
// unsupported pattern; both are kept and counted, neither fails the batch.
fn pattern_error_status(e: &PatternError) -> ParseStatus {
    match e {
        PatternError::Invalid(..) => ParseStatus::Invalid,
        PatternError::Unsupported(..) => ParseStatus::Unsupported,
    }
}

/// Normalises `values` into `keys`; every bad one becomes a reject naming
/// `owner`. Returns how many were usable and the first failure's text.
fn add_values(
    owner: &str,
    values: &[(Kind, String)],
    keys: &mut KeySet,
    rejects: &mut Vec<Reject>,
) -> (usize, Option<String>) {
    let mut good = 0;
    let mut first_bad = None;
    for (kind, raw) in values {
        match normalize(*kind, raw) {
            Ok(n) => {
                // A normalised IP value with a prefix length is a network.
                let method = if n.kind.is_ip() && n.value.contains('/') {
                    KeyMethod::Cidr
                } else {
                    KeyMethod::Exact
                };
                keys.push(MatchKey::new(n.kind, n.value, method));
                good += 1;
            }
            Err(e) => {
                let reason = e.to_string();
                first_bad.get_or_insert_with(|| reason.clone());
                rejects.push(Reject {
                    item: owner.to_string(),
                    reason,
                });
            }
        }
    }
    (good, first_bad)
}

/// Keys without duplicates, first occurrence first.
#[derive(Default)]
struct KeySet {
    keys: Vec<MatchKey>,
    seen: HashSet<MatchKey>,
}

impl KeySet {
    fn push(&mut self, k: MatchKey) {
        if self.seen.insert(k.clone()) {
            self.keys.push(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(pattern: Option<&str>, pattern_type: Option<&str>) -> IndicatorRow {
        IndicatorRow {
            ext_id: "i1".into(),
            pattern: pattern.map(Into::into),
            pattern_type: pattern_type.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn status_follows_pattern_type_and_values() {
        let d = derive_indicator(&indicator(Some("rule x { condition: true }"), Some("yara")));
        assert_eq!((d.status, d.keys.len()), (ParseStatus::NotStix, 0));

        let d = derive_indicator(&indicator(None, None));
        assert_eq!(d.status, ParseStatus::NoValue);

        let d = derive_indicator(&indicator(
            Some("[ipv4-addr:value = '1.2.3.4']"),
            Some("STIX"),
        ));
        assert_eq!(d.status, ParseStatus::Ok);
        assert_eq!(d.keys, vec![MatchKey::exact(Kind::Ipv4, "1.2.3.4")]);

        let d = derive_indicator(&indicator(Some("not a pattern"), Some("stix")));
        assert_eq!(d.status, ParseStatus::Invalid);
        assert!(d.error.is_some());
    }

    #[test]
    fn values_normalise_dedupe_and_reject() {
        let mut row = indicator(None, None);
        row.values = vec![
            (Kind::Ipv4, "10.0.0.0/8".into()),
            (Kind::Ipv4, "10.0.0.0/8".into()),
            (Kind::Ipv4, "not-an-ip".into()),
        ];
        let d = derive_indicator(&row);
        assert_eq!(d.status, ParseStatus::Ok);
        assert_eq!(
            d.keys,
            vec![MatchKey::new(Kind::Ipv4, "10.0.0.0/8", KeyMethod::Cidr)]
        );
        assert_eq!(d.rejects.len(), 1);
        assert_eq!(d.rejects[0].item, "indicator i1");

        row.values.truncate(0);
        row.values.push((Kind::Ipv4, "nope".into()));
        let d = derive_indicator(&row);
        assert_eq!(d.status, ParseStatus::Invalid);
        assert!(d.keys.is_empty());
    }
}
