//! `intelmatch lookup VALUE...`: look values up exactly as the integrator would.

use std::process::ExitCode;

use matcher::index::Index;
use matcher::lookup::{Hit, Lookup};
use matcher::normalize::{self, Normalized};
use matcher::{Kind, Record};
use serde_json::{json, Value};

use super::{terminal, Failure};
use crate::cli::LookupArgs;
use crate::config::Config;

pub fn run(config: &Config, args: &LookupArgs) -> Result<ExitCode, Failure> {
    let forced = match &args.kind {
        Some(k) => Some(
            k.parse::<Kind>()
                .map_err(|e| Failure::Usage(format!("--kind: {e}")))?,
        ),
        None => None,
    };
    let index = Index::open(&config.index_dir()).map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut lookup = Lookup::new(&index, config.matching.lookup_options());
    let mut bad = 0;
    for raw in &args.values {
        let value = match classify(forced, raw) {
            Ok(v) => v,
            Err(reason) => {
                bad += 1;
                eprintln!(
                    "{}",
                    terminal::text(&format!("intelmatch: lookup `{raw}`: {reason}"))
                );
                continue;
            }
        };
        let outcome = lookup.value(value.kind, &value.value);
        let hits: Vec<(Hit, Record)> = outcome
            .hits
            .iter()
            .filter_map(|h| index.records().get(h.record).ok().map(|r| (h.clone(), r)))
            .collect();
        let lists: Vec<String> = outcome
            .warninglists
            .iter()
            .filter_map(|&id| index.records().get(id).ok().map(|r| r.name))
            .collect();
        if args.json {
            let out = json!({
                "input": raw,
                "value": value.value,
                "kind": value.kind,
                "hits": hits.iter().map(|(h, r)| hit_json(h, r)).collect::<Vec<_>>(),
                "suppressed": outcome.suppressed,
                "warninglists": lists,
            });
            println!("{}", terminal::json(out.to_string()));
        } else {
            print_text(raw, &value, &hits, outcome.suppressed, &lists);
        }
    }
    if bad > 0 {
        return Err(Failure::Usage(format!(
            "{bad} of {} values could not be looked up",
            args.values.len()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn classify(forced: Option<Kind>, raw: &str) -> Result<Normalized, String> {
    match forced {
        Some(kind) => normalize::normalize(kind, raw).map_err(|e| e.to_string()),
        None => normalize::detect(raw)
            .ok_or_else(|| "not a recognisable IoC (give --kind to force one)".to_string()),
    }
}

/// A hit as the native profile reports it (contract §5.1 `match` + `indicator`).
pub fn hit_json(h: &Hit, r: &Record) -> Value {
    let mut indicator = serde_json::Map::new();
    indicator.insert("source".into(), r.source.clone().into());
    indicator.insert("source_type".into(), r.source_type.clone().into());
    indicator.insert("id".into(), r.id.clone().into());
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            indicator.insert(k.into(), v);
        }
    };
    put("name", (!r.name.is_empty()).then(|| r.name.clone().into()));
    put("pattern", r.pattern.clone().map(Into::into));
    put("score", r.score.map(Into::into));
    put("confidence", r.confidence.map(Into::into));
    put("labels", Some(r.labels.clone().into()));
    put("markings", Some(r.markings.clone().into()));
    put("valid_until", r.valid_until.clone().map(Into::into));
    put("created_by", r.created_by.clone().map(Into::into));
    put("link", r.link.clone().map(Into::into));
    put("partial", r.partial.then_some(true.into()));
    put(
        "related",
        r.related
            .as_ref()
            .map(|rel| json!({"relationship": rel.relationship, "via": rel.via})),
    );
    json!({
        "match": {"value": h.value, "kind": h.kind, "method": h.method.as_str(), "matched": h.matched},
        "indicator": indicator,
    })
}

fn print_text(
    raw: &str,
    v: &Normalized,
    hits: &[(Hit, Record)],
    suppressed: usize,
    lists: &[String],
) {
    let shown = if raw == v.value {
        format!("{} ({})", v.value, v.kind)
    } else {
        format!("{raw} → {} ({})", v.value, v.kind)
    };
    if hits.is_empty() {
        if suppressed > 0 {
            let line = format!(
                "{shown}: no hit ({suppressed} suppressed: on warninglist {})",
                lists.join(", ")
            );
            println!("{}", terminal::text(&line));
        } else {
            println!("{}", terminal::text(&format!("{shown}: no hit")));
        }
        return;
    }
    let head = format!(
        "{shown}: {} hit{}",
        hits.len(),
        if hits.len() == 1 { "" } else { "s" }
    );
    println!("{}", terminal::text(&head));
    for (h, r) in hits {
        let mut line = format!(
            "  {:13} {:24} {}/{}",
            h.method.as_str(),
            h.matched,
            r.source,
            r.id
        );
        if !r.name.is_empty() {
            line.push_str(&format!("  \"{}\"", r.name));
        }
        if let Some(s) = r.score {
            line.push_str(&format!("  score {s}"));
        }
        if let Some(c) = r.confidence {
            line.push_str(&format!("  confidence {c}"));
        }
        if !r.labels.is_empty() {
            line.push_str(&format!("  labels {}", r.labels.join(",")));
        }
        if !r.markings.is_empty() {
            line.push_str(&format!("  {}", r.markings.join(",")));
        }
        if let Some(t) = &r.valid_until {
            line.push_str(&format!("  until {t}"));
        }
        if r.partial {
            line.push_str("  [partial: value is one part of a compound pattern]");
        }
        if let Some(rel) = &r.related {
            line.push_str(&format!("  [related: {} {}]", rel.relationship, rel.via));
        }
        if !h.warninglists.is_empty() {
            line.push_str(&format!("  [on warninglist: {}]", lists.join(", ")));
        }
        println!("{}", terminal::text(&line));
        if let Some(p) = &r.pattern {
            println!("  {:13} pattern {}", "", terminal::text(p));
        }
    }
}
