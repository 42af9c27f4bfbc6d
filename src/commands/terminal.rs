//! Intel text on the operator's terminal. Names, labels, patterns and reject
//! reasons come from feeds that others write; an escape sequence among them
//! (OSC 52 writes the clipboard, others retitle or redraw the screen) must
//! reach the terminal as text, never as a command.

use std::borrow::Cow;

/// `s` with every control character (C0, DEL, C1) written as `\u{..}`.
/// Lines that hold feed text go through this whole.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Serialised JSON with DEL and the C1 controls escaped too (serde_json
/// escapes only C0): still the same JSON value, and inert on a terminal.
pub fn json(serialized: String) -> String {
    if !serialized
        .chars()
        .any(|c| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c))
    {
        return serialized;
    }
    let mut out = String::with_capacity(serialized.len() + 8);
    for c in serialized.chars() {
        if c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
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
    fn escapes_are_shown_not_run() {
        let osc52 = "evil\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}name";
        assert_eq!(text(osc52), "evil\\u{1b}]52;c;ZWNobyBwd25lZA==\\u{7}name");
        assert_eq!(text("a\nb\u{9b}c"), "a\\u{a}b\\u{9b}c");
        assert!(matches!(text("plain é"), Cow::Borrowed(_)));
        let v = serde_json::json!({"name": "x\u{1b}[2J\u{9b}31m\u{7f}"});
        let line = json(v.to_string());
        assert!(!line.chars().any(char::is_control), "{line}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), v);
    }
}
