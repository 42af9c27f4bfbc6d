//! Lookup and open benchmarks over synthetic generations.
//!
//! `cargo bench --bench index` uses a 1M-item generation; set
//! `INTELMATCH_BENCH_N=10000000` for the 10M figures (the generation is built
//! once under `target/` and reused).

#[path = "support/synth.rs"]
mod synth;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use matcher::index::Index;
use matcher::lookup::{Lookup, LookupOptions, WarninglistMode};
use matcher::{KeyMethod, Kind};

fn size() -> u64 {
    std::env::var("INTELMATCH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn lookups(c: &mut Criterion) {
    let n = size();
    let dir = synth::index_dir(n);
    let index = Index::open(&dir).unwrap();
    let keys = synth::sample_keys(n, (n / 20_000).max(1));
    let opts = LookupOptions {
        warninglists: WarninglistMode::Off,
        ..LookupOptions::default()
    };
    let mut group = c.benchmark_group(format!("lookup/{n}"));
    for kind in [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Domain,
        Kind::Url,
        Kind::Sha256,
        Kind::Md5,
    ] {
        let mine: Vec<_> = keys
            .iter()
            .filter(|k| k.kind == kind && k.method == KeyMethod::Exact)
            .map(|k| k.key.clone())
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut l = Lookup::new(&index, opts.clone());
        let mut i = 0;
        group.bench_function(BenchmarkId::new("hit", kind.as_str()), |b| {
            b.iter(|| {
                i = (i + 1) % mine.len();
                black_box(l.value(kind, &mine[i]).hits.len())
            })
        });
    }
    // Misses: fresh random values of each kind.
    let mut rng = synth::Rng::new(7);
    let v4: Vec<String> = (0..10_000)
        .map(|_| synth::ipv4(&mut rng).to_string())
        .collect();
    let doms: Vec<String> = (0..10_000)
        .map(|_| format!("www.{}", synth::domain(&mut rng)))
        .collect();
    let mut l = Lookup::new(&index, opts.clone());
    let mut i = 0;
    group.bench_function(BenchmarkId::new("miss", "ipv4"), |b| {
        b.iter(|| {
            i = (i + 1) % v4.len();
            black_box(l.value(Kind::Ipv4, &v4[i]).hits.len())
        })
    });
    group.bench_function(BenchmarkId::new("miss", "domain_with_parents"), |b| {
        b.iter(|| {
            i = (i + 1) % doms.len();
            black_box(l.value(Kind::Domain, &doms[i]).hits.len())
        })
    });
    // The raw prefix-table probe (addresses parsed beforehand), without
    // postings or record filtering: random addresses (mostly misses, some
    // inside a network) and indicator addresses (hits).
    let mut out = Vec::new();
    let random: Vec<std::net::IpAddr> = v4.iter().map(|a| a.parse().unwrap()).collect();
    group.bench_function(BenchmarkId::new("ip_prefix_table", "ipv4"), |b| {
        b.iter(|| {
            i = (i + 1) % random.len();
            out.clear();
            index.ip(random[i], 32, &mut out);
            black_box(out.len())
        })
    });
    let known: Vec<std::net::IpAddr> = keys
        .iter()
        .filter(|k| k.kind == Kind::Ipv4 && k.method == KeyMethod::Exact)
        .map(|k| k.key.parse().unwrap())
        .collect();
    group.bench_function(BenchmarkId::new("ip_prefix_table", "ipv4_hit"), |b| {
        b.iter(|| {
            i = (i + 1) % known.len();
            out.clear();
            index.ip(known[i], 32, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

fn open(c: &mut Criterion) {
    let n = size();
    let dir = synth::index_dir(n);
    c.bench_function(&format!("open/{n}"), |b| {
        b.iter(|| black_box(Index::open(&dir).unwrap().generation()))
    });
}

criterion_group!(benches, lookups, open);
criterion_main!(benches);
