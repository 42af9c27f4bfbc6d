//! The source implementations, one module each with its config and tests
//! (OpenCTI, MISP, STIX bundles, MISP feeds, lists). Each implements
//! [`crate::Source`] and commits [`crate::Batch`]es through its
//! [`crate::SyncContext`].
