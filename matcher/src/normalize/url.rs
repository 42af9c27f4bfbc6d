//! URLs, in WHATWG serialisation.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use ::url::{Host as UrlHost, Url};

use super::domain::canonical_name;
use super::refang::refang;
use super::{Host, Invalid, NormalizedUrl};
use crate::kind::Kind;

/// Schemes recognised without `//` (`mailto:x`, `http:host`). Anything else
/// followed by a bare `:` is taken for `host:port` and gets `http://` prepended.
const BARE_SCHEMES: &[&str] = &[
    "http",
    "https",
    "ftp",
    "ws",
    "wss",
    "file",
    "mailto",
    "data",
    "javascript",
    "tel",
    "urn",
    "about",
    "blob",
];

/// Refang-and-parse rounds before giving up on a pathological URL.
const MAX_ROUNDS: usize = 8;

/// Schemes that must have a host.
const HOST_SCHEMES: &[&str] = &["http", "https", "ftp", "ws", "wss"];

/// Normalises a URL: trim, refang, `http://` prepended when there is no scheme,
/// then parsed and serialised by the WHATWG rules (lowercase scheme and host,
/// punycode, default port dropped, dot segments resolved, `/` as the empty path).
///
/// The host follows [`super::domain`] except that single-label hosts
/// (`http://intranet/`) are allowed, and a trailing dot is dropped from the
/// host in the serialisation too. A host that is not a valid name (`*`, `%`, `!`)
/// makes the URL invalid. IPv6 hosts are reported unmapped in `host` but kept as
/// WHATWG writes them in `url`.
pub fn url(raw: &str) -> Result<NormalizedUrl, Invalid> {
    let err = |reason: String| Invalid::new(Kind::Url, raw, reason);
    let cleaned = clean(raw);
    let refanged = refang(trim_c0(&cleaned));
    let s = trim_c0(&refanged);
    if s.is_empty() {
        return Err(err("empty value".into()));
    }
    let text: Cow<'_, str> = if has_scheme(s) {
        Cow::Borrowed(s)
    } else if s.starts_with("//") {
        Cow::Owned(format!("http:{s}"))
    } else if s.starts_with('/') || s.starts_with('\\') {
        return Err(err("no scheme and no host (a path is not a URL)".into()));
    } else {
        Cow::Owned(format!("http://{s}"))
    };
    let mut parsed = Url::parse(&text).map_err(|e| err(e.to_string()))?;
    // Refang and parse again until stable, so that normalising an output
    // changes nothing. Parsing can bring a defanged form together (`[\./]`:
    // `\` becomes `/`, the `.` segment goes, `[/]` is left), and a WHATWG
    // serialisation does not always parse back to itself: `file://h\/c|`
    // serialises as `file://h/c|`, whose `c|` is then a drive letter that
    // drops the host (`file:///c:`). Each round removes brackets or applies
    // such a one-way rewrite, so this ends.
    // Text that is its own serialisation is settled without a second parse
    // (stored keys and most alert URLs).
    let mut settled = parsed.as_str() == &*text;
    for _ in 0..MAX_ROUNDS {
        if settled {
            break;
        }
        let again = Url::parse(&refang(parsed.as_str())).map_err(|e| err(e.to_string()))?;
        settled = again == parsed;
        parsed = again;
    }
    if !settled {
        return Err(err("the URL keeps changing when parsed again".into()));
    }

    let (host, rewrite) = match parsed.host() {
        None | Some(UrlHost::Domain("")) => {
            if HOST_SCHEMES.contains(&parsed.scheme()) {
                return Err(err(format!("a {} URL needs a host", parsed.scheme())));
            }
            (None, false)
        }
        Some(UrlHost::Ipv4(a)) => (Some(Host::Ip(IpAddr::V4(a))), false),
        Some(UrlHost::Ipv6(a)) => {
            let ip = a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4);
            (Some(Host::Ip(ip)), false)
        }
        // Opaque hosts of non-special schemes (`tcp://192.0.2.1:4444`) are not
        // parsed as IPv4 by WHATWG.
        Some(UrlHost::Domain(d)) => match d.parse::<Ipv4Addr>() {
            Ok(a) => (Some(Host::Ip(IpAddr::V4(a))), false),
            Err(_) => {
                let name = canonical_name(d, true).map_err(|r| err(format!("host: {r}")))?;
                let rewrite = name != d;
                (Some(Host::Domain(name)), rewrite)
            }
        },
    };
    if rewrite {
        if let Some(Host::Domain(name)) = &host {
            parsed
                .set_host(Some(name))
                .map_err(|e| err(format!("host: {e}")))?;
        }
    }
    Ok(NormalizedUrl {
        url: parsed.into(),
        host,
    })
}

/// Drops what WHATWG would drop anyway (tabs and newlines anywhere), so that
/// refanging sees the same text the parser does and the result is stable.
fn clean(raw: &str) -> Cow<'_, str> {
    if raw.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
        Cow::Owned(
            raw.chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    }
}

/// Trims whitespace and C0 controls (WHATWG strips leading/trailing C0 and space).
fn trim_c0(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ' || c.is_whitespace())
}

fn has_scheme(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let mut bytes = scheme.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid {
        return false;
    }
    s[colon + 1..].starts_with("//")
        || BARE_SCHEMES
            .iter()
            .any(|known| known.eq_ignore_ascii_case(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        url(raw).unwrap().url
    }

    fn reason(raw: &str) -> String {
        url(raw).unwrap_err().reason
    }

    #[test]
    fn whatwg_forms() {
        assert_eq!(ok("HTTP://Evil.EXAMPLE:80/a/../b"), "http://evil.example/b");
        assert_eq!(ok("http://evil.example"), "http://evil.example/");
        assert_eq!(ok("https://evil.example:443/x"), "https://evil.example/x");
        assert_eq!(
            ok("https://evil.example:8443/x"),
            "https://evil.example:8443/x"
        );
        assert_eq!(ok("ftp://evil.example:21/f"), "ftp://evil.example/f");
        assert_eq!(
            ok("http://bücher.example/"),
            "http://xn--bcher-kva.example/"
        );
        assert_eq!(ok("http://evil.example./x"), "http://evil.example/x");
        assert_eq!(ok("http://u:p@evil.example/"), "http://u:p@evil.example/");
        assert_eq!(ok("http://evil.example/a b"), "http://evil.example/a%20b");
        assert_eq!(
            ok("http://[2001:DB8::1]:8080/"),
            "http://[2001:db8::1]:8080/"
        );
    }

    #[test]
    fn scheme_less_and_defanged() {
        assert_eq!(ok("evil.example/x"), "http://evil.example/x");
        assert_eq!(ok("evil.example:8080/x"), "http://evil.example:8080/x");
        assert_eq!(ok("//evil.example/x"), "http://evil.example/x");
        assert_eq!(ok("hxxp://evil[.]example/x"), "http://evil.example/x");
        assert_eq!(ok("hxxps[://]evil(.)example[/]x"), "https://evil.example/x");
        assert_eq!(ok("fxp://evil{.}example/"), "ftp://evil.example/");
        assert_eq!(ok("http[:]//evil.example"), "http://evil.example/");
    }

    #[test]
    fn hosts() {
        let h = |raw: &str| url(raw).unwrap().host;
        assert_eq!(
            h("http://Evil.Example/"),
            Some(Host::Domain("evil.example".into()))
        );
        assert_eq!(h("http://intranet/"), Some(Host::Domain("intranet".into())));
        assert_eq!(
            h("http://192.0.2.1/"),
            Some(Host::Ip("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            h("http://[::ffff:192.0.2.1]/"),
            Some(Host::Ip("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            h("tcp://192.0.2.1:4444"),
            Some(Host::Ip("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            h("tcp://Evil.Example:4444"),
            Some(Host::Domain("evil.example".into()))
        );
        assert_eq!(ok("tcp://Evil.Example:4444"), "tcp://evil.example:4444");
        assert_eq!(h("mailto:a@evil.example"), None);
        assert_eq!(h("file:///etc/passwd"), None);
    }

    #[test]
    fn rejects() {
        assert!(reason("").contains("empty"));
        assert!(reason("http://").contains("host"));
        assert!(reason("http://*.evil.example/").contains("wildcard"));
        assert!(reason("http://evil.example:99999/").contains("port"));
        assert!(reason("/etc/passwd").contains("path"));
        assert!(reason("http://[2001:db8::g]/").contains("IPv6"));
    }

    #[test]
    fn stable_under_renormalisation() {
        for raw in [
            "\u{1}hxxp://evil.example",
            "http://evil.example/[\t.]",
            "http://evil.example/[[.]]",
            "http://evil.example/8.0 [\\./]",
            "http://evil.example/[\\.[\\./]/]",
            "HTTP://Evil.EXAMPLE:80/a/../b?q#f",
            "evil.example",
            // Found by fuzzing (fuzz/, target `normalize`): the WHATWG
            // serialisation turns `e|` into a drive letter on the next parse.
            "file://0\\/e|",
            "file://0t\\/e|/",
        ] {
            let once = ok(raw);
            assert_eq!(ok(&once), once, "{raw:?}");
        }
        assert_eq!(ok("file://0t\\/e|/"), "file:///e:/");
    }
}
