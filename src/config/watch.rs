//! `[watch]`: the resident mode that follows Wazuh's alert log.

use std::path::PathBuf;

use serde::Serialize;

use super::table::Table;
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchConfig {
    /// The file followed (default `<wazuh home>/logs/alerts/alerts.json`;
    /// `archives.json` works too).
    pub file: PathBuf,
    /// Only alerts in at least one of these rule groups; empty = all.
    pub groups_include: Vec<String>,
    /// Never alerts in any of these rule groups.
    pub groups_exclude: Vec<String>,
    /// Only these rule ids; empty = all. Numbers are accepted in the TOML.
    pub rule_ids: Vec<String>,
    /// Only alerts of at least this rule level (0..=16).
    pub min_level: u8,
}

impl WatchConfig {
    /// Every default, for the given `[wazuh]` section.
    pub fn defaults_for(wazuh: &super::WazuhConfig) -> WatchConfig {
        WatchConfig {
            file: wazuh.alerts_file(),
            groups_include: Vec::new(),
            groups_exclude: Vec::new(),
            rule_ids: Vec::new(),
            min_level: 0,
        }
    }

    pub(crate) fn read(
        mut t: Table<'_>,
        wazuh: &super::WazuhConfig,
    ) -> Result<WatchConfig, ConfigError> {
        let d = WatchConfig::defaults_for(wazuh);
        let w = WatchConfig {
            file: t.path("file")?.unwrap_or(d.file),
            groups_include: t.strings("groups_include", false)?.unwrap_or_default(),
            groups_exclude: t.strings("groups_exclude", false)?.unwrap_or_default(),
            rule_ids: t.strings("rule_ids", true)?.unwrap_or_default(),
            min_level: t.int("min_level", 0, 16)?.unwrap_or(d.min_level),
        };
        t.finish()?;
        Ok(w)
    }
}
