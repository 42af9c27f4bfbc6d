//! TLS for the MISP source against a real TLS server on 127.0.0.1 (the
//! stand-in behind `support/tls_front.rs`, with a certificate from a test CA):
//! verified by default, trusted through `ca_file`, accepted unverified only
//! with an explicit `insecure = true`, and a bad `ca_file` named.
//!
//! Values are documentation ranges and `.example` names (no warninglist is
//! involved: nothing is compiled here).

#[path = "support/misp_server.rs"]
mod misp_server;
#[path = "support/tls_front.rs"]
mod tls_front;

use misp_server::{MispServer, KEY};
use store::config::MispConfig;
use store::sources::misp::MispSource;
use store::{run_source, ObjectType, RunOptions, Secret, SourceError, SourceErrorKind, Store};
use tls_front::{ca_pem, TlsFront};

const SOURCE: &str = "misp";

struct Setup {
    server: MispServer,
    front: TlsFront,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let server = MispServer::start();
    {
        let mut w = server.world();
        let e = w.add_event("Over TLS", true);
        w.add_attr(e, "ip-dst", "198.51.100.30", true);
        w.add_attr(e, "domain", "tls.evil.example", true);
        w.publish(e);
    }
    let front = TlsFront::start(&server.url);
    Setup {
        server,
        front,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    fn cfg(&self) -> MispConfig {
        let mut cfg = MispConfig::new(self.front.url.clone(), Secret::literal(KEY));
        cfg.http.retries = 0;
        cfg.http.timeout_secs = 10;
        cfg.mirror_warninglists = false;
        cfg
    }

    fn sync(&self, cfg: &MispConfig) -> Result<Vec<String>, SourceError> {
        let mut store = Store::open(self.dir.path().join("store.sqlite")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut src = MispSource::new(SOURCE, cfg);
        rt.block_on(run_source(&mut store, &mut src, RunOptions::default()))?;
        let mut ids = Vec::new();
        store
            .for_each_live_id(SOURCE, ObjectType::Indicator, &mut |id| {
                ids.push(id.to_string());
                Ok(())
            })
            .unwrap();
        ids.sort();
        Ok(ids)
    }
}

#[test]
fn an_unknown_issuer_is_refused_by_default_with_one_clear_line() {
    let s = setup();
    let mut cfg = s.cfg();
    // Not retried: an untrusted certificate does not become trusted.
    cfg.http.retries = 5;
    let started = std::time::Instant::now();
    let err = s.sync(&cfg).unwrap_err();
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    let line = err.to_string();
    assert!(
        line.contains(&format!("{}/servers/getVersion", s.front.url)),
        "{line}"
    );
    assert!(
        line.contains("invalid peer certificate: UnknownIssuer")
            && line.ends_with("set ca_file to the CA that issued it)"),
        "{line}"
    );
    assert!(!line.contains('\n') && !line.contains(KEY), "{line}");
    assert_ne!(err.kind(), SourceErrorKind::Auth, "{line}");
    // Nothing reached the stand-in: the handshake failed first.
    assert!(s.server.world().log.is_empty());
}

#[test]
fn ca_file_trusts_the_instance_and_insecure_accepts_it_unverified() {
    let s = setup();
    let want = s.server.world().expected(true, false);
    assert_eq!(want.len(), 2);

    let mut cfg = s.cfg();
    cfg.http.ca_file = Some(ca_pem());
    assert_eq!(s.sync(&cfg).unwrap(), want, "ca_file");

    let mut cfg = s.cfg();
    cfg.http.insecure = true;
    assert_eq!(s.sync(&cfg).unwrap(), want, "insecure");
}

#[test]
fn a_bad_ca_file_is_a_config_error_naming_it() {
    let s = setup();
    let missing = s.dir.path().join("missing.pem");
    let garbage = s.dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = s.dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for path in [missing, garbage, empty] {
        let mut cfg = s.cfg();
        cfg.http.ca_file = Some(path.clone());
        let err = s.sync(&cfg).unwrap_err();
        assert_eq!(err.kind(), SourceErrorKind::Config, "{err}");
        let line = err.to_string();
        assert!(
            line.contains(&format!("ca_file {}", path.display())),
            "{line}"
        );
    }
}
