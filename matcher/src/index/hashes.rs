//! Exact hash keys (md5, sha1, sha256, ...) as sorted fixed-width binary arrays.
//!
//! Random hex strings are the worst case for an FST: no shared prefixes or
//! suffixes to compress, and one node per character to build. Stored as raw
//! bytes in a sorted array per (kind, width) they take half the space, build
//! with one sort, and a lookup is a bucket probe on the first two bytes (hashes
//! are uniform) plus a binary search over a few entries.
//!
//! Which keys go here is decided by [`hash_width`], the same function at build
//! and lookup time: a hash kind whose key is lowercase hex of even length.
//! Anything else of a hash kind stays in the exact FST.
//!
//! ```text
//! header    magic "IMHASH01", sections: u32, 4 bytes padding
//! sections  [SECTION_LEN; sections]  tag u8, width u8, 2 pad, count u32,
//!                                    keys u64, refs u64, buckets u64 (0: none)
//! body      keys [width; count] ascending, refs [u64; count],
//!           buckets [u32; 2^16 + 1]: first entry whose first two bytes are >= b
//! ```
//! Offsets are from the start of the file; everything is little-endian.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::kind::Kind;

use super::postings::RecordId;

const MAGIC: &[u8; 8] = b"IMHASH01";
const HEADER_LEN: usize = 16;
const SECTION_LEN: usize = 32;
const MAX_WIDTH: usize = 64;
const MAX_SECTIONS: usize = 1024;
const BUCKETS: usize = 1 << 16;
/// Below this many keys a plain binary search is as fast as a bucketed one.
const BUCKET_MIN_KEYS: usize = 4096;

/// The byte width of `key` if it belongs in the hash table.
pub fn hash_width(kind: Kind, key: &str) -> Option<usize> {
    let b = key.as_bytes();
    (kind.is_hash()
        && b.len() >= 2
        && b.len() <= 2 * MAX_WIDTH
        && b.len().is_multiple_of(2)
        && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    .then_some(b.len() / 2)
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Decodes hex already checked by [`hash_width`] into `out`.
fn decode(key: &str, out: &mut [u8]) {
    for (o, pair) in out.iter_mut().zip(key.as_bytes().chunks_exact(2)) {
        *o = nibble(pair[0]) << 4 | nibble(pair[1]);
    }
}

/// Keys of one (kind, width) while collecting.
#[derive(Default)]
struct Pending {
    keys: Vec<u8>,
    records: Vec<RecordId>,
}

/// Collects hash keys and writes the table.
#[derive(Default)]
pub struct HashTableBuilder {
    sections: BTreeMap<(u8, u8), Pending>,
}

impl HashTableBuilder {
    /// Adds `key` (checked by [`hash_width`] to be `width` bytes of hex).
    pub fn add(&mut self, kind: Kind, key: &str, width: usize, record: RecordId) {
        let p = self.sections.entry((kind.tag(), width as u8)).or_default();
        let at = p.keys.len();
        p.keys.resize(at + width, 0);
        decode(key, &mut p.keys[at..]);
        p.records.push(record);
    }

    /// Writes the table; returns the number of distinct keys.
    pub fn write<W: Write>(
        self,
        out: &mut W,
        push_postings: &mut dyn FnMut(&[RecordId]) -> io::Result<u64>,
    ) -> io::Result<u64> {
        let n = self.sections.len();
        let mut body: Vec<u8> = Vec::new();
        let mut heads: Vec<u8> = Vec::new();
        let body_start = (HEADER_LEN + n * SECTION_LEN).next_multiple_of(16);
        let mut distinct = 0u64;
        for ((tag, width), p) in self.sections {
            let w = usize::from(width);
            let key = |i: u32| &p.keys[i as usize * w..(i as usize + 1) * w];
            // Sort an index by (first 8 bytes, whole key, record).
            let mut order: Vec<(u64, u32)> = (0..p.records.len() as u32)
                .map(|i| {
                    let mut head = [0u8; 8];
                    let k = key(i);
                    head[..k.len().min(8)].copy_from_slice(&k[..k.len().min(8)]);
                    (u64::from_be_bytes(head), i)
                })
                .collect();
            order.sort_unstable_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| key(a.1).cmp(key(b.1)))
                    .then(p.records[a.1 as usize].cmp(&p.records[b.1 as usize]))
            });
            let mut keys: Vec<u8> = Vec::new();
            let mut refs: Vec<u64> = Vec::new();
            let mut ids: Vec<RecordId> = Vec::new();
            let mut i = 0;
            while i < order.len() {
                let k = key(order[i].1);
                ids.clear();
                while i < order.len() && key(order[i].1) == k {
                    let r = p.records[order[i].1 as usize];
                    if ids.last() != Some(&r) {
                        ids.push(r);
                    }
                    i += 1;
                }
                keys.extend_from_slice(k);
                refs.push(push_postings(&ids)?);
            }
            let count = refs.len();
            distinct += count as u64;
            let base = body_start as u64;
            let keys_off = base + body.len() as u64;
            body.extend_from_slice(&keys);
            body.resize(body.len().next_multiple_of(8), 0);
            let refs_off = base + body.len() as u64;
            for r in &refs {
                body.extend_from_slice(&r.to_le_bytes());
            }
            let mut buckets_off = 0;
            if count >= BUCKET_MIN_KEYS && w >= 2 {
                buckets_off = base + body.len() as u64;
                let mut e = 0usize;
                for b in 0..BUCKETS {
                    while e < count && bucket(&keys[e * w..]) < b {
                        e += 1;
                    }
                    body.extend_from_slice(&(e as u32).to_le_bytes());
                }
                body.extend_from_slice(&(count as u32).to_le_bytes());
            }
            heads.extend_from_slice(&[tag, width, 0, 0]);
            heads.extend_from_slice(&(count as u32).to_le_bytes());
            heads.extend_from_slice(&keys_off.to_le_bytes());
            heads.extend_from_slice(&refs_off.to_le_bytes());
            heads.extend_from_slice(&buckets_off.to_le_bytes());
        }
        let mut head = Vec::with_capacity(body_start);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&(n as u32).to_le_bytes());
        head.resize(HEADER_LEN, 0);
        head.extend_from_slice(&heads);
        head.resize(body_start, 0);
        out.write_all(&head)?;
        out.write_all(&body)?;
        Ok(distinct)
    }
}

fn bucket(key: &[u8]) -> usize {
    usize::from(key[0]) << 8 | usize::from(key[1])
}

#[derive(Debug, Clone, Copy)]
struct Section {
    tag: u8,
    width: usize,
    count: usize,
    keys: usize,
    refs: usize,
    buckets: usize,
}

/// The parsed section directory of a mapped hash table (owns no bytes).
#[derive(Debug, Clone, Default)]
pub struct HashTable {
    sections: Vec<Section>,
}

/// The file is not a hash table or is damaged.
#[derive(Debug, thiserror::Error)]
#[error("hash table is corrupt: {0}")]
pub struct Corrupt(pub &'static str);

impl HashTable {
    /// Parses the section directory and checks every array fits in the file.
    pub fn open(bytes: &[u8]) -> Result<HashTable, Corrupt> {
        if bytes.is_empty() {
            return Ok(HashTable::default());
        }
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(Corrupt("bad magic"));
        }
        let n = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        if n > MAX_SECTIONS {
            return Err(Corrupt("too many sections"));
        }
        let mut sections = Vec::with_capacity(n);
        for i in 0..n {
            let at = HEADER_LEN + i * SECTION_LEN;
            let h = bytes
                .get(at..at + SECTION_LEN)
                .ok_or(Corrupt("truncated directory"))?;
            let word = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap()) as usize;
            let s = Section {
                tag: h[0],
                width: usize::from(h[1]),
                count: u32::from_le_bytes(h[4..8].try_into().unwrap()) as usize,
                keys: word(8),
                refs: word(16),
                buckets: word(24),
            };
            let fits = |off: usize, len: Option<usize>| {
                len.and_then(|l| off.checked_add(l))
                    .is_some_and(|end| end <= bytes.len())
            };
            if s.width == 0
                || s.width > MAX_WIDTH
                || !fits(s.keys, s.count.checked_mul(s.width))
                || !fits(s.refs, s.count.checked_mul(8))
                || (s.buckets != 0 && (s.width < 2 || !fits(s.buckets, Some((BUCKETS + 1) * 4))))
            {
                return Err(Corrupt("section out of bounds"));
            }
            sections.push(s);
        }
        Ok(HashTable { sections })
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The posting ref of `key` (already checked by [`hash_width`] to be `width` bytes).
    pub fn get(&self, bytes: &[u8], kind: Kind, key: &str, width: usize) -> Option<u64> {
        let tag = kind.tag();
        let s = self
            .sections
            .iter()
            .find(|s| s.tag == tag && s.width == width)?;
        let mut want = [0u8; MAX_WIDTH];
        let want = &mut want[..width];
        decode(key, want);
        let (mut lo, mut hi) = (0usize, s.count);
        if s.buckets != 0 {
            let at = s.buckets + bucket(want) * 4;
            let b = bytes.get(at..at + 8)?;
            lo = u32::from_le_bytes(b[0..4].try_into().ok()?) as usize;
            hi = u32::from_le_bytes(b[4..8].try_into().ok()?) as usize;
            if lo > hi || hi > s.count {
                return None;
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = s.keys + mid * width;
            match bytes.get(at..at + width)?.cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let at = s.refs + mid * 8;
                    return Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
                }
            }
        }
        None
    }

    /// Every key of `kind` as lowercase hex with its posting ref, ascending
    /// within each width.
    pub fn keys(&self, bytes: &[u8], kind: Kind, out: &mut Vec<(String, u64)>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for s in self.sections.iter().filter(|s| s.tag == kind.tag()) {
            for i in 0..s.count {
                let (Some(k), Some(r)) = (
                    bytes.get(s.keys + i * s.width..s.keys + (i + 1) * s.width),
                    bytes.get(s.refs + i * 8..s.refs + i * 8 + 8),
                ) else {
                    return;
                };
                let mut hex = String::with_capacity(s.width * 2);
                for &b in k {
                    hex.push(HEX[usize::from(b >> 4)] as char);
                    hex.push(HEX[usize::from(b & 15)] as char);
                }
                out.push((hex, u64::from_le_bytes(r.try_into().unwrap())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::postings::{resolve, PostingsWriter};
    use super::*;

    fn hex_of(mut x: u64, len: usize) -> String {
        let mut s = String::new();
        while s.len() < len {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            s.push_str(&format!("{:016x}", x));
        }
        s.truncate(len);
        s
    }

    #[test]
    fn routes_only_lowercase_even_hex_of_hash_kinds() {
        assert_eq!(hash_width(Kind::Md5, &"a".repeat(32)), Some(16));
        assert_eq!(hash_width(Kind::Sha256, &"0".repeat(64)), Some(32));
        assert_eq!(hash_width(Kind::Md5, &"A".repeat(32)), None);
        assert_eq!(hash_width(Kind::Hash, "abc"), None);
        assert_eq!(hash_width(Kind::Url, "abcd"), None);
        assert_eq!(hash_width(Kind::Sha512, &"f".repeat(130)), None);
    }

    #[test]
    fn finds_every_key_with_and_without_buckets() {
        for n in [3u64, 10_000] {
            let mut b = HashTableBuilder::default();
            let mut keys = Vec::new();
            for i in 0..n {
                let md5 = hex_of(i, 32);
                let sha = hex_of(i + 1_000_000, 64);
                b.add(Kind::Md5, &md5, 16, i as u32);
                b.add(Kind::Sha256, &sha, 32, i as u32);
                keys.push((md5, sha));
            }
            // A shared key lists both records.
            b.add(Kind::Md5, &keys[0].0, 16, 777_777);
            let mut postings = PostingsWriter::new(0);
            let mut out = Vec::new();
            let distinct = b.write(&mut out, &mut |ids| postings.push(ids)).unwrap();
            assert_eq!(distinct, 2 * n);
            let p = postings.into_bytes();
            let t = HashTable::open(&out).unwrap();
            assert_eq!(t.sections.iter().any(|s| s.buckets != 0), n >= 4096);
            for (i, (md5, sha)) in keys.iter().enumerate() {
                let mut ids = Vec::new();
                resolve(&p, t.get(&out, Kind::Md5, md5, 16).unwrap(), &mut ids);
                if i == 0 {
                    assert_eq!(ids, [0, 777_777]);
                } else {
                    assert_eq!(ids, [i as u32]);
                }
                assert!(t.get(&out, Kind::Sha256, sha, 32).is_some());
                // Same bytes under another kind are not a hit.
                assert!(t.get(&out, Kind::Sha1, md5, 16).is_none());
            }
            assert!(t.get(&out, Kind::Md5, &hex_of(u64::MAX, 32), 16).is_none());
            let mut listed = Vec::new();
            t.keys(&out, Kind::Md5, &mut listed);
            assert_eq!(listed.len() as u64, n);
            assert!(listed.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn corrupt_tables_are_rejected_not_panicked_on() {
        assert!(HashTable::open(b"nonsense-nonsense").is_err());
        let mut b = HashTableBuilder::default();
        b.add(Kind::Md5, &"ab".repeat(16), 16, 1);
        let mut out = Vec::new();
        b.write(&mut out, &mut |_| Ok(0)).unwrap();
        assert!(HashTable::open(&out[..out.len() - 1]).is_err());
        assert!(HashTable::open(&[]).unwrap().is_empty());
    }
}
