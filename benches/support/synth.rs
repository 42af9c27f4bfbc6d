//! Deterministic synthetic intel for benchmarks: a realistic mix of kinds with
//! public-looking values (random, so they compress like real-world worst cases).

#![allow(dead_code)]

use matcher::{KeyMethod, Kind, MatchKey, Record};

/// splitmix64: tiny, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TLDS: [&str; 8] = ["com", "net", "org", "info", "xyz", "top", "ru", "io"];
const WORDS: [&str; 16] = [
    "update", "cdn", "secure", "login", "mail", "cloud", "api", "static", "portal", "sync",
    "files", "auth", "node", "edge", "pay", "track",
];

fn label(rng: &mut Rng) -> String {
    let n = 5 + rng.below(8) as usize;
    (0..n)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

pub fn domain(rng: &mut Rng) -> String {
    let tld = TLDS[rng.below(TLDS.len() as u64) as usize];
    if rng.below(3) == 0 {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        format!("{w}.{}.{tld}", label(rng))
    } else {
        format!("{}.{tld}", label(rng))
    }
}

/// A public-looking IPv4 (first octet 11..=223 minus private/reserved blocks).
pub fn ipv4(rng: &mut Rng) -> std::net::Ipv4Addr {
    loop {
        let v = rng.next() as u32;
        let a = std::net::Ipv4Addr::from(v);
        let o = a.octets();
        if o[0] > 10
            && o[0] < 224
            && o[0] != 127
            && !(o[0] == 172 && (16..32).contains(&o[1]))
            && !(o[0] == 192 && o[1] == 168)
            && o[0] != 100
        {
            return a;
        }
    }
}

pub fn ipv6(rng: &mut Rng) -> std::net::Ipv6Addr {
    let hi = 0x2a00_0000_0000_0000u64 | (rng.next() >> 8);
    std::net::Ipv6Addr::from((u128::from(hi) << 64) | u128::from(rng.next()))
}

fn hex(rng: &mut Rng, len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() < len {
        s.push_str(&format!("{:016x}", rng.next()));
    }
    s.truncate(len);
    s
}

/// The kind mix: ipv4 30 %, CIDR 5 %, ipv6 5 %, domain 25 %, url 15 %,
/// md5 5 %, sha1 5 %, sha256 10 %.
pub fn item(rng: &mut Rng, i: u64) -> (Record, Vec<MatchKey>) {
    let roll = rng.below(100);
    let (kind, key, method, pattern) = if roll < 30 {
        let a = ipv4(rng).to_string();
        (
            Kind::Ipv4,
            a.clone(),
            KeyMethod::Exact,
            format!("[ipv4-addr:value = '{a}']"),
        )
    } else if roll < 35 {
        let len = 16 + rng.below(13) as u8;
        let net = ipnetwork::Ipv4Network::new(ipv4(rng), len).unwrap();
        let key = format!("{}/{len}", net.network());
        (
            Kind::Ipv4,
            key.clone(),
            KeyMethod::Cidr,
            format!("[ipv4-addr:value ISSUBSET '{key}']"),
        )
    } else if roll < 40 {
        let a = ipv6(rng).to_string();
        (
            Kind::Ipv6,
            a.clone(),
            KeyMethod::Exact,
            format!("[ipv6-addr:value = '{a}']"),
        )
    } else if roll < 65 {
        let d = domain(rng);
        (
            Kind::Domain,
            d.clone(),
            KeyMethod::Exact,
            format!("[domain-name:value = '{d}']"),
        )
    } else if roll < 80 {
        let u = format!("http://{}/{}/{}.php", domain(rng), label(rng), label(rng));
        (
            Kind::Url,
            u.clone(),
            KeyMethod::Exact,
            format!("[url:value = '{u}']"),
        )
    } else if roll < 85 {
        let h = hex(rng, 32);
        (
            Kind::Md5,
            h.clone(),
            KeyMethod::Exact,
            format!("[file:hashes.MD5 = '{h}']"),
        )
    } else if roll < 90 {
        let h = hex(rng, 40);
        (
            Kind::Sha1,
            h.clone(),
            KeyMethod::Exact,
            format!("[file:hashes.'SHA-1' = '{h}']"),
        )
    } else {
        let h = hex(rng, 64);
        (
            Kind::Sha256,
            h.clone(),
            KeyMethod::Exact,
            format!("[file:hashes.'SHA-256' = '{h}']"),
        )
    };
    let record = Record {
        source: "synthetic".into(),
        source_type: "opencti".into(),
        id: format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            i as u32,
            (i >> 32) as u16,
            i % 4096,
            rng.below(4096),
            rng.next() >> 16
        ),
        name: key.clone(),
        pattern: Some(pattern),
        pattern_type: Some("stix".into()),
        score: Some(20 + rng.below(81) as i64),
        confidence: Some(50 + rng.below(51) as i64),
        labels: vec![["c2", "phishing", "malware", "scanner"][rng.below(4) as usize].into()],
        markings: vec![["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"][rng.below(3) as usize].into()],
        valid_until: Some("2099-01-01T00:00:00Z".into()),
        ..Record::default()
    };
    (record, vec![MatchKey::new(kind, key, method)])
}

/// Builds (or reuses) a generation of `n` synthetic items under `target/bench-index-<n>`.
pub fn index_dir(n: u64) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("bench-index-{n}"));
    if matcher::index::Index::open(&root).is_ok_and(|i| i.meta().records == n) {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    let mut b = matcher::index::IndexBuilder::new(&root).unwrap();
    let mut rng = Rng::new(42);
    for i in 0..n {
        let (r, k) = item(&mut rng, i);
        b.add(&r, &k).unwrap();
    }
    b.finish().unwrap();
    root
}

/// The same item stream, replayed, to pick known keys for hit lookups.
pub fn sample_keys(n: u64, every: u64) -> Vec<MatchKey> {
    let mut rng = Rng::new(42);
    let mut out = Vec::new();
    for i in 0..n {
        let (_, k) = item(&mut rng, i);
        if i % every == 0 {
            out.extend(k);
        }
    }
    out
}
