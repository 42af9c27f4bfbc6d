//! Every normaliser of `matcher::normalize`, one per kind, chosen by the
//! first byte (the rest is the value, lossily decoded as UTF-8).
//!
//! Asserted where the product promises it:
//! - [`normalize`] is idempotent: a normalised value normalises to itself
//!   (ingest and lookup both normalise, and stored values are normalised
//!   again when an index is compiled);
//! - [`refang`] is a fixed point;
//! - the per-kind functions agree with [`normalize`], the IP forms
//!   (`ip`, `ip_addr`, `format_ip`, `format_net`) agree with each other, a
//!   URL's host is a normalised domain, and [`detect`] returns canonical values;
//! - `Invalid` messages stay on one line.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use matcher::normalize::{
    self, classify, detect, domain, email, filename, hash, hash_kind_for_hex_len, ip, ip_addr,
    mutex, normalize, refang, regkey, url, user_agent, Host, Invalid, IpValue, Normalized,
};
use matcher::Kind;

fn one_line(e: &Invalid) {
    let shown = e.to_string();
    assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
}

/// `normalize(kind, raw)`, and its idempotence.
fn canonical(kind: Kind, raw: &str) -> Option<Normalized> {
    match normalize(kind, raw) {
        Ok(n) => {
            let again = normalize(n.kind, &n.value);
            assert_eq!(
                again.as_ref(),
                Ok(&n),
                "{kind} {raw:?} normalised to {:?}, which normalises to {again:?}",
                n.value
            );
            Some(n)
        }
        Err(e) => {
            one_line(&e);
            None
        }
    }
}

fn check_addr(a: IpAddr) {
    // Unmapped: no IPv4-mapped IPv6 comes out of the normalisers.
    if let IpAddr::V6(v6) = a {
        assert!(v6.to_ipv4_mapped().is_none(), "{a} left mapped");
    }
    let _ = classify(a);
}

fn ip_forms(raw: &str) {
    match ip(raw) {
        Ok(v) => {
            let text = v.to_canonical();
            match v {
                IpValue::Addr(a) => {
                    check_addr(a);
                    assert_eq!(ip_addr(raw).ok(), Some(a));
                    assert_eq!(normalize::format_ip(a), text);
                }
                IpValue::Net(n) => {
                    check_addr(n.network());
                    assert!(ip_addr(raw).is_err());
                    assert_eq!(normalize::format_net(n), text);
                }
            }
            // The canonical text parses back to the same value.
            assert_eq!(ip(&text).ok(), Some(v), "{raw:?} -> {text:?}");
            let n = canonical(v.kind(), raw).expect("ip() accepted it");
            assert_eq!(n.value, text);
        }
        Err(e) => {
            one_line(&e);
            assert!(ip_addr(raw).is_err());
        }
    }
}

fn url_forms(raw: &str) {
    let n = canonical(Kind::Url, raw);
    match url(raw) {
        Ok(u) => {
            assert_eq!(n.map(|n| n.value).as_deref(), Some(u.url.as_str()));
            match &u.host {
                Some(Host::Domain(d)) => {
                    assert!(!d.is_empty());
                    // Single-label hosts are allowed in URLs, not as domains.
                    if let Ok(again) = domain(d) {
                        assert_eq!(&again, d, "host of {:?}", u.url);
                    }
                }
                Some(Host::Ip(a)) => check_addr(*a),
                None => {}
            }
        }
        Err(e) => {
            one_line(&e);
            assert!(n.is_none());
        }
    }
}

fn agrees(kind: Kind, raw: &str, direct: Result<String, Invalid>) {
    let n = canonical(kind, raw);
    match direct {
        Ok(v) => assert_eq!(n, Some(Normalized::new(kind, v))),
        Err(e) => {
            one_line(&e);
            assert!(n.is_none());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let raw = String::from_utf8_lossy(rest);
    let raw = raw.as_ref();

    let refanged = refang(raw);
    assert_eq!(
        refang(&refanged).as_ref(),
        refanged.as_ref(),
        "refang({raw:?}) is not a fixed point"
    );

    match selector % 18 {
        0 | 1 => ip_forms(raw),
        2 => {
            canonical(Kind::Ipv4, raw);
        }
        3 => {
            canonical(Kind::Ipv6, raw);
        }
        4 => agrees(Kind::Domain, raw, domain(raw)),
        5 => url_forms(raw),
        6 => agrees(Kind::Email, raw, email(raw)),
        7..=12 => {
            let kind = [
                Kind::Md5,
                Kind::Sha1,
                Kind::Sha256,
                Kind::Sha512,
                Kind::Imphash,
                Kind::Hash,
            ][usize::from(selector % 18 - 7)];
            agrees(kind, raw, hash(kind, raw));
            if let Some(k) = hash_kind_for_hex_len(raw.len()) {
                assert!(matches!(
                    k,
                    Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512
                ));
            }
        }
        13 => agrees(Kind::Filename, raw, filename(raw)),
        14 => agrees(Kind::Regkey, raw, regkey(raw)),
        15 => agrees(Kind::UserAgent, raw, user_agent(raw)),
        16 => agrees(Kind::Mutex, raw, mutex(raw)),
        _ => {
            // A guessed kind comes back in that kind's canonical form.
            if let Some(n) = detect(raw) {
                let again = normalize(n.kind, &n.value);
                assert_eq!(again.as_ref(), Ok(&n), "detect({raw:?})");
            }
        }
    }
});
