//! YAML text → an ordered tree of typed nodes, typed the way go-yaml v3 types them for sops.
//!
//! sops reads YAML with go-yaml v3 (`stores/yaml/store.go`), and the type a scalar gets
//! decides both the `type:` of its encrypted form and the bytes it adds to the MAC. This
//! module rebuilds that: it drives `saphyr_parser::Parser` events, resolves plain scalars with
//! go-yaml's `resolve.go` rules (null/bool/int/float/timestamp, `0o`/`0x`/`0b` and legacy
//! leading-zero octal, `_` separators), honours explicit `!!` tags, expands aliases and rejects
//! what sops rejects (duplicate keys, non-string keys).
//!
//! It must not decrypt, know about the `sops` metadata, or put scalar text into error
//! messages: errors carry positions only, because a scalar may be a secret.
//! Spec: `shared/reference/formats-and-peers.md` §1.6; go-yaml v3 `resolve.go` and
//! `decode.go` (`d.scalar`).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::timestamp::GoTime;

/// Deepest nesting accepted while parsing; deeper input is refused instead of risking the
/// stack later.
const MAX_DEPTH: usize = 256;
/// Deepest tree accepted once aliases are expanded (an alias can graft a deep node deep).
const MAX_HEIGHT: usize = 512;
/// The largest text [`parse`] accepts.
pub(crate) const MAX_INPUT_BYTES: usize = 8 << 20;
/// The most a file may weigh once aliases are expanded (a "billion laughs" guard): the bytes
/// of every scalar plus [`NODE_COST`] per node, counted before anything is copied, so an alias
/// of a large scalar costs what its copy would.
const MAX_EXPANDED_BYTES: usize = 64 << 20;
/// What a node costs besides its text, roughly its size in memory.
const NODE_COST: usize = 32;

/// A 1-based line and column in the YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
}

impl From<Span> for Pos {
    fn from(span: Span) -> Self {
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

/// A node of the parsed tree and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) value: Plain,
}

/// The typed value of a node, as go-yaml decodes it into `interface{}`. Its `Debug` shows
/// the shape and keys only: a scalar may be a plain secret.
#[derive(Clone)]
pub(crate) enum Plain {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Time(GoTime),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plain::Seq(items) => f.debug_list().entries(items.iter().map(|n| &n.value)).finish(),
            Plain::Map(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, n)| (k, &n.value)))
                .finish(),
            scalar => f.write_str(scalar.kind()),
        }
    }
}

impl Plain {
    /// A short noun for error messages ("an int"), never the value itself.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Plain::Null => "a null",
            Plain::Bool(_) => "a bool",
            Plain::Int(_) => "an int",
            Plain::Float(_) => "a float",
            Plain::Str(_) => "a string",
            Plain::Time(_) => "a timestamp",
            Plain::Seq(_) => "a sequence",
            Plain::Map(_) => "a mapping",
        }
    }
}

/// Why the YAML could not be read; positions only, never scalar text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum YamlError {
    /// The parser refused the text.
    Syntax { pos: Pos, reason: String },
    /// A mapping key is not a string (sops: "Only string keys are supported").
    NonStringKey { pos: Pos, kind: &'static str },
    /// A mapping has the same key twice.
    DuplicateKey { pos: Pos, key: String },
    /// A scalar cannot be decoded as its explicit tag, e.g. `!!int abc`.
    BadTag { pos: Pos, tag: String },
    /// An integer that only fits in an unsigned 64-bit value (sops cannot walk `uint64`).
    IntOutOfRange { pos: Pos },
    /// A `!!binary` scalar that is not valid base64 or not UTF-8 once decoded.
    BadBinary { pos: Pos },
    /// Too deep, or too big once aliases are expanded.
    TooLarge { pos: Pos, reason: &'static str },
}

/// Parses every document of a YAML stream into typed trees, in order.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(YamlError::TooLarge {
            pos: Pos { line: 1, col: 1 },
            reason: "the file is larger than 8 MiB",
        });
    }
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError::Syntax {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            reason: sanitize_reason(e.info()),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.documents)
}

/// saphyr's messages are fixed strings except "unexpected character", which quotes one
/// character of the input; drop it so no byte of a value can leak.
fn sanitize_reason(info: &str) -> String {
    if info.starts_with("unexpected character") {
        "unexpected character".to_owned()
    } else {
        info.to_owned()
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
        height: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(String, Node)>,
        seen: HashSet<String>,
        key: Option<(String, Pos)>,
        size: usize,
        height: usize,
    },
}

/// What a subtree weighs (scalar bytes plus [`NODE_COST`] per node) and how deep it is.
#[derive(Debug, Clone, Copy)]
struct Shape {
    size: usize,
    height: usize,
}

const ALIAS_LIMIT: &str = "aliases expand to more than 64 MiB";

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Frame>,
    /// Completed anchored nodes with their node counts and heights.
    anchors: HashMap<usize, (Node, Shape)>,
    total: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let pos = Pos::from(span);
        match event {
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_deref(), pos)?;
                let size = NODE_COST.saturating_add(text.len());
                self.complete(Node { pos, value }, anchor, Shape { size, height: 1 })?;
            }
            Event::Alias(id) => {
                let (node, shape) = self.anchors.get(&id).ok_or(YamlError::TooLarge {
                    pos,
                    reason: "an alias refers to an anchor that contains it",
                })?;
                // Check the budget before cloning, so a bomb never gets materialized.
                if self.total.saturating_add(shape.size) > MAX_EXPANDED_BYTES {
                    return Err(YamlError::TooLarge {
                        pos,
                        reason: ALIAS_LIMIT,
                    });
                }
                let (node, shape) = (node.clone(), *shape);
                self.complete(Node { pos, ..node }, 0, shape)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.key_must_be_scalar(pos, "a sequence")?;
                self.push(
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                        size: NODE_COST,
                        height: 1,
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                self.key_must_be_scalar(pos, "a mapping")?;
                let frame = Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    seen: HashSet::new(),
                    key: None,
                    size: NODE_COST,
                    height: 1,
                };
                self.push(frame, pos)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, shape) = match self.stack.pop() {
                    Some(Frame::Seq {
                        pos,
                        anchor,
                        items,
                        size,
                        height,
                    }) => (
                        Node {
                            pos,
                            value: Plain::Seq(items),
                        },
                        anchor,
                        Shape { size, height },
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        size,
                        height,
                        ..
                    }) => (
                        Node {
                            pos,
                            value: Plain::Map(entries),
                        },
                        anchor,
                        Shape { size, height },
                    ),
                    None => return Ok(()),
                };
                // The children were counted as they arrived; count the collection once.
                self.total = self.total.saturating_sub(shape.size);
                self.complete(node, anchor, shape)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::TooLarge {
                pos,
                reason: "nesting is deeper than 256 levels",
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// A collection cannot be a mapping key in sops.
    fn key_must_be_scalar(&self, pos: Pos, kind: &'static str) -> Result<(), YamlError> {
        match self.stack.last() {
            Some(Frame::Map { key: None, .. }) => Err(YamlError::NonStringKey { pos, kind }),
            _ => Ok(()),
        }
    }

    /// Hands a finished node to its parent (or makes it a document).
    fn complete(&mut self, node: Node, anchor: usize, shape: Shape) -> Result<(), YamlError> {
        self.total = self.total.saturating_add(shape.size);
        if self.total > MAX_EXPANDED_BYTES {
            return Err(YamlError::TooLarge {
                pos: node.pos,
                reason: ALIAS_LIMIT,
            });
        }
        if shape.height > MAX_HEIGHT {
            return Err(YamlError::TooLarge {
                pos: node.pos,
                reason: "aliases nest deeper than 512 levels",
            });
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), shape));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq {
                items, size, height, ..
            }) => {
                *size = size.saturating_add(shape.size);
                *height = (*height).max(shape.height + 1);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                seen,
                key,
                size,
                height,
                ..
            }) => {
                *size = size.saturating_add(shape.size);
                *height = (*height).max(shape.height + 1);
                if let Some((k, _)) = key.take() {
                    entries.push((k, node));
                } else {
                    let Plain::Str(k) = node.value else {
                        return Err(YamlError::NonStringKey {
                            pos: node.pos,
                            kind: node.value.kind(),
                        });
                    };
                    if !seen.insert(k.clone()) {
                        return Err(YamlError::DuplicateKey {
                            pos: node.pos,
                            key: k,
                        });
                    }
                    *key = Some((k, node.pos));
                }
            }
        }
        Ok(())
    }
}

/// The explicit tag of a scalar in go-yaml's short form (`!!int`), or `None` for untagged and
/// the non-specific `!` (which go-yaml treats as untagged).
fn short_tag(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    let full = format!("{}{}", tag.handle, tag.suffix);
    if full == "!" || full.is_empty() {
        return None;
    }
    Some(match full.strip_prefix("tag:yaml.org,2002:") {
        Some(rest) => format!("!!{rest}"),
        None => full,
    })
}

/// go-yaml v3 `d.scalar` into `interface{}`.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, pos: Pos) -> Result<Plain, YamlError> {
    let tag = short_tag(tag);
    match tag.as_deref() {
        // Quoted and block scalars without a tag are strings (`indicatedString`).
        None if style != ScalarStyle::Plain => Ok(Plain::Str(text.to_owned())),
        None => resolve_plain(text, None, pos),
        Some("!!binary") => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.split_ascii_whitespace().collect::<String>())
                .map_err(|_| YamlError::BadBinary { pos })?;
            String::from_utf8(bytes)
                .map(Plain::Str)
                .map_err(|_| YamlError::BadBinary { pos })
        }
        Some(t @ ("!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp")) => {
            let resolved = resolve_plain(text, Some(t), pos)?;
            let ok = match (t, &resolved) {
                ("!!bool", Plain::Bool(_))
                | ("!!int", Plain::Int(_))
                | ("!!float", Plain::Float(_))
                | ("!!null", Plain::Null)
                | ("!!timestamp", Plain::Time(_)) => true,
                // go-yaml turns an int into a float for `!!float 1`.
                // go-yaml does `float64(v)`, which rounds exactly like `as`.
                #[allow(clippy::cast_precision_loss)]
                ("!!float", Plain::Int(i)) => return Ok(Plain::Float(*i as f64)),
                _ => false,
            };
            if ok {
                Ok(resolved)
            } else {
                Err(YamlError::BadTag {
                    pos,
                    tag: t.to_owned(),
                })
            }
        }
        // `!!str`, and any other tag (`!foo`, `!!map` on a scalar): go-yaml keeps the text.
        Some(_) => Ok(Plain::Str(text.to_owned())),
    }
}

/// go-yaml v3 `resolve(tag, in)` for a plain scalar (`tag` is `None` or a resolvable tag).
fn resolve_plain(text: &str, tag: Option<&str>, pos: Pos) -> Result<Plain, YamlError> {
    let Some(&first) = text.as_bytes().first() else {
        return Ok(Plain::Null);
    };
    let hint = match first {
        b'+' | b'-' | b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return Ok(Plain::Str(text.to_owned())),
    };
    if let Some(v) = resolve_map(text) {
        return Ok(v);
    }
    match hint {
        b'.' => {
            if let Some(f) = go_parse_float(text) {
                return Ok(Plain::Float(f));
            }
        }
        b'D' => {
            if matches!(tag, None | Some("!!timestamp"))
                && let Some(t) = GoTime::parse_yaml(text)
            {
                return Ok(Plain::Time(t));
            }
            let plain = text.replace('_', "");
            match go_parse_int(&plain) {
                IntParse::Int(i) => return Ok(Plain::Int(i)),
                IntParse::Unsigned => return Err(YamlError::IntOutOfRange { pos }),
                IntParse::Invalid => {}
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Ok(Plain::Float(f));
            }
        }
        _ => {}
    }
    Ok(Plain::Str(text.to_owned()))
}

/// Whether go-yaml v3 (and [`parse`]) reads `text`, written as a plain scalar, as a string
/// equal to `text`; the emitter quotes every other string.
pub(crate) fn plain_reads_as_string(text: &str) -> bool {
    matches!(resolve_plain(text, None, Pos::default()), Ok(Plain::Str(s)) if s == text)
}

/// go-yaml's `resolveMap`.
fn resolve_map(text: &str) -> Option<Plain> {
    Some(match text {
        "true" | "True" | "TRUE" => Plain::Bool(true),
        "false" | "False" | "FALSE" => Plain::Bool(false),
        "~" | "null" | "Null" | "NULL" => Plain::Null,
        ".nan" | ".NaN" | ".NAN" => Plain::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Plain::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Plain::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: usize| b.iter().skip(i).take_while(|c| c.is_ascii_digit()).count();
    let int_digits = digits(i);
    i += int_digits;
    if int_digits == 0 {
        // `\.[0-9]+`
        if b.get(i) != Some(&b'.') || digits(i + 1) == 0 {
            return false;
        }
        i += 1 + digits(i + 1);
    } else if b.get(i) == Some(&b'.') {
        i += 1 + digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

/// Result of Go's `strconv.ParseInt(s, 0, 64)` followed by `ParseUint`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IntParse {
    Int(i64),
    /// Fits only `uint64`.
    Unsigned,
    Invalid,
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` as go-yaml does.
pub(crate) fn go_parse_int(s: &str) -> IntParse {
    const LIMIT: u64 = 1 << 63;
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let Some(magnitude) = go_parse_uint_base0(digits) else {
        return IntParse::Invalid;
    };
    if negative {
        match magnitude {
            m if m < LIMIT => i64::try_from(m).map_or(IntParse::Invalid, |m| IntParse::Int(-m)),
            m if m == LIMIT => IntParse::Int(i64::MIN),
            _ => IntParse::Invalid,
        }
    } else {
        match i64::try_from(magnitude) {
            Ok(i) => IntParse::Int(i),
            // ParseUint does not accept a sign, so "+9223372036854775808" is not a uint64.
            Err(_) if s.starts_with('+') => IntParse::Invalid,
            Err(_) => IntParse::Unsigned,
        }
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` after go-yaml removed the underscores.
fn go_parse_uint_base0(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let (radix, digits) = match bytes {
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (2, bytes.get(2..)?),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (8, bytes.get(2..)?),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (16, bytes.get(2..)?),
        [b'0', ..] => (8, bytes.get(1..)?),
        _ => (10, bytes),
    };
    let mut value: u64 = 0;
    for &d in digits {
        let digit = char::from(d).to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal and special forms sops and go-yaml use;
/// `None` on a syntax or range error (Go reports overflow to ±Inf as an error).
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    if unsigned.is_empty()
        || !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::{IntParse, Plain, YamlError, go_parse_int, parse};

    fn scalar(text: &str) -> Plain {
        let docs = parse(&format!("v: {text}\n")).unwrap();
        let Plain::Map(mut entries) = docs.into_iter().next().unwrap().value else {
            panic!()
        };
        entries.remove(0).1.value
    }

    fn show(p: &Plain) -> String {
        match p {
            Plain::Null => "null".into(),
            Plain::Bool(b) => format!("bool {b}"),
            Plain::Int(i) => format!("int {i}"),
            Plain::Float(f) => format!("float {f}"),
            Plain::Str(s) => format!("str {s}"),
            Plain::Time(t) => format!("time {}", t.to_rfc3339_nano().unwrap()),
            other => other.kind().to_owned(),
        }
    }

    #[test]
    fn plain_scalars_resolve_like_go_yaml_v3() {
        let cases = [
            ("", "null"),
            ("~", "null"),
            ("null", "null"),
            ("Null", "null"),
            ("true", "bool true"),
            ("FALSE", "bool false"),
            ("yes", "str yes"),
            ("on", "str on"),
            ("y", "str y"),
            ("0o17", "int 15"),
            ("0x1F", "int 31"),
            ("-0x1F", "int -31"),
            ("0b101", "int 5"),
            ("0777", "int 511"),
            ("09", "float 9"),
            ("1_000", "int 1000"),
            ("+12", "int 12"),
            ("-9223372036854775808", "int -9223372036854775808"),
            ("99999999999999999999", "float 100000000000000000000"),
            ("1e21", "float 1000000000000000000000"),
            ("1.50", "float 1.5"),
            (".5", "float 0.5"),
            ("1e400", "str 1e400"),
            (".inf", "float inf"),
            ("-.inf", "float -inf"),
            (".nan", "float NaN"),
            ("1.2.3", "str 1.2.3"),
            ("3.11.0", "str 3.11.0"),
            ("2025-12-31", "time 2025-12-31T00:00:00Z"),
            ("'2025-12-31'", "str 2025-12-31"),
            ("\"true\"", "str true"),
            ("!!str 12", "str 12"),
            ("!!int \"12\"", "int 12"),
            ("!!float 1", "float 1"),
            ("!!timestamp 2024-01-01T00:00:00Z", "time 2024-01-01T00:00:00Z"),
            ("!custom 12", "str 12"),
            ("! 12", "int 12"),
            ("!!binary aGVsbG8=", "str hello"),
            ("<<", "str <<"),
            ("_1", "str _1"),
            ("0x", "str 0x"),
        ];
        for (input, want) in cases {
            assert_eq!(show(&scalar(input)), want, "{input}");
        }
    }

    #[test]
    fn ints_beyond_i64_but_within_u64_are_refused_like_sops() {
        assert_eq!(go_parse_int("9223372036854775808"), IntParse::Unsigned);
        assert!(matches!(
            parse("a: 9223372036854775808"),
            Err(YamlError::IntOutOfRange { .. })
        ));
    }

    #[test]
    fn keys_must_be_unique_strings() {
        assert!(matches!(
            parse("a: 1\na: 2\n"),
            Err(YamlError::DuplicateKey { .. })
        ));
        assert!(matches!(
            parse("1: x\n"),
            Err(YamlError::NonStringKey { kind: "an int", .. })
        ));
        assert!(matches!(
            parse("? [a]\n: x\n"),
            Err(YamlError::NonStringKey {
                kind: "a sequence",
                ..
            })
        ));
        assert!(matches!(
            parse("true: x\n"),
            Err(YamlError::NonStringKey { kind: "a bool", .. })
        ));
        assert!(parse("\"1\": x\n").is_ok());
    }

    #[test]
    fn aliases_are_expanded_and_bombs_refused() {
        let docs = parse("a: &x {b: 1}\nc: *x\n").unwrap();
        let Plain::Map(entries) = &docs[0].value else {
            panic!()
        };
        assert!(matches!(&entries[1].1.value, Plain::Map(m) if m.len() == 1));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            writeln!(bomb, "a{i}: &a{i} [{refs}]").unwrap();
        }
        assert!(matches!(parse(&bomb), Err(YamlError::TooLarge { .. })));
    }

    #[test]
    fn aliases_of_a_large_scalar_are_bounded_by_bytes_not_nodes() {
        // 1 MiB of text, aliased 3,000 times: 3,000 nodes, but 3 GB once expanded.
        let mut text = format!("a: &big \"{}\"\nb:\n", "x".repeat(1 << 20));
        for _ in 0..3000 {
            text.push_str("  - *big\n");
        }
        assert!(text.len() < (1 << 20) + 40_000);
        let start = std::time::Instant::now();
        let err = parse(&text).unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        let YamlError::TooLarge { pos, reason } = err else {
            panic!("{err:?}")
        };
        insta::assert_snapshot!(format!("line {} column {}: {reason}", pos.line, pos.col), @"line 65 column 5: aliases expand to more than 64 MiB");
        // The same number of aliases to a small scalar is fine.
        let small = format!("a: &s x\nb:\n{}", "  - *s\n".repeat(3000));
        assert!(parse(&small).is_ok());
    }

    #[test]
    fn input_is_capped_at_8_mib() {
        let text = format!("a: \"{}\"\n", "x".repeat(8 << 20));
        assert_eq!(
            parse(&text).unwrap_err(),
            YamlError::TooLarge {
                pos: super::Pos { line: 1, col: 1 },
                reason: "the file is larger than 8 MiB",
            }
        );
        let text = format!("a: \"{}\"\n", "x".repeat((8 << 20) - 10));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn debug_shows_no_scalar() {
        let docs = parse("a: s3cr3t\nb: [1234, true]\n").unwrap();
        let shown = format!("{docs:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("1234"), "{shown}");
        assert!(shown.contains("\"a\": a string"), "{shown}");
    }

    #[test]
    fn documents_come_in_order() {
        let docs = parse("a: 1\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(matches!(docs[2].value, Plain::Null));
    }
}
