//! Deletion and merge reconciliation (opencti.md §8): hard deletes and merges
//! are invisible to the `updated_at` pages, so the server's ids are listed
//! (ids only, 5000 per page) and whatever the store has that the server no
//! longer lists is deleted locally.
//!
//! The listing must complete: a failed or cancelled listing deletes nothing.
//! Ids are kept as 128-bit hashes (16 bytes each, about 16 MiB per million).

use std::collections::HashSet;

use serde_json::json;

use super::client::Client;
use super::decode::Page;
use super::queries::{id_filters, ids, Entity};
use crate::batch::{Batch, Deletion, ObjectType};
use crate::config::OpenCtiConfig;
use crate::source::{SourceError, SyncContext};
use crate::sources::fingerprint::Fnv128;

/// Ids per reconciliation page: the server's maximum (`max_pagination_result`).
pub const ID_PAGE: u32 = OpenCtiConfig::MAX_PAGE_SIZE;

/// Deletions committed per batch, so one transaction stays small.
const DELETIONS_PER_BATCH: usize = 10_000;

fn hash(id: &str) -> u128 {
    let mut h = Fnv128::new();
    h.write(id.as_bytes());
    h.finish()
}

pub fn object_type(entity: Entity) -> ObjectType {
    match entity {
        Entity::Indicators => ObjectType::Indicator,
        Entity::Observables => ObjectType::Observable,
        Entity::Relationships => ObjectType::Relationship,
    }
}

/// Lists the server's ids of `entity` and deletes the local ones it lacks.
/// Returns (ids listed, pages, local objects deleted).
pub async fn reconcile(
    client: &Client,
    ctx: &mut SyncContext<'_>,
    entity: Entity,
) -> Result<(u64, u64, u64), SourceError> {
    let source = ctx.source_name().to_string();
    let cancel = ctx.cancel_flag();
    let query = ids(entity);
    let mut server: HashSet<u128> = HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0u64;
    ctx.progress()
        .message(&format!("reconciling {}", entity.as_str()));
    loop {
        ctx.check_cancelled()?;
        let what = format!("{} id list page {}", entity.as_str(), pages + 1);
        let vars = json!({"first": ID_PAGE, "after": after, "filters": id_filters(entity)});
        let data = client.query(&what, &query, vars, &cancel).await?;
        let page = Page::from_data(data, entity.root_field())
            .map_err(|e| SourceError::server(&source, format!("{what}: {e}")))?;
        pages += 1;
        let n = page.nodes.len();
        for node in &page.nodes {
            if let Some(id) = node.get("id").and_then(|v| v.as_str()) {
                server.insert(hash(id));
            }
        }
        ctx.progress().inc(1, n as u64);
        // The page may come back shorter than asked for (a lower server cap)
        // with `hasNextPage` false: go on while globalCount says more remain.
        let more = page.has_next
            || (n > 0 && page.global_count.is_some_and(|g| (server.len() as u64) < g));
        match page.end_cursor {
            Some(c) if more => after = Some(c),
            _ => break,
        }
    }
    let mut gone = Vec::new();
    ctx.for_each_live_id(object_type(entity), &mut |id| {
        if !server.contains(&hash(id)) {
            gone.push(id.to_string());
        }
    })?;
    let mut deleted = 0;
    for chunk in gone.chunks(DELETIONS_PER_BATCH) {
        let batch = Batch {
            deletions: chunk
                .iter()
                .map(|id| Deletion {
                    object: object_type(entity),
                    ext_id: id.clone(),
                })
                .collect(),
            ..Batch::default()
        };
        deleted += ctx.commit(batch)?.deleted;
    }
    Ok((server.len() as u64, pages, deleted))
}
