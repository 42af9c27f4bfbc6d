//! MISP warninglists: well-known benign values (public resolvers, RFC 1918,
//! top domains, empty-file hashes, ...) whose hits are suppressed or
//! annotated at match time (contract `matching.warninglists`).
//!
//! Why here, in the sync crate, and not in the matcher: the lists are turned
//! into index records at compile time ([`crate::compile::ExtraEntries`]), and
//! from then on the matcher only sees warninglist records
//! (`RecordKind::Warninglist`) sharing keys with intel — its lookup already
//! drops or annotates those hits. Loading needs JSON files, the store (lists
//! mirrored from MISP live in the MISP source's sync state; regex lists are
//! evaluated against the stored keys) and a regex engine, none of which the
//! per-alert matcher should carry.
//!
//! Sources, later ones replacing earlier ones of the same `name`:
//! 1. the bundled CC0 lists (`warninglists/` at the repository root,
//!    embedded, so the binary is self-contained);
//! 2. `[matching] warninglist_dirs`: `<dir>/<name>/list.json` or `<dir>/*.json`;
//! 3. lists mirrored from MISP instances (`mirror_warninglists`).
//!
//! The lists apply to hits of every source: they are keyed by value, not by source.

pub mod bundled;
mod keys;
pub mod list;

use std::path::{Path, PathBuf};

use matcher::index::BuildError;
use matcher::{Kind, MatchKey, Record, RecordKind};
use serde_json::{json, Map};

pub use keys::{kinds, list_keys, regex};
pub use list::{parse, ListType, Warninglist};

use crate::compile::{EntrySink, ExtraEntries};
use crate::sources::misp::WARNINGLIST_PREFIX;
use crate::store::Store;

/// `source` of every warninglist record.
pub const SOURCE_NAME: &str = "warninglists";

/// A set of lists ready to compile.
#[derive(Debug, Clone, Default)]
pub struct Warninglists {
    lists: Vec<Warninglist>,
    /// The store whose keys regex lists are evaluated against.
    store_path: Option<PathBuf>,
    /// Files or lists that could not be used, one line each, naming them.
    pub problems: Vec<String>,
}

impl Warninglists {
    /// The bundled lists.
    pub fn bundled() -> Warninglists {
        let mut w = Warninglists::default();
        for (dir, text) in bundled::BUNDLED {
            match parse(text, &format!("bundled:{dir}")) {
                Ok(l) => w.add(l),
                Err(e) => w.problems.push(format!("bundled warninglist {dir}: {e}")),
            }
        }
        w
    }

    /// Everything a config asks for: bundled, `dirs`, and what the named MISP
    /// sources mirrored into `store_path` (which also serves the regex lists).
    /// Problems are logged, never fatal: a broken list must not stop a sync.
    pub fn load(dirs: &[PathBuf], store_path: &Path, misp_sources: &[String]) -> Warninglists {
        let mut w = Warninglists::bundled();
        for dir in dirs {
            w.add_dir(dir);
        }
        if store_path.exists() {
            w.store_path = Some(store_path.to_path_buf());
            if !misp_sources.is_empty() {
                match Store::open_readonly(store_path) {
                    Ok(store) => {
                        for source in misp_sources {
                            w.add_mirrored(&store, source);
                        }
                    }
                    Err(e) => w.problems.push(format!(
                        "mirrored warninglists: {}: {e}",
                        store_path.display()
                    )),
                }
            }
        }
        for p in &w.problems {
            tracing::warn!("{p}");
        }
        w
    }

    /// Adds a list, replacing one of the same name.
    pub fn add(&mut self, list: Warninglist) {
        match self.lists.iter_mut().find(|l| l.name == list.name) {
            Some(old) => *old = list,
            None => self.lists.push(list),
        }
    }

    /// Adds every list of a directory: `<name>/list.json` and `*.json`.
    pub fn add_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return self
                    .problems
                    .push(format!("warninglist_dirs {}: {e}", dir.display()))
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                if p.is_dir() {
                    let f = p.join("list.json");
                    f.is_file().then_some(f)
                } else {
                    (p.extension().is_some_and(|x| x == "json")).then_some(p)
                }
            })
            .collect();
        files.sort();
        for file in files {
            let shown = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse(&text, &shown) {
                    Ok(l) => self.add(l),
                    Err(e) => self.problems.push(format!("warninglist {shown}: {e}")),
                },
                Err(e) => self.problems.push(format!("warninglist {shown}: {e}")),
            }
        }
    }

    /// Adds the lists a MISP source mirrored (`warninglist/<name>` sync state).
    pub fn add_mirrored(&mut self, store: &Store, source: &str) {
        let states = match store.states(source) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .problems
                    .push(format!("mirrored warninglists of source `{source}`: {e}"))
            }
        };
        for (key, text) in states {
            let Some(name) = key.strip_prefix(WARNINGLIST_PREFIX) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            match parse(&text, &format!("misp:{source}")) {
                Ok(l) => self.add(l),
                Err(e) => self.problems.push(format!(
                    "warninglist `{name}` mirrored by source `{source}`: {e}"
                )),
            }
        }
    }

    pub fn lists(&self) -> &[Warninglist] {
        self.lists.iter().as_slice()
    }

    /// Keeps the lists `enabled` names (all when it is empty) minus those
    /// `disabled` names. A list is named by its `name` or, for the bundled
    /// ones, its directory (`public-dns-v4`), case aside. A name that matches
    /// no list is a problem, said once.
    pub fn select(&mut self, enabled: &[String], disabled: &[String]) {
        let named = |l: &Warninglist, n: &str| {
            l.name.eq_ignore_ascii_case(n)
                || l.origin
                    .strip_prefix("bundled:")
                    .is_some_and(|d| d.eq_ignore_ascii_case(n))
        };
        for (key, names) in [
            ("warninglists_enabled", enabled),
            ("warninglists_disabled", disabled),
        ] {
            for n in names {
                if !self.lists.iter().any(|l| named(l, n)) {
                    let problem = format!("matching.{key}: no warninglist is named `{n}`");
                    tracing::warn!("{problem}");
                    self.problems.push(problem);
                }
            }
        }
        self.lists.retain(|l| {
            (enabled.is_empty() || enabled.iter().any(|n| named(l, n)))
                && !disabled.iter().any(|n| named(l, n))
        });
    }

    /// Regex lists are evaluated against the exact keys stored for their kinds.
    pub fn set_store(&mut self, path: &Path) {
        self.store_path = Some(path.to_path_buf());
    }

    fn regex_keys(&self, list: &Warninglist) -> Result<Vec<MatchKey>, String> {
        let regexes = list
            .entries
            .iter()
            .map(|e| regex(e))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(path) = &self.store_path else {
            return Ok(Vec::new());
        };
        let kinds = kinds(list);
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = Vec::new();
        let mut stmt = conn
            .prepare("SELECT DISTINCT key FROM match_keys WHERE kind = ?1 AND method = 'exact'")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for kind in kinds.iter().copied().filter(|k| !k.is_ip()) {
            let rows = stmt
                .query_map([kind.as_str()], |r| r.get::<_, String>(0))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for key in rows.flatten() {
                if regexes.iter().any(|r| r.is_match(&key)) {
                    out.push(MatchKey::exact(kind, key));
                }
            }
        }
        Ok(out)
    }

    fn record(list: &Warninglist, exact_only: bool) -> Record {
        let mut extra = Map::new();
        extra.insert("list_type".into(), json!(list.list_type.as_str()));
        extra.insert("version".into(), json!(list.version));
        extra.insert("origin".into(), json!(list.origin));
        if !list.description.is_empty() {
            extra.insert("description".into(), json!(list.description));
        }
        Record {
            source: SOURCE_NAME.into(),
            source_type: "warninglist".into(),
            record_kind: RecordKind::Warninglist,
            id: format!("warninglist:{}", list.name),
            name: list.name.clone(),
            // Exact only: suppresses a value equal to a key, not a subdomain
            // or a URL's host (see keys.rs).
            partial: exact_only,
            extra,
            ..Record::default()
        }
    }
}

impl ExtraEntries for Warninglists {
    /// The active lists with their entry counts, for `status`.
    fn describe(&self) -> Option<(&'static str, serde_json::Value)> {
        let lists: Vec<serde_json::Value> = self
            .lists
            .iter()
            .map(|l| json!({"name": l.name, "entries": l.entries.len(), "origin": l.origin}))
            .collect();
        Some(("warninglists", serde_json::Value::Array(lists)))
    }

    fn for_each(&self, f: &mut EntrySink<'_>) -> Result<(), BuildError> {
        for list in &self.lists {
            let (exact, other) = if list.list_type == ListType::Regex {
                match self.regex_keys(list) {
                    Ok(keys) => (keys, Vec::new()),
                    Err(e) => {
                        tracing::warn!("warninglist {} ({}): {e}", list.name, list.origin);
                        continue;
                    }
                }
            } else {
                let (exact, other, unusable) = list_keys(list);
                if unusable > 0 {
                    tracing::debug!(
                        list = %list.name,
                        unusable,
                        "warninglist entries with no matchable value"
                    );
                }
                (exact, other)
            };
            if !exact.is_empty() {
                f(&Warninglists::record(list, true), &exact)?;
            }
            if !other.is_empty() {
                f(&Warninglists::record(list, false), &other)?;
            }
        }
        Ok(())
    }
}

/// The kinds a warninglist can name (for `status`-style summaries).
pub fn all_kinds(w: &Warninglists) -> Vec<Kind> {
    let mut out: Vec<Kind> = Vec::new();
    for l in w.lists() {
        for k in kinds(l) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_chosen_by_name_or_directory() {
        let names = |w: &Warninglists| -> Vec<String> {
            w.lists().iter().map(|l| l.name.clone()).collect()
        };
        let mut w = Warninglists::bundled();
        w.select(&[], &["tlds".into(), "List of known google domains".into()]);
        assert_eq!(w.lists().len(), bundled::BUNDLED.len() - 2);
        assert!(!names(&w).iter().any(|n| n.contains("google")));
        assert!(w.problems.is_empty(), "{:?}", w.problems);

        let mut w = Warninglists::bundled();
        w.select(&["public-dns-v4".into(), "RFC1918 BOGUS".into()], &[]);
        assert_eq!(names(&w), ["List of known IPv4 public DNS resolvers"]);
        assert_eq!(
            w.problems,
            ["matching.warninglists_enabled: no warninglist is named `RFC1918 BOGUS`"]
        );
        let described = w.describe().unwrap().1;
        assert_eq!(
            described[0]["name"],
            "List of known IPv4 public DNS resolvers"
        );
        assert!(described[0]["entries"].as_u64().unwrap() > 10);
    }

    #[test]
    fn every_bundled_list_loads_and_yields_keys() {
        let w = Warninglists::bundled();
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        assert_eq!(w.lists().len(), bundled::BUNDLED.len());
        let mut records = 0;
        let mut keys = 0;
        w.for_each(&mut |r, k| {
            assert_eq!(r.record_kind, RecordKind::Warninglist);
            records += 1;
            keys += k.len();
            Ok(())
        })
        .unwrap();
        // The regex lists need a store; every other list gives a record.
        assert!(records >= bundled::BUNDLED.len() - 2, "{records}");
        assert!(keys > 70_000, "{keys}");
    }
}
