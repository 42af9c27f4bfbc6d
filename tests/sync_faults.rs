//! `intelmatch sync` (the real binary) against failing OpenCTI and MISP
//! stand-ins:
//!
//! 1. under seeded random faults (20 % 5xx, some 429 with `Retry-After`, some
//!    cut bodies) every sync completes through its retries, honours
//!    `Retry-After`, and leaves the store equal to the sources;
//! 2. a server that stalls past `timeout_secs` (before its answer or in the
//!    middle of the body), a TLS certificate that is not trusted and a TLS
//!    front that hangs up in the handshake each make the sync fail, exit 1,
//!    with exactly one error line naming the source;
//! 3. throughout, `intelmatch lookup` keeps answering from the last good
//!    intel while the failing syncs run.
//!
//! Values are documentation ranges (198.51.100.0/24, 203.0.113.0/24) and
//! `.example` names: they sit on warninglists, so the config sets
//! `warninglists = "off"` (the lookups must not be suppressed by them).

// Both stand-ins include `support/faults.rs`: each has its own copy of the
// fault types (`misp_server::Fault`, `opencti_server::Fault`).
#![allow(clippy::duplicate_mod)]

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;
#[path = "../sync/tests/support/opencti_server.rs"]
mod opencti_server;
#[path = "../sync/tests/support/tls_front.rs"]
mod tls_front;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/seed.rs"]
mod seed;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use opencti_server::{indicator, OpenCti, Play};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TOKEN: &str = "5e8d1c7a-2b4f-4c6d-9e0a-1b2c3d4e5f60";
const SYNCS: usize = 20;
/// The value present from the first sync on, never changed: the prober's.
const STABLE_CTI: &str = "198.51.100.1";
const STABLE_MISP: &str = "stable.misp.example";

struct Site {
    dir: tempfile::TempDir,
    cti: OpenCti,
    misp: misp_server::MispServer,
}

/// Per-source settings of one config.
struct Urls {
    cti: String,
    misp: String,
    ca_file: bool,
}

impl Site {
    fn new() -> Site {
        Site::playing(Play::V6_9)
    }

    fn playing(play: Play) -> Site {
        let cti = OpenCti::start(play, TOKEN);
        cti.with(|s| {
            for n in 1..=40 {
                s.add(ipv4("i", n));
            }
        });
        let misp = misp_server::MispServer::start();
        {
            let mut w = misp.world();
            let e = w.add_event("Stable", true);
            w.add_attr(e, "domain", STABLE_MISP, true);
            for n in 1..=30 {
                w.add_attr(e, "ip-dst", &format!("203.0.113.{n}"), true);
            }
            w.publish(e);
        }
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
            cti,
            misp,
        };
        site.configure(&site.urls(), 1, 10);
        site
    }

    fn urls(&self) -> Urls {
        Urls {
            cti: self.cti.url(),
            misp: self.misp.url.clone(),
            ca_file: false,
        }
    }

    /// Writes the config: both sources, small pages, fast retries.
    fn configure(&self, urls: &Urls, timeout_secs: u64, retries: u32) {
        let ca = if urls.ca_file {
            format!("ca_file = \"{}\"\n", tls_front::ca_pem().display())
        } else {
            String::new()
        };
        std::fs::write(
            self.dir.path().join("intelmatch.toml"),
            format!(
                r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
warninglists = "off"
[[sources]]
name = "cti"
type = "opencti"
url = "{}"
token = "env:TEST_OPENCTI_TOKEN"
page_size = 10
reconcile_interval_secs = 0
timeout_secs = {timeout_secs}
connect_timeout_secs = 1
retries = {retries}
retry_delay_ms = 5
{ca}
[[sources]]
name = "misp"
type = "misp"
url = "{}"
key = "env:TEST_MISP_KEY"
page_size = 10
mirror_warninglists = false
timeout_secs = {timeout_secs}
connect_timeout_secs = 1
retries = {retries}
retry_delay_ms = 5
{ca}
"#,
                urls.cti, urls.misp
            ),
        )
        .unwrap();
    }

    fn cmd(&self) -> Command {
        let mut cmd = cli::intelmatch(self.dir.path());
        cmd.env("TEST_OPENCTI_TOKEN", TOKEN)
            .env("TEST_MISP_KEY", misp_server::KEY)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// The store's live ids of one source's indicators, sorted.
    fn stored(&self, source: &str) -> Vec<String> {
        let db = rusqlite::Connection::open_with_flags(
            self.dir.path().join("data/store.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = db
            .prepare(
                "SELECT i.ext_id FROM indicators i JOIN sources s ON s.id = i.source_id \
                 WHERE s.name = ?1 AND i.deleted = 0 ORDER BY i.ext_id",
            )
            .unwrap();
        stmt.query_map([source], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn assert_mirror(&self) {
        let mut cti = self.cti.with(|s| s.ids("indicators"));
        cti.sort();
        assert_eq!(self.stored("cti"), cti, "OpenCTI indicators");
        let misp = self.misp.world().expected(true, false);
        assert_eq!(self.stored("misp"), misp, "MISP attributes");
    }

    /// Adds, changes and deletes a few things at both sources.
    fn mutate(&self, rng: &mut StdRng, round: usize) {
        self.cti.with(|s| {
            s.add(ipv4(&format!("r{round}-"), rng.random_range(100..=250)));
            let ids = s.ids("indicators");
            let pick = &ids[rng.random_range(0..ids.len())];
            if pick != "i1" {
                if rng.random_bool(0.5) {
                    s.delete(&[pick.as_str()]);
                } else {
                    s.update(&[pick.as_str()], |n| n["x_opencti_score"] = json!(55));
                }
            }
        });
        let mut w = self.misp.world();
        let e = w.add_event(&format!("Round {round}"), true);
        w.add_attr(e, "domain", &format!("r{round}.misp.example"), true);
        let uuids: Vec<String> = w.events[&1].attrs.iter().map(|a| a.uuid.clone()).collect();
        let pick = &uuids[rng.random_range(1..uuids.len())];
        w.soft_delete(pick);
        w.publish_all();
    }
}

fn ipv4(prefix: &str, n: u32) -> Value {
    let id = format!("{prefix}{n}");
    let mut node = indicator(&id, &format!("[ipv4-addr:value = '198.51.100.{n}']"));
    node["x_opencti_main_observable_type"] = json!("IPv4-Addr");
    node
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `intelmatch lookup` in a loop until stopped: every answer must hit
/// both stable values, from whatever generation is current; with `exact`,
/// every answer must be that one, byte for byte (nothing changed since).
struct Prober {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<Result<usize, String>>,
}

impl Prober {
    fn start(site: &Site, exact: Option<Vec<u8>>) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let mut cmd = site.cmd();
        cmd.args(["-q", "lookup", "--json", STABLE_CTI, STABLE_MISP]);
        let handle = thread::spawn(move || {
            let mut answers = 0;
            // At least one answer, however quickly the caller stops it.
            while answers == 0 || !flag.load(Ordering::Relaxed) {
                let out = cmd.output().unwrap();
                if !out.status.success() {
                    return Err(format!("lookup failed: {}", text(&out.stderr)));
                }
                let lines: Vec<Value> = text(&out.stdout)
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                for (v, source) in lines.iter().zip(["cti", "misp"]) {
                    let hits = v["hits"].as_array().unwrap();
                    if hits.len() != 1 || hits[0]["indicator"]["source"] != source {
                        return Err(format!("no hit from {source}: {v}"));
                    }
                }
                if lines.len() != 2 {
                    return Err(format!("{} answers", lines.len()));
                }
                if exact.as_ref().is_some_and(|e| *e != out.stdout) {
                    return Err(format!(
                        "the answer changed from {} to {}",
                        text(exact.as_deref().unwrap()),
                        text(&out.stdout)
                    ));
                }
                answers += 1;
                // Paced, so that the syncs under test keep most of the CPU.
                thread::sleep(Duration::from_millis(20));
            }
            Ok(answers)
        });
        Prober { stop, handle }
    }

    fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap().unwrap()
    }
}

/// The `wait_ms` of every OpenCTI retry and the wait of every MISP retry,
/// with the message, from `-v --log-format json` lines.
fn retries_logged(stderr: &str) -> Vec<(String, Duration)> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let msg = v["message"].as_str()?.to_string();
            if let Some(ms) = v["wait_ms"].as_u64() {
                return Some((msg, Duration::from_millis(ms)));
            }
            let secs: f64 = msg
                .rsplit_once("retrying in ")?
                .1
                .strip_suffix('s')?
                .parse()
                .ok()?;
            Some((msg, Duration::from_secs_f64(secs)))
        })
        .collect()
}

#[test]
fn syncs_under_random_faults_complete_through_retries_and_mirror_the_sources() {
    let seed = seed::seed("FAULT_SEED");
    let mut rng = StdRng::seed_from_u64(seed);
    let site = Site::new();
    let out = site.run(&["-q", "sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    site.assert_mirror();

    // From here on: 20 % 5xx, 2 % 429 (Retry-After: 1), 5 % cut bodies.
    site.cti.with(|s| {
        s.random_faults = Some(opencti_server::RandomFaults::new(seed, 0.20, 0.02, 0.05))
    });
    site.misp.world().random_faults = Some(misp_server::RandomFaults::new(
        seed ^ 0x5eed,
        0.20,
        0.02,
        0.05,
    ));
    let prober = Prober::start(&site, None);
    let started = Instant::now();
    let mut completed = 0;
    let (mut waits_429, mut retries) = (0, 0);
    for round in 0..SYNCS {
        site.mutate(&mut rng, round);
        let out = site.run(&["-v", "--log-format", "json", "sync"]);
        let stderr = text(&out.stderr);
        assert!(
            out.status.success(),
            "sync {round} under faults: {}\n{stderr}",
            text(&out.stdout)
        );
        completed += 1;
        site.assert_mirror();
        for (msg, wait) in retries_logged(&stderr) {
            retries += 1;
            if msg.contains("HTTP 429") {
                waits_429 += 1;
                assert_eq!(wait, Duration::from_secs(1), "Retry-After: 1 — {msg}");
            } else {
                // The backoff: retry_delay_ms = 5, doubling (with jitter) for
                // at most 10 retries.
                assert!(wait <= Duration::from_millis(5 << 11), "{msg}: {wait:?}");
            }
        }
    }
    let answers = prober.finish();
    let cti_faults = site
        .cti
        .with(|s| s.log.iter().filter(|l| l.fault.is_some()).count());
    let misp_faults = site.misp.world().faulted.len();
    eprintln!(
        "sync_faults: {completed}/{SYNCS} syncs completed under random faults \
         ({cti_faults} OpenCTI and {misp_faults} MISP faults served, {retries} retries, \
         {waits_429} of them after a 429), {answers} lookups answered meanwhile, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(completed, SYNCS);
    assert!(cti_faults > 0 && misp_faults > 0);
}

/// One failing sync of one source: exit 1, and exactly one error line, which
/// names the source and holds `expect`.
fn assert_fails_with_one_line(site: &Site, source: &str, expect: &[&str]) -> String {
    let out = site.run(&["sync", "--source", source]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{source}: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{source}: one error line:\n{stderr}");
    let line = errors[0];
    assert!(line.contains(&format!("source `{source}`")), "{line}");
    for e in expect {
        assert!(line.contains(e), "{source}: `{e}` not in {line}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(TOKEN) && !stderr.contains(misp_server::KEY));
    // The closing line names the source too; nothing else is an error.
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("intelmatch: sync failed for ") && last.contains(source),
        "{last}"
    );
    line.to_string()
}

#[test]
fn stalls_and_tls_failures_fail_with_one_line_while_the_last_good_intel_serves() {
    let site = Site::new();
    let out = site.run(&["-q", "sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The last good answer: every lookup during the failing syncs gives it.
    let good = site.run(&["-q", "lookup", "--json", STABLE_CTI, STABLE_MISP]);
    assert!(good.status.success());
    let prober = Prober::start(&site, Some(good.stdout));
    let started = Instant::now();
    let mut failures = Vec::new();

    // Past timeout_secs = 1: the stand-ins sleep 3 s, on every attempt.
    let stall = Duration::from_secs(3);
    site.configure(&site.urls(), 1, 1);
    for fault in [
        opencti_server::Fault::Stall(stall),
        opencti_server::Fault::StallBody(stall),
    ] {
        site.cti.with(|s| {
            s.faults.clear();
            // The version check passes; then each attempt at page 1 stalls.
            s.faults
                .extend([None, Some(fault.clone()), Some(fault.clone())]);
        });
        let line = assert_fails_with_one_line(
            &site,
            "cti",
            &["indicators page 1", "timed out", "timeout_secs = 1 s"],
        );
        failures.push(line);
    }
    for fault in [
        misp_server::Fault::Stall(stall),
        misp_server::Fault::StallBody(stall),
    ] {
        {
            let mut w = site.misp.world();
            w.faults.clear();
            w.faults.extend([Some(fault.clone()), Some(fault.clone())]);
        }
        let line = assert_fails_with_one_line(
            &site,
            "misp",
            &[
                &format!("{}/servers/getVersion", site.misp.url),
                "timed out",
                "timeout_secs = 1 s",
            ],
        );
        failures.push(line);
    }

    // TLS: the test CA's certificate without `ca_file`, then a front that
    // hangs up in the middle of the handshake.
    let cti_front = tls_front::TlsFront::start(&site.cti.url());
    let misp_front = tls_front::TlsFront::start(&site.misp.url);
    site.configure(
        &Urls {
            cti: cti_front.url.clone(),
            misp: misp_front.url.clone(),
            ca_file: false,
        },
        5,
        1,
    );
    failures.push(assert_fails_with_one_line(
        &site,
        "cti",
        &[&cti_front.url, "certificate"],
    ));
    failures.push(assert_fails_with_one_line(
        &site,
        "misp",
        &[&misp_front.url, "certificate", "ca_file"],
    ));
    // Not retried (retries = 1): an untrusted certificate stays untrusted.
    for front in [&cti_front, &misp_front] {
        assert_eq!(front.connections.load(Ordering::SeqCst), 1, "{}", front.url);
    }
    let hang_up = tls_front::TlsFront::hang_up_in_handshake();
    site.configure(
        &Urls {
            cti: hang_up.url.clone(),
            misp: hang_up.url.clone(),
            ca_file: true,
        },
        5,
        1,
    );
    for source in ["cti", "misp"] {
        failures.push(assert_fails_with_one_line(&site, source, &[&hang_up.url]));
    }

    let answers = prober.finish();
    for f in &failures {
        eprintln!(
            "sync_faults: {}",
            f.split_once(" ERROR ").map_or(f.as_str(), |(_, l)| l)
        );
    }
    eprintln!(
        "sync_faults: {} failing syncs, each one error line; {answers} lookups answered \
         from the last good intel meanwhile, {:.1} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    // And the store still holds the last good intel.
    site.assert_mirror();
}

#[test]
fn an_expired_token_fails_in_one_line_while_the_last_good_intel_serves() {
    let site = Site::playing(Play::V7);
    let out = site.run(&["-q", "sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = site.run(&["-q", "lookup", "--json", STABLE_CTI, STABLE_MISP]);
    assert!(good.status.success());
    let prober = Prober::start(&site, Some(good.stdout.clone()));
    // 7.x API tokens expire: the server answers HTTP 401 and AUTH_REQUIRED.
    site.cti.with(|s| s.token_expired = true);
    let line = assert_fails_with_one_line(
        &site,
        "cti",
        &[
            "token refused: invalid or expired",
            "HTTP 401",
            "`token` = env:TEST_OPENCTI_TOKEN (masked)",
        ],
    );
    assert!(!line.contains(TOKEN), "{line}");
    assert!(prober.finish() > 0, "lookups answered from the last index");
    // The same answer after the failure: the previous generation serves.
    let after = site.run(&["-q", "lookup", "--json", STABLE_CTI, STABLE_MISP]);
    assert_eq!(text(&after.stdout), text(&good.stdout));
    let status = text(&site.run(&["status"]).stdout);
    assert!(
        status.contains("token refused: invalid or expired"),
        "{status}"
    );
}
