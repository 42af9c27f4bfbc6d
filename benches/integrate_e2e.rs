//! The per-alert path end to end, as integratord pays for it: spawn the binary,
//! map a 1M-indicator generation, extract, match and send one datagram to a
//! bound queue socket, timed by hyperfine against spawning `/bin/true` in the
//! same run.
//!
//! ```text
//! cargo build --release
//! INTELMATCH_BIN=target/x86_64-unknown-linux-gnu/release/intelmatch \
//!     cargo bench --bench integrate_e2e
//! ```
//!
//! Needs hyperfine (Debian: `apt-get install hyperfine`). Without
//! `INTELMATCH_BIN` the bench profile's build of the binary is used.

#[path = "support/queue.rs"]
mod queue;
#[path = "support/synth.rs"]
mod synth;

use std::path::Path;
use std::process::Command;

use matcher::normalize::{self, AddrClass};
use matcher::Kind;
use serde_json::{json, Value};

const N: u64 = 1_000_000;

fn main() {
    let index = synth::index_dir(N);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-e2e");
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("ossec");
    for d in ["queue/sockets", "logs", "var/run"] {
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
    let options = root.join("custom-intelmatch-1-1.options");
    std::fs::write(&options, json!({"config": config}).to_string()).unwrap();

    let ip = synth::sample_keys(20_000, 1)
        .into_iter()
        .find(|k| {
            k.kind == Kind::Ipv4
                && !k.key.contains('/')
                && normalize::classify(k.key.parse().unwrap()) == AddrClass::Public
        })
        .unwrap()
        .key;
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/sysmon-eid3-ipv4.json");
    let mut alert: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    alert["data"]["win"]["eventdata"]["destinationIp"] = json!(ip);
    let alert_file = root.join("custom-intelmatch-1-1.alert");
    std::fs::write(&alert_file, format!("{alert}\n")).unwrap();

    let queue = queue::Queue::bind(&home.join("queue/sockets/queue"));

    let bin = std::env::var("INTELMATCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_intelmatch").to_string());
    let integrate = format!(
        "{bin} integrate {} '' '' '' {} 10 3",
        alert_file.display(),
        options.display()
    );
    let export = root.join("hyperfine.json");
    let status = Command::new("hyperfine")
        .args(["-N", "--warmup", "100", "--runs", "2000", "--export-json"])
        .arg(&export)
        .arg("/bin/true")
        .arg(&integrate)
        .status()
        .expect("hyperfine not found: apt-get install hyperfine");
    assert!(status.success());
    let received = queue.finish();

    let results: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let median = |i: usize| results["results"][i]["median"].as_f64().unwrap() * 1e6;
    let (t, m) = (median(0), median(1));
    println!(
        "\nmedian /bin/true {t:.0} µs, intelmatch integrate {m:.0} µs: ratio {:.2} ({} datagrams received)",
        m / t,
        received
    );
}
