//! The MISP source against a stand-in MISP server (support/misp_server.rs):
//! the store must mirror the server exactly, through edits, `to_ids` flips,
//! soft and hard deletes, unpublishing, both `X-Result-Count` meanings,
//! short pages, and a sync killed between pages.
//!
//! Values are documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24) and `.example` names; they sit on warninglists, which play
//! no part in the store.

#[path = "support/misp_server.rs"]
mod misp_server;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use misp_server::{CountMeaning, MispServer, RoleCap, World, KEY};
use serde_json::{json, Value};
use store::config::MispConfig;
use store::sources::misp::MispSource;
use store::{
    run_source, Batch, ObjectType, Progress, RunOptions, Secret, SourceError, SourceErrorKind,
    Store, SyncReport,
};

const SOURCE: &str = "misp";

struct Setup {
    server: MispServer,
    _dir: tempfile::TempDir,
    store: Store,
    cfg: MispConfig,
}

fn setup() -> Setup {
    let server = MispServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.sqlite")).unwrap();
    let mut cfg = MispConfig::new(server.url.clone(), Secret::literal(KEY));
    cfg.page_size = 3;
    cfg.http.retries = 0;
    cfg.mirror_warninglists = false;
    Setup {
        server,
        _dir: dir,
        store,
        cfg,
    }
}

impl Setup {
    async fn sync_with(&mut self, full: bool) -> Result<SyncReport, SourceError> {
        let mut src =
            MispSource::new(SOURCE, &self.cfg).with_min_retry_delay(Duration::from_millis(1));
        run_source(
            &mut self.store,
            &mut src,
            RunOptions {
                full,
                ..RunOptions::default()
            },
        )
        .await
    }

    async fn sync(&mut self) -> SyncReport {
        self.sync_with(false).await.unwrap()
    }

    fn live(&self) -> Vec<String> {
        let mut ids = Vec::new();
        self.store
            .for_each_live_id(SOURCE, ObjectType::Indicator, &mut |id| {
                ids.push(id.to_string());
                Ok(())
            })
            .unwrap();
        ids.sort();
        ids
    }

    fn expected(&self) -> Vec<String> {
        self.server
            .world()
            .expected(self.cfg.to_ids_only, self.cfg.published_only)
    }

    fn assert_mirror(&self) {
        assert_eq!(self.live(), self.expected());
    }

    /// Keys of one stored attribute.
    fn keys(&self, uuid: &str) -> Vec<String> {
        self.store
            .keys_of(SOURCE, ObjectType::Indicator, uuid)
            .unwrap()
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.key)
            .collect()
    }

    fn record(&self, uuid: &str) -> matcher::Record {
        let mut found = None;
        self.store
            .for_each_index_entry(&mut |e| {
                if e.record.id == uuid {
                    found = Some(e.record);
                }
                Ok(())
            })
            .unwrap();
        found.unwrap_or_else(|| panic!("{uuid} not in the index entries"))
    }
}

/// Three events: two published, one draft; one unsupported type, one
/// attribute not for IDS.
fn populate(w: &mut World) -> Vec<String> {
    let a = w.add_event("Campaign A", true);
    let b = w.add_event("Campaign B", true);
    let c = w.add_event("Draft", false);
    let ids = vec![
        w.add_attr(a, "ip-dst", "198.51.100.1", true),
        w.add_attr(a, "domain", "evil.example", true),
        w.add_attr(a, "url", "http://bad.example/x", true),
        w.add_attr(a, "comment", "a note", false),
        w.add_attr(a, "ip-dst|port", "203.0.113.5|443", true),
        w.add_attr(a, "sha256", &"ab".repeat(32), true),
        w.add_attr(b, "ip-src", "192.0.2.10", true),
        w.add_attr(b, "hostname", "c2.example", true),
        w.add_attr(b, "md5", &"cd".repeat(16), true),
        w.add_attr(b, "yara", "rule x { condition: true }", true),
        w.add_attr(c, "domain", "draft.example", true),
    ];
    w.publish(a);
    w.publish(b);
    ids
}

#[tokio::test]
async fn mirrors_exactly_after_edits_flips_and_deletes() {
    let mut s = setup();
    let ids = populate(&mut s.server.world());
    let report = s.sync().await;
    s.assert_mirror();
    assert_eq!(s.live().len(), 9, "{:?}", s.live());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "skipped 1 × unsupported type yara"),
        "{:?}",
        report.notes
    );

    // Provenance of one attribute.
    let r = s.record(&ids[4]);
    assert_eq!(r.source_type, "misp");
    assert_eq!(r.extra["event_info"], json!("Campaign A"));
    assert_eq!(r.extra["event_id"], json!("1"));
    assert_eq!(
        r.extra["event_uuid"],
        json!("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(r.extra["org"], json!("Test Org"));
    assert_eq!(r.extra["threat_level_id"], json!("2"));
    assert_eq!(r.extra["type"], json!("ip-dst|port"));
    assert_eq!(r.extra["category"], json!("Network activity"));
    assert_eq!(r.extra["to_ids"], json!(true));
    assert_eq!(r.markings, ["TLP:GREEN"]);
    assert_eq!(s.keys(&ids[4]), ["203.0.113.5"]);

    {
        let mut w = s.server.world();
        w.edit(&ids[1], |a| a.value = "evil2.example".into());
        w.edit(&ids[2], |a| a.to_ids = false);
        w.soft_delete(&ids[8]);
        w.hard_delete_attr(&ids[5]);
        w.delete_event(3);
        let new = w.add_attr(2, "email-src", "phish@evil.example", true);
        w.edit(&new, |a| a.tags.push("kill-chain:delivery".into()));
        w.publish_all();
        w.log.clear();
    }
    let report = s.sync().await;
    s.assert_mirror();
    assert_eq!(s.keys(&ids[1]), ["evil2.example"]);
    assert!(report
        .notes
        .iter()
        .any(|n| n.starts_with("3 events") || n.starts_with("2 events")));

    // Only the changed events were fetched, with the sync query shape.
    let searches = s.server.world().searches_sent();
    for body in &searches {
        assert_eq!(body["order"], json!("Attribute.id asc"));
        assert_eq!(body["deleted"], json!([0, 1]));
        assert_eq!(body["limit"], json!(3));
        assert!(body.get("enforceWarninglist").is_none() && body.get("excludeDecayed").is_none());
    }
    assert!(
        searches.iter().all(|b| b["eventid"] == json!(["1", "2"])),
        "{searches:?}"
    );

    // A --full sync changes nothing on a mirror.
    let before = s.live();
    let report = s.sync_with(true).await.unwrap();
    assert_eq!(s.live(), before);
    assert_eq!(report.applied.deleted, 0);
    // And an unchanged server costs one index call and no search.
    s.server.world().log.clear();
    s.sync().await;
    assert!(s.server.world().searches_sent().is_empty());
}

#[tokio::test]
async fn type_category_and_tag_filters_and_decay_are_applied() {
    let mut s = setup();
    s.cfg.types = vec!["domain".into(), "hostname".into(), "ip-dst".into()];
    s.cfg.categories = vec!["Network activity".into()];
    s.cfg.tags_exclude = vec!["kill-chain:noise".into()];
    s.cfg.min_decay_score = Some(10.0);
    let ids = populate(&mut s.server.world());
    s.server
        .world()
        .edit(&ids[0], |a| a.tags.push("kill-chain:noise".into()));
    s.server.world().publish_all();
    s.sync().await;
    // domain evil.example, hostname c2.example, draft.example; ip-dst 198.51.100.1 is tagged out.
    assert_eq!(s.live(), [ids[1].clone(), ids[7].clone(), ids[10].clone()]);
    let body = &s.server.world().searches_sent()[0];
    assert_eq!(
        body["type"],
        json!({"OR": ["domain", "hostname", "ip-dst"]})
    );
    assert_eq!(body["includeDecayScore"], json!(true));
    // The tag goes: the attribute comes back.
    s.server.world().edit(&ids[0], |a| a.tags.clear());
    s.sync().await;
    assert!(s.live().contains(&ids[0]));
}

#[tokio::test]
async fn an_unpublished_event_is_purged_while_published_only() {
    let mut s = setup();
    s.cfg.published_only = true;
    populate(&mut s.server.world());
    s.sync().await;
    s.assert_mirror();
    assert_eq!(s.live().len(), 8);
    s.server.world().unpublish(1);
    s.sync().await;
    s.assert_mirror();
    assert_eq!(s.live().len(), 3);
    s.server.world().publish(1);
    s.sync().await;
    s.assert_mirror();
    assert_eq!(s.live().len(), 8);
    // Without published_only the draft is there too.
    s.cfg.published_only = false;
    s.sync().await;
    s.assert_mirror();
    assert_eq!(s.live().len(), 9);
}

#[tokio::test]
async fn to_ids_only_can_be_turned_off() {
    let mut s = setup();
    s.cfg.to_ids_only = false;
    let ids = populate(&mut s.server.world());
    s.sync().await;
    // `comment` is not matchable, so still 9 plus nothing.
    s.assert_mirror();
    s.server.world().edit(&ids[0], |a| a.to_ids = false);
    s.sync().await;
    s.assert_mirror();
    assert_eq!(s.record(&ids[0]).extra["to_ids"], json!(false));
}

/// Seven attributes in one event, pages of two.
fn seven(w: &mut World) {
    let e = w.add_event("Paged", true);
    for i in 1..=7 {
        w.add_attr(e, "ip-dst", &format!("198.51.100.{i}"), true);
    }
    w.publish(e);
}

#[tokio::test]
async fn last_page_holds_for_both_result_count_meanings_and_short_pages() {
    for (version, meaning) in [
        ("2.4.160", CountMeaning::Total),
        ("2.5.1", CountMeaning::PerPage),
    ] {
        // Full pages lose a row to the allowedlist: a short page is not the last.
        let mut s = setup();
        s.cfg.page_size = 2;
        {
            let mut w = s.server.world();
            w.version = version.into();
            w.meaning = meaning;
            w.allowedlist_drop = 1;
            seven(&mut w);
        }
        s.sync().await;
        let searches = s.server.world().searches_sent().len();
        assert_eq!(searches, 4, "{version}");
        // Pages 1-3 are full (one row dropped each), page 4 holds the 7th row.
        assert_eq!(s.live().len(), 4, "{version}");

        // No drops, an exact multiple of the page size.
        let mut s = setup();
        s.cfg.page_size = 2;
        {
            let mut w = s.server.world();
            w.version = version.into();
            w.meaning = meaning;
            seven(&mut w);
            w.hard_delete_attr("aaaaaaaa-0000-4000-8000-000000000007");
            w.publish_all();
        }
        s.sync().await;
        s.assert_mirror();
        // Total: 3 × 2 ≥ 6 stops at page 3; per page: page 3 is full (3 ≥ 2), page 4 is empty.
        let want = if meaning == CountMeaning::Total { 3 } else { 4 };
        assert_eq!(s.server.world().searches_sent().len(), want, "{version}");
    }
}

#[tokio::test]
async fn an_instance_ignoring_order_is_still_mirrored() {
    let mut s = setup();
    s.server.world().ignore_order = true;
    populate(&mut s.server.world());
    s.sync().await;
    s.assert_mirror();
}

#[tokio::test]
async fn a_sync_killed_between_pages_resumes_to_an_exact_mirror() {
    let mut s = setup();
    s.cfg.page_size = 2;
    let ids = populate(&mut s.server.world());
    s.server.world().fail_search_after = Some(2);
    let err = s.sync_with(false).await.unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Server);
    let line = err.to_string();
    assert!(
        line.contains(&format!(
            "POST {}/attributes/restSearch: HTTP 500",
            s.server.url
        )) && line.contains("Database connection lost")
            && !line.contains('\n'),
        "{line}"
    );
    // Two pages committed, the events' state not.
    assert_eq!(s.live().len(), 4);
    // The server moves on while we are down.
    {
        let mut w = s.server.world();
        w.fail_search_after = None;
        w.soft_delete(&ids[0]);
        w.publish_all();
    }
    s.sync().await;
    s.assert_mirror();

    // A stop request (SIGTERM) between pages: what was committed stays.
    let mut s = setup();
    s.cfg.page_size = 2;
    populate(&mut s.server.world());
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = StopAfter {
        pages: AtomicU64::new(0),
        after: 2,
        cancel: Arc::clone(&cancel),
    };
    let mut src = MispSource::new(SOURCE, &s.cfg);
    let report = run_source(
        &mut s.store,
        &mut src,
        RunOptions {
            full: false,
            cancel,
            progress: &progress,
        },
    )
    .await
    .unwrap();
    assert!(report.cancelled);
    assert_eq!(s.live().len(), 4);
    let status = s.store.source_status(SOURCE).unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&status).unwrap()["last_run"]["status"],
        json!("interrupted"),
        "{status:?}"
    );
    s.sync().await;
    s.assert_mirror();
}

/// Requests a stop after `after` pages.
struct StopAfter {
    pages: AtomicU64,
    after: u64,
    cancel: Arc<AtomicBool>,
}

impl Progress for StopAfter {
    fn set_total(&self, _: Option<u64>) {}
    fn inc(&self, pages: u64, _: u64) {
        if self.pages.fetch_add(pages, Ordering::Relaxed) + pages >= self.after {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }
    fn message(&self, _: &str) {}
}

#[tokio::test]
async fn without_the_event_index_it_syncs_by_attribute_timestamp() {
    let mut s = setup();
    s.cfg.overlap_secs = 0;
    let ids = populate(&mut s.server.world());
    s.server.world().refuse_events_index = Some(403);
    let report = s.sync().await;
    s.assert_mirror();
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("attribute timestamp")));
    // The first walk sees everything, so it counts the unsupported types.
    let unsupported = |s: &Setup| {
        s.store
            .source_status(SOURCE)
            .unwrap()
            .unwrap()
            .unsupported_types
    };
    assert_eq!(unsupported(&s), [("yara".to_string(), 1)].into());
    {
        let mut w = s.server.world();
        w.edit(&ids[1], |a| a.value = "evil3.example".into());
        w.edit(&ids[6], |a| a.to_ids = false);
        w.soft_delete(&ids[7]);
        w.log.clear();
    }
    let report = s.sync().await;
    s.assert_mirror();
    assert_eq!(s.keys(&ids[1]), ["evil3.example"]);
    // The three changed ones, and the last one of the previous walk (the
    // timestamp filter is inclusive).
    assert_eq!(report.fetched, 4, "only the changed attributes: {report:?}");
    let searches = s.server.world().searches_sent();
    assert!(searches[0]["timestamp"].as_str().is_some(), "{searches:?}");
    // A hard delete leaves no trace in a timestamp window; --full finds it.
    s.server.world().hard_delete_attr(&ids[0]);
    s.sync().await;
    assert!(s.live().contains(&ids[0]));
    s.sync_with(true).await.unwrap();
    s.assert_mirror();
    // An incremental window cannot tell, --full recounts.
    assert_eq!(unsupported(&s), [("yara".to_string(), 1)].into());
}

#[tokio::test]
async fn the_timestamp_window_reaches_back_by_the_overlap() {
    let mut s = setup();
    s.cfg.overlap_secs = 300;
    let ids = populate(&mut s.server.world());
    s.server.world().refuse_events_index = Some(403);
    s.sync().await;
    let newest = s.server.world().clock;
    {
        let mut w = s.server.world();
        // Far enough ahead that the overlap does not reach back to the start.
        w.clock += 10_000;
        w.edit(&ids[1], |a| a.value = "late.example".into());
        w.log.clear();
    }
    s.sync().await;
    s.assert_mirror();
    let searches = s.server.world().searches_sent();
    assert_eq!(
        searches[0]["timestamp"],
        json!((newest - 300).to_string()),
        "{searches:?}"
    );
    assert_eq!(searches[0]["deleted"], json!([0, 1]));
    assert_eq!(s.keys(&ids[1]), ["late.example"]);
}

#[tokio::test]
async fn a_bad_watermark_is_caught_before_misp_silently_returns_nothing() {
    let mut s = setup();
    populate(&mut s.server.world());
    s.server.world().refuse_events_index = Some(404);
    s.store
        .apply(
            SOURCE,
            "misp",
            Batch {
                state: vec![("attribute_timestamp".into(), "1d".into())],
                ..Batch::default()
            },
        )
        .unwrap();
    let err = s.sync_with(false).await.unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Config);
    assert!(
        err.to_string().contains("`1d`: not a Unix timestamp"),
        "{err}"
    );
    assert!(s.server.world().searches_sent().is_empty());
}

#[tokio::test]
async fn enabled_warninglists_are_mirrored_into_the_sync_state() {
    let mut s = setup();
    s.cfg.mirror_warninglists = true;
    let list = |name: &str, version: u64| {
        json!({"name": name, "version": version, "description": "d", "type": "string",
               "matching_attributes": ["domain"], "list": ["benign.example"]})
    };
    {
        let mut w = s.server.world();
        w.warninglists.push((7, list("Local benign", 3), true));
        w.warninglists.push((8, list("Disabled one", 1), false));
    }
    s.sync().await;
    let stored = s
        .store
        .state(SOURCE, "warninglist/Local benign")
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["list"], json!(["benign.example"]));
    assert_eq!(
        s.store.state(SOURCE, "warninglist/Disabled one").unwrap(),
        None
    );
    // Same version: not exported again.
    s.server.world().log.clear();
    s.sync().await;
    assert!(!s
        .server
        .world()
        .log
        .iter()
        .any(|(_, p, _)| p.starts_with("/warninglists/export")));
    // Disabled on the instance: cleared here.
    s.server.world().warninglists[0].2 = false;
    s.sync().await;
    assert_eq!(
        s.store
            .state(SOURCE, "warninglist/Local benign")
            .unwrap()
            .as_deref(),
        Some("")
    );
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn a_403_is_one_clear_line_naming_the_url_and_the_key_is_never_logged() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut s = setup();
    s.cfg.http.retries = 2;
    populate(&mut s.server.world());
    // A successful sync with retries on a flaky server logs plenty.
    s.server.world().fail_search_after = Some(1);
    assert!(s.sync_with(false).await.is_err());
    s.server.world().fail_search_after = None;
    s.sync().await;
    s.assert_mirror();

    // The instance no longer accepts the key.
    s.server.world().key = "Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF9eD8cB7a".into();
    let err = s.sync_with(false).await.unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Auth);
    let line = err.to_string();
    assert_eq!(
        line,
        format!(
            "source `misp`: GET {}/servers/getVersion: HTTP 403 Forbidden (check the key, its \
             expiry and IP restriction): Authentication failed. Please make sure you pass the \
             API key of an API enabled user along in the Authorization header.",
            s.server.url
        )
    );
    // What is stored as the run's error is the same line.
    let status = serde_json::to_value(s.store.source_status(SOURCE).unwrap().unwrap()).unwrap();
    assert!(
        status.to_string().contains("HTTP 403 Forbidden"),
        "{status}"
    );

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying in"), "{logs}");
    assert!(!logs.contains(KEY), "the key is in the logs");
    assert!(!status.to_string().contains(KEY));
    assert!(!line.contains(KEY));
}

#[tokio::test]
async fn a_server_that_is_not_misp_is_named() {
    let mut s = setup();
    s.server.world().version = String::new();
    // getVersion without a version string.
    s.cfg.url = format!("{}/", s.server.url);
    let ok = s.sync_with(false).await;
    // An empty version string is still a string: accepted.
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_with_a_clear_line() {
    // Accepts connections and reads, but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut s = setup();
    s.cfg.url = url.clone();
    s.cfg.http.timeout_secs = 1;
    s.cfg.http.retries = 1;
    let started = std::time::Instant::now();
    let err = s.sync_with(false).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let line = err.to_string();
    assert!(
        line.contains(&format!("GET {url}/servers/getVersion")) && line.contains("timed out"),
        "{line}"
    );
    assert!(!line.contains('\n') && !line.contains(KEY), "{line}");
}

#[tokio::test]
async fn a_rate_limit_waits_what_retry_after_says_and_faults_are_retried() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut s = setup();
    {
        let mut w = s.server.world();
        populate(&mut w);
        // getVersion passes, then a 429 asking for 1 s, a 503, a cut body
        // and a reply that stalls mid-body for less than the timeout.
        w.faults.extend([
            None,
            Some(misp_server::Fault::RateLimited(1)),
            Some(misp_server::Fault::Status(503)),
            Some(misp_server::Fault::Truncated),
            Some(misp_server::Fault::StallBody(Duration::from_millis(200))),
        ]);
    }
    s.cfg.http.retries = 4;
    s.cfg.http.timeout_secs = 10;
    s.sync().await;
    s.assert_mirror();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let waits: Vec<&str> = logs.lines().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(waits.len(), 3, "{logs}");
    // The backoff starts at 1 ms here: 1.0 s is the server's Retry-After.
    assert!(
        waits[0].contains("HTTP 429") && waits[0].contains("retrying in 1.0s"),
        "{logs}"
    );
    assert!(waits[1].contains("HTTP 503") && waits[1].contains("retrying in 0.0s"));
    assert!(waits[2].contains("reading the reply"), "{logs}");
    assert_eq!(s.server.world().faulted.len(), 4);
}

/// `n` attributes spread over events of 1,000 (domains, all for IDS).
fn many(w: &mut World, n: usize) {
    let mut event = 0;
    for i in 0..n {
        if i % 1000 == 0 {
            event = w.add_event(&format!("Bulk {}", i / 1000), true);
        }
        w.add_attr(event, "domain", &format!("d{i}.bulk.example"), true);
    }
    w.publish_all();
}

/// What the store holds for the index, per record: id, keys, labels, score.
fn content(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_index_entry(&mut |e| {
            let keys: Vec<String> = e.keys.iter().map(|k| k.key.clone()).collect();
            out.push(format!(
                "{} {keys:?} {:?} {:?}",
                e.record.id, e.record.labels, e.record.score
            ));
            Ok(())
        })
        .unwrap();
    out.sort();
    out
}

#[tokio::test]
async fn a_role_cap_of_1000_loses_nothing_of_25000_attributes() {
    for refuse_larger in [false, true] {
        // The same instance without a cap: what the store must hold.
        let mut plain = setup();
        plain.cfg.page_size = MispConfig::DEFAULT_PAGE_SIZE;
        many(&mut plain.server.world(), 25_000);
        plain.sync().await;
        assert_eq!(plain.live().len(), 25_000);

        let mut s = setup();
        s.cfg.page_size = MispConfig::DEFAULT_PAGE_SIZE;
        {
            let mut w = s.server.world();
            w.role_cap = Some(RoleCap {
                cap: 1000,
                refuse_larger,
            });
            many(&mut w, 25_000);
        }
        let report = s.sync().await;
        assert_eq!(s.live().len(), 25_000, "refuse_larger {refuse_larger}");
        s.assert_mirror();
        assert_eq!(content(&s.store), content(&plain.store));
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("caps restSearch at 1000 rows per request (page_size 5000)")),
            "{:?}",
            report.notes
        );
        let limits: Vec<u64> = s
            .server
            .world()
            .searches_sent()
            .iter()
            .map(|b| b["limit"].as_u64().unwrap())
            .collect();
        // The first page asks for 5000 (served 1000, or refused); then 1000.
        assert_eq!(limits[0], 5000);
        let after = if refuse_larger { 2 } else { 1 };
        assert!(limits[after..].iter().all(|l| *l == 1000), "{limits:?}");
        // 25 pages of 1000, one empty page (the last is full), and the
        // refusal when there is one.
        assert_eq!(limits.len(), 26 + usize::from(refuse_larger), "{limits:?}");
        let shape = s.store.source_status(SOURCE).unwrap().unwrap().query_shape;
        assert_eq!(
            shape.as_deref(),
            Some(
                "restSearch by event, pages of 1000 (the server's cap; page_size 5000), \
                 X-Result-Count per page"
            )
        );

        // Incremental: edits, a new event, deletes; on both instances.
        for w in [&mut s.server.world(), &mut plain.server.world()] {
            w.edit("aaaaaaaa-0000-4000-8000-000000000010", |a| {
                a.value = "edited.bulk.example".into()
            });
            w.soft_delete("aaaaaaaa-0000-4000-8000-000000012000");
            w.hard_delete_attr("aaaaaaaa-0000-4000-8000-000000024999");
            let e = w.add_event("Late", true);
            for i in 0..1500 {
                w.add_attr(e, "domain", &format!("late{i}.bulk.example"), true);
            }
            w.publish_all();
        }
        s.server.world().log.clear();
        s.sync().await;
        s.assert_mirror();
        plain.sync().await;
        assert_eq!(content(&s.store), content(&plain.store));
        // Only the four changed events were fetched (about 4,500 rows).
        let searches = s.server.world().searches_sent().len();
        assert!(searches <= 7, "{searches} searches");
    }
}

#[tokio::test]
async fn a_role_cap_is_survived_by_attribute_timestamp_too() {
    let mut s = setup();
    s.cfg.page_size = 1000;
    {
        let mut w = s.server.world();
        w.refuse_events_index = Some(403);
        w.role_cap = Some(RoleCap {
            cap: 100,
            refuse_larger: false,
        });
        many(&mut w, 2_500);
    }
    s.sync().await;
    assert_eq!(s.live().len(), 2_500);
    s.assert_mirror();
    s.sync_with(true).await.unwrap();
    s.assert_mirror();
}
