//! A read-only YAML syntax tree of one document, with byte positions, built from the parser's
//! events. It exists so that `render` can find fields and then edit the *source text* at
//! exact positions: the tree is never serialised back.
//!
//! The tree is what Kubernetes' reader (`sigs.k8s.io/yaml` on go-yaml v2) sees, or the
//! document is refused with a reason:
//! - scalars are typed by YAML 1.1 rules once, at parse time ([`yaml11`](super::yaml11));
//! - NEL ends a line as it does for libyaml's scanner; LS and PS, which libyaml also takes as
//!   line breaks but keeps inside values, are refused rather than guessed at; a tab after `:`
//!   separates, as libyaml (and the spec) has it;
//! - a tab at the start of a line where go-yaml reads indentation, which YAML 1.2 and this
//!   parser take on a blank or comment line, is refused ([`tabs`](super::tabs));
//! - duplicate keys, a merge (`<<`) of something that is not a mapping, and a key both written
//!   before a merge and merged (go-yaml v2 lets the merge win, the YAML spec and go-yaml v3 the
//!   written key) are errors naming both places;
//! - input size, nesting depth and alias expansion (counted in bytes) are bounded.
//!
//! This module must not edit anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::yaml11::{self, Scalar};

/// Where a node sits in the document text, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Column of `start` in characters.
    pub(crate) col: usize,
    /// 1-based line of `start` in the document.
    pub(crate) line: usize,
}

/// One YAML node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) kind: Kind,
    /// Whether this node was reached through an alias (`*x`) rather than written here.
    pub(crate) aliased: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar {
        /// The text as the parser decoded it (escapes and folding applied).
        value: String,
        style: ScalarStyle,
        /// The resolved tag (`tag:yaml.org,2002:str`, `!local`, `!`), if one is written.
        tag: Option<String>,
        /// What Kubernetes reads.
        typed: Typed,
    },
    Seq {
        flow: bool,
        items: Vec<Node>,
    },
    Map {
        flow: bool,
        entries: Vec<(Node, Node)>,
    },
}

/// A scalar's YAML 1.1 meaning, without copying string values that are the text itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Typed {
    /// A string equal to the scalar's text.
    Text,
    /// A string that differs from the text (`!!binary`).
    Decoded(String),
    /// Anything else.
    Other(Scalar),
}

/// A parse failure, with the 1-based line of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
    /// The other place a problem involves: what it is and its 1-based line in the document.
    pub(crate) other: Option<(&'static str, usize)>,
}

impl SyntaxError {
    /// The message with the other place, its line counted from `first_line` (the document's
    /// first line in its file, so that both places read as an editor shows them).
    pub(crate) fn describe(&self, first_line: usize) -> String {
        match self.other {
            Some((what, line)) => format!(
                "{} ({what} on line {})",
                self.message,
                first_line + line.saturating_sub(1)
            ),
            None => self.message.clone(),
        }
    }
}

/// Documents larger than this are refused before parsing.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 << 20;
/// Deeper nesting is refused: no real manifest comes near it, and recursive walks stay safe.
pub(crate) const MAX_DEPTH: usize = 128;
/// At most this many nodes are built for the documents one run parses together (the render's
/// candidates), or for one document read on its own (a `ResourceList`, a settings object).
/// Each node costs a few hundred bytes of memory and a dense flow list (`[a,a,a,...]`) makes
/// one every two bytes, so without a bound a 64 MiB document would take tens of GB. A million
/// nodes is about 10 MiB of ordinary YAML; the monorepo benchmark's render parses a tenth.
pub(crate) const MAX_NODES: usize = 1 << 20;
/// Aliases may copy at most this many bytes (plus the document's own size) into the tree.
const ALIAS_BYTES_BUDGET: usize = 1 << 20;

/// How many more nodes the documents kept in memory together may build ([`MAX_NODES`] for a
/// render), shared by the threads that parse them at the same time. Once a parse finds it
/// short, it is empty for every other parse too.
#[derive(Debug)]
pub(crate) struct NodeBudget(AtomicUsize);

impl NodeBudget {
    pub(crate) fn new(nodes: usize) -> NodeBudget {
        NodeBudget(AtomicUsize::new(nodes))
    }

    /// Takes `n` nodes, or, when fewer are left, empties the budget and says so.
    fn take(&self, n: usize) -> bool {
        let taken = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(n))
            .is_ok();
        if !taken {
            self.0.store(0, Ordering::Relaxed);
        }
        taken
    }

    /// The nodes left.
    pub(crate) fn left(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Node {
    /// The string Kubernetes reads from this scalar, if it reads a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar {
                value,
                typed: Typed::Text,
                ..
            } => Some(value),
            Kind::Scalar {
                typed: Typed::Decoded(s),
                ..
            } => Some(s),
            _ => None,
        }
    }

    /// The scalar's YAML 1.1 meaning, or `None` for collections.
    pub(crate) fn scalar(&self) -> Option<Scalar> {
        match &self.kind {
            Kind::Scalar {
                typed: Typed::Other(s),
                ..
            } => Some(s.clone()),
            Kind::Scalar { .. } => self.as_str().map(|s| Scalar::Str(s.to_owned())),
            _ => None,
        }
    }

    /// The scalar text as written (after escapes), whatever its type: for diagnostics.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether this is the YAML null (`~`, `null`, nothing at all, `!!null`).
    pub(crate) fn is_null(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Scalar {
                typed: Typed::Other(Scalar::Null),
                ..
            }
        )
    }

    /// Whether this key is go-yaml's merge key: `<<` plain (or with the `!` or `!!merge` tag).
    pub(crate) fn is_merge_key(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style, tag, .. }
        if value == "<<" && match tag.as_deref() {
            None => *style == ScalarStyle::Plain,
            Some(t) => t == "!" || t == "tag:yaml.org,2002:merge",
        })
    }

    /// The value under `key` of a mapping, following `<<` merge keys as go-yaml does (a
    /// parsed document has no key that two readers would resolve differently). The flag says
    /// whether the key is written in this mapping itself (an edit may go there) or only comes
    /// from a merge.
    pub(crate) fn get(&self, key: &str) -> Option<(&Node, bool)> {
        let Kind::Map { entries, .. } = &self.kind else {
            return None;
        };
        if let Some((_, v)) = entries
            .iter()
            .find(|(k, _)| !k.is_merge_key() && k.as_str() == Some(key))
        {
            return Some((v, true));
        }
        let (_, merged) = entries.iter().find(|(k, _)| k.is_merge_key())?;
        merge_sources(merged)
            .into_iter()
            .find_map(|m| m.get(key))
            .map(|(found, _)| (found, false))
    }

    /// Every key of a mapping with its value, merges resolved (explicit keys first, then the
    /// merged ones not written here).
    pub(crate) fn resolved_entries(&self) -> Vec<(&Node, &Node)> {
        let mut out: Vec<(&Node, &Node)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut merged = None;
        for (k, v) in self.entries() {
            if k.is_merge_key() {
                merged = Some(v);
                continue;
            }
            seen.extend(key_text(k));
            out.push((k, v));
        }
        if let Some(merged) = merged {
            for source in merge_sources(merged) {
                for (k, v) in source.resolved_entries() {
                    if let Some(text) = key_text(k)
                        && seen.insert(text)
                    {
                        out.push((k, v));
                    }
                }
            }
        }
        out
    }

    /// Follows a dotted path of mapping keys.
    pub(crate) fn path(&self, path: &[&str]) -> Option<&Node> {
        path.iter()
            .try_fold(self, |node, key| node.get(key).map(|(n, _)| n))
    }

    pub(crate) fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq { items, .. } => items,
            _ => &[],
        }
    }

    pub(crate) fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub(crate) fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map { .. })
    }

    pub(crate) fn is_seq(&self) -> bool {
        matches!(self.kind, Kind::Seq { .. })
    }

    /// The byte just past this node's own text. Block collections end where their last child
    /// does (the parser reports the next token instead); quoted scalars are re-scanned because
    /// the parser's end may include trailing comments; an alias ends with its name.
    pub(crate) fn content_end(&self, text: &str) -> usize {
        // An alias's own text is its `*name`: what it copies (and the positions the copy
        // keeps) is written elsewhere.
        if self.aliased {
            return self.pos.end;
        }
        match &self.kind {
            Kind::Scalar {
                style: ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted,
                ..
            } => quoted_end(text, self.pos.start).unwrap_or(self.pos.end),
            // A block scalar runs to the line of the next token, which the parser reports.
            Kind::Scalar {
                style: ScalarStyle::Literal | ScalarStyle::Folded,
                ..
            } if self.pos.end < text.len() => {
                super::stream::line_start(text, self.pos.end).max(self.pos.start)
            }
            Kind::Scalar { .. } | Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. } => self.pos.end,
            Kind::Seq { items, .. } => items.last().map_or(self.pos.start, |n| n.content_end(text)),
            Kind::Map { entries, .. } => entries
                .last()
                .map_or(self.pos.start, |(_, v)| v.content_end(text)),
        }
    }
}

/// The mappings a merge value names, earliest first (earlier ones win).
fn merge_sources(merged: &Node) -> Vec<&Node> {
    match &merged.kind {
        Kind::Seq { items, .. } => items.iter().collect(),
        _ => vec![merged],
    }
}

/// A mapping key as the API server sees it once the YAML became JSON: strings as they are,
/// numbers, booleans and null in their JSON spelling.
pub(crate) fn key_text(key: &Node) -> Option<String> {
    match key.scalar()? {
        Scalar::Str(s) => Some(s),
        Scalar::Null => Some("null".to_owned()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) => Some(f),
        Scalar::Timestamp => key.text().map(str::to_owned),
    }
}

/// End of the quoted scalar starting at `start` (after an optional anchor or tag).
fn quoted_end(text: &str, start: usize) -> Option<usize> {
    let rest = text.get(start..)?;
    let open = rest.find(['"', '\''])?;
    let quote = rest.as_bytes().get(open).copied()?;
    let mut i = open + 1;
    let bytes = rest.as_bytes();
    while let Some(&b) = bytes.get(i) {
        if quote == b'"' && b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(start + i + 1);
        }
        i += 1;
    }
    None
}

/// Maps the parser's character indices to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    table: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let table = if ascii {
            Vec::new()
        } else {
            text.char_indices().map(|(b, _)| b).collect()
        };
        Offsets { text, ascii, table }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            char_index.min(self.text.len())
        } else {
            self.table.get(char_index).copied().unwrap_or(self.text.len())
        }
    }

    fn pos(&self, span: &Span) -> Pos {
        Pos {
            start: self.byte(span.start.index()),
            end: self.byte(span.end.index()),
            col: span.start.col(),
            line: span.start.line(),
        }
    }
}

enum Frame {
    Seq {
        pos: Pos,
        flow: bool,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        flow: bool,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Turns parser events into a [`Node`] tree.
struct Builder<'t> {
    offsets: Offsets<'t>,
    /// The nodes that may still be built, shared with the documents parsed with this one.
    nodes: &'t NodeBudget,
    /// Anchored nodes with the bytes an alias to them copies.
    anchors: HashMap<usize, (Node, usize)>,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    alias_bytes: usize,
    alias_budget: usize,
}

fn error_at(span: &Span, message: &str) -> SyntaxError {
    SyntaxError {
        line: span.start.line(),
        col: span.start.col() + 1,
        message: message.to_owned(),
        other: None,
    }
}

/// How many nodes `node` is.
fn count(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq { items, .. } => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map { entries, .. } => 1 + entries.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
    }
}

/// The bytes a copy of `node` holds: its scalars' text plus a little per node.
fn weight(node: &Node) -> usize {
    const PER_NODE: usize = 16;
    match &node.kind {
        Kind::Scalar { value, .. } => PER_NODE + value.len(),
        Kind::Seq { items, .. } => PER_NODE + items.iter().map(weight).sum::<usize>(),
        Kind::Map { entries, .. } => {
            PER_NODE + entries.iter().map(|(k, v)| weight(k) + weight(v)).sum::<usize>()
        }
    }
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let pos = self.offsets.pos(span);
        if matches!(event, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_DEPTH
        {
            return Err(error_at(span, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        ) {
            self.spend(1, span)?;
        }
        let node = match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error_at(span, "more than one document where one was expected"));
                }
                return Ok(());
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let node = scalar(value.into_owned(), style, tag, pos).map_err(|m| error_at(span, &m))?;
                self.anchored(anchor, node)
            }
            Event::Alias(id) => self.alias(id, pos, span)?,
            Event::SequenceStart(anchor, _) => {
                let flow = self.opens_with(pos, '[');
                self.stack.push(Frame::Seq {
                    pos,
                    flow,
                    anchor,
                    items: Vec::new(),
                });
                return Ok(());
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.opens_with(pos, '{');
                self.stack.push(Frame::Map {
                    pos,
                    flow,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                return Ok(());
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (anchor, start, flow, kind) = match self.stack.pop() {
                    Some(Frame::Seq {
                        pos,
                        flow,
                        anchor,
                        items,
                    }) => (anchor, pos, flow, Kind::Seq { flow, items }),
                    Some(Frame::Map {
                        pos,
                        flow,
                        anchor,
                        entries,
                        ..
                    }) => (anchor, pos, flow, Kind::Map { flow, entries }),
                    None => return Ok(()),
                };
                // A flow collection ends just past its closing bracket, where the end event
                // starts (its span may run on over a comment); a block one where the next
                // token starts (trimmed later by `content_end`).
                let end = if flow {
                    self.offsets.byte(span.start.index() + 1)
                } else {
                    start.end.max(pos.start)
                };
                self.anchored(
                    anchor,
                    Node {
                        pos: Pos { end, ..start },
                        kind,
                        aliased: false,
                    },
                )
            }
            _ => return Ok(()),
        };
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => self.root = Some(node),
        }
        Ok(())
    }

    /// Whether a collection's start event ends with its flow bracket (blanks after it aside).
    /// The event's span covers any anchor and tag before it (`&x {`); for a block collection
    /// it is empty or ends in the anchor, tag or `-` (`&x\n  `). Neither anchors nor tags can
    /// hold a bracket.
    fn opens_with(&self, pos: Pos, bracket: char) -> bool {
        self.offsets
            .text
            .get(pos.start..pos.end)
            .is_some_and(|t| t.trim_end().ends_with(bracket))
    }

    /// Counts `n` more nodes against the budget.
    fn spend(&mut self, n: usize, span: &Span) -> Result<(), SyntaxError> {
        if self.nodes.take(n) {
            return Ok(());
        }
        Err(error_at(
            span,
            &format!(
                "holds more than {MAX_NODES} YAML nodes (counting the documents read before it); each is kept in memory, so more are refused rather than exhaust it"
            ),
        ))
    }

    /// A copy of the anchored node, within the byte and node budgets.
    fn alias(&mut self, id: usize, pos: Pos, span: &Span) -> Result<Node, SyntaxError> {
        let copies = self.anchors.get(&id).map_or(0, |(target, _)| count(target));
        self.spend(copies, span)?;
        let (target, bytes) = self
            .anchors
            .get(&id)
            .ok_or_else(|| error_at(span, "alias to an unknown anchor"))?;
        self.alias_bytes = self.alias_bytes.saturating_add(*bytes);
        if self.alias_bytes > self.alias_budget {
            return Err(error_at(
                span,
                "aliases expand to too much text (more than 1 MiB beyond the document's own size)",
            ));
        }
        Ok(Node {
            pos,
            aliased: true,
            ..target.clone()
        })
    }

    fn anchored(&mut self, anchor: usize, node: Node) -> Node {
        if anchor > 0 {
            let bytes = weight(&node);
            self.anchors.insert(anchor, (node.clone(), bytes));
        }
        node
    }
}

/// A scalar node, typed as Kubernetes reads it.
fn scalar(value: String, style: ScalarStyle, tag: Option<String>, pos: Pos) -> Result<Node, String> {
    let plain = style == ScalarStyle::Plain;
    let typed = match yaml11::resolve(&value, plain, tag.as_deref()) {
        Ok(Scalar::Str(s)) if s == value => Typed::Text,
        Ok(Scalar::Str(s)) => Typed::Decoded(s),
        Ok(other) => Typed::Other(other),
        Err(e) => return Err(e.0),
    };
    Ok(Node {
        pos,
        kind: Kind::Scalar {
            value,
            style,
            tag,
            typed,
        },
        aliased: false,
    })
}

/// Whether `text` (one document) ends inside a block scalar that a line break written after it
/// would change: the last scalar is a literal or folded one that runs to the end of the text,
/// its chomping is not strip (`|-`), and the unterminated last line is content (or the
/// chomping is keep, `|+`). libyaml, and so Kubernetes, reads `a: |` then `  last` at the end
/// of a file as `last`; with the line break that must come before a following `---`, as
/// `last` and a newline. (This parser reads both as the latter, which is why the question is
/// answered from the text and the scalar's position, not from its value.)
pub(crate) fn ends_in_open_block_scalar(text: &str) -> bool {
    if text.is_empty() || text.ends_with(super::stream::BREAKS) {
        return false;
    }
    let mut last = None;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            return false;
        };
        if let Event::Scalar(_, style, ..) = event {
            last = Some((style, span));
        }
    }
    let Some((ScalarStyle::Literal | ScalarStyle::Folded, span)) = last else {
        return false;
    };
    if span.end.index() != text.chars().count() {
        return false;
    }
    // The header is on the last non-blank line before the content: `|` or `>`, its
    // indicators, then at most a comment.
    let content = text
        .char_indices()
        .nth(span.start.index())
        .map_or(text.len(), |(i, _)| i);
    let head = text.get(..content).unwrap_or("").trim_end();
    let header_line = head.rsplit(super::stream::BREAKS).next().unwrap_or(head);
    let indicators = header_line
        .rsplit_once(['|', '>'])
        .map_or("", |(_, after)| after.split('#').next().unwrap_or("").trim());
    if indicators.contains('-') {
        return false;
    }
    let final_line = text.rsplit(super::stream::BREAKS).next().unwrap_or(text);
    indicators.contains('+') || !final_line.trim().is_empty()
}

/// The characters libyaml takes as line breaks that YAML 1.2 parsers do not.
const NEL: char = '\u{85}';
const LS: char = '\u{2028}';
const PS: char = '\u{2029}';

/// A `%YAML` directive Kubernetes' reader refuses: go-yaml v2 takes only `%YAML 1.1`
/// (`parserc.go`: any other version is "found incompatible YAML document"), where the parser
/// here, a YAML 1.2 one, would read `%YAML 1.2` and even `%YAML 2.0` without a word. Directives
/// stand before the document's content, each on a line of its own.
fn version_directive(text: &str) -> Option<SyntaxError> {
    let mut at = 0;
    let mut line = 1;
    while at < text.len() {
        let end = super::stream::line_end(text, at);
        let current = text.get(at..end).unwrap_or("").trim_end();
        if let Some(rest) = current.strip_prefix("%YAML") {
            let version = rest.split('#').next().unwrap_or("").trim();
            if version != "1.1" {
                return Some(SyntaxError {
                    line,
                    col: 1,
                    message: format!(
                        "%YAML {}: Kubernetes' YAML reader takes only %YAML 1.1 documents and refuses this one; remove the directive",
                        crate::error::shown(version)
                    ),
                    other: None,
                });
            }
        } else if !(current.is_empty() || current.starts_with('#') || current.starts_with('%')) {
            return None;
        }
        at = end;
        line += 1;
    }
    None
}

/// Parses one document. Returns `Ok(None)` for a document without content, and every
/// problem that makes the document mean something else to another reader.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, Vec<SyntaxError>> {
    parse_within(text, &NodeBudget::new(MAX_NODES))
}

/// [`parse`], taking the nodes it builds from `nodes`, so that documents kept in memory
/// together, parsed on one thread or several, share one budget.
pub(crate) fn parse_within(text: &str, nodes: &NodeBudget) -> Result<Option<Node>, Vec<SyntaxError>> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(vec![SyntaxError {
            line: 1,
            col: 1,
            message: format!("the document is larger than {} MiB", MAX_DOCUMENT_BYTES >> 20),
            other: None,
        }]);
    }
    if let Some((at, c)) = text.char_indices().find(|(_, c)| matches!(*c, LS | PS)) {
        let line = 1 + super::stream::count_lines(text.get(..at).unwrap_or(""));
        return Err(vec![SyntaxError {
            line,
            col: 1,
            message: format!(
                "holds U+{:04X} ({}), which Kubernetes' YAML 1.1 reader takes as a line break and YAML 1.2 readers do not; write a newline, or an escape inside double quotes",
                u32::from(c),
                if c == LS {
                    "LINE SEPARATOR"
                } else {
                    "PARAGRAPH SEPARATOR"
                }
            ),
            other: None,
        }]);
    }
    if let Some(e) = version_directive(text) {
        return Err(vec![e]);
    }
    // The parser gets a copy where libyaml's reading differs from its own, one character for
    // one so that its character positions stay valid for `text`:
    // - NEL is a line break for libyaml and becomes LF in values: LF takes its place;
    // - a tab right after `:` separates a value for libyaml (and the YAML spec); this parser
    //   refuses it before a letter or `-`, so it reads a space there. No value pullseal reads
    //   (names, images, registries) can hold a tab.
    let normalised;
    let parsed: &str = if text.contains(NEL) || text.contains(":\t") {
        let mut copy = String::with_capacity(text.len());
        let mut after_colon = false;
        for c in text.chars() {
            copy.push(match c {
                NEL => '\n',
                '\t' if after_colon => ' ',
                c => c,
            });
            after_colon = c == ':';
        }
        normalised = copy;
        &normalised
    } else {
        text
    };
    let mut builder = Builder {
        offsets: Offsets::new(text),
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        documents: 0,
        alias_bytes: 0,
        alias_budget: ALIAS_BYTES_BUDGET.saturating_add(text.len()),
        nodes,
    };
    for event in Parser::new_from_str(parsed) {
        let (event, span) = event.map_err(|e| {
            vec![SyntaxError {
                line: e.marker().line(),
                col: e.marker().col() + 1,
                message: e.info().to_owned(),
                other: None,
            }]
        })?;
        builder.event(event, &span).map_err(|e| vec![e])?;
    }
    let Some(root) = builder.root.filter(|r| !r.is_null()) else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    check(&root, &mut problems);
    problems.extend(super::tabs::refused_tab(text, &root));
    if problems.is_empty() {
        Ok(Some(root))
    } else {
        Err(problems)
    }
}

fn problem(node: &Node, message: String, other: Option<(&'static str, &Node)>) -> SyntaxError {
    SyntaxError {
        line: node.pos.line,
        col: node.pos.col + 1,
        message,
        other: other.map(|(what, n)| (what, n.pos.line)),
    }
}

/// Refuses what go-yaml and other readers would read differently, in every mapping written in
/// the document (aliased copies were checked where they were written).
fn check(node: &Node, problems: &mut Vec<SyntaxError>) {
    if node.aliased {
        return;
    }
    match &node.kind {
        Kind::Scalar { .. } => {}
        Kind::Seq { items, .. } => items.iter().for_each(|i| check(i, problems)),
        Kind::Map { entries, .. } => {
            check_map(entries, problems);
            for (k, v) in entries {
                check(k, problems);
                check(v, problems);
            }
        }
    }
}

fn check_map(entries: &[(Node, Node)], problems: &mut Vec<SyntaxError>) {
    let mut written: BTreeMap<String, &Node> = BTreeMap::new();
    let mut before_merge: HashMap<String, &Node> = HashMap::new();
    let mut merge: Option<&Node> = None;
    for (k, v) in entries {
        if k.is_merge_key() {
            if let Some(first) = merge {
                problems.push(problem(
                    k,
                    "a second merge key `<<`".to_owned(),
                    Some(("the first", first)),
                ));
                continue;
            }
            merge = Some(k);
            let sources = merge_sources(v);
            if sources.iter().any(|m| !m.is_map()) {
                problems.push(problem(
                    v,
                    "a merge key `<<` must merge a mapping or a list of mappings".to_owned(),
                    None,
                ));
                continue;
            }
            for (key, _) in sources.iter().flat_map(|m| m.resolved_entries()) {
                let Some(text) = key_text(key) else { continue };
                if let Some(at) = before_merge.get(&text) {
                    problems.push(problem(
                        at,
                        format!(
                            "key {text:?} is written before a merge key `<<` that merges it too: readers disagree which one wins; write the key after `<<`"
                        ),
                        Some(("the merge key", k)),
                    ));
                }
            }
            continue;
        }
        let Some(text) = key_text(k) else {
            problems.push(problem(
                k,
                "a mapping or list cannot be a key here".to_owned(),
                None,
            ));
            continue;
        };
        if let Some(first) = written.get(&text) {
            problems.push(problem(
                k,
                format!("duplicate key {text:?}"),
                Some(("first", first)),
            ));
            continue;
        }
        if merge.is_none() {
            before_merge.insert(text.clone(), k);
        }
        written.insert(text, k);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_block_scalar_open_at_the_end_of_the_text_is_found() {
        for open in [
            "a: |\n  last",
            "a: |+\n  last",
            "a: >\n  folded\n  last",
            "a:\n  b: |2\n    last",
            "a: | # comment\n  last",
            "--- |\n  root",
            "a: |+\n  last\n  ",
        ] {
            assert!(ends_in_open_block_scalar(open), "{open:?}");
        }
        for closed in [
            "a: |\n  last\n",
            "a: |-\n  last",
            "a: >2-\n    last",
            "a: |\n  last\n# a comment",
            "a: |\n  last\n  ",
            "a: last",
            "a: \"quoted\"",
            "a: [x, \"|\"]",
            "a: |\n  x\nb: y",
            "",
        ] {
            assert!(!ends_in_open_block_scalar(closed), "{closed:?}");
        }
    }

    use super::*;

    fn errors(text: &str) -> String {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.col, e.describe(1)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn positions_are_bytes() {
        let text = "a: \"é\"  # c\nb:\n  - x\n  - y\nc: {k: v}\n";
        let root = parse(text).unwrap().unwrap();
        let a = root.get("a").unwrap().0;
        assert_eq!(&text[a.pos.start..a.content_end(text)], "\"é\"");
        let b = root.get("b").unwrap().0;
        assert_eq!(&text[b.items()[0].pos.start..b.content_end(text)], "x\n  - y");
        let c = root.get("c").unwrap().0;
        assert_eq!(&text[c.pos.start..c.content_end(text)], "{k: v}");
    }

    #[test]
    fn anchored_and_tagged_block_collections_are_block() {
        let text = "a: &x\n  b: 1\nc: !!seq\n  - 1\nd: &y {e: 1}\nf: !!seq [1]\n";
        let root = parse(text).unwrap().unwrap();
        let flow = |k: &str| match &root.get(k).unwrap().0.kind {
            Kind::Map { flow, .. } | Kind::Seq { flow, .. } => *flow,
            Kind::Scalar { .. } => panic!("{k} is a scalar"),
        };
        assert!(!flow("a") && !flow("c"));
        assert!(flow("d") && flow("f"));
    }

    #[test]
    fn flow_collections_end_at_their_bracket() {
        let text = "s: {l: [] # none yet\n}\n";
        let root = parse(text).unwrap().unwrap();
        let l = root.path(&["s", "l"]).unwrap();
        assert_eq!(&text[l.pos.start..l.content_end(text)], "[]");
        let s = root.get("s").unwrap().0;
        assert_eq!(&text[s.pos.start..s.content_end(text)], "{l: [] # none yet\n}");
    }

    #[test]
    fn merge_keys_and_aliases() {
        let text = "base: &b {x: 1}\nm:\n  <<: *b\n  w: 2\n";
        let root = parse(text).unwrap().unwrap();
        let (x, explicit) = root.path(&["m"]).unwrap().get("x").unwrap();
        assert_eq!(x.scalar(), Some(Scalar::Int(1)));
        assert!(!explicit);
        assert!(
            root.path(&["m"]).unwrap().get("<<").is_none(),
            "`<<` is no key of its own"
        );
        let keys: Vec<String> = root
            .path(&["m"])
            .unwrap()
            .resolved_entries()
            .iter()
            .filter_map(|(k, _)| key_text(k))
            .collect();
        assert_eq!(keys, vec!["w", "x"]);
        // Earlier sources of a merge list win; a key written after `<<` wins over it.
        let text = "a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b], z: 4}\n";
        let m = parse(text).unwrap().unwrap();
        let m = m.get("m").unwrap().0;
        assert_eq!(m.get("x").unwrap().0.scalar(), Some(Scalar::Int(1)));
        assert_eq!(m.get("z").unwrap().0.scalar(), Some(Scalar::Int(4)));
        // A quoted "<<" is an ordinary key.
        let root = parse("\"<<\": {x: 1}\n").unwrap().unwrap();
        assert!(root.get("x").is_none());
        assert!(root.get("<<").is_some());
    }

    #[test]
    fn scalars_are_typed_as_kubernetes_reads_them() {
        let root = parse("a: yes\nb: \"yes\"\nc: 0644\nd: !!str 0644\ne: ~\nf: !!binary cHVsbHNlYWw=\ng: \"pull\\x73eal\"\n").unwrap().unwrap();
        let get = |k: &str| root.get(k).unwrap().0;
        assert_eq!(get("a").as_str(), None);
        assert_eq!(get("a").scalar(), Some(Scalar::Bool(true)));
        assert_eq!(get("b").as_str(), Some("yes"));
        assert_eq!(get("c").scalar(), Some(Scalar::Int(420)));
        assert_eq!(get("d").as_str(), Some("0644"));
        assert!(get("e").is_null());
        assert_eq!(get("f").as_str(), Some("pullseal"));
        assert_eq!(get("g").as_str(), Some("pullseal"));
    }

    #[test]
    fn the_node_budget_is_shared_and_counts_alias_copies() {
        let nodes = NodeBudget::new(10);
        // a, 1, b, 2 and the mapping: 5 nodes.
        assert!(parse_within("{a: 1, b: 2}", &nodes).unwrap().is_some());
        assert_eq!(nodes.left(), 5);
        // The anchored list is 3 nodes, its alias copy 3 more: 1 + 3 + 1 + 3 + the map.
        let errors = parse_within("{x: &l [1, 2], y: *l}", &nodes).unwrap_err();
        assert!(errors[0].message.contains("YAML nodes"), "{}", errors[0].message);
        assert_eq!(nodes.left(), 0);
        // Empty for every later document too.
        assert!(parse_within("a", &nodes).is_err());
        let flood = format!("[{}a]", "a,".repeat(MAX_NODES));
        let errors = parse(&flood).unwrap_err();
        assert!(
            errors[0]
                .message
                .starts_with("holds more than 1048576 YAML nodes"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn tag_directives_resolve() {
        let text = "%TAG !k! tag:yaml.org,2002:\n---\na: !k!str 12\n";
        let root = parse(text).unwrap().unwrap();
        assert_eq!(root.get("a").unwrap().0.as_str(), Some("12"));
    }

    #[test]
    fn a_tab_after_a_colon_separates_as_it_does_for_kubernetes() {
        let root = parse("kind:\tSecret\nm: {a:\t-1}\n").unwrap().unwrap();
        assert_eq!(root.get("kind").unwrap().0.as_str(), Some("Secret"));
        assert_eq!(root.path(&["m", "a"]).unwrap().scalar(), Some(Scalar::Int(-1)));
    }

    #[test]
    fn nel_ends_a_comment_as_it_does_for_kubernetes() {
        let root = parse("# note\u{85}a: 1\n").unwrap().unwrap();
        assert_eq!(root.get("a").unwrap().0.scalar(), Some(Scalar::Int(1)));
        insta::assert_snapshot!(errors("# note\u{2028}a: 1\n"), @"1:1: holds U+2028 (LINE SEPARATOR), which Kubernetes' YAML 1.1 reader takes as a line break and YAML 1.2 readers do not; write a newline, or an escape inside double quotes");
    }

    #[test]
    fn readers_that_could_disagree_are_refused() {
        insta::assert_snapshot!(errors("a: 1\nb: 2\na: 3\n"), @r#"3:1: duplicate key "a" (first on line 1)"#);
        insta::assert_snapshot!(errors("m:\n  x: 1\n  <<: {x: 2}\n"), @r#"2:3: key "x" is written before a merge key `<<` that merges it too: readers disagree which one wins; write the key after `<<` (the merge key on line 3)"#);
        insta::assert_snapshot!(errors("m: {<<: [1]}\n"), @"1:9: a merge key `<<` must merge a mapping or a list of mappings");
        insta::assert_snapshot!(errors("m: {<<: {a: 1}, <<: {b: 1}}\n"), @"1:17: a second merge key `<<` (the first on line 1)");
        insta::assert_snapshot!(errors("? [a]\n: 1\n"), @"1:3: a mapping or list cannot be a key here");
        // Keys compare as the API server's JSON does: `1` and `"1"` are the same key.
        insta::assert_snapshot!(errors("1: a\n\"1\": b\n"), @r#"2:1: duplicate key "1" (first on line 1)"#);
        insta::assert_snapshot!(errors("a: !!int x\n"), @r#"1:4: "x" is a string and cannot be read as !!int"#);
        // Every problem of the document, not only the first.
        assert_eq!(errors("a: 1\na: 2\nb: 1\nb: 2\n").lines().count(), 2);
    }

    #[test]
    fn empty_documents_have_no_root() {
        assert!(parse("---\n# only a comment\n").unwrap().is_none());
        assert!(parse("").unwrap().is_none());
        assert!(parse("%YAML 1.1\n---\n").unwrap().is_none());
        assert!(
            parse("%YAML 1.1 # the reader's own\n---\na: 1\n")
                .unwrap()
                .is_some()
        );
        for version in ["1.2", "2.0", ""] {
            let text = format!("# head\n%YAML {version}\n---\na: 1\n");
            let errors = parse(&text).unwrap_err();
            assert_eq!((errors[0].line, errors[0].col), (2, 1), "{version}");
            assert!(
                errors[0].message.contains("takes only %YAML 1.1"),
                "{}",
                errors[0].message
            );
        }
        // A `%YAML` that is not a directive (inside a block scalar) is not looked at.
        assert!(parse("a: |\n  %YAML 9.9\n").unwrap().is_some());
    }

    #[test]
    fn alias_bombs_are_refused_by_bytes() {
        // Few aliases, each to one large scalar: a node count would let this through.
        let big = "x".repeat(300_000);
        let mut text = format!("a: &a {big}\nl:\n");
        for _ in 0..8 {
            text.push_str("  - *a\n");
        }
        insta::assert_snapshot!(errors(&text), @"7:5: aliases expand to too much text (more than 1 MiB beyond the document's own size)");
        // Ordinary reuse is fine.
        assert!(parse("d: &d {a: 1}\nx: *d\ny: *d\n").is_ok());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(
            errors(&text).contains("nested deeper than 128 levels"),
            "{}",
            errors(&text)
        );
    }

    #[test]
    fn syntax_errors_carry_lines() {
        let err = parse("a: 1\nb: [\n").unwrap_err();
        assert!(err[0].line >= 2, "{err:?}");
    }
}
