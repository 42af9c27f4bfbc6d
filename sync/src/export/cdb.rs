//! The CDB list text format as analysisd reads it (`Lists_OP_MakeCDB` in
//! `src/analysisd/lists_make.c`) and looks it up (`lists_list.c`).
//!
//! Writing: one `key:value` line each. A key containing `:` is quoted
//! (`"2001:db8::1":v`); a key containing `"` cannot be written at all (the
//! quoted key ends at the next `"`, and an unquoted one containing `"` is
//! taken for a quoted one). Values never carry `:` or `"`, so that the
//! Wazuh API validator accepts them too and nothing is read back differently.
//!
//! Reading ([`parse_list`], [`List`]) reproduces analysisd byte for byte, so
//! that tests check what analysisd would store, not what we meant to write.

use std::collections::HashMap;

/// `OS_MAXSTR` in analysisd.
const OS_MAXSTR: usize = 65536;
/// `fgets(str, OS_MAXSTR - 1, fd)` reads at most this many bytes per call;
/// a longer line is split into several "lines".
const FGETS_MAX: usize = OS_MAXSTR - 2;
/// Longest line content (without its `\n`) that one `fgets` call reads whole.
pub const MAX_LINE: usize = FGETS_MAX - 1;

/// Why a key cannot be written as a CDB line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrepresentable {
    Empty,
    /// `"` ends a quoted key early and turns an unquoted one into a quoted one.
    Quote,
    /// analysisd cuts lines at `\r`/`\n` and keys at NUL.
    LineBreakOrNul,
    /// Longer than one `fgets` read: the line would be split.
    TooLong,
}

impl Unrepresentable {
    pub fn reason(self) -> &'static str {
        match self {
            Unrepresentable::Empty => "empty key",
            Unrepresentable::Quote => "key contains a double quote, which a CDB line cannot carry",
            Unrepresentable::LineBreakOrNul => {
                "key contains a line break or NUL, which a CDB line cannot carry"
            }
            Unrepresentable::TooLong => {
                "line longer than analysisd reads in one piece (65533 bytes)"
            }
        }
    }
}

/// Checks that `key` can be written; `value_len` is the longest value it may
/// be written with.
pub fn check_key(key: &str, value_len: usize) -> Result<(), Unrepresentable> {
    if key.is_empty() {
        return Err(Unrepresentable::Empty);
    }
    if key.contains('"') {
        return Err(Unrepresentable::Quote);
    }
    if key.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Unrepresentable::LineBreakOrNul);
    }
    // Two quotes and the separator at most.
    if key.len() + 3 + value_len > MAX_LINE {
        return Err(Unrepresentable::TooLong);
    }
    Ok(())
}

/// Makes `text` safe as (part of) a value: `:`, `"`, control characters and
/// the characters in `also` become `_`.
pub fn clean_value(text: &str, also: &[char]) -> String {
    text.chars()
        .map(|c| {
            if c == ':' || c == '"' || c.is_control() || also.contains(&c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Appends the line for `key` and `value` (with its `\n`) to `out`. The key
/// must have passed [`check_key`] and the value come from [`clean_value`].
pub fn write_line(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    debug_assert!(!value
        .iter()
        .any(|&b| matches!(b, b':' | b'"' | b'\r' | b'\n' | 0)));
    if key.contains(&b':') {
        out.push(b'"');
        out.extend_from_slice(key);
        out.push(b'"');
    } else {
        out.extend_from_slice(key);
    }
    out.push(b':');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The records analysisd stores for a list file, in file order, parsed
/// exactly as `Lists_OP_MakeCDB` does (including its quirks: text before an
/// opening quote is dropped, a line without `:` or with an unclosed quote is
/// skipped silently, there is no comment syntax and no trimming).
pub fn parse_list(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let take = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1)
            .min(FGETS_MAX);
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        if let Some(record) = parse_line(chunk) {
            out.push(record);
        }
    }
    out
}

/// One `fgets` buffer → the record analysisd adds, if any.
fn parse_line(raw: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    // The C code works on a NUL-terminated string.
    let mut s = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
    if let Some(p) = s.iter().position(|&b| b == b'\r') {
        s = &s[..p];
    }
    if let Some(p) = s.iter().position(|&b| b == b'\n') {
        s = &s[..p];
    }
    let find = |from: usize, c: u8| s[from..].iter().position(|&b| b == c).map(|p| from + p);

    // A `"` before the first `:` starts a quoted key.
    let mut quoted_key = None;
    if let (Some(q), Some(colon)) = (find(0, b'"'), find(0, b':')) {
        if colon > q {
            let close = find(q + 1, b'"')?;
            quoted_key = Some((q + 1, close));
        }
    }
    let value_from = quoted_key.map_or(0, |(_, close)| close + 1);
    let colon = find(value_from, b':')?;
    let key = match quoted_key {
        Some((a, b)) => &s[a..b],
        None => &s[..colon],
    };
    let mut value = &s[colon + 1..];
    if let Some(q) = value.iter().position(|&b| b == b'"') {
        let inner = &value[q + 1..];
        let close = inner.iter().position(|&b| b == b'"')?;
        value = &inner[..close];
    }
    Some((key.to_vec(), value.to_vec()))
}

/// A compiled list as analysisd queries it: duplicate keys are all stored and
/// a lookup returns the first.
#[derive(Debug, Default)]
pub struct List {
    first: HashMap<Vec<u8>, Vec<u8>>,
}

impl List {
    pub fn parse(data: &[u8]) -> List {
        let mut first = HashMap::new();
        for (k, v) in parse_list(data) {
            first.entry(k).or_insert(v);
        }
        List { first }
    }

    /// `lookup="match_key"`: the value stored under exactly `key`.
    pub fn match_key(&self, key: &[u8]) -> Option<&[u8]> {
        self.first.get(key).map(Vec::as_slice)
    }

    /// `lookup="address_match_key"` (`OS_DBSearchKeyAddress`): the exact key,
    /// else every prefix of it that ends with `.`, longest first.
    pub fn address_match_key(&self, key: &[u8]) -> Option<&[u8]> {
        if let Some(v) = self.match_key(key) {
            return Some(v);
        }
        (1..=key.len())
            .rev()
            .filter(|&n| key[n - 1] == b'.')
            .find_map(|n| self.match_key(&key[..n]))
    }

    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(key: &str, value: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_line(&mut out, key.as_bytes(), value.as_bytes());
        out
    }

    #[test]
    fn analysisd_quirks() {
        let text = b"a:b\n\"k:1\":v\nx:\"quoted\"\nnovalue\n\"bad:1\nkey:\r\n# c: d\nz\"q\"w:v:x\n \" s \" :y\n";
        let got = parse_list(text);
        let want: Vec<(&[u8], &[u8])> = vec![
            (b"a", b"b"),
            (b"k:1", b"v"),
            (b"x", b"quoted"),
            (b"key", b""),
            (b"# c", b" d"),
            // Text before the opening quote and after the closing one is dropped.
            (b"q", b"v:x"),
            (b" s ", b"y"),
        ];
        let got: Vec<(&[u8], &[u8])> = got
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn written_lines_read_back_exactly() {
        let cases = [
            ("198.51.100.7", "source=feed score=80"),
            ("203.0.113.", "source=a,b net=203.0.113.0/24"),
            ("2001:db8::1", "source=v6"),
            ("::ffff:192.0.2.1", ""),
            ("http://evil.example:8080/a?b=c#d", "x y z"),
            ("évil.example", "ünïcode value; with = and ,"),
            ("a b", " leading and trailing "),
            ("'single'", "back\\slash"),
        ];
        for (key, value) in cases {
            check_key(key, value.len()).unwrap();
            let bytes = line(key, value);
            assert_eq!(
                parse_list(&bytes),
                [(key.as_bytes().to_vec(), value.as_bytes().to_vec())],
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn unrepresentable_keys_are_refused() {
        assert_eq!(check_key("", 0), Err(Unrepresentable::Empty));
        assert_eq!(check_key("a\"b", 0), Err(Unrepresentable::Quote));
        assert_eq!(check_key("a:\"b", 0), Err(Unrepresentable::Quote));
        assert_eq!(check_key("a\rb", 0), Err(Unrepresentable::LineBreakOrNul));
        assert_eq!(check_key("a\0b", 0), Err(Unrepresentable::LineBreakOrNul));
        let long = "a".repeat(MAX_LINE);
        assert_eq!(check_key(&long, 0), Err(Unrepresentable::TooLong));
        let fits = "a:".repeat((MAX_LINE - 3) / 2);
        check_key(&fits, 0).unwrap();
        let bytes = line(&fits, "");
        assert_eq!(bytes.len(), fits.len() + 4);
        assert_eq!(parse_list(&bytes), [(fits.into_bytes(), Vec::new())]);
    }

    #[test]
    fn long_lines_are_split_like_fgets() {
        let mut text = vec![b'k'; FGETS_MAX];
        text.extend_from_slice(b":v\n");
        // The first read has no `:`; the rest is a line of its own.
        assert_eq!(parse_list(&text), [(Vec::new(), b"v".to_vec())]);
    }

    #[test]
    fn clean_values_have_no_separator_or_quote() {
        assert_eq!(clean_value("a:b\"c\nd,e f", &[',']), "a_b_c_d_e f");
    }

    #[test]
    fn address_lookup_tries_dot_prefixes() {
        let list = List::parse(b"10.:net8\n192.168.:net16\n172.16.19.:net24\n198.51.100.7:one\n");
        assert_eq!(list.address_match_key(b"10.1.2.3"), Some(&b"net8"[..]));
        assert_eq!(list.address_match_key(b"192.168.44.1"), Some(&b"net16"[..]));
        assert_eq!(
            list.address_match_key(b"172.16.19.200"),
            Some(&b"net24"[..])
        );
        assert_eq!(list.address_match_key(b"172.16.1.200"), None);
        assert_eq!(list.address_match_key(b"198.51.100.7"), Some(&b"one"[..]));
        assert_eq!(list.address_match_key(b"198.51.100.70"), None);
        // match_key is exact only.
        assert_eq!(list.match_key(b"10.1.2.3"), None);
    }
}
