//! Undoing the usual "defanging" of IoCs in reports and feeds.

use std::borrow::Cow;

/// Bracketed forms and what they stand for, by opening bracket. Matched
/// ASCII-case-insensitively.
const SQUARE: &[(&str, &str)] = &[
    (".", "."),
    ("dot", "."),
    (":", ":"),
    ("://", "://"),
    ("/", "/"),
    ("@", "@"),
    ("at", "@"),
];
/// Round and curly brackets only for dots and at signs: `(/)` or `{:}` are
/// more likely to be real content than defanging.
const OTHER: &[(&str, &str)] = &[(".", "."), ("dot", "."), ("@", "@"), ("at", "@")];

/// Defanged schemes, matched case-insensitively at the start of the value.
const SCHEMES: &[(&str, &str)] = &[
    ("hxxps:", "https:"),
    ("hxxp:", "http:"),
    ("hxtps:", "https:"),
    ("hxtp:", "http:"),
    ("fxp:", "ftp:"),
];

/// Undoes defanging: `hxxp://`, `hxxps://`, `fxp://` at the start, and `[.]`, `(.)`,
/// `{.}`, `[dot]`, `[:]`, `[://]`, `[/]`, `[@]`, `[at]`, `(at)` anywhere.
///
/// Borrows when there is nothing to undo (the common case for alert values). The
/// result is a fixed point: refanging it again changes nothing, even for nested
/// forms such as `[[.]]`.
pub fn refang(raw: &str) -> Cow<'_, str> {
    let Some(start) = first_form(raw) else {
        return match defanged_scheme(raw) {
            None => Cow::Borrowed(raw),
            Some((at, from, to)) => {
                let mut out = String::with_capacity(raw.len());
                out.push_str(&raw[..at]);
                out.push_str(to);
                out.push_str(&raw[at + from.len()..]);
                Cow::Owned(out)
            }
        };
    };

    // Nothing before the first form can change, except by a later reduction
    // that reaches back into it (`[[.]]`), which works on `out` as well.
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..start]);
    for c in raw[start..].chars() {
        out.push(c);
        if let Some((open, forms)) = u8::try_from(c).ok().and_then(forms_closed_by) {
            // Only the tail can form a new match: replacements never contain a
            // closing bracket, so everything before the last one is final.
            reduce_tail(&mut out, open, forms);
        }
    }
    if let Some((at, from, to)) = defanged_scheme(&out) {
        out.replace_range(at..at + from.len(), to);
    }
    Cow::Owned(out)
}

/// The opening bracket and the forms a closing bracket may end.
fn forms_closed_by(close: u8) -> Option<(u8, &'static [(&'static str, &'static str)])> {
    match close {
        b']' => Some((b'[', SQUARE)),
        b')' => Some((b'(', OTHER)),
        b'}' => Some((b'{', OTHER)),
        _ => None,
    }
}

/// Byte offset of the opening bracket of the first form in `raw`, by end position.
/// Checking only what the input holds keeps clean values allocation-free, even
/// with brackets in them (`[2001:db8::1]`).
///
/// A plain scan, not `memchr3`: values are short, and memchr's first call probes
/// the CPU features, a dozen CPUID instructions that cost ~70 µs in a VM, paid
/// by every per-alert process.
fn first_form(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    let mut closers = (0..bytes.len()).filter(|&i| matches!(bytes[i], b']' | b')' | b'}'));
    closers.find_map(|end| {
        let (open, forms) = forms_closed_by(bytes[end])?;
        forms.iter().find_map(|(inner, _)| {
            let start = (end + 1).checked_sub(inner.len() + 2)?;
            (bytes[start] == open && bytes[start + 1..end].eq_ignore_ascii_case(inner.as_bytes()))
                .then_some(start)
        })
    })
}

fn reduce_tail(out: &mut String, open: u8, forms: &[(&str, &str)]) {
    let bytes = out.as_bytes();
    for (inner, replacement) in forms {
        let len = inner.len() + 2;
        if bytes.len() < len {
            continue;
        }
        let start = bytes.len() - len;
        if bytes[start] == open
            && bytes[start + 1..bytes.len() - 1].eq_ignore_ascii_case(inner.as_bytes())
        {
            // `start` is an ASCII byte, so a char boundary.
            out.truncate(start);
            out.push_str(replacement);
            return;
        }
    }
}

/// `(offset, defanged, replacement)` of a defanged scheme after leading whitespace.
fn defanged_scheme(s: &str) -> Option<(usize, &'static str, &'static str)> {
    let at = s.len() - s.trim_start().len();
    let head = s.as_bytes().get(at..)?;
    SCHEMES
        .iter()
        .find(|(from, _)| {
            head.len() >= from.len() && head[..from.len()].eq_ignore_ascii_case(from.as_bytes())
        })
        .map(|&(from, to)| (at, from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        refang(s).into_owned()
    }

    #[test]
    fn clean_values_are_borrowed() {
        for s in [
            "evil.example",
            "http://[2001:db8::1]/x",
            "a(b)c{d}",
            "",
            "hxxpool.example",
            "[[x]]",
            "http://evil.example/(a)[b]{c}",
        ] {
            assert!(matches!(refang(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn bracket_forms() {
        assert_eq!(r("evil[.]example"), "evil.example");
        assert_eq!(r("evil(.)example"), "evil.example");
        assert_eq!(r("evil{.}example"), "evil.example");
        assert_eq!(r("evil[DOT]example"), "evil.example");
        assert_eq!(r("evil(dot)example"), "evil.example");
        assert_eq!(r("http[:]//evil.example"), "http://evil.example");
        assert_eq!(r("http[://]evil.example[/]x"), "http://evil.example/x");
        assert_eq!(r("a[@]evil.example"), "a@evil.example");
        assert_eq!(r("a[at]evil.example"), "a@evil.example");
        assert_eq!(r("a(AT)evil.example"), "a@evil.example");
        assert_eq!(r("192[.]0[.]2[.]1"), "192.0.2.1");
    }

    #[test]
    fn schemes() {
        assert_eq!(r("hxxp://evil.example"), "http://evil.example");
        assert_eq!(r("HXXPS://evil.example"), "https://evil.example");
        assert_eq!(r("hXXps[:]//evil[.]example"), "https://evil.example");
        assert_eq!(r("fxp://evil.example"), "ftp://evil.example");
        assert_eq!(r("  hxxp://e.example"), "  http://e.example");
        // Only at the start, and only as a scheme.
        assert_eq!(r("http://e.example/hxxp://x"), "http://e.example/hxxp://x");
        assert_eq!(r("hxxpool.example"), "hxxpool.example");
    }

    #[test]
    fn unknown_brackets_are_kept() {
        assert_eq!(r("a(/)b{:}c[x]"), "a(/)b{:}c[x]");
        assert_eq!(r("[::1]"), "[::1]");
        assert_eq!(r("[::]"), "[::]");
        assert_eq!(r("évil[.]exämple"), "évil.exämple");
    }

    #[test]
    fn result_is_a_fixed_point() {
        for s in [
            "[[.]]",
            "[[[.]]]x",
            "[.[.]]",
            "(([.]))",
            "h[[.]]xxp",
            "hxxp[[:]]//a",
            "[[:]//]",
            "[[/]/]",
            "ü[(.)]",
        ] {
            let once = r(s);
            assert_eq!(r(&once), once, "{s}");
        }
        assert_eq!(r("[[.]]"), ".");
    }
}
