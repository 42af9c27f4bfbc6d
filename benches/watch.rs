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
#[path = "support/synth.rs"]
mod synth;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use matcher::normalize::{self, AddrClass};
use matcher::Kind;
use serde_json::{json, Value};

const N: u64 = 1_000_000;

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn main() {
    let alerts: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let index = synth::index_dir(N);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-watch");
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("ossec");
    for d in ["queue/sockets", "logs/alerts", "var/run"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::os::unix::fs::symlink(&index, root.join("data/index")).unwrap();
    let config = root.join("intelmatch.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[wazuh]\nhome = \"{}\"\n",
            home.display()
        ),
    )
    .unwrap();

    let hit_ip = synth::sample_keys(20_000, 1)
        .into_iter()
        .find(|k| {
            k.kind == Kind::Ipv4
                && !k.key.contains('/')
                && normalize::classify(k.key.parse().unwrap()) == AddrClass::Public
        })
        .unwrap()
        .key;
    let templates = [
        fixture("sysmon-eid3-ipv4.json"),
        fixture("sysmon-eid22-cname.json"),
        fixture("sysmon-eid1-two-groups.json"),
        fixture("sysmon-eid7-image-load.json"),
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
