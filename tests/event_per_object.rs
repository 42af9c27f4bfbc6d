//! One native event per (alert, intel object): every value of an alert that
//! reaches the same indicator goes into one event, whose `match` is the best hit
//! and whose `matches` lists them all. `match --json`, `integrate` and `watch`
//! send the same events.
//!
//! The alerts are the shared samples (`tests/fixtures/alerts/`), whose names are
//! `.example` names: warninglists are off so that `rfc6761` cannot hide them.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_intelmatch");

/// The MD5 and SHA-256 of the sample `winsvcupd.exe`, and a DNS name with its CNAME.
const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--20000000-0000-4000-8000-000000000001","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--20000000-0000-4000-8000-000000000001","name":"winsvcupd dropper","pattern":"[file:hashes.MD5 = '840083437f32ccafbf0413706a803b7f' OR file:hashes.'SHA-256' = '31b2b4694867ce7f554bfbaef7038cf0909f0eb9ae07f924e12d8e5b258837ac']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","x_opencti_score":80},
 {"type":"indicator","spec_version":"2.1","id":"indicator--20000000-0000-4000-8000-000000000002","name":"portal-update phishing","pattern":"[domain-name:value = 'login.portal-update.example.com'] OR [domain-name:value = 'portal-update.example.net']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","x_opencti_score":70}
]}"#;

struct Site {
    dir: tempfile::TempDir,
    queue: UnixDatagram,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("ossec");
        for d in ["queue/sockets", "logs/alerts", "var/run"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("intel")).unwrap();
        std::fs::write(dir.path().join("intel/bundle.json"), BUNDLE).unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"{}\"\n[matching]\nwarninglists = \"off\"\n\
                 [[sources]]\nname = \"cti\"\ntype = \"stix\"\npath = \"intel\"\n",
                home.display()
            ),
        )
        .unwrap();
        let queue = UnixDatagram::bind(home.join("queue/sockets/queue")).unwrap();
        queue
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let s = Site { dir, queue };
        let out = s.cmd(&["-q", "sync"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
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

    /// `match --json`: one event per line.
    fn match_json(&self, alert: &Path) -> Vec<Value> {
        let out = self
            .cmd(&["match", "--json", alert.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `integrate` as integratord starts it: the events it sent.
    fn integrate(&self, alert: &Path) -> Vec<Value> {
        let out = self
            .cmd(&["integrate", alert.to_str().unwrap(), "", "", ""])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.receive(usize::MAX, Duration::from_millis(300))
    }

    /// Datagram payloads until `n` arrived or nothing came for `quiet`.
    fn receive(&self, n: usize, quiet: Duration) -> Vec<Value> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 70_000];
        let mut last = Instant::now();
        while got.len() < n && last.elapsed() < quiet {
            if let Ok(len) = self.queue.recv(&mut buf) {
                let text = std::str::from_utf8(&buf[..len]).unwrap();
                let payload = &text[text.find(":{").unwrap() + 1..];
                got.push(serde_json::from_str(payload).unwrap());
                last = Instant::now();
            }
        }
        got
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name)
}

/// (field, kind, method) of every match of an event.
fn matches(event: &Value) -> Vec<(String, String, String)> {
    event["intelmatch"]["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap().to_string();
            (s("field"), s("kind"), s("method"))
        })
        .collect()
}

#[test]
fn one_event_per_indicator_with_every_match_listed() {
    let site = Site::new();
    let hashes = fixture("sysmon-eid1-process-create.json");
    let cname = fixture("sysmon-eid22-cname.json");

    let events = site.match_json(&hashes);
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0]["intelmatch"];
    assert_eq!(e["indicator"]["name"], "winsvcupd dropper");
    assert_eq!(e["match"]["kind"], "md5");
    let field = "data.win.eventdata.hashes";
    assert_eq!(
        matches(&events[0]),
        [
            (field.into(), "md5".into(), "exact".into()),
            (field.into(), "sha256".into(), "exact".into()),
        ]
    );

    let dns = site.match_json(&cname);
    assert_eq!(dns.len(), 1, "{dns:#?}");
    assert_eq!(
        dns[0]["intelmatch"]["indicator"]["name"],
        "portal-update phishing"
    );
    let values: Vec<&str> = dns[0]["intelmatch"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "login.portal-update.example.com",
            "portal-update.example.net"
        ]
    );

    // integrate sends exactly what match prints.
    assert_eq!(site.integrate(&hashes), events);
    assert_eq!(site.integrate(&cname), dns);

    // So does watch, for the same alerts appended to alerts.json.
    std::fs::write(site.alerts(), "").unwrap();
    let mut watch = site
        .cmd(&["-q", "watch"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(site.alerts())
        .unwrap();
    for alert in [&hashes, &cname] {
        let v: Value = serde_json::from_slice(&std::fs::read(alert).unwrap()).unwrap();
        writeln!(f, "{v}").unwrap();
    }
    drop(f);
    let watched = site.receive(2, Duration::from_secs(10));
    watch.kill().unwrap();
    watch.wait().unwrap();
    assert_eq!(watched, [events[0].clone(), dns[0].clone()]);
}
