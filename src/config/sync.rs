//! `[sync]` (when and how intel is pulled) and the cron syntax it shares with
//! `intelmatch sync --schedule`.

use std::str::FromStr;

use serde::Serialize;

use super::table::Table;
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncConfig {
    /// Cron expression for the resident `sync --schedule` mode (see [`parse_schedule`]).
    pub schedule: Option<String>,
    /// Random delay up to this many seconds before each scheduled run, so that
    /// many managers do not hit one intel server at the same second.
    pub jitter_secs: u64,
    /// Index generations kept on disk, the current one included (≥ 1).
    pub generations_keep: usize,
    /// An old generation still mapped by a reader is removed after this long.
    pub generation_grace_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            schedule: None,
            jitter_secs: 0,
            generations_keep: 2,
            generation_grace_secs: 3600,
        }
    }
}

impl SyncConfig {
    pub(crate) fn read(mut t: Table<'_>) -> Result<SyncConfig, ConfigError> {
        let d = SyncConfig::default();
        let s = SyncConfig {
            schedule: t.parse("schedule", |s| parse_schedule(s).map(|_| s.to_owned()))?,
            jitter_secs: t.int("jitter_secs", 0, i64::MAX)?.unwrap_or(d.jitter_secs),
            generations_keep: t
                .int("generations_keep", 1, 1000)?
                .unwrap_or(d.generations_keep),
            generation_grace_secs: t
                .int("generation_grace_secs", 0, i64::MAX)?
                .unwrap_or(d.generation_grace_secs),
        };
        t.finish()?;
        Ok(s)
    }
}

/// Parse a schedule: the `cron` crate's syntax (`sec min hour dom month dow
/// [year]`, or `@daily` and friends), or a 5-field crontab line (`min hour dom
/// month dow`, where day-of-week 0 and 7 are Sunday).
///
/// The `cron` crate numbers days of the week 1 (Sunday) to 7, crontab 0
/// (Sunday) to 6, so numeric days of a crontab line are rewritten as names
/// rather than passed through with the wrong meaning.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let normalised = if fields.len() == 5 {
        let dow = crontab_days(fields[4])?;
        format!(
            "0 {} {} {} {} {dow}",
            fields[0], fields[1], fields[2], fields[3]
        )
    } else {
        fields.join(" ")
    };
    cron::Schedule::from_str(&normalised).map_err(|e| {
        // The crate's message spans lines (the expression, a caret, the reason).
        let text = e.to_string();
        let reason = text.lines().last().unwrap_or("").trim();
        format!("invalid cron expression `{expr}`: {reason} (want `sec min hour day month weekday`, or a 5-field crontab line)")
    })
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Crontab day-of-week field → the same days by name.
fn crontab_days(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut out = Vec::new();
    for item in field.split(',') {
        if item.chars().any(|c| c.is_ascii_alphabetic()) {
            // Named days mean the same in both syntaxes.
            out.push(item.to_owned());
            continue;
        }
        let bad =
            || format!("invalid day of week `{item}` in crontab line (0-7, names, ranges, steps)");
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<usize>().map_err(|_| bad())?),
            None => (item, 1),
        };
        let (lo, hi) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?),
                None => {
                    let d = day(r).ok_or_else(bad)?;
                    // `5/2` means from 5 to the end of the week.
                    (d, if item.contains('/') { 7 } else { d })
                }
            },
        };
        if step == 0 || lo > hi {
            return Err(bad());
        }
        for d in (lo..=hi).step_by(step) {
            let name = DAY_NAMES[d % 7];
            if !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
    }
    Ok(out.join(","))
}

fn day(s: &str) -> Option<usize> {
    s.parse::<usize>().ok().filter(|d| *d <= 7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Utc};

    fn next(expr: &str) -> chrono::DateTime<Utc> {
        // 2026-01-01 is a Thursday.
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap();
        parse_schedule(expr).unwrap().after(&start).next().unwrap()
    }

    #[test]
    fn five_field_lines_use_crontab_day_numbers() {
        // 1 = Monday in crontab; the cron crate alone would read it as Sunday.
        let t = next("30 2 * * 1");
        assert_eq!(t.weekday(), chrono::Weekday::Mon);
        assert_eq!((t.hour(), t.minute(), t.second()), (2, 30, 0));
        assert_eq!(next("0 3 * * 0").weekday(), chrono::Weekday::Sun);
        assert_eq!(next("0 3 * * 7").weekday(), chrono::Weekday::Sun);
        assert_eq!(next("0 3 * * 5-7").weekday(), chrono::Weekday::Fri);
        assert_eq!(next("0 3 * * SAT").weekday(), chrono::Weekday::Sat);
        assert_eq!(next("*/15 * * * *").minute(), 15);
    }

    #[test]
    fn cron_crate_syntax_passes_through() {
        assert_eq!(next("0 0 */6 * * *").hour(), 6);
        assert_eq!(next("@daily").day(), 2);
        assert!(parse_schedule("every day").is_err());
        assert!(parse_schedule("0 3 * * 9").is_err());
    }
}
