//! The record table: provenance of every indicator, stored once and referenced
//! by id from all key structures.
//!
//! `records.idx` holds a fixed-size header per record with the fields the
//! matcher filters on (validity, score, flags), so a hit is checked without
//! decoding anything; `records.dat` holds the full [`Record`] in the compact
//! binary encoding of [`super::record_codec`], decoded only for hits that are
//! reported, with repeated provenance strings in `strings.bin`.

use std::io::{self, Write};

use crate::record::{Record, RecordKind};

use super::postings::RecordId;
use super::record_codec::{kind_code, kind_from_code, Decoder, Encoder, TimeCache};
use super::strings::{StringTableWriter, Strings};

pub const HEADER_LEN: usize = 32;

pub const FLAG_REVOKED: u32 = 1;
pub const FLAG_PARTIAL: u32 = 1 << 1;
pub const FLAG_RELATED: u32 = 1 << 2;
pub const FLAG_WARNINGLIST: u32 = 1 << 3;
pub const FLAG_NO_DETECTION: u32 = 1 << 4;

const NO_SCORE: i32 = i32::MIN;
const NO_EXPIRY: i64 = i64::MAX;

/// The fixed part of a record, enough to decide whether a hit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    offset: u64,
    len: u32,
    pub flags: u32,
    /// Unix seconds; `None` when the record never expires.
    pub valid_until: Option<i64>,
    pub score: Option<i64>,
    pub kind: RecordKind,
}

impl RecordHeader {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Expired at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.valid_until.is_some_and(|t| t <= now)
    }
}

/// Streams records to `records.dat` and their headers to `records.idx`.
pub struct RecordWriter<D: Write, I: Write> {
    dat: D,
    idx: I,
    offset: u64,
    count: u32,
    scratch: Vec<u8>,
    strings: StringTableWriter,
    times: TimeCache,
}

impl<D: Write, I: Write> RecordWriter<D, I> {
    pub fn new(dat: D, idx: I) -> Self {
        RecordWriter {
            dat,
            idx,
            offset: 0,
            count: 0,
            scratch: Vec::with_capacity(512),
            strings: StringTableWriter::default(),
            times: TimeCache::default(),
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn push(&mut self, record: &Record) -> io::Result<RecordId> {
        if self.count == u32::MAX {
            return Err(io::Error::other("more than 4 billion records"));
        }
        self.scratch.clear();
        Encoder {
            strings: &mut self.strings,
            times: &mut self.times,
            out: &mut self.scratch,
        }
        .record(record)
        .map_err(io::Error::other)?;
        self.dat.write_all(&self.scratch)?;

        let mut flags = 0;
        if record.revoked {
            flags |= FLAG_REVOKED;
        }
        if record.partial {
            flags |= FLAG_PARTIAL;
        }
        if record.related.is_some() {
            flags |= FLAG_RELATED;
        }
        if record.record_kind == RecordKind::Warninglist {
            flags |= FLAG_WARNINGLIST;
        }
        if record.detection == Some(false) {
            flags |= FLAG_NO_DETECTION;
        }
        flags |= u32::from(kind_code(record.record_kind)) << 24;
        let score = record
            .score
            .map(|s| s.clamp(i64::from(i32::MIN + 1), i64::from(i32::MAX)) as i32)
            .unwrap_or(NO_SCORE);
        let until = record
            .valid_until
            .as_deref()
            .and_then(|t| self.times.unix_secs(t))
            .unwrap_or(NO_EXPIRY);

        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&self.offset.to_le_bytes());
        h[8..12].copy_from_slice(&(self.scratch.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&flags.to_le_bytes());
        h[16..24].copy_from_slice(&until.to_le_bytes());
        h[24..28].copy_from_slice(&score.to_le_bytes());
        self.idx.write_all(&h)?;

        self.offset += self.scratch.len() as u64;
        let id = self.count;
        self.count += 1;
        Ok(id)
    }

    /// The two streams and the string table, which the caller writes to `strings.bin`.
    pub fn into_inner(self) -> (D, I, StringTableWriter) {
        (self.dat, self.idx, self.strings)
    }
}

/// The record table error.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record {0} is out of range")]
    OutOfRange(RecordId),
    #[error("record {0} is corrupt: {1}")]
    Corrupt(RecordId, String),
}

/// A read-only view of the mapped record table.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    dat: &'a [u8],
    idx: &'a [u8],
    strings: Strings<'a>,
}

impl<'a> Records<'a> {
    pub fn new(dat: &'a [u8], idx: &'a [u8], strings: Strings<'a>) -> Self {
        Records { dat, idx, strings }
    }

    pub fn len(&self) -> usize {
        self.idx.len() / HEADER_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn header(&self, id: RecordId) -> Option<RecordHeader> {
        let at = id as usize * HEADER_LEN;
        let h = self.idx.get(at..at + HEADER_LEN)?;
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        let flags = u32::from_le_bytes(h[12..16].try_into().unwrap());
        let until = u64_at(16) as i64;
        let score = i32::from_le_bytes(h[24..28].try_into().unwrap());
        Some(RecordHeader {
            offset: u64_at(0),
            len: u32::from_le_bytes(h[8..12].try_into().unwrap()),
            flags: flags & 0x00ff_ffff,
            valid_until: (until != NO_EXPIRY).then_some(until),
            score: (score != NO_SCORE).then_some(i64::from(score)),
            kind: kind_from_code((flags >> 24) as u8).unwrap_or_default(),
        })
    }

    /// Decodes the full record.
    pub fn get(&self, id: RecordId) -> Result<Record, RecordError> {
        let h = self.header(id).ok_or(RecordError::OutOfRange(id))?;
        let start = h.offset as usize;
        let bytes = start
            .checked_add(h.len as usize)
            .and_then(|end| self.dat.get(start..end))
            .ok_or_else(|| RecordError::Corrupt(id, "body out of bounds".into()))?;
        Decoder::new(bytes, self.strings)
            .record()
            .map_err(|e| RecordError::Corrupt(id, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_filter_fields_and_bodies_round_trip() {
        let mut w = RecordWriter::new(Vec::new(), Vec::new());
        let a = Record {
            source: "demo".into(),
            id: "indicator--1".into(),
            score: Some(80),
            valid_until: Some("2030-01-01T00:00:00Z".into()),
            partial: true,
            ..Record::default()
        };
        let b = Record {
            source: "demo".into(),
            id: "wl".into(),
            record_kind: RecordKind::Warninglist,
            revoked: true,
            ..Record::default()
        };
        assert_eq!(w.push(&a).unwrap(), 0);
        assert_eq!(w.push(&b).unwrap(), 1);
        let (dat, idx, strings) = w.into_inner();
        let strings = strings.to_bytes();
        let r = Records::new(&dat, &idx, Strings::new(&strings).unwrap());
        assert_eq!(r.len(), 2);
        let h = r.header(0).unwrap();
        assert_eq!(h.score, Some(80));
        assert!(h.has(FLAG_PARTIAL) && !h.has(FLAG_REVOKED));
        assert!(h.expired(1_893_456_000) && !h.expired(1_893_455_999));
        let h = r.header(1).unwrap();
        assert_eq!(h.kind, RecordKind::Warninglist);
        assert!(h.has(FLAG_REVOKED) && h.has(FLAG_WARNINGLIST));
        assert_eq!(h.valid_until, None);
        assert_eq!(h.score, None);
        assert_eq!(r.get(0).unwrap(), a);
        assert_eq!(r.get(1).unwrap(), b);
        assert!(matches!(r.get(2), Err(RecordError::OutOfRange(2))));
    }
}
