//! The index compiler: store rows → a new index generation.
//!
//! Filters that are fixed at compile time (revoked, detection turned off,
//! expired, below `min_score`) are applied here and counted in the generation's `meta.json`;
//! `valid_until` stays in every record so that an indicator expiring between
//! two syncs stops matching at once. Keys beyond the limits a feed cannot
//! exceed ([`crate::limits`]) are refused here and counted in `refused`.

use std::path::Path;

use matcher::index::{BuildError, GenerationMeta, IndexBuilder};
use matcher::{MatchKey, Record};

use crate::limits::{Checker, Limits};
use crate::store::{Store, StoreError};

/// Compile-time choices (from `[matching]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompileOptions {
    pub min_score: i64,
    pub include_revoked: bool,
    pub include_expired: bool,
    pub limits: Limits,
}

/// Extra entries compiled into every generation besides the store's rows
/// (warninglists).
pub trait ExtraEntries {
    fn for_each(&self, f: &mut EntrySink<'_>) -> Result<(), BuildError>;
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
            if r.revoked && !opts.include_revoked {
                builder.exclude("revoked");
                return Ok(());
            }
            // OpenCTI `x_opencti_detection = false`: the analyst keeps the
            // indicator as knowledge but says it must not alert. Kept in the
            // store, so that turning detection back on needs no full sync.
            if r.detection == Some(false) {
                builder.exclude("detection disabled");
                return Ok(());
            }
            if !opts.include_expired && r.valid_until_unix().is_some_and(|t| t <= now) {
                builder.exclude("expired");
                return Ok(());
            }
            // A bare observable is a sighting of a value, not a verdict: it alerts
            // only through the indicators based on it or related to it.
            if r.record_kind == matcher::RecordKind::Observable
                && !r.extra.contains_key("indicators")
            {
                builder.exclude("observable without indicator");
                return Ok(());
            }
            if r.score.is_some_and(|s| s < opts.min_score) {
                builder.exclude("below min_score");
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
