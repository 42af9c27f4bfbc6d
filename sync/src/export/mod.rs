//! `intelmatch export cdb`: the store's live content as Wazuh CDB lists
//! (contract §6), so that analysisd itself can match, through `<list>` rules,
//! events that never reach integratord.
//!
//! - `cdb.rs`: the line format (quoting) and an analysisd-exact reader;
//! - `cidr.rs`: networks as the octet-boundary prefixes `address_match_key` knows;
//! - `layout.rs`: the default per-kind lists and the `malicious-ioc` layout;
//! - `entries.rs`: the compact collection of keys before sorting;
//! - `writer.rs`: temp file, fsync, rename, change-only, per-list diff.
//!
//! What cannot be exported (substring patterns, IPv6 networks, networks over
//! the expansion cap, kinds without a list, keys a CDB line cannot carry) is
//! counted by reason with examples, never dropped silently.

pub mod cdb;
pub mod cidr;
pub mod entries;
pub mod layout;
pub mod writer;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use matcher::safe_dir::SafeDir;
use matcher::{KeyMethod, Kind, MatchKey, Record};
use serde::Serialize;

use crate::compile::CompileOptions;
use crate::store::{Store, StoreError};
use cidr::Target;
use entries::{Contribution, Entries};
pub use layout::{Layout, ListSpec, ValueStyle};
pub use writer::{ListOutcome, WriteError};

/// Examples kept per reason in the summary.
const EXAMPLES: usize = 10;
/// Sources named in one value before the rest are counted (`+3`).
const MAX_SOURCES: usize = 4;
/// The longest value written (families and source names are cut to fit).
const MAX_VALUE: usize = 256;
/// Default cap on the keys one network may expand to: a /16 in the
/// `malicious-ioc` layout (single addresses). In the default layout no
/// network needs more than 256 keys.
pub const DEFAULT_MAX_EXPANSION: u64 = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    pub layout: Layout,
    /// The most keys one network may expand to; larger ones are reported.
    pub max_expansion: u64,
    /// The index compiler's exclusions (revoked, detection disabled, expired, below min_score).
    pub compile: CompileOptions,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            layout: Layout::Default,
            max_expansion: DEFAULT_MAX_EXPANSION,
            compile: CompileOptions::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{}: cannot create the output directory: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Something that was not exported, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotExported {
    pub reason: String,
    pub count: u64,
    /// The first few values (networks, keys, kinds) concerned.
    pub examples: Vec<String>,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSummary {
    pub out: PathBuf,
    pub layout: &'static str,
    pub lists: Vec<ListOutcome>,
    /// Records left out like the index compiler leaves them out, by reason.
    pub excluded: BTreeMap<&'static str, u64>,
    pub not_exported: Vec<NotExported>,
    /// Networks written as several keys, and how many keys they became.
    pub networks_expanded: u64,
    pub network_keys: u64,
}

impl ExportSummary {
    pub fn changed(&self) -> bool {
        self.lists.iter().any(|l| l.written)
    }
}

/// Exports the live content of `store` into `out`.
pub fn export_store(
    store: &Store,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, ExportError> {
    let now = chrono::Utc::now().timestamp();
    let mut ex = Exporter::new(opts.clone());
    store.for_each_index_entry(&mut |entry| {
        match exclusion(&entry.record, &opts.compile, now) {
            Some(reason) => *ex.excluded.entry(reason).or_default() += 1,
            None => ex.add(&entry.record, &entry.keys),
        }
        Ok(())
    })?;
    ex.finish(out)
}

pub use crate::compile::exclusion;

/// Collects records and their keys, then writes the lists.
pub struct Exporter {
    opts: ExportOptions,
    lists: Vec<Entries>,
    tags: Vec<String>,
    tag_ids: HashMap<String, u32>,
    excluded: BTreeMap<&'static str, u64>,
    not_exported: BTreeMap<String, NotExported>,
    networks_expanded: u64,
    network_keys: u64,
    key_buf: Vec<u8>,
}

impl Exporter {
    pub fn new(opts: ExportOptions) -> Exporter {
        let n = opts.layout.lists().len();
        Exporter {
            opts,
            lists: (0..n).map(|_| Entries::default()).collect(),
            tags: Vec::new(),
            tag_ids: HashMap::new(),
            excluded: BTreeMap::new(),
            not_exported: BTreeMap::new(),
            networks_expanded: 0,
            network_keys: 0,
            key_buf: Vec::new(),
        }
    }

    /// Adds one record (already past the compile-time exclusions) and its keys.
    pub fn add(&mut self, record: &Record, keys: &[MatchKey]) {
        let layout = self.opts.layout;
        // One interned tag per value style, computed when first needed.
        let mut tag: [Option<u32>; 3] = [None; 3];
        for key in keys {
            let Some(list) = layout.list_for(key.kind) else {
                self.skip(
                    format!(
                        "kind {} has no list in the {} layout",
                        key.kind,
                        layout.as_str()
                    ),
                    &key.key,
                );
                continue;
            };
            let spec = layout.lists()[list];
            let slot = spec.values as usize;
            let tag = *tag[slot].get_or_insert_with(|| self.tag_of(record, spec.values));
            let c = Contribution {
                tag,
                score: record
                    .score
                    .map(|s| s.clamp(i64::from(i32::MIN + 1), i64::from(i32::MAX)) as i32),
                related: record.related.is_some(),
                partial: record.partial,
                net: None,
            };
            match key.method {
                KeyMethod::Exact => self.push(list, &key.key, c),
                KeyMethod::Cidr => self.add_network(list, spec.networks, key, c),
                KeyMethod::Substring | KeyMethod::Prefix => self.skip(
                    format!(
                        "{} pattern: CDB lookups match whole fields only",
                        key.method.as_str()
                    ),
                    &key.key,
                ),
            }
        }
    }

    fn add_network(&mut self, list: usize, target: Target, key: &MatchKey, c: Contribution) {
        if key.kind == Kind::Ipv6 {
            self.skip(
                "IPv6 network: CDB lookups have no IPv6 prefix form".into(),
                &key.key,
            );
            return;
        }
        let Some((addr, len)) = cidr::parse_v4(&key.key) else {
            self.skip("not an IPv4 network".into(), &key.key);
            return;
        };
        // The index refuses it too (crate::limits): the lists must agree.
        let min = self.opts.compile.limits.min_prefix_ipv4;
        if len < min {
            self.skip(
                format!("network broader than /{min} (matching.min_prefix_ipv4)"),
                &key.key,
            );
            return;
        }
        let e = cidr::expansion(addr, len, target);
        if e.count() > self.opts.max_expansion {
            self.skip(
                format!(
                    "network expands to more keys than the expansion cap {} (--max-expansion)",
                    self.opts.max_expansion
                ),
                &format!("{} ({} keys)", key.key, e.count()),
            );
            return;
        }
        let c = Contribution {
            net: Some((u32::from(addr), len)),
            ..c
        };
        self.networks_expanded += 1;
        self.network_keys += e.count();
        for k in e.keys() {
            self.push(list, &k, c);
        }
    }

    fn push(&mut self, list: usize, key: &str, c: Contribution) {
        if let Err(e) = cdb::check_key(key, MAX_VALUE) {
            self.skip(e.reason().into(), key);
            return;
        }
        self.key_buf.clear();
        if key.contains(':') {
            self.key_buf.push(b'"');
            self.key_buf.extend_from_slice(key.as_bytes());
            self.key_buf.push(b'"');
        } else {
            self.key_buf.extend_from_slice(key.as_bytes());
        }
        self.key_buf.push(b':');
        self.lists[list].push(&self.key_buf, c);
    }

    fn skip(&mut self, reason: String, example: &str) {
        let entry = self
            .not_exported
            .entry(reason.clone())
            .or_insert_with(|| NotExported {
                reason,
                count: 0,
                examples: Vec::new(),
            });
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            let mut ex: String = example.chars().take(200).collect();
            if ex.len() < example.len() {
                ex.push('…');
            }
            entry.examples.push(ex);
        }
    }

    /// The interned value part a record contributes.
    fn tag_of(&mut self, r: &Record, style: ValueStyle) -> u32 {
        let text = match style {
            ValueStyle::Provenance | ValueStyle::Empty => {
                cdb::clean_value(&r.source, &[',', ' ', '\t'])
            }
            ValueStyle::Family => family(r),
        };
        if let Some(&id) = self.tag_ids.get(&text) {
            return id;
        }
        let id = self.tags.len() as u32;
        self.tags.push(text.clone());
        self.tag_ids.insert(text, id);
        id
    }

    /// Writes every list of the layout (empty ones too: a rule naming a list
    /// whose file is missing is dropped by analysisd).
    pub fn finish(self, out: &Path) -> Result<ExportSummary, ExportError> {
        let owner = writer::ListOwner::for_wazuh();
        let dir = open_out_dir(out, owner).map_err(|source| ExportError::Dir {
            path: out.to_owned(),
            source,
        })?;
        let layout = self.opts.layout;
        let tags = self.tags;
        let mut outcomes = Vec::new();
        for (spec, entries) in layout.lists().iter().zip(self.lists) {
            let mut entries = Some(entries);
            let outcome = writer::write_list(&dir, spec.name, owner, &mut |w: &mut dyn Write| {
                let mut lines = 0u64;
                let mut line = Vec::with_capacity(256);
                let entries = entries.take().unwrap_or_default();
                entries.for_each_key(&mut |key, cs| {
                    line.clear();
                    line.extend_from_slice(key);
                    value(&mut line, spec.values, cs, &tags);
                    line.push(b'\n');
                    lines += 1;
                    w.write_all(&line)
                })?;
                Ok(lines)
            })?;
            outcomes.push(outcome);
        }
        Ok(ExportSummary {
            out: out.to_owned(),
            layout: layout.as_str(),
            lists: outcomes,
            excluded: self.excluded,
            not_exported: self.not_exported.into_values().collect(),
            networks_expanded: self.networks_expanded,
            network_keys: self.network_keys,
        })
    }

    /// Counts a record the caller excluded (for callers other than
    /// [`export_store`] that filter themselves).
    pub fn exclude(&mut self, reason: &'static str) {
        *self.excluded.entry(reason).or_default() += 1;
    }
}

/// Opens the output directory, creating it like Wazuh's `etc/lists`
/// (`root:wazuh 0770`): analysisd (user `wazuh`) writes `<list>.tmp` and
/// `<list>.cdb` next to each list. Outside a Wazuh tree (a parent without
/// group write) it is 0750. Through descriptors: the parent may be writable
/// by group wazuh while this runs as root.
fn open_out_dir(out: &Path, owner: writer::ListOwner) -> std::io::Result<SafeDir> {
    use std::os::unix::fs::MetadataExt;
    let (dir, created) = SafeDir::open_or_create(out, 0o750)?;
    if created {
        let parent_mode = out
            .parent()
            .map(|p| SafeDir::open(p).and_then(|d| d.metadata()))
            .transpose()?
            .map_or(0, |m| m.mode());
        let mode = if parent_mode & 0o020 != 0 {
            0o770
        } else {
            0o750
        };
        if dir.set_owner_and_mode(owner.uid, owner.gid, mode).is_err() {
            dir.set_owner_and_mode(None, None, mode)?;
        }
    }
    Ok(dir)
}

/// A malware family for `malware-hashes`: the first label, else the name
/// (unless it is just the hash), else the source.
fn family(r: &Record) -> String {
    let name_is_value = r.name.len() >= 32 && r.name.bytes().all(|b| b.is_ascii_hexdigit());
    let raw = r
        .labels
        .first()
        .filter(|l| !l.trim().is_empty())
        .map(String::as_str)
        .or_else(|| (!r.name.trim().is_empty() && !name_is_value).then_some(r.name.as_str()))
        .unwrap_or(&r.source);
    let mut f = cdb::clean_value(raw.trim(), &[' ', '\t', ',']);
    truncate(&mut f, 64);
    f
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Appends the value for one key's contributions. Deterministic whatever the
/// order of the contributions.
fn value(line: &mut Vec<u8>, style: ValueStyle, cs: &[Contribution], tags: &[String]) {
    match style {
        ValueStyle::Empty => {}
        ValueStyle::Family => {
            let best = cs.iter().map(|c| tags[c.tag as usize].as_str()).min();
            line.extend_from_slice(best.unwrap_or("").as_bytes());
        }
        ValueStyle::Provenance => {
            let start = line.len();
            let mut sources: Vec<&str> = cs.iter().map(|c| tags[c.tag as usize].as_str()).collect();
            sources.sort_unstable();
            sources.dedup();
            line.extend_from_slice(b"source=");
            for (i, s) in sources.iter().take(MAX_SOURCES).enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                line.extend_from_slice(s.as_bytes());
            }
            if sources.len() > MAX_SOURCES {
                line.extend_from_slice(format!(",+{}", sources.len() - MAX_SOURCES).as_bytes());
            }
            if let Some(score) = cs.iter().filter_map(|c| c.score).max() {
                line.extend_from_slice(format!(" score={score}").as_bytes());
            }
            // The most specific network, only when no record names the key itself.
            if cs.iter().all(|c| c.net.is_some()) {
                let net = cs
                    .iter()
                    .filter_map(|c| c.net)
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
                if let Some((addr, len)) = net {
                    let a = std::net::Ipv4Addr::from(addr);
                    line.extend_from_slice(format!(" net={a}/{len}").as_bytes());
                }
            }
            if cs.iter().all(|c| c.related) {
                line.extend_from_slice(b" related");
            }
            // Only when no record is satisfied by the key alone: a CDB rule
            // can then tell a compound pattern's part from a full match.
            if cs.iter().all(|c| c.partial) {
                line.extend_from_slice(b" partial");
            }
            // Source names are cleaned but not bounded: cut at a char boundary.
            if line.len() - start > MAX_VALUE {
                let mut end = start + MAX_VALUE;
                while end > start && (line[end] & 0xC0) == 0x80 {
                    end -= 1;
                }
                line.truncate(end);
            }
        }
    }
}

#[cfg(test)]
mod tests;
