//! The per-alert path end to end, as integratord pays for it: spawn the binary,
//! map a 1M-indicator generation, extract, match and send one datagram to a
//! bound queue socket, timed by hyperfine against spawning `/bin/true` in the
//! same run, both as `intelmatch integrate` and as the installed
//! `custom-intelmatch` copy.
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
#[path = "support/site.rs"]
mod site;
#[path = "support/synth.rs"]
mod synth;

use std::process::Command;

use serde_json::{json, Value};

const N: u64 = 1_000_000;

fn main() {
    let index = synth::index_dir(N);
    let site::Site { root, home, config } =
        site::Site::new("bench-e2e", &index, &["queue/sockets", "logs", "var/run"]);
    let options = root.join("custom-intelmatch-1-1.options");
    std::fs::write(&options, json!({"config": config}).to_string()).unwrap();

    let mut alert = site::fixture("sysmon-eid3-ipv4.json");
    alert["data"]["win"]["eventdata"]["destinationIp"] = json!(site::public_ipv4());
    let alert_file = root.join("custom-intelmatch-1-1.alert");
    std::fs::write(&alert_file, format!("{alert}\n")).unwrap();

    let queue = queue::Queue::bind(&home.join("queue/sockets/queue"));

    let bin = std::env::var("INTELMATCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_intelmatch").to_string());
    // As installed on a manager: a copy named custom-*, argv exactly integratord's.
    let installed = root.join("custom-intelmatch");
    let _ = std::fs::remove_file(&installed);
    std::fs::copy(&bin, &installed).unwrap();
    let argv = format!(
        "{} '' '' '' {} 10 3",
        alert_file.display(),
        options.display()
    );
    let integrate = format!("{bin} integrate {argv}");
    let custom = format!("{} {argv}", installed.display());
    let export = root.join("hyperfine.json");
    let status = Command::new("hyperfine")
        .args(["-N", "--warmup", "100", "--runs", "2000", "--export-json"])
        .arg(&export)
        .arg("/bin/true")
        .arg(&integrate)
        .arg(&custom)
        .status()
        .expect("hyperfine not found: apt-get install hyperfine");
    assert!(status.success());
    let received = queue.finish();

    let results: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let median = |i: usize| results["results"][i]["median"].as_f64().unwrap() * 1e6;
    let (t, m, c) = (median(0), median(1), median(2));
    println!(
        "\nmedians: /bin/true {t:.0} µs; intelmatch integrate {m:.0} µs (ratio {:.2}); \
         custom-intelmatch {c:.0} µs (ratio {:.2}); {received} datagrams received",
        m / t,
        c / t,
    );
}
