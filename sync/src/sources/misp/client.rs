//! The HTTP side of the MISP source (misp.md §1): the raw key in
//! `Authorization`, JSON in both directions, TLS verified by default,
//! timeouts, retries with backoff, and MISP's JSON errors turned into one line.
//!
//! Every error is built from what is safe to show (method, URL, status,
//! MISP's `name`/`message`) and redacted before anything logs it, so the key
//! never leaves here, not even in a retry warning about a reply that echoes it.
//! Redirects and reply sizes follow [`crate::http`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::{HttpConfig, MispConfig};
use crate::http::{cap_text, read_capped, BodyError};
use crate::source::{SourceError, SourceErrorKind};
use crate::SecretValue;

/// A reply body is cut to this many characters in an error line.
const BODY_CHARS: usize = 300;
/// A `Retry-After` beyond this is not waited for as such (a proxy's "come back tomorrow").
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// One answered request: the JSON body and the `X-Result-Count` header.
#[derive(Debug)]
pub struct Reply {
    pub body: Value,
    pub result_count: Option<u64>,
}

/// Talks to one MISP instance.
pub struct Client {
    source: String,
    base: String,
    /// GETs may follow a redirect on the same host; POSTs follow none.
    get: reqwest::Client,
    post: reqwest::Client,
    key: SecretValue,
    max_response_bytes: u64,
    retries: u32,
    min_delay: Duration,
    /// `timeout_secs`, for messages.
    timeout_secs: u64,
    cancel: Arc<AtomicBool>,
}

/// A failed attempt, and whether trying again may help.
struct Attempt {
    error: SourceError,
    status: Option<StatusCode>,
    /// MISP's own `message` of a refusal, redacted.
    detail: Option<String>,
    retry: bool,
    /// The server's `Retry-After` (429, 503), waited instead of the backoff.
    retry_after: Option<Duration>,
}

/// A failed request: the error line and the HTTP status, if one came back
/// (a 403/404 on an optional endpoint is not fatal).
#[derive(Debug)]
pub struct Failure {
    pub error: SourceError,
    pub status: Option<StatusCode>,
    /// MISP's `message`, when the refusal was one of its JSON errors.
    pub detail: Option<String>,
}

impl Client {
    /// Resolves the key and builds the HTTP client. Errors are config errors
    /// naming the culprit (the secret's origin, the CA file).
    pub fn new(source: &str, cfg: &MispConfig) -> Result<Client, SourceError> {
        let key = cfg
            .key
            .resolve()
            .map_err(|e| SourceError::config(source, e))?;
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(key.expose()).map_err(|_| {
            SourceError::config(
                source,
                format!("key {}: not a valid HTTP header value", cfg.key),
            )
        })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if cfg.http.insecure {
            tracing::warn!(
                source,
                "insecure = true: the MISP server's TLS certificate is NOT checked"
            );
        }
        let get = http_client(
            source,
            &cfg.http,
            headers.clone(),
            crate::http::get_redirects(),
        )?;
        let post = http_client(source, &cfg.http, headers, crate::http::post_redirects())?;
        Ok(Client {
            source: source.to_string(),
            base: cfg.url.trim_end_matches('/').to_string(),
            get,
            post,
            key,
            max_response_bytes: cfg.http.max_response_bytes,
            retries: cfg.http.retries,
            min_delay: cfg.http.retry_delay(),
            timeout_secs: cfg.http.timeout_secs.max(1),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The first wait between retries (doubling up to 30 s, with jitter).
    pub fn set_min_retry_delay(&mut self, delay: Duration) {
        self.min_delay = delay;
    }

    /// Waits between retries stop early once this flag is set.
    pub fn set_cancel(&mut self, cancel: Arc<AtomicBool>) {
        self.cancel = cancel;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// `GET <base><path>`.
    pub async fn get(&self, path: &str) -> Result<Reply, SourceError> {
        self.request(Method::GET, path, None)
            .await
            .map_err(|f| f.error)
    }

    /// `POST <base><path>` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply, SourceError> {
        self.post_status(path, body).await.map_err(|f| f.error)
    }

    /// [`Client::post`], keeping the HTTP status of a refusal.
    pub async fn post_status(&self, path: &str, body: &Value) -> Result<Reply, Failure> {
        self.request(Method::POST, path, Some(body)).await
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Failure> {
        let url = self.url(path);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.retries as usize)
            .with_jitter();
        let attempt = || async {
            self.attempt(method.clone(), &url, body)
                .await
                .map_err(|mut a| {
                    a.error = a.error.redact(&self.key);
                    a.detail = a.detail.map(|d| {
                        SourceError::server(&self.source, d)
                            .redact(&self.key)
                            .message()
                            .to_string()
                    });
                    a
                })
        };
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|a: &Attempt| a.retry && !self.cancel.load(Ordering::Relaxed))
            .adjust(|a: &Attempt, planned| match (a.retry_after, planned) {
                // Past the last retry `planned` is None: stop whatever the server says.
                (Some(after), Some(_)) => Some(after.min(MAX_RETRY_AFTER)),
                _ => planned,
            })
            .notify(|a: &Attempt, wait: Duration| {
                tracing::warn!(
                    source = %self.source,
                    "{}; retrying in {:.1}s",
                    a.error.message(),
                    wait.as_secs_f64()
                );
            })
            .await;
        result.map_err(|a| Failure {
            error: a.error,
            status: a.status,
            detail: a.detail,
        })
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Attempt> {
        let what = format!("{method} {url}");
        let http = if method == Method::GET {
            &self.get
        } else {
            &self.post
        };
        let mut req = http.request(method, url);
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| {
            let text = if e.is_timeout() {
                format!(
                    "timed out: no answer within timeout_secs = {} s",
                    self.timeout_secs
                )
            } else {
                transport(&e)
            };
            // An untrusted certificate stays untrusted, a refused redirect refused.
            let retry = !text.contains(UNTRUSTED) && !e.is_redirect();
            Attempt {
                error: SourceError::network(&self.source, format!("{what}: {text}")),
                status: None,
                detail: None,
                retry,
                retry_after: None,
            }
        })?;
        let mut resp = resp;
        let status = resp.status();
        let retry_after = retry_after(resp.headers().get(RETRY_AFTER));
        let result_count = resp
            .headers()
            .get("x-result-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        if status.is_redirection() {
            return Err(Attempt {
                error: redirect_error(&self.source, &what, status, resp.headers().get(LOCATION)),
                status: Some(status),
                detail: None,
                retry: false,
                retry_after: None,
            });
        }
        let bytes = read_capped(&mut resp, self.max_response_bytes)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => Attempt {
                    error: SourceError::server(
                        &self.source,
                        format!(
                            "{what}: the reply is larger than {}; not read further",
                            cap_text(self.max_response_bytes)
                        ),
                    ),
                    status: Some(status),
                    detail: None,
                    retry: false,
                    retry_after: None,
                },
                BodyError::Transport(e) => Attempt {
                    error: SourceError::network(
                        &self.source,
                        if e.is_timeout() {
                            format!(
                                "{what}: the reply timed out before its end (timeout_secs = {} s)",
                                self.timeout_secs
                            )
                        } else {
                            format!("{what}: reading the reply: {}", transport(&e))
                        },
                    ),
                    status: None,
                    detail: None,
                    retry: true,
                    retry_after: None,
                },
            })?;
        if !status.is_success() {
            return Err(Attempt {
                error: status_error(&self.source, &what, status, &bytes),
                status: Some(status),
                detail: misp_message(&bytes),
                retry: retryable(status),
                retry_after,
            });
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| Attempt {
            error: SourceError::server(
                &self.source,
                format!(
                    "{what}: HTTP {status} but the reply is not JSON ({e}): {}",
                    snippet(&bytes)
                ),
            ),
            status: Some(status),
            detail: None,
            // A proxy's HTML page or a cut-off body: worth another try.
            retry: true,
            retry_after: None,
        })?;
        Ok(Reply { body, result_count })
    }
}

fn http_client(
    source: &str,
    cfg: &HttpConfig,
    headers: HeaderMap,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, SourceError> {
    crate::tls::install_provider();
    let mut b = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(redirects)
        .user_agent(concat!("intelmatch/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
        .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs.max(1)))
        .gzip(true);
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| SourceError::config(source, format!("ca_file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            SourceError::config(
                source,
                format!("ca_file {}: not a PEM bundle: {e}", path.display()),
            )
        })?;
        if certs.is_empty() {
            return Err(SourceError::config(
                source,
                format!("ca_file {}: no certificate in it", path.display()),
            ));
        }
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    if cfg.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| SourceError::config(source, format!("HTTP client: {}", transport(&e))))
}

/// `Retry-After` in seconds (the HTTP-date form is rare on APIs; ignored).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let secs: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// 429, 5xx (and 408) may pass; other 4xx will not.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// One line for a non-2xx reply: MISP's `{"name","message","url"}` when the
/// body is one, else the start of the body (proxies answer in HTML).
fn status_error(source: &str, what: &str, status: StatusCode, body: &[u8]) -> SourceError {
    let detail = misp_message(body).unwrap_or_else(|| snippet(body));
    let kind = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SourceErrorKind::Auth,
        _ => SourceErrorKind::Server,
    };
    let hint = match kind {
        SourceErrorKind::Auth => " (check the key, its expiry and IP restriction)",
        _ => "",
    };
    SourceError::new(
        source,
        kind,
        format!("{what}: HTTP {status}{hint}: {detail}"),
    )
}

/// MISP's `{"name","message"}` of an error body as one text.
fn misp_message(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<Value>(body).ok()?;
    let message = v.get("message").and_then(Value::as_str)?.trim().to_string();
    let name = v.get("name").and_then(Value::as_str).unwrap_or("").trim();
    Some(if name.is_empty() || message.starts_with(name) {
        message
    } else {
        format!("{name}: {message}")
    })
}

/// A 3xx that was not followed (any POST, or a GET the policy stopped).
fn redirect_error(
    source: &str,
    what: &str,
    status: StatusCode,
    location: Option<&HeaderValue>,
) -> SourceError {
    let to = location
        .and_then(|l| l.to_str().ok())
        .map_or_else(|| "nowhere".to_string(), |l| format!("`{l}`"));
    SourceError::server(
        source,
        format!(
            "{what}: HTTP {status} redirects to {to}, not followed (a POST is never \
             redirected): set url to the server's final address"
        ),
    )
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty reply".into();
    }
    let mut out: String = text.chars().take(BODY_CHARS).collect();
    if text.chars().count() > BODY_CHARS {
        out.push('…');
    }
    out
}

/// A transport error with its causes, on one line (reqwest hides the useful
/// part, "certificate verify failed", in the source chain).
fn transport(e: &reqwest::Error) -> String {
    let mut out = crate::source::error_chain(e);
    if e.is_timeout() && !out.contains("timed out") {
        out.push_str(" (timed out)");
    }
    if out.contains(UNTRUSTED) {
        out.push_str(
            " (the server's TLS certificate is not trusted: set ca_file to the CA that issued it)",
        );
    }
    out
}

/// rustls' words for a certificate it does not accept.
const UNTRUSTED: &str = "invalid peer certificate";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misp_errors_become_one_line() {
        let body = br#"{"name":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","message":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","url":"\/attributes\/restSearch"}"#;
        let e = status_error(
            "misp",
            "POST https://misp.example/attributes/restSearch",
            StatusCode::FORBIDDEN,
            body,
        );
        assert_eq!(e.kind(), SourceErrorKind::Auth);
        assert_eq!(
            e.to_string(),
            "source `misp`: POST https://misp.example/attributes/restSearch: HTTP 403 Forbidden \
             (check the key, its expiry and IP restriction): Authentication failed. Please make \
             sure you pass the API key of an API enabled user along in the Authorization header."
        );
        let e = status_error(
            "misp",
            "GET x",
            StatusCode::BAD_GATEWAY,
            b"<html>\n<h1>502</h1>",
        );
        assert_eq!(
            e.message(),
            "GET x: HTTP 502 Bad Gateway: <html> <h1>502</h1>"
        );
        assert!(retryable(StatusCode::BAD_GATEWAY) && !retryable(StatusCode::FORBIDDEN));
    }
}
