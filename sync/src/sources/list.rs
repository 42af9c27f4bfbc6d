//! `type = "list"`: one IoC per line, or one column of a CSV file; a file or a
//! directory of files (recursively, hidden files skipped).
//!
//! - Blank lines and lines starting with `#` or `;` are ignored. Outside CSV
//!   mode a trailing comment after whitespace is dropped too (`198.51.100.0/24
//!   ; SBL123`, the Spamhaus DROP layout), except for the free-text kinds
//!   (user agents, mutexes, registry keys, file names) where `#` and `;` are
//!   legitimately part of values.
//! - The kind is `cfg.kind` when set, else detected per line.
//! - Lines are read as bytes and decoded one by one: invalid UTF-8 or an
//!   overlong line rejects that line only.
//! - `ext_id` is `<relative file path>:<normalised value>`: reordering or
//!   re-commenting a file changes no id, and a value listed twice in one file
//!   is one entry.
//! - In CSV mode a first row whose value is not valid is taken as a header
//!   and skipped without a reject.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use matcher::{normalize, Kind, RecordKind};
use serde_json::{Map, Value};

use super::fingerprint::{InputFile, Inputs, Select};
use super::{cap_rejects, shown, FileSourceError, Loaded};
use crate::batch::{Batch, IndicatorRow, Reject};
use crate::config::ListConfig;

/// Longer lines are rejected (and not buffered whole): no IoC is this long,
/// and a file without newlines must not be read into one string.
const MAX_LINE: usize = 64 * 1024;

/// The fingerprint of the list as it is now, without reading any file.
pub fn fingerprint(cfg: &ListConfig) -> Result<String, FileSourceError> {
    Ok(Inputs::collect(&cfg.path, Select::AllTree)?.fingerprint("list", cfg))
}

/// Reads every list file into one snapshot batch.
pub fn load(cfg: &ListConfig, source_name: &str) -> Result<Loaded, FileSourceError> {
    if cfg.column == Some(0) {
        return Err(FileSourceError::Unusable {
            path: cfg.path.clone(),
            reason: "`column` counts from 1".into(),
        });
    }
    let inputs = Inputs::collect(&cfg.path, Select::AllTree)?;
    let fingerprint = inputs.fingerprint("list", cfg);
    let mut out = Output::default();
    let mut files = 0;
    for file in &inputs.files {
        let handle = match std::fs::File::open(&file.path) {
            Ok(f) => f,
            // Removed since it was listed: no longer part of the source.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(FileSourceError::from_io(file.path.clone(), e)),
        };
        files += 1;
        let first_reject = out.rejects.len();
        read_file(cfg, file, BufReader::new(handle), &mut out)
            .map_err(|e| FileSourceError::from_io(file.path.clone(), e))?;
        cap_rejects(&mut out.rejects, first_reject, &file.display());
    }
    tracing::debug!(
        source = source_name,
        files,
        entries = out.rows.len(),
        rejects = out.rejects.len(),
        "read list"
    );
    Ok(Loaded {
        batch: Batch {
            indicators: out.rows,
            rejects: out.rejects,
            snapshot: true,
            ..Batch::default()
        },
        fingerprint,
        files,
        skipped: out.skipped,
    })
}

#[derive(Default)]
struct Output {
    rows: Vec<IndicatorRow>,
    ids: HashSet<String>,
    rejects: Vec<Reject>,
    skipped: BTreeMap<String, usize>,
}

fn read_file(
    cfg: &ListConfig,
    file: &InputFile,
    mut reader: impl BufRead,
    out: &mut Output,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut header_possible = cfg.column.is_some();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let item = format!("{}:{line_no}", file.display());
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
            // Drop the rest of the overlong line before going on.
            let mut rest = Vec::new();
            reader.read_until(b'\n', &mut rest)?;
            let len = buf.len() + rest.len();
            out.rejects.push(Reject {
                item,
                reason: format!("line too long ({len} bytes, at most {MAX_LINE})"),
            });
            continue;
        }
        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                out.rejects.push(Reject {
                    item,
                    reason: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                });
                continue;
            }
        };
        let Some(raw) = value_of(cfg, text) else {
            continue;
        };
        let raw = match raw {
            Ok(raw) => raw,
            Err(reason) => {
                header_possible = false;
                out.rejects.push(Reject { item, reason });
                continue;
            }
        };
        let first_row = std::mem::take(&mut header_possible);
        let (kind, value) = match classify(cfg.kind, &raw) {
            Ok(found) => found,
            Err(_) if first_row => {
                tracing::debug!(file = %file.display(), "first CSV row taken as a header");
                continue;
            }
            Err(reason) => {
                out.rejects.push(Reject { item, reason });
                continue;
            }
        };
        let ext_id = format!("{}:{value}", file.rel);
        if !out.ids.insert(ext_id.clone()) {
            *out.skipped.entry("duplicate line".into()).or_default() += 1;
            continue;
        }
        let mut extra = Map::new();
        extra.insert("file".into(), Value::String(file.rel.clone()));
        out.rows.push(IndicatorRow {
            ext_id,
            record_kind: RecordKind::ListEntry,
            name: value.clone(),
            values: vec![(kind, value)],
            score: cfg.score,
            labels: cfg.labels.clone(),
            extra,
            ..IndicatorRow::default()
        });
    }
    Ok(())
}

/// The raw value a line holds: `None` for blank and comment lines.
fn value_of(cfg: &ListConfig, line: &str) -> Option<Result<String, String>> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    match cfg.column {
        Some(column) => {
            // With `;` as the delimiter a leading `;` is an empty first field.
            if trimmed.starts_with(';') && cfg.delimiter != ';' {
                return None;
            }
            // Untrimmed: with a tab delimiter a leading tab is an empty field.
            let record = line.trim_end_matches(['\r', '\n']);
            Some(csv_field(record, cfg.delimiter, column).and_then(|v| {
                let v = v.trim();
                if v.is_empty() {
                    Err(format!("column {column} is empty"))
                } else {
                    Ok(v.to_string())
                }
            }))
        }
        None => {
            let line = trimmed;
            if line.starts_with(';') {
                return None;
            }
            let free_text = matches!(
                cfg.kind,
                Some(Kind::UserAgent | Kind::Mutex | Kind::Regkey | Kind::Filename)
            );
            let value = if free_text {
                line
            } else {
                strip_trailing_comment(line)
            };
            Some(Ok(value.to_string()))
        }
    }
}

/// `value  # note` → `value`: a `#` or `;` counts only after whitespace, so
/// URL fragments and parameters survive.
fn strip_trailing_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for i in 1..bytes.len() {
        if matches!(bytes[i], b'#' | b';') && bytes[i - 1].is_ascii_whitespace() {
            return line[..i].trim_end();
        }
    }
    line
}

/// Field `column` (1-based) of a CSV line: fields split on `delimiter`; a field
/// may be double-quoted, with `""` for a quote inside. Records spanning lines
/// are not supported (IoC lists do not need them).
fn csv_field(line: &str, delimiter: char, column: usize) -> Result<String, String> {
    let mut chars = line.chars().peekable();
    let mut index = 0usize;
    loop {
        index += 1;
        let mut field = String::new();
        // Spaces before an opening quote are tolerated (`a, "b"`).
        while chars.peek() == Some(&' ') && delimiter != ' ' {
            field.push(' ');
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            field.clear();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quote in column {index}")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars
                .peek()
                .is_some_and(|c| *c != delimiter && c.is_whitespace())
            {
                chars.next();
            }
            match chars.peek() {
                None => {}
                Some(c) if *c == delimiter => {}
                Some(_) => return Err(format!("text after the closing quote in column {index}")),
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == delimiter {
                    break;
                }
                field.push(*c);
                chars.next();
            }
        }
        if index == column {
            return Ok(field);
        }
        // Past the delimiter, or the line ended before the column.
        if chars.next().is_none() {
            let columns = if index == 1 { "column" } else { "columns" };
            return Err(format!(
                "no column {column}: the line has {index} {columns}"
            ));
        }
    }
}

/// The kind and normalised value, forced or detected.
fn classify(kind: Option<Kind>, raw: &str) -> Result<(Kind, String), String> {
    match kind {
        Some(kind) => normalize::normalize(kind, raw)
            .map(|n| (n.kind, n.value))
            .map_err(|e| e.to_string()),
        None => normalize::detect(raw)
            .map(|n| (n.kind, n.value))
            .ok_or_else(|| {
                format!(
                    "`{}` is not a recognised IoC (set `kind` to force one)",
                    shown(raw)
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields() {
        assert_eq!(csv_field("a,b,c", ',', 2).unwrap(), "b");
        assert_eq!(csv_field(r#"1,"x, ""y""",z"#, ',', 2).unwrap(), r#"x, "y""#);
        assert_eq!(csv_field(r#"1, "q" ,z"#, ',', 3).unwrap(), "z");
        assert_eq!(csv_field("a;;c", ';', 2).unwrap(), "");
        assert_eq!(csv_field("a\tb", '\t', 2).unwrap(), "b");
        assert_eq!(
            csv_field("a,b", ',', 3).unwrap_err(),
            "no column 3: the line has 2 columns"
        );
        assert_eq!(
            csv_field(r#"a,"b"#, ',', 2).unwrap_err(),
            "unterminated quote in column 2"
        );
        assert_eq!(
            csv_field(r#""a"x,b"#, ',', 2).unwrap_err(),
            "text after the closing quote in column 1"
        );
    }

    #[test]
    fn trailing_comments() {
        assert_eq!(
            strip_trailing_comment("198.51.100.0/24 ; SBL1"),
            "198.51.100.0/24"
        );
        assert_eq!(strip_trailing_comment("evil.example\t# c2"), "evil.example");
        assert_eq!(
            strip_trailing_comment("http://a.example/p;x#frag"),
            "http://a.example/p;x#frag"
        );
    }
}
