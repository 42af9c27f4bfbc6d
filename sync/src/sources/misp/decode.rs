//! One restSearch attribute → one [`IndicatorRow`] (or why not), with the
//! provenance the `misp` Wazuh profile reads (misp.md §7): event id, uuid and
//! info, org, threat level, tags as labels and TLP markings, `to_ids`,
//! category and type.
//!
//! The wire format is read leniently (ids as strings or numbers, flags as
//! booleans or 0/1), as in the feed source whose helpers this reuses.

use matcher::RecordKind;
use serde_json::{Map, Value};

use super::super::misp_feed::{flag, tags, text};
use super::super::misp_types::{self, ValueError};
use super::super::{push_unique, shown, unix_to_rfc3339};
use crate::batch::IndicatorRow;
use crate::config::MispConfig;

/// What became of one attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Imported.
    Keep(Box<IndicatorRow>),
    /// Deliberately left out (soft-deleted, `to_ids=0`, filtered, a type
    /// that is not matchable): counted by reason, removed if it was stored.
    Drop(String),
    /// Unusable (no uuid, a malformed composite value): one line naming it.
    Reject { item: String, reason: String },
}

/// One decoded attribute with the keys reconciliation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub uuid: String,
    pub event_uuid: Option<String>,
    pub timestamp: Option<i64>,
    pub outcome: Outcome,
}

/// The local filters of a source (`to_ids_only`, types, categories, tags,
/// minimum decay score) and the base URL for links.
pub struct Decoder<'c> {
    cfg: &'c MispConfig,
}

/// A number written as a string or a number (`"1519656501"`, `12`).
pub fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl<'c> Decoder<'c> {
    pub fn new(cfg: &'c MispConfig) -> Decoder<'c> {
        Decoder { cfg }
    }

    pub fn decode(&self, attr: &Value) -> Decoded {
        let get = |k: &str| attr.get(k);
        let uuid = get("uuid").and_then(text).unwrap_or_default();
        let event = get("Event").and_then(Value::as_object);
        let event_uuid = get("event_uuid")
            .and_then(text)
            .or_else(|| event.and_then(|e| e.get("uuid")).and_then(text))
            .filter(|u| !u.is_empty());
        let timestamp = get("timestamp").and_then(number).map(|t| t as i64);
        let outcome = if uuid.is_empty() {
            let id = get("id").and_then(text).unwrap_or_else(|| "?".into());
            Outcome::Reject {
                item: format!("attribute id {id}"),
                reason: "uuid missing".into(),
            }
        } else {
            self.outcome(attr, &uuid, event, timestamp)
        };
        Decoded {
            uuid,
            event_uuid,
            timestamp,
            outcome,
        }
    }

    fn outcome(
        &self,
        attr: &Value,
        uuid: &str,
        event: Option<&Map<String, Value>>,
        timestamp: Option<i64>,
    ) -> Outcome {
        let cfg = self.cfg;
        let get = |k: &str| attr.get(k);
        let item = format!("attribute {}", shown(uuid));
        if flag(get("deleted")).unwrap_or(false) {
            return Outcome::Drop("deleted attribute".into());
        }
        let to_ids = flag(get("to_ids")).unwrap_or(false);
        if cfg.to_ids_only && !to_ids {
            return Outcome::Drop("to_ids=0".into());
        }
        let Some(misp_type) = get("type").and_then(text).filter(|t| !t.is_empty()) else {
            return Outcome::Reject {
                item,
                reason: "type missing".into(),
            };
        };
        let category = get("category").and_then(text).unwrap_or_default();
        if !cfg.types.is_empty() && !cfg.types.contains(&misp_type) {
            return Outcome::Drop("type not selected".into());
        }
        if !cfg.categories.is_empty() && !cfg.categories.contains(&category) {
            return Outcome::Drop("category not selected".into());
        }
        if let Some(ev) = event {
            if cfg.published_only && flag(ev.get("published")) == Some(false) {
                return Outcome::Drop("unpublished event".into());
            }
        }

        // Attribute tags and (with includeEventTags) inherited event tags,
        // plus the event's own tags from includeContext.
        let empty = Map::new();
        let attr_obj = attr.as_object().unwrap_or(&empty);
        let (mut labels, mut markings) = tags(attr_obj, "AttributeTag");
        if let Some(ev) = event {
            let (l, m) = tags(ev, "EventTag");
            push_unique(&mut labels, l);
            push_unique(&mut markings, m);
        }
        let names = || labels.iter().chain(markings.iter());
        let tag_is = |wanted: &String, have: &String| wanted.eq_ignore_ascii_case(have);
        if !cfg.tags_include.is_empty()
            && !cfg
                .tags_include
                .iter()
                .any(|w| names().any(|h| tag_is(w, h)))
        {
            return Outcome::Drop("no included tag".into());
        }
        if cfg
            .tags_exclude
            .iter()
            .any(|w| names().any(|h| tag_is(w, h)))
        {
            return Outcome::Drop("excluded tag".into());
        }
        let decay = decay_score(get("decay_score"));
        if let (Some(min), Some(score)) = (cfg.min_decay_score, decay) {
            if score < min {
                return Outcome::Drop("decay score below min_decay_score".into());
            }
        }

        let Some(value) = get("value").and_then(text) else {
            return Outcome::Reject {
                item,
                reason: "value missing".into(),
            };
        };
        let values = match misp_types::values(&misp_type, &value) {
            Ok(values) => values,
            Err(ValueError::NotMatchable(_)) => {
                return Outcome::Drop(format!("unsupported type {misp_type}"))
            }
            Err(ValueError::UnknownType(_)) => {
                return Outcome::Drop(format!("unknown type {misp_type}"))
            }
            Err(e) => {
                return Outcome::Reject {
                    item,
                    reason: e.to_string(),
                }
            }
        };

        let ev_text = |k: &str| event.and_then(|e| e.get(k)).and_then(text);
        let event_id = get("event_id").and_then(text).or_else(|| ev_text("id"));
        let event_info = ev_text("info").filter(|i| !i.is_empty());
        let org = event.and_then(|e| {
            ["Orgc", "orgc", "Org", "org"]
                .iter()
                .find_map(|k| e.get(*k)?.get("name").and_then(text))
        });
        let mut extra = Map::new();
        let mut put = |key: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                extra.insert(key.to_string(), Value::String(v));
            }
        };
        put("event_id", event_id.clone());
        put(
            "event_uuid",
            get("event_uuid").and_then(text).or_else(|| ev_text("uuid")),
        );
        put("event_info", event_info.clone());
        put("org", org.clone());
        put("threat_level_id", ev_text("threat_level_id"));
        put("category", Some(category));
        put("type", Some(misp_type.clone()));
        put("value", Some(value.clone()));
        put("comment", get("comment").and_then(text));
        put("first_seen", get("first_seen").and_then(text));
        put("last_seen", get("last_seen").and_then(text));
        put(
            "object_id",
            get("object_id").and_then(text).filter(|o| o != "0"),
        );
        put("object_relation", get("object_relation").and_then(text));
        extra.insert("to_ids".into(), Value::Bool(to_ids));
        let warnings = misp_warnings(get("warnings"));
        if !warnings.is_empty() {
            extra.insert("misp_warninglists".into(), warnings.into());
        }
        if let Some(score) = decay {
            extra.insert("decay_score".into(), score.into());
        }

        Outcome::Keep(Box::new(IndicatorRow {
            ext_id: uuid.to_string(),
            record_kind: RecordKind::Attribute,
            name: format!("{misp_type}: {value}"),
            description: event_info,
            values,
            score: decay.map(|s| s.round() as i64),
            labels,
            markings,
            created_by: org,
            updated_at: timestamp.and_then(unix_to_rfc3339),
            link: event_id.map(|id| format!("{}/events/view/{id}", cfg.url.trim_end_matches('/'))),
            extra,
            ..IndicatorRow::default()
        }))
    }
}

/// The best score over the enabled decay models, when MISP sent any.
fn decay_score(v: Option<&Value>) -> Option<f64> {
    v?.as_array()?
        .iter()
        .filter_map(|d| match d.get("score")? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .reduce(f64::max)
}

/// Names of the MISP-side warninglists an attribute hit (`includeWarninglistHits`).
fn misp_warnings(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    for w in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = w.get("warninglist_name").and_then(text) {
            push_unique(&mut out, [name]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use matcher::Kind;
    use serde_json::json;

    fn cfg() -> MispConfig {
        MispConfig::new("https://misp.example/", Secret::literal("k"))
    }

    fn sample() -> Value {
        // Documentation range and .example name: test data only.
        json!({"id":"8812","event_id":"431","object_id":"0","object_relation":null,
         "category":"Network activity","type":"ip-dst|port","to_ids":true,
         "uuid":"3f0c2d7e-9a51-4c0b-8d1e-0b7e5a6c1f22","timestamp":"1731901234",
         "comment":"C2","deleted":false,"value":"203.0.113.7|8443","event_uuid":"5a1b",
         "Event":{"id":"431","info":"Campaign X","uuid":"5a1b","threat_level_id":"1",
                  "published":true,"Orgc":{"name":"CIRCL"},"Tag":[{"name":"tlp:amber"}]},
         "Tag":[{"name":"tlp:green","inherited":1},{"name":"kill-chain:c2"}],
         "warnings":[{"warninglist_name":"List of RFC 5737 addresses"}],
         "decay_score":[{"score":"61.5"},{"score":40}]})
    }

    #[test]
    fn provenance_is_kept() {
        let d = Decoder::new(&cfg()).decode(&sample());
        assert_eq!(d.event_uuid.as_deref(), Some("5a1b"));
        assert_eq!(d.timestamp, Some(1731901234));
        let Outcome::Keep(row) = d.outcome else {
            panic!("{:?}", d.outcome)
        };
        assert_eq!(row.values, [(Kind::Ipv4, "203.0.113.7".to_string())]);
        assert_eq!(row.labels, ["kill-chain:c2"]);
        assert_eq!(row.markings, ["TLP:GREEN", "TLP:AMBER"]);
        assert_eq!(row.created_by.as_deref(), Some("CIRCL"));
        assert_eq!(
            row.link.as_deref(),
            Some("https://misp.example/events/view/431")
        );
        assert_eq!(row.score, Some(62));
        for (k, v) in [
            ("event_id", json!("431")),
            ("event_info", json!("Campaign X")),
            ("org", json!("CIRCL")),
            ("threat_level_id", json!("1")),
            ("category", json!("Network activity")),
            ("type", json!("ip-dst|port")),
            ("to_ids", json!(true)),
            ("misp_warninglists", json!(["List of RFC 5737 addresses"])),
        ] {
            assert_eq!(row.extra.get(k), Some(&v), "{k}");
        }
        assert!(!row.extra.contains_key("object_id"));
    }

    #[test]
    fn filters_drop_with_a_reason() {
        let c = cfg();
        let drop = |c: &MispConfig, v: Value| match Decoder::new(c).decode(&v).outcome {
            Outcome::Drop(why) => why,
            other => panic!("{other:?}"),
        };
        let mut a = sample();
        a["to_ids"] = json!(0);
        assert_eq!(drop(&c, a), "to_ids=0");
        let mut a = sample();
        a["deleted"] = json!("1");
        assert_eq!(drop(&c, a), "deleted attribute");
        let mut a = sample();
        a["type"] = json!("yara");
        assert_eq!(drop(&c, a), "unsupported type yara");
        let mut f = cfg();
        f.tags_exclude = vec!["TLP:AMBER".into()];
        assert_eq!(drop(&f, sample()), "excluded tag");
        let mut f = cfg();
        f.min_decay_score = Some(70.0);
        assert_eq!(drop(&f, sample()), "decay score below min_decay_score");
        // Included tags match attribute, inherited and event tags, in any case.
        let mut f = cfg();
        f.tags_include = vec!["KILL-CHAIN:C2".into(), "apt:x".into()];
        assert!(matches!(
            Decoder::new(&f).decode(&sample()).outcome,
            Outcome::Keep(_)
        ));
        f.tags_include = vec!["tlp:amber".into()];
        assert!(matches!(
            Decoder::new(&f).decode(&sample()).outcome,
            Outcome::Keep(_)
        ));
        f.tags_include = vec!["apt:x".into()];
        assert_eq!(drop(&f, sample()), "no included tag");
        let mut a = sample();
        a["value"] = json!("no-pipe");
        assert!(matches!(
            Decoder::new(&c).decode(&a).outcome,
            Outcome::Reject { .. }
        ));
    }
}
