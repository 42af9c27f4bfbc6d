//! The MISP warninglist format (`list.json`, misp-warninglists `schema.json`):
//! `{"name", "version", "description", "type", "matching_attributes", "list"}`.
//! `list` may also be an object `{value: comment}`, as MISP's importer accepts.

use serde_json::Value;

/// How a list's entries match (misp.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Exact value (a leading `.` on a domain entry means "and its subdomains").
    String,
    /// The entry occurs inside the value.
    Substring,
    /// The host and each parent suffix.
    Hostname,
    /// Address or network containment.
    Cidr,
    /// PCRE with delimiters (`/…/i`).
    Regex,
}

impl ListType {
    pub fn as_str(self) -> &'static str {
        match self {
            ListType::String => "string",
            ListType::Substring => "substring",
            ListType::Hostname => "hostname",
            ListType::Cidr => "cidr",
            ListType::Regex => "regex",
        }
    }
}

/// One warninglist.
#[derive(Debug, Clone, PartialEq)]
pub struct Warninglist {
    pub name: String,
    pub version: u64,
    pub description: String,
    pub list_type: ListType,
    /// MISP attribute types the list applies to; empty = all.
    pub matching_attributes: Vec<String>,
    pub entries: Vec<String>,
    /// Where it came from: `bundled:<dir>`, a file path, `misp:<source>`.
    pub origin: String,
}

/// Parses one list; the error is a one-line reason (the caller names the file).
pub fn parse(text: &str, origin: &str) -> Result<Warninglist, String> {
    let v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("not JSON: {e}"))?;
    let str_field = |k: &str| -> Result<String, String> {
        match v.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(_) => Err(format!("`{k}` is not a non-empty string")),
            None => Err(format!("`{k}` missing")),
        }
    };
    let name = str_field("name")?;
    let description = v
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = match v.get("version") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or("`version` missing or not a whole number")?;
    let list_type = match str_field("type")?.as_str() {
        "string" => ListType::String,
        "substring" => ListType::Substring,
        "hostname" => ListType::Hostname,
        "cidr" => ListType::Cidr,
        "regex" => ListType::Regex,
        other => {
            return Err(format!(
                "type `{other}` is not one of string, substring, hostname, cidr, regex"
            ))
        }
    };
    let matching_attributes = match v.get("matching_attributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => return Err("`matching_attributes` is not a list".into()),
    };
    let entries: Vec<String> = match v.get("list") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::Object(o)) => o.keys().cloned().collect(),
        _ => return Err("`list` missing or not a list".into()),
    };
    Ok(Warninglist {
        name,
        version,
        description,
        list_type,
        matching_attributes,
        entries: entries
            .into_iter()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        origin: origin.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_list_shapes_and_clear_errors() {
        let l = parse(
            r#"{"name":"x","version":"3","description":"d","type":"cidr","list":{"192.0.2.0/24":"doc"}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(l.entries, ["192.0.2.0/24"]);
        assert_eq!(l.version, 3);
        assert!(l.matching_attributes.is_empty());
        assert_eq!(
            parse(r#"{"name":"x","version":1,"type":"glob","list":[]}"#, "t").unwrap_err(),
            "type `glob` is not one of string, substring, hostname, cidr, regex"
        );
        assert_eq!(
            parse(r#"{"version":1,"type":"string","list":[]}"#, "t").unwrap_err(),
            "`name` missing"
        );
    }
}
