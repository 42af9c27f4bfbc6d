//! The syntax tree of a STIX 2.1 pattern.
//!
//! Chains of the same operator (`[a] OR [b] OR [c]`, `x AND y AND z`) are kept
//! n-ary rather than as nested binary nodes, so a long but flat pattern never
//! builds a deep tree (deep trees overflow the stack when dropped or walked).
//! Parentheses are not stored: the tree shape already says how operands group.
//!
//! [`Display`](fmt::Display) prints a canonical pattern that [`super::parse`]
//! reads back to an equal tree.

use std::fmt;

/// A whole pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub root: ObservationExpr,
}

/// Observation expressions: bracketed groups combined across observations.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ]`: one observation.
    Observation(ComparisonExpr),
    /// `a AND b AND ...` (at least two operands).
    And(Vec<ObservationExpr>),
    /// `a OR b OR ...` (at least two operands).
    Or(Vec<ObservationExpr>),
    /// `a FOLLOWEDBY b FOLLOWEDBY ...` (at least two operands).
    FollowedBy(Vec<ObservationExpr>),
    /// An expression followed by one or more qualifiers, in source order.
    Qualified {
        inner: Box<ObservationExpr>,
        qualifiers: Vec<Qualifier>,
    },
}

/// Qualifiers that constrain when or how often observations occur.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`, `n` positive.
    Within(Number),
    /// `REPEATS n TIMES`, `n` positive.
    Repeats(u64),
    /// `START t'...' STOP t'...'`, timestamps as written (validated, start < stop).
    StartStop { start: String, stop: String },
}

/// A positive number of seconds, as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// Comparison expressions: what lies inside one pair of brackets.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    /// `x AND y AND ...` (at least two operands).
    And(Vec<ComparisonExpr>),
    /// `x OR y OR ...` (at least two operands).
    Or(Vec<ComparisonExpr>),
    Comparison(Comparison),
}

/// One comparison: `path [NOT] op operand`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: ObjectPath,
    /// Preceded by `NOT`.
    pub negated: bool,
    pub predicate: Predicate,
}

/// The operator of a comparison and its operand, typed as the grammar allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `=` (also spelt `==`).
    Equal(Literal),
    /// `!=` (also spelt `<>`).
    NotEqual(Literal),
    /// `<`; never a boolean operand.
    Less(Literal),
    /// `<=`
    LessEqual(Literal),
    /// `>`
    Greater(Literal),
    /// `>=`
    GreaterEqual(Literal),
    /// `IN (...)`, possibly empty.
    In(Vec<Literal>),
    /// `LIKE 'glob'` (`%` any run, `_` one character).
    Like(String),
    /// `MATCHES 'regex'`.
    Matches(String),
    /// `ISSUBSET 'net'`.
    IsSubset(String),
    /// `ISSUPERSET 'net'`.
    IsSuperset(String),
    /// `EXISTS path`.
    Exists,
}

impl Predicate {
    /// The operator as written in a pattern.
    pub fn operator(&self) -> &'static str {
        match self {
            Predicate::Equal(_) => "=",
            Predicate::NotEqual(_) => "!=",
            Predicate::Less(_) => "<",
            Predicate::LessEqual(_) => "<=",
            Predicate::Greater(_) => ">",
            Predicate::GreaterEqual(_) => ">=",
            Predicate::In(_) => "IN",
            Predicate::Like(_) => "LIKE",
            Predicate::Matches(_) => "MATCHES",
            Predicate::IsSubset(_) => "ISSUBSET",
            Predicate::IsSuperset(_) => "ISSUPERSET",
            Predicate::Exists => "EXISTS",
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`, unescaped.
    String(String),
    Int(i64),
    /// Always finite.
    Float(f64),
    Bool(bool),
    /// `t'YYYY-MM-DDTHH:MM:SS[.f]Z'`, the text between the quotes (validated).
    Timestamp(String),
    /// A `t'...'` that is no real time (`t'2023-02-29T00:00:00Z'`). Only its
    /// comparison is lost: a bad date beside an indexable comparison must not
    /// cost that comparison its key.
    BadTimestamp(String),
    /// `h'..'`, decoded.
    Hex(Vec<u8>),
    /// `b'..'`, decoded from base64.
    Binary(Vec<u8>),
}

impl Literal {
    /// A short name of the literal's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "string",
            Literal::Int(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Bool(_) => "boolean",
            Literal::Timestamp(_) => "timestamp",
            Literal::BadTimestamp(_) => "invalid timestamp",
            Literal::Hex(_) => "hex",
            Literal::Binary(_) => "binary",
        }
    }
}

/// An object path: `type:first.step[0].next`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    /// The object type before the colon (`file`, `ipv4-addr`, `x-custom`).
    pub object_type: String,
    /// The steps after the colon; the first is always a [`PathStep::Key`].
    pub steps: Vec<PathStep>,
}

/// One step of an [`ObjectPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property name (`.name` or `.'SHA-256'`).
    Key(String),
    /// `[n]` (negative counts from the end).
    Index(i64),
    /// `[*]`: any element.
    AnyIndex,
}

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `s` as a quoted STIX string literal.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c => fmt::Write::write_char(f, c)?,
        }
    }
    f.write_str("'")
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    // Property names with `-` or other characters must be quoted.
                    if is_plain_identifier(k) {
                        f.write_str(k)?;
                    } else {
                        write_quoted(f, k)?;
                    }
                }
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

/// Prints a float so that it lexes back as a float (never as an integer).
fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    let s = x.to_string();
    if s.contains('.') {
        f.write_str(&s)
    } else {
        write!(f, "{s}.0")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_quoted(f, s),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => write_float(f, *x),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Timestamp(t) | Literal::BadTimestamp(t) => write!(f, "t'{t}'"),
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("'")
            }
            Literal::Binary(bytes) => write!(f, "b'{}'", super::lexer::base64_encode(bytes)),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        let op = self.predicate.operator();
        match &self.predicate {
            Predicate::Exists => write!(f, "{not}EXISTS {}", self.path),
            Predicate::Equal(l)
            | Predicate::NotEqual(l)
            | Predicate::Less(l)
            | Predicate::LessEqual(l)
            | Predicate::Greater(l)
            | Predicate::GreaterEqual(l) => write!(f, "{} {not}{op} {l}", self.path),
            Predicate::In(items) => {
                write!(f, "{} {not}IN (", self.path)?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_str(")")
            }
            Predicate::Like(s)
            | Predicate::Matches(s)
            | Predicate::IsSubset(s)
            | Predicate::IsSuperset(s) => {
                write!(f, "{} {not}{op} ", self.path)?;
                write_quoted(f, s)
            }
        }
    }
}

impl fmt::Display for ComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, op) = match self {
            ComparisonExpr::Comparison(c) => return write!(f, "{c}"),
            ComparisonExpr::And(items) => (items, " AND "),
            ComparisonExpr::Or(items) => (items, " OR "),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            // Nested compound operands are always parenthesised: the tree
            // shape must survive printing and parsing again.
            match item {
                ComparisonExpr::Comparison(c) => write!(f, "{c}")?,
                nested => write!(f, "({nested})")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(Number::Int(n)) => write!(f, "WITHIN {n} SECONDS"),
            Qualifier::Within(Number::Float(x)) => {
                f.write_str("WITHIN ")?;
                write_float(f, *x)?;
                f.write_str(" SECONDS")
            }
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

impl fmt::Display for ObservationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, op) = match self {
            ObservationExpr::Observation(c) => return write!(f, "[{c}]"),
            ObservationExpr::Qualified { inner, qualifiers } => {
                match inner.as_ref() {
                    ObservationExpr::Observation(_) => write!(f, "{inner}")?,
                    nested => write!(f, "({nested})")?,
                }
                for q in qualifiers {
                    write!(f, " {q}")?;
                }
                return Ok(());
            }
            ObservationExpr::And(items) => (items, " AND "),
            ObservationExpr::Or(items) => (items, " OR "),
            ObservationExpr::FollowedBy(items) => (items, " FOLLOWEDBY "),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            match item {
                ObservationExpr::Observation(_) | ObservationExpr::Qualified { .. } => {
                    write!(f, "{item}")?
                }
                nested => write!(f, "({nested})")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(ty: &str, steps: Vec<PathStep>) -> ObjectPath {
        ObjectPath {
            object_type: ty.to_string(),
            steps,
        }
    }

    #[test]
    fn paths_quote_what_needs_quoting() {
        let p = path(
            "file",
            vec![
                PathStep::Key("hashes".into()),
                PathStep::Key("SHA-256".into()),
            ],
        );
        assert_eq!(p.to_string(), "file:hashes.'SHA-256'");
        let p = path(
            "email-message",
            vec![
                PathStep::Key("to_refs".into()),
                PathStep::AnyIndex,
                PathStep::Key("value".into()),
            ],
        );
        assert_eq!(p.to_string(), "email-message:to_refs[*].value");
        let p = path(
            "x-thing",
            vec![PathStep::Key("it's".into()), PathStep::Index(-1)],
        );
        assert_eq!(p.to_string(), "x-thing:'it\\'s'[-1]");
    }

    #[test]
    fn literals_print_as_stix() {
        assert_eq!(Literal::String("a'b\\c".into()).to_string(), r"'a\'b\\c'");
        assert_eq!(Literal::Float(2.0).to_string(), "2.0");
        assert_eq!(Literal::Float(-0.25).to_string(), "-0.25");
        assert_eq!(Literal::Float(1e20).to_string(), "100000000000000000000.0");
        assert_eq!(Literal::Int(-7).to_string(), "-7");
        assert_eq!(Literal::Bool(false).to_string(), "false");
        assert_eq!(Literal::Hex(vec![0xde, 0xad]).to_string(), "h'dead'");
        assert_eq!(Literal::Binary(b"hi!".to_vec()).to_string(), "b'aGkh'");
        assert_eq!(
            Literal::Timestamp("2020-01-01T00:00:00Z".into()).to_string(),
            "t'2020-01-01T00:00:00Z'"
        );
    }

    #[test]
    fn nested_operands_are_parenthesised() {
        let cmp = |v: &str| {
            ComparisonExpr::Comparison(Comparison {
                path: path("a", vec![PathStep::Key("b".into())]),
                negated: false,
                predicate: Predicate::Equal(Literal::String(v.into())),
            })
        };
        let obs = ObservationExpr::Or(vec![
            ObservationExpr::Observation(ComparisonExpr::And(vec![
                cmp("1"),
                ComparisonExpr::Or(vec![cmp("2"), cmp("3")]),
            ])),
            ObservationExpr::Qualified {
                inner: Box::new(ObservationExpr::And(vec![
                    ObservationExpr::Observation(cmp("4")),
                    ObservationExpr::Observation(cmp("5")),
                ])),
                qualifiers: vec![Qualifier::Within(Number::Int(5)), Qualifier::Repeats(2)],
            },
        ]);
        assert_eq!(
            obs.to_string(),
            "[a:b = '1' AND (a:b = '2' OR a:b = '3')] OR \
             ([a:b = '4'] AND [a:b = '5']) WITHIN 5 SECONDS REPEATS 2 TIMES"
        );
    }

    #[test]
    fn predicates_name_their_operator() {
        assert_eq!(Predicate::In(vec![]).operator(), "IN");
        assert_eq!(Predicate::Exists.operator(), "EXISTS");
        assert_eq!(Predicate::NotEqual(Literal::Int(1)).operator(), "!=");
    }
}
