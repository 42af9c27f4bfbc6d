//! One alert file as integratord writes it (bytes) through what `integrate`
//! does before the index: `parse_alert` (size cap, BOM, JSON object, serde's
//! depth limit), the feedback-loop check and `extract` over the catalog,
//! with the default options and with extra paths, a small cap and every
//! address class allowed.
//!
//! Asserted: the caps hold (candidates and skipped ≤ `max_candidates`,
//! texts ≤ `MAX_TEXTS`, each ≤ `MAX_SCAN_BYTES`), every candidate is in
//! canonical form for its kind and appears once, and a candidate with a
//! non-public address only comes out when non-public addresses are allowed.
#![no_main]

use std::collections::HashSet;

use intelmatch::commands::integrate::OWN_TAGS;
use intelmatch::wazuh::catalog::ExtraPath;
use intelmatch::wazuh::json::Json;
use intelmatch::wazuh::extract::{
    extract, is_own_event, parse_alert, AlertError, ExtractOptions, MAX_ALERT_BYTES, MAX_TEXTS,
    MAX_VALUE_BYTES,
};
use libfuzzer_sys::fuzz_target;
use matcher::normalize::{classify, ip_addr, normalize, Normalized};
use matcher::tokenize::MAX_SCAN_BYTES;
use matcher::Kind;

fn check(alert: &Json<'_>, opts: &ExtractOptions) {
    let ex = extract(alert, opts);
    assert!(ex.candidates.len() <= opts.max_candidates);
    assert!(ex.skipped.len() <= opts.max_candidates);
    assert!(ex.texts.len() <= MAX_TEXTS);
    for t in &ex.texts {
        assert!(
            t.text.len() <= MAX_SCAN_BYTES,
            "{} bytes of text",
            t.text.len()
        );
    }
    let mut seen = HashSet::new();
    for c in &ex.candidates {
        assert!(
            seen.insert((c.kind, c.value.as_str())),
            "{} {:?} twice",
            c.kind,
            c.value
        );
        assert!(!c.from_text || c.value.len() <= MAX_SCAN_BYTES);
        assert!(c.from_text || c.value.len() <= 4 * MAX_VALUE_BYTES);
        assert_eq!(
            normalize(c.kind, &c.value).as_ref(),
            Ok(&Normalized::new(c.kind, c.value.clone())),
            "candidate {c:?} is not canonical"
        );
        if opts.skip_non_public && matches!(c.kind, Kind::Ipv4 | Kind::Ipv6) {
            if let Ok(a) = ip_addr(&c.value) {
                let class = classify(a);
                assert!(
                    class.is_public()
                        || (opts.documentation_is_public && class.as_str() == "documentation"),
                    "{} is {class}, looked up with skip_non_public",
                    c.value
                );
            }
        }
    }
    for s in &ex.skipped {
        assert!(!s.reason.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let alert = match parse_alert(data) {
        Ok(a) => a,
        Err(AlertError::TooLarge(n)) => {
            assert!(n > MAX_ALERT_BYTES);
            return;
        }
        Err(_) => return,
    };
    assert!(alert.is_object());
    if is_own_event(&alert, &OWN_TAGS) {
        return;
    }
    check(&alert, &ExtractOptions::default());
    let extra = [
        "data.*",
        "data.url",
        "full_log",
        "data.win.eventdata.*",
        "x.y[].z",
    ]
    .iter()
    .zip([
        None,
        Some(Kind::Url),
        None,
        Some(Kind::Domain),
        Some(Kind::Ipv4),
    ])
    .filter_map(|(p, k)| ExtraPath::new(*p, k).ok())
    .collect();
    check(
        &alert,
        &ExtractOptions {
            skip_non_public: false,
            extra_paths: extra,
            max_candidates: 5,
            documentation_is_public: true,
            file_paths: true,
        },
    );
});
