//! GraphQL nodes → store rows (opencti.md §9, §10).
//!
//! Nodes are read leniently (a missing optional field is `None`), in both
//! query shapes: a label or marking field is a list (≥ 5.12.24) or a
//! connection `{edges: [{node}]}` (5.12.0–5.12.23).

use std::collections::BTreeMap;

use matcher::{Kind, RecordKind};
use serde_json::{Map, Value};

use crate::batch::{IndicatorRow, ObservableRow, RelationshipRow};
use crate::config::OpenCtiConfig;

/// What became of one node.
pub enum Decoded<T> {
    Row(T),
    /// Left out by the config's filters: deleted locally if it was stored.
    Filtered,
    /// A type intelmatch has no use for (an observable with nothing to match,
    /// one of a type newer than this code, a relationship to a malware):
    /// counted by the reason given, not stored.
    Skipped(String),
}

impl<T> Decoded<T> {
    /// Pushes a row into `rows`, leaving what else the node became.
    pub fn push_into(self, rows: &mut Vec<T>) -> Decoded<()> {
        match self {
            Decoded::Row(r) => {
                rows.push(r);
                Decoded::Row(())
            }
            Decoded::Filtered => Decoded::Filtered,
            Decoded::Skipped(why) => Decoded::Skipped(why),
        }
    }
}

/// The config's filters (`min_score`, `entity_types`, labels, markings,
/// `created_by`), applied locally so that a node moving out of them is seen
/// and removed (a server-side filter would hide the change).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    min_score: Option<i64>,
    entity_types: Vec<String>,
    labels_include: Vec<String>,
    labels_exclude: Vec<String>,
    markings_exclude: Vec<String>,
    created_by: Vec<String>,
}

fn lowered(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_lowercase()).collect()
}

impl Filters {
    pub fn new(cfg: &OpenCtiConfig) -> Filters {
        Filters {
            min_score: cfg.min_score,
            entity_types: lowered(&cfg.entity_types),
            labels_include: lowered(&cfg.labels_include),
            labels_exclude: lowered(&cfg.labels_exclude),
            markings_exclude: lowered(&cfg.markings_exclude),
            created_by: lowered(&cfg.created_by),
        }
    }

    /// Labels, markings and author, common to indicators and observables.
    fn common(&self, labels: &[String], markings: &[String], author: Option<&str>) -> bool {
        let has = |list: &[String], set: &[String]| {
            list.iter().any(|l| set.contains(&l.trim().to_lowercase()))
        };
        if !self.labels_include.is_empty() && !has(labels, &self.labels_include) {
            return false;
        }
        if has(labels, &self.labels_exclude) || has(markings, &self.markings_exclude) {
            return false;
        }
        if !self.created_by.is_empty() {
            let author = author.map(|a| a.trim().to_lowercase());
            if !author.is_some_and(|a| self.created_by.contains(&a)) {
                return false;
            }
        }
        true
    }

    fn keeps_indicator(&self, row: &IndicatorRow, main_type: Option<&str>) -> bool {
        if let (Some(min), Some(score)) = (self.min_score, row.score) {
            if score < min {
                return false;
            }
        }
        if !self.entity_types.is_empty() {
            let t = main_type.map(str::to_lowercase);
            if !t.is_some_and(|t| self.entity_types.contains(&t)) {
                return false;
            }
        }
        self.common(&row.labels, &row.markings, row.created_by.as_deref())
    }

    fn keeps_observable(&self, row: &ObservableRow, opencti_type: &str) -> bool {
        if !self.entity_types.is_empty()
            && !self.entity_types.contains(&opencti_type.to_lowercase())
        {
            return false;
        }
        self.common(&row.labels, &row.markings, row.created_by.as_deref())
    }
}

fn string(node: &Value, key: &str) -> Option<String> {
    node.get(key).and_then(Value::as_str).map(str::to_string)
}

fn integer(node: &Value, key: &str) -> Option<i64> {
    let v = node.get(key)?;
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// The items of a list-or-connection field.
fn items(field: Option<&Value>) -> Vec<&Value> {
    match field {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Object(conn)) => match conn.get("edges") {
            Some(Value::Array(edges)) => edges.iter().filter_map(|e| e.get("node")).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn labels(node: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in items(node.get("objectLabel")) {
        if let Some(v) = l.get("value").and_then(Value::as_str) {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// Marking names as OpenCTI shows them (`TLP:AMBER`, `PAP:RED`).
fn markings(node: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in items(node.get("objectMarking")) {
        if let Some(v) = m.get("definition").and_then(Value::as_str) {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn author(node: &Value) -> Option<String> {
    let by = node.get("createdBy")?;
    string(by, "name").or_else(|| string(by, "id"))
}

/// The node's id, required everywhere.
fn id(node: &Value) -> Result<String, String> {
    match node.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err("node without an id".into()),
    }
}

pub fn indicator(
    node: &Value,
    base: &str,
    filters: &Filters,
) -> Result<Decoded<IndicatorRow>, String> {
    let id = id(node)?;
    let pattern = string(node, "pattern").filter(|p| !p.trim().is_empty());
    let pattern_type = string(node, "pattern_type")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "stix".into());
    let main_type = string(node, "x_opencti_main_observable_type");
    let mut extra = Map::new();
    if let Some(t) = &main_type {
        extra.insert("main_observable_type".into(), Value::String(t.clone()));
    }
    if let Some(types) = node.get("indicator_types").filter(|v| v.is_array()) {
        extra.insert("indicator_types".into(), types.clone());
    }
    extra.insert("opencti_id".into(), Value::String(id.clone()));
    let row = IndicatorRow {
        link: Some(format!("{base}/dashboard/observations/indicators/{id}")),
        standard_id: string(node, "standard_id"),
        record_kind: RecordKind::Indicator,
        name: string(node, "name")
            .filter(|n| !n.trim().is_empty())
            .or_else(|| pattern.clone())
            .unwrap_or_else(|| id.clone()),
        description: string(node, "description").filter(|d| !d.is_empty()),
        pattern,
        pattern_type: Some(pattern_type),
        values: Vec::new(),
        score: integer(node, "x_opencti_score"),
        confidence: integer(node, "confidence"),
        revoked: node
            .get("revoked")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        detection: node.get("x_opencti_detection").and_then(Value::as_bool),
        valid_from: string(node, "valid_from"),
        valid_until: string(node, "valid_until"),
        labels: labels(node),
        markings: markings(node),
        created_by: author(node),
        created_at: string(node, "created_at"),
        updated_at: string(node, "updated_at"),
        extra,
        ext_id: id,
    };
    Ok(if filters.keeps_indicator(&row, main_type.as_deref()) {
        Decoded::Row(row)
    } else {
        Decoded::Filtered
    })
}

/// The kind of a hash algorithm as OpenCTI spells it (`MD5`, `SHA-256`, ...);
/// `None` for one without an exact-match slot (`SSDEEP`, `TLSH`, `SHA3-256`).
fn hash_kind(algorithm: &str) -> Option<Kind> {
    let squashed: String = algorithm
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    match squashed.as_str() {
        "MD5" => Some(Kind::Md5),
        "SHA1" => Some(Kind::Sha1),
        "SHA256" => Some(Kind::Sha256),
        "SHA512" => Some(Kind::Sha512),
        _ => None,
    }
}

/// Every hash of a `hashes` list, strongest first; `generic` stores them all
/// as [`Kind::Hash`] (certificate fingerprints are not file hashes). Hashes
/// of other algorithms are counted in `skipped`.
fn hashes(node: &Value, generic: bool, skipped: &mut BTreeMap<String, u64>) -> Vec<(Kind, String)> {
    let rank = |k: Kind| match k {
        Kind::Sha512 => 0,
        Kind::Sha256 => 1,
        Kind::Sha1 => 2,
        _ => 3,
    };
    let mut out: Vec<(u8, Kind, String)> = Vec::new();
    for h in items(node.get("hashes")) {
        let (Some(alg), Some(value)) = (
            h.get("algorithm").and_then(Value::as_str),
            h.get("hash").and_then(Value::as_str).map(str::trim),
        ) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        match hash_kind(alg) {
            Some(kind) => {
                let stored = if generic { Kind::Hash } else { kind };
                out.push((rank(kind), stored, value.to_string()));
            }
            None => {
                *skipped
                    .entry(format!("hash algorithm {}", alg.trim()))
                    .or_default() += 1
            }
        }
    }
    out.sort_by_key(|(r, _, _)| *r);
    out.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// STIX type of an OpenCTI observable entity type (`StixFile` → `file`).
fn stix_type(entity_type: &str) -> String {
    match entity_type {
        "StixFile" => "file".to_string(),
        t => t.to_ascii_lowercase(),
    }
}

/// An observable; hashes of unknown algorithms are counted in `skipped`.
pub fn observable(
    node: &Value,
    base: &str,
    filters: &Filters,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<Decoded<ObservableRow>, String> {
    let id = id(node)?;
    let entity_type = string(node, "entity_type").unwrap_or_default();
    let value = string(node, "observable_value").filter(|v| !v.trim().is_empty());
    let single = |kind: Kind| value.clone().map(|v| vec![(kind, v)]).unwrap_or_default();
    let values = match entity_type.as_str() {
        "IPv4-Addr" => single(Kind::Ipv4),
        "IPv6-Addr" => single(Kind::Ipv6),
        "Domain-Name" | "Hostname" => single(Kind::Domain),
        "Url" => single(Kind::Url),
        "Email-Addr" => single(Kind::Email),
        "User-Agent" => single(Kind::UserAgent),
        "Mutex" => single(Kind::Mutex),
        "Windows-Registry-Key" => match string(node, "attribute_key").filter(|k| !k.is_empty()) {
            Some(k) => vec![(Kind::Regkey, k)],
            None => single(Kind::Regkey),
        },
        "StixFile" | "Artifact" => {
            let mut v = hashes(node, false, skipped);
            if let Some(name) = string(node, "name").filter(|n| !n.trim().is_empty()) {
                v.push((Kind::Filename, name));
            }
            v
        }
        "X509-Certificate" => hashes(node, true, skipped),
        // AIPrompt, IMEI, ICCID, IMSI (7.x), Text, Autonomous-System, ...
        _ => return Ok(Decoded::Skipped(format!("type {entity_type}"))),
    };
    if values.is_empty() {
        if node
            .get("hashes")
            .is_some_and(|h| !items(Some(h)).is_empty())
        {
            return Ok(Decoded::Skipped(format!(
                "{entity_type} with hashes of other algorithms only"
            )));
        }
        return Err(format!("{entity_type} without a value"));
    }
    let mut extra = Map::new();
    extra.insert("opencti_id".into(), Value::String(id.clone()));
    extra.insert("opencti_type".into(), Value::String(entity_type.clone()));
    let row = ObservableRow {
        link: Some(format!("{base}/dashboard/observations/observables/{id}")),
        standard_id: string(node, "standard_id"),
        entity_type: stix_type(&entity_type),
        display_value: value.unwrap_or_else(|| values[0].1.clone()),
        values,
        score: integer(node, "x_opencti_score"),
        labels: labels(node),
        markings: markings(node),
        created_by: author(node),
        updated_at: string(node, "updated_at"),
        extra,
        ext_id: id,
    };
    Ok(if filters.keeps_observable(&row, &entity_type) {
        Decoded::Row(row)
    } else {
        Decoded::Filtered
    })
}

/// Whether an end of a relationship can be stored (an indicator or an
/// observable with a matchable value); other ends never make a hit.
fn storable_end(entity_type: &str) -> bool {
    matches!(
        entity_type,
        "Indicator"
            | "IPv4-Addr"
            | "IPv6-Addr"
            | "Domain-Name"
            | "Hostname"
            | "Url"
            | "Email-Addr"
            | "User-Agent"
            | "Mutex"
            | "Windows-Registry-Key"
            | "StixFile"
            | "Artifact"
            | "X509-Certificate"
    )
}

pub fn relationship(node: &Value) -> Result<Decoded<RelationshipRow>, String> {
    let id = id(node)?;
    let required = |key: &str| {
        string(node, key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{key} missing"))
    };
    let from_type = string(node, "fromType").unwrap_or_default();
    let to_type = string(node, "toType").unwrap_or_default();
    if !storable_end(&from_type) || !storable_end(&to_type) {
        return Ok(Decoded::Skipped(
            "relationships to other than indicators and observables".into(),
        ));
    }
    Ok(Decoded::Row(RelationshipRow {
        relationship_type: required("relationship_type")?,
        from_id: required("fromId")?,
        to_id: required("toId")?,
        confidence: integer(node, "confidence"),
        revoked: node
            .get("revoked")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        start_time: string(node, "start_time"),
        stop_time: string(node, "stop_time"),
        updated_at: string(node, "updated_at"),
        ext_id: id,
    }))
}

/// One page of a connection: its nodes and `pageInfo`.
pub struct Page {
    pub nodes: Vec<Value>,
    pub end_cursor: Option<String>,
    pub has_next: bool,
    pub global_count: Option<u64>,
}

impl Page {
    /// The connection under `data.<root>`.
    pub fn from_data(mut data: Value, root: &str) -> Result<Page, String> {
        let conn = match data.get_mut(root).map(Value::take) {
            Some(c @ Value::Object(_)) => c,
            Some(Value::Null) | None => return Err(format!("`{root}` missing from the reply")),
            Some(_) => return Err(format!("`{root}` is not a connection")),
        };
        let info = conn.get("pageInfo");
        let end_cursor = info
            .and_then(|i| i.get("endCursor"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let has_next = info
            .and_then(|i| i.get("hasNextPage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let global_count = info
            .and_then(|i| i.get("globalCount"))
            .and_then(Value::as_u64);
        let nodes = match conn {
            Value::Object(mut m) => match m.remove("edges") {
                Some(Value::Array(edges)) => edges
                    .into_iter()
                    .filter_map(|mut e| e.get_mut("node").map(Value::take))
                    .filter(|n| !n.is_null())
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        Ok(Page {
            nodes,
            end_cursor,
            has_next,
            global_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> OpenCtiConfig {
        OpenCtiConfig::new("https://cti.example", crate::Secret::literal("t"))
    }

    #[test]
    fn labels_and_markings_read_in_both_shapes() {
        let lists =
            json!({"objectLabel": [{"value": "c2"}], "objectMarking": [{"definition": "TLP:RED"}]});
        let edges = json!({"objectLabel": {"edges": [{"node": {"value": "c2"}}]},
                           "objectMarking": {"edges": [{"node": {"definition": "TLP:RED"}}]}});
        for n in [lists, edges] {
            assert_eq!(labels(&n), vec!["c2"]);
            assert_eq!(markings(&n), vec!["TLP:RED"]);
        }
    }

    #[test]
    fn file_hashes_strongest_first_then_name() {
        let node = json!({"id": "o1", "entity_type": "StixFile", "observable_value": "x.exe",
            "name": "x.exe", "hashes": [{"algorithm": "MD5", "hash": "AA"},
                                        {"algorithm": "SHA-256", "hash": "BB"}]});
        let mut skipped = BTreeMap::new();
        let Decoded::Row(row) =
            observable(&node, "https://b", &Filters::default(), &mut skipped).unwrap()
        else {
            panic!("no row");
        };
        assert_eq!(
            row.values,
            vec![
                (Kind::Sha256, "BB".into()),
                (Kind::Md5, "AA".into()),
                (Kind::Filename, "x.exe".into())
            ]
        );
        assert_eq!(row.entity_type, "file");
    }

    #[test]
    fn filters_drop_by_score_marking_label_and_author() {
        let mut c = cfg();
        c.min_score = Some(50);
        c.markings_exclude = vec!["tlp:red".into()];
        c.labels_exclude = vec!["noisy".into()];
        c.created_by = vec!["ACME CERT".into()];
        let f = Filters::new(&c);
        let base = json!({"id": "i", "pattern": "[ipv4-addr:value = '192.0.2.1']",
                          "x_opencti_score": 80, "createdBy": {"name": "acme cert"}});
        let kept = |n: &Value| matches!(indicator(n, "b", &f).unwrap(), Decoded::Row(_));
        assert!(kept(&base));
        let mut low = base.clone();
        low["x_opencti_score"] = json!(10);
        assert!(!kept(&low));
        let mut red = base.clone();
        red["objectMarking"] = json!([{"definition": "TLP:RED"}]);
        assert!(!kept(&red));
        let mut noisy = base.clone();
        noisy["objectLabel"] = json!([{"value": "Noisy"}]);
        assert!(!kept(&noisy));
        let mut other = base.clone();
        other["createdBy"] = json!({"name": "someone"});
        assert!(!kept(&other));
    }

    #[test]
    fn relationships_to_other_objects_are_skipped() {
        let r = json!({"id": "r", "relationship_type": "related-to", "fromId": "a",
                       "fromType": "Domain-Name", "toId": "b", "toType": "Malware"});
        assert!(matches!(relationship(&r).unwrap(), Decoded::Skipped(_)));
    }

    #[test]
    fn new_types_and_other_hash_algorithms_are_counted_not_errors() {
        let mut skipped = BTreeMap::new();
        let f = Filters::default();
        let prompt =
            json!({"id": "o1", "entity_type": "AIPrompt", "observable_value": "ignore all"});
        let Decoded::Skipped(why) = observable(&prompt, "b", &f, &mut skipped).unwrap() else {
            panic!("AIPrompt is not stored");
        };
        assert_eq!(why, "type AIPrompt");
        let fuzzy = json!({"id": "o2", "entity_type": "StixFile", "observable_value": "x",
            "hashes": [{"algorithm": "SSDEEP", "hash": "3:a:b"}, {"algorithm": "MD5", "hash": "aa"}]});
        let Decoded::Row(row) = observable(&fuzzy, "b", &f, &mut skipped).unwrap() else {
            panic!("the MD5 is kept");
        };
        assert_eq!(row.values, vec![(Kind::Md5, "aa".into())]);
        let only = json!({"id": "o3", "entity_type": "StixFile",
            "hashes": [{"algorithm": "TLSH", "hash": "T1abc"}]});
        assert!(matches!(
            observable(&only, "b", &f, &mut skipped).unwrap(),
            Decoded::Skipped(_)
        ));
        assert_eq!(skipped["hash algorithm SSDEEP"], 1);
        assert_eq!(skipped["hash algorithm TLSH"], 1);
    }
}
