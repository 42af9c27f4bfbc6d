//! `watch` throughput: typical Sysmon alerts (1.5–2.2 KB) from a file to the
//! queue socket against a 1M-indicator generation, one watcher process (one
//! core). 1 alert in 100 hits.
//!
//! ```text
//! cargo build --release
//! INTELMATCH_BIN=target/x86_64-unknown-linux-gnu/release/intelmatch \
//!     cargo bench --bench watch [-- ALERTS]
//! ```

#[path = "support/queue.rs"]
mod queue;
#[path = "support/site.rs"]
mod site;
#[path = "support/synth.rs"]
mod synth;

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

const N: u64 = 1_000_000;

fn main() {
    let alerts: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let index = synth::index_dir(N);
    let site::Site { home, config, .. } = site::Site::new(
        "bench-watch",
        &index,
        &["queue/sockets", "logs/alerts", "var/run"],
    );
    let hit_ip = site::public_ipv4();
    let templates = [
        site::fixture("sysmon-eid3-ipv4.json"),
        site::fixture("sysmon-eid22-cname.json"),
        site::fixture("sysmon-eid1-two-groups.json"),
        site::fixture("sysmon-eid7-image-load.json"),
    ];
    let file = home.join("logs/alerts/alerts.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let mut bytes = 0usize;
    for i in 0..alerts {
        let mut a = templates[i % templates.len()].clone();
        a["id"] = json!(format!("1764669600.{i}"));
        if i % 100 == 0 {
            a = templates[0].clone();
            a["id"] = json!(format!("1764669600.{i}"));
            a["data"]["win"]["eventdata"]["destinationIp"] = json!(hit_ip);
        }
        let line = a.to_string();
        bytes += line.len() + 1;
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
    drop(out);

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
        "watch: {alerts} alerts ({:.0} B average) in {secs:.2} s on one core: {:.0} alerts/s, {received} events sent",
        bytes as f64 / alerts as f64,
        alerts as f64 / secs
    );
}
