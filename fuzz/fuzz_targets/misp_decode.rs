//! MISP `POST /attributes/restSearch` replies: the bytes of an HTTP 200 body
//! through what a sync does with them (`misp::decode_rest_search`: JSON,
//! `response.Attribute`, every attribute decoded and sorted into a batch),
//! with the default config and with local filters; and the same bytes as an
//! `/events/index` reply (`reconcile::remote_events`).
//!
//! Asserted: every attribute has exactly one outcome (kept, dropped or
//! rejected), kept attributes carry their uuid, and messages stay on one line.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use store::config::MispConfig;
use store::sources::misp::{decode_rest_search, reconcile};
use store::Secret;

fn configs() -> &'static [MispConfig; 2] {
    static CONFIGS: OnceLock<[MispConfig; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let plain = MispConfig::new("https://misp.example/", Secret::literal("k"));
        let mut filtered = plain.clone();
        filtered.to_ids_only = false;
        filtered.published_only = true;
        filtered.types = vec!["ip-dst".into(), "domain".into(), "sha256".into()];
        filtered.categories = vec!["Network activity".into()];
        filtered.tags_include = vec!["tlp:green".into()];
        filtered.tags_exclude = vec!["false-positive".into()];
        filtered.min_decay_score = Some(40.0);
        [plain, filtered]
    })
}

fuzz_target!(|data: &[u8]| {
    for cfg in configs() {
        match decode_rest_search(cfg, data) {
            Ok(p) => {
                let dropped: u64 = p.skipped.values().sum();
                let rejected = p.batch.rejects.len() as u64;
                assert_eq!(p.kept.len(), p.batch.indicators.len());
                assert_eq!(
                    p.kept.len() as u64 + dropped + rejected,
                    p.rows as u64,
                    "{p:?}"
                );
                for (_, uuid) in &p.kept {
                    assert!(!uuid.is_empty());
                }
                assert!(p.gone.len() as u64 <= dropped + rejected);
                for reject in &p.batch.rejects {
                    assert!(!reject.reason.contains('\n'), "{reject:?}");
                }
            }
            Err(e) => assert!(!e.contains('\n'), "{e}"),
        }
    }
    if let Ok(body) = serde_json::from_slice(data) {
        if let Ok(events) = reconcile::remote_events(body) {
            for e in events {
                assert!(!e.uuid.is_empty() && !e.id.is_empty());
            }
        }
    }
});
