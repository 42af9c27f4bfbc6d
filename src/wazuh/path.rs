//! Alert field paths (the [catalog](super::catalog) syntax), parsed once and
//! resolved against alerts.
//!
//! Extraction resolves some 200 catalog paths per alert, most of them under a
//! handful of parents (`data.win.eventdata`, `data.dns`, …). Walking every path
//! from the root again cost more than everything else extraction does, so
//! paths are split into [`Steps`] once per process, and the object a plain
//! parent path leads to is looked up once per alert ([`Memo`]).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::json::{Json, Object};

use super::catalog::MAX_PATH_SEGMENTS;

/// Elements read from one array (or keys from one `*` wildcard) per path.
pub const MAX_FANOUT: usize = 256;

/// Receives `(field, leaf, parent)` for each value a path resolves to.
pub type Visit<'v, 'a> = dyn FnMut(&str, &'a Json<'a>, Option<&'a Object<'a>>) + 'v;

/// One segment: a key (`*`: every key), optionally iterating an array (`[]`).
#[derive(Debug, Clone, Copy)]
struct Seg<'p> {
    name: &'p str,
    iterate: bool,
}

impl Seg<'_> {
    fn is_plain(&self) -> bool {
        !self.iterate && self.name != "*"
    }
}

/// A parsed path. `prefix` numbers its parent path (every segment but the
/// last) when that is made of plain keys, for [`Memo`].
#[derive(Debug, Clone)]
pub struct Steps<'p> {
    path: &'p str,
    segs: Vec<Seg<'p>>,
    prefix: Option<usize>,
}

impl<'p> Steps<'p> {
    /// `None` when deeper than any real field ([`MAX_PATH_SEGMENTS`]).
    pub fn parse(path: &'p str) -> Option<Steps<'p>> {
        let segs: Vec<Seg<'p>> = path
            .split('.')
            .map(|s| match s.strip_suffix("[]") {
                Some(name) => Seg {
                    name,
                    iterate: true,
                },
                None => Seg {
                    name: s,
                    iterate: false,
                },
            })
            .collect();
        (segs.len() <= MAX_PATH_SEGMENTS).then_some(Steps {
            path,
            segs,
            prefix: None,
        })
    }
}

/// Numbers the distinct plain parent paths of a set of [`Steps`].
#[derive(Debug, Default)]
pub struct Prefixes<'p> {
    known: HashMap<&'p str, usize>,
}

impl<'p> Prefixes<'p> {
    /// Gives `steps` the number of its parent path, if that is plain.
    pub fn assign(&mut self, steps: &mut Steps<'p>) {
        let Some((_, parent)) = steps.segs.split_last() else {
            return;
        };
        if parent.is_empty() || !parent.iter().all(Seg::is_plain) {
            return;
        }
        // Plain segments: the parent's text is the path up to its last dot.
        let text = &steps.path[..steps.path.rfind('.').unwrap_or(0)];
        let next = self.known.len();
        steps.prefix = Some(*self.known.entry(text).or_insert(next));
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// Where a parent path led in one alert: the object, the object holding it,
/// and the field name as the alert spells it.
struct Found<'a> {
    value: &'a Json<'a>,
    parent: Option<&'a Object<'a>>,
    field: String,
}

/// Parent paths already resolved in one alert, by [`Prefixes`] number.
pub struct Memo<'a> {
    slots: Vec<Option<Option<Found<'a>>>>,
}

impl<'a> Memo<'a> {
    pub fn new(prefixes: usize) -> Memo<'a> {
        Memo {
            slots: (0..prefixes).map(|_| None).collect(),
        }
    }
}

/// Calls `f(field, leaf, parent)` for every value `steps` resolves to in
/// `root`. `parent` is the object the leaf (or its array) was taken from.
pub fn resolve<'a>(
    root: &'a Json<'a>,
    steps: &Steps<'_>,
    memo: &mut Memo<'a>,
    f: &mut Visit<'_, 'a>,
) {
    let Some(id) = steps.prefix.filter(|&id| id < memo.slots.len()) else {
        let mut field = String::with_capacity(48);
        walk(root, None, &steps.segs, &mut field, f);
        return;
    };
    let (last, parent) = steps
        .segs
        .split_last()
        .expect("a numbered path has a parent");
    let slot = memo.slots[id].get_or_insert_with(|| descend_plain(root, parent));
    if let Some(found) = slot {
        let mut field = String::with_capacity(found.field.len() + 24);
        field.push_str(&found.field);
        walk(
            found.value,
            found.parent,
            std::slice::from_ref(last),
            &mut field,
            f,
        );
    }
}

/// The first value `path` resolves to (for occasional lookups outside the
/// catalog loop).
pub fn first<'a>(root: &'a Json<'a>, path: &str) -> Option<&'a Json<'a>> {
    let steps = Steps::parse(path)?;
    let mut found = None;
    resolve(root, &steps, &mut Memo::new(0), &mut |_, v, _| {
        if found.is_none() {
            found = Some(v);
        }
    });
    found
}

/// [`first`] for parsed steps, sharing the alert's memo.
pub fn first_in<'a>(
    root: &'a Json<'a>,
    steps: &Steps<'_>,
    memo: &mut Memo<'a>,
) -> Option<&'a Json<'a>> {
    let mut found = None;
    resolve(root, steps, memo, &mut |_, v, _| {
        if found.is_none() {
            found = Some(v);
        }
    });
    found
}

fn descend_plain<'a>(root: &'a Json<'a>, segs: &[Seg<'_>]) -> Option<Found<'a>> {
    let mut value = root;
    let mut parent = None;
    let mut field = String::with_capacity(32);
    for seg in segs {
        let Json::Object(map) = value else {
            return None;
        };
        let (key, child) = map.get_ignore_ascii_case(seg.name)?;
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(key);
        parent = Some(map);
        value = child;
    }
    Some(Found {
        value,
        parent,
        field,
    })
}

fn walk<'a>(
    v: &'a Json<'a>,
    parent: Option<&'a Object<'a>>,
    segs: &[Seg<'_>],
    field: &mut String,
    f: &mut Visit<'_, 'a>,
) {
    let Some((seg, rest)) = segs.split_first() else {
        f(field, v, parent);
        return;
    };
    let Json::Object(map) = v else {
        return; // an intermediate of the wrong type: nothing there
    };
    let mark = field.len();
    let mut descend = |key: &str, child: &'a Json<'a>, field: &mut String| {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(key);
        match child {
            Json::Array(items) if seg.iterate => {
                let base = field.len();
                for (i, item) in items.iter().take(MAX_FANOUT).enumerate() {
                    let _ = write!(field, "[{i}]");
                    walk(item, Some(map), rest, field, f);
                    field.truncate(base);
                }
            }
            _ => walk(child, Some(map), rest, field, f),
        }
        field.truncate(mark);
    };
    if seg.name == "*" {
        for (key, child) in map.iter().take(MAX_FANOUT) {
            descend(key, child, field);
        }
    } else if let Some((key, child)) = map.get_ignore_ascii_case(seg.name) {
        descend(key, child, field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all<'a>(root: &'a Json<'a>, steps: &Steps, memo: &mut Memo<'a>) -> Vec<String> {
        let mut out = Vec::new();
        resolve(root, steps, memo, &mut |field, v, _| {
            out.push(format!("{field}={v}"))
        });
        out
    }

    #[test]
    fn memoised_parents_give_what_a_walk_from_the_root_gives() {
        let alert = json!({"data": {"win": {"eventdata": {
            "DestinationIp": "1.2.3.4", "queryName": "a.test", "hashes": ["x", "y"]
        }}, "dns": {"answers": [{"rdata": "5.6.7.8"}, {"rdata": "9.9.9.9"}]}}});
        let alert = Json::from(&alert);
        let paths = [
            "data.win.eventdata.destinationIp",
            "data.win.eventdata.queryName",
            "data.win.eventdata.missing",
            "data.win.eventdata.hashes[]",
            "data.dns.answers[].rdata",
            "data.win.*",
            "data.nothing.here",
        ];
        let mut prefixes = Prefixes::default();
        let mut compiled: Vec<Steps> = paths.iter().map(|p| Steps::parse(p).unwrap()).collect();
        for s in &mut compiled {
            prefixes.assign(s);
        }
        // eventdata (3 paths share it), data.dns.answers is not plain, data.win, data.nothing.
        assert_eq!(prefixes.len(), 3);
        let mut memo = Memo::new(prefixes.len());
        for (path, steps) in paths.iter().zip(&compiled) {
            let plain = Steps::parse(path).unwrap();
            let mut none = Memo::new(0);
            assert_eq!(
                all(&alert, steps, &mut memo),
                all(&alert, &plain, &mut none),
                "{path}"
            );
        }
        assert_eq!(
            all(&alert, &compiled[0], &mut memo),
            ["data.win.eventdata.DestinationIp=\"1.2.3.4\""]
        );
        assert_eq!(
            all(&alert, &compiled[3], &mut memo),
            [
                "data.win.eventdata.hashes[0]=\"x\"",
                "data.win.eventdata.hashes[1]=\"y\""
            ]
        );
        assert_eq!(
            first(&alert, "data.dns.answers[].rdata"),
            Some(&Json::String("5.6.7.8".into()))
        );
        assert!(Steps::parse(&"a.".repeat(MAX_PATH_SEGMENTS + 1)).is_none());
    }
}
