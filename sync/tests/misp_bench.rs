//! Benchmark: a full sync of 1M attributes (1,000 events × 1,000) from the
//! stand-in MISP server into a fresh store, pages of 5,000. Ignored by
//! default; run it optimised:
//!
//! ```sh
//! cargo test --profile bench -p intelmatch-sync --test misp_bench -- --ignored --nocapture
//! MISP_BENCH_ATTRIBUTES=100000 cargo test ...   # a smaller run
//! ```
//!
//! The time covers the whole client side (HTTP, JSON decode, filters,
//! normalisation, SQLite commits, reconciliation state) plus the stand-in
//! serialising the pages on the same machine. Values are generated from the
//! documentation range 198.51.0.0/16-style space and `.example` names.

#[path = "support/misp_server.rs"]
mod misp_server;

use std::time::Instant;

use misp_server::{MispServer, KEY};
use store::config::MispConfig;
use store::sources::misp::MispSource;
use store::{run_source, ObjectType, RunOptions, Secret, Store};

#[tokio::test]
#[ignore = "benchmark: run with --ignored, optimised"]
async fn full_sync_of_a_million_attributes() {
    let total: usize = std::env::var("MISP_BENCH_ATTRIBUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let per_event = 1000.min(total);
    let events = total / per_event;
    let server = MispServer::start();
    {
        let mut w = server.world();
        for e in 0..events {
            let id = w.add_event(&format!("bench event {e}"), true);
            for i in 0..per_event {
                let n = e * per_event + i;
                let (kind, value) = match n % 4 {
                    0 => (
                        "ip-dst",
                        format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255),
                    ),
                    1 => ("domain", format!("host{n}.bench.example")),
                    2 => ("sha256", format!("{n:064x}")),
                    _ => ("url", format!("http://bench.example/p/{n}")),
                };
                w.add_attr(id, kind, &value, true);
            }
            w.publish(id);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("store.sqlite")).unwrap();
    let mut cfg = MispConfig::new(server.url.clone(), Secret::literal(KEY));
    cfg.mirror_warninglists = false;
    let mut src = MispSource::new("misp", &cfg);
    let started = Instant::now();
    let report = run_source(&mut store, &mut src, RunOptions::default())
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let live = store.live_count("misp", ObjectType::Indicator).unwrap();
    assert_eq!(live as usize, events * per_event);
    server.world().log.clear();
    println!(
        "full MISP sync: {live} attributes, {} pages, {secs:.1} s ({:.0} attributes/s)",
        report.pages,
        live as f64 / secs
    );
    println!(
        "of which the stand-in building pages: {:.1} s",
        server.world().search_time.as_secs_f64()
    );
    // A second sync of an unchanged server: one index call.
    let started = Instant::now();
    run_source(&mut store, &mut src, RunOptions::default())
        .await
        .unwrap();
    println!(
        "unchanged re-sync: {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
