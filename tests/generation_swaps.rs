//! At least 1,000 `integrate` runs while `sync` keeps publishing new index generations:
//! every run must map a complete generation (no torn reads), find the one
//! indicator present in all of them and send exactly one event; generations
//! no reader holds any more are removed by the next sync.
//!
//! The intel uses public-looking values (no documentation ranges), so the
//! default extraction settings apply.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

const RUNS: usize = 1_000;
/// The runs go on until this many generations were published meanwhile.
const PUBLICATIONS: u64 = 5;
const RUNNERS: usize = 2;
/// The indicator every generation holds; the alert's destination.
const C2: &str = "185.220.101.47";

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(keep: usize, grace_secs: u64) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ossec");
        for d in ["queue/sockets", "logs"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                r#"data_dir = "data"
[wazuh]
home = "{}"
[sync]
generations_keep = {keep}
generation_grace_secs = {grace_secs}
[[sources]]
name = "blocklist"
type = "list"
path = "intel/list.txt"
"#,
                home.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("intel")).unwrap();
        let site = Site { dir };
        site.write_list(0);
        site
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The list of round `round`: the C2 address plus `round` other addresses,
    /// so that every generation differs from the one before.
    fn write_list(&self, round: u32) {
        let mut text = format!("{C2}\n");
        for i in 0..round {
            text.push_str(&format!(
                "45.{}.{}.{}\n",
                10 + i / 65_536,
                (i / 256) % 256,
                i % 256
            ));
        }
        std::fs::write(self.path("intel/list.txt"), text).unwrap();
    }

    fn sync(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_intelmatch"))
            .arg("--config")
            .arg(self.path("intelmatch.toml"))
            .args(["-q", "sync"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sync: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn generations(&self) -> Vec<String> {
        let mut gens: Vec<String> = std::fs::read_dir(self.path("data/index"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("gen-"))
            .collect();
        gens.sort();
        gens
    }

    fn current(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("data/index/CURRENT")).unwrap()).unwrap()
    }
}

/// A Sysmon EID 3 connection to the C2 address.
fn alert() -> Vec<u8> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/sysmon-eid3-ipv4.json");
    let mut a: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    a["data"]["win"]["eventdata"]["destinationIp"] = Value::from(C2);
    let mut b = a.to_string().into_bytes();
    b.push(b'\n');
    b
}

#[test]
fn integrate_runs_during_swaps_with_old_generations_kept_while_read() {
    let site = Arc::new(Site::new(2, 3600));
    swaps(&site);
}

/// The harshest cleanup: each sync removes the previous generation at once,
/// even while runs are still opening or reading it.
#[test]
fn integrate_runs_during_swaps_with_generations_removed_under_readers() {
    let site = Arc::new(Site::new(1, 0));
    swaps(&site);
    assert_eq!(site.generations().len(), 1, "{:?}", site.generations());
}

/// Runs `integrate` until at least [`RUNS`] runs and [`PUBLICATIONS`]
/// publications happened, and checks every run and every event.
fn swaps(site: &Arc<Site>) {
    site.sync();
    let first = site.current()["generation"].as_u64().unwrap();

    let queue = UnixDatagram::bind(site.path("ossec/queue/sockets/queue")).unwrap();
    queue
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let runs_over = Arc::new(AtomicBool::new(false));
    let collector = {
        let runs_over = Arc::clone(&runs_over);
        thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 70_000];
            loop {
                match queue.recv(&mut buf) {
                    Ok(n) => got.push(String::from_utf8(buf[..n].to_vec()).unwrap()),
                    // Quiet after the last run: every event has arrived.
                    Err(_) if runs_over.load(Ordering::Relaxed) => break,
                    Err(_) => {}
                }
            }
            got
        })
    };

    let published = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (site, runs_over, published) = (
            Arc::clone(site),
            Arc::clone(&runs_over),
            Arc::clone(&published),
        );
        thread::spawn(move || {
            let mut round = 0;
            // Bounded: at most 500 publications, whatever the runners do.
            while !runs_over.load(Ordering::Relaxed) && round < 500 {
                round += 1;
                site.write_list(round * 7);
                site.sync();
                published.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let alert_file = site.path("alert.json");
    std::fs::write(&alert_file, alert()).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let runners: Vec<_> = (0..RUNNERS)
        .map(|_| {
            let (site, alert_file) = (Arc::clone(site), alert_file.clone());
            let (runs, published) = (Arc::clone(&runs), Arc::clone(&published));
            thread::spawn(move || {
                let mut failures = Vec::new();
                // Bounded too: 20,000 runs at most.
                while (runs.load(Ordering::Relaxed) < RUNS
                    || published.load(Ordering::Relaxed) < PUBLICATIONS)
                    && runs.fetch_add(1, Ordering::Relaxed) < 20_000
                {
                    let out = Command::new(env!("CARGO_BIN_EXE_intelmatch"))
                        .arg("integrate")
                        .arg(&alert_file)
                        .env("INTELMATCH_CONFIG", site.path("intelmatch.toml"))
                        .env_remove("RUST_LOG")
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures.push(format!(
                            "{}: {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = runners
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    runs_over.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    let events = collector.join().unwrap();
    let runs = runs.load(Ordering::Relaxed).min(20_000);

    assert!(
        failures.is_empty(),
        "{} failed runs: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    let published = site.current()["generation"].as_u64().unwrap() - first;
    assert!(runs >= RUNS, "{runs} runs");
    assert!(
        published >= PUBLICATIONS,
        "{published} generations published"
    );
    assert_eq!(events.len(), runs, "one event per run");
    for e in &events {
        let payload = &e[e.find(":{").expect("location then payload") + 1..];
        let event: Value = serde_json::from_str(payload).unwrap_or_else(|err| panic!("{err}: {e}"));
        assert_eq!(event["intelmatch"]["match"]["value"], C2, "{e}");
        assert_eq!(
            event["intelmatch"]["indicator"]["source"], "blocklist",
            "{e}"
        );
    }
    eprintln!("{runs} integrate runs, 0 failed, while {published} generations were published");
}
