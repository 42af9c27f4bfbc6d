//! Reading TOML tables by hand, key by key.
//!
//! serde's derive would report "unknown field" or "invalid type" without saying
//! where; reading each key ourselves gives every error the key's full location
//! (`sources[1] (misp): page_size`), its line, and for unknown keys the list of
//! keys that table accepts. The spanned tree from `toml::de::DeTable` keeps the
//! byte offsets that become line numbers.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::ConfigError;

pub(crate) type Value<'a> = Spanned<DeValue<'a>>;

/// One table of an array of tables: its index, content and span.
pub(crate) type TableEntry<'a> = (usize, &'a DeTable<'a>, Range<usize>);

/// The file being read: what errors name and where relative paths resolve.
pub(crate) struct Doc<'a> {
    pub(crate) origin: &'a Path,
    text: &'a str,
    base: PathBuf,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(origin: &'a Path, text: &'a str, base: PathBuf) -> Doc<'a> {
        Doc { origin, text, base }
    }

    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(crate) fn column_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        let start = self.text.as_bytes()[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        self.text
            .get(start..end)
            .map_or(1, |s| s.chars().count() + 1)
    }

    /// Relative paths in the config are relative to the config file's directory,
    /// so that a config works whatever the current directory.
    pub(crate) fn resolve_path(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }

    pub(crate) fn error(
        &self,
        location: impl Into<String>,
        message: impl Into<String>,
        span: Option<Range<usize>>,
    ) -> ConfigError {
        let line = span.map(|s| self.line_of(s.start));
        ConfigError::invalid(self.origin, location, message, line)
    }
}

/// One TOML table being read. Every accessor records its key as known, and
/// [`Table::finish`] rejects the keys nobody asked for.
pub(crate) struct Table<'a> {
    doc: &'a Doc<'a>,
    /// Location of the table itself: `""` (top level), `matching`,
    /// `sources[1] (misp)`, `extract.extra_paths[0]`.
    path: String,
    /// Between the table's location and a key: `.` for plain tables, `: ` after
    /// a labelled location like `sources[1] (misp)`.
    join: &'static str,
    table: &'a DeTable<'a>,
    span: Range<usize>,
    known: Vec<&'static str>,
}

impl<'a> Table<'a> {
    pub(crate) fn new(
        doc: &'a Doc<'a>,
        path: String,
        join: &'static str,
        table: &'a DeTable<'a>,
        span: Range<usize>,
    ) -> Table<'a> {
        Table {
            doc,
            path,
            join,
            table,
            span,
            known: Vec::new(),
        }
    }

    pub(crate) fn doc(&self) -> &'a Doc<'a> {
        self.doc
    }

    /// The full location of `key` in this table, as error messages show it.
    pub(crate) fn location(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}{}{key}", self.path, self.join)
        }
    }

    pub(crate) fn error_at(
        &self,
        key: &str,
        message: impl Into<String>,
        span: Option<Range<usize>>,
    ) -> ConfigError {
        self.doc.error(self.location(key), message, span)
    }

    fn take(&mut self, key: &'static str) -> Option<&'a Value<'a>> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table.get(key)
    }

    fn type_error(&self, key: &str, value: &Value<'_>, expected: &str) -> ConfigError {
        self.error_at(
            key,
            format!(
                "expected {expected}, got {}",
                article(value.get_ref().type_str())
            ),
            Some(value.span()),
        )
    }

    pub(crate) fn bool(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Some(*b)),
            _ => Err(self.type_error(key, value, "true or false")),
        }
    }

    /// A string value and its span.
    fn str_spanned(
        &mut self,
        key: &'static str,
    ) -> Result<Option<(&'a str, Range<usize>)>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::String(s) => Ok(Some((s.as_ref(), value.span()))),
            _ => Err(self.type_error(key, value, "a string")),
        }
    }

    /// A string that is not blank, turned into `T` by `f`; `f`'s error
    /// message is reported at the value.
    pub(crate) fn parse<T>(
        &mut self,
        key: &'static str,
        f: impl FnOnce(&'a str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.parse_raw(key, |s| {
            if s.trim().is_empty() {
                Err("must not be empty".to_owned())
            } else {
                f(s)
            }
        })
    }

    /// Like [`Table::parse`], blank strings included (a tab delimiter).
    pub(crate) fn parse_raw<T>(
        &mut self,
        key: &'static str,
        f: impl FnOnce(&'a str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((s, span)) = self.str_spanned(key)? else {
            return Ok(None);
        };
        f(s).map(Some)
            .map_err(|message| self.error_at(key, message, Some(span)))
    }

    /// One of a fixed set of words.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        options: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        self.parse(key, |s| {
            options
                .iter()
                .find(|(name, _)| *name == s)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                    format!("expected one of {}, got `{s}`", names.join(", "))
                })
        })
    }

    /// A path; relative ones resolve against the config file's directory.
    pub(crate) fn path(&mut self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        let doc = self.doc;
        self.parse(key, |s| Ok(doc.resolve_path(s)))
    }

    /// An integer within `min..=max`, converted to `T`.
    pub(crate) fn int<T: TryFrom<i64>>(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let DeValue::Integer(int) = value.get_ref() else {
            return Err(self.type_error(key, value, "an integer"));
        };
        let bounds = if max == i64::MAX {
            format!("at least {min}")
        } else {
            format!("between {min} and {max}")
        };
        let out_of_range = |shown: &str| {
            self.error_at(
                key,
                format!("must be {bounds}, got {shown}"),
                Some(value.span()),
            )
        };
        let n = i64::from_str_radix(int.as_str(), int.radix())
            .map_err(|_| out_of_range(&int.to_string()))?;
        if n < min || n > max {
            return Err(out_of_range(&n.to_string()));
        }
        T::try_from(n)
            .map(Some)
            .map_err(|_| out_of_range(&n.to_string()))
    }

    /// A number (integer or float) within `min..=max`.
    pub(crate) fn float(
        &mut self,
        key: &'static str,
        min: f64,
        max: f64,
    ) -> Result<Option<f64>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let parsed = match value.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            _ => return Err(self.type_error(key, value, "a number")),
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.error_at(
                key,
                format!("must be a number between {min} and {max}"),
                Some(value.span()),
            )),
        }
    }

    /// An array; its elements are checked by the caller.
    pub(crate) fn array(
        &mut self,
        key: &'static str,
    ) -> Result<Option<&'a [Value<'a>]>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::Array(items) => Ok(Some(items.as_ref())),
            _ => Err(self.type_error(key, value, "an array")),
        }
    }

    /// An array of non-empty strings; integers are accepted and written out
    /// (rule ids are often given as numbers).
    pub(crate) fn strings(
        &mut self,
        key: &'static str,
        allow_integers: bool,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{key}[{i}]");
            match item.get_ref() {
                DeValue::String(s) if s.trim().is_empty() => {
                    return Err(self.error_at(&at, "must not be empty", Some(item.span())));
                }
                DeValue::String(s) => out.push(s.to_string()),
                DeValue::Integer(n) if allow_integers => {
                    match i64::from_str_radix(n.as_str(), n.radix()) {
                        Ok(n) => out.push(n.to_string()),
                        Err(_) => {
                            return Err(self.error_at(
                                &at,
                                "integer out of range",
                                Some(item.span()),
                            ))
                        }
                    }
                }
                _ => {
                    let expected = if allow_integers {
                        "a string or an integer"
                    } else {
                        "a string"
                    };
                    return Err(self.type_error(&at, item, expected));
                }
            }
        }
        Ok(Some(out))
    }

    /// An array of paths, each resolved like [`Table::path`].
    pub(crate) fn paths(&mut self, key: &'static str) -> Result<Option<Vec<PathBuf>>, ConfigError> {
        let doc = self.doc;
        Ok(self
            .strings(key, false)?
            .map(|items| items.iter().map(|s| doc.resolve_path(s)).collect()))
    }

    /// A sub-table, read with its own [`Table`].
    pub(crate) fn table(&mut self, key: &'static str) -> Result<Option<Table<'a>>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let path = self.location(key);
        match value.get_ref() {
            DeValue::Table(table) => Ok(Some(Table::new(self.doc, path, ".", table, value.span()))),
            _ => Err(self.type_error(key, value, "a table")),
        }
    }

    /// The tables of an array of tables (`[[sources]]` or `[{...}, {...}]`).
    pub(crate) fn tables(&mut self, key: &'static str) -> Result<Vec<TableEntry<'a>>, ConfigError> {
        let Some(items) = self.array(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get_ref() {
                DeValue::Table(t) => Ok((i, t, item.span())),
                _ => Err(self.type_error(&format!("{key}[{i}]"), item, "a table")),
            })
            .collect()
    }

    /// The error for a key that must be present.
    pub(crate) fn missing(&self, key: &str, why: &str) -> ConfigError {
        self.error_at(
            key,
            format!("missing; {why}"),
            Some(self.span.start..self.span.start),
        )
    }

    /// Reject keys that no accessor asked for, naming the first one (in file
    /// order) and the keys this table accepts.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        let mut unknown: Vec<(&str, Range<usize>)> = self
            .table
            .iter()
            .filter(|(k, _)| !self.known.contains(&k.get_ref().as_ref()))
            .map(|(k, _)| (k.get_ref().as_ref(), k.span()))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort_by_key(|(_, span)| span.start);
        let (first, span) = unknown[0].clone();
        let mut message = format!(
            "unknown key `{first}`; expected one of {}",
            self.known.join(", ")
        );
        if unknown.len() > 1 {
            let others: Vec<&str> = unknown[1..].iter().map(|(k, _)| *k).collect();
            message.push_str(&format!(" (also unknown: {})", others.join(", ")));
        }
        Err(self.doc.error(self.path.clone(), message, Some(span)))
    }
}

/// A string value of `table`, looked at before the table is read (a source's
/// `name` labels the errors about its other keys).
pub(crate) fn peek_str<'a>(table: &'a DeTable<'a>, key: &str) -> Option<&'a str> {
    match table.get(key)?.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}
