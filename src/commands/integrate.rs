//! `intelmatch integrate` / `custom-*`: the integratord entry point (contract §4).

use std::path::Path;
use std::process::ExitCode;

/// True when the executable's file name (not argv[0]) starts with `custom-`.
pub fn invoked_as_integration() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().starts_with("custom-"))
        })
        .unwrap_or(false)
}

/// Entry when installed as `custom-*`: every argument is integratord's.
pub fn main_from_integratord() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(None, &args)
}

/// Runs one integration call; never fails loudly (integratord only logs it).
pub fn run(_config: Option<&Path>, _args: &[String]) -> ExitCode {
    eprintln!("intelmatch: integrate is not available in this build yet");
    ExitCode::from(1)
}
