//! The process's TLS crypto provider for the HTTP sources.
//!
//! reqwest is built without a provider (`rustls-no-provider`), so one must be
//! installed before the first client is built. ring is used: aws-lc, reqwest's
//! default, runs a CPU-probing constructor at the start of every process,
//! which the per-alert `integrate` would pay for without ever using TLS.
//! Certificates are still verified against the platform's roots
//! (rustls-platform-verifier) unless a source sets `ca_file` or `insecure`.

use std::sync::Once;

/// Installs ring as the default rustls provider; later calls do nothing.
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when another provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
