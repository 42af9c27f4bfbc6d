//! Root-run commands against a member of group `wazuh` who plants or swaps
//! symlinks in the directories that group can write to (`etc/rules`,
//! `etc/lists`, `var/run`, `integrations`): the link's target is never
//! written, chowned or chmodded, and the command fails clearly or writes
//! safely (issue 22; the writer is `matcher/src/safe_dir.rs`).
//!
//! The tests run the real binary. As root (CI and the developers' machines
//! here) they exercise the chown paths as well.
//!
//! Intel uses documentation ranges: the config sets `warninglists = "off"`.

#[path = "support/cli.rs"]
mod cli;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A file the attacker wants root to write or give away: 0600, an old mtime.
struct Target {
    path: PathBuf,
    mtime: SystemTime,
}

impl Target {
    fn new(dir: &Path, name: &str) -> Target {
        let path = dir.join(name);
        std::fs::write(&path, b"root only\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mtime = SystemTime::now() - Duration::from_secs(86_400);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        Target { path, mtime }
    }

    fn assert_untouched(&self) {
        let m = std::fs::symlink_metadata(&self.path).unwrap();
        assert!(m.is_file());
        assert_eq!(std::fs::read(&self.path).unwrap(), b"root only\n");
        assert_eq!(m.permissions().mode() & 0o7777, 0o600, "target chmodded");
        // SAFETY: geteuid and getegid have no preconditions.
        assert_eq!(m.uid(), unsafe { libc::geteuid() }, "target chowned");
        assert_eq!(m.gid(), unsafe { libc::getegid() }, "target chgrped");
        assert_eq!(m.modified().unwrap(), self.mtime, "target written");
    }
}

/// A stand-in for group wazuh's gid where the test runs as root.
const WAZUH_GID: u32 = 4242;

/// A directory as Wazuh makes it for group wazuh: writable by the group, and
/// (as root) of another group than ours, so that an ownership copied from it
/// onto the target would show.
fn wazuh_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o770)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(path, None, Some(WAZUH_GID)).unwrap();
    }
}

/// An attacker that keeps replacing every temp file appearing in `dir` by a
/// symlink to `target` (what an inotify loop does), until stopped.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(dir: &Path, target: &Path) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let (dir, target) = (dir.to_path_buf(), target.to_path_buf());
        let thread = {
            let (stop, swaps) = (stop.clone(), swaps.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(entries) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let is_temp = name.starts_with('.')
                            && (name.ends_with(".tmp") || name.ends_with("-tmp"));
                        if !is_temp || e.file_type().is_ok_and(|t| t.is_symlink()) {
                            continue;
                        }
                        let stolen = dir.join(format!("stolen-{}", swaps.load(Ordering::Relaxed)));
                        if std::fs::rename(e.path(), &stolen).is_ok()
                            && symlink(&target, e.path()).is_ok()
                        {
                            swaps.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.swaps.load(Ordering::Relaxed)
    }
}

fn install(home: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_intelmatch"))
        .args([
            "wazuh",
            "install",
            "--names",
            "custom-intelmatch",
            "--wazuh-home",
        ])
        .arg(home)
        .output()
        .unwrap()
}

/// Fails clearly: one error line naming the path.
fn assert_clear_failure(out: &std::process::Output, names: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(names), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn wazuh_install_never_writes_through_planted_links() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ossec");
    wazuh_dir(&home.join("integrations"));
    wazuh_dir(&home.join("etc/rules"));
    let target = Target::new(tmp.path(), "ld.so.preload");
    let rules = home.join("etc/rules");
    // The temp names the old writer used, and the outputs themselves.
    for name in [
        ".intelmatch_rules.xml.intelmatch-tmp",
        "intelmatch_rules.xml",
    ] {
        symlink(&target.path, rules.join(name)).unwrap();
    }
    symlink(
        &target.path,
        home.join("integrations/.custom-intelmatch.intelmatch-tmp"),
    )
    .unwrap();
    symlink(&target.path, home.join("integrations/custom-intelmatch")).unwrap();

    let out = install(&home);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.assert_untouched();
    // The outputs are now regular files of ours; the planted links at the
    // outputs were replaced, not followed.
    for out in [
        rules.join("intelmatch_rules.xml"),
        home.join("integrations/custom-intelmatch"),
    ] {
        let m = std::fs::symlink_metadata(&out).unwrap();
        assert!(m.is_file(), "{}", out.display());
    }
    let pack = std::fs::read_to_string(rules.join("intelmatch_rules.xml")).unwrap();
    assert!(pack.contains("<group name="), "{pack:.80}");
    let mode = std::fs::metadata(home.join("integrations/custom-intelmatch"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
}

#[test]
fn wazuh_install_refuses_a_rules_directory_swapped_for_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ossec");
    wazuh_dir(&home.join("integrations"));
    wazuh_dir(&home.join("etc"));
    // etc is group-writable: `etc/rules` itself replaced by a link elsewhere.
    let elsewhere = tmp.path().join("etc-ld");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, home.join("etc/rules")).unwrap();
    let out = install(&home);
    assert_clear_failure(&out, "etc/rules");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn wazuh_install_racing_a_temp_file_swapper_never_touches_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ossec");
    wazuh_dir(&home.join("integrations"));
    wazuh_dir(&home.join("etc/rules"));
    let target = Target::new(tmp.path(), "shadow");
    let swapper = Swapper::start(&home.join("etc/rules"), &target.path);
    let (mut ok, mut refused) = (0, 0);
    // Each run copies the (large, debug) binary too: a few runs suffice, the
    // rule pack is the write that loses most races.
    for _ in 0..6 {
        let _ = std::fs::remove_file(home.join("etc/rules/intelmatch_rules.xml"));
        let out = install(&home);
        if out.status.success() {
            ok += 1;
        } else {
            assert_clear_failure(&out, "intelmatch_rules.xml");
            refused += 1;
        }
        target.assert_untouched();
    }
    let swaps = swapper.stop();
    eprintln!("install under a swapper: {ok} written, {refused} refused, {swaps} swaps");
    target.assert_untouched();
}

fn write_config(dir: &Path) -> PathBuf {
    let bundle = r#"{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[
      {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","name":"c2","pattern":"[ipv4-addr:value = '198.51.100.23']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000002","name":"dom","pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z"}]}"#;
    std::fs::write(dir.join("bundle.json"), bundle).unwrap();
    std::fs::write(
        dir.join("intelmatch.toml"),
        format!(
            "data_dir = \"{data}\"\n\n[matching]\n# documentation ranges and .example names\nwarninglists = \"off\"\n\n\
             [[sources]]\nname = \"demo\"\ntype = \"stix\"\npath = \"{bundle}\"\n",
            data = dir.join("data").display(),
            bundle = dir.join("bundle.json").display()
        ),
    )
    .unwrap();
    let out = cli::intelmatch(dir).arg("sync").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("intelmatch.toml")
}

fn export(dir: &Path, out_dir: &Path) -> std::process::Output {
    cli::intelmatch(dir)
        .args(["export", "cdb", "--out"])
        .arg(out_dir)
        .output()
        .unwrap()
}

#[test]
fn export_cdb_never_writes_or_chowns_through_planted_links() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(tmp.path());
    let lists = tmp.path().join("ossec/etc/lists/intelmatch");
    wazuh_dir(&lists);
    let target = Target::new(tmp.path(), "passwd");
    // A list, its compiled .cdb and the old pid-named temp are links to the target.
    symlink(&target.path, lists.join("intelmatch-ip")).unwrap();
    symlink(&target.path, lists.join("intelmatch-domain.cdb")).unwrap();
    let out = export(tmp.path(), &lists);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.assert_untouched();
    let ip = std::fs::symlink_metadata(lists.join("intelmatch-ip")).unwrap();
    assert!(ip.is_file(), "the planted link is replaced by the list");
    assert!(std::fs::read_to_string(lists.join("intelmatch-ip"))
        .unwrap()
        .contains("198.51.100.23"));
    assert_eq!(ip.permissions().mode() & 0o777, 0o640);
}

#[test]
fn export_cdb_into_a_linked_output_directory_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(tmp.path());
    let lists = tmp.path().join("ossec/etc/lists");
    wazuh_dir(&lists);
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, lists.join("intelmatch")).unwrap();
    let out = export(tmp.path(), &lists.join("intelmatch"));
    assert_clear_failure(&out, "intelmatch");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn export_cdb_racing_a_temp_file_swapper_never_touches_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(tmp.path());
    let lists = tmp.path().join("ossec/etc/lists/intelmatch");
    wazuh_dir(&lists);
    let target = Target::new(tmp.path(), "sudoers");
    let swapper = Swapper::start(&lists, &target.path);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..30 {
        // Changed content each time, so that every list is rewritten.
        for e in std::fs::read_dir(&lists).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("intelmatch-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let out = export(tmp.path(), &lists);
        if out.status.success() {
            ok += 1;
        } else {
            assert_clear_failure(&out, "intelmatch-");
            refused += 1;
        }
        target.assert_untouched();
    }
    let swaps = swapper.stop();
    eprintln!("export under a swapper: {ok} written, {refused} refused, {swaps} swaps");
    assert!(
        swaps > 0,
        "the swapper never won a race: the test proves nothing"
    );
    target.assert_untouched();
}
