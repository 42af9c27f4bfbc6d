//! Substring and prefix indicators (STIX `LIKE '%x%'` / `LIKE 'x%'`).
//!
//! `integrate` is one process per alert, so nothing may be built when a
//! generation is opened: an aho-corasick automaton cannot be saved, and
//! building one for 200,000 patterns cost each process over a second and
//! 200 MiB (`benches/substrings.rs`). The patterns are stored instead as two
//! FSTs (substrings, prefixes) that are used straight from the mapping:
//!
//! - a prefix lookup is one walk down the prefix FST along the value;
//! - a substring scan walks the substring FST from every character of the
//!   text and stops where no pattern continues, so it costs at most
//!   text length × [`MAX_PATTERN_LEN`] steps, whatever the number of patterns.
//!
//! File layout: `IMSUBS02`, then u64 little-endian entry count, substring FST
//! length and prefix FST length, and two u128 masks of the kind tags each FST
//! holds (so that a value of a kind no pattern has is not scanned at all);
//! the entries (kind tag, method, posting: 10 bytes each) sorted by method,
//! text and kind; the two FSTs. An FST value is `first entry << 8 | entry
//! count` of its text.

use std::io::{self, Write};
use std::ops::Range;

use fst::raw::{Fst, Node, Output};

use crate::key::KeyMethod;
use crate::kind::Kind;

const MAGIC: &[u8; 8] = b"IMSUBS02";
const HEADER_LEN: usize = 64;
const ENTRY_LEN: usize = 10;

/// Longest substring pattern the builder accepts: bounds the work per text byte.
pub const MAX_PATTERN_LEN: usize = 256;

/// One stored pattern: `(method, lowercase text, kind, posting)`.
pub type Entry = (KeyMethod, String, Kind, u64);

/// A pattern found in a value or a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found<'t> {
    pub posting: u64,
    pub kind: Kind,
    /// The pattern, as it occurs in the value.
    pub text: &'t str,
}

/// Writes the set. `entries` must be deduplicated by (method, text, kind).
pub fn write<W: Write>(out: &mut W, mut entries: Vec<Entry>) -> io::Result<()> {
    entries.sort_unstable();
    let mut table = Vec::with_capacity(entries.len() * ENTRY_LEN);
    let mut substrings = fst::raw::Builder::memory();
    let mut prefixes = fst::raw::Builder::memory();
    let mut kinds = [0u128; 2];
    let mut i = 0;
    while i < entries.len() {
        let (method, text) = (entries[i].0, &entries[i].1);
        let mut j = i;
        while j < entries.len() && entries[j].0 == method && entries[j].1 == *text {
            let (_, _, kind, posting) = &entries[j];
            table.push(kind.tag());
            table.push(u8::from(method == KeyMethod::Prefix));
            kinds[usize::from(method == KeyMethod::Prefix)] |= kind_bit(*kind);
            table.extend_from_slice(&posting.to_le_bytes());
            j += 1;
        }
        // One entry per kind, and kinds fit in a byte.
        debug_assert!(j - i < 256, "entries not deduplicated");
        let value = ((i as u64) << 8) | (j - i) as u64;
        let fst = match method {
            KeyMethod::Prefix => &mut prefixes,
            _ => &mut substrings,
        };
        fst.insert(text.as_bytes(), value)
            .map_err(io::Error::other)?;
        i = j;
    }
    let substrings = substrings.into_inner().map_err(io::Error::other)?;
    let prefixes = prefixes.into_inner().map_err(io::Error::other)?;
    out.write_all(MAGIC)?;
    for n in [entries.len(), substrings.len(), prefixes.len()] {
        out.write_all(&(n as u64).to_le_bytes())?;
    }
    for mask in kinds {
        out.write_all(&mask.to_le_bytes())?;
    }
    out.write_all(&table)?;
    out.write_all(&substrings)?;
    out.write_all(&prefixes)
}

#[derive(Debug, thiserror::Error)]
#[error("substring set is corrupt: {0}")]
pub struct Corrupt(pub &'static str);

/// Where the parts of a checked set lie in its file; kept by the open index
/// so that each lookup rebuilds its view in a few loads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    count: usize,
    /// [`kind_bit`]s of the substring and of the prefix patterns.
    kinds: [u128; 2],
    entries: Range<usize>,
    substrings: Range<usize>,
    prefixes: Range<usize>,
}

impl Layout {
    /// Checks the header and both FSTs (O(1): nothing is read but their ends).
    pub fn check(bytes: &[u8]) -> Result<Layout, Corrupt> {
        if bytes.is_empty() {
            return Ok(Layout::default());
        }
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(Corrupt("bad magic"));
        }
        let word = |i: usize| {
            let n = u64::from_le_bytes(bytes[8 + 8 * i..16 + 8 * i].try_into().unwrap());
            usize::try_from(n).map_err(|_| Corrupt("length out of range"))
        };
        let (count, sub_len, pre_len) = (word(0)?, word(1)?, word(2)?);
        let entries_end = count
            .checked_mul(ENTRY_LEN)
            .and_then(|n| n.checked_add(HEADER_LEN))
            .ok_or(Corrupt("length out of range"))?;
        let sub_end = entries_end
            .checked_add(sub_len)
            .ok_or(Corrupt("length out of range"))?;
        let pre_end = sub_end
            .checked_add(pre_len)
            .ok_or(Corrupt("length out of range"))?;
        if pre_end != bytes.len() {
            return Err(Corrupt("lengths do not add up to the file size"));
        }
        let mask = |at: usize| u128::from_le_bytes(bytes[at..at + 16].try_into().unwrap());
        let layout = Layout {
            count,
            kinds: [mask(32), mask(48)],
            entries: HEADER_LEN..entries_end,
            substrings: entries_end..sub_end,
            prefixes: sub_end..pre_end,
        };
        Fst::new(&bytes[layout.substrings.clone()]).map_err(|_| Corrupt("bad substring FST"))?;
        Fst::new(&bytes[layout.prefixes.clone()]).map_err(|_| Corrupt("bad prefix FST"))?;
        Ok(layout)
    }
}

/// A view of a checked set over the mapped file.
#[derive(Default)]
pub struct SubstringSet<'a> {
    count: usize,
    kinds: [u128; 2],
    entries: &'a [u8],
    substrings: Option<Fst<&'a [u8]>>,
    prefixes: Option<Fst<&'a [u8]>>,
}

impl<'a> SubstringSet<'a> {
    /// Checks and opens a set (tests; the index keeps the [`Layout`]).
    pub fn open(bytes: &'a [u8]) -> Result<SubstringSet<'a>, Corrupt> {
        Layout::check(bytes).map(|l| SubstringSet::new(bytes, &l))
    }

    /// The set `layout` (checked over these `bytes`) describes.
    pub fn new(bytes: &'a [u8], layout: &Layout) -> SubstringSet<'a> {
        if layout.count == 0 {
            return SubstringSet::default();
        }
        let fst = |r: &Range<usize>| bytes.get(r.clone()).and_then(|b| Fst::new(b).ok());
        SubstringSet {
            count: layout.count,
            kinds: layout.kinds,
            entries: bytes.get(layout.entries.clone()).unwrap_or_default(),
            substrings: fst(&layout.substrings),
            prefixes: fst(&layout.prefixes),
        }
    }

    /// Number of (method, text, kind) entries.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Prefix patterns of `kind` that `value` (lowercase) starts with.
    pub fn prefixes<'v>(&self, kind: Kind, value: &'v str, out: &mut Vec<Found<'v>>) {
        if self.kinds[1] & kind_bit(kind) == 0 {
            return;
        }
        if let Some(fst) = &self.prefixes {
            self.walk(fst, fst.root(), value, 0, Some(kind), out);
        }
    }

    /// Substring patterns occurring in `text` (lowercase), each once. With
    /// `kind`, only patterns of that kind; without, every pattern (free text).
    pub fn scan<'v>(&self, text: &'v str, kind: Option<Kind>, out: &mut Vec<Found<'v>>) {
        let Some(fst) = &self.substrings else {
            return;
        };
        if self.kinds[0] & kind.map_or(u128::MAX, kind_bit) == 0 {
            return;
        }
        let from = out.len();
        let root = fst.root();
        // A pattern is whole characters, so it starts on a character boundary.
        for (start, _) in text.char_indices() {
            self.walk(fst, root, text, start, kind, out);
        }
        if out.len() - from > 1 {
            out[from..].sort_unstable();
            let mut found = out.split_off(from);
            found.dedup();
            out.append(&mut found);
        }
    }

    /// Walks `fst` along `text[start..]`, pushing every pattern that ends on the way.
    fn walk<'v>(
        &self,
        fst: &Fst<&[u8]>,
        root: Node<'_>,
        text: &'v str,
        start: usize,
        kind: Option<Kind>,
        out: &mut Vec<Found<'v>>,
    ) {
        let bytes = text.as_bytes();
        let mut node = root;
        let mut acc = Output::zero();
        for (end, &b) in bytes.iter().enumerate().skip(start) {
            let Some(t) = node.find_input(b) else {
                return;
            };
            let t = node.transition(t);
            acc = acc.cat(t.out);
            node = fst.node(t.addr);
            if node.is_final() {
                let value = acc.cat(node.final_output()).value();
                if let Some(text) = text.get(start..end + 1) {
                    self.push(value, text, kind, out);
                }
            }
        }
    }

    fn push<'v>(&self, value: u64, text: &'v str, kind: Option<Kind>, out: &mut Vec<Found<'v>>) {
        let first = (value >> 8) as usize;
        let n = (value & 0xff) as usize;
        for i in first..first + n {
            // A value pointing outside the table (a damaged file) finds nothing.
            let Some(e) = self.entries.get(i * ENTRY_LEN..(i + 1) * ENTRY_LEN) else {
                return;
            };
            let Some(k) = Kind::from_tag(e[0]) else {
                continue;
            };
            if kind.is_none_or(|want| want == k) {
                out.push(Found {
                    posting: u64::from_le_bytes(e[2..10].try_into().unwrap()),
                    kind: k,
                    text,
                });
            }
        }
    }
}

/// A kind's bit in the masks (tags are ASCII).
fn kind_bit(kind: Kind) -> u128 {
    1u128.checked_shl(u32::from(kind.tag())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_bytes(n: usize) -> Vec<u8> {
        let mut entries = vec![
            (KeyMethod::Substring, "evil-path".to_string(), Kind::Url, 1),
            (
                KeyMethod::Prefix,
                "http://bad.example/".to_string(),
                Kind::Url,
                2,
            ),
            (KeyMethod::Prefix, "http://bad.".to_string(), Kind::Url, 5),
            (KeyMethod::Substring, "phish".to_string(), Kind::Domain, 3),
            (KeyMethod::Substring, "phish".to_string(), Kind::Url, 4),
        ];
        for i in 0..n {
            entries.push((
                KeyMethod::Substring,
                format!("filler-{i:05}-x"),
                Kind::Url,
                10 + i as u64,
            ));
        }
        let mut out = Vec::new();
        write(&mut out, entries).unwrap();
        out
    }

    fn postings(found: &[Found<'_>]) -> Vec<u64> {
        let mut p: Vec<u64> = found.iter().map(|f| f.posting).collect();
        p.sort();
        p
    }

    fn check(n: usize) {
        let bytes = set_bytes(n);
        let set = SubstringSet::open(&bytes).unwrap();
        assert_eq!(set.len(), n + 5);
        let mut out = Vec::new();
        let text = "cmd /c curl http://x.test/evil-path/phish?again=phish";
        set.scan(text, None, &mut out);
        assert_eq!(postings(&out), [1, 3, 4], "each pattern once");
        assert!(out.iter().any(|f| f.text == "evil-path"));
        out.clear();
        set.scan("http://x.test/evil-path/phish", Some(Kind::Url), &mut out);
        assert_eq!(postings(&out), [1, 4]);
        out.clear();
        set.prefixes(Kind::Url, "http://bad.example/a/b", &mut out);
        assert_eq!(postings(&out), [2, 5]);
        out.clear();
        set.prefixes(Kind::Domain, "http://bad.example/a/b", &mut out);
        assert!(out.is_empty());
        set.prefixes(Kind::Url, "https://bad.example/", &mut out);
        assert!(out.is_empty(), "a prefix matches at the start only");
        set.scan("nothing here filler-00003-x", None, &mut out);
        assert_eq!(out.len(), usize::from(n > 3));
    }

    #[test]
    fn small_and_large_sets_give_the_same_answers() {
        check(0);
        check(10);
        check(20_000);
    }

    #[test]
    fn every_kind_has_a_bit_and_kinds_without_patterns_find_nothing() {
        for k in Kind::ALL {
            assert_ne!(kind_bit(k), 0, "{k}");
        }
        let bytes = set_bytes(3);
        let set = SubstringSet::open(&bytes).unwrap();
        let mut out = Vec::new();
        set.scan("phish evil-path", Some(Kind::Md5), &mut out);
        set.prefixes(Kind::Domain, "http://bad.example/", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn matches_on_non_ascii_text_are_whole_characters() {
        let mut bytes = Vec::new();
        let entries = vec![(KeyMethod::Substring, "é-x".to_string(), Kind::Url, 7)];
        write(&mut bytes, entries).unwrap();
        let set = SubstringSet::open(&bytes).unwrap();
        let mut out = Vec::new();
        set.scan("ü/é-x/ß", None, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "é-x");
    }

    #[test]
    fn empty_files_and_empty_sets() {
        let set = SubstringSet::open(&[]).unwrap();
        assert!(set.is_empty());
        let mut bytes = Vec::new();
        write(&mut bytes, Vec::new()).unwrap();
        let set = SubstringSet::open(&bytes).unwrap();
        let mut out = Vec::new();
        set.scan("anything", None, &mut out);
        assert!(set.is_empty() && out.is_empty());
    }

    #[test]
    fn corrupt_sets_are_errors() {
        let mut bytes = set_bytes(2);
        bytes.truncate(bytes.len() - 3);
        assert!(SubstringSet::open(&bytes).is_err());
        assert!(SubstringSet::open(b"IMSUBS0").is_err());
        assert!(SubstringSet::open(b"IMSUBS01\0\0\0\0").is_err());
        let mut bytes = set_bytes(2);
        bytes[8] = 0xff;
        assert!(SubstringSet::open(&bytes).is_err());
    }
}
