//! IPv4 networks as CDB keys.
//!
//! `address_match_key` tries the value, then each of its prefixes ending in
//! `.`: `10.1.2.3` tries `10.1.2.`, `10.1.`, `10.`. A network is therefore
//! written as the octet-boundary prefixes covering it, rounded up to the next
//! boundary: a /12 is 16 `a.b.` keys, a /20 16 `a.b.c.` keys, a /23 two,
//! a /28 16 single addresses. `match_key` (the stock `malicious-ioc` rules)
//! only knows single addresses, so there every address is a key.

use std::net::Ipv4Addr;

/// What a network expands to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Octet-boundary prefixes (`10.`, `10.1.`, `10.1.2.`) and, below /24,
    /// single addresses: for `address_match_key`.
    OctetPrefixes,
    /// Every address: for `match_key`.
    Addresses,
}

/// The expansion of one network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expansion {
    /// First covered block, as a whole address.
    first: u32,
    /// Number of keys.
    count: u64,
    /// Octets per key (1..=4); 4 is a whole address.
    octets: u8,
}

/// How many keys `network/len` expands to for `target`.
pub fn expansion(network: Ipv4Addr, len: u8, target: Target) -> Expansion {
    let len = len.min(32);
    let octets = match target {
        Target::Addresses => 4,
        Target::OctetPrefixes => len.div_ceil(8).max(1),
    };
    let boundary = u32::from(octets) * 8;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    Expansion {
        first: u32::from(network) & mask,
        count: 1u64 << (boundary - u32::from(len.min(boundary as u8))),
        octets,
    }
}

impl Expansion {
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The keys, in address order: `a.`, `a.b.`, `a.b.c.` or `a.b.c.d`.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        let step = 1u64 << (32 - u32::from(self.octets) * 8);
        (0..self.count).map(move |i| {
            let addr = (u64::from(self.first) + i * step) as u32;
            let o = addr.to_be_bytes();
            match self.octets {
                1 => format!("{}.", o[0]),
                2 => format!("{}.{}.", o[0], o[1]),
                3 => format!("{}.{}.{}.", o[0], o[1], o[2]),
                _ => Ipv4Addr::from(addr).to_string(),
            }
        })
    }
}

/// Parses a normalised IPv4 network key (`198.51.100.0/24`).
pub fn parse_v4(key: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = key.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some(())?;
    Some((addr.parse().ok()?, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(net: &str, target: Target) -> Vec<String> {
        let (a, l) = parse_v4(net).unwrap();
        expansion(a, l, target).keys().collect()
    }

    #[test]
    fn octet_prefix_table() {
        let p = Target::OctetPrefixes;
        assert_eq!(keys("10.0.0.0/8", p), ["10."]);
        assert_eq!(keys("192.168.0.0/16", p), ["192.168."]);
        assert_eq!(keys("172.16.19.0/24", p), ["172.16.19."]);
        assert_eq!(keys("198.51.100.7/32", p), ["198.51.100.7"]);
        let v12: Vec<String> = (16..32).map(|b| format!("172.{b}.")).collect();
        assert_eq!(keys("172.16.0.0/12", p), v12);
        let v20: Vec<String> = (0..16).map(|c| format!("10.1.{}.", 16 + c)).collect();
        assert_eq!(keys("10.1.16.0/20", p), v20);
        assert_eq!(keys("203.0.112.0/23", p), ["203.0.112.", "203.0.113."]);
        let v28: Vec<String> = (0..16).map(|d| format!("192.0.2.{}", 32 + d)).collect();
        assert_eq!(keys("192.0.2.32/28", p), v28);
        assert_eq!(keys("128.0.0.0/1", p).len(), 128);
        assert_eq!(keys("0.0.0.0/0", p).len(), 256);
        assert_eq!(keys("0.0.0.0/0", p)[255], "255.");
        // Host bits in the key are ignored.
        assert_eq!(keys("10.1.2.3/16", p), ["10.1."]);
    }

    #[test]
    fn address_table() {
        let a = Target::Addresses;
        assert_eq!(keys("198.51.100.7/32", a), ["198.51.100.7"]);
        assert_eq!(
            keys("203.0.113.254/31", a),
            ["203.0.113.254", "203.0.113.255"]
        );
        let v24 = keys("203.0.113.0/24", a);
        assert_eq!(v24.len(), 256);
        assert_eq!(v24[255], "203.0.113.255");
        let (n, l) = parse_v4("10.0.0.0/8").unwrap();
        assert_eq!(expansion(n, l, a).count(), 1 << 24);
        let (n, l) = parse_v4("0.0.0.0/0").unwrap();
        assert_eq!(expansion(n, l, a).count(), 1 << 32);
    }

    #[test]
    fn counts_match_keys() {
        for len in 0..=32u8 {
            for target in [Target::OctetPrefixes, Target::Addresses] {
                let e = expansion(Ipv4Addr::new(255, 255, 255, 255), len, target);
                if e.count() <= 1 << 16 {
                    assert_eq!(e.keys().count() as u64, e.count(), "/{len} {target:?}");
                }
            }
        }
    }

    #[test]
    fn bad_network_keys() {
        assert_eq!(parse_v4("10.0.0.0"), None);
        assert_eq!(parse_v4("10.0.0.0/33"), None);
        assert_eq!(parse_v4("2001:db8::/32"), None);
    }
}
