//! `type = "misp"`: an exact local mirror of the attributes a SOC alerts on,
//! pulled from MISP's REST API (misp.md §5).
//!
//! One sync:
//! 1. `GET /servers/getVersion`: health and permission check (a bad key fails
//!    here, in one line naming the URL), and the version that decides what
//!    `X-Result-Count` means ([`paging`]);
//! 2. optionally mirrors the instance's enabled warninglists into the sync
//!    state (`warninglist/<name>`), where the warninglist loader finds them;
//! 3. diffs `POST /events/index {"minimal":true}` with the stored events and
//!    purges or re-fetches ([`reconcile`]), one commit per page, the event's
//!    state with its last page;
//! 4. if the key may not list events (403/404/405), falls back to attribute
//!    `timestamp` windows with an overlap, `deleted: [0,1]` so that soft
//!    deletes arrive; hard deletes are then only noticed by `--full`.
//!
//! Filtering (`to_ids_only`, published, types, categories, tags, decay) is
//! local ([`decode`]); `to_ids`, types and categories are also sent to the
//! server in event mode to keep pages small, which is safe there because an
//! attribute that stops matching is simply missing from its event's re-fetch.

pub mod client;
pub mod decode;
pub mod paging;
pub mod reconcile;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::batch::{Batch, Deletion, ObjectType, Reject};
use crate::config::MispConfig;
use crate::source::{Source, SourceError, SyncContext, SyncFuture, SyncReport};
use crate::store::state_keys::{QUERY_SHAPE, UNSUPPORTED_TYPES};

use client::Client;
use decode::{Decoder, Outcome};
use paging::{CountMeaning, Pager};
use reconcile::{LocalEvent, RemoteEvent, EVENTS_INDEX, EVENT_PREFIX};

/// Event ids per restSearch query (misp.md §5.1: 50–200).
pub const EVENT_BATCH: usize = 100;

/// Sync-state key of the attribute-timestamp watermark (fallback mode).
pub const ATTRIBUTE_WATERMARK: &str = "attribute_timestamp";
/// Sync-state key of the instance version seen last (shown by `status`).
pub const VERSION: &str = crate::store::state_keys::SERVER_VERSION;
/// How the decoder words a drop for a type that is not matchable.
const UNSUPPORTED: &str = "unsupported type ";
/// Sync-state key prefix of mirrored warninglists (value: the list's JSON).
pub const WARNINGLIST_PREFIX: &str = "warninglist/";

const GET_VERSION: &str = "/servers/getVersion";

/// The newest release series the tests play (2.5, with and without a role's
/// result limit); `status` warns about a later one.
pub const NEWEST_TESTED_SERIES: (u32, u32) = (2, 5);

/// A MISP instance.
pub struct MispSource {
    name: String,
    cfg: MispConfig,
    /// Overrides `retry_delay_ms` when set.
    min_retry_delay: Option<Duration>,
}

impl MispSource {
    pub fn new(name: &str, cfg: &MispConfig) -> MispSource {
        MispSource {
            name: name.to_string(),
            cfg: cfg.clone(),
            min_retry_delay: None,
        }
    }

    /// The first wait between retries (tests shorten it).
    pub fn with_min_retry_delay(mut self, delay: Duration) -> MispSource {
        self.min_retry_delay = Some(delay);
        self
    }
}

impl Source for MispSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "misp"
    }

    fn sync<'a>(&'a mut self, ctx: &'a mut SyncContext<'_>) -> SyncFuture<'a> {
        Box::pin(async move {
            let mut client = Client::new(&self.name, &self.cfg)?;
            if let Some(delay) = self.min_retry_delay {
                client.set_min_retry_delay(delay);
            }
            client.set_cancel(ctx.cancel_flag());
            let mut run = Run {
                cfg: &self.cfg,
                client,
                report: SyncReport::default(),
                skipped: BTreeMap::new(),
                meaning: CountMeaning::PerPage,
                page_size: self.cfg.page_size,
            };
            let result = run.sync(ctx).await;
            run.finish_notes();
            match result {
                Ok(()) => Ok(run.report),
                Err(e) if e.kind() == crate::SourceErrorKind::Cancelled => {
                    run.report.cancelled = true;
                    Ok(run.report)
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// One sync in progress.
struct Run<'c> {
    cfg: &'c MispConfig,
    client: Client,
    report: SyncReport,
    /// Attributes left out, by reason (also the unsupported types).
    skipped: BTreeMap<String, u64>,
    meaning: CountMeaning,
    /// The `limit` of every page: `page_size`, or the server's smaller cap
    /// once a walk has found it.
    page_size: u32,
}

/// Rows of one page, sorted into a batch.
#[derive(Default)]
struct Page {
    batch: Batch,
    /// Kept attribute uuids by event uuid.
    kept: Vec<(Option<String>, String)>,
    /// Dropped or rejected attribute uuids.
    gone: Vec<String>,
    /// (event uuid, MISP type) of every attribute dropped as not matchable.
    unsupported: Vec<(Option<String>, String)>,
    max_timestamp: Option<i64>,
}

impl Run<'_> {
    fn source(&self) -> &str {
        self.client.source()
    }

    async fn sync(&mut self, ctx: &mut SyncContext<'_>) -> Result<(), SourceError> {
        ctx.progress().message("checking the MISP server");
        let version = self.version().await?;
        self.meaning = CountMeaning::for_version(version.as_deref());
        if let Some(v) = &version {
            if ctx.state(VERSION)?.as_deref() != Some(v.as_str()) {
                ctx.commit(Batch {
                    state: vec![(VERSION.into(), v.clone())],
                    ..Batch::default()
                })?;
            }
        }
        if self.cfg.mirror_warninglists {
            ctx.progress().message("mirroring warninglists");
            if let Err(e) = self.mirror_warninglists(ctx).await {
                if e.kind() == crate::SourceErrorKind::Cancelled {
                    return Err(e);
                }
                tracing::warn!(source = self.source(), "warninglists not mirrored: {e}");
                self.report
                    .notes
                    .push(format!("warninglists not mirrored: {}", e.message()));
            }
        }
        ctx.check_cancelled()?;
        ctx.progress().message("reading the event index");
        let mode = match self
            .client
            .post_status(EVENTS_INDEX, &json!({"minimal": true}))
            .await
        {
            Ok(reply) => {
                self.report.pages += 1;
                let remote = reconcile::remote_events(reply.body).map_err(|why| {
                    SourceError::server(
                        self.source(),
                        format!("POST {}: {why}", self.client.url(EVENTS_INDEX)),
                    )
                })?;
                self.events(ctx, &remote).await?;
                "by event"
            }
            Err(f)
                if matches!(
                    f.status,
                    Some(
                        StatusCode::FORBIDDEN
                            | StatusCode::NOT_FOUND
                            | StatusCode::METHOD_NOT_ALLOWED
                    )
                ) =>
            {
                tracing::warn!(
                    source = self.source(),
                    "{}; falling back to attribute timestamps (hard deletes are noticed only by --full)",
                    f.error.message()
                );
                self.report
                    .notes
                    .push("event index refused: synced by attribute timestamp".into());
                self.by_timestamp(ctx).await?;
                "by attribute timestamp"
            }
            Err(f) => return Err(f.error),
        };
        let shape = self.shape(mode);
        if ctx.state(QUERY_SHAPE)?.as_deref() != Some(shape.as_str()) {
            ctx.commit(Batch {
                state: vec![(QUERY_SHAPE.into(), shape)],
                ..Batch::default()
            })?;
        }
        Ok(())
    }

    /// How this sync asked, in words for `status`.
    fn shape(&self, mode: &str) -> String {
        let count = match self.meaning {
            CountMeaning::PerPage => "X-Result-Count per page",
            CountMeaning::Total => "X-Result-Count total",
        };
        let pages = if self.page_size < self.cfg.page_size {
            format!(
                "pages of {} (the server's cap; page_size {})",
                self.page_size, self.cfg.page_size
            )
        } else {
            format!("pages of {}", self.page_size)
        };
        format!("restSearch {mode}, {pages}, {count}")
    }

    async fn version(&mut self) -> Result<Option<String>, SourceError> {
        let reply = self.client.get(GET_VERSION).await?;
        self.report.pages += 1;
        let version = reply
            .body
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_string);
        if version.is_none() {
            return Err(SourceError::server(
                self.source(),
                format!(
                    "GET {}: no `version` in the reply: is this a MISP server?",
                    self.client.url(GET_VERSION)
                ),
            ));
        }
        tracing::debug!(source = self.source(), version = ?version, "MISP server");
        if let Some(warning) = version
            .as_deref()
            .and_then(|v| super::untested_version("misp", v))
        {
            tracing::warn!(source = self.source(), "{warning}");
        }
        Ok(version)
    }

    /// Event mode: purge what vanished, re-fetch what changed.
    async fn events(
        &mut self,
        ctx: &mut SyncContext<'_>,
        remote: &[RemoteEvent],
    ) -> Result<(), SourceError> {
        let states = ctx.states()?;
        let local = reconcile::local_events(&states);
        let plan = reconcile::plan(&local, remote, self.cfg.published_only, ctx.full);
        self.report.notes.push(format!(
            "{} events: {} changed, {} unchanged, {} purged",
            remote.len(),
            plan.fetch.len(),
            plan.unchanged,
            plan.purge.len()
        ));
        let total = plan.fetch.len() as u64;
        ctx.progress().set_total(None);
        if !plan.purge.is_empty() {
            let mut batch = Batch::default();
            for (uuid, why) in &plan.purge {
                tracing::debug!(source = self.source(), event = %uuid, why, "purging event");
                let attrs = local.get(uuid).map(|e| &e.attrs);
                for attr in attrs.into_iter().flatten() {
                    batch.deletions.push(indicator(attr));
                }
                batch
                    .state
                    .push((format!("{EVENT_PREFIX}{uuid}"), String::new()));
            }
            ctx.commit(batch)?;
        }
        let mut done = 0u64;
        for chunk in plan.fetch.chunks(EVENT_BATCH) {
            ctx.check_cancelled()?;
            ctx.progress().message(&format!(
                "fetching events {}..{} of {total}",
                done + 1,
                done + chunk.len() as u64
            ));
            self.fetch_events(ctx, chunk, &local).await?;
            done += chunk.len() as u64;
        }
        if ctx.full {
            // Anything live that no event claims (left from the timestamp
            // mode, or from a sync cut short before its state was written).
            let mut claimed: HashSet<&str> = HashSet::new();
            let fresh = ctx.states()?;
            let now = reconcile::local_events(&fresh);
            for e in now.values() {
                claimed.extend(e.attrs.iter().map(String::as_str));
            }
            let mut orphans = Vec::new();
            ctx.for_each_live_id(ObjectType::Indicator, &mut |id| {
                if !claimed.contains(id) {
                    orphans.push(indicator(id));
                }
            })?;
            if !orphans.is_empty() {
                self.report.notes.push(format!(
                    "{} attributes no event claims removed",
                    orphans.len()
                ));
                ctx.commit(Batch {
                    deletions: orphans,
                    ..Batch::default()
                })?;
            }
        }
        if ctx.full || !plan.fetch.is_empty() || !plan.purge.is_empty() {
            let totals = reconcile::unsupported_totals(&reconcile::local_events(&ctx.states()?));
            self.set_unsupported(ctx, &totals)?;
        }
        Ok(())
    }

    /// `status` counts the attributes left out as not matchable from this
    /// state; written only when it changes.
    fn set_unsupported(
        &self,
        ctx: &mut SyncContext<'_>,
        totals: &BTreeMap<String, u64>,
    ) -> Result<(), SourceError> {
        let text = serde_json::to_string(totals).expect("a map of counts always serialises");
        if ctx.state(UNSUPPORTED_TYPES)?.as_deref() != Some(text.as_str()) {
            ctx.commit(Batch {
                state: vec![(UNSUPPORTED_TYPES.into(), text)],
                ..Batch::default()
            })?;
        }
        Ok(())
    }

    /// Re-fetches a batch of events whole, then deletes what they no longer hold.
    async fn fetch_events(
        &mut self,
        ctx: &mut SyncContext<'_>,
        events: &[RemoteEvent],
        local: &BTreeMap<String, LocalEvent>,
    ) -> Result<(), SourceError> {
        let mut query = paging::base_query(self.page_size);
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        query.insert("eventid".into(), json!(ids));
        if self.cfg.to_ids_only {
            query.insert("to_ids".into(), json!(1));
        }
        if self.cfg.published_only {
            query.insert("published".into(), json!(true));
        }
        self.server_filters(&mut query);
        let mut members: BTreeMap<&str, BTreeSet<String>> = events
            .iter()
            .map(|e| (e.uuid.as_str(), BTreeSet::new()))
            .collect();
        let mut unsupported: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut pager = Pager::new(query, self.page_size, self.meaning);
        while let Some(rows) = pager.next(&self.client).await? {
            self.served(&pager);
            let mut page = self.decode_page(&rows);
            for (event, t) in page.unsupported.drain(..) {
                if let Some(event) = event.filter(|e| members.contains_key(e.as_str())) {
                    *unsupported.entry(event).or_default().entry(t).or_default() += 1;
                }
            }
            let mut touched = BTreeSet::new();
            for (event, uuid) in page.kept {
                match event.as_deref().and_then(|e| members.get_mut(e)) {
                    Some(set) => {
                        set.insert(uuid);
                        touched.insert(event.unwrap_or_default());
                    }
                    // Not one of the events asked for (the event was re-created
                    // meanwhile): its own re-fetch will claim it.
                    None => {
                        tracing::debug!(source = self.source(), attribute = %uuid, "attribute of an unexpected event")
                    }
                }
            }
            // A dropped attribute (soft delete, to_ids flip) goes at once.
            for uuid in page.gone.drain(..) {
                page.batch.deletions.push(indicator(&uuid));
            }
            // Provisional state for the events this page touched: what is now
            // in the store on their behalf, with timestamp 0 so that they stay
            // dirty. If the sync dies before their last page, the next
            // re-fetch still knows which rows to reconcile.
            for event in touched {
                let Some(new) = members.get(event.as_str()) else {
                    continue;
                };
                let mut attrs = local
                    .get(&event)
                    .map(|l| l.attrs.clone())
                    .unwrap_or_default();
                attrs.extend(new.iter().cloned());
                let state = LocalEvent {
                    id: String::new(),
                    timestamp: 0,
                    published: false,
                    attrs,
                    unsupported: BTreeMap::new(),
                };
                page.batch
                    .state
                    .push((format!("{EVENT_PREFIX}{event}"), state.encode()));
            }
            ctx.commit(page.batch)?;
            ctx.progress().inc(1, rows.len() as u64);
            ctx.check_cancelled()?;
        }
        let mut last = Batch::default();
        for ev in events {
            let attrs = members.remove(ev.uuid.as_str()).unwrap_or_default();
            if let Some(old) = local.get(&ev.uuid) {
                for gone in old.attrs.difference(&attrs) {
                    last.deletions.push(indicator(gone));
                }
            }
            let state = LocalEvent {
                id: ev.id.clone(),
                timestamp: ev.timestamp,
                published: ev.published,
                attrs,
                unsupported: unsupported.remove(&ev.uuid).unwrap_or_default(),
            };
            last.state
                .push((format!("{EVENT_PREFIX}{}", ev.uuid), state.encode()));
        }
        ctx.commit(last)?;
        Ok(())
    }

    /// Fallback mode: attribute timestamp windows.
    async fn by_timestamp(&mut self, ctx: &mut SyncContext<'_>) -> Result<(), SourceError> {
        let watermark = ctx.state(ATTRIBUTE_WATERMARK)?.filter(|w| !w.is_empty());
        let watermark = match watermark {
            Some(w) => Some(time_filter(&w).map_err(|why| {
                SourceError::config(
                    self.source(),
                    format!(
                        "sync state {ATTRIBUTE_WATERMARK} = `{w}`: {why}; MISP would silently \
                         return nothing, so run `intelmatch sync --full --source {}`",
                        self.source()
                    ),
                )
            })?),
            None => None,
        };
        let mut query = paging::base_query(self.page_size);
        self.decay_flag(&mut query);
        if let (Some(w), false) = (watermark, ctx.full) {
            let from = w.saturating_sub(self.cfg.overlap_secs as i64).max(0);
            query.insert("timestamp".into(), json!(from.to_string()));
        }
        if self.cfg.published_only {
            query.insert("published".into(), json!(true));
        }
        let mut seen: HashSet<String> = HashSet::new();
        // A walk over everything (first run, --full) counts every unsupported
        // attribute; an incremental window cannot tell which left, so it
        // leaves the count as it was.
        let whole = ctx.full || watermark.is_none();
        let mut unsupported: BTreeMap<String, u64> = BTreeMap::new();
        let mut max_ts = watermark;
        let mut pager = Pager::new(query, self.page_size, self.meaning);
        while let Some(rows) = pager.next(&self.client).await? {
            self.served(&pager);
            let mut page = self.decode_page(&rows);
            for (_, t) in page.unsupported.drain(..) {
                *unsupported.entry(t).or_default() += 1;
            }
            // Without the event diff a dropped attribute (to_ids flip, soft
            // delete) must be removed here.
            for uuid in page.gone.drain(..) {
                page.batch.deletions.push(indicator(&uuid));
            }
            max_ts = max_ts.max(page.max_timestamp);
            if ctx.full {
                seen.extend(page.kept.into_iter().map(|(_, u)| u));
            }
            ctx.commit(page.batch)?;
            ctx.progress().inc(1, rows.len() as u64);
            ctx.check_cancelled()?;
        }
        let mut last = Batch::default();
        if ctx.full {
            ctx.for_each_live_id(ObjectType::Indicator, &mut |id| {
                if !seen.contains(id) {
                    last.deletions.push(indicator(id));
                }
            })?;
        }
        // Only a complete walk moves the watermark: pages come in id order,
        // not timestamp order.
        if let Some(ts) = max_ts {
            last.state
                .push((ATTRIBUTE_WATERMARK.into(), ts.to_string()));
        }
        ctx.commit(last)?;
        if whole {
            self.set_unsupported(ctx, &unsupported)?;
        }
        Ok(())
    }

    /// Decay scores are requested only when filtered on (they force event
    /// tags and cost the instance time).
    fn decay_flag(&self, query: &mut Map<String, Value>) {
        if self.cfg.min_decay_score.is_some() {
            query.insert("includeDecayScore".into(), json!(true));
        }
    }

    /// Narrowing sent to the server in event mode only: there an attribute
    /// that stops matching is simply missing from its event's re-fetch.
    fn server_filters(&self, query: &mut Map<String, Value>) {
        self.decay_flag(query);
        if !self.cfg.types.is_empty() {
            query.insert("type".into(), json!({"OR": self.cfg.types}));
        }
        if !self.cfg.categories.is_empty() {
            query.insert("category".into(), json!({"OR": self.cfg.categories}));
        }
    }

    /// Keeps the page size a walk found the server to apply, for the next
    /// walks; said once in the log and the summary.
    fn served(&mut self, pager: &Pager) {
        if pager.limit() < self.page_size {
            self.page_size = pager.limit();
            tracing::warn!(
                source = self.source(),
                "the server caps restSearch at {} rows per request (the role's result limit, \
                 below page_size = {}): paging by {}",
                self.page_size,
                self.cfg.page_size,
                self.page_size
            );
        }
    }

    fn decode_page(&mut self, rows: &[Value]) -> Page {
        self.report.pages += 1;
        self.report.fetched += rows.len() as u64;
        decode_rows(self.cfg, rows, &mut self.skipped)
    }

    /// `POST /warninglists/index {"enabled":1}`, then `GET /warninglists/export/{id}`
    /// for every list whose version changed; lists no longer enabled are cleared.
    async fn mirror_warninglists(&mut self, ctx: &mut SyncContext<'_>) -> Result<(), SourceError> {
        const INDEX: &str = "/warninglists/index";
        let reply = self.client.post(INDEX, &json!({"enabled": 1})).await?;
        self.report.pages += 1;
        let bad = |why: &str| {
            SourceError::server(
                self.source(),
                format!("POST {}: {why}", self.client.url(INDEX)),
            )
        };
        let rows = reply
            .body
            .get("Warninglists")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `Warninglists` list in the reply"))?;
        let states = ctx.states()?;
        let mut batch = Batch::default();
        let mut enabled = BTreeSet::new();
        let mut fetched = 0;
        for row in rows {
            let w = row.get("Warninglist").unwrap_or(row);
            let (Some(id), Some(name)) = (
                w.get("id").and_then(decode::number),
                w.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            if decode_flag(w.get("enabled")) == Some(false) {
                continue;
            }
            let key = format!("{WARNINGLIST_PREFIX}{name}");
            let version = w.get("version").and_then(decode::number);
            enabled.insert(key.clone());
            let stored_version = states
                .get(&key)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| v.get("version").and_then(decode::number));
            if version.is_some() && stored_version == version {
                continue;
            }
            ctx.check_cancelled()?;
            let path = format!("/warninglists/export/{id}");
            let list = self.client.get(&path).await?;
            self.report.pages += 1;
            let list = list.body.get("Warninglist").cloned().unwrap_or(list.body);
            if list.get("list").is_none() {
                return Err(SourceError::server(
                    self.source(),
                    format!(
                        "GET {}: not a warninglist (no `list`)",
                        self.client.url(&path)
                    ),
                ));
            }
            batch.state.push((key, list.to_string()));
            fetched += 1;
        }
        for key in states.keys() {
            if key.starts_with(WARNINGLIST_PREFIX)
                && !enabled.contains(key)
                && !states[key].is_empty()
            {
                batch.state.push((key.clone(), String::new()));
            }
        }
        self.report.notes.push(format!(
            "{} enabled warninglists mirrored ({fetched} updated)",
            enabled.len()
        ));
        ctx.commit(batch)?;
        Ok(())
    }

    fn finish_notes(&mut self) {
        if self.page_size < self.cfg.page_size {
            self.report.notes.push(format!(
                "the server caps restSearch at {} rows per request (page_size {})",
                self.page_size, self.cfg.page_size
            ));
        }
        for (why, n) in std::mem::take(&mut self.skipped) {
            self.report.notes.push(format!("skipped {n} × {why}"));
        }
    }
}

/// Sorts the decoded attributes of one page into a batch; drops are counted
/// by reason in `skipped`.
fn decode_rows(cfg: &MispConfig, rows: &[Value], skipped: &mut BTreeMap<String, u64>) -> Page {
    let decoder = Decoder::new(cfg);
    let mut page = Page::default();
    for row in rows {
        let d = decoder.decode(row);
        page.max_timestamp = page.max_timestamp.max(d.timestamp);
        match d.outcome {
            Outcome::Keep(r) => {
                page.kept.push((d.event_uuid, d.uuid));
                page.batch.indicators.push(*r);
            }
            Outcome::Drop(why) => {
                if let Some(t) = why.strip_prefix(UNSUPPORTED) {
                    page.unsupported.push((d.event_uuid.clone(), t.to_string()));
                }
                *skipped.entry(why).or_default() += 1;
                page.gone.push(d.uuid);
            }
            Outcome::Reject { item, reason } => {
                page.batch.rejects.push(Reject { item, reason });
                if !d.uuid.is_empty() {
                    page.gone.push(d.uuid);
                }
            }
        }
    }
    page
}

/// One restSearch reply as [`decode_rest_search`] decodes it.
#[doc(hidden)]
#[derive(Debug)]
pub struct DecodedPage {
    /// Attributes in the reply.
    pub rows: usize,
    pub batch: Batch,
    /// Kept attributes: (event uuid, attribute uuid).
    pub kept: Vec<(Option<String>, String)>,
    /// Dropped or rejected attribute uuids.
    pub gone: Vec<String>,
    /// Drops by reason.
    pub skipped: BTreeMap<String, u64>,
    pub max_timestamp: Option<i64>,
}

/// What a sync makes of one `POST /attributes/restSearch` reply body (HTTP
/// 200), without the network: the JSON, its attribute list and the decoded
/// page. For the fuzz targets (`fuzz/`); a sync runs the same steps.
#[doc(hidden)]
pub fn decode_rest_search(cfg: &MispConfig, body: &[u8]) -> Result<DecodedPage, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let rows = paging::attributes(body)?;
    let mut skipped = BTreeMap::new();
    let page = decode_rows(cfg, &rows, &mut skipped);
    Ok(DecodedPage {
        rows: rows.len(),
        batch: page.batch,
        kept: page.kept,
        gone: page.gone,
        skipped,
        max_timestamp: page.max_timestamp,
    })
}

fn decode_flag(v: Option<&Value>) -> Option<bool> {
    crate::sources::misp_feed::flag(v)
}

fn indicator(ext_id: &str) -> Deletion {
    Deletion {
        object: ObjectType::Indicator,
        ext_id: ext_id.to_string(),
    }
}

/// A stored watermark as a `timestamp` filter value. MISP turns anything it
/// cannot parse into "now + 1" and silently returns nothing, so the value is
/// checked here: Unix seconds, not before 2000, not in the future.
pub fn time_filter(watermark: &str) -> Result<i64, String> {
    let ts: i64 = watermark
        .trim()
        .parse()
        .map_err(|_| "not a Unix timestamp".to_string())?;
    let now = chrono::Utc::now().timestamp();
    if ts < 946_684_800 {
        return Err("before the year 2000".into());
    }
    if ts > now + 86_400 {
        return Err("more than a day in the future".into());
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_time_filters_are_caught_here() {
        assert!(time_filter("1731900000").is_ok());
        assert_eq!(time_filter("1d").unwrap_err(), "not a Unix timestamp");
        assert_eq!(time_filter("12").unwrap_err(), "before the year 2000");
        assert!(time_filter("99999999999").is_err());
    }
}
