//! `type = "stix"`: a STIX 2.1 bundle file, or a directory of `*.json` bundles.
//!
//! Indicators become [`IndicatorRow`]s (their patterns pass through untouched:
//! the store compiles them and counts failures), cyber observables with a
//! matchable value become [`ObservableRow`]s, relationships (and the
//! `resolves_to_refs` of domain names) become [`RelationshipRow`]s. Marking
//! definitions and identities are read from every file first-come, then used to
//! name the markings and the author of each row, so a bundle may reference
//! definitions that live in another file of the directory.
//!
//! Files are parsed one at a time and reduced to rows before the next one is
//! read, so memory follows the number of rows, not the size of the JSON.

use std::collections::{BTreeMap, HashMap};

use matcher::{Kind, RecordKind};
use serde_json::{Map, Value};

use super::fingerprint::{Fnv128, InputFile, Inputs, Select};
use super::{cap_rejects, parse_json, push_unique, shown, FileSourceError, Loaded};
use crate::batch::{Batch, IndicatorRow, ObservableRow, Reject, RelationshipRow};
use crate::config::StixConfig;

/// The extension OpenCTI uses for its own properties on SDOs and SROs.
const OPENCTI_EXT: &str = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba";
/// The extension OpenCTI uses for its own properties on SCOs.
const OPENCTI_SCO_EXT: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";

/// The TLP marking definitions predefined by STIX 2.1 (TLP 1.0) and by the
/// OASIS TLP 2.0 extension. Bundles often reference them without including them.
const STANDARD_MARKINGS: &[(&str, &str)] = &[
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "TLP:WHITE",
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "TLP:GREEN",
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "TLP:AMBER",
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        "TLP:RED",
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
    ),
];

/// Cyber observable types (STIX 2.1 and OpenCTI's custom ones) that carry
/// nothing intelmatch can match. They are rejected, once per type with a
/// count, because an intel producer may expect them to be used; SDOs such as
/// `identity` or `malware` are merely counted as skipped.
const UNUSABLE_SCOS: &[&str] = &[
    "autonomous-system",
    "bank-account",
    "credential",
    "cryptocurrency-wallet",
    "cryptographic-key",
    "directory",
    "email-message",
    "email-mime-part-type",
    "mac-addr",
    "media-content",
    "network-traffic",
    "payment-card",
    "persona",
    "phone-number",
    "process",
    "software",
    "ssh-key",
    "text",
    "tracking-number",
    "user-account",
    "windows-registry-value-type",
];

/// The fingerprint of the source as it is now, without reading any file.
pub fn fingerprint(cfg: &StixConfig) -> Result<String, FileSourceError> {
    Ok(Inputs::collect(&cfg.path, Select::JsonTree)?.fingerprint("stix", cfg))
}

/// Reads the bundle (or every `*.json` bundle below the directory) into one
/// snapshot batch.
pub fn load(cfg: &StixConfig, source_name: &str) -> Result<Loaded, FileSourceError> {
    let inputs = Inputs::collect(&cfg.path, Select::JsonTree)?;
    let fingerprint = inputs.fingerprint("stix", cfg);
    let mut acc = Accumulator::default();
    let mut files = 0;
    for file in &inputs.files {
        let bytes = match std::fs::read(&file.path) {
            Ok(b) => b,
            // Removed since it was listed: it is no longer part of the source.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(FileSourceError::from_io(file.path.clone(), e)),
        };
        files += 1;
        let first_reject = acc.rejects.len();
        acc.read_file(file, &bytes);
        cap_rejects(&mut acc.rejects, first_reject, &file.display());
    }
    let loaded = acc.finish(fingerprint, files);
    tracing::debug!(
        source = source_name,
        files,
        indicators = loaded.batch.indicators.len(),
        observables = loaded.batch.observables.len(),
        relationships = loaded.batch.relationships.len(),
        rejects = loaded.batch.rejects.len(),
        snapshot = loaded.batch.snapshot,
        "read STIX bundles"
    );
    Ok(loaded)
}

/// A row, before markings and authors are resolved.
#[derive(Debug)]
enum Item {
    Indicator(IndicatorRow),
    /// With the relationships derived from its embedded refs.
    Observable(ObservableRow, Vec<RelationshipRow>),
    Relationship(RelationshipRow),
}

/// An id already read: where its row is (if it made one), a hash of its JSON
/// (identical copies in several bundles are normal and silently merged), and
/// the file it came from.
struct Seen {
    slot: Option<usize>,
    hash: u128,
    /// `modified`, for choosing between versions of one id.
    modified: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// The `skipped` entry counting definitions of an id that a later-`modified`
/// one replaced: versions, not errors, so they stay out of the rejects.
pub const SUPERSEDED: &str = "superseded version of a repeated id (an older `modified`)";

/// Everything read so far, over all files.
struct Accumulator {
    items: Vec<Option<Item>>,
    seen: HashMap<String, Seen>,
    markings: HashMap<String, String>,
    identities: HashMap<String, String>,
    /// Unusable SCO type → (first object, count).
    unusable: BTreeMap<String, (String, usize)>,
    skipped: BTreeMap<String, usize>,
    rejects: Vec<Reject>,
    complete: bool,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            items: Vec::new(),
            seen: HashMap::new(),
            markings: HashMap::new(),
            identities: HashMap::new(),
            unusable: BTreeMap::new(),
            skipped: BTreeMap::new(),
            rejects: Vec::new(),
            complete: true,
        }
    }
}

impl Accumulator {
    fn reject(&mut self, item: String, reason: impl Into<String>) {
        self.rejects.push(Reject {
            item,
            reason: reason.into(),
        });
    }

    /// A file that cannot be used at all: its intel is unknown, not gone.
    fn reject_file(&mut self, file: &InputFile, reason: impl Into<String>) {
        self.complete = false;
        self.reject(file.display(), reason);
    }

    fn read_file(&mut self, file: &InputFile, bytes: &[u8]) {
        let value = match parse_json(bytes) {
            Ok(v) => v,
            Err(reason) => return self.reject_file(file, reason),
        };
        let Value::Object(mut top) = value else {
            return self.reject_file(file, "not a STIX bundle: the top level is not an object");
        };
        match top.get("type") {
            Some(Value::String(t)) if t == "bundle" => {}
            Some(Value::String(t)) => {
                let reason = format!("not a STIX bundle: type is `{}`", shown(t));
                return self.reject_file(file, reason);
            }
            _ => return self.reject_file(file, "not a STIX bundle: no `type`"),
        }
        let objects = match top.remove("objects") {
            // A bundle without objects is valid and empty.
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(objects)) => objects,
            Some(_) => return self.reject_file(file, "`objects` is not an array"),
        };
        for (index, object) in objects.into_iter().enumerate() {
            self.read_object(file, index, object);
        }
    }

    fn read_object(&mut self, file: &InputFile, index: usize, object: Value) {
        let Value::Object(obj) = object else {
            return self.reject(
                format!("{}: objects[{index}]", file.display()),
                "not a JSON object",
            );
        };
        let Some(id) = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return self.reject(
                format!("{}: objects[{index}]", file.display()),
                "id missing",
            );
        };
        let id = id.to_string();
        let item = format!("{}: {}", file.display(), shown(&id));
        let Some(ty) = obj.get("type").and_then(Value::as_str) else {
            return self.reject(item, "type missing");
        };
        let ty = ty.to_string();

        let hash = {
            let mut h = Fnv128::new();
            h.write(serde_json::to_string(&obj).unwrap_or_default().as_bytes());
            h.finish()
        };
        let modified = obj
            .get("modified")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        // For one id the latest `modified` wins whatever the file order (a
        // newer revoked version must not lose to an older live copy); on a
        // tie, or without dates, the one read last.
        let earlier = match self.seen.get(&id) {
            Some(seen) if seen.hash == hash => return,
            Some(seen) if matches!((modified, seen.modified), (Some(new), Some(old)) if new < old) =>
            {
                *self.skipped.entry(SUPERSEDED.to_string()).or_default() += 1;
                return;
            }
            Some(seen) => Some(seen.slot),
            None => None,
        };
        let duplicate = earlier.is_some();
        let earlier_slot = earlier.flatten();

        let new_item = match ty.as_str() {
            "indicator" => indicator(&id, &obj, file).map(Item::Indicator),
            "relationship" => relationship(&id, &obj).map(Item::Relationship),
            "marking-definition" => {
                self.markings.insert(id.clone(), marking_name(&obj, &id));
                Err(Skip::Counted)
            }
            "identity" => {
                if let Some(name) = obj.get("name").and_then(Value::as_str) {
                    self.identities.insert(id.clone(), name.to_string());
                }
                Err(Skip::Counted)
            }
            t if UNUSABLE_SCOS.contains(&t) => Err(Skip::Unusable),
            _ => match observable(&id, &ty, &obj, file) {
                Some(result) => result.map(|(row, rels)| Item::Observable(row, rels)),
                None => Err(Skip::Counted),
            },
        };

        // The replaced version is counted, not rejected (identities, markings
        // and other objects that make no row are not worth counting).
        if earlier_slot.is_some() {
            *self.skipped.entry(SUPERSEDED.to_string()).or_default() += 1;
        }

        let slot = match new_item {
            Ok(new_item) => match earlier_slot {
                Some(slot) => {
                    self.items[slot] = Some(new_item);
                    Some(slot)
                }
                None => {
                    self.items.push(Some(new_item));
                    Some(self.items.len() - 1)
                }
            },
            Err(skip) => {
                // Last wins even when the last one is unusable.
                if let Some(slot) = earlier_slot {
                    self.items[slot] = None;
                }
                match skip {
                    Skip::Rejected(reason) => self.reject(item.clone(), reason),
                    Skip::Counted if !duplicate => {
                        *self.skipped.entry(ty.clone()).or_default() += 1
                    }
                    Skip::Counted => {}
                    Skip::Unusable => {
                        let entry = self.unusable.entry(ty.clone()).or_insert((item.clone(), 0));
                        entry.1 += 1;
                    }
                }
                None
            }
        };
        self.seen.insert(
            id,
            Seen {
                slot,
                hash,
                modified,
            },
        );
    }

    fn finish(mut self, fingerprint: String, files: usize) -> Loaded {
        for (ty, (item, count)) in std::mem::take(&mut self.unusable) {
            let objects = if count == 1 { "object" } else { "objects" };
            self.reject(
                item,
                format!(
                    "type {ty} has no matchable value ({count} {objects} of this type skipped)"
                ),
            );
        }
        let mut batch = Batch {
            snapshot: self.complete,
            rejects: std::mem::take(&mut self.rejects),
            ..Batch::default()
        };
        for item in std::mem::take(&mut self.items).into_iter().flatten() {
            match item {
                Item::Indicator(mut row) => {
                    row.markings = self.marking_names(&row.markings);
                    row.created_by = row.created_by.map(|r| self.identity_name(r));
                    batch.indicators.push(row);
                }
                Item::Observable(mut row, rels) => {
                    row.markings = self.marking_names(&row.markings);
                    row.created_by = row.created_by.map(|r| self.identity_name(r));
                    batch.observables.push(row);
                    batch.relationships.extend(rels);
                }
                Item::Relationship(row) => batch.relationships.push(row),
            }
        }
        Loaded {
            batch,
            fingerprint,
            files,
            skipped: self.skipped,
        }
    }

    fn marking_names(&self, refs: &[String]) -> Vec<String> {
        let mut names = Vec::new();
        let resolved = refs.iter().map(|r| {
            STANDARD_MARKINGS
                .iter()
                .find(|(id, _)| id == r)
                .map(|(_, name)| name.to_string())
                .or_else(|| self.markings.get(r).cloned())
                // An unknown marking stays visible as its id rather than vanish.
                .unwrap_or_else(|| r.clone())
        });
        push_unique(&mut names, resolved);
        names
    }

    fn identity_name(&self, reference: String) -> String {
        self.identities
            .get(&reference)
            .cloned()
            .unwrap_or(reference)
    }
}

/// Why an object made no row.
enum Skip {
    Rejected(String),
    /// Not an object intelmatch imports (SDOs, markings, identities, ...).
    Counted,
    /// A cyber observable with nothing matchable.
    Unusable,
}

/// The name shown for a marking definition.
fn marking_name(obj: &Map<String, Value>, id: &str) -> String {
    let tlp = |level: &str| format!("TLP:{}", level.trim().to_ascii_uppercase());
    let definition = obj.get("definition");
    let is_tlp = obj
        .get("definition_type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("tlp"));
    if is_tlp {
        if let Some(level) = definition
            .and_then(|d| d.get("tlp"))
            .and_then(Value::as_str)
        {
            return tlp(level);
        }
    }
    // TLP 2.0 marking objects carry the level in their extension.
    if let Some(Value::Object(exts)) = obj.get("extensions") {
        if let Some(level) = exts
            .values()
            .find_map(|e| e.get("tlp_2_0").and_then(Value::as_str))
        {
            return tlp(level);
        }
    }
    [
        obj.get("name"),
        obj.get("x_opencti_definition"),
        definition.filter(|d| d.is_string()),
        definition.and_then(|d| d.get("statement")),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
    .map(str::to_string)
    .unwrap_or_else(|| id.to_string())
}

/// A property OpenCTI may put at the top level (`x_opencti_<key>`) or in one of
/// its extensions (`<key>`).
fn opencti<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(&format!("x_opencti_{key}")).or_else(|| {
        let exts = obj.get("extensions")?;
        [OPENCTI_EXT, OPENCTI_SCO_EXT]
            .iter()
            .find_map(|ext| exts.get(ext)?.get(key))
    })
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(as_string)
}

fn as_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// An integer, tolerating `80.0` (some exporters write every number as float).
fn integer(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(as_string).collect(),
        _ => Vec::new(),
    }
}

fn labels(obj: &Map<String, Value>) -> Vec<String> {
    let mut out = strings(obj.get("labels"));
    push_unique(&mut out, strings(opencti(obj, "labels")));
    out
}

fn created_by_ref(obj: &Map<String, Value>) -> Option<String> {
    obj.get("created_by_ref")
        .or_else(|| opencti(obj, "created_by_ref"))
        .and_then(as_string)
}

/// Provenance common to every row: the file and OpenCTI's internal id.
fn provenance(obj: &Map<String, Value>, file: &InputFile) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("file".into(), Value::String(file.rel.clone()));
    if let Some(internal) = opencti(obj, "id").and_then(as_string) {
        extra.insert("opencti_id".into(), Value::String(internal));
    }
    extra
}

fn indicator(id: &str, obj: &Map<String, Value>, file: &InputFile) -> Result<IndicatorRow, Skip> {
    let pattern = match obj.get("pattern") {
        None | Some(Value::Null) => return Err(Skip::Rejected("pattern missing".into())),
        Some(Value::String(p)) if p.trim().is_empty() => {
            return Err(Skip::Rejected("pattern is empty".into()))
        }
        Some(Value::String(p)) => p.clone(),
        Some(_) => return Err(Skip::Rejected("pattern is not a string".into())),
    };
    let pattern_type = string(obj, "pattern_type")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "stix".into());
    let mut extra = provenance(obj, file);
    if let Some(types) = obj.get("indicator_types").filter(|v| v.is_array()) {
        extra.insert("indicator_types".into(), types.clone());
    }
    if let Some(main) = opencti(obj, "main_observable_type").and_then(as_string) {
        extra.insert("main_observable_type".into(), Value::String(main));
    }
    Ok(IndicatorRow {
        ext_id: id.to_string(),
        record_kind: RecordKind::Indicator,
        standard_id: None,
        name: string(obj, "name")
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| pattern.clone()),
        description: string(obj, "description"),
        pattern: Some(pattern),
        pattern_type: Some(pattern_type),
        values: Vec::new(),
        score: integer(opencti(obj, "score")),
        confidence: integer(obj.get("confidence")),
        revoked: obj.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        detection: opencti(obj, "detection").and_then(Value::as_bool),
        valid_from: string(obj, "valid_from"),
        valid_until: string(obj, "valid_until"),
        labels: labels(obj),
        // Refs for now; named once every file has been read.
        markings: strings(obj.get("object_marking_refs")),
        created_by: created_by_ref(obj),
        created_at: string(obj, "created"),
        updated_at: string(obj, "modified"),
        link: None,
        extra,
    })
}

fn relationship(id: &str, obj: &Map<String, Value>) -> Result<RelationshipRow, Skip> {
    let required = |key: &str| {
        string(obj, key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Skip::Rejected(format!("{key} missing")))
    };
    Ok(RelationshipRow {
        ext_id: id.to_string(),
        relationship_type: required("relationship_type")?,
        from_id: required("source_ref")?,
        to_id: required("target_ref")?,
        confidence: integer(obj.get("confidence")),
        revoked: obj.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        start_time: string(obj, "start_time"),
        stop_time: string(obj, "stop_time"),
        updated_at: string(obj, "modified"),
    })
}

/// The kind of a `hashes` key: the four STIX hash names (spelled loosely)
/// have their own kinds, every other algorithm is [`Kind::Hash`].
fn hash_kind(algorithm: &str) -> Kind {
    let squashed: String = algorithm
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match squashed.as_str() {
        "MD5" => Kind::Md5,
        "SHA1" => Kind::Sha1,
        "SHA256" => Kind::Sha256,
        "SHA512" => Kind::Sha512,
        _ => Kind::Hash,
    }
}

/// Every hash of a `hashes` dictionary, strongest first (the order OpenCTI
/// uses to pick an observable's display value), then the rest by algorithm.
fn hashes(obj: &Map<String, Value>, all_generic: bool) -> Vec<(Kind, String)> {
    let Some(Value::Object(hashes)) = obj.get("hashes") else {
        return Vec::new();
    };
    let rank = |k: Kind| match k {
        Kind::Sha512 => 0,
        Kind::Sha256 => 1,
        Kind::Sha1 => 2,
        Kind::Md5 => 3,
        _ => 4,
    };
    let mut out: Vec<(u8, Kind, String)> = hashes
        .iter()
        .filter_map(|(alg, v)| {
            let v = v.as_str()?.trim();
            (!v.is_empty()).then(|| {
                let kind = hash_kind(alg);
                let stored = if all_generic { Kind::Hash } else { kind };
                (rank(kind), stored, v.to_string())
            })
        })
        .collect();
    // Map iteration is by algorithm name, so the sort is deterministic.
    out.sort_by_key(|(r, _, _)| *r);
    out.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// The matchable values of a cyber observable: `None` when the type is not an
/// observable intelmatch knows (then it is counted as skipped), else the row
/// or why this object cannot make one.
fn observable(
    id: &str,
    ty: &str,
    obj: &Map<String, Value>,
    file: &InputFile,
) -> Option<Result<(ObservableRow, Vec<RelationshipRow>), Skip>> {
    let single = |key: &str, kind: Kind| -> Result<Vec<(Kind, String)>, Skip> {
        match obj.get(key) {
            Some(Value::String(v)) if !v.trim().is_empty() => Ok(vec![(kind, v.clone())]),
            Some(Value::String(_)) => Err(Skip::Rejected(format!("{key} is empty"))),
            None | Some(Value::Null) => Err(Skip::Rejected(format!("{key} missing"))),
            Some(_) => Err(Skip::Rejected(format!("{key} is not a string"))),
        }
    };
    let values = match ty {
        "ipv4-addr" => single("value", Kind::Ipv4),
        "ipv6-addr" => single("value", Kind::Ipv6),
        "domain-name" | "hostname" => single("value", Kind::Domain),
        "url" => single("value", Kind::Url),
        "email-addr" => single("value", Kind::Email),
        "user-agent" => single("value", Kind::UserAgent),
        "windows-registry-key" => single("key", Kind::Regkey),
        "mutex" => single("name", Kind::Mutex),
        // An artifact's hashes are those of a payload, as good as a file's.
        "file" | "artifact" => {
            let mut values = hashes(obj, false);
            if let Some(name) = string(obj, "name").filter(|n| !n.trim().is_empty()) {
                values.push((Kind::Filename, name));
            }
            if values.is_empty() {
                Err(Skip::Rejected("no hashes and no name".into()))
            } else {
                Ok(values)
            }
        }
        "x509-certificate" => {
            let values = hashes(obj, true);
            if values.is_empty() {
                Err(Skip::Rejected("no hashes".into()))
            } else {
                Ok(values)
            }
        }
        _ => return None,
    };
    Some(values.map(|values| {
        let updated_at =
            string(obj, "modified").or_else(|| opencti(obj, "updated_at").and_then(as_string));
        let mut rels = Vec::new();
        if ty == "domain-name" {
            for target in strings(obj.get("resolves_to_refs")) {
                rels.push(RelationshipRow {
                    // Derived from the pair, so it is the same on every load.
                    ext_id: format!("{id}+resolves-to+{target}"),
                    relationship_type: "resolves-to".into(),
                    from_id: id.to_string(),
                    to_id: target,
                    updated_at: updated_at.clone(),
                    ..RelationshipRow::default()
                });
            }
        }
        let row = ObservableRow {
            ext_id: id.to_string(),
            standard_id: None,
            entity_type: ty.to_string(),
            display_value: values[0].1.clone(),
            values,
            score: integer(opencti(obj, "score")),
            labels: labels(obj),
            markings: strings(obj.get("object_marking_refs")),
            created_by: created_by_ref(obj),
            updated_at,
            link: None,
            extra: provenance(obj, file),
        };
        (row, rels)
    }))
}
