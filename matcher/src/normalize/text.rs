//! Host artefacts compared as text: file names, registry keys, user agents, mutexes.

use super::file_path::{file_path, is_path};
use super::Invalid;
use crate::kind::Kind;

/// Normalises a file name: a base name is lowercased; a path stays a whole path
/// ([`file_path`]), never cut down to its base name, or
/// `%PROGRAMDATA%\Microsoft\DeviceSync\MSBuild.exe` would hit every MSBuild.
///
/// Names are case-folded because the platforms most intel is about (Windows,
/// and macOS by default) have case-insensitive file systems and Sysmon/EDR logs
/// spell names freely; a Linux-only `Evil` and `evil` therefore match each other.
pub fn filename(raw: &str) -> Result<String, Invalid> {
    let err = |reason: &str| Invalid::new(Kind::Filename, raw, reason);
    let s = raw.trim();
    if s.is_empty() {
        return Err(err("empty value"));
    }
    if is_path(s) {
        return file_path(s);
    }
    let base = s;
    if base == "." || base == ".." {
        return Err(err("`.` and `..` are not file names"));
    }
    if base.chars().any(char::is_control) {
        return Err(err("contains a control character"));
    }
    Ok(base.to_lowercase())
}

/// Root keys, their aliases (matched case-insensitively) and canonical names.
const HIVES: &[(&[&str], &str)] = &[
    (&["HKLM", "HKEY_LOCAL_MACHINE"], "hkey_local_machine"),
    (&["HKCU", "HKEY_CURRENT_USER"], "hkey_current_user"),
    (&["HKCR", "HKEY_CLASSES_ROOT"], "hkey_classes_root"),
    (&["HKU", "HKEY_USERS"], "hkey_users"),
    (&["HKCC", "HKEY_CURRENT_CONFIG"], "hkey_current_config"),
    (&["HKPD", "HKEY_PERFORMANCE_DATA"], "hkey_performance_data"),
];

/// Normalises a Windows registry key: trimmed, runs of `\` collapsed, leading and
/// trailing `\` dropped, the hive spelled out (`HKLM`, `HKLM:`,
/// `\REGISTRY\MACHINE` → `hkey_local_machine`; `\REGISTRY\USER` → `hkey_users`),
/// then the whole key lowercased (the registry is case-insensitive).
pub fn regkey(raw: &str) -> Result<String, Invalid> {
    let err = |reason: &str| Invalid::new(Kind::Regkey, raw, reason);
    let s = raw.trim();
    if s.is_empty() {
        return Err(err("empty value"));
    }
    if s.chars().any(char::is_control) {
        return Err(err("contains a control character"));
    }
    // Whitespace and separators both: `Run \\` must end as `run`, not `run `.
    let key = s.trim_matches(|c: char| c == '\\' || c.is_whitespace());
    let (first, rest) = split_component(key);
    let (hive, rest) =
        if first.eq_ignore_ascii_case("REGISTRY") {
            let (second, rest) = split_component(rest);
            let hive = if second.eq_ignore_ascii_case("MACHINE") {
                "hkey_local_machine"
            } else if second.eq_ignore_ascii_case("USER") {
                "hkey_users"
            } else {
                return Err(err("`\\REGISTRY\\` must be followed by MACHINE or USER"));
            };
            (hive, rest)
        } else {
            // PowerShell drive form: `HKLM:\Software`.
            let name = first.strip_suffix(':').unwrap_or(first);
            match hive_name(name) {
                Some(hive) => (hive, rest),
                // A key without its hive (MISP `regkey` values often are:
                // `Software\Microsoft\...\Run`, HKLM or HKCU alike): kept as
                // the path, which alert keys are matched on too.
                None if is_root_key(first) => ("", key),
                None => return Err(err(
                    "does not start with a known hive (HKLM, HKCU, HKCR, HKU, HKCC or HKEY_...) \
                     or a key under one (Software, System, ...)",
                )),
            }
        };

    let mut out = String::with_capacity(hive.len() + rest.len() + 1);
    out.push_str(hive);
    for part in rest.split('\\').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('\\');
        }
        out.push_str(&part.to_lowercase());
    }
    Ok(out)
}

/// Keys found directly under a hive (HKLM, HKCU, HKU\<SID>): the first part
/// of a key written without its hive.
const ROOT_KEYS: &[&str] = &[
    "software",
    "system",
    "sam",
    "security",
    "hardware",
    "bcd00000000",
    "control panel",
    "environment",
    "console",
    "keyboard layout",
    "network",
    "printers",
    "appevents",
    "volatile environment",
];

fn is_root_key(first: &str) -> bool {
    ROOT_KEYS.iter().any(|k| k.eq_ignore_ascii_case(first))
}

/// The path of a normalised key without its hive (and, under `hkey_users`,
/// without the user's SID), when it starts with a root key: what a key
/// written without a hive is matched on.
pub fn regkey_path(key: &str) -> Option<&str> {
    let (hive, rest) = split_component(key);
    if hive.is_empty() || is_root_key(hive) {
        return None;
    }
    let rest = if hive == "hkey_users" {
        split_component(rest).1
    } else {
        rest
    };
    let (first, _) = split_component(rest);
    is_root_key(first).then_some(rest)
}

fn hive_name(name: &str) -> Option<&'static str> {
    HIVES
        .iter()
        .find(|(aliases, _)| aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
        .map(|&(_, canonical)| canonical)
}

/// `(first component, remainder)` of a backslash path, the remainder without
/// its leading separators.
fn split_component(s: &str) -> (&str, &str) {
    match s.split_once('\\') {
        Some((first, rest)) => (first, rest.trim_start_matches('\\')),
        None => (s, ""),
    }
}

/// A user agent, compared exactly: trimmed, never empty, no control characters.
pub fn user_agent(raw: &str) -> Result<String, Invalid> {
    exact_text(Kind::UserAgent, raw)
}

/// A mutex name, compared exactly: trimmed, never empty, no control characters.
pub fn mutex(raw: &str) -> Result<String, Invalid> {
    exact_text(Kind::Mutex, raw)
}

fn exact_text(kind: Kind, raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::new(kind, raw, "empty value"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Invalid::new(
            kind,
            raw,
            format!("contains the control character `{}`", c.escape_debug()),
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames() {
        // A path stays a path (see file_path), never its base name.
        assert_eq!(
            filename("C:\\Windows\\Temp\\EVIL.exe").unwrap(),
            "%windir%\\temp\\evil.exe"
        );
        assert_eq!(
            filename("/tmp/.X11/payload.SH ").unwrap(),
            "/tmp/.x11/payload.sh"
        );
        assert_eq!(filename("evil.exe").unwrap(), "evil.exe");
        assert_eq!(filename("Ä.DOC").unwrap(), "ä.doc");
        assert!(filename("C:\\Temp\\")
            .unwrap_err()
            .reason
            .contains("no file name"));
        assert!(filename("..").is_err());
        assert!(filename("/tmp/.").is_err());
        assert!(filename("").is_err());
        assert!(filename("a\0b").unwrap_err().reason.contains("control"));
    }

    #[test]
    fn regkeys() {
        let ok = |s: &str| regkey(s).unwrap();
        let run = "hkey_local_machine\\software\\microsoft\\windows\\currentversion\\run";
        assert_eq!(
            ok("HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"),
            run
        );
        assert_eq!(
            ok("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
            run
        );
        assert_eq!(
            ok("hklm\\\\software\\\\microsoft\\\\windows\\\\currentversion\\\\run"),
            run
        );
        assert_eq!(
            ok("\\REGISTRY\\MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"),
            run
        );
        assert_eq!(
            ok("HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"),
            run
        );
        assert_eq!(
            ok("\\Registry\\User\\S-1-5-21-1\\Software"),
            "hkey_users\\s-1-5-21-1\\software"
        );
        assert_eq!(ok("HKCU\\Software"), "hkey_current_user\\software");
        assert_eq!(ok("HKCR\\.exe"), "hkey_classes_root\\.exe");
        assert_eq!(ok("HKU\\.DEFAULT"), "hkey_users\\.default");
        assert_eq!(ok("HKCC\\System"), "hkey_current_config\\system");
        assert_eq!(ok("HKLM"), "hkey_local_machine");
        assert_eq!(ok("HKLM\\Run \\ "), "hkey_local_machine\\run");
    }

    #[test]
    fn regkey_rejects() {
        assert!(regkey("Evil\\Microsoft")
            .unwrap_err()
            .reason
            .contains("known hive"));
        // A key under a hive, written without it, is its path.
        assert_eq!(
            regkey("Software\\Microsoft").unwrap(),
            "software\\microsoft"
        );
        assert_eq!(
            regkey_path("hkey_users\\s-1-5-18\\software\\x"),
            Some("software\\x")
        );
        assert_eq!(
            regkey_path("hkey_local_machine\\software\\x"),
            Some("software\\x")
        );
        assert_eq!(regkey_path("software\\x"), None);
        assert_eq!(regkey_path("hkey_classes_root\\exefile"), None);
        assert!(regkey("\\REGISTRY\\A\\x")
            .unwrap_err()
            .reason
            .contains("MACHINE or USER"));
        assert!(regkey("").is_err());
        assert!(regkey("HKLM\\a\nb").is_err());
        assert!(regkey("\\\\").is_err());
    }

    #[test]
    fn exact_texts() {
        assert_eq!(
            user_agent("  Mozilla/5.0 (X)  ").unwrap(),
            "Mozilla/5.0 (X)"
        );
        assert_eq!(mutex("Global\\MyMutex").unwrap(), "Global\\MyMutex");
        assert!(mutex(" ").is_err());
        assert!(user_agent("a\nb").unwrap_err().reason.contains("`\\n`"));
        assert!(mutex("a\0b").is_err());
    }
}
