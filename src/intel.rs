//! Intel compiled into every generation besides the store's rows.
//!
//! Warninglists are wired in here once they are available; until then there
//! is nothing extra.

use crate::config::Config;

/// The extra entry sets for `config`.
pub fn extra_entries(_config: &Config) -> Vec<Box<dyn store::compile::ExtraEntries>> {
    Vec::new()
}
