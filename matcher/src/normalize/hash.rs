//! Digests: lowercase hex of the exact length, and other hashes.

use super::Invalid;
use crate::kind::Kind;

/// Hex length of each fixed-size digest kind.
fn hex_len(kind: Kind) -> Option<usize> {
    match kind {
        Kind::Md5 | Kind::Imphash => Some(32),
        Kind::Sha1 => Some(40),
        Kind::Sha256 => Some(64),
        Kind::Sha512 => Some(128),
        _ => None,
    }
}

/// The digest kind a bare hex string of this length most likely is
/// (32 → md5, never imphash).
pub fn hash_kind_for_hex_len(len: usize) -> Option<Kind> {
    match len {
        32 => Some(Kind::Md5),
        40 => Some(Kind::Sha1),
        64 => Some(Kind::Sha256),
        128 => Some(Kind::Sha512),
        _ => None,
    }
}

/// Normalises a hash of a hash kind (`md5`, `sha1`, `sha256`, `sha512`,
/// `imphash`, `hash`).
///
/// Fixed-size kinds: trimmed, hex only, exact length, lowercased. [`Kind::Hash`]
/// (other digests and fuzzy hashes): all-hex values are lowercased and need an
/// even length of at least 16; TLSH (`T1` + 70 hex) is lowercased as MISP stores
/// it; anything else (ssdeep, base64 digests) keeps its case and may not contain
/// whitespace or control characters.
pub fn hash(kind: Kind, raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let err = |reason: String| Invalid::new(kind, raw, reason);
    if let Some(want) = hex_len(kind) {
        if s.len() != want {
            return Err(err(format!(
                "expected {want} hex digits, got {}",
                s.chars().count()
            )));
        }
        check_hex(s).map_err(err)?;
        return Ok(s.to_ascii_lowercase());
    }
    if kind != Kind::Hash {
        return Err(err(format!("{kind} is not a hash kind")));
    }
    if s.is_empty() {
        return Err(err("empty value".into()));
    }
    if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        if s.len() < 16 || !s.len().is_multiple_of(2) {
            return Err(err(format!(
                "a hex digest needs an even number of digits, at least 16 (got {})",
                s.len()
            )));
        }
        return Ok(s.to_ascii_lowercase());
    }
    if is_tlsh(s) {
        return Ok(s.to_ascii_lowercase());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err("contains whitespace or a control character".into()));
    }
    Ok(s.to_string())
}

fn check_hex(s: &str) -> Result<(), String> {
    match s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        None => Ok(()),
        Some((i, c)) => Err(format!(
            "`{}` at offset {i} is not a hex digit",
            c.escape_debug()
        )),
    }
}

/// TLSH with its version prefix: `T1` and 70 hex digits.
fn is_tlsh(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 72
        && b[0].eq_ignore_ascii_case(&b't')
        && b[2..].iter().all(u8::is_ascii_hexdigit)
        && b[1].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_lengths() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        assert_eq!(
            hash(Kind::Md5, &format!(" {md5}\n")).unwrap(),
            md5.to_lowercase()
        );
        assert_eq!(hash(Kind::Imphash, md5).unwrap(), md5.to_lowercase());
        assert!(hash(Kind::Sha1, md5).is_err());
        assert_eq!(hash(Kind::Sha1, &"a".repeat(40)).unwrap(), "a".repeat(40));
        assert_eq!(hash(Kind::Sha256, &"F".repeat(64)).unwrap(), "f".repeat(64));
        assert_eq!(
            hash(Kind::Sha512, &"0".repeat(128)).unwrap(),
            "0".repeat(128)
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(
            hash(Kind::Sha256, "abc").unwrap_err().to_string(),
            "invalid sha256 `abc`: expected 64 hex digits, got 3"
        );
        let bad = format!("{}g", "a".repeat(31));
        assert!(hash(Kind::Md5, &bad)
            .unwrap_err()
            .reason
            .contains("offset 31 is not a hex digit"));
        // Multi-byte characters never split a char or miscount.
        assert!(hash(Kind::Md5, &"é".repeat(16)).is_err());
        assert!(hash(Kind::Domain, "aa")
            .unwrap_err()
            .reason
            .contains("not a hash kind"));
    }

    #[test]
    fn other_hashes() {
        assert_eq!(hash(Kind::Hash, &"AB".repeat(28)).unwrap(), "ab".repeat(28));
        assert!(hash(Kind::Hash, "abc").is_err());
        assert!(hash(Kind::Hash, &"a".repeat(17)).is_err());
        let ssdeep = "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C";
        assert_eq!(hash(Kind::Hash, ssdeep).unwrap(), ssdeep);
        let tlsh = format!("T1{}", "A".repeat(70));
        assert_eq!(
            hash(Kind::Hash, &tlsh).unwrap(),
            format!("t1{}", "a".repeat(70))
        );
        assert!(hash(Kind::Hash, "3:ab cd:ef").is_err());
        assert!(hash(Kind::Hash, "").is_err());
    }

    #[test]
    fn lengths_to_kinds() {
        assert_eq!(hash_kind_for_hex_len(32), Some(Kind::Md5));
        assert_eq!(hash_kind_for_hex_len(40), Some(Kind::Sha1));
        assert_eq!(hash_kind_for_hex_len(64), Some(Kind::Sha256));
        assert_eq!(hash_kind_for_hex_len(128), Some(Kind::Sha512));
        assert_eq!(hash_kind_for_hex_len(56), None);
    }
}
