//! Compile time and peak RSS of a synthetic generation, outside criterion
//! (a 10M build runs for tens of seconds; one run is the figure).
//!
//! `cargo bench --bench compile -- 1000000` (or `10000000`). Prints wall time,
//! peak RSS of the process (getrusage), and the generation size.

#[path = "support/synth.rs"]
mod synth;
#[path = "support/usage.rs"]
mod usage;

use usage::{cpu_secs, peak_rss_mib};

use std::time::Instant;

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let root =
        std::env::temp_dir().join(format!("intelmatch-compile-bench-{}", std::process::id()));
    let start = Instant::now();
    let mut b = matcher::index::IndexBuilder::new(&root).unwrap();
    let mut rng = synth::Rng::new(42);
    // Generate in batches so the synthetic generator's own time can be told apart.
    let mut synth_secs = 0.0;
    let mut batch = Vec::with_capacity(4096);
    let mut i = 0;
    while i < n {
        let t = Instant::now();
        batch.clear();
        while batch.len() < 4096 && i < n {
            batch.push(synth::item(&mut rng, i));
            i += 1;
        }
        synth_secs += t.elapsed().as_secs_f64();
        for (r, k) in &batch {
            b.add(r, k).unwrap();
        }
    }
    let meta = b.finish().unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "wall {secs:.1} s (of which synthetic generation {synth_secs:.1} s), CPU {:.1} s",
        cpu_secs()
    );
    let size = meta.total_size() as f64 / (1024.0 * 1024.0);
    println!(
        "compile {n} items: {secs:.1} s, peak RSS {:.0} MiB, generation {size:.0} MiB (records {}, exact {}, domains {}, ip v4 {} v6 {})",
        peak_rss_mib(),
        meta.records,
        meta.exact_keys,
        meta.domain_keys,
        meta.ip.v4_entries,
        meta.ip.v6_entries
    );
    println!("phases (ms): {:?}", meta.build_ms);
    let mut files: Vec<_> = meta.files.iter().collect();
    files.sort_by_key(|f| std::cmp::Reverse(*f.1));
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let files: Vec<String> = files
        .iter()
        .map(|(n, b)| format!("{n} {:.0} MiB", mib(**b)))
        .collect();
    println!("files: {}", files.join(", "));
    let _ = std::fs::remove_dir_all(&root);
}
