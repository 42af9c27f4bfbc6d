//! Every file and directory the commands create is 0640/0750 at most, even
//! under `umask 000` (contract §7: intel, positions and logs are confidential).
//!
//! The commands run on a copy of the demo intel and alerts in `examples/`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/tree.rs"]
mod tree;

const BIN: &str = env!("CARGO_BIN_EXE_intelmatch");

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The binary with `--config`, run under `umask`.
fn intelmatch(cfg: &Path, umask: libc::mode_t) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(cfg).env_remove("RUST_LOG");
    // SAFETY: umask(2) is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
    cmd
}

fn ok(out: Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs every command that creates files on a copy of the demo, under
/// `umask`, and returns what it created below the data directory (mode, is a
/// directory), without the Wazuh tree the test made for integrate's log.
fn created_under(umask: libc::mode_t) -> Vec<(PathBuf, u32, bool)> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &root,
    );
    let cfg = root.join("intelmatch.toml");
    let data = root.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let alert = root.join("alerts/sysmon-network-c2.json");

    ok(
        intelmatch(&cfg, umask).arg("sync").output().unwrap(),
        "sync",
    );
    ok(
        intelmatch(&cfg, umask)
            .args(["export", "cdb", "--out"])
            .arg(data.join("lists"))
            .output()
            .unwrap(),
        "export",
    );
    ok(
        intelmatch(&cfg, umask)
            .args(["watch", "--until-idle", "--file"])
            .arg(&alert)
            .output()
            .unwrap(),
        "watch",
    );
    // integrate logs into <wazuh.home>/logs; no queue socket here, which it
    // reports and survives.
    std::fs::create_dir_all(data.join("wazuh/logs")).unwrap();
    let out = intelmatch(&cfg, umask)
        .arg("integrate")
        .arg(&alert)
        .args(["", "", "debug"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "integrate died");
    assert!(data.join("wazuh/logs/integrations.log").exists());

    // The scheduler writes its state once its first run is over.
    let mut scheduler = intelmatch(&cfg, umask)
        .args(["sync", "--schedule", "* * * * * *"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !data.join("scheduler.json").exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: the child's pid, which it still is (not yet waited for).
    unsafe { libc::kill(scheduler.id() as i32, libc::SIGTERM) };
    assert!(scheduler.wait().unwrap().success());
    assert!(
        data.join("scheduler.json").exists(),
        "the scheduler never ran"
    );

    let created: Vec<(PathBuf, u32, bool)> = tree::walk(&data)
        .into_iter()
        .map(|(p, meta)| (p, meta.permissions().mode() & 0o7777, meta.is_dir()))
        // The directory tree this test made for integrate's log is not ours.
        .filter(|(p, _, _)| !p.starts_with(data.join("wazuh")))
        .collect();
    assert!(
        created.len() > 20,
        "only {} files were created",
        created.len()
    );
    created
}

#[test]
fn files_created_under_umask_000_are_0640_and_directories_0750() {
    let too_open: Vec<String> = created_under(0)
        .iter()
        // (A CDB directory takes its parent's group bits, for Wazuh's 0770
        // etc/lists; its parent here is the 0750 data directory.)
        .filter(|(_, mode, is_dir)| mode & !if *is_dir { 0o750 } else { 0o640 } != 0)
        .map(|(p, mode, _)| format!("{:o} {}", mode, p.display()))
        .collect();
    assert!(too_open.is_empty(), "too open:\n{}", too_open.join("\n"));
}

/// A manual sync by an admin whose umask is 077 must still leave an index
/// that integratord's user (group wazuh) can read.
#[test]
fn files_created_under_umask_077_are_still_group_readable() {
    let wrong: Vec<String> = created_under(0o077)
        .iter()
        .filter(|(_, mode, is_dir)| *mode & 0o777 != if *is_dir { 0o750 } else { 0o640 })
        .map(|(p, mode, _)| format!("{:o} {}", mode, p.display()))
        .collect();
    assert!(wrong.is_empty(), "not 0640/0750:\n{}", wrong.join("\n"));
}
