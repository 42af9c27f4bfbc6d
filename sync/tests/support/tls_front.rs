//! A TLS front for the plain-HTTP stand-ins: terminates TLS on 127.0.0.1 with
//! the test certificate (`fixtures/tls/`, issued by a test CA for 127.0.0.1)
//! and relays each request to the stand-in behind it. The stand-ins answer
//! with `Connection: close`, so one request per connection is enough.
//!
//! [`TlsFront::hang_up_in_handshake`] is a broken front instead: it reads the
//! client's hello and closes the connection without answering it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test certificates: `tests/fixtures/tls` of the sync crate, found from
/// that crate or from the workspace root (the top crate's tests).
pub fn fixtures_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let here = root.join("tests/fixtures/tls");
    if here.join("ca.pem").exists() {
        here
    } else {
        root.join("sync/tests/fixtures/tls")
    }
}

/// The test CA that issued the front's certificate.
pub fn ca_pem() -> PathBuf {
    fixtures_dir().join("ca.pem")
}

pub struct TlsFront {
    /// `https://127.0.0.1:<port>`
    pub url: String,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
}

impl TlsFront {
    /// A front that accepts TCP connections, reads what the client sends
    /// first (its ClientHello) and closes: every handshake fails.
    pub fn hang_up_in_handshake() -> TlsFront {
        TlsFront::listen(|mut stream| {
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf);
            let _ = stream.shutdown(std::net::Shutdown::Both);
        })
    }

    /// Fronts the stand-in at `backend` (`http://127.0.0.1:<port>`).
    pub fn start(backend: &str) -> TlsFront {
        let dir = fixtures_dir();
        let dir = dir.display();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(format!("{dir}/server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(format!("{dir}/server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let backend = backend
            .strip_prefix("http://")
            .expect("an http:// stand-in")
            .trim_end_matches('/')
            .to_string();
        TlsFront::listen(move |stream| {
            let config = Arc::clone(&config);
            let backend = backend.clone();
            std::thread::spawn(move || {
                let _ = relay(stream, config, &backend);
            });
        })
    }

    /// Binds 127.0.0.1, counts every accepted connection and hands it to `serve`.
    fn listen(serve: impl Fn(TcpStream) + Send + 'static) -> TlsFront {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                serve(stream);
            }
        });
        TlsFront { url, connections }
    }
}

fn relay(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: &str,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    // The request: headers, then Content-Length bytes of body.
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let mut plain = TcpStream::connect(backend)?;
    plain.write_all(&request)?;
    let mut response = Vec::new();
    plain.read_to_end(&mut response)?;
    tls.write_all(&response)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}
