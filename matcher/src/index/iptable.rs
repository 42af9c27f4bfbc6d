//! The IP prefix table: exact addresses and networks of every length, queried
//! for **every** covering network at once with one binary search.
//!
//! CIDR networks are laminar: two networks are either disjoint or nested. So
//! per address family the builder turns all networks (an exact address is a
//! full-length network) into a forest of *nodes*, each pointing at its
//! innermost enclosing network, and cuts the address space into disjoint
//! *intervals* labelled with the innermost node covering them. A lookup finds
//! the interval holding the address (a bucket directory over the leading bits
//! narrows the binary search to a handful of entries, one or two cache lines)
//! and walks the node's parent chain: that chain is exactly the set of
//! covering networks, from the address itself out to the widest network.
//!
//! Everything is little-endian and read straight from the mapped file:
//!
//! ```text
//! header   magic "IMIPTB02", then per family (v4, v6) a FAMILY_LEN descriptor
//! starts   [T; intervals]    first address of each interval, ascending
//! inodes   [u32; intervals]  innermost node covering the interval, or NONE
//! buckets  [u32; 2^bits + 1] first interval whose start has bucket >= b
//! nodes    [16 bytes; nodes] posting ref u64, parent u32 (NONE at a root), len u8
//! ```

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::postings::RecordId;

const MAGIC: &[u8; 8] = b"IMIPTB02";
const FAMILY_LEN: usize = 56;
const HEADER_LEN: usize = 8 + 2 * FAMILY_LEN;
const BODY_START: usize = 128;
const NODE_LEN: usize = 16;
/// No node: the interval is covered by nothing, or the node is a root.
const NONE: u32 = u32::MAX;
/// Below this many intervals a plain binary search is as fast as a bucketed one.
const BUCKET_MIN_INTERVALS: usize = 1024;
/// About 2^3 intervals per bucket; the directory never exceeds 16 MiB.
const MAX_BUCKET_BITS: u32 = 22;

/// An unsigned address word: `u32` for IPv4, `u128` for IPv6.
trait Word: Copy + Ord + Eq + std::fmt::Debug {
    const BITS: u32;
    const BYTES: usize;
    fn mask(self, len: u8) -> Self;
    /// The last address of the network `self/len`.
    fn last(self, len: u8) -> Self;
    fn next(self) -> Option<Self>;
    fn write(self, out: &mut Vec<u8>);
    fn read(bytes: &[u8]) -> Self;
    /// Bits `[from, from + n)` counted from the most significant bit (`n` ≥ 1).
    fn bits(self, from: u32, n: u32) -> usize;
    fn leading_common(self, other: Self) -> u32;
}

impl Word for u32 {
    const BITS: u32 = 32;
    const BYTES: usize = 4;
    fn mask(self, len: u8) -> Self {
        self & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }
    fn last(self, len: u8) -> Self {
        self | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn bits(self, from: u32, n: u32) -> usize {
        ((u64::from(self) << 32 << from) >> (64 - n)) as usize
    }
    fn leading_common(self, other: Self) -> u32 {
        (self ^ other).leading_zeros()
    }
}

impl Word for u128 {
    const BITS: u32 = 128;
    const BYTES: usize = 16;
    fn mask(self, len: u8) -> Self {
        self & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
    }
    fn last(self, len: u8) -> Self {
        self | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0)
    }
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        u128::from_le_bytes(a)
    }
    fn bits(self, from: u32, n: u32) -> usize {
        (self.checked_shl(from).unwrap_or(0) >> (128 - n)) as usize
    }
    fn leading_common(self, other: Self) -> u32 {
        (self ^ other).leading_zeros()
    }
}

/// Collects networks and writes the table.
#[derive(Default)]
pub struct IpTableBuilder {
    v4: Vec<(u32, u8, RecordId)>,
    v6: Vec<(u128, u8, RecordId)>,
}

impl IpTableBuilder {
    /// Adds `addr/len` (host bits are cleared here) for `record`.
    pub fn add(&mut self, addr: IpAddr, len: u8, record: RecordId) {
        match addr {
            IpAddr::V4(a) => {
                let len = len.min(32);
                self.v4.push((u32::from(a).mask(len), len, record));
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                self.v6.push((u128::from(a).mask(len), len, record));
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
        let mut stats = IpTableStats::default();
        let v4 = write_family(&mut self.v4, &mut body, push_postings)?;
        self.v4 = Vec::new();
        let v6 = write_family(&mut self.v6, &mut body, push_postings)?;
        stats.v4_entries = v4.nodes;
        stats.v6_entries = v6.nodes;
        stats.lengths = v4.lengths + v6.lengths;

        let mut head = Vec::with_capacity(BODY_START);
        head.extend_from_slice(MAGIC);
        for f in [&v4, &v6] {
            for w in [f.intervals, f.starts, f.inodes, f.buckets] {
                head.extend_from_slice(&w.to_le_bytes());
            }
            head.extend_from_slice(&[f.bucket_bits, f.common, 0, 0, 0, 0, 0, 0]);
            head.extend_from_slice(&f.nodes.to_le_bytes());
            head.extend_from_slice(&f.nodes_off.to_le_bytes());
        }
        debug_assert_eq!(head.len(), HEADER_LEN);
        head.resize(BODY_START, 0);
        out.write_all(&head)?;
        out.write_all(&body)?;
        Ok(stats)
    }
}

/// Counts reported after writing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpTableStats {
    /// Distinct IPv4 addresses and networks.
    pub v4_entries: u64,
    pub v6_entries: u64,
    /// Distinct prefix lengths present (both families).
    pub lengths: u32,
}

/// Where one family's arrays are, relative to the body start.
#[derive(Debug, Clone, Copy, Default)]
struct Family {
    intervals: u64,
    starts: u64,
    inodes: u64,
    /// 0 when the family has no bucket directory.
    buckets: u64,
    bucket_bits: u8,
    /// Leading bits shared by every interval start (bucket bits follow them).
    common: u8,
    nodes: u64,
    nodes_off: u64,
    /// Only for stats.
    lengths: u32,
}

/// The interval sweep: disjoint intervals labelled with their innermost node.
struct Intervals<T> {
    starts: Vec<T>,
    inodes: Vec<u32>,
    /// Networks containing the current position, innermost last, with their last address.
    stack: Vec<(u32, T)>,
}

impl<T> Default for Intervals<T> {
    fn default() -> Self {
        Intervals {
            starts: Vec::new(),
            inodes: Vec::new(),
            stack: Vec::new(),
        }
    }
}

impl<T: Word> Intervals<T> {
    fn innermost(&self) -> u32 {
        self.stack.last().map_or(NONE, |s| s.0)
    }

    /// From `at` on, the innermost node is `node` (until the next emit).
    fn emit(&mut self, at: T, node: u32) {
        if self.starts.last() == Some(&at) {
            // Nothing started at `at` survives: relabel, and merge with the
            // previous interval if that leaves two equal neighbours.
            *self.inodes.last_mut().unwrap() = node;
            let n = self.inodes.len();
            if n >= 2 && self.inodes[n - 2] == node {
                self.starts.pop();
                self.inodes.pop();
            }
        } else if self.inodes.last() != Some(&node) {
            self.starts.push(at);
            self.inodes.push(node);
        }
    }

    /// Closes every open network that ends before `next` (all of them for `None`).
    fn close_before(&mut self, next: Option<T>) {
        while let Some(&(_, last)) = self.stack.last() {
            if next.is_some_and(|n| last >= n) {
                break;
            }
            self.stack.pop();
            if let Some(after) = last.next() {
                let outer = self.innermost();
                self.emit(after, outer);
            }
        }
    }
}

/// Turns the sorted networks into nodes and intervals (see the module comment).
fn write_family<T: Word>(
    entries: &mut [(T, u8, RecordId)],
    body: &mut Vec<u8>,
    push_postings: &mut dyn FnMut(&[RecordId]) -> io::Result<u64>,
) -> io::Result<Family> {
    // Address ascending, then wider networks first: a parent precedes its children.
    entries.sort_unstable();
    let mut seen_lengths = [false; 129];
    let mut node_bytes: Vec<u8> = Vec::new();
    let mut nodes: u32 = 0;
    let mut iv = Intervals::<T>::default();
    let mut ids: Vec<RecordId> = Vec::new();

    let mut k = 0;
    while k < entries.len() {
        let (net, len, _) = entries[k];
        ids.clear();
        while k < entries.len() && entries[k].0 == net && entries[k].1 == len {
            if ids.last() != Some(&entries[k].2) {
                ids.push(entries[k].2);
            }
            k += 1;
        }
        if nodes == NONE - 1 {
            return Err(io::Error::other("more than 4 billion IP networks"));
        }
        seen_lengths[usize::from(len)] = true;
        iv.close_before(Some(net));
        let parent = iv.innermost();
        let id = nodes;
        nodes += 1;
        node_bytes.extend_from_slice(&push_postings(&ids)?.to_le_bytes());
        node_bytes.extend_from_slice(&parent.to_le_bytes());
        node_bytes.extend_from_slice(&[len, 0, 0, 0]);
        iv.emit(net, id);
        iv.stack.push((id, net.last(len)));
    }
    iv.close_before(None);
    let Intervals { starts, inodes, .. } = iv;

    let mut f = Family {
        intervals: starts.len() as u64,
        nodes: u64::from(nodes),
        lengths: seen_lengths.iter().filter(|&&s| s).count() as u32,
        ..Family::default()
    };
    if starts.is_empty() {
        return Ok(f);
    }
    align(body, 16);
    f.starts = body.len() as u64;
    for s in &starts {
        s.write(body);
    }
    align(body, 8);
    f.inodes = body.len() as u64;
    for n in &inodes {
        body.extend_from_slice(&n.to_le_bytes());
    }
    let common = starts[0].leading_common(*starts.last().unwrap());
    let bits = (usize::BITS - starts.len().leading_zeros())
        .saturating_sub(4)
        .min(MAX_BUCKET_BITS)
        .min(T::BITS - common.min(T::BITS));
    if starts.len() >= BUCKET_MIN_INTERVALS && bits > 0 {
        align(body, 8);
        f.buckets = body.len() as u64;
        f.bucket_bits = bits as u8;
        f.common = common as u8;
        let n_buckets = 1usize << bits;
        let mut i = 0usize;
        for b in 0..n_buckets {
            while i < starts.len() && starts[i].bits(common, bits) < b {
                i += 1;
            }
            body.extend_from_slice(&(i as u32).to_le_bytes());
        }
        body.extend_from_slice(&(starts.len() as u32).to_le_bytes());
    }
    align(body, 16);
    f.nodes_off = body.len() as u64;
    body.extend_from_slice(&node_bytes);
    Ok(f)
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

/// The parsed header of a mapped IP table. It owns no bytes: lookups take
/// the mapped file, so the table can live next to its mapping.
#[derive(Debug, Clone, Default)]
pub struct IpTable {
    v4: Family,
    v6: Family,
}

/// The file is not an IP table or is damaged.
#[derive(Debug, thiserror::Error)]
#[error("IP table is corrupt: {0}")]
pub struct Corrupt(pub &'static str);

impl IpTable {
    /// Parses the header and checks the arrays fit in the file; O(1).
    pub fn open(bytes: &[u8]) -> Result<IpTable, Corrupt> {
        if bytes.is_empty() {
            return Ok(IpTable::default());
        }
        if bytes.len() < BODY_START || &bytes[..8] != MAGIC {
            return Err(Corrupt("bad magic"));
        }
        let body = bytes.len() - BODY_START;
        let family = |at: usize, width: u64, max_bits: u32| -> Result<Family, Corrupt> {
            let word = |o: usize| u64::from_le_bytes(bytes[at + o..at + o + 8].try_into().unwrap());
            let f = Family {
                intervals: word(0),
                starts: word(8),
                inodes: word(16),
                buckets: word(24),
                bucket_bits: bytes[at + 32],
                common: bytes[at + 33],
                nodes: word(40),
                nodes_off: word(48),
                lengths: 0,
            };
            let fits = |off: u64, count: u64, size: u64| {
                count
                    .checked_mul(size)
                    .and_then(|n| n.checked_add(off))
                    .is_some_and(|end| end <= body as u64)
            };
            let bucket_count = (1u64 << f.bucket_bits.min(31)) + 1;
            if u32::from(f.bucket_bits) > MAX_BUCKET_BITS
                || u32::from(f.common) + u32::from(f.bucket_bits) > max_bits
                || f.intervals > u64::from(u32::MAX)
                || f.nodes > u64::from(NONE)
                || !fits(f.starts, f.intervals, width)
                || !fits(f.inodes, f.intervals, 4)
                || (f.buckets != 0 && !fits(f.buckets, bucket_count, 4))
                || !fits(f.nodes_off, f.nodes, NODE_LEN as u64)
            {
                return Err(Corrupt("array out of bounds"));
            }
            Ok(f)
        };
        Ok(IpTable {
            v4: family(8, 4, 32)?,
            v6: family(8 + FAMILY_LEN, 16, 128)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.v4.intervals == 0 && self.v6.intervals == 0
    }

    /// Pushes every network (of any length up to `max_len`) that contains `addr`,
    /// widest first. `max_len` below full width looks up a network value rather
    /// than an address. `bytes` is the whole mapped file this table was opened from.
    pub fn lookup(&self, bytes: &[u8], addr: IpAddr, max_len: u8, out: &mut Vec<IpHit>) {
        let Some(body) = bytes.get(BODY_START..) else {
            return;
        };
        let from = out.len();
        match addr {
            IpAddr::V4(a) => {
                let w = u32::from(a);
                walk::<u32>(body, &self.v4, w, max_len, &mut |len, posting| {
                    out.push(IpHit {
                        net: IpAddr::V4(Ipv4Addr::from(w.mask(len))),
                        len,
                        posting,
                    })
                });
            }
            IpAddr::V6(a) => {
                let w = u128::from(a);
                walk::<u128>(body, &self.v6, w, max_len, &mut |len, posting| {
                    out.push(IpHit {
                        net: IpAddr::V6(Ipv6Addr::from(w.mask(len))),
                        len,
                        posting,
                    })
                });
            }
        }
        out[from..].reverse();
    }
}

fn u32_at(body: &[u8], at: usize) -> Option<u32> {
    let b = body.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn start_at<T: Word>(body: &[u8], f: &Family, i: usize) -> Option<T> {
    let at = f.starts as usize + i * T::BYTES;
    body.get(at..at + T::BYTES).map(T::read)
}

/// The interval holding `key`: the last one starting at or before it.
fn interval<T: Word>(body: &[u8], f: &Family, key: T) -> Option<usize> {
    let n = f.intervals as usize;
    if n == 0 || key < start_at::<T>(body, f, 0)? {
        return None;
    }
    if key >= start_at::<T>(body, f, n - 1)? {
        return Some(n - 1);
    }
    let (mut lo, mut hi) = (0usize, n);
    if f.buckets != 0 {
        // Between the first and last start, `key` shares their common prefix.
        let b = key.bits(u32::from(f.common), u32::from(f.bucket_bits));
        let at = f.buckets as usize + b * 4;
        lo = u32_at(body, at)? as usize;
        hi = u32_at(body, at + 4)? as usize;
        if hi > n || lo > hi {
            return None;
        }
    }
    // First index in [lo, hi) whose start is after `key`.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if start_at::<T>(body, f, mid)? <= key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo.checked_sub(1)
}

/// Reports the chain of nodes covering `key`, innermost first.
fn walk<T: Word>(body: &[u8], f: &Family, key: T, max_len: u8, report: &mut dyn FnMut(u8, u64)) {
    let Some(i) = interval(body, f, key) else {
        return;
    };
    let Some(mut node) = u32_at(body, f.inodes as usize + i * 4) else {
        return;
    };
    // Parents are written before their children, so ids strictly decrease
    // along a chain; a damaged file cannot loop.
    let mut bound = u64::from(NONE);
    while node != NONE && u64::from(node) < f.nodes.min(bound) {
        let at = f.nodes_off as usize + node as usize * NODE_LEN;
        let Some(n) = body.get(at..at + NODE_LEN) else {
            return;
        };
        let posting = u64::from_le_bytes(n[0..8].try_into().unwrap());
        let len = n[12];
        if len <= max_len && u32::from(len) <= T::BITS {
            report(len, posting);
        }
        bound = u64::from(node);
        node = u32::from_le_bytes(n[8..12].try_into().unwrap());
    }
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
        let mut postings = PostingsWriter::new(0);
        let mut out = Vec::new();
        b.write(&mut out, &mut |ids| postings.push(ids)).unwrap();
        (out, postings.into_bytes())
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

    /// Every network containing `addr`, widest first, by brute force.
    fn brute(nets: &[(u32, u8, RecordId)], addr: u32) -> Vec<(u8, Vec<RecordId>)> {
        let mut by: std::collections::BTreeMap<(u8, u32), Vec<RecordId>> = Default::default();
        for &(n, l, r) in nets {
            if addr.mask(l) == n.mask(l) {
                let ids = by.entry((l, n.mask(l))).or_default();
                if !ids.contains(&r) {
                    ids.push(r);
                }
            }
        }
        by.into_iter()
            .map(|((l, _), mut ids)| {
                ids.sort_unstable();
                (l, ids)
            })
            .collect()
    }

    #[test]
    fn nested_random_networks_agree_with_brute_force() {
        // Clustered networks of every length, nested in each other, plus
        // duplicates, so that intervals split and re-merge in every way, and
        // enough of them for a bucket directory.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut nets = Vec::new();
        for i in 0..2500u32 {
            let r = next();
            let base = 0xC633_0000u32 | (r as u32 & 0x0fff);
            let len = [32, 32, 32, 31, 30, 28, 24, 20, 16, 12, 8, 0][(r >> 32) as usize % 12];
            let addr = if (r >> 40) % 4 == 0 { r as u32 } else { base };
            nets.push((addr.mask(len), len, i));
            if i % 50 == 0 {
                nets.push((addr.mask(len), len, i + 100_000));
            }
        }
        nets.push((0, 1, 900_001));
        nets.push((u32::MAX, 32, 900_002));
        nets.push((u32::MAX.mask(24), 24, 900_003));
        let entries: Vec<(String, u8, RecordId)> = nets
            .iter()
            .map(|&(a, l, r)| (Ipv4Addr::from(a).to_string(), l, r))
            .collect();
        let refs: Vec<(&str, u8, RecordId)> = entries
            .iter()
            .map(|(a, l, r)| (a.as_str(), *l, *r))
            .collect();
        let (t, p) = build(&refs);
        let table = IpTable::open(&t).unwrap();
        assert!(
            table.v4.buckets != 0,
            "the test should cover the bucket directory"
        );
        // Each network's first and last address and both neighbours (sampled).
        let mut probes: Vec<u32> = Vec::new();
        for n in nets.iter().step_by(3) {
            let last = n.0.last(n.1);
            probes.extend([n.0, last, last.wrapping_add(1), n.0.wrapping_sub(1)]);
        }
        probes.extend((0..500).map(|_| next() as u32));
        probes.extend([0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7fff_ffff]);
        for a in probes {
            let got: Vec<(u8, Vec<RecordId>)> =
                hits(&t, &table, &p, &Ipv4Addr::from(a).to_string())
                    .into_iter()
                    .map(|(net, l, mut ids)| {
                        assert_eq!(net, Ipv4Addr::from(a.mask(l)).to_string());
                        ids.sort_unstable();
                        (l, ids)
                    })
                    .collect();
            assert_eq!(got, brute(&nets, a), "address {}", Ipv4Addr::from(a));
        }
    }

    #[test]
    fn ipv6_networks_nest_and_the_top_of_the_space_is_handled() {
        let (t, p) = build(&[
            ("::", 0, 1),
            ("2001:db8::", 32, 2),
            ("2001:db8:1::", 48, 3),
            ("2001:db8:1::5", 128, 4),
            ("2001:db8:2::", 48, 5),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 6),
        ]);
        let table = IpTable::open(&t).unwrap();
        let lens =
            |a: &str| -> Vec<u8> { hits(&t, &table, &p, a).into_iter().map(|h| h.1).collect() };
        assert_eq!(lens("2001:db8:1::5"), [0, 32, 48, 128]);
        assert_eq!(lens("2001:db8:1::6"), [0, 32, 48]);
        assert_eq!(lens("2001:db8:2:ffff::1"), [0, 32, 48]);
        assert_eq!(lens("2001:db8:3::"), [0, 32]);
        assert_eq!(lens("2001:db9::"), [0]);
        assert_eq!(lens("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), [0, 128]);
        assert_eq!(lens("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), [0]);
        // Families never mix.
        assert!(hits(&t, &table, &p, "10.0.0.1").is_empty());
    }

    #[test]
    fn many_ipv6_addresses_use_the_bucket_directory() {
        let mut entries = Vec::new();
        for i in 0..5000u32 {
            let a = (0x2a00u128 << 112) | (u128::from(i.wrapping_mul(2_654_435_761)) << 40);
            entries.push((Ipv6Addr::from(a).to_string(), 128u8, i));
        }
        entries.push(("2a00::".to_string(), 16, 99_999));
        let refs: Vec<(&str, u8, RecordId)> = entries
            .iter()
            .map(|(a, l, r)| (a.as_str(), *l, *r))
            .collect();
        let (t, p) = build(&refs);
        let table = IpTable::open(&t).unwrap();
        assert!(table.v6.buckets != 0);
        for (a, _, r) in entries.iter().take(5000).step_by(13) {
            let got = hits(&t, &table, &p, a);
            assert_eq!(got.len(), 2, "{a}");
            assert_eq!(got[0].2, [99_999]);
            assert_eq!(got[1].2, [*r]);
        }
        assert_eq!(hits(&t, &table, &p, "2a00::1").len(), 1);
        assert!(hits(&t, &table, &p, "2a01::1").is_empty());
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
