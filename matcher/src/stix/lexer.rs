//! Tokeniser for STIX patterns.
//!
//! Words (identifiers and keywords alike) come out as [`Tok::Word`]; the parser
//! decides from context whether a word is a keyword, so a property may be named
//! like one. Literals are decoded and validated here, so every literal error
//! points at the literal's first byte.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{snippet, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    /// `[A-Za-z_][A-Za-z0-9_-]*`: an identifier or a keyword.
    Word(&'a str),
    Str(String),
    Int(i64),
    Float(f64),
    Hex(Vec<u8>),
    Binary(Vec<u8>),
    /// The text between the quotes of `t'...'`, not yet validated.
    Timestamp(String),
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok<'_> {
    /// How the token is named in "found ..." messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{}`", snippet(w)),
            Tok::Str(s) => format!("string '{}'", snippet(s)),
            Tok::Int(n) => format!("integer {n}"),
            Tok::Float(x) => format!("float {x}"),
            Tok::Hex(_) => "hex literal".to_string(),
            Tok::Binary(_) => "binary literal".to_string(),
            Tok::Timestamp(t) => format!("timestamp t'{}'", snippet(t)),
            Tok::LBrack => "`[`".to_string(),
            Tok::RBrack => "`]`".to_string(),
            Tok::LParen => "`(`".to_string(),
            Tok::RParen => "`)`".to_string(),
            Tok::Colon => "`:`".to_string(),
            Tok::Dot => "`.`".to_string(),
            Tok::Comma => "`,`".to_string(),
            Tok::Star => "`*`".to_string(),
            Tok::Eq => "`=`".to_string(),
            Tok::Ne => "`!=`".to_string(),
            Tok::Lt => "`<`".to_string(),
            Tok::Le => "`<=`".to_string(),
            Tok::Gt => "`>`".to_string(),
            Tok::Ge => "`>=`".to_string(),
            Tok::Eof => "end of pattern".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset of the token's first character.
    pub offset: usize,
}

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        offset,
        message: message.into(),
    }
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        // Whitespace: the grammar's set is exactly Unicode White_Space.
        if !b.is_ascii() {
            let c = src[i..].chars().next().unwrap_or('\u{fffd}');
            if c.is_whitespace() {
                i += c.len_utf8();
                continue;
            }
            return Err(err(
                i,
                format!("unexpected character `{}`", c.escape_debug()),
            ));
        }
        if b.is_ascii_whitespace() || b == 0x0b {
            i += 1;
            continue;
        }
        let simple = match b {
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            b'*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(tok) = simple {
            tokens.push(Token { tok, offset: start });
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let tok = match b {
            b'/' if next == Some(b'*') => {
                match src[i + 2..].find("*/") {
                    Some(end) => i += 2 + end + 2,
                    None => return Err(err(start, "unterminated comment `/*`")),
                }
                continue;
            }
            b'/' if next == Some(b'/') => {
                i = src[i..]
                    .find(['\r', '\n'])
                    .map_or(bytes.len(), |end| i + end);
                continue;
            }
            b'=' => {
                i += if next == Some(b'=') { 2 } else { 1 };
                Tok::Eq
            }
            b'!' if next == Some(b'=') => {
                i += 2;
                Tok::Ne
            }
            b'<' => match next {
                Some(b'=') => {
                    i += 2;
                    Tok::Le
                }
                Some(b'>') => {
                    i += 2;
                    Tok::Ne
                }
                _ => {
                    i += 1;
                    Tok::Lt
                }
            },
            b'>' => {
                if next == Some(b'=') {
                    i += 2;
                    Tok::Ge
                } else {
                    i += 1;
                    Tok::Gt
                }
            }
            b'\'' => {
                let (s, end) = lex_string(src, i)?;
                i = end;
                Tok::Str(s)
            }
            b'.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                let (tok, end) = lex_number(src, i)?;
                i = end;
                tok
            }
            b'.' => {
                i += 1;
                Tok::Dot
            }
            b'0'..=b'9' => {
                let (tok, end) = lex_number(src, i)?;
                i = end;
                tok
            }
            b'+' | b'-'
                if next.is_some_and(|n| n.is_ascii_digit())
                    || (next == Some(b'.')
                        && bytes.get(i + 2).is_some_and(|n| n.is_ascii_digit())) =>
            {
                let (tok, end) = lex_number(src, i)?;
                i = end;
                tok
            }
            b if is_word_start(b) => {
                let mut end = i + 1;
                while end < bytes.len() && is_word_char(bytes[end]) {
                    end += 1;
                }
                let word = &src[i..end];
                // `t'..'`, `h'..'` and `b'..'` are typed literals, not words.
                if bytes.get(end) == Some(&b'\'') && matches!(word, "t" | "h" | "b") {
                    let (body, after) = raw_quoted(src, end, word)?;
                    let tok = match word {
                        // Validated where it is used (parser.rs): a bad date
                        // in a comparison costs that comparison, not the pattern.
                        "t" => Tok::Timestamp(body.to_string()),
                        "h" => Tok::Hex(decode_hex(body).ok_or_else(|| {
                            err(
                                start,
                                format!(
                                    "invalid hex literal h'{}': expected pairs of hex digits",
                                    snippet(body)
                                ),
                            )
                        })?),
                        _ => Tok::Binary(base64_decode(body).ok_or_else(|| {
                            err(
                                start,
                                format!(
                                    "invalid binary literal b'{}': expected padded base64",
                                    snippet(body)
                                ),
                            )
                        })?),
                    };
                    i = after;
                    tok
                } else {
                    i = end;
                    Tok::Word(word)
                }
            }
            _ => {
                return Err(err(
                    start,
                    format!("unexpected character `{}`", (b as char).escape_debug()),
                ))
            }
        };
        tokens.push(Token { tok, offset: start });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        offset: bytes.len(),
    });
    Ok(tokens)
}

/// Lexes `'...'` starting at the quote; returns the unescaped text and the
/// offset just past the closing quote.
fn lex_string(src: &str, open: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((rel, c)) = chars.next() {
        match c {
            '\'' => return Ok((out, open + 1 + rel + 1)),
            '\\' => match chars.next() {
                Some((_, c @ ('\'' | '\\'))) => out.push(c),
                Some((_, other)) => {
                    return Err(err(
                        open + 1 + rel,
                        format!(
                            "invalid escape `\\{}` in string: only `\\'` and `\\\\` are allowed",
                            other.escape_debug()
                        ),
                    ))
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(err(open, "unterminated string literal"))
}

/// The body of a typed literal (`t'..'`, `h'..'`, `b'..'`), which has no escapes.
fn raw_quoted<'a>(
    src: &'a str,
    quote: usize,
    prefix: &str,
) -> Result<(&'a str, usize), ParseError> {
    match src[quote + 1..].find('\'') {
        Some(len) => Ok((&src[quote + 1..quote + 1 + len], quote + 1 + len + 1)),
        None => Err(err(
            quote - prefix.len(),
            format!("unterminated {prefix}'...' literal"),
        )),
    }
}

/// Lexes an integer or a float (optionally signed) starting at `start`.
fn lex_number(src: &str, start: usize) -> Result<(Tok<'static>, usize), ParseError> {
    let bytes = src.as_bytes();
    let mut i = start;
    if matches!(bytes[i], b'+' | b'-') {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &src[int_start..i];
    if bytes.get(i) == Some(&b'.') {
        if !bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit()) {
            return Err(err(i, "expected a digit after `.` in a number"));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let text = &src[start..i];
        return match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok((Tok::Float(x), i)),
            _ => Err(err(
                start,
                format!("float `{}` is out of range", snippet(text)),
            )),
        };
    }
    if int_digits.len() > 1 && int_digits.starts_with('0') {
        return Err(err(
            start,
            format!("integer `{}` has a leading zero", snippet(&src[start..i])),
        ));
    }
    let text = &src[start..i];
    match text.parse::<i64>() {
        Ok(n) => Ok((Tok::Int(n), i)),
        Err(_) => Err(err(
            start,
            format!("integer `{}` is out of range (64-bit)", snippet(text)),
        )),
    }
}

fn decode_hex(body: &str) -> Option<Vec<u8>> {
    let b = body.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u32> {
    B64.iter().position(|&x| x == c).map(|p| p as u32)
}

/// Decodes padded base64 as the grammar shapes it: whole quads, at least one,
/// `=` padding only at the end of the last quad.
pub(crate) fn base64_decode(body: &str) -> Option<Vec<u8>> {
    let b = body.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let quads = b.len() / 4;
    for (q, quad) in b.chunks(4).enumerate() {
        let last = q + 1 == quads;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &quad[..4 - pad] {
            acc = acc << 6 | b64_value(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Encodes bytes as padded base64 (for printing binary literals).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= (b as u32) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(acc >> (18 - 6 * i) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The message for a `t'...'` that [`parse_timestamp`] refuses.
pub(crate) fn invalid_timestamp(body: &str) -> String {
    format!(
        "invalid timestamp t'{}': expected YYYY-MM-DDTHH:MM:SS[.fraction]Z (RFC 3339, UTC)",
        snippet(body)
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`: RFC 3339 in UTC, with a real
/// calendar date and a leap second only at 23:59:60.
pub(crate) fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |acc, d| acc * 10 + (d - b'0') as u32))
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let rest = &s[19..s.len() - 1];
    let mut nanos = 0u32;
    if !rest.is_empty() {
        let frac = rest.strip_prefix('.')?;
        if frac.is_empty() || !frac.bytes().all(|d| d.is_ascii_digit()) {
            return None;
        }
        // Precision beyond nanoseconds is accepted and ignored.
        for (i, d) in frac.bytes().take(9).enumerate() {
            nanos += (d - b'0') as u32 * 10u32.pow(8 - i as u32);
        }
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = if second == 60 {
        if hour != 23 || minute != 59 {
            return None;
        }
        // chrono spells a leap second as 59 with an extra second of nanos.
        NaiveTime::from_hms_nano_opt(23, 59, 59, 1_000_000_000 + nanos)?
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?
    };
    Some(NaiveDateTime::new(date, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn lex_err(src: &str) -> ParseError {
        tokenize(src).unwrap_err()
    }

    #[test]
    fn simple_pattern() {
        assert_eq!(
            toks("[ipv4-addr:value = '198.51.100.1']"),
            vec![
                Tok::LBrack,
                Tok::Word("ipv4-addr"),
                Tok::Colon,
                Tok::Word("value"),
                Tok::Eq,
                Tok::Str("198.51.100.1".into()),
                Tok::RBrack,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators_and_their_spellings() {
        assert_eq!(
            toks("= == != <> < <= > >="),
            vec![
                Tok::Eq,
                Tok::Eq,
                Tok::Ne,
                Tok::Ne,
                Tok::Lt,
                Tok::Le,
                Tok::Gt,
                Tok::Ge,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn offsets_are_bytes() {
        let t = tokenize("  [a:b\u{3000}= 1]").unwrap();
        let offsets: Vec<usize> = t.iter().map(|t| t.offset).collect();
        // U+3000 is three bytes of whitespace.
        assert_eq!(offsets, vec![2, 3, 4, 5, 9, 11, 12, 13]);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(toks(r"'it\'s'")[0], Tok::Str("it's".into()));
        assert_eq!(toks(r"'C:\\Windows'")[0], Tok::Str(r"C:\Windows".into()));
        assert_eq!(toks("''")[0], Tok::Str(String::new()));
        assert_eq!(toks("'caf\u{e9}'")[0], Tok::Str("caf\u{e9}".into()));
        let e = lex_err(r"'a\nb'");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("invalid escape `\\n`"), "{e}");
        assert!(lex_err("'abc").message.contains("unterminated string"));
        assert!(lex_err(r"'abc\'").message.contains("unterminated string"));
        assert!(lex_err("'abc\\").message.contains("unterminated string"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("0 42 +7 -7 1.5 -0.25 .5 +.5"),
            vec![
                Tok::Int(0),
                Tok::Int(42),
                Tok::Int(7),
                Tok::Int(-7),
                Tok::Float(1.5),
                Tok::Float(-0.25),
                Tok::Float(0.5),
                Tok::Float(0.5),
                Tok::Eof
            ]
        );
        assert_eq!(toks("-9223372036854775808")[0], Tok::Int(i64::MIN));
        assert!(lex_err("9223372036854775808")
            .message
            .contains("out of range"));
        assert!(lex_err("007").message.contains("leading zero"));
        assert!(lex_err("1.").message.contains("digit after `.`"));
        let huge = format!("{}.0", "9".repeat(400));
        assert!(lex_err(&huge).message.contains("out of range"));
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            toks("[ /* note */ a // to the end\n ]"),
            vec![Tok::LBrack, Tok::Word("a"), Tok::RBrack, Tok::Eof]
        );
        assert!(lex_err("[a /* never closed")
            .message
            .contains("unterminated comment"));
    }

    #[test]
    fn typed_literals() {
        assert_eq!(toks("h'00ff'")[0], Tok::Hex(vec![0, 255]));
        assert_eq!(toks("h''")[0], Tok::Hex(vec![]));
        assert_eq!(toks("b'aGVsbG8='")[0], Tok::Binary(b"hello".to_vec()));
        assert_eq!(toks("b'aGk='")[0], Tok::Binary(b"hi".to_vec()));
        assert_eq!(toks("b'aA=='")[0], Tok::Binary(b"h".to_vec()));
        assert_eq!(
            toks("t'2020-01-01T00:00:00.123Z'")[0],
            Tok::Timestamp("2020-01-01T00:00:00.123Z".into())
        );
        // A word that merely ends in t/h/b is still a word.
        assert_eq!(toks("bath")[0], Tok::Word("bath"));
        assert!(lex_err("h'abc'").message.contains("invalid hex"));
        assert!(lex_err("h'zz'").message.contains("invalid hex"));
        assert!(lex_err("b''").message.contains("invalid binary"));
        assert!(lex_err("b'abc'").message.contains("invalid binary"));
        assert!(lex_err("b'a=bc'").message.contains("invalid binary"));
        assert_eq!(
            toks("b'ab=='x"),
            vec![Tok::Binary(vec![0x69]), Tok::Word("x"), Tok::Eof]
        );
        assert!(lex_err("b'a===' ").message.contains("invalid binary"));
        assert!(lex_err("t'2020-01-01")
            .message
            .contains("unterminated t'...'"));
    }

    #[test]
    fn base64_round_trips() {
        for len in 1..10 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = base64_encode(&data);
            assert_eq!(base64_decode(&enc), Some(data), "{enc}");
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2020-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-02-29T12:30:45.5Z",
            "1999-12-31T23:59:59.1234567891234Z",
        ] {
            assert!(parse_timestamp(ok).is_some(), "{ok}");
        }
        for bad in [
            "2020-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:60:00Z",
            "2020-01-01T12:00:60Z",
            "2020-01-01T00:00:00",
            "2020-01-01T00:00:00+01:00",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00.Z",
            "2020-1-01T00:00:00Z",
            "20x0-01-01T00:00:00Z",
            "",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
        assert!(
            parse_timestamp("2020-01-01T00:00:00.5Z") > parse_timestamp("2020-01-01T00:00:00Z")
        );
    }

    #[test]
    fn bad_characters() {
        let e = lex_err("[a:b ~ 1]");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("unexpected character `~`"));
        assert!(lex_err("!").message.contains("unexpected character `!`"));
        assert!(lex_err("\u{1}").message.contains("\\u{1}"));
        assert!(lex_err("\u{e9}").message.contains("unexpected character"));
        assert!(lex_err("-x").message.contains("unexpected character `-`"));
    }
}
