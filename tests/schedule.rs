//! `sync --schedule`: two resident schedulers firing every second and manual
//! syncs in between never run a sync at the same time (the sync lock), and
//! SIGTERM stops a scheduler cleanly with its state written for `status`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

const BIN: &str = env!("CARGO_BIN_EXE_intelmatch");

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let mut list = String::new();
    for i in 0..3_000u32 {
        // Public-looking addresses in 45.0.0.0/8, enough for a sync to take a moment.
        list.push_str(&format!("45.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
    }
    std::fs::write(dir.join("list.txt"), list).unwrap();
    let p = dir.join("intelmatch.toml");
    std::fs::write(
        &p,
        "data_dir = \"data\"\n[sync]\njitter_secs = 0\n[[sources]]\nname = \"list\"\ntype = \"list\"\npath = \"list.txt\"\n",
    )
    .unwrap();
    p
}

fn scheduler(cfg: &std::path::Path) -> Child {
    Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(["sync", "--full", "--schedule", "* * * * * *"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// (start, end) of every sync in a process's log: from its first "sync started"
/// to "index generation published".
fn runs(log: &str) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let ts = |l: &str| {
        l.split_whitespace()
            .next()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    };
    let mut out = Vec::new();
    let mut open = None;
    for line in log.lines() {
        if line.contains("sync started") && open.is_none() {
            open = ts(line);
        } else if line.contains("index generation published") {
            if let (Some(s), Some(e)) = (open.take(), ts(line)) {
                out.push((s, e));
            }
        }
    }
    out
}

#[test]
fn two_schedulers_and_a_manual_sync_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let a = scheduler(&cfg);
    let b = scheduler(&cfg);
    let mut logs = Vec::new();
    let start = Instant::now();
    let mut manual_ok = 0;
    // Long enough for both schedulers to fire while manual syncs run; longer on
    // a loaded machine.
    while start.elapsed() < Duration::from_secs(8)
        || (manual_ok < 2 && start.elapsed() < Duration::from_secs(90))
    {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .args(["sync", "--full"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            manual_ok += 1;
        } else {
            assert!(err.contains("another sync is running"), "{err}");
        }
        logs.push(err);
        std::thread::sleep(Duration::from_millis(300));
    }
    for child in [a, b] {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut all: Vec<_> = logs.iter().flat_map(|l| runs(l)).collect();
    all.sort();
    assert!(manual_ok >= 2);
    assert!(all.len() >= 2, "{} runs in {logs:#?}", all.len());
    for w in all.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "overlapping syncs: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    assert!(
        logs.iter().any(|l| l.contains("scheduled sync skipped")),
        "the lock was never contended"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/scheduler.json")).unwrap())
            .unwrap();
    assert_eq!(state["state"], "stopped");
    assert!(state["runs"].as_u64().unwrap() >= 1);
}

#[test]
fn a_bad_schedule_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["sync", "--schedule", "every hour"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--schedule"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
