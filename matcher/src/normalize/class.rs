//! Address classes: which addresses are worth looking up at all.
//!
//! Public means Python's `ipaddress.is_global` (3.13 tables, the IANA special-purpose
//! registries), which is what the community integration scripts gate on, with two
//! deliberate differences: multicast (224.0.0.0/4, ff00::/8) and the deprecated IPv6
//! site-local range (fec0::/10) are not public here, while Python calls them global.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The special-purpose class of an address; [`AddrClass::Public`] for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrClass {
    Public,
    /// RFC 1918.
    Private,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 0.0.0.0, ::.
    Unspecified,
    /// 0.0.0.0/8 other than 0.0.0.0 ("this network").
    ThisNetwork,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 100.64.0.0/10 (carrier-grade NAT).
    SharedAddressSpace,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// fc00::/7.
    UniqueLocal,
    /// 192.0.0.0/24 and the rest of 2001::/23 (IETF protocol assignments).
    IetfProtocol,
    /// 2001::/32.
    Teredo,
    /// 2002::/16.
    SixToFour,
    /// 64:ff9b:1::/48 (local-use IPv4/IPv6 translation).
    Translation,
    /// 100::/64.
    Discard,
    /// 240.0.0.0/4, fec0::/10.
    Reserved,
}

impl AddrClass {
    /// True only for [`AddrClass::Public`].
    pub fn is_public(self) -> bool {
        self == AddrClass::Public
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Private => "private",
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link_local",
            AddrClass::Multicast => "multicast",
            AddrClass::Unspecified => "unspecified",
            AddrClass::ThisNetwork => "this_network",
            AddrClass::Broadcast => "broadcast",
            AddrClass::Documentation => "documentation",
            AddrClass::SharedAddressSpace => "shared_address_space",
            AddrClass::Benchmarking => "benchmarking",
            AddrClass::UniqueLocal => "unique_local",
            AddrClass::IetfProtocol => "ietf_protocol",
            AddrClass::Teredo => "teredo",
            AddrClass::SixToFour => "6to4",
            AddrClass::Translation => "translation",
            AddrClass::Discard => "discard",
            AddrClass::Reserved => "reserved",
        }
    }
}

impl std::fmt::Display for AddrClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an address. IPv4-mapped IPv6 is classified as its IPv4 address.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(a),
        },
    }
}

const fn in_v4(a: u32, net: u32, len: u32) -> bool {
    // len is 1..=32 in every call.
    (a ^ net) >> (32 - len) == 0
}

fn classify_v4(addr: Ipv4Addr) -> AddrClass {
    let a = u32::from(addr);
    let n = |a0: u8, a1: u8, a2: u8, a3: u8| u32::from(Ipv4Addr::new(a0, a1, a2, a3));
    match () {
        _ if a == 0 => AddrClass::Unspecified,
        _ if a == u32::MAX => AddrClass::Broadcast,
        _ if in_v4(a, 0, 8) => AddrClass::ThisNetwork,
        _ if in_v4(a, n(10, 0, 0, 0), 8)
            || in_v4(a, n(172, 16, 0, 0), 12)
            || in_v4(a, n(192, 168, 0, 0), 16) =>
        {
            AddrClass::Private
        }
        _ if in_v4(a, n(127, 0, 0, 0), 8) => AddrClass::Loopback,
        _ if in_v4(a, n(169, 254, 0, 0), 16) => AddrClass::LinkLocal,
        _ if in_v4(a, n(100, 64, 0, 0), 10) => AddrClass::SharedAddressSpace,
        // 192.0.0.9 and .10 (PCP and TURN anycast) are globally reachable.
        _ if a == n(192, 0, 0, 9) || a == n(192, 0, 0, 10) => AddrClass::Public,
        _ if in_v4(a, n(192, 0, 0, 0), 24) => AddrClass::IetfProtocol,
        _ if in_v4(a, n(192, 0, 2, 0), 24)
            || in_v4(a, n(198, 51, 100, 0), 24)
            || in_v4(a, n(203, 0, 113, 0), 24) =>
        {
            AddrClass::Documentation
        }
        _ if in_v4(a, n(198, 18, 0, 0), 15) => AddrClass::Benchmarking,
        _ if in_v4(a, n(224, 0, 0, 0), 4) => AddrClass::Multicast,
        _ if in_v4(a, n(240, 0, 0, 0), 4) => AddrClass::Reserved,
        _ => AddrClass::Public,
    }
}

const fn in_v6(a: u128, net: u128, len: u32) -> bool {
    (a ^ net) >> (128 - len) == 0
}

fn classify_v6(addr: Ipv6Addr) -> AddrClass {
    let a = u128::from(addr);
    let n = |s: [u16; 8]| u128::from(Ipv6Addr::from(s));
    match () {
        _ if a == 0 => AddrClass::Unspecified,
        _ if a == 1 => AddrClass::Loopback,
        _ if in_v6(a, n([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48) => AddrClass::Translation,
        _ if in_v6(a, n([0x100, 0, 0, 0, 0, 0, 0, 0]), 64) => AddrClass::Discard,
        // Globally reachable assignments inside 2001::/23.
        _ if a == n([0x2001, 1, 0, 0, 0, 0, 0, 1])
            || a == n([0x2001, 1, 0, 0, 0, 0, 0, 2])
            || in_v6(a, n([0x2001, 3, 0, 0, 0, 0, 0, 0]), 32)
            || in_v6(a, n([0x2001, 4, 0x112, 0, 0, 0, 0, 0]), 48)
            || in_v6(a, n([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28)
            || in_v6(a, n([0x2001, 0x30, 0, 0, 0, 0, 0, 0]), 28) =>
        {
            AddrClass::Public
        }
        _ if in_v6(a, n([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32) => AddrClass::Teredo,
        _ if in_v6(a, n([0x2001, 2, 0, 0, 0, 0, 0, 0]), 48) => AddrClass::Benchmarking,
        _ if in_v6(a, n([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23) => AddrClass::IetfProtocol,
        _ if in_v6(a, n([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32)
            || in_v6(a, n([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20) =>
        {
            AddrClass::Documentation
        }
        _ if in_v6(a, n([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16) => AddrClass::SixToFour,
        _ if in_v6(a, n([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7) => AddrClass::UniqueLocal,
        _ if in_v6(a, n([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10) => AddrClass::LinkLocal,
        _ if in_v6(a, n([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10) => AddrClass::Reserved,
        _ if in_v6(a, n([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8) => AddrClass::Multicast,
        _ => AddrClass::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_classes() {
        let table = [
            ("8.8.8.8", AddrClass::Public),
            ("1.1.1.1", AddrClass::Public),
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::ThisNetwork),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("127.0.0.1", AddrClass::Loopback),
            ("169.254.1.1", AddrClass::LinkLocal),
            ("100.64.0.1", AddrClass::SharedAddressSpace),
            ("100.127.255.255", AddrClass::SharedAddressSpace),
            ("100.128.0.1", AddrClass::Public),
            ("192.0.0.8", AddrClass::IetfProtocol),
            ("192.0.0.9", AddrClass::Public),
            ("192.0.0.10", AddrClass::Public),
            ("192.0.0.170", AddrClass::IetfProtocol),
            ("192.0.2.1", AddrClass::Documentation),
            ("198.51.100.1", AddrClass::Documentation),
            ("203.0.113.1", AddrClass::Documentation),
            ("198.18.0.1", AddrClass::Benchmarking),
            ("198.19.255.255", AddrClass::Benchmarking),
            ("198.20.0.1", AddrClass::Public),
            ("224.0.0.1", AddrClass::Multicast),
            ("239.255.255.250", AddrClass::Multicast),
            ("240.0.0.1", AddrClass::Reserved),
            ("255.255.255.254", AddrClass::Reserved),
            ("255.255.255.255", AddrClass::Broadcast),
        ];
        for (ip, want) in table {
            assert_eq!(c(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_classes() {
        let table = [
            ("2606:4700::1111", AddrClass::Public),
            ("::", AddrClass::Unspecified),
            ("::1", AddrClass::Loopback),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("::ffff:8.8.8.8", AddrClass::Public),
            ("64:ff9b::808:808", AddrClass::Public),
            ("64:ff9b:1::1", AddrClass::Translation),
            ("100::1", AddrClass::Discard),
            ("2001::1", AddrClass::Teredo),
            ("2001:1::1", AddrClass::Public),
            ("2001:1::3", AddrClass::IetfProtocol),
            ("2001:2::1", AddrClass::Benchmarking),
            ("2001:3::1", AddrClass::Public),
            ("2001:4:112::1", AddrClass::Public),
            ("2001:10::1", AddrClass::IetfProtocol),
            ("2001:20::1", AddrClass::Public),
            ("2001:1ff::1", AddrClass::IetfProtocol),
            ("2001:200::1", AddrClass::Public),
            ("2001:db8::1", AddrClass::Documentation),
            ("3fff::1", AddrClass::Documentation),
            ("2002:c000:201::1", AddrClass::SixToFour),
            ("fc00::1", AddrClass::UniqueLocal),
            ("fd12:3456::1", AddrClass::UniqueLocal),
            ("fe80::1", AddrClass::LinkLocal),
            ("febf::1", AddrClass::LinkLocal),
            ("fec0::1", AddrClass::Reserved),
            ("ff02::1", AddrClass::Multicast),
        ];
        for (ip, want) in table {
            assert_eq!(c(ip), want, "{ip}");
        }
    }

    #[test]
    fn names() {
        assert!(AddrClass::Public.is_public());
        assert!(!AddrClass::Documentation.is_public());
        assert_eq!(
            AddrClass::SharedAddressSpace.as_str(),
            "shared_address_space"
        );
        assert_eq!(AddrClass::LinkLocal.to_string(), "link_local");
    }
}
