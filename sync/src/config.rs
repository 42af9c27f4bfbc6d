//! Per-source configuration (`[[sources]]` tables of the TOML config).
//!
//! Each source type has its own config struct, next to nothing else, so that
//! the root config loader can build [`SourceConfig`]s and hand each source its
//! own settings. The loader (`intelmatch::config`) is the only place that reads
//! TOML: it validates every key and fills the defaults defined here.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A secret as written in the config: `env:NAME`, `file:PATH` or (with a
/// warning) a literal.
///
/// Nothing is read when the config is loaded: the per-alert `integrate` process
/// runs as another user and must not fail on a token file it cannot read. The
/// value is fetched by [`Secret::resolve`] when a network source is built.
///
/// `Debug`, `Display` and `Serialize` show only where the secret comes from,
/// never its value, so a `Secret` can be logged or rendered safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(SecretSpec);

#[derive(Clone, PartialEq, Eq)]
enum SecretSpec {
    Env(String),
    File(PathBuf),
    Literal(String),
}

impl Secret {
    /// The value of environment variable `name`, read at [`Secret::resolve`].
    pub fn env(name: impl Into<String>) -> Secret {
        Secret(SecretSpec::Env(name.into()))
    }

    /// The content of `path` minus trailing newlines, read at [`Secret::resolve`].
    pub fn file(path: impl Into<PathBuf>) -> Secret {
        Secret(SecretSpec::File(path.into()))
    }

    /// A value written in the config itself.
    pub fn literal(value: impl Into<String>) -> Secret {
        Secret(SecretSpec::Literal(value.into()))
    }

    pub fn env_name(&self) -> Option<&str> {
        match &self.0 {
            SecretSpec::Env(name) => Some(name),
            _ => None,
        }
    }

    pub fn file_path(&self) -> Option<&Path> {
        match &self.0 {
            SecretSpec::File(path) => Some(path),
            _ => None,
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self.0, SecretSpec::Literal(_))
    }

    /// Fetch the value. Errors name the variable or the file, never a value.
    /// A secret file readable by group or others is warned about (`tracing`).
    pub fn resolve(&self) -> Result<SecretValue, SecretError> {
        let (value, warning) = self.resolve_checked()?;
        if let Some(warning) = warning {
            tracing::warn!("{warning}");
        }
        Ok(value)
    }

    /// [`Secret::resolve`], handing back the warning instead of logging it.
    pub fn resolve_checked(&self) -> Result<(SecretValue, Option<String>), SecretError> {
        match &self.0 {
            SecretSpec::Env(name) => match std::env::var(name) {
                Ok(value) if value.is_empty() => Err(SecretError::EnvEmpty { name: name.clone() }),
                Ok(value) => Ok((SecretValue(value), None)),
                Err(std::env::VarError::NotPresent) => {
                    Err(SecretError::EnvMissing { name: name.clone() })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(SecretError::EnvNotUnicode { name: name.clone() })
                }
            },
            SecretSpec::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::FileRead {
                        path: path.clone(),
                        source,
                    })?;
                // Editors and `echo` add a final newline that is not part of the token.
                let value = text.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    return Err(SecretError::FileEmpty { path: path.clone() });
                }
                Ok((SecretValue(value.to_owned()), file_mode_warning(path)))
            }
            SecretSpec::Literal(value) => Ok((SecretValue(value.clone()), None)),
        }
    }
}

#[cfg(unix)]
fn file_mode_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then(|| {
        format!(
            "secret file {} is readable by group or others (mode {mode:04o}); run chmod 600 on it",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn file_mode_warning(_path: &Path) -> Option<String> {
    None
}

/// How the secret is written, with the value masked: `env:NAME (masked)`,
/// `file:PATH (masked)` or `<literal masked>`.
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SecretSpec::Env(name) => write!(f, "env:{name} (masked)"),
            SecretSpec::File(path) => write!(f, "file:{} (masked)", path.display()),
            SecretSpec::Literal(_) => f.write_str("<literal masked>"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A resolved secret. It has no `Display` or `Serialize`, and its `Debug` is
/// masked: the only way to the value is [`SecretValue::expose`], to put it in
/// a request header.
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        // Best effort: do not leave the token in freed memory.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// Why a secret could not be resolved. Never contains the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret env:{name}: environment variable {name} is not set")]
    EnvMissing { name: String },
    #[error("secret env:{name}: environment variable {name} is empty")]
    EnvEmpty { name: String },
    #[error("secret env:{name}: environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("secret file:{}: cannot read it: {source}", path.display())]
    FileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret file:{}: the file is empty", path.display())]
    FileEmpty { path: PathBuf },
}

/// One `[[sources]]` entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceConfig {
    /// Unique, `[A-Za-z0-9._-]+`; appears in every hit.
    pub name: String,
    /// `type = "..."` and the type's own keys.
    #[serde(flatten)]
    pub settings: SourceSettings,
    /// Disabled sources stay in the store but are not synced (default true).
    pub enabled: bool,
}

/// The type-specific part of a source.
#[derive(Debug, Clone, Serialize, PartialEq)]
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

    /// OpenCTI and MISP talk to a server; the others read local files.
    pub fn is_network(&self) -> bool {
        matches!(self, SourceSettings::Opencti(_) | SourceSettings::Misp(_))
    }
}

/// TLS and timeouts shared by the network sources. In the TOML these keys sit
/// directly in the source's table (`ca_file = ...`), not in a sub-table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Extra CA bundle (PEM) trusted besides the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification. Only when asked for explicitly; warned about.
    #[serde(default)]
    pub insecure: bool,
    /// Per-request timeout, seconds (≥ 1).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Connect timeout, seconds (≥ 1).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Retries after a failed attempt, with backoff and jitter; 0 = a single attempt.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The first wait before a retry, milliseconds; each further one waits
    /// twice as long (with jitter). A server's `Retry-After` wins over it.
    #[serde(default = "default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    /// A reply is read up to this many bytes, counted after decompression;
    /// past it the request fails (a gzip bomb, a runaway export).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
}

fn default_timeout() -> u64 {
    HttpConfig::DEFAULT_TIMEOUT_SECS
}
fn default_connect_timeout() -> u64 {
    HttpConfig::DEFAULT_CONNECT_TIMEOUT_SECS
}
fn default_retries() -> u32 {
    HttpConfig::DEFAULT_RETRIES
}
fn default_retry_delay_ms() -> u64 {
    HttpConfig::DEFAULT_RETRY_DELAY_MS
}
fn default_max_response_bytes() -> u64 {
    HttpConfig::DEFAULT_MAX_RESPONSE_BYTES
}

impl HttpConfig {
    pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
    pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
    pub const DEFAULT_RETRIES: u32 = 5;
    pub const DEFAULT_RETRY_DELAY_MS: u64 = 500;
    /// A 5,000-row page is a few MiB of JSON: this leaves a wide margin.
    pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

    /// [`HttpConfig::retry_delay_ms`] as a duration.
    pub fn retry_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.retry_delay_ms.max(1))
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            ca_file: None,
            insecure: false,
            timeout_secs: HttpConfig::DEFAULT_TIMEOUT_SECS,
            connect_timeout_secs: HttpConfig::DEFAULT_CONNECT_TIMEOUT_SECS,
            retries: HttpConfig::DEFAULT_RETRIES,
            retry_delay_ms: HttpConfig::DEFAULT_RETRY_DELAY_MS,
            max_response_bytes: HttpConfig::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// `type = "opencti"`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenCtiConfig {
    /// Base URL without a trailing slash; the client appends `/graphql`.
    pub url: String,
    pub token: Secret,
    #[serde(flatten)]
    pub http: HttpConfig,
    /// `first` per page; 1..=5000.
    pub page_size: u32,
    /// Re-read this many seconds before the watermark (clock skew, late commits).
    pub overlap_secs: u64,
    /// Run id reconciliation (deletions, merges) at most this often, seconds.
    pub reconcile_interval_secs: u64,
    /// Skip indicators scored below this (0..=100); none = keep all.
    pub min_score: Option<i64>,
    /// Entity types to pull; empty = all.
    pub entity_types: Vec<String>,
    pub labels_include: Vec<String>,
    pub labels_exclude: Vec<String>,
    pub markings_exclude: Vec<String>,
    /// Only intel created by these identities (names); empty = any.
    pub created_by: Vec<String>,
}

impl OpenCtiConfig {
    pub const DEFAULT_PAGE_SIZE: u32 = 1000;
    pub const MAX_PAGE_SIZE: u32 = 5000;
    pub const DEFAULT_OVERLAP_SECS: u64 = 300;
    pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 6 * 3600;

    /// A config with every default, as the loader fills them.
    pub fn new(url: impl Into<String>, token: Secret) -> OpenCtiConfig {
        OpenCtiConfig {
            url: url.into(),
            token,
            http: HttpConfig::default(),
            page_size: Self::DEFAULT_PAGE_SIZE,
            overlap_secs: Self::DEFAULT_OVERLAP_SECS,
            reconcile_interval_secs: Self::DEFAULT_RECONCILE_INTERVAL_SECS,
            min_score: None,
            entity_types: Vec::new(),
            labels_include: Vec::new(),
            labels_exclude: Vec::new(),
            markings_exclude: Vec::new(),
            created_by: Vec::new(),
        }
    }
}

/// `type = "misp"`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MispConfig {
    /// Base URL without a trailing slash.
    pub url: String,
    pub key: Secret,
    #[serde(flatten)]
    pub http: HttpConfig,
    /// `limit` per restSearch page (default 5000).
    pub page_size: u32,
    pub overlap_secs: u64,
    /// Only attributes flagged `to_ids` (default true).
    pub to_ids_only: bool,
    /// Only attributes of published events (default false).
    pub published_only: bool,
    /// Attribute types to pull; empty = all.
    pub types: Vec<String>,
    pub categories: Vec<String>,
    pub tags_include: Vec<String>,
    pub tags_exclude: Vec<String>,
    /// Drop attributes whose decay score is below this (0..=100).
    pub min_decay_score: Option<f64>,
    /// Also mirror the instance's enabled warninglists (default true).
    pub mirror_warninglists: bool,
}

impl MispConfig {
    pub const DEFAULT_PAGE_SIZE: u32 = 5000;
    pub const MAX_PAGE_SIZE: u32 = 50_000;
    pub const DEFAULT_OVERLAP_SECS: u64 = 300;

    /// A config with every default, as the loader fills them.
    pub fn new(url: impl Into<String>, key: Secret) -> MispConfig {
        MispConfig {
            url: url.into(),
            key,
            http: HttpConfig::default(),
            page_size: Self::DEFAULT_PAGE_SIZE,
            overlap_secs: Self::DEFAULT_OVERLAP_SECS,
            to_ids_only: true,
            published_only: false,
            types: Vec::new(),
            categories: Vec::new(),
            tags_include: Vec::new(),
            tags_exclude: Vec::new(),
            min_decay_score: None,
            mirror_warninglists: true,
        }
    }
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
    /// Score given to every entry (0..=100; lists carry none).
    pub score: Option<i64>,
    /// Labels given to every entry.
    pub labels: Vec<String>,
}

impl ListConfig {
    /// A config with every default, as the loader fills them.
    pub fn new(path: impl Into<PathBuf>) -> ListConfig {
        ListConfig {
            path: path.into(),
            kind: None,
            column: None,
            delimiter: ',',
            score: None,
            labels: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shows_only_its_origin() {
        let literal = Secret::literal("hunter2-literal");
        assert_eq!(literal.to_string(), "<literal masked>");
        assert_eq!(format!("{literal:?}"), "Secret(<literal masked>)");
        assert_eq!(
            serde_json::to_string(&literal).unwrap(),
            "\"<literal masked>\""
        );
        let env = Secret::env("SOME_TOKEN");
        assert_eq!(env.to_string(), "env:SOME_TOKEN (masked)");
        assert_eq!(
            Secret::file("/etc/x.token").to_string(),
            "file:/etc/x.token (masked)"
        );
        let value = literal.resolve().unwrap();
        assert_eq!(value.expose(), "hunter2-literal");
        assert_eq!(format!("{value:?}"), "SecretValue(***)");
    }

    #[test]
    fn missing_env_var_names_the_variable() {
        let err = Secret::env("INTELMATCH_TEST_UNSET_VARIABLE_42")
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret env:INTELMATCH_TEST_UNSET_VARIABLE_42: environment variable \
             INTELMATCH_TEST_UNSET_VARIABLE_42 is not set"
        );
    }

    #[test]
    fn file_secret_trims_newline_and_warns_on_loose_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc123\r\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (value, warning) = Secret::file(&path).resolve_checked().unwrap();
        assert_eq!(value.expose(), "abc123");
        assert_eq!(warning, None);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (_, warning) = Secret::file(&path).resolve_checked().unwrap();
        let warning = warning.expect("group-readable file warns");
        assert!(warning.contains("mode 0640"), "{warning}");
        assert!(!warning.contains("abc123"));

        std::fs::write(&path, "\n").unwrap();
        let err = Secret::file(&path).resolve().unwrap_err();
        assert!(matches!(err, SecretError::FileEmpty { .. }), "{err}");
    }
}
