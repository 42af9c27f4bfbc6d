//! The IP prefix table: exact addresses and networks of every length, queried
//! for **every** covering network at once.
//!
//! Per address family and per prefix length that occurs in the intel, the table
//! holds a sorted array of network addresses (host bits cleared) and a parallel
//! array of posting refs. A lookup masks the address once per present length
//! and binary-searches that length's array, so it reports the exact address and
//! all covering networks, not only the longest one. Large arrays get a 2^16
//! bucket directory over the 16 bits that follow the array's common prefix, so
//! the binary search stays within a few cache lines even at 10M entries.
//!
//! Everything is little-endian and read straight from the mapped file.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::postings::RecordId;

const MAGIC: &[u8; 8] = b"IMIPTB01";
const HEADER_LEN: usize = 32;
const DIR_ENTRY_LEN: usize = 32;
const BUCKET_BITS: u32 = 16;
/// Below this many entries a plain binary search is as fast as a bucketed one.
const BUCKET_MIN_ENTRIES: usize = 2048;

/// An unsigned address word: `u32` for IPv4, `u128` for IPv6.
trait Word: Copy + Ord + Eq + std::fmt::Debug {
    const BYTES: usize;
    fn mask(self, len: u8) -> Self;
    fn write(self, out: &mut Vec<u8>);
    fn read(bytes: &[u8]) -> Self;
    /// Bits `[from, from+16)` counted from the most significant bit.
    fn bits16(self, from: u32) -> usize;
    fn leading_common(self, other: Self) -> u32;
}

impl Word for u32 {
    const BYTES: usize = 4;
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len)))
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn bits16(self, from: u32) -> usize {
        let v = u64::from(self) << 32;
        ((v << from) >> 48) as usize
    }
    fn leading_common(self, other: Self) -> u32 {
        (self ^ other).leading_zeros()
    }
}

impl Word for u128 {
    const BYTES: usize = 16;
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len)))
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        u128::from_le_bytes(a)
    }
    fn bits16(self, from: u32) -> usize {
        if from >= 128 {
            return 0;
        }
        let shifted = self << from;
        (shifted >> 112) as usize
    }
    fn leading_common(self, other: Self) -> u32 {
        (self ^ other).leading_zeros()
    }
}

/// Collects networks and writes the table.
#[derive(Default)]
pub struct IpTableBuilder {
    v4: Vec<(u8, u32, RecordId)>,
    v6: Vec<(u8, u128, RecordId)>,
}

impl IpTableBuilder {
    /// Adds `addr/len` (host bits are cleared here) for `record`.
    pub fn add(&mut self, addr: IpAddr, len: u8, record: RecordId) {
        match addr {
            IpAddr::V4(a) => {
                let len = len.min(32);
                self.v4.push((len, u32::from(a).mask(len), record));
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                self.v6.push((len, u128::from(a).mask(len), record));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the table, pushing posting lists through `push_postings`.
    pub fn write<W: Write>(
        mut self,
        out: &mut W,
        push_postings: &mut dyn FnMut(&[RecordId]) -> io::Result<u64>,
    ) -> io::Result<IpTableStats> {
        let mut body = Vec::new();
        let v4_dir = write_family(&mut self.v4, &mut body, push_postings)?;
        let v6_dir = write_family(&mut self.v6, &mut body, push_postings)?;
        let dir_start = HEADER_LEN;
        let v4_dir_len = v4_dir.len();
        let body_start = dir_start + (v4_dir.len() + v6_dir.len()) * DIR_ENTRY_LEN;
        let body_start = body_start.next_multiple_of(16);

        let mut head = Vec::with_capacity(body_start);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&(v4_dir.len() as u32).to_le_bytes());
        head.extend_from_slice(&(v6_dir.len() as u32).to_le_bytes());
        head.extend_from_slice(&(body_start as u64).to_le_bytes());
        head.resize(HEADER_LEN, 0);
        let mut stats = IpTableStats::default();
        for (i, d) in v4_dir.iter().chain(v6_dir.iter()).enumerate() {
            if i < v4_dir_len {
                stats.v4_entries += d.count as u64;
            } else {
                stats.v6_entries += d.count as u64;
            }
            stats.lengths += 1;
            head.push(d.len);
            head.push(d.common);
            head.extend_from_slice(&[0, 0]);
            head.extend_from_slice(&(d.count as u32).to_le_bytes());
            head.extend_from_slice(&d.nets.to_le_bytes());
            head.extend_from_slice(&d.refs.to_le_bytes());
            head.extend_from_slice(&d.buckets.to_le_bytes());
        }
        head.resize(body_start, 0);
        out.write_all(&head)?;
        out.write_all(&body)?;
        Ok(stats)
    }
}

/// Counts reported after writing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpTableStats {
    pub v4_entries: u64,
    pub v6_entries: u64,
    pub lengths: u32,
}

struct DirEntry {
    len: u8,
    /// Bits shared by every network of this length (bucket bits start after them).
    common: u8,
    count: usize,
    /// Offsets relative to the body start.
    nets: u64,
    refs: u64,
    /// 0 when the length has no bucket directory.
    buckets: u64,
}

fn write_family<T: Word>(
    entries: &mut [(u8, T, RecordId)],
    body: &mut Vec<u8>,
    push_postings: &mut dyn FnMut(&[RecordId]) -> io::Result<u64>,
) -> io::Result<Vec<DirEntry>> {
    entries.sort_unstable();
    let mut dir = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let len = entries[i].0;
        let mut j = i;
        while j < entries.len() && entries[j].0 == len {
            j += 1;
        }
        dir.push(write_length(len, &entries[i..j], body, push_postings)?);
        i = j;
    }
    Ok(dir)
}

fn write_length<T: Word>(
    len: u8,
    run: &[(u8, T, RecordId)],
    body: &mut Vec<u8>,
    push_postings: &mut dyn FnMut(&[RecordId]) -> io::Result<u64>,
) -> io::Result<DirEntry> {
    let mut nets: Vec<T> = Vec::new();
    let mut refs: Vec<u64> = Vec::new();
    let mut ids: Vec<RecordId> = Vec::new();
    let mut k = 0;
    while k < run.len() {
        let net = run[k].1;
        ids.clear();
        while k < run.len() && run[k].1 == net {
            if ids.last() != Some(&run[k].2) {
                ids.push(run[k].2);
            }
            k += 1;
        }
        nets.push(net);
        refs.push(push_postings(&ids)?);
    }
    let first = nets[0];
    let last = *nets.last().unwrap_or(&first);
    let common = first.leading_common(last).min(u32::from(len)) as u8;

    align(body, 16);
    let nets_off = body.len() as u64;
    for n in &nets {
        n.write(body);
    }
    align(body, 8);
    let refs_off = body.len() as u64;
    for r in &refs {
        body.extend_from_slice(&r.to_le_bytes());
    }
    let mut buckets_off = 0;
    if nets.len() >= BUCKET_MIN_ENTRIES && u32::from(common) < u32::from(len) {
        align(body, 8);
        buckets_off = body.len() as u64;
        // bucket b covers nets[start[b]..start[b+1]]
        let n_buckets = 1usize << BUCKET_BITS;
        let mut starts = vec![0u32; n_buckets + 1];
        let mut idx = 0usize;
        for (b, slot) in starts.iter_mut().enumerate().take(n_buckets) {
            while idx < nets.len() && nets[idx].bits16(u32::from(common)) < b {
                idx += 1;
            }
            *slot = idx as u32;
        }
        starts[n_buckets] = nets.len() as u32;
        for s in starts {
            body.extend_from_slice(&s.to_le_bytes());
        }
    }
    Ok(DirEntry {
        len,
        common,
        count: nets.len(),
        nets: nets_off,
        refs: refs_off,
        buckets: buckets_off,
    })
}

fn align(body: &mut Vec<u8>, to: usize) {
    let padded = body.len().next_multiple_of(to);
    body.resize(padded, 0);
}

/// One covering network found by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHit {
    /// The network address (equal to the looked-up address when `len` is full width).
    pub net: IpAddr,
    pub len: u8,
    pub posting: u64,
}

impl IpHit {
    /// True when the hit is the address itself rather than a covering network.
    pub fn is_exact(&self) -> bool {
        match self.net {
            IpAddr::V4(_) => self.len == 32,
            IpAddr::V6(_) => self.len == 128,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Length {
    len: u8,
    common: u8,
    count: usize,
    nets: usize,
    refs: usize,
    buckets: usize,
}

/// The parsed directory of a mapped IP table. It owns no bytes: lookups take
/// the mapped file, so the table can live next to its mapping.
#[derive(Debug, Clone, Default)]
pub struct IpTable {
    body_start: usize,
    v4: Vec<Length>,
    v6: Vec<Length>,
}

/// The file is not an IP table or is damaged.
#[derive(Debug, thiserror::Error)]
#[error("IP table is corrupt: {0}")]
pub struct Corrupt(pub &'static str);

impl IpTable {
    /// Parses the header and directory; O(number of prefix lengths).
    pub fn open(bytes: &[u8]) -> Result<IpTable, Corrupt> {
        if bytes.is_empty() {
            return Ok(IpTable::default());
        }
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(Corrupt("bad magic"));
        }
        let n4 = u32::read(&bytes[8..12]) as usize;
        let n6 = u32::read(&bytes[12..16]) as usize;
        let body_start = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
        if n4 > 33 || n6 > 129 || body_start > bytes.len() {
            return Err(Corrupt("bad directory"));
        }
        let body = &bytes[body_start..];
        let mut v4 = Vec::with_capacity(n4);
        let mut v6 = Vec::with_capacity(n6);
        for i in 0..n4 + n6 {
            let at = HEADER_LEN + i * DIR_ENTRY_LEN;
            let e = bytes
                .get(at..at + DIR_ENTRY_LEN)
                .ok_or(Corrupt("truncated directory"))?;
            let word = |o: usize| u64::from_le_bytes(e[o..o + 8].try_into().unwrap()) as usize;
            let l = Length {
                len: e[0],
                common: e[1],
                count: u32::read(&e[4..8]) as usize,
                nets: word(8),
                refs: word(16),
                buckets: word(24),
            };
            let width = if i < n4 { 4 } else { 16 };
            let nets_end = l
                .nets
                .checked_add(l.count.checked_mul(width).ok_or(Corrupt("size"))?);
            let refs_end = l.refs.checked_add(l.count * 8);
            if l.count == 0
                || nets_end.is_none_or(|e| e > body.len())
                || refs_end.is_none_or(|e| e > body.len())
                || (l.buckets != 0 && l.buckets + ((1 << BUCKET_BITS) + 1) * 4 > body.len())
            {
                return Err(Corrupt("directory entry out of bounds"));
            }
            if i < n4 {
                if l.len > 32 {
                    return Err(Corrupt("IPv4 prefix length over 32"));
                }
                v4.push(l);
            } else {
                if l.len > 128 {
                    return Err(Corrupt("IPv6 prefix length over 128"));
                }
                v6.push(l);
            }
        }
        Ok(IpTable { body_start, v4, v6 })
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Pushes every network (of any length up to `max_len`) that contains `addr`.
    /// `max_len` below full width looks up a network value rather than an address.
    /// `bytes` is the whole mapped file this table was opened from.
    pub fn lookup(&self, bytes: &[u8], addr: IpAddr, max_len: u8, out: &mut Vec<IpHit>) {
        let Some(body) = bytes.get(self.body_start..) else {
            return;
        };
        match addr {
            IpAddr::V4(a) => {
                let w = u32::from(a);
                for l in &self.v4 {
                    if l.len <= max_len {
                        if let Some(p) = find::<u32>(body, l, w.mask(l.len)) {
                            out.push(IpHit {
                                net: IpAddr::V4(Ipv4Addr::from(w.mask(l.len))),
                                len: l.len,
                                posting: p,
                            });
                        }
                    }
                }
            }
            IpAddr::V6(a) => {
                let w = u128::from(a);
                for l in &self.v6 {
                    if l.len <= max_len {
                        if let Some(p) = find::<u128>(body, l, w.mask(l.len)) {
                            out.push(IpHit {
                                net: IpAddr::V6(Ipv6Addr::from(w.mask(l.len))),
                                len: l.len,
                                posting: p,
                            });
                        }
                    }
                }
            }
        }
    }
}

fn net_at<T: Word>(body: &[u8], l: &Length, i: usize) -> Option<T> {
    let at = l.nets + i * T::BYTES;
    body.get(at..at + T::BYTES).map(T::read)
}

fn find<T: Word>(body: &[u8], l: &Length, key: T) -> Option<u64> {
    let (mut lo, mut hi) = (0usize, l.count);
    if l.buckets != 0 {
        // Outside the common prefix nothing of this length can match.
        let first = net_at::<T>(body, l, 0)?;
        if first.leading_common(key) < u32::from(l.common) {
            return None;
        }
        let at = l.buckets + key.bits16(u32::from(l.common)) * 4;
        let b = body.get(at..at + 8)?;
        lo = u32::read(&b[0..4]) as usize;
        hi = u32::read(&b[4..8]) as usize;
        if hi > l.count || lo > hi {
            return None;
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match net_at::<T>(body, l, mid)?.cmp(&key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let at = l.refs + mid * 8;
                return Some(u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::postings::{resolve, PostingsWriter};
    use super::*;

    fn build(entries: &[(&str, u8, RecordId)]) -> (Vec<u8>, Vec<u8>) {
        let mut b = IpTableBuilder::default();
        for (a, l, r) in entries {
            b.add(a.parse().unwrap(), *l, *r);
        }
        let mut postings = PostingsWriter::new(Vec::new());
        let mut out = Vec::new();
        b.write(&mut out, &mut |ids| postings.push(ids)).unwrap();
        (out, postings.into_inner())
    }

    fn hits(
        t: &[u8],
        table: &IpTable,
        postings: &[u8],
        addr: &str,
    ) -> Vec<(String, u8, Vec<RecordId>)> {
        let mut out = Vec::new();
        let addr: IpAddr = addr.parse().unwrap();
        table.lookup(t, addr, 128, &mut out);
        out.iter()
            .map(|h| {
                let mut ids = Vec::new();
                resolve(postings, h.posting, &mut ids);
                (h.net.to_string(), h.len, ids)
            })
            .collect()
    }

    #[test]
    fn reports_exact_and_every_covering_network() {
        let (t, p) = build(&[
            ("198.51.100.23", 32, 1),
            ("198.51.100.0", 24, 2),
            ("198.51.0.0", 16, 3),
            ("198.0.0.0", 8, 4),
            ("198.51.100.23", 32, 5),
            ("203.0.113.0", 24, 6),
            ("2001:db8:bad::10", 128, 7),
            ("2001:db8::", 32, 8),
        ]);
        let table = IpTable::open(&t).unwrap();
        assert_eq!(
            hits(&t, &table, &p, "198.51.100.23"),
            vec![
                ("198.0.0.0".into(), 8, vec![4]),
                ("198.51.0.0".into(), 16, vec![3]),
                ("198.51.100.0".into(), 24, vec![2]),
                ("198.51.100.23".into(), 32, vec![1, 5]),
            ]
        );
        assert_eq!(hits(&t, &table, &p, "198.51.100.24").len(), 3);
        assert!(hits(&t, &table, &p, "192.0.2.1").is_empty());
        assert_eq!(
            hits(&t, &table, &p, "2001:db8:bad::10"),
            vec![
                ("2001:db8::".into(), 32, vec![8]),
                ("2001:db8:bad::10".into(), 128, vec![7])
            ]
        );
        assert_eq!(hits(&t, &table, &p, "2001:db9::1").len(), 0);
    }

    #[test]
    fn host_bits_are_cleared_on_insert() {
        let (t, p) = build(&[("10.1.2.3", 8, 1)]);
        let table = IpTable::open(&t).unwrap();
        assert_eq!(
            hits(&t, &table, &p, "10.200.0.1"),
            vec![("10.0.0.0".into(), 8, vec![1])]
        );
    }

    #[test]
    fn bucketed_lengths_agree_with_a_linear_scan() {
        // Enough addresses to get a bucket directory, clustered like real data.
        let mut entries = Vec::new();
        let mut x: u32 = 0x9e37_79b9;
        let mut addrs = Vec::new();
        for i in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let a = if i % 3 == 0 {
                0xC633_6400 | (x & 0xff)
            } else {
                x
            };
            addrs.push(a);
            entries.push((Ipv4Addr::from(a).to_string(), 32u8, i));
        }
        let refs: Vec<(&str, u8, RecordId)> = entries
            .iter()
            .map(|(a, l, r)| (a.as_str(), *l, *r))
            .collect();
        let (t, p) = build(&refs);
        let table = IpTable::open(&t).unwrap();
        for (i, a) in addrs.iter().enumerate().step_by(7) {
            let got = hits(&t, &table, &p, &Ipv4Addr::from(*a).to_string());
            assert_eq!(got.len(), 1, "address #{i}");
            assert!(got[0].2.contains(&(i as u32)));
        }
        let mut misses = 0;
        for k in 0..2000u32 {
            let probe = k.wrapping_mul(2_654_435_761);
            if !addrs.contains(&probe) {
                misses += 1;
                assert!(hits(&t, &table, &p, &Ipv4Addr::from(probe).to_string()).is_empty());
            }
        }
        assert!(misses > 1000);
    }

    #[test]
    fn network_lookup_only_reports_equal_or_shorter() {
        let (t, p) = build(&[("198.51.100.0", 24, 1), ("198.51.100.7", 32, 2)]);
        let table = IpTable::open(&t).unwrap();
        let mut out = Vec::new();
        table.lookup(&t, "198.51.100.0".parse().unwrap(), 24, &mut out);
        assert_eq!(out.len(), 1);
        let mut ids = Vec::new();
        resolve(&p, out[0].posting, &mut ids);
        assert_eq!(ids, [1]);
    }

    #[test]
    fn corrupt_tables_are_rejected_not_panicked_on() {
        assert!(IpTable::open(b"nonsense-and-more-nonsense-bytes!!").is_err());
        let (mut t, _) = build(&[("198.51.100.0", 24, 1)]);
        t.truncate(HEADER_LEN + 10);
        assert!(IpTable::open(&t).is_err());
        assert!(IpTable::open(&[]).unwrap().is_empty());
    }
}
