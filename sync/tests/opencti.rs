//! The OpenCTI source against the stand-in server (`support/opencti_server.rs`),
//! every case played as 7.260318.0 and 6.9.28 (list shape) and 5.12.23
//! (edges shape).
//!
//! The stand-in validates every query against the saved schema of the version
//! it plays; each test also checks that the log holds no invalid query and no
//! `first` above 5000. Values use documentation ranges (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24) and `.example` names, which sit on
//! warninglists: no warninglist is compiled into these indexes.

#[path = "support/opencti_server.rs"]
mod opencti_server;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use matcher::index::Index;
use matcher::lookup::{Lookup, LookupOptions};
use matcher::{HitMethod, Kind, Record};
use opencti_server::{indicator, observable, relationship, Fault, OpenCti, Play};
use serde_json::json;
use store::compile::{compile, CompileOptions};
use store::config::OpenCtiConfig;
use store::sources::opencti::OpenCtiSource;
use store::{
    run_source, ObjectType, Progress, RunOptions, Secret, SourceError, SourceErrorKind, Store,
    SyncReport,
};
use tempfile::TempDir;

const TOKEN: &str = "3f1c2a9e-5b7d-4e8f-9a0b-c1d2e3f4a5b6";

struct Env {
    server: OpenCti,
    dir: TempDir,
    store: Store,
    cfg: OpenCtiConfig,
}

fn env(play: Play) -> Env {
    let server = OpenCti::start(play, TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.sqlite")).unwrap();
    let mut cfg = OpenCtiConfig::new(server.url(), Secret::literal(TOKEN));
    cfg.http.retries = 3;
    cfg.http.timeout_secs = 10;
    Env {
        server,
        dir,
        store,
        cfg,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Env {
    fn sync_with(
        &mut self,
        full: bool,
        progress: &dyn Progress,
        cancel: Arc<AtomicBool>,
    ) -> Result<SyncReport, SourceError> {
        let mut source = OpenCtiSource::new("cti", &self.cfg)?;
        runtime().block_on(run_source(
            &mut self.store,
            &mut source,
            RunOptions {
                full,
                cancel,
                progress,
            },
        ))
    }

    fn sync(&mut self, full: bool) -> Result<SyncReport, SourceError> {
        self.sync_with(full, &store::NoProgress, Arc::new(AtomicBool::new(false)))
    }

    fn index(&self) -> Index {
        let dir = self.dir.path().join("index");
        compile(&self.store, &dir, &CompileOptions::default(), &[]).unwrap();
        Index::open(&dir).unwrap()
    }

    fn live_ids(&self, object: ObjectType) -> Vec<String> {
        let mut ids = Vec::new();
        self.store
            .for_each_live_id("cti", object, &mut |id| {
                ids.push(id.to_string());
                Ok(())
            })
            .unwrap();
        ids.sort();
        ids
    }

    /// Every query received was valid for the played schema, with `first` ≤ 5000.
    fn assert_queries_valid(&self) {
        self.server.with(|s| {
            for l in &s.log {
                if l.fault.is_some() && !l.valid {
                    continue;
                }
                assert!(
                    l.valid,
                    "invalid query sent to {:?}: {}",
                    self.server.play, l.query
                );
                if let Some(first) = l.variables.get("first").and_then(|f| f.as_i64()) {
                    assert!(first <= 5000, "first = {first}");
                }
            }
        });
    }
}

fn server_ids(server: &OpenCti, root: &str) -> Vec<String> {
    let mut ids = server.with(|s| s.ids(root));
    ids.sort();
    ids
}

/// (record, method) of every hit on a value.
fn hits(index: &Index, kind: Kind, raw: &str) -> Vec<(Record, HitMethod)> {
    let value = matcher::normalize::normalize(kind, raw).unwrap().value;
    let mut lookup = Lookup::new(index, LookupOptions::default());
    lookup
        .value(kind, &value)
        .hits
        .into_iter()
        .map(|h| (index.records().get(h.record).unwrap(), h.method))
        .collect()
}

fn hit_ids(index: &Index, kind: Kind, raw: &str) -> Vec<String> {
    let mut ids: Vec<String> = hits(index, kind, raw)
        .into_iter()
        .map(|(r, _)| r.id)
        .collect();
    ids.sort();
    ids
}

fn ipv4_indicator(id: &str, ip: &str) -> serde_json::Value {
    indicator(id, &format!("[ipv4-addr:value = '{ip}']"))
}

#[test]
fn full_sync_mirrors_the_server_and_matches() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(ipv4_indicator("i-ip", "198.51.100.7"));
            let mut dom = indicator("i-dom", "[domain-name:value = 'evil.example']");
            dom["x_opencti_main_observable_type"] = json!("Domain-Name");
            s.add(dom);
            // A yara rule is kept but matches only through its based-on file.
            let mut yara = indicator("i-yara", "rule x { condition: true }");
            yara["pattern_type"] = json!("yara");
            s.add(yara);
            let mut file = observable("o-file", "StixFile", "dropper.exe");
            file["name"] = json!("dropper.exe");
            file["hashes"] = json!([{"__typename": "Hash", "algorithm": "SHA-256",
                "hash": "A".repeat(64)}, {"__typename": "Hash", "algorithm": "MD5", "hash": "b".repeat(32)}]);
            s.add(file);
            s.add(relationship("r-yara", "based-on", ("i-yara", "Indicator"), ("o-file", "StixFile")));
            // A relationship to a malware is not stored.
            s.add(relationship("r-mal", "related-to", ("i-ip", "Indicator"), ("m1", "Malware")));
        });
        let report = e.sync(false).unwrap();
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with(&format!("OpenCTI {}", play.version()))),
            "{:?}",
            report.notes
        );
        assert_eq!(
            e.live_ids(ObjectType::Indicator),
            server_ids(&e.server, "indicators")
        );
        assert_eq!(e.live_ids(ObjectType::Observable), vec!["o-file"]);
        assert_eq!(e.live_ids(ObjectType::Relationship), vec!["r-yara"]);

        let index = e.index();
        let ip = hits(&index, Kind::Ipv4, "198.51.100.7");
        assert_eq!(ip.len(), 1, "{play:?}");
        let r = &ip[0].0;
        assert_eq!(
            (r.source.as_str(), r.source_type.as_str(), r.id.as_str()),
            ("cti", "opencti", "i-ip")
        );
        assert_eq!(r.labels, vec!["c2"], "{play:?}: labels in both shapes");
        assert_eq!(r.markings, vec!["TLP:AMBER"], "{play:?}");
        assert_eq!(r.created_by.as_deref(), Some("ACME CERT"));
        assert_eq!(r.score, Some(80));
        assert_eq!(
            r.link.as_deref(),
            Some(format!("{}/dashboard/observations/indicators/i-ip", e.server.url()).as_str())
        );
        assert_eq!(hit_ids(&index, Kind::Domain, "evil.example"), vec!["i-dom"]);
        // The file's every hash is indexed as a key of its yara indicator.
        let sha = hits(&index, Kind::Sha256, &"a".repeat(64));
        assert_eq!(sha.len(), 1, "{play:?}");
        assert_eq!(sha[0].0.id, "i-yara");
        assert_eq!(sha[0].0.extra["observable"]["id"], json!("o-file"));
        assert_eq!(hits(&index, Kind::Md5, &"b".repeat(32)).len(), 1);

        let status = e.store.source_status("cti").unwrap().unwrap();
        assert_eq!(status.server_version.as_deref(), Some(play.version()));
        assert!(
            status.watermarks.contains_key("watermark.indicators"),
            "{:?}",
            status.watermarks
        );
        assert!(status.last_success.is_some());
        assert_eq!(status.non_stix_pattern_types.get("yara"), Some(&1));

        // Nothing changed: the incremental run re-reads only the overlap.
        let again = e.sync(false).unwrap();
        assert_eq!(
            again.applied.inserted + again.applied.updated,
            0,
            "{play:?}"
        );
        e.assert_queries_valid();
    }
}

#[test]
fn revoked_and_expired_indicators_leave_the_matches() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(ipv4_indicator("i-a", "198.51.100.1"));
            s.add(ipv4_indicator("i-b", "198.51.100.2"));
            s.add(ipv4_indicator("i-c", "198.51.100.3"));
        });
        e.sync(false).unwrap();
        let index = e.index();
        for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            assert_eq!(hits(&index, Kind::Ipv4, ip).len(), 1);
        }
        e.server.with(|s| {
            s.update(&["i-a"], |n| {
                n["revoked"] = json!(true);
                n["x_opencti_detection"] = json!(false);
            });
            s.update(&["i-b"], |n| {
                n["valid_until"] = json!("2024-06-01T00:00:00.000Z")
            });
        });
        let report = e.sync(false).unwrap();
        assert_eq!(report.applied.updated, 2, "{play:?}: {report:?}");
        let index = e.index();
        assert!(
            hits(&index, Kind::Ipv4, "198.51.100.1").is_empty(),
            "{play:?}: revoked"
        );
        assert!(
            hits(&index, Kind::Ipv4, "198.51.100.2").is_empty(),
            "{play:?}: expired"
        );
        assert_eq!(hits(&index, Kind::Ipv4, "198.51.100.3").len(), 1);
        // Kept in the store (they may come back), not matched.
        assert_eq!(e.live_ids(ObjectType::Indicator).len(), 3);
        // The incremental pass asked for `updated_at gte (watermark - overlap)`.
        e.server.with(|s| {
            let last = s
                .requests_for("indicators")
                .last()
                .unwrap()
                .variables
                .clone();
            assert_eq!(last["filters"]["filters"][0]["key"], json!(["updated_at"]));
            assert_eq!(last["filters"]["filters"][0]["operator"], json!("gte"));
        });
        e.assert_queries_valid();
    }
}

/// The stored `detection` of one indicator (None when it is not in the store).
fn stored_detection(store: &Store, id: &str) -> Option<Option<bool>> {
    let mut out = None;
    store
        .for_each_index_entry(&mut |e| {
            if e.record.id == id {
                out = Some(e.record.detection);
            }
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn detection_false_is_stored_but_never_matched_until_detection_is_turned_on() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            let mut off = ipv4_indicator("i-off", "198.51.100.40");
            off["x_opencti_detection"] = json!(false);
            s.add(off);
            s.add(ipv4_indicator("i-on", "198.51.100.41"));
            // Neither the observable the indicator is based on nor a domain
            // resolving to it may alert through it either.
            s.add(observable("o-off", "IPv4-Addr", "198.51.100.40"));
            s.add(relationship(
                "r-b",
                "based-on",
                ("i-off", "Indicator"),
                ("o-off", "IPv4-Addr"),
            ));
            s.add(observable(
                "o-dom",
                "Domain-Name",
                "resolves-to-off.example",
            ));
            s.add(relationship(
                "r-res",
                "resolves-to",
                ("o-dom", "Domain-Name"),
                ("o-off", "IPv4-Addr"),
            ));
        });
        e.sync(false).unwrap();
        // Stored, with the flag.
        assert_eq!(
            stored_detection(&e.store, "i-off"),
            Some(Some(false)),
            "{play:?}"
        );
        let dir = e.dir.path().join("index");
        let meta = compile(&e.store, &dir, &CompileOptions::default(), &[]).unwrap();
        // The indicator itself and its `related` entry (the resolving domain).
        assert_eq!(
            meta.excluded.get("detection disabled"),
            Some(&2),
            "{meta:?}"
        );
        let index = Index::open(&dir).unwrap();
        assert!(
            hits(&index, Kind::Ipv4, "198.51.100.40").is_empty(),
            "{play:?}: detection = false must not hit"
        );
        assert!(
            hits(&index, Kind::Domain, "resolves-to-off.example").is_empty(),
            "{play:?}: nor through a relationship"
        );
        assert_eq!(hit_ids(&index, Kind::Ipv4, "198.51.100.41"), ["i-on"]);
        // The CDB export leaves it out too, for the same reason.
        let out = e.dir.path().join("cdb");
        let summary =
            store::export::export_store(&e.store, &out, &store::export::ExportOptions::default())
                .unwrap();
        assert_eq!(
            summary.excluded.get("detection disabled"),
            meta.excluded.get("detection disabled"),
            "{play:?}: the lists and the index agree"
        );
        let ip_list = std::fs::read_to_string(out.join("intelmatch-ip")).unwrap();
        assert!(!ip_list.contains("198.51.100.40"), "{ip_list}");
        assert!(ip_list.contains("198.51.100.41"), "{ip_list}");

        // The analyst turns detection on: the next incremental sync makes it hit.
        e.server.with(|s| {
            s.update(&["i-off"], |n| n["x_opencti_detection"] = json!(true));
        });
        let report = e.sync(false).unwrap();
        assert_eq!(report.applied.updated, 1, "{play:?}: {report:?}");
        assert_eq!(stored_detection(&e.store, "i-off"), Some(Some(true)));
        let index = e.index();
        let got: Vec<(String, HitMethod)> = hits(&index, Kind::Ipv4, "198.51.100.40")
            .into_iter()
            .map(|(r, m)| (r.id, m))
            .collect();
        assert!(
            got.contains(&("i-off".to_string(), HitMethod::Exact)),
            "{play:?}: {got:?}"
        );
        assert!(
            hits(&index, Kind::Domain, "resolves-to-off.example")
                .iter()
                .any(|(r, m)| r.id == "i-off" && *m == HitMethod::Related),
            "{play:?}"
        );
        e.assert_queries_valid();
    }
}

#[test]
fn related_hit_through_resolves_to_both_ways() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            // A domain resolving to an IP that an indicator is based on.
            s.add(observable("o-ip", "IPv4-Addr", "203.0.113.9"));
            s.add(ipv4_indicator("i-ip", "203.0.113.9"));
            s.add(relationship(
                "r-b1",
                "based-on",
                ("i-ip", "Indicator"),
                ("o-ip", "IPv4-Addr"),
            ));
            s.add(observable(
                "o-dom",
                "Domain-Name",
                "resolver-to-bad.example",
            ));
            s.add(relationship(
                "r-res",
                "resolves-to",
                ("o-dom", "Domain-Name"),
                ("o-ip", "IPv4-Addr"),
            ));
            // The reverse: an IP whose domain is an indicator.
            let mut dom = indicator("i-dom", "[domain-name:value = 'c2.example']");
            dom["x_opencti_main_observable_type"] = json!("Domain-Name");
            s.add(dom);
            s.add(observable("o-dom2", "Domain-Name", "c2.example"));
            s.add(relationship(
                "r-b2",
                "based-on",
                ("i-dom", "Indicator"),
                ("o-dom2", "Domain-Name"),
            ));
            s.add(observable("o-ip2", "IPv4-Addr", "203.0.113.77"));
            s.add(relationship(
                "r-res2",
                "resolves-to",
                ("o-dom2", "Domain-Name"),
                ("o-ip2", "IPv4-Addr"),
            ));
        });
        e.sync(false).unwrap();
        let index = e.index();
        let related = |kind, value| -> Vec<(String, String, String)> {
            hits(&index, kind, value)
                .into_iter()
                .filter(|(_, m)| *m == HitMethod::Related)
                .map(|(r, _)| {
                    let rel = r.related.expect("related hits say through what");
                    (r.id, rel.relationship, rel.via)
                })
                .collect()
        };
        assert_eq!(
            related(Kind::Domain, "resolver-to-bad.example"),
            vec![(
                "i-ip".to_string(),
                "resolves-to".to_string(),
                "203.0.113.9".to_string()
            )],
            "{play:?}"
        );
        assert_eq!(
            related(Kind::Ipv4, "203.0.113.77"),
            vec![(
                "i-dom".to_string(),
                "resolves-to".to_string(),
                "c2.example".to_string()
            )],
            "{play:?}"
        );
        // The relationship query asked for the stored types only.
        e.server.with(|s| {
            let q = s.requests_for("stixCoreRelationships")[0].variables.clone();
            assert_eq!(
                q["filters"]["filters"][0]["values"],
                json!(["based-on", "resolves-to", "related-to"])
            );
        });
        e.assert_queries_valid();
    }
}

#[test]
fn a_compound_pattern_is_reported_as_partial() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(indicator(
                "i-and",
                "[ipv4-addr:value = '198.51.100.50'] AND [domain-name:value = 'pair.example']",
            ))
        });
        e.sync(false).unwrap();
        let index = e.index();
        let h = hits(&index, Kind::Ipv4, "198.51.100.50");
        assert_eq!(h.len(), 1, "{play:?}");
        assert!(
            h[0].0.partial,
            "{play:?}: a value meets only part of an AND"
        );
        let status = e.store.source_status("cti").unwrap().unwrap();
        assert_eq!(status.parse_status.get("partial"), Some(&1));
    }
}

#[test]
fn the_5000_cap_is_never_exceeded_and_a_silent_cap_is_survived() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            // The server's own maximum is lower than the page size asked for:
            // it cuts pages silently with hasNextPage false, as OpenCTI does.
            s.max_page = 40;
            for i in 0..130 {
                s.add(ipv4_indicator(
                    &format!("i{i:03}"),
                    &format!("198.51.100.{i}"),
                ));
            }
        });
        e.cfg.page_size = 9000;
        let source = OpenCtiSource::new("cti", &e.cfg).unwrap();
        assert_eq!(source.page_size(), 5000);
        let report = e.sync(false).unwrap();
        assert_eq!(
            e.live_ids(ObjectType::Indicator).len(),
            130,
            "{play:?}: {:?}",
            report.notes
        );
        assert!(
            report.notes.iter().any(|n| n.contains("caps pages at 40")),
            "{:?}",
            report.notes
        );
        e.server.with(|s| {
            let firsts: Vec<i64> = s
                .requests_for("indicators")
                .iter()
                .map(|l| l.variables["first"].as_i64().unwrap())
                .collect();
            assert_eq!(firsts[0], 5000);
            assert!(firsts[1..].iter().all(|f| *f == 40), "{firsts:?}");
        });
        e.assert_queries_valid();
    }
}

#[test]
fn a_rejected_or_expired_token_is_one_clear_error() {
    for play in Play::ALL {
        for expired in [false, true] {
            let mut e = env(play);
            e.server.with(|s| {
                if expired {
                    s.token_expired = true;
                } else {
                    s.token = "another-token".into();
                }
            });
            let err = e.sync(false).unwrap_err();
            assert_eq!(err.kind(), SourceErrorKind::Auth, "{play:?}: {err}");
            // 7.x answers an expired token with HTTP 401, the others in the body.
            let answer = if expired && play == Play::V7 {
                "HTTP 401 Unauthorized"
            } else {
                "AUTH_REQUIRED"
            };
            assert_eq!(
                err.to_string(),
                format!(
                    "source `cti`: token refused: invalid or expired ({} answered {answer}); \
                     renew the API token that `token` = <literal masked> names",
                    e.server.url()
                )
            );
            // One attempt: a refused token is not retried.
            assert_eq!(e.server.with(|s| s.log.len()), 1);
            let status = e.store.source_status("cti").unwrap().unwrap();
            let run = status.last_run.unwrap();
            assert!(run
                .error
                .unwrap()
                .contains("token refused: invalid or expired"));
        }
    }
}

#[test]
fn tokens_of_every_form_are_accepted() {
    let tokens = [
        // 7.x API tokens.
        "flgrn_octi_tkn_4f8a2c9e1b7d3a6f5e0c8b2a9d1e7f3c",
        // Older ones: the user's UUID.
        "6b3f1e2a-9c4d-4e8f-a1b2-c3d4e5f60718",
        // A JWT from an SSO front.
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJpbnRlbG1hdGNoIn0.\
         c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0wMTIzNDU2Nzg5",
    ];
    for play in Play::ALL {
        for token in tokens {
            let mut e = env(play);
            e.server.with(|s| {
                s.token = token.into();
                s.add(ipv4_indicator("i1", "198.51.100.1"));
            });
            e.cfg.token = Secret::literal(token);
            e.sync(false)
                .unwrap_or_else(|err| panic!("{play:?} {token}: {err}"));
            assert_eq!(e.live_ids(ObjectType::Indicator), vec!["i1"]);
            let auth = e.server.with(|s| s.log[0].authorization.clone());
            assert_eq!(auth, Some(format!("Bearer {token}")));
        }
    }
}

/// One raw HTTP/1.1 request: the status and the body.
fn raw_request(url: &str, method: &str, content_type: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} /graphql HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(c) = content_type {
        head.push_str(&format!("Content-Type: {c}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body.as_bytes()).unwrap();
    // The stand-in keeps connections alive: end ours so that it closes.
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn every_request_is_a_post_of_json_which_7x_requires() {
    // The stand-in playing 7.x refuses the rest, as Apollo's CSRF prevention does.
    let e = env(Play::V7);
    let about = r#"{"query":"query About { about { version } }"}"#;
    assert_eq!(
        raw_request(&e.server.url(), "POST", Some("application/json"), about).0,
        200
    );
    for (method, content_type) in [
        ("GET", None),
        ("POST", None),
        ("POST", Some("text/plain")),
        ("POST", Some("application/x-www-form-urlencoded")),
    ] {
        let (status, body) = raw_request(&e.server.url(), method, content_type, about);
        assert_eq!(status, 400, "{method} {content_type:?}");
        assert!(
            body.contains("Cross-Site Request Forgery (CSRF)"),
            "{method} {content_type:?}: {body}"
        );
    }
    let (status, body) = raw_request(&e.server.url(), "POST", Some("application/graphql"), about);
    assert_eq!(status, 400);
    assert!(body.contains("invalid Content-Type"), "{body}");

    for play in Play::ALL {
        let mut e = env(play);
        e.server
            .with(|s| s.add(ipv4_indicator("i1", "198.51.100.1")));
        e.sync(true).unwrap();
        e.server.with(|s| {
            assert!(s.log[0].root == ["about"], "the version probe comes first");
            for l in &s.log {
                assert_eq!(l.method, "POST", "{play:?}: {}", l.query);
                assert_eq!(
                    l.content_type.as_deref(),
                    Some("application/json"),
                    "{play:?}: {}",
                    l.query
                );
            }
        });
    }
}

#[test]
fn observable_types_and_hash_algorithms_newer_than_the_code_are_counted() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(observable("o-ip", "IPv4-Addr", "198.51.100.9"));
            for (id, t, v) in [
                ("o-prompt", "AIPrompt", "Ignore previous instructions"),
                ("o-imei", "IMEI", "490154203237518"),
                ("o-iccid", "ICCID", "8944500102198304826"),
                ("o-imsi", "IMSI", "310150123456789"),
            ] {
                s.add(observable(id, t, v));
            }
            let mut file = observable("o-file", "StixFile", "x.exe");
            file["hashes"] = json!([
                {"__typename": "Hash", "algorithm": "SHA-256", "hash": "a".repeat(64)},
                {"__typename": "Hash", "algorithm": "SSDEEP", "hash": "3:abc:def"},
                {"__typename": "Hash", "algorithm": "TLSH", "hash": "T1ABCDEF"},
            ]);
            s.add(file);
        });
        let report = e.sync(false).unwrap();
        assert_eq!(
            e.live_ids(ObjectType::Observable),
            vec!["o-file", "o-ip"],
            "{play:?}"
        );
        let note = report
            .notes
            .iter()
            .find(|n| n.starts_with("observables:"))
            .unwrap();
        assert_eq!(
            note,
            "observables: 6 fetched in 1 pages, skipped 1 × hash algorithm SSDEEP, \
             1 × hash algorithm TLSH, 1 × type AIPrompt, 1 × type ICCID, 1 × type IMEI, \
             1 × type IMSI",
            "{play:?}"
        );
        assert_eq!(
            e.store
                .source_status("cti")
                .unwrap()
                .unwrap()
                .recent_rejects,
            0
        );
        e.assert_queries_valid();
    }
}

#[test]
fn server_errors_rate_limits_and_truncated_bodies_are_retried() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            for i in 0..30 {
                s.add(ipv4_indicator(&format!("i{i:02}"), &format!("192.0.2.{i}")));
            }
            // The version check passes, then every kind of failure once.
            s.faults.extend([
                None,
                Some(Fault::Status(500)),
                Some(Fault::RateLimited(1)),
                Some(Fault::Truncated),
                Some(Fault::Status(502)),
            ]);
        });
        e.cfg.page_size = 10;
        e.cfg.http.retries = 4;
        let started = std::time::Instant::now();
        e.sync(false).unwrap();
        // Retry-After: 1 was honoured.
        assert!(started.elapsed() >= std::time::Duration::from_secs(1));
        assert_eq!(
            e.live_ids(ObjectType::Indicator),
            server_ids(&e.server, "indicators")
        );
        let faults = e
            .server
            .with(|s| s.log.iter().filter(|l| l.fault.is_some()).count());
        assert_eq!(faults, 4);
        e.assert_queries_valid();
    }
}

#[test]
fn retries_end_with_a_clear_error() {
    let mut e = env(Play::V6_9);
    e.cfg.http.retries = 1;
    e.server.with(|s| {
        s.faults
            .extend([Some(Fault::Status(503)), Some(Fault::Status(503))])
    });
    let err = e.sync(false).unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Server);
    assert!(err.to_string().contains("answered HTTP 503"), "{err}");
    assert_eq!(e.server.with(|s| s.log.len()), 2);
}

/// Sets the cancel flag after `pages` pages (a SIGTERM between pages).
struct StopAfter {
    pages: u64,
    seen: AtomicU64,
    flag: Arc<AtomicBool>,
}

impl Progress for StopAfter {
    fn set_total(&self, _: Option<u64>) {}
    fn inc(&self, pages: u64, _: u64) {
        if self.seen.fetch_add(pages, Ordering::SeqCst) + pages >= self.pages {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
    fn message(&self, _: &str) {}
}

#[test]
fn a_sync_killed_between_pages_resumes_and_ends_in_the_source_data() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            for i in 0..100 {
                s.add(ipv4_indicator(
                    &format!("i{i:03}"),
                    &format!("198.51.100.{i}"),
                ));
            }
            // About, two pages, then the connection dies for good (kill -9 of
            // the sync, or of the server: either way nothing past page 2 commits).
            s.faults
                .extend([None, None, None, Some(Fault::Status(400))]);
        });
        e.cfg.page_size = 20;
        let err = e.sync(false).unwrap_err();
        assert!(err.to_string().contains("HTTP 400"), "{err}");
        assert_eq!(
            e.live_ids(ObjectType::Indicator).len(),
            40,
            "{play:?}: two pages committed"
        );

        // While stopped the server changes: an update, new indicators.
        e.server.with(|s| {
            s.update(&["i010"], |n| n["x_opencti_score"] = json!(99));
            s.add(ipv4_indicator("i-new", "198.51.100.200"));
        });
        // A SIGTERM after two more pages: stops cleanly between pages.
        let flag = Arc::new(AtomicBool::new(false));
        let stop = StopAfter {
            pages: 2,
            seen: AtomicU64::new(0),
            flag: Arc::clone(&flag),
        };
        let report = e.sync_with(false, &stop, flag).unwrap_err();
        assert_eq!(report.kind(), SourceErrorKind::Cancelled);
        assert_eq!(e.live_ids(ObjectType::Indicator).len(), 80, "{play:?}");
        let status = e.store.source_status("cti").unwrap().unwrap();
        assert_eq!(
            status.last_run.unwrap().status,
            store::RunStatus::Interrupted
        );

        e.sync(false).unwrap();
        assert_eq!(
            e.live_ids(ObjectType::Indicator),
            server_ids(&e.server, "indicators"),
            "{play:?}"
        );
        e.server.with(|s| {
            let pages = s.requests_for("indicators");
            // Each resumed run started from the saved cursor, not from the beginning.
            let with_cursor = pages
                .iter()
                .filter(|l| l.variables["after"].is_string())
                .count();
            assert!(
                with_cursor >= pages.len() - 2,
                "{with_cursor} of {}",
                pages.len()
            );
        });
        let index = e.index();
        let h = hits(&index, Kind::Ipv4, "198.51.100.10");
        assert_eq!(h[0].0.score, Some(99), "{play:?}: the update arrived");
        e.assert_queries_valid();
    }
}

#[test]
fn a_deleted_indicator_is_removed_by_reconciliation() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(ipv4_indicator("i-keep", "198.51.100.1"));
            s.add(ipv4_indicator("i-gone", "198.51.100.2"));
            s.add(observable("o-gone", "IPv4-Addr", "198.51.100.2"));
            s.add(relationship(
                "r-gone",
                "based-on",
                ("i-gone", "Indicator"),
                ("o-gone", "IPv4-Addr"),
            ));
        });
        e.sync(false).unwrap();
        // A hard delete (or a merge) leaves no trace in the updated_at pages.
        e.server.with(|s| s.delete(&["i-gone", "o-gone", "r-gone"]));
        e.sync(false).unwrap();
        assert_eq!(e.live_ids(ObjectType::Indicator).len(), 2, "not due yet");
        let report = e.sync(true).unwrap();
        assert!(
            report
                .notes
                .iter()
                .any(|n| n == "reconciled ids: 3 deleted locally"),
            "{:?}",
            report.notes
        );
        assert_eq!(e.live_ids(ObjectType::Indicator), vec!["i-keep"]);
        assert!(e.live_ids(ObjectType::Observable).is_empty());
        assert!(e.live_ids(ObjectType::Relationship).is_empty());
        assert!(hits(&e.index(), Kind::Ipv4, "198.51.100.2").is_empty());
        e.server.with(|s| {
            let ids = s.requests_for("indicators");
            let listing = ids
                .iter()
                .find(|l| l.query.contains("IndicatorIds"))
                .unwrap();
            assert_eq!(listing.variables["first"], json!(5000));
        });
        let status = e.store.source_status("cti").unwrap().unwrap();
        assert!(status.last_reconcile.is_some());

        // With a zero interval every run reconciles.
        e.server.with(|s| s.delete(&["i-keep"]));
        e.cfg.reconcile_interval_secs = 0;
        e.sync(false).unwrap();
        assert!(e.live_ids(ObjectType::Indicator).is_empty(), "{play:?}");
        e.assert_queries_valid();
    }
}

#[test]
fn config_filters_keep_the_store_to_what_is_wanted() {
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(ipv4_indicator("i-ok", "198.51.100.1"));
            let mut low = ipv4_indicator("i-low", "198.51.100.2");
            low["x_opencti_score"] = json!(10);
            s.add(low);
            let mut red = ipv4_indicator("i-red", "198.51.100.3");
            red["objectMarking"] = json!([{"__typename": "MarkingDefinition", "id": "m4",
                "definition_type": "TLP", "definition": "TLP:RED"}]);
            s.add(red);
        });
        e.cfg.min_score = Some(50);
        e.cfg.markings_exclude = vec!["TLP:RED".into()];
        e.cfg.created_by = vec!["ACME CERT".into()];
        e.sync(false).unwrap();
        assert_eq!(e.live_ids(ObjectType::Indicator), vec!["i-ok"], "{play:?}");
        // Moving out of the filters later removes it.
        e.server
            .with(|s| s.update(&["i-ok"], |n| n["x_opencti_score"] = json!(5)));
        e.sync(false).unwrap();
        assert!(e.live_ids(ObjectType::Indicator).is_empty(), "{play:?}");
        e.assert_queries_valid();
    }
}

/// Collects every log line at TRACE level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_token_never_appears_in_logs_errors_or_reports() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut shown = Vec::new();
    for play in Play::ALL {
        let mut e = env(play);
        e.server.with(|s| {
            s.add(ipv4_indicator("i1", "198.51.100.1"));
            s.faults
                .extend([None, Some(Fault::Status(500)), Some(Fault::Truncated)]);
        });
        e.cfg.http.insecure = true;
        let report = e.sync(true).unwrap();
        shown.push(serde_json::to_string(&report).unwrap());
        shown.push(format!("{report:?}"));
        // Refused token, then an unreachable server.
        e.server.with(|s| s.token = "other".into());
        let err = e.sync(false).unwrap_err();
        shown.push(format!("{err} {err:?}"));
        let mut down = e.cfg.clone();
        down.url = "http://127.0.0.1:9".into();
        down.http.retries = 0;
        let err = OpenCtiSource::new("cti", &down)
            .map(|mut s| {
                runtime().block_on(run_source(&mut e.store, &mut s, RunOptions::default()))
            })
            .unwrap()
            .unwrap_err();
        shown.push(format!("{err} {err:?}"));
        let status = e.store.status().unwrap();
        shown.push(serde_json::to_string(&status).unwrap());
        // The token did reach the server, as a bearer header.
        let auth = e.server.with(|s| s.log[0].authorization.clone());
        assert_eq!(auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    assert!(logs.contains("NOT verified"), "insecure is warned about");
    assert!(!logs.contains(TOKEN), "token in the logs");
    for s in shown {
        assert!(!s.contains(TOKEN), "token in {s}");
    }
}

#[test]
fn a_query_the_server_refuses_and_an_old_version_are_clear_errors() {
    // A 5.12.23 server claiming 6.9: the list-shaped query fails its schema
    // and OpenCTI answers GRAPHQL_VALIDATION_FAILED with HTTP 200.
    let mut e = env(Play::V5_12_23);
    e.server.with(|s| {
        s.claimed_version = Some("6.9.28".into());
        s.add(ipv4_indicator("i1", "198.51.100.1"));
    });
    let err = e.sync(false).unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Server);
    assert!(err.to_string().contains("indicators page 1: "), "{err}");
    assert!(
        err.to_string()
            .contains("refused the query as invalid for its schema"),
        "{err}"
    );
    assert!(err.to_string().contains("LabelConnection"), "{err}");

    let mut e = env(Play::V6_9);
    e.server.with(|s| s.claimed_version = Some("5.11.3".into()));
    let err = e.sync(false).unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Config);
    assert!(
        err.to_string().contains("OpenCTI 5.11.3 is not supported"),
        "{err}"
    );
}

#[test]
fn answers_that_stall_past_the_timeout_are_retried() {
    let mut e = env(Play::V6_9);
    e.server.with(|s| {
        for i in 0..5 {
            s.add(ipv4_indicator(&format!("i{i}"), &format!("192.0.2.{i}")));
        }
        // The version check passes; page 1 then stalls before its head, and
        // on the retry in the middle of its body, each past timeout_secs.
        let stall = std::time::Duration::from_secs(3);
        s.faults.extend([
            None,
            Some(Fault::Stall(stall)),
            Some(Fault::StallBody(stall)),
        ]);
    });
    e.cfg.http.timeout_secs = 1;
    e.cfg.http.retries = 2;
    e.cfg.http.retry_delay_ms = 1;
    e.sync(false).unwrap();
    assert_eq!(
        e.live_ids(ObjectType::Indicator),
        server_ids(&e.server, "indicators")
    );
    let faults = e
        .server
        .with(|s| s.log.iter().filter(|l| l.fault.is_some()).count());
    assert_eq!(faults, 2);
}
