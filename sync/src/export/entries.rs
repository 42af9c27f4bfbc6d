//! The keys of one list while an export collects them: every (key, provenance)
//! pair packed into one byte arena, then sorted and grouped by key.
//!
//! Ten million indicators become tens of millions of keys once networks are
//! expanded; one `String` and one map entry each would take several GiB, the
//! arena about 30 bytes plus the key.

use std::cmp::Ordering;

/// What one record contributes to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contribution {
    /// An interned string: the source name or the malware family.
    pub tag: u32,
    pub score: Option<i32>,
    /// Reached through a relationship (`related` records).
    pub related: bool,
    /// The key is only part of its record's pattern (`AND`, `FOLLOWEDBY`).
    pub partial: bool,
    /// The network the key was expanded from (address, prefix length).
    pub net: Option<(u32, u8)>,
}

/// Bytes after the key: tag, score, flags, network address, network length.
const TAIL: usize = 4 + 4 + 1 + 4 + 1;
const NO_SCORE: i32 = i32::MIN;

/// Receives one distinct key and all its contributions.
pub type KeySink<'a> = dyn FnMut(&[u8], &[Contribution]) -> std::io::Result<()> + 'a;

#[derive(Debug, Default)]
pub struct Entries {
    arena: Vec<u8>,
    /// (first 8 key bytes, big-endian; arena offset): sorting compares the
    /// cached prefix first and touches the arena only on ties.
    index: Vec<(u64, u64)>,
}

impl Entries {
    /// Adds one pair. `key` is the key as it appears in the line, up to and
    /// including the `:` (quotes included), so that the key order is the
    /// line order.
    pub fn push(&mut self, key: &[u8], c: Contribution) {
        let at = self.arena.len() as u64;
        self.arena
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(&c.tag.to_le_bytes());
        self.arena
            .extend_from_slice(&c.score.unwrap_or(NO_SCORE).to_le_bytes());
        let flags =
            u8::from(c.related) | (u8::from(c.net.is_some()) << 1) | (u8::from(c.partial) << 2);
        self.arena.push(flags);
        let (addr, len) = c.net.unwrap_or((0, 0));
        self.arena.extend_from_slice(&addr.to_le_bytes());
        self.arena.push(len);
        self.index.push((prefix8(key), at));
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Sorts by key and calls `f` once per distinct key with all its
    /// contributions. Consumes the entries.
    pub fn for_each_key(mut self, f: &mut KeySink<'_>) -> std::io::Result<()> {
        let arena = &self.arena;
        self.index.sort_unstable_by(|a, b| match a.0.cmp(&b.0) {
            Ordering::Equal => key_at(arena, a.1).cmp(key_at(arena, b.1)),
            other => other,
        });
        let mut group: Vec<Contribution> = Vec::new();
        let mut i = 0;
        while i < self.index.len() {
            let key = key_at(arena, self.index[i].1);
            group.clear();
            while i < self.index.len() && key_at(arena, self.index[i].1) == key {
                group.push(contribution_at(arena, self.index[i].1));
                i += 1;
            }
            f(key, &group)?;
        }
        Ok(())
    }
}

fn prefix8(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

fn u32_at(arena: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arena[at..at + 4].try_into().expect("4 bytes"))
}

fn key_at(arena: &[u8], at: u64) -> &[u8] {
    let at = at as usize;
    let len = u32_at(arena, at) as usize;
    &arena[at + 4..at + 4 + len]
}

fn contribution_at(arena: &[u8], at: u64) -> Contribution {
    let at = at as usize;
    let t = at + 4 + u32_at(arena, at) as usize;
    let tail = &arena[t..t + TAIL];
    let score = i32::from_le_bytes(tail[4..8].try_into().expect("4 bytes"));
    let flags = tail[8];
    Contribution {
        tag: u32_at(tail, 0),
        score: (score != NO_SCORE).then_some(score),
        related: flags & 1 != 0,
        partial: flags & 4 != 0,
        net: (flags & 2 != 0).then(|| (u32_at(tail, 9), tail[13])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_sorted_keys_with_every_contribution() {
        let mut e = Entries::default();
        let c = |tag, score| Contribution {
            tag,
            score,
            related: false,
            partial: false,
            net: None,
        };
        e.push(b"10.1.:", c(1, Some(5)));
        e.push(b"10.:", c(2, None));
        e.push(b"\"2001:db8::1\":", c(3, Some(-7)));
        e.push(
            b"10.1.:",
            Contribution {
                tag: 4,
                score: None,
                related: true,
                partial: true,
                net: Some((0x0a01_0000, 16)),
            },
        );
        e.push(b"10.1.2.3456789:", c(5, Some(i32::MAX)));
        let mut got = Vec::new();
        e.for_each_key(&mut |k, cs| {
            got.push((k.to_vec(), cs.to_vec()));
            Ok(())
        })
        .unwrap();
        let keys: Vec<&[u8]> = got.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(
            keys,
            [
                &b"\"2001:db8::1\":"[..],
                b"10.1.2.3456789:",
                b"10.1.:",
                b"10.:"
            ]
        );
        let mut two = got[2].1.clone();
        two.sort_by_key(|c| c.tag);
        assert_eq!(two[0], c(1, Some(5)));
        assert_eq!(two[1].net, Some((0x0a01_0000, 16)));
        assert!(two[1].related);
        assert_eq!(got[0].1, [c(3, Some(-7))]);
    }
}
