//! Whole file paths, for path-valued file indicators
//! (`[file:name = '%PROGRAMDATA%\Microsoft\DeviceSync\MSBuild.exe']`).
//!
//! Such an indicator names one file at one place: cut down to its base name it
//! would hit every `MSBuild.exe`. Intel spells the place with environment
//! variables, alerts with the folder they stand for, so both sides meet in one
//! form: case-folded, `\` separators collapsed, and the standard Windows folders
//! written as their variable (`C:\Users\jdoe\AppData\Roaming\x.exe` and
//! `%APPDATA%\x.exe` are both `%appdata%\x.exe`). The user name in a profile
//! path is dropped that way, which is what `%APPDATA%` in a report means.

use super::Invalid;
use crate::kind::Kind;

/// True when `raw` is a path rather than a base name.
pub fn is_path(raw: &str) -> bool {
    raw.contains(['\\', '/'])
}

/// Variables spelled another way, and drives the variables stand for.
const ALIASES: &[(&str, &str)] = &[
    ("%systemroot%", "%windir%"),
    ("%tmp%", "%temp%"),
    ("%allusersprofile%", "%programdata%"),
    ("%systemdrive%", "c:"),
    ("%homedrive%", "c:"),
];

/// Machine-wide folders at their standard place.
const FOLDERS: &[(&str, &str)] = &[
    ("c:\\windows\\", "%windir%\\"),
    ("c:\\programdata\\", "%programdata%\\"),
    ("c:\\program files (x86)\\", "%programfiles(x86)%\\"),
    ("c:\\program files\\", "%programfiles%\\"),
    ("c:\\users\\public\\", "%public%\\"),
];

/// Folders of a user profile, most specific first.
const PROFILE: &[(&str, &str)] = &[
    ("%userprofile%\\appdata\\local\\temp\\", "%temp%\\"),
    ("%userprofile%\\appdata\\local\\", "%localappdata%\\"),
    ("%userprofile%\\appdata\\roaming\\", "%appdata%\\"),
    ("%localappdata%\\temp\\", "%temp%\\"),
];

/// Normalises a file path to the form described in the module documentation.
/// Unix paths (no `\`, no drive, no variable) keep `/` and are only case-folded
/// and collapsed, like file names.
pub fn file_path(raw: &str) -> Result<String, Invalid> {
    let err = |reason: &str| Invalid::new(Kind::Filename, raw, reason);
    let s = raw.trim();
    if s.chars().any(char::is_control) {
        return Err(err("contains a control character"));
    }
    let lower = s.to_lowercase();
    let drive = matches!(lower.as_bytes(), [d, b':', ..] if d.is_ascii_alphabetic());
    let windows = drive || lower.contains('\\') || lower.starts_with('%');
    let sep = if windows { '\\' } else { '/' };
    let mut path = String::with_capacity(lower.len());
    for c in lower.chars() {
        let c = if windows && c == '/' { '\\' } else { c };
        // Runs of separators are one (feeds double escapes, sometimes twice).
        if c == sep && path.ends_with(sep) {
            continue;
        }
        path.push(c);
    }
    let base = path.rsplit(sep).next().unwrap_or("").trim();
    if base.is_empty() {
        return Err(err("no file name after the last path separator"));
    }
    if base == "." || base == ".." {
        return Err(err("`.` and `..` are not file names"));
    }
    if !windows {
        return Ok(path);
    }
    // `\\?\` (already collapsed to `\?\`) only lifts the length limit.
    if let Some(rest) = path.strip_prefix("\\?\\") {
        path = rest.to_string();
    }
    for (from, to) in ALIASES {
        if let Some(rest) = path.strip_prefix(from) {
            path = format!("{to}{rest}");
        }
    }
    for (from, to) in FOLDERS {
        if let Some(rest) = path.strip_prefix(from) {
            path = format!("{to}{rest}");
            break;
        }
    }
    // `c:\users\<name>\…`: the profile of whoever it is.
    if let Some(rest) = path.strip_prefix("c:\\users\\") {
        if let Some((_, inside)) = rest.split_once('\\') {
            path = format!("%userprofile%\\{inside}");
        }
    }
    for (from, to) in PROFILE {
        if let Some(rest) = path.strip_prefix(from) {
            path = format!("{to}{rest}");
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_their_folders_meet() {
        for (raw, want) in [
            // Unit42's thirstygemini indicator, separators doubled twice over.
            (
                "%PROGRAMDATA%\\\\\\\\Microsoft\\\\\\\\DeviceSync\\\\\\\\MSBuild.exe",
                "%programdata%\\microsoft\\devicesync\\msbuild.exe",
            ),
            (
                "C:\\ProgramData\\Microsoft\\DeviceSync\\MSBuild.exe",
                "%programdata%\\microsoft\\devicesync\\msbuild.exe",
            ),
            (
                "C:\\Users\\jdoe\\AppData\\Roaming\\x.exe",
                "%appdata%\\x.exe",
            ),
            ("%APPDATA%\\x.exe", "%appdata%\\x.exe"),
            ("%USERPROFILE%\\AppData\\Roaming\\x.exe", "%appdata%\\x.exe"),
            (
                "C:\\Users\\jdoe\\AppData\\Local\\Temp\\winsvcupd.exe",
                "%temp%\\winsvcupd.exe",
            ),
            ("%TMP%\\winsvcupd.exe", "%temp%\\winsvcupd.exe"),
            ("%LOCALAPPDATA%\\Temp\\a.exe", "%temp%\\a.exe"),
            (
                "C:\\Users\\jdoe\\Desktop\\a.exe",
                "%userprofile%\\desktop\\a.exe",
            ),
            (
                "%SystemRoot%\\System32\\csrss.exe",
                "%windir%\\system32\\csrss.exe",
            ),
            (
                "C:/Windows/System32/csrss.exe",
                "%windir%\\system32\\csrss.exe",
            ),
            ("\\\\?\\C:\\Windows\\a.exe", "%windir%\\a.exe"),
            ("%SystemDrive%\\Windows\\a.exe", "%windir%\\a.exe"),
            ("D:\\Tools\\a.exe", "d:\\tools\\a.exe"),
            ("/usr//bin/Python3", "/usr/bin/python3"),
            ("//::x", "/::x"),
        ] {
            assert_eq!(file_path(raw).unwrap(), want, "{raw}");
            // Idempotent: what is stored normalises to itself.
            assert_eq!(file_path(want).unwrap(), want, "{want}");
        }
    }

    #[test]
    fn a_path_must_end_in_a_name() {
        for raw in ["C:\\Windows\\", "/tmp/..", "%TEMP%\\."] {
            assert!(file_path(raw).is_err(), "{raw}");
        }
        assert!(is_path("a\\b") && is_path("/a") && !is_path("python.exe"));
    }
}
