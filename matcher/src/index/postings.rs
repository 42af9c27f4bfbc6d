//! Posting lists: which records share a key.
//!
//! A key maps to a `u64` "posting ref". Most keys have one record, so the ref
//! inlines it (top bit set); otherwise the ref names an *area* (bits 56..63)
//! and a word offset inside it, where a list is stored as `count, id, id, ...`
//! (little-endian `u32`s). Each key structure fills its own area, so the
//! structures can be built in parallel; `postings.bin` starts with the word
//! offset of every area ([`AREAS`] `u64`s), then the areas one after another.

use std::io::{self, Write};

/// Index of a record in the record table.
pub type RecordId = u32;

const INLINE: u64 = 1 << 63;
const AREA_SHIFT: u32 = 56;
const LOCAL_MASK: u64 = (1 << AREA_SHIFT) - 1;
/// Number of areas in the `postings.bin` header.
pub const AREAS: usize = 8;
const HEADER_LEN: usize = AREAS * 8;

/// Collects the posting lists of one area in memory and hands out refs.
pub struct PostingsWriter {
    area: u8,
    words: Vec<u32>,
}

impl PostingsWriter {
    pub fn new(area: u8) -> Self {
        assert!(
            usize::from(area) < AREAS,
            "posting area {area} out of range"
        );
        PostingsWriter {
            area,
            words: Vec::new(),
        }
    }

    /// `ids` must be non-empty; duplicates are the caller's business.
    pub fn push(&mut self, ids: &[RecordId]) -> io::Result<u64> {
        debug_assert!(!ids.is_empty());
        if ids.len() == 1 {
            return Ok(INLINE | u64::from(ids[0]));
        }
        let at = self.words.len() as u64;
        if at + ids.len() as u64 >= LOCAL_MASK {
            return Err(io::Error::other("posting area full"));
        }
        self.words.push(ids.len() as u32);
        self.words.extend_from_slice(ids);
        Ok(u64::from(self.area) << AREA_SHIFT | at)
    }

    /// This area alone as a complete postings file (tests, small builds).
    pub fn into_bytes(self) -> Vec<u8> {
        let mut v = Vec::new();
        write(&mut v, &[self]).expect("writing to a Vec");
        v
    }
}

/// Writes `postings.bin` from the areas (each at most once, in any order).
pub fn write<W: Write>(out: &mut W, areas: &[PostingsWriter]) -> io::Result<()> {
    let mut base = [0u64; AREAS];
    let mut next = 0u64;
    let mut order: Vec<&PostingsWriter> = areas.iter().collect();
    order.sort_by_key(|a| a.area);
    for a in &order {
        base[usize::from(a.area)] = next;
        next += a.words.len() as u64;
    }
    for b in base {
        out.write_all(&b.to_le_bytes())?;
    }
    let mut buf = Vec::with_capacity(1 << 16);
    for a in &order {
        for chunk in a.words.chunks(1 << 14) {
            buf.clear();
            for w in chunk {
                buf.extend_from_slice(&w.to_le_bytes());
            }
            out.write_all(&buf)?;
        }
    }
    Ok(())
}

/// Resolves a posting ref against the mapped postings file.
pub fn resolve(postings: &[u8], posting: u64, out: &mut Vec<RecordId>) {
    if posting & INLINE != 0 {
        out.push((posting & 0xffff_ffff) as RecordId);
        return;
    }
    let area = (posting >> AREA_SHIFT) as usize;
    let Some(base) = postings
        .get(area * 8..area * 8 + 8)
        .filter(|_| area < AREAS)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    else {
        return;
    };
    let Some(start) = base
        .checked_add(posting & LOCAL_MASK)
        .and_then(|w| usize::try_from(w).ok())
        .and_then(|w| w.checked_mul(4))
        .and_then(|b| b.checked_add(HEADER_LEN))
    else {
        return;
    };
    let Some(count) = read_u32(postings, start) else {
        return;
    };
    for i in 0..count as usize {
        match read_u32(postings, start + 4 + i * 4) {
            Some(id) => out.push(id),
            None => return,
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_lists_round_trip() {
        let mut w = PostingsWriter::new(0);
        let a = w.push(&[7]).unwrap();
        let b = w.push(&[1, 2, 3]).unwrap();
        let c = w.push(&[9, 10]).unwrap();
        let bytes = w.into_bytes();
        let mut out = Vec::new();
        resolve(&bytes, a, &mut out);
        assert_eq!(out, [7]);
        out.clear();
        resolve(&bytes, b, &mut out);
        assert_eq!(out, [1, 2, 3]);
        out.clear();
        resolve(&bytes, c, &mut out);
        assert_eq!(out, [9, 10]);
    }

    #[test]
    fn areas_written_together_resolve_independently() {
        let mut a = PostingsWriter::new(3);
        let mut b = PostingsWriter::new(1);
        let ra = a.push(&[4, 5]).unwrap();
        let rb = b.push(&[6, 7, 8]).unwrap();
        let rb2 = b.push(&[1, 2]).unwrap();
        let mut bytes = Vec::new();
        write(&mut bytes, &[a, b]).unwrap();
        let mut out = Vec::new();
        for (r, want) in [(ra, vec![4, 5]), (rb, vec![6, 7, 8]), (rb2, vec![1, 2])] {
            out.clear();
            resolve(&bytes, r, &mut out);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn corrupt_ref_yields_nothing() {
        let mut out = Vec::new();
        resolve(&[1, 0, 0], 0, &mut out);
        resolve(&[], 12345, &mut out);
        resolve(&[0; 64], 0x7f << 56, &mut out);
        resolve(&[0xff; 64], 0, &mut out);
        assert!(out.is_empty());
    }
}
