//! The opencti profile (contract §5.2): events that make both published
//! `custom-opencti` rule packs fire unchanged.
//!
//! The layout is misje's 0.3.0 (seed-integrations.md §2.4): `opencti.event_type` ∈
//! `indicator_pattern_match`, `indicator_partial_pattern_match`,
//! `observable_with_indicator`, `observable_with_related_indicator`, with
//! `opencti.indicator{…}`, `opencti.related{…}`, links, `query_key`/`query_values`
//! and the `source` context copied from the alert (rules 100210–100215). Every
//! event also carries `opencti.id` and `opencti.value`, which the SOCFortress/juaromu
//! rules 100623–100625 test and print.
//!
//! Dedup follows misje: indicators hit directly get their own event; an observable
//! gets one event with its best indicator not reported elsewhere (or, lacking one,
//! its best related indicator); no indicator appears in two events of one alert.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use matcher::{HitMethod, Kind, Record, RecordKind};
use serde_json::{json, Map, Value};

use super::{
    at, at_text, base_of_link, clip, dashboard_link, desc, detection_first, expired, extra_list,
    extra_str, match_object, opencti_base, opencti_id, scalar_text, string_list, AlertContext,
    Fields, ProfileOptions, ResolvedHit,
};

const TAG: &str = "opencti";

/// `data.*` network keys misje copies into `source` when present.
const NETWORK_KEYS: [&str; 17] = [
    "in_iface",
    "srcintf",
    "src_ip",
    "srcip",
    "src_mac",
    "srcmac",
    "src_port",
    "srcport",
    "dest_ip",
    "dstip",
    "dst_mac",
    "dstmac",
    "dest_port",
    "dstport",
    "dstintf",
    "proto",
    "app_proto",
];

/// `data.audit.*` keys copied into `source`.
const AUDIT_KEYS: [&str; 9] = [
    "success", "key", "uid", "gid", "euid", "egid", "exe", "exit", "pid",
];

pub(super) fn error_event(message: &str) -> Value {
    json!({"integration": TAG, "opencti": {"event_type": "error", "error": message}})
}

pub(super) fn events(
    ctx: &AlertContext,
    hits: &[ResolvedHit],
    opts: &ProfileOptions,
    cap: usize,
) -> Vec<Value> {
    let plans = plan(hits, opts, super::now());
    let source = source_context(ctx.alert);
    plans
        .iter()
        .filter(|p| p.renders(opts))
        .take(cap)
        .map(|p| match p {
            Plan::Indicator(hit) => indicator_event(ctx, hit, &source),
            Plan::Observable(o) => observable_event(ctx, o, &source),
        })
        .collect()
}

/// One event to be.
enum Plan<'h> {
    /// An indicator (or attribute, list entry) hit directly.
    Indicator(&'h ResolvedHit),
    /// An alert value that is an observable, or that is related to an indicator.
    Observable(ObservablePlan<'h>),
}

struct ObservablePlan<'h> {
    /// The hit that supplies the alert field and value.
    anchor: &'h ResolvedHit,
    /// The observable record the value hit, if any.
    observable: Option<&'h ResolvedHit>,
    /// The observable's best indicator not reported in another event.
    best: Option<Listed<'h>>,
    /// The observable has more than one live indicator.
    multiple: bool,
    /// The best related indicator not reported elsewhere.
    related: Option<&'h ResolvedHit>,
}

impl Plan<'_> {
    /// Observables with nothing to report are dropped, as both scripts' rule packs
    /// expect, unless `observable_only` events are wanted.
    fn renders(&self, opts: &ProfileOptions) -> bool {
        match self {
            Plan::Indicator(_) => true,
            Plan::Observable(o) => o.best.is_some() || o.related.is_some() || opts.observable_only,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Indicator,
    Observable,
    Related,
}

fn class(hit: &ResolvedHit) -> Class {
    if hit.effective_method() == HitMethod::Related {
        Class::Related
    } else if hit.record.record_kind == RecordKind::Observable {
        Class::Observable
    } else {
        Class::Indicator
    }
}

/// Applies the dedup rules to hits that arrive best first.
fn plan<'h>(hits: &'h [ResolvedHit], opts: &ProfileOptions, now: i64) -> Vec<Plan<'h>> {
    // Indicators hit directly are reported as themselves; observables and related
    // values never repeat them (misje removes `direct` ids from observable events).
    let direct: HashSet<(&str, &str)> = hits
        .iter()
        .filter(|h| class(h) == Class::Indicator)
        .map(ResolvedHit::record_key)
        .collect();
    let mut reported: HashSet<(&str, &str)> = HashSet::new();
    let mut observables: HashSet<(&str, &str)> = HashSet::new();
    // Alert value → its observable plan, so a related hit joins the value's event.
    let mut by_value: HashMap<(Kind, &str), usize> = HashMap::new();
    let mut plans = Vec::new();

    for hit in hits {
        match class(hit) {
            Class::Indicator => {
                if reported.insert(hit.record_key()) {
                    plans.push(Plan::Indicator(hit));
                }
            }
            Class::Observable => {
                if !observables.insert(hit.record_key()) {
                    continue;
                }
                let live = listed_indicators(&hit.record, opts, now);
                let source = hit.record.source.as_str();
                let best = live
                    .iter()
                    .find(|l| {
                        !direct.contains(&(source, l.id)) && !reported.contains(&(source, l.id))
                    })
                    .cloned();
                if let Some(b) = &best {
                    reported.insert((source, b.id));
                }
                by_value
                    .entry((hit.kind, hit.value.as_str()))
                    .or_insert(plans.len());
                plans.push(Plan::Observable(ObservablePlan {
                    anchor: hit,
                    observable: Some(hit),
                    best,
                    multiple: live.len() > 1,
                    related: None,
                }));
            }
            Class::Related => {
                let key = hit.record_key();
                if direct.contains(&key) || reported.contains(&key) {
                    continue;
                }
                let slot = by_value.get(&(hit.kind, hit.value.as_str())).copied();
                match slot.and_then(|i| plans.get_mut(i)) {
                    Some(Plan::Observable(o)) => {
                        // One event per observable with its best related indicator.
                        if o.related.is_none() {
                            o.related = Some(hit);
                            reported.insert(key);
                        }
                    }
                    _ => {
                        reported.insert(key);
                        by_value.insert((hit.kind, hit.value.as_str()), plans.len());
                        plans.push(Plan::Observable(ObservablePlan {
                            anchor: hit,
                            observable: None,
                            best: None,
                            multiple: false,
                            related: Some(hit),
                        }));
                    }
                }
            }
        }
    }
    plans
}

/// An indicator listed on an observable (`record.extra["indicators"]`, the
/// `based-on` indicators the store joined in).
#[derive(Clone)]
struct Listed<'r> {
    obj: &'r Map<String, Value>,
    id: &'r str,
    score: Option<i64>,
    confidence: Option<i64>,
    revoked: bool,
    detection: Option<bool>,
    expired: bool,
}

impl<'r> Listed<'r> {
    fn parse(v: &'r Value, now: i64) -> Option<Listed<'r>> {
        let obj = v.as_object()?;
        let id = obj.get("id")?.as_str().filter(|s| !s.trim().is_empty())?;
        let int = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| obj.get(*k).and_then(Value::as_i64))
        };
        let flag = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| obj.get(*k).and_then(Value::as_bool))
        };
        Some(Listed {
            obj,
            id,
            score: int(&["score", "x_opencti_score"]),
            confidence: int(&["confidence"]),
            revoked: flag(&["revoked"]).unwrap_or(false),
            detection: flag(&["detection", "x_opencti_detection"]),
            expired: expired(obj.get("valid_until").and_then(Value::as_str), now),
        })
    }

    fn text(&self, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| self.obj.get(*k).and_then(scalar_text))
    }

    fn list(&self, keys: &[&str], fields: &[&str]) -> Vec<String> {
        keys.iter()
            .find_map(|k| self.obj.get(*k))
            .map(|v| string_list(v, fields))
            .unwrap_or_default()
    }
}

/// misje's `indicator_sort_func`: not revoked, detection, score, confidence, not
/// expired; absent numbers sort last instead of crashing.
fn best_indicator_order(a: &Listed, b: &Listed) -> Ordering {
    a.revoked
        .cmp(&b.revoked)
        .then(detection_first(a.detection, b.detection))
        .then(desc(a.score, b.score))
        .then(desc(a.confidence, b.confidence))
        .then(a.expired.cmp(&b.expired))
}

/// The observable's indicators that may alert, best first.
fn listed_indicators<'r>(record: &'r Record, opts: &ProfileOptions, now: i64) -> Vec<Listed<'r>> {
    let Some(Value::Array(items)) = record.extra.get("indicators") else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut live: Vec<Listed> = items
        .iter()
        .filter_map(|v| Listed::parse(v, now))
        .filter(|l| opts.include_revoked || !(l.revoked || l.expired))
        .filter(|l| l.score.is_none_or(|s| s >= opts.min_score))
        .filter(|l| seen.insert(l.id))
        .collect();
    live.sort_by(best_indicator_order);
    live
}

fn indicator_event(ctx: &AlertContext, hit: &ResolvedHit, source: &Map<String, Value>) -> Value {
    let r = &hit.record;
    let partial = r.partial || hit.effective_method() == HitMethod::ParentDomain;
    let mut o = Map::new();
    o.text(
        "event_type",
        if partial {
            "indicator_partial_pattern_match"
        } else {
            "indicator_pattern_match"
        },
    )
    // juaromu's rule 100625 needs a non-empty `opencti.id` and prints `opencti.value`.
    .text("id", non_empty_id(r, hit))
    .text("value", &hit.matched)
    .text("observable_value", &hit.matched)
    .object("indicator", indicator_object(r, hit))
    .text_opt("indicator_link", record_link(ctx, r, "indicators"))
    .text("query_key", query_key(hit.kind))
    .text(
        "query_values",
        stix_patterns(hit.kind, &hit.value).join(";"),
    )
    .text("intel_source", &r.source)
    .object("match", match_object(hit))
    .object("source", source.clone());
    wrap(o)
}

fn observable_event(ctx: &AlertContext, p: &ObservablePlan, source: &Map<String, Value>) -> Value {
    let hit = p.anchor;
    let event_type = if p.best.is_some() {
        "observable_with_indicator"
    } else if p.related.is_some() {
        "observable_with_related_indicator"
    } else {
        "observable_only"
    };
    let mut o = Map::new();
    o.text("event_type", event_type);
    match p.observable {
        Some(obs) => {
            let r = &obs.record;
            let value = if r.name.is_empty() {
                &obs.matched
            } else {
                &r.name
            };
            o.text("id", non_empty_id(r, obs))
                .text(
                    "type",
                    extra_str(r, &["entity_type", "type"]).unwrap_or(observable_type(obs.kind)),
                )
                .text_opt("standard_id", extra_str(r, &["standard_id"]))
                .text_opt("created_at", extra_str(r, &["created_at"]))
                .text_opt("updated_at", r.updated_at.as_deref())
                .object("createdBy", created_by(r.created_by.as_deref()))
                .list("labels", &r.labels)
                .list("markings", &r.markings)
                .list(
                    "externalReferences",
                    &extra_list(r, &["external_references", "externalReferences"], &["url"]),
                )
                .text("observable_value", value)
                .text("value", &obs.matched)
                .text_opt(
                    "x_opencti_description",
                    extra_str(r, &["x_opencti_description", "description"]).map(clip),
                )
                .int("x_opencti_score", r.score)
                .text_opt("observable_link", record_link(ctx, r, "observables"))
                .text("intel_source", &r.source);
            if let Some(best) = &p.best {
                o.object("indicator", listed_object(best))
                    .flag("multipleIndicators", Some(p.multiple))
                    .text_opt("indicator_link", listed_link(ctx, r, best.id));
            }
        }
        None => {
            // A value known only through a relationship: there is no observable
            // record, so the related indicator's id stands in for `opencti.id`.
            let r = &hit.record;
            o.text("id", non_empty_id(r, hit))
                .text("type", observable_type(hit.kind))
                .text("observable_value", &hit.matched)
                .text("value", &hit.matched)
                .text("intel_source", &r.source);
        }
    }
    if let Some(rel) = p.related {
        o.object("related", related_object(ctx, rel));
    }
    // The hit that makes the event: the relationship when no own indicator remains.
    let reason = match (&p.best, p.related) {
        (None, Some(rel)) => rel,
        _ => hit,
    };
    o.text("query_key", query_key(hit.kind))
        .text("query_values", &hit.value)
        .object("match", match_object(reason))
        .object("source", source.clone());
    wrap(o)
}

fn wrap(body: Map<String, Value>) -> Value {
    let mut event = Map::new();
    event.text("integration", TAG).object(TAG, body);
    Value::Object(event)
}

/// The record's id, never empty: rule 100625 (`opencti.id` `\.+`) must fire on every hit.
fn non_empty_id(r: &Record, hit: &ResolvedHit) -> String {
    [
        r.id.as_str(),
        extra_str(r, &["standard_id"]).unwrap_or(""),
        &hit.matched,
    ]
    .into_iter()
    .map(str::trim)
    .find(|s| !s.is_empty())
    .unwrap_or("unknown")
    .to_string()
}

/// A name for `$(opencti.indicator.name)` even when the source gave none.
fn display_name<'a>(name: &'a str, pattern: Option<&'a str>, fallback: &'a str) -> &'a str {
    [name, pattern.unwrap_or(""), fallback]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .unwrap_or("unnamed indicator")
}

/// misje's simplified IndLong, from a record hit directly or through a relationship.
fn indicator_object(r: &Record, hit: &ResolvedHit) -> Map<String, Value> {
    let mut m = Map::new();
    m.text("id", non_empty_id(r, hit))
        .text("type", "Indicator")
        .text_opt("standard_id", extra_str(r, &["standard_id"]))
        .text(
            "name",
            display_name(&r.name, r.pattern.as_deref(), &hit.matched),
        )
        .text_opt("pattern_type", r.pattern_type.as_deref())
        .text_opt("pattern", r.pattern.as_deref().map(clip))
        .text_opt("valid_from", r.valid_from.as_deref())
        .text_opt("valid_until", r.valid_until.as_deref())
        .flag("revoked", Some(r.revoked))
        .int("confidence", r.confidence)
        .int("x_opencti_score", r.score)
        .flag("x_opencti_detection", r.detection)
        .list("labels", &r.labels)
        .list("markings", &r.markings)
        .object("createdBy", created_by(r.created_by.as_deref()))
        .text_opt("created_at", extra_str(r, &["created_at"]))
        .text_opt("updated_at", r.updated_at.as_deref())
        .list("indicator_types", &extra_list(r, &["indicator_types"], &[]))
        .list(
            "x_mitre_platforms",
            &extra_list(r, &["x_mitre_platforms", "platforms"], &[]),
        )
        .list(
            "killChainPhases",
            &extra_list(
                r,
                &["kill_chain_phases", "killChainPhases"],
                &["phase_name", "kill_chain_name"],
            ),
        )
        .list(
            "externalReferences",
            &extra_list(r, &["external_references", "externalReferences"], &["url"]),
        );
    m
}

/// misje's simplified IndShort, from an observable's indicator list.
fn listed_object(l: &Listed) -> Map<String, Value> {
    let pattern = l.text(&["pattern"]);
    let name = l.text(&["name"]);
    let mut m = Map::new();
    m.text("id", l.id)
        .text("type", "Indicator")
        .text(
            "name",
            display_name(name.as_deref().unwrap_or(""), pattern.as_deref(), l.id),
        )
        .text_opt("pattern_type", l.text(&["pattern_type"]))
        .text_opt("pattern", pattern.map(clip))
        .text_opt("valid_until", l.text(&["valid_until"]))
        .flag("revoked", Some(l.revoked))
        .int("confidence", l.confidence)
        .int("x_opencti_score", l.score)
        .flag("x_opencti_detection", l.detection)
        .list("labels", &l.list(&["labels"], &["value"]))
        .list("indicator_types", &l.list(&["indicator_types"], &[]));
    m
}

/// `related{type, relationship, value, indicator, indicator_link}` for a record
/// reached through `resolves-to` / `related-to`.
fn related_object(ctx: &AlertContext, hit: &ResolvedHit) -> Map<String, Value> {
    let r = &hit.record;
    let (relationship, via) = r.related.as_ref().map_or(("related-to", ""), |rel| {
        (rel.relationship.as_str(), rel.via.as_str())
    });
    let via_type = extra_str(
        r,
        &["main_observable_type", "x_opencti_main_observable_type"],
    )
    .or_else(|| match via.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => Some("IPv4-Addr"),
        Ok(IpAddr::V6(_)) => Some("IPv6-Addr"),
        Err(_) => None,
    });
    let mut m = Map::new();
    m.text_opt("type", via_type)
        .text("relationship", relationship)
        .text("value", via)
        .object("indicator", indicator_object(r, hit))
        .text_opt("indicator_link", record_link(ctx, r, "indicators"));
    m
}

fn created_by(name: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.text_opt("name", name);
    m
}

/// Link to a record: on the hook URL (misje builds every link from it), else the
/// link the source stored.
fn record_link(ctx: &AlertContext, r: &Record, section: &str) -> Option<String> {
    let hooked = ctx
        .hook_url
        .and_then(opencti_base)
        .zip(opencti_id(r))
        .map(|(base, id)| dashboard_link(&base, section, id));
    hooked.or_else(|| r.link.clone().filter(|l| !l.trim().is_empty()))
}

/// Link to an indicator listed on observable `r`: on the hook URL, else on the base
/// of the observable's stored link. Only OpenCTI ids make OpenCTI links.
fn listed_link(ctx: &AlertContext, r: &Record, id: &str) -> Option<String> {
    opencti_id(r)?;
    let base = ctx
        .hook_url
        .and_then(opencti_base)
        .or_else(|| r.link.as_deref().and_then(base_of_link).map(str::to_string))?;
    Some(dashboard_link(&base, "indicators", id))
}

/// The OpenCTI entity type an alert value of this kind would be.
fn observable_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Ipv4 => "IPv4-Addr",
        Kind::Ipv6 => "IPv6-Addr",
        Kind::Domain => "Domain-Name",
        Kind::Url => "Url",
        Kind::Email => "Email-Addr",
        Kind::Md5
        | Kind::Sha1
        | Kind::Sha256
        | Kind::Sha512
        | Kind::Imphash
        | Kind::Hash
        | Kind::Filename => "StixFile",
        Kind::Regkey => "Windows-Registry-Key",
        Kind::UserAgent => "User-Agent",
        Kind::Mutex => "Mutex",
    }
}

/// The OpenCTI filter key the value would be looked up by. misje sent
/// `hashes.SHA256`, which newer OpenCTI rejects; these are the documented names.
fn query_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Md5 => "hashes.MD5",
        Kind::Sha1 => "hashes.SHA-1",
        Kind::Sha256 => "hashes.SHA-256",
        Kind::Sha512 => "hashes.SHA-512",
        _ => "value",
    }
}

/// The single-term STIX patterns misje would have queried for this value (a
/// domain is both a `domain-name` and a `hostname`), with quotes escaped.
fn stix_patterns(kind: Kind, value: &str) -> Vec<String> {
    let v = value.replace('\\', "\\\\").replace('\'', "\\'");
    let paths: &[&str] = match kind {
        Kind::Ipv4 => &["ipv4-addr:value"],
        Kind::Ipv6 => &["ipv6-addr:value"],
        Kind::Domain => &["domain-name:value", "hostname:value"],
        Kind::Url => &["url:value"],
        Kind::Email => &["email-addr:value"],
        Kind::Md5 => &["file:hashes.MD5"],
        Kind::Sha1 => &["file:hashes.'SHA-1'"],
        Kind::Sha256 => &["file:hashes.'SHA-256'"],
        Kind::Sha512 => &["file:hashes.'SHA-512'"],
        Kind::Filename => &["file:name"],
        Kind::Regkey => &["windows-registry-key:key"],
        Kind::Mutex => &["mutex:name"],
        Kind::UserAgent => {
            &["network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"]
        }
        Kind::Imphash | Kind::Hash => &[],
    };
    paths.iter().map(|p| format!("[{p} = '{v}']")).collect()
}

/// misje's `add_context`: what the alert was, copied into `opencti.source`. Missing
/// keys are skipped (misje crashed on them) and Suricata's `alert` block lands in
/// `source.alert` as misje intended (it crashed writing it).
fn source_context(alert: &Value) -> Map<String, Value> {
    let text = |path: &str| at_text(alert, path).map(clip);
    let mut m = Map::new();
    m.text_opt("alert_id", text("id"))
        .text_opt("rule_id", text("rule.id"));
    if alert.get("syscheck").is_some() {
        m.text_opt("file", text("syscheck.path"))
            .text_opt("md5", text("syscheck.md5_after"))
            .text_opt("sha1", text("syscheck.sha1_after"))
            .text_opt("sha256", text("syscheck.sha256_after"));
    }
    for key in NETWORK_KEYS {
        m.text_opt(key, text(&format!("data.{key}")));
    }
    // Packetbeat DNS.
    if let Some(q) = text("data.dns.question.name") {
        m.text("queryName", q);
        if let Some(Value::Array(answers)) = at(alert, "data.dns.answers") {
            let joined: Vec<String> = answers
                .iter()
                .filter_map(|a| a.get("data").and_then(scalar_text))
                .collect();
            m.text("queryResults", clip(joined.join(";")));
        }
    }
    // Sysmon on Windows.
    for key in ["queryName", "queryResults", "image"] {
        if !m.contains_key(key) {
            m.text_opt(key, text(&format!("data.win.eventdata.{key}")));
        }
    }
    if let Some(Value::Object(execve)) = at(alert, "data.audit.execve") {
        m.text_opt("execve", execve_line(execve).map(clip));
    }
    for key in AUDIT_KEYS {
        m.text_opt(key, text(&format!("data.audit.{key}")));
    }
    if alert.get("data").and_then(|d| d.get("alert")).is_some() {
        let mut a = Map::new();
        for key in ["action", "category", "signature", "signature_id"] {
            a.text_opt(key, text(&format!("data.alert.{key}")));
        }
        m.object("alert", a);
    }
    m
}

/// The command line from auditd's `execve` arguments `a0`, `a1`, ... in argument
/// order (misje sorted the keys as text, putting `a10` before `a2`, and included
/// `argc`).
fn execve_line(execve: &Map<String, Value>) -> Option<String> {
    let mut args: Vec<(u32, String)> = execve
        .iter()
        .filter_map(|(k, v)| {
            let n = k.strip_prefix('a')?.parse().ok()?;
            Some((n, scalar_text(v)?))
        })
        .collect();
    args.sort_by_key(|(n, _)| *n);
    let line: Vec<String> = args.into_iter().map(|(_, a)| a).collect();
    Some(line.join(" ")).filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;
    use serde_json::json;

    const QUERY: &str = "data.win.eventdata.queryName";

    fn opts() -> ProfileOptions {
        ProfileOptions::default()
    }

    fn render(ctx: &AlertContext, hits: Vec<ResolvedHit>) -> Vec<Value> {
        super::super::events(Profile::Opencti, ctx, hits, &opts())
    }

    fn listed(id: &str, name: &str, score: i64) -> Value {
        json!({"id": id, "name": name, "pattern": format!("[domain-name:value = '{name}']"),
               "score": score, "revoked": false, "valid_until": "2999-01-01T00:00:00Z"})
    }

    #[test]
    fn indicator_hit_carries_both_packs_fields() {
        let alert = alert();
        let mut ctx = AlertContext::new(&alert);
        ctx.hook_url = Some("https://opencti.example.org/graphql");
        let h = hit(
            QUERY,
            Kind::Domain,
            "evil.example",
            HitMethod::Exact,
            opencti_indicator(
                "ind-1",
                "evil.example C2",
                "[domain-name:value = 'evil.example']",
                80,
            ),
        );
        let out = render(&ctx, vec![h]);
        assert_eq!(out.len(), 1);
        let e = &out[0];
        assert_no_empties(e, "");
        assert_eq!(e["integration"], "opencti");
        let o = &e["opencti"];
        assert_eq!(o["event_type"], "indicator_pattern_match");
        assert_eq!(o["id"], "ind-1");
        assert_eq!(o["value"], "evil.example");
        assert_eq!(o["observable_value"], "evil.example");
        assert_eq!(
            o["indicator"],
            json!({"id": "ind-1", "type": "Indicator", "name": "evil.example C2",
                   "pattern_type": "stix", "pattern": "[domain-name:value = 'evil.example']",
                   "valid_until": "2999-01-01T00:00:00Z", "revoked": false, "confidence": 70,
                   "x_opencti_score": 80, "x_opencti_detection": true, "labels": ["c2"],
                   "markings": ["TLP:AMBER"], "createdBy": {"name": "CERT Example"}})
        );
        assert_eq!(
            o["indicator_link"],
            "https://opencti.example.org/dashboard/observations/indicators/ind-1"
        );
        assert_eq!(o["query_key"], "value");
        assert_eq!(
            o["query_values"],
            "[domain-name:value = 'evil.example'];[hostname:value = 'evil.example']"
        );
        assert_eq!(o["match"]["field"], QUERY);
        assert_eq!(
            o["source"],
            json!({"alert_id": "1715680919.2210140", "rule_id": "61650",
                   "queryName": "login.portal-update.example.com",
                   "queryResults": "type:  5 portal-update.example.net;192.0.2.44;",
                   "image": "C:\\\\Program Files\\\\Edge\\\\msedge.exe"})
        );
    }

    #[test]
    fn partial_patterns_and_parent_domains_are_partial_matches() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut compound = opencti_indicator("ind-1", "compound", "[a:b = 'c'] OR [d:e = 'f']", 80);
        compound.partial = true;
        let mut parent = hit(
            QUERY,
            Kind::Domain,
            "cdn.evil.example",
            HitMethod::ParentDomain,
            opencti_indicator("ind-2", "evil", "[domain-name:value = 'evil.example']", 80),
        );
        parent.matched = "evil.example".into();
        let out = render(
            &ctx,
            vec![
                hit(QUERY, Kind::Domain, "x.example", HitMethod::Exact, compound),
                parent,
            ],
        );
        let types: Vec<&Value> = out.iter().map(|e| &e["opencti"]["event_type"]).collect();
        assert_eq!(
            types,
            [
                &json!("indicator_partial_pattern_match"),
                &json!("indicator_partial_pattern_match")
            ]
        );
        assert_eq!(out[1]["opencti"]["value"], "evil.example");
        assert_eq!(out[1]["opencti"]["match"]["value"], "cdn.evil.example");
    }

    #[test]
    fn observable_takes_its_best_indicator() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut expired = listed("i-expired", "expired", 100);
        expired["valid_until"] = json!("2001-01-01T00:00:00Z");
        let mut revoked = listed("i-revoked", "revoked", 100);
        revoked["revoked"] = json!(true);
        let mut low_conf = listed("i-low-conf", "low conf", 90);
        low_conf["confidence"] = json!(10);
        let mut high_conf = listed("i-high-conf", "high conf", 90);
        high_conf["confidence"] = json!(90);
        let mut no_detect = listed("i-no-detect", "no detection", 100);
        no_detect["detection"] = json!(false);
        let mut detect = listed("i-detect", "detection", 50);
        detect["x_opencti_detection"] = json!(true);
        let obs = opencti_observable(
            "obs-1",
            "evil.example",
            json!([expired, revoked, low_conf, high_conf, no_detect, detect, {"name": "no id"}]),
        );
        let h = hit(
            QUERY,
            Kind::Domain,
            "evil.example",
            HitMethod::Exact,
            obs.clone(),
        );
        let out = render(&ctx, vec![h.clone()]);
        let o = &out[0]["opencti"];
        assert_eq!(o["event_type"], "observable_with_indicator");
        assert_eq!(o["id"], "obs-1");
        assert_eq!(o["type"], "Domain-Name");
        assert_eq!(o["observable_value"], "evil.example");
        assert_eq!(o["value"], "evil.example");
        assert_eq!(o["x_opencti_score"], 60);
        assert_eq!(o["indicator"]["id"], "i-detect");
        assert_eq!(o["multipleIndicators"], true);
        assert_eq!(
            o["observable_link"],
            "https://cti.internal:8080/dashboard/observations/observables/obs-1"
        );
        // Without a hook URL the indicator link uses the stored link's base.
        assert_eq!(
            o["indicator_link"],
            "https://cti.internal:8080/dashboard/observations/indicators/i-detect"
        );
        assert_eq!(o["query_key"], "value");
        assert_eq!(o["query_values"], "evil.example");

        // The misje order among the live ones, and revoked/expired only on request.
        let now = 1_700_000_000;
        let order: Vec<&str> = listed_indicators(&obs, &opts(), now)
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(
            order,
            ["i-detect", "i-no-detect", "i-high-conf", "i-low-conf"]
        );
        let all = ProfileOptions {
            include_revoked: true,
            ..opts()
        };
        let order: Vec<&str> = listed_indicators(&obs, &all, now)
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(
            order,
            [
                "i-detect",
                "i-no-detect",
                "i-expired",
                "i-high-conf",
                "i-low-conf",
                "i-revoked"
            ]
        );
        let scored = ProfileOptions {
            min_score: 95,
            ..opts()
        };
        let order: Vec<&str> = listed_indicators(&obs, &scored, now)
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(order, ["i-no-detect"]);
    }

    #[test]
    fn no_indicator_is_reported_twice() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let direct = opencti_indicator("ind-a", "a", "[domain-name:value = 'evil.example']", 90);
        // The observable lists the direct indicator and one more.
        let obs = opencti_observable(
            "obs-1",
            "evil.example",
            json!([listed("ind-a", "a", 90), listed("ind-b", "b", 10)]),
        );
        // A second observable (another value) listing only already reported ones.
        let obs2 = opencti_observable("obs-2", "evil2.example", json!([listed("ind-b", "b", 10)]));
        let hits = vec![
            hit(
                QUERY,
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                obs.clone(),
            ),
            hit(
                QUERY,
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                direct.clone(),
            ),
            hit(
                "data.other",
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                obs,
            ),
            hit(QUERY, Kind::Domain, "evil2.example", HitMethod::Exact, obs2),
            hit(
                "data.again",
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                direct,
            ),
            // Related hits reaching an already reported indicator.
            hit(
                QUERY,
                Kind::Domain,
                "evil3.example",
                HitMethod::Exact,
                related_indicator("ind-a", "a", "192.0.2.1"),
            ),
            hit(
                QUERY,
                Kind::Domain,
                "evil3.example",
                HitMethod::Exact,
                related_indicator("ind-b", "b", "192.0.2.2"),
            ),
        ];
        let out = render(&ctx, hits);
        let summary: Vec<(String, String)> = out
            .iter()
            .map(|e| {
                let o = &e["opencti"];
                (
                    o["event_type"].as_str().unwrap().to_string(),
                    o["indicator"]["id"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("indicator_pattern_match".to_string(), "ind-a".to_string()),
                ("observable_with_indicator".to_string(), "ind-b".to_string()),
            ]
        );
    }

    #[test]
    fn related_hits_join_the_observable_or_stand_alone() {
        let alert = alert();
        let mut ctx = AlertContext::new(&alert);
        ctx.hook_url = Some("https://opencti.example.org/graphql/");
        // A bare observable (no indicator) that resolves to a bad IP.
        let bare = opencti_observable("obs-1", "evil.example", json!([]));
        let hits = vec![
            hit(QUERY, Kind::Domain, "evil.example", HitMethod::Exact, bare),
            hit(
                QUERY,
                Kind::Domain,
                "evil.example",
                HitMethod::Related,
                related_indicator("ind-ip", "bad ip", "192.0.2.7"),
            ),
            // The second related indicator of the same value is not repeated.
            hit(
                QUERY,
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                related_indicator("ind-ip2", "bad ip 2", "192.0.2.8"),
            ),
            // A value known only through its relationship.
            hit(
                "data.win.eventdata.destinationHostname",
                Kind::Domain,
                "other.example",
                HitMethod::Exact,
                related_indicator("ind-ip3", "bad ip 3", "2001:db8::3"),
            ),
        ];
        let out = render(&ctx, hits);
        assert_eq!(out.len(), 2);
        for e in &out {
            assert_no_empties(e, "");
        }
        let joined = &out[0]["opencti"];
        assert_eq!(joined["event_type"], "observable_with_related_indicator");
        assert_eq!(joined["id"], "obs-1");
        assert!(joined.get("indicator").is_none());
        assert_eq!(joined["match"]["method"], "related");
        assert_eq!(
            joined["observable_link"],
            "https://opencti.example.org/dashboard/observations/observables/obs-1"
        );
        let rel = &joined["related"];
        assert_eq!(rel["type"], "IPv4-Addr");
        assert_eq!(rel["relationship"], "resolves-to");
        assert_eq!(rel["value"], "192.0.2.7");
        assert_eq!(rel["indicator"]["name"], "bad ip");
        assert_eq!(
            rel["indicator_link"],
            "https://opencti.example.org/dashboard/observations/indicators/ind-ip"
        );
        let alone = &out[1]["opencti"];
        assert_eq!(alone["event_type"], "observable_with_related_indicator");
        assert_eq!(alone["id"], "ind-ip3");
        assert_eq!(alone["type"], "Domain-Name");
        assert_eq!(alone["value"], "other.example");
        assert_eq!(alone["related"]["value"], "2001:db8::3");
        assert_eq!(alone["related"]["indicator"]["name"], "bad ip 3");
    }

    #[test]
    fn observable_with_indicator_also_reports_its_related_indicator() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let obs = opencti_observable("obs-1", "evil.example", json!([listed("ind-d", "d", 50)]));
        let hits = vec![
            hit(
                QUERY,
                Kind::Domain,
                "evil.example",
                HitMethod::Related,
                related_indicator("ind-ip", "bad ip", "192.0.2.7"),
            ),
            hit(QUERY, Kind::Domain, "evil.example", HitMethod::Exact, obs),
        ];
        let out = render(&ctx, hits);
        assert_eq!(out.len(), 1);
        let o = &out[0]["opencti"];
        assert_eq!(o["event_type"], "observable_with_indicator");
        assert_eq!(o["indicator"]["id"], "ind-d");
        assert_eq!(o["multipleIndicators"], false);
        assert_eq!(o["related"]["indicator"]["id"], "ind-ip");
    }

    #[test]
    fn bare_observables_need_observable_only() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut revoked = listed("ind-r", "r", 50);
        revoked["revoked"] = json!(true);
        let bare = opencti_observable("obs-1", "evil.example", json!([revoked]));
        let hits = vec![hit(
            QUERY,
            Kind::Domain,
            "evil.example",
            HitMethod::Exact,
            bare,
        )];
        assert!(render(&ctx, hits.clone()).is_empty());
        let only = ProfileOptions {
            observable_only: true,
            ..opts()
        };
        let out = super::super::events(Profile::Opencti, &ctx, hits, &only);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["opencti"]["event_type"], "observable_only");
        assert_eq!(out[0]["opencti"]["id"], "obs-1");
        assert!(out[0]["opencti"].get("indicator").is_none());
    }

    #[test]
    fn non_opencti_records_render_without_opencti_links() {
        let alert = alert();
        let mut ctx = AlertContext::new(&alert);
        ctx.hook_url = Some("https://opencti.example.org/graphql");
        let mut r = misp_attribute("attr-1", "sha256", "ab".repeat(32).as_str());
        r.name = String::new();
        let h = hit(
            "syscheck.sha256_after",
            Kind::Sha256,
            &"AB".repeat(32),
            HitMethod::Exact,
            r,
        );
        let out = render(&ctx, vec![h]);
        let o = &out[0]["opencti"];
        assert_eq!(o["event_type"], "indicator_pattern_match");
        assert_eq!(o["id"], "attr-1");
        // No name and no pattern: the matched value names it.
        assert_eq!(o["indicator"]["name"], "AB".repeat(32));
        assert!(o.get("indicator_link").is_none());
        assert_eq!(o["query_key"], "hashes.SHA-256");
        assert_eq!(
            o["query_values"],
            format!("[file:hashes.'SHA-256' = '{}']", "AB".repeat(32))
        );
        assert_eq!(o["intel_source"], "misp");
    }

    #[test]
    fn source_context_copies_what_misje_copied() {
        let alert = json!({
            "id": "1.1", "rule": {"id": "86601"},
            "syscheck": {"path": "/tmp/x", "sha256_after": "ab", "md5_after": ""},
            "data": {
                "src_ip": "10.0.0.1", "dest_ip": "192.0.2.5", "dest_port": "443", "proto": "TCP",
                "alert": {"action": "allowed", "signature": "ET BAD", "signature_id": "200", "gid": "1"},
                "dns": {"question": {"name": "q.example"},
                        "answers": [{"data": "192.0.2.1"}, {"data": "192.0.2.2"}, {"type": "A"}]},
                "win": {"eventdata": {"queryName": "ignored.example", "image": "C:\\\\a.exe"}},
                "audit": {"execve": {"argc": "11", "a0": "curl", "a2": "-o", "a10": "x",
                                     "a1": "http://198.51.100.23/x"},
                          "exe": "/usr/bin/curl", "uid": "1000"}
            }
        });
        let m = source_context(&alert);
        assert_eq!(
            Value::Object(m),
            json!({"alert_id": "1.1", "rule_id": "86601", "file": "/tmp/x", "sha256": "ab",
                   "src_ip": "10.0.0.1", "dest_ip": "192.0.2.5", "dest_port": "443",
                   "proto": "TCP", "queryName": "q.example",
                   "queryResults": "192.0.2.1;192.0.2.2", "image": "C:\\\\a.exe",
                   "execve": "curl http://198.51.100.23/x -o x",
                   "exe": "/usr/bin/curl", "uid": "1000",
                   "alert": {"action": "allowed", "signature": "ET BAD", "signature_id": "200"}})
        );
        let long = json!({"data": {"win": {"eventdata": {"image": "é".repeat(3000)}}}});
        let image = source_context(&long)["image"].as_str().unwrap().to_string();
        assert!(image.len() <= super::super::MAX_CONTEXT_TEXT && image.starts_with('é'));
    }

    #[test]
    fn patterns_escape_quotes() {
        assert_eq!(
            stix_patterns(Kind::Url, r"http://x.test/a'b\c"),
            [r"[url:value = 'http://x.test/a\'b\\c']"]
        );
        assert!(stix_patterns(Kind::Hash, "x").is_empty());
    }
}
