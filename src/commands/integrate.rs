//! `intelmatch integrate` / `custom-*`: the integratord entry point (contract §4).
//!
//! One alert per process: read the options, the config and the alert, map the
//! current index generation, match, send one datagram per event, exit. No
//! network, no SQLite, no index building.
//!
//! Exit status (integratord logs every non-zero one as an ERROR in ossec.log):
//! - 0: done, including "nothing to extract", "no hit", our own event, and
//!   analysisd being down (said in the log);
//! - 1: the alert could not be read (missing, empty, not JSON, truncated, too
//!   large or too deep), or the index is missing or unreadable (also sent as the
//!   profile's error event, at most once a minute);
//! - 2: the configuration is invalid or no alert file was given.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use matcher::index::Index;
use serde_json::Value;

use crate::config::{Config, Profile, WazuhConfig};
use crate::logging;
use crate::wazuh::argv::{read_options_file, IntegrateArgs, ParsedOptions};
use crate::wazuh::enrich::Enricher;
use crate::wazuh::extract::{is_own_event, parse_alert, MAX_ALERT_BYTES};
use crate::wazuh::json::Json;
use crate::wazuh::location::reply_location;
use crate::wazuh::profile::{self, AlertContext};
use crate::wazuh::sender::{QueueError, QueueSender};
use crate::wazuh::throttle::ErrorThrottle;

/// The integration tags whose events we may receive back.
pub const OWN_TAGS: [&str; 3] = ["intelmatch", "opencti", "misp"];

/// A generation older than this is reported as stale (the sync publishes one on
/// every successful run).
pub const STALE_AFTER_HOURS: i64 = super::status::STALE_AFTER_HOURS;

/// True when the executable's file name (not argv[0]) starts with `custom-`.
pub fn invoked_as_integration() -> bool {
    exe_name().is_some_and(|n| n.starts_with("custom-"))
}

/// The executable's file name, read once (`/proc/self/exe`).
fn exe_name() -> Option<&'static str> {
    static NAME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        Some(exe.file_name()?.to_string_lossy().into_owned())
    })
    .as_deref()
}

/// Entry when installed as `custom-*`: every argument is integratord's.
pub fn main_from_integratord() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    run(None, &args)
}

/// Profile order (contract §4): options → config → executable name → native.
fn choose_profile(
    options: &ParsedOptions,
    config: Option<&Config>,
    exe: Option<&str>,
) -> (Profile, Option<String>) {
    let mut warning = None;
    if let Some(name) = &options.options.profile {
        match name.parse::<Profile>() {
            Ok(p) => return (p, None),
            Err(e) => warning = Some(format!("options: {e}; ignoring it")),
        }
    }
    let p = config
        .and_then(|c| c.wazuh.profile)
        .or_else(|| exe.and_then(Profile::for_integration_name))
        .unwrap_or(Profile::Native);
    (p, warning)
}

/// Runs one integration call. `global_config` is `--config` when run as
/// `intelmatch --config X integrate ...`. A panic (a bug) is logged as one
/// line in the integrations log and exits 1; nothing half-built is sent.
pub fn run(global_config: Option<&Path>, raw_args: &[String]) -> ExitCode {
    logging::log_panics();
    std::panic::catch_unwind(|| run_inner(global_config, raw_args)).unwrap_or(ExitCode::from(1))
}

fn run_inner(global_config: Option<&Path>, raw_args: &[String]) -> ExitCode {
    let args = IntegrateArgs::parse(raw_args);
    let options = args
        .options_file
        .as_deref()
        .map(read_options_file)
        .unwrap_or_default();
    let debug = options.options.debug.unwrap_or(args.debug);
    let explicit = options.options.config.as_deref().or(global_config);
    let loaded = Config::discover(explicit);
    // Without a config the default home still tells where to log and report.
    let wazuh = match &loaded {
        Ok((_, c)) => c.wazuh.clone(),
        Err(_) => WazuhConfig::default(),
    };
    logging::init_integrate(&wazuh.log_file, debug);
    tracing::debug!("integrate: {args:?}");
    for w in &options.warnings {
        tracing::warn!("{w}");
    }
    let exe = exe_name();
    let (profile, warning) = choose_profile(&options, loaded.as_ref().ok().map(|(_, c)| c), exe);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let reporter = Reporter::new(&wazuh, profile);

    let config = match loaded {
        Ok((_, config)) => config,
        Err(e) => {
            tracing::error!("{e}");
            reporter.error(&format!("intelmatch configuration error: {e}"));
            return ExitCode::from(2);
        }
    };
    for w in config.warnings() {
        tracing::warn!("{}: {w}", config.origin().display());
    }
    let Some(alert_path) = args.alert_file.as_deref() else {
        tracing::error!(
            "no alert file given (integratord passes it as the first argument; \
             by hand: intelmatch integrate ALERT_FILE)"
        );
        return ExitCode::from(2);
    };
    let bytes = match read_alert(alert_path) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(1);
        }
    };
    let parsed = match parse_alert(&bytes) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("alert file {}: {e}", alert_path.display());
            return ExitCode::from(1);
        }
    };
    if is_own_event(&parsed, &OWN_TAGS) {
        tracing::debug!(
            "alert {}: one of our own events; skipped",
            alert_id(&parsed)
        );
        return ExitCode::SUCCESS;
    }

    let index = match Index::open(&config.index_dir()) {
        // The process ends right after this alert: leaving the mappings (and the
        // reader lock) to exit spares nine munmaps and their TLB flushes.
        Ok(i) => &*Box::leak(Box::new(i)),
        Err(e) => {
            let mut msg = format!("intelmatch index unavailable: {e}");
            if !msg.contains("intelmatch sync") {
                msg.push_str("; run `intelmatch sync`");
            }
            tracing::error!("{msg}");
            reporter.error(&msg);
            return ExitCode::from(1);
        }
    };
    if let Some(hours) = stale_hours(index) {
        let msg = format!(
            "intelmatch index generation {} is {hours} h old: intel is stale, check `intelmatch status`",
            index.generation()
        );
        tracing::warn!("{msg}");
        reporter.error(&msg);
    }

    let mut enricher = Enricher::new(
        index,
        config.matching.lookup_options(),
        config.extract.options(&config.matching),
    );
    let enriched = enricher.alert(&parsed);
    if enriched.unreadable > 0 {
        let msg = format!(
            "intelmatch index generation {}: {} hit records unreadable (damaged generation); run `intelmatch sync`",
            index.generation(),
            enriched.unreadable
        );
        tracing::error!("{msg}");
        reporter.error(&msg);
    }
    let hook_url = args
        .hook_url
        .as_deref()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .or(config.wazuh.hook_url.as_deref());
    // The event builders take the owned tree; an alert without hits has no events.
    let alert = if enriched.hits.is_empty() {
        Value::Null
    } else {
        parsed.to_value()
    };
    let ctx = AlertContext {
        alert: &alert,
        hook_url,
        misp_integration_key: config.wazuh.misp_integration_key,
    };
    let hits = enriched.hits.len();
    let events = profile::events(
        profile,
        &ctx,
        enriched.hits,
        &config.matching.profile_options(),
    );
    tracing::debug!(
        "alert {}: {} candidates, {hits} hits, {} suppressed by warninglists, {} events",
        alert_id(&parsed),
        enriched.extraction.candidates.len(),
        enriched.suppressed,
        events.len()
    );
    if events.is_empty() {
        return ExitCode::SUCCESS;
    }
    let location = reply_location(&alert, profile.tag());
    let sender = QueueSender::new(&wazuh.queue_socket);
    for event in &events {
        match sender.send(&location, event) {
            Ok(bytes) => tracing::debug!("sent {bytes} bytes to {}", sender.path().display()),
            Err(e @ (QueueError::NotAnObject | QueueError::TooLarge)) => {
                tracing::error!("alert {}: event not sent: {e}", alert_id(&parsed));
            }
            Err(e) => {
                // analysisd down, full or forbidden: later events would fail alike.
                tracing::error!(
                    "alert {}: {e}; {} events not delivered",
                    alert_id(&parsed),
                    events.len()
                );
                return ExitCode::SUCCESS;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Reads the alert file integratord wrote, bounded in size.
fn read_alert(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("alert file {shown}: not found"),
        _ => format!("alert file {shown}: {e}"),
    })?;
    // Sized from the file, so the alert is read in one call, not in growing chunks.
    let size = file.metadata().map_or(0, |m| m.len() as usize);
    let mut bytes = Vec::with_capacity(size.min(MAX_ALERT_BYTES) + 1);
    // One byte over the cap is enough to know it is too large.
    file.take(MAX_ALERT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("alert file {shown}: {e}"))?;
    if bytes.len() > MAX_ALERT_BYTES {
        return Err(format!(
            "alert file {shown}: larger than the {MAX_ALERT_BYTES} bytes accepted; skipped"
        ));
    }
    Ok(bytes)
}

/// `id` and rule of an alert, for log lines.
pub fn alert_id(alert: &Json<'_>) -> String {
    let id = alert.get("id").and_then(Json::as_str).unwrap_or("?");
    let rule = alert
        .at(&["rule", "id"])
        .and_then(Json::as_str)
        .unwrap_or("?");
    format!("{id} (rule {rule})")
}

fn stale_hours(index: &Index) -> Option<i64> {
    let created = chrono::DateTime::parse_from_rfc3339(&index.meta().created_at).ok()?;
    let hours = chrono::Utc::now()
        .signed_duration_since(created)
        .num_hours();
    (hours > STALE_AFTER_HOURS).then_some(hours)
}

/// Sends the profile's error events, throttled.
struct Reporter {
    profile: Profile,
    sender: QueueSender,
    /// Wazuh's home: where the throttle's stamp lives, looked at only on an error.
    home: std::path::PathBuf,
}

impl Reporter {
    fn new(wazuh: &WazuhConfig, profile: Profile) -> Reporter {
        Reporter {
            profile,
            sender: QueueSender::new(&wazuh.queue_socket),
            home: wazuh.home.clone(),
        }
    }

    fn error(&self, message: &str) {
        if !ErrorThrottle::for_home(&self.home, self.profile.tag()).allow() {
            tracing::debug!("error event not sent: one was sent less than a minute ago");
            return;
        }
        let event = profile::error_event(self.profile, message);
        if let Err(e) = self.sender.send(self.profile.tag(), &event) {
            tracing::error!("error event not delivered: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_order_is_options_config_exe_native() {
        let opts = |p: Option<&str>| ParsedOptions {
            options: crate::wazuh::argv::IntegrateOptions {
                profile: p.map(str::to_string),
                ..Default::default()
            },
            warnings: vec![],
        };
        let mut config = Config::from_toml_str("", Path::new("/x.toml")).unwrap();
        assert_eq!(
            choose_profile(&opts(None), None, Some("custom-opencti")).0,
            Profile::Opencti
        );
        assert_eq!(
            choose_profile(&opts(None), None, Some("custom-misp")).0,
            Profile::Misp
        );
        assert_eq!(
            choose_profile(&opts(None), None, Some("custom-intelmatch")).0,
            Profile::Native
        );
        assert_eq!(choose_profile(&opts(None), None, None).0, Profile::Native);
        config.wazuh.profile = Some(Profile::Misp);
        assert_eq!(
            choose_profile(&opts(None), Some(&config), Some("custom-opencti")).0,
            Profile::Misp
        );
        assert_eq!(
            choose_profile(&opts(Some("opencti")), Some(&config), None).0,
            Profile::Opencti
        );
        let (p, w) = choose_profile(&opts(Some("bogus")), Some(&config), None);
        assert_eq!(p, Profile::Misp);
        assert!(w.unwrap().contains("bogus"));
    }
}
