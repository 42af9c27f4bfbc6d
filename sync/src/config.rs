//! Per-source configuration (`[[sources]]` tables of the TOML config).
//!
//! Each source type has its own config struct, next to nothing else, so that
//! the root config can deserialise `[[sources]]` into [`SourceConfig`] and hand
//! each source its own settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A secret given as `env:NAME`, `file:PATH` or (with a warning) a literal.
/// It never prints: `Debug`, `Display` and `Serialize` all mask it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// How the secret was written in the config (`env:OPENCTI_TOKEN`, `file:/etc/...`,
    /// or `<literal>`), safe to show.
    pub spec: String,
    value: String,
}

impl Secret {
    pub fn new(spec: impl Into<String>, value: impl Into<String>) -> Secret {
        Secret {
            spec: spec.into(),
            value: value.into(),
        }
    }

    /// The secret itself. Callers must never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.spec)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{} (masked)", self.spec))
    }
}

/// One `[[sources]]` entry.
#[derive(Debug, Clone, Serialize)]
pub struct SourceConfig {
    /// Unique; appears in every hit.
    pub name: String,
    pub enabled: bool,
    pub settings: SourceSettings,
}

/// The type-specific part of a source.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SourceSettings {
    Opencti(OpenCtiConfig),
    Misp(MispConfig),
    Stix(StixConfig),
    MispFeed(MispFeedConfig),
    List(ListConfig),
}

impl SourceSettings {
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceSettings::Opencti(_) => "opencti",
            SourceSettings::Misp(_) => "misp",
            SourceSettings::Stix(_) => "stix",
            SourceSettings::MispFeed(_) => "misp-feed",
            SourceSettings::List(_) => "list",
        }
    }
}

/// TLS and timeouts shared by the network sources.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Extra CA bundle (PEM) trusted besides the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification. Only when asked for explicitly; warned about.
    #[serde(default)]
    pub insecure: bool,
    /// Per-request timeout, seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Connect timeout, seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Attempts per request before giving up (retries with backoff and jitter).
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout() -> u64 {
    60
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    5
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            ca_file: None,
            insecure: false,
            timeout_secs: default_timeout(),
            connect_timeout_secs: default_connect_timeout(),
            retries: default_retries(),
        }
    }
}

/// `type = "opencti"`.
#[derive(Debug, Clone, Serialize)]
pub struct OpenCtiConfig {
    pub url: String,
    pub token: Secret,
    pub http: HttpConfig,
    /// `first` per page; default 1000, never above 5000.
    pub page_size: u32,
    /// Re-read this many seconds before the watermark (clock skew, late commits).
    pub overlap_secs: u64,
    /// Run id reconciliation (deletions, merges) at most this often, seconds.
    pub reconcile_interval_secs: u64,
    pub min_score: Option<i64>,
    pub entity_types: Vec<String>,
    pub labels_include: Vec<String>,
    pub labels_exclude: Vec<String>,
    pub markings_exclude: Vec<String>,
    pub created_by: Vec<String>,
}

/// `type = "misp"`.
#[derive(Debug, Clone, Serialize)]
pub struct MispConfig {
    pub url: String,
    pub key: Secret,
    pub http: HttpConfig,
    /// `limit` per restSearch page (default 5000).
    pub page_size: u32,
    pub overlap_secs: u64,
    pub to_ids_only: bool,
    pub published_only: bool,
    pub types: Vec<String>,
    pub categories: Vec<String>,
    pub tags_include: Vec<String>,
    pub tags_exclude: Vec<String>,
    pub min_decay_score: Option<f64>,
    /// Also mirror the instance's enabled warninglists.
    pub mirror_warninglists: bool,
}

/// `type = "stix"`: a STIX 2.1 bundle file, or a directory of `*.json` bundles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StixConfig {
    pub path: PathBuf,
}

/// `type = "misp-feed"`: a MISP feed directory (`manifest.json` + event files).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MispFeedConfig {
    pub path: PathBuf,
    /// Only attributes with `to_ids` (default true).
    pub to_ids_only: bool,
}

/// `type = "list"`: one IoC per line, or one column of a CSV file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListConfig {
    /// A file, or a directory of files.
    pub path: PathBuf,
    /// Force a kind (`ipv4`, `domain`, ...); detected per line when absent.
    pub kind: Option<matcher::Kind>,
    /// 1-based CSV column holding the value; the whole line when absent.
    pub column: Option<usize>,
    /// CSV delimiter (default `,`).
    pub delimiter: char,
    /// Score given to every entry (lists carry none).
    pub score: Option<i64>,
    /// Labels given to every entry.
    pub labels: Vec<String>,
}
