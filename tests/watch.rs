//! `intelmatch watch` as it runs on a manager: a resident process following an
//! alerts.json the test writes, rotates and truncates, sending to a datagram
//! socket the test binds. Hits are counted by the alert id each event carries.
//! The intel uses public-looking values, so the default settings apply.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_intelmatch");

struct Site {
    dir: tempfile::TempDir,
    queue: UnixDatagram,
    /// Alert id → events received.
    seen: BTreeMap<String, usize>,
}

impl Site {
    fn new(list: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ossec");
        for d in ["queue/sockets", "logs/alerts", "var/run"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(dir.path().join("list.txt"), list).unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"{}\"\n[[sources]]\nname = \"list\"\ntype = \"list\"\npath = \"list.txt\"\n",
                home.display()
            ),
        )
        .unwrap();
        let queue = UnixDatagram::bind(home.join("queue/sockets/queue")).unwrap();
        queue
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let s = Site {
            dir,
            queue,
            seen: BTreeMap::new(),
        };
        s.sync();
        s
    }

    fn sync(&self) {
        let out = self.cmd(&["-q", "sync"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(self.dir.path().join("intelmatch.toml"))
            .args(args);
        c
    }

    fn alerts(&self) -> PathBuf {
        self.dir.path().join("ossec/logs/alerts/alerts.json")
    }

    fn watch(&self) -> Child {
        self.cmd(&["-q", "watch"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    fn append(&self, from: usize, to: usize, ip: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.alerts())
            .unwrap();
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&alert(i, ip).to_string());
            buf.push('\n');
        }
        f.write_all(buf.as_bytes()).unwrap();
    }

    /// Receives until `total` distinct alerts were seen or `deadline` passed.
    fn collect(&mut self, total: usize, deadline: Duration) {
        let start = Instant::now();
        let mut buf = vec![0u8; 70_000];
        while self.seen.len() < total && start.elapsed() < deadline {
            if let Ok(n) = self.queue.recv(&mut buf) {
                let text = std::str::from_utf8(&buf[..n]).unwrap();
                let payload = &text[text.find(":{").unwrap() + 1..];
                let v: Value = serde_json::from_str(payload).unwrap();
                let id = v["intelmatch"]["source_alert"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                *self.seen.entry(id).or_default() += 1;
            }
        }
    }

    /// Whatever else arrives within `quiet`.
    fn settle(&mut self, quiet: Duration) {
        self.collect(usize::MAX, quiet);
    }

    fn duplicates(&self) -> usize {
        self.seen.values().map(|&c| c - 1).sum()
    }
}

/// A Sysmon network-connection alert to `ip`, numbered `i`.
fn alert(i: usize, ip: &str) -> Value {
    json!({
        "timestamp": "2026-12-02T10:00:00.000+0000",
        "rule": {"id": "92101", "level": 5, "description": "Sysmon network connection", "groups": ["windows", "sysmon", "sysmon_event3"]},
        "agent": {"id": "001", "name": "ws-01", "ip": "10.0.0.5"},
        "manager": {"name": "mgr"},
        "id": format!("1764669600.{i}"),
        "decoder": {"name": "windows_eventchannel"},
        "data": {"win": {
            "system": {"eventID": "3", "providerName": "Microsoft-Windows-Sysmon"},
            "eventdata": {"destinationIp": ip, "destinationPort": "443", "sourceIp": "10.0.0.5", "image": "C:\\\\Windows\\\\System32\\\\rundll32.exe"}
        }},
        "location": "EventChannel"
    })
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "watch exit {status}");
}

fn rotate(site: &Site, day: &str) -> PathBuf {
    let dir = site.dir.path().join("ossec/logs/alerts/2026/Dec");
    std::fs::create_dir_all(&dir).unwrap();
    let to = dir.join(format!("ossec-alerts-{day}.json"));
    std::fs::rename(site.alerts(), &to).unwrap();
    to
}

const C2: &str = "185.220.101.47";

#[test]
fn rotation_in_the_middle_of_a_burst_loses_nothing() {
    let mut site = Site::new("185.220.101.47\n");
    site.append(0, 1, C2);
    let w = site.watch();
    site.collect(1, Duration::from_secs(30));
    site.append(1, 3000, C2);
    let rotated = rotate(&site, "02");
    // Wazuh compresses the rotated file later; the watcher holds it open.
    site.append(3000, 6000, C2);
    site.collect(6000, Duration::from_secs(60));
    std::fs::remove_file(rotated).unwrap();
    site.append(6000, 6100, C2);
    site.collect(6100, Duration::from_secs(30));
    site.settle(Duration::from_millis(300));
    stop(w);
    assert_eq!(site.seen.len(), 6100);
    assert_eq!(site.duplicates(), 0);
}

#[test]
fn truncation_starts_over() {
    let mut site = Site::new("185.220.101.47\n");
    site.append(0, 50, C2);
    let w = site.watch();
    site.collect(50, Duration::from_secs(30));
    std::fs::write(site.alerts(), "").unwrap();
    site.append(100, 110, C2);
    site.collect(60, Duration::from_secs(30));
    stop(w);
    assert_eq!(site.seen.len(), 60);
    assert!(site.seen.contains_key("1764669600.109"));
}

#[test]
fn restarts_resume_exactly_where_they_stopped() {
    let mut site = Site::new("185.220.101.47\n");
    site.append(0, 8_000, C2);
    // Stopped (SIGTERM) and restarted three times mid-file.
    for _ in 0..3 {
        let w = site.watch();
        let target = site.seen.len() + 1500;
        site.collect(target, Duration::from_secs(60));
        stop(w);
        site.settle(Duration::from_millis(200));
    }
    let w = site.watch();
    site.collect(8_000, Duration::from_secs(120));
    site.settle(Duration::from_millis(300));
    stop(w);
    assert_eq!(site.seen.len(), 8_000);
    assert_eq!(site.duplicates(), 0, "a clean stop re-sends nothing");

    // SIGKILL: nothing lost; at most the alert in flight is sent again.
    site.append(8_000, 12_000, C2);
    let mut w = site.watch();
    site.collect(9_000, Duration::from_secs(60));
    w.kill().unwrap();
    w.wait().unwrap();
    site.settle(Duration::from_millis(200));
    let before = site.duplicates();
    let w = site.watch();
    site.collect(12_000, Duration::from_secs(120));
    site.settle(Duration::from_millis(300));
    stop(w);
    assert_eq!(site.seen.len(), 12_000);
    assert!(
        site.duplicates() - before <= 1,
        "{} duplicates",
        site.duplicates() - before
    );
}

#[test]
fn a_new_generation_is_used_without_a_restart() {
    let mut site = Site::new("185.220.101.47\n");
    site.append(0, 1, C2);
    let w = site.watch();
    site.collect(1, Duration::from_secs(30));
    // Not intel yet: no hit.
    site.append(1, 2, "45.9.148.3");
    site.settle(Duration::from_millis(1500));
    assert_eq!(site.seen.len(), 1);
    std::fs::write(
        site.dir.path().join("list.txt"),
        "185.220.101.47\n45.9.148.3\n",
    )
    .unwrap();
    site.sync();
    // The watcher checks for a new generation every second.
    std::thread::sleep(Duration::from_millis(1500));
    site.append(2, 3, "45.9.148.3");
    site.collect(2, Duration::from_secs(30));
    stop(w);
    assert!(site.seen.contains_key("1764669600.2"), "{:?}", site.seen);
    assert!(!site.seen.contains_key("1764669600.1"));
}

#[test]
fn own_events_and_filtered_alerts_are_not_matched() {
    let mut site = Site::new("185.220.101.47\n");
    let mut own = alert(1, C2);
    own["rule"]["groups"] = json!(["intelmatch", "threat_intel"]);
    let mut f = std::fs::File::create(site.alerts()).unwrap();
    writeln!(f, "{own}").unwrap();
    writeln!(f, "not json at all").unwrap();
    writeln!(f, "{}", alert(2, C2)).unwrap();
    drop(f);
    let out = site.cmd(&["-q", "watch", "--until-idle"]).output().unwrap();
    assert!(out.status.success());
    site.settle(Duration::from_millis(200));
    assert_eq!(site.seen.keys().collect::<Vec<_>>(), ["1764669600.2"]);
    let status = status_json(&site.dir.path().join("data/watch/alerts.json.status.json"));
    assert_eq!(status["alerts"], 3);
    assert_eq!(status["own_events"], 1);
    assert_eq!(status["bad_lines"], 1);
}

fn status_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}
