use serde::Serialize;

use crate::store::StoreError;

/// What part of a sync failed, for exit codes and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceErrorKind {
    /// The source's configuration cannot work (bad URL, missing path, ...).
    Config,
    /// The server refused the credentials or lacks a capability.
    Auth,
    /// Connection, TLS, timeout, rate limiting after all retries.
    Network,
    /// The server answered something unusable (GraphQL error, bad JSON, ...).
    Server,
    /// A local input (file, directory) could not be read.
    Io,
    /// The store failed.
    Store,
    /// Stopped on request.
    Cancelled,
}

/// A sync failure: one line naming the source and what failed. The message
/// never holds a secret: build it from what is safe to show, and pass it
/// through [`SourceError::redact`] when it embeds text from elsewhere (an HTTP
/// client's error, a server's reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    source_name: String,
    kind: SourceErrorKind,
    message: String,
}

/// Long server replies are cut: the line must stay readable.
const MESSAGE_CHARS: usize = 1000;

/// The shortest piece of a secret that [`SourceError::redact`] masks.
pub const SECRET_RUN: usize = 12;

/// `text` with every run of `SECRET_RUN` or more bytes of `secret` masked.
fn redact_text(text: &str, secret: &str) -> String {
    let (t, s) = (text.as_bytes(), secret.as_bytes());
    if s.is_empty() {
        return text.to_string();
    }
    let run = SECRET_RUN.min(s.len());
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let longest = (0..s.len())
            .map(|j| {
                t[i..]
                    .iter()
                    .zip(&s[j..])
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0);
        if longest >= run {
            out.extend_from_slice(b"***");
            i += longest;
        } else {
            out.push(t[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SourceError {
    pub fn new(
        source: &str,
        kind: SourceErrorKind,
        message: impl std::fmt::Display,
    ) -> SourceError {
        SourceError {
            source_name: source.to_string(),
            kind,
            message: crate::store::one_line(&message.to_string(), MESSAGE_CHARS),
        }
    }

    pub fn config(source: &str, message: impl std::fmt::Display) -> SourceError {
        SourceError::new(source, SourceErrorKind::Config, message)
    }

    pub fn auth(source: &str, message: impl std::fmt::Display) -> SourceError {
        SourceError::new(source, SourceErrorKind::Auth, message)
    }

    pub fn network(source: &str, message: impl std::fmt::Display) -> SourceError {
        SourceError::new(source, SourceErrorKind::Network, message)
    }

    pub fn server(source: &str, message: impl std::fmt::Display) -> SourceError {
        SourceError::new(source, SourceErrorKind::Server, message)
    }

    pub fn io(source: &str, message: impl std::fmt::Display) -> SourceError {
        SourceError::new(source, SourceErrorKind::Io, message)
    }

    pub fn store(source: &str, e: &StoreError) -> SourceError {
        SourceError::new(source, SourceErrorKind::Store, e)
    }

    pub fn cancelled(source: &str) -> SourceError {
        SourceError::new(source, SourceErrorKind::Cancelled, "stopped on request")
    }

    /// Replaces every run of [`SECRET_RUN`] or more characters of the
    /// secret (the whole secret when it is shorter) by `***`: a reply cut in
    /// the middle of an echoed key leaks no part of it either.
    pub fn redact(mut self, secret: &crate::SecretValue) -> SourceError {
        self.message = redact_text(&self.message, secret.expose());
        self
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    pub fn kind(&self) -> SourceErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "source `{}`: {}", self.source_name, self.message)
    }
}

impl std::error::Error for SourceError {}

/// An error and its causes on one line, each cause once. reqwest's own
/// "... for url (<url>)" is dropped: the caller's line names the URL already.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = without_url(&e.to_string());
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = without_url(&c.to_string());
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

fn without_url(text: &str) -> String {
    if let Some(i) = text.find(" for url (") {
        if let Some(j) = text[i..].find(')') {
            return format!("{}{}", &text[..i], &text[i + j + 1..]);
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_naming_the_source() {
        let e = SourceError::server("opencti", "GraphQL error:\nFORBIDDEN_ACCESS");
        assert_eq!(
            e.to_string(),
            "source `opencti`: GraphQL error: FORBIDDEN_ACCESS"
        );
        assert_eq!(e.kind(), SourceErrorKind::Server);
    }

    #[test]
    fn error_chains_drop_reqwests_url() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "error sending request for url (https://cti.example/graphql)",
            Some(Box::new(E("operation timed out", None))),
        );
        assert_eq!(
            error_chain(&e),
            "error sending request: operation timed out"
        );
    }

    #[test]
    fn redact_removes_the_secret() {
        let token = crate::Secret::literal("s3cr3t-token").resolve().unwrap();
        let e = SourceError::network("opencti", "GET https://x/?key=s3cr3t-token failed")
            .redact(&token);
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(e.to_string().contains("key=***"));
    }

    #[test]
    fn redact_masks_pieces_of_the_secret_too() {
        let key = crate::Secret::literal("aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7b")
            .resolve()
            .unwrap();
        // An echo cut in the middle, and one starting inside the key.
        let e = SourceError::server("misp", "HTTP 500: got Authorization: aB3dE5fG7hI9jK1lM3…")
            .redact(&key);
        assert_eq!(e.message(), "HTTP 500: got Authorization: ***…");
        let e = SourceError::server("misp", "…9tU1vW3xY5zA7b\" and 5fG7hI9jK1l").redact(&key);
        assert_eq!(e.message(), "…***\" and 5fG7hI9jK1l");
    }
}
