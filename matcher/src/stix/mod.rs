//! STIX 2.1 patterning: a parser for the whole grammar and a compiler from
//! patterns to match keys.
//!
//! [`parse`] reads any STIX 2.1 pattern into an [`ast::Pattern`]: observation
//! expressions combined with `AND`, `OR` and `FOLLOWEDBY` (that precedence,
//! tightest first), parentheses, the `WITHIN`, `REPEATS` and `START`/`STOP`
//! qualifiers, and inside brackets comparisons joined by `AND`/`OR` with every
//! operator (`=`, `!=`, `<`, `>`, `<=`, `>=`, `IN`, `LIKE`, `MATCHES`,
//! `ISSUBSET`, `ISSUPERSET`, `EXISTS`, each optionally negated with `NOT`) and
//! every literal type. Keywords are case-sensitive as in the 2.1 grammar.
//! Input is untrusted: patterns longer than [`MAX_PATTERN_LEN`] bytes or nested
//! deeper than [`MAX_DEPTH`] are rejected, and the parser never panics.
//!
//! [`compile`] turns a pattern into the [`MatchKey`]s an indicator is indexed
//! under. A value that satisfies one leaf may not satisfy the whole pattern, so
//! every key comes with the [`Compiled::partial`] flag: only a single
//! comparison in a single unqualified observation is a full match. Leaves that
//! cannot become keys are listed in [`Compiled::skipped`]; `MATCHES` leaves are
//! kept aside as [`RegexLeaf`]s.
//!
//! What becomes a key (object path → kind):
//!
//! | object path | kind |
//! |---|---|
//! | `ipv4-addr:value`, `ipv6-addr:value` | ipv4 / ipv6 (a network is a CIDR key) |
//! | `network-traffic:src_ref.value`, `dst_ref.value` | ip, or domain when the literal is not an address |
//! | `domain-name:value`, `hostname:value`, `x-opencti-hostname:value` | domain |
//! | `url:value` | url |
//! | `email-addr:value`, `email-message:from_ref.value`, `sender_ref.value`, `to_refs[*].value`, `cc_refs[*].value`, `bcc_refs[*].value` | email |
//! | `file:hashes.X`, `artifact:hashes.X` | md5, sha1, sha256, sha512, imphash by algorithm, else hash |
//! | `file:extensions.'windows-pebinary-ext'.imphash` | imphash |
//! | `x509-certificate:hashes.X` | hash |
//! | `file:name` | filename |
//! | `windows-registry-key:key` | regkey |
//! | `mutex:name` | mutex |
//! | `user-agent:value`, `x-opencti-user-agent:value`, `network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'` | user_agent |
//!
//! And by operator: `=` and each `IN` member give an exact key (through
//! [`crate::normalize::normalize`]); `ISSUBSET` on an IP path gives a CIDR key;
//! `LIKE '%x%'` a substring key, `LIKE 'x%'` a prefix key, `LIKE` without
//! wildcards an exact key; everything else is skipped with a reason. An IP
//! value that normalises to `addr/len` is a CIDR key whatever the operator.
//!
//! Where the parser is stricter than the ANTLR grammar, on purpose:
//! object types must be lowercase letters, digits and `-` starting with a
//! letter (the STIX naming rule); integers must fit in 64 bits; a leap second
//! is accepted only at 23:59:60; `WITHIN`/`REPEATS` must be positive and
//! `STOP` later than `START`. Property names with `-` must be quoted
//! (`hashes.'SHA-256'`), as in the grammar. Whether the comparisons of one
//! observation name the same object type is not checked.

pub mod ast;
mod compile;
mod lexer;
mod parser;

use serde::{Deserialize, Serialize};

use crate::key::MatchKey;
use crate::kind::Kind;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 256 * 1024;

/// Deepest nesting of `(` and `[` accepted.
pub const MAX_DEPTH: usize = 64;

/// A syntax error, located by byte offset in the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {offset}: {message}")]
pub struct ParseError {
    /// Byte offset of the offending token or character.
    pub offset: usize,
    /// One line, without the offset.
    pub message: String,
}

/// Why a pattern yields no keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern does not parse.
    #[error("invalid STIX pattern: {0}")]
    Invalid(#[from] ParseError),
    /// The pattern parses but no comparison in it can be indexed; the text
    /// lists the reasons, `; `-separated.
    #[error("unsupported STIX pattern: {0}")]
    Unsupported(String),
}

/// A `MATCHES` comparison, recorded for a regex matcher rather than indexed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegexLeaf {
    /// The kind of the path when it is a matchable one (`None` for other
    /// paths and for `network-traffic` refs, which may be an IP or a domain).
    pub kind: Option<Kind>,
    /// The object path as printed by [`ast::ObjectPath`]'s `Display`.
    pub path: String,
    /// The regular expression, unescaped from the pattern literal.
    pub regex: String,
}

/// The result of compiling one pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Compiled {
    /// Keys of every indexable leaf, deduplicated, in the order their leaves
    /// appear in the pattern.
    pub keys: Vec<MatchKey>,
    /// True when some key is only a part of the pattern: under `AND` or
    /// `FOLLOWEDBY`, or a qualifier one observation cannot satisfy. A key
    /// under `OR` satisfies the pattern alone.
    pub partial: bool,
    /// `MATCHES` leaves, in pattern order, deduplicated.
    pub regexes: Vec<RegexLeaf>,
    /// One reason per leaf (or `IN` member) that produced no key, in pattern
    /// order, identical reasons given once.
    pub skipped: Vec<String>,
}

/// Parses a STIX 2.1 pattern.
pub fn parse(pattern: &str) -> Result<ast::Pattern, ParseError> {
    parser::parse_pattern(pattern)
}

/// Parses and compiles a pattern to match keys.
///
/// Fails with [`PatternError::Invalid`] when it does not parse and with
/// [`PatternError::Unsupported`] when it parses but yields no key.
pub fn compile(pattern: &str) -> Result<Compiled, PatternError> {
    compile_pattern(&parse(pattern)?)
}

/// Compiles an already parsed pattern (see [`compile`]).
pub fn compile_pattern(pattern: &ast::Pattern) -> Result<Compiled, PatternError> {
    compile::compile(pattern)
}

/// Text from a pattern made safe for a one-line message: control characters
/// escaped, long text cut.
pub(crate) fn snippet(s: &str) -> String {
    one_line(s, 100)
}

/// `s` for a one-line message: control characters escaped, cut after
/// `max_chars` characters with `…`. Feed text quoted in errors and reports.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_on_one_line() {
        let e = parse("[a:b = 'x'\n\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("at offset 12: "), "{text}");
        assert!(!text.contains('\n'));
        let e = compile("[a:b = 'x\ny']").unwrap_err();
        assert!(matches!(e, PatternError::Unsupported(_)));
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = compile("[a:b = 'x").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid STIX pattern: at offset 7: "),
            "{e}"
        );
    }

    #[test]
    fn snippets_are_short_and_safe() {
        assert_eq!(snippet("a\nb\tc"), "a\\nb\\tc");
        let long = "x".repeat(500);
        assert_eq!(snippet(&long).chars().count(), 101);
    }
}
