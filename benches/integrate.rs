//! The per-alert work of `integrate` in process, against a 1M-indicator
//! generation: parse a typical 1.5–2 KB Sysmon alert, extract, look up,
//! decode the hit records and render the events. `cargo bench --bench integrate`.

#[path = "support/site.rs"]
mod site;
#[path = "support/synth.rs"]
mod synth;

use criterion::{criterion_group, criterion_main, Criterion};
use intelmatch::wazuh::enrich::Enricher;
use intelmatch::wazuh::extract::{parse_alert, ExtractOptions};
use intelmatch::wazuh::profile::{self, AlertContext, Profile, ProfileOptions};
use matcher::index::Index;
use matcher::lookup::LookupOptions;
use matcher::Kind;
use serde_json::json;

const N: u64 = 1_000_000;

/// A public IPv4 and a domain that the synthetic generation holds.
fn known_values() -> (String, String) {
    let domain = synth::sample_keys(20_000, 1)
        .into_iter()
        .find(|k| k.kind == Kind::Domain)
        .unwrap()
        .key;
    (site::public_ipv4(), domain)
}

fn bench(c: &mut Criterion) {
    let dir = synth::index_dir(N);
    let index = Index::open(&dir).unwrap();
    let (ip, domain) = known_values();

    let mut hit = site::fixture("sysmon-eid3-ipv4.json");
    hit["data"]["win"]["eventdata"]["destinationIp"] = json!(ip);
    hit["data"]["win"]["eventdata"]["destinationHostname"] = json!(format!("cdn.{domain}"));
    let hit = hit.to_string().into_bytes();
    let miss = site::fixture("sysmon-eid1-process-create.json")
        .to_string()
        .into_bytes();
    let dns = site::fixture("sysmon-eid22-cname.json")
        .to_string()
        .into_bytes();

    let mut enricher = Enricher::new(&index, LookupOptions::default(), ExtractOptions::default());
    let mut run = |bytes: &[u8]| {
        let alert = parse_alert(bytes).unwrap();
        let enriched = enricher.alert(&alert);
        if enriched.hits.is_empty() {
            return 0;
        }
        let owned = alert.to_value();
        let ctx = AlertContext::new(&owned);
        profile::events(
            Profile::Native,
            &ctx,
            enriched.hits,
            &ProfileOptions::default(),
        )
        .len()
    };
    assert_eq!(
        run(&hit),
        2,
        "the hit alert must hit the IP and the parent domain"
    );

    let mut g = c.benchmark_group("integrate_in_process_1M");
    g.bench_function(format!("sysmon_eid3_2_hits_{}B", hit.len()), |b| {
        b.iter(|| run(&hit))
    });
    g.bench_function(format!("sysmon_eid1_no_hit_{}B", miss.len()), |b| {
        b.iter(|| run(&miss))
    });
    g.bench_function(format!("sysmon_eid22_no_hit_{}B", dns.len()), |b| {
        b.iter(|| run(&dns))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
