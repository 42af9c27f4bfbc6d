//! The GraphQL client: `POST <url>/graphql` with the bearer token, TLS,
//! timeouts, retries with backoff and jitter, and OpenCTI's errors mapped to
//! one-line messages (opencti.md §2, §3).
//!
//! OpenCTI answers GraphQL errors with HTTP 200 and an `errors` array: 6.x and
//! 7.x put the code in `extensions.code`, 5.12 in `name`. An invalid token
//! does not fail the request: it runs anonymously and every field fails with
//! `AUTH_REQUIRED` (an expired 7.x token may also get HTTP 401).
//!
//! Every request is a POST with `Content-Type: application/json` (7.x refuses
//! GraphQL over GET, and other content types, as CSRF), never redirected;
//! replies are read up to `max_response_bytes` ([`crate::http`]). Errors are
//! redacted before anything logs them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::config::{HttpConfig, Secret, SecretValue};
use crate::http::{cap_text, read_capped, BodyError};
use crate::source::SourceError;

/// Retries wait at most this long (the first waits `retry_delay_ms`, each
/// further one twice as long).
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A `Retry-After` beyond this is not waited for as such (a proxy's "come back tomorrow").
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

pub struct Client {
    http: reqwest::Client,
    /// `<url>/graphql`.
    endpoint: String,
    /// The configured base URL, for messages.
    base: String,
    token: SecretValue,
    /// Where the token comes from (`env:NAME (masked)`), for a refusal.
    token_origin: String,
    retries: u32,
    /// The first wait before a retry.
    min_delay: Duration,
    /// `timeout_secs`, for messages.
    timeout_secs: u64,
    max_response_bytes: u64,
    source: String,
}

/// One failed attempt, and whether another may succeed.
struct Failure {
    error: SourceError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: SourceError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn transient(error: SourceError) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
}

impl Client {
    pub fn new(
        source: &str,
        base: &str,
        token: &Secret,
        http: &HttpConfig,
    ) -> Result<Client, SourceError> {
        let token_origin = token.to_string();
        let token = token
            .resolve()
            .map_err(|e| SourceError::config(source, format!("token: {e}")))?;
        let base = base.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| SourceError::config(source, format!("url `{base}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SourceError::config(
                source,
                format!("url `{base}`: the scheme must be http or https"),
            ));
        }
        crate::tls::install_provider();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("intelmatch/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(http.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(http.connect_timeout_secs.max(1)))
            .read_timeout(Duration::from_secs(http.timeout_secs.max(1)))
            .redirect(crate::http::post_redirects())
            .tls_backend_rustls();
        if let Some(ca) = &http.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                SourceError::config(
                    source,
                    format!("ca_file {}: cannot read: {e}", ca.display()),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                SourceError::config(source, format!("ca_file {}: not PEM: {e}", ca.display()))
            })?;
            if certs.is_empty() {
                return Err(SourceError::config(
                    source,
                    format!("ca_file {}: no certificate in it", ca.display()),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if http.insecure {
            tracing::warn!(
                source,
                url = %base,
                "insecure = true: TLS certificates of the OpenCTI server are NOT verified"
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| SourceError::config(source, format!("HTTP client: {e}")))?;
        Ok(Client {
            http: client,
            endpoint: format!("{base}/graphql"),
            base,
            token,
            token_origin,
            retries: http.retries,
            min_delay: http.retry_delay(),
            timeout_secs: http.timeout_secs.max(1),
            max_response_bytes: http.max_response_bytes,
            source: source.to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Runs one query and returns its `data`, retrying what may pass later.
    /// `what` names the request in messages (`indicators page 3`).
    pub async fn query(
        &self,
        what: &str,
        query: &str,
        variables: Value,
        cancel: &Arc<AtomicBool>,
    ) -> Result<Value, SourceError> {
        let body = json!({"query": query, "variables": variables});
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(MAX_DELAY)
            .with_max_times(self.retries as usize)
            .with_jitter();
        let attempt = || async {
            self.attempt(what, &body).await.map_err(|mut f| {
                f.error = f.error.redact(&self.token);
                f
            })
        };
        attempt
            .retry(backoff)
            .when(|f: &Failure| f.retryable && !cancel.load(Ordering::Relaxed))
            .adjust(|f: &Failure, planned| match (f.retry_after, planned) {
                // Past the last retry `planned` is None: stop whatever the server says.
                (Some(after), Some(_)) => Some(after.min(MAX_RETRY_AFTER)),
                _ => planned,
            })
            .notify(|f: &Failure, wait| {
                tracing::warn!(
                    source = %self.source,
                    wait_ms = wait.as_millis() as u64,
                    "{}; retrying",
                    f.error.message()
                );
            })
            .await
            .map_err(|f| f.error)
    }

    async fn attempt(&self, what: &str, body: &Value) -> Result<Value, Failure> {
        let src = self.source.as_str();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                Failure::fatal(SourceError::config(
                    src,
                    "token: contains characters not allowed in an HTTP header",
                ))
            })?;
        auth.set_sensitive(true);
        let response = self
            .http
            .post(&self.endpoint)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.transport(what, &e))?;
        let mut response = response;
        let status = response.status();
        let retry_after = retry_after(response.headers().get(RETRY_AFTER));
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure {
                error: SourceError::network(
                    src,
                    format!("{what}: {} is rate limiting (HTTP 429)", self.base),
                ),
                retryable: true,
                retry_after,
            });
        }
        if status.is_server_error() {
            return Err(Failure {
                error: SourceError::server(
                    src,
                    format!("{what}: {} answered HTTP {status}", self.endpoint),
                ),
                retryable: true,
                retry_after,
            });
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .map_or_else(|| "nowhere".to_string(), |l| format!("`{l}`"));
            return Err(Failure::fatal(SourceError::server(
                src,
                format!(
                    "{what}: {} answered HTTP {status} to {to}, not followed (a POST is \
                     never redirected): set url to the server's final address",
                    self.endpoint
                ),
            )));
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Failure::fatal(
                self.token_refused(&format!("HTTP {status}")),
            ));
        }
        let bytes = read_capped(&mut response, self.max_response_bytes)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => Failure::fatal(SourceError::server(
                    src,
                    format!(
                        "{what}: the reply from {} is larger than {}; not read further",
                        self.base,
                        cap_text(self.max_response_bytes)
                    ),
                )),
                BodyError::Transport(e) => {
                    let how = if e.is_timeout() {
                        format!(
                            "timed out before its end (timeout_secs = {} s)",
                            self.timeout_secs
                        )
                    } else {
                        format!("cut short: {}", chain(&e))
                    };
                    Failure::transient(SourceError::network(
                        src,
                        format!("{what}: reply from {} {how}", self.base),
                    ))
                }
            })?;
        if status == StatusCode::FORBIDDEN {
            return Err(Failure::fatal(SourceError::auth(
                src,
                format!(
                    "{what}: {} answered HTTP {status}{}",
                    self.endpoint,
                    first_message(&bytes)
                ),
            )));
        }
        if !status.is_success() {
            return Err(Failure::fatal(SourceError::server(
                src,
                format!(
                    "{what}: {} answered HTTP {status}{} (is the url the OpenCTI base URL?)",
                    self.endpoint,
                    first_message(&bytes)
                ),
            )));
        }
        self.reply_data(what, &bytes)
    }

    /// The one line for a refused token: the source (in the prefix) and the
    /// config key, never the token.
    fn token_refused(&self, answer: &str) -> SourceError {
        SourceError::auth(
            &self.source,
            format!(
                "token refused: invalid or expired ({} answered {answer}); renew the API \
                 token that `token` = {} names",
                self.base, self.token_origin
            ),
        )
    }

    /// The `data` of a successful HTTP reply body, or the error it carries.
    /// Also the fuzz targets' entry point (through
    /// [`OpenCtiSource::decode_reply`](super::OpenCtiSource::decode_reply)).
    #[doc(hidden)]
    pub fn decode_reply(&self, what: &str, bytes: &[u8]) -> Result<Value, SourceError> {
        self.reply_data(what, bytes).map_err(|f| f.error)
    }

    fn reply_data(&self, what: &str, bytes: &[u8]) -> Result<Value, Failure> {
        let src = self.source.as_str();
        let reply: Value = serde_json::from_slice(bytes).map_err(|e| {
            let error = SourceError::server(
                src,
                format!("{what}: reply from {} is not JSON: {e}", self.base),
            );
            // A body that ends mid-JSON is a cut connection, worth another try.
            if e.is_eof() {
                Failure::transient(error)
            } else {
                Failure::fatal(error)
            }
        })?;
        self.graphql_result(what, reply)
    }

    /// `data`, or the first GraphQL error mapped to a message.
    fn graphql_result(&self, what: &str, mut reply: Value) -> Result<Value, Failure> {
        let src = self.source.as_str();
        if let Some(errors) = reply.get("errors").and_then(Value::as_array) {
            if let Some(first) = errors.first() {
                return Err(self.graphql_error(what, first, errors.len()));
            }
        }
        match reply.get_mut("data").map(Value::take) {
            Some(data @ Value::Object(_)) => Ok(data),
            _ => Err(Failure::fatal(SourceError::server(
                src,
                format!("{what}: reply from {} has no data", self.base),
            ))),
        }
    }

    fn graphql_error(&self, what: &str, err: &Value, count: usize) -> Failure {
        let src = self.source.as_str();
        // 6.x and 7.x (Apollo 4): `extensions.code`; 5.12 (apollo-errors): `name`.
        let code = err
            .pointer("/extensions/code")
            .and_then(Value::as_str)
            .or_else(|| err.get("name").and_then(Value::as_str))
            .unwrap_or("UNKNOWN");
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        let more = match count {
            1 => String::new(),
            n => format!(" (and {} more errors)", n - 1),
        };
        match code {
            "AUTH_REQUIRED" | "AUTH_FAILURE" => Failure::fatal(self.token_refused(code)),
            "FORBIDDEN_ACCESS" => Failure::fatal(SourceError::auth(
                src,
                format!(
                    "{what}: the OpenCTI user of the token lacks a capability \
                     (needs \"Access knowledge\", KNOWLEDGE) on {}: {message}",
                    self.base
                ),
            )),
            "OTP_REQUIRED" | "OTP_REQUIRED_ACTIVATION" | "LTS_REQUIRED_ACTIVATION" => {
                Failure::fatal(SourceError::auth(
                    src,
                    format!(
                        "{what}: {} refused the account ({code}): {message}",
                        self.base
                    ),
                ))
            }
            "DATABASE_ERROR" | "UNKNOWN_ERROR" | "INTERNAL_SERVER_ERROR" => {
                Failure::transient(SourceError::server(
                    src,
                    format!("{what}: {} failed ({code}): {message}{more}", self.base),
                ))
            }
            "GRAPHQL_VALIDATION_FAILED" => Failure::fatal(SourceError::server(
                src,
                format!(
                    "{what}: {} refused the query as invalid for its schema: {message}{more}",
                    self.base
                ),
            )),
            _ => Failure::fatal(SourceError::server(
                src,
                format!("{what}: {} answered {code}: {message}{more}", self.base),
            )),
        }
    }

    fn transport(&self, what: &str, e: &reqwest::Error) -> Failure {
        let src = self.source.as_str();
        let mut reason = if e.is_timeout() {
            format!(
                "timed out: no answer within timeout_secs = {} s",
                self.timeout_secs
            )
        } else if e.is_connect() {
            format!("cannot connect: {}", chain(e))
        } else {
            chain(e)
        };
        let untrusted = reason.contains(UNTRUSTED);
        if untrusted {
            reason.push_str(
                " (the server's TLS certificate is not trusted: set ca_file to the CA that issued it)",
            );
        }
        let error = SourceError::network(src, format!("{what}: {}: {reason}", self.endpoint));
        // A request that could not even be built will not build next time, and
        // an untrusted certificate does not become trusted.
        if e.is_builder() || untrusted {
            Failure::fatal(error)
        } else {
            Failure::transient(error)
        }
    }
}

/// `: <message>` of the first GraphQL error of a refusal's body (Apollo's
/// CSRF refusal is a 400 with one), or nothing.
fn first_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let m = v
                .pointer("/errors/0/message")
                .or_else(|| v.get("message"))?;
            m.as_str().map(|m| format!(": {}", m.trim()))
        })
        .unwrap_or_default()
}

/// rustls' words for a certificate it does not accept.
const UNTRUSTED: &str = "invalid peer certificate";

/// An error and its causes on one line (reqwest's own message is terse).
fn chain(e: &dyn std::error::Error) -> String {
    crate::source::error_chain(e)
}

/// `Retry-After` in seconds (the HTTP-date form is rare on APIs; ignored).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let secs: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Secret {
        crate::Secret::literal("t0k3n")
    }

    #[test]
    fn bad_urls_and_ca_files_are_named() {
        let http = HttpConfig::default();
        let err = Client::new("cti", "ftp://cti.example", &token(), &http)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("url `ftp://cti.example`: the scheme"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let mut http = HttpConfig {
            ca_file: Some(dir.path().join("missing.pem")),
            ..HttpConfig::default()
        };
        let err = Client::new("cti", "https://cti.example", &token(), &http)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("missing.pem: cannot read"),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        http.ca_file = Some(empty);
        let err = Client::new("cti", "https://cti.example", &token(), &http)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("empty.pem: no certificate in it"),
            "{err}"
        );

        let ok = Client::new(
            "cti",
            "https://cti.example/",
            &token(),
            &HttpConfig::default(),
        );
        assert_eq!(ok.unwrap().endpoint, "https://cti.example/graphql");
    }

    #[test]
    fn the_error_code_is_read_from_extensions_first() {
        let client = Client::new(
            "cti",
            "https://cti.example",
            &token(),
            &HttpConfig::default(),
        )
        .unwrap();
        let refused = |body: &str| {
            let e = client.decode_reply("about", body.as_bytes()).unwrap_err();
            (e.kind(), e.message().to_string())
        };
        // 7.x: only `extensions.code`; a `name` that is not a code loses to it.
        for body in [
            r#"{"errors":[{"message":"m","extensions":{"code":"AUTH_REQUIRED"}}]}"#,
            r#"{"errors":[{"message":"m","name":"GraphQLError","extensions":{"code":"AUTH_REQUIRED"}}]}"#,
            // 5.12: `name` only.
            r#"{"errors":[{"message":"m","name":"AUTH_REQUIRED"}]}"#,
        ] {
            let (kind, message) = refused(body);
            assert_eq!(kind, crate::SourceErrorKind::Auth, "{body}");
            assert!(
                message.starts_with("token refused: invalid or expired"),
                "{message}"
            );
            assert!(message.contains("`token` = <literal masked>"), "{message}");
        }
    }

    #[test]
    fn retry_after_takes_seconds() {
        let v = HeaderValue::from_static("3");
        assert_eq!(retry_after(Some(&v)), Some(Duration::from_secs(3)));
        let date = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&date)), None);
    }
}
