//! intelmatch: an offline IoC matcher for Wazuh, fed by locally synced OpenCTI,
//! MISP and file intel. The binary's commands live in [`commands`]; the
//! matching engine is the `matcher` crate and the sources and store the `store` crate.

pub mod cli;
pub mod commands;
pub mod config;
pub mod intel;
pub mod logging;
pub mod modes;
pub mod start;
pub mod watch;
pub mod wazuh;
