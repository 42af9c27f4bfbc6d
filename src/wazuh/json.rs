//! An alert as parsed for matching: a JSON tree whose strings borrow from the
//! line wherever they hold no escape.
//!
//! `watch` parses every line of `alerts.json`, and into a
//! [`serde_json::Value`] that meant a heap string per key and value plus a
//! B-tree per object: over half the per-alert cost. Here an object is one
//! sorted vector and most strings are slices of the input. Objects keep the
//! semantics of `serde_json`'s default map (keys in sorted order, the last of
//! duplicate keys wins), so extraction sees exactly what it saw before, and
//! [`Json::to_value`] gives the `Value` the event builders take, for the few
//! alerts that hit.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value borrowing from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object: entries sorted by key, keys unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a> {
    entries: Vec<(Cow<'a, str>, Json<'a>)>,
    /// One bit per (length, first and last byte lowercased) of the keys: most
    /// lookups are of absent keys, and most of those end at this test.
    shapes: u64,
}

fn shape_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let (first, last) = match b {
        [] => (0, 0),
        [f, .., l] => (f.to_ascii_lowercase(), l.to_ascii_lowercase()),
        [f] => (f.to_ascii_lowercase(), f.to_ascii_lowercase()),
    };
    let h = (b.len() as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(first) << 8 | u64::from(last))
        .wrapping_mul(0xff51_afd7_ed55_8ccd);
    1 << (h >> 58)
}

/// `a.cmp(b)`, deciding on the first byte inline: most probes of a search
/// differ there, and a call to `memcmp` costs more than the comparison.
#[inline]
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

impl<'a> Object<'a> {
    fn from_entries(mut entries: Vec<(Cow<'a, str>, Json<'a>)>) -> Object<'a> {
        // Stable: of equal keys the last in the text stays last; `dedup_by`
        // keeps the first of a run, so the later value is swapped into it.
        entries.sort_by(|a, b| key_order(&a.0, &b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        let shapes = entries.iter().fold(0, |s, (k, _)| s | shape_bit(k));
        Object { entries, shapes }
    }

    /// Whether a key equal to `key`, even ignoring ASCII case, may be here.
    fn may_hold(&self, key: &str) -> bool {
        self.shapes & shape_bit(key) != 0
    }

    /// The value under exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.may_hold(key)
            .then(|| self.search(key))
            .flatten()
            .map(|(_, v)| v)
    }

    fn search(&self, key: &str) -> Option<(&str, &Json<'a>)> {
        let i = self
            .entries
            .binary_search_by(|(k, _)| key_order(k, key))
            .ok()?;
        let (k, v) = &self.entries[i];
        Some((k, v))
    }

    /// Exact key first, then ASCII case-insensitive (the first in key order).
    pub fn get_ignore_ascii_case(&self, key: &str) -> Option<(&str, &Json<'a>)> {
        if !self.may_hold(key) {
            return None;
        }
        self.search(key)
            .or_else(|| self.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// `self[key]` when `self` is an object holding exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(key)
    }

    /// The value under a chain of exact keys (`["rule", "groups"]`).
    pub fn at(&self, keys: &[&str]) -> Option<&Json<'a>> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    /// For messages: what kind of value this is.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The owned [`Value`] the same text parses to.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

/// Borrows a parsed [`Value`] (tests, and callers that already hold one).
impl<'a> From<&'a Value> for Json<'a> {
    fn from(v: &'a Value) -> Json<'a> {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(m) => Json::Object(Object::from_entries(
                m.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from(v)))
                    .collect(),
            )),
        }
    }
}

impl fmt::Display for Json<'_> {
    /// Compact JSON, as `Value` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_value(), f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // JSON text cannot spell a NaN or an infinity.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Object(Object::from_entries(entries)))
    }
}

/// A map key, borrowed when it holds no escape (`Cow`'s own `Deserialize`
/// always copies).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

/// Parses JSON text. Invalid UTF-8 anywhere is an error, as with `Value`.
pub fn from_slice(bytes: &[u8]) -> Result<Json<'_>, JsonError> {
    // One pass over the whole line is cheaper than serde_json checking each
    // string on its own.
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::Utf8(e.valid_up_to()))?;
    serde_json::from_str(text).map_err(JsonError::Syntax)
}

/// Why a text is not JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    #[error(transparent)]
    Syntax(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json<'_> {
        from_slice(text.as_bytes()).unwrap()
    }

    #[test]
    fn converts_to_the_value_serde_json_parses() {
        let texts = [
            r#"{"b":1,"a":[true,null,-2,3.5,"x\"y"],"c":{"z":"\u00e9","y":{}},"a":"last"}"#,
            r#"{"k":"C:\\Windows\\x.exe","n":18446744073709551615,"f":1e400,"e":[]}"#,
            "[]",
            "\"s\"",
        ];
        for t in texts {
            if let Ok(want) = serde_json::from_str::<Value>(t) {
                assert_eq!(parse(t).to_value(), want, "{t}");
                assert_eq!(parse(t).to_string(), want.to_string());
            }
        }
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_text() {
        let j = parse(r#"{"plain":"abc","esc\\aped":"C:\\x"}"#);
        let o = j.as_object().unwrap();
        let (key, v) = o.iter().next().unwrap();
        assert_eq!(key, "esc\\aped");
        assert!(matches!(v, Json::String(Cow::Owned(s)) if s == "C:\\x"));
        assert!(matches!(
            o.get("plain"),
            Some(Json::String(Cow::Borrowed("abc")))
        ));
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_keys_come_sorted() {
        let j = parse(r#"{"b":1,"a":2,"b":3,"c":4,"b":5}"#);
        let o = j.as_object().unwrap();
        let keys: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(o.get("b").and_then(Json::as_u64), Some(5));
    }

    #[test]
    fn lookups_fall_back_to_ascii_case() {
        let j = parse(r#"{"DestinationIp":"1","destinationip":"2","QueryName":"q"}"#);
        let o = j.as_object().unwrap();
        assert_eq!(
            o.get_ignore_ascii_case("destinationip").unwrap().0,
            "destinationip"
        );
        assert_eq!(
            o.get_ignore_ascii_case("DESTINATIONIP").unwrap().0,
            "DestinationIp"
        );
        assert_eq!(o.get_ignore_ascii_case("queryName").unwrap().0, "QueryName");
        assert!(o.get_ignore_ascii_case("queryNam").is_none());
        assert!(o.get_ignore_ascii_case("").is_none());
        assert!(o.get("queryName").is_none());
        assert_eq!(
            parse(r#"{"rule":{"groups":["a"]}}"#).at(&["rule", "groups"]),
            Some(&Json::Array(vec![Json::String("a".into())]))
        );
    }

    #[test]
    fn errors_and_depth_are_serde_json_s() {
        assert!(from_slice(b"{\"a\":").is_err());
        assert!(from_slice(b"{\"a\":\"\xff\"}").is_err());
        let deep = "[".repeat(10_000);
        assert!(from_slice(deep.as_bytes()).is_err());
    }
}
