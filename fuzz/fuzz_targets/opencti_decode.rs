//! OpenCTI GraphQL page replies: the bytes of an HTTP 200 body through what
//! a sync does with them (`OpenCtiSource::decode_reply`: JSON, GraphQL
//! `errors`/`data`, the connection under the entity's root field, every node
//! decoded into store rows), for each entity, with and without filters.
//!
//! Asserted: every node has exactly one outcome (row, filtered, skipped or
//! rejected), filtered nodes are deletions, and messages stay on one line.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use store::config::OpenCtiConfig;
use store::sources::opencti::{Entity, OpenCtiSource};
use store::Secret;

fn sources() -> &'static [OpenCtiSource; 2] {
    static SOURCES: OnceLock<[OpenCtiSource; 2]> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let plain = OpenCtiConfig::new("https://cti.example", Secret::literal("t0k3n"));
        let mut filtered = plain.clone();
        filtered.min_score = Some(50);
        filtered.entity_types = vec!["Indicator".into(), "IPv4-Addr".into(), "Domain-Name".into()];
        filtered.labels_exclude = vec!["benign".into()];
        filtered.markings_exclude = vec!["TLP:RED".into()];
        filtered.created_by = vec!["CERT".into()];
        [
            OpenCtiSource::new("cti", &plain).unwrap(),
            OpenCtiSource::new("cti-filtered", &filtered).unwrap(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    for source in sources() {
        for entity in Entity::ALL {
            match source.decode_reply(entity, data) {
                Ok(r) => {
                    let b = &r.batch;
                    let outcomes = b.indicators.len()
                        + b.observables.len()
                        + b.relationships.len()
                        + b.rejects.len()
                        + r.filtered as usize
                        + r.skipped as usize;
                    assert_eq!(outcomes, r.nodes, "{entity:?}: {r:?}");
                    assert_eq!(b.deletions.len() as u64, r.filtered);
                    for reject in &b.rejects {
                        assert!(!reject.reason.contains('\n'), "{reject:?}");
                    }
                    if let Some(c) = &r.end_cursor {
                        assert!(!c.is_empty());
                    }
                }
                Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }
});
