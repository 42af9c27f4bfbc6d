//! Test-only: the community rule packs against the profiles' events, through the
//! analysisd-style evaluator in `tests/support/analysisd_rules.rs`.

#[path = "../../../tests/support/analysisd_rules.rs"]
mod analysisd_rules;

use analysisd_rules::*;
use matcher::{HitMethod, Kind};
use serde_json::{json, Value};

use super::test_support::*;
use super::*;

/// Shape checks that hold for every event any profile sends.
fn assert_decodable(profile: Profile, event: &Value) {
    let top: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in &top {
        assert!(
            *key == "integration"
                || *key == profile.tag()
                || (profile == Profile::Misp && *key == "misp"),
            "unexpected top-level key {key} in {event}"
        );
        assert!(
            !STATIC_FIELDS.contains(key),
            "{key} would become a static field"
        );
    }
    let flat = flatten(event);
    assert!(
        flat.len() <= MAX_DECODER_FIELDS,
        "{} decoder fields",
        flat.len()
    );
    assert!(
        flat.values().all(|v| v != "null"),
        "a null reached the decoder: {event}"
    );
    assert_no_empties(event, "");
    // The decoder's prematch: `^{\s*"`.
    assert!(event.to_string().starts_with("{\""));
}

/// One event of each kind the opencti profile sends, with the misje rule it must reach.
fn opencti_cases() -> Vec<(&'static str, Value, u32)> {
    let alert = alert();
    let mut ctx = AlertContext::new(&alert);
    ctx.hook_url = Some("https://opencti.example.org/graphql");
    let one = |hits: Vec<ResolvedHit>| {
        let mut out = events(Profile::Opencti, &ctx, hits, &ProfileOptions::default());
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    };
    let q = "data.win.eventdata.queryName";
    let indicator = one(vec![hit(
        q,
        Kind::Domain,
        "evil.example",
        HitMethod::Exact,
        opencti_indicator(
            "ind-1",
            "evil.example C2",
            "[domain-name:value = 'evil.example']",
            80,
        ),
    )]);
    let mut compound = opencti_indicator("ind-2", "dropper", "[a:b = 'c'] AND [d:e = 'f']", 80);
    compound.partial = true;
    let partial = one(vec![hit(
        q,
        Kind::Domain,
        "evil.example",
        HitMethod::Exact,
        compound,
    )]);
    let observable = one(vec![hit(
        q,
        Kind::Domain,
        "evil.example",
        HitMethod::Exact,
        opencti_observable(
            "obs-1",
            "evil.example",
            json!([{"id": "ind-3", "name": "evil domain", "pattern": "[domain-name:value = 'evil.example']", "score": 70}]),
        ),
    )]);
    let related = one(vec![hit(
        q,
        Kind::Domain,
        "evil.example",
        HitMethod::Related,
        related_indicator("ind-4", "bad resolver IP", "192.0.2.7"),
    )]);
    let misp_in_opencti = one(vec![hit(
        "syscheck.sha256_after",
        Kind::Sha256,
        &"ab".repeat(32),
        HitMethod::Exact,
        misp_attribute("attr-1", "sha256", &"ab".repeat(32)),
    )]);
    vec![
        ("indicator", indicator, 100212),
        ("partial", partial, 100215),
        ("observable", observable, 100213),
        ("related", related, 100214),
        ("misp record", misp_in_opencti, 100212),
    ]
}

#[test]
fn the_seed_packs_parse() {
    let misje = parse_rules(MISJE);
    assert_eq!(
        misje.iter().map(|r| r.id).collect::<Vec<_>>(),
        [100210, 100211, 100212, 100213, 100214, 100215]
    );
    assert!(misje[1..].iter().all(|r| r.if_sid == [100210]));
    assert_eq!(
        misje[2].fields,
        [(
            "opencti.event_type".to_string(),
            "indicator_pattern_match".to_string()
        )]
    );
    let soc = parse_rules(SOCFORTRESS_OPENCTI);
    assert_eq!(
        soc.iter().map(|r| r.id).collect::<Vec<_>>(),
        [100623, 100624, 100625]
    );
    assert_eq!(
        soc[2].fields,
        [("opencti.id".to_string(), r"\.+".to_string())]
    );
    let readme = parse_rules(MISP_README);
    assert_eq!(
        readme.iter().map(|r| r.id).collect::<Vec<_>>(),
        [100620, 100621, 100622]
    );
    assert_eq!(readme[0].matches, ["misp"]);
    assert!(
        readme[2].if_sid.is_empty(),
        "README variant: 100622 is a root rule"
    );
    let xml = parse_rules(MISP_XML);
    assert_eq!(xml[2].if_sid, [100620]);
}

#[test]
fn os_regex_subset() {
    assert!(os_regex(r"\.+", "x"));
    assert!(!os_regex(r"\.+", ""));
    assert!(os_regex("opencti", "opencti"));
    assert!(os_regex("opencti", "not-opencti-really"), "unanchored");
    assert!(!os_regex("^opencti$", "opencti2"));
    assert!(os_regex("^ipv4$|^ipv6$", "ipv6"));
    assert!(os_regex(r"^\d+\.\d+$", "12.5") && !os_regex(r"^\d+$", "12a"));
    assert!(os_regex(r"a\w*b", "ab") && os_regex(r"a\w*b", "a-x_b"));
    assert!(os_match("misp", r#"{"misp":{}}"#) && !os_match("^misp", "{misp"));
}

#[test]
fn flattening_follows_the_json_decoder() {
    let flat = flatten(
        &json!({"a": {"b": "x", "n": 3, "f": 1.5, "t": true, "z": null,
                                      "l": ["p", 1]}}),
    );
    assert_eq!(flat["a.b"], "x");
    assert_eq!(flat["a.n"], "3");
    assert_eq!(flat["a.f"], "1.500000");
    assert_eq!(flat["a.t"], "true");
    assert_eq!(flat["a.z"], "null");
    assert_eq!(flat["a.l"], r#"["p",1]"#);
}

#[test]
fn misje_pack_fires_for_every_opencti_event_type() {
    for (name, event, rule) in opencti_cases() {
        assert_decodable(Profile::Opencti, &event);
        let d = assert_fires(MISJE, &event, rule);
        let expected = match rule {
            100212 if name == "indicator" => "OpenCTI: IoC found in threat intel: evil.example C2",
            100212 => &format!(
                "OpenCTI: IoC found in threat intel: sha256: {}",
                "ab".repeat(32)
            ),
            100213 => "OpenCTI: IoC found in threat intel: evil.example",
            100214 => "OpenCTI: IoC possibly found in threat intel (related): bad resolver IP",
            100215 => "OpenCTI: IoC possibly found in threat intel: dropper",
            _ => unreachable!(),
        };
        assert_eq!(d, expected, "{name}");
    }
    let d = assert_fires(
        MISJE,
        &error_event(Profile::Opencti, "index missing"),
        100211,
    );
    assert_eq!(d, "OpenCTI: Failed to connect to API");
}

#[test]
fn socfortress_opencti_pack_fires_on_the_same_events() {
    for (name, event, _) in opencti_cases() {
        let d = assert_fires(SOCFORTRESS_OPENCTI, &event, 100625);
        let value = event["opencti"]["value"].as_str().unwrap();
        assert_eq!(
            d,
            format!("OpenCTI - IoC found in Threat Intel - {value}"),
            "{name}"
        );
        // The repository XML prints `$(opencti.observable_value)` instead.
        let flat = flatten(&event);
        assert!(
            flat.get("opencti.observable_value")
                .is_some_and(|v| !v.is_empty()),
            "{name}"
        );
    }
    let d = assert_fires(
        SOCFORTRESS_OPENCTI,
        &error_event(Profile::Opencti, "index missing"),
        100624,
    );
    assert_eq!(d, "OpenCTI - Error connecting to API");
}

fn misp_hit_event(key: bool) -> Value {
    let alert = alert();
    let mut ctx = AlertContext::new(&alert);
    ctx.misp_integration_key = key;
    let h = hit(
        "data.win.eventdata.destinationIp",
        Kind::Ipv4,
        "198.51.100.23",
        HitMethod::Exact,
        misp_attribute("attr-1", "ip-dst", "198.51.100.23"),
    );
    let mut out = events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default());
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[test]
fn misp_readme_pack_fires_100622_without_the_integration_key() {
    let event = misp_hit_event(false);
    assert_decodable(Profile::Misp, &event);
    let d = assert_fires(MISP_README, &event, 100622);
    assert_eq!(
        d,
        "MISP - IoC found in Threat Intel - Category: Network activity, Attribute: 198.51.100.23"
    );
    // With the key, the README's 100620 captures the hit first (the trap of §3.5).
    let keyed = misp_hit_event(true);
    assert_decodable(Profile::Misp, &keyed);
    assert_fires(MISP_README, &keyed, 100620);
    let d = assert_fires(
        MISP_README,
        &error_event(Profile::Misp, "index missing"),
        100621,
    );
    assert_eq!(d, "MISP - Error connecting to API");
}

#[test]
fn misp_xml_pack_needs_the_integration_key() {
    // The original script's hits never alert under the repository XML...
    assert_no_alert(MISP_XML, &misp_hit_event(false));
    // ...the switch makes them fire as 100622.
    let d = assert_fires(MISP_XML, &misp_hit_event(true), 100622);
    assert!(d.ends_with("Category: Network activity, Attribute: 198.51.100.23"));
    assert_fires(
        MISP_XML,
        &error_event(Profile::Misp, "index missing"),
        100621,
    );
}

#[test]
fn derived_misp_fields_fire_100622_for_other_sources() {
    let alert = alert();
    let ctx = AlertContext::new(&alert);
    let h = hit(
        "data.win.eventdata.queryName",
        Kind::Domain,
        "evil.example",
        HitMethod::ParentDomain,
        opencti_indicator("ind-1", "evil", "[domain-name:value = 'evil.example']", 80),
    );
    let event = events(Profile::Misp, &ctx, vec![h], &ProfileOptions::default()).remove(0);
    let d = assert_fires(MISP_README, &event, 100622);
    assert!(
        d.ends_with("Category: Network activity, Attribute: evil.example"),
        "{d}"
    );
}

#[test]
fn profiles_do_not_fire_each_others_packs() {
    let alert = alert();
    let ctx = AlertContext::new(&alert);
    let h = hit(
        "data.win.eventdata.queryName",
        Kind::Domain,
        "evil.example",
        HitMethod::Exact,
        opencti_indicator("ind-1", "evil", "[domain-name:value = 'evil.example']", 80),
    );
    let native = events(Profile::Native, &ctx, vec![h], &ProfileOptions::default()).remove(0);
    assert_decodable(Profile::Native, &native);
    assert_decodable(Profile::Native, &error_event(Profile::Native, "x"));
    for pack in [MISJE, SOCFORTRESS_OPENCTI, MISP_README, MISP_XML] {
        assert_no_alert(pack, &native);
        assert_no_alert(pack, &error_event(Profile::Native, "x"));
    }
    for (_, event, _) in opencti_cases() {
        assert_no_alert(MISP_README, &event);
        assert_no_alert(MISP_XML, &event);
    }
    for event in [
        misp_hit_event(false),
        misp_hit_event(true),
        error_event(Profile::Misp, "x"),
    ] {
        assert_no_alert(MISJE, &event);
        assert_no_alert(SOCFORTRESS_OPENCTI, &event);
    }
}

#[test]
fn a_full_opencti_event_stays_within_the_decoder_limits() {
    // Every optional field set, from a Suricata alert (the widest context).
    let alert = json!({
        "id": "1.1", "rule": {"id": "86601", "description": "Suricata alert"},
        "syscheck": {"path": "/x", "md5_after": "a", "sha1_after": "b", "sha256_after": "c"},
        "data": {"in_iface": "e0", "srcintf": "p1", "src_ip": "10.0.0.1", "srcip": "10.0.0.1",
                 "src_mac": "m", "srcmac": "m", "src_port": "1", "srcport": "1",
                 "dest_ip": "192.0.2.5", "dstip": "192.0.2.5", "dst_mac": "m", "dstmac": "m",
                 "dest_port": "2", "dstport": "2", "dstintf": "p2", "proto": "TCP",
                 "app_proto": "tls",
                 "alert": {"action": "a", "category": "c", "signature": "s", "signature_id": "1"},
                 "dns": {"question": {"name": "q"}, "answers": [{"data": "192.0.2.1"}]},
                 "audit": {"execve": {"a0": "x"}, "success": "yes", "key": "k", "uid": "1",
                           "gid": "1", "euid": "1", "egid": "1", "exe": "/x", "exit": "0",
                           "pid": "1"}}
    });
    let mut ctx = AlertContext::new(&alert);
    ctx.hook_url = Some("https://opencti.example.org/graphql");
    let mut obs = opencti_observable(
        "obs-1",
        "evil.example",
        json!([{"id": "i-1", "name": "n", "pattern": "p", "pattern_type": "stix", "score": 1,
                "confidence": 2, "revoked": false, "detection": true,
                "valid_until": "2999-01-01T00:00:00Z", "labels": ["l"], "indicator_types": ["t"]},
               {"id": "i-2", "name": "m"}]),
    );
    obs.markings = vec!["TLP:RED".into()];
    obs.created_by = Some("org".into());
    obs.updated_at = Some("2024-01-01T00:00:00Z".into());
    for (k, v) in [
        ("standard_id", json!("domain-name--1")),
        ("created_at", json!("2024")),
        ("external_references", json!([{"url": "https://r"}])),
        ("description", json!("d")),
    ] {
        obs.extra.insert(k.into(), v);
    }
    let mut rel = related_indicator("ind-ip", "ip", "192.0.2.7");
    for (k, v) in [
        ("indicator_types", json!(["c2"])),
        ("x_mitre_platforms", json!(["linux"])),
        ("kill_chain_phases", json!([{"phase_name": "c2"}])),
        ("external_references", json!(["https://r"])),
        ("created_at", json!("2024")),
    ] {
        rel.extra.insert(k.into(), v);
    }
    rel.valid_from = Some("2024-01-01T00:00:00Z".into());
    let mut hits = vec![
        hit(
            "data.dns.question.name",
            Kind::Domain,
            "evil.example",
            HitMethod::Exact,
            obs,
        ),
        hit(
            "data.dns.question.name",
            Kind::Domain,
            "evil.example",
            HitMethod::Related,
            rel,
        ),
    ];
    hits[0].warninglists = vec!["w".into()];
    let out = events(Profile::Opencti, &ctx, hits, &ProfileOptions::default());
    assert_eq!(out.len(), 1);
    assert_decodable(Profile::Opencti, &out[0]);
    assert_fires(MISJE, &out[0], 100213);
    assert!(flatten(&out[0]).len() < 150, "{}", flatten(&out[0]).len());
}
