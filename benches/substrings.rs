//! Substring indicators at scale (issue 22): a generation holding N
//! `LIKE '%…%'` patterns (default 200,000), built straight with the index
//! builder, so without the compiler's cap. Measures:
//!
//! - criterion: one alert as a fresh `integrate` process matches it (open the
//!   generation, match, render), and one alert in a resident process;
//! - the real binary: `integrate` run K times (default 50) on the same alert,
//!   median wall time and median peak RSS of one run (from `wait4`, spawned
//!   by a fresh copy of this bench so that its own memory does not count).
//!
//! ```text
//! cargo bench --bench substrings             # 200,000 patterns, 50 runs
//! INTELMATCH_BENCH_SUBSTRINGS=10000 INTELMATCH_BENCH_RUNS=20 cargo bench --bench substrings
//! ```

#[path = "support/queue.rs"]
mod queue;
#[path = "support/site.rs"]
mod site;
#[path = "support/synth.rs"]
mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::Criterion;
use intelmatch::wazuh::enrich::Enricher;
use intelmatch::wazuh::extract::{parse_alert, ExtractOptions};
use intelmatch::wazuh::profile::{self, AlertContext, Profile, ProfileOptions};
use matcher::index::{Index, IndexBuilder};
use matcher::lookup::LookupOptions;
use matcher::{KeyMethod, Kind, MatchKey, Record};
use serde_json::json;

/// The pattern the hit alert's command line and URL contain.
const HIT_PATTERN: &str = "/a/stage2.ps1";

/// `target/bench-substrings-<n>`: n substring patterns, one record each.
fn index_dir(n: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("bench-substrings-{n}"));
    if Index::open(&root).is_ok_and(|i| i.meta().records == n) {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    let mut b = IndexBuilder::new(&root).unwrap();
    let mut rng = synth::Rng::new(22);
    for i in 0..n {
        let text = if i == 0 {
            HIT_PATTERN.to_string()
        } else {
            // Path pieces as feeds publish them: `/<word><n>/<word>.php`.
            let d = synth::domain(&mut rng);
            let word = d.split('.').next().unwrap_or("x");
            format!("/{word}{i}/{}.php", &d[..d.len().min(6)])
        };
        let record = Record {
            source: "bench".into(),
            source_type: "stix".into(),
            id: format!("indicator--{i:08}"),
            name: format!("substring {i}"),
            pattern: Some(format!("[url:value LIKE '%{text}%']")),
            pattern_type: Some("stix".into()),
            score: Some(70),
            ..Record::default()
        };
        let key = MatchKey::new(Kind::Url, text, KeyMethod::Substring);
        b.add(&record, &[key]).unwrap();
    }
    b.finish().unwrap();
    root
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn in_process(c: &mut Criterion, dir: &Path, n: u64, hit: &[u8], miss: &[u8]) {
    let run = |enricher: &mut Enricher<'_>, bytes: &[u8]| {
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
    // What one `integrate` process does after exec: open, match one alert.
    let fresh = |bytes: &[u8]| {
        let index = Index::open(dir).unwrap();
        let mut e = Enricher::new(&index, LookupOptions::default(), ExtractOptions::default());
        run(&mut e, bytes)
    };
    assert!(fresh(hit) >= 1, "the hit alert must hit {HIT_PATTERN}");
    assert_eq!(fresh(miss), 0);

    let mut g = c.benchmark_group(format!("substrings_{n}"));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("fresh_process_hit", |b| b.iter(|| fresh(hit)));
    g.bench_function("fresh_process_miss", |b| b.iter(|| fresh(miss)));
    let index = Index::open(dir).unwrap();
    let mut e = Enricher::new(&index, LookupOptions::default(), ExtractOptions::default());
    g.bench_function("resident_hit", |b| b.iter(|| run(&mut e, hit)));
    g.bench_function("resident_miss", |b| b.iter(|| run(&mut e, miss)));
    g.finish();
}

/// Runs `integrate` `runs` times; prints the median wall time and peak RSS.
fn binary(dir: &Path, n: u64, runs: usize, hit: &[u8]) {
    let site::Site { root, home, config } = site::Site::new(
        &format!("bench-substrings-site-{n}"),
        dir,
        &["queue/sockets", "logs", "var/run"],
    );
    let options = root.join("custom-intelmatch-1-1.options");
    std::fs::write(&options, json!({"config": config}).to_string()).unwrap();
    let alert = root.join("custom-intelmatch-1-1.alert");
    std::fs::write(&alert, hit).unwrap();
    let queue = queue::Queue::bind(&home.join("queue/sockets/queue"));
    let bin = std::env::var("INTELMATCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_intelmatch").to_string());
    // A child's peak RSS includes its parent's up to the exec, and this
    // process is large by now: a fresh copy of it spawns the runs.
    let out = Command::new(std::env::current_exe().unwrap())
        .env(
            SPAWNER,
            format!("{bin}\n{}\n{}\n{runs}", alert.display(), options.display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut walls, mut rss): (Vec<f64>, Vec<f64>) = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(w, r)| (w.parse::<f64>().unwrap(), r.parse::<f64>().unwrap()))
        .unzip();
    assert_eq!(walls.len(), runs);
    let received = queue.finish();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\nintegrate, {n} substring patterns, {runs} runs: median wall {:.2} ms, \
         median peak RSS {:.1} MiB; {received} datagrams received",
        median(&mut walls),
        median(&mut rss)
    );
}

/// Set (to `bin\nalert\noptions\nruns`) when this bench runs as the spawner.
const SPAWNER: &str = "INTELMATCH_BENCH_SPAWNER";

/// Runs integrate as told by [`SPAWNER`]; prints `wall_ms peak_rss_mib` per run.
fn spawn_runs(spec: &str) {
    let [bin, alert, options, runs] = spec.lines().collect::<Vec<_>>()[..] else {
        panic!("{SPAWNER}: {spec}");
    };
    for _ in 0..runs.parse::<usize>().unwrap() {
        let started = Instant::now();
        // Reaped by wait4 below, which also gives its peak RSS.
        #[allow(clippy::zombie_processes)]
        let child = Command::new(bin)
            .arg("integrate")
            .arg(alert)
            .args(["", "", ""])
            .arg(options)
            .spawn()
            .unwrap();
        let mut status = 0;
        // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        let wall = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(pid, child.id() as i32);
        assert_eq!(status, 0, "integrate failed");
        println!("{wall} {}", usage.ru_maxrss as f64 / 1024.0);
    }
}

fn main() {
    if let Ok(spec) = std::env::var(SPAWNER) {
        return spawn_runs(&spec);
    }
    let n = env_or("INTELMATCH_BENCH_SUBSTRINGS", 200_000);
    let runs = env_or("INTELMATCH_BENCH_RUNS", 50) as usize;
    let dir = index_dir(n);
    let hit = site::fixture("sysmon-eid1-process-create.json").to_string();
    let miss = hit.replace("stage2", "stage3");
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c, &dir, n, hit.as_bytes(), miss.as_bytes());
    c.final_summary();
    binary(&dir, n, runs, format!("{hit}\n").as_bytes());
}
