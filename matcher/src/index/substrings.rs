//! Substring and prefix indicators (STIX `LIKE '%x%'` / `LIKE 'x%'`).
//!
//! aho-corasick automata cannot be saved to disk, and building one for many
//! patterns costs far more than a process start (reference: 1M patterns take
//! 22 s). Substring indicators are rare, so the generation stores them as a
//! plain list and the reader picks the cheapest scanner for the set it has:
//! per-pattern `memmem` for small sets (no build cost at all), and an
//! aho-corasick automaton built once, on first use, for larger ones (the
//! resident `watch` mode pays that once for its whole life).

use std::io::{self, Write};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::key::KeyMethod;
use crate::kind::Kind;

const MAGIC: &[u8; 8] = b"IMSUBS01";
/// Up to this many patterns, scanning with `memmem` per pattern beats building an automaton.
pub const MEMMEM_MAX: usize = 64;

/// One stored pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub kind: Kind,
    /// [`KeyMethod::Substring`] or [`KeyMethod::Prefix`].
    pub method: KeyMethod,
    /// Lowercase.
    pub text: String,
    pub posting: u64,
}

/// Writes the pattern list. `entries` must be deduplicated by (kind, method, text).
pub fn write<W: Write>(out: &mut W, entries: &[(Kind, KeyMethod, String, u64)]) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&(entries.len() as u32).to_le_bytes())?;
    for (kind, method, text, posting) in entries {
        out.write_all(&[kind.tag(), u8::from(*method == KeyMethod::Prefix)])?;
        out.write_all(&(text.len() as u32).to_le_bytes())?;
        out.write_all(&posting.to_le_bytes())?;
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("substring set is corrupt: {0}")]
pub struct Corrupt(pub &'static str);

/// The pattern list plus a lazily built scanner. It copies the (few) patterns
/// out of the mapping so that it can live next to it.
#[derive(Debug, Default)]
pub struct SubstringSet {
    patterns: Vec<Pattern>,
    /// Indices (into `patterns`) of the substring (not prefix) patterns.
    substrings: Vec<u32>,
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl SubstringSet {
    /// Parses the list; O(number of patterns), which the compiler keeps small.
    pub fn open(bytes: &[u8]) -> Result<SubstringSet, Corrupt> {
        if bytes.is_empty() {
            return Ok(SubstringSet::default());
        }
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(Corrupt("bad magic"));
        }
        let n = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let mut at = 12;
        let mut patterns = Vec::with_capacity(n.min(1 << 20));
        let mut substrings = Vec::new();
        for i in 0..n {
            let head = bytes.get(at..at + 14).ok_or(Corrupt("truncated entry"))?;
            let kind = Kind::from_tag(head[0]).ok_or(Corrupt("unknown kind tag"))?;
            let method = if head[1] == 1 {
                KeyMethod::Prefix
            } else {
                KeyMethod::Substring
            };
            let len = u32::from_le_bytes(head[2..6].try_into().unwrap()) as usize;
            let posting = u64::from_le_bytes(head[6..14].try_into().unwrap());
            let text = bytes
                .get(at + 14..at + 14 + len)
                .ok_or(Corrupt("truncated pattern"))?;
            let text = std::str::from_utf8(text).map_err(|_| Corrupt("pattern is not UTF-8"))?;
            at += 14 + len;
            if method == KeyMethod::Substring {
                substrings.push(i as u32);
            }
            patterns.push(Pattern {
                kind,
                method,
                text: text.to_string(),
                posting,
            });
        }
        Ok(SubstringSet {
            patterns,
            substrings,
            automaton: OnceLock::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Prefix patterns of `kind` that `value` (lowercase) starts with.
    pub fn prefixes<'s>(&'s self, kind: Kind, value: &str, out: &mut Vec<&'s Pattern>) {
        for p in &self.patterns {
            if p.method == KeyMethod::Prefix && p.kind == kind && value.starts_with(p.text.as_str())
            {
                out.push(p);
            }
        }
    }

    /// Substring patterns occurring in `text` (lowercase). With `kind`, only
    /// patterns of that kind; without, every pattern (free text).
    pub fn scan<'s>(&'s self, text: &str, kind: Option<Kind>, out: &mut Vec<&'s Pattern>) {
        if self.substrings.is_empty() || text.is_empty() {
            return;
        }
        let want = |p: &Pattern| kind.is_none_or(|k| p.kind == k);
        if self.substrings.len() <= MEMMEM_MAX {
            for &i in &self.substrings {
                let p = &self.patterns[i as usize];
                if want(p) && memchr::memmem::find(text.as_bytes(), p.text.as_bytes()).is_some() {
                    out.push(p);
                }
            }
            return;
        }
        let Some(ac) = self.automaton() else {
            return;
        };
        let mut seen = Vec::new();
        for m in ac.find_overlapping_iter(text) {
            let i = m.pattern().as_usize();
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            let p = &self.patterns[self.substrings[i] as usize];
            if want(p) {
                out.push(p);
            }
        }
    }

    fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                let texts = self
                    .substrings
                    .iter()
                    .map(|&i| self.patterns[i as usize].text.as_str());
                AhoCorasickBuilder::new()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::Standard)
                    .build(texts)
                    .ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_bytes(n: usize) -> Vec<u8> {
        let mut entries = vec![
            (Kind::Url, KeyMethod::Substring, "evil-path".to_string(), 1),
            (
                Kind::Url,
                KeyMethod::Prefix,
                "http://bad.example/".to_string(),
                2,
            ),
            (Kind::Domain, KeyMethod::Substring, "phish".to_string(), 3),
        ];
        for i in 0..n {
            entries.push((
                Kind::Url,
                KeyMethod::Substring,
                format!("filler-{i:05}-x"),
                10 + i as u64,
            ));
        }
        let mut out = Vec::new();
        write(&mut out, &entries).unwrap();
        out
    }

    fn check(n: usize) {
        let bytes = set_bytes(n);
        let set = SubstringSet::open(&bytes).unwrap();
        assert_eq!(set.len(), n + 3);
        let mut out = Vec::new();
        set.scan("cmd /c curl http://x.test/evil-path/phish", None, &mut out);
        let mut got: Vec<u64> = out.iter().map(|p| p.posting).collect();
        got.sort();
        assert_eq!(got, [1, 3]);
        out.clear();
        set.scan("http://x.test/evil-path/phish", Some(Kind::Url), &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        set.prefixes(Kind::Url, "http://bad.example/a/b", &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        set.scan("nothing here filler-00003-x", None, &mut out);
        assert_eq!(out.len(), usize::from(n > 3));
    }

    #[test]
    fn small_sets_use_memmem() {
        check(0);
        check(10);
    }

    #[test]
    fn large_sets_use_an_automaton_with_the_same_answers() {
        check(MEMMEM_MAX * 3);
    }

    #[test]
    fn corrupt_sets_are_errors() {
        let mut bytes = set_bytes(2);
        bytes.truncate(bytes.len() - 3);
        assert!(SubstringSet::open(&bytes).is_err());
        assert!(SubstringSet::open(b"IMSUBS0").is_err());
    }
}
