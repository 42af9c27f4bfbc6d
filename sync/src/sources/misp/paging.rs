//! Walking `POST /attributes/restSearch` page by page (misp.md §3).
//!
//! MISP pages with LIMIT/OFFSET and has no default order, so every query asks
//! for `Attribute.id asc`. Where the last page is depends on the version:
//! up to 2.4.165 `X-Result-Count` is the total number of matches; from 2.4.166
//! it is the rows read for this page, plus one if the page was full. A page
//! may also come back shorter than `limit` while more pages exist (rows
//! dropped by the admin's allowedlist), so a short page alone ends a walk only
//! when the header proves it; without a usable header the walk ends on an
//! empty page. `enforceWarninglist` and `excludeDecayed` are never sent: they
//! drop rows after paging and would make short pages the rule.
//!
//! Since 2.5.x a role may cap the rows of one request (`result_limit_count`):
//! the server then serves at most the cap whatever `limit` says, and its
//! `X-Result-Count` is "full" at the cap (cap + 1). Such a page is not the
//! last: the first page tells the size the server really applies, and the walk
//! goes on with that `limit`, so that `page` keeps counting the same rows. A
//! server that refuses a `limit` above the cap instead is asked again with the
//! number its refusal names, or half the `limit`.

use serde_json::{json, Map, Value};

use super::client::{Client, Failure, Reply};
use crate::source::SourceError;

pub const REST_SEARCH: &str = "/attributes/restSearch";

/// What `X-Result-Count` means on this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMeaning {
    /// ≤ 2.4.165: every page carries the total match count.
    Total,
    /// ≥ 2.4.166: rows read for this page, +1 when the page was full.
    PerPage,
}

impl CountMeaning {
    /// From the `getVersion` version string; unknown versions are assumed
    /// recent (the per-page rule is also safe for the total meaning as long as
    /// the total is at least `limit`, and an empty page ends the walk anyway).
    pub fn for_version(version: Option<&str>) -> CountMeaning {
        match version.and_then(parse_version) {
            Some(v) if v < (2, 4, 166) => CountMeaning::Total,
            _ => CountMeaning::PerPage,
        }
    }
}

/// `"2.4.166"` → `(2, 4, 166)`; trailing junk on a part (`"1-rc1"`) is ignored.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.trim().split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// True when page `page` (1-based) holding `rows` rows is provably the last one.
pub fn is_last_page(
    page: u32,
    limit: u32,
    rows: usize,
    result_count: Option<u64>,
    meaning: CountMeaning,
) -> bool {
    if rows == 0 {
        return true;
    }
    match (meaning, result_count) {
        // `n` rows read and the page not full: every row read came back. With
        // fewer rows than `n` the page may be full at a smaller size (a role
        // cap: `n` is then cap + 1), or rows were dropped: an empty page decides.
        (CountMeaning::PerPage, Some(n)) => n < u64::from(limit) && rows as u64 >= n,
        (CountMeaning::Total, Some(total)) => u64::from(page) * u64::from(limit) >= total,
        // No header (a proxy stripped it): only an empty page is certain.
        (_, None) => false,
    }
}

/// The restSearch body every query starts from.
pub fn base_query(limit: u32) -> Map<String, Value> {
    let v = json!({
        "returnFormat": "json",
        "order": "Attribute.id asc",
        "limit": limit,
        "deleted": [0, 1],
        "includeEventUuid": true,
        "includeEventTags": true,
        "includeContext": true,
        "includeWarninglistHits": true,
        "withAttachments": false,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// The page size a server applies, from its first page when that page is
/// short but not provably the last: `X-Result-Count` − 1 (full at that size),
/// or without the header the rows it held. Never more than the rows the page
/// read, so the next pages overlap the first rather than skip any.
pub fn served_page_size(
    limit: u32,
    rows: usize,
    result_count: Option<u64>,
    meaning: CountMeaning,
) -> Option<u32> {
    let size = match (meaning, result_count) {
        (CountMeaning::PerPage, Some(n)) => n.checked_sub(1)?,
        (_, None) => rows as u64,
        (CountMeaning::Total, Some(_)) => return None,
    };
    (size > 0 && size < u64::from(limit)).then_some(size as u32)
}

/// A `limit` the server refused as above what the key's role may ask for:
/// the number the refusal names, else half.
pub fn smaller_limit(limit: u32, failure: &Failure) -> Option<u32> {
    let detail = failure.detail.as_deref()?;
    let status = failure.status?;
    let refusal = status.is_client_error()
        && status != reqwest::StatusCode::UNAUTHORIZED
        && status != reqwest::StatusCode::TOO_MANY_REQUESTS
        && detail.to_ascii_lowercase().contains("limit");
    if !refusal || limit <= 1 {
        return None;
    }
    let named = detail
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|d| d.parse::<u32>().ok())
        .find(|n| *n > 0 && *n < limit);
    Some(named.unwrap_or(limit / 2))
}

/// One walk over the pages of a query.
pub struct Pager {
    query: Map<String, Value>,
    limit: u32,
    meaning: CountMeaning,
    page: u32,
    done: bool,
    /// Highest attribute id seen, to notice an instance that ignores `order`.
    last_id: u64,
    warned_order: bool,
}

impl Pager {
    pub fn new(query: Map<String, Value>, limit: u32, meaning: CountMeaning) -> Pager {
        Pager {
            query,
            limit,
            meaning,
            page: 0,
            done: false,
            last_id: 0,
            warned_order: false,
        }
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.page
    }

    /// The `limit` the walk uses now: lower than asked under a role cap.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The next page's attributes, or `None` after the last page.
    pub async fn next(&mut self, client: &Client) -> Result<Option<Vec<Value>>, SourceError> {
        if self.done {
            return Ok(None);
        }
        self.page += 1;
        let Reply { body, result_count } = loop {
            let mut body = self.query.clone();
            body.insert("page".into(), self.page.into());
            body.insert("limit".into(), self.limit.into());
            match client.post_status(REST_SEARCH, &Value::Object(body)).await {
                Ok(reply) => break reply,
                // Only the first page may change the size: later pages must
                // count the same rows.
                Err(f) => match smaller_limit(self.limit, &f).filter(|_| self.page == 1) {
                    Some(smaller) => {
                        tracing::warn!(
                            source = client.source(),
                            "{}; asking for pages of {smaller}",
                            f.error.message()
                        );
                        self.limit = smaller;
                    }
                    None => return Err(f.error),
                },
            }
        };
        let rows = attributes(body).map_err(|why| {
            SourceError::server(
                client.source(),
                format!("POST {}: {why}", client.url(REST_SEARCH)),
            )
        })?;
        self.done = is_last_page(
            self.page,
            self.limit,
            rows.len(),
            result_count,
            self.meaning,
        );
        if self.page == 1 && !self.done {
            if let Some(size) = served_page_size(self.limit, rows.len(), result_count, self.meaning)
            {
                tracing::debug!(
                    source = client.source(),
                    asked = self.limit,
                    served = size,
                    "the server serves shorter pages than asked (a role's result limit); paging by {size}"
                );
                self.limit = size;
            }
        }
        self.check_order(client, &rows);
        Ok((!rows.is_empty()).then_some(rows))
    }

    fn check_order(&mut self, client: &Client, rows: &[Value]) {
        for row in rows {
            let Some(id) = row.get("id").and_then(super::decode::number) else {
                continue;
            };
            if id <= self.last_id && !self.warned_order {
                self.warned_order = true;
                tracing::warn!(
                    source = client.source(),
                    "MISP ignores `order: Attribute.id asc` (older than 2.4.179?): pages may \
                     overlap or skip rows; event reconciliation repairs this on the next sync"
                );
            }
            self.last_id = self.last_id.max(id);
        }
    }
}

/// The attribute list of a restSearch reply: `{"response": {"Attribute": [...]}}`
/// (an empty result may also come as `{"response": []}`).
pub fn attributes(body: Value) -> Result<Vec<Value>, String> {
    let Value::Object(mut top) = body else {
        return Err("the reply is not a JSON object".into());
    };
    match top.remove("response") {
        Some(Value::Object(mut r)) => match r.remove("Attribute") {
            Some(Value::Array(rows)) => Ok(rows),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err("`response.Attribute` is not a list".into()),
        },
        Some(Value::Array(a)) if a.is_empty() => Ok(Vec::new()),
        _ => Err("no `response.Attribute` in the reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.4.166"), Some((2, 4, 166)));
        assert_eq!(parse_version("2.5"), Some((2, 5, 0)));
        assert_eq!(parse_version("x"), None);
        assert_eq!(
            CountMeaning::for_version(Some("2.4.165")),
            CountMeaning::Total
        );
        assert_eq!(
            CountMeaning::for_version(Some("2.5.1")),
            CountMeaning::PerPage
        );
        assert_eq!(CountMeaning::for_version(None), CountMeaning::PerPage);
    }

    #[test]
    fn last_page_for_both_count_meanings() {
        use CountMeaning::*;
        // ≥ 2.4.166: a full page says limit + 1.
        assert!(!is_last_page(1, 10, 10, Some(11), PerPage));
        assert!(is_last_page(2, 10, 3, Some(3), PerPage));
        // A short page whose DB page was full (allowedlist drop): go on.
        assert!(!is_last_page(1, 10, 7, Some(11), PerPage));
        // ≤ 2.4.165: the total.
        assert!(!is_last_page(1, 10, 10, Some(25), Total));
        assert!(!is_last_page(2, 10, 8, Some(25), Total));
        assert!(is_last_page(3, 10, 5, Some(25), Total));
        assert!(is_last_page(2, 10, 10, Some(20), Total));
        // No header: until an empty page.
        assert!(!is_last_page(1, 10, 3, None, PerPage));
        assert!(is_last_page(2, 10, 0, None, Total));
        // A role cap of 4 under limit 10: "full" at 4 (5), not the last page.
        assert!(!is_last_page(1, 10, 4, Some(5), PerPage));
        // A last page with a row dropped is not provable either.
        assert!(!is_last_page(3, 10, 2, Some(3), PerPage));
    }

    #[test]
    fn the_served_page_size_never_skips_rows() {
        use CountMeaning::*;
        assert_eq!(
            served_page_size(5000, 1000, Some(1001), PerPage),
            Some(1000)
        );
        assert_eq!(served_page_size(5000, 997, Some(1001), PerPage), Some(1000));
        assert_eq!(served_page_size(5000, 1000, None, PerPage), Some(1000));
        // Full at the asked size: nothing to change.
        assert_eq!(served_page_size(5000, 4990, Some(5001), PerPage), None);
        assert_eq!(served_page_size(5000, 10, Some(25_000), Total), None);
    }

    #[test]
    fn a_refused_limit_is_lowered_to_what_the_refusal_names() {
        use reqwest::StatusCode;
        let refusal = |status: u16, detail: &str| Failure {
            error: SourceError::server("misp", "x"),
            status: Some(StatusCode::from_u16(status).unwrap()),
            detail: Some(detail.into()),
        };
        let capped = refusal(400, "You cannot request more than 1000 results (limit).");
        assert_eq!(smaller_limit(5000, &capped), Some(1000));
        assert_eq!(
            smaller_limit(5000, &refusal(400, "limit too large")),
            Some(2500)
        );
        assert_eq!(
            smaller_limit(5000, &refusal(429, "Rate limit exceeded.")),
            None
        );
        assert_eq!(
            smaller_limit(5000, &refusal(400, "Invalid JSON input.")),
            None
        );
        assert_eq!(smaller_limit(1, &refusal(400, "limit")), None);
    }

    #[test]
    fn empty_results_in_both_shapes() {
        assert!(attributes(json!({"response": {"Attribute": []}}))
            .unwrap()
            .is_empty());
        assert!(attributes(json!({"response": []})).unwrap().is_empty());
        assert!(attributes(json!({"errors": "x"})).is_err());
    }
}
