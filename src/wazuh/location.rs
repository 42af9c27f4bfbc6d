//! The location part of a queue-socket message.
//!
//! analysisd splits `1:<location>:<payload>` at the first `:` not escaped by `|`,
//! then unescapes `||` → `|` and `|x` → `x`. A location `[<id>] (<name>) <ip>->tag`
//! makes the resulting alert carry the source agent; agent 000 (the manager) and
//! alerts without an agent use the bare tag.

use serde_json::Value;

/// The queue byte for messages from integrations (`LOCALFILE_MQ`).
pub const QUEUE_BYTE: char = '1';

/// Caps per component, far above what Wazuh allows (agent names ≤ 128), so that a
/// strange alert cannot exceed analysisd's location buffer (8192 + 256 bytes).
const MAX_ID: usize = 64;
const MAX_NAME: usize = 512;
const MAX_IP: usize = 64;

/// Escapes a location for the queue socket: `|` → `||`, `:` → `|:`. NUL, CR and LF
/// (which analysisd cannot carry) are dropped.
pub fn escape(location: &str) -> String {
    let mut out = String::with_capacity(location.len() + 8);
    for ch in location.chars() {
        match ch {
            '|' => out.push_str("||"),
            ':' => out.push_str("|:"),
            '\0' | '\r' | '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// The escaped location for a reply to `alert` under `tag`:
/// `[<agent.id>] (<agent.name>) <agent.ip or any>-><tag>`, or `<tag>` for agent 000
/// or no agent.
pub fn reply_location(alert: &Value, tag: &str) -> String {
    let agent = alert.get("agent");
    let field = |k: &str, max: usize| {
        agent
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(|s| cap(s.trim(), max))
            .filter(|s| !s.is_empty())
    };
    match field("id", MAX_ID) {
        Some(id) if id != "000" => {
            let name = field("name", MAX_NAME).unwrap_or("");
            let ip = field("ip", MAX_IP).unwrap_or("any");
            escape(&format!("[{id}] ({name}) {ip}->{tag}"))
        }
        _ => escape(tag),
    }
}

/// The whole datagram text: `1:<location>:<json>` (location already escaped).
pub fn message(location: &str, json: &str) -> String {
    let mut m = String::with_capacity(location.len() + json.len() + 3);
    m.push(QUEUE_BYTE);
    m.push(':');
    m.push_str(location);
    m.push(':');
    m.push_str(json);
    m
}

fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping() {
        assert_eq!(escape("a|b:c"), "a||b|:c");
        assert_eq!(escape("x\0y\r\n"), "xy");
        assert_eq!(escape("||::"), "|||||:|:");
    }

    #[test]
    fn agents() {
        let a = json!({"agent": {"id": "001", "name": "WS-FIN-042", "ip": "10.20.30.42"}});
        assert_eq!(
            reply_location(&a, "intelmatch"),
            "[001] (WS-FIN-042) 10.20.30.42->intelmatch"
        );
        let v6 = json!({"agent": {"id": "007", "name": "db:replica-02", "ip": "2001:db8:100::25"}});
        assert_eq!(
            reply_location(&v6, "intelmatch"),
            "[007] (db|:replica-02) 2001|:db8|:100|:|:25->intelmatch"
        );
        let mgr = json!({"agent": {"id": "000", "name": "wazuh-mgr01"}});
        assert_eq!(reply_location(&mgr, "opencti"), "opencti");
        let no_ip = json!({"agent": {"id": "012", "name": "x"}});
        assert_eq!(reply_location(&no_ip, "misp"), "[012] (x) any->misp");
        assert_eq!(reply_location(&json!({}), "intelmatch"), "intelmatch");
        assert_eq!(
            reply_location(&json!({"agent": {"id": 5}}), "intelmatch"),
            "intelmatch"
        );
        let long = json!({"agent": {"id": "001", "name": "é".repeat(5000), "ip": "1.2.3.4"}});
        assert!(reply_location(&long, "intelmatch").len() < 8192);
    }

    #[test]
    fn message_shape() {
        assert_eq!(message("intelmatch", "{\"a\":1}"), "1:intelmatch:{\"a\":1}");
    }
}
