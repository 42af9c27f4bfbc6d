//! The interned string table: provenance strings that repeat across records
//! (source names, labels, markings, authors, pattern templates) are stored once
//! in `strings.bin` and referenced by id from record bodies.
//!
//! Layout (little-endian): `count: u32`, then `count + 1` `u32` offsets into the
//! bytes that follow, so string `i` is `bytes[off[i]..off[i + 1]]`. Opening it
//! reads only the count; a lookup is two loads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Write};

/// Strings longer than this are stored inline: long values are rarely shared.
pub const MAX_INTERNED_LEN: usize = 128;
/// Bounds on the table, so that a source with millions of distinct labels
/// cannot make the compiler's memory grow without limit.
const MAX_STRINGS: usize = 1 << 20;
const MAX_BYTES: usize = 64 << 20;

/// FxHash: the interner hashes tens of millions of short strings per build,
/// and SipHash's DoS resistance buys nothing for our own compile-time table.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap());
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Collects distinct strings while records are written.
#[derive(Default)]
pub struct StringTableWriter {
    ids: HashMap<Box<str>, u32, BuildHasherDefault<FxHasher>>,
    bytes: Vec<u8>,
    offsets: Vec<u32>,
}

impl StringTableWriter {
    /// The id of `s`, or `None` when it is too long or the table is full
    /// (the caller then stores it inline).
    pub fn intern(&mut self, s: &str) -> Option<u32> {
        if let Some(&id) = self.ids.get(s) {
            return Some(id);
        }
        if s.len() > MAX_INTERNED_LEN
            || self.offsets.len() >= MAX_STRINGS
            || self.bytes.len() + s.len() > MAX_BYTES
        {
            return None;
        }
        let id = self.offsets.len() as u32;
        self.offsets.push(self.bytes.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
        self.ids.insert(s.into(), id);
        Some(id)
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(&(self.offsets.len() as u32).to_le_bytes())?;
        for o in &self.offsets {
            out.write_all(&o.to_le_bytes())?;
        }
        out.write_all(&(self.bytes.len() as u32).to_le_bytes())?;
        out.write_all(&self.bytes)
    }

    /// The table as written, for tests and in-memory use.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v).expect("writing to a Vec");
        v
    }
}

/// A read-only view of a mapped string table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Strings<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Strings<'a> {
    /// `None` when the table is too short for the count it claims.
    pub fn new(bytes: &'a [u8]) -> Option<Strings<'a>> {
        if bytes.is_empty() {
            return Some(Strings::default());
        }
        let count = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
        let data = 4 + (count + 1) * 4;
        (bytes.len() >= data).then_some(Strings { bytes, count })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn get(&self, id: u32) -> Option<&'a str> {
        let id = id as usize;
        if id >= self.count {
            return None;
        }
        let off = |i: usize| -> Option<usize> {
            let at = 4 + i * 4;
            Some(u32::from_le_bytes(self.bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let data = 4 + (self.count + 1) * 4;
        let (start, end) = (off(id)?, off(id + 1)?);
        let s = self.bytes.get(data + start..data + end)?;
        std::str::from_utf8(s).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_reads_back() {
        let mut w = StringTableWriter::default();
        assert_eq!(w.intern("TLP:GREEN"), Some(0));
        assert_eq!(w.intern("c2"), Some(1));
        assert_eq!(w.intern("TLP:GREEN"), Some(0));
        assert_eq!(w.intern(""), Some(2));
        assert_eq!(w.intern(&"x".repeat(MAX_INTERNED_LEN + 1)), None);
        let bytes = w.to_bytes();
        let s = Strings::new(&bytes).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(0), Some("TLP:GREEN"));
        assert_eq!(s.get(1), Some("c2"));
        assert_eq!(s.get(2), Some(""));
        assert_eq!(s.get(3), None);
    }

    #[test]
    fn truncated_tables_are_refused() {
        let mut w = StringTableWriter::default();
        w.intern("a");
        let bytes = w.to_bytes();
        assert!(Strings::new(&bytes[..6]).is_none());
        assert!(Strings::new(&[]).unwrap().is_empty());
        // Offsets pointing past the end yield nothing rather than panicking.
        let mut bad = bytes.clone();
        bad[8] = 200;
        assert_eq!(Strings::new(&bad).unwrap().get(0), None);
    }
}
