//! The commands of the `intelmatch` binary, one module each (contract §2).

pub mod export;
pub mod integrate;
pub mod lookup;
pub mod match_alert;
pub mod progress;
pub mod schedule;
pub mod status;
pub mod sync;
pub mod terminal;
pub mod watch;
pub mod wazuh;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError};
use crate::logging::{self, LogOptions};

/// Why a command failed; decides the exit status (contract §2).
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or configuration: exit 2.
    Usage(String),
    /// The command could not do its job: exit 1.
    Runtime(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Runtime(_) => ExitCode::from(1),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => m,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::Usage(e.to_string())
    }
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("intelmatch: {}", terminal::text(f.message()));
            f.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let log = LogOptions {
        format: cli.log_format,
        verbose: cli.verbose,
        quiet: u8::from(cli.quiet),
        file: None,
    };
    if let Some(Command::Integrate(args)) = &cli.command {
        return Ok(integrate::run(cli.config.as_deref(), &args.args));
    }
    let load = || -> Result<Config, Failure> {
        let (_, config) = Config::discover(cli.config.as_deref())?;
        Ok(config)
    };
    if cli.print_config {
        let config = load()?;
        print!("{}", config.render_effective());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(command) = cli.command else {
        return Err(Failure::Usage(
            "no command given: try `intelmatch --help`".into(),
        ));
    };
    if let Err(e) = logging::init(&log) {
        eprintln!("intelmatch: {e}");
    }
    logging::log_panics();
    if let Command::Wazuh(args) = &command {
        // Installing needs no config; use it when there is one.
        let config = Config::discover(cli.config.as_deref()).ok().map(|(_, c)| c);
        return wazuh::run(config.as_ref(), args);
    }
    let config = load()?;
    config.log_warnings();
    match command {
        Command::Sync(args) => sync::run(&config, &args),
        Command::Compile => sync::compile(&config),
        Command::Match(args) => match_alert::run(&config, &args),
        Command::Lookup(args) => lookup::run(&config, &args),
        Command::Status(args) => status::run(&config, &args),
        Command::Export(args) => export::run(&config, &args),
        Command::Watch(args) => watch::run(&config, &args),
        Command::Integrate(_) | Command::Wazuh(_) => unreachable!("handled above"),
    }
}
