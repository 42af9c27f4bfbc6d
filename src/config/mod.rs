//! The TOML configuration (contract §3): loading, discovery, validation,
//! defaults, and the effective config shown by `--print-config`.
//!
//! Every table is read key by key (see [`table`]), so that an unknown key or a
//! bad value is an error naming the key, with its line. Nothing outside the
//! config file is read while loading: secrets are resolved later, by the
//! network sources that need them.

mod error;
mod matching;
mod sources;
mod sync;
mod table;
mod watch;
mod wazuh;

/// The config's text. `-` and `/dev/stdin` read the descriptor itself, not a
/// re-opened path: the sync user cannot open the root:wazuh config, so the
/// cron recipe (`packaging/cron.example`) has root open it and hand it over.
fn read_config_text(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") || path == Path::new("/dev/stdin") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use store::SourceConfig;

pub use error::ConfigError;
pub use matching::{
    ExtraPath, ExtractConfig, MatchingConfig, Observables, UnknownFields, WarninglistMode,
};
pub use sync::{parse_schedule, SyncConfig};
pub use watch::WatchConfig;
pub use wazuh::{Profile, WazuhConfig};

use table::{Doc, Table};

/// Where the config is looked for when neither `--config` nor
/// `$INTELMATCH_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/intelmatch/intelmatch.toml";
/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "INTELMATCH_CONFIG";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/intelmatch";

/// The whole configuration, every default filled in and every relative path
/// made absolute against the config file's directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Store and index generations live here.
    pub data_dir: PathBuf,
    pub wazuh: WazuhConfig,
    pub matching: MatchingConfig,
    pub extract: ExtractConfig,
    pub sync: SyncConfig,
    pub watch: WatchConfig,
    pub sources: Vec<SourceConfig>,
    #[serde(skip)]
    origin: PathBuf,
    #[serde(skip)]
    warnings: Vec<String>,
}

impl Default for Config {
    /// The configuration of an empty file at the default path.
    fn default() -> Self {
        let wazuh = WazuhConfig::default();
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            watch: WatchConfig::defaults_for(&wazuh),
            wazuh,
            matching: MatchingConfig::default(),
            extract: ExtractConfig::default(),
            sync: SyncConfig::default(),
            sources: Vec::new(),
            origin: PathBuf::from(DEFAULT_CONFIG_PATH),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// Read and validate the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with_hint(path, "")
    }

    /// Find the config: `explicit` (`--config`, or the integration options'
    /// `config`), else `$INTELMATCH_CONFIG`, else [`DEFAULT_CONFIG_PATH`].
    /// Returns the path used along with the config.
    pub fn discover(explicit: Option<&Path>) -> Result<(PathBuf, Config), ConfigError> {
        let env = std::env::var_os(CONFIG_ENV);
        Config::discover_from(explicit, env.as_deref())
    }

    /// [`Config::discover`] with the environment variable's value given.
    fn discover_from(
        explicit: Option<&Path>,
        env: Option<&OsStr>,
    ) -> Result<(PathBuf, Config), ConfigError> {
        let (path, hint) = match (explicit, env.filter(|v| !v.is_empty())) {
            (Some(path), _) => (path.to_owned(), ""),
            (None, Some(var)) => (PathBuf::from(var), " (named by $INTELMATCH_CONFIG)"),
            (None, None) => (
                PathBuf::from(DEFAULT_CONFIG_PATH),
                "; create it (see the README's Configuration section), \
                 or pass --config FILE, or set INTELMATCH_CONFIG",
            ),
        };
        let config = Config::load_with_hint(&path, hint)?;
        Ok((path, config))
    }

    fn load_with_hint(path: &Path, hint: &'static str) -> Result<Config, ConfigError> {
        let text = read_config_text(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => ConfigError::not_found(path, hint),
            _ => ConfigError::read(path, err),
        })?;
        let mut config = Config::from_toml_str(&text, path)?;
        if let Some(warning) = literal_secret_exposure(path, &config) {
            config.warnings.push(warning);
        }
        Ok(config)
    }

    /// Parse config text. `origin` is the file it came from: errors name it and
    /// relative paths resolve against its directory.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let base = std::path::absolute(origin)
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned))
            .unwrap_or_else(|| PathBuf::from("."));
        let doc = Doc::new(origin, text, base);
        let parsed = toml::de::DeTable::parse(text).map_err(|err| {
            let at = err.span().map_or(0, |s| s.start);
            ConfigError::syntax(origin, doc.line_of(at), doc.column_of(at), err.message())
        })?;
        let mut root = Table::new(&doc, String::new(), "", parsed.get_ref(), parsed.span());
        let mut warnings = Vec::new();

        let data_dir = root
            .path("data_dir")?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let wazuh = match root.table("wazuh")? {
            Some(t) => WazuhConfig::read(t)?,
            None => WazuhConfig::default(),
        };
        let matching = match root.table("matching")? {
            Some(t) => MatchingConfig::read(t)?,
            None => MatchingConfig::default(),
        };
        let extract = match root.table("extract")? {
            Some(t) => ExtractConfig::read(t)?,
            None => ExtractConfig::default(),
        };
        let sync = match root.table("sync")? {
            Some(t) => SyncConfig::read(t)?,
            None => SyncConfig::default(),
        };
        let watch = match root.table("watch")? {
            Some(t) => WatchConfig::read(t, &wazuh)?,
            None => WatchConfig::defaults_for(&wazuh),
        };
        let sources = sources::read_sources(&mut root, &mut warnings)?;
        root.finish()?;

        Ok(Config {
            data_dir,
            wazuh,
            matching,
            extract,
            sync,
            watch,
            sources,
            origin: origin.to_owned(),
            warnings,
        })
    }

    /// The file this config was read from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Things that work but should be fixed (literal secrets, plain http,
    /// disabled TLS checks), each one line naming the key. Loading happens
    /// before logging is set up, so the caller logs them: see
    /// [`Config::log_warnings`].
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Log [`Config::warnings`] at `warn` level.
    pub fn log_warnings(&self) {
        for w in &self.warnings {
            tracing::warn!("config {}: {w}", self.origin.display());
        }
    }

    /// `<data_dir>/store.sqlite`.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("store.sqlite")
    }

    /// `<data_dir>/index`, the parent of the index generations.
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }

    pub fn queue_socket(&self) -> &Path {
        &self.wazuh.queue_socket
    }

    pub fn log_file(&self) -> &Path {
        &self.wazuh.log_file
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The effective configuration as TOML, for `--print-config`: every
    /// default filled in, paths absolute, secrets shown as `env:NAME (masked)`,
    /// `file:PATH (masked)` or `<literal masked>`. Keys without a value are
    /// listed in comments. Removing the ` (masked)` marks gives a file that
    /// loads to the same configuration.
    pub fn render_effective(&self) -> String {
        let mut out = format!(
            "# Effective configuration read from {} (defaults filled in, secrets masked).\n",
            self.origin.display()
        );
        let unset = [
            (
                self.wazuh.profile.is_none(),
                "wazuh.profile: chosen by the integration options or the executable name, else native",
            ),
            (self.wazuh.hook_url.is_none(), "wazuh.hook_url"),
            (
                self.sync.schedule.is_none(),
                "sync.schedule: sync runs only when invoked",
            ),
        ];
        for (_, what) in unset.iter().filter(|(is_unset, _)| *is_unset) {
            out.push_str(&format!("# unset: {what}\n"));
        }
        out.push('\n');
        match toml::to_string_pretty(self) {
            Ok(body) => out.push_str(&body),
            Err(err) => out.push_str(&format!("# cannot render the configuration: {err}\n")),
        }
        out
    }
}

/// The config must stay readable by group wazuh for `integrate`, which needs no
/// secret: a literal secret in it is readable by that group at least.
#[cfg(unix)]
fn literal_secret_exposure(path: &Path, config: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    use store::SourceSettings;
    let has_literal = config.sources.iter().any(|s| match &s.settings {
        SourceSettings::Opencti(c) => c.token.is_literal(),
        SourceSettings::Misp(c) => c.key.is_literal(),
        _ => false,
    });
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (has_literal && mode & 0o044 != 0).then(|| {
        format!(
            "the file holds a literal secret and is readable by group or others \
             (mode {mode:04o}); move it to file:PATH (mode 0600) or env:NAME"
        )
    })
}

#[cfg(not(unix))]
fn literal_secret_exposure(_path: &Path, _config: &Config) -> Option<String> {
    None
}

/// An http(s) base URL: returned without a trailing slash, with whether it is https.
pub(crate) fn parse_http_url(s: &str) -> Result<(String, bool), String> {
    let url = url::Url::parse(s.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(format!(
                "must be an http:// or https:// URL, not {other}://"
            ))
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    // Credentials in a URL end up in logs and error messages.
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials; use the token or key setting".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must be a base URL, without ?query or #fragment".to_owned());
    }
    Ok((url.as_str().trim_end_matches('/').to_owned(), https))
}
