//! Posting lists: which records share a key.
//!
//! A key maps to a `u64` "posting ref". Most keys have one record, so the ref
//! inlines it (top bit set); otherwise the ref is an offset into the postings
//! file, where a list is stored as `count, id, id, ...` (little-endian `u32`s).

use std::io::{self, Write};

/// Index of a record in the record table.
pub type RecordId = u32;

const INLINE: u64 = 1 << 63;

/// Appends posting lists and hands out refs.
pub struct PostingsWriter<W: Write> {
    out: W,
    /// Position in `u32` words.
    words: u64,
}

impl<W: Write> PostingsWriter<W> {
    pub fn new(out: W) -> Self {
        PostingsWriter { out, words: 0 }
    }

    /// `ids` must be non-empty; duplicates are the caller's business.
    pub fn push(&mut self, ids: &[RecordId]) -> io::Result<u64> {
        debug_assert!(!ids.is_empty());
        if ids.len() == 1 {
            return Ok(INLINE | u64::from(ids[0]));
        }
        let at = self.words;
        self.out.write_all(&(ids.len() as u32).to_le_bytes())?;
        for id in ids {
            self.out.write_all(&id.to_le_bytes())?;
        }
        self.words += 1 + ids.len() as u64;
        Ok(at)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Resolves a posting ref against the mapped postings file.
pub fn resolve(postings: &[u8], posting: u64, out: &mut Vec<RecordId>) {
    if posting & INLINE != 0 {
        out.push((posting & 0xffff_ffff) as RecordId);
        return;
    }
    let start = posting as usize * 4;
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
        let mut w = PostingsWriter::new(Vec::new());
        let a = w.push(&[7]).unwrap();
        let b = w.push(&[1, 2, 3]).unwrap();
        let c = w.push(&[9, 10]).unwrap();
        let bytes = w.into_inner();
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
    fn corrupt_ref_yields_nothing() {
        let mut out = Vec::new();
        resolve(&[1, 0, 0], 0, &mut out);
        resolve(&[], 12345, &mut out);
        assert!(out.is_empty());
    }
}
