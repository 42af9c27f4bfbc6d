//! What the MISP and OpenCTI clients refuse to do on the wire, against
//! stand-ins on 127.0.0.1:
//!
//! - read a reply past `max_response_bytes`: a gzip bomb (64 MiB of zeros in
//!   413 KiB) fails at once, in one line naming the source and the cap;
//! - follow a redirect to another server (another port), from https to http,
//!   or any redirect of a POST: the second server is never contacted;
//! - log a key a failing server echoes back: the retry warnings, at TRACE,
//!   hold no 12-character run of it.
//!
//! Values are documentation ranges and `.example` names (nothing is matched).

// Both stand-ins include `support/faults.rs`, each its own copy.
#![allow(clippy::duplicate_mod)]

#[path = "support/misp_server.rs"]
mod misp_server;
#[path = "support/opencti_server.rs"]
mod opencti_server;
#[path = "support/tls_front.rs"]
mod tls_front;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use misp_server::{MispServer, KEY};
use opencti_server::{indicator, HttpServer, OpenCti, Play, Request, Response};
use store::config::{MispConfig, OpenCtiConfig};
use store::sources::misp::MispSource;
use store::sources::opencti::OpenCtiSource;
use store::{run_source, RunOptions, Secret, Source, SourceError, SourceErrorKind, Store};

const TOKEN: &str = "flgrn_octi_tkn_9d2c7b4e1a6f3c8d5b0e2a7f4c1d9e6b";
const MIB: usize = 1024 * 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sync(source: &mut dyn Source) -> Result<(), SourceError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("store.sqlite")).unwrap();
    runtime()
        .block_on(run_source(&mut store, source, RunOptions::default()))
        .map(|_| ())
}

fn misp(url: &str) -> MispConfig {
    let mut cfg = MispConfig::new(url, Secret::literal(KEY));
    cfg.http.retries = 2;
    cfg.http.retry_delay_ms = 1;
    cfg.http.timeout_secs = 20;
    cfg.mirror_warninglists = false;
    cfg
}

fn misp_server() -> MispServer {
    let server = MispServer::start();
    {
        let mut w = server.world();
        let e = w.add_event("E", true);
        w.add_attr(e, "ip-dst", "198.51.100.40", true);
        w.publish(e);
    }
    server
}

fn opencti(url: &str) -> OpenCtiConfig {
    let mut cfg = OpenCtiConfig::new(url, Secret::literal(TOKEN));
    cfg.http.retries = 2;
    cfg.http.retry_delay_ms = 1;
    cfg.http.timeout_secs = 20;
    cfg
}

fn opencti_server() -> OpenCti {
    let server = OpenCti::start(Play::V7, TOKEN);
    server.with(|s| s.add(indicator("i1", "[ipv4-addr:value = '198.51.100.41']")));
    server
}

#[test]
fn a_gzip_bomb_stops_at_max_response_bytes() {
    let bomb = 64 * MIB;
    let body = misp_server::gzip_zeros(bomb);
    assert!(body.len() < 500_000, "{} bytes on the wire", body.len());

    let server = misp_server();
    server
        .world()
        .faults
        .push_back(Some(misp_server::Fault::GzipBomb(bomb)));
    let mut cfg = misp(&server.url);
    cfg.http.max_response_bytes = MIB as u64;
    let started = Instant::now();
    let err = sync(&mut MispSource::new("misp", &cfg)).unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Server);
    assert_eq!(
        err.to_string(),
        format!(
            "source `misp`: GET {}/servers/getVersion: the reply is larger than \
             max_response_bytes = 1048576 (1 MiB); not read further",
            server.url
        )
    );
    // Not retried: the same bomb would come again.
    assert_eq!(server.world().log.len(), 1);
    let misp_took = started.elapsed();

    let server = opencti_server();
    server.with(|s| {
        s.faults
            .push_back(Some(opencti_server::Fault::GzipBomb(bomb)))
    });
    let mut cfg = opencti(&server.url());
    cfg.http.max_response_bytes = MIB as u64;
    let err = sync(&mut OpenCtiSource::new("cti", &cfg).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "source `cti`: version check: the reply from {} is larger than \
             max_response_bytes = 1048576 (1 MiB); not read further",
            server.url()
        )
    );
    assert_eq!(server.with(|s| s.log.len()), 1);
    assert!(misp_took < Duration::from_secs(10), "{misp_took:?}");

    // The default cap leaves room for real pages: the same sync passes.
    let default = store::config::HttpConfig::default().max_response_bytes;
    assert_eq!(default, 256 * MIB as u64);
    sync(&mut OpenCtiSource::new("cti", &opencti(&server.url())).unwrap()).unwrap();
}

#[test]
fn misp_redirects_stay_on_one_server_and_never_move_a_post() {
    let other = misp_server();
    // Another server (another port): refused, and the other never asked.
    let server = misp_server();
    server.world().redirects.push((
        "/servers/getVersion".into(),
        302,
        format!("{}/servers/getVersion", other.url),
    ));
    let err = sync(&mut MispSource::new("misp", &misp(&server.url))).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "redirect to {}/servers/getVersion refused: it leads to another port",
            other.url
        )),
        "{err}"
    );
    assert!(other.world().log.is_empty());

    // On the same server a GET may move.
    let server = misp_server();
    server.world().redirects.push((
        "/servers/getVersion".into(),
        301,
        format!("{}/servers/getVersion?moved=1", server.url),
    ));
    sync(&mut MispSource::new("misp", &misp(&server.url))).unwrap();
    assert_eq!(server.world().log[1].1, "/servers/getVersion?moved=1");

    // A POST is never replayed elsewhere, not even on the same server.
    let server = misp_server();
    server.world().redirects.push((
        "/events/index".into(),
        307,
        format!("{}/events/index?moved=1", server.url),
    ));
    let err = sync(&mut MispSource::new("misp", &misp(&server.url))).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "source `misp`: POST {url}/events/index: HTTP 307 Temporary Redirect redirects to \
             `{url}/events/index?moved=1`, not followed (a POST is never redirected): set url \
             to the server's final address",
            url = server.url
        )
    );
    let paths: Vec<String> = server.world().log.iter().map(|l| l.1.clone()).collect();
    assert_eq!(paths, ["/servers/getVersion", "/events/index"]);

    // From https to http on the same host: refused.
    let server = misp_server();
    let front = tls_front::TlsFront::start(&server.url);
    server.world().redirects.push((
        "/servers/getVersion".into(),
        302,
        format!("{}/servers/getVersion?plain=1", server.url),
    ));
    let mut cfg = misp(&front.url);
    cfg.http.ca_file = Some(tls_front::ca_pem());
    let err = sync(&mut MispSource::new("misp", &cfg)).unwrap_err();
    assert!(
        err.to_string().contains("refused: it leaves https"),
        "{err}"
    );
    assert_eq!(
        server.world().log.len(),
        1,
        "the http address is never asked"
    );
}

#[test]
fn opencti_posts_are_never_redirected() {
    let other = opencti_server();
    let to = format!("{}/graphql", other.url());
    let asked = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&asked);
    let mover = HttpServer::start(Arc::new(move |_req: &Request| {
        *counter.lock().unwrap() += 1;
        let mut r = Response::json(308, String::new());
        r.headers.push(("location".into(), to.clone()));
        r
    }));
    let err = sync(&mut OpenCtiSource::new("cti", &opencti(&mover.url())).unwrap()).unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Server);
    assert_eq!(
        err.to_string(),
        format!(
            "source `cti`: version check: {}/graphql answered HTTP 308 Permanent Redirect to \
             `{}/graphql`, not followed (a POST is never redirected): set url to the server's \
             final address",
            mover.url(),
            other.url()
        )
    );
    assert_eq!(*asked.lock().unwrap(), 1, "not retried");
    assert!(
        other.with(|s| s.log.is_empty()),
        "the other server is never asked"
    );
}

/// Every log line, at TRACE.
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

/// The 12-character runs of `secret` found in `text`.
fn runs(text: &str, secret: &str) -> Vec<String> {
    (0..=secret.len() - 12)
        .map(|i| &secret[i..i + 12])
        .filter(|run| text.contains(run))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_key_echoed_by_a_failing_server_is_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut shown = Vec::new();

    // Two echoes then an answer: two retry warnings, and a sync that passes.
    let server = misp_server();
    server.world().faults.extend([
        Some(misp_server::Fault::EchoAuth(502)),
        Some(misp_server::Fault::EchoAuth(500)),
    ]);
    sync(&mut MispSource::new("misp", &misp(&server.url))).unwrap();
    // Three echoes: the retries run out and the error is shown.
    server.world().faults.extend([
        Some(misp_server::Fault::EchoAuth(503)),
        Some(misp_server::Fault::EchoAuth(503)),
        Some(misp_server::Fault::EchoAuth(503)),
    ]);
    let err = sync(&mut MispSource::new("misp", &misp(&server.url))).unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    shown.push(format!("{err} {err:?}"));

    let server = opencti_server();
    server.with(|s| {
        s.faults.extend([
            Some(opencti_server::Fault::EchoAuth(500)),
            Some(opencti_server::Fault::EchoAuth(502)),
        ])
    });
    sync(&mut OpenCtiSource::new("cti", &opencti(&server.url())).unwrap()).unwrap();
    // The echo reached the error line, masked.
    assert!(shown[0].contains("authorization: ***"), "{}", shown[0]);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.matches("retrying").count(), 6, "{logs}");
    shown.push(logs);
    for text in &shown {
        assert_eq!(runs(text, KEY), Vec::<String>::new(), "{text}");
        assert_eq!(runs(text, TOKEN), Vec::<String>::new(), "{text}");
    }
}
