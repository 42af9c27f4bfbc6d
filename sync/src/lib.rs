//! Sources (OpenCTI, MISP, STIX bundles, MISP feeds, lists) and the SQLite store.
