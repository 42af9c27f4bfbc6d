//! Alert → candidate values to look up.
//!
//! [`extract`] walks the [`catalog`](super::catalog) (and any extra paths), reads
//! the fields present in the alert, normalises what it finds and returns the
//! candidates in priority order, each once. It is synchronous, never panics on a
//! hostile alert and bounds its work: wrong JSON types are skipped, arrays and
//! wildcards are read up to [`MAX_FANOUT`] elements, text up to
//! [`matcher::tokenize::MAX_SCAN_BYTES`], and the output is capped.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use matcher::normalize::{self, AddrClass, Normalized};
use matcher::tokenize;
use matcher::Kind;
use serde::Serialize;

mod unknown_fields;

use super::catalog::{is_envelope_path, Cond, ExtraPath, Extractor, FieldRule, CATALOG};
use super::json::{self, Json, Object};
pub use super::path::MAX_FANOUT;
use super::path::{first, first_in, resolve, Memo, Prefixes, Steps};

/// Default cap on the candidates of one alert.
pub const DEFAULT_MAX_CANDIDATES: usize = 128;
/// Longest structured (non-text) value looked at.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Longest alert [`parse_alert`] accepts (integratord itself skips lines over 64 KiB).
pub const MAX_ALERT_BYTES: usize = 4 * 1024 * 1024;
/// Longest value quoted in a [`Skipped`] entry.
const MAX_SKIPPED_VALUE: usize = 200;

/// Digests of the empty file: `_before` hashes of new files, failed reads. Never IoCs.
const EMPTY_FILE_DIGESTS: &[&str] = &[
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
];

/// Ports on which an origin-form Suricata `http.url` is joined into `http://host:port/…`.
const ALT_HTTP_PORTS: &[&str] = &["8000", "8008", "8080", "8081", "8888", "3128"];

/// Options for [`extract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Never look up private, loopback, link-local, multicast, reserved or
    /// documentation addresses (per [`normalize::classify`]). Default true.
    pub skip_non_public: bool,
    /// Paths read in addition to the catalog.
    pub extra_paths: Vec<ExtraPath>,
    /// Cap on candidates (and on skipped entries). Default [`DEFAULT_MAX_CANDIDATES`].
    pub max_candidates: usize,
    /// Treat the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
    /// 203.0.113.0/24, 2001:db8::/32) as public. For tests and labs whose sample
    /// data uses them; default false.
    pub documentation_is_public: bool,
    /// Also look up the strong whole values of `data` fields no rule reads
    /// (`unknown_fields.rs`). Default true.
    pub unknown_fields: bool,
    /// Also look up file paths whole (the index has path-valued file indicators).
    pub file_paths: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            skip_non_public: true,
            extra_paths: Vec::new(),
            max_candidates: DEFAULT_MAX_CANDIDATES,
            documentation_is_public: false,
            unknown_fields: true,
            file_paths: false,
        }
    }
}

/// A value to look up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Dotted path of the field as spelled in the alert, array positions as `[i]`
    /// (`data.win.eventdata.queryName`, `data.dns.answers[1].rdata`).
    pub field: String,
    pub kind: Kind,
    /// Normalised.
    pub value: String,
    /// Found by tokenising free text: hits get the method `token`.
    pub from_text: bool,
}

/// A value that was found and deliberately not looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub field: String,
    /// Normalised when possible, else as found (shortened).
    pub value: String,
    pub reason: String,
}

/// The result of [`extract`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extraction {
    pub candidates: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
    /// The candidate cap was reached; later values (if any were new) were dropped.
    pub truncated: bool,
    /// The free-text fields that were tokenised, for substring indicators (at most
    /// [`MAX_TEXTS`], each cut to [`tokenize::MAX_SCAN_BYTES`]).
    #[serde(skip)]
    pub texts: Vec<TextField>,
}

/// At most this many free-text fields are kept per alert for substring scans.
pub const MAX_TEXTS: usize = 32;

/// A free-text field as it was tokenised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField {
    pub field: String,
    pub text: String,
}

/// Extracts the candidate values of one alert.
pub fn extract(alert: &Json<'_>, opts: &ExtractOptions) -> Extraction {
    let mut c = Collector {
        opts,
        out: Extraction::default(),
        read: Vec::new(),
    };
    if !alert.is_object() {
        return c.out;
    }
    let extras: Vec<(Steps, Extractor)> = opts
        .extra_paths
        .iter()
        .filter(|p| !is_envelope_path(&p.path))
        .filter_map(|p| Some((Steps::parse(&p.path)?, p.extractor())))
        .collect();
    let catalog = compiled();
    let mut memo = Memo::new(catalog.prefixes);
    // Structured fields first, free text after: a value found in both keeps the
    // structured field (and is not reported as a token hit).
    for text_pass in [false, true] {
        for r in &catalog.rules {
            if r.rule.extractor.is_text() == text_pass && conditions_hold(alert, &r.when, &mut memo)
            {
                run(alert, &r.steps, &mut memo, r.rule.extractor, &mut c);
            }
        }
        for (steps, extractor) in &extras {
            if extractor.is_text() == text_pass {
                run(alert, steps, &mut memo, *extractor, &mut c);
            }
        }
    }
    if opts.unknown_fields {
        let mut read = std::mem::take(&mut c.read);
        read.sort_unstable();
        unknown_fields::collect(alert, &read, &mut c);
    }
    c.out
}

/// Why an alert file could not be read as an alert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("the alert is empty")]
    Empty,
    #[error("the alert is not JSON (integratord writes a text file when <alert_format>json</alert_format> is missing from the <integration> block)")]
    NotJson,
    #[error("the alert is {0} bytes, more than the {MAX_ALERT_BYTES} accepted")]
    TooLarge(usize),
    #[error("the alert is not valid JSON: {0}")]
    Json(String),
}

/// Parses one alert as integratord writes it (one JSON object, optional trailing
/// newline; pretty-printed files are accepted). Nesting beyond serde_json's
/// recursion limit (128) is an error, not a crash.
pub fn parse_alert(bytes: &[u8]) -> Result<Json<'_>, AlertError> {
    if bytes.len() > MAX_ALERT_BYTES {
        return Err(AlertError::TooLarge(bytes.len()));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| bytes[i]) {
        None => return Err(AlertError::Empty),
        Some(b'{') => {}
        Some(_) => return Err(AlertError::NotJson),
    }
    let value = json::from_slice(bytes).map_err(|e| AlertError::Json(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(AlertError::NotJson)
    }
}

/// Whether the alert is one of our own enrichment events coming back (feedback
/// loop). `tags` are our integration tags (`intelmatch`, `opencti`, `misp`).
///
/// Ours when `rule.groups` contains `intelmatch`, or when `data.integration` is one
/// of our tags **and** the rule groups are those of an enrichment pack (the tag
/// itself, `<tag>_…`, or `threat_intel`). MISP-profile hits carry no
/// `integration` key by default: they are recognised by `location` = the tag plus a
/// `data.<tag>` object plus the groups. Module events (`office365`, `aws`, …) also
/// carry `data.integration` and are not ours.
pub fn is_own_event(alert: &Json<'_>, tags: &[&str]) -> bool {
    let groups: Vec<&str> = match alert.at(&["rule", "groups"]) {
        Some(Json::Array(g)) => g.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    if groups.contains(&"intelmatch") {
        return true;
    }
    let integration = alert.at(&["data", "integration"]).and_then(Json::as_str);
    let location = alert.get("location").and_then(Json::as_str);
    tags.iter().any(|&tag| {
        let pack_groups = groups.iter().any(|g| {
            *g == tag
                || *g == "threat_intel"
                || g.strip_prefix(tag)
                    .is_some_and(|rest| rest.starts_with('_'))
        });
        if !pack_groups {
            return false;
        }
        let payload = alert
            .get("data")
            .and_then(|d| d.get(tag))
            .is_some_and(Json::is_object);
        integration == Some(tag) || (location == Some(tag) && payload)
    })
}

// ---------------------------------------------------------------------------------
// Paths

/// The catalog parsed once per process: its paths and their conditions' paths.
struct Compiled {
    rules: Vec<CompiledRule>,
    prefixes: usize,
}

struct CompiledRule {
    rule: &'static FieldRule,
    steps: Steps<'static>,
    when: Vec<(Cond, Steps<'static>)>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut prefixes = Prefixes::default();
        let mut steps = |path: &'static str| {
            // The catalog's own test checks every path parses.
            let mut s = Steps::parse(path).unwrap_or_else(|| panic!("catalog path {path}"));
            prefixes.assign(&mut s);
            s
        };
        let rules = CATALOG
            .iter()
            .map(|rule| CompiledRule {
                rule,
                steps: steps(rule.path),
                when: rule
                    .when
                    .iter()
                    .map(|c| (*c, steps(cond_path(c))))
                    .collect(),
            })
            .collect();
        Compiled {
            rules,
            prefixes: prefixes.len(),
        }
    })
}

fn cond_path(c: &Cond) -> &'static str {
    let (Cond::Present(p) | Cond::Absent(p) | Cond::Equals(p, _) | Cond::NotEquals(p, _)) = *c;
    p
}

fn conditions_hold<'a>(root: &'a Json<'a>, when: &[(Cond, Steps)], memo: &mut Memo<'a>) -> bool {
    when.iter().all(|(c, steps)| {
        let value = first_in(root, steps, memo);
        let equals = |want: &str| {
            value
                .and_then(Json::as_str)
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(want))
        };
        match *c {
            Cond::Present(_) => value.is_some(),
            Cond::Absent(_) => value.is_none(),
            Cond::Equals(_, want) => equals(want),
            Cond::NotEquals(_, want) => !equals(want),
        }
    })
}

/// Runs one extractor over every value of `path`.
fn run<'a>(
    root: &'a Json<'a>,
    steps: &Steps,
    memo: &mut Memo<'a>,
    extractor: Extractor,
    c: &mut Collector,
) {
    resolve(root, steps, memo, &mut |field, leaf, parent| {
        if c.opts.unknown_fields {
            c.read.push(leaf as *const Json<'_> as usize);
        }
        if c.full() {
            c.out.truncated = true;
            return;
        }
        let Json::String(raw) = leaf else {
            c.skip(
                field,
                &format!("<{}>", leaf.type_name()),
                "expected a string",
            );
            return;
        };
        let raw = if extractor.is_text() {
            floor_boundary(raw, tokenize::MAX_SCAN_BYTES)
        } else if raw.len() > MAX_VALUE_BYTES {
            c.skip(field, raw, "value too long");
            return;
        } else {
            raw.as_ref()
        };
        let raw = if starts_with_ci(field, "data.win.eventdata.") {
            unescape_eventchannel(raw)
        } else {
            Cow::Borrowed(raw)
        };
        let cx = Cx {
            root,
            parent,
            field,
        };
        apply(&cx, extractor, &raw, c);
    });
}

struct Cx<'a> {
    root: &'a Json<'a>,
    parent: Option<&'a Object<'a>>,
    field: &'a str,
}

fn apply(cx: &Cx, extractor: Extractor, raw: &str, c: &mut Collector) {
    let field = cx.field;
    match extractor {
        Extractor::Ip => ip(c, field, raw, false),
        Extractor::Host => host(c, field, raw),
        Extractor::Url => url(c, field, raw, false),
        Extractor::Email => exact(c, field, Kind::Email, raw),
        Extractor::Hash(kind) => digest(c, field, kind, raw, false),
        Extractor::Fingerprint => {
            let hex: String = raw.chars().filter(|&ch| ch != ':' && ch != ' ').collect();
            if !hex.is_empty() {
                digest(c, field, Kind::Hash, &hex, false);
            }
        }
        Extractor::SysmonHashes => {
            for part in raw.split(',').take(16) {
                let Some((alg, value)) = part.split_once('=') else {
                    continue;
                };
                let kind = match alg.trim().to_ascii_uppercase().as_str() {
                    "MD5" => Kind::Md5,
                    "SHA1" => Kind::Sha1,
                    "SHA256" => Kind::Sha256,
                    "SHA512" => Kind::Sha512,
                    "IMPHASH" => Kind::Imphash,
                    _ => continue,
                };
                digest(c, field, kind, value, false);
            }
        }
        Extractor::DnsResults => {
            for record in raw.split(';').take(64) {
                let record = record.trim();
                if record.is_empty() {
                    continue;
                }
                match strip_prefix_ci(record, "type:") {
                    // `type:  5 cname.example` (and other non-address records)
                    Some(rest) => host(
                        c,
                        field,
                        rest.trim_start()
                            .trim_start_matches(|ch: char| ch.is_ascii_digit()),
                    ),
                    None => ip(c, field, record, false),
                }
            }
        }
        Extractor::DnsRdata => {
            let rrtype = cx
                .parent
                .and_then(|m| m.get("rrtype").or_else(|| m.get("type")))
                .and_then(Json::as_str);
            let wanted = rrtype.is_none_or(|t| {
                ["A", "AAAA", "CNAME", "NS", "PTR", "MX", "DNAME"]
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(t.trim()))
            });
            if wanted {
                host(c, field, raw);
            }
        }
        Extractor::CertSubject => {
            let cn = raw
                .split([',', '/'])
                .find_map(|part| strip_prefix_ci(part.trim(), "CN="));
            if let Some(cn) = cn {
                let cn = cn.trim();
                host(c, field, cn.strip_prefix("*.").unwrap_or(cn));
            }
        }
        Extractor::HttpUrl => http_url(cx, raw, c),
        Extractor::Filename => filename(c, field, raw),
        Extractor::PathArg => {
            let s = raw.trim();
            let b = s.as_bytes();
            let unix = s.starts_with('/') && s != "/dev/null";
            let windows =
                b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
            if (unix || windows) && !s.chars().any(char::is_whitespace) {
                filename(c, field, s);
            }
        }
        Extractor::RequestTarget => {
            let decoded = percent_decode(raw);
            c.keep_text(field, &decoded);
            text(c, field, &decoded)
        }
        Extractor::Text => {
            c.keep_text(field, raw);
            text(c, field, raw)
        }
        Extractor::Exact(kind) => exact(c, field, kind, raw),
    }
}

// ---------------------------------------------------------------------------------
// Extractors

/// Values that mean "nothing here".
fn ignorable(s: &str) -> bool {
    s.is_empty() || s == "-"
}

/// `[v6]:port`, `[v6]`, `a.b.c.d:port`, `v6%zone` → the bare address.
fn strip_ip_decor(s: &str) -> &str {
    if let Some(inner) = s.strip_prefix('[') {
        if let Some((addr, tail)) = inner.split_once(']') {
            if tail.is_empty() || tail.strip_prefix(':').is_some_and(is_port) {
                return strip_zone(addr);
            }
        }
        return s;
    }
    if s.bytes().filter(|&b| b == b':').count() == 1 && s.contains('.') {
        if let Some((addr, port)) = s.split_once(':') {
            if is_port(port) {
                return addr;
            }
        }
    }
    strip_zone(s)
}

fn strip_zone(s: &str) -> &str {
    s.split_once('%').map_or(s, |(a, _)| a)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn ip(c: &mut Collector, field: &str, raw: &str, from_text: bool) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    let addr = strip_ip_decor(s);
    if addr.contains('/') {
        c.skip(field, s, "a network, not an address");
        return;
    }
    let hint = if addr.contains(':') {
        Kind::Ipv6
    } else {
        Kind::Ipv4
    };
    match normalize::normalize(hint, addr) {
        Ok(n) if n.kind.is_ip() => c.address(field, n, from_text),
        _ => c.skip(field, s, "not an IP address"),
    }
}

fn host(c: &mut Collector, field: &str, raw: &str) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    if strip_ip_decor(s).parse::<IpAddr>().is_ok() {
        return ip(c, field, s, false);
    }
    // `name:port`
    let name = match s.rsplit_once(':') {
        Some((h, p)) if is_port(p) && !h.contains(':') => h,
        _ => s,
    };
    match normalize::normalize(Kind::Domain, name) {
        Ok(n) if n.kind == Kind::Domain && n.value.contains('.') => {
            c.candidate(field, n.kind, n.value, false)
        }
        Ok(n) => c.skip(field, &n.value, "single-label name"),
        Err(_) => c.skip(field, s, "not a domain name"),
    }
}

fn url(c: &mut Collector, field: &str, raw: &str, from_text: bool) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    match normalize::url(s) {
        Ok(u) => c.candidate(field, Kind::Url, u.url, from_text),
        Err(_) if from_text => {}
        Err(_) => c.skip(field, s, "not a URL"),
    }
}

fn exact(c: &mut Collector, field: &str, kind: Kind, raw: &str) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    match normalize::normalize(kind, s) {
        Ok(n) => c.candidate(field, n.kind, n.value, false),
        Err(_) => c.skip(field, s, &format!("not a valid {kind}")),
    }
}

fn digest(c: &mut Collector, field: &str, kind: Kind, raw: &str, from_text: bool) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    let value = if kind == Kind::Hash {
        normalize::normalize(kind, s).map(|n| n.value)
    } else {
        normalize::hash(kind, s)
    };
    match value {
        Ok(h) if h.bytes().all(|b| b == b'0') => c.skip(field, &h, "all-zero digest"),
        Ok(h) if EMPTY_FILE_DIGESTS.contains(&h.as_str()) => {
            c.skip(field, &h, "digest of the empty file")
        }
        Ok(h) => c.candidate(field, kind, h, from_text),
        Err(_) if from_text => {}
        Err(_) => c.skip(field, s, &format!("not a valid {kind} digest")),
    }
}

fn filename(c: &mut Collector, field: &str, raw: &str) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    let base = s.rsplit(['/', '\\']).next().unwrap_or(s);
    // `invoice.zip:Zone.Identifier` names an NTFS stream of invoice.zip
    let base = base.split(':').next().unwrap_or(base).trim();
    if base.is_empty() || base == "." || base == ".." {
        return;
    }
    match normalize::normalize(Kind::Filename, base) {
        Ok(n) => c.candidate(field, n.kind, n.value, false),
        Err(_) => c.skip(field, base, "not a valid file name"),
    }
    // Path-valued indicators are keyed by the whole path, never the base name.
    if c.opts.file_paths && normalize::is_path(s) {
        let name = s.rsplit(['/', '\\']).next().unwrap_or(s);
        let dir = &s[..s.len() - name.len()];
        if let Ok(path) = normalize::file_path(&format!("{dir}{base}")) {
            c.candidate(field, Kind::Filename, path, false);
        }
    }
}

fn http_url(cx: &Cx, raw: &str, c: &mut Collector) {
    let s = raw.trim();
    if ignorable(s) {
        return;
    }
    if s.contains("://") {
        return url(c, cx.field, s, false);
    }
    if !s.starts_with('/') {
        return;
    }
    let Some(hostname) = cx
        .parent
        .and_then(|m| m.get_ignore_ascii_case("hostname"))
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
    else {
        return;
    };
    let port = first(cx.root, "data.dest_port")
        .and_then(Json::as_str)
        .map(str::trim);
    let host = match hostname.parse::<std::net::Ipv6Addr>() {
        Ok(_) => Cow::Owned(format!("[{hostname}]")),
        Err(_) => Cow::Borrowed(hostname),
    };
    let authority = match port {
        None | Some("80") => host,
        Some(p) if ALT_HTTP_PORTS.contains(&p) && !hostname.contains(':') => {
            Cow::Owned(format!("{host}:{p}"))
        }
        _ => return,
    };
    if let Ok(u) = normalize::url(&format!("http://{authority}{s}")) {
        c.candidate(cx.field, Kind::Url, u.url, false);
    }
}

fn text(c: &mut Collector, field: &str, raw: &str) {
    for tok in tokenize::tokenize(raw) {
        if c.full() {
            return;
        }
        match tok.kind {
            Kind::Url => {
                let u: Cow<str> = if tok.has_scheme() {
                    Cow::Borrowed(tok.text)
                } else if tok.text.starts_with("//") {
                    Cow::Owned(format!("http:{}", tok.text))
                } else {
                    Cow::Owned(format!("http://{}", tok.text))
                };
                url(c, field, &u, true);
            }
            Kind::Ipv4 | Kind::Ipv6 => ip(c, field, tok.text, true),
            k if k.is_hash() => digest(c, field, k, tok.text, true),
            k => {
                if let Ok(n) = normalize::normalize(k, tok.text) {
                    c.candidate(field, n.kind, n.value, true);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Output

struct Collector<'o> {
    opts: &'o ExtractOptions,
    out: Extraction,
    /// The leaves catalog rules resolved (by address), which the unknown-field
    /// fallback leaves alone.
    read: Vec<usize>,
}

impl Collector<'_> {
    fn keep_text(&mut self, field: &str, text: &str) {
        let texts = &mut self.out.texts;
        if texts.len() < MAX_TEXTS && !texts.iter().any(|t| t.text == text) {
            texts.push(TextField {
                field: field.to_string(),
                text: text.to_string(),
            });
        }
    }

    fn full(&self) -> bool {
        self.out.candidates.len() >= self.opts.max_candidates
    }

    fn candidate(&mut self, field: &str, kind: Kind, value: String, from_text: bool) {
        if value.chars().any(char::is_control) {
            return self.skip(field, &value, "contains a control character");
        }
        if self
            .out
            .candidates
            .iter()
            .any(|c| c.kind == kind && c.value == value)
        {
            return;
        }
        if self.full() {
            self.out.truncated = true;
            return;
        }
        self.out.candidates.push(Candidate {
            field: field.to_string(),
            kind,
            value,
            from_text,
        });
    }

    /// An address: gated by its class.
    fn address(&mut self, field: &str, n: Normalized, from_text: bool) {
        let Ok(addr) = n
            .value
            .parse::<IpAddr>()
            .or_else(|_| normalize::ip_addr(&n.value))
        else {
            return self.skip(field, &n.value, "not an IP address");
        };
        let class = normalize::classify(addr);
        let public = class.is_public()
            || (self.opts.documentation_is_public && class == AddrClass::Documentation);
        if self.opts.skip_non_public && !public {
            let reason = format!("non-public address ({})", class.as_str());
            return self.skip(field, &n.value, &reason);
        }
        self.candidate(field, n.kind, n.value, from_text);
    }

    fn skip(&mut self, field: &str, value: &str, reason: &str) {
        if self.out.skipped.len() >= self.opts.max_candidates {
            return;
        }
        let value: String = match floor_boundary(value, MAX_SKIPPED_VALUE) {
            v if v.len() < value.len() => format!("{v}…"),
            v => v.to_string(),
        };
        if self
            .out
            .skipped
            .iter()
            .any(|s| s.value == value && s.reason == reason)
        {
            return;
        }
        self.out.skipped.push(Skipped {
            field: field.to_string(),
            value,
            reason: reason.to_string(),
        });
    }
}

// ---------------------------------------------------------------------------------
// Text helpers

fn floor_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `prefix` is ASCII, so its length is a char boundary of `s` when it matches.
    starts_with_ci(s, prefix).then(|| &s[prefix.len()..])
}

/// The eventchannel decoder writes `\` as `\\` and `"` as `\"` in eventdata values.
fn unescape_eventchannel(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            if let Some(&next @ ('\\' | '"')) = chars.peek() {
                out.push(next);
                chars.next();
                continue;
            }
        }
        out.push(ch);
    }
    Cow::Owned(out)
}

/// `%XX` decoded (invalid sequences kept), `+` as a space in the query string.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let query = b.iter().position(|&x| x == b'?').unwrap_or(b.len());
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|&x| (x as char).to_digit(16));
        match b[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if i > query => out.push(b' '),
            x => out.push(x),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(e: &Extraction) -> Vec<(&str, Kind, &str)> {
        e.candidates
            .iter()
            .map(|c| (c.field.as_str(), c.kind, c.value.as_str()))
            .collect()
    }

    #[test]
    fn unescapes_eventchannel_values_only() {
        assert_eq!(
            unescape_eventchannel(r#"C:\\x\\y.exe \"a\" \n"#),
            r#"C:\x\y.exe "a" \n"#
        );
        assert_eq!(unescape_eventchannel(r"\\\\srv\\s"), r"\\srv\s");
        assert_eq!(unescape_eventchannel("a\\"), "a\\");
        let alert = json!({
            "data": {
                "win": {"eventdata": {"commandLine": r"net use \\\\files.evil.test\\share"}},
                "eventdata": {"commandLine": r"x \\\\files2.evil.test\\share"}
            }
        });
        let e = extract(&Json::from(&alert), &ExtractOptions::default());
        let v = values(&e);
        assert!(v.contains(&(
            "data.win.eventdata.commandLine",
            Kind::Domain,
            "files.evil.test"
        )));
        // Not eventchannel: `\\\\` stays doubled, the host is still found after `\\`.
        assert!(v.iter().any(|x| x.2 == "files2.evil.test"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b?x=1+2%2"), "/a b?x=1 2%2");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn ip_decorations() {
        assert_eq!(strip_ip_decor("203.0.113.45:443"), "203.0.113.45");
        assert_eq!(strip_ip_decor("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_ip_decor("fe80::1%12"), "fe80::1");
        assert_eq!(strip_ip_decor("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn case_insensitive_paths_and_wildcards() {
        let alert = json!({"DATA": {"Office365": {"clientip": "[2001:db8:bad::1]:50000"}}});
        let opts = ExtractOptions {
            documentation_is_public: true,
            ..Default::default()
        };
        let e = extract(&Json::from(&alert), &opts);
        assert_eq!(
            values(&e),
            vec![("DATA.Office365.clientip", Kind::Ipv6, "2001:db8:bad::1")]
        );
    }

    #[test]
    fn non_public_addresses_are_skipped_with_their_class() {
        let alert = json!({"data": {"srcip": "10.1.2.3", "dstip": "8.8.8.8"}});
        let e = extract(&Json::from(&alert), &ExtractOptions::default());
        assert_eq!(values(&e), vec![("data.dstip", Kind::Ipv4, "8.8.8.8")]);
        assert_eq!(e.skipped.len(), 1);
        assert_eq!(e.skipped[0].field, "data.srcip");
        assert!(e.skipped[0].reason.contains("private"), "{:?}", e.skipped);
        let all = extract(
            &Json::from(&alert),
            &ExtractOptions {
                skip_non_public: false,
                ..Default::default()
            },
        );
        assert_eq!(all.candidates.len(), 2);
    }

    #[test]
    fn extra_paths_typed_and_text() {
        let alert = json!({"data": {"custom": {"peer": "8.8.4.4", "note": "beacon to evil.example.com", "h": "DBC0798CC1DA48BF61CDA38BE8816140"}},
                           "agent": {"ip": "8.8.8.8"}});
        let opts = ExtractOptions {
            extra_paths: vec![
                ExtraPath::new("data.custom.peer", Some(Kind::Ipv4)).unwrap(),
                ExtraPath::new("data.custom.note", None).unwrap(),
                ExtraPath::new("data.custom.h", Some(Kind::Md5)).unwrap(),
                // Bypassing the constructor: still never read.
                ExtraPath {
                    path: "agent.ip".into(),
                    kind: Some(Kind::Ipv4),
                },
            ],
            ..Default::default()
        };
        let e = extract(&Json::from(&alert), &opts);
        assert_eq!(
            values(&e),
            vec![
                ("data.custom.peer", Kind::Ipv4, "8.8.4.4"),
                (
                    "data.custom.h",
                    Kind::Md5,
                    "dbc0798cc1da48bf61cda38be8816140"
                ),
                ("data.custom.note", Kind::Domain, "evil.example.com"),
            ]
        );
        assert!(e.candidates[2].from_text && !e.candidates[0].from_text);
    }

    #[test]
    fn message_only_without_eventdata() {
        let msg = "\"Network connection:\r\nDestinationIp: 8.8.8.8\r\n\"";
        let with = json!({"data": {"win": {"system": {"message": msg}, "eventdata": {"destinationIp": "1.1.1.1"}}}});
        let e = extract(&Json::from(&with), &ExtractOptions::default());
        assert_eq!(
            values(&e),
            vec![("data.win.eventdata.destinationIp", Kind::Ipv4, "1.1.1.1")]
        );
        let without = json!({"data": {"win": {"system": {"message": msg}}}});
        let e = extract(&Json::from(&without), &ExtractOptions::default());
        assert_eq!(
            values(&e),
            vec![("data.win.system.message", Kind::Ipv4, "8.8.8.8")]
        );
    }

    #[test]
    fn dns_records_and_rdata_types() {
        let alert = json!({"data": {
            "win": {"eventdata": {"queryResults": "type:  5 Alias.Example.NET;type:  15 ;::ffff:8.8.8.8;2606:4700::1111;junk;"}},
            "dns": {"answers": [
                {"rrtype": "TXT", "rdata": "txt.example.com"},
                {"rrtype": "AAAA", "rdata": "2606:4700::1001"},
                {"rdata": "untyped.example.com"}
            ]}
        }});
        let e = extract(&Json::from(&alert), &ExtractOptions::default());
        assert_eq!(
            values(&e),
            vec![
                (
                    "data.win.eventdata.queryResults",
                    Kind::Domain,
                    "alias.example.net"
                ),
                ("data.win.eventdata.queryResults", Kind::Ipv4, "8.8.8.8"),
                (
                    "data.win.eventdata.queryResults",
                    Kind::Ipv6,
                    "2606:4700::1111"
                ),
                ("data.dns.answers[1].rdata", Kind::Ipv6, "2606:4700::1001"),
                (
                    "data.dns.answers[2].rdata",
                    Kind::Domain,
                    "untyped.example.com"
                ),
            ]
        );
        assert!(e.skipped.iter().any(|s| s.value == "junk"));
    }

    #[test]
    fn http_url_reconstruction_needs_a_plain_http_port() {
        let alert = |port: &str| json!({"data": {"dest_port": port, "http": {"hostname": "h.example.com", "url": "/a?b=1"}}});
        let urls = |port: &str| -> Vec<String> {
            extract(&Json::from(&alert(port)), &ExtractOptions::default())
                .candidates
                .into_iter()
                .filter(|c| c.kind == Kind::Url)
                .map(|c| c.value)
                .collect()
        };
        assert_eq!(urls("80"), vec!["http://h.example.com/a?b=1"]);
        assert_eq!(urls("8080"), vec!["http://h.example.com:8080/a?b=1"]);
        assert!(urls("443").is_empty());
        assert!(urls("50712").is_empty());
        let absolute = json!({"data": {"http": {"hostname": "proxy.example.com", "url": "http://other.example.com/x"}}});
        let e = extract(&Json::from(&absolute), &ExtractOptions::default());
        assert!(values(&e).contains(&("data.http.url", Kind::Url, "http://other.example.com/x")));
    }

    #[test]
    fn caps_are_honoured() {
        let answers: Vec<serde_json::Value> = (0..10_000)
            .map(|i| json!({"rdata": format!("h{i}.example.com")}))
            .collect();
        let alert = json!({"data": {"dns": {"answers": answers}}});
        let e = extract(
            &Json::from(&alert),
            &ExtractOptions {
                max_candidates: 10,
                ..Default::default()
            },
        );
        assert_eq!(e.candidates.len(), 10);
        assert!(e.truncated);
        let e = extract(&Json::from(&alert), &ExtractOptions::default());
        assert_eq!(e.candidates.len(), DEFAULT_MAX_CANDIDATES.min(MAX_FANOUT));
    }

    #[test]
    fn own_events() {
        let tags = ["intelmatch", "opencti", "misp"];
        let ours = json!({"rule": {"groups": ["threat_intel", "intelmatch"]}, "data": {"integration": "intelmatch"}});
        assert!(is_own_event(&Json::from(&ours), &tags));
        let opencti = json!({"rule": {"groups": ["threat_intel", "opencti", "opencti_alert"]}, "data": {"integration": "opencti"}, "location": "opencti"});
        assert!(is_own_event(&Json::from(&opencti), &tags));
        let misp = json!({"rule": {"groups": ["misp", "misp_alert"]}, "data": {"misp": {"value": "x"}}, "location": "misp"});
        assert!(is_own_event(&Json::from(&misp), &tags));
        // Module events carry data.integration too.
        let o365 = json!({"rule": {"groups": ["office365", "AzureActiveDirectoryStsLogon"]}, "data": {"integration": "office365"}, "location": "office365"});
        assert!(!is_own_event(&Json::from(&o365), &tags));
        // Our tag without our groups (e.g. a user's rule on another source).
        let stray = json!({"rule": {"groups": ["syslog"]}, "data": {"integration": "misp"}});
        assert!(!is_own_event(&Json::from(&stray), &tags));
        // Only the tags in use count.
        assert!(!is_own_event(&Json::from(&opencti), &["misp"]));
        let groups_not_a_list = json!({"rule": {"groups": "intelmatch"}});
        assert!(!is_own_event(&Json::from(&groups_not_a_list), &tags));
        assert!(!is_own_event(&Json::from(&json!([1, 2])), &tags));
    }

    #[test]
    fn parse_alert_errors_are_clean() {
        assert_eq!(parse_alert(b"  \n"), Err(AlertError::Empty));
        assert_eq!(parse_alert(b"alertdate='x'\n"), Err(AlertError::NotJson));
        assert!(matches!(parse_alert(b"{\"a\":"), Err(AlertError::Json(_))));
        assert!(parse_alert(b"\xEF\xBB\xBF{\"rule\":{}}\n").is_ok());
        assert!(matches!(
            parse_alert(&vec![b' '; MAX_ALERT_BYTES + 1]),
            Err(AlertError::TooLarge(_))
        ));
    }
}
