//! Names of the files inside an index directory and a generation.
//!
//! ```text
//! <data_dir>/index/
//!   CURRENT                  {"generation": 42, "dir": "gen-0000000042"}  (atomically replaced)
//!   gen-0000000042/
//!     meta.json              counts, sizes and build options of this generation
//!     exact.fst              kind tag + normalised value -> posting ref
//!     hashes.bin             hex hash keys as sorted binary arrays per kind
//!     domains.fst            reversed-label domain -> posting ref
//!     ip.bin                 IPv4/IPv6 prefix table
//!     substrings.bin         substring and prefix patterns: two FSTs over a kind/posting table
//!     postings.bin           shared posting lists
//!     records.idx            fixed-size record headers
//!     records.dat            record bodies (compact binary, see record_codec.rs)
//!     strings.bin            interned provenance strings the bodies refer to
//!     .readers               lock file: readers hold a shared lock
//!   .tmp-<pid>-<nanos>/      a generation being built
//!     .building              lock file: its builder holds an exclusive lock
//! ```

pub const CURRENT: &str = "CURRENT";
pub const META: &str = "meta.json";
pub const EXACT: &str = "exact.fst";
pub const HASHES: &str = "hashes.bin";
pub const DOMAINS: &str = "domains.fst";
pub const IP: &str = "ip.bin";
pub const SUBSTRINGS: &str = "substrings.bin";
pub const POSTINGS: &str = "postings.bin";
pub const RECORDS_IDX: &str = "records.idx";
pub const RECORDS_DAT: &str = "records.dat";
pub const STRINGS: &str = "strings.bin";
pub const READERS_LOCK: &str = ".readers";
/// Held exclusively while a generation is being numbered and published.
pub const PUBLISH_LOCK: &str = ".publish.lock";
/// In a temporary build directory: held exclusively by its builder, so that
/// cleanup can tell a build in progress from one whose process died.
pub const BUILDING_LOCK: &str = ".building";
/// Prefix of the temporary build directories.
pub const TMP_PREFIX: &str = ".tmp-";

/// Every data file of a generation, in the order they are written.
pub const DATA_FILES: [&str; 9] = [
    EXACT,
    HASHES,
    DOMAINS,
    IP,
    SUBSTRINGS,
    POSTINGS,
    RECORDS_IDX,
    RECORDS_DAT,
    STRINGS,
];

/// The on-disk format version; a reader refuses other versions.
/// 1: JSON record bodies, one probe per prefix length in `ip.bin`.
/// 2: binary record bodies with `strings.bin`, interval IP table, `hashes.bin`.
/// 3: `substrings.bin` holds FSTs that are used as mapped (nothing built per process).
pub const FORMAT: u32 = 3;

pub fn generation_dir_name(generation: u64) -> String {
    format!("gen-{generation:010}")
}

pub fn parse_generation_dir_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?;
    if digits.len() < 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
