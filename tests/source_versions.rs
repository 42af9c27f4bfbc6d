//! `intelmatch status` names each server's version and the query shape the
//! last sync used, and warns when a server is newer than the newest version
//! the tests play: an OpenCTI stand-in playing 7.260318.0 and a MISP
//! stand-in whose role caps restSearch at 3 rows.
//!
//! Values are documentation ranges and `.example` names (nothing is looked up).

// Both stand-ins include `support/faults.rs`, each its own copy.
#![allow(clippy::duplicate_mod)]

#[path = "../sync/tests/support/misp_server.rs"]
mod misp_server;
#[path = "../sync/tests/support/opencti_server.rs"]
mod opencti_server;

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use misp_server::{MispServer, RoleCap, KEY};
use opencti_server::{indicator, OpenCti, Play};
use serde_json::Value;

const TOKEN: &str = "flgrn_octi_tkn_0a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct Env {
    dir: tempfile::TempDir,
    cti: OpenCti,
    misp: MispServer,
}

impl Env {
    fn new() -> Env {
        let cti = OpenCti::start(Play::V7, TOKEN);
        cti.with(|s| s.add(indicator("i1", "[ipv4-addr:value = '198.51.100.50']")));
        let misp = MispServer::start();
        {
            let mut w = misp.world();
            w.role_cap = Some(RoleCap {
                cap: 3,
                refuse_larger: false,
            });
            let e = w.add_event("Capped", true);
            for i in 1..=8 {
                w.add_attr(e, "domain", &format!("d{i}.capped.example"), true);
            }
            w.publish(e);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"wazuh\"\n\
                 [[sources]]\nname = \"cti\"\ntype = \"opencti\"\nurl = \"{}\"\n\
                 token = \"env:TEST_OPENCTI_TOKEN\"\nretries = 0\n\
                 [[sources]]\nname = \"misp\"\ntype = \"misp\"\nurl = \"{}\"\n\
                 key = \"env:TEST_MISP_KEY\"\nretries = 0\npage_size = 10\n\
                 mirror_warninglists = false\n",
                cti.url(),
                misp.url
            ),
        )
        .unwrap();
        Env { dir, cti, misp }
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .env("TEST_OPENCTI_TOKEN", TOKEN)
            .env("TEST_MISP_KEY", KEY)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn sync(&self) -> String {
        let out = self.run(&["sync"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn status_names_versions_and_query_shapes_and_warns_past_the_tested_ones() {
    let env = Env::new();
    env.sync();
    let s = text(&env.run(&["status"]).stdout);
    assert!(s.contains(", server 7.260318.0\n"), "{s}");
    assert!(
        s.contains("queries: list shape (labels and markings as lists, 5.12.24 and later)"),
        "{s}"
    );
    assert!(s.contains(", server 2.5.1\n"), "{s}");
    assert!(
        s.contains(
            "queries: restSearch by event, pages of 3 (the server's cap; page_size 10), \
             X-Result-Count per page"
        ),
        "{s}"
    );
    assert!(!s.contains("newer than the newest"), "{s}");
    let json: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let sources = json["store"]["sources"].as_array().unwrap();
    let cti = sources.iter().find(|s| s["name"] == "cti").unwrap();
    assert_eq!(cti["server_version"], "7.260318.0");
    assert!(cti["query_shape"]
        .as_str()
        .unwrap()
        .starts_with("list shape"));
    let misp = sources.iter().find(|s| s["name"] == "misp").unwrap();
    assert!(misp["query_shape"].as_str().unwrap().contains("pages of 3"));
    // Nothing was lost to the cap.
    assert_eq!(misp["indicators"], 8);

    // Both servers are upgraded past what the tests play.
    env.cti
        .with(|s| s.claimed_version = Some("7.260722.0".into()));
    env.misp.world().version = "2.6.0".into();
    let log = env.sync();
    assert!(
        log.contains("OpenCTI 7.260722.0 is newer than the newest version tested (7.260318.0)"),
        "{log}"
    );
    let s = text(&env.run(&["status"]).stdout);
    assert!(
        s.contains(
            "warning source cti: OpenCTI 7.260722.0 is newer than the newest version tested \
             (7.260318.0)"
        ),
        "{s}"
    );
    assert!(
        s.contains(
            "warning source misp: MISP 2.6.0 is newer than the newest series tested (2.5.x)"
        ),
        "{s}"
    );
    let json: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("7.260722.0 is newer"), "{warnings}");
}
