//! integratord's argv and the `.options` file.
//!
//! integratord (4.x) builds one command string, `"%s %s %s %s %s %s %d %d"` from
//! the integrations directory name, the alert file, api_key or `""`, hook_url or
//! `""`, `debug` or `""`, the options file or `""`, timeout and retries, appends
//! `" > /dev/null 2>&1"` when debug is off, splits it at **every** space into at
//! most 9 parts and execs it without a shell. Older managers pass fewer arguments
//! (4.7: no timeout/retries; ≤ 4.6: no options file either), and an api_key or
//! hook_url containing a space shifts every later argument. So: every argument after
//! the alert file may be missing, empty or junk, and none of that is an error.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What integratord passed, as far as it can be told.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntegrateArgs {
    pub alert_file: Option<PathBuf>,
    /// Never logged (see the `Debug` impl).
    pub api_key: Option<String>,
    pub hook_url: Option<String>,
    pub debug: bool,
    pub options_file: Option<PathBuf>,
    pub timeout: Option<u64>,
    pub retries: Option<u32>,
}

impl IntegrateArgs {
    /// Parses the arguments **after** argv[0] (argv[0] is `integrations`, not the
    /// binary): `[alert_file, api_key, hook_url, debug, options, timeout, retries, …]`.
    /// Also fits `intelmatch integrate ALERT_FILE [ARGS...]`, whose arguments have
    /// the same order.
    pub fn parse<I, S>(args: I) -> IntegrateArgs
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        // Bounded: integratord never passes more than 8 after argv[0].
        let a: Vec<String> = args
            .into_iter()
            .take(32)
            .map(|s| s.into().to_string_lossy().into_owned())
            .collect();
        let at = |i: usize| {
            a.get(i)
                .map(String::as_str)
                .filter(|s| !s.is_empty() && !is_redirect(s))
        };

        let alert_file = at(0).map(PathBuf::from);
        let api_key = at(1).map(str::to_string);
        let hook_url = at(2).map(str::to_string);
        let tail = a.get(3..).unwrap_or(&[]);
        let debug = tail.iter().any(|s| s == "debug");

        // integratord names it `/tmp/<name>-<time>-<random>.options`: find it by that
        // suffix (as the official Shuffle script does), else take position 5 when it
        // holds something that is neither a flag, a number nor redirect text.
        let by_suffix = tail
            .iter()
            .position(|s| s.ends_with(".options"))
            .map(|i| i + 3);
        let options_at = by_suffix.or_else(|| {
            at(4)
                .filter(|s| *s != "debug" && s.parse::<u64>().is_err())
                .map(|_| 4)
        });
        let options_file = options_at.and_then(at).map(PathBuf::from);

        // timeout and retries follow the options file (4.8+).
        let (t, r) = match options_at {
            Some(i) => (i + 1, i + 2),
            None => (5, 6),
        };
        let timeout = at(t).and_then(|s| s.parse().ok());
        let retries = at(r).and_then(|s| s.parse().ok());

        IntegrateArgs {
            alert_file,
            api_key,
            hook_url,
            debug,
            options_file,
            timeout,
            retries,
        }
    }
}

/// The `> /dev/null 2>&1` suffix, joined or split into words.
fn is_redirect(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('>') || t == "2>&1" || t.contains("/dev/null")
}

impl fmt::Debug for IntegrateArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrateArgs")
            .field("alert_file", &self.alert_file)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("hook_url", &self.hook_url.as_deref().map(redact_userinfo))
            .field("debug", &self.debug)
            .field("options_file", &self.options_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

/// `https://user:pass@host/x` → `https://<redacted>@host/x`.
fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..scheme_end + 3], &rest[at..]),
        None => url.to_string(),
    }
}

/// Settings from the `<options>` JSON of the `<integration>` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrateOptions {
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    pub debug: Option<bool>,
}

/// Options plus what was wrong with them. Problems are warnings: a bad options file
/// must not stop the integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedOptions {
    pub options: IntegrateOptions,
    pub warnings: Vec<String>,
}

/// Reads and parses an options file. A missing or unreadable file is a warning.
pub fn read_options_file(path: &Path) -> ParsedOptions {
    match std::fs::read(path) {
        Ok(bytes) => parse_options(&String::from_utf8_lossy(&bytes)),
        Err(e) => ParsedOptions {
            options: IntegrateOptions::default(),
            warnings: vec![format!("options file {}: {e}; ignoring it", path.display())],
        },
    }
}

/// Parses the options text (`{"config": "...", "profile": "...", "debug": true}`).
/// Warnings name keys, never values (the block may hold secrets for other tools).
pub fn parse_options(text: &str) -> ParsedOptions {
    let mut out = ParsedOptions::default();
    if text.trim().is_empty() {
        return out;
    }
    let map = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            out.warnings
                .push("options: not a JSON object; ignoring them".to_string());
            return out;
        }
        Err(e) => {
            out.warnings
                .push(format!("options: invalid JSON ({e}); ignoring them"));
            return out;
        }
    };
    for (key, value) in &map {
        match (key.as_str(), value) {
            ("config", Value::String(s)) if !s.trim().is_empty() => {
                out.options.config = Some(PathBuf::from(s.trim()));
            }
            ("profile", Value::String(s)) if !s.trim().is_empty() => {
                out.options.profile = Some(s.trim().to_ascii_lowercase());
            }
            ("debug", Value::Bool(b)) => out.options.debug = Some(*b),
            ("debug", Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => out.options.debug = Some(true),
                "false" | "no" | "off" | "0" | "" => out.options.debug = Some(false),
                _ => out
                    .warnings
                    .push("options: `debug` should be true or false; ignoring it".to_string()),
            },
            ("debug", Value::Number(n)) => out.options.debug = Some(n.as_f64() != Some(0.0)),
            ("config" | "profile" | "debug", _) => out
                .warnings
                .push(format!("options: `{key}` has the wrong type; ignoring it")),
            _ => out
                .warnings
                .push(format!("options: unknown key `{key}`; ignoring it")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_api_key_and_url_credentials() {
        let a = IntegrateArgs::parse([
            "/tmp/a.alert",
            "s3cr3t-key",
            "https://u:pw@hook.example/x",
            "debug",
        ]);
        let shown = format!("{a:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(shown.contains("hook.example/x"), "{shown}");
        assert_eq!(a.api_key.as_deref(), Some("s3cr3t-key"));
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_userinfo("https://h/x@y"), "https://h/x@y");
        assert_eq!(redact_userinfo("http://a@b"), "http://<redacted>@b");
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }

    #[test]
    fn options_parsing() {
        let p = parse_options(
            r#"{"config": "/etc/intelmatch/x.toml", "profile": "OpenCTI", "debug": true}"#,
        );
        assert_eq!(
            p.options,
            IntegrateOptions {
                config: Some("/etc/intelmatch/x.toml".into()),
                profile: Some("opencti".into()),
                debug: Some(true),
            }
        );
        assert!(p.warnings.is_empty());
        assert_eq!(parse_options("\n"), ParsedOptions::default());
        let bad = parse_options("{config: x}");
        assert_eq!(bad.options, IntegrateOptions::default());
        assert_eq!(bad.warnings.len(), 1);
        let odd = parse_options(r#"{"debug": "maybe", "profile": 3, "token": "hunter2"}"#);
        assert_eq!(odd.warnings.len(), 3);
        assert!(!odd.warnings.iter().any(|w| w.contains("hunter2")));
        assert_eq!(parse_options("[1]").warnings.len(), 1);
        assert_eq!(
            parse_options(r#"{"debug": "yes"}"#).options.debug,
            Some(true)
        );
    }

    #[test]
    fn options_file_read_errors_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_options_file(&dir.path().join("nope.options"));
        assert_eq!(missing.warnings.len(), 1);
        let path = dir.path().join("x.options");
        std::fs::write(&path, "{\"profile\": \"misp\"}\n").unwrap();
        assert_eq!(
            read_options_file(&path).options.profile.as_deref(),
            Some("misp")
        );
    }
}
