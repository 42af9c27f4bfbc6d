//! Looking values up: normalised value in, hits with method and record out.
//!
//! This is where the matching semantics live: exact keys, every covering
//! network, parent domains bounded by the public suffix list, URL hosts,
//! substring and prefix patterns, expiry at match time, and warninglists.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::index::domains::DomainHit;
use crate::index::iptable::IpHit;
use crate::index::records::{FLAG_PARTIAL, FLAG_RELATED, FLAG_REVOKED, FLAG_WARNINGLIST};
use crate::index::substrings::Found;
use crate::index::{parse_ip_key, Index, RecordId};
use crate::key::HitMethod;
use crate::kind::Kind;

/// What to do with hits on values that a warninglist names (contract §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WarninglistMode {
    /// Drop the hit (default).
    #[default]
    Suppress,
    /// Keep the hit and name the lists.
    Annotate,
    /// Ignore warninglists.
    Off,
}

/// Match-time settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupOptions {
    /// Unix seconds; records whose `valid_until` is at or before it are expired.
    pub now: i64,
    pub include_expired: bool,
    pub include_revoked: bool,
    pub min_score: i64,
    pub parent_domains: bool,
    pub url_host: bool,
    pub warninglists: WarninglistMode,
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions {
            now: chrono::Utc::now().timestamp(),
            include_expired: false,
            include_revoked: false,
            min_score: 0,
            parent_domains: true,
            url_host: true,
            warninglists: WarninglistMode::Suppress,
        }
    }
}

/// One value hitting one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub record: RecordId,
    pub method: HitMethod,
    /// Kind of the looked-up value.
    pub kind: Kind,
    /// The looked-up (normalised) value.
    pub value: String,
    /// The key that matched: the network, the parent domain, the URL host, the pattern.
    pub matched: String,
    /// Warninglist records naming the looked-up value: every hit with
    /// [`WarninglistMode::Annotate`]; with `Suppress`, the hits a list does
    /// not hide because the indicator is more specific or wider than the entry.
    pub warninglists: Vec<RecordId>,
}

/// Result of looking up one value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub hits: Vec<Hit>,
    /// Intel hits dropped because a warninglist lists the indicator's own value.
    pub suppressed: usize,
    /// The warninglist records that named it.
    pub warninglists: Vec<RecordId>,
}

/// A reusable lookup context over one open generation (keeps scratch buffers).
pub struct Lookup<'i> {
    index: &'i Index,
    opts: LookupOptions,
    scratch: Vec<u8>,
    ids: Vec<RecordId>,
    ip_hits: Vec<IpHit>,
    domain_hits: Vec<DomainHit>,
    raw: Vec<(RecordId, HitMethod, String, Kind)>,
    /// Kind of the value being looked up.
    kind: Kind,
}

impl<'i> Lookup<'i> {
    pub fn new(index: &'i Index, opts: LookupOptions) -> Lookup<'i> {
        Lookup {
            index,
            opts,
            scratch: Vec::with_capacity(256),
            ids: Vec::new(),
            ip_hits: Vec::new(),
            domain_hits: Vec::new(),
            raw: Vec::new(),
            kind: Kind::Domain,
        }
    }

    pub fn index(&self) -> &'i Index {
        self.index
    }

    pub fn options(&self) -> &LookupOptions {
        &self.opts
    }

    /// Looks up a normalised value of `kind` (as produced by [`crate::normalize`]).
    pub fn value(&mut self, kind: Kind, value: &str) -> Outcome {
        self.raw.clear();
        self.kind = kind;
        match kind {
            Kind::Ipv4 | Kind::Ipv6 => self.ip_value(value),
            Kind::Domain => {
                self.domain_value(value, HitMethod::Exact);
                self.substrings(kind, value);
            }
            Kind::Url => self.url_value(value),
            Kind::Regkey => {
                self.exact_key(kind, value, HitMethod::Exact, value);
                // Indicators written without a hive name the key path alone.
                if let Some(path) = crate::normalize::regkey_path(value) {
                    self.exact_key(kind, path, HitMethod::Exact, path);
                }
                self.substrings(kind, value);
            }
            _ => {
                self.exact_key(kind, value, HitMethod::Exact, value);
                self.substrings(kind, value);
            }
        }
        self.finish(value)
    }

    /// Scans free text (a command line, an execve argument list) for substring
    /// indicators of any kind. Tokens found in the text are looked up with
    /// [`Lookup::value`] by the caller; this adds what only a substring finds.
    pub fn text(&mut self, text: &str) -> Outcome {
        self.raw.clear();
        let lower = text.to_lowercase();
        let mut found = Vec::new();
        self.index.substrings().scan(&lower, None, &mut found);
        self.push_found(&found, None);
        self.finish(text)
    }

    fn exact_key(&mut self, kind: Kind, key: &str, method: HitMethod, matched: &str) {
        self.ids.clear();
        if self
            .index
            .exact(kind, key, &mut self.scratch, &mut self.ids)
        {
            for &id in &self.ids {
                self.raw.push((id, method, matched.to_string(), self.kind));
            }
        }
    }

    fn ip_value(&mut self, value: &str) {
        let Some((addr, len)) = parse_ip_key(value) else {
            return;
        };
        self.ip_into(addr, len, HitMethod::Exact);
    }

    fn ip_into(&mut self, addr: IpAddr, max_len: u8, exact_method: HitMethod) {
        self.ip_hits.clear();
        self.index.ip(addr, max_len, &mut self.ip_hits);
        let full = if addr.is_ipv4() { 32 } else { 128 };
        for i in 0..self.ip_hits.len() {
            let h = self.ip_hits[i];
            let (method, matched) = if h.len == max_len {
                (
                    exact_method,
                    if max_len == full {
                        h.net.to_string()
                    } else {
                        format!("{}/{}", h.net, h.len)
                    },
                )
            } else {
                (HitMethod::Cidr, format!("{}/{}", h.net, h.len))
            };
            self.ids.clear();
            self.index.postings(h.posting, &mut self.ids);
            for &id in &self.ids {
                self.raw.push((id, method, matched.clone(), self.kind));
            }
        }
    }

    fn domain_value(&mut self, domain: &str, exact_method: HitMethod) {
        self.domain_hits.clear();
        self.index
            .domain(domain, &mut self.scratch, &mut self.domain_hits);
        if self.domain_hits.is_empty() {
            return;
        }
        let suffix_labels = psl::suffix(domain.as_bytes())
            .map(|s| s.as_bytes().iter().filter(|&&b| b == b'.').count() + 1)
            .unwrap_or(1);
        let total_labels = domain.split('.').count();
        for i in 0..self.domain_hits.len() {
            let h = self.domain_hits[i];
            let matched = last_labels(domain, h.labels);
            let method = if h.exact {
                exact_method
            } else {
                HitMethod::ParentDomain
            };
            // Nothing on a public suffix (or above) reaches the names under
            // it: not an indicator, and not a warninglist entry, which would
            // silence every hit under `com` (the compiler refuses those too).
            if !h.exact && h.labels <= suffix_labels.min(total_labels) {
                continue;
            }
            self.ids.clear();
            self.index.postings(h.posting, &mut self.ids);
            for &id in &self.ids {
                // Hostname warninglists cover subdomains whatever `parent_domains` says.
                let warninglist = self
                    .index
                    .records()
                    .header(id)
                    .is_some_and(|hd| hd.has(FLAG_WARNINGLIST));
                if !warninglist && !h.exact && !self.opts.parent_domains {
                    continue;
                }
                self.raw.push((id, method, matched.to_string(), self.kind));
            }
        }
    }

    fn url_value(&mut self, url: &str) {
        self.exact_key(Kind::Url, url, HitMethod::Exact, url);
        self.substrings(Kind::Url, url);
        if !self.opts.url_host {
            return;
        }
        match url_host(url) {
            Some(UrlHost::Domain(host)) => {
                let host = host.to_string();
                self.domain_value(&host, HitMethod::UrlHost);
            }
            Some(UrlHost::Ip(ip)) => {
                let full = if ip.is_ipv4() { 32 } else { 128 };
                self.ip_into(ip, full, HitMethod::UrlHost);
            }
            None => {}
        }
    }

    fn substrings(&mut self, kind: Kind, value: &str) {
        let set = self.index.substrings();
        if set.is_empty() {
            return;
        }
        // `LIKE` keys are lowercase (stix/compile.rs); URL paths, user agents
        // and mutex names keep their case after normalisation.
        let lower = value.to_lowercase();
        let mut found = Vec::new();
        set.prefixes(kind, &lower, &mut found);
        set.scan(&lower, Some(kind), &mut found);
        self.push_found(&found, Some(self.kind));
    }

    /// Hits of found patterns; `kind` is the looked-up value's (free text: the pattern's).
    fn push_found(&mut self, found: &[Found<'_>], kind: Option<Kind>) {
        for f in found {
            self.ids.clear();
            self.index.postings(f.posting, &mut self.ids);
            for &id in &self.ids {
                self.raw.push((
                    id,
                    HitMethod::Substring,
                    f.text.to_string(),
                    kind.unwrap_or(f.kind),
                ));
            }
        }
    }

    /// Applies record filters and warninglists, keeps the best method per record.
    fn finish(&mut self, value: &str) -> Outcome {
        let records = self.index.records();
        let mut out = Outcome::default();
        // Warninglist records that named the value, with the key that did.
        let mut listed: Vec<(RecordId, HitMethod, String)> = Vec::new();
        let mut raw = std::mem::take(&mut self.raw);
        raw.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.rank().cmp(&b.1.rank())));
        raw.dedup_by_key(|r| r.0);
        for (id, method, matched, kind) in raw.drain(..) {
            let Some(h) = records.header(id) else {
                continue;
            };
            if h.has(FLAG_WARNINGLIST) {
                // A `partial` warninglist record names exact values only (a
                // MISP `string` list): not their subdomains or URLs on them.
                if h.has(FLAG_PARTIAL) && method != HitMethod::Exact {
                    continue;
                }
                if self.opts.warninglists != WarninglistMode::Off {
                    listed.push((id, method, matched));
                }
                continue;
            }
            if (h.has(FLAG_REVOKED) && !self.opts.include_revoked)
                || (h.expired(self.opts.now) && !self.opts.include_expired)
                || h.score.is_some_and(|s| s < self.opts.min_score)
            {
                continue;
            }
            // A record that exists to reach an indicator through a
            // relationship is a `related` hit, whatever key led to it.
            let method = if h.has(FLAG_RELATED) {
                HitMethod::Related
            } else {
                method
            };
            out.hits.push(Hit {
                record: id,
                method,
                kind,
                value: value.to_string(),
                matched,
                warninglists: Vec::new(),
            });
        }
        self.raw = raw;
        out.warninglists = listed.iter().map(|(id, _, _)| *id).collect();
        if !listed.is_empty() {
            // A list hides an indicator only when the indicator's own value is
            // on it; an indicator more specific than the listed entry (a URL
            // with a path on a listed host, a subdomain of a listed name) or
            // wider (a network around a listed address) is kept, annotated.
            let suppress = self.opts.warninglists == WarninglistMode::Suppress;
            let before = out.hits.len();
            out.hits.retain_mut(|h| {
                if suppress
                    && listed
                        .iter()
                        .any(|(_, method, key)| covers(*method, key, h))
                {
                    return false;
                }
                h.warninglists = out.warninglists.clone();
                true
            });
            out.suppressed = before - out.hits.len();
        }
        out.hits.sort_by(|a, b| {
            a.method
                .rank()
                .cmp(&b.method.rank())
                .then(b.matched.len().cmp(&a.matched.len()))
                .then(a.record.cmp(&b.record))
        });
        out
    }
}

/// Whether the warninglist entry that matched the looked-up value (with
/// `method`, on `key`) lists the indicator of `hit` itself: a MISP `substring`
/// list's entry inside it (that is what membership means for such a list), its
/// address or network inside the listed address or network, otherwise the
/// very key the indicator has (a domain equal to the listed name, not a
/// subdomain of it; the same URL or hash).
fn covers(method: HitMethod, key: &str, hit: &Hit) -> bool {
    if method == HitMethod::Substring {
        // The list matched the value; the indicator must be that value.
        return hit.matched == hit.value;
    }
    match (parse_net(key), parse_net(&hit.matched)) {
        (Some((v4, net, len)), Some((own_v4, own, own_len))) => {
            v4 == own_v4 && own_len >= len && same_prefix(own, net, len, if v4 { 32 } else { 128 })
        }
        _ => key == hit.matched,
    }
}

/// `addr` or `addr/len` as (is v4, address bits, prefix length).
fn parse_net(s: &str) -> Option<(bool, u128, u32)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (s, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((true, u128::from(u32::from(a)), len.unwrap_or(32).min(32))),
        IpAddr::V6(a) => Some((false, u128::from(a), len.unwrap_or(128).min(128))),
    }
}

/// Whether the first `len` of `width` bits of `a` and `b` agree.
fn same_prefix(a: u128, b: u128, len: u32, width: u32) -> bool {
    let shift = width - len;
    shift >= 128 || a >> shift == b >> shift
}

fn last_labels(domain: &str, labels: usize) -> &str {
    let mut seen = 0;
    for (i, b) in domain.bytes().enumerate().rev() {
        if b == b'.' {
            seen += 1;
            if seen == labels {
                return &domain[i + 1..];
            }
        }
    }
    domain
}

/// The host of a WHATWG-serialised URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost<'a> {
    Domain(&'a str),
    Ip(IpAddr),
}

/// Extracts the host from a normalised URL without re-parsing it.
pub fn url_host(url: &str) -> Option<UrlHost<'_>> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        let inner = &v6[..v6.find(']')?];
        return inner.parse().ok().map(UrlHost::Ip);
    }
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    if host.is_empty() {
        return None;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Some(UrlHost::Ip(ip)),
        Err(_) => Some(UrlHost::Domain(host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("http://evil.example/x"),
            Some(UrlHost::Domain("evil.example"))
        );
        assert_eq!(
            url_host("https://u:p@evil.example:8443/"),
            Some(UrlHost::Domain("evil.example"))
        );
        assert_eq!(
            url_host("http://[2001:db8::1]:8080/a"),
            Some(UrlHost::Ip("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            url_host("http://192.0.2.1/"),
            Some(UrlHost::Ip("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(url_host("mailto:x"), None);
    }

    #[test]
    fn labels() {
        assert_eq!(last_labels("a.b.evil.example", 2), "evil.example");
        assert_eq!(last_labels("a.b.evil.example", 4), "a.b.evil.example");
        assert_eq!(last_labels("example", 1), "example");
    }
}
