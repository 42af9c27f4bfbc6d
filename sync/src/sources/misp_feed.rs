//! `type = "misp-feed"`: a MISP JSON feed directory (misp.md §11): a
//! `manifest.json` keyed by event uuid and one `<uuid>.json` per event.
//!
//! Every attribute (also those inside `Object[]`) becomes an [`IndicatorRow`]
//! of record kind `Attribute`, keyed by its uuid, with its matchable values
//! taken from [`super::misp_types`]. The wire format is read leniently, as
//! MISP itself does: numbers as strings or numbers, flags as `true`, `1`,
//! `"1"`, events bare or wrapped in `{"response": [...]}`, `Orgc` or `orgc`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use matcher::RecordKind;
use serde_json::{Map, Value};

use super::fingerprint::{InputFile, Inputs, Select};
use super::misp_types::{self, ValueError};
use super::{
    cap_rejects, parse_json, push_unique, shown, unix_to_rfc3339, FileSourceError, Loaded,
};
use crate::batch::{Batch, IndicatorRow, Reject};
use crate::config::MispFeedConfig;

const MANIFEST: &str = "manifest.json";

/// The feed directory: `path` itself, or the directory of a `manifest.json`
/// given as `path`.
fn feed_dir(cfg: &MispFeedConfig) -> &Path {
    if cfg.path.is_file() {
        cfg.path.parent().unwrap_or(Path::new("."))
    } else {
        &cfg.path
    }
}

fn inputs(cfg: &MispFeedConfig) -> Result<Inputs, FileSourceError> {
    let dir = feed_dir(cfg);
    let inputs = Inputs::collect(dir, Select::JsonFlat)?;
    if !inputs.root_is_dir {
        return Err(FileSourceError::Unusable {
            path: dir.to_path_buf(),
            reason: "not a directory (a MISP feed is a directory holding manifest.json)".into(),
        });
    }
    Ok(inputs)
}

/// The fingerprint of the feed as it is now (every `*.json` of the directory
/// and the config), without reading any file.
pub fn fingerprint(cfg: &MispFeedConfig) -> Result<String, FileSourceError> {
    Ok(inputs(cfg)?.fingerprint("misp-feed", cfg))
}

/// Reads the feed: the manifest, then every event it lists.
pub fn load(cfg: &MispFeedConfig, source_name: &str) -> Result<Loaded, FileSourceError> {
    let inputs = inputs(cfg)?;
    let fingerprint = inputs.fingerprint("misp-feed", cfg);
    let by_name: HashMap<&str, &InputFile> =
        inputs.files.iter().map(|f| (f.rel.as_str(), f)).collect();
    let manifest_path = inputs.root.join(MANIFEST);
    let Some(manifest) = by_name.get(MANIFEST) else {
        return Err(FileSourceError::Missing {
            path: manifest_path,
        });
    };

    let mut acc = Accumulator::new(cfg.to_ids_only);
    let mut files = 0;
    let uuids = match read(manifest)? {
        None => {
            return Err(FileSourceError::Missing {
                path: manifest_path,
            })
        }
        Some(bytes) => {
            files += 1;
            acc.manifest(manifest, &bytes)
        }
    };
    for uuid in uuids {
        let name = format!("{uuid}.json");
        let shown_path = inputs.root.join(&name).display().to_string();
        let bytes = match by_name.get(name.as_str()) {
            Some(file) => read(file)?,
            None => None,
        };
        let Some(bytes) = bytes else {
            acc.complete = false;
            acc.reject(
                shown_path,
                "event listed in manifest.json but its file is missing",
            );
            continue;
        };
        files += 1;
        let first_reject = acc.rejects.len();
        acc.event_file(&shown_path, &uuid, &bytes);
        cap_rejects(&mut acc.rejects, first_reject, &shown_path);
    }
    let loaded = acc.finish(fingerprint, files);
    tracing::debug!(
        source = source_name,
        files,
        attributes = loaded.batch.indicators.len(),
        rejects = loaded.batch.rejects.len(),
        snapshot = loaded.batch.snapshot,
        "read MISP feed"
    );
    Ok(loaded)
}

/// The file's bytes; `None` if it vanished since it was listed.
fn read(file: &InputFile) -> Result<Option<Vec<u8>>, FileSourceError> {
    match std::fs::read(&file.path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileSourceError::from_io(file.path.clone(), e)),
    }
}

/// Event-level context copied onto each of its attributes.
struct EventCtx {
    id: Option<String>,
    uuid: String,
    info: String,
    org: Option<String>,
    threat_level_id: Option<String>,
    timestamp: Option<String>,
    labels: Vec<String>,
    markings: Vec<String>,
}

/// The `Object` an attribute belongs to.
struct ObjectCtx {
    name: Option<String>,
    uuid: Option<String>,
}

struct Accumulator {
    to_ids_only: bool,
    rows: Vec<Option<IndicatorRow>>,
    /// Attribute uuid → (slot, file it came from).
    seen: HashMap<String, (usize, String)>,
    /// Not matchable type → (first attribute, reason, count).
    unmatchable: BTreeMap<String, (String, String, usize)>,
    skipped: BTreeMap<String, usize>,
    rejects: Vec<Reject>,
    complete: bool,
}

impl Accumulator {
    fn new(to_ids_only: bool) -> Accumulator {
        Accumulator {
            to_ids_only,
            rows: Vec::new(),
            seen: HashMap::new(),
            unmatchable: BTreeMap::new(),
            skipped: BTreeMap::new(),
            rejects: Vec::new(),
            complete: true,
        }
    }

    fn reject(&mut self, item: String, reason: impl Into<String>) {
        self.rejects.push(Reject {
            item,
            reason: reason.into(),
        });
    }

    fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_string()).or_default() += 1;
    }

    /// The event uuids the manifest lists, sorted. Keys that are not plain
    /// uuids are rejected: they become file names, and `../x` must not.
    fn manifest(&mut self, file: &InputFile, bytes: &[u8]) -> Vec<String> {
        let manifest = match parse_json(bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                self.complete = false;
                self.reject(
                    file.display(),
                    "not a MISP feed manifest: not a JSON object",
                );
                return Vec::new();
            }
            Err(reason) => {
                self.complete = false;
                self.reject(file.display(), reason);
                return Vec::new();
            }
        };
        let mut uuids = Vec::new();
        for key in manifest.keys() {
            let plain = !key.is_empty()
                && key.len() <= 64
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if plain {
                uuids.push(key.clone());
            } else {
                self.complete = false;
                self.reject(
                    format!("{}: `{}`", file.display(), shown(key)),
                    "not an event uuid",
                );
            }
        }
        uuids.sort();
        uuids
    }

    fn event_file(&mut self, path: &str, uuid: &str, bytes: &[u8]) {
        let value = match parse_json(bytes) {
            Ok(v) => v,
            Err(reason) => {
                self.complete = false;
                return self.reject(path.to_string(), reason);
            }
        };
        let events = match events(value) {
            Ok(events) => events,
            Err(reason) => {
                self.complete = false;
                return self.reject(path.to_string(), reason);
            }
        };
        for event in events {
            self.event(path, uuid, &event);
        }
    }

    fn event(&mut self, path: &str, manifest_uuid: &str, event: &Map<String, Value>) {
        let (labels, markings) = tags(event, "EventTag");
        let org = ["Orgc", "orgc", "Org", "org"]
            .iter()
            .find_map(|k| event.get(*k)?.get("name").and_then(text));
        let ctx = EventCtx {
            id: event.get("id").and_then(text),
            uuid: event
                .get("uuid")
                .and_then(text)
                .unwrap_or_else(|| manifest_uuid.to_string()),
            info: event.get("info").and_then(text).unwrap_or_default(),
            org,
            threat_level_id: event.get("threat_level_id").and_then(text),
            timestamp: event.get("timestamp").and_then(text),
            labels,
            markings,
        };
        for (i, attr) in array(event.get("Attribute")).iter().enumerate() {
            let at = || format!("Attribute[{i}]");
            self.attribute(path, &ctx, None, attr, at);
        }
        for (o, object) in array(event.get("Object")).iter().enumerate() {
            let Value::Object(object) = object else {
                self.reject(format!("{path}: Object[{o}]"), "not a JSON object");
                continue;
            };
            let attrs = array(object.get("Attribute"));
            if flag(object.get("deleted")).unwrap_or(false) {
                for _ in attrs {
                    self.skip("deleted attribute");
                }
                continue;
            }
            let octx = ObjectCtx {
                name: object.get("name").and_then(text),
                uuid: object.get("uuid").and_then(text),
            };
            for (i, attr) in attrs.iter().enumerate() {
                let at = || format!("Object[{o}].Attribute[{i}]");
                self.attribute(path, &ctx, Some(&octx), attr, at);
            }
        }
    }

    fn attribute(
        &mut self,
        path: &str,
        ev: &EventCtx,
        object: Option<&ObjectCtx>,
        attr: &Value,
        position: impl Fn() -> String,
    ) {
        let Value::Object(attr) = attr else {
            return self.reject(format!("{path}: {}", position()), "not a JSON object");
        };
        let Some(uuid) = attr.get("uuid").and_then(text).filter(|u| !u.is_empty()) else {
            return self.reject(format!("{path}: {}", position()), "uuid missing");
        };
        let item = format!("{path}: {}", shown(&uuid));
        if flag(attr.get("deleted")).unwrap_or(false) {
            return self.skip("deleted attribute");
        }
        // Feeds always carry `to_ids`; an attribute without it is not for IDS use.
        let to_ids = flag(attr.get("to_ids")).unwrap_or(false);
        if self.to_ids_only && !to_ids {
            return self.skip("to_ids=0");
        }
        let Some(misp_type) = attr.get("type").and_then(text).filter(|t| !t.is_empty()) else {
            return self.reject(item, "type missing");
        };
        let Some(value) = attr.get("value").and_then(text) else {
            return self.reject(item, "value missing");
        };
        let values = match misp_types::values(&misp_type, &value) {
            Ok(values) => values,
            Err(err @ (ValueError::NotMatchable(_) | ValueError::UnknownType(_))) => {
                let entry =
                    self.unmatchable
                        .entry(misp_type.clone())
                        .or_insert((item, err.to_string(), 0));
                entry.2 += 1;
                return;
            }
            Err(err) => return self.reject(item, err.to_string()),
        };

        let (attr_labels, attr_markings) = tags(attr, "AttributeTag");
        let mut labels = ev.labels.clone();
        push_unique(&mut labels, attr_labels);
        let mut markings = ev.markings.clone();
        push_unique(&mut markings, attr_markings);

        let mut extra = Map::new();
        let mut put = |key: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                extra.insert(key.to_string(), Value::String(v));
            }
        };
        put("event_id", ev.id.clone());
        put("event_uuid", Some(ev.uuid.clone()));
        put("event_info", Some(ev.info.clone()));
        put("org", ev.org.clone());
        put("threat_level_id", ev.threat_level_id.clone());
        put("category", attr.get("category").and_then(text));
        put("type", Some(misp_type.clone()));
        put("value", Some(value.clone()));
        put("comment", attr.get("comment").and_then(text));
        put("first_seen", attr.get("first_seen").and_then(text));
        put("last_seen", attr.get("last_seen").and_then(text));
        if let Some(object) = object {
            put("object_name", object.name.clone());
            put("object_uuid", object.uuid.clone());
            put(
                "object_relation",
                attr.get("object_relation").and_then(text),
            );
        }
        extra.insert("to_ids".into(), Value::Bool(to_ids));

        let updated_at = attr
            .get("timestamp")
            .and_then(text)
            .or_else(|| ev.timestamp.clone())
            .and_then(|t| t.trim().parse::<i64>().ok())
            .and_then(unix_to_rfc3339);

        let row = IndicatorRow {
            ext_id: uuid.clone(),
            record_kind: RecordKind::Attribute,
            name: format!("{misp_type}: {value}"),
            description: Some(ev.info.clone()).filter(|i| !i.is_empty()),
            values,
            labels,
            markings,
            created_by: ev.org.clone(),
            updated_at,
            extra,
            ..IndicatorRow::default()
        };
        self.insert(uuid, row, path, &item);
    }

    /// Adds a row; a uuid seen before is replaced (last wins), and noted
    /// unless both copies are identical (the same event in two files).
    fn insert(&mut self, uuid: String, row: IndicatorRow, path: &str, item: &str) {
        match self.seen.get(&uuid) {
            Some((slot, _)) if self.rows[*slot].as_ref() == Some(&row) => {}
            Some((slot, earlier)) => {
                let (slot, earlier) = (*slot, earlier.clone());
                self.rows[slot] = Some(row);
                self.seen.insert(uuid, (slot, path.to_string()));
                self.reject(
                    item.to_string(),
                    format!("duplicate attribute uuid: this one replaces the one in {earlier}"),
                );
            }
            None => {
                self.rows.push(Some(row));
                self.seen
                    .insert(uuid, (self.rows.len() - 1, path.to_string()));
            }
        }
    }

    fn finish(mut self, fingerprint: String, files: usize) -> Loaded {
        for (_, (item, reason, count)) in std::mem::take(&mut self.unmatchable) {
            let attributes = if count == 1 {
                "attribute"
            } else {
                "attributes"
            };
            self.reject(item, format!("{reason} ({count} {attributes} skipped)"));
        }
        let batch = Batch {
            indicators: self.rows.into_iter().flatten().collect(),
            rejects: self.rejects,
            snapshot: self.complete,
            ..Batch::default()
        };
        Loaded {
            batch,
            fingerprint,
            files,
            skipped: self.skipped,
        }
    }
}

/// The events of an event file: `{"Event": {...}}`, `{"response": [{"Event":
/// {...}}, ...]}` or `{"response": {"Event": {...}}}`.
fn events(value: Value) -> Result<Vec<Map<String, Value>>, String> {
    let Value::Object(mut top) = value else {
        return Err("not a MISP event: the top level is not an object".into());
    };
    let unwrap = |v: Value| -> Result<Map<String, Value>, String> {
        match v {
            Value::Object(mut wrapper) => match wrapper.remove("Event") {
                Some(Value::Object(event)) => Ok(event),
                Some(_) => Err("not a MISP event: `Event` is not an object".into()),
                None => Err("not a MISP event: no `Event` object".into()),
            },
            _ => Err("not a MISP event: no `Event` object".into()),
        }
    };
    if top.contains_key("Event") {
        return unwrap(Value::Object(top)).map(|e| vec![e]);
    }
    match top.remove("response") {
        Some(Value::Array(items)) => items.into_iter().map(unwrap).collect(),
        Some(wrapped @ Value::Object(_)) => unwrap(wrapped).map(|e| vec![e]),
        _ => Err("not a MISP event: no `Event` object".into()),
    }
}

fn array(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// A string, or a number written as one (MISP sends ids and timestamps either way).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A MISP flag: `true`, `1`, `"1"`, `"true"` (and their negatives).
pub(super) fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" => Some(true),
            "0" | "false" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Tag names split into labels and TLP markings (`tlp:amber` → `TLP:AMBER`).
/// Tags are `Tag: [{name}]` in feeds, `EventTag`/`AttributeTag: [{Tag: {name}}]`
/// in some API outputs.
pub(super) fn tags(obj: &Map<String, Value>, wrapped_key: &str) -> (Vec<String>, Vec<String>) {
    let direct = array(obj.get("Tag")).iter();
    let wrapped = array(obj.get(wrapped_key))
        .iter()
        .filter_map(|t| t.get("Tag"));
    let mut labels = Vec::new();
    let mut markings = Vec::new();
    for tag in direct.chain(wrapped) {
        let Some(name) = tag.get("name").and_then(Value::as_str).map(str::trim) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        match name.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("tlp:") => {
                push_unique(
                    &mut markings,
                    [format!("TLP:{}", name[4..].to_ascii_uppercase())],
                );
            }
            _ => push_unique(&mut labels, [name.to_string()]),
        }
    }
    (labels, markings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_are_lenient() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(0), Some(false)),
            (json!("1"), Some(true)),
            (json!("0"), Some(false)),
            (json!("yes"), None),
            (json!(null), None),
        ] {
            assert_eq!(flag(Some(&v)), want, "{v}");
        }
    }

    #[test]
    fn tlp_tags_become_markings() {
        let obj = json!({"Tag": [{"name": "tlp:amber+strict"}, {"name": "malware:x"}, {"name": "TLP:clear"}],
                         "EventTag": [{"Tag": {"name": "tlp:amber+strict"}}]});
        let (labels, markings) = tags(obj.as_object().unwrap(), "EventTag");
        assert_eq!(labels, ["malware:x"]);
        assert_eq!(markings, ["TLP:AMBER+STRICT", "TLP:CLEAR"]);
    }
}
