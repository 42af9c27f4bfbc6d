//! The `intelmatch` binary as the CLI tests run it: `--config` pointing at the
//! `intelmatch.toml` a test wrote into its temporary directory.

use std::path::Path;
use std::process::Command;

/// `intelmatch --config <dir>/intelmatch.toml`; the caller adds arguments.
pub fn intelmatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_intelmatch"));
    cmd.arg("--config").arg(dir.join("intelmatch.toml"));
    cmd
}
