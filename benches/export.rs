//! CDB export time and size for a synthetic store-sized input, outside
//! criterion (one 10M run is the figure).
//!
//! `cargo bench --bench export -- 10000000`. Feeds the synthetic items of
//! `support/synth.rs` (the compile bench's mix: 5 % of them IPv4 networks
//! /16../28, expanded to octet prefixes or addresses) straight into the
//! exporter, so the figure is the export itself, not the SQLite read. Runs the
//! export twice: the first writes every list, the second finds them unchanged
//! and writes nothing. Prints wall time, peak RSS and the lists' total size.

#[path = "support/synth.rs"]
mod synth;
#[path = "support/usage.rs"]
mod usage;

use std::time::Instant;

use store::export::{ExportOptions, ExportSummary, Exporter};
use usage::peak_rss_mib;

fn export(n: u64, out: &std::path::Path) -> (f64, f64, ExportSummary) {
    let start = Instant::now();
    let mut ex = Exporter::new(ExportOptions::default());
    let mut rng = synth::Rng::new(42);
    for i in 0..n {
        let (r, k) = synth::item(&mut rng, i);
        ex.add(&r, &k);
    }
    let collected = start.elapsed().as_secs_f64();
    let summary = ex.finish(out).unwrap();
    (collected, start.elapsed().as_secs_f64(), summary)
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let out = std::env::temp_dir().join(format!("intelmatch-export-bench-{}", std::process::id()));
    for run in ["first", "unchanged"] {
        let (collected, secs, s) = export(n, &out);
        let lines: u64 = s.lists.iter().map(|l| l.lines).sum();
        let bytes: u64 = s.lists.iter().map(|l| l.bytes).sum();
        let written = s.lists.iter().filter(|l| l.written).count();
        println!(
            "export {n} items ({run}): {secs:.1} s ({collected:.1} s collecting), peak RSS {:.0} MiB, \
             {lines} lines, {:.0} MiB in {} lists ({written} written), {} networks -> {} keys",
            peak_rss_mib(),
            bytes as f64 / (1024.0 * 1024.0),
            s.lists.len(),
            s.networks_expanded,
            s.network_keys
        );
        for l in &s.lists {
            println!(
                "  {:18} {:>10} lines {:>8.1} MiB",
                l.name,
                l.lines,
                l.bytes as f64 / (1024.0 * 1024.0)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
