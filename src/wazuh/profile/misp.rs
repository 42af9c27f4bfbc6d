//! The misp profile (contract §5.3): a drop-in for the SOCFortress `custom-misp`
//! script, whose hits are `{"misp":{event_id, category, value, type}}` of the best
//! matching attribute.
//!
//! Hits carry **no** top-level `integration` by default: with the published README
//! rules, 100622 is a root rule on `misp.category` and fires only while 100620
//! (`integration` = `misp`) does not capture the event first; with the XML-file
//! rules 100622 is a child of 100620 and needs the key. `misp_integration_key`
//! switches it on (seed-integrations.md §3.5). Errors always carry it, so 100621
//! fires under both variants.

use std::collections::HashSet;

use matcher::Kind;
use serde_json::{json, Map, Value};

use super::{
    at_text, clip, extra_str, extra_text, match_object, AlertContext, Fields, ResolvedHit,
};

const TAG: &str = "misp";

pub(super) fn error_event(message: &str) -> Value {
    json!({"misp": {"error": message}, "integration": TAG})
}

pub(super) fn events(ctx: &AlertContext, hits: &[ResolvedHit], cap: usize) -> Vec<Value> {
    // The script reported the first attribute for its one value; here each alert
    // value reports its best attribute, and an attribute is reported once.
    let mut records = HashSet::new();
    let mut values = HashSet::new();
    hits.iter()
        .filter(|h| {
            let new_value = !values.contains(&(h.kind, h.value.as_str()));
            let keep = new_value && records.insert(h.record_key());
            if keep {
                values.insert((h.kind, h.value.as_str()));
            }
            keep
        })
        .take(cap)
        .map(|h| render(ctx, h))
        .collect()
}

fn render(ctx: &AlertContext, hit: &ResolvedHit) -> Value {
    let r = &hit.record;
    let mut tags = r.labels.clone();
    tags.extend(r.markings.iter().filter(|m| !r.labels.contains(m)).cloned());
    let event_id = extra_text(r, &["event_id", "event_uuid"]).unwrap_or_else(|| r.id.clone());
    let mut m = Map::new();
    m.text("event_id", event_id)
        .text(
            "category",
            extra_str(r, &["category"]).unwrap_or(category(hit.kind)),
        )
        .text(
            "value",
            extra_str(r, &["value"]).unwrap_or(hit.matched.as_str()),
        )
        .text(
            "type",
            extra_str(r, &["type"]).unwrap_or(attribute_type(hit.kind, &hit.field)),
        )
        .text("uuid", &r.id)
        .text_opt("event_uuid", extra_str(r, &["event_uuid"]))
        .text_opt("event_info", extra_str(r, &["event_info"]).map(clip))
        .text_opt("org", extra_str(r, &["org"]))
        .text_opt("threat_level_id", extra_text(r, &["threat_level_id"]))
        .flag("to_ids", r.extra.get("to_ids").and_then(Value::as_bool))
        .text_opt("comment", extra_str(r, &["comment"]).map(clip))
        .list("tags", &tags)
        .int("score", r.score)
        // The value is only part of a compound pattern: rules can grade it down.
        .flag("partial", r.partial.then_some(true))
        .text_opt("link", r.link.as_deref())
        .text("intel_source", &r.source)
        .object("match", match_object(hit))
        .object("source", source(ctx.alert));
    let mut event = Map::new();
    event.object(TAG, m);
    if ctx.misp_integration_key {
        event.text("integration", TAG);
    }
    Value::Object(event)
}

/// The alert the hit came from (C′ put the rule description in `source.description`).
fn source(alert: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.text_opt("alert_id", at_text(alert, "id"))
        .text_opt("rule_id", at_text(alert, "rule.id"))
        .text_opt("description", at_text(alert, "rule.description").map(clip));
    m
}

/// A MISP category for a record that is not a MISP attribute (rule 100622 needs one).
fn category(kind: Kind) -> &'static str {
    match kind {
        Kind::Ipv4 | Kind::Ipv6 | Kind::Domain | Kind::Url | Kind::UserAgent => "Network activity",
        Kind::Regkey | Kind::Mutex => "Artifacts dropped",
        Kind::Email
        | Kind::Md5
        | Kind::Sha1
        | Kind::Sha256
        | Kind::Sha512
        | Kind::Imphash
        | Kind::Hash
        | Kind::Filename => "Payload delivery",
    }
}

/// A MISP attribute type for a record that is not a MISP attribute. Addresses are
/// `ip-src` when the alert field names a source, else `ip-dst` (the scripts looked
/// up destinations).
fn attribute_type(kind: Kind, field: &str) -> &'static str {
    match kind {
        Kind::Ipv4 | Kind::Ipv6 => {
            let f = field.to_ascii_lowercase();
            let last = f.rsplit('.').next().unwrap_or("");
            if last.starts_with("src") || last.starts_with("source") {
                "ip-src"
            } else {
                "ip-dst"
            }
        }
        Kind::Domain => "domain",
        Kind::Url => "url",
        Kind::Email => "email",
        Kind::Md5 => "md5",
        Kind::Sha1 => "sha1",
        Kind::Sha256 => "sha256",
        Kind::Sha512 => "sha512",
        Kind::Imphash => "imphash",
        Kind::Hash => "other",
        Kind::Filename => "filename",
        Kind::Regkey => "regkey",
        Kind::UserAgent => "user-agent",
        Kind::Mutex => "mutex",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use matcher::HitMethod;
    use serde_json::json;

    const IP_FIELD: &str = "data.win.eventdata.destinationIp";

    #[test]
    fn hit_carries_the_best_attribute_and_no_integration_key() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let h = hit(
            IP_FIELD,
            Kind::Ipv4,
            "198.51.100.23",
            HitMethod::Exact,
            misp_attribute("attr-1", "ip-dst", "198.51.100.23"),
        );
        let out = super::super::events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
        assert_eq!(out.len(), 1);
        let e = &out[0];
        assert_no_empties(e, "");
        assert!(e.get("integration").is_none(), "{e}");
        assert_eq!(e.as_object().unwrap().len(), 1);
        assert_eq!(
            e["misp"],
            json!({"event_id": "431", "category": "Network activity", "value": "198.51.100.23",
                   "type": "ip-dst", "uuid": "attr-1",
                   "event_uuid": "5f1a7c2e-0000-4000-8000-000000000431",
                   "event_info": "Phishing wave", "org": "CIRCL", "threat_level_id": "1",
                   "to_ids": true, "tags": ["tlp:green"], "intel_source": "misp",
                   "match": {"field": IP_FIELD, "value": "198.51.100.23", "kind": "ipv4",
                             "method": "exact", "matched": "198.51.100.23"},
                   "source": {"alert_id": "1715680919.2210140", "rule_id": "61650",
                              "description": "Sysmon - Event 22: DNS Query event"}})
        );
    }

    #[test]
    fn a_partial_match_is_flagged() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut r = misp_attribute("attr-1", "ip-dst", "198.51.100.23");
        r.partial = true;
        let h = hit(IP_FIELD, Kind::Ipv4, "198.51.100.23", HitMethod::Exact, r);
        let out = super::super::events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
        assert_eq!(out[0]["misp"]["partial"], true);
    }

    #[test]
    fn the_switch_adds_the_integration_key() {
        let alert = alert();
        let mut ctx = AlertContext::new(&alert);
        ctx.misp_integration_key = true;
        let h = hit(
            IP_FIELD,
            Kind::Ipv4,
            "198.51.100.23",
            HitMethod::Exact,
            misp_attribute("attr-1", "ip-dst", "198.51.100.23"),
        );
        let out = super::super::events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
        assert_eq!(out[0]["integration"], "misp");
        assert_eq!(out[0]["misp"]["category"], "Network activity");
    }

    #[test]
    fn composites_report_the_attribute_value_and_uuid_stands_in_for_the_id() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let sha = "ab".repeat(32);
        let mut r = misp_attribute("attr-2", "filename|sha256", &format!("evil.exe|{sha}"));
        r.extra.remove("event_id");
        r.extra.insert("category".into(), json!("Payload delivery"));
        let h = hit(
            "syscheck.sha256_after",
            Kind::Sha256,
            &sha,
            HitMethod::Exact,
            r,
        );
        let out = super::super::events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
        let m = &out[0]["misp"];
        assert_eq!(m["event_id"], "5f1a7c2e-0000-4000-8000-000000000431");
        assert_eq!(m["type"], "filename|sha256");
        assert_eq!(m["value"], format!("evil.exe|{sha}"));
        assert_eq!(m["category"], "Payload delivery");
    }

    #[test]
    fn other_sources_get_derived_type_and_category() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let ind = opencti_indicator("ind-1", "bad", "[ipv4-addr:value = '192.0.2.1']", 80);
        let cases = [
            (
                "data.srcip",
                Kind::Ipv4,
                "192.0.2.1",
                "ip-src",
                "Network activity",
            ),
            (
                "data.win.eventdata.sourceIp",
                Kind::Ipv4,
                "192.0.2.2",
                "ip-src",
                "Network activity",
            ),
            (
                IP_FIELD,
                Kind::Ipv6,
                "2001:db8::1",
                "ip-dst",
                "Network activity",
            ),
            (
                "data.win.eventdata.queryName",
                Kind::Domain,
                "evil.example",
                "domain",
                "Network activity",
            ),
            (
                "syscheck.md5_after",
                Kind::Md5,
                &"a".repeat(32),
                "md5",
                "Payload delivery",
            ),
            (
                "data.mutex",
                Kind::Mutex,
                "Global\\x",
                "mutex",
                "Artifacts dropped",
            ),
        ];
        for (field, kind, value, ty, cat) in cases {
            let mut r = ind.clone();
            r.id = format!("ind-{value}");
            let h = hit(field, kind, value, HitMethod::Exact, r);
            let out =
                super::super::events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
            let m = &out[0]["misp"];
            assert_eq!(m["type"], ty, "{field}");
            assert_eq!(m["category"], cat, "{field}");
            assert_eq!(m["value"], value);
            assert_eq!(m["event_id"], format!("ind-{value}"));
            assert_eq!(m["tags"], json!(["c2", "TLP:AMBER"]));
        }
    }

    #[test]
    fn one_attribute_per_value_and_each_attribute_once() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut best = misp_attribute("attr-best", "ip-dst", "198.51.100.23");
        best.score = Some(90);
        let other = misp_attribute("attr-other", "ip-dst", "198.51.100.23");
        // `other` only hit the value `best` already reports.
        let hits = vec![
            hit(
                IP_FIELD,
                Kind::Ipv4,
                "198.51.100.23",
                HitMethod::Exact,
                other,
            ),
            hit(
                IP_FIELD,
                Kind::Ipv4,
                "198.51.100.23",
                HitMethod::Exact,
                best.clone(),
            ),
            // The reported attribute through another value is not repeated...
            hit(
                "data.srcip",
                Kind::Ipv4,
                "198.51.100.24",
                HitMethod::Cidr,
                best,
            ),
            // ...but another value's own attribute is.
            hit(
                "data.dstip",
                Kind::Ipv4,
                "203.0.113.45",
                HitMethod::Exact,
                misp_attribute("attr-3", "ip-dst", "203.0.113.45"),
            ),
        ];
        let out = super::super::events(Profile::Misp, &ctx, hits, &ProfileOptions::default());
        let uuids: Vec<&Value> = out.iter().map(|e| &e["misp"]["uuid"]).collect();
        assert_eq!(uuids, [&json!("attr-best"), &json!("attr-3")]);
    }
}
