//! `[wazuh]`: where the manager lives and how events are shaped for it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::table::Table;
use super::ConfigError;

pub use crate::wazuh::profile::Profile;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WazuhConfig {
    /// The manager's installation directory (`/var/ossec`).
    pub home: PathBuf,
    /// analysisd's queue socket (default `<home>/queue/sockets/queue`).
    pub queue_socket: PathBuf,
    /// Event shape. Unset: the options file, then the executable name decide
    /// (contract §4), else native.
    pub profile: Option<Profile>,
    /// The integrator's log (default `<home>/logs/integrations.log`).
    pub log_file: PathBuf,
    /// misp profile only: add the top-level `integration` key (the published
    /// rules expect it absent, hence off by default).
    pub misp_integration_key: bool,
    /// Base URL for links in events, without a trailing slash.
    pub hook_url: Option<String>,
}

impl WazuhConfig {
    pub const DEFAULT_HOME: &'static str = "/var/ossec";

    /// Every default, derived from `home`.
    pub fn with_home(home: impl Into<PathBuf>) -> WazuhConfig {
        let home = home.into();
        WazuhConfig {
            queue_socket: home.join("queue/sockets/queue"),
            log_file: home.join("logs/integrations.log"),
            home,
            profile: None,
            misp_integration_key: false,
            hook_url: None,
        }
    }

    /// `<home>/logs/alerts/alerts.json`, the default file `watch` follows.
    pub fn alerts_file(&self) -> PathBuf {
        self.home.join("logs/alerts/alerts.json")
    }

    pub(crate) fn read(mut t: Table<'_>) -> Result<WazuhConfig, ConfigError> {
        let home = t
            .path("home")?
            .unwrap_or_else(|| Path::new(Self::DEFAULT_HOME).to_owned());
        let mut w = WazuhConfig::with_home(home);
        if let Some(p) = t.path("queue_socket")? {
            w.queue_socket = p;
        }
        w.profile = t.parse("profile", |s| {
            s.parse::<Profile>().map_err(|e| e.to_string())
        })?;
        if let Some(p) = t.path("log_file")? {
            w.log_file = p;
        }
        if let Some(b) = t.bool("misp_integration_key")? {
            w.misp_integration_key = b;
        }
        w.hook_url = t.parse("hook_url", |s| super::parse_http_url(s).map(|(u, _)| u))?;
        t.finish()?;
        Ok(w)
    }
}

impl Default for WazuhConfig {
    fn default() -> Self {
        WazuhConfig::with_home(Self::DEFAULT_HOME)
    }
}
