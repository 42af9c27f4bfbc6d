//! Crash consistency of `intelmatch sync`: the real binary is SIGKILLed at
//! random points, in the fetch phase (paging an OpenCTI stand-in and a list
//! file into the store) and in the compile phase (building and publishing an
//! index generation). After every kill the store must open and be intact, the
//! current generation must still answer for intel of an earlier completed
//! sync, and one normal follow-up sync must leave the store holding exactly
//! what the sources hold: nothing lost, nothing twice.
//!
//! The kill delays come from a seeded generator; the seed is printed and
//! `CRASH_SEED=<n>` replays a run. Between kills the intel changes (adds,
//! updates, revocations, hard deletes, list lines added and removed).
//!
//! Values are documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 2001:db8::/32) and `.example` names. They sit on warninglists, so the
//! config sets `warninglists = "off"`: the lists are still compiled into every
//! generation (the compile phase keeps its real length), and lookups are not
//! suppressed by them.

#[path = "../sync/tests/support/opencti_server.rs"]
mod opencti_server;

#[path = "support/cli.rs"]
mod cli;

#[path = "support/seed.rs"]
mod seed;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use opencti_server::{indicator, observable, relationship, OpenCti, Play};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TOKEN: &str = "7c0e2b4a-1d3f-4a5b-8c9d-0e1f2a3b4c5d";
const INDICATORS: usize = 3_000;
const OBSERVABLES: usize = 300;
/// `based-on` from indicator n to observable n.
const RELATIONSHIPS: usize = 60;
const PAGE_SIZE: u32 = 100;
/// Lines of the list source, drawn from 192.0.2.0/24.
const LIST_LINES: usize = 120;
const KILL_POINTS: usize = 50;
/// Indicators `i-00000` .. below this never change: the lookups after a kill
/// ask for them.
const STABLE: usize = 10;
/// The log line that ends the fetch phase (src/commands/sync.rs).
const COMPILING: &str = "compiling the index";
const PUBLISHED: &str = "index generation published";

fn id(n: usize) -> String {
    format!("i-{n:05}")
}

/// The value of indicator `n`: a name for even `n`, an IPv6 address for odd,
/// an IPv4 address for the first 256.
fn value_of(n: usize) -> (String, &'static str, &'static str) {
    if n < 256 {
        (format!("198.51.100.{n}"), "ipv4-addr", "IPv4-Addr")
    } else if n.is_multiple_of(2) {
        (
            format!("ioc-{n}.evil.example"),
            "domain-name",
            "Domain-Name",
        )
    } else {
        (format!("2001:db8::{n:x}"), "ipv6-addr", "IPv6-Addr")
    }
}

fn indicator_node(n: usize) -> Value {
    let (value, stix, main) = value_of(n);
    let mut node = indicator(&id(n), &format!("[{stix}:value = '{value}']"));
    node["x_opencti_main_observable_type"] = json!(main);
    node
}

struct Site {
    dir: tempfile::TempDir,
    server: OpenCti,
    /// The next indicator number to add.
    next: usize,
    /// The next observable number to add.
    next_observable: usize,
    /// Last octets of the list's lines.
    list: BTreeSet<u8>,
    /// The generation of the last completed sync.
    good_generation: u64,
}

impl Site {
    fn new(rng: &mut StdRng) -> Site {
        let server = OpenCti::start(Play::V6_9, TOKEN);
        server.with(|s| {
            for n in 0..INDICATORS {
                s.add(indicator_node(n));
            }
            for n in 0..OBSERVABLES {
                s.add(observable(
                    &format!("o-{n:05}"),
                    "Domain-Name",
                    &format!("obs-{n}.evil.example"),
                ));
            }
            for n in 0..RELATIONSHIPS {
                s.add(relationship(
                    &format!("r-{n:05}"),
                    "based-on",
                    (&id(n + STABLE), "Indicator"),
                    (&format!("o-{n:05}"), "Domain-Name"),
                ));
            }
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("intel")).unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                r#"data_dir = "data"
[wazuh]
home = "wazuh"
[matching]
warninglists = "off"
[[sources]]
name = "blocklist"
type = "list"
path = "intel/list.txt"
[[sources]]
name = "cti"
type = "opencti"
url = "{}"
token = "env:TEST_OPENCTI_TOKEN"
page_size = {PAGE_SIZE}
overlap_secs = 60
reconcile_interval_secs = 0
retries = 0
timeout_secs = 30
"#,
                server.url()
            ),
        )
        .unwrap();
        let mut list = BTreeSet::new();
        while list.len() < LIST_LINES {
            list.insert(rng.random_range(1..=254u8));
        }
        let site = Site {
            dir,
            server,
            next: INDICATORS,
            next_observable: OBSERVABLES,
            list,
            good_generation: 0,
        };
        site.write_list();
        site
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self) -> Command {
        let mut cmd = cli::intelmatch(self.dir.path());
        cmd.env("TEST_OPENCTI_TOKEN", TOKEN)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn write_list(&self) {
        let text: String = self.list.iter().map(|o| format!("192.0.2.{o}\n")).collect();
        // Written whole and renamed: the list source never sees half a file.
        let tmp = self.path("intel/.list.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path("intel/list.txt")).unwrap();
    }

    /// A sync that must complete; returns the generation it published.
    fn sync_ok(&mut self) -> u64 {
        let out = self.run(&["-q", "sync"]);
        assert!(
            out.status.success(),
            "follow-up sync: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let g = current_generation(&self.path("data/index")).expect("a generation");
        assert!(
            g > self.good_generation,
            "{g} after {}",
            self.good_generation
        );
        self.good_generation = g;
        g
    }

    /// Some changes at the sources, as between two syncs in real life.
    fn mutate(&mut self, rng: &mut StdRng) -> usize {
        let ops = rng.random_range(1..=12);
        let mut next = self.next;
        let mut next_observable = self.next_observable;
        self.server.with(|s| {
            let ids = s.ids("indicators");
            let changeable: Vec<&String> = ids
                .iter()
                .filter(|i| i.as_str() >= id(STABLE).as_str())
                .collect();
            for _ in 0..ops {
                let pick = changeable[rng.random_range(0..changeable.len())].as_str();
                match rng.random_range(0..5) {
                    0 | 1 => {
                        s.add(indicator_node(next));
                        next += 1;
                    }
                    2 => {
                        let score = rng.random_range(0..=100);
                        s.update(&[pick], |n| n["x_opencti_score"] = json!(score));
                    }
                    3 => {
                        s.update(&[pick], |n| {
                            n["revoked"] = json!(true);
                            n["x_opencti_score"] = json!(0);
                        });
                    }
                    _ => {
                        s.delete(&[pick]);
                    }
                }
            }
            // Observables come and go too.
            if rng.random_bool(0.3) {
                let n = next_observable;
                next_observable += 1;
                s.add(observable(
                    &format!("o-{n:05}"),
                    "Domain-Name",
                    &format!("obs-{n}.evil.example"),
                ));
            }
            if rng.random_bool(0.2) {
                let obs = s.ids("stixCyberObservables");
                let pick = obs[rng.random_range(0..obs.len())].clone();
                s.delete(&[pick.as_str()]);
            }
        });
        self.next = next;
        self.next_observable = next_observable;
        for _ in 0..rng.random_range(0..4) {
            let o = rng.random_range(1..=254u8);
            if !self.list.remove(&o) {
                self.list.insert(o);
            }
        }
        self.write_list();
        ops
    }

    /// Right after a kill: the store opens and is intact, and the current
    /// generation answers from the intel of an earlier completed sync.
    fn assert_serving(&self, rng: &mut StdRng) {
        let status = self.run(&["-q", "status", "--json"]);
        assert!(
            status.status.success(),
            "status after a kill: {}",
            text(&status.stderr)
        );
        let v: Value = serde_json::from_slice(&status.stdout).unwrap();
        assert!(v["store"]["sources"].is_array(), "{v}");
        let db = self.db();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        drop(db);

        let g = current_generation(&self.path("data/index")).expect("CURRENT");
        // The kill may have come after a publication, never before the last good one.
        assert!(g >= self.good_generation, "{g} < {}", self.good_generation);
        let n = rng.random_range(0..STABLE);
        let (value, _, _) = value_of(n);
        let out = self.run(&["-q", "lookup", "--json", &value]);
        assert!(out.status.success(), "lookup: {}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let hits = v["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{v}");
        assert_eq!(hits[0]["indicator"]["id"], id(n), "{v}");
        let list_value = format!("192.0.2.{}", self.list.iter().next().unwrap());
        let out = self.run(&["-q", "lookup", "--json", &list_value]);
        assert!(out.status.success(), "lookup: {}", text(&out.stderr));
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.path("data/store.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// The store holds exactly what the sources hold. Returns how many runs
    /// the store records as interrupted.
    fn assert_mirror(&self) -> i64 {
        let db = self.db();
        let source_id = |name: &str| -> i64 {
            db.query_row("SELECT id FROM sources WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let (cti, list) = (source_id("cti"), source_id("blocklist"));

        // Indicators: id, pattern, score and revoked as served.
        let mut want: BTreeMap<String, (String, Option<i64>, bool)> = BTreeMap::new();
        let (obs_want, rel_want) = self.server.with(|s| {
            for n in s.nodes("indicators") {
                let prev = want.insert(
                    n["id"].as_str().unwrap().to_string(),
                    (
                        n["pattern"].as_str().unwrap().to_string(),
                        n["x_opencti_score"].as_i64(),
                        n["revoked"].as_bool().unwrap(),
                    ),
                );
                assert!(prev.is_none(), "the stand-in holds an id twice");
            }
            let sorted = |mut v: Vec<String>| {
                v.sort();
                v
            };
            (
                sorted(s.ids("stixCyberObservables")),
                sorted(s.ids("stixCoreRelationships")),
            )
        });
        let mut got: BTreeMap<String, (String, Option<i64>, bool)> = BTreeMap::new();
        let mut stmt = db
            .prepare(
                "SELECT ext_id, pattern, score, revoked FROM indicators \
                 WHERE source_id = ?1 AND deleted = 0",
            )
            .unwrap();
        let rows = stmt
            .query_map([cti], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)? != 0,
                    ),
                ))
            })
            .unwrap();
        for row in rows {
            let (k, v) = row.unwrap();
            assert!(got.insert(k.clone(), v).is_none(), "{k} stored twice");
        }
        if got != want {
            let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
            let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
            let differ: Vec<&String> = want
                .iter()
                .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                .map(|(k, _)| k)
                .collect();
            panic!(
                "indicators differ: {} missing {:?}, {} extra {:?}, {} changed {:?}",
                missing.len(),
                &missing[..missing.len().min(5)],
                extra.len(),
                &extra[..extra.len().min(5)],
                differ.len(),
                &differ[..differ.len().min(5)]
            );
        }
        let live_ids = |table: &str, source: i64| -> Vec<String> {
            let mut stmt = db
                .prepare(&format!(
                    "SELECT ext_id FROM {table} WHERE source_id = ?1 AND deleted = 0 ORDER BY ext_id"
                ))
                .unwrap();
            stmt.query_map([source], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(live_ids("observables", cti), obs_want, "observables");
        assert_eq!(live_ids("relationships", cti), rel_want, "relationships");
        // A list entry's id is `<file name>:<value>`.
        let list_want: Vec<String> = self
            .list
            .iter()
            .map(|o| format!("list.txt:192.0.2.{o}"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(live_ids("indicators", list), list_want, "list entries");

        // One key per live indicator (each pattern has one value), none twice,
        // none left behind by a deleted one.
        let (keys, distinct, orphans): (i64, i64, i64) = db
            .query_row(
                "SELECT count(*), count(DISTINCT k.indicator_id || ' ' || k.kind || ' ' || k.key), \
                 sum(i.deleted) FROM match_keys k JOIN indicators i ON i.id = k.indicator_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<i64>>(2)?.unwrap_or(0))),
            )
            .unwrap();
        let live = (want.len() + self.list.len()) as i64;
        assert_eq!(keys, distinct, "a match key is stored twice");
        assert_eq!(orphans, 0, "keys of deleted indicators");
        assert_eq!(keys, live, "one key per live indicator");
        // A killed run is left `running`; the next run of its source marks it
        // `interrupted`. The last run of each source completed.
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
        let running = count("SELECT count(*) FROM sync_runs WHERE status = 'running'");
        assert_eq!(running, 0, "runs left `running`");
        let last_ok = count(
            "SELECT count(*) FROM sync_runs r WHERE r.id IN \
             (SELECT max(id) FROM sync_runs GROUP BY source_id) AND r.status = 'ok'",
        );
        assert_eq!(last_ok, 2, "the last run of each source");
        count("SELECT count(*) FROM sync_runs WHERE status = 'interrupted'")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn current_generation(index_dir: &Path) -> Option<u64> {
    let bytes = std::fs::read(index_dir.join("CURRENT")).ok()?;
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["generation"].as_u64()
}

/// Where a kill landed, told by the log lines written before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Fetch,
    Compile,
}

/// A `sync` with JSON logs on stderr, read line by line as they come.
struct Running {
    child: std::process::Child,
    started: Instant,
    /// One message per log line, with when it was read.
    lines: mpsc::Receiver<(Instant, String)>,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    fn start(site: &Site, full: bool) -> Running {
        let mut cmd = site.cmd();
        cmd.args(["-v", "--log-format", "json", "sync"]);
        if full {
            cmd.arg("--full");
        }
        let started = Instant::now();
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            started,
            lines,
            reader,
        }
    }

    /// Blocks until a line holding `what` is read; false at the end of the output.
    fn wait_for(&self, what: &str, seen: &mut Vec<String>) -> Option<Instant> {
        while let Ok((at, line)) = self.lines.recv() {
            let hit = line.contains(what);
            seen.push(line);
            if hit {
                return Some(at);
            }
        }
        None
    }

    /// Waits for the end; the sync must succeed.
    fn finish(mut self, mut seen: Vec<String>) {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        seen.extend(self.lines.try_iter().map(|(_, l)| l));
        assert!(status.success(), "{status}\n{}", seen.join("\n"));
    }

    /// SIGKILL; `None` when the sync had already finished on its own, else
    /// the phase it was killed in.
    fn kill(mut self, mut seen: Vec<String>) -> Option<Phase> {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        seen.extend(self.lines.try_iter().map(|(_, l)| l));
        if status.signal() != Some(libc::SIGKILL) {
            assert!(
                status.success(),
                "sync failed on its own: {status}\n{}",
                seen.join("\n")
            );
            return None;
        }
        Some(if seen.iter().any(|l| log_message(l) == COMPILING) {
            Phase::Compile
        } else {
            Phase::Fetch
        })
    }
}

fn log_message(line: &str) -> String {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn sync_killed_anywhere_leaves_a_store_and_index_that_recover_exactly() {
    let seed = seed::seed("CRASH_SEED");
    let mut rng = StdRng::seed_from_u64(seed);
    let test_started = Instant::now();
    let mut site = Site::new(&mut rng);

    // One complete sync, timed by its phases: what the kill delays spread over.
    let first = Running::start(&site, false);
    let mut seen = Vec::new();
    let compiling_at = first
        .wait_for(COMPILING, &mut seen)
        .expect("the compile line");
    let published_at = first
        .wait_for(PUBLISHED, &mut seen)
        .expect("the publication line");
    let fetch = compiling_at - first.started;
    let compile = published_at - compiling_at;
    first.finish(seen);
    site.good_generation = current_generation(&site.path("data/index")).unwrap();
    site.assert_mirror();
    eprintln!(
        "crash_consistency: a full sync takes {:.2} s to fetch and {:.2} s to compile",
        fetch.as_secs_f64(),
        compile.as_secs_f64()
    );

    let mut kills = BTreeMap::from([(Phase::Fetch, 0usize), (Phase::Compile, 0usize)]);
    let mut finished_first = 0;
    let mut interrupted = 0;
    let mut after_publication = 0;
    let mut mutations = 0;
    let mut attempts = 0;
    // Killed syncs, checks after the kill, follow-up syncs, store comparisons.
    let mut spent = [std::time::Duration::ZERO; 4];
    while kills.values().sum::<usize>() < KILL_POINTS {
        attempts += 1;
        assert!(
            attempts <= KILL_POINTS * 3,
            "too many syncs ended before their kill"
        );
        if rng.random_bool(0.6) {
            mutations += site.mutate(&mut rng);
        }
        let aim_compile = rng.random_bool(0.5);
        // A --full sync refetches everything: a long fetch phase to land in.
        // An incremental one is short: its kill often lands in the compile.
        let full = !aim_compile && rng.random_bool(0.8);
        let t = Instant::now();
        let run = Running::start(&site, full);
        let mut seen = Vec::new();
        if aim_compile {
            // A little past the publication too: the kill may come while
            // old generations are being removed.
            if run.wait_for(COMPILING, &mut seen).is_some() {
                std::thread::sleep(compile.mul_f64(rng.random_range(0.0..1.1)));
            }
        } else {
            std::thread::sleep(fetch.mul_f64(rng.random_range(0.0..1.0)));
        }
        let killed = run.kill(seen);
        spent[0] += t.elapsed();
        match killed {
            Some(phase) => {
                *kills.get_mut(&phase).unwrap() += 1;
                // Killed after its generation went live (while logging it or
                // removing old ones): that generation is the last good one.
                let g = current_generation(&site.path("data/index")).unwrap();
                if g > site.good_generation {
                    after_publication += 1;
                    site.good_generation = g;
                }
            }
            None => {
                finished_first += 1;
                site.good_generation = current_generation(&site.path("data/index")).unwrap();
            }
        }
        let t = Instant::now();
        site.assert_serving(&mut rng);
        spent[1] += t.elapsed();
        let t = Instant::now();
        site.sync_ok();
        spent[2] += t.elapsed();
        let t = Instant::now();
        interrupted = site.assert_mirror();
        spent[3] += t.elapsed();
    }
    let survived: usize = kills.values().sum();
    // Killed compiles leave their temporary directories; the next sync's
    // cleanup removes those whose build lock is free and that are over 10 s
    // old, so only the last few kills' are left.
    let leftovers = std::fs::read_dir(site.path("data/index"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count();
    eprintln!(
        "crash_consistency: {survived} kill points survived ({} in fetch, {} in compile, \
         {after_publication} of these after the publication), \
         {finished_first} syncs finished before their kill, {mutations} changes at the source, \
         {interrupted} runs recorded as interrupted, {leftovers} unfinished generation \
         directories left, \
         final generation {}, {:.1} s ({:.1} s in killed syncs, {:.1} s checking after the \
         kills, {:.1} s in follow-up syncs, {:.1} s comparing the store; the stand-in \
         answered for {:.1} s)",
        kills[&Phase::Fetch],
        kills[&Phase::Compile],
        site.good_generation,
        test_started.elapsed().as_secs_f64(),
        spent[0].as_secs_f64(),
        spent[1].as_secs_f64(),
        spent[2].as_secs_f64(),
        spent[3].as_secs_f64(),
        site.server.with(|s| s.busy).as_secs_f64(),
    );
    assert!(kills[&Phase::Fetch] >= KILL_POINTS / 4, "{kills:?}");
    assert!(kills[&Phase::Compile] >= KILL_POINTS / 4, "{kills:?}");
}
