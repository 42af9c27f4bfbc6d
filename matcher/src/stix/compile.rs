//! Lowering a parsed pattern to match keys (opencti.md §11.3).
//!
//! Every leaf is looked at on its own: the union of all leaf keys is what an
//! alert value can hit. Whether a hit satisfies the whole pattern is what
//! [`Compiled::partial`] says; the compiler never drops a leaf because a
//! sibling is unsupported, it records why instead.

use std::collections::HashSet;
use std::net::IpAddr;

use super::ast::{
    Comparison, ComparisonExpr, Literal, ObjectPath, ObservationExpr, PathStep, Pattern, Predicate,
    Qualifier,
};
use super::{snippet, Compiled, PatternError, RegexLeaf};
use crate::key::{KeyMethod, MatchKey};
use crate::kind::Kind;
use crate::normalize::{self, IpValue, Normalized};

/// What the values at an object path are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Kind(Kind),
    /// `network-traffic` refs: an address object, usually an IP, sometimes a
    /// domain; the literal decides.
    IpOrDomain,
}

impl Target {
    fn kind(self) -> Option<Kind> {
        match self {
            Target::Kind(k) => Some(k),
            Target::IpOrDomain => None,
        }
    }
}

/// The kind for `hashes.<algo>` of files and artifacts. Algorithm names are
/// matched case-insensitively, with or without the hyphen.
fn file_hash_kind(algo: &str) -> Kind {
    match algo.to_ascii_uppercase().as_str() {
        "MD5" => Kind::Md5,
        "SHA-1" | "SHA1" => Kind::Sha1,
        "SHA-256" | "SHA256" => Kind::Sha256,
        "SHA-512" | "SHA512" => Kind::Sha512,
        // Not in the STIX hash vocabulary but used by feeds; imphash has its
        // own key space, the same one alerts' IMPHASH values are looked up in.
        "IMPHASH" => Kind::Imphash,
        _ => Kind::Hash,
    }
}

fn target(path: &ObjectPath) -> Option<Target> {
    use PathStep::{AnyIndex, Index, Key};
    let k = |k: Kind| Some(Target::Kind(k));
    match (path.object_type.as_str(), path.steps.as_slice()) {
        ("ipv4-addr", [Key(v)]) if v == "value" => k(Kind::Ipv4),
        ("ipv6-addr", [Key(v)]) if v == "value" => k(Kind::Ipv6),
        ("network-traffic", [Key(r), Key(v)])
            if (r == "src_ref" || r == "dst_ref") && v == "value" =>
        {
            Some(Target::IpOrDomain)
        }
        // `x-opencti-*` are the names older OpenCTI exports used.
        ("domain-name" | "hostname" | "x-opencti-hostname", [Key(v)]) if v == "value" => {
            k(Kind::Domain)
        }
        ("url", [Key(v)]) if v == "value" => k(Kind::Url),
        ("email-addr", [Key(v)]) if v == "value" => k(Kind::Email),
        ("email-message", [Key(r), Key(v)])
            if (r == "from_ref" || r == "sender_ref") && v == "value" =>
        {
            k(Kind::Email)
        }
        ("email-message", [Key(r), Index(_) | AnyIndex, Key(v)])
            if matches!(r.as_str(), "to_refs" | "cc_refs" | "bcc_refs") && v == "value" =>
        {
            k(Kind::Email)
        }
        ("file" | "artifact", [Key(h), Key(algo)]) if h == "hashes" => k(file_hash_kind(algo)),
        ("file", [Key(e), Key(pe), Key(i)])
            if e == "extensions" && pe == "windows-pebinary-ext" && i == "imphash" =>
        {
            k(Kind::Imphash)
        }
        // Certificate fingerprints are not file hashes: keep them apart.
        ("x509-certificate", [Key(h), Key(_)]) if h == "hashes" => k(Kind::Hash),
        ("file", [Key(n)]) if n == "name" => k(Kind::Filename),
        ("windows-registry-key", [Key(key)]) if key == "key" => k(Kind::Regkey),
        ("mutex", [Key(n)]) if n == "name" => k(Kind::Mutex),
        ("user-agent" | "x-opencti-user-agent", [Key(v)]) if v == "value" => k(Kind::UserAgent),
        ("network-traffic", [Key(e), Key(ext), Key(rh), Key(ua)])
            if e == "extensions"
                && ext == "http-request-ext"
                && rh == "request_header"
                && ua.eq_ignore_ascii_case("user-agent") =>
        {
            k(Kind::UserAgent)
        }
        _ => None,
    }
}

fn ip_kind(v: IpValue) -> Kind {
    let v4 = match v {
        IpValue::Addr(a) => matches!(a, IpAddr::V4(_)),
        IpValue::Net(n) => n.is_ipv4(),
    };
    if v4 {
        Kind::Ipv4
    } else {
        Kind::Ipv6
    }
}

/// An IP value with a prefix length becomes a CIDR key, anything else exact.
fn key_for(n: Normalized) -> MatchKey {
    let method = if n.kind.is_ip() && n.value.contains('/') {
        KeyMethod::Cidr
    } else {
        KeyMethod::Exact
    };
    MatchKey::new(n.kind, n.value, method)
}

/// Qualifiers one observation cannot satisfy alone. `WITHIN` bounds the time
/// between observations (one is within any window); `REPEATS n` needs n of
/// them (as OASIS's stix2-matcher decides); a `START`/`STOP` window is not
/// enforced at match time, so a hit under one stays partial.
fn needs_more(q: &Qualifier) -> bool {
    match q {
        Qualifier::Within(_) => false,
        Qualifier::Repeats(n) => *n > 1,
        Qualifier::StartStop { .. } => true,
    }
}

#[derive(Default)]
struct Compiler {
    out: Compiled,
    /// Whether one value satisfying the leaf being compiled satisfies the
    /// whole pattern: true under `OR` and a lone observation, false under
    /// `AND`, `FOLLOWEDBY` and qualifiers that need more than one observation.
    insufficient: bool,
    seen_keys: HashSet<MatchKey>,
    seen_regexes: HashSet<RegexLeaf>,
    seen_reasons: HashSet<String>,
}

pub(super) fn compile(pattern: &Pattern) -> Result<Compiled, PatternError> {
    let mut c = Compiler::default();
    c.observation(&pattern.root);
    if c.out.keys.is_empty() {
        let reasons = if c.out.skipped.is_empty() {
            "no comparison can be indexed".to_string()
        } else {
            c.out.skipped.join("; ")
        };
        return Err(PatternError::Unsupported(reasons));
    }
    Ok(c.out)
}

impl Compiler {
    fn observation(&mut self, expr: &ObservationExpr) {
        match expr {
            ObservationExpr::Observation(cmp) => self.comparison_expr(cmp),
            ObservationExpr::Or(items) => {
                for item in items {
                    self.observation(item);
                }
            }
            ObservationExpr::And(items) | ObservationExpr::FollowedBy(items) => {
                self.all_needed(items.len() > 1, |c| {
                    for item in items {
                        c.observation(item);
                    }
                })
            }
            ObservationExpr::Qualified { inner, qualifiers } => {
                self.all_needed(qualifiers.iter().any(needs_more), |c| c.observation(inner))
            }
        }
    }

    fn comparison_expr(&mut self, expr: &ComparisonExpr) {
        match expr {
            ComparisonExpr::Or(items) => {
                for item in items {
                    self.comparison_expr(item);
                }
            }
            ComparisonExpr::And(items) => self.all_needed(items.len() > 1, |c| {
                for item in items {
                    c.comparison_expr(item);
                }
            }),
            ComparisonExpr::Comparison(c) => self.leaf(c),
        }
    }

    /// Compiles `f`'s leaves as insufficient on their own when `needed`.
    fn all_needed(&mut self, needed: bool, f: impl FnOnce(&mut Compiler)) {
        let outer = self.insufficient;
        self.insufficient |= needed;
        f(self);
        self.insufficient = outer;
    }

    fn key(&mut self, key: MatchKey) {
        // One flag per pattern: a key that is only part of it makes the whole
        // pattern partial, even where another key alone would satisfy it.
        self.out.partial |= self.insufficient;
        if self.seen_keys.insert(key.clone()) {
            self.out.keys.push(key);
        }
    }

    fn skip(&mut self, reason: String) {
        let reason = snippet_all(&reason);
        if self.seen_reasons.insert(reason.clone()) {
            self.out.skipped.push(reason);
        }
    }

    fn leaf(&mut self, c: &Comparison) {
        let path = snippet(&c.path.to_string());
        let target = target(&c.path);
        if let (false, Predicate::Matches(regex)) = (c.negated, &c.predicate) {
            let leaf = RegexLeaf {
                kind: target.and_then(Target::kind),
                path: c.path.to_string(),
                regex: regex.clone(),
            };
            if self.seen_regexes.insert(leaf.clone()) {
                self.out.regexes.push(leaf);
            }
            self.skip(format!(
                "`MATCHES` on {path} is kept as a regex, not an index key"
            ));
            return;
        }
        let Some(target) = target else {
            self.skip(format!("{path} is not matchable"));
            return;
        };
        let op = c.predicate.operator();
        if c.negated {
            self.skip(format!("`NOT {op}` cannot be indexed ({path})"));
            return;
        }
        match &c.predicate {
            Predicate::Equal(lit) => self.exact(target, &path, lit),
            Predicate::In(items) if items.is_empty() => {
                self.skip(format!("empty `IN ()` on {path} matches nothing"))
            }
            Predicate::In(items) => {
                for lit in items {
                    self.exact(target, &path, lit);
                }
            }
            Predicate::Like(glob) => self.like(target, &path, glob),
            Predicate::IsSubset(net) => self.subset(target, &path, net),
            _ => self.skip(format!("`{op}` cannot be indexed ({path})")),
        }
    }

    /// `=`, an `IN` member, or a `LIKE` without wildcards.
    fn exact(&mut self, target: Target, path: &str, lit: &Literal) {
        let Literal::String(raw) = lit else {
            self.skip(format!(
                "{path} needs a string literal, got {} {}",
                lit.type_name(),
                snippet(&lit.to_string())
            ));
            return;
        };
        let normalized = match target {
            Target::Kind(kind) => normalize::normalize(kind, raw),
            Target::IpOrDomain => match normalize::ip(raw) {
                Ok(v) => normalize::normalize(ip_kind(v), raw),
                Err(_) => normalize::normalize(Kind::Domain, raw),
            },
        };
        match normalized {
            Ok(n) => self.key(key_for(n)),
            Err(invalid) => self.skip(format!("{path}: {invalid}")),
        }
    }

    fn subset(&mut self, target: Target, path: &str, net: &str) {
        let normalized = match target {
            Target::Kind(kind) if kind.is_ip() => normalize::normalize(kind, net),
            Target::IpOrDomain => match normalize::ip(net) {
                Ok(v) => normalize::normalize(ip_kind(v), net),
                Err(invalid) => Err(invalid),
            },
            Target::Kind(_) => {
                self.skip(format!("`ISSUBSET` only applies to IP addresses ({path})"));
                return;
            }
        };
        match normalized {
            Ok(n) => self.key(key_for(n)),
            Err(invalid) => self.skip(format!("{path}: {invalid}")),
        }
    }

    /// `%` is any run of characters and `_` one character: only a leading
    /// and trailing `%` map onto substring and prefix keys.
    fn like(&mut self, target: Target, path: &str, glob: &str) {
        let core = glob.trim_start_matches('%').trim_end_matches('%');
        if core.is_empty() {
            if glob.is_empty() {
                // No wildcard at all: the empty value.
                self.exact(target, path, &Literal::String(String::new()));
            } else {
                self.skip(format!(
                    "`LIKE '{}'` on {path} matches any value",
                    snippet(glob)
                ));
            }
            return;
        }
        let leading = glob.starts_with('%');
        let trailing = glob.ends_with('%');
        if core.contains('_') {
            self.skip(format!("`LIKE` wildcard `_` cannot be indexed ({path})"));
            return;
        }
        if core.contains('%') {
            self.skip(format!(
                "`LIKE` with an inner `%` cannot be indexed ({path})"
            ));
            return;
        }
        let method = match (leading, trailing) {
            (false, false) => {
                return self.exact(target, path, &Literal::String(glob.to_string()));
            }
            (true, true) => KeyMethod::Substring,
            (false, true) => KeyMethod::Prefix,
            (true, false) => return self.like_suffix(target, path, core),
        };
        let Some(kind) = target.kind() else {
            self.skip(format!(
                "`LIKE` with wildcards on {path} cannot be indexed: IP or domain is ambiguous"
            ));
            return;
        };
        if kind.is_ip() {
            return self.like_address(kind, path, glob, core, method);
        }
        // Lookups lowercase the value they scan (lookup.rs): same case form.
        self.key(MatchKey::new(kind, core.to_lowercase(), method));
    }

    /// `LIKE '45.77.12.%'`: an IPv4 octet prefix is a network. Anything else
    /// on an address (a substring, a cut inside an octet, IPv6) is unsupported
    /// rather than a key that address lookups would never consult.
    fn like_address(&mut self, kind: Kind, path: &str, glob: &str, core: &str, method: KeyMethod) {
        let octets: Vec<&str> = core.strip_suffix('.').unwrap_or("").split('.').collect();
        let whole = |o: &&str| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok();
        if kind == Kind::Ipv4
            && method == KeyMethod::Prefix
            && (1..=3).contains(&octets.len())
            && octets.iter().all(whole)
        {
            let mut addr: Vec<&str> = octets.clone();
            addr.resize(4, "0");
            let net = format!("{}/{}", addr.join("."), 8 * octets.len());
            return match normalize::normalize(kind, &net) {
                Ok(n) => self.key(key_for(n)),
                Err(invalid) => self.skip(format!("{path}: {invalid}")),
            };
        }
        self.skip(format!(
            "`LIKE '{}'` on {path} cannot be indexed: only whole IPv4 octets followed by `%` make a network",
            snippet(glob)
        ));
    }

    /// `LIKE '%.example.com'` and `'%example.com'` on a domain: a parent-domain
    /// key (domain keys match their subdomains, bounded by the public suffix
    /// list), never one that is itself a public suffix.
    fn like_suffix(&mut self, target: Target, path: &str, core: &str) {
        if target != Target::Kind(Kind::Domain) {
            self.skip(format!("`LIKE '%…'` (suffix) cannot be indexed ({path})"));
            return;
        }
        let parent = core.trim_start_matches('.');
        match normalize::normalize(Kind::Domain, parent) {
            Ok(n) if psl::suffix_str(&n.value) == Some(n.value.as_str()) => self.skip(format!(
                "`LIKE '%{}'` on {path} is every name under a public suffix",
                snippet(core)
            )),
            Ok(n) => self.key(key_for(n)),
            Err(invalid) => self.skip(format!("{path}: {invalid}")),
        }
    }
}

/// Like [`snippet`] but without the length cut: reasons are already short,
/// they only must stay on one line.
fn snippet_all(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stix::compile as compile_str;

    fn ok(src: &str) -> Compiled {
        compile_str(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn unsupported(src: &str) -> String {
        match compile_str(src) {
            Err(PatternError::Unsupported(r)) => r,
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn single_equal_is_full() {
        let c = ok("[domain-name:value = 'Evil.Example']");
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Domain, "evil.example")]);
        assert!(!c.partial);
        assert!(c.skipped.is_empty());
        assert!(c.regexes.is_empty());
    }

    #[test]
    fn ip_networks_become_cidr_keys() {
        let c = ok("[ipv4-addr:value = '198.51.100.7/24']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(
                Kind::Ipv4,
                "198.51.100.0/24",
                KeyMethod::Cidr
            )]
        );
        let c = ok("[ipv4-addr:value ISSUBSET '203.0.113.9/32']");
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Ipv4, "203.0.113.9")]);
        let c = ok("[network-traffic:dst_ref.value ISSUBSET '2001:db8::/32']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(Kind::Ipv6, "2001:db8::/32", KeyMethod::Cidr)]
        );
    }

    #[test]
    fn network_traffic_refs_pick_the_kind_from_the_literal() {
        let c = ok("[network-traffic:src_ref.value = '198.51.100.1' OR network-traffic:dst_ref.value = 'c2.evil.example']");
        assert_eq!(
            c.keys,
            vec![
                MatchKey::exact(Kind::Ipv4, "198.51.100.1"),
                MatchKey::exact(Kind::Domain, "c2.evil.example")
            ]
        );
        let r = unsupported("[network-traffic:dst_ref.value ISSUBSET 'evil.example']");
        assert!(r.contains("network-traffic:dst_ref.value"), "{r}");
    }

    #[test]
    fn hash_algorithms_pick_the_slot() {
        let h = |n: usize| "ab".repeat(n / 2);
        for (algo, kind, len) in [
            ("MD5", Kind::Md5, 32),
            ("'md5'", Kind::Md5, 32),
            ("'SHA-1'", Kind::Sha1, 40),
            ("SHA1", Kind::Sha1, 40),
            ("'SHA-256'", Kind::Sha256, 64),
            ("sha256", Kind::Sha256, 64),
            ("'SHA-512'", Kind::Sha512, 128),
            ("'SHA3-256'", Kind::Hash, 64),
            ("TLSH", Kind::Hash, 70),
            ("IMPHASH", Kind::Imphash, 32),
        ] {
            let c = ok(&format!(
                "[file:hashes.{algo} = '{}']",
                h(len).to_uppercase()
            ));
            assert_eq!(c.keys, vec![MatchKey::exact(kind, h(len))], "{algo}");
        }
        let c = ok(&format!(
            "[x509-certificate:hashes.'SHA-256' = '{}']",
            h(64)
        ));
        assert_eq!(c.keys[0].kind, Kind::Hash);
        let c = ok(&format!("[artifact:hashes.'SHA-256' = '{}']", h(64)));
        assert_eq!(c.keys[0].kind, Kind::Sha256);
    }

    #[test]
    fn like_shapes() {
        let c = ok("[url:value LIKE '%Evil%']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(Kind::Url, "evil", KeyMethod::Substring)]
        );
        let c = ok("[url:value LIKE 'http://evil.example/%']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(
                Kind::Url,
                "http://evil.example/",
                KeyMethod::Prefix
            )]
        );
        let c = ok("[domain-name:value LIKE 'evil.example']");
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Domain, "evil.example")]);
        assert!(unsupported("[url:value LIKE '%ev_l%']").contains("`_`"));
        assert!(unsupported("[url:value LIKE 'a%b%']").contains("inner `%`"));
        assert!(unsupported("[url:value LIKE '%.exe']").contains("suffix"));
        let c = ok("[url:value LIKE '%Payload%']");
        assert_eq!(c.keys[0].key, "payload");
        assert!(unsupported("[url:value LIKE '%%']").contains("any value"));
        assert!(unsupported("[network-traffic:dst_ref.value LIKE '%evil%']").contains("ambiguous"));
    }

    #[test]
    fn like_on_an_address_is_a_network_or_unsupported() {
        let c = ok("[ipv4-addr:value LIKE '45.77.12.%']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(Kind::Ipv4, "45.77.12.0/24", KeyMethod::Cidr)]
        );
        let c = ok("[ipv4-addr:value LIKE '45.%']");
        assert_eq!(
            c.keys,
            vec![MatchKey::new(Kind::Ipv4, "45.0.0.0/8", KeyMethod::Cidr)]
        );
        for cut in ["45.77.1%", "%45.77%", "45.77.12.1%", "300.1.%"] {
            let r = unsupported(&format!("[ipv4-addr:value LIKE '{cut}']"));
            assert!(r.contains("octets"), "{cut}: {r}");
        }
        assert!(unsupported("[ipv6-addr:value LIKE '2001:db8:%']").contains("octets"));
    }

    #[test]
    fn like_suffix_on_a_domain_is_a_parent_domain_key() {
        for glob in ["%.evil.example", "%evil.example"] {
            let c = ok(&format!("[domain-name:value LIKE '{glob}']"));
            assert_eq!(
                c.keys,
                vec![MatchKey::exact(Kind::Domain, "evil.example")],
                "{glob}"
            );
            assert!(!c.partial);
        }
        assert!(unsupported("[domain-name:value LIKE '%.com']").contains("single-label"));
        assert!(unsupported("[domain-name:value LIKE '%.co.uk']").contains("public suffix"));
    }

    #[test]
    fn a_bad_date_costs_only_its_comparison() {
        // Found by stix2-patterns' own tests: an impossible calendar date.
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let c = ok(&format!(
            "[file:hashes.MD5 = '{md5}' AND file:created = t'2023-02-29T00:00:00Z']"
        ));
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Md5, md5)]);
        assert!(c.partial);
        let r = unsupported("[file:name = t'2023-02-29T00:00:00Z']");
        assert!(
            r.contains("invalid timestamp t'2023-02-29T00:00:00Z'"),
            "{r}"
        );
        // In a qualifier it governs every comparison: the pattern is invalid.
        let e = compile_str(
            "[ipv4-addr:value = '198.51.100.1'] START t'2023-02-29T00:00:00Z' STOP t'2024-01-01T00:00:00Z'",
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid timestamp"), "{e}");
    }

    #[test]
    fn or_is_exact_and_and_is_partial() {
        // OpenCTI's poisonivy bundle: either branch satisfies the pattern.
        let c =
            ok("[domain-name:value = 'apple.cmdnetview.com' OR ipv4-addr:value = '60.10.1.120']");
        assert!(!c.partial);
        let c = ok("[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']");
        assert!(!c.partial);
        let c = ok("[ipv4-addr:value = '198.51.100.1' AND domain-name:value = 'evil.example']");
        assert!(c.partial);
        let c = ok(
            "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'evil.example']",
        );
        assert!(c.partial);
        let c = ok("[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS");
        assert!(!c.partial);
        let c = ok("[ipv4-addr:value = '198.51.100.1'] REPEATS 1 TIMES");
        assert!(!c.partial);
        let c = ok("[ipv4-addr:value = '198.51.100.1'] REPEATS 3 TIMES");
        assert!(c.partial, "three observations are needed");
        let c = ok("[ipv4-addr:value = '198.51.100.1' OR file:size > 10]");
        assert!(
            !c.partial,
            "an OR branch that cannot be indexed does not make the other partial"
        );
    }

    #[test]
    fn matches_is_a_regex_leaf() {
        let c = ok("[file:name MATCHES '^a.*$' OR file:name = 'a.exe']");
        assert_eq!(
            c.regexes,
            vec![RegexLeaf {
                kind: Some(Kind::Filename),
                path: "file:name".into(),
                regex: "^a.*$".into()
            }]
        );
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Filename, "a.exe")]);
        assert!(c.skipped[0].contains("MATCHES"));
        let r = unsupported("[process:command_line MATCHES 'x']");
        assert!(r.contains("regex"), "{r}");
    }

    #[test]
    fn unindexable_leaves_give_reasons() {
        let c = ok("[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value != '198.51.100.2' AND file:size > 10 AND NOT EXISTS file:name]");
        assert!(c.partial);
        assert_eq!(c.keys, vec![MatchKey::exact(Kind::Ipv4, "198.51.100.1")]);
        assert_eq!(
            c.skipped,
            vec![
                "`!=` cannot be indexed (ipv4-addr:value)".to_string(),
                "file:size is not matchable".to_string(),
                "`NOT EXISTS` cannot be indexed (file:name)".to_string(),
            ]
        );
    }

    #[test]
    fn keys_are_deduplicated_in_order() {
        let c = ok("[url:value = 'http://evil.example/b'] OR [url:value = 'http://evil.example/a'] OR [url:value IN ('http://evil.example/b', 'http://evil.example/a')]");
        assert_eq!(
            c.keys,
            vec![
                MatchKey::exact(Kind::Url, "http://evil.example/b"),
                MatchKey::exact(Kind::Url, "http://evil.example/a")
            ]
        );
    }

    #[test]
    fn reasons_stay_short() {
        let r = unsupported(&format!("[file:name = b'{}']", "QUFB".repeat(10_000)));
        assert!(r.len() < 300, "{} bytes", r.len());
        let r = unsupported(&format!("[url:value LIKE '{}']", "%".repeat(10_000)));
        assert!(r.len() < 300, "{} bytes", r.len());
    }

    #[test]
    fn unsupported_joins_reasons() {
        let r = unsupported("[network-traffic:dst_port = 443 AND process:command_line = 'x']");
        assert_eq!(
            r,
            "network-traffic:dst_port is not matchable; process:command_line is not matchable"
        );
        let r = unsupported("[ipv4-addr:value = 42]");
        assert!(r.contains("needs a string literal, got integer 42"), "{r}");
        let r = unsupported("[file:hashes.'SHA-256' = 'abc']");
        assert!(
            r.starts_with("file:hashes.'SHA-256': invalid sha256 `abc`"),
            "{r}"
        );
    }
}
