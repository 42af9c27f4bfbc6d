//! Differential test against OASIS's reference matcher (stix2-matcher 3.0.0).
//!
//! `stix2_matcher/cases.json` holds its verdicts on (pattern, one observed
//! value) pairs: the patterns of its own test suite moved onto object paths
//! intelmatch indexes, and cases of our own (`stix2_matcher/generate.py` says
//! how they were made). intelmatch's verdict for a case is "an alert field
//! holding this value is a full match of the pattern": the value hits the
//! pattern's record and the record is not partial.
//!
//! Every disagreement must be one the README documents as deliberate
//! (section "How matching works"); see [`deliberate`]. None may concern the
//! shapes of issue 23 point 10 (LIKE case, LIKE on addresses, bad dates,
//! qualifiers), which must agree.
//!
//! Values are documentation ranges and `.example` names: warninglists are off.

use matcher::index::{Index, IndexBuilder};
use matcher::lookup::{Lookup, LookupOptions, WarninglistMode};
use matcher::{normalize, stix, HitMethod, Kind, Record};
use serde_json::Value;

struct Case {
    origin: String,
    pattern: String,
    kind: Kind,
    value: String,
    /// `Some(verdict)`, or `None` where the reference refuses the pattern.
    verdict: Option<bool>,
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/stix2_matcher/cases.json"
    );
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.into_iter()
        .map(|c| Case {
            origin: c["origin"].as_str().unwrap().to_string(),
            pattern: c["pattern"].as_str().unwrap().to_string(),
            kind: c["kind"].as_str().unwrap().parse().unwrap(),
            value: c["value"].as_str().unwrap().to_string(),
            verdict: c["verdict"].as_bool(),
        })
        .collect()
}

/// Why intelmatch deliberately answers otherwise, or `None` for a defect.
fn deliberate(case: &Case, ours: bool, method: Option<HitMethod>) -> Option<&'static str> {
    let p = &case.pattern;
    match (case.verdict, ours) {
        // The reference has no IPv6 networks (it refuses ISSUBSET on them).
        (None, true) if case.kind == Kind::Ipv6 && p.contains("ISSUBSET") => {
            Some("IPv6 networks: the reference matcher refuses them")
        }
        // Negations and ordering cannot be index keys: such comparisons never
        // hit on their own (README: operators that cannot be indexed).
        (Some(true), false)
            if [
                " != ", " NOT ", " > ", " < ", " >= ", " <= ", "MATCHES", "EXISTS",
            ]
            .iter()
            .any(|op| p.contains(op)) =>
        {
            Some("an operator that cannot be indexed")
        }
        // `_`, an inner `%` or a leading `%` (except on domains) have no index
        // key: the comparison is reported unsupported, never guessed at.
        (Some(true), false) if like_not_indexable(p) => Some("a LIKE shape that cannot be indexed"),
        // A domain key also matches its subdomains, bounded by the public suffix list.
        (Some(false), true) if method == Some(HitMethod::ParentDomain) => Some("parent domains"),
        _ => None,
    }
}

fn like_not_indexable(pattern: &str) -> bool {
    let why = match stix::compile(pattern) {
        Ok(c) => c.skipped.join("; "),
        Err(e) => e.to_string(),
    };
    why.contains("`LIKE")
}

#[test]
fn agrees_with_stix2_matcher_except_where_documented() {
    let cases = cases();
    assert!(cases.len() >= 90, "{} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let mut builder = IndexBuilder::new(dir.path()).unwrap();
    let mut partial = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let compiled = stix::compile(&c.pattern).ok();
        partial.push(compiled.as_ref().is_some_and(|k| k.partial));
        if let Some(k) = compiled {
            let record = Record {
                source: "diff".into(),
                source_type: "stix".into(),
                id: format!("case-{i}"),
                partial: k.partial,
                ..Record::default()
            };
            builder.add(&record, &k.keys).unwrap();
        }
    }
    builder.finish().unwrap();
    let index = Index::open(dir.path()).unwrap();
    let mut lookup = Lookup::new(
        &index,
        LookupOptions {
            warninglists: WarninglistMode::Off,
            ..LookupOptions::default()
        },
    );

    let (mut agree, mut documented, mut defects) = (0, Vec::new(), Vec::new());
    for (i, c) in cases.iter().enumerate() {
        let id = format!("case-{i}");
        let hit = normalize::normalize(c.kind, &c.value).ok().and_then(|n| {
            let out = lookup.value(n.kind, &n.value);
            out.hits
                .into_iter()
                .find(|h| index.records().get(h.record).is_ok_and(|r| r.id == id))
        });
        let ours = hit.is_some() && !partial[i];
        if c.verdict.unwrap_or(false) == ours {
            agree += 1;
            continue;
        }
        let line = format!(
            "{} | {} | {} = {} | reference {:?}, intelmatch {ours}",
            c.origin, c.pattern, c.kind, c.value, c.verdict
        );
        match deliberate(c, ours, hit.map(|h| h.method)) {
            Some(why) => documented.push(format!("{line} ({why})")),
            None => defects.push(line),
        }
    }
    eprintln!(
        "{} cases: {agree} agree, {} differ as documented:\n{}",
        cases.len(),
        documented.len(),
        documented.join("\n")
    );
    assert!(
        defects.is_empty(),
        "undocumented disagreements:\n{}",
        defects.join("\n")
    );
}
