//! `intelmatch wazuh install`: puts the binary where integratord looks for it,
//! installs the rule pack, and prints what the user must add to ossec.conf.
//!
//! integratord refuses to run a file that user wazuh can write (`W_CHECK_WRITE`),
//! and a symlink would hand it the target's name, so each integration name gets
//! its own copy, `root:wazuh 0750`, written to a temp file and renamed so a run
//! in progress never sees half a binary. Run as root into directories group
//! wazuh can write to, so every write goes through `matcher::safe_dir`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use matcher::safe_dir::{self, SafeDir};

use super::profile::Profile;

/// The native rule pack, embedded so an installed binary carries it.
pub const RULE_PACK: &str = include_str!("../../wazuh/rules/intelmatch_rules.xml");
/// Where the rule pack goes under the Wazuh home.
pub const RULE_PACK_PATH: &str = "etc/rules/intelmatch_rules.xml";

/// The names integratord accepts for custom integrations that we answer to.
pub const KNOWN_NAMES: [&str; 3] = ["custom-intelmatch", "custom-opencti", "custom-misp"];

/// Alert groups that carry IoCs (Sysmon, FIM, osquery, Suricata, auditd, web,
/// sshd, firewalls, cloud logs). None of them is one of ours, so our own events
/// never come back.
pub const INTEGRATION_GROUPS: &str = "sysmon_event1,sysmon_event3,sysmon_event6,sysmon_event7,\
sysmon_event_15,sysmon_event_22,sysmon_eid1_detections,sysmon_eid3_detections,\
sysmon_eid7_detections,sysmon_eid22_detections,syscheck_file,syscheck_entry_added,\
syscheck_entry_modified,osquery_file,ids,suricata,audit_command,web,accesslog,sshd,\
authentication_failed,firewall_drop,office365,aws,gcp,cloudflare,";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    pub home: PathBuf,
    pub binary: PathBuf,
    pub names: Vec<String>,
}

/// What was (or would be) done, one line each.
#[derive(Debug, Default)]
pub struct Report {
    pub actions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("integration name `{0}`: integratord runs only names that start with custom- (e.g. custom-intelmatch)")]
    BadName(String),
    #[error("{}: not a Wazuh manager installation (no integrations/ directory); give --wazuh-home", .0.display())]
    NotWazuh(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl InstallPlan {
    pub fn new(home: &Path, binary: &Path, names: &[String]) -> Result<InstallPlan, InstallError> {
        let mut out = Vec::new();
        for n in names {
            let n = n.trim();
            if !n.starts_with("custom-") || n.len() == "custom-".len() || n.contains('/') {
                return Err(InstallError::BadName(n.to_string()));
            }
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
        Ok(InstallPlan {
            home: home.to_path_buf(),
            binary: binary.to_path_buf(),
            names: out,
        })
    }

    /// Carries the plan out, or only describes it with `dry_run`.
    pub fn run(&self, dry_run: bool) -> Result<Report, InstallError> {
        let integrations = self.home.join("integrations");
        if !dry_run && !integrations.is_dir() {
            return Err(InstallError::NotWazuh(self.home.clone()));
        }
        let owner = Owner::lookup();
        let mut report = Report::default();
        for name in &self.names {
            let dest = integrations.join(name);
            report.actions.push(format!(
                "copy {} to {} ({}, mode 0750)",
                self.binary.display(),
                dest.display(),
                owner.describe()
            ));
            if !dry_run {
                let bytes = fs::read(&self.binary).map_err(|e| io_err(&self.binary, e))?;
                write_atomically(&dest, &bytes, 0o750, &owner)?;
            }
        }
        let rules = self.home.join(RULE_PACK_PATH);
        if holds(&rules, RULE_PACK.as_bytes()) {
            report
                .actions
                .push(format!("{} is up to date", rules.display()));
        } else {
            report.actions.push(format!(
                "write the rule pack to {} ({}, mode 0660)",
                rules.display(),
                owner.describe()
            ));
            if !dry_run {
                write_atomically(&rules, RULE_PACK.as_bytes(), 0o660, &owner)?;
            }
        }
        Ok(report)
    }

    /// The `<integration>` blocks to add to ossec.conf, one per name.
    pub fn ossec_conf(&self, config: &Path) -> String {
        let mut out = String::new();
        for name in &self.names {
            let profile = Profile::for_integration_name(name).unwrap_or(Profile::Native);
            let _ = write!(
                out,
                "<integration>\n  <name>{name}</name>\n  <group>{INTEGRATION_GROUPS}</group>\n  \
                 <alert_format>json</alert_format>\n  \
                 <options>{{\"config\": \"{}\", \"profile\": \"{profile}\"}}</options>\n\
                 </integration>\n",
                config.display()
            );
        }
        out
    }
}

/// Rules that raise level-0 IoC-bearing events so integratord sees them (the
/// EID 22 one ships in the pack; the others depend on the site).
pub const LEVEL_RAISING_RULES: &str = r#"<!-- Sysmon EID 22 (DNS) is raised by rule 117140 in intelmatch_rules.xml.
     Suricata dns/http/tls events (86602-86604) are level 0; to match them, add to local_rules.xml: -->
<group name="ids,suricata,">
  <rule id="117141" level="3">
    <if_sid>86602, 86603, 86604</if_sid>
    <description>Suricata: $(event_type) event (forwarded to intelmatch)</description>
  </rule>
</group>"#;

/// The `root:wazuh` owner when we run as root, else nothing to change.
struct Owner {
    gid: Option<u32>,
    is_root: bool,
}

impl Owner {
    fn lookup() -> Owner {
        let is_root = fs::metadata("/proc/self")
            .map(|m| uid_of(&m) == 0)
            .unwrap_or(false);
        Owner {
            gid: if is_root {
                safe_dir::group_id("wazuh")
            } else {
                None
            },
            is_root,
        }
    }

    fn describe(&self) -> &'static str {
        match (self.is_root, self.gid) {
            (true, Some(_)) => "owner root:wazuh",
            (true, None) => "owner root (no group wazuh on this host)",
            (false, _) => "owner unchanged: not run as root",
        }
    }
}

#[cfg(unix)]
fn uid_of(m: &fs::Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    m.uid()
}

/// Writes `dest` through [`SafeDir`]: `etc/rules` is writable by group
/// wazuh, so nothing there is done by path (a planted symlink at a temp or
/// final name would otherwise be written, chowned and chmodded as root).
fn write_atomically(
    dest: &Path,
    bytes: &[u8],
    mode: u32,
    owner: &Owner,
) -> Result<(), InstallError> {
    use std::io::Write;
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name().and_then(|n| n.to_str())) else {
        return Err(io_err(dest, io::Error::other("not a file name")));
    };
    let dir = SafeDir::open(dir).map_err(|e| io_err(dest, e))?;
    let mut tmp = dir.create_temp(name).map_err(|e| io_err(dest, e))?;
    (|| -> io::Result<()> {
        tmp.file().write_all(bytes)?;
        if owner.is_root {
            tmp.set_owner(Some(0), owner.gid)?;
        }
        tmp.set_mode(mode)?;
        tmp.persist(name)
    })()
    .map_err(|e| io_err(dest, e))
}

/// Whether `path` already holds `content`, read without following a symlink.
fn holds(path: &Path, content: &[u8]) -> bool {
    use std::io::Read;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return false;
    };
    let Ok(Some(file)) = SafeDir::open(dir).and_then(|d| d.open_file(name)) else {
        return false;
    };
    let mut have = Vec::with_capacity(content.len());
    file.take(content.len() as u64 + 1)
        .read_to_end(&mut have)
        .is_ok_and(|_| have == content)
}

fn io_err(path: &Path, source: io::Error) -> InstallError {
    InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_custom() {
        let p = Path::new("/x");
        assert!(InstallPlan::new(p, p, &["custom-intelmatch".into()]).is_ok());
        for bad in ["intelmatch", "custom-", "custom-a/b", "virustotal"] {
            let e = InstallPlan::new(p, p, &[bad.into()]).unwrap_err();
            assert!(e.to_string().contains("custom-"), "{e}");
        }
    }

    #[test]
    fn installs_copies_and_the_rule_pack() {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir_all(home.path().join("integrations")).unwrap();
        fs::create_dir_all(home.path().join("etc/rules")).unwrap();
        let bin = home.path().join("intelmatch-bin");
        fs::write(&bin, b"\x7fELF fake").unwrap();
        let names = vec!["custom-intelmatch".to_string(), "custom-misp".to_string()];
        let plan = InstallPlan::new(home.path(), &bin, &names).unwrap();

        let dry = plan.run(true).unwrap();
        assert_eq!(dry.actions.len(), 3);
        assert!(!home.path().join("integrations/custom-misp").exists());

        plan.run(false).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for n in &names {
            let p = home.path().join("integrations").join(n);
            assert_eq!(fs::read(&p).unwrap(), b"\x7fELF fake");
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o750
            );
        }
        let rules = home.path().join(RULE_PACK_PATH);
        assert_eq!(fs::read_to_string(&rules).unwrap(), RULE_PACK);
        let again = plan.run(false).unwrap();
        assert!(again.actions.last().unwrap().contains("up to date"));

        let conf = plan.ossec_conf(Path::new("/etc/intelmatch/intelmatch.toml"));
        assert_eq!(conf.matches("<integration>").count(), 2);
        assert!(conf.contains("\"profile\": \"misp\""));
        assert!(conf.contains("<alert_format>json</alert_format>"));
        for own in ["intelmatch", "opencti", "misp", "threat_intel"] {
            assert!(!INTEGRATION_GROUPS.split(',').any(|g| g == own));
        }
    }

    #[test]
    fn refuses_a_home_without_integrations() {
        let home = tempfile::tempdir().unwrap();
        let plan =
            InstallPlan::new(home.path(), Path::new("/bin/true"), &["custom-x".into()]).unwrap();
        assert!(plan
            .run(false)
            .unwrap_err()
            .to_string()
            .contains("--wazuh-home"));
    }

    #[test]
    fn the_rule_pack_ids_stay_in_range() {
        for id in RULE_PACK.split("rule id=\"").skip(1) {
            let id: u32 = id[..6].parse().unwrap();
            assert!((117100..117150).contains(&id), "{id}");
        }
    }
}
