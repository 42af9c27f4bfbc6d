//! A stand-in MISP server on 127.0.0.1 for the MISP source tests: a small
//! hand-written HTTP/1.1 server (one thread per connection, `Connection:
//! close`) over an in-memory world of events and attributes.
//!
//! It implements what the source relies on, as misp.md describes MISP 2.4/2.5:
//! `GET /servers/getVersion`; `POST /events/index` (minimal rows);
//! `POST /attributes/restSearch` with `eventid`, `to_ids`, `published`,
//! `deleted`, `timestamp`, `type`, `category`, `order`, `limit`/`page` and
//! `X-Result-Count` in either meaning (chosen per test); `POST
//! /warninglists/index` and `GET /warninglists/export/{id}`; 403 JSON errors
//! for a wrong key (the raw key in `Authorization`), a login redirect without
//! `Accept: application/json`, and a 400 for a POST without `Content-Type:
//! application/json` (MISP would ignore such a body's filters). Faults can be injected (an error after N restSearch
//! pages, rows dropped from a page as the admin allowedlist does, a refused
//! event index), and per request from `support/faults.rs` (queued or drawn
//! at random: 5xx, 429 with `Retry-After`, cut bodies, stalls), with an
//! optional delay before every answer, and redirects (a path answered with
//! a 3xx to a `Location`).
//!
//! A role's result limit (`result_limit_count`, MISP 2.5.x) can be played:
//! every restSearch is served at most `cap` rows whatever its `limit` (a
//! missing `limit` becomes the cap), with `X-Result-Count` counted at the
//! served size and the offset taken from it; in the refusing variant a
//! `limit` above the cap gets HTTP 400 and a MISP JSON error naming the cap
//! (the wording is the stand-in's: the reference gives none).
//!
//! Test data uses documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24) and `.example` names: they sit on warninglists, which do
//! not matter at this level (the store keeps them all).
#![allow(dead_code)]

#[path = "faults.rs"]
mod faults;

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

// Not every test uses every fault helper.
#[allow(unused_imports)]
pub use faults::{echo_body, gzip_zeros, Fault, RandomFaults};

pub const KEY: &str = "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7b";

/// A role's `result_limit_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleCap {
    pub cap: usize,
    /// Refuse a larger `limit` instead of serving the cap.
    pub refuse_larger: bool,
}

/// What `X-Result-Count` means (changed in 2.4.166).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMeaning {
    Total,
    PerPage,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub id: u64,
    pub uuid: String,
    pub kind: String,
    pub category: String,
    pub value: String,
    pub to_ids: bool,
    pub deleted: bool,
    pub timestamp: u64,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub uuid: String,
    pub info: String,
    pub org: String,
    pub threat_level_id: u8,
    pub published: bool,
    pub timestamp: u64,
    pub tags: Vec<String>,
    pub attrs: Vec<Attr>,
}

pub struct World {
    pub events: BTreeMap<u64, Event>,
    pub version: String,
    pub meaning: CountMeaning,
    pub key: String,
    pub clock: u64,
    next_event: u64,
    next_attr: u64,
    /// Refuse `/events/index` with this status.
    pub refuse_events_index: Option<u16>,
    /// Answer HTTP 500 to every restSearch after this many have succeeded.
    pub fail_search_after: Option<usize>,
    pub searches: usize,
    /// Drop this many rows from every full page (the admin allowedlist).
    pub allowedlist_drop: usize,
    /// Ignore `order` (an instance older than 2.4.179): rows in reverse id order.
    pub ignore_order: bool,
    /// (id, list JSON, enabled)
    pub warninglists: Vec<(u64, Value, bool)>,
    /// Every request: method, path, JSON body (or null), Authorization header.
    pub log: Vec<(String, String, Value)>,
    /// Time spent answering restSearch (benchmark: the stand-in's share).
    pub search_time: std::time::Duration,
    /// Served in order, one per request (any path); `None` answers normally.
    pub faults: VecDeque<Option<Fault>>,
    /// Drawn for each request once `faults` is empty.
    pub random_faults: Option<RandomFaults>,
    /// Requests answered with a fault: (path, fault).
    pub faulted: Vec<(String, Fault)>,
    /// Every answer waits this long.
    pub delay: Duration,
    /// The role's result limit, if any.
    pub role_cap: Option<RoleCap>,
    /// (path, status, Location): that path answers with this redirect.
    pub redirects: Vec<(String, u16, String)>,
}

impl World {
    fn new() -> World {
        World {
            events: BTreeMap::new(),
            version: "2.5.1".into(),
            meaning: CountMeaning::PerPage,
            key: KEY.into(),
            clock: 1_700_000_000,
            next_event: 1,
            next_attr: 1,
            refuse_events_index: None,
            fail_search_after: None,
            searches: 0,
            allowedlist_drop: 0,
            ignore_order: false,
            warninglists: Vec::new(),
            log: Vec::new(),
            search_time: std::time::Duration::ZERO,
            faults: VecDeque::new(),
            random_faults: None,
            faulted: Vec::new(),
            delay: Duration::ZERO,
            role_cap: None,
            redirects: Vec::new(),
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn add_event(&mut self, info: &str, published: bool) -> u64 {
        let id = self.next_event;
        self.next_event += 1;
        let ts = self.tick();
        self.events.insert(
            id,
            Event {
                id,
                uuid: format!("00000000-0000-4000-8000-{id:012}"),
                info: info.into(),
                org: "Test Org".into(),
                threat_level_id: 2,
                published,
                timestamp: ts,
                tags: vec!["tlp:green".into()],
                attrs: Vec::new(),
            },
        );
        id
    }

    /// Adds an attribute; returns its uuid.
    pub fn add_attr(&mut self, event: u64, kind: &str, value: &str, to_ids: bool) -> String {
        let id = self.next_attr;
        self.next_attr += 1;
        let ts = self.tick();
        let uuid = format!("aaaaaaaa-0000-4000-8000-{id:012}");
        let ev = self.events.get_mut(&event).expect("event exists");
        ev.attrs.push(Attr {
            id,
            uuid: uuid.clone(),
            kind: kind.into(),
            category: "Network activity".into(),
            value: value.into(),
            to_ids,
            deleted: false,
            timestamp: ts,
            tags: Vec::new(),
        });
        ev.timestamp = ts;
        ev.published = false;
        uuid
    }

    /// Edits an attribute as MISP does: attribute and event timestamps move,
    /// the event is unpublished.
    pub fn edit(&mut self, uuid: &str, f: impl FnOnce(&mut Attr)) {
        let ts = self.tick();
        for ev in self.events.values_mut() {
            if let Some(a) = ev.attrs.iter_mut().find(|a| a.uuid == uuid) {
                f(a);
                a.timestamp = ts;
                ev.timestamp = ts;
                ev.published = false;
                return;
            }
        }
        panic!("no attribute {uuid}");
    }

    pub fn soft_delete(&mut self, uuid: &str) {
        self.edit(uuid, |a| a.deleted = true);
    }

    /// A hard delete of one attribute: the row is gone, the event's timestamp moves.
    pub fn hard_delete_attr(&mut self, uuid: &str) {
        let ts = self.tick();
        for ev in self.events.values_mut() {
            let before = ev.attrs.len();
            ev.attrs.retain(|a| a.uuid != uuid);
            if ev.attrs.len() != before {
                ev.timestamp = ts;
                return;
            }
        }
        panic!("no attribute {uuid}");
    }

    pub fn delete_event(&mut self, id: u64) {
        self.events.remove(&id).expect("event exists");
    }

    pub fn publish(&mut self, id: u64) {
        self.events.get_mut(&id).unwrap().published = true;
    }

    pub fn unpublish(&mut self, id: u64) {
        let ts = self.tick();
        let ev = self.events.get_mut(&id).unwrap();
        ev.published = false;
        ev.timestamp = ts;
    }

    pub fn publish_all(&mut self) {
        for ev in self.events.values_mut() {
            ev.published = true;
        }
    }

    /// The uuids an exact mirror holds: live attributes of matchable types
    /// (the tests only use matchable types unless they say otherwise).
    pub fn expected(&self, to_ids_only: bool, published_only: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .events
            .values()
            .filter(|e| e.published || !published_only)
            .flat_map(|e| e.attrs.iter())
            .filter(|a| !a.deleted && (a.to_ids || !to_ids_only))
            .filter(|a| !matches!(a.kind.as_str(), "comment" | "yara" | "text"))
            .map(|a| a.uuid.clone())
            .collect();
        out.sort();
        out
    }

    /// Bodies of the restSearch requests seen.
    pub fn searches_sent(&self) -> Vec<Value> {
        self.log
            .iter()
            .filter(|(_, p, _)| p == "/attributes/restSearch")
            .map(|(_, _, b)| b.clone())
            .collect()
    }
}

pub struct MispServer {
    pub url: String,
    pub world: Arc<Mutex<World>>,
}

impl MispServer {
    pub fn start() -> MispServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let world = Arc::new(Mutex::new(World::new()));
        let w = Arc::clone(&world);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    let _ = serve(stream, &w);
                });
            }
        });
        MispServer { url, world }
    }

    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

struct Response {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn json_reply(status: u16, v: Value) -> Response {
    Response {
        status,
        body: v.to_string().into_bytes(),
        headers: Vec::new(),
    }
}

fn error(status: u16, message: &str, url: &str) -> Response {
    json_reply(
        status,
        json!({"name": message, "message": message, "url": url}),
    )
}

fn serve(stream: TcpStream, world: &Mutex<World>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    let mut received = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            received.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (resp, fault, delay) = {
        let mut w = world.lock().unwrap();
        w.log.push((method.clone(), path.clone(), body.clone()));
        let fault = match w.faults.pop_front() {
            Some(queued) => queued,
            None => w.random_faults.as_mut().and_then(RandomFaults::draw),
        };
        if let Some(f) = &fault {
            w.faulted.push((path.clone(), f.clone()));
        }
        let resp = match &fault {
            Some(Fault::Status(code)) => Response {
                status: *code,
                body: format!("<html><body><h1>{code}</h1></body></html>").into_bytes(),
                headers: Vec::new(),
            },
            Some(Fault::EchoAuth(code)) => Response {
                status: *code,
                body: faults::echo_body(*code, &received).into_bytes(),
                headers: Vec::new(),
            },
            Some(Fault::GzipBomb(size)) => Response {
                status: 200,
                body: faults::gzip_zeros(*size),
                headers: vec![("Content-Encoding".into(), "gzip".into())],
            },
            Some(Fault::RateLimited(secs)) => {
                let mut r = error(429, "Too many requests", &path);
                r.headers.push(("Retry-After".into(), secs.to_string()));
                r
            }
            _ => route(&mut w, &method, &path, &headers, &body),
        };
        (resp, fault, w.delay)
    };
    // The sleeps happen with the world unlocked.
    std::thread::sleep(delay);
    if let Some(Fault::Stall(d)) = fault {
        std::thread::sleep(d);
    }
    let reason = match resp.status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Other",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    let body = resp.body.as_slice();
    match fault {
        Some(Fault::Truncated) => {
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            return stream.shutdown(std::net::Shutdown::Both);
        }
        Some(Fault::StallBody(d)) => {
            stream.write_all(&body[..body.len() / 2])?;
            stream.flush()?;
            std::thread::sleep(d);
            stream.write_all(&body[body.len() / 2..])?;
        }
        _ => stream.write_all(body)?,
    }
    stream.flush()
}

fn route(
    w: &mut World,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &Value,
) -> Response {
    if headers.get("authorization").map(String::as_str) != Some(w.key.as_str()) {
        return error(
            403,
            "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.",
            path,
        );
    }
    if headers.get("accept").map(String::as_str) != Some("application/json") {
        return Response {
            status: 302,
            body: b"<html>login</html>".to_vec(),
            headers: vec![("Location".into(), "/users/login".into())],
        };
    }
    if let Some((_, status, to)) = w.redirects.iter().find(|(p, _, _)| p == path) {
        return Response {
            status: *status,
            body: b"<html>moved</html>".to_vec(),
            headers: vec![("Location".into(), to.clone())],
        };
    }
    // Without it MISP does not read the JSON body as filters: a restSearch
    // would silently ignore every filter, paging included.
    if method == "POST"
        && headers
            .get("content-type")
            .is_none_or(|c| !c.starts_with("application/json"))
    {
        return error(
            400,
            "stand-in: POST body without Content-Type: application/json",
            path,
        );
    }
    // Routes ignore the query string.
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", "/servers/getVersion") => json_reply(
            200,
            json!({"version": w.version, "perm_sync": false, "perm_sighting": true}),
        ),
        ("POST", "/events/index") => match w.refuse_events_index {
            Some(status) => error(
                status,
                "You do not have permission to use this functionality.",
                path,
            ),
            None => {
                let rows: Vec<Value> = w
                    .events
                    .values()
                    .map(|e| {
                        json!({"id": e.id.to_string(), "uuid": e.uuid, "timestamp": e.timestamp.to_string(),
                               "published": e.published, "sighting_timestamp": "0", "orgc_uuid": "x"})
                    })
                    .collect();
                json_reply(200, Value::Array(rows))
            }
        },
        ("POST", "/attributes/restSearch") => {
            if let Some(n) = w.fail_search_after {
                if w.searches >= n {
                    return error(500, "Database connection lost", path);
                }
            }
            w.searches += 1;
            let started = std::time::Instant::now();
            let r = rest_search(w, body);
            w.search_time += started.elapsed();
            r
        }
        ("POST", "/warninglists/index") => {
            let rows: Vec<Value> = w
                .warninglists
                .iter()
                .filter(|(_, _, enabled)| *enabled)
                .map(|(id, l, enabled)| {
                    json!({"Warninglist": {"id": id.to_string(), "name": l["name"], "version": l["version"].to_string(),
                                           "enabled": enabled, "type": l["type"]}})
                })
                .collect();
            json_reply(200, json!({"Warninglists": rows}))
        }
        ("GET", p) if p.starts_with("/warninglists/export/") => {
            let id: u64 = p.rsplit('/').next().unwrap().parse().unwrap_or(0);
            match w.warninglists.iter().find(|(i, _, _)| *i == id) {
                Some((_, l, _)) => json_reply(200, l.clone()),
                None => error(404, "Invalid warninglist", p),
            }
        }
        _ => error(404, "Not found", path),
    }
}

/// A filter value: a scalar, a list, or `{"OR": [...]}`, as strings.
fn one_of(v: &Value) -> Option<Vec<String>> {
    let list = match v {
        Value::Null => return None,
        Value::Array(a) => a.clone(),
        Value::Object(o) => o.get("OR")?.as_array()?.clone(),
        other => vec![other.clone()],
    };
    Some(
        list.iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    )
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        Value::String(s) => Some(s == "1" || s == "true"),
        _ => None,
    }
}

fn rest_search(w: &World, q: &Value) -> Response {
    let eventids = one_of(&q["eventid"]);
    let to_ids = truthy(&q["to_ids"]);
    let published = truthy(&q["published"]);
    let types = one_of(&q["type"]);
    let categories = one_of(&q["category"]);
    // deleted: omitted/0 → live; [0,1] → both; 1 → deleted only.
    let (live, dead) = match &q["deleted"] {
        Value::Array(_) => (true, true),
        v if truthy(v) == Some(true) => (false, true),
        _ => (true, false),
    };
    let since: Option<u64> = match &q["timestamp"] {
        Value::Null => None,
        Value::String(s) => match s.parse() {
            Ok(t) => Some(t),
            // MISP's resolveTimeDelta: garbage becomes now + 1, i.e. nothing.
            Err(_) => Some(u64::MAX),
        },
        Value::Number(n) => n.as_u64(),
        _ => Some(u64::MAX),
    };
    let mut rows: Vec<(&Event, &Attr)> = Vec::new();
    for e in w.events.values() {
        if let Some(ids) = &eventids {
            if !ids.iter().any(|i| *i == e.id.to_string() || *i == e.uuid) {
                continue;
            }
        }
        if published.is_some_and(|p| p != e.published) {
            continue;
        }
        for a in &e.attrs {
            if (a.deleted && !dead) || (!a.deleted && !live) {
                continue;
            }
            if to_ids.is_some_and(|t| t != a.to_ids) {
                continue;
            }
            if types.as_ref().is_some_and(|t| !t.contains(&a.kind)) {
                continue;
            }
            if categories
                .as_ref()
                .is_some_and(|c| !c.contains(&a.category))
            {
                continue;
            }
            if since.is_some_and(|s| a.timestamp < s) {
                continue;
            }
            rows.push((e, a));
        }
    }
    if q["order"] == json!("Attribute.id asc") && !w.ignore_order {
        rows.sort_by_key(|(_, a)| a.id);
    } else {
        rows.sort_by_key(|(_, a)| std::cmp::Reverse(a.id));
    }
    let total = rows.len();
    let mut limit = q["limit"].as_u64().map(|l| l as usize);
    if let Some(RoleCap { cap, refuse_larger }) = w.role_cap {
        match limit {
            Some(l) if l > cap && refuse_larger => {
                return error(
                    400,
                    &format!(
                        "The requested limit ({l}) exceeds the maximum number of results your \
                         role may request ({cap})."
                    ),
                    "/attributes/restSearch",
                )
            }
            Some(l) => limit = Some(l.min(cap)),
            None => limit = Some(cap),
        }
    }
    let page = q["page"].as_u64().unwrap_or(1).max(1) as usize;
    let (mut slice, read) = match limit {
        Some(l) => {
            let from = ((page - 1) * l).min(total);
            let to = (from + l).min(total);
            (rows[from..to].to_vec(), to - from)
        }
        None => (rows.clone(), total),
    };
    let full = limit.is_some_and(|l| read == l);
    if full && w.allowedlist_drop > 0 {
        let keep = slice.len().saturating_sub(w.allowedlist_drop);
        slice.truncate(keep);
    }
    let count = match (w.meaning, limit) {
        (CountMeaning::PerPage, Some(_)) => read + usize::from(full),
        _ => total,
    };
    let attrs: Vec<Value> = slice.iter().map(|(e, a)| attribute_json(e, a)).collect();
    Response {
        status: 200,
        body: json!({"response": {"Attribute": attrs}})
            .to_string()
            .into_bytes(),
        headers: vec![("X-Result-Count".into(), count.to_string())],
    }
}

fn attribute_json(e: &Event, a: &Attr) -> Value {
    let mut tags: Vec<Value> = a
        .tags
        .iter()
        .map(|t| json!({"id": "1", "name": t, "colour": "#fff"}))
        .collect();
    tags.extend(
        e.tags
            .iter()
            .map(|t| json!({"id": "2", "name": t, "colour": "#fff", "inherited": 1})),
    );
    json!({
        "id": a.id.to_string(), "event_id": e.id.to_string(), "object_id": "0", "object_relation": null,
        "category": a.category, "type": a.kind, "to_ids": a.to_ids, "uuid": a.uuid,
        "timestamp": a.timestamp.to_string(), "distribution": "5", "sharing_group_id": "0",
        "comment": "", "deleted": a.deleted, "disable_correlation": false,
        "first_seen": null, "last_seen": null, "value": a.value, "event_uuid": e.uuid,
        "Event": {"id": e.id.to_string(), "uuid": e.uuid, "info": e.info, "orgc_id": "1", "org_id": "1",
                  "threat_level_id": e.threat_level_id.to_string(), "published": e.published,
                  "timestamp": e.timestamp.to_string(), "distribution": "1",
                  "Orgc": {"id": "1", "name": e.org, "uuid": "o"}},
        "Tag": tags,
    })
}
