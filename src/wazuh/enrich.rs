//! One alert in, its resolved hits out: extraction, lookups and record
//! decoding, shared by `integrate`, `match` and `watch`.
//!
//! Synchronous and allocation-light: the index is mapped, lookups reuse their
//! scratch buffers, and records are decoded only for hits.

use matcher::index::Index;
use matcher::lookup::{Hit, Lookup, LookupOptions, Outcome};
use matcher::HitMethod;

use super::extract::{extract, Candidate, ExtractOptions, Extraction};
use super::json::Json;
use super::profile::ResolvedHit;

/// What one alert produced.
#[derive(Debug, Default)]
pub struct Enriched {
    pub extraction: Extraction,
    /// Every hit, in extraction order (the profiles order and cap them).
    pub hits: Vec<ResolvedHit>,
    /// Intel hits dropped because a warninglist names the value.
    pub suppressed: usize,
    /// Hits whose record could not be decoded (a damaged generation), skipped.
    pub unreadable: usize,
}

/// Matches alerts against one open generation.
pub struct Enricher<'i> {
    index: &'i Index,
    lookup: Lookup<'i>,
    extract: ExtractOptions,
    /// Skip the substring scan entirely when the generation has no substring keys.
    substrings: bool,
}

impl<'i> Enricher<'i> {
    pub fn new(
        index: &'i Index,
        lookup: LookupOptions,
        mut extract: ExtractOptions,
    ) -> Enricher<'i> {
        // Paths are looked up whole only when some indicator is one.
        extract.file_paths = index.meta().path_keys > 0;
        Enricher {
            index,
            substrings: index.meta().substrings > 0,
            lookup: Lookup::new(index, lookup),
            extract,
        }
    }

    pub fn index(&self) -> &'i Index {
        self.index
    }

    /// Extracts, looks up and resolves one alert.
    pub fn alert(&mut self, alert: &Json<'_>) -> Enriched {
        let extraction = extract(alert, &self.extract);
        let mut out = Enriched::default();
        for c in &extraction.candidates {
            let outcome = self.lookup.value(c.kind, &c.value);
            self.resolve(&mut out, &c.field, outcome, Some(c));
        }
        if self.substrings {
            for t in &extraction.texts {
                let outcome = self.lookup.text(&t.text);
                self.resolve(&mut out, &t.field, outcome, None);
            }
        }
        out.extraction = extraction;
        out
    }

    fn resolve(
        &self,
        out: &mut Enriched,
        field: &str,
        outcome: Outcome,
        candidate: Option<&Candidate>,
    ) {
        out.suppressed += outcome.suppressed;
        for hit in outcome.hits {
            let Ok(record) = self.index.records().get(hit.record) else {
                out.unreadable += 1;
                continue;
            };
            // A substring hit on text already reached through a token of the same
            // record says nothing new.
            if candidate.is_none()
                && out
                    .hits
                    .iter()
                    .any(|h| h.field == field && h.record.id == record.id)
            {
                continue;
            }
            let warninglists = self.list_names(&hit);
            let (kind, value) = match candidate {
                Some(c) => (c.kind, c.value.clone()),
                None => (hit.kind, hit.matched.clone()),
            };
            out.hits.push(ResolvedHit {
                field: field.to_string(),
                kind,
                value,
                method: method_of(&hit, candidate),
                matched: hit.matched,
                record,
                warninglists,
                weak: false,
            });
        }
    }

    fn list_names(&self, hit: &Hit) -> Vec<String> {
        hit.warninglists
            .iter()
            .filter_map(|&id| self.index.records().get(id).ok().map(|r| r.name))
            .collect()
    }
}

/// A value found by tokenising free text reports `token` where a structured field
/// would report `exact`; every other method keeps its name.
fn method_of(hit: &Hit, candidate: Option<&Candidate>) -> HitMethod {
    match candidate {
        Some(c) if c.from_text && hit.method == HitMethod::Exact => HitMethod::Token,
        _ => hit.method,
    }
}
