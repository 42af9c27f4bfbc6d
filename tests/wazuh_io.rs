//! integratord argv shapes, reply locations and the queue socket, against the
//! documented 4.x behaviour (reference/wazuh.md §2.5, §3) and a real datagram socket.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use intelmatch::wazuh::argv::IntegrateArgs;
use intelmatch::wazuh::extract::parse_alert;
use intelmatch::wazuh::location::{escape, message, reply_location};
use intelmatch::wazuh::sender::{encode, QueueError, QueueSender, MAX_DATAGRAM};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------
// argv

/// The manager versions whose argv shapes differ (§2.5 table).
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// ≤ 4.6: `"%s %s %s %s %s"`, the redirect (with its leading space) in the
    /// debug slot, split into at most 5 parts.
    Upto46,
    /// 4.7: options file added, redirect appended, at most 7 parts.
    V47,
    /// ≥ 4.8: timeout and retries added, at most 9 parts.
    From48,
}

fn shape_of(version: &str) -> Shape {
    let minor: u32 = version.trim_start_matches("4.").parse().unwrap();
    match minor {
        0..=6 => Shape::Upto46,
        7 => Shape::V47,
        _ => Shape::From48,
    }
}

/// argv[1..] exactly as integratord builds it: one string split at *every* space
/// into at most N parts, the last keeping the rest (`OS_StrBreak`), no shell.
fn integratord_argv(
    shape: Shape,
    alert: &str,
    key: &str,
    hook: &str,
    debug: bool,
    options: &str,
) -> Vec<String> {
    let redirect = " > /dev/null 2>&1";
    let (cmd, parts) = match shape {
        Shape::Upto46 => {
            let dbg = if debug { "debug" } else { redirect };
            (format!("integrations {alert} {key} {hook} {dbg}"), 5)
        }
        Shape::V47 => {
            let dbg = if debug { "debug" } else { "" };
            let tail = if debug { "" } else { redirect };
            (
                format!("integrations {alert} {key} {hook} {dbg} {options}{tail}"),
                7,
            )
        }
        Shape::From48 => {
            let dbg = if debug { "debug" } else { "" };
            let tail = if debug { "" } else { redirect };
            (
                format!("integrations {alert} {key} {hook} {dbg} {options} 10 3{tail}"),
                9,
            )
        }
    };
    let argv: Vec<String> = cmd.splitn(parts, ' ').map(str::to_string).collect();
    assert_eq!(argv[0], "integrations");
    argv[1..].to_vec()
}

#[test]
fn argv_of_every_manager_version() {
    let alert = "/tmp/custom-intelmatch-1715680932-1804289383.alert";
    let options = "/tmp/custom-intelmatch-1715680932-1804289383.options";
    for minor in 3..=14 {
        let version = format!("4.{minor}");
        let shape = shape_of(&version);
        for debug in [false, true] {
            for (key, hook) in [("", ""), ("k3y", "https://hook.example/x")] {
                let argv = integratord_argv(shape, alert, key, hook, debug, options);
                let a = IntegrateArgs::parse(&argv);
                let what = format!("{version} debug={debug} key={key:?}: {argv:?}");
                assert_eq!(a.alert_file.as_deref(), Some(Path::new(alert)), "{what}");
                assert_eq!(
                    a.api_key.as_deref(),
                    (!key.is_empty()).then_some(key),
                    "{what}"
                );
                assert_eq!(
                    a.hook_url.as_deref(),
                    (!hook.is_empty()).then_some(hook),
                    "{what}"
                );
                assert_eq!(a.debug, debug, "{what}");
                match shape {
                    Shape::Upto46 => {
                        assert_eq!(a.options_file, None, "{what}");
                        assert_eq!((a.timeout, a.retries), (None, None), "{what}");
                    }
                    Shape::V47 => {
                        assert_eq!(
                            a.options_file.as_deref(),
                            Some(Path::new(options)),
                            "{what}"
                        );
                        assert_eq!((a.timeout, a.retries), (None, None), "{what}");
                    }
                    Shape::From48 => {
                        assert_eq!(
                            a.options_file.as_deref(),
                            Some(Path::new(options)),
                            "{what}"
                        );
                        assert_eq!((a.timeout, a.retries), (Some(10), Some(3)), "{what}");
                    }
                }
            }
        }
        // No <options> block: the options slot is "".
        let argv = integratord_argv(shape, alert, "", "", false, "");
        let a = IntegrateArgs::parse(&argv);
        assert_eq!(a.options_file, None, "{version}: {argv:?}");
        if let Shape::From48 = shape {
            assert_eq!(
                (a.timeout, a.retries),
                (Some(10), Some(3)),
                "{version}: {argv:?}"
            );
        }
    }
}

#[test]
fn argv_literal_shapes() {
    // 4.14, debug off, no options: the redirect arrives as one argument.
    let a = IntegrateArgs::parse([
        "/tmp/a.alert",
        "",
        "",
        "",
        "",
        "10",
        "3",
        "> /dev/null 2>&1",
    ]);
    assert_eq!(a.alert_file, Some(PathBuf::from("/tmp/a.alert")));
    assert_eq!(
        (a.api_key.clone(), a.hook_url.clone(), a.debug),
        (None, None, false)
    );
    assert_eq!(
        (a.options_file.clone(), a.timeout, a.retries),
        (None, Some(10), Some(3))
    );
    // The redirect split into words.
    let a = IntegrateArgs::parse([
        "/tmp/a.alert",
        "",
        "",
        "",
        "/tmp/x.options",
        ">",
        "/dev/null",
        "2>&1",
    ]);
    assert_eq!(a.options_file, Some(PathBuf::from("/tmp/x.options")));
    assert_eq!((a.timeout, a.retries), (None, None));
    // By hand: just the alert file, or the documented `"" "" debug`.
    let a = IntegrateArgs::parse(["/tmp/a.alert"]);
    assert_eq!(
        a,
        IntegrateArgs {
            alert_file: Some("/tmp/a.alert".into()),
            ..Default::default()
        }
    );
    let a = IntegrateArgs::parse(["/tmp/a.alert", "", "", "debug"]);
    assert!(a.debug && a.api_key.is_none() && a.options_file.is_none());
    // Nothing at all, or an empty alert path.
    assert_eq!(
        IntegrateArgs::parse(Vec::<String>::new()),
        IntegrateArgs::default()
    );
    assert_eq!(IntegrateArgs::parse([""]).alert_file, None);
    // Junk everywhere after the alert file.
    let a = IntegrateArgs::parse([
        "/tmp/a.alert",
        ">",
        "2>&1",
        "nonsense",
        "ten",
        "-1",
        "99999999999999999999999",
        "x",
        "y",
        "z",
    ]);
    assert_eq!(a.alert_file, Some(PathBuf::from("/tmp/a.alert")));
    assert_eq!((a.api_key.clone(), a.hook_url.clone()), (None, None));
    assert!(!a.debug);
    assert_eq!((a.timeout, a.retries), (None, None));
    // An api_key with a space shifts everything; the options file is still found.
    let a = IntegrateArgs::parse([
        "/tmp/a.alert",
        "two",
        "words",
        "https://hook",
        "",
        "/tmp/x.options",
        "10",
        "3",
    ]);
    assert_eq!(a.options_file, Some(PathBuf::from("/tmp/x.options")));
    assert_eq!((a.timeout, a.retries), (Some(10), Some(3)));
    // Non-UTF-8 arguments are taken lossily, not refused.
    use std::os::unix::ffi::OsStringExt;
    let raw = std::ffi::OsString::from_vec(b"/tmp/\xff.alert".to_vec());
    assert!(IntegrateArgs::parse([raw]).alert_file.is_some());
}

// ---------------------------------------------------------------------------------
// locations

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name);
    parse_alert(&std::fs::read(path).unwrap())
        .unwrap()
        .to_value()
}

/// analysisd's side (`OS_CleanMSG`): skip `1:`, split at the first `:` not escaped
/// by `|`, unescape `||` → `|` and `|x` → `x`.
fn analysisd_split(datagram: &str) -> (String, &str) {
    let b = datagram.as_bytes();
    assert!(datagram.starts_with("1:"));
    let mut loc = Vec::new();
    let mut i = 2;
    while i < b.len() {
        match b[i] {
            b'|' if i + 1 < b.len() => {
                loc.push(b[i + 1]);
                i += 2;
            }
            b':' => return (String::from_utf8(loc).unwrap(), &datagram[i + 1..]),
            c => {
                loc.push(c);
                i += 1;
            }
        }
    }
    panic!("no separator in {datagram}");
}

#[test]
fn reply_locations_of_the_sample_agents() {
    // The README's table (tag intelmatch).
    let table = [
        (
            "sysmon-eid1-process-create.json",
            "[001] (WS-FIN-042) 10.20.30.42->intelmatch",
        ),
        (
            "sysmon-eid6-driver.json",
            "[002] (SRV-APP-07) 10.20.40.7->intelmatch",
        ),
        (
            "sshd-auth-failed.json",
            "[003] (ubuntu-web01) 10.20.50.11->intelmatch",
        ),
        (
            "auditd-execve-url.json",
            "[004] (lnx-build02) 10.20.50.12->intelmatch",
        ),
        (
            "suricata-alert-http.json",
            "[005] (nids-sensor01) 10.20.60.5->intelmatch",
        ),
        (
            "firewall-multiple-drops.json",
            "[006] (fw-edge01) 10.20.1.1->intelmatch",
        ),
        (
            "agent-ipv6-colon-name.json",
            "[007] (db|:replica-02) 2001|:db8|:100|:|:25->intelmatch",
        ),
        ("manager-sshd-invalid-user.json", "intelmatch"),
        ("office365-sts-logon.json", "intelmatch"),
        ("aws-guardduty.json", "intelmatch"),
    ];
    for (file, want) in table {
        assert_eq!(reply_location(&fixture(file), "intelmatch"), want, "{file}");
    }
    // The full datagram of the README example, and what analysisd makes of it.
    let payload = r#"{"integration":"intelmatch","intelmatch":{}}"#;
    let d = message(
        &reply_location(&fixture("agent-ipv6-colon-name.json"), "intelmatch"),
        payload,
    );
    assert_eq!(
        d,
        format!("1:[007] (db|:replica-02) 2001|:db8|:100|:|:25->intelmatch:{payload}")
    );
    let (loc, json) = analysisd_split(&d);
    assert_eq!(loc, "[007] (db:replica-02) 2001:db8:100::25->intelmatch");
    assert_eq!(json, payload);
}

#[test]
fn escaping_round_trips_through_analysisd() {
    for s in ["a:b", "a|b", "|:", "::1", "x||:y:|", "plain", "é:ü|"] {
        let d = message(&escape(s), "{\"a\":1}");
        let (loc, json) = analysisd_split(&d);
        assert_eq!(loc, s);
        assert_eq!(json, "{\"a\":1}");
    }
}

// ---------------------------------------------------------------------------------
// queue socket

fn bound_queue(home: &Path) -> UnixDatagram {
    let dir = home.join("queue/sockets");
    std::fs::create_dir_all(&dir).unwrap();
    let rx = UnixDatagram::bind(dir.join("queue")).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rx
}

fn recv(rx: &UnixDatagram) -> String {
    let mut buf = vec![0u8; 256 * 1024];
    let n = rx.recv(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn sends_one_decodable_datagram_per_event() {
    let home = tempfile::tempdir().unwrap();
    let rx = bound_queue(home.path());
    let tx = QueueSender::for_home(home.path());
    assert_eq!(tx.path(), home.path().join("queue/sockets/queue"));
    let location = reply_location(&fixture("agent-ipv6-colon-name.json"), "intelmatch");
    let event = json!({"integration": "intelmatch", "intelmatch": {"event_type": "ioc_match", "match": {"value": "exfil.example.org"}}});
    let n = tx.send(&location, &event).unwrap();
    let d = recv(&rx);
    assert_eq!(d.len(), n);
    let (loc, payload) = analysisd_split(&d);
    assert_eq!(loc, "[007] (db:replica-02) 2001:db8:100::25->intelmatch");
    assert!(payload.starts_with("{\""));
    assert_eq!(serde_json::from_str::<Value>(payload).unwrap(), event);
}

#[test]
fn oversized_events_are_cut_to_fit_and_stay_valid() {
    let home = tempfile::tempdir().unwrap();
    let rx = bound_queue(home.path());
    let tx = QueueSender::for_home(home.path());
    let event = json!({"integration": "intelmatch", "intelmatch": {
        "event_type": "ioc_match",
        "indicator": {"name": "x", "description": "Ω".repeat(100_000)},
        "source_alert": {"full_log": "\"\\\n".repeat(70_000)}
    }});
    assert!(event.to_string().len() > 200_000);
    let n = tx.send("[001] (a) any->intelmatch", &event).unwrap();
    assert!(n <= MAX_DATAGRAM);
    let d = recv(&rx);
    assert_eq!(d.len(), n);
    let (_, payload) = analysisd_split(&d);
    assert!(payload.starts_with("{\""));
    let back: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(back["intelmatch"]["event_type"], "ioc_match");
    assert_eq!(back["intelmatch"]["indicator"]["name"], "x");
    assert!(back["intelmatch"]["indicator"]["description"]
        .as_str()
        .unwrap()
        .ends_with('…'));
    // encode() gives the same bytes without a socket.
    assert_eq!(encode("[001] (a) any->intelmatch", &event).unwrap(), d);
}

#[test]
fn refused_and_missing_sockets_are_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("queue/sockets/queue");
    let event = json!({"integration": "intelmatch"});

    let missing = QueueSender::new(&path)
        .send("intelmatch", &event)
        .unwrap_err();
    assert!(matches!(missing, QueueError::Unavailable { .. }));
    assert_eq!(
        missing.to_string(),
        format!(
            "wazuh queue socket {}: no such socket (is wazuh-analysisd running?)",
            path.display()
        )
    );

    // A socket file nobody listens on any more: analysisd stopped.
    drop(bound_queue(home.path()));
    let refused = QueueSender::new(&path)
        .send("intelmatch", &event)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!(
            "wazuh queue socket {}: connection refused (is wazuh-analysisd running?)",
            path.display()
        )
    );
}

#[test]
fn a_full_queue_times_out_instead_of_hanging() {
    let home = tempfile::tempdir().unwrap();
    let _rx = bound_queue(home.path()); // never read
    let tx = QueueSender::for_home(home.path()).with_timeout(Duration::from_millis(50));
    let event = json!({"integration": "intelmatch", "pad": "x".repeat(60_000)});
    let mut result = Ok(0);
    for _ in 0..100_000 {
        result = tx.send("intelmatch", &event);
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(matches!(err, QueueError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[test]
fn payloads_that_cannot_be_decoded_are_never_sent() {
    let home = tempfile::tempdir().unwrap();
    let rx = bound_queue(home.path());
    rx.set_nonblocking(true).unwrap();
    let tx = QueueSender::for_home(home.path());
    for bad in [json!([]), json!({}), json!("x"), json!(null)] {
        assert!(matches!(
            tx.send("intelmatch", &bad),
            Err(QueueError::NotAnObject)
        ));
    }
    let mut buf = [0u8; 16];
    assert!(rx.recv(&mut buf).is_err(), "something was sent");
}
