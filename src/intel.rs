//! Intel compiled into every generation besides the store's rows: the
//! warninglists (bundled, `matching.warninglist_dirs`, and those mirrored by
//! MISP sources). They are compiled in whatever `matching.warninglists` says:
//! `off` is applied at match time, so switching modes needs no re-sync.

use store::config::SourceSettings;

use crate::config::Config;

/// The extra entry sets for `config`.
pub fn extra_entries(config: &Config) -> Vec<Box<dyn store::compile::ExtraEntries>> {
    let misp_sources: Vec<String> = config
        .sources
        .iter()
        .filter(|s| matches!(&s.settings, SourceSettings::Misp(m) if m.mirror_warninglists))
        .map(|s| s.name.clone())
        .collect();
    let mut lists = store::warninglists::Warninglists::load(
        &config.matching.warninglist_dirs,
        &config.store_path(),
        &misp_sources,
    );
    lists.select(
        &config.matching.warninglists_enabled,
        &config.matching.warninglists_disabled,
    );
    tracing::debug!(lists = lists.lists().len(), "warninglists loaded");
    vec![Box::new(lists)]
}
