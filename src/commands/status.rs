//! `intelmatch status`: per source the last sync, its result and counts; the
//! index generation, its age and size; and warnings worth acting on.

use std::process::ExitCode;

use serde_json::json;
use store::{RunStatus, SourceStatus, Store, StoreError};

use super::{terminal, Failure};
use crate::cli::StatusArgs;
use crate::config::Config;

/// Intel older than this is called stale.
pub const STALE_AFTER_HOURS: i64 = 48;

pub fn run(config: &Config, args: &StatusArgs) -> Result<ExitCode, Failure> {
    let store = match Store::open_readonly(config.store_path()) {
        Ok(s) => Some(s),
        Err(StoreError::Missing { .. }) => None,
        Err(e) => return Err(Failure::Runtime(e.to_string())),
    };
    let store_status = match &store {
        Some(s) => Some(s.status().map_err(|e| Failure::Runtime(e.to_string()))?),
        None => None,
    };
    let index = matcher::index::Index::open(&config.index_dir());
    let now = chrono::Utc::now();
    let mut warnings = Vec::new();

    if store_status.is_none() {
        warnings.push(format!(
            "no store at {}: run `intelmatch sync`",
            config.store_path().display()
        ));
    }
    let sources: &[SourceStatus] = store_status.as_ref().map_or(&[], |s| &s.sources);
    for cfg in &config.sources {
        match sources.iter().find(|s| s.name == cfg.name) {
            None => warnings.push(format!("source {}: never synced", cfg.name)),
            Some(s) => {
                if let Some(run) = &s.last_run {
                    if run.status == RunStatus::Failed {
                        warnings.push(format!(
                            "source {}: last sync failed: {}",
                            s.name,
                            run.error.as_deref().unwrap_or("unknown error")
                        ));
                    }
                }
                let age = s
                    .last_success
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| now.signed_duration_since(t).num_hours());
                match age {
                    Some(h) if h > STALE_AFTER_HOURS => warnings.push(format!(
                        "source {}: intel is stale ({h} h since the last successful sync)",
                        s.name
                    )),
                    None => warnings.push(format!("source {}: no successful sync yet", s.name)),
                    _ => {}
                }
                if let Some(warning) = s
                    .server_version
                    .as_deref()
                    .and_then(|v| store::sources::untested_version(&s.source_type, v))
                {
                    warnings.push(format!("source {}: {warning}", s.name));
                }
                let broken = s.parse_status.get("invalid").copied().unwrap_or(0)
                    + s.parse_status.get("unsupported").copied().unwrap_or(0);
                if broken > 0 {
                    warnings.push(format!(
                        "source {}: {broken} indicators have invalid or unsupported patterns",
                        s.name
                    ));
                }
            }
        }
    }
    let index_json = match &index {
        Ok(i) => {
            let m = i.meta();
            // A feed's refusals are worth acting on; the bundled lists' are
            // listed with the index below.
            warnings.extend(
                super::sync::refused_lines(m)
                    .into_iter()
                    .filter(|(reason, _)| !store::limits::is_bundled(reason))
                    .map(|(_, line)| line),
            );
            let age = chrono::DateTime::parse_from_rfc3339(&m.created_at)
                .map(|t| now.signed_duration_since(t).num_minutes())
                .ok();
            json!({
                "generation": m.generation,
                "dir": i.dir(),
                "created_at": m.created_at,
                "age_minutes": age,
                "size_bytes": m.total_size(),
                "records": m.records,
                "exact_keys": m.exact_keys,
                "domain_keys": m.domain_keys,
                "ip": m.ip,
                "substrings": m.substrings,
                "keys_by_kind": m.keys_by_kind,
                "excluded": m.excluded,
                "refused": m.refused,
                "skipped": m.skipped,
                "options": m.options,
            })
        }
        Err(e) => {
            warnings.push(e.to_string());
            serde_json::Value::Null
        }
    };

    let scheduler = super::schedule::read_state(config);
    let watch_file = &config.watch.file;
    let watch = crate::watch::read_status(config, watch_file);
    if args.json {
        let out = json!({
            "config": config.origin(),
            "store": store_status,
            "index": index_json,
            "scheduler": scheduler,
            "watch": watch,
            "warnings": warnings,
        });
        let pretty = serde_json::to_string_pretty(&out).unwrap_or_default();
        println!("{}", terminal::json(pretty));
        return Ok(ExitCode::SUCCESS);
    }

    println!("config  {}", config.origin().display());
    if let Some(st) = &store_status {
        println!(
            "store   {} (schema {}, {:.1} MiB)",
            st.path.display(),
            st.schema_version,
            st.size_bytes as f64 / (1024.0 * 1024.0)
        );
    }
    for s in sources {
        let last = s.last_run.as_ref().map_or("never".to_string(), |r| {
            format!(
                "{} at {}",
                r.status.as_str(),
                r.finished_at.as_deref().unwrap_or(&r.started_at)
            )
        });
        println!("source  {} ({}): last sync {last}", s.name, s.source_type);
        if let Some(run) = s.last_run.as_ref().filter(|r| r.status != RunStatus::Ok) {
            let success = s.last_success.as_deref().unwrap_or("never");
            println!("        last success {success}");
            if let Some(e) = &run.error {
                println!("        last error {}", terminal::text(e));
            }
        }
        println!(
            "        {} indicators, {} observables, {} relationships, {} keys{}",
            s.indicators,
            s.observables,
            s.relationships,
            s.keys,
            s.server_version
                .as_deref()
                .map(|v| format!(", server {v}"))
                .unwrap_or_default()
        );
        if let Some(shape) = &s.query_shape {
            println!("        queries: {shape}");
        }
        // What the last run had to say: MISP attribute types that are not
        // matchable ("skipped 2 × unsupported type yara"), files skipped, ...
        if let Some(notes) = s
            .last_run
            .as_ref()
            .and_then(|r| r.counts.get("notes"))
            .and_then(|n| n.as_array())
            .filter(|n| !n.is_empty())
        {
            let notes: Vec<&str> = notes.iter().filter_map(|n| n.as_str()).collect();
            println!("        last sync: {}", terminal::text(&notes.join("; ")));
        }
        print_counts("keys by kind", &s.keys_by_kind);
        print_counts("patterns", &s.parse_status);
        print_counts("not matchable, left out", &s.unsupported_types);
        print_counts("kept, not matched (non-STIX)", &s.non_stix_pattern_types);
        if s.recent_rejects > 0 {
            println!(
                "        {} rejected items kept for review",
                s.recent_rejects
            );
        }
        // Every reason, grouped: a flood of one kind cannot hide another.
        for r in &s.reasons {
            let line = format!(
                "          {} {} × {} (e.g. {})",
                r.what, r.count, r.reason, r.example
            );
            println!("{}", terminal::text(&line));
        }
    }
    if let Ok(i) = &index {
        let m = i.meta();
        println!(
            "index   generation {} created {} ({} records, {:.1} MiB) in {}",
            m.generation,
            m.created_at,
            m.records,
            m.total_size() as f64 / (1024.0 * 1024.0),
            i.dir().display()
        );
        if !m.excluded.is_empty() {
            let e: Vec<String> = m.excluded.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("        excluded at compile time: {}", e.join(", "));
        }
        for (reason, line) in super::sync::refused_lines(m) {
            if store::limits::is_bundled(reason) {
                println!("        {line}");
            }
        }
        if let Some(lists) = m.options.get("warninglists").and_then(|v| v.as_array()) {
            let shown: Vec<String> = lists
                .iter()
                .map(|l| format!("{} ({})", l["name"].as_str().unwrap_or("?"), l["entries"]))
                .collect();
            let line = format!(
                "        warninglists ({}): {}",
                shown.len(),
                shown.join(", ")
            );
            println!("{}", terminal::text(&line));
        }
    }
    if let Some(st) = &scheduler {
        let last = match (&st.last_result, &st.last_finished) {
            (Some(r), Some(t)) => format!(", last run {r} at {t}"),
            _ => String::new(),
        };
        let next = st
            .next_run
            .as_deref()
            .map(|t| format!(", next run {t}"))
            .unwrap_or_default();
        println!(
            "sched   `{}` {} (pid {}){next}{last}",
            st.schedule, st.state, st.pid
        );
    }
    if let Some(w) = &watch {
        println!(
            "watch   {} at offset {} ({} bytes behind), {} alerts ({:.0}/s), {} with hits, {} events sent, generation {}, updated {}",
            w.file.display(),
            w.offset,
            w.lag_bytes,
            w.alerts,
            w.alerts_per_sec,
            w.alerts_with_hits,
            w.events_sent,
            w.generation,
            w.updated_at
        );
    }
    for w in &warnings {
        println!("warning {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `        label: k n, k n` for a source's non-empty count table.
fn print_counts(label: &str, counts: &std::collections::BTreeMap<String, u64>) {
    if counts.is_empty() {
        return;
    }
    let items: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("        {label}: {}", items.join(", "));
}
