//! `intelmatch wazuh install`: binary copies, rule pack, ossec.conf blocks.

use std::process::ExitCode;

use super::Failure;
use crate::cli::{InstallArgs, WazuhAction, WazuhArgs};
use crate::config::Config;
use crate::wazuh::install::{InstallError, InstallPlan, LEVEL_RAISING_RULES};

pub fn run(config: Option<&Config>, args: &WazuhArgs) -> Result<ExitCode, Failure> {
    match &args.action {
        WazuhAction::Install(a) => install(config, a),
    }
}

fn install(config: Option<&Config>, args: &InstallArgs) -> Result<ExitCode, Failure> {
    let binary = std::env::current_exe()
        .map_err(|e| Failure::Runtime(format!("cannot find this binary: {e}")))?;
    let plan = InstallPlan::new(&args.wazuh_home, &binary, &args.names).map_err(|e| match e {
        InstallError::BadName(_) => Failure::Usage(format!("--names: {e}")),
        e => Failure::Runtime(e.to_string()),
    })?;
    let report = plan
        .run(args.dry_run)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let verb = if args.dry_run { "would" } else { "did" };
    for a in &report.actions {
        println!("{verb}: {a}");
    }
    let config_path = config
        .map(|c| c.origin().to_path_buf())
        .unwrap_or_else(|| crate::config::DEFAULT_CONFIG_PATH.into());
    println!(
        "\nAdd to {} inside <ossec_config>, then restart the manager:\n",
        args.wazuh_home.join("etc/ossec.conf").display()
    );
    print!("{}", plan.ossec_conf(&config_path));
    println!("\nLevel-0 events never reach integratord. Rules that raise them:\n");
    println!("{LEVEL_RAISING_RULES}");
    Ok(ExitCode::SUCCESS)
}
