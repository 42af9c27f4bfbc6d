//! Recursive-descent parser for the whole STIX 2.1 patterning grammar.
//!
//! Precedence, loosest first: `FOLLOWEDBY`, `OR`, `AND` between observations;
//! qualifiers bind to the observation (or parenthesised group) just before them.
//! Inside brackets `OR` is looser than `AND`. Every `(` and `[` counts towards
//! [`MAX_DEPTH`]; an operator chain is read by a loop and grouped by
//! precedence afterwards, so recursion is two or three frames per nesting
//! level and bounded by the nesting limit whatever the input.

use super::ast::{
    Comparison, ComparisonExpr, Literal, Number, ObjectPath, ObservationExpr, PathStep, Pattern,
    Predicate, Qualifier,
};
use super::lexer::{invalid_timestamp, parse_timestamp, tokenize, Tok, Token};
use super::{snippet, ParseError, MAX_DEPTH, MAX_PATTERN_LEN};

/// Keywords, for the "keywords are case-sensitive" hint.
const KEYWORDS: [&str; 17] = [
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
    "EXISTS",
];

pub(crate) fn parse_pattern(src: &str) -> Result<Pattern, ParseError> {
    if src.len() > MAX_PATTERN_LEN {
        return Err(ParseError {
            offset: 0,
            message: format!(
                "pattern is {} bytes long, more than the limit of {MAX_PATTERN_LEN}",
                src.len()
            ),
        });
    }
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if p.peek().tok == Tok::Eof {
        return Err(p.error_here("empty pattern: expected an observation `[...]`"));
    }
    let root = p.observation_expressions()?;
    if p.peek().tok != Tok::Eof {
        let t = p.peek();
        return Err(ParseError {
            offset: t.offset,
            message: format!(
                "unexpected {}{} after a complete observation expression \
                 (expected `AND`, `OR`, `FOLLOWEDBY`, a qualifier or the end)",
                t.tok.describe(),
                case_hint(&t.tok)
            ),
        });
    }
    Ok(Pattern { root })
}

/// A hint for words that look like keywords or booleans in the wrong case.
fn case_hint(tok: &Tok<'_>) -> String {
    let Tok::Word(w) = tok else {
        return String::new();
    };
    let upper = w.to_ascii_uppercase();
    if upper != *w && KEYWORDS.contains(&upper.as_str()) {
        return format!(" (keywords are case-sensitive: write `{upper}`)");
    }
    let lower = w.to_ascii_lowercase();
    if lower != *w && (lower == "true" || lower == "false") {
        return format!(" (booleans are written `{lower}`)");
    }
    String::new()
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        // The last token is always Eof and `advance` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_second(&self) -> &Tok<'a> {
        &self.tokens[(self.pos + 1).min(self.tokens.len() - 1)].tok
    }

    fn advance(&mut self) {
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
    }

    fn is_word(&self, kw: &str) -> bool {
        matches!(self.peek().tok, Tok::Word(w) if w == kw)
    }

    fn eat_word(&mut self, kw: &str) -> bool {
        if self.is_word(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.peek().offset,
            message: message.into(),
        }
    }

    /// "expected X, found Y" at the current token.
    fn expected(&self, what: &str) -> ParseError {
        let t = self.peek();
        self.error_here(format!(
            "expected {what}, found {}{}",
            t.tok.describe(),
            case_hint(&t.tok)
        ))
    }

    fn expect(&mut self, tok: Tok<'static>, what: &str) -> Result<(), ParseError> {
        if self.peek().tok == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_word(&mut self, kw: &str, what: &str) -> Result<(), ParseError> {
        if self.eat_word(kw) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// Enters one level of `(` or `[`, refusing to go deeper than the limit.
    fn enter(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_here(format!(
                "nesting deeper than {MAX_DEPTH} levels of brackets and parentheses"
            )));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- observation expressions ----

    /// Units joined by `AND`, `OR` and `FOLLOWEDBY`, read as one flat run
    /// and grouped by precedence afterwards: one stack frame per nesting
    /// level instead of one per precedence level.
    fn observation_expressions(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut operands = vec![self.observation_unit()?];
        let mut ops = Vec::new();
        loop {
            let level = match self.peek().tok {
                Tok::Word("AND") => 0,
                Tok::Word("OR") => 1,
                Tok::Word("FOLLOWEDBY") => 2,
                _ => break,
            };
            self.advance();
            ops.push(level);
            operands.push(self.observation_unit()?);
        }
        Ok(group(
            operands,
            ops,
            &[
                ObservationExpr::And,
                ObservationExpr::Or,
                ObservationExpr::FollowedBy,
            ],
        ))
    }

    /// `[ ... ]` or `( ... )`, then any qualifiers.
    fn observation_unit(&mut self) -> Result<ObservationExpr, ParseError> {
        let expr = match self.peek().tok {
            Tok::LBrack => {
                self.enter()?;
                self.advance();
                if self.peek().tok == Tok::RBrack {
                    return Err(self.error_here("empty observation `[]`: expected a comparison"));
                }
                let cmp = self.comparison_or()?;
                self.expect(Tok::RBrack, "`AND`, `OR` or `]`")?;
                self.leave();
                ObservationExpr::Observation(cmp)
            }
            Tok::LParen => {
                self.enter()?;
                self.advance();
                let inner = self.observation_expressions()?;
                self.expect(Tok::RParen, "`AND`, `OR`, `FOLLOWEDBY`, a qualifier or `)`")?;
                self.leave();
                inner
            }
            _ => return Err(self.expected("an observation `[...]` or `(`")),
        };
        let mut qualifiers = Vec::new();
        while let Some(q) = self.qualifier()? {
            qualifiers.push(q);
        }
        Ok(if qualifiers.is_empty() {
            expr
        } else {
            ObservationExpr::Qualified {
                inner: Box::new(expr),
                qualifiers,
            }
        })
    }

    #[inline(never)]
    fn qualifier(&mut self) -> Result<Option<Qualifier>, ParseError> {
        if self.eat_word("WITHIN") {
            let seconds = match self.peek().tok {
                Tok::Int(n) if n > 0 => Number::Int(n),
                Tok::Float(x) if x > 0.0 => Number::Float(x),
                _ => return Err(self.expected("a positive number of seconds after `WITHIN`")),
            };
            self.advance();
            self.expect_word("SECONDS", "`SECONDS` after `WITHIN n`")?;
            return Ok(Some(Qualifier::Within(seconds)));
        }
        if self.eat_word("REPEATS") {
            let times = match self.peek().tok {
                Tok::Int(n) if n > 0 => n as u64,
                _ => return Err(self.expected("a positive integer after `REPEATS`")),
            };
            self.advance();
            self.expect_word("TIMES", "`TIMES` after `REPEATS n`")?;
            return Ok(Some(Qualifier::Repeats(times)));
        }
        if self.is_word("START") {
            let start_offset = self.peek().offset;
            self.advance();
            let start = self.timestamp("a timestamp literal t'...' after `START`")?;
            self.expect_word("STOP", "`STOP` after `START t'...'`")?;
            let stop = self.timestamp("a timestamp literal t'...' after `STOP`")?;
            // Both parse: `timestamp` validated them.
            if parse_timestamp(&stop) <= parse_timestamp(&start) {
                return Err(ParseError {
                    offset: start_offset,
                    message: format!(
                        "STOP t'{}' is not later than START t'{}'",
                        snippet(&stop),
                        snippet(&start)
                    ),
                });
            }
            return Ok(Some(Qualifier::StartStop { start, stop }));
        }
        Ok(None)
    }

    /// A qualifier's timestamp: a bad one invalidates the pattern, since the
    /// qualifier applies to every comparison under it.
    fn timestamp(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().tok {
            Tok::Timestamp(t) if parse_timestamp(t).is_none() => {
                Err(self.error_here(invalid_timestamp(t)))
            }
            Tok::Timestamp(t) => {
                let t = t.clone();
                self.advance();
                Ok(t)
            }
            _ => Err(self.expected(what)),
        }
    }

    // ---- comparison expressions ----

    /// Comparisons joined by `AND` and `OR`, grouped like observations.
    fn comparison_or(&mut self) -> Result<ComparisonExpr, ParseError> {
        let mut operands = vec![self.comparison_test()?];
        let mut ops = Vec::new();
        loop {
            let level = match self.peek().tok {
                Tok::Word("AND") => 0,
                Tok::Word("OR") => 1,
                _ => break,
            };
            self.advance();
            ops.push(level);
            operands.push(self.comparison_test()?);
        }
        Ok(group(
            operands,
            ops,
            &[ComparisonExpr::And, ComparisonExpr::Or],
        ))
    }

    fn comparison_test(&mut self) -> Result<ComparisonExpr, ParseError> {
        if self.peek().tok == Tok::LParen {
            self.enter()?;
            self.advance();
            let inner = self.comparison_or()?;
            self.expect(Tok::RParen, "`AND`, `OR` or `)`")?;
            self.leave();
            return Ok(inner);
        }
        self.comparison_leaf()
    }

    /// One comparison. Kept out of line: its frame is big and must not sit
    /// on the stack once per nesting level.
    #[inline(never)]
    fn comparison_leaf(&mut self) -> Result<ComparisonExpr, ParseError> {
        match self.peek().tok {
            Tok::Word("NOT") => {
                if *self.peek_second() != Tok::Word("EXISTS") {
                    return Err(self.error_here(
                        "`NOT` at the start of a comparison must be followed by `EXISTS` \
                         (otherwise write `path NOT op value`)",
                    ));
                }
                self.advance();
                self.advance();
                let path = self.object_path()?;
                return Ok(ComparisonExpr::Comparison(Comparison {
                    path,
                    negated: true,
                    predicate: Predicate::Exists,
                }));
            }
            Tok::Word("EXISTS") => {
                self.advance();
                let path = self.object_path()?;
                return Ok(ComparisonExpr::Comparison(Comparison {
                    path,
                    negated: false,
                    predicate: Predicate::Exists,
                }));
            }
            Tok::Word(_) => {}
            _ => return Err(self.expected("a comparison (an object path, `EXISTS` or `(`)")),
        }
        let path = self.object_path()?;
        let negated = self.eat_word("NOT");
        let op_token = self.peek().clone();
        let predicate = match op_token.tok {
            Tok::Eq | Tok::Ne => {
                self.advance();
                let lit = self.literal(&op_token.tok)?;
                if op_token.tok == Tok::Eq {
                    Predicate::Equal(lit)
                } else {
                    Predicate::NotEqual(lit)
                }
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                self.advance();
                let at = self.peek().offset;
                let lit = self.literal(&op_token.tok)?;
                if let Literal::Bool(_) = lit {
                    return Err(ParseError {
                        offset: at,
                        message: format!(
                            "{} cannot compare a boolean: booleans are not ordered",
                            op_token.tok.describe()
                        ),
                    });
                }
                match op_token.tok {
                    Tok::Lt => Predicate::Less(lit),
                    Tok::Le => Predicate::LessEqual(lit),
                    Tok::Gt => Predicate::Greater(lit),
                    _ => Predicate::GreaterEqual(lit),
                }
            }
            Tok::Word("IN") => {
                self.advance();
                Predicate::In(self.set_literal()?)
            }
            Tok::Word(w @ ("LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET")) => {
                self.advance();
                let s = match &self.peek().tok {
                    Tok::Str(s) => s.clone(),
                    _ => return Err(self.expected(&format!("a string literal after `{w}`"))),
                };
                self.advance();
                match w {
                    "LIKE" => Predicate::Like(s),
                    "MATCHES" => Predicate::Matches(s),
                    "ISSUBSET" => Predicate::IsSubset(s),
                    _ => Predicate::IsSuperset(s),
                }
            }
            Tok::Word("EXISTS") => {
                return Err(self.error_here(format!(
                    "`EXISTS` goes before the object path: write `EXISTS {path}`"
                )))
            }
            _ => {
                return Err(self.expected(&format!(
                    "a comparison operator after `{}`",
                    snippet(&path.to_string())
                )))
            }
        };
        Ok(ComparisonExpr::Comparison(Comparison {
            path,
            negated,
            predicate,
        }))
    }

    fn literal(&mut self, after: &Tok<'_>) -> Result<Literal, ParseError> {
        let lit = match &self.peek().tok {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Int(n) => Literal::Int(*n),
            Tok::Float(x) => Literal::Float(*x),
            Tok::Word("true") => Literal::Bool(true),
            Tok::Word("false") => Literal::Bool(false),
            Tok::Timestamp(t) if parse_timestamp(t).is_none() => Literal::BadTimestamp(t.clone()),
            Tok::Timestamp(t) => Literal::Timestamp(t.clone()),
            Tok::Hex(h) => Literal::Hex(h.clone()),
            Tok::Binary(b) => Literal::Binary(b.clone()),
            _ => return Err(self.expected(&format!("a literal after {}", after.describe()))),
        };
        self.advance();
        Ok(lit)
    }

    fn set_literal(&mut self) -> Result<Vec<Literal>, ParseError> {
        self.expect(Tok::LParen, "`(` starting the `IN` list")?;
        let mut items = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.advance();
            return Ok(items);
        }
        loop {
            items.push(self.literal(&Tok::Word("IN"))?);
            match self.peek().tok {
                Tok::Comma => {
                    self.advance();
                }
                Tok::RParen => {
                    self.advance();
                    return Ok(items);
                }
                _ => return Err(self.expected("`,` or `)` in the `IN` list")),
            }
        }
    }

    // ---- object paths ----

    fn object_path(&mut self) -> Result<ObjectPath, ParseError> {
        let t = self.peek().clone();
        let Tok::Word(object_type) = t.tok else {
            return Err(self.expected("an object path `type:property`"));
        };
        if !object_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || !object_type.as_bytes()[0].is_ascii_lowercase()
        {
            return Err(self.error_here(format!(
                "invalid object type `{}`: only lowercase letters, digits and `-` are allowed, \
                 starting with a letter",
                snippet(object_type)
            )));
        }
        self.advance();
        self.expect(
            Tok::Colon,
            &format!("`:` after object type `{}`", snippet(object_type)),
        )?;
        let mut steps = vec![PathStep::Key(self.property_name(&format!(
            "a property name after `{}:`",
            snippet(object_type)
        ))?)];
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.advance();
                    steps.push(PathStep::Key(
                        self.property_name("a property name after `.`")?,
                    ));
                }
                Tok::LBrack => {
                    self.advance();
                    let step = match self.peek().tok {
                        Tok::Int(n) => PathStep::Index(n),
                        Tok::Star => PathStep::AnyIndex,
                        _ => return Err(self.expected("a list index or `*` inside `[...]`")),
                    };
                    self.advance();
                    self.expect(Tok::RBrack, "`]` closing the list index")?;
                    steps.push(step);
                }
                _ => break,
            }
        }
        Ok(ObjectPath {
            object_type: object_type.to_string(),
            steps,
        })
    }

    fn property_name(&mut self, what: &str) -> Result<String, ParseError> {
        let name = match &self.peek().tok {
            Tok::Str(s) => s.clone(),
            Tok::Word(w) if w.contains('-') => {
                return Err(self.error_here(format!(
                    "property name `{0}` contains `-`: quote it as '{0}'",
                    snippet(w)
                )))
            }
            Tok::Word(w) => w.to_string(),
            _ => return Err(self.expected(what)),
        };
        self.advance();
        Ok(name)
    }
}

/// Groups `operands[0] ops[0] operands[1] ...` by precedence: `ops[i]` is an
/// index into `makers`, tightest first. Runs joined by one level become one
/// n-ary node, then the next level groups the result, and so on.
fn group<T>(mut operands: Vec<T>, mut ops: Vec<usize>, makers: &[fn(Vec<T>) -> T]) -> T {
    for (level, make) in makers.iter().enumerate() {
        let mut grouped = Vec::with_capacity(operands.len());
        let mut remaining_ops = Vec::new();
        let mut rest = operands.into_iter();
        let mut run: Vec<T> = rest.next().into_iter().collect();
        for (op, next) in ops.into_iter().zip(rest) {
            if op != level {
                grouped.push(collapse(std::mem::take(&mut run), make));
                remaining_ops.push(op);
            }
            run.push(next);
        }
        grouped.push(collapse(run, make));
        operands = grouped;
        ops = remaining_ops;
    }
    // Every operator has been consumed by its level: one operand is left.
    operands.pop().expect("grouping leaves one operand")
}

/// One operand stays itself; several become an n-ary node.
fn collapse<T>(mut items: Vec<T>, make: impl FnOnce(Vec<T>) -> T) -> T {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        make(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Pattern {
        parse_pattern(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn e(src: &str) -> ParseError {
        match parse_pattern(src) {
            Ok(p) => panic!("{src} parsed as {p}"),
            Err(e) => e,
        }
    }

    fn cmp(path: &str, prop: &str, v: &str) -> ComparisonExpr {
        ComparisonExpr::Comparison(Comparison {
            path: ObjectPath {
                object_type: path.into(),
                steps: vec![PathStep::Key(prop.into())],
            },
            negated: false,
            predicate: Predicate::Equal(Literal::String(v.into())),
        })
    }

    fn obs(c: ComparisonExpr) -> ObservationExpr {
        ObservationExpr::Observation(c)
    }

    #[test]
    fn single_comparison() {
        assert_eq!(
            p("[ipv4-addr:value = '198.51.100.7']").root,
            obs(cmp("ipv4-addr", "value", "198.51.100.7"))
        );
    }

    #[test]
    fn observation_precedence() {
        // AND binds tighter than OR, which binds tighter than FOLLOWEDBY.
        let got = p("[a:x = '1'] FOLLOWEDBY [a:x = '2'] OR [a:x = '3'] AND [a:x = '4']").root;
        let want = ObservationExpr::FollowedBy(vec![
            obs(cmp("a", "x", "1")),
            ObservationExpr::Or(vec![
                obs(cmp("a", "x", "2")),
                ObservationExpr::And(vec![obs(cmp("a", "x", "3")), obs(cmp("a", "x", "4"))]),
            ]),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn comparison_precedence_and_parentheses() {
        let got = p("[a:x = '1' OR a:x = '2' AND a:x = '3']").root;
        let want = obs(ComparisonExpr::Or(vec![
            cmp("a", "x", "1"),
            ComparisonExpr::And(vec![cmp("a", "x", "2"), cmp("a", "x", "3")]),
        ]));
        assert_eq!(got, want);
        let got = p("[(a:x = '1' OR a:x = '2') AND a:x = '3']").root;
        let want = obs(ComparisonExpr::And(vec![
            ComparisonExpr::Or(vec![cmp("a", "x", "1"), cmp("a", "x", "2")]),
            cmp("a", "x", "3"),
        ]));
        assert_eq!(got, want);
    }

    #[test]
    fn chains_are_flat() {
        let src = vec!["[a:x = '1']"; 5000].join(" OR ");
        match p(&src).root {
            ObservationExpr::Or(items) => assert_eq!(items.len(), 5000),
            other => panic!("{other:?}"),
        }
        let inner = vec!["a:x = '1'"; 5000].join(" AND ");
        match p(&format!("[{inner}]")).root {
            ObservationExpr::Observation(ComparisonExpr::And(items)) => {
                assert_eq!(items.len(), 5000)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn qualifiers_bind_to_the_preceding_unit() {
        let got = p("[a:x = '1'] AND [a:x = '2'] WITHIN 5 SECONDS").root;
        let want = ObservationExpr::And(vec![
            obs(cmp("a", "x", "1")),
            ObservationExpr::Qualified {
                inner: Box::new(obs(cmp("a", "x", "2"))),
                qualifiers: vec![Qualifier::Within(Number::Int(5))],
            },
        ]);
        assert_eq!(got, want);
        let got = p("([a:x = '1'] AND [a:x = '2']) REPEATS 3 TIMES WITHIN 1.5 SECONDS").root;
        let ObservationExpr::Qualified { inner, qualifiers } = got else {
            panic!()
        };
        assert!(matches!(*inner, ObservationExpr::And(_)));
        assert_eq!(
            qualifiers,
            vec![Qualifier::Repeats(3), Qualifier::Within(Number::Float(1.5))]
        );
        let got = p("[a:x = '1'] START t'2020-01-01T00:00:00Z' STOP t'2020-02-01T00:00:00Z'").root;
        let ObservationExpr::Qualified { qualifiers, .. } = got else {
            panic!()
        };
        assert_eq!(
            qualifiers,
            vec![Qualifier::StartStop {
                start: "2020-01-01T00:00:00Z".into(),
                stop: "2020-02-01T00:00:00Z".into()
            }]
        );
    }

    #[test]
    fn object_paths() {
        let c = |src: &str| match p(src).root {
            ObservationExpr::Observation(ComparisonExpr::Comparison(c)) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            c("[file:hashes.'SHA-256' = 'x']").path.steps,
            vec![
                PathStep::Key("hashes".into()),
                PathStep::Key("SHA-256".into())
            ]
        );
        assert_eq!(
            c("[email-message:to_refs[*].value = 'x']").path.steps,
            vec![
                PathStep::Key("to_refs".into()),
                PathStep::AnyIndex,
                PathStep::Key("value".into())
            ]
        );
        assert_eq!(
            c("[x-custom:'odd name'[0][-1].b = 'x']").path,
            ObjectPath {
                object_type: "x-custom".into(),
                steps: vec![
                    PathStep::Key("odd name".into()),
                    PathStep::Index(0),
                    PathStep::Index(-1),
                    PathStep::Key("b".into())
                ]
            }
        );
        // Keywords may be property names: context decides.
        assert_eq!(
            c("[x-y:IN IN ('a')]").path.steps,
            vec![PathStep::Key("IN".into())]
        );
    }

    #[test]
    fn operators_and_negation() {
        let c = |src: &str| match p(src).root {
            ObservationExpr::Observation(ComparisonExpr::Comparison(c)) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            c("[a:b != 1]").predicate,
            Predicate::NotEqual(Literal::Int(1))
        );
        assert_eq!(
            c("[a:b <> 1]").predicate,
            Predicate::NotEqual(Literal::Int(1))
        );
        assert_eq!(c("[a:b == 1]").predicate, Predicate::Equal(Literal::Int(1)));
        assert_eq!(
            c("[a:b < 1.5]").predicate,
            Predicate::Less(Literal::Float(1.5))
        );
        assert_eq!(
            c("[a:b <= -1]").predicate,
            Predicate::LessEqual(Literal::Int(-1))
        );
        assert_eq!(
            c("[a:b > 'm']").predicate,
            Predicate::Greater(Literal::String("m".into()))
        );
        assert_eq!(
            c("[a:b >= h'00']").predicate,
            Predicate::GreaterEqual(Literal::Hex(vec![0]))
        );
        assert_eq!(c("[a:b IN ()]").predicate, Predicate::In(vec![]));
        assert_eq!(
            c("[a:b IN (1, 'x', true)]").predicate,
            Predicate::In(vec![
                Literal::Int(1),
                Literal::String("x".into()),
                Literal::Bool(true)
            ])
        );
        let n = c("[a:b NOT LIKE 'x%']");
        assert!(n.negated);
        assert_eq!(n.predicate, Predicate::Like("x%".into()));
        let n = c("[NOT EXISTS a:b]");
        assert!(n.negated);
        assert_eq!(n.predicate, Predicate::Exists);
        assert!(!c("[EXISTS a:b]").negated);
        assert!(c("[a:b NOT = 'x']").negated);
    }

    #[test]
    fn errors_point_at_the_culprit() {
        let err = e("[a:b = 'x'] and [a:b = 'y']");
        assert_eq!(err.offset, 12);
        assert!(err.message.contains("write `AND`"), "{err}");
        let err = e("[a:b like 'x']");
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("write `LIKE`"), "{err}");
        let err = e("[a:b = True]");
        assert!(err.message.contains("`true`"), "{err}");
        let err = e("[a:b = 'x'");
        assert_eq!(err.offset, 10);
        assert!(err.message.contains("end of pattern"), "{err}");
        let err = e("[a:b = 'x'] WITHIN 0 SECONDS");
        assert!(err.message.contains("positive"), "{err}");
        let err = e("[a:b = 'x'] START t'2020-02-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'");
        assert!(err.message.contains("not later"), "{err}");
    }

    #[test]
    fn depth_is_limited() {
        let ok = format!(
            "{}[a:b = 1]{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        p(&ok);
        let bad = format!(
            "{}[a:b = 1]{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        let err = e(&bad);
        assert_eq!(err.offset, MAX_DEPTH);
        assert!(err.message.contains("nesting deeper"));
        let bomb = "(".repeat(10_000);
        assert!(e(&bomb).message.contains("nesting deeper"));
        let inner = format!("[{}", "(".repeat(10_000));
        assert!(e(&inner).message.contains("nesting deeper"));
    }

    #[test]
    fn length_is_limited() {
        let long = format!("[a:b = '{}']", "x".repeat(MAX_PATTERN_LEN));
        assert!(e(&long).message.contains("limit"));
    }
}
