//! The Wazuh-facing primitives of the per-alert path: integratord's argv, where
//! IoCs sit in alerts and how to extract them, and how replies go back to
//! analysisd. All synchronous; nothing here touches the network or the store.

pub mod argv;
pub mod catalog;
pub mod extract;
pub mod location;
pub mod sender;
