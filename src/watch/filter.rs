//! Which alerts `watch` matches: the `<integration>` filters of ossec.conf,
//! from `[watch]` (all ANDed, like integratord).

use crate::config::WatchConfig;
use crate::wazuh::json::Json;

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    min_level: u64,
    groups_include: Vec<String>,
    groups_exclude: Vec<String>,
    rule_ids: Vec<String>,
}

impl AlertFilter {
    pub fn new(c: &WatchConfig) -> AlertFilter {
        AlertFilter {
            min_level: u64::from(c.min_level),
            groups_include: c.groups_include.clone(),
            groups_exclude: c.groups_exclude.clone(),
            rule_ids: c.rule_ids.clone(),
        }
    }

    /// Whether the alert passes. Events without a `rule` object (archives.json
    /// lines that matched no rule) pass only when no rule filter is set.
    pub fn passes(&self, alert: &Json<'_>) -> bool {
        let rule = alert.get("rule");
        let level = rule
            .and_then(|r| r.get("level"))
            .and_then(Json::as_u64)
            .unwrap_or(0);
        if level < self.min_level {
            return false;
        }
        if !self.rule_ids.is_empty() {
            let id = rule.and_then(|r| r.get("id")).and_then(Json::as_str);
            if !id.is_some_and(|id| self.rule_ids.iter().any(|r| r == id)) {
                return false;
            }
        }
        if self.groups_include.is_empty() && self.groups_exclude.is_empty() {
            return true;
        }
        let groups: Vec<&str> = rule
            .and_then(|r| r.get("groups"))
            .and_then(Json::as_array)
            .map(|g| g.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        if !self.groups_include.is_empty()
            && !groups
                .iter()
                .any(|g| self.groups_include.iter().any(|i| i == g))
        {
            return false;
        }
        !groups
            .iter()
            .any(|g| self.groups_exclude.iter().any(|e| e == g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_are_anded() {
        let mut c = WatchConfig::defaults_for(&Default::default());
        let v = json!({"rule": {"id": "61603", "level": 5, "groups": ["windows", "sysmon", "sysmon_event1"]}});
        let a = Json::from(&v);
        assert!(AlertFilter::new(&c).passes(&a));
        c.min_level = 6;
        assert!(!AlertFilter::new(&c).passes(&a));
        c.min_level = 3;
        c.groups_include = vec!["sysmon_event1".into()];
        assert!(AlertFilter::new(&c).passes(&a));
        c.groups_exclude = vec!["windows".into()];
        assert!(!AlertFilter::new(&c).passes(&a));
        c.groups_exclude.clear();
        c.rule_ids = vec!["61603".into()];
        assert!(AlertFilter::new(&c).passes(&a));
        c.rule_ids = vec!["1".into()];
        assert!(!AlertFilter::new(&c).passes(&a));
    }
}
