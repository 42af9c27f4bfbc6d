//! The pieces the end-to-end benches share: a Wazuh home and config around a
//! synthetic generation, alert fixtures, and a value the generation holds.
//! Needs the `synth` module in the bench crate.

// Each bench uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use matcher::normalize::{self, AddrClass};
use matcher::Kind;
use serde_json::Value;

/// `target/<name>/` with `ossec/<dirs>`, `data/index` → `index`, and a config.
pub struct Site {
    pub root: PathBuf,
    pub home: PathBuf,
    pub config: PathBuf,
}

impl Site {
    pub fn new(name: &str, index: &Path, dirs: &[&str]) -> Site {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(name);
        let _ = std::fs::remove_dir_all(&root);
        let home = root.join("ossec");
        for d in dirs {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::os::unix::fs::symlink(index, root.join("data/index")).unwrap();
        let config = root.join("intelmatch.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"data\"\n[wazuh]\nhome = \"{}\"\n",
                home.display()
            ),
        )
        .unwrap();
        Site { root, home, config }
    }
}

/// An alert from `tests/fixtures/alerts/`.
pub fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alerts")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A public IPv4 address the synthetic generation holds (extraction skips
/// non-public ones).
pub fn public_ipv4() -> String {
    crate::synth::sample_keys(20_000, 1)
        .into_iter()
        .find(|k| {
            k.kind == Kind::Ipv4
                && !k.key.contains('/')
                && normalize::classify(k.key.parse().unwrap()) == AddrClass::Public
        })
        .unwrap()
        .key
}
