//! `[[sources]]` → [`store::SourceConfig`]: `type` is read first, then that
//! type's keys, so that an unknown key is reported with the keys the type
//! accepts.

use store::config::{
    HttpConfig, ListConfig, MispConfig, MispFeedConfig, OpenCtiConfig, StixConfig,
};
use store::{Secret, SourceConfig, SourceSettings};

use super::table::{peek_str, Doc, Table};
use super::{parse_http_url, ConfigError};

#[derive(Clone, Copy, PartialEq)]
enum Type {
    Opencti,
    Misp,
    Stix,
    MispFeed,
    List,
}

const TYPES: [(&str, Type); 5] = [
    ("opencti", Type::Opencti),
    ("misp", Type::Misp),
    ("stix", Type::Stix),
    ("misp-feed", Type::MispFeed),
    ("list", Type::List),
];

pub(crate) fn read_sources(
    root: &mut Table<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<SourceConfig>, ConfigError> {
    let doc = root.doc();
    let mut sources: Vec<SourceConfig> = Vec::new();
    for (i, table, span) in root.tables("sources")? {
        // Label the table with the source's name, which is how people know it
        // (a name that is itself wrong is reported without being repeated there).
        let label = match peek_str(table, "name") {
            Some(name) if !name.is_empty() && check_name(name).is_ok() => {
                format!("sources[{i}] ({name})")
            }
            _ => format!("sources[{i}]"),
        };
        let mut t = Table::new(doc, label, ": ", table, span);
        let name = t
            .parse("name", |s| {
                check_name(s)?;
                match sources.iter().position(|src| src.name == s) {
                    Some(j) => Err(format!("`{s}` is already the name of sources[{j}]")),
                    None => Ok(s.to_owned()),
                }
            })?
            .ok_or_else(|| t.missing("name", "every source needs a unique name"))?;
        let kind = t
            .choice("type", &TYPES)?
            .ok_or_else(|| t.missing("type", "one of opencti, misp, stix, misp-feed, list"))?;
        let settings = match kind {
            Type::Opencti => SourceSettings::Opencti(read_opencti(&mut t, doc, warnings)?),
            Type::Misp => SourceSettings::Misp(read_misp(&mut t, doc, warnings)?),
            Type::Stix => SourceSettings::Stix(StixConfig {
                path: required_path(&mut t, "the bundle file or directory")?,
            }),
            Type::MispFeed => SourceSettings::MispFeed(MispFeedConfig {
                path: required_path(&mut t, "the feed directory")?,
                to_ids_only: t.bool("to_ids_only")?.unwrap_or(true),
            }),
            Type::List => SourceSettings::List(read_list(&mut t)?),
        };
        let enabled = t.bool("enabled")?.unwrap_or(true);
        t.finish()?;
        sources.push(SourceConfig {
            name,
            settings,
            enabled,
        });
    }
    Ok(sources)
}

/// Names end up in events, file names and log lines: keep them plain.
fn check_name(s: &str) -> Result<(), String> {
    if s.len() > 64 {
        return Err("must be at most 64 characters".to_owned());
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(c) => Err(format!(
            "`{s}` contains {c:?}; use only letters, digits, `.`, `_` and `-`"
        )),
        None => Ok(()),
    }
}

fn required_path(t: &mut Table<'_>, what: &str) -> Result<std::path::PathBuf, ConfigError> {
    t.path("path")?.ok_or_else(|| t.missing("path", what))
}

fn read_url(
    t: &mut Table<'_>,
    warnings: &mut Vec<String>,
    what: &str,
) -> Result<String, ConfigError> {
    let (url, https) = t
        .parse("url", parse_http_url)?
        .ok_or_else(|| t.missing("url", what))?;
    if !https {
        warnings.push(format!(
            "{}: plain http sends the secret unencrypted; use https",
            t.location("url")
        ));
    }
    Ok(url)
}

fn read_secret(
    t: &mut Table<'_>,
    doc: &Doc<'_>,
    key: &'static str,
    warnings: &mut Vec<String>,
) -> Result<Secret, ConfigError> {
    let secret = t
        .parse(key, |s| parse_secret(s, doc))?
        .ok_or_else(|| t.missing(key, "write env:NAME or file:PATH"))?;
    if secret.is_literal() {
        warnings.push(format!(
            "{}: the secret is written in the config file; prefer env:NAME or file:PATH",
            t.location(key)
        ));
    }
    Ok(secret)
}

/// `env:NAME`, `file:PATH` or a literal. Error messages never repeat the text,
/// which may be the secret itself.
pub(crate) fn parse_secret(s: &str, doc: &Doc<'_>) -> Result<Secret, String> {
    if let Some(name) = s.strip_prefix("env:") {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(
                "`env:` must be followed by a variable name (letters, digits and `_`)".to_owned(),
            );
        }
        Ok(Secret::env(name))
    } else if let Some(path) = s.strip_prefix("file:") {
        if path.trim().is_empty() {
            return Err("`file:` must be followed by a path".to_owned());
        }
        Ok(Secret::file(doc.resolve_path(path)))
    } else {
        Ok(Secret::literal(s))
    }
}

/// The TLS and timeout keys, which sit directly in the source's table.
fn read_http(t: &mut Table<'_>, warnings: &mut Vec<String>) -> Result<HttpConfig, ConfigError> {
    let d = HttpConfig::default();
    let http = HttpConfig {
        ca_file: t.path("ca_file")?,
        insecure: t.bool("insecure")?.unwrap_or(d.insecure),
        timeout_secs: t.int("timeout_secs", 1, 86_400)?.unwrap_or(d.timeout_secs),
        connect_timeout_secs: t
            .int("connect_timeout_secs", 1, 3600)?
            .unwrap_or(d.connect_timeout_secs),
        retries: t.int("retries", 0, 100)?.unwrap_or(d.retries),
        retry_delay_ms: t
            .int("retry_delay_ms", 1, 60_000)?
            .unwrap_or(d.retry_delay_ms),
        max_response_bytes: t
            .int("max_response_bytes", 1024, 1 << 36)?
            .unwrap_or(d.max_response_bytes),
    };
    if http.insecure {
        warnings.push(format!(
            "{}: TLS certificates are not verified",
            t.location("insecure")
        ));
    }
    Ok(http)
}

fn read_opencti(
    t: &mut Table<'_>,
    doc: &Doc<'_>,
    warnings: &mut Vec<String>,
) -> Result<OpenCtiConfig, ConfigError> {
    let url = read_url(t, warnings, "the OpenCTI base URL (https://...)")?;
    let token = read_secret(t, doc, "token", warnings)?;
    let mut c = OpenCtiConfig::new(url, token);
    c.http = read_http(t, warnings)?;
    if let Some(n) = t.int("page_size", 1, i64::from(OpenCtiConfig::MAX_PAGE_SIZE))? {
        c.page_size = n;
    }
    if let Some(n) = t.int("overlap_secs", 0, i64::MAX)? {
        c.overlap_secs = n;
    }
    if let Some(n) = t.int("reconcile_interval_secs", 0, i64::MAX)? {
        c.reconcile_interval_secs = n;
    }
    c.min_score = t.int("min_score", 0, 100)?;
    c.entity_types = t.strings("entity_types", false)?.unwrap_or_default();
    c.labels_include = t.strings("labels_include", false)?.unwrap_or_default();
    c.labels_exclude = t.strings("labels_exclude", false)?.unwrap_or_default();
    c.markings_exclude = t.strings("markings_exclude", false)?.unwrap_or_default();
    c.created_by = t.strings("created_by", false)?.unwrap_or_default();
    Ok(c)
}

fn read_misp(
    t: &mut Table<'_>,
    doc: &Doc<'_>,
    warnings: &mut Vec<String>,
) -> Result<MispConfig, ConfigError> {
    let url = read_url(t, warnings, "the MISP base URL (https://...)")?;
    let key = read_secret(t, doc, "key", warnings)?;
    let mut c = MispConfig::new(url, key);
    c.http = read_http(t, warnings)?;
    if let Some(n) = t.int("page_size", 1, i64::from(MispConfig::MAX_PAGE_SIZE))? {
        c.page_size = n;
    }
    if let Some(n) = t.int("overlap_secs", 0, i64::MAX)? {
        c.overlap_secs = n;
    }
    if let Some(b) = t.bool("to_ids_only")? {
        c.to_ids_only = b;
    }
    if let Some(b) = t.bool("published_only")? {
        c.published_only = b;
    }
    c.types = t.strings("types", false)?.unwrap_or_default();
    c.categories = t.strings("categories", false)?.unwrap_or_default();
    c.tags_include = t.strings("tags_include", false)?.unwrap_or_default();
    c.tags_exclude = t.strings("tags_exclude", false)?.unwrap_or_default();
    c.min_decay_score = t.float("min_decay_score", 0.0, 100.0)?;
    if let Some(b) = t.bool("mirror_warninglists")? {
        c.mirror_warninglists = b;
    }
    Ok(c)
}

fn read_list(t: &mut Table<'_>) -> Result<ListConfig, ConfigError> {
    let mut c = ListConfig::new(required_path(t, "the list file or directory")?);
    c.kind = t.parse("kind", super::matching::parse_kind)?;
    c.column = t.int("column", 1, 10_000)?;
    if let Some(d) = t.parse_raw("delimiter", |s| {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(format!("must be a single character, got `{s}`")),
        }
    })? {
        c.delimiter = d;
    }
    c.score = t.int("score", 0, 100)?;
    c.labels = t.strings("labels", false)?.unwrap_or_default();
    Ok(c)
}
