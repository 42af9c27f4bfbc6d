//! Secrets never leave their files: every command runs at the highest
//! verbosity (`-vvv`, text and JSON logs, and `RUST_LOG=trace`) against
//! OpenCTI and MISP stand-ins that check the credentials, and the OpenCTI
//! token (a `file:` secret), the MISP key (an `env:` secret) and the API key
//! integratord passes on argv are looked for in stdout, stderr, the events
//! sent to the queue socket and every file left under the working directory.
//! Any 12-character run of a secret counts, so a partly masked secret is a leak.
//!
//! The intel uses public-looking values (none is on a warninglist), so that
//! lookups, matches and events carry full provenance.

// Both stand-ins include `support/faults.rs`, each its own copy.
#![allow(clippy::duplicate_mod)]

#[path = "../sync/tests/support/opencti_server.rs"]
mod opencti_server;

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;

#[path = "support/cli.rs"]
mod cli;

#[path = "support/tree.rs"]
mod tree;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use misp_server::{MispServer, KEY as MISP_KEY};
use opencti_server::{indicator, OpenCti, Play};

const OPENCTI_TOKEN: &str = "5ec2e7a0-70c3-4e11-a5ec-2e7a070c34e1";
/// What integratord passes as `api_key` from `<api_key>` in ossec.conf.
const ARGV_API_KEY: &str = "argvKey-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const SECRETS: [&str; 3] = [OPENCTI_TOKEN, MISP_KEY, ARGV_API_KEY];

const C2_IP: &str = "185.220.101.47";
const C2_DOMAIN: &str = "update-check.telemetry-cdn.net";

/// The verbosity variants every command runs with.
const LOUD: [(&[&str], bool); 3] = [
    (&["-vvv"], false),
    (&["--log-format", "json", "-vvv"], false),
    // No flag: RUST_LOG decides, and asks for everything.
    (&[], true),
];

struct Env {
    dir: tempfile::TempDir,
    _opencti: OpenCti,
    _revoked: OpenCti,
    _misp: MispServer,
    queue: UnixDatagram,
    /// Everything the commands printed and sent.
    seen: Vec<(String, Vec<u8>)>,
}

impl Env {
    fn new() -> Env {
        let opencti = OpenCti::start(Play::V6_9, OPENCTI_TOKEN);
        opencti.with(|s| {
            s.add(indicator(
                "7a0c1e55-3b7d-4c1e-9f00-1a2b3c4d5e6f",
                &format!("[ipv4-addr:value = '{C2_IP}']"),
            ))
        });
        // Knows another token: ours is refused as a revoked one would be.
        let revoked = OpenCti::start(Play::V6_9, "00000000-1111-4222-8333-444444444444");
        let misp = MispServer::start();
        {
            let mut w = misp.world();
            let e = w.add_event("Telemetry-themed C2", true);
            w.add_attr(e, "domain", C2_DOMAIN, true);
            w.add_attr(e, "ip-dst", "91.215.85.17", true);
            w.publish(e);
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let token_file = root.join("opencti.token");
        std::fs::write(&token_file, OPENCTI_TOKEN).unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = |data: &str, opencti_url: &str| {
            format!(
                "data_dir = \"{data}\"\n[wazuh]\nhome = \"wazuh\"\n\
                 [[sources]]\nname = \"cti\"\ntype = \"opencti\"\nurl = \"{opencti_url}\"\n\
                 token = \"file:{}\"\nretries = 1\n\
                 [[sources]]\nname = \"misp\"\ntype = \"misp\"\nurl = \"{}\"\n\
                 key = \"env:TEST_MISP_KEY\"\nretries = 1\n",
                token_file.display(),
                misp.url
            )
        };
        std::fs::write(root.join("intelmatch.toml"), config("data", &opencti.url())).unwrap();
        let revoked_dir = root.join("revoked");
        std::fs::create_dir(&revoked_dir).unwrap();
        std::fs::write(
            revoked_dir.join("intelmatch.toml"),
            config("data", &revoked.url()),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("wazuh/queue/sockets")).unwrap();
        std::fs::create_dir_all(root.join("wazuh/logs")).unwrap();
        let queue = UnixDatagram::bind(root.join("wazuh/queue/sockets/queue")).unwrap();
        queue.set_nonblocking(true).unwrap();
        let alert = format!(
            "{{\"timestamp\":\"2026-12-04T10:00:00.000+0000\",\"id\":\"1764842400.1\",\
             \"rule\":{{\"id\":\"61605\",\"level\":3,\"groups\":[\"sysmon\"],\
             \"description\":\"Sysmon - Event 3: Network connection\"}},\
             \"agent\":{{\"id\":\"001\",\"name\":\"ws-042\"}},\
             \"data\":{{\"srcip\":\"{C2_IP}\",\"hostname\":\"{C2_DOMAIN}\"}}}}\n"
        );
        std::fs::write(root.join("alert.json"), &alert).unwrap();
        std::fs::write(root.join("alerts.json"), alert.repeat(3)).unwrap();
        Env {
            dir,
            _opencti: opencti,
            _revoked: revoked,
            _misp: misp,
            queue,
            seen: Vec::new(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, config_dir: &Path, loud: &[&str], rust_log: bool) -> Command {
        let mut cmd = cli::intelmatch(config_dir);
        cmd.args(loud)
            .env("TEST_MISP_KEY", MISP_KEY)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if rust_log {
            cmd.env("RUST_LOG", "trace");
        } else {
            cmd.env_remove("RUST_LOG");
        }
        cmd
    }

    /// Runs `args` in every verbosity variant; `ok` says whether it must succeed.
    fn run_all(&mut self, config_dir: &Path, args: &[&str], ok: bool) {
        for (loud, rust_log) in LOUD {
            let out = self
                .command(config_dir, loud, rust_log)
                .args(args)
                .output()
                .unwrap();
            self.record(&format!("{args:?} {loud:?} rust_log={rust_log}"), out, ok);
        }
    }

    fn record(&mut self, what: &str, out: Output, ok: bool) {
        assert_eq!(
            out.status.success(),
            ok,
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.seen.push((format!("{what} stdout"), out.stdout));
        self.seen.push((format!("{what} stderr"), out.stderr));
    }

    fn drain_queue(&mut self) -> usize {
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0;
        while let Ok(len) = self.queue.recv(&mut buf) {
            self.seen.push(("queue event".into(), buf[..len].to_vec()));
            n += 1;
        }
        n
    }
}

/// The secrets' 12-character runs found in `bytes`.
fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(bytes);
    SECRETS
        .iter()
        .filter(|s| (0..=s.len() - 12).any(|i| text.contains(&s[i..i + 12])))
        .copied()
        .collect()
}

#[test]
fn no_command_at_any_verbosity_prints_logs_sends_or_stores_a_secret() {
    let mut env = Env::new();
    let root = env.root().to_path_buf();
    let alert = root.join("alert.json").display().to_string();
    let alerts = root.join("alerts.json").display().to_string();

    env.run_all(&root, &["sync"], true);
    env.run_all(&root, &["sync", "--full"], true);
    env.run_all(&root.join("revoked"), &["sync"], false);
    let refused = env.seen[env.seen.len() - 6..]
        .iter()
        .filter(|(what, bytes)| {
            what.ends_with("stderr")
                && String::from_utf8_lossy(bytes).contains("token refused: invalid or expired")
        })
        .count();
    assert_eq!(refused, 3, "the refused token is reported (without itself)");
    env.run_all(&root, &["--print-config"], true);
    env.run_all(&root, &["status"], true);
    env.run_all(&root, &["status", "--json"], true);
    env.run_all(&root, &["lookup", C2_IP, C2_DOMAIN], true);
    env.run_all(&root, &["lookup", "--json", C2_IP, C2_DOMAIN], true);
    env.run_all(&root, &["match", &alert], true);
    env.run_all(&root, &["match", "--json", &alert], true);
    let cdb = root.join("cdb").display().to_string();
    env.run_all(&root, &["export", "cdb", "--out", &cdb], true);
    env.run_all(&root, &["export", "cdb", "--json", "--out", &cdb], true);
    let home = root.join("wazuh").display().to_string();
    env.run_all(
        &root,
        &["wazuh", "install", "--dry-run", "--wazuh-home", &home],
        true,
    );
    // The data directory's watch registry is per file: a fresh one each time.
    for (i, (loud, rust_log)) in LOUD.iter().enumerate() {
        let file = root.join(format!("alerts-{i}.json"));
        std::fs::copy(&alerts, &file).unwrap();
        let out = env
            .command(&root, loud, *rust_log)
            .args(["watch", "--until-idle", "--file"])
            .arg(&file)
            .output()
            .unwrap();
        env.record(&format!("watch {loud:?}"), out, true);
        // The socket queues few datagrams (net.unix.max_dgram_qlen): read
        // them as analysisd would, after each run.
        let sent = env.drain_queue();
        assert_eq!(
            sent,
            3 * 2,
            "every watched alert hits the IP and the domain"
        );
    }

    // integrate as integratord runs it, its api_key on argv and debug on; the
    // log goes to <wazuh home>/logs/integrations.log, checked with the files.
    for (loud, rust_log) in LOUD {
        let out = env
            .command(&root, loud, rust_log)
            .args(["integrate", &alert, ARGV_API_KEY, "", "debug"])
            .output()
            .unwrap();
        env.record(&format!("integrate {loud:?}"), out, true);
        assert_eq!(env.drain_queue(), 2);
    }
    let log = std::fs::read_to_string(root.join("wazuh/logs/integrations.log")).unwrap();
    assert!(log.contains("DEBUG"), "integrate ran with debug: {log}");

    // The resident scheduler: SIGTERM once its first run has been recorded.
    for (loud, rust_log) in LOUD {
        let _ = std::fs::remove_file(root.join("data/scheduler.json"));
        let child = env
            .command(&root, loud, rust_log)
            .args(["sync", "--schedule", "* * * * * *"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !root.join("data/scheduler.json").exists()
            && start.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: the child's pid, not yet waited for.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = child.wait_with_output().unwrap();
        env.record(&format!("sync --schedule {loud:?}"), out, true);
    }

    // Every file but the token file itself.
    let on_disk: Vec<PathBuf> = tree::walk(&root)
        .into_iter()
        .filter(|(p, meta)| meta.is_file() && !p.ends_with("opencti.token"))
        .map(|(p, _)| p)
        .collect();
    assert!(on_disk.iter().any(|p| p.ends_with("store.sqlite")));
    for path in &on_disk {
        // The configs name the token file and the key's variable, nothing more.
        let bytes = std::fs::read(path).unwrap();
        env.seen.push((path.display().to_string(), bytes));
    }

    let mut found = Vec::new();
    for (what, bytes) in &env.seen {
        for secret in leaks(bytes) {
            found.push(format!("{secret} in {what}"));
        }
    }
    let printed: usize = env.seen.iter().map(|(_, b)| b.len()).sum();
    assert!(printed > 100_000, "only {printed} bytes were looked at");
    assert!(
        found.is_empty(),
        "{} leaks:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn a_key_echoed_by_a_failing_server_is_in_no_retry_warning() {
    let mut env = Env::new();
    let root = env.root().to_path_buf();
    for (loud, rust_log) in LOUD {
        // The first answer of each server echoes the request headers in a 502.
        env._opencti.with(|s| {
            s.faults
                .push_back(Some(opencti_server::Fault::EchoAuth(502)))
        });
        env._misp
            .world()
            .faults
            .push_back(Some(misp_server::Fault::EchoAuth(502)));
        let out = env
            .command(&root, loud, rust_log)
            .arg("sync")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(stderr.matches("retrying").count(), 2, "{loud:?}: {stderr}");
        // The echo reached the warning, masked.
        assert!(stderr.contains("authorization: ***"), "{loud:?}: {stderr}");
        env.record(&format!("sync with echoes {loud:?}"), out, true);
    }
    let found: Vec<String> = env
        .seen
        .iter()
        .flat_map(|(what, bytes)| {
            leaks(bytes)
                .into_iter()
                .map(move |s| format!("{s} in {what}"))
        })
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}
