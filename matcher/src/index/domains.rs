//! Reversed-label domain keys and the single-pass parent-domain walk.
//!
//! Domains are stored with their labels reversed (`cdn.evil.example` →
//! `example.evil.cdn`) so that every parent of a name is a prefix of its key.
//! One walk down the FST along the reversed query then finds the exact name
//! and every indicator parent in O(length), instead of one lookup per label.

use fst::raw::{Fst, Output};

/// Writes `domain` with its labels reversed into `out` (cleared first).
pub fn reverse_labels(domain: &str, out: &mut Vec<u8>) {
    out.clear();
    for (i, label) in domain.rsplit('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label.as_bytes());
    }
}

/// One indicator domain that equals or is a parent of the looked-up name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainHit {
    /// Number of labels of the matched indicator domain.
    pub labels: usize,
    /// True when the indicator is the looked-up name itself.
    pub exact: bool,
    pub posting: u64,
}

/// Walks `fst` along the reversed key and pushes every key that ends on a label
/// boundary of it: the name's parents first, the name itself last.
pub fn walk<D: AsRef<[u8]>>(fst: &Fst<D>, reversed: &[u8], out: &mut Vec<DomainHit>) {
    let mut node = fst.root();
    let mut acc = Output::zero();
    let mut labels = 1;
    for (i, &b) in reversed.iter().enumerate() {
        let Some(t) = node.find_input(b) else {
            return;
        };
        let t = node.transition(t);
        acc = acc.cat(t.out);
        node = fst.node(t.addr);
        let end = i + 1 == reversed.len();
        if end || reversed[i + 1] == b'.' {
            if node.is_final() {
                out.push(DomainHit {
                    labels,
                    exact: end,
                    posting: acc.cat(node.final_output()).value(),
                });
            }
            labels += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fst_of(domains: &[&str]) -> fst::Map<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = domains
            .iter()
            .map(|d| {
                let mut k = Vec::new();
                reverse_labels(d, &mut k);
                k
            })
            .collect();
        keys.sort();
        let mut b = fst::MapBuilder::memory();
        for (i, k) in keys.iter().enumerate() {
            b.insert(k, i as u64 + 100).unwrap();
        }
        b.into_map()
    }

    fn walk_names(map: &fst::Map<Vec<u8>>, query: &str) -> Vec<(usize, bool)> {
        let mut k = Vec::new();
        reverse_labels(query, &mut k);
        let mut out = Vec::new();
        walk(map.as_fst(), &k, &mut out);
        out.iter().map(|h| (h.labels, h.exact)).collect()
    }

    #[test]
    fn reverses_labels() {
        let mut k = Vec::new();
        reverse_labels("cdn.evil.example", &mut k);
        assert_eq!(k, b"example.evil.cdn");
        reverse_labels("single", &mut k);
        assert_eq!(k, b"single");
    }

    #[test]
    fn finds_exact_and_parents_on_label_boundaries_only() {
        let m = fst_of(&["evil.example", "a.b.evil.example", "vil.example", "example"]);
        assert_eq!(
            walk_names(&m, "x.a.b.evil.example"),
            vec![(1, false), (2, false), (4, false)]
        );
        assert_eq!(walk_names(&m, "evil.example"), vec![(1, false), (2, true)]);
        // `devil.example` shares bytes with `evil.example` reversed but not a label.
        assert_eq!(walk_names(&m, "devil.example"), vec![(1, false)]);
        assert_eq!(walk_names(&m, "evil.examplex"), vec![]);
        assert_eq!(walk_names(&m, "other.test"), vec![]);
    }
}
