//! Test support: the community rule packs evaluated against rendered events the
//! way analysisd would (reference/wazuh.md §4, §5): the JSON decoder's dotted
//! flattening, `<field>` as unanchored OS_Regex, `<match>` on the log text, the
//! first matching root rule in load order and then its first matching child by
//! `if_sid`, and `$(field)` expansion in descriptions.
//!
//! Shared by the profile unit tests and the integratord tests; the XML is in
//! `tests/fixtures/seeds/` (copied from the seed documents).

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;

pub const MISJE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seeds/misje-opencti-100210.xml"
));
pub const SOCFORTRESS_OPENCTI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seeds/socfortress-opencti-100623.xml"
));
pub const MISP_README: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seeds/socfortress-misp-100620-readme.xml"
));
pub const MISP_XML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seeds/socfortress-misp-100620-xml.xml"
));

/// Names the JSON decoder treats as static fields when they are top-level keys.
pub const STATIC_FIELDS: [&str; 14] = [
    "srcip",
    "dstip",
    "srcport",
    "dstport",
    "protocol",
    "action",
    "srcuser",
    "dstuser",
    "user",
    "id",
    "status",
    "url",
    "data",
    "extra_data",
];

/// analysisd's default `decoder_order_size`.
pub const MAX_DECODER_FIELDS: usize = 256;

#[derive(Debug)]
pub struct Rule {
    pub id: u32,
    pub level: u32,
    pub if_sid: Vec<u32>,
    /// `<field name="...">` and its OS_Regex.
    pub fields: Vec<(String, String)>,
    /// `<match>` patterns (OS_Match on the log).
    pub matches: Vec<String>,
    pub description: String,
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `(attributes, content)` of every `<name ...>content</name>` in `block`.
pub fn elements<'a>(block: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = block;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        // `<field` must not match `<fields`.
        if !after.starts_with([' ', '>', '\t', '\n']) {
            rest = after;
            continue;
        }
        let gt = after.find('>').expect("unterminated tag");
        let attrs = &after[..gt];
        let body = &after[gt + 1..];
        let end = body.find(&close).expect("unclosed element");
        out.push((attrs, &body[..end]));
        rest = &body[end + close.len()..];
    }
    out
}

pub fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let i = attrs.find(&key)? + key.len();
    let end = attrs[i..].find('"')?;
    Some(&attrs[i..i + end])
}

pub fn strip_comments(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("-->").expect("unclosed comment");
        rest = &rest[i + end + 3..];
    }
    out.push_str(rest);
    out
}

pub fn parse_rules(xml: &str) -> Vec<Rule> {
    let xml = strip_comments(xml);
    elements(&xml, "rule")
        .into_iter()
        .map(|(attrs, body)| {
            let fields = elements(body, "field")
                .into_iter()
                .map(|(a, v)| {
                    // The seeds use OS_Regex only; a pcre2 field would need its own matcher.
                    assert!(attr(a, "type").is_none_or(|t| t == "osregex"), "{a}");
                    (
                        attr(a, "name").expect("field name").to_string(),
                        unescape(v),
                    )
                })
                .collect();
            Rule {
                id: attr(attrs, "id").unwrap().parse().unwrap(),
                level: attr(attrs, "level").unwrap().parse().unwrap(),
                if_sid: elements(body, "if_sid")
                    .iter()
                    .flat_map(|(_, v)| v.split([',', ' ']).filter(|s| !s.is_empty()))
                    .map(|s| s.trim().parse().unwrap())
                    .collect(),
                fields,
                matches: elements(body, "match")
                    .iter()
                    .map(|(_, v)| unescape(v))
                    .collect(),
                description: elements(body, "description")
                    .first()
                    .map(|(_, v)| unescape(v))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The JSON decoder's view of an event: nested objects as dotted keys, integers
/// `%i`, other numbers `%f`, booleans and null as words, arrays as their JSON text.
pub fn flatten(v: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
        let text = match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
                return;
            }
            Value::Array(_) => v.to_string(),
            Value::String(s) => s.clone(),
            Value::Number(n) => match n.as_i64() {
                Some(i) => i.to_string(),
                None => format!("{:.6}", n.as_f64().unwrap_or(0.0)),
            },
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
        };
        out.insert(prefix.to_string(), text);
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

/// One OS_Regex term: a character test and how often it may repeat.
pub struct Term {
    pub test: Box<dyn Fn(char) -> bool>,
    pub min: usize,
    pub many: bool,
}

pub fn terms(pattern: &str) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let test: Box<dyn Fn(char) -> bool> = match c {
            '+' | '*' if !out.is_empty() => {
                let last = out.last_mut().unwrap();
                last.many = true;
                last.min = usize::from(c == '+');
                continue;
            }
            '\\' => match chars.next().expect("dangling backslash") {
                '.' => Box::new(|_| true),
                'w' => Box::new(|c: char| c.is_ascii_alphanumeric() || "-@_".contains(c)),
                'W' => Box::new(|c: char| !(c.is_ascii_alphanumeric() || "-@_".contains(c))),
                'd' => Box::new(|c: char| c.is_ascii_digit()),
                'D' => Box::new(|c: char| !c.is_ascii_digit()),
                's' => Box::new(|c: char| c == ' '),
                'S' => Box::new(|c: char| c != ' '),
                'p' => Box::new(|c: char| c.is_ascii_punctuation()),
                lit => Box::new(move |c| c == lit),
            },
            lit => Box::new(move |c| c == lit),
        };
        out.push(Term {
            test,
            min: 1,
            many: false,
        });
    }
    out
}

pub fn match_here(terms: &[Term], text: &[char], anchored_end: bool) -> bool {
    let Some((t, rest)) = terms.split_first() else {
        return !anchored_end || text.is_empty();
    };
    let max = if t.many {
        text.len()
    } else {
        1.min(text.len())
    };
    let mut n = 0;
    while n < max && (t.test)(text[n]) {
        n += 1;
    }
    (t.min..=n)
        .rev()
        .any(|k| match_here(rest, &text[k..], anchored_end))
}

/// Unanchored OS_Regex with `|`, `^`, `$`, the `\w \d \s \p \.` classes and `+ *`.
pub fn os_regex(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    pattern.split('|').any(|alt| {
        let (start, alt) = match alt.strip_prefix('^') {
            Some(a) => (true, a),
            None => (false, alt),
        };
        let (end, alt) = match alt.strip_suffix('$') {
            Some(a) if !a.ends_with('\\') => (true, a),
            _ => (false, alt),
        };
        let t = terms(alt);
        let starts = if start { 0..=0 } else { 0..=text.len() };
        starts.into_iter().any(|i| match_here(&t, &text[i..], end))
    })
}

/// OS_Match: plain substrings with `|`, `^` and `$`.
pub fn os_match(pattern: &str, text: &str) -> bool {
    pattern
        .split('|')
        .any(|alt| match (alt.strip_prefix('^'), alt.strip_suffix('$')) {
            (Some(a), _) if a.ends_with('$') => text == &a[..a.len() - 1],
            (Some(a), _) => text.starts_with(a),
            (None, Some(a)) => text.ends_with(a),
            (None, None) => text.contains(alt),
        })
}

pub fn rule_matches(rule: &Rule, flat: &BTreeMap<String, String>, log: &str) -> bool {
    rule.fields
        .iter()
        .all(|(name, re)| flat.get(name).is_some_and(|v| os_regex(re, v)))
        && rule.matches.iter().all(|m| os_match(m, log))
}

/// The chain of rules an event walks: the first matching root, then at each level
/// the first matching child. Empty when no root rule matches (no alert).
pub fn evaluate<'r>(rules: &'r [Rule], event: &Value) -> Vec<&'r Rule> {
    let flat = flatten(event);
    let log = event.to_string();
    let Some(root) = rules
        .iter()
        .find(|r| r.if_sid.is_empty() && rule_matches(r, &flat, &log))
    else {
        return Vec::new();
    };
    let mut chain = vec![root];
    while let Some(child) = rules
        .iter()
        .find(|c| c.if_sid.contains(&chain.last().unwrap().id) && rule_matches(c, &flat, &log))
    {
        chain.push(child);
    }
    chain
}

/// Expands `$(name)`; every reference must resolve to a non-empty value.
pub fn describe(rule: &Rule, flat: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = rule.description.as_str();
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(')').ok_or("unclosed $(")?;
        let name = &rest[i + 2..i + end];
        match flat.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => return Err(format!("rule {}: $({name}) does not resolve", rule.id)),
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    // analysisd falls back to the unexpanded text past OS_COMMENT_MAX.
    if out.len() > 1024 {
        return Err(format!("rule {}: description longer than 1024", rule.id));
    }
    Ok(out)
}

/// Asserts the event ends at `expected`, every rule on the way has all its
/// `<field>`s matched, and the description expands fully. Returns the description.
pub fn assert_fires(xml: &str, event: &Value, expected: u32) -> String {
    let rules = parse_rules(xml);
    let chain = evaluate(&rules, event);
    let flat = flatten(event);
    let last = chain
        .last()
        .unwrap_or_else(|| panic!("no rule fires for {event}"));
    assert_eq!(
        last.id,
        expected,
        "chain {:?} for {event}",
        chain.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert!(last.level > 0);
    for rule in &chain {
        for (name, re) in &rule.fields {
            let v = flat.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(os_regex(re, v), "rule {}: {name}={v:?} !~ {re}", rule.id);
        }
    }
    describe(last, &flat).unwrap()
}

pub fn assert_no_alert(xml: &str, event: &Value) {
    let rules = parse_rules(xml);
    let chain = evaluate(&rules, event);
    assert!(
        chain.is_empty(),
        "{:?} fired for {event}",
        chain.iter().map(|r| r.id).collect::<Vec<_>>()
    );
}
