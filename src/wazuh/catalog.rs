//! Where IoCs sit in Wazuh alerts: a declarative table from alert field paths to
//! the extractor that reads each field.
//!
//! Rules are selected by the fields **present** in an alert, never by the position
//! of a rule group, so a local child rule with unusual groups extracts exactly what
//! the stock rule would.
//!
//! # Path syntax
//!
//! Dotted keys from the alert root (`data.win.eventdata.queryName`). A segment
//! ending in `[]` iterates the elements of an array (`data.dns.answers[].rdata`; a
//! single object there is taken as a one-element array). A `*` segment takes every
//! key of an object (`data.audit.execve.*` = `a0`, `a1`, ...). Keys are compared
//! exactly first and then ASCII case-insensitively, because decoders spell the same
//! field differently (Sysmon for Linux: `DestinationIp` vs `destinationIp`).
//!
//! Values under `data.win.eventdata.` are un-escaped first (the eventchannel decoder
//! doubles `\` and escapes `"`).
//!
//! The envelope (`agent.*`, `manager.*`, `decoder.*`, `predecoder.*`, `location`)
//! never carries candidates; `full_log`, `previous_output` and
//! `data.win.system.message` repeat structured fields and are not read (the message
//! only when an event has no `eventdata` at all).

use matcher::Kind;

/// How a field's string value is turned into candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extractor {
    /// One IP address; tolerates `ip:port`, `[v6]:port` and `%zone`. Values that are
    /// not addresses (AWS writes service names in `sourceIPAddress`) are skipped.
    Ip,
    /// A host name or an IP literal.
    Host,
    /// One absolute URL.
    Url,
    /// One e-mail address.
    Email,
    /// A hex digest of the given kind.
    Hash(Kind),
    /// A colon-separated certificate fingerprint (`4f:7a:…`), as [`Kind::Hash`].
    Fingerprint,
    /// Sysmon's composite `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`.
    SysmonHashes,
    /// Sysmon EID 22 `queryResults`: `;`-separated addresses and `type:  N name`
    /// records (CNAMEs and other names).
    DnsResults,
    /// A DNS answer's data; typed by the sibling `rrtype` (Suricata) or `type`
    /// (Packetbeat): only address and name records are read.
    DnsRdata,
    /// The `CN=` of an X.509 subject (`*.` dropped).
    CertSubject,
    /// Suricata `http.url`: an absolute URL as is; an origin-form path is joined
    /// with the sibling `hostname` when the server port (`data.dest_port`) says
    /// plain HTTP (80 or a common alternative port). Other ports leave the
    /// direction or scheme unknown (fileinfo events report the file's direction),
    /// and nothing is guessed.
    HttpUrl,
    /// The base name of a path (an NTFS stream suffix `:Zone.Identifier` dropped).
    Filename,
    /// An argument that is an absolute path (`/…`, `C:\…`): its base name.
    PathArg,
    /// A web request target: percent-decoded, then tokenised as text.
    RequestTarget,
    /// Free text, tokenised ([`matcher::tokenize`]); hits have method `token`.
    Text,
    /// The value as one item of the given kind, normalised.
    Exact(Kind),
}

impl Extractor {
    /// Extractors that tokenise free text. They run after all the others, so that a
    /// value found both in a structured field and in text keeps the structured field.
    pub fn is_text(self) -> bool {
        matches!(self, Extractor::Text | Extractor::RequestTarget)
    }

    /// The extractor for an extra path of the given kind (`None`: free text).
    pub fn for_kind(kind: Option<Kind>) -> Extractor {
        match kind {
            None => Extractor::Text,
            Some(Kind::Ipv4 | Kind::Ipv6) => Extractor::Ip,
            Some(Kind::Domain) => Extractor::Host,
            Some(Kind::Url) => Extractor::Url,
            Some(Kind::Email) => Extractor::Email,
            Some(Kind::Filename) => Extractor::Filename,
            Some(k) if k.is_hash() => Extractor::Hash(k),
            Some(k) => Extractor::Exact(k),
        }
    }
}

/// A condition on other fields of the alert (absolute paths, same syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cond {
    /// The path resolves to a value.
    Present(&'static str),
    /// The path resolves to nothing.
    Absent(&'static str),
    /// The path holds this string (ASCII case-insensitive).
    Equals(&'static str, &'static str),
    /// The path does not hold this string (also true when absent).
    NotEquals(&'static str, &'static str),
}

/// One row of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldRule {
    pub path: &'static str,
    pub extractor: Extractor,
    /// All must hold for the rule to apply.
    pub when: &'static [Cond],
}

const fn r(path: &'static str, extractor: Extractor) -> FieldRule {
    FieldRule {
        path,
        extractor,
        when: &[],
    }
}

const fn rw(path: &'static str, extractor: Extractor, when: &'static [Cond]) -> FieldRule {
    FieldRule {
        path,
        extractor,
        when,
    }
}

use Cond::{Absent, Equals, NotEquals, Present};
use Extractor::*;

/// The built-in rules, in priority order (the first field that yields a value
/// names it when the value occurs again).
pub static CATALOG: &[FieldRule] = &[
    // --- Windows Sysmon (eventchannel) ---------------------------------------------
    r("data.win.eventdata.hashes", SysmonHashes),
    // EID 15 names it `hash`
    r("data.win.eventdata.hash", SysmonHashes),
    r("data.win.eventdata.destinationIp", Ip),
    r("data.win.eventdata.sourceIp", Ip),
    // EID 3: the remote end's name. On an inbound connection (`initiated` false) the
    // destination is this host and the source is remote.
    rw(
        "data.win.eventdata.destinationHostname",
        Host,
        &[NotEquals("data.win.eventdata.initiated", "false")],
    ),
    rw(
        "data.win.eventdata.sourceHostname",
        Host,
        &[Equals("data.win.eventdata.initiated", "false")],
    ),
    r("data.win.eventdata.queryName", Host),
    r("data.win.eventdata.queryResults", DnsResults),
    // Windows Security logons (4624/4625 …)
    r("data.win.eventdata.ipAddress", Ip),
    // Sysmon EID 12/13/14: the registry key created, set or renamed.
    r("data.win.eventdata.targetObject", Exact(Kind::Regkey)),
    // Windows Filtering Platform connections (5156 allowed, 5157 blocked)
    r("data.win.eventdata.destAddress", Ip),
    r("data.win.eventdata.sourceAddress", Ip),
    // The file that `hashes` describes: the created process (EID 1), the loaded
    // image (EID 6/7) or the target file (EID 11, 15, 23–26). `image` is the acting
    // process everywhere else.
    rw(
        "data.win.eventdata.image",
        Filename,
        &[
            Present("data.win.eventdata.hashes"),
            Absent("data.win.eventdata.imageLoaded"),
            Absent("data.win.eventdata.targetFilename"),
        ],
    ),
    r("data.win.eventdata.imageLoaded", Filename),
    r("data.win.eventdata.targetFilename", Filename),
    // The PE's own name: differs from the base name when a binary was renamed.
    r("data.win.eventdata.originalFileName", Filename),
    // --- Sysmon for Linux (SOCFortress and other decoders; key case varies) --------
    r("data.eventdata.hashes", SysmonHashes),
    r("data.eventdata.hash", SysmonHashes),
    r("data.eventdata.destinationIp", Ip),
    r("data.eventdata.sourceIp", Ip),
    rw(
        "data.eventdata.destinationHostname",
        Host,
        &[NotEquals("data.eventdata.initiated", "false")],
    ),
    rw(
        "data.eventdata.sourceHostname",
        Host,
        &[Equals("data.eventdata.initiated", "false")],
    ),
    r("data.eventdata.queryName", Host),
    r("data.eventdata.queryResults", DnsResults),
    rw(
        "data.eventdata.image",
        Filename,
        &[
            Present("data.eventdata.hashes"),
            Absent("data.eventdata.imageLoaded"),
            Absent("data.eventdata.targetFilename"),
        ],
    ),
    r("data.eventdata.imageLoaded", Filename),
    r("data.eventdata.targetFilename", Filename),
    r("data.eventdata.originalFileName", Filename),
    // --- FIM / syscheck (`_before` hashes were an earlier event's `_after`) --------
    r("syscheck.md5_after", Hash(Kind::Md5)),
    r("syscheck.sha1_after", Hash(Kind::Sha1)),
    r("syscheck.sha256_after", Hash(Kind::Sha256)),
    // Registry events (they carry `arch`) have a key, not a file, in `path`.
    rw("syscheck.path", Filename, &[Absent("syscheck.arch")]),
    rw(
        "syscheck.path",
        Exact(Kind::Regkey),
        &[Present("syscheck.arch")],
    ),
    // --- osquery (columns depend on the user's packs) ------------------------------
    r("data.osquery.columns.sha256", Hash(Kind::Sha256)),
    r("data.osquery.columns.sha1", Hash(Kind::Sha1)),
    r("data.osquery.columns.md5", Hash(Kind::Md5)),
    r("data.osquery.columns.target_path", Filename),
    r("data.osquery.columns.path", Filename),
    r("data.osquery.columns.remote_address", Ip),
    // --- auditd --------------------------------------------------------------------
    r("data.audit.execve.*", PathArg),
    // --- Suricata EVE --------------------------------------------------------------
    r("data.src_ip", Ip),
    r("data.dest_ip", Ip),
    r("data.dns.rrname", Host),
    r("data.dns.query[].rrname", Host),
    r("data.dns.queries[].rrname", Host),
    r("data.dns.answers[].rdata", DnsRdata),
    r("data.dns.grouped.A[]", Ip),
    r("data.dns.grouped.AAAA[]", Ip),
    r("data.dns.grouped.CNAME[]", Host),
    r("data.http.hostname", Host),
    r("data.http.url", HttpUrl),
    r("data.tls.sni", Host),
    r("data.tls.subject", CertSubject),
    r("data.tls.fingerprint", Fingerprint),
    r("data.tls.ja3.hash", Hash(Kind::Hash)),
    r("data.fileinfo.sha256", Hash(Kind::Sha256)),
    r("data.fileinfo.sha1", Hash(Kind::Sha1)),
    r("data.fileinfo.md5", Hash(Kind::Md5)),
    r("data.fileinfo.filename", Filename),
    // --- Packetbeat DNS ------------------------------------------------------------
    r("data.dns.question.name", Host),
    r("data.dns.answers[].data", DnsRdata),
    // --- static fields: web access logs, firewalls, sshd, auditd, … ----------------
    r("data.srcip", Ip),
    r("data.dstip", Ip),
    // FortiGate
    r("data.remip", Ip),
    r("data.transip", Ip),
    r("data.hostname", Host),
    r("data.qname", Host),
    // --- Office 365 ----------------------------------------------------------------
    r("data.office365.ClientIP", Ip),
    r("data.office365.ActorIpAddress", Ip),
    r("data.office365.UserId", Email),
    // --- AWS (CloudTrail, GuardDuty) -----------------------------------------------
    r("data.aws.sourceIPAddress", Ip),
    r(
        "data.aws.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
        Ip,
    ),
    r(
        "data.aws.service.action.networkConnectionAction.remoteIpDetails.ipAddressV6",
        Ip,
    ),
    r(
        "data.aws.service.action.portProbeAction.portProbeDetails[].remoteIpDetails.ipAddressV4",
        Ip,
    ),
    r(
        "data.aws.service.action.awsApiCallAction.remoteIpDetails.ipAddressV4",
        Ip,
    ),
    r(
        "data.aws.service.action.kubernetesApiCallAction.remoteIpDetails.ipAddressV4",
        Ip,
    ),
    r("data.aws.service.action.dnsRequestAction.domain", Host),
    r(
        "data.aws.resource.instanceDetails.networkInterfaces[].privateIpAddress",
        Ip,
    ),
    r(
        "data.aws.resource.instanceDetails.networkInterfaces[].publicIp",
        Ip,
    ),
    // --- Wazuh's VirusTotal integration: the file it was asked about -------------
    r("data.virustotal.source.sha1", Hash(Kind::Sha1)),
    r("data.virustotal.source.md5", Hash(Kind::Md5)),
    r("data.virustotal.sha1", Hash(Kind::Sha1)),
    // --- Microsoft Graph security alerts (ms-graph module, alerts_v2 evidence) -----
    r("data.ms-graph.evidence[].ipAddress", Ip),
    r("data.ms-graph.evidence[].ipInterfaces[]", Ip),
    r("data.ms-graph.evidence[].url", Url),
    r(
        "data.ms-graph.evidence[].fileDetails.sha256",
        Hash(Kind::Sha256),
    ),
    r(
        "data.ms-graph.evidence[].fileDetails.sha1",
        Hash(Kind::Sha1),
    ),
    r(
        "data.ms-graph.evidence[].imageFile.sha256",
        Hash(Kind::Sha256),
    ),
    r("data.ms-graph.evidence[].imageFile.sha1", Hash(Kind::Sha1)),
    // --- GCP -----------------------------------------------------------------------
    r("data.gcp.protoPayload.requestMetadata.callerIp", Ip),
    r("data.gcp.jsonPayload.sourceIP", Ip),
    r("data.gcp.jsonPayload.queryName", Host),
    // --- Cloudflare WAF ------------------------------------------------------------
    r("data.ClientIP", Ip),
    r("data.ClientRequestHost", Host),
    // --- free text (tokenised after every structured field) ------------------------
    r("data.win.eventdata.commandLine", Text),
    r("data.win.eventdata.parentCommandLine", Text),
    // Paths: only UNC/WebDAV hosts (`\\host\share`) come out of these.
    r("data.win.eventdata.image", Text),
    r("data.win.eventdata.parentImage", Text),
    r("data.win.eventdata.imageLoaded", Text),
    r("data.win.eventdata.targetFilename", Text),
    // EID 15 Zone.Identifier: `ReferrerUrl=… HostUrl=…`
    r("data.win.eventdata.contents", Text),
    // EID 13 registry value set: the data written (a Run key's command line, a URL)
    r("data.win.eventdata.details", Text),
    r("data.eventdata.commandLine", Text),
    r("data.eventdata.parentCommandLine", Text),
    r("data.eventdata.image", Text),
    r("data.eventdata.parentImage", Text),
    // Events the eventchannel decoder could not split into eventdata.
    rw(
        "data.win.system.message",
        Text,
        &[Absent("data.win.eventdata")],
    ),
    r("data.osquery.columns.cmdline", Text),
    r("data.audit.execve.*", Text),
    r("data.audit.command", Text),
    r("data.url", RequestTarget),
    r("data.aws.description", Text),
];

/// Deepest path resolved (the deepest real field has 8 segments).
pub const MAX_PATH_SEGMENTS: usize = 16;

/// Top-level alert keys that are envelope, never candidates.
pub const ENVELOPE: &[&str] = &["agent", "manager", "decoder", "predecoder", "location"];

/// Whether `path` points into the alert envelope.
pub fn is_envelope_path(path: &str) -> bool {
    let first = path.split(['.', '[']).next().unwrap_or("");
    ENVELOPE.iter().any(|e| e.eq_ignore_ascii_case(first))
}

/// A path added at run time (configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtraPath {
    pub path: String,
    /// `None`: tokenise the value as free text.
    pub kind: Option<Kind>,
}

/// Why an extra path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtraPathError {
    #[error("extra path `{0}`: empty segment (write keys separated by single dots)")]
    EmptySegment(String),
    #[error("extra path `{0}` has more than {MAX_PATH_SEGMENTS} segments")]
    TooDeep(String),
    #[error("extra path `{0}` points into the alert envelope (agent, manager, decoder, predecoder, location), which never carries IoCs")]
    Envelope(String),
}

impl ExtraPath {
    /// A checked extra path.
    pub fn new(path: impl Into<String>, kind: Option<Kind>) -> Result<ExtraPath, ExtraPathError> {
        let path = path.into();
        if path.split('.').any(|s| s.is_empty() || s == "[]") {
            return Err(ExtraPathError::EmptySegment(path));
        }
        if path.split('.').count() > MAX_PATH_SEGMENTS {
            return Err(ExtraPathError::TooDeep(path));
        }
        if is_envelope_path(&path) {
            return Err(ExtraPathError::Envelope(path));
        }
        Ok(ExtraPath { path, kind })
    }

    pub fn extractor(&self) -> Extractor {
        Extractor::for_kind(self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_paths_are_well_formed_and_outside_the_envelope() {
        for rule in CATALOG {
            assert!(ExtraPath::new(rule.path, None).is_ok(), "{}", rule.path);
            for c in rule.when {
                let (Present(p) | Absent(p) | Equals(p, _) | NotEquals(p, _)) = *c;
                assert!(ExtraPath::new(p, None).is_ok(), "{p}");
            }
        }
        // No duplicate (path, extractor) rows.
        for (i, a) in CATALOG.iter().enumerate() {
            for b in &CATALOG[i + 1..] {
                assert!(
                    !(a.path == b.path && a.extractor == b.extractor),
                    "{}",
                    a.path
                );
            }
        }
    }

    #[test]
    fn covers_the_reference_field_table() {
        let has = |p: &str| CATALOG.iter().any(|r| r.path == p);
        for p in [
            "data.win.eventdata.hashes",
            "data.win.eventdata.destinationIp",
            "data.win.eventdata.sourceIp",
            "data.win.eventdata.destinationHostname",
            "data.win.eventdata.queryName",
            "data.win.eventdata.queryResults",
            "data.win.eventdata.commandLine",
            "data.win.eventdata.image",
            "data.win.eventdata.parentCommandLine",
            "data.eventdata.destinationIp",
            "syscheck.md5_after",
            "syscheck.sha1_after",
            "syscheck.sha256_after",
            "data.osquery.columns.sha256",
            "data.audit.execve.*",
            "data.audit.command",
            "data.src_ip",
            "data.dest_ip",
            "data.dns.rrname",
            "data.dns.answers[].rdata",
            "data.http.hostname",
            "data.http.url",
            "data.tls.sni",
            "data.fileinfo.sha256",
            "data.fileinfo.md5",
            "data.fileinfo.sha1",
            "data.url",
            "data.srcip",
            "data.dstip",
            "data.office365.ClientIP",
            "data.office365.ActorIpAddress",
            "data.aws.sourceIPAddress",
            "data.aws.service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
            "data.gcp.protoPayload.requestMetadata.callerIp",
            "data.ClientIP",
        ] {
            assert!(has(p), "{p}");
        }
    }

    #[test]
    fn extra_paths_are_checked() {
        assert!(matches!(
            ExtraPath::new("agent.ip", None),
            Err(ExtraPathError::Envelope(_))
        ));
        assert!(matches!(
            ExtraPath::new("Location", None),
            Err(ExtraPathError::Envelope(_))
        ));
        assert!(matches!(
            ExtraPath::new("data..x", None),
            Err(ExtraPathError::EmptySegment(_))
        ));
        let p = ExtraPath::new("data.custom.dst", Some(Kind::Ipv4)).unwrap();
        assert_eq!(p.extractor(), Extractor::Ip);
        assert_eq!(
            Extractor::for_kind(Some(Kind::Sha256)),
            Extractor::Hash(Kind::Sha256)
        );
        assert_eq!(
            Extractor::for_kind(Some(Kind::Regkey)),
            Extractor::Exact(Kind::Regkey)
        );
    }
}
