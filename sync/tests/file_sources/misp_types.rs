use matcher::Kind;
use store::sources::misp_types::{self, MispType, Part, TYPES};

fn describe_types() -> serde_json::Value {
    let text = include_str!("../fixtures/describeTypes.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn every_described_type_is_decided() {
    let described = describe_types();
    let types = described["result"]["types"].as_array().unwrap();
    assert_eq!(types.len(), 194);
    let undecided: Vec<&str> = types
        .iter()
        .map(|t| t.as_str().unwrap())
        .filter(|t| misp_types::lookup(t).is_none())
        .collect();
    assert!(
        undecided.is_empty(),
        "types without a decision: {undecided:?}"
    );
}

#[test]
fn the_table_has_no_duplicates_and_nothing_extra() {
    let described = describe_types();
    let types: Vec<&str> = described["result"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut names: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a type is listed twice");
    for name in &names {
        assert!(types.contains(name), "{name} is not a MISP type");
    }
}

#[test]
fn composite_types_are_exactly_the_piped_ones_and_malware_sample() {
    for (name, mapping) in TYPES {
        let composite = matches!(mapping, MispType::Composite(..));
        let expected = name.contains('|') || *name == "malware-sample";
        assert_eq!(composite, expected, "{name}");
    }
}

#[test]
fn the_matchable_core_maps_as_misp_md_says() {
    use misp_types::lookup;
    assert_eq!(lookup("ip-src"), Some(MispType::Single(Part::Ip)));
    assert_eq!(
        lookup("ip-dst|port"),
        Some(MispType::Composite(Some(Part::Ip), None))
    );
    assert_eq!(misp_types::kind("hostname"), Some(Kind::Domain));
    assert_eq!(misp_types::kind("sha3-256"), Some(Kind::Hash));
    assert_eq!(misp_types::kind("imphash"), Some(Kind::Imphash));
    assert_eq!(misp_types::kind("ja3-fingerprint-md5"), Some(Kind::Hash));
    assert_eq!(misp_types::kind("user-agent"), Some(Kind::UserAgent));
    for rule in [
        "snort",
        "suricata",
        "yara",
        "sigma",
        "stix2-pattern",
        "dkim-signature",
    ] {
        assert!(!lookup(rule).unwrap().is_matchable(), "{rule}");
    }
    for context in [
        "link",
        "comment",
        "text",
        "target-email",
        "passport-number",
        "uuid",
    ] {
        assert!(!lookup(context).unwrap().is_matchable(), "{context}");
    }
    // Every type MISP flags for IDS by default and that names a host, address
    // or file digest is matchable.
    let described = describe_types();
    let defaults = described["result"]["sane_defaults"].as_object().unwrap();
    for t in [
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "ip-src",
        "ip-dst",
        "domain",
        "hostname",
        "url",
        "email-src",
        "email-dst",
        "filename|md5",
        "filename|sha256",
        "domain|ip",
        "regkey",
    ] {
        assert_eq!(defaults[t]["to_ids"], 1, "{t}");
        assert!(lookup(t).unwrap().is_matchable(), "{t}");
    }
}
