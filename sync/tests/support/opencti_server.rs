//! A stand-in OpenCTI GraphQL server on 127.0.0.1, playing 7.260318.0, 6.9.28
//! or 5.12.23.
//!
//! Every query it receives is validated with apollo-compiler against the saved
//! real schema of the version it plays (`shared/opencti/` beside the checkout, or
//! `$OPENCTI_SCHEMA_DIR`); an invalid one gets `GRAPHQL_VALIDATION_FAILED`
//! with HTTP 200, as OpenCTI answers. Valid queries are executed over JSON
//! nodes: each selected field is read from the node, and a list-valued label
//! or marking field is served as a connection (`edges { node }`) where the
//! played schema says so, which is exactly the 5.12.0–5.12.23 shape.
//!
//! Paging mimics `elPaginate`: sort by the `orderBy` field then
//! `standard_id`, cursor = base64(JSON(sort values)), `search_after`
//! semantics (stateless, valid across restarts), `first` clamped to
//! `max_page` silently with `hasNextPage = (edges == first)`.
//! An unknown or missing token makes every field fail with `AUTH_REQUIRED`,
//! in the error layout of the played version; an expired one (7.x tokens
//! expire) gets `AUTH_REQUIRED` with HTTP 401.
//!
//! Playing 7.x it refuses, as Apollo's CSRF prevention does (7.260722.0 and
//! later), any request that is not a POST with `Content-Type:
//! application/json`: HTTP 400 and Apollo's message. Every request's method
//! and content type are logged, whatever the version played.
#![allow(dead_code)]

#[path = "faults.rs"]
mod faults;
#[path = "opencti_http.rs"]
mod opencti_http;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use apollo_compiler::ast::Value as GqlValue;
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{json, Map, Value};

// Not every test uses every fault helper.
#[allow(unused_imports)]
pub use faults::{echo_body, gzip_zeros, Fault, RandomFaults};
pub use opencti_http::{HttpServer, Request, Response, Stall};

/// The version the stand-in plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Play {
    V7,
    V6_9,
    V5_12_23,
}

impl Play {
    pub const ALL: [Play; 3] = [Play::V7, Play::V6_9, Play::V5_12_23];

    pub fn version(self) -> &'static str {
        match self {
            Play::V7 => "7.260318.0",
            Play::V6_9 => "6.9.28",
            Play::V5_12_23 => "5.12.23",
        }
    }

    pub fn schema_file(self) -> &'static str {
        match self {
            Play::V7 => "relay.schema-7.260318.0.graphql",
            Play::V6_9 => "relay.schema.graphql",
            Play::V5_12_23 => "relay.schema-5.12.23.graphql",
        }
    }

    pub fn schema(self) -> Arc<Valid<Schema>> {
        static V7: OnceLock<Arc<Valid<Schema>>> = OnceLock::new();
        static V69: OnceLock<Arc<Valid<Schema>>> = OnceLock::new();
        static V512: OnceLock<Arc<Valid<Schema>>> = OnceLock::new();
        let cell = match self {
            Play::V7 => &V7,
            Play::V6_9 => &V69,
            Play::V5_12_23 => &V512,
        };
        Arc::clone(cell.get_or_init(|| Arc::new(load_schema(self.schema_file()))))
    }
}

pub fn schema_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OPENCTI_SCHEMA_DIR") {
        return PathBuf::from(dir);
    }
    // `shared/` lies beside the checkout (developers' and CI's layout); this
    // file serves the root crate's tests and the sync crate's.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/opencti", "../../shared/opencti"]
        .iter()
        .map(|rel| crate_dir.join(rel))
        .find(|dir| dir.join("SOURCE.txt").is_file())
        .unwrap_or_else(|| PathBuf::from("/work/shared/opencti"))
}

fn load_schema(file: &str) -> Valid<Schema> {
    let path = schema_dir().join(file);
    let sdl = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set OPENCTI_SCHEMA_DIR)", path.display()));
    Schema::parse_and_validate(sdl, &path)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.errors))
}

/// Validates a query against a played schema: the errors as text.
pub fn validate(play: Play, query: &str) -> Result<(), String> {
    ExecutableDocument::parse_and_validate(&play.schema(), query, "query.graphql")
        .map(|_| ())
        .map_err(|e| e.errors.to_string())
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub content_type: Option<String>,
    pub root: Vec<String>,
    pub query: String,
    pub variables: Value,
    pub authorization: Option<String>,
    pub valid: bool,
    pub fault: Option<String>,
}

/// A stored node and its sort values.
#[derive(Debug, Clone)]
struct Item {
    ms: i64,
    standard_id: String,
    node: Value,
}

impl Item {
    /// The internal id: every stand-in standard id is `<type>--<id>`.
    fn id(&self) -> &str {
        self.standard_id.split_once("--").map_or("", |(_, id)| id)
    }

    /// The full node. Compact items (benchmarks) hold only their pattern.
    fn node(&self) -> Value {
        self.node_ref().into_owned()
    }

    /// The full node, borrowed unless it is built from a compact item.
    fn node_ref(&self) -> Cow<'_, Value> {
        match &self.node {
            Value::String(pattern) => {
                let mut n = indicator(self.id(), pattern);
                n["updated_at"] = json!(iso(self.ms));
                n["created_at"] = json!(iso(self.ms));
                Cow::Owned(n)
            }
            node => Cow::Borrowed(node),
        }
    }
}

#[derive(Default)]
struct Collection {
    /// Sorted by (updated_at, standard_id).
    items: Vec<Item>,
    /// Indexes sorted by standard_id, rebuilt after a change.
    by_standard_id: Option<Vec<usize>>,
}

impl Collection {
    fn insert(&mut self, item: Item) {
        let pos = self
            .items
            .partition_point(|i| (i.ms, &i.standard_id) <= (item.ms, &item.standard_id));
        self.items.insert(pos, item);
        self.by_standard_id = None;
    }

    fn standard_order(&mut self) -> &[usize] {
        if self.by_standard_id.is_none() {
            let mut idx: Vec<usize> = (0..self.items.len()).collect();
            idx.sort_by(|a, b| self.items[*a].standard_id.cmp(&self.items[*b].standard_id));
            self.by_standard_id = Some(idx);
        }
        self.by_standard_id.as_deref().unwrap()
    }
}

pub struct State {
    pub token: String,
    /// The token is known but has expired (7.x API tokens expire).
    pub token_expired: bool,
    /// Refuse what is not a POST with `Content-Type: application/json`, as
    /// Apollo's CSRF prevention does (on when playing 7.x).
    pub csrf_prevention: bool,
    /// Claim this version in `about` instead of the played one.
    pub claimed_version: Option<String>,
    /// `elasticsearch:max_pagination_result`.
    pub max_page: usize,
    /// Served in order, one per request; `None` answers normally.
    pub faults: VecDeque<Option<Fault>>,
    /// Drawn for each request once `faults` is empty.
    pub random_faults: Option<RandomFaults>,
    /// Every answer waits this long (so that a sync takes a while).
    pub delay: Duration,
    /// Time spent answering (benchmarks and tests: the stand-in's share).
    pub busy: Duration,
    pub log: Vec<Logged>,
    /// The server clock, Unix ms: every write takes the next tick.
    pub clock_ms: i64,
    pub tick_ms: i64,
    indicators: Collection,
    observables: Collection,
    relationships: Collection,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ms(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// 2024-05-01T00:00:00Z.
pub const EPOCH_MS: i64 = 1_714_521_600_000;

impl State {
    fn collection(&mut self, root: &str) -> Option<&mut Collection> {
        match root {
            "indicators" => Some(&mut self.indicators),
            "stixCyberObservables" => Some(&mut self.observables),
            "stixCoreRelationships" => Some(&mut self.relationships),
            _ => None,
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock_ms += self.tick_ms;
        self.clock_ms
    }

    fn kind_of(node: &Value) -> &'static str {
        match node["__typename"].as_str() {
            Some("Indicator") => "indicators",
            Some("StixCoreRelationship") => "stixCoreRelationships",
            _ => "stixCyberObservables",
        }
    }

    /// Stores a node built by [`indicator`], [`observable`] or
    /// [`relationship`], stamping `created_at`/`updated_at` with the clock.
    pub fn add(&mut self, mut node: Value) {
        let ms = self.tick();
        node["updated_at"] = json!(iso(ms));
        if node.get("created_at").is_none_or(Value::is_null) {
            node["created_at"] = json!(iso(ms));
        }
        let standard_id = node["standard_id"].as_str().unwrap().to_string();
        let root = Self::kind_of(&node);
        self.collection(root).unwrap().insert(Item {
            ms,
            standard_id,
            node,
        });
    }

    /// Stores an indicator compactly (its pattern only; the node is built
    /// when served): a million of them fit in about 200 MB.
    pub fn add_compact_indicator(&mut self, id: &str, pattern: &str) {
        let ms = self.tick();
        self.indicators.items.push(Item {
            ms,
            standard_id: format!("indicator--{id}"),
            node: json!(pattern),
        });
        self.indicators.by_standard_id = None;
    }

    /// Changes the nodes with these ids (each takes a new `updated_at`);
    /// returns how many were found.
    pub fn update(&mut self, ids: &[&str], mut f: impl FnMut(&mut Value)) -> usize {
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        let mut changed = Vec::new();
        for c in [
            &mut self.indicators,
            &mut self.observables,
            &mut self.relationships,
        ] {
            let before = c.items.len();
            let mut kept = Vec::with_capacity(before);
            for item in std::mem::take(&mut c.items) {
                if wanted.contains(item.id()) {
                    changed.push(item.node());
                } else {
                    kept.push(item);
                }
            }
            c.items = kept;
            if c.items.len() != before {
                c.by_standard_id = None;
            }
        }
        let n = changed.len();
        for mut node in changed {
            f(&mut node);
            self.add(node);
        }
        n
    }

    /// Hard-deletes nodes by id (invisible to `updated_at` pages).
    pub fn delete(&mut self, ids: &[&str]) -> usize {
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        let mut n = 0;
        for c in [
            &mut self.indicators,
            &mut self.observables,
            &mut self.relationships,
        ] {
            let before = c.items.len();
            c.items.retain(|i| !wanted.contains(i.id()));
            n += before - c.items.len();
            c.by_standard_id = None;
        }
        n
    }

    /// Ids of every node of a root field (`indicators`, ...).
    pub fn ids(&self, root: &str) -> Vec<String> {
        let c = match root {
            "indicators" => &self.indicators,
            "stixCyberObservables" => &self.observables,
            _ => &self.relationships,
        };
        c.items.iter().map(|i| i.id().to_string()).collect()
    }

    /// Every node of a root field (`indicators`, ...), as served.
    pub fn nodes(&self, root: &str) -> Vec<Value> {
        let c = match root {
            "indicators" => &self.indicators,
            "stixCyberObservables" => &self.observables,
            _ => &self.relationships,
        };
        c.items.iter().map(Item::node).collect()
    }

    /// Page queries received (not the version check), by root field.
    pub fn requests_for(&self, root: &str) -> Vec<&Logged> {
        self.log
            .iter()
            .filter(|l| l.root.iter().any(|r| r == root))
            .collect()
    }
}

/// An indicator node (list shape; the 5.12.23 connection shape is produced
/// when served). Documentation addresses in patterns (192.0.2.0/24,
/// 198.51.100.0/24, 203.0.113.0/24, `.example`) sit on warninglists: tests
/// that look values up set `warninglists = off` or use no warninglist.
pub fn indicator(id: &str, pattern: &str) -> Value {
    json!({
        "__typename": "Indicator", "id": id, "standard_id": format!("indicator--{id}"),
        "entity_type": "Indicator", "name": pattern, "description": null,
        "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": "2024-01-01T00:00:00.000Z", "valid_until": null, "revoked": false,
        "x_opencti_score": 80, "x_opencti_detection": true,
        "x_opencti_main_observable_type": "IPv4-Addr", "indicator_types": ["malicious-activity"],
        "confidence": 90, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "created_at": null,
        "objectLabel": [{"__typename": "Label", "id": "l1", "value": "c2", "color": "#f00"}],
        "objectMarking": [{"__typename": "MarkingDefinition", "id": "m1",
            "standard_id": "marking-definition--m1", "definition_type": "TLP",
            "definition": "TLP:AMBER", "x_opencti_order": 3}],
        "createdBy": {"__typename": "Organization", "id": "org1", "name": "ACME CERT",
            "entity_type": "Organization"},
        "killChainPhases": [],
    })
}

/// GraphQL type name of an observable entity type.
fn typename(entity_type: &str) -> String {
    match entity_type {
        "StixFile" => "StixFile".into(),
        "X509-Certificate" => "X509Certificate".into(),
        t => t.replace('-', ""),
    }
}

pub fn observable(id: &str, entity_type: &str, value: &str) -> Value {
    json!({
        "__typename": typename(entity_type), "id": id,
        "standard_id": format!("{}--{id}", entity_type.to_lowercase()),
        "entity_type": entity_type, "observable_value": value, "x_opencti_score": 50,
        "x_opencti_description": null, "created_at": null,
        "objectLabel": [], "objectMarking": [], "createdBy": null,
    })
}

pub fn relationship(id: &str, rel_type: &str, from: (&str, &str), to: (&str, &str)) -> Value {
    json!({
        "__typename": "StixCoreRelationship", "id": id,
        "standard_id": format!("relationship--{id}"), "entity_type": "stix-core-relationship",
        "relationship_type": rel_type, "fromId": from.0, "fromType": from.1,
        "toId": to.0, "toType": to.1, "confidence": 80, "revoked": false,
        "start_time": null, "stop_time": null, "created_at": null,
    })
}

/// The running stand-in.
pub struct OpenCti {
    http: HttpServer,
    pub play: Play,
    pub state: Arc<Mutex<State>>,
}

impl OpenCti {
    pub fn start(play: Play, token: &str) -> OpenCti {
        let schema = play.schema();
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            token_expired: false,
            csrf_prevention: play == Play::V7,
            claimed_version: None,
            max_page: 5000,
            faults: VecDeque::new(),
            random_faults: None,
            delay: Duration::ZERO,
            busy: Duration::ZERO,
            log: Vec::new(),
            clock_ms: EPOCH_MS,
            tick_ms: 1000,
            indicators: Collection::default(),
            observables: Collection::default(),
            relationships: Collection::default(),
        }));
        let st = Arc::clone(&state);
        let http = HttpServer::start(Arc::new(move |req: &Request| {
            let mut state = st.lock().unwrap();
            let started = std::time::Instant::now();
            let mut resp = handle(play, &schema, &mut state, req);
            state.busy += started.elapsed();
            // Slept by the connection's thread, with the state unlocked.
            resp.delay = state.delay;
            resp
        }));
        OpenCti { http, play, state }
    }

    pub fn url(&self) -> String {
        self.http.url()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

/// Apollo Server 4's answer to a request its CSRF prevention blocks.
pub const CSRF_MESSAGE: &str = "This operation has been blocked as a potential Cross-Site Request \
    Forgery (CSRF). Please either specify a 'content-type' header (with a type that is not one \
    of application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a \
    non-empty value for one of the following headers: x-apollo-operation-name, \
    apollo-require-preflight\n";

/// Apollo's refusal of a request that is not a POST of JSON, or `None`.
fn refused_as_csrf(req: &Request) -> Option<Response> {
    let essence = req.header("content-type").map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if req.method == "POST" && essence.as_deref() == Some("application/json") {
        return None;
    }
    let simple = essence.as_deref().is_none_or(|e| {
        matches!(
            e,
            "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
        )
    });
    let preflighted = ["x-apollo-operation-name", "apollo-require-preflight"]
        .iter()
        .any(|h| req.header(h).is_some_and(|v| !v.is_empty()));
    let message = if simple && !preflighted {
        CSRF_MESSAGE
    } else if req.method == "POST" {
        "POST body missing, invalid Content-Type, or JSON object has no keys."
    } else {
        "GraphQL over GET is not accepted: send a POST with Content-Type: application/json"
    };
    Some(Response::json(
        400,
        json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]})
            .to_string(),
    ))
}

fn handle(play: Play, schema: &Valid<Schema>, state: &mut State, req: &Request) -> Response {
    if req.path != "/graphql" {
        return Response::json(404, r#"{"message":"Not found"}"#.into());
    }
    let refused = if state.csrf_prevention {
        refused_as_csrf(req)
    } else if req.method != "POST" {
        Some(Response::json(404, r#"{"message":"Not found"}"#.into()))
    } else {
        None
    };
    if let Some(refused) = refused {
        state.log.push(Logged {
            method: req.method.clone(),
            content_type: req.header("content-type").map(str::to_string),
            root: Vec::new(),
            query: String::new(),
            variables: Value::Null,
            authorization: req.header("authorization").map(str::to_string),
            valid: false,
            fault: Some("refused".into()),
        });
        return refused;
    }
    let fault = match state.faults.pop_front() {
        Some(queued) => queued,
        None => state.random_faults.as_mut().and_then(RandomFaults::draw),
    };
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let query = body["query"].as_str().unwrap_or("").to_string();
    let variables = body.get("variables").cloned().unwrap_or(json!({}));
    let mut logged = Logged {
        method: req.method.clone(),
        content_type: req.header("content-type").map(str::to_string),
        root: Vec::new(),
        query: query.clone(),
        variables: variables.clone(),
        authorization: req.header("authorization").map(str::to_string),
        valid: false,
        fault: fault.as_ref().map(|f| format!("{f:?}")),
    };
    match &fault {
        Some(Fault::Status(code)) => {
            state.log.push(logged);
            let mut r = Response::json(*code, format!("<html><body>{code}</body></html>"));
            r.headers = vec![("content-type".into(), "text/html".into())];
            return r;
        }
        Some(Fault::RateLimited(secs)) => {
            state.log.push(logged);
            let mut r = Response::json(
                429,
                r#"{"message":"Too many requests, please try again later."}"#.into(),
            );
            r.headers.push(("retry-after".into(), secs.to_string()));
            return r;
        }
        Some(Fault::EchoAuth(code)) => {
            state.log.push(logged);
            return Response::json(*code, faults::echo_body(*code, &req.headers));
        }
        Some(Fault::GzipBomb(size)) => {
            state.log.push(logged);
            let mut r = Response::json(200, String::new());
            r.body = faults::gzip_zeros(*size);
            r.headers.push(("content-encoding".into(), "gzip".into()));
            return r;
        }
        _ => {}
    }
    let doc = match ExecutableDocument::parse_and_validate(schema, &query, "query.graphql") {
        Ok(doc) => doc,
        Err(e) => {
            state.log.push(logged);
            // graphql-js style: one short message per diagnostic.
            let message = e
                .errors
                .iter()
                .map(|d| d.error.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Response::json(
                200,
                json!({"errors": [{"message": message,
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]})
                .to_string(),
            );
        }
    };
    logged.valid = true;
    let authed = req.header("authorization") == Some(&format!("Bearer {}", state.token));
    if authed && state.token_expired {
        state.log.push(logged);
        let err = error(
            play,
            "AUTH_REQUIRED",
            "You must be logged in to do this.",
            "about",
            401,
        );
        let status = if play == Play::V7 { 401 } else { 200 };
        return Response::json(status, json!({"errors": [err], "data": null}).to_string());
    }
    let op = doc
        .operations
        .iter()
        .next()
        .expect("validated: one operation");
    let vars = variables.as_object().cloned().unwrap_or_default();
    let mut data = Map::new();
    let mut errors = Vec::new();
    for sel in &op.selection_set.selections {
        let Selection::Field(field) = sel else {
            continue;
        };
        let key = field.response_key().to_string();
        logged.root.push(field.name.to_string());
        if !authed {
            data.insert(key.clone(), Value::Null);
            errors.push(error(
                play,
                "AUTH_REQUIRED",
                "You must be logged in to do this.",
                &key,
                401,
            ));
            continue;
        }
        let exec = Exec {
            play,
            schema,
            doc: &doc,
            vars: &vars,
        };
        let value = match field.name.as_str() {
            "about" => {
                let version = state.claimed_version.as_deref().unwrap_or(play.version());
                let about = json!({"__typename": "AppInfo", "version": version});
                Ok(exec.project(&about, &field.selection_set))
            }
            root => exec.connection(state, root, field),
        };
        match value {
            Ok(v) => {
                data.insert(key, v);
            }
            Err((code, msg)) => {
                data.insert(key.clone(), Value::Null);
                errors.push(error(play, code, &msg, &key, 500));
            }
        }
    }
    state.log.push(logged);
    let mut reply = Map::new();
    if !errors.is_empty() {
        reply.insert("errors".into(), Value::Array(errors));
    }
    reply.insert("data".into(), Value::Object(data));
    let mut resp = Response::json(200, Value::Object(reply).to_string());
    resp.truncate = matches!(fault, Some(Fault::Truncated));
    resp.stall = match fault {
        Some(Fault::Stall(d)) => Stall::BeforeHead(d),
        Some(Fault::StallBody(d)) => Stall::MidBody(d),
        _ => Stall::None,
    };
    resp
}

/// An error in the layout of the played version (opencti.md §3.1).
fn error(play: Play, code: &str, message: &str, path: &str, http_status: u16) -> Value {
    let data = json!({"http_status": http_status, "genre": "TECHNICAL"});
    match play {
        // Apollo 4 as is: the code only in `extensions`.
        Play::V7 => json!({"message": message, "path": [path],
            "extensions": {"code": code, "data": data}}),
        Play::V6_9 => json!({"message": message, "path": [path],
            "extensions": {"code": code, "data": data}, "name": code}),
        Play::V5_12_23 => json!({"name": code, "message": message, "data": data,
            "path": [path]}),
    }
}

struct Exec<'a> {
    play: Play,
    schema: &'a Valid<Schema>,
    doc: &'a Valid<ExecutableDocument>,
    vars: &'a Map<String, Value>,
}

type ExecError = (&'static str, String);

impl Exec<'_> {
    fn arg(&self, field: &Field, name: &str) -> Value {
        field
            .arguments
            .iter()
            .find(|a| a.name == name)
            .map(|a| self.value(&a.value))
            .unwrap_or(Value::Null)
    }

    fn value(&self, v: &GqlValue) -> Value {
        match v {
            GqlValue::Null => Value::Null,
            GqlValue::Enum(n) => json!(n.as_str()),
            GqlValue::Variable(n) => self.vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
            GqlValue::String(s) => json!(s),
            GqlValue::Float(f) => json!(f.try_to_f64().unwrap_or(0.0)),
            GqlValue::Int(i) => json!(i.try_to_i32().unwrap_or(0)),
            GqlValue::Boolean(b) => json!(b),
            GqlValue::List(l) => Value::Array(l.iter().map(|x| self.value(x)).collect()),
            GqlValue::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.to_string(), self.value(x)))
                    .collect(),
            ),
        }
    }

    fn connection(&self, state: &mut State, root: &str, field: &Field) -> Result<Value, ExecError> {
        let first = self.arg(field, "first").as_i64().unwrap_or(500).max(0) as usize;
        let after = self.arg(field, "after").as_str().map(str::to_string);
        let by_updated = self.arg(field, "orderBy").as_str() == Some("updated_at");
        if self.arg(field, "orderMode").as_str() == Some("desc") {
            return Err((
                "UNSUPPORTED_ERROR",
                "stand-in: orderMode desc not served".into(),
            ));
        }
        let filters = self.arg(field, "filters");
        let matcher = Filter::parse(&filters)?;
        let max_page = state.max_page;
        let c = state
            .collection(root)
            .ok_or(("UNSUPPORTED_ERROR", format!("stand-in: {root} not served")))?;
        let after_key: Option<Value> = after
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(|a| {
                base64_decode(a)
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or(("UNSUPPORTED_ERROR", format!("invalid cursor {a}")))
            })
            .transpose()?;
        let take = first.min(max_page);
        let mut picked: Vec<(Value, Cow<'_, Value>)> = Vec::new();
        let mut global = 0usize;
        if by_updated {
            // The collection is in this order already; `updated_at gte` is a range.
            let from = matcher
                .since
                .map_or(0, |s| c.items.partition_point(|i| i.ms < s));
            let start = match &after_key {
                Some(k) => {
                    let (ms, sid) = (k[0].as_i64().unwrap_or(0), k[1].as_str().unwrap_or(""));
                    c.items
                        .partition_point(|i| (i.ms, i.standard_id.as_str()) <= (ms, sid))
                }
                None => 0,
            }
            .max(from);
            if matcher.checks.is_empty() {
                global = c.items.len() - from;
                for item in c.items.iter().skip(start).take(take) {
                    picked.push((json!([item.ms, item.standard_id]), item.node_ref()));
                }
            } else {
                for (pos, item) in c.items.iter().enumerate().skip(from) {
                    if matcher.matches(item) {
                        global += 1;
                        if pos >= start && picked.len() < take {
                            picked.push((json!([item.ms, item.standard_id]), item.node_ref()));
                        }
                    }
                }
            }
        } else {
            let after_sid = after_key
                .as_ref()
                .and_then(|k| k[0].as_str().map(str::to_string));
            c.standard_order();
            let order = c.by_standard_id.as_deref().unwrap();
            let start = after_sid.as_deref().map_or(0, |a| {
                order.partition_point(|i| c.items[*i].standard_id.as_str() <= a)
            });
            for (pos, i) in order.iter().enumerate() {
                let item = &c.items[*i];
                if !matcher.checks.is_empty() && !matcher.matches(item) {
                    continue;
                }
                global += 1;
                if pos >= start && picked.len() < take {
                    picked.push((json!([item.standard_id]), item.node_ref()));
                } else if pos >= start && matcher.checks.is_empty() {
                    global = order.len();
                    break;
                }
            }
        }
        let edges: Vec<(String, Cow<'_, Value>)> = picked
            .into_iter()
            .map(|(key, node)| (base64_encode(key.to_string().as_bytes()), node))
            .collect();
        let end_cursor = edges.last().map_or("", |e| e.0.as_str());
        let start_cursor = edges.first().map_or("", |e| e.0.as_str());
        let page_info = json!({"__typename": "PageInfo", "startCursor": start_cursor,
            "endCursor": end_cursor, "hasNextPage": edges.len() == first,
            "hasPreviousPage": after_key.is_some(), "globalCount": global});
        Ok(self.project_connection(&field.selection_set, &edges, page_info))
    }

    /// [`Exec::project`] of `{"__typename": "Connection", "pageInfo", "edges":
    /// [{"cursor", "node"}]}`, projecting each node where it is stored instead
    /// of copying it into the connection first (a listing of ids would copy
    /// every node whole). Fragments on the connection or its edges take the
    /// plain path.
    fn project_connection(
        &self,
        set: &SelectionSet,
        edges: &[(String, Cow<'_, Value>)],
        page_info: Value,
    ) -> Value {
        let fields_only = |s: &SelectionSet| {
            s.selections
                .iter()
                .all(|sel| matches!(sel, Selection::Field(_)))
        };
        let edge_sets: Vec<&SelectionSet> = set
            .selections
            .iter()
            .filter_map(|sel| match sel {
                Selection::Field(f) if f.name == "edges" => Some(&f.selection_set),
                _ => None,
            })
            .collect();
        if !fields_only(set) || !edge_sets.iter().all(|s| fields_only(s)) {
            let edges: Vec<Value> = edges
                .iter()
                .map(|(cursor, node)| json!({"cursor": cursor, "node": node.as_ref()}))
                .collect();
            let conn = json!({"__typename": "Connection", "pageInfo": page_info, "edges": edges});
            return self.project(&conn, set);
        }
        let mut out = Map::new();
        for sel in &set.selections {
            let Selection::Field(f) = sel else {
                unreachable!("checked above")
            };
            let key = f.response_key().to_string();
            let value = match f.name.as_str() {
                "__typename" => json!("Connection"),
                "pageInfo" => self.resolve(page_info.clone(), f),
                "edges" => Value::Array(
                    edges
                        .iter()
                        .map(|(cursor, node)| self.project_edge(&f.selection_set, cursor, node))
                        .collect(),
                ),
                _ => Value::Null,
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }

    fn project_edge(&self, set: &SelectionSet, cursor: &str, node: &Value) -> Value {
        let mut out = Map::new();
        for sel in &set.selections {
            let Selection::Field(f) = sel else {
                unreachable!("checked by project_connection")
            };
            let value = match f.name.as_str() {
                "__typename" => json!(set.ty.as_str()),
                "cursor" => json!(cursor),
                "node" => self.project(node, &f.selection_set),
                _ => Value::Null,
            };
            out.insert(f.response_key().to_string(), value);
        }
        Value::Object(out)
    }

    fn project(&self, node: &Value, set: &SelectionSet) -> Value {
        let typename = node
            .get("__typename")
            .and_then(Value::as_str)
            .unwrap_or(set.ty.as_str())
            .to_string();
        let mut out = Map::new();
        self.collect(node, &typename, set, &mut out);
        Value::Object(out)
    }

    fn applies(&self, condition: &str, typename: &str) -> bool {
        condition == typename || self.schema.is_subtype(condition, typename)
    }

    fn collect(
        &self,
        node: &Value,
        typename: &str,
        set: &SelectionSet,
        out: &mut Map<String, Value>,
    ) {
        for sel in &set.selections {
            match sel {
                Selection::Field(f) => {
                    let key = f.response_key().to_string();
                    if f.name == "__typename" {
                        out.insert(key, json!(typename));
                        continue;
                    }
                    let raw = node.get(f.name.as_str()).cloned().unwrap_or(Value::Null);
                    let v = self.resolve(raw, f);
                    out.insert(key, v);
                }
                Selection::InlineFragment(fr) => {
                    if fr
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.applies(c.as_str(), typename))
                    {
                        self.collect(node, typename, &fr.selection_set, out);
                    }
                }
                Selection::FragmentSpread(sp) => {
                    if let Some(frag) = self.doc.fragments.get(&sp.fragment_name) {
                        if self.applies(frag.type_condition().as_str(), typename) {
                            self.collect(node, typename, &frag.selection_set, out);
                        }
                    }
                }
            }
        }
    }

    fn resolve(&self, raw: Value, f: &Field) -> Value {
        if f.selection_set.selections.is_empty() {
            return raw;
        }
        match raw {
            Value::Array(items) if f.definition.ty.is_list() => Value::Array(
                items
                    .iter()
                    .map(|i| self.project(i, &f.selection_set))
                    .collect(),
            ),
            // A list stored, a connection in the played schema: the legacy shape.
            Value::Array(items) => {
                let edges: Vec<Value> = items
                    .into_iter()
                    .map(|n| json!({"cursor": "", "node": n}))
                    .collect();
                self.project(
                    &json!({"edges": edges, "pageInfo": {"globalCount": 0}}),
                    &f.selection_set,
                )
            }
            Value::Object(_) => self.project(&raw, &f.selection_set),
            other => other,
        }
    }
}

/// The FilterGroup subset the stand-in serves: `and` of single-key filters
/// on `updated_at` (gt/gte/lt/lte), and any other key with `eq`.
struct Filter {
    since: Option<i64>,
    checks: Vec<(String, String, Vec<String>)>,
}

impl Filter {
    fn parse(v: &Value) -> Result<Filter, ExecError> {
        let mut f = Filter {
            since: None,
            checks: Vec::new(),
        };
        if v.is_null() {
            return Ok(f);
        }
        if v["mode"].as_str() != Some("and")
            || !v["filterGroups"].as_array().is_some_and(Vec::is_empty)
        {
            return Err((
                "UNSUPPORTED_ERROR",
                format!("stand-in: filter group {v} not served"),
            ));
        }
        for filter in v["filters"].as_array().into_iter().flatten() {
            let key = match &filter["key"] {
                Value::String(k) => k.clone(),
                Value::Array(k) if k.len() == 1 => k[0].as_str().unwrap_or("").to_string(),
                k => return Err(("UNSUPPORTED_ERROR", format!("stand-in: key {k} not served"))),
            };
            let op = filter["operator"].as_str().unwrap_or("eq").to_string();
            let values: Vec<String> = filter["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect();
            match (key.as_str(), op.as_str()) {
                ("updated_at", "gte") if values.len() == 1 => {
                    f.since = Some(
                        parse_ms(&values[0])
                            .ok_or(("UNSUPPORTED_ERROR", format!("bad date {}", values[0])))?,
                    )
                }
                (
                    "relationship_type" | "entity_type" | "fromTypes" | "toTypes" | "pattern_type",
                    "eq",
                ) => f.checks.push((key, op, values)),
                _ => {
                    return Err((
                        "UNSUPPORTED_ERROR",
                        "Incorrect filter keys not existing in any schema definition".into(),
                    ))
                }
            }
        }
        Ok(f)
    }

    fn matches(&self, item: &Item) -> bool {
        if self.since.is_some_and(|since| item.ms < since) {
            return false;
        }
        if self.checks.is_empty() {
            return true;
        }
        let node = item.node_ref();
        self.checks.iter().all(|(key, _, values)| {
            let field = match key.as_str() {
                "fromTypes" => "fromType",
                "toTypes" => "toType",
                k => k,
            };
            node[field]
                .as_str()
                .is_some_and(|v| values.iter().any(|x| x == v))
        })
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut map = HashMap::new();
    for (i, c) in B64.iter().enumerate() {
        map.insert(*c, i as u32);
    }
    let mut out = Vec::new();
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= map.get(c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}
