//! The binary encoding of a [`Record`] body in `records.dat`.
//!
//! A body is a varint presence mask, the record kind, then the present fields
//! in a fixed order. Strings carry a 2-bit tag in their varint head:
//!
//! | tag | meaning | payload |
//! |---|---|---|
//! | 0 | inline UTF-8, `n` bytes | the bytes |
//! | 1 | interned string `n` (see [`super::strings`]) | — |
//! | 2 | interned prefix `n` + canonical lowercase UUID | 16 bytes |
//! | 3 | lowercase hex of `n` bytes (hashes) | `n` bytes |
//!
//! Provenance that repeats across records (source, labels, markings, author,
//! pattern type) is interned; ids and links ending in a UUID keep 16 bytes for
//! it; a pattern containing the record's name is stored as an interned
//! template around the name; RFC 3339 times in canonical UTC form are stored as
//! varint seconds or milliseconds. Everything decodes to exactly the strings
//! that were encoded. JSON remains only for the free-form `extra` map.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::record::{Record, RecordKind, Related};

use super::strings::{StringTableWriter, Strings};

const HAS_NAME: u32 = 1;
const HAS_PATTERN: u32 = 1 << 1;
const HAS_PATTERN_TYPE: u32 = 1 << 2;
const HAS_SCORE: u32 = 1 << 3;
const HAS_CONFIDENCE: u32 = 1 << 4;
const HAS_LABELS: u32 = 1 << 5;
const HAS_MARKINGS: u32 = 1 << 6;
const HAS_VALID_FROM: u32 = 1 << 7;
const HAS_VALID_UNTIL: u32 = 1 << 8;
const REVOKED: u32 = 1 << 9;
const HAS_DETECTION: u32 = 1 << 10;
const DETECTION: u32 = 1 << 11;
const HAS_CREATED_BY: u32 = 1 << 12;
const HAS_LINK: u32 = 1 << 13;
const HAS_UPDATED_AT: u32 = 1 << 14;
const PARTIAL: u32 = 1 << 15;
const HAS_RELATED: u32 = 1 << 16;
const HAS_EXTRA: u32 = 1 << 17;

const STR_INLINE: u64 = 0;
const STR_INTERNED: u64 = 1;
const STR_UUID: u64 = 2;
const STR_HEX: u64 = 3;

const TIME_TEXT: u64 = 0;
const TIME_SECS: u64 = 1;
const TIME_MILLIS: u64 = 2;

const PATTERN_TEXT: u64 = 0;
const PATTERN_AROUND_NAME: u64 = 1;

pub(super) fn kind_code(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Indicator => 0,
        RecordKind::Observable => 1,
        RecordKind::Attribute => 2,
        RecordKind::ListEntry => 3,
        RecordKind::Warninglist => 4,
    }
}

pub(super) fn kind_from_code(code: u8) -> Option<RecordKind> {
    Some(match code {
        0 => RecordKind::Indicator,
        1 => RecordKind::Observable,
        2 => RecordKind::Attribute,
        3 => RecordKind::ListEntry,
        4 => RecordKind::Warninglist,
        _ => return None,
    })
}

/// The last time string seen and its compact form: records of one source
/// tend to share `valid_until`/`valid_from`, and chrono parsing plus printing
/// it back for every record is a visible part of a 10M build.
#[derive(Default)]
pub struct TimeCache {
    last: String,
    compact: Option<(u64, i64)>,
}

impl TimeCache {
    fn compact(&mut self, t: &str) -> Option<(u64, i64)> {
        if self.last != t {
            self.last.clear();
            self.last.push_str(t);
            self.compact = compact_time(t);
        }
        self.compact
    }

    /// Unix seconds of an RFC 3339 time, as [`Record::valid_until_unix`] gives.
    pub fn unix_secs(&mut self, t: &str) -> Option<i64> {
        match self.compact(t) {
            Some((TIME_SECS, v)) => Some(v),
            Some((_, millis)) => Some(millis.div_euclid(1000)),
            None => DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp()),
        }
    }
}

/// Encodes record bodies, interning into one shared string table.
pub struct Encoder<'t> {
    pub strings: &'t mut StringTableWriter,
    pub times: &'t mut TimeCache,
    pub out: &'t mut Vec<u8>,
}

impl Encoder<'_> {
    /// Appends the body of `r` to `out`.
    pub fn record(&mut self, r: &Record) -> Result<(), serde_json::Error> {
        let mut mask = 0;
        let mut set = |cond: bool, bit: u32| {
            if cond {
                mask |= bit
            }
        };
        set(!r.name.is_empty(), HAS_NAME);
        set(r.pattern.is_some(), HAS_PATTERN);
        set(r.pattern_type.is_some(), HAS_PATTERN_TYPE);
        set(r.score.is_some(), HAS_SCORE);
        set(r.confidence.is_some(), HAS_CONFIDENCE);
        set(!r.labels.is_empty(), HAS_LABELS);
        set(!r.markings.is_empty(), HAS_MARKINGS);
        set(r.valid_from.is_some(), HAS_VALID_FROM);
        set(r.valid_until.is_some(), HAS_VALID_UNTIL);
        set(r.revoked, REVOKED);
        set(r.detection.is_some(), HAS_DETECTION);
        set(r.detection == Some(true), DETECTION);
        set(r.created_by.is_some(), HAS_CREATED_BY);
        set(r.link.is_some(), HAS_LINK);
        set(r.updated_at.is_some(), HAS_UPDATED_AT);
        set(r.partial, PARTIAL);
        set(r.related.is_some(), HAS_RELATED);
        set(!r.extra.is_empty(), HAS_EXTRA);
        varint(self.out, u64::from(mask));
        self.out.push(kind_code(r.record_kind));
        self.interned(&r.source);
        self.interned(&r.source_type);
        self.plain(&r.id);
        if !r.name.is_empty() {
            self.plain(&r.name);
        }
        if let Some(p) = &r.pattern {
            self.pattern(p, &r.name);
        }
        if let Some(t) = &r.pattern_type {
            self.interned(t);
        }
        if let Some(s) = r.score {
            varint(self.out, zigzag(s));
        }
        if let Some(c) = r.confidence {
            varint(self.out, zigzag(c));
        }
        for list in [&r.labels, &r.markings] {
            if !list.is_empty() {
                varint(self.out, list.len() as u64);
                for s in list {
                    self.interned(s);
                }
            }
        }
        for t in [&r.valid_from, &r.valid_until].into_iter().flatten() {
            self.time(t);
        }
        if let Some(c) = &r.created_by {
            self.interned(c);
        }
        if let Some(l) = &r.link {
            self.plain(l);
        }
        if let Some(t) = &r.updated_at {
            self.time(t);
        }
        if let Some(rel) = &r.related {
            self.interned(&rel.relationship);
            self.plain(&rel.via);
        }
        if !r.extra.is_empty() {
            let json = serde_json::to_vec(&r.extra)?;
            varint(self.out, (json.len() as u64) << 2 | STR_INLINE);
            self.out.extend_from_slice(&json);
        }
        Ok(())
    }

    fn inline(&mut self, s: &str) {
        varint(self.out, (s.len() as u64) << 2 | STR_INLINE);
        self.out.extend_from_slice(s.as_bytes());
    }

    fn interned(&mut self, s: &str) {
        match self.strings.intern(s) {
            Some(id) => varint(self.out, u64::from(id) << 2 | STR_INTERNED),
            None => self.inline(s),
        }
    }

    /// A string that is usually unique: a UUID tail or hex shrinks, the rest is inline.
    fn plain(&mut self, s: &str) {
        if s.len() >= 36 {
            let cut = s.len() - 36;
            // A parsed tail is ASCII, so `cut` is a char boundary.
            if let Some(uuid) = parse_uuid(&s.as_bytes()[cut..]) {
                if let Some(id) = self.strings.intern(&s[..cut]) {
                    varint(self.out, u64::from(id) << 2 | STR_UUID);
                    self.out.extend_from_slice(&uuid);
                    return;
                }
            }
        }
        if s.len() >= 16 && s.len().is_multiple_of(2) && is_lower_hex(s.as_bytes()) {
            varint(self.out, (s.len() as u64 / 2) << 2 | STR_HEX);
            for pair in s.as_bytes().chunks_exact(2) {
                self.out.push(hex_val(pair[0]) << 4 | hex_val(pair[1]));
            }
            return;
        }
        self.inline(s);
    }

    fn pattern(&mut self, p: &str, name: &str) {
        if !name.is_empty() {
            if let Some(at) = memchr::memmem::find(p.as_bytes(), name.as_bytes()) {
                let (prefix, suffix) = (&p[..at], &p[at + name.len()..]);
                if prefix.len() <= super::strings::MAX_INTERNED_LEN
                    && suffix.len() <= super::strings::MAX_INTERNED_LEN
                {
                    self.out.push(PATTERN_AROUND_NAME as u8);
                    self.interned(prefix);
                    self.interned(suffix);
                    return;
                }
            }
        }
        self.out.push(PATTERN_TEXT as u8);
        self.plain(p);
    }

    fn time(&mut self, t: &str) {
        if let Some((tag, v)) = self.times.compact(t) {
            varint(self.out, tag);
            varint(self.out, zigzag(v));
        } else {
            varint(self.out, TIME_TEXT);
            self.inline(t);
        }
    }
}

/// `(TIME_SECS, secs)` or `(TIME_MILLIS, millis)` when `t` is exactly what
/// chrono prints back for that instant in UTC with a `Z`.
fn compact_time(t: &str) -> Option<(u64, i64)> {
    let b = t.as_bytes();
    if !(b.len() == 20 || b.len() == 24) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let dt = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
    let (tag, v, format) = if b.len() == 20 {
        (TIME_SECS, dt.timestamp(), SecondsFormat::Secs)
    } else {
        (TIME_MILLIS, dt.timestamp_millis(), SecondsFormat::Millis)
    };
    (dt.to_rfc3339_opts(format, true) == t).then_some((tag, v))
}

fn parse_uuid(b: &[u8]) -> Option<[u8; 16]> {
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    while i < 36 {
        if matches!(i, 8 | 13 | 18 | 23) {
            i += 1;
            continue;
        }
        let (h, l) = (b[i], b[i + 1]);
        if !is_lower_hex(&[h, l]) {
            return None;
        }
        out[n] = hex_val(h) << 4 | hex_val(l);
        n += 1;
        i += 2;
    }
    Some(out)
}

fn is_lower_hex(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, b: u8) {
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// Decodes one body; errors name what was damaged.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    strings: Strings<'a>,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8], strings: Strings<'a>) -> Self {
        Decoder {
            bytes,
            at: 0,
            strings,
        }
    }

    pub fn record(mut self) -> Result<Record, String> {
        let mask = self.varint()? as u32;
        let has = |bit: u32| mask & bit != 0;
        let kind = self.byte()?;
        let record_kind = kind_from_code(kind).ok_or(format!("record kind {kind}"))?;
        let source = self.string()?;
        let source_type = self.string()?;
        let id = self.string()?;
        let name = if has(HAS_NAME) {
            self.string()?
        } else {
            String::new()
        };
        let pattern = if has(HAS_PATTERN) {
            Some(self.pattern(&name)?)
        } else {
            None
        };
        let pattern_type = self.opt_string(has(HAS_PATTERN_TYPE))?;
        let score = self.opt_int(has(HAS_SCORE))?;
        let confidence = self.opt_int(has(HAS_CONFIDENCE))?;
        let labels = self.list(has(HAS_LABELS))?;
        let markings = self.list(has(HAS_MARKINGS))?;
        let valid_from = self.opt_time(has(HAS_VALID_FROM))?;
        let valid_until = self.opt_time(has(HAS_VALID_UNTIL))?;
        let created_by = self.opt_string(has(HAS_CREATED_BY))?;
        let link = self.opt_string(has(HAS_LINK))?;
        let updated_at = self.opt_time(has(HAS_UPDATED_AT))?;
        let related = if has(HAS_RELATED) {
            Some(Related {
                relationship: self.string()?,
                via: self.string()?,
            })
        } else {
            None
        };
        let extra = if has(HAS_EXTRA) {
            let json = self.string()?;
            serde_json::from_str(&json).map_err(|e| format!("extra: {e}"))?
        } else {
            serde_json::Map::new()
        };
        if self.at != self.bytes.len() {
            return Err("trailing bytes".into());
        }
        Ok(Record {
            source,
            source_type,
            record_kind,
            id,
            name,
            pattern,
            pattern_type,
            score,
            confidence,
            labels,
            markings,
            valid_from,
            valid_until,
            revoked: has(REVOKED),
            detection: has(HAS_DETECTION).then_some(has(DETECTION)),
            created_by,
            link,
            updated_at,
            partial: has(PARTIAL),
            related,
            extra,
        })
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.at).ok_or("truncated")?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let s = self.bytes.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn interned(&self, id: u64) -> Result<&'a str, String> {
        u32::try_from(id)
            .ok()
            .and_then(|id| self.strings.get(id))
            .ok_or_else(|| format!("string {id} missing from the string table"))
    }

    fn string(&mut self) -> Result<String, String> {
        let head = self.varint()?;
        let n = head >> 2;
        match head & 3 {
            STR_INLINE => {
                let b = self.take(n as usize)?;
                String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8".into())
            }
            STR_INTERNED => Ok(self.interned(n)?.to_string()),
            STR_UUID => {
                let prefix = self.interned(n)?;
                let u = self.take(16)?;
                let mut s = String::with_capacity(prefix.len() + 36);
                s.push_str(prefix);
                for (i, &b) in u.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        s.push('-');
                    }
                    push_hex(&mut s, b);
                }
                Ok(s)
            }
            _ => {
                let b = self.take(n as usize)?;
                let mut s = String::with_capacity(b.len() * 2);
                for &x in b {
                    push_hex(&mut s, x);
                }
                Ok(s)
            }
        }
    }

    fn opt_string(&mut self, present: bool) -> Result<Option<String>, String> {
        present.then(|| self.string()).transpose()
    }

    fn opt_int(&mut self, present: bool) -> Result<Option<i64>, String> {
        present.then(|| self.varint().map(unzigzag)).transpose()
    }

    fn list(&mut self, present: bool) -> Result<Vec<String>, String> {
        if !present {
            return Ok(Vec::new());
        }
        let n = self.varint()? as usize;
        if n > self.bytes.len() {
            return Err("list length out of bounds".into());
        }
        (0..n).map(|_| self.string()).collect()
    }

    fn pattern(&mut self, name: &str) -> Result<String, String> {
        match u64::from(self.byte()?) {
            PATTERN_TEXT => self.string(),
            PATTERN_AROUND_NAME => {
                let prefix = self.string()?;
                let suffix = self.string()?;
                Ok(prefix + name + &suffix)
            }
            t => Err(format!("pattern encoding {t}")),
        }
    }

    fn opt_time(&mut self, present: bool) -> Result<Option<String>, String> {
        if !present {
            return Ok(None);
        }
        let tag = self.varint()?;
        let (dt, format) = match tag {
            TIME_TEXT => return self.string().map(Some),
            TIME_SECS => (
                DateTime::<Utc>::from_timestamp(unzigzag(self.varint()?), 0),
                SecondsFormat::Secs,
            ),
            TIME_MILLIS => (
                DateTime::<Utc>::from_timestamp_millis(unzigzag(self.varint()?)),
                SecondsFormat::Millis,
            ),
            t => return Err(format!("time encoding {t}")),
        };
        let dt = dt.ok_or("time out of range")?;
        Ok(Some(dt.to_rfc3339_opts(format, true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: &Record) -> (Record, usize) {
        let mut strings = StringTableWriter::default();
        let mut out = Vec::new();
        Encoder {
            strings: &mut strings,
            times: &mut TimeCache::default(),
            out: &mut out,
        }
        .record(r)
        .unwrap();
        let table = strings.to_bytes();
        let back = Decoder::new(&out, Strings::new(&table).unwrap())
            .record()
            .unwrap();
        (back, out.len())
    }

    #[test]
    fn full_record_round_trips_exactly() {
        let mut extra = serde_json::Map::new();
        extra.insert("event".into(), serde_json::json!({"id": 7, "info": "x"}));
        let r = Record {
            source: "opencti".into(),
            source_type: "opencti".into(),
            record_kind: RecordKind::Attribute,
            id: "indicator--0b8e4c3a-1f2d-4e5f-9a6b-7c8d9e0f1a2b".into(),
            name: "evil.example".into(),
            pattern: Some("[domain-name:value = 'evil.example']".into()),
            pattern_type: Some("stix".into()),
            score: Some(-3),
            confidence: Some(100),
            labels: vec!["c2".into(), "phishing".into()],
            markings: vec!["TLP:AMBER".into()],
            valid_from: Some("2024-05-01T10:00:00.123Z".into()),
            valid_until: Some("2099-01-01T00:00:00Z".into()),
            revoked: true,
            detection: Some(false),
            created_by: Some("ACME CERT".into()),
            link: Some(
                "https://cti.example/dashboard/observations/indicators/0b8e4c3a-1f2d-4e5f-9a6b-7c8d9e0f1a2b"
                    .into(),
            ),
            updated_at: Some("2024-05-01T10:00:00+02:00".into()),
            partial: true,
            related: Some(Related {
                relationship: "resolves-to".into(),
                via: "198.51.100.7".into(),
            }),
            extra,
        };
        let (back, len) = round_trip(&r);
        assert_eq!(back, r);
        let json = serde_json::to_vec(&r).unwrap().len();
        assert!(len * 3 < json, "binary {len} bytes vs JSON {json}");
    }

    #[test]
    fn odd_values_fall_back_to_text_and_still_round_trip() {
        let r = Record {
            // Upper-case UUID and hex are not canonical: kept as text.
            id: "0B8E4C3A-1F2D-4E5F-9A6B-7C8D9E0F1A2B".into(),
            name: "D41D8CD98F00B204E9800998ECF8427E".into(),
            // The pattern does not contain the name.
            pattern: Some("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']".into()),
            valid_from: Some("2024-05-01 10:00:00Z".into()),
            valid_until: Some("not a time".into()),
            detection: Some(true),
            labels: vec!["x".repeat(500)],
            ..Record::default()
        };
        assert_eq!(round_trip(&r).0, r);
        let hashy = Record {
            id: "d41d8cd98f00b204e9800998ecf8427e".into(),
            name: String::new(),
            pattern: Some("[x]".into()),
            ..Record::default()
        };
        assert_eq!(round_trip(&hashy).0, hashy);
        assert_eq!(round_trip(&Record::default()).0, Record::default());
    }

    #[test]
    fn cached_times_agree_with_chrono() {
        let mut c = TimeCache::default();
        for t in [
            "2099-01-01T00:00:00Z",
            "2099-01-01T00:00:00Z",
            "1969-12-31T23:59:59.500Z",
            "2024-05-01T10:00:00+02:00",
            "garbage",
        ] {
            let want = DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp());
            assert_eq!(c.unix_secs(t), want, "{t}");
        }
    }

    #[test]
    fn damaged_bodies_are_errors_not_panics() {
        let mut strings = StringTableWriter::default();
        let mut out = Vec::new();
        let r = Record {
            source: "s".into(),
            name: "n".into(),
            labels: vec!["a".into()],
            ..Record::default()
        };
        Encoder {
            strings: &mut strings,
            times: &mut TimeCache::default(),
            out: &mut out,
        }
        .record(&r)
        .unwrap();
        let table = strings.to_bytes();
        for cut in 0..out.len() {
            assert!(Decoder::new(&out[..cut], Strings::new(&table).unwrap())
                .record()
                .is_err());
        }
        // Without the string table the interned source cannot be resolved.
        let err = Decoder::new(&out, Strings::default()).record().unwrap_err();
        assert!(err.contains("string table"), "{err}");
    }
}
