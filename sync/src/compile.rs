//! The index compiler: store rows → a new index generation.
//!
//! Filters that are fixed at compile time (revoked, detection turned off,
//! expired, below `min_score`) are applied here and counted in the generation's `meta.json`;
//! `valid_until` stays in every record so that an indicator expiring between
//! two syncs stops matching at once. Keys beyond the limits a feed cannot
//! exceed ([`crate::limits`]) are refused here and counted in `refused`.

use std::path::Path;

use matcher::index::{BuildError, GenerationMeta, IndexBuilder};
use matcher::{MatchKey, Record, RecordKind};

use crate::limits::{Checker, Limits};
use crate::store::{Store, StoreError};

/// Compile-time choices (from `[matching]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompileOptions {
    pub min_score: i64,
    pub include_revoked: bool,
    pub include_expired: bool,
    pub limits: Limits,
    /// Index observables that no indicator is based on (`matching.observables =
    /// "report"`); the profiles report them as weak evidence.
    pub report_observables: bool,
}

/// Extra entries compiled into every generation besides the store's rows
/// (warninglists).
pub trait ExtraEntries {
    fn for_each(&self, f: &mut EntrySink<'_>) -> Result<(), BuildError>;
    /// What the set is, recorded in the generation's `meta.json` options
    /// (`status` shows it): a name and a JSON value.
    fn describe(&self) -> Option<(&'static str, serde_json::Value)> {
        None
    }
}

/// Receives one record and its keys.
pub type EntrySink<'a> = dyn FnMut(&Record, &[MatchKey]) -> Result<(), BuildError> + 'a;

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// The liveness rule: why the index leaves `r` out, if it does. The CDB export
/// applies the same, so that the lists and the index agree.
pub fn exclusion(r: &Record, opts: &CompileOptions, now: i64) -> Option<&'static str> {
    if r.revoked && !opts.include_revoked {
        return Some("revoked");
    }
    // OpenCTI `x_opencti_detection = false`: the analyst keeps the indicator as
    // knowledge but says it must not alert. Kept in the store, so that turning
    // detection back on needs no full sync.
    if r.detection == Some(false) {
        return Some("detection disabled");
    }
    if !opts.include_expired && r.valid_until_unix().is_some_and(|t| t <= now) {
        return Some("expired");
    }
    // A bare observable is a sighting of a value, not a verdict: it alerts
    // through the indicators based on it (folded into them by `store::read`),
    // or, when asked for, as weak evidence.
    if r.record_kind == RecordKind::Observable && !opts.report_observables {
        return Some("observable without indicator");
    }
    if r.score.is_some_and(|s| s < opts.min_score) {
        return Some("below min_score");
    }
    None
}

/// Compiles the live content of `store` (plus `extra`) into a new generation
/// under `index_dir` and publishes it.
pub fn compile(
    store: &Store,
    index_dir: &Path,
    opts: &CompileOptions,
    extra: &[&dyn ExtraEntries],
) -> Result<GenerationMeta, CompileError> {
    let now = chrono::Utc::now().timestamp();
    let mut builder = IndexBuilder::new(index_dir)?;
    builder.set_option("min_score", opts.min_score.into());
    builder.set_option("include_revoked", opts.include_revoked.into());
    builder.set_option("include_expired", opts.include_expired.into());
    let l = &opts.limits;
    for (name, value) in [
        ("min_prefix_ipv4", l.min_prefix_ipv4.into()),
        ("min_prefix_ipv6", l.min_prefix_ipv6.into()),
        (
            "warninglist_min_prefix_ipv4",
            l.warninglist_min_prefix_ipv4.into(),
        ),
        (
            "warninglist_min_prefix_ipv6",
            l.warninglist_min_prefix_ipv6.into(),
        ),
        ("max_substring_patterns", l.max_substring_patterns.into()),
    ] {
        builder.set_option(name, value);
    }
    let mut limits = Checker::new(l);

    let mut build_error: Option<BuildError> = None;
    store
        .for_each_index_entry(&mut |entry| {
            let r = &entry.record;
            if let Some(reason) = exclusion(r, opts, now) {
                // An indicator's copy carrying an observable's keys (see
                // `store::read`) follows its indicator, which is counted already.
                if !r.extra.contains_key("observable") {
                    builder.exclude(reason);
                }
                return Ok(());
            }
            let keys = limits.keys(r, &entry.keys, &mut builder);
            if keys.is_empty() && !entry.keys.is_empty() {
                builder.exclude("every key refused by a limit");
                return Ok(());
            }
            if let Err(e) = builder.add(r, &keys) {
                build_error = Some(e);
                return Err(StoreError::Consumer("index build failed".into()));
            }
            Ok(())
        })
        .map_err(|e| match build_error.take() {
            Some(b) => CompileError::Build(b),
            None => CompileError::Store(e),
        })?;
    for source in extra {
        if let Some((name, value)) = source.describe() {
            builder.set_option(name, value);
        }
        source.for_each(&mut |r, keys| {
            let keys = limits.keys(r, keys, &mut builder);
            if !keys.is_empty() {
                builder.add(r, &keys)?;
            }
            Ok(())
        })?;
    }
    Ok(builder.finish()?)
}
