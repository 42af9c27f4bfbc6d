//! Weak and strong evidence on real intel (`tests/fixtures/realworld/`, excerpts
//! of `../shared/realworld/intel/`) against benign Sysmon process alerts:
//!
//! - Unit42's `[file:name = 'python.exe']` is weak: the native pack grades it 5,
//!   and the drop-in profiles do not send it unless told to;
//! - ESET's MISP `filename|sha1` `csrss.exe|1645ad84…` is keyed by the SHA-1
//!   only: a real csrss.exe with another SHA-1 does not hit;
//! - Unit42's `%PROGRAMDATA%\Microsoft\DeviceSync\MSBuild.exe` matches that
//!   path, not the .NET MSBuild.
//!
//! The alerts' hashes are the digests of `intelmatch-sample:<file name>`, as in
//! the shared samples. No documentation values are used: default settings.

#[path = "support/analysisd_rules.rs"]
mod analysisd_rules;

use std::path::Path;
use std::process::Command;

use analysisd_rules::assert_fires;
use serde_json::{json, Value};

const NATIVE_PACK: &str = include_str!("../wazuh/rules/intelmatch_rules.xml");
const BIN: &str = env!("CARGO_BIN_EXE_intelmatch");

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// The three excerpts synced from file sources, plus `matching` lines.
    fn new(matching: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realworld");
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[matching]\n{matching}\n\
                 [[sources]]\nname = \"unit42\"\ntype = \"stix\"\npath = \"{r}/unit42-maze-python.json\"\n\
                 [[sources]]\nname = \"unit42-tg\"\ntype = \"stix\"\npath = \"{r}/unit42-thirstygemini-msbuild.json\"\n\
                 [[sources]]\nname = \"eset\"\ntype = \"misp-feed\"\npath = \"{r}/eset-glupteba\"\n",
                r = real.display()
            ),
        )
        .unwrap();
        let site = Site { dir };
        let out = site.cmd(&["-q", "sync"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        site
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(self.dir.path().join("intelmatch.toml"))
            .args(args);
        c
    }

    /// The events `profile` would send for `alert`.
    fn events(&self, profile: &str, alert: &Value) -> Vec<Value> {
        let file = self.dir.path().join("alert.json");
        std::fs::write(&file, alert.to_string()).unwrap();
        let out = self
            .cmd(&["match", "--events", profile, file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A benign Sysmon EID 1 process creation of `image` with `sha1`.
fn process(image: &str, sha1: &str) -> Value {
    let escaped = image.replace('\\', "\\\\");
    let name = image.rsplit('\\').next().unwrap();
    json!({
        "timestamp": "2024-05-14T10:02:11.418+0000",
        "rule": {"level": 3, "description": "Sysmon - Event 1: Process creation", "id": "61603",
                 "groups": ["windows", "sysmon", "sysmon_event1"]},
        "agent": {"id": "001", "name": "WS-FIN-042", "ip": "10.20.30.42"},
        "manager": {"name": "wazuh-mgr01"},
        "id": "1715680931.2214410",
        "decoder": {"name": "windows_eventchannel"},
        "data": {"win": {
            "system": {"providerName": "Microsoft-Windows-Sysmon", "eventID": "1",
                       "channel": "Microsoft-Windows-Sysmon/Operational"},
            "eventdata": {
                "image": escaped,
                "originalFileName": name,
                "commandLine": format!("\\\"{escaped}\\\""),
                "currentDirectory": "C:\\\\Windows\\\\system32\\\\",
                "user": "NT AUTHORITY\\\\SYSTEM",
                "hashes": format!("SHA1={}", sha1.to_uppercase()),
                "parentImage": "C:\\\\Windows\\\\System32\\\\smss.exe"
            }
        }},
        "location": "EventChannel"
    })
}

#[test]
fn a_bare_file_name_is_weak_evidence() {
    let site = Site::new("");
    let alert = process(
        "C:\\Program Files\\Python311\\python.exe",
        "6a529e9ddccba4e8505ec3afa5b27191d556494c",
    );
    let native = site.events("native", &alert);
    assert_eq!(native.len(), 1, "{native:#?}");
    let e = &native[0]["intelmatch"];
    assert_eq!(
        e["indicator"]["id"],
        "indicator--321958b4-935b-4a4a-b9c9-19556e5394dc"
    );
    assert_eq!(e["match"]["kind"], "filename");
    assert_eq!(e["match"]["weak"], true);
    // Level 5 although an exact match is otherwise 10.
    assert_fires(NATIVE_PACK, &native[0], 117115);

    // The plain listing says so too.
    let file = site.dir.path().join("alert.json");
    let out = site
        .cmd(&["match", file.to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("python.exe") && listing.contains("[weak]"),
        "{listing}"
    );

    // The drop-in packs cannot tell it from a hash: not sent...
    for profile in ["opencti", "misp"] {
        assert_eq!(
            site.events(profile, &alert),
            Vec::<Value>::new(),
            "{profile}"
        );
    }
    // ...unless asked for.
    let site = Site::new("send_weak_in_dropin = true");
    for profile in ["opencti", "misp"] {
        assert_eq!(site.events(profile, &alert).len(), 1, "{profile}");
    }
    // And file names can be made strong.
    let site = Site::new("weak_kinds = []");
    let native = site.events("native", &alert);
    assert_eq!(native[0]["intelmatch"]["match"].get("weak"), None);
    assert_fires(NATIVE_PACK, &native[0], 117103);
}

#[test]
fn a_misp_file_name_with_a_hash_needs_the_hash() {
    let site = Site::new("");
    // The real csrss.exe, whose SHA-1 is not Glupteba's.
    let other = process(
        "C:\\Windows\\System32\\csrss.exe",
        "49611b4de79a373adbe3094f6a2d5755a5d420a3",
    );
    for profile in ["native", "opencti", "misp"] {
        assert_eq!(
            site.events(profile, &other),
            Vec::<Value>::new(),
            "{profile}"
        );
    }
    // Glupteba's own file: the hash hits, the name travels as context.
    let glupteba = process(
        "C:\\Windows\\System32\\csrss.exe",
        "1645ad8468a2fb54763c0ebeb766dfd8c643f3db",
    );
    let native = site.events("native", &glupteba);
    assert_eq!(native.len(), 1, "{native:#?}");
    let e = &native[0]["intelmatch"];
    assert_eq!(e["match"]["kind"], "sha1");
    assert_eq!(e["match"].get("weak"), None);
    assert_eq!(
        e["indicator"]["misp"]["value"],
        "csrss.exe|1645ad8468a2fb54763c0ebeb766dfd8c643f3db"
    );
    assert_fires(NATIVE_PACK, &native[0], 117103);
}

#[test]
fn a_path_valued_indicator_matches_the_path_not_the_name() {
    let site = Site::new("");
    let dotnet = process(
        "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe",
        "c0d9636d9303b0107f80e0d328659984610423e1",
    );
    assert_eq!(site.events("native", &dotnet), Vec::<Value>::new());

    let planted = process(
        "C:\\ProgramData\\Microsoft\\DeviceSync\\MSBuild.exe",
        "c0d9636d9303b0107f80e0d328659984610423e1",
    );
    let native = site.events("native", &planted);
    assert_eq!(native.len(), 1, "{native:#?}");
    let e = &native[0]["intelmatch"];
    assert_eq!(
        e["indicator"]["id"],
        "indicator--7fbdc5df-461c-4635-93c2-0c1bbccc6eb9"
    );
    assert_eq!(
        e["match"]["matched"],
        "%programdata%\\microsoft\\devicesync\\msbuild.exe"
    );
    // A whole path names one file at one place: not weak.
    assert_eq!(e["match"].get("weak"), None);
    // The drop-in profiles send it too.
    assert_eq!(site.events("opencti", &planted).len(), 1);
}
