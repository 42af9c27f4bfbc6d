//! `[matching]` (which hits count) and `[extract]` (which alert values are looked up).

use std::path::PathBuf;

use matcher::Kind;
use serde::Serialize;

use super::table::Table;
use super::ConfigError;

pub use matcher::lookup::WarninglistMode;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchingConfig {
    /// Drop indicators scored below this (0..=100).
    pub min_score: i64,
    pub include_revoked: bool,
    pub include_expired: bool,
    pub warninglists: WarninglistMode,
    /// Extra directories of MISP-format warninglists, besides the built-in ones.
    pub warninglist_dirs: Vec<PathBuf>,
    /// Only these warninglists (by name or bundled directory); empty: all.
    pub warninglists_enabled: Vec<String>,
    /// These warninglists are not applied.
    pub warninglists_disabled: Vec<String>,
    /// Never look up private, loopback, link-local, multicast, reserved or
    /// documentation addresses taken from alerts.
    pub skip_non_public: bool,
    /// At most this many events are sent for one alert (≥ 1).
    pub max_events_per_alert: usize,
    /// Match subdomains of indicator domains (never across a public suffix).
    pub parent_domains: bool,
    /// Match the host of a URL value against host indicators.
    pub url_host: bool,
    /// Indicator networks broader than these are refused (1..=32, 1..=128).
    pub min_prefix_ipv4: u8,
    pub min_prefix_ipv6: u8,
    /// Warninglist networks broader than these are refused, unless wholly
    /// inside one non-public range (multicast, link-local, ...).
    pub warninglist_min_prefix_ipv4: u8,
    pub warninglist_min_prefix_ipv6: u8,
    /// Substring and prefix patterns one source may put in the index.
    pub max_substring_patterns: usize,
    /// Kinds whose hits are weak evidence: flagged `weak`, graded low by the
    /// native pack, not sent under the drop-in profiles.
    pub weak_kinds: Vec<Kind>,
    /// Send weak hits under the `opencti` and `misp` profiles, whose published
    /// rules page on them as on a hash.
    pub send_weak_in_dropin: bool,
    /// Observables no indicator is based on: left out, or reported as weak evidence.
    pub observables: Observables,
}

/// `[matching] observables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Observables {
    Ignore,
    Report,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        let limits = store::limits::Limits::default();
        MatchingConfig {
            min_score: 0,
            include_revoked: false,
            include_expired: false,
            warninglists: WarninglistMode::Suppress,
            warninglist_dirs: Vec::new(),
            warninglists_enabled: Vec::new(),
            warninglists_disabled: Vec::new(),
            skip_non_public: true,
            max_events_per_alert: 10,
            parent_domains: true,
            url_host: true,
            min_prefix_ipv4: limits.min_prefix_ipv4,
            min_prefix_ipv6: limits.min_prefix_ipv6,
            warninglist_min_prefix_ipv4: limits.warninglist_min_prefix_ipv4,
            warninglist_min_prefix_ipv6: limits.warninglist_min_prefix_ipv6,
            max_substring_patterns: limits.max_substring_patterns,
            weak_kinds: vec![Kind::Filename],
            send_weak_in_dropin: false,
            observables: Observables::Ignore,
        }
    }
}

impl MatchingConfig {
    /// The match-time options the matcher needs, as of `now`.
    pub fn lookup_options(&self) -> matcher::lookup::LookupOptions {
        matcher::lookup::LookupOptions {
            now: chrono::Utc::now().timestamp(),
            include_expired: self.include_expired,
            include_revoked: self.include_revoked,
            min_score: self.min_score,
            parent_domains: self.parent_domains,
            url_host: self.url_host,
            warninglists: self.warninglists,
        }
    }

    /// How hits become events on the per-alert path (integrate, watch, match).
    pub fn profile_options(&self) -> crate::wazuh::profile::ProfileOptions {
        crate::wazuh::profile::ProfileOptions {
            max_events: self.max_events_per_alert,
            include_revoked: self.include_revoked,
            min_score: self.min_score,
            weak_kinds: self.weak_kinds.clone(),
            send_weak_in_dropin: self.send_weak_in_dropin,
            ..Default::default()
        }
    }

    /// The compile-time filters and limits of the index.
    pub fn compile_options(&self) -> store::compile::CompileOptions {
        store::compile::CompileOptions {
            min_score: self.min_score,
            include_revoked: self.include_revoked,
            include_expired: self.include_expired,
            limits: store::limits::Limits {
                min_prefix_ipv4: self.min_prefix_ipv4,
                min_prefix_ipv6: self.min_prefix_ipv6,
                warninglist_min_prefix_ipv4: self.warninglist_min_prefix_ipv4,
                warninglist_min_prefix_ipv6: self.warninglist_min_prefix_ipv6,
                max_substring_patterns: self.max_substring_patterns,
            },
            report_observables: self.observables == Observables::Report,
        }
    }

    pub(crate) fn read(mut t: Table<'_>) -> Result<MatchingConfig, ConfigError> {
        let d = MatchingConfig::default();
        let m = MatchingConfig {
            min_score: t.int("min_score", 0, 100)?.unwrap_or(d.min_score),
            include_revoked: t.bool("include_revoked")?.unwrap_or(d.include_revoked),
            include_expired: t.bool("include_expired")?.unwrap_or(d.include_expired),
            warninglists: t
                .choice(
                    "warninglists",
                    &[
                        ("suppress", WarninglistMode::Suppress),
                        ("annotate", WarninglistMode::Annotate),
                        ("off", WarninglistMode::Off),
                    ],
                )?
                .unwrap_or(d.warninglists),
            warninglist_dirs: t.paths("warninglist_dirs")?.unwrap_or_default(),
            warninglists_enabled: t
                .strings("warninglists_enabled", false)?
                .unwrap_or_default(),
            warninglists_disabled: t
                .strings("warninglists_disabled", false)?
                .unwrap_or_default(),
            skip_non_public: t.bool("skip_non_public")?.unwrap_or(d.skip_non_public),
            max_events_per_alert: t
                .int("max_events_per_alert", 1, i64::MAX)?
                .unwrap_or(d.max_events_per_alert),
            parent_domains: t.bool("parent_domains")?.unwrap_or(d.parent_domains),
            url_host: t.bool("url_host")?.unwrap_or(d.url_host),
            min_prefix_ipv4: t
                .int("min_prefix_ipv4", 1, 32)?
                .unwrap_or(d.min_prefix_ipv4),
            min_prefix_ipv6: t
                .int("min_prefix_ipv6", 1, 128)?
                .unwrap_or(d.min_prefix_ipv6),
            warninglist_min_prefix_ipv4: t
                .int("warninglist_min_prefix_ipv4", 1, 32)?
                .unwrap_or(d.warninglist_min_prefix_ipv4),
            warninglist_min_prefix_ipv6: t
                .int("warninglist_min_prefix_ipv6", 1, 128)?
                .unwrap_or(d.warninglist_min_prefix_ipv6),
            max_substring_patterns: t
                .int("max_substring_patterns", 0, 1_000_000)?
                .unwrap_or(d.max_substring_patterns),
            weak_kinds: match t.strings("weak_kinds", false)? {
                Some(names) => {
                    let mut kinds = Vec::with_capacity(names.len());
                    for (i, name) in names.iter().enumerate() {
                        let kind = parse_kind(name)
                            .map_err(|e| t.error_at(&format!("weak_kinds[{i}]"), e, None))?;
                        kinds.push(kind);
                    }
                    kinds
                }
                None => d.weak_kinds,
            },
            send_weak_in_dropin: t
                .bool("send_weak_in_dropin")?
                .unwrap_or(d.send_weak_in_dropin),
            observables: t
                .choice(
                    "observables",
                    &[
                        ("ignore", Observables::Ignore),
                        ("report", Observables::Report),
                    ],
                )?
                .unwrap_or(d.observables),
        };
        t.finish()?;
        Ok(m)
    }
}

/// One extra alert field to take values from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtraPath {
    /// Dotted path into the alert JSON (`data.foo.bar`).
    pub path: String,
    /// The kind of the field's value; absent = tokenise it as free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractConfig {
    /// Fields looked at besides the built-in ones.
    pub extra_paths: Vec<ExtraPath>,
    /// At most this many candidate values per alert (≥ 1).
    pub max_candidates: usize,
    /// Look up the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
    /// 203.0.113.0/24, 2001:db8::/32) taken from alerts, for labs and tests whose
    /// sample data uses them. Off by default: they are never real traffic.
    pub documentation_is_public: bool,
    /// `"strong"`: `data` fields no rule reads are looked up when their whole
    /// value is a strong value (custom decoders); `"off"`: only the catalog.
    pub unknown_fields: UnknownFields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownFields {
    Strong,
    Off,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            extra_paths: Vec::new(),
            max_candidates: 256,
            documentation_is_public: false,
            unknown_fields: UnknownFields::Strong,
        }
    }
}

impl ExtractConfig {
    pub(crate) fn read(mut t: Table<'_>) -> Result<ExtractConfig, ConfigError> {
        let doc = t.doc();
        let mut extra_paths = Vec::new();
        for (i, table, span) in t.tables("extra_paths")? {
            let mut e = Table::new(
                doc,
                t.location(&format!("extra_paths[{i}]")),
                ".",
                table,
                span,
            );
            let path = e
                .parse("path", parse_field_path)?
                .ok_or_else(|| e.missing("path", "the dotted alert field to read"))?;
            let kind = e.parse("kind", parse_kind)?;
            e.finish()?;
            extra_paths.push(ExtraPath { path, kind });
        }
        let max_candidates = t
            .int("max_candidates", 1, i64::MAX)?
            .unwrap_or(ExtractConfig::default().max_candidates);
        let documentation_is_public = t.bool("documentation_is_public")?.unwrap_or(false);
        let unknown_fields = t
            .parse("unknown_fields", |s| match s {
                "strong" => Ok(UnknownFields::Strong),
                "off" => Ok(UnknownFields::Off),
                other => Err(format!("expected \"strong\" or \"off\", got `{other}`")),
            })?
            .unwrap_or(UnknownFields::Strong);
        t.finish()?;
        Ok(ExtractConfig {
            extra_paths,
            max_candidates,
            documentation_is_public,
            unknown_fields,
        })
    }

    /// The extraction settings for the per-alert path.
    pub fn options(&self, matching: &MatchingConfig) -> crate::wazuh::extract::ExtractOptions {
        crate::wazuh::extract::ExtractOptions {
            skip_non_public: matching.skip_non_public,
            // Checked when the config was read.
            extra_paths: self
                .extra_paths
                .iter()
                .filter_map(|p| crate::wazuh::catalog::ExtraPath::new(&p.path, p.kind).ok())
                .collect(),
            max_candidates: self.max_candidates,
            documentation_is_public: self.documentation_is_public,
            unknown_fields: self.unknown_fields == UnknownFields::Strong,
            // Set from the index by the enricher.
            file_paths: false,
        }
    }
}

fn parse_field_path(s: &str) -> Result<String, String> {
    if s.split('.').any(|seg| seg.trim().is_empty()) {
        return Err(format!(
            "`{s}` is not a dotted field path like data.srcip (empty segment)"
        ));
    }
    crate::wazuh::catalog::ExtraPath::new(s, None).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}

/// A value kind by name, listing the valid names on error.
pub(crate) fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse::<Kind>().map_err(|_| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("expected one of {}, got `{s}`", names.join(", "))
    })
}
