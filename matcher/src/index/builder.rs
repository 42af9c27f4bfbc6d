//! The index compiler: turns records and their match keys into a new,
//! immutable generation directory and publishes it atomically.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::key::{KeyMethod, MatchKey};
use crate::kind::Kind;
use crate::record::Record;

use super::domains::reverse_labels;
use super::fsutil::{create_dir, create_dir_all, create_file};
use super::generation;
use super::hashes::{hash_width, HashTableBuilder};
use super::iptable::IpTableBuilder;
use super::iptable::IpTableStats;
use super::layout;
use super::meta::{GenerationMeta, Refused};
use super::postings::{self, PostingsWriter, RecordId};
use super::records::RecordWriter;
use super::substrings;

/// Building or publishing a generation failed.
#[derive(Debug, thiserror::Error)]
#[error("index {}: {action}: {source}", path.display())]
pub struct BuildError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

pub(super) fn err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> BuildError + 'a {
    move |source| BuildError {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Keys of one structure, held compactly until they can be sorted: one byte
/// arena plus fixed-size entries whose first 16 key bytes settle most comparisons.
#[derive(Default)]
struct KeyArena {
    bytes: Vec<u8>,
    entries: Vec<ArenaEntry>,
}

#[derive(Clone, Copy)]
struct ArenaEntry {
    prefix: u128,
    offset: u64,
    len: u32,
    record: RecordId,
}

impl KeyArena {
    fn push(&mut self, parts: &[&[u8]], record: RecordId) {
        let offset = self.bytes.len() as u64;
        for p in parts {
            self.bytes.extend_from_slice(p);
        }
        let key = &self.bytes[offset as usize..];
        let mut head = [0u8; 16];
        let n = key.len().min(16);
        head[..n].copy_from_slice(&key[..n]);
        self.entries.push(ArenaEntry {
            prefix: u128::from_be_bytes(head),
            offset,
            len: key.len() as u32,
            record,
        });
    }

    fn key(&self, e: &ArenaEntry) -> &[u8] {
        &self.bytes[e.offset as usize..e.offset as usize + e.len as usize]
    }

    fn sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| self.key(a).cmp(self.key(b)))
                .then(a.record.cmp(&b.record))
        });
        self.entries = entries;
    }

    /// Writes an FST map of the sorted keys; returns the number of distinct keys.
    fn write_fst<W: Write>(
        mut self,
        out: W,
        postings: &mut PostingsWriter,
    ) -> Result<u64, io::Error> {
        self.sort();
        let mut map = fst::MapBuilder::new(out).map_err(io::Error::other)?;
        let mut ids: Vec<RecordId> = Vec::new();
        let mut distinct = 0;
        let mut i = 0;
        while i < self.entries.len() {
            let key = self.key(&self.entries[i]);
            ids.clear();
            let mut j = i;
            while j < self.entries.len() && self.key(&self.entries[j]) == key {
                let r = self.entries[j].record;
                if ids.last() != Some(&r) {
                    ids.push(r);
                }
                j += 1;
            }
            let posting = postings.push(&ids)?;
            map.insert(key, posting).map_err(io::Error::other)?;
            distinct += 1;
            i = j;
        }
        map.finish().map_err(io::Error::other)?;
        Ok(distinct)
    }
}

/// Posting areas of the key structures (see [`postings`]).
const AREA_EXACT: u8 = 0;
const AREA_DOMAINS: u8 = 1;
const AREA_HASHES: u8 = 2;
const AREA_IP: u8 = 3;
const AREA_SUBSTRINGS: u8 = 4;

/// Collects records and keys, then writes and publishes a generation.
pub struct IndexBuilder {
    index_dir: PathBuf,
    tmp: PathBuf,
    /// `tmp/.building`, locked for as long as this builder lives.
    _building: File,
    /// `None` only after `finish` took it.
    records: Option<RecordWriter<BufWriter<File>, BufWriter<File>>>,
    exact: KeyArena,
    hashes: HashTableBuilder,
    domains: KeyArena,
    ip: IpTableBuilder,
    substrings: Vec<(KeyMethod, String, Kind, RecordId)>,
    keys_by_kind: BTreeMap<String, u64>,
    path_keys: u64,
    skipped: BTreeMap<String, u64>,
    excluded: BTreeMap<String, u64>,
    refused: BTreeMap<String, Refused>,
    options: BTreeMap<String, serde_json::Value>,
    scratch: Vec<u8>,
    finished: bool,
    started: Instant,
}

impl IndexBuilder {
    /// Starts a generation in a private temporary directory under `index_dir`.
    pub fn new(index_dir: &Path) -> Result<IndexBuilder, BuildError> {
        create_dir_all(index_dir).map_err(err(index_dir, "create index directory"))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = index_dir.join(format!(
            "{}{}-{nanos}",
            layout::TMP_PREFIX,
            std::process::id()
        ));
        create_dir(&tmp).map_err(err(&tmp, "create generation directory"))?;
        let building_path = tmp.join(layout::BUILDING_LOCK);
        let building = create_file(&building_path).map_err(err(&building_path, "create"))?;
        building.lock().map_err(err(&building_path, "lock"))?;
        let open = |name: &str| -> Result<BufWriter<File>, BuildError> {
            let p = tmp.join(name);
            let f = create_file(&p).map_err(err(&p, "create file"))?;
            Ok(BufWriter::with_capacity(1 << 20, f))
        };
        let records = RecordWriter::new(open(layout::RECORDS_DAT)?, open(layout::RECORDS_IDX)?);
        Ok(IndexBuilder {
            index_dir: index_dir.to_path_buf(),
            tmp,
            _building: building,
            records: Some(records),
            exact: KeyArena::default(),
            hashes: HashTableBuilder::default(),
            domains: KeyArena::default(),
            ip: IpTableBuilder::default(),
            substrings: Vec::new(),
            keys_by_kind: BTreeMap::new(),
            path_keys: 0,
            skipped: BTreeMap::new(),
            excluded: BTreeMap::new(),
            refused: BTreeMap::new(),
            options: BTreeMap::new(),
            scratch: Vec::new(),
            finished: false,
            started: Instant::now(),
        })
    }

    /// Records a build option in `meta.json` (shown by `status`).
    pub fn set_option(&mut self, name: &str, value: serde_json::Value) {
        self.options.insert(name.to_string(), value);
    }

    /// Counts a record the caller left out (revoked, expired, below min_score...).
    pub fn exclude(&mut self, reason: &str) {
        *self.excluded.entry(reason.to_string()).or_default() += 1;
    }

    /// Counts a key the caller refused because it exceeds a limit a feed may
    /// not (a /0 network, a warninglist entry on a public suffix...); the
    /// first one of each reason is kept as the example.
    pub fn refuse(&mut self, reason: &str, example: impl FnOnce() -> String) {
        match self.refused.get_mut(reason) {
            Some(r) => r.count += 1,
            None => {
                let example = example();
                self.refused
                    .insert(reason.to_string(), Refused { count: 1, example });
            }
        }
    }

    pub fn records(&self) -> u32 {
        self.records.as_ref().map_or(0, |r| r.count())
    }

    /// Adds a record and every key that leads to it. Keys are expected to be
    /// normalised already (the store derives them with [`crate::normalize`]).
    pub fn add(&mut self, record: &Record, keys: &[MatchKey]) -> Result<RecordId, BuildError> {
        let writer = self.records.as_mut().ok_or_else(|| BuildError {
            path: self.tmp.clone(),
            action: "write record",
            source: io::Error::other("builder already finished"),
        })?;
        let id = writer
            .push(record)
            .map_err(err(&self.tmp, "write record"))?;
        for k in keys {
            self.add_key(k, id);
        }
        Ok(id)
    }

    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    fn add_key(&mut self, k: &MatchKey, id: RecordId) {
        *self
            .keys_by_kind
            .entry(k.kind.as_str().to_string())
            .or_default() += 1;
        if k.kind == Kind::Filename && crate::normalize::is_path(&k.key) {
            self.path_keys += 1;
        }
        match k.method {
            KeyMethod::Substring | KeyMethod::Prefix => {
                if k.key.is_empty() {
                    return self.skip("empty substring key");
                }
                // The scan's bound (the compiler refuses these and says so).
                if k.method == KeyMethod::Substring && k.key.len() > substrings::MAX_PATTERN_LEN {
                    return self.skip("substring key too long");
                }
                self.substrings
                    .push((k.method, k.key.to_lowercase(), k.kind, id));
            }
            KeyMethod::Exact | KeyMethod::Cidr if k.kind.is_ip() => match parse_ip_key(&k.key) {
                Some((addr, len)) => self.ip.add(addr, len, id),
                None => self.skip("unparseable IP key"),
            },
            KeyMethod::Cidr => self.skip("CIDR key on a non-IP kind"),
            KeyMethod::Exact if k.kind == Kind::Domain => {
                reverse_labels(&k.key, &mut self.scratch);
                let rev = std::mem::take(&mut self.scratch);
                self.domains.push(&[&rev], id);
                self.scratch = rev;
            }
            KeyMethod::Exact => match hash_width(k.kind, &k.key) {
                Some(width) => self.hashes.add(k.kind, &k.key, width, id),
                None => self.exact.push(&[&[k.kind.tag()], k.key.as_bytes()], id),
            },
        }
    }

    /// Writes every structure, fsyncs, and publishes the generation as the
    /// new `CURRENT`. Returns its metadata.
    pub fn finish(mut self) -> Result<GenerationMeta, BuildError> {
        let tmp = self.tmp.clone();
        let mut timings = BTreeMap::new();
        let mut mark = {
            let mut last = self.started;
            move |phase: &str, timings: &mut BTreeMap<String, u64>| {
                let now = Instant::now();
                timings.insert(phase.to_string(), (now - last).as_millis() as u64);
                last = now;
            }
        };
        mark("collect", &mut timings);
        let records = self.records.take().ok_or_else(|| BuildError {
            path: tmp.clone(),
            action: "finish",
            source: io::Error::other("builder already finished"),
        })?;
        let record_count = u64::from(records.count());
        let (dat, idx, strings) = records.into_inner();
        finish_file(dat, &tmp.join(layout::RECORDS_DAT))?;
        finish_file(idx, &tmp.join(layout::RECORDS_IDX))?;

        let create = |name: &str| -> Result<BufWriter<File>, BuildError> {
            let p = tmp.join(name);
            Ok(BufWriter::with_capacity(
                1 << 20,
                create_file(&p).map_err(err(&p, "create file"))?,
            ))
        };
        let strings_path = tmp.join(layout::STRINGS);
        let mut out = create(layout::STRINGS)?;
        strings
            .write(&mut out)
            .map_err(err(&strings_path, "write"))?;
        finish_file(out, &strings_path)?;
        drop(strings);
        mark("records", &mut timings);
        // The key structures are independent (each fills its own postings
        // area), so they are built on parallel threads: the exact and domain
        // FSTs are the slow ones.
        let exact = std::mem::take(&mut self.exact);
        let domains = std::mem::take(&mut self.domains);
        let hashes = std::mem::take(&mut self.hashes);
        let ip = std::mem::take(&mut self.ip);
        type Built<T> = Result<(T, PostingsWriter, u64), BuildError>;
        let fst_job = |arena: KeyArena, name: &'static str, area: u8| {
            let create = &create;
            let tmp = &tmp;
            move || -> Built<u64> {
                let t = Instant::now();
                let path = tmp.join(name);
                let mut postings = PostingsWriter::new(area);
                let mut out = create(name)?;
                let keys = arena
                    .write_fst(&mut out, &mut postings)
                    .map_err(err(&path, "write"))?;
                finish_file(out, &path)?;
                Ok((keys, postings, t.elapsed().as_millis() as u64))
            }
        };
        let (exact, domains, hashes, ip) = std::thread::scope(|scope| {
            let exact = scope.spawn(fst_job(exact, layout::EXACT, AREA_EXACT));
            let domains = scope.spawn(fst_job(domains, layout::DOMAINS, AREA_DOMAINS));
            let hashes = (|| -> Built<u64> {
                let t = Instant::now();
                let path = tmp.join(layout::HASHES);
                let mut postings = PostingsWriter::new(AREA_HASHES);
                let mut out = create(layout::HASHES)?;
                let keys = hashes
                    .write(&mut out, &mut |ids| postings.push(ids))
                    .map_err(err(&path, "write"))?;
                finish_file(out, &path)?;
                Ok((keys, postings, t.elapsed().as_millis() as u64))
            })();
            let ip = (|| -> Built<IpTableStats> {
                let t = Instant::now();
                let path = tmp.join(layout::IP);
                let mut postings = PostingsWriter::new(AREA_IP);
                let mut out = create(layout::IP)?;
                let stats = ip
                    .write(&mut out, &mut |ids| postings.push(ids))
                    .map_err(err(&path, "write"))?;
                finish_file(out, &path)?;
                Ok((stats, postings, t.elapsed().as_millis() as u64))
            })();
            let joined = |h: std::thread::ScopedJoinHandle<'_, Built<u64>>| {
                h.join().unwrap_or_else(|_| {
                    Err(BuildError {
                        path: tmp.clone(),
                        action: "build",
                        source: io::Error::other("index build thread panicked"),
                    })
                })
            };
            (joined(exact), joined(domains), hashes, ip)
        });
        let (exact_keys, exact_postings, exact_ms) = exact?;
        let (domain_keys, domain_postings, domains_ms) = domains?;
        let (hash_keys, hash_postings, hashes_ms) = hashes?;
        let (ip_stats, ip_postings, ip_ms) = ip?;
        for (phase, ms) in [
            ("exact", exact_ms),
            ("domains", domains_ms),
            ("hashes", hashes_ms),
            ("ip", ip_ms),
        ] {
            timings.insert(phase.to_string(), ms);
        }
        mark("structures", &mut timings);
        let mut postings = PostingsWriter::new(AREA_SUBSTRINGS);

        let sub_path = tmp.join(layout::SUBSTRINGS);
        let mut subs = std::mem::take(&mut self.substrings);
        subs.sort_unstable();
        subs.dedup();
        let mut entries: Vec<substrings::Entry> = Vec::new();
        let mut ids = Vec::new();
        let mut i = 0;
        while i < subs.len() {
            let (method, ref text, kind, _) = subs[i];
            let mut j = i;
            ids.clear();
            while j < subs.len() && subs[j].0 == method && subs[j].1 == *text && subs[j].2 == kind {
                ids.push(subs[j].3);
                j += 1;
            }
            let posting = postings.push(&ids).map_err(err(&sub_path, "write"))?;
            entries.push((method, text.clone(), kind, posting));
            i = j;
        }
        let substring_count = entries.len() as u64;
        let mut out = create(layout::SUBSTRINGS)?;
        substrings::write(&mut out, entries).map_err(err(&sub_path, "write"))?;
        finish_file(out, &sub_path)?;

        let postings_path = tmp.join(layout::POSTINGS);
        let mut out = create(layout::POSTINGS)?;
        postings::write(
            &mut out,
            &[
                exact_postings,
                domain_postings,
                hash_postings,
                ip_postings,
                postings,
            ],
        )
        .map_err(err(&postings_path, "write"))?;
        finish_file(out, &postings_path)?;
        mark("substrings_postings", &mut timings);

        let mut files = BTreeMap::new();
        for name in layout::DATA_FILES {
            let p = tmp.join(name);
            let len = fs::metadata(&p).map_err(err(&p, "stat"))?.len();
            files.insert(name.to_string(), len);
        }
        let readers = tmp.join(layout::READERS_LOCK);
        create_file(&readers).map_err(err(&readers, "create"))?;
        // A published generation carries no build lock (the lock itself is
        // held until this builder is dropped).
        let building = tmp.join(layout::BUILDING_LOCK);
        fs::remove_file(&building).map_err(err(&building, "remove"))?;

        let mut meta = GenerationMeta {
            format: layout::FORMAT,
            generation: 0,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            records: record_count,
            exact_keys: exact_keys + hash_keys,
            domain_keys,
            ip: ip_stats,
            substrings: substring_count,
            skipped: std::mem::take(&mut self.skipped),
            keys_by_kind: std::mem::take(&mut self.keys_by_kind),
            path_keys: self.path_keys,
            files,
            options: std::mem::take(&mut self.options),
            excluded: std::mem::take(&mut self.excluded),
            refused: std::mem::take(&mut self.refused),
            build_ms: timings,
        };
        let published = generation::publish(&self.index_dir, &tmp, &mut meta)?;
        self.finished = true;
        meta.generation = published;
        Ok(meta)
    }
}

fn finish_file(w: BufWriter<File>, path: &Path) -> Result<(), BuildError> {
    let f = w.into_inner().map_err(|e| BuildError {
        path: path.to_path_buf(),
        action: "flush",
        source: e.into_error(),
    })?;
    f.sync_all().map_err(err(path, "fsync"))
}

impl Drop for IndexBuilder {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// `a.b.c.d`, `a.b.c.d/len`, `v6`, `v6/len` as stored by the normaliser.
pub fn parse_ip_key(key: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match key.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (key, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let full = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(full);
    (len <= full).then_some((addr, len))
}
