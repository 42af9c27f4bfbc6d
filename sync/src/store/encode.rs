//! How Rust values are spelled in store columns, and back.

use matcher::{KeyMethod, Kind, RecordKind};
use serde_json::{Map, Value};

use super::StoreError;
use crate::ObjectType;

/// The table holding one type of object.
pub(crate) fn table(object: ObjectType) -> &'static str {
    match object {
        ObjectType::Indicator => "indicators",
        ObjectType::Observable => "observables",
        ObjectType::Relationship => "relationships",
    }
}

pub(crate) fn strings_to_json(v: &[String]) -> String {
    serde_json::to_string(v).expect("a list of strings always serialises")
}

pub(crate) fn strings_from_json(col: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(col, e))
}

pub(crate) fn map_to_json(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).expect("a JSON map always serialises")
}

pub(crate) fn map_from_json(col: &str, text: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(col, e))
}

pub(crate) fn values_to_json(v: &[(Kind, String)]) -> String {
    serde_json::to_string(v).expect("kinds and strings always serialise")
}

pub(crate) fn values_from_json(col: &str, text: &str) -> Result<Vec<(Kind, String)>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(col, e))
}

pub(crate) fn record_kind_to_str(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Indicator => "indicator",
        RecordKind::Observable => "observable",
        RecordKind::Attribute => "attribute",
        RecordKind::ListEntry => "list_entry",
        RecordKind::Warninglist => "warninglist",
    }
}

pub(crate) fn record_kind_from_str(s: &str) -> Result<RecordKind, StoreError> {
    Ok(match s {
        "indicator" => RecordKind::Indicator,
        "observable" => RecordKind::Observable,
        "attribute" => RecordKind::Attribute,
        "list_entry" => RecordKind::ListEntry,
        "warninglist" => RecordKind::Warninglist,
        other => return Err(corrupt("record_kind", format!("unknown `{other}`"))),
    })
}

pub(crate) fn kind_from_str(s: &str) -> Result<Kind, StoreError> {
    s.parse().map_err(|e| corrupt("kind", e))
}

pub(crate) fn method_from_str(s: &str) -> Result<KeyMethod, StoreError> {
    KeyMethod::parse(s).ok_or_else(|| corrupt("method", format!("unknown `{s}`")))
}

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {e}"))
}

/// Text stored in a one-line column (reject reasons, run errors): newlines
/// folded, length bounded so one bad item cannot bloat the store.
pub(crate) fn one_line(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip() {
        let values = vec![
            (Kind::Ipv4, "1.2.3.4".to_string()),
            (Kind::UserAgent, "x".into()),
        ];
        assert_eq!(
            values_from_json("v", &values_to_json(&values)).unwrap(),
            values
        );
        for k in [
            RecordKind::Indicator,
            RecordKind::Observable,
            RecordKind::Attribute,
            RecordKind::ListEntry,
            RecordKind::Warninglist,
        ] {
            assert_eq!(record_kind_from_str(record_kind_to_str(k)).unwrap(), k);
        }
        let err = strings_from_json("labels", "{").unwrap_err().to_string();
        assert!(
            err.starts_with("store holds an unreadable value: column labels"),
            "{err}"
        );
    }

    #[test]
    fn one_line_folds_and_bounds() {
        assert_eq!(one_line("a\nb\tc", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
