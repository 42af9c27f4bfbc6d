//! Everything that talks to Wazuh on the per-alert path: integratord's argv,
//! where IoCs sit in alerts and how to extract them, the shape of the events
//! sent back, and how they reach analysisd. All synchronous; nothing here
//! touches the network or the store.

pub mod argv;
pub mod catalog;
pub mod enrich;
pub mod extract;
pub mod install;
pub mod json;
pub mod location;
pub mod path;
pub mod profile;
pub mod sender;
pub mod throttle;
