//! The STIX 2.1 pattern parser and compiler (`matcher::stix`) on arbitrary
//! text: never panics, errors are one line with an offset inside the input,
//! a parsed pattern prints (`Display`) to text that parses back to an equal
//! tree, and `compile` agrees with `parse` + `compile_pattern`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matcher::normalize::{normalize, Normalized};
use matcher::stix::{self, PatternError, MAX_PATTERN_LEN};
use matcher::KeyMethod;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = stix::parse(text);
    let compiled = stix::compile(text);
    match &parsed {
        Err(e) => {
            assert!(e.offset <= text.len(), "offset {} past the end", e.offset);
            assert!(!e.to_string().contains('\n'), "{e}");
            assert!(matches!(compiled, Err(PatternError::Invalid(ref c)) if c == e));
        }
        Ok(pattern) => {
            // The canonical print reads back to the same tree.
            let printed = pattern.to_string();
            if printed.len() <= MAX_PATTERN_LEN {
                match stix::parse(&printed) {
                    Ok(again) => assert_eq!(&again, pattern, "printed as {printed:?}"),
                    Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
                }
            }
            let direct = stix::compile_pattern(pattern);
            assert_eq!(direct, compiled);
            match direct {
                Ok(c) => {
                    assert!(!c.keys.is_empty());
                    for k in &c.keys {
                        assert!(!k.key.is_empty(), "empty key from {text:?}");
                        // Exact keys are in canonical form: lookups normalise
                        // alert values the same way.
                        if k.method == KeyMethod::Exact {
                            let again = normalize(k.kind, &k.key);
                            assert_eq!(
                                again,
                                Ok(Normalized::new(k.kind, k.key.clone())),
                                "exact key {k:?} from {text:?} is not canonical"
                            );
                        }
                    }
                    for s in &c.skipped {
                        assert!(!s.contains('\n'), "{s}");
                    }
                }
                Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }
});
