//! Command-line arguments (contract §2). Parsing only: every command's logic
//! lives in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "intelmatch",
    version,
    about = "Offline IoC matcher for Wazuh, fed by locally synced OpenCTI, MISP and file intel",
    propagate_version = true
)]
pub struct Cli {
    /// Config file (else $INTELMATCH_CONFIG, else /etc/intelmatch/intelmatch.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull every configured source, update the store and publish a new index generation.
    Sync(SyncArgs),
    /// Rebuild the index from the store, without the network (after an upgrade
    /// that changed the index format; the package runs it).
    Compile,
    /// Wazuh integratord entry point (also used when installed as custom-*).
    Integrate(IntegrateArgs),
    /// Print the hits for an alert file (or JSON lines on stdin); sends nothing.
    Match(MatchArgs),
    /// Look values up in the index as the integrator would.
    Lookup(LookupArgs),
    /// Per source: last sync, result, counts; index generation, age and size; warnings.
    Status(StatusArgs),
    /// Write the intel in formats other tools read (Wazuh CDB lists).
    Export(ExportArgs),
    /// Resident mode: follow alerts.json, match in process, send hits to Wazuh.
    Watch(WatchArgs),
    /// Set up a Wazuh manager: integration binaries, rule pack, ossec.conf blocks.
    Wazuh(WazuhArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only these sources (repeatable).
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Ignore watermarks and reconcile deletions.
    #[arg(long)]
    pub full: bool,
    /// Stay resident and sync on this schedule (cron syntax with seconds; 5-field
    /// crontab lines accepted). Without a value: `[sync] schedule` from the config.
    #[arg(long, value_name = "CRON", num_args = 0..=1, default_missing_value = "")]
    pub schedule: Option<String>,
    /// Only recompile the index from the store; pull nothing.
    #[arg(long)]
    pub compile_only: bool,
}

#[derive(Debug, Args)]
pub struct IntegrateArgs {
    /// Arguments exactly as integratord passes them: alert file, api_key, hook_url,
    /// debug, options file, timeout, retries, and possibly `> /dev/null 2>&1`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// One native event (contract §5.1) per hit, one per line.
    #[arg(long)]
    pub json: bool,
    /// Print the events this profile would send (native, opencti, misp), capped
    /// like integrate, one JSON object per line.
    #[arg(long, value_name = "PROFILE")]
    pub events: Option<String>,
    /// Alert file, or `-` for JSON lines on stdin.
    pub alert: String,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// One JSON object per value.
    #[arg(long)]
    pub json: bool,
    /// Treat every value as this kind instead of detecting it.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Values to look up (IPs, networks, domains, URLs, hashes, e-mails, ...).
    #[arg(required = true)]
    pub values: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub format: ExportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// Wazuh CDB lists, one per kind.
    Cdb(CdbArgs),
}

#[derive(Debug, Args)]
pub struct CdbArgs {
    /// Output directory (e.g. /var/ossec/etc/lists/intelmatch).
    #[arg(long, value_name = "DIR", required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// File names and formats: intelmatch's own lists, or those of Wazuh's built-in
    /// malicious-ioc lists (so that the stock rules 99901-99920 use them).
    #[arg(long, value_enum, default_value_t = CdbLayout::Default)]
    pub layout: CdbLayout,
    /// Most keys one network may expand to (octet prefixes, or addresses in the
    /// malicious-ioc layout); larger networks are reported, not exported.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub max_expansion: u64,
    /// Print the <ruleset><list> declarations and example rules, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CdbLayout {
    /// intelmatch-ip, intelmatch-domain, ... with provenance values.
    #[value(alias = "intelmatch")]
    Default,
    /// malicious-ip, malicious-domains, malware-hashes.
    MaliciousIoc,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// File to follow (default: [watch] file, else <wazuh home>/logs/alerts/alerts.json).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Exit once the file is read to its end (backfills, tests, benchmarks).
    #[arg(long)]
    pub until_idle: bool,
}

#[derive(Debug, Args)]
pub struct WazuhArgs {
    #[command(subcommand)]
    pub action: WazuhAction,
}

#[derive(Debug, Subcommand)]
pub enum WazuhAction {
    /// Install the integration binary and rule pack; print the ossec.conf blocks.
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[arg(long, value_name = "DIR", default_value = "/var/ossec")]
    pub wazuh_home: PathBuf,
    /// Integration names to install (custom-intelmatch, custom-opencti, custom-misp).
    #[arg(long, value_delimiter = ',', default_value = "custom-intelmatch")]
    pub names: Vec<String>,
    /// Show what would be done without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}
