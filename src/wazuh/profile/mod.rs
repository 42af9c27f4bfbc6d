//! Turning hits into the events each profile sends to Wazuh (contract §5).
//!
//! - [`Profile::Native`]: intelmatch's own layout (§5.1);
//! - [`Profile::Opencti`]: a drop-in for both community `custom-opencti` scripts, so the
//!   misje rules 100210–100215 and the SOCFortress/juaromu rules 100623–100625 fire (§5.2);
//! - [`Profile::Misp`]: a drop-in for the SOCFortress `custom-misp` script, rules
//!   100620–100622 (§5.3).
//!
//! [`events`] orders the hits best first, applies the profile's dedup rules and the
//! cap, and renders one JSON object per event. The caller wraps each in a datagram.
//!
//! Every profile writes only fields that carry something: Wazuh's JSON decoder turns
//! `null` into the string `"null"` and every leaf costs one of its 256 decoder fields
//! (reference/wazuh.md §3.3, §4). The only top-level keys are `integration` and the
//! profile's object, so nothing collides with the decoder's static fields (`id`,
//! `url`, `srcip`, ...) and no stock root rule (Suricata's `timestamp` + `event_type`)
//! captures the events first.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use matcher::{HitMethod, Kind, Record, RecordKind};
use serde_json::{Map, Value};

mod misp;
mod native;
mod opencti;

#[cfg(test)]
mod seed_rules;

/// The shape of the events sent to Wazuh (contract §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Native,
    Opencti,
    Misp,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Native, Profile::Opencti, Profile::Misp];

    /// The name used in the config and the options file.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Native => "native",
            Profile::Opencti => "opencti",
            Profile::Misp => "misp",
        }
    }

    /// The profile an integration file name stands for: `custom-opencti` and
    /// `custom-misp` are the drop-in names; any other name has none.
    pub fn for_integration_name(name: &str) -> Option<Profile> {
        match name {
            "custom-opencti" => Some(Profile::Opencti),
            "custom-misp" => Some(Profile::Misp),
            _ => None,
        }
    }

    /// The location tag of the datagrams, which is also the `integration` value
    /// where the profile sends one.
    pub fn tag(self) -> &'static str {
        match self {
            Profile::Native => "intelmatch",
            Profile::Opencti => "opencti",
            Profile::Misp => "misp",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a profile name that is none of `native`, `opencti`, `misp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile `{0}` (expected one of: native, opencti, misp)")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

/// One hit ready to render: the alert value, how it matched and the record it hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedHit {
    /// Dotted path of the alert field the value came from (`data.win.eventdata.queryName`).
    pub field: String,
    /// Normalised kind of the alert value.
    pub kind: Kind,
    /// The value as looked up.
    pub value: String,
    pub method: HitMethod,
    /// The intel key that matched: the value itself, the network, the parent domain, ...
    pub matched: String,
    pub record: Record,
    /// Names of the warninglists that list the value (only when annotating).
    pub warninglists: Vec<String>,
    /// Weak evidence: a kind of `[matching] weak_kinds` (file names by default).
    /// Set by [`events`] from the options.
    pub weak: bool,
}

impl ResolvedHit {
    /// The method as reported: a record that exists to report a relationship is a
    /// `related` hit whatever key reached it.
    pub fn effective_method(&self) -> HitMethod {
        if self.record.related.is_some() {
            HitMethod::Related
        } else {
            self.method
        }
    }

    /// The record's identity across the hits of one alert.
    fn record_key(&self) -> (&str, &str) {
        (&self.record.source, &self.record.id)
    }
}

/// What the profiles need from the alert (taken from the alert JSON by the caller).
#[derive(Debug, Clone, Copy)]
pub struct AlertContext<'a> {
    /// The whole alert, for the `source` context copies.
    pub alert: &'a Value,
    /// integratord's `hook_url` (argv[3]) or the configured one; the base of OpenCTI
    /// dashboard links. Junk and empty strings are ignored.
    pub hook_url: Option<&'a str>,
    /// misp profile: add `"integration":"misp"` to hits.
    pub misp_integration_key: bool,
}

impl<'a> AlertContext<'a> {
    pub fn new(alert: &'a Value) -> AlertContext<'a> {
        AlertContext {
            alert,
            hook_url: None,
            misp_integration_key: false,
        }
    }
}

/// Limits and switches applied while rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileOptions {
    /// At most this many events per alert (`matching.max_events_per_alert`); 0 is
    /// read as 1, the config loader rejects it anyway.
    pub max_events: usize,
    /// opencti profile: report observables that have no (live) indicator as
    /// `event_type` `observable_only` (the fork's rule 100216) instead of dropping
    /// them as both community scripts' rule packs expect.
    pub observable_only: bool,
    /// opencti profile: keep revoked or expired indicators listed on an observable
    /// (`matching.include_revoked`). The lookup already filters the records it hits;
    /// these lists come from the record itself.
    pub include_revoked: bool,
    /// opencti profile: ignore listed indicators scored below this (`matching.min_score`).
    pub min_score: i64,
    /// Kinds whose hits are weak evidence (`matching.weak_kinds`).
    pub weak_kinds: Vec<Kind>,
    /// Send weak hits under the drop-in profiles too (`matching.send_weak_in_dropin`):
    /// their published rules cannot tell weak from strong.
    pub send_weak_in_dropin: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            max_events: 10,
            observable_only: false,
            include_revoked: false,
            min_score: 0,
            weak_kinds: vec![Kind::Filename],
            send_weak_in_dropin: false,
        }
    }
}

/// Orders hits best first, applies the per-profile dedup rules and the cap, and
/// renders one event per intel object.
pub fn events(
    profile: Profile,
    ctx: &AlertContext,
    mut hits: Vec<ResolvedHit>,
    opts: &ProfileOptions,
) -> Vec<Value> {
    // Warninglist entries only ever annotate or suppress; they are never a hit.
    hits.retain(|h| h.record.record_kind != RecordKind::Warninglist);
    for h in &mut hits {
        h.weak = is_weak(h, &opts.weak_kinds);
    }
    // The drop-in packs would page on a bare file name as on a hash.
    if profile != Profile::Native && !opts.send_weak_in_dropin {
        hits.retain(|h| !h.weak);
    }
    order(&mut hits, now());
    let cap = opts.max_events.max(1);
    match profile {
        Profile::Native => native::events(ctx, &hits, cap),
        Profile::Opencti => opencti::events(ctx, &hits, opts, cap),
        Profile::Misp => misp::events(ctx, &hits, cap),
    }
}

/// Weak evidence: a hit of a kind in `weak_kinds`, or an observable no indicator
/// is based on (indexed only with `observables = "report"`). A path matched
/// whole names one file at one place: it is no bare file name.
pub fn is_weak(hit: &ResolvedHit, weak_kinds: &[Kind]) -> bool {
    let bare_observable = hit.record.record_kind == RecordKind::Observable
        && !hit.record.extra.contains_key("indicators");
    bare_observable
        || (weak_kinds.contains(&hit.kind)
            && !(hit.kind == Kind::Filename && matcher::normalize::is_path(&hit.matched)))
}

/// The profile's error event (index missing or stale, last sync failed, ...). An
/// empty message still yields a non-empty `error`, which the rules test with `\.+`.
pub fn error_event(profile: Profile, message: &str) -> Value {
    let message = match message.trim() {
        "" => "unknown error",
        m => m,
    };
    match profile {
        Profile::Native => native::error_event(message),
        Profile::Opencti => opencti::error_event(message),
        Profile::Misp => misp::error_event(message),
    }
}

/// Best hits first: strong before weak, then method rank (exact, token, url_host,
/// cidr, parent_domain, substring, related), then score and confidence, highest
/// first. Revoked records
/// (only present with `include_revoked`) go after live ones of the same method;
/// detection and expiry break the remaining ties. The sort is stable, so equal hits
/// keep the caller's (alert field) order.
fn order(hits: &mut [ResolvedHit], now: i64) {
    hits.sort_by(|a, b| {
        a.weak
            .cmp(&b.weak)
            .then(
                a.effective_method()
                    .rank()
                    .cmp(&b.effective_method().rank()),
            )
            .then(a.record.revoked.cmp(&b.record.revoked))
            .then(desc(a.record.score, b.record.score))
            .then(desc(a.record.confidence, b.record.confidence))
            .then(detection_first(a.record.detection, b.record.detection))
            .then(
                expired(a.record.valid_until.as_deref(), now)
                    .cmp(&expired(b.record.valid_until.as_deref(), now)),
            )
    });
}

/// Descending order with absent values last.
fn desc(a: Option<i64>, b: Option<i64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// `x_opencti_detection = true` first; absent counts as false, as in misje's sort.
fn detection_first(a: Option<bool>, b: Option<bool>) -> Ordering {
    b.unwrap_or(false).cmp(&a.unwrap_or(false))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// True when an RFC 3339 `valid_until` lies at or before `now`. Unparseable or
/// absent times never expire (the lookup applies the same rule).
fn expired(valid_until: Option<&str>, now: i64) -> bool {
    valid_until
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
        .is_some_and(|t| t.timestamp() <= now)
}

/// The OpenCTI base URL from a hook URL as integratord passes it
/// (`https://opencti.example.org/graphql`): the trailing `graphql` is dropped with
/// or without slashes around it (misje's `removesuffix('graphql')` left
/// `…/graphql/dashboard/…` for a trailing slash). Anything that is not an http(s)
/// URL is junk from argv and yields `None`.
fn opencti_base(hook_url: &str) -> Option<String> {
    let url = hook_url.trim();
    let lower = url.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut base = url.trim_end_matches('/');
    if base.len() >= 8 && base[base.len() - 8..].eq_ignore_ascii_case("/graphql") {
        base = base[..base.len() - 8].trim_end_matches('/');
    }
    // Nothing but the scheme left: no host to link to.
    if base.len() <= scheme_len || base.contains(char::is_whitespace) {
        return None;
    }
    Some(base.to_string())
}

/// The OpenCTI base of a stored dashboard link (`<base>/dashboard/...`).
fn base_of_link(link: &str) -> Option<&str> {
    link.find("/dashboard/")
        .map(|i| &link[..i])
        .filter(|b| !b.is_empty())
}

/// The OpenCTI internal id of a record, when it has one: the record's own id for an
/// OpenCTI source, else the `x_opencti_id` a STIX export carried.
fn opencti_id(record: &Record) -> Option<&str> {
    if record.source_type == "opencti" {
        Some(record.id.as_str()).filter(|id| !id.is_empty())
    } else {
        extra_str(record, &["opencti_id"])
    }
}

/// `<base>/dashboard/observations/<section>/<id>`, `section` being `indicators` or
/// `observables`.
fn dashboard_link(base: &str, section: &str, id: &str) -> String {
    format!("{base}/dashboard/observations/{section}/{id}")
}

/// The first of `keys` in the record's `extra` that holds a non-empty string.
fn extra_str<'r>(record: &'r Record, keys: &[&str]) -> Option<&'r str> {
    keys.iter()
        .filter_map(|k| record.extra.get(*k))
        .find_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
}

/// Like [`extra_str`], but numbers count too (MISP ids arrive as either).
fn extra_text(record: &Record, keys: &[&str]) -> Option<String> {
    keys.iter()
        .filter_map(|k| record.extra.get(*k))
        .find_map(scalar_text)
}

/// A list of strings from the first of `keys` in `extra`: an array of strings, an
/// array of objects (taking the first of `fields` each has), or a single string.
fn extra_list(record: &Record, keys: &[&str], fields: &[&str]) -> Vec<String> {
    let Some(v) = keys.iter().find_map(|k| record.extra.get(*k)) else {
        return Vec::new();
    };
    string_list(v, fields)
}

fn string_list(v: &Value, fields: &[&str]) -> Vec<String> {
    let one = |item: &Value| match item {
        Value::Object(o) => fields.iter().find_map(|f| o.get(*f).and_then(scalar_text)),
        other => scalar_text(other),
    };
    match v {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// A string, number or boolean as text; empty strings and everything else are `None`.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Longest string copied from the alert into an event: the context is a
/// courtesy and must not push the datagram towards analysisd's 64 KiB limit.
const MAX_CONTEXT_TEXT: usize = 2048;

/// Cuts text copied into events at a character boundary.
fn clip(s: impl AsRef<str>) -> String {
    let s = s.as_ref();
    if s.len() <= MAX_CONTEXT_TEXT {
        return s.to_string();
    }
    let mut end = MAX_CONTEXT_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The value at a dotted path of the alert (`rule.id`).
fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn at_text(v: &Value, path: &str) -> Option<String> {
    at(v, path).and_then(scalar_text)
}

/// Writers that leave out what carries nothing (absent, empty), so no `null`
/// reaches Wazuh and no decoder field is spent on an empty value. Numeric 0 and
/// `false` are kept: unlike misje's `remove_empties`, a score of 0 is information.
trait Fields {
    fn text(&mut self, key: &str, v: impl AsRef<str>) -> &mut Self;
    fn text_opt(&mut self, key: &str, v: Option<impl AsRef<str>>) -> &mut Self;
    fn int(&mut self, key: &str, v: Option<i64>) -> &mut Self;
    fn flag(&mut self, key: &str, v: Option<bool>) -> &mut Self;
    fn list(&mut self, key: &str, v: &[String]) -> &mut Self;
    fn object(&mut self, key: &str, v: Map<String, Value>) -> &mut Self;
}

impl Fields for Map<String, Value> {
    fn text(&mut self, key: &str, v: impl AsRef<str>) -> &mut Self {
        let v = v.as_ref();
        if !v.is_empty() {
            self.insert(key.to_string(), Value::String(v.to_string()));
        }
        self
    }

    fn text_opt(&mut self, key: &str, v: Option<impl AsRef<str>>) -> &mut Self {
        match v {
            Some(v) => self.text(key, v),
            None => self,
        }
    }

    fn int(&mut self, key: &str, v: Option<i64>) -> &mut Self {
        if let Some(v) = v {
            self.insert(key.to_string(), Value::from(v));
        }
        self
    }

    fn flag(&mut self, key: &str, v: Option<bool>) -> &mut Self {
        if let Some(v) = v {
            self.insert(key.to_string(), Value::Bool(v));
        }
        self
    }

    fn list(&mut self, key: &str, v: &[String]) -> &mut Self {
        if !v.is_empty() {
            self.insert(
                key.to_string(),
                Value::Array(v.iter().cloned().map(Value::String).collect()),
            );
        }
        self
    }

    fn object(&mut self, key: &str, v: Map<String, Value>) -> &mut Self {
        if !v.is_empty() {
            self.insert(key.to_string(), Value::Object(v));
        }
        self
    }
}

/// The `match` object shared by the profiles: which alert field, what value, how.
fn match_object(hit: &ResolvedHit) -> Map<String, Value> {
    let mut m = Map::new();
    m.text("field", &hit.field)
        .text("value", &hit.value)
        .text("kind", hit.kind.as_str())
        .text("method", hit.effective_method().as_str())
        .text("matched", &hit.matched)
        .list("warninglists", &hit.warninglists);
    // Only the unusual state gets a field, as for `partial`.
    if hit.weak {
        m.flag("weak", Some(true));
    }
    m
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders shared by the profile tests.

    use super::*;
    use matcher::Related;
    use serde_json::json;

    pub fn opencti_indicator(id: &str, name: &str, pattern: &str, score: i64) -> Record {
        Record {
            source: "opencti".into(),
            source_type: "opencti".into(),
            record_kind: RecordKind::Indicator,
            id: id.into(),
            name: name.into(),
            pattern: Some(pattern.into()),
            pattern_type: Some("stix".into()),
            score: Some(score),
            confidence: Some(70),
            labels: vec!["c2".into()],
            markings: vec!["TLP:AMBER".into()],
            valid_until: Some("2999-01-01T00:00:00Z".into()),
            detection: Some(true),
            created_by: Some("CERT Example".into()),
            link: Some(format!(
                "https://cti.internal:8080/dashboard/observations/indicators/{id}"
            )),
            ..Record::default()
        }
    }

    pub fn opencti_observable(id: &str, value: &str, indicators: Value) -> Record {
        let mut extra = Map::new();
        extra.insert("entity_type".into(), json!("Domain-Name"));
        extra.insert("indicators".into(), indicators);
        Record {
            source: "opencti".into(),
            source_type: "opencti".into(),
            record_kind: RecordKind::Observable,
            id: id.into(),
            name: value.into(),
            score: Some(60),
            labels: vec!["phishing".into()],
            link: Some(format!(
                "https://cti.internal:8080/dashboard/observations/observables/{id}"
            )),
            extra,
            ..Record::default()
        }
    }

    pub fn related_indicator(id: &str, name: &str, via: &str) -> Record {
        let mut r = opencti_indicator(id, name, &format!("[ipv4-addr:value = '{via}']"), 75);
        r.related = Some(Related {
            relationship: "resolves-to".into(),
            via: via.into(),
        });
        r.extra
            .insert("main_observable_type".into(), json!("IPv4-Addr"));
        r
    }

    pub fn misp_attribute(uuid: &str, kind_type: &str, value: &str) -> Record {
        let mut extra = Map::new();
        extra.insert("event_id".into(), json!("431"));
        extra.insert(
            "event_uuid".into(),
            json!("5f1a7c2e-0000-4000-8000-000000000431"),
        );
        extra.insert("event_info".into(), json!("Phishing wave"));
        extra.insert("org".into(), json!("CIRCL"));
        extra.insert("threat_level_id".into(), json!("1"));
        extra.insert("category".into(), json!("Network activity"));
        extra.insert("type".into(), json!(kind_type));
        extra.insert("value".into(), json!(value));
        extra.insert("to_ids".into(), json!(true));
        Record {
            source: "misp".into(),
            source_type: "misp".into(),
            record_kind: RecordKind::Attribute,
            id: uuid.into(),
            name: format!("{kind_type}: {value}"),
            labels: vec!["tlp:green".into()],
            extra,
            ..Record::default()
        }
    }

    pub fn hit(
        field: &str,
        kind: Kind,
        value: &str,
        method: HitMethod,
        record: Record,
    ) -> ResolvedHit {
        ResolvedHit {
            field: field.into(),
            kind,
            value: value.into(),
            method,
            matched: value.into(),
            record,
            warninglists: Vec::new(),
            weak: false,
        }
    }

    pub fn alert() -> Value {
        json!({
            "timestamp": "2024-05-14T10:01:59.790+0000",
            "rule": {"level": 3, "description": "Sysmon - Event 22: DNS Query event",
                     "id": "61650", "groups": ["windows", "sysmon", "sysmon_event_22"]},
            "agent": {"id": "001", "name": "WS-FIN-042", "ip": "10.20.30.42"},
            "id": "1715680919.2210140",
            "data": {"win": {"eventdata": {
                "queryName": "login.portal-update.example.com",
                "queryResults": "type:  5 portal-update.example.net;192.0.2.44;",
                "image": "C:\\\\Program Files\\\\Edge\\\\msedge.exe"}}}
        })
    }

    /// Fails on any `null` or empty string, array or object anywhere in `v`.
    pub fn assert_no_empties(v: &Value, path: &str) {
        match v {
            Value::Null => panic!("null at {path}"),
            Value::String(s) => assert!(!s.is_empty(), "empty string at {path}"),
            Value::Array(a) => {
                assert!(!a.is_empty(), "empty array at {path}");
                for (i, x) in a.iter().enumerate() {
                    assert_no_empties(x, &format!("{path}[{i}]"));
                }
            }
            Value::Object(o) => {
                assert!(!o.is_empty(), "empty object at {path}");
                for (k, x) in o {
                    assert_no_empties(x, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn profile_names_round_trip_and_unknown_names_are_clear() {
        for p in Profile::ALL {
            assert_eq!(p.as_str().parse::<Profile>().unwrap(), p);
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(" OpenCTI ".parse::<Profile>().unwrap(), Profile::Opencti);
        assert_eq!(Profile::Native.tag(), "intelmatch");
        assert_eq!(Profile::Opencti.tag(), "opencti");
        assert_eq!(Profile::Misp.tag(), "misp");
        let err = "splunk".parse::<Profile>().unwrap_err().to_string();
        assert!(
            err.contains("`splunk`") && err.contains("native, opencti, misp"),
            "{err}"
        );
    }

    #[test]
    fn hits_are_ordered_by_method_then_score_then_confidence() {
        let mk = |id: &str, method, score, confidence| {
            let mut r = opencti_indicator(id, id, "[x:value = 'y']", 0);
            r.score = score;
            r.confidence = confidence;
            hit("f", Kind::Domain, "v", method, r)
        };
        let mut hits = vec![
            mk("substring", HitMethod::Substring, Some(100), Some(100)),
            mk("parent-low", HitMethod::ParentDomain, Some(10), None),
            mk("exact-noscore", HitMethod::Exact, None, Some(90)),
            mk("exact-50-conf-20", HitMethod::Exact, Some(50), Some(20)),
            mk("exact-50-conf-80", HitMethod::Exact, Some(50), Some(80)),
            mk("cidr", HitMethod::Cidr, Some(90), None),
            mk("token", HitMethod::Token, Some(1), None),
            mk("url_host", HitMethod::UrlHost, Some(1), None),
            mk("parent-high", HitMethod::ParentDomain, Some(90), None),
        ];
        let mut related = mk("related", HitMethod::Exact, Some(100), Some(100));
        related.record.related = Some(matcher::Related {
            relationship: "resolves-to".into(),
            via: "192.0.2.1".into(),
        });
        hits.insert(0, related);
        order(&mut hits, 0);
        let ids: Vec<&str> = hits.iter().map(|h| h.record.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "exact-50-conf-80",
                "exact-50-conf-20",
                "exact-noscore",
                "token",
                "url_host",
                "cidr",
                "parent-high",
                "parent-low",
                "substring",
                "related",
            ]
        );
    }

    #[test]
    fn ties_put_live_detections_first() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-14T00:00:00Z")
            .unwrap()
            .timestamp();
        let mk = |id: &str, revoked, detection, until: &str| {
            let mut r = opencti_indicator(id, id, "[x:value = 'y']", 50);
            r.revoked = revoked;
            r.detection = detection;
            r.valid_until = Some(until.into());
            hit("f", Kind::Ipv4, "v", HitMethod::Exact, r)
        };
        let mut hits = vec![
            mk("revoked", true, Some(true), "2999-01-01T00:00:00Z"),
            mk("expired", false, Some(true), "2020-01-01T00:00:00Z"),
            mk("no-detection", false, None, "2999-01-01T00:00:00Z"),
            mk("best", false, Some(true), "2999-01-01T00:00:00Z"),
        ];
        order(&mut hits, now);
        let ids: Vec<&str> = hits.iter().map(|h| h.record.id.as_str()).collect();
        assert_eq!(ids, ["best", "expired", "no-detection", "revoked"]);
    }

    #[test]
    fn every_profile_caps_its_events() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let hits: Vec<ResolvedHit> = (0..6)
            .map(|i| {
                hit(
                    "data.win.eventdata.queryName",
                    Kind::Domain,
                    &format!("d{i}.example"),
                    HitMethod::Exact,
                    opencti_indicator(&format!("ind-{i}"), &format!("d{i}"), "[x:value = 'y']", i),
                )
            })
            .collect();
        for p in Profile::ALL {
            let opts = ProfileOptions {
                max_events: 4,
                ..ProfileOptions::default()
            };
            let out = events(p, &ctx, hits.clone(), &opts);
            assert_eq!(out.len(), 4, "{p}");
            // Best (highest score) first.
            let first = serde_json::to_string(&out[0]).unwrap();
            assert!(first.contains("d5.example"), "{p}: {first}");
            let zero = ProfileOptions {
                max_events: 0,
                ..ProfileOptions::default()
            };
            assert_eq!(events(p, &ctx, hits.clone(), &zero).len(), 1, "{p}");
        }
    }

    #[test]
    fn file_names_are_weak_ordered_last_and_kept_out_of_dropins() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let name = hit(
            "data.win.eventdata.image",
            Kind::Filename,
            "python.exe",
            HitMethod::Exact,
            opencti_indicator("ind-name", "python", "[file:name = 'python.exe']", 90),
        );
        let path = hit(
            "data.win.eventdata.image",
            Kind::Filename,
            "%programdata%\\x\\msbuild.exe",
            HitMethod::Exact,
            opencti_indicator("ind-path", "msbuild", "[file:name = 'x']", 90),
        );
        let ip = hit(
            "data.win.eventdata.destinationIp",
            Kind::Ipv4,
            "203.0.113.9",
            HitMethod::Exact,
            opencti_indicator("ind-ip", "c2", "[ipv4-addr:value = '203.0.113.9']", 10),
        );
        let hits = vec![name, path, ip];
        let native = events(
            Profile::Native,
            &ctx,
            hits.clone(),
            &ProfileOptions::default(),
        );
        let got: Vec<(&str, &Value)> = native
            .iter()
            .map(|e| {
                (
                    e["intelmatch"]["indicator"]["id"].as_str().unwrap(),
                    &e["intelmatch"]["match"]["weak"],
                )
            })
            .collect();
        // Strong first whatever the score; a whole path is no bare name.
        assert_eq!(
            got,
            [
                ("ind-path", &Value::Null),
                ("ind-ip", &Value::Null),
                ("ind-name", &json!(true)),
            ]
        );
        for p in [Profile::Opencti, Profile::Misp] {
            let out = events(p, &ctx, hits.clone(), &ProfileOptions::default());
            assert_eq!(out.len(), 2, "{p}");
            assert!(!Value::Array(out).to_string().contains("python"), "{p}");
            let opts = ProfileOptions {
                send_weak_in_dropin: true,
                ..ProfileOptions::default()
            };
            assert_eq!(events(p, &ctx, hits.clone(), &opts).len(), 3, "{p}");
        }
        // An observable no indicator is based on (`observables = "report"`) is weak.
        let mut bare = hit(
            "data.win.eventdata.queryName",
            Kind::Domain,
            "x.example",
            HitMethod::Exact,
            opencti_observable("obs-1", "x.example", json!([])),
        );
        bare.record.extra.remove("indicators");
        assert!(is_weak(&bare, &[]));
        // Any kind can be made weak, and file names strong.
        let opts = ProfileOptions {
            weak_kinds: vec![Kind::Ipv4],
            ..ProfileOptions::default()
        };
        let out = events(Profile::Native, &ctx, hits, &opts);
        assert_eq!(out[2]["intelmatch"]["indicator"]["id"], "ind-ip");
        assert_eq!(out[2]["intelmatch"]["match"]["weak"], true);
    }

    #[test]
    fn warninglist_records_never_render() {
        let alert = alert();
        let ctx = AlertContext::new(&alert);
        let mut r = opencti_indicator("wl", "wl", "[x:value = 'y']", 0);
        r.record_kind = RecordKind::Warninglist;
        let hits = vec![hit("f", Kind::Domain, "example.com", HitMethod::Exact, r)];
        for p in Profile::ALL {
            assert!(events(p, &ctx, hits.clone(), &ProfileOptions::default()).is_empty());
        }
    }

    #[test]
    fn error_events_per_profile() {
        assert_eq!(
            error_event(Profile::Native, "index missing"),
            json!({"integration": "intelmatch",
                   "intelmatch": {"event_type": "error", "error": "index missing"}})
        );
        assert_eq!(
            error_event(Profile::Opencti, "index missing"),
            json!({"integration": "opencti",
                   "opencti": {"event_type": "error", "error": "index missing"}})
        );
        assert_eq!(
            error_event(Profile::Misp, "index missing"),
            json!({"integration": "misp", "misp": {"error": "index missing"}})
        );
        for p in Profile::ALL {
            let e = error_event(p, "  ");
            assert!(e.to_string().contains("unknown error"), "{e}");
        }
    }

    #[test]
    fn hook_urls_become_dashboard_bases() {
        for (hook, base) in [
            (
                "https://opencti.example.org/graphql",
                Some("https://opencti.example.org"),
            ),
            (
                "https://opencti.example.org/graphql/",
                Some("https://opencti.example.org"),
            ),
            (
                "https://opencti.example.org/GraphQL//",
                Some("https://opencti.example.org"),
            ),
            (
                "https://opencti.example.org/",
                Some("https://opencti.example.org"),
            ),
            (
                "https://opencti.example.org",
                Some("https://opencti.example.org"),
            ),
            (
                "http://10.0.0.5:8080/cti/graphql",
                Some("http://10.0.0.5:8080/cti"),
            ),
            (" https://o.example/graphql \n", Some("https://o.example")),
            (
                "https://opencti.example.org/graphqlx",
                Some("https://opencti.example.org/graphqlx"),
            ),
            ("", None),
            ("debug", None),
            ("https://", None),
            ("https:///graphql", None),
            ("ftp://opencti.example.org", None),
        ] {
            assert_eq!(opencti_base(hook).as_deref(), base, "{hook:?}");
        }
        assert_eq!(
            base_of_link("https://cti.internal:8080/dashboard/observations/indicators/x"),
            Some("https://cti.internal:8080")
        );
        assert_eq!(base_of_link("https://misp.example/events/view/1"), None);
    }

    #[test]
    fn expiry_needs_a_parseable_time() {
        assert!(expired(Some("2020-01-01T00:00:00Z"), 1_700_000_000));
        assert!(expired(
            Some("2020-01-01T00:00:00.123+02:00"),
            1_700_000_000
        ));
        assert!(!expired(Some("2999-01-01T00:00:00Z"), 1_700_000_000));
        assert!(!expired(Some("soon"), 1_700_000_000));
        assert!(!expired(None, 1_700_000_000));
    }

    #[test]
    fn extra_readers_accept_the_shapes_sources_write() {
        let mut r = Record::default();
        r.extra.insert("event_id".into(), json!(431));
        r.extra.insert("empty".into(), json!(""));
        r.extra.insert(
            "kill_chain_phases".into(),
            json!([{"kill_chain_name": "lockheed", "phase_name": "c2"}, "recon"]),
        );
        assert_eq!(extra_text(&r, &["event_id"]).as_deref(), Some("431"));
        assert_eq!(extra_str(&r, &["empty", "missing"]), None);
        assert_eq!(
            extra_list(
                &r,
                &["killChainPhases", "kill_chain_phases"],
                &["phase_name"]
            ),
            ["c2", "recon"]
        );
    }
}
