//! `intelmatch match [--json] ALERT_FILE|-`: the hits for an alert, or for JSON
//! lines on stdin, exactly as `integrate` would find them; nothing is sent.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use matcher::index::Index;

use super::integrate::{alert_id, OWN_TAGS};
use super::{terminal, Failure};
use crate::cli::MatchArgs;
use crate::config::{Config, Profile};
use crate::wazuh::enrich::Enricher;
use crate::wazuh::extract::{is_own_event, parse_alert};
use crate::wazuh::json::Json;
use crate::wazuh::profile::{self, AlertContext, ProfileOptions, ResolvedHit};

pub fn run(config: &Config, args: &MatchArgs) -> Result<ExitCode, Failure> {
    let events_profile = match &args.events {
        Some(p) => Some(
            p.parse::<Profile>()
                .map_err(|e| Failure::Usage(format!("--events: {e}")))?,
        ),
        None => None,
    };
    let index = Index::open(&config.index_dir()).map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut m = Matcher {
        config,
        enricher: Enricher::new(
            &index,
            config.matching.lookup_options(),
            config.extract.options(&config.matching),
        ),
        json: args.json,
        events_profile,
        out: std::io::stdout().lock(),
    };
    let mut bad = 0usize;
    if args.alert == "-" {
        let stdin = std::io::stdin().lock();
        for (n, line) in stdin.split(b'\n').enumerate() {
            let line = line.map_err(|e| Failure::Runtime(format!("stdin: {e}")))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_alert(&line) {
                Ok(alert) => m.alert(&alert)?,
                Err(e) => {
                    bad += 1;
                    eprintln!("intelmatch: stdin line {}: {e}", n + 1);
                }
            }
        }
    } else {
        let bytes = std::fs::read(&args.alert)
            .map_err(|e| Failure::Runtime(format!("alert file {}: {e}", args.alert)))?;
        match parse_alert(&bytes) {
            Ok(alert) => m.alert(&alert)?,
            Err(e) => return Err(Failure::Runtime(format!("alert file {}: {e}", args.alert))),
        }
    }
    if bad > 0 {
        return Err(Failure::Runtime(format!(
            "{bad} input lines were not alerts"
        )));
    }
    Ok(ExitCode::SUCCESS)
}

struct Matcher<'a, W: Write> {
    config: &'a Config,
    enricher: Enricher<'a>,
    json: bool,
    events_profile: Option<Profile>,
    out: W,
}

impl<W: Write> Matcher<'_, W> {
    fn alert(&mut self, alert: &Json<'_>) -> Result<(), Failure> {
        let id = alert_label(alert);
        if is_own_event(alert, &OWN_TAGS) {
            if !self.json {
                self.line(&format!("{id}: one of our own events; skipped"))?;
            }
            return Ok(());
        }
        let enriched = self.enricher.alert(alert);
        let profile = self.events_profile.or(self.json.then_some(Profile::Native));
        if let Some(profile) = profile {
            let owned = alert.to_value();
            let ctx = AlertContext {
                alert: &owned,
                hook_url: self.config.wazuh.hook_url.as_deref(),
                misp_integration_key: self.config.wazuh.misp_integration_key,
            };
            let events = profile::events(profile, &ctx, enriched.hits, &self.profile_options());
            for e in events {
                self.line(&e.to_string())?;
            }
            return Ok(());
        }
        let n = enriched.hits.len();
        let mut head = format!(
            "{id}: {} value{} looked up, {n} hit{}",
            enriched.extraction.candidates.len(),
            plural(enriched.extraction.candidates.len()),
            plural(n)
        );
        if enriched.suppressed > 0 {
            head.push_str(&format!(
                ", {} suppressed by warninglists",
                enriched.suppressed
            ));
        }
        self.line(&head)?;
        for h in &enriched.hits {
            let weak = profile::is_weak(h, &self.config.matching.weak_kinds);
            self.line(&hit_line(h, weak))?;
        }
        Ok(())
    }

    fn profile_options(&self) -> ProfileOptions {
        let mut opts = self.config.matching.profile_options();
        // Show every hit: the cap is for what reaches analysisd.
        if self.events_profile.is_none() {
            opts.max_events = usize::MAX;
        }
        opts
    }

    fn line(&mut self, s: &str) -> Result<(), Failure> {
        // Hit lines carry feed text; JSON lines are escaped the JSON way.
        let s = if s.starts_with('{') {
            Cow::Owned(terminal::json(s.to_string()))
        } else {
            terminal::text(s)
        };
        writeln!(self.out, "{s}").map_err(|e| Failure::Runtime(format!("stdout: {e}")))
    }
}

fn hit_line(h: &ResolvedHit, weak: bool) -> String {
    let r = &h.record;
    let mut line = format!(
        "  {:13} {} = {}",
        h.effective_method().as_str(),
        h.field,
        h.value
    );
    if h.matched != h.value {
        line.push_str(&format!(" (matched {})", h.matched));
    }
    line.push_str(&format!("  → {}/{}", r.source, r.id));
    if !r.name.is_empty() {
        line.push_str(&format!("  \"{}\"", r.name));
    }
    if let Some(s) = r.score {
        line.push_str(&format!("  score {s}"));
    }
    if !r.labels.is_empty() {
        line.push_str(&format!("  labels {}", r.labels.join(",")));
    }
    if !r.markings.is_empty() {
        line.push_str(&format!("  {}", r.markings.join(",")));
    }
    if !h.warninglists.is_empty() {
        line.push_str(&format!(
            "  [on warninglist: {}]",
            h.warninglists.join(", ")
        ));
    }
    if h.record.partial {
        line.push_str("  [partial]");
    }
    if weak {
        line.push_str("  [weak]");
    }
    line
}

fn alert_label(alert: &Json<'_>) -> String {
    format!("alert {}", alert_id(alert))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
