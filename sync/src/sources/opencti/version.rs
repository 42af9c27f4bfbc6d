//! The server version and the query shape it needs (opencti.md §1, §6).
//!
//! `objectLabel`, `objectMarking` and `killChainPhases` are Relay connections
//! (`edges { node { … } }`) in 5.12.0–5.12.23 and plain lists from 5.12.24 on;
//! below 5.12 the filter format is different and unsupported.

use std::fmt;

/// A parsed `about { version }` (`6.9.28`, `5.12.23`, `6.0.0-rc.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// How labels, markings and kill chain phases are selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 5.12.0–5.12.23: connections.
    Edges,
    /// 5.12.24 and later: lists.
    Lists,
}

/// The newest version the tests play (`tests/support/opencti_server.rs`).
pub const NEWEST_TESTED: Version = Version::new(7, 260_318, 0);

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Leading `major.minor[.patch]`; anything after the numbers (`-rc.1`) is ignored.
    pub fn parse(text: &str) -> Option<Version> {
        let core = text
            .trim()
            .trim_start_matches('v')
            .split(|c: char| c != '.' && !c.is_ascii_digit())
            .next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version::new(major, minor, patch))
    }

    /// The query shape for this version, or why it cannot be synced.
    pub fn shape(self) -> Result<Shape, String> {
        if self < Version::new(5, 12, 0) {
            return Err(format!(
                "OpenCTI {self} is not supported: intelmatch needs 5.12 or later (FilterGroup filters)"
            ));
        }
        Ok(if self < Version::new(5, 12, 24) {
            Shape::Edges
        } else {
            Shape::Lists
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_5_12_24_split() {
        let shape = |v: &str| Version::parse(v).unwrap().shape();
        assert_eq!(shape("5.12.0"), Ok(Shape::Edges));
        assert_eq!(shape("5.12.23"), Ok(Shape::Edges));
        assert_eq!(shape("5.12.24"), Ok(Shape::Lists));
        assert_eq!(shape("6.9.28"), Ok(Shape::Lists));
        assert_eq!(shape("6.0.0-rc.1"), Ok(Shape::Lists));
        assert_eq!(shape("7.0"), Ok(Shape::Lists));
        // 7.x numbers its releases by date: 7.YYMMDD.N.
        assert_eq!(shape("7.260318.0"), Ok(Shape::Lists));
        assert!(Version::parse("7.260722.0").unwrap() > NEWEST_TESTED);
        let old = shape("5.11.9").unwrap_err();
        assert!(old.contains("5.11.9 is not supported"), "{old}");
        assert_eq!(Version::parse("nonsense"), None);
        assert_eq!(Version::parse("6"), None);
    }
}
