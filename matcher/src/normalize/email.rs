//! E-mail addresses.

use std::borrow::Cow;

use super::domain::canonical_name;
use super::refang::refang;
use super::Invalid;
use crate::kind::Kind;

const MAX_LOCAL: usize = 64;

/// Normalises an e-mail address: trim, refang (`[at]`, `(at)`, `[@]`, `[.]`),
/// optional `mailto:` and `<…>` dropped, spelled-out forms joined
/// (`john at evil dot example`, `john [at] evil [dot] example`), lowercased,
/// split at the last `@`; the local part is 1..=64 bytes of RFC 5322 atoms and
/// dots (or non-ASCII letters), the domain part follows [`super::domain`] (punycode).
pub fn email(raw: &str) -> Result<String, Invalid> {
    let err = |reason: String| Invalid::new(Kind::Email, raw, reason);
    let mut s = raw.trim();
    if s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        s = s[7..].trim_start();
    }
    if let Some(inner) = s.strip_prefix('<').and_then(|i| i.strip_suffix('>')) {
        s = inner.trim();
    }
    let refanged = refang(s);
    let s = refanged.trim();
    if s.is_empty() {
        return Err(err("empty value".into()));
    }
    let joined: Cow<'_, str> = if s.contains(char::is_whitespace) {
        match spelled_out(s) {
            Some(j) => Cow::Owned(j),
            None => return Err(err("contains whitespace".into())),
        }
    } else {
        Cow::Borrowed(s)
    };

    let Some(at) = joined.rfind('@') else {
        return Err(err("no `@`".into()));
    };
    let (local, domain) = (&joined[..at], &joined[at + 1..]);
    if local.is_empty() {
        return Err(err("empty local part".into()));
    }
    if local.len() > MAX_LOCAL {
        return Err(err(format!(
            "local part is {} bytes long (at most {MAX_LOCAL})",
            local.len()
        )));
    }
    if let Some(c) = local.chars().find(|&c| !is_local_char(c)) {
        return Err(err(format!(
            "character `{}` is not allowed in the local part",
            c.escape_debug()
        )));
    }
    let domain = canonical_name(domain, false).map_err(|r| err(format!("domain part: {r}")))?;
    let mut out = local.to_lowercase();
    out.push('@');
    out.push_str(&domain);
    Ok(out)
}

/// RFC 5322 `atext` and `.`, plus any non-ASCII letter (RFC 6531). Quoted local
/// parts (`"a b"@x`) are not accepted: they do not occur in intel, and `:` or
/// spaces in a local part would only let defanged text through unrefanged.
fn is_local_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
    } else {
        !c.is_control() && !c.is_whitespace()
    }
}

/// Joins `word SEP word SEP word` where SEP is `at`/`@` or `dot`/`.`; `None`
/// unless the tokens strictly alternate and contain exactly one `@`.
fn spelled_out(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut want_word = true;
    for token in s.split_whitespace() {
        let sep = if token == "@" || token.eq_ignore_ascii_case("at") {
            Some('@')
        } else if token == "." || token.eq_ignore_ascii_case("dot") {
            Some('.')
        } else {
            None
        };
        match (want_word, sep) {
            (true, None) => out.push_str(token),
            (false, Some(c)) => out.push(c),
            _ => return None,
        }
        want_word = !want_word;
    }
    (!want_word && out.matches('@').count() == 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        email(raw).unwrap()
    }

    fn reason(raw: &str) -> String {
        email(raw).unwrap_err().reason
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ok(" John.Doe@Evil.Example "), "john.doe@evil.example");
        assert_eq!(ok("john[at]evil[.]example"), "john@evil.example");
        assert_eq!(ok("john(at)evil.example"), "john@evil.example");
        assert_eq!(ok("john[@]evil.example"), "john@evil.example");
        assert_eq!(ok("john at evil dot example"), "john@evil.example");
        assert_eq!(ok("john [at] evil [dot] example"), "john@evil.example");
        assert_eq!(ok("mailto:John@evil.example"), "john@evil.example");
        assert_eq!(ok("<john@evil.example>"), "john@evil.example");
        assert_eq!(ok("jöhn@bücher.example"), "jöhn@xn--bcher-kva.example");
        assert_eq!(ok("john@evil.example."), "john@evil.example");
    }

    #[test]
    fn rejects() {
        assert!(reason("").contains("empty"));
        assert!(reason("john.evil.example").contains("no `@`"));
        assert!(reason("@evil.example").contains("empty local part"));
        assert!(reason("john doe@evil.example").contains("whitespace"));
        assert!(reason("john at at evil.example").contains("whitespace"));
        assert!(reason(&format!("{}@evil.example", "a".repeat(65))).contains("at most 64"));
        assert!(reason("jo\u{7}hn@evil.example").contains("not allowed"));
        assert!(reason("hxxp://john@evil.example").contains("`:` is not allowed"));
        assert!(reason("\"john\"@evil.example").contains("not allowed"));
        // Split at the last `@`; an `@` left in the local part is refused.
        assert!(reason("a@b@evil.example").contains("`@` is not allowed"));
        assert!(reason("john@localhost").contains("domain part"));
        assert!(reason("john@192.0.2.1").contains("IP address"));
        assert!(reason("john@").contains("domain part"));
    }
}
