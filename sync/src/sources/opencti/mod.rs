//! `type = "opencti"`: indicators, observables and their relationships from
//! the OpenCTI GraphQL API, 5.12 to 6.x (opencti.md).
//!
//! - `about { version }` picks the query shape (`version.rs`, `queries.rs`);
//! - each kind is paged by `updated_at` ascending from its watermark minus the
//!   overlap, and every page commits with its new watermark and cursor, so a
//!   killed sync resumes at the page where it stopped;
//! - nodes become store rows (`decode.rs`): indicator patterns go through the
//!   store's STIX compiler, observables give their values and hashes,
//!   `based-on`/`resolves-to`/`related-to` give the "related" hits;
//! - hard deletes and merges are found by id reconciliation (`reconcile.rs`)
//!   on `--full` and every `reconcile_interval_secs`.

mod client;
mod decode;
mod queries;
mod reconcile;
mod version;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::batch::{Batch, Deletion, Reject};
use crate::config::OpenCtiConfig;
use crate::source::{Source, SourceError, SyncContext, SyncFuture, SyncReport};
use crate::store::state_keys;

pub use client::Client;
pub use decode::Filters;
pub use queries::{ids as id_query, page as page_query, Entity, ABOUT};
pub use version::{Shape, Version, NEWEST_TESTED};

use decode::{Decoded, Page};

/// Sync-state key of the cursor of an unfinished pass over one kind:
/// `{"since": <filter start or null>, "after": <endCursor>}`, empty once done.
fn cursor_key(entity: Entity) -> String {
    format!("cursor.{}", entity.as_str())
}

/// Sync-state key of the watermark of one kind (max `updated_at` committed).
fn watermark_key(entity: Entity) -> String {
    format!("{}.{}", state_keys::WATERMARK_PREFIX, entity.as_str())
}

/// Server times as OpenCTI writes them: UTC, milliseconds, `Z`.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub struct OpenCtiSource {
    name: String,
    cfg: OpenCtiConfig,
    client: Client,
    filters: Filters,
    page_size: u32,
}

impl OpenCtiSource {
    /// Resolves the token and builds the HTTP client; nothing is sent yet.
    pub fn new(name: &str, cfg: &OpenCtiConfig) -> Result<OpenCtiSource, SourceError> {
        let client = Client::new(name, &cfg.url, &cfg.token, &cfg.http)?;
        // Above the server's maximum the page is cut silently and `hasNextPage`
        // turns false (opencti.md §4.2): never ask for more.
        let max = OpenCtiConfig::MAX_PAGE_SIZE;
        if cfg.page_size > max {
            tracing::warn!(
                source = name,
                page_size = cfg.page_size,
                "page_size above OpenCTI's maximum; using {max}"
            );
        }
        Ok(OpenCtiSource {
            name: name.to_string(),
            filters: Filters::new(cfg),
            page_size: cfg.page_size.clamp(1, max),
            cfg: cfg.clone(),
            client,
        })
    }

    /// The `first` sent with every page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    async fn detect_version(
        &self,
        cancel: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(Version, Shape), SourceError> {
        let data = self
            .client
            .query("version check", ABOUT, json!({}), cancel)
            .await?;
        let text = data
            .pointer("/about/version")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SourceError::server(
                    &self.name,
                    format!(
                        "{} did not say its version (about.version)",
                        self.client.base_url()
                    ),
                )
            })?;
        let version = Version::parse(text).ok_or_else(|| {
            SourceError::server(
                &self.name,
                format!("{}: unreadable version `{text}`", self.client.base_url()),
            )
        })?;
        let shape = version
            .shape()
            .map_err(|e| SourceError::config(&self.name, e))?;
        Ok((version, shape))
    }

    /// Where a pass over `entity` starts: a saved cursor, or the watermark
    /// minus the overlap (nothing with `--full` or on the first sync).
    fn start(&self, ctx: &SyncContext<'_>, entity: Entity) -> Result<Start, SourceError> {
        if let Some(saved) = ctx.state(&cursor_key(entity))?.filter(|s| !s.is_empty()) {
            if let Ok(v) = serde_json::from_str::<Value>(&saved) {
                let since = v.get("since").and_then(Value::as_str).map(str::to_string);
                let after = v.get("after").and_then(Value::as_str).map(str::to_string);
                // A --full pass does not resume an incremental one.
                if after.is_some() && !(ctx.full && since.is_some()) {
                    return Ok(Start {
                        since,
                        after,
                        resumed: true,
                    });
                }
            }
        }
        let since = if ctx.full {
            None
        } else {
            ctx.state(&watermark_key(entity))?
                .as_deref()
                .and_then(parse_time)
                .map(|w| rfc3339(w - ChronoDuration::seconds(self.cfg.overlap_secs as i64)))
        };
        Ok(Start {
            since,
            after: None,
            resumed: false,
        })
    }

    /// Pages through one kind, committing each page with its watermark.
    async fn pass(
        &self,
        ctx: &mut SyncContext<'_>,
        shape: Shape,
        entity: Entity,
        report: &mut SyncReport,
        first_batch_state: &mut Vec<(String, String)>,
    ) -> Result<(), SourceError> {
        let start = self.start(ctx, entity)?;
        let query = queries::page(entity, shape);
        let filters = queries::page_filters(entity, start.since.as_deref());
        let cancel = ctx.cancel_flag();
        let mut watermark = ctx
            .state(&watermark_key(entity))?
            .as_deref()
            .and_then(parse_time);
        let mut after = start.after;
        let mut first = self.page_size;
        let mut pages = 0u64;
        let mut seen = 0u64;
        let mut counts = Counts::default();
        let mut warned_cap = false;
        ctx.progress().message(&format!(
            "{}{}",
            entity.as_str(),
            if start.resumed { " (resuming)" } else { "" }
        ));
        loop {
            ctx.check_cancelled()?;
            let what = format!("{} page {}", entity.as_str(), pages + 1);
            let vars = json!({"first": first, "after": after, "filters": filters});
            let data = self.client.query(&what, &query, vars, &cancel).await?;
            let page = self.page(entity, data, &what)?;
            if pages == 0 {
                // The bar counts every kind's items: its length grows per kind.
                ctx.progress()
                    .set_total(page.global_count.map(|g| report.fetched + g));
            }
            pages += 1;
            ctx.progress()
                .message(&format!("{} page {pages}", entity.as_str()));
            let n = page.nodes.len() as u64;
            seen += n;
            let mut batch = Batch {
                state: std::mem::take(first_batch_state),
                ..Batch::default()
            };
            self.decode_nodes(entity, &page, &mut batch, &mut counts, &mut watermark);
            // A page shorter than asked for with no next page, while the
            // server counts more, is the silent cap (max_pagination_result
            // below `first`): the cursor is still good, so go on.
            let capped = !page.has_next
                && n > 0
                && n < u64::from(first)
                && page.global_count.is_some_and(|g| seen < g);
            if capped && !warned_cap {
                warned_cap = true;
                tracing::warn!(
                    source = %self.name,
                    asked = first,
                    got = n,
                    "OpenCTI cut a page short without saying so (max_pagination_result below page_size); continuing with pages of {n}"
                );
                report.notes.push(format!(
                    "{}: the server caps pages at {n} (page_size {})",
                    entity.as_str(),
                    self.page_size
                ));
                first = n as u32;
            }
            let more = page.has_next || capped;
            let next = page.end_cursor.filter(|_| more);
            let cursor = match &next {
                Some(c) => json!({"since": start.since, "after": c}).to_string(),
                None => String::new(),
            };
            batch.state.push((cursor_key(entity), cursor));
            if let Some(w) = watermark {
                batch.state.push((watermark_key(entity), rfc3339(w)));
            }
            ctx.commit(batch)?;
            ctx.progress().inc(1, n);
            report.fetched += n;
            report.pages += 1;
            match next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        let mut note = format!(
            "{}: {} fetched in {pages} pages{}",
            entity.as_str(),
            seen,
            if start.since.is_some() {
                " (incremental)"
            } else {
                ""
            }
        );
        if counts.filtered > 0 {
            note.push_str(&format!(", {} left out by filters", counts.filtered));
        }
        if !counts.reasons.is_empty() {
            let reasons: Vec<String> = counts
                .reasons
                .iter()
                .map(|(why, n)| format!("{n} × {why}"))
                .collect();
            note.push_str(&format!(", skipped {}", reasons.join(", ")));
        }
        report.notes.push(note);
        Ok(())
    }

    /// The connection of one page's `data`.
    fn page(&self, entity: Entity, data: Value, what: &str) -> Result<Page, SourceError> {
        Page::from_data(data, entity.root_field())
            .map_err(|e| SourceError::server(&self.name, format!("{what}: {e}")))
    }

    /// Decodes the nodes of one page into `batch`, moving `watermark` to the
    /// latest `updated_at`.
    fn decode_nodes(
        &self,
        entity: Entity,
        page: &Page,
        batch: &mut Batch,
        counts: &mut Counts,
        watermark: &mut Option<DateTime<Utc>>,
    ) {
        for node in &page.nodes {
            if let Some(t) = node
                .get("updated_at")
                .and_then(Value::as_str)
                .and_then(parse_time)
            {
                *watermark = Some(watermark.map_or(t, |w| w.max(t)));
            }
            self.decode(entity, node, batch, counts);
        }
    }

    /// What a sync makes of one page reply body (HTTP 200), without the
    /// network: the `data` or the GraphQL error, the connection, and the
    /// batch its nodes give. For the fuzz targets (`fuzz/`); `pass` runs the
    /// same steps.
    #[doc(hidden)]
    pub fn decode_reply(&self, entity: Entity, body: &[u8]) -> Result<DecodedReply, SourceError> {
        let what = format!("{} page 1", entity.as_str());
        let data = self.client.decode_reply(&what, body)?;
        let page = self.page(entity, data, &what)?;
        let mut batch = Batch::default();
        let mut counts = Counts::default();
        let mut watermark = None;
        self.decode_nodes(entity, &page, &mut batch, &mut counts, &mut watermark);
        Ok(DecodedReply {
            nodes: page.nodes.len(),
            end_cursor: page.end_cursor,
            has_next: page.has_next,
            global_count: page.global_count,
            batch,
            filtered: counts.filtered,
            skipped: counts.skipped,
            watermark: watermark.map(rfc3339),
        })
    }

    fn decode(&self, entity: Entity, node: &Value, batch: &mut Batch, counts: &mut Counts) {
        let base = self.client.base_url();
        let id = node.get("id").and_then(Value::as_str).unwrap_or("?");
        let object = reconcile::object_type(entity);
        // What the node became: a row already pushed, filtered or skipped.
        let outcome: Result<Decoded<()>, String> = match entity {
            Entity::Indicators => decode::indicator(node, base, &self.filters)
                .map(|d| d.push_into(&mut batch.indicators)),
            Entity::Observables => {
                decode::observable(node, base, &self.filters, &mut counts.reasons)
                    .map(|d| d.push_into(&mut batch.observables))
            }
            Entity::Relationships => {
                decode::relationship(node).map(|d| d.push_into(&mut batch.relationships))
            }
        };
        let result = outcome.map(|d| match d {
            Decoded::Row(()) => {}
            Decoded::Filtered => {
                counts.filtered += 1;
                batch.deletions.push(Deletion {
                    object,
                    ext_id: id.to_string(),
                });
            }
            Decoded::Skipped(why) => counts.skip(why),
        });
        if let Err(reason) = result {
            let singular = entity.as_str().trim_end_matches('s');
            batch.rejects.push(Reject {
                item: format!("{singular} {id}"),
                reason,
            });
        }
    }

    /// Whether id reconciliation is due: on `--full`, and every
    /// `reconcile_interval_secs` after the first one.
    fn reconcile_due(&self, ctx: &SyncContext<'_>, last: Option<&str>) -> bool {
        if ctx.full {
            return true;
        }
        match last.and_then(parse_time) {
            Some(t) => {
                Utc::now().signed_duration_since(t).num_seconds()
                    >= self.cfg.reconcile_interval_secs as i64
            }
            None => false,
        }
    }
}

/// One page reply as [`OpenCtiSource::decode_reply`] decodes it.
#[doc(hidden)]
#[derive(Debug)]
pub struct DecodedReply {
    /// Nodes in the connection.
    pub nodes: usize,
    pub end_cursor: Option<String>,
    pub has_next: bool,
    pub global_count: Option<u64>,
    pub batch: Batch,
    /// Nodes left out by the filters (also listed as deletions).
    pub filtered: u64,
    /// Nodes of unused types.
    pub skipped: u64,
    /// The latest `updated_at` of the page.
    pub watermark: Option<String>,
}

/// Where a pass starts.
struct Start {
    since: Option<String>,
    after: Option<String>,
    resumed: bool,
}

#[derive(Default)]
struct Counts {
    filtered: u64,
    /// Nodes not stored (their reasons are in `reasons`).
    skipped: u64,
    /// Why nodes, or hashes of kept nodes, were left out: how many.
    reasons: std::collections::BTreeMap<String, u64>,
}

impl Counts {
    fn skip(&mut self, why: String) {
        self.skipped += 1;
        *self.reasons.entry(why).or_default() += 1;
    }
}

impl Source for OpenCtiSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "opencti"
    }

    fn sync<'a>(&'a mut self, ctx: &'a mut SyncContext<'_>) -> SyncFuture<'a> {
        Box::pin(async move {
            let mut report = SyncReport::default();
            ctx.progress().message("checking the server version");
            let (version, shape) = self.detect_version(&ctx.cancel_flag()).await?;
            let shape_name = match shape {
                Shape::Edges => "edges shape",
                Shape::Lists => "list shape",
            };
            report
                .notes
                .push(format!("OpenCTI {version} ({shape_name})"));
            if let Some(warning) = super::untested_version("opencti", &version.to_string()) {
                tracing::warn!(source = %self.name, "{warning}");
            }
            let last_reconcile = ctx.state(state_keys::LAST_RECONCILE)?;
            let reconcile = self.reconcile_due(ctx, last_reconcile.as_deref());
            let started = rfc3339(Utc::now());
            let shape_text = match shape {
                Shape::Edges => "edges shape (labels and markings as connections, 5.12.0-5.12.23)",
                Shape::Lists => "list shape (labels and markings as lists, 5.12.24 and later)",
            };
            let mut first_state = vec![
                (state_keys::SERVER_VERSION.to_string(), version.to_string()),
                (state_keys::QUERY_SHAPE.to_string(), shape_text.to_string()),
            ];
            for entity in Entity::ALL {
                self.pass(ctx, shape, entity, &mut report, &mut first_state)
                    .await?;
            }
            let mut end_state = std::mem::take(&mut first_state);
            if reconcile {
                let mut deleted = 0;
                for entity in Entity::ALL {
                    let (_, pages, d) = reconcile::reconcile(&self.client, ctx, entity).await?;
                    report.pages += pages;
                    deleted += d;
                }
                report
                    .notes
                    .push(format!("reconciled ids: {deleted} deleted locally"));
                end_state.push((state_keys::LAST_RECONCILE.into(), started));
            } else if last_reconcile.is_none() {
                // The first sync mirrors everything: reconciliation starts counting now.
                end_state.push((state_keys::LAST_RECONCILE.into(), started));
            }
            ctx.commit(Batch {
                state: end_state,
                ..Batch::default()
            })?;
            Ok(report)
        })
    }
}
