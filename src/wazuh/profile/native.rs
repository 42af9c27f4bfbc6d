//! The native profile (contract §5.1): one `ioc_match` event per matched record.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{
    at_text, dashboard_link, extra_text, match_object, opencti_base, opencti_id, AlertContext,
    Fields, ResolvedHit,
};

const TAG: &str = "intelmatch";

/// MISP context worth a field of its own in `indicator.misp`.
/// `value` is the attribute's whole value: for `filename|<hash>` the file name
/// is context there, the hash alone being the key.
const MISP_KEYS: [&str; 9] = [
    "event_id",
    "event_uuid",
    "event_info",
    "category",
    "type",
    "value",
    "org",
    "threat_level_id",
    "to_ids",
];

pub(super) fn events(ctx: &AlertContext, hits: &[ResolvedHit], cap: usize) -> Vec<Value> {
    // One event per record: a record reached through several values or fields
    // (the MD5 and SHA-256 of one file, a name and its CNAME) is reported once,
    // its best hit as `match` (hits arrive best first) and every hit in `matches`.
    let mut slot: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: Vec<Vec<&ResolvedHit>> = Vec::new();
    for h in hits {
        match slot.get(&h.record_key()) {
            Some(&i) => groups[i].push(h),
            None => {
                slot.insert(h.record_key(), groups.len());
                groups.push(vec![h]);
            }
        }
    }
    groups.iter().take(cap).map(|g| render(ctx, g)).collect()
}

pub(super) fn error_event(message: &str) -> Value {
    json!({"integration": TAG, "intelmatch": {"event_type": "error", "error": message}})
}

/// One record's event; `group` holds its hits, best first.
fn render(ctx: &AlertContext, group: &[&ResolvedHit]) -> Value {
    let hit = group[0];
    let mut matches: Vec<Value> = Vec::with_capacity(group.len());
    for h in group {
        let m = Value::Object(match_object(h));
        // The same value reached twice the same way (a field read by two rules).
        if !matches.contains(&m) {
            matches.push(m);
        }
    }
    let mut body = Map::new();
    body.text("event_type", "ioc_match")
        .object("match", match_object(hit));
    body.insert("matches".into(), Value::Array(matches));
    body.object("indicator", indicator(ctx, hit))
        .object("source_alert", source_alert(ctx.alert));
    let mut event = Map::new();
    event.text("integration", TAG).object(TAG, body);
    Value::Object(event)
}

fn indicator(ctx: &AlertContext, hit: &ResolvedHit) -> Map<String, Value> {
    let r = &hit.record;
    let mut m = Map::new();
    m.text("source", &r.source)
        .text("source_type", &r.source_type)
        .text("id", &r.id)
        .text("name", &r.name)
        .text("record_kind", record_kind(r.record_kind))
        .text_opt("pattern", r.pattern.as_deref())
        .text_opt("pattern_type", r.pattern_type.as_deref())
        .int("score", r.score)
        .int("confidence", r.confidence)
        .list("labels", &r.labels)
        .list("markings", &r.markings)
        .text_opt("valid_until", r.valid_until.as_deref())
        .text_opt("created_by", r.created_by.as_deref())
        .text_opt("link", link(ctx, r));
    // Only the unusual states get a field: most hits are live, full matches.
    if r.partial {
        m.flag("partial", Some(true));
    }
    if r.revoked {
        m.flag("revoked", Some(true));
    }
    // Reached through an observable the indicator is based on.
    if let Some(Value::Object(o)) = r.extra.get("observable") {
        let mut via = Map::new();
        for key in ["id", "value", "type"] {
            via.text_opt(key, o.get(key).and_then(Value::as_str));
        }
        m.object("observable", via);
    }
    if let Some(rel) = &r.related {
        let mut related = Map::new();
        related
            .text("relationship", &rel.relationship)
            .text("via", &rel.via);
        m.object("related", related);
    }
    let mut misp = Map::new();
    for key in MISP_KEYS {
        misp.text_opt(key, extra_text(r, &[key]));
    }
    m.object("misp", misp);
    m
}

/// The record's own link (built by the source from its configured URL); else, for
/// OpenCTI objects, one built on the hook URL.
fn link(ctx: &AlertContext, r: &matcher::Record) -> Option<String> {
    if let Some(l) = r.link.as_deref().filter(|l| !l.trim().is_empty()) {
        return Some(l.to_string());
    }
    let id = opencti_id(r)?;
    let base = ctx.hook_url.and_then(opencti_base)?;
    let section = match r.record_kind {
        matcher::RecordKind::Observable => "observables",
        _ => "indicators",
    };
    Some(dashboard_link(&base, section, id))
}

fn record_kind(k: matcher::RecordKind) -> &'static str {
    match k {
        matcher::RecordKind::Indicator => "indicator",
        matcher::RecordKind::Observable => "observable",
        matcher::RecordKind::Attribute => "attribute",
        matcher::RecordKind::ListEntry => "list_entry",
        matcher::RecordKind::Warninglist => "warninglist",
    }
}

/// Which alert this is about: analysisd stamps its own processing time on the
/// event, so the source alert's id and time travel in the payload.
fn source_alert(alert: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.text_opt("id", at_text(alert, "id"))
        .text_opt("timestamp", at_text(alert, "timestamp"))
        .text_opt("rule_id", at_text(alert, "rule.id"))
        .text_opt("rule_description", at_text(alert, "rule.description"));
    m
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use matcher::{HitMethod, Kind, Related};
    use serde_json::json;

    #[test]
    fn renders_the_contract_shape() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut h = hit(
            "data.win.eventdata.queryName",
            Kind::Domain,
            "cdn.evil.example",
            HitMethod::ParentDomain,
            opencti_indicator(
                "ind-1",
                "evil.example",
                "[domain-name:value = 'evil.example']",
                80,
            ),
        );
        h.matched = "evil.example".into();
        let out = events(Profile::Native, &ctx, vec![h], &ProfileOptions::default());
        assert_eq!(
            out,
            [json!({
                "integration": "intelmatch",
                "intelmatch": {
                    "event_type": "ioc_match",
                    "match": {"field": "data.win.eventdata.queryName", "value": "cdn.evil.example",
                              "kind": "domain", "method": "parent_domain", "matched": "evil.example"},
                    "matches": [{"field": "data.win.eventdata.queryName", "value": "cdn.evil.example",
                                 "kind": "domain", "method": "parent_domain", "matched": "evil.example"}],
                    "indicator": {"source": "opencti", "source_type": "opencti", "id": "ind-1",
                                  "name": "evil.example", "record_kind": "indicator",
                                  "pattern": "[domain-name:value = 'evil.example']",
                                  "pattern_type": "stix", "score": 80, "confidence": 70,
                                  "labels": ["c2"], "markings": ["TLP:AMBER"],
                                  "valid_until": "2999-01-01T00:00:00Z",
                                  "created_by": "CERT Example",
                                  "link": "https://cti.internal:8080/dashboard/observations/indicators/ind-1"},
                    "source_alert": {"id": "1715680919.2210140",
                                     "timestamp": "2024-05-14T10:01:59.790+0000",
                                     "rule_id": "61650",
                                     "rule_description": "Sysmon - Event 22: DNS Query event"}
                }
            })]
        );
    }

    #[test]
    fn absent_fields_are_omitted_and_extras_appear_when_set() {
        let alert = json!({"id": "1.2"});
        let ctx = AlertContext::new(&alert);
        let bare = matcher::Record {
            source: "feed".into(),
            source_type: "list".into(),
            record_kind: matcher::RecordKind::ListEntry,
            id: "bad.txt:3".into(),
            ..Default::default()
        };
        let mut related =
            opencti_indicator("ind-9", "bad ip", "[ipv4-addr:value = '192.0.2.9']", 50);
        related.partial = true;
        related.related = Some(Related {
            relationship: "resolves-to".into(),
            via: "192.0.2.9".into(),
        });
        let mut wl = hit(
            "data.url",
            Kind::Url,
            "http://x.test/",
            HitMethod::Exact,
            bare,
        );
        wl.warninglists = vec!["rfc6761".into()];
        let hits = vec![
            wl,
            hit(
                "data.dns",
                Kind::Domain,
                "x.test",
                HitMethod::Exact,
                related,
            ),
            hit(
                "data.misp",
                Kind::Ipv4,
                "192.0.2.1",
                HitMethod::Exact,
                misp_attribute("a-1", "ip-dst", "192.0.2.1"),
            ),
        ];
        let out = events(Profile::Native, &ctx, hits, &ProfileOptions::default());
        assert_eq!(out.len(), 3);
        for e in &out {
            assert_no_empties(e, "");
        }
        assert_eq!(
            out[0]["intelmatch"]["indicator"],
            json!({"source": "feed", "source_type": "list", "id": "bad.txt:3",
                   "record_kind": "list_entry"})
        );
        assert_eq!(
            out[0]["intelmatch"]["match"]["warninglists"],
            json!(["rfc6761"])
        );
        assert_eq!(out[0]["intelmatch"]["source_alert"], json!({"id": "1.2"}));
        // Exact MISP hit before the related one.
        let misp = &out[1]["intelmatch"]["indicator"];
        assert_eq!(misp["misp"]["event_id"], "431");
        assert_eq!(misp["misp"]["category"], "Network activity");
        assert_eq!(misp["misp"]["to_ids"], "true");
        let rel = &out[2]["intelmatch"];
        assert_eq!(rel["match"]["method"], "related");
        assert_eq!(rel["indicator"]["partial"], true);
        assert_eq!(
            rel["indicator"]["related"],
            json!({"relationship": "resolves-to", "via": "192.0.2.9"})
        );
    }

    #[test]
    fn one_event_per_record() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let r = opencti_indicator("ind-1", "evil", "[domain-name:value = 'evil.example']", 80);
        let mut by_host = hit(
            "data.url",
            Kind::Url,
            "http://evil.example/x",
            HitMethod::UrlHost,
            r.clone(),
        );
        by_host.matched = "evil.example".into();
        let hits = vec![
            by_host,
            hit(
                "data.a",
                Kind::Domain,
                "evil.example",
                HitMethod::Exact,
                r.clone(),
            ),
            hit("data.b", Kind::Domain, "evil.example", HitMethod::Exact, r),
        ];
        let out = events(Profile::Native, &ctx, hits, &ProfileOptions::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["intelmatch"]["match"]["field"], "data.a");
        assert_eq!(out[0]["intelmatch"]["match"]["method"], "exact");
        // Every value that reached the record, best first.
        let matches: Vec<(&str, &str)> = out[0]["intelmatch"]["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["field"].as_str().unwrap(), m["method"].as_str().unwrap()))
            .collect();
        assert_eq!(
            matches,
            [
                ("data.a", "exact"),
                ("data.b", "exact"),
                ("data.url", "url_host")
            ]
        );
    }

    #[test]
    fn the_cap_counts_records_not_values() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let one = opencti_indicator("ind-1", "one", "[x:value = 'y']", 80);
        let two = opencti_indicator("ind-2", "two", "[x:value = 'y']", 70);
        let hits = vec![
            hit("data.md5", Kind::Md5, "a", HitMethod::Exact, one.clone()),
            hit("data.sha256", Kind::Sha256, "b", HitMethod::Exact, one),
            hit("data.ip", Kind::Ipv4, "c", HitMethod::Exact, two),
        ];
        let opts = ProfileOptions {
            max_events: 2,
            ..ProfileOptions::default()
        };
        let out = events(Profile::Native, &ctx, hits, &opts);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["intelmatch"]["matches"].as_array().unwrap().len(), 2);
        assert_eq!(out[1]["intelmatch"]["indicator"]["id"], "ind-2");
    }

    #[test]
    fn links_fall_back_to_the_hook_url_for_opencti_ids() {
        let alert = alert();
        let mut ctx = AlertContext::new(&alert);
        ctx.hook_url = Some("https://opencti.example.org/graphql/");
        let mut r = opencti_indicator("ind-1", "n", "[x:value = 'y']", 1);
        r.link = None;
        let mut stix = r.clone();
        stix.source_type = "stix".into();
        stix.id = "indicator--1".into();
        let mut exported = stix.clone();
        exported.id = "indicator--2".into();
        exported.extra.insert("opencti_id".into(), json!("oc-2"));
        let hits = vec![
            hit("a", Kind::Domain, "a.example", HitMethod::Exact, r),
            hit("b", Kind::Domain, "b.example", HitMethod::Exact, stix),
            hit("c", Kind::Domain, "c.example", HitMethod::Exact, exported),
        ];
        let out = events(Profile::Native, &ctx, hits, &ProfileOptions::default());
        let links: Vec<&Value> = out
            .iter()
            .map(|e| &e["intelmatch"]["indicator"]["link"])
            .collect();
        assert_eq!(
            links,
            [
                &json!("https://opencti.example.org/dashboard/observations/indicators/ind-1"),
                &Value::Null,
                &json!("https://opencti.example.org/dashboard/observations/indicators/oc-2"),
            ]
        );
    }
}
