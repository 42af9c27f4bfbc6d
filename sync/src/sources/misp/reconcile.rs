//! Event reconciliation (misp.md §5.1): `POST /events/index {"minimal":true}`
//! is diffed with the events this source stored, by event uuid.
//!
//! - an event that vanished (hard delete, no longer visible to the key) or
//!   was unpublished while `published_only` is set: its attributes are purged;
//! - a new event, or one whose `timestamp` or `published` changed: re-fetched
//!   whole (`eventid`, `deleted: [0,1]`), and every attribute it had before
//!   that did not come back is deleted, keyed on attribute uuid.
//!
//! `Attribute.timestamp` alone misses intel pulled from other MISPs and every
//! event-level change; an event's timestamp moves on any edit of the event or
//! its attributes, so comparing it for equality catches both.
//!
//! Per event the sync state keeps `event/<uuid>` = [`LocalEvent`] as JSON:
//! the index values last stored and the attribute uuids it contributed. It is
//! written in the same commit as the event's last page, so an interrupted
//! re-fetch leaves the old state and the event is fetched again next time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode::number;
use crate::sources::misp_feed::{flag, text};

/// Sync-state key prefix of the per-event state.
pub const EVENT_PREFIX: &str = "event/";

pub const EVENTS_INDEX: &str = "/events/index";

/// One row of the minimal event index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEvent {
    pub id: String,
    pub uuid: String,
    pub timestamp: u64,
    pub published: bool,
}

/// What the store holds for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEvent {
    pub id: String,
    #[serde(rename = "ts")]
    pub timestamp: u64,
    #[serde(rename = "pub")]
    pub published: bool,
    /// Attribute uuids this event put in the store.
    pub attrs: BTreeSet<String>,
    /// Attributes of this event left out because their type is not
    /// matchable, by type (for `status`; absent in states written before).
    #[serde(default, rename = "unsup", skip_serializing_if = "BTreeMap::is_empty")]
    pub unsupported: BTreeMap<String, u64>,
}

impl LocalEvent {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a LocalEvent always serialises")
    }
}

/// The unsupported types of every stored event, summed.
pub fn unsupported_totals(local: &BTreeMap<String, LocalEvent>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in local.values() {
        for (t, n) in &e.unsupported {
            *out.entry(t.clone()).or_default() += n;
        }
    }
    out
}

/// The stored events, from the source's sync state. Empty values are events
/// already purged; undecodable ones are dropped (the event is then fetched
/// again, which repairs it).
pub fn local_events(states: &BTreeMap<String, String>) -> BTreeMap<String, LocalEvent> {
    states
        .iter()
        .filter_map(|(k, v)| {
            let uuid = k.strip_prefix(EVENT_PREFIX)?;
            if v.is_empty() {
                return None;
            }
            match serde_json::from_str::<LocalEvent>(v) {
                Ok(e) => Some((uuid.to_string(), e)),
                Err(e) => {
                    tracing::warn!("sync state {k}: unreadable ({e}); the event is re-fetched");
                    None
                }
            }
        })
        .collect()
}

/// The rows of a `/events/index` reply: a bare list (or `{"response": [...]}`),
/// each row bare or wrapped in `{"Event": {...}}`.
pub fn remote_events(body: Value) -> Result<Vec<RemoteEvent>, String> {
    let rows = match body {
        Value::Array(rows) => rows,
        Value::Object(mut o) => match o.remove("response") {
            Some(Value::Array(rows)) => rows,
            _ => return Err("the reply is not a list of events".into()),
        },
        _ => return Err("the reply is not a list of events".into()),
    };
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let row = row.get("Event").unwrap_or(row);
        let uuid = row.get("uuid").and_then(text).filter(|u| !u.is_empty());
        let id = row.get("id").and_then(text).filter(|u| !u.is_empty());
        let (Some(uuid), Some(id)) = (uuid, id) else {
            return Err(format!("event [{i}] has no id or uuid"));
        };
        let timestamp = row
            .get("timestamp")
            .and_then(number)
            .ok_or_else(|| format!("event {uuid} has no timestamp"))?;
        let published = flag(row.get("published")).unwrap_or(false);
        out.push(RemoteEvent {
            id,
            uuid,
            timestamp,
            published,
        });
    }
    Ok(out)
}

/// What a sync must do to mirror the index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Stored events to purge, with why (`vanished`, `unpublished`).
    pub purge: Vec<(String, &'static str)>,
    /// Events to re-fetch whole.
    pub fetch: Vec<RemoteEvent>,
    /// Events that are current.
    pub unchanged: usize,
}

pub fn plan(
    local: &BTreeMap<String, LocalEvent>,
    remote: &[RemoteEvent],
    published_only: bool,
    full: bool,
) -> Plan {
    let mut plan = Plan::default();
    let mut wanted = BTreeSet::new();
    for ev in remote {
        if published_only && !ev.published {
            continue;
        }
        wanted.insert(ev.uuid.as_str());
        match local.get(&ev.uuid) {
            Some(l) if !full && l.timestamp == ev.timestamp && l.published == ev.published => {
                plan.unchanged += 1
            }
            _ => plan.fetch.push(ev.clone()),
        }
    }
    let listed: BTreeSet<&str> = remote.iter().map(|e| e.uuid.as_str()).collect();
    for uuid in local.keys() {
        if !wanted.contains(uuid.as_str()) {
            let why = if listed.contains(uuid.as_str()) {
                "unpublished"
            } else {
                "vanished"
            };
            plan.purge.push((uuid.clone(), why));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn local(ts: u64, published: bool) -> LocalEvent {
        LocalEvent {
            id: "1".into(),
            timestamp: ts,
            published,
            attrs: ["a".to_string()].into(),
            unsupported: BTreeMap::new(),
        }
    }

    #[test]
    fn unsupported_counts_sum_and_old_states_still_read() {
        let old = r#"{"id":"1","ts":5,"pub":true,"attrs":["a"]}"#;
        let new = r#"{"id":"2","ts":6,"pub":true,"attrs":[],"unsup":{"yara":2,"snort":1}}"#;
        let states: BTreeMap<String, String> = [
            ("event/u1".to_string(), old.to_string()),
            ("event/u2".to_string(), new.to_string()),
            ("event/u3".to_string(), new.to_string()),
            ("event/gone".to_string(), String::new()),
        ]
        .into();
        let local = local_events(&states);
        assert_eq!(local.len(), 3);
        assert!(local["u1"].unsupported.is_empty());
        let totals = unsupported_totals(&local);
        assert_eq!(
            totals,
            [("snort".to_string(), 2), ("yara".to_string(), 4)].into()
        );
        // An event without unsupported attributes writes no `unsup` key.
        assert!(!local["u1"].encode().contains("unsup"));
    }

    #[test]
    fn index_rows_are_read_leniently() {
        let rows = remote_events(json!([
            {"id":"1","uuid":"u1","timestamp":"100","published":true},
            {"Event":{"id":2,"uuid":"u2","timestamp":200,"published":"0"}}
        ]))
        .unwrap();
        assert_eq!(rows[1].id, "2");
        assert!(rows[0].published && !rows[1].published);
        assert!(remote_events(json!({"name":"x"})).is_err());
        assert!(remote_events(json!([{"id":"1"}])).is_err());
    }

    #[test]
    fn diff_by_uuid() {
        let local: BTreeMap<_, _> = [
            ("same".to_string(), local(1, true)),
            ("edited".to_string(), local(1, true)),
            ("gone".to_string(), local(1, true)),
            ("unpub".to_string(), local(1, true)),
        ]
        .into();
        let ev = |uuid: &str, ts, published| RemoteEvent {
            id: "9".into(),
            uuid: uuid.into(),
            timestamp: ts,
            published,
        };
        let remote = [
            ev("same", 1, true),
            ev("edited", 2, true),
            ev("unpub", 2, false),
            ev("new", 5, true),
        ];
        let p = plan(&local, &remote, true, false);
        assert_eq!(p.unchanged, 1);
        let fetched: Vec<&str> = p.fetch.iter().map(|e| e.uuid.as_str()).collect();
        assert_eq!(fetched, ["edited", "new"]);
        assert_eq!(
            p.purge,
            [
                ("gone".to_string(), "vanished"),
                ("unpub".to_string(), "unpublished")
            ]
        );
        let p = plan(&local, &remote, false, true);
        assert_eq!(p.fetch.len(), 4);
        assert_eq!(p.purge, [("gone".to_string(), "vanished")]);
    }
}
