//! OpenCTI sync benchmark against the stand-in server (tests/support):
//!
//! 1. a full sync of N indicators (default 1,000,000) from an empty store:
//!    wall time, the client's CPU time and share (the client runs on the main
//!    thread; the stand-in on its own threads), items per second;
//! 2. the first index generation (compile) of that store;
//! 3. an incremental sync of 1,000 changed indicators over the N store,
//!    including the new index generation (target ≤ 10 s).
//!
//! `cargo bench -p intelmatch-sync --bench opencti_sync -- [N]`
//! (or `INTELMATCH_BENCH_N=N`). The stand-in plays 6.9.28 and validates every
//! query against the saved schema, as in the tests.

#[path = "../tests/support/opencti_server.rs"]
mod opencti_server;

use std::time::{Duration, Instant};

use opencti_server::{OpenCti, Play};
use store::compile::{compile, CompileOptions};
use store::config::OpenCtiConfig;
use store::sources::opencti::OpenCtiSource;
use store::{run_source, RunOptions, Secret, Store, SyncReport};

const TOKEN: &str = "bench-token-0000";
const CHANGES: usize = 1000;

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    cpu_of("/proc/thread-self/stat")
}

/// CPU time of the whole process (client and stand-in).
fn process_cpu() -> Duration {
    cpu_of("/proc/self/stat")
}

fn cpu_of(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at 3.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ = 100
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A public-looking IPv4 or domain for indicator `i`.
fn pattern(i: usize) -> String {
    if i % 5 < 3 {
        let n = i as u32;
        format!(
            "[ipv4-addr:value = '{}.{}.{}.{}']",
            11 + (n >> 24) % 100,
            (n >> 16) & 255,
            (n >> 8) & 255,
            n & 255
        )
    } else {
        format!("[domain-name:value = 'host{i}.bench-intel.net']")
    }
}

fn sync(
    store: &mut Store,
    cfg: &OpenCtiConfig,
    full: bool,
) -> (SyncReport, Duration, Duration, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut source = OpenCtiSource::new("cti", cfg).unwrap();
    let (cpu0, proc0, t0) = (thread_cpu(), process_cpu(), Instant::now());
    let opts = RunOptions {
        full,
        ..RunOptions::default()
    };
    let report = rt.block_on(run_source(store, &mut source, opts)).unwrap();
    (
        report,
        t0.elapsed(),
        thread_cpu() - cpu0,
        process_cpu() - proc0,
    )
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("INTELMATCH_BENCH_N").ok()?.parse().ok())
        .unwrap_or(1_000_000);
    println!("load before: {}", uptime());
    let server = OpenCti::start(Play::V6_9, TOKEN);
    let t = Instant::now();
    server.with(|s| {
        s.tick_ms = 1;
        for i in 0..n {
            s.add_compact_indicator(&format!("ind-{i:08}"), &pattern(i));
        }
    });
    println!(
        "stand-in filled with {n} indicators in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("store.sqlite")).unwrap();
    let mut cfg = OpenCtiConfig::new(server.url(), Secret::literal(TOKEN));
    cfg.page_size = OpenCtiConfig::DEFAULT_PAGE_SIZE;

    let (report, wall, cpu, proc_cpu) = sync(&mut store, &cfg, false);
    let secs = wall.as_secs_f64();
    println!(
        "full sync: {} indicators in {:.1} s ({:.0}/s, {} requests); client CPU {:.1} s = {:.0} % of wall; stand-in CPU {:.1} s",
        report.fetched,
        secs,
        report.fetched as f64 / secs,
        report.pages + 1,
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / secs,
        (proc_cpu.saturating_sub(cpu)).as_secs_f64()
    );
    println!("load after full sync: {}", uptime());

    let index_dir = dir.path().join("index");
    let t = Instant::now();
    let meta = compile(&store, &index_dir, &CompileOptions::default(), &[]).unwrap();
    println!(
        "first generation: {} records in {:.1} s",
        meta.records,
        t.elapsed().as_secs_f64()
    );

    // 1,000 indicators change on the server (a score decays, one is revoked...).
    let step = (n / CHANGES).max(1);
    let ids: Vec<String> = (0..n)
        .step_by(step)
        .take(CHANGES)
        .map(|i| format!("ind-{i:08}"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    server.with(|s| {
        s.clock_ms += 3_600_000; // an hour later
        s.update(&refs, |node| {
            node["x_opencti_score"] = serde_json::json!(42)
        });
    });
    let t = Instant::now();
    let (report, wall, cpu, _) = sync(&mut store, &cfg, false);
    let sync_secs = wall.as_secs_f64();
    let t2 = Instant::now();
    let meta = compile(&store, &index_dir, &CompileOptions::default(), &[]).unwrap();
    let compile_secs = t2.elapsed().as_secs_f64();
    println!(
        "incremental: {} fetched, {} updated in {:.2} s (client CPU {:.2} s) + new generation {} ({} records) in {:.1} s = {:.1} s total (target 10 s)",
        report.fetched,
        report.applied.updated,
        sync_secs,
        cpu.as_secs_f64(),
        meta.generation,
        meta.records,
        compile_secs,
        t.elapsed().as_secs_f64()
    );
    println!("load after: {}", uptime());
}
