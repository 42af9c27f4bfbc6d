//! Everything that talks to Wazuh: the shape of the events sent back.

pub mod profile;
