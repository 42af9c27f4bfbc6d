//! What the two network sources (OpenCTI, MISP) share on the wire: where a
//! redirect may lead, and how much of a reply is read.
//!
//! A redirect is followed only by a GET, only on the same host, and never from
//! https to http: a proxy that moves a POST, or sends it elsewhere, would
//! otherwise get the body (and, on the same host, the key) replayed. Replies
//! are read chunk by chunk after gzip decoding, so a small compressed body
//! that inflates to gigabytes is cut at the source's `max_response_bytes`.

use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;

/// Same-host hops a GET may take.
const MAX_HOPS: usize = 5;

/// The policy of a client that sends only GETs.
pub fn get_redirects() -> Policy {
    Policy::custom(|attempt: Attempt| {
        let Some(from) = attempt.previous().last() else {
            return attempt.stop();
        };
        match refused_redirect(from, attempt.url(), attempt.previous().len()) {
            Some(why) => {
                let why = format!("redirect to {} refused: {why}", attempt.url());
                attempt.error(why)
            }
            None => attempt.follow(),
        }
    })
}

/// The policy of a client that sends POSTs: a 3xx comes back as it is.
pub fn post_redirects() -> Policy {
    Policy::none()
}

/// Why a redirect from `from` to `to` (hop `hops`) is not followed.
pub fn refused_redirect(from: &Url, to: &Url, hops: usize) -> Option<&'static str> {
    if from.scheme() == "https" && to.scheme() != "https" {
        return Some("it leaves https");
    }
    if from.host_str() != to.host_str() {
        return Some("it leads to another host");
    }
    // http://host → https://host is an upgrade; any other port change is another server.
    let upgrade = from.scheme() == "http"
        && to.scheme() == "https"
        && from.port().is_none()
        && to.port().is_none();
    if from.port_or_known_default() != to.port_or_known_default() && !upgrade {
        return Some("it leads to another port");
    }
    if hops > MAX_HOPS {
        return Some("too many redirects");
    }
    None
}

/// How reading a reply body failed.
#[derive(Debug)]
pub enum BodyError {
    /// More than the cap, counted after decompression.
    TooLarge,
    Transport(reqwest::Error),
}

/// The whole body, decompressed, or [`BodyError::TooLarge`] as soon as it
/// passes `cap` bytes.
pub async fn read_capped(resp: &mut reqwest::Response, cap: u64) -> Result<Vec<u8>, BodyError> {
    // Without gzip the length is known up front: no need to start reading.
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `max_response_bytes = N (x MiB)`, for error lines.
pub fn cap_text(cap: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if cap >= MIB && cap.is_multiple_of(MIB) {
        format!("max_response_bytes = {cap} ({} MiB)", cap / MIB)
    } else {
        format!("max_response_bytes = {cap}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn redirects_stay_on_the_host_and_on_https() {
        let ok = |a: &str, b: &str| refused_redirect(&url(a), &url(b), 1);
        assert_eq!(ok("https://misp.example/a", "https://misp.example/b"), None);
        assert_eq!(ok("http://misp.example/a", "https://misp.example/a"), None);
        assert_eq!(
            ok("https://misp.example/a", "https://misp.example:443/b"),
            None
        );
        assert_eq!(
            ok("https://misp.example/a", "http://misp.example/a"),
            Some("it leaves https")
        );
        assert_eq!(
            ok("https://misp.example/a", "https://evil.example/a"),
            Some("it leads to another host")
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a"),
            Some("it leads to another port")
        );
        assert_eq!(
            ok("http://misp.example:8080/a", "https://misp.example/a"),
            Some("it leads to another port")
        );
        assert_eq!(
            refused_redirect(&url("https://a.example/"), &url("https://a.example/x"), 6),
            Some("too many redirects")
        );
    }

    #[test]
    fn caps_are_named_in_mib_when_round() {
        assert_eq!(
            cap_text(256 * 1024 * 1024),
            "max_response_bytes = 268435456 (256 MiB)"
        );
        assert_eq!(cap_text(1000), "max_response_bytes = 1000");
    }
}
