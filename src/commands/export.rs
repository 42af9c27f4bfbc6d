//! `intelmatch export cdb --out DIR`: the store's live content as Wazuh CDB
//! lists (contract §6; the work is done by `store::export`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;
use store::export::{self, ExportOptions, ExportSummary, Layout};
use store::{Store, StoreError};

use super::Failure;
use crate::cli::{CdbArgs, CdbLayout, ExportArgs, ExportFormat};
use crate::config::Config;

/// The shipped rule pack; `--print-config` prints it with the real list paths.
const CDB_RULES: &str = include_str!("../../wazuh/rules/intelmatch_cdb_rules.xml");
/// The list directory the shipped rules name.
const RULES_DIR: &str = "etc/lists/intelmatch";

pub fn run(config: &Config, args: &ExportArgs) -> Result<ExitCode, Failure> {
    match &args.format {
        ExportFormat::Cdb(a) => cdb(config, a),
    }
}

fn cdb(config: &Config, args: &CdbArgs) -> Result<ExitCode, Failure> {
    let layout = match args.layout {
        CdbLayout::Default => Layout::Default,
        CdbLayout::MaliciousIoc => Layout::MaliciousIoc,
    };
    let home = &config.wazuh.home;
    if args.print_config {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| home.join(layout.default_dir()));
        print!("{}", render_config(home, &absolute(&out), layout));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(out) = &args.out else {
        return Err(Failure::Usage("export cdb: --out DIR is required".into()));
    };
    let out = absolute(out);
    if let Some(conf) = cluster_worker(home) {
        if out.starts_with(home.join("etc/lists")) {
            return Err(Failure::Usage(format!(
                "export cdb: {} says this node is a cluster worker; export on the master \
                 (the cluster overwrites etc/lists on workers and syncs the master's lists to them)",
                conf.display()
            )));
        }
    }
    let store = Store::open_readonly(config.store_path()).map_err(|e| match e {
        StoreError::Missing { path } => Failure::Runtime(format!(
            "no store at {}: run `intelmatch sync` first",
            path.display()
        )),
        e => Failure::Runtime(e.to_string()),
    })?;
    let opts = ExportOptions {
        layout,
        max_expansion: args.max_expansion,
        compile: config.matching.compile_options(),
    };
    let summary = export::export_store(&store, &out, &opts)
        .map_err(|e| Failure::Runtime(format!("export cdb: {e}")))?;
    for n in &summary.not_exported {
        tracing::warn!(
            "export cdb: {} not exported: {} (e.g. {})",
            n.count,
            n.reason,
            n.examples.join(", ")
        );
    }
    if args.json {
        println!("{}", summary_json(&summary));
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

fn summary_json(s: &ExportSummary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|e| json!({"error": e.to_string()}));
    v["changed"] = s.changed().into();
    v
}

fn print_summary(s: &ExportSummary) {
    let width = s.lists.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in &s.lists {
        let state = if l.written {
            format!("+{} -{}, written", l.added, l.removed)
        } else {
            "unchanged".to_string()
        };
        println!(
            "{:width$}  {:>9} lines  {:>11} bytes  {state}",
            l.name, l.lines, l.bytes
        );
    }
    if s.networks_expanded > 0 {
        println!(
            "networks: {} written as {} prefix or address keys",
            s.networks_expanded, s.network_keys
        );
    }
    for n in &s.not_exported {
        println!(
            "not exported: {} × {} (e.g. {})",
            n.count,
            n.reason,
            n.examples.join(", ")
        );
    }
    if !s.excluded.is_empty() {
        let parts: Vec<String> = s.excluded.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!("left out as in the index: {}", parts.join(", "));
    }
    if s.changed() {
        println!(
            "lists changed in {}: analysisd loads them at restart (`wazuh-control restart`), \
             or on 4.13+ at `PUT /manager/analysisd/reload` (`PUT /cluster/analysisd/reload` in a cluster)",
            s.out.display()
        );
    } else {
        println!("no list changed in {}", s.out.display());
    }
}

/// The list path as `ossec.conf` and rules name it: relative to the Wazuh
/// home when the lists are under it.
fn list_dir_for_wazuh(home: &Path, out: &Path) -> String {
    match out.strip_prefix(home) {
        Ok(rel) => rel.to_string_lossy().trim_end_matches('/').to_string(),
        Err(_) => out.to_string_lossy().trim_end_matches('/').to_string(),
    }
}

/// `--print-config`: the `<ruleset><list>` declarations and the rules.
pub fn render_config(home: &Path, out: &Path, layout: Layout) -> String {
    let dir = list_dir_for_wazuh(home, out);
    let mut s = String::new();
    if !out.starts_with(home) {
        s.push_str(&format!(
            "<!-- {} is outside the Wazuh home {}: analysisd reads lists relative to the home, \
             so export into <home>/etc/lists/... (cluster sync covers etc/lists only). -->\n",
            out.display(),
            home.display()
        ));
    }
    s.push_str(
        "<!-- ossec.conf, inside <ossec_config> (on the master in a cluster; the cluster syncs \
         etc/lists to the workers): -->\n<ruleset>\n",
    );
    for spec in layout.lists() {
        s.push_str(&format!("  <list>{dir}/{}</list>\n", spec.name));
    }
    s.push_str("</ruleset>\n\n");
    match layout {
        Layout::Default => {
            s.push_str(&format!(
                "<!-- etc/rules/intelmatch_cdb_rules.xml (shipped as wazuh/rules/intelmatch_cdb_rules.xml), \
                 list paths under {dir}: -->\n"
            ));
            s.push_str(&CDB_RULES.replace(&format!("{RULES_DIR}/"), &format!("{dir}/")));
        }
        Layout::MaliciousIoc => {
            s.push_str(&format!(
                "<!-- Wazuh 4.13+ declares etc/lists/malicious-ioc/* in the default ossec.conf and its \
                 stock rules 99901-99920 (ruleset/rules/0999-malicious-ioc-rules.xml) look them up with \
                 match_key: nothing else is needed there. Exporting replaces the ~200 entries Wazuh ships \
                 in those files. Example rules for fields the stock rules do not cover: -->\n\
<group name=\"intelmatch,intelmatch_cdb,threat_intel,\">\n\
  <rule id=\"100930\" level=\"10\">\n\
    <if_group>sysmon_event_22</if_group>\n\
    <list field=\"win.eventdata.queryName\" lookup=\"match_key\">{dir}/malicious-domains</list>\n\
    <description>intelmatch CDB: DNS query for threat-intel domain $(win.eventdata.queryName)</description>\n\
  </rule>\n\
  <rule id=\"100931\" level=\"10\">\n\
    <if_group>sysmon_event3</if_group>\n\
    <list field=\"win.eventdata.destinationIp\" lookup=\"match_key\">{dir}/malicious-ip</list>\n\
    <description>intelmatch CDB: connection to threat-intel IP $(win.eventdata.destinationIp)</description>\n\
  </rule>\n\
  <rule id=\"100932\" level=\"10\">\n\
    <if_group>firewall</if_group>\n\
    <list field=\"srcip\" lookup=\"match_key\">{dir}/malicious-ip</list>\n\
    <description>intelmatch CDB: firewall traffic from threat-intel IP $(srcip)</description>\n\
  </rule>\n\
</group>\n"
            ));
        }
    }
    s
}

/// `<home>/etc/ossec.conf` when it configures this node as an enabled
/// cluster worker.
fn cluster_worker(home: &Path) -> Option<PathBuf> {
    let conf = home.join("etc/ossec.conf");
    let text = std::fs::read_to_string(&conf).ok()?;
    let start = text.find("<cluster>")?;
    let end = text[start..]
        .find("</cluster>")
        .map_or(text.len(), |e| start + e);
    let block: String = text[start..end].split_whitespace().collect();
    let worker = block.contains("<node_type>worker</node_type>");
    let disabled = block.contains("<disabled>yes</disabled>");
    (worker && !disabled).then_some(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_config_names_the_lists_relative_to_the_home() {
        let home = Path::new("/var/ossec");
        let s = render_config(home, Path::new("/var/ossec/etc/lists/ti"), Layout::Default);
        assert!(s.contains("<list>etc/lists/ti/intelmatch-ip</list>"), "{s}");
        assert!(s.contains(">etc/lists/ti/intelmatch-sha256</list>"), "{s}");
        assert!(!s.contains("etc/lists/intelmatch/"), "{s}");
        let s = render_config(home, Path::new("/srv/lists"), Layout::MaliciousIoc);
        assert!(s.contains("outside the Wazuh home"), "{s}");
        assert!(s.contains("<list>/srv/lists/malicious-ip</list>"), "{s}");
    }

    /// Every `<list>` the shipped rules name is a list the default layout
    /// writes (analysisd drops a rule naming an undeclared list), and the
    /// rule ids stay in the documented range.
    #[test]
    fn shipped_rules_name_exported_lists_and_reserved_ids() {
        let names: Vec<&str> = Layout::Default.lists().iter().map(|l| l.name).collect();
        let mut lists = 0;
        for part in CDB_RULES.split("<list ").skip(1) {
            let path = &part[part.find('>').unwrap() + 1..part.find("</list>").unwrap()];
            let name = path.strip_prefix("etc/lists/intelmatch/").unwrap();
            assert!(names.contains(&name), "{path}");
            let lookup = part
                .split("lookup=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let spec = Layout::Default
                .lists()
                .iter()
                .find(|l| l.name == name)
                .unwrap();
            assert_eq!(lookup, spec.lookup, "{path}");
            lists += 1;
        }
        assert!(lists >= 15);
        let mut ids: Vec<u32> = CDB_RULES
            .split("<rule id=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            ids.iter().all(|id| (100900..=100939).contains(id)),
            "{ids:?}"
        );
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule ids");
        // XML forbids `--` inside comments.
        for comment in CDB_RULES.split("<!--").skip(1) {
            let body = comment.split("-->").next().unwrap();
            assert!(!body.contains("--"), "`--` in a comment: {body}");
        }
    }

    #[test]
    fn cluster_workers_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let conf = dir.path().join("etc/ossec.conf");
        assert_eq!(cluster_worker(dir.path()), None);
        std::fs::write(&conf, "<ossec_config><cluster>\n <node_type>master</node_type>\n <disabled>no</disabled></cluster></ossec_config>").unwrap();
        assert_eq!(cluster_worker(dir.path()), None);
        std::fs::write(&conf, "<ossec_config><cluster>\n <node_type> worker </node_type>\n <disabled>no</disabled></cluster></ossec_config>").unwrap();
        assert_eq!(cluster_worker(dir.path()), Some(conf.clone()));
        std::fs::write(&conf, "<ossec_config><cluster><node_type>worker</node_type><disabled>yes</disabled></cluster></ossec_config>").unwrap();
        assert_eq!(cluster_worker(dir.path()), None);
    }
}
