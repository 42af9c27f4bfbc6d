//! Every type of `describeTypes.json` (MISP 2.5, 194 types), through the MISP
//! API source's decoder: it maps to matchable values or is counted as
//! unsupported by name, never "unknown".

use serde_json::json;
use store::config::MispConfig;
use store::sources::misp::decode::{Decoder, Outcome};
use store::Secret;

#[test]
fn every_described_type_maps_or_is_counted_unsupported() {
    let described: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/describeTypes.json")).unwrap();
    let types = described["result"]["types"].as_array().unwrap();
    assert_eq!(types.len(), 194);
    let cfg = MispConfig::new("https://misp.example", Secret::literal("k"));
    let decoder = Decoder::new(&cfg);
    let (mut mapped, mut unsupported) = (0, 0);
    for t in types {
        let t = t.as_str().unwrap();
        let composite = t.contains('|') || t == "malware-sample";
        let value = if composite { "part-a|part-b" } else { "value" };
        let attr = json!({"uuid": format!("u-{t}"), "type": t, "value": value, "to_ids": true,
                          "category": "Other", "event_id": "1"});
        match decoder.decode(&attr).outcome {
            Outcome::Keep(row) => {
                assert!(!row.values.is_empty(), "{t}");
                mapped += 1;
            }
            Outcome::Drop(why) => {
                assert_eq!(why, format!("unsupported type {t}"));
                unsupported += 1;
            }
            Outcome::Reject { reason, .. } => panic!("{t}: rejected: {reason}"),
        }
    }
    assert_eq!(mapped + unsupported, 194);
    assert!(mapped >= 60, "{mapped} mapped");
    println!("{mapped} types mapped, {unsupported} counted as unsupported");
}
