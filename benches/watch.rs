//! `watch` throughput: alerts from a file to the queue socket against a
//! 1M-indicator generation, one watcher process pinned to one core, 1 alert in
//! 100 hitting. Two mixes:
//!
//! - `typical`: every sample alert of `tests/fixtures/alerts/` in turn (Sysmon,
//!   Suricata, sshd, syscheck, web, firewall, cloud modules…), 1.7 KB on average;
//! - `sysmon`: four Sysmon alerts (network, DNS, process, image load), 2.2 KB.
//!
//! The file is read once before the clock starts: an `alerts.json` that
//! analysisd has just written sits in the page cache.
//!
//! ```text
//! cargo build --release
//! INTELMATCH_BIN=target/x86_64-unknown-linux-gnu/release/intelmatch \
//!     cargo bench --bench watch [-- ALERTS] [typical|sysmon]
//! ```

#[path = "support/queue.rs"]
mod queue;
#[path = "support/site.rs"]
mod site;
#[path = "support/synth.rs"]
mod synth;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

const N: u64 = 1_000_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let alerts: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(300_000);
    let mixes: Vec<&str> = match args.iter().find(|a| *a == "typical" || *a == "sysmon") {
        Some(m) => vec![m.as_str()],
        None => vec!["typical", "sysmon"],
    };
    let index = synth::index_dir(N);
    for mix in mixes {
        run(mix, &templates(mix), alerts, &index);
    }
}

fn templates(mix: &str) -> Vec<Value> {
    if mix == "sysmon" {
        return [
            "sysmon-eid3-ipv4.json",
            "sysmon-eid22-cname.json",
            "sysmon-eid1-two-groups.json",
            "sysmon-eid7-image-load.json",
        ]
        .iter()
        .map(|n| site::fixture(n))
        .collect();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names.iter().map(|n| site::fixture(n)).collect()
}

fn run(mix: &str, templates: &[Value], alerts: usize, index: &Path) {
    let site::Site { home, config, .. } = site::Site::new(
        "bench-watch",
        index,
        &["queue/sockets", "logs/alerts", "var/run"],
    );
    let hit_ip = site::public_ipv4();
    let hit = site::fixture("sysmon-eid3-ipv4.json");
    let file = home.join("logs/alerts/alerts.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let mut bytes = 0usize;
    for i in 0..alerts {
        let mut a = if i % 100 == 0 {
            let mut a = hit.clone();
            a["data"]["win"]["eventdata"]["destinationIp"] = json!(hit_ip);
            a
        } else {
            templates[i % templates.len()].clone()
        };
        a["id"] = json!(format!("1764669600.{i}"));
        let line = a.to_string();
        bytes += line.len() + 1;
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    warm(&file);

    let queue = queue::Queue::bind(&home.join("queue/sockets/queue"));
    let bin = std::env::var("INTELMATCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_intelmatch").to_string());
    let start = Instant::now();
    let status = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&bin)
        .arg("--config")
        .arg(&config)
        .args(["-q", "watch", "--until-idle"])
        .status()
        .expect("taskset (util-linux) and the binary are needed");
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success());
    let received = queue.finish();
    println!(
        "watch, {mix} mix of {} alerts: {alerts} alerts ({:.0} B average) in {secs:.2} s on one core: {:.0} alerts/s, {received} events sent",
        templates.len(),
        bytes as f64 / alerts as f64,
        alerts as f64 / secs
    );
}

/// Reads `file` once, into the page cache.
fn warm(file: &Path) {
    let mut f = std::fs::File::open(file).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
}
