//! The default warninglists, end to end through the CLI: a plain `type =
//! "list"` source holding the three values every SOC sees reported as "bad"
//! sooner or later (Google's resolver, google.com, the SHA-256 of the empty
//! file), one value for each other type of bundled list, and realistic
//! malicious values; `intelmatch sync`, then `intelmatch lookup`.
//!
//! The config leaves `[matching] warninglists` unset: the default (contract
//! §3, `suppress`) is what is under test. No documentation range or
//! `.example` name is used for the malicious value, because those are on the
//! bundled lists themselves.

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use serde_json::Value;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Public-looking and on no bundled list: a typo-squat phishing domain.
const MALICIOUS_DOMAIN: &str = "login-micros0ft-verify.top";
/// A public address outside every bundled list.
const MALICIOUS_IP: &str = "45.137.21.9";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(warninglists: Option<&str>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("intel.txt"),
            format!(
                "# reported by a well-meaning analyst\n{}\n{}\n{MALICIOUS_DOMAIN}\n{MALICIOUS_IP}\n",
                WELL_KNOWN.map(|(v, _)| v).join("\n"),
                UNDER_A_LISTED_ENTRY.map(|(v, _)| v).join("\n")
            ),
        )
        .unwrap();
        let env = Env { dir };
        env.config(warninglists);
        let out = env.run(&["sync"]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        // Every bundled list is usable: none is skipped with a warning.
        assert!(!log.contains("warninglist"), "{log}");
        env
    }

    /// `None`: no `warninglists` key at all, so the default applies.
    fn config(&self, warninglists: Option<&str>) {
        let mode = warninglists.map_or(String::new(), |m| format!("warninglists = \"{m}\"\n"));
        std::fs::write(
            self.dir.path().join("intelmatch.toml"),
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"wazuh\"\n[matching]\n{mode}\
                 [[sources]]\nname = \"analyst-list\"\ntype = \"list\"\npath = \"intel.txt\"\n"
            ),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        cli::intelmatch(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// One JSON object per value, in the order given.
    fn lookup(&self, values: &[&str]) -> Vec<Value> {
        let mut args = vec!["-q", "lookup", "--json"];
        args.extend_from_slice(values);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), values.len(), "{lines:?}");
        lines
    }
}

fn hits(v: &Value) -> usize {
    v["hits"].as_array().unwrap().len()
}

fn lists(v: &Value) -> Vec<&str> {
    v["warninglists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

/// The well-known values and the bundled list that names each: the three
/// every SOC meets first, then one per remaining list type (network
/// containment, substring, regex). Each indicator's own value is on its list.
const WELL_KNOWN: [(&str, &str); 6] = [
    ("8.8.8.8", "List of known IPv4 public DNS resolvers"),
    ("google.com", "List of known google domains"),
    (EMPTY_SHA256, "List of known hashes for empty files"),
    ("10.20.30.40", "List of RFC 1918 CIDR blocks"),
    (
        "app.any.run",
        "List of known domains used by automated malware analysis services & security vendors",
    ),
    (
        "abuse@login-micros0ft-verify.top",
        "Common contact e-mail addresses",
    ),
];

/// Indicators more specific than a listed entry: a subdomain of a listed name,
/// a URL with a path on a listed host. They hit, annotated with the list
/// (issue 23: `http://bit.ly/2A5rxKB` was hidden by the URL-shortener list).
const UNDER_A_LISTED_ENTRY: [(&str, &str); 2] = [
    (
        "cdn.api.ipify.org",
        "List of known domains to know external IP",
    ),
    (
        "https://bit.ly/3xYzAbC",
        "List of known URL Shorteners domains",
    ),
];

#[test]
fn default_warninglists_suppress_well_known_values_but_not_intel() {
    let env = Env::new(None);
    let values: Vec<&str> = WELL_KNOWN
        .iter()
        .map(|(v, _)| *v)
        .chain([MALICIOUS_DOMAIN, MALICIOUS_IP])
        .collect();
    let out = env.lookup(&values);
    for ((value, list), v) in WELL_KNOWN.iter().zip(&out) {
        assert_eq!(hits(v), 0, "{value} must not hit by default: {v}");
        // Suppressed, not absent: the intel holds it and the lookup says which
        // list dropped it.
        assert_eq!(v["suppressed"], 1, "{value}: {v}");
        assert!(lists(v).contains(list), "{value}: {v}");
    }
    let specific = env.lookup(&UNDER_A_LISTED_ENTRY.map(|(v, _)| v));
    for ((value, list), v) in UNDER_A_LISTED_ENTRY.iter().zip(&specific) {
        assert_eq!(hits(v), 1, "{value} is more specific than the entry: {v}");
        assert_eq!(v["suppressed"], 0, "{value}: {v}");
        assert!(lists(v).contains(list), "{value}: {v}");
    }
    for v in &out[WELL_KNOWN.len()..] {
        assert_eq!(hits(v), 1, "{v}");
        assert_eq!(v["suppressed"], 0, "{v}");
        assert!(lists(v).is_empty(), "{v}");
        let hit = &v["hits"][0];
        assert_eq!(hit["match"]["method"], "exact", "{v}");
        assert_eq!(hit["indicator"]["source"], "analyst-list", "{v}");
    }
    // People read the reason too.
    let text = env.run(&["-q", "lookup", "8.8.8.8", MALICIOUS_DOMAIN]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(
            "8.8.8.8 (ipv4): no hit (1 suppressed: on warninglist \
             List of known IPv4 public DNS resolvers)"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("{MALICIOUS_DOMAIN} (domain): 1 hit")),
        "{text}"
    );
}

#[test]
fn annotate_keeps_the_hits_and_names_the_list_and_off_names_nothing() {
    let env = Env::new(Some("annotate"));
    let values: Vec<&str> = WELL_KNOWN.iter().map(|(v, _)| *v).collect();
    for ((value, list), v) in WELL_KNOWN.iter().zip(env.lookup(&values)) {
        assert_eq!(hits(&v), 1, "{value}: {v}");
        assert_eq!(v["suppressed"], 0, "{value}: {v}");
        assert!(lists(&v).contains(list), "{value}: {v}");
    }
    // The mode is read at lookup time: no re-sync needed.
    env.config(Some("off"));
    for v in env.lookup(&values) {
        assert_eq!(hits(&v), 1, "{v}");
        assert!(lists(&v).is_empty(), "{v}");
    }
}
