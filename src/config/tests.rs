use std::path::{Path, PathBuf};
use std::sync::Mutex;

use store::config::{
    HttpConfig, ListConfig, MispConfig, MispFeedConfig, OpenCtiConfig, StixConfig,
};
use store::{Secret, SecretError, SourceSettings};

use super::*;

const ORIGIN: &str = "/etc/intelmatch/intelmatch.toml";

/// Tests that set environment variables hold this, so that they do not see
/// each other's values.
static ENV_LOCK: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new(ORIGIN))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted:\n{text}\n=> {c:#?}"),
        Err(e) => e.to_string(),
    }
}

fn opencti(config: &Config, i: usize) -> &OpenCtiConfig {
    match &config.sources[i].settings {
        SourceSettings::Opencti(c) => c,
        other => panic!("sources[{i}] is {other:?}"),
    }
}

fn misp(config: &Config, i: usize) -> &MispConfig {
    match &config.sources[i].settings {
        SourceSettings::Misp(c) => c,
        other => panic!("sources[{i}] is {other:?}"),
    }
}

#[test]
fn empty_file_gives_every_default() {
    let c = parse("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.data_dir, Path::new("/var/lib/intelmatch"));
    assert_eq!(
        c.store_path(),
        Path::new("/var/lib/intelmatch/store.sqlite")
    );
    assert_eq!(c.index_dir(), Path::new("/var/lib/intelmatch/index"));
    assert_eq!(c.wazuh.home, Path::new("/var/ossec"));
    assert_eq!(
        c.queue_socket(),
        Path::new("/var/ossec/queue/sockets/queue")
    );
    assert_eq!(c.log_file(), Path::new("/var/ossec/logs/integrations.log"));
    assert_eq!(c.wazuh.profile, None);
    assert!(!c.wazuh.misp_integration_key);
    assert_eq!(c.wazuh.hook_url, None);
    let m = &c.matching;
    assert_eq!(m.min_score, 0);
    assert!(!m.include_revoked && !m.include_expired);
    assert_eq!(m.warninglists, WarninglistMode::Suppress);
    assert!(m.warninglist_dirs.is_empty());
    assert!(m.skip_non_public && m.parent_domains && m.url_host);
    assert_eq!(m.max_events_per_alert, 10);
    assert_eq!(m.weak_kinds, [matcher::Kind::Filename]);
    assert!(!m.send_weak_in_dropin);
    assert!(c.extract.extra_paths.is_empty());
    assert_eq!(c.extract.max_candidates, 256);
    assert_eq!(c.sync.schedule, None);
    assert_eq!(c.sync.jitter_secs, 0);
    assert_eq!(c.sync.generations_keep, 2);
    assert_eq!(c.sync.generation_grace_secs, 3600);
    assert_eq!(
        c.watch.file,
        Path::new("/var/ossec/logs/alerts/alerts.json")
    );
    assert!(c.watch.groups_include.is_empty() && c.watch.rule_ids.is_empty());
    assert_eq!(c.watch.min_level, 0);
    assert!(c.sources.is_empty());
    assert!(c.warnings().is_empty());
    assert_eq!(c.origin(), Path::new(ORIGIN));
}

#[test]
fn paths_under_wazuh_home_follow_it() {
    let c = parse("[wazuh]\nhome = \"/opt/ossec\"\n").unwrap();
    assert_eq!(
        c.queue_socket(),
        Path::new("/opt/ossec/queue/sockets/queue")
    );
    assert_eq!(c.log_file(), Path::new("/opt/ossec/logs/integrations.log"));
    assert_eq!(
        c.watch.file,
        Path::new("/opt/ossec/logs/alerts/alerts.json")
    );
}

#[test]
fn contract_example_parses() {
    let c = Config::load(&fixture("contract.toml")).unwrap();
    assert_eq!(c.wazuh.profile, Some(Profile::Native));
    assert_eq!(c.sources.len(), 3);

    let o = opencti(&c, 0);
    assert_eq!(c.sources[0].name, "opencti");
    assert!(c.sources[0].enabled);
    assert_eq!(o.url, "https://opencti.example.org");
    assert_eq!(o.token.env_name(), Some("OPENCTI_TOKEN"));
    assert_eq!(
        o.http.ca_file.as_deref(),
        Some(Path::new("/etc/intelmatch/ca.pem"))
    );
    assert!(!o.http.insecure);
    assert_eq!(o.page_size, 1000);

    let m = misp(&c, 1);
    assert_eq!(
        m.key.file_path(),
        Some(Path::new("/etc/intelmatch/misp.key"))
    );
    assert_eq!(m.page_size, 5000, "MISP limit default");
    assert!(m.to_ids_only && !m.published_only);

    assert_eq!(
        c.sources[2].settings,
        SourceSettings::Stix(StixConfig {
            path: PathBuf::from("/etc/intelmatch/intel/")
        })
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn every_key_parses_and_relative_paths_resolve_against_the_file() {
    let path = fixture("full.toml");
    let dir = path.parent().unwrap();
    let c = Config::load(&path).unwrap();

    assert_eq!(c.data_dir, dir.join("data"));
    assert_eq!(c.store_path(), dir.join("data/store.sqlite"));
    let w = &c.wazuh;
    assert_eq!(w.home, Path::new("/opt/wazuh"));
    assert_eq!(w.queue_socket, Path::new("/run/wazuh/queue"));
    assert_eq!(w.profile, Some(Profile::Misp));
    assert_eq!(w.log_file, dir.join("logs/integrations.log"));
    assert!(w.misp_integration_key);
    assert_eq!(w.hook_url.as_deref(), Some("https://opencti.example.org"));

    assert_eq!(
        c.matching,
        MatchingConfig {
            min_score: 40,
            include_revoked: true,
            include_expired: true,
            warninglists: WarninglistMode::Annotate,
            warninglists_enabled: vec![
                "public-dns-v4".into(),
                "List of known google domains".into()
            ],
            warninglists_disabled: vec!["tranco".into()],
            warninglist_dirs: vec![
                dir.join("warninglists"),
                PathBuf::from("/usr/share/misp-warninglists/lists")
            ],
            skip_non_public: false,
            max_events_per_alert: 3,
            parent_domains: false,
            url_host: false,
            min_prefix_ipv4: 12,
            min_prefix_ipv6: 24,
            warninglist_min_prefix_ipv4: 10,
            warninglist_min_prefix_ipv6: 20,
            max_substring_patterns: 500,
            weak_kinds: vec![matcher::Kind::Filename, matcher::Kind::Mutex],
            send_weak_in_dropin: true,
            observables: crate::config::Observables::Report,
        }
    );
    assert_eq!(
        c.extract,
        ExtractConfig {
            extra_paths: vec![
                ExtraPath {
                    path: "data.foo.bar".into(),
                    kind: Some(matcher::Kind::Ipv4)
                },
                ExtraPath {
                    path: "data.win.eventdata.commandLine".into(),
                    kind: None
                },
            ],
            max_candidates: 64,
            documentation_is_public: false,
            unknown_fields: UnknownFields::Off,
        }
    );
    assert_eq!(
        c.sync,
        SyncConfig {
            schedule: Some("0 */30 * * * *".into()),
            jitter_secs: 120,
            generations_keep: 4,
            generation_grace_secs: 600,
        }
    );
    assert_eq!(
        c.watch,
        WatchConfig {
            file: PathBuf::from("/var/ossec/logs/archives/archives.json"),
            groups_include: vec!["sysmon".into(), "web".into()],
            groups_exclude: vec!["intelmatch".into()],
            rule_ids: vec!["5710".into(), "31101".into()],
            min_level: 5,
        }
    );

    let mut want_opencti = OpenCtiConfig::new(
        "https://opencti.example.org",
        Secret::env("INTELMATCH_FIXTURE_OPENCTI_TOKEN"),
    );
    want_opencti.http = HttpConfig {
        ca_file: Some(dir.join("ca.pem")),
        insecure: false,
        timeout_secs: 30,
        connect_timeout_secs: 5,
        retries: 2,
        retry_delay_ms: 250,
        max_response_bytes: 64 * 1024 * 1024,
    };
    want_opencti.page_size = 500;
    want_opencti.overlap_secs = 600;
    want_opencti.reconcile_interval_secs = 3600;
    want_opencti.min_score = Some(50);
    want_opencti.entity_types = vec!["Indicator".into(), "IPv4-Addr".into()];
    want_opencti.labels_include = vec!["c2".into()];
    want_opencti.labels_exclude = vec!["test".into()];
    want_opencti.markings_exclude = vec!["TLP:RED".into()];
    want_opencti.created_by = vec!["CERT-EU".into()];
    assert_eq!(opencti(&c, 0), &want_opencti);

    let mut want_misp = MispConfig::new(
        "https://misp.example.org",
        Secret::file(dir.join("secrets/misp.key")),
    );
    want_misp.http = HttpConfig {
        ca_file: Some(PathBuf::from("/etc/intelmatch/ca.pem")),
        insecure: false,
        timeout_secs: 90,
        connect_timeout_secs: 20,
        retries: 0,
        retry_delay_ms: HttpConfig::DEFAULT_RETRY_DELAY_MS,
        max_response_bytes: HttpConfig::DEFAULT_MAX_RESPONSE_BYTES,
    };
    want_misp.page_size = 2000;
    want_misp.overlap_secs = 60;
    want_misp.to_ids_only = false;
    want_misp.published_only = true;
    want_misp.types = vec!["ip-dst".into(), "domain".into()];
    want_misp.categories = vec!["Network activity".into()];
    want_misp.tags_include = vec!["tlp:green".into()];
    want_misp.tags_exclude = vec!["tlp:red".into()];
    want_misp.min_decay_score = Some(12.5);
    want_misp.mirror_warninglists = false;
    assert_eq!(misp(&c, 1), &want_misp);

    assert_eq!(
        c.sources[2].settings,
        SourceSettings::Stix(StixConfig {
            path: dir.join("intel/bundles")
        })
    );
    assert_eq!(
        c.sources[3].settings,
        SourceSettings::MispFeed(MispFeedConfig {
            path: dir.join("intel/circl"),
            to_ids_only: false
        })
    );
    assert_eq!(
        c.sources[4].settings,
        SourceSettings::List(ListConfig {
            path: dir.join("intel/ips.csv"),
            kind: Some(matcher::Kind::Ipv4),
            column: Some(2),
            delimiter: ';',
            score: Some(70),
            labels: vec!["blocklist".into(), "scanner".into()],
        })
    );
    assert!(!c.sources[4].enabled);
    assert_eq!(
        c.source("circl").map(|s| s.settings.type_name()),
        Some("misp-feed")
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn relative_paths_do_not_depend_on_the_current_directory() {
    let text = "data_dir = \"data\"\n[[sources]]\nname = \"l\"\ntype = \"list\"\npath = \"../intel/x.txt\"\n";
    let c = Config::from_toml_str(text, Path::new("/srv/conf/intelmatch.toml")).unwrap();
    assert_eq!(c.data_dir, Path::new("/srv/conf/data"));
    match &c.sources[0].settings {
        SourceSettings::List(l) => assert_eq!(l.path, Path::new("/srv/conf/../intel/x.txt")),
        other => panic!("{other:?}"),
    }
    // A config named relatively resolves against the current directory at load time.
    let c = Config::from_toml_str(text, Path::new("conf/intelmatch.toml")).unwrap();
    assert_eq!(
        c.data_dir,
        std::env::current_dir().unwrap().join("conf/data")
    );
}

const OPENCTI: &str = "[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = \"env:T\"\n";
const MISP: &str = "[[sources]]\nname = \"misp\"\ntype = \"misp\"\nurl = \"https://misp.example.org\"\nkey = \"env:K\"\n";
const LIST: &str = "[[sources]]\nname = \"l\"\ntype = \"list\"\npath = \"/x\"\n";

#[test]
fn every_bad_key_or_value_is_named() {
    let cases: Vec<(String, &str)> = vec![
        ("bogus = 1".into(), "unknown key `bogus`; expected one of data_dir, wazuh, matching, extract, sync, watch, sources (line 1)"),
        ("data_dir = 5".into(), "data_dir: expected a string, got an integer (line 1)"),
        ("data_dir = \"\"".into(), "data_dir: must not be empty"),
        ("wazuh = \"/var/ossec\"".into(), "wazuh: expected a table, got a string"),
        ("[wazuh]\nhomee = \"/x\"".into(), "wazuh: unknown key `homee`; expected one of home, queue_socket, profile, log_file, misp_integration_key, hook_url (line 2)"),
        ("[wazuh]\nprofile = \"splunk\"".into(), "wazuh.profile: unknown profile `splunk` (expected one of: native, opencti, misp) (line 2)"),
        ("[wazuh]\nmisp_integration_key = \"yes\"".into(), "wazuh.misp_integration_key: expected true or false, got a string"),
        ("[wazuh]\nhook_url = \"ftp://cti.example.org\"".into(), "wazuh.hook_url: must be an http:// or https:// URL, not ftp://"),
        ("[wazuh]\nqueue_socket = []".into(), "wazuh.queue_socket: expected a string, got an array"),
        ("[matching]\nmin_score = 101".into(), "matching.min_score: must be between 0 and 100, got 101"),
        ("[matching]\nmin_prefix_ipv4 = 0".into(), "matching.min_prefix_ipv4: must be between 1 and 32, got 0"),
        ("[matching]\nwarninglist_min_prefix_ipv6 = 129".into(), "matching.warninglist_min_prefix_ipv6: must be between 1 and 128, got 129"),
        ("[matching]\nmax_substring_patterns = -1".into(), "matching.max_substring_patterns: must be between 0 and 1000000, got -1"),
        ("[matching]\nmin_score = \"high\"".into(), "matching.min_score: expected an integer, got a string"),
        ("[matching]\nmax_events_per_alert = 0".into(), "matching.max_events_per_alert: must be at least 1, got 0"),
        ("[matching]\ninclude_revoked = 1".into(), "matching.include_revoked: expected true or false, got an integer"),
        ("[matching]\nwarninglist_dirs = \"/d\"".into(), "matching.warninglist_dirs: expected an array, got a string"),
        ("[matching]\nwarninglist_dirs = [\"/d\", 1]".into(), "matching.warninglist_dirs[1]: expected a string, got an integer"),
        ("[matching]\nmin_scor = 1".into(), "matching: unknown key `min_scor`; expected one of min_score,"),
        ("[matching]\nmin_score = 1.5".into(), "matching.min_score: expected an integer, got a float"),
        ("[matching]\nweak_kinds = [\"filename\", \"path\"]".into(), "matching.weak_kinds[1]: expected one of ipv4,"),
        ("[matching]\nweak_kinds = \"filename\"".into(), "matching.weak_kinds: expected an array, got a string"),
        ("[matching]\nobservables = \"all\"".into(), "matching.observables: expected one of ignore, report, got `all`"),
        ("[extract]\nextra_paths = [{ path = \"data.x\", kind = \"ip5\" }]".into(), "extract.extra_paths[0].kind: expected one of ipv4, ipv6, domain, url, email, md5, sha1, sha256, sha512, imphash, hash, filename, regkey, user_agent, mutex, got `ip5`"),
        ("[extract]\nextra_paths = [{ kind = \"ipv4\" }]".into(), "extract.extra_paths[0].path: missing; the dotted alert field to read"),
        ("[extract]\nextra_paths = [{ path = \"data.x\", knd = \"ipv4\" }]".into(), "extract.extra_paths[0]: unknown key `knd`; expected one of path, kind"),
        ("[extract]\nextra_paths = [{ path = \"data..x\" }]".into(), "extract.extra_paths[0].path: `data..x` is not a dotted field path"),
        ("[extract]\nextra_paths = [\"data.x\"]".into(), "extract.extra_paths[0]: expected a table, got a string"),
        ("[extract]\nmax_candidates = 0".into(), "extract.max_candidates: must be at least 1, got 0"),
        ("[sync]\nschedule = \"every night\"".into(), "sync.schedule: invalid cron expression"),
        ("[sync]\ngenerations_keep = 0".into(), "sync.generations_keep: must be between 1 and 1000, got 0"),
        ("[sync]\njitter_secs = -1".into(), "sync.jitter_secs: must be at least 0, got -1"),
        ("[sync]\ncron = \"@daily\"".into(), "sync: unknown key `cron`; expected one of schedule, jitter_secs, generations_keep, generation_grace_secs"),
        ("[watch]\nmin_level = 17".into(), "watch.min_level: must be between 0 and 16, got 17"),
        ("[watch]\nrule_ids = [true]".into(), "watch.rule_ids[0]: expected a string or an integer, got a boolean"),
        ("[watch]\ngroups_include = [\"\"]".into(), "watch.groups_include[0]: must not be empty"),
        ("sources = \"opencti\"".into(), "sources: expected an array, got a string"),
        ("[[sources]]\ntype = \"stix\"\npath = \"/x\"".into(), "sources[0]: name: missing; every source needs a unique name (line 1)"),
        ("[[sources]]\nname = \"my feed\"\ntype = \"stix\"\npath = \"/x\"".into(), "sources[0]: name: `my feed` contains ' '; use only letters, digits"),
        (format!("{LIST}{LIST}"), "sources[1] (l): name: `l` is already the name of sources[0] (line 6)"),
        ("[[sources]]\nname = \"a\"\npath = \"/x\"".into(), "sources[0] (a): type: missing; one of opencti, misp, stix, misp-feed, list"),
        ("[[sources]]\nname = \"a\"\ntype = \"taxii\"".into(), "sources[0] (a): type: expected one of opencti, misp, stix, misp-feed, list, got `taxii`"),
        (format!("{OPENCTI}page_size = 0"), "sources[0] (o): page_size: must be between 1 and 5000, got 0 (line 6)"),
        (format!("{OPENCTI}page_size = 5001"), "sources[0] (o): page_size: must be between 1 and 5000, got 5001"),
        (format!("{OPENCTI}page_size = 99999999999999999999"), "sources[0] (o): page_size: must be between 1 and 5000, got 99999999999999999999"),
        (format!("{OPENCTI}tokn = \"x\""), "sources[0] (o): unknown key `tokn`; expected one of name, type, url, token, ca_file, insecure, timeout_secs, connect_timeout_secs, retries, retry_delay_ms, max_response_bytes, page_size, overlap_secs, reconcile_interval_secs, min_score, entity_types, labels_include, labels_exclude, markings_exclude, created_by, enabled (line 6)"),
        (format!("{OPENCTI}timeout_secs = 0"), "sources[0] (o): timeout_secs: must be between 1 and 86400, got 0"),
        (format!("{OPENCTI}insecure = \"true\""), "sources[0] (o): insecure: expected true or false, got a string"),
        (format!("{OPENCTI}min_score = -1"), "sources[0] (o): min_score: must be between 0 and 100, got -1"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"opencti.example.org\"\ntoken = \"env:T\"".into(), "sources[0] (o): url: not a valid URL (relative URL without a base) (line 4)"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"file:///etc/passwd\"\ntoken = \"env:T\"".into(), "sources[0] (o): url: must be an http:// or https:// URL, not file://"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org/?x=1\"\ntoken = \"env:T\"".into(), "sources[0] (o): url: must be a base URL, without ?query or #fragment"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\ntoken = \"env:T\"".into(), "sources[0] (o): url: missing; the OpenCTI base URL"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"".into(), "sources[0] (o): token: missing; write env:NAME or file:PATH"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = \"env:\"".into(), "sources[0] (o): token: `env:` must be followed by a variable name"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = \"file:\"".into(), "sources[0] (o): token: `file:` must be followed by a path"),
        ("[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = 42".into(), "sources[0] (o): token: expected a string, got an integer"),
        (MISP.replace("misp.example.org", "misp.example.org:99999"), "sources[0] (misp): url: not a valid URL (invalid port number)"),
        (format!("{MISP}kye = \"x\""), "sources[0] (misp): unknown key `kye`; expected one of name, type, url, key, ca_file,"),
        (format!("{MISP}token = \"env:T\""), "sources[0] (misp): unknown key `token`"),
        (format!("{MISP}page_size = 0"), "sources[0] (misp): page_size: must be between 1 and 50000, got 0"),
        (format!("{MISP}min_decay_score = 101"), "sources[0] (misp): min_decay_score: must be a number between 0 and 100"),
        (format!("{MISP}types = \"ip-dst\""), "sources[0] (misp): types: expected an array, got a string"),
        (format!("{MISP}retries = 101"), "sources[0] (misp): retries: must be between 0 and 100, got 101"),
        ("[[sources]]\nname = \"s\"\ntype = \"stix\"".into(), "sources[0] (s): path: missing; the bundle file or directory"),
        ("[[sources]]\nname = \"s\"\ntype = \"stix\"\npath = \"\"".into(), "sources[0] (s): path: must not be empty"),
        ("[[sources]]\nname = \"s\"\ntype = \"stix\"\npath = \"/x\"\nurl = \"https://x.org\"".into(), "sources[0] (s): unknown key `url`; expected one of name, type, path, enabled"),
        ("[[sources]]\nname = \"s\"\ntype = \"stix\"\npath = \"/x\"\nenabled = \"no\"".into(), "sources[0] (s): enabled: expected true or false, got a string"),
        ("[[sources]]\nname = \"f\"\ntype = \"misp-feed\"\npath = \"/x\"\nto_ids = true".into(), "sources[0] (f): unknown key `to_ids`; expected one of name, type, path, to_ids_only, enabled"),
        (format!("{LIST}kind = \"ip\""), "sources[0] (l): kind: expected one of ipv4, ipv6,"),
        (format!("{LIST}column = 0"), "sources[0] (l): column: must be between 1 and 10000, got 0"),
        (format!("{LIST}delimiter = \";;\""), "sources[0] (l): delimiter: must be a single character, got `;;`"),
        (format!("{LIST}score = 101"), "sources[0] (l): score: must be between 0 and 100, got 101"),
        (format!("{LIST}labels = [\"a\", 2]"), "sources[0] (l): labels[1]: expected a string, got an integer"),
        ("[[sources]]\nname = \"l\"\ntype = \"list\"\npath = \"/x\"\nkind = \"ipv4\"\nkindd = 1\ncolum = 2".into(), "sources[0] (l): unknown key `kindd`; expected one of name, type, path, kind, column, delimiter, score, labels, enabled (also unknown: colum) (line 6)"),
        ("[matching]\nmin_score = = 3".into(), "TOML syntax error at line 2, column 13"),
        ("[matching]\nmin_score = 1\nmin_score = 2".into(), "TOML syntax error at line 3, column 1: duplicate key"),
        ("[matching]\n[matching]".into(), "TOML syntax error at line 2"),
    ];
    assert!(cases.len() >= 25);
    let prefix = format!("config {ORIGIN}: ");
    for (text, want) in &cases {
        let got = error(text);
        assert!(got.starts_with(&prefix), "{got}");
        assert!(!got.contains('\n'), "not one line: {got:?}");
        assert!(
            got[prefix.len()..].starts_with(want),
            "for\n{text}\nwant: {prefix}{want}\ngot:  {got}"
        );
    }
}

#[test]
fn errors_in_the_briefs_shape() {
    let text = format!("{OPENCTI}\n{MISP}kye = \"x\"\n");
    let err = parse(&text).unwrap_err();
    assert_eq!(err.key(), Some("sources[1] (misp)"));
    assert_eq!(err.line(), Some(12));
    assert_eq!(
        err.to_string(),
        "config /etc/intelmatch/intelmatch.toml: sources[1] (misp): unknown key `kye`; \
         expected one of name, type, url, key, ca_file, insecure, timeout_secs, \
         connect_timeout_secs, retries, retry_delay_ms, max_response_bytes, page_size, \
         overlap_secs, to_ids_only, published_only, types, categories, tags_include, \
         tags_exclude, min_decay_score, mirror_warninglists, enabled (line 12)"
    );

    let err = parse("# x\n[matching]\nwarninglists = \"maybe\"\n").unwrap_err();
    assert_eq!(err.key(), Some("matching.warninglists"));
    assert_eq!(
        err.to_string(),
        "config /etc/intelmatch/intelmatch.toml: matching.warninglists: expected one of \
         suppress, annotate, off, got `maybe` (line 3)"
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = Config::load(&fixture("syntax-error.toml")).unwrap_err();
    assert_eq!(err.line(), Some(4));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "config {}: TOML syntax error at line 4, column 13: ",
            fixture("syntax-error.toml").display()
        )),
        "{text}"
    );
    assert!(!text.contains('\n'));
}

#[test]
fn secrets_env_file_and_literal() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("misp.key");
    std::fs::write(&token, "misp-key-from-file\n").unwrap();
    let text = format!(
        "{OPENCTI}\n[[sources]]\nname = \"m\"\ntype = \"misp\"\nurl = \"https://misp.example.org\"\nkey = \"file:misp.key\"\n\
         [[sources]]\nname = \"m2\"\ntype = \"misp\"\nurl = \"http://misp2.example.org\"\nkey = \"literal-key-in-config\"\n"
    );
    let c = Config::from_toml_str(&text, &dir.path().join("intelmatch.toml")).unwrap();
    assert_eq!(opencti(&c, 0).token.env_name(), Some("T"));
    let file_secret = &misp(&c, 1).key;
    assert_eq!(file_secret.file_path(), Some(token.as_path()));
    assert_eq!(
        file_secret.resolve().unwrap().expose(),
        "misp-key-from-file"
    );
    let literal = &misp(&c, 2).key;
    assert!(literal.is_literal());
    assert_eq!(literal.resolve().unwrap().expose(), "literal-key-in-config");

    assert_eq!(
        c.warnings(),
        [
            "sources[2] (m2): url: plain http sends the secret unencrypted; use https",
            "sources[2] (m2): key: the secret is written in the config file; prefer env:NAME or file:PATH",
        ]
    );

    let _env = ENV_LOCK.lock().unwrap();
    std::env::set_var("INTELMATCH_TEST_TOKEN_A", "token-from-env");
    let c = parse(&OPENCTI.replace("env:T", "env:INTELMATCH_TEST_TOKEN_A")).unwrap();
    assert_eq!(
        opencti(&c, 0).token.resolve().unwrap().expose(),
        "token-from-env"
    );
    std::env::remove_var("INTELMATCH_TEST_TOKEN_A");
}

#[test]
fn missing_env_var_error_names_only_the_variable() {
    let c = parse(&OPENCTI.replace("env:T", "env:INTELMATCH_TEST_NEVER_SET")).unwrap();
    let err = opencti(&c, 0).token.resolve().unwrap_err();
    assert!(
        matches!(err, SecretError::EnvMissing { ref name } if name == "INTELMATCH_TEST_NEVER_SET")
    );
    assert_eq!(
        err.to_string(),
        "secret env:INTELMATCH_TEST_NEVER_SET: environment variable INTELMATCH_TEST_NEVER_SET is not set"
    );
}

#[test]
fn loading_never_reads_secret_files() {
    // Root reads any file whatever its mode, so "unreadable" is played by a
    // path that does not exist and by a directory.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = \"file:/nonexistent/opencti.token\"\n\
         [[sources]]\nname = \"m\"\ntype = \"misp\"\nurl = \"https://misp.example.org\"\nkey = \"file:{}\"\n",
        dir.path().display()
    );
    let c = parse(&text).expect("load must not touch secret files");
    let err = opencti(&c, 0).token.resolve().unwrap_err().to_string();
    assert!(
        err.starts_with("secret file:/nonexistent/opencti.token: cannot read it: "),
        "{err}"
    );
    let err = misp(&c, 1).key.resolve().unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn secrets_never_show() {
    const ENV_VALUE: &str = "s3cr3t-from-environment";
    const LITERAL: &str = "s3cr3t-literal-in-config";
    let _env = ENV_LOCK.lock().unwrap();
    std::env::set_var("INTELMATCH_TEST_SECRET_B", ENV_VALUE);
    let text = format!(
        "[[sources]]\nname = \"o\"\ntype = \"opencti\"\nurl = \"https://cti.example.org\"\ntoken = \"env:INTELMATCH_TEST_SECRET_B\"\n\
         [[sources]]\nname = \"m\"\ntype = \"misp\"\nurl = \"https://misp.example.org\"\nkey = \"{LITERAL}\"\n"
    );
    let c = parse(&text).unwrap();
    // The values are really there to be leaked...
    let env_value = opencti(&c, 0).token.resolve().unwrap();
    let literal_value = misp(&c, 1).key.resolve().unwrap();
    assert_eq!(env_value.expose(), ENV_VALUE);
    assert_eq!(literal_value.expose(), LITERAL);

    // ...and appear in none of the ways a config or an error gets printed.
    let out = crate::logging::tests::Captured::default();
    tracing::dispatcher::with_default(&crate::logging::tests::capture_all(&out), || {
        tracing::info!(config = ?c, "loaded");
        tracing::debug!(token = ?env_value, key = ?literal_value, "resolved");
        c.log_warnings();
    });
    let bad = parse(&format!("{text}bogus = 1\n")).unwrap_err();
    let shown = [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{env_value:?} {literal_value:?}"),
        c.render_effective(),
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&c.sources).unwrap(),
        c.warnings().join("\n"),
        out.text(),
        bad.to_string(),
        format!("{bad:?}"),
        Secret::env("INTELMATCH_TEST_SECRET_B").to_string(),
    ];
    for text in &shown {
        assert!(
            !text.contains(ENV_VALUE) && !text.contains(LITERAL),
            "leak: {text}"
        );
    }
    assert!(
        out.text().contains("Secret(<literal masked>)"),
        "{}",
        out.text()
    );
    assert!(out
        .text()
        .contains("Secret(env:INTELMATCH_TEST_SECRET_B (masked))"));
    std::env::remove_var("INTELMATCH_TEST_SECRET_B");
}

#[test]
fn effective_config_masks_secrets_and_round_trips() {
    let c = Config::load(&fixture("full.toml")).unwrap();
    let rendered = c.render_effective();
    for section in [
        "[wazuh]",
        "[matching]",
        "[extract]",
        "[sync]",
        "[watch]",
        "[[sources]]",
    ] {
        assert!(rendered.contains(section), "{section} missing:\n{rendered}");
    }
    assert!(
        rendered.contains("\"env:INTELMATCH_FIXTURE_OPENCTI_TOKEN (masked)\""),
        "{rendered}"
    );
    let key_file = fixture("secrets/misp.key");
    assert!(
        rendered.contains(&format!("\"file:{} (masked)\"", key_file.display())),
        "{rendered}"
    );
    assert!(rendered.starts_with("# Effective configuration read from "));

    let unmasked = rendered.replace(" (masked)", "");
    let again = Config::from_toml_str(&unmasked, c.origin()).unwrap();
    assert_eq!(again, c, "re-parsed:\n{rendered}");

    // Defaults are written out, and unset keys are named.
    let d = parse(LIST).unwrap();
    let rendered = d.render_effective();
    assert!(rendered.contains("max_events_per_alert = 10"), "{rendered}");
    assert!(
        rendered.contains("queue_socket = \"/var/ossec/queue/sockets/queue\""),
        "{rendered}"
    );
    assert!(rendered.contains("delimiter = \",\""), "{rendered}");
    assert!(rendered.contains("# unset: wazuh.profile"), "{rendered}");
    assert!(rendered.contains("# unset: sync.schedule"), "{rendered}");
    let again = Config::from_toml_str(&rendered, d.origin()).unwrap();
    assert_eq!(again, d);

    // Literals are masked and, re-parsed, stay masked.
    let l = parse(&MISP.replace("env:K", "plain-literal-key")).unwrap();
    let rendered = l.render_effective();
    assert!(
        rendered.contains("key = \"<literal masked>\""),
        "{rendered}"
    );
    assert!(!rendered.contains("plain-literal-key"));
}

#[test]
fn discovery_order() {
    let full = fixture("full.toml");
    let contract = fixture("contract.toml");
    let (path, c) = Config::discover_from(Some(&full), Some(contract.as_os_str())).unwrap();
    assert_eq!(path, full, "explicit wins over the environment");
    assert_eq!(c.origin(), full);
    let (path, _) = Config::discover_from(None, Some(contract.as_os_str())).unwrap();
    assert_eq!(path, contract);

    let err = Config::discover_from(None, Some("/nonexistent/im.toml".as_ref())).unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        "config /nonexistent/im.toml: file not found (named by $INTELMATCH_CONFIG)"
    );
    let err = Config::discover_from(Some(Path::new("/nonexistent/x.toml")), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config /nonexistent/x.toml: file not found"
    );

    // An empty variable counts as unset: the default path is used.
    if !Path::new(DEFAULT_CONFIG_PATH).exists() {
        let err = Config::discover_from(None, Some("".as_ref())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config /etc/intelmatch/intelmatch.toml: file not found; create it (see the README's \
             Configuration section), or pass --config FILE, or set INTELMATCH_CONFIG"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let err = Config::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains(": cannot read it ("), "{err}");
}

#[test]
fn intelmatch_config_variable_is_read() {
    let _env = ENV_LOCK.lock().unwrap();
    let contract = fixture("contract.toml");
    std::env::set_var(CONFIG_ENV, &contract);
    let found = Config::discover(None);
    let explicit = Config::discover(Some(&fixture("full.toml")));
    std::env::remove_var(CONFIG_ENV);
    let (path, c) = found.unwrap();
    assert_eq!(path, contract);
    assert_eq!(c.sources.len(), 3);
    assert_eq!(explicit.unwrap().0, fixture("full.toml"));
}

#[test]
fn insecure_tls_is_warned_about() {
    let c = parse(&format!("{OPENCTI}insecure = true\n")).unwrap();
    assert!(opencti(&c, 0).http.insecure);
    assert_eq!(
        c.warnings(),
        ["sources[0] (o): insecure: TLS certificates are not verified"]
    );
}

#[test]
fn values_are_normalised() {
    let text = format!(
        "{}\n[watch]\nrule_ids = [0x10]\n[[sources]]\nname = \"t\"\ntype = \"list\"\npath = \"/x\"\ndelimiter = \"\\t\"\nkind = \"user_agent\"\n",
        OPENCTI.replace("https://cti.example.org", "HTTPS://CTI.Example.ORG:443/")
    );
    let c = parse(&text).unwrap();
    assert_eq!(opencti(&c, 0).url, "https://cti.example.org");
    assert_eq!(c.watch.rule_ids, ["16"]);
    match &c.sources[1].settings {
        SourceSettings::List(l) => {
            assert_eq!(l.delimiter, '\t');
            assert_eq!(l.kind, Some(matcher::Kind::UserAgent));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn group_or_world_readable_config_with_a_literal_secret_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intelmatch.toml");
    std::fs::write(&path, MISP.replace("env:K", "literal-key")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.warnings().len(), 2, "{:?}", c.warnings());
    assert!(c.warnings()[1].contains("readable by group or others (mode 0644)"));
    // 0640 root:wazuh is how integrate reads it: the wazuh group sees the secret.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let c = Config::load(&path).unwrap();
    assert!(
        c.warnings()[1].contains("(mode 0640)"),
        "{:?}",
        c.warnings()
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(Config::load(&path).unwrap().warnings().len(), 1);
}
