//! A read-only YAML syntax tree of one document, with byte positions, built from the parser's
//! events. It exists so that `render` can find fields and then edit the *source text* at
//! exact positions: the tree is never serialised back.
//!
//! Scalar values are kept as text with their style; Kubernetes' YAML 1.1 typing is applied only
//! where a decision needs it (see [`Node::as_str`]). This module must not edit anything.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Where a node sits in the document text, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Column of `start` in characters.
    pub(crate) col: usize,
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
        value: String,
        style: ScalarStyle,
        tagged: bool,
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

/// A parse failure, with the 1-based line of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
}

impl Node {
    /// The string value of a scalar, if this is a scalar that Kubernetes would read as a string
    /// or that is a plain word (names, images and annotation values).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether this is the YAML null (`~`, `null`, or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain, tagged: false }
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value under `key` of a mapping. `<<` merge keys are followed, explicit keys first,
    /// as Kubernetes' YAML 1.1 reader does. The flag says whether the key is written in this
    /// mapping itself (an edit may go there) or only comes from a merge.
    pub(crate) fn get(&self, key: &str) -> Option<(&Node, bool)> {
        let Kind::Map { entries, .. } = &self.kind else {
            return None;
        };
        if let Some((_, v)) = entries.iter().rev().find(|(k, _)| k.as_str() == Some(key)) {
            return Some((v, true));
        }
        for (k, v) in entries {
            if k.as_str() != Some("<<") {
                continue;
            }
            let merged: Vec<&Node> = match &v.kind {
                Kind::Seq { items, .. } => items.iter().collect(),
                _ => vec![v],
            };
            for m in merged {
                if let Some((found, _)) = m.get(key) {
                    return Some((found, false));
                }
            }
        }
        None
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
    /// the parser's end may include trailing comments.
    pub(crate) fn content_end(&self, text: &str) -> usize {
        match &self.kind {
            Kind::Scalar {
                style: ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted,
                ..
            } => quoted_end(text, self.pos.start).unwrap_or(self.pos.end),
            // A block scalar runs to the line of the next token, which the parser reports.
            Kind::Scalar {
                style: ScalarStyle::Literal | ScalarStyle::Folded,
                ..
            } if self.pos.end < text.len() => text
                .get(..self.pos.end)
                .and_then(|t| t.rfind('\n'))
                .map_or(self.pos.end, |i| i + 1),
            Kind::Scalar { .. } | Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. } => self.pos.end,
            Kind::Seq { items, .. } => items.last().map_or(self.pos.start, |n| n.content_end(text)),
            Kind::Map { entries, .. } => entries
                .last()
                .map_or(self.pos.start, |(_, v)| v.content_end(text)),
        }
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

/// Aliases copy their anchor's subtree; past this many copied nodes a document is refused,
/// so a "billion laughs" document cannot exhaust memory.
const ALIAS_NODE_BUDGET: usize = 100_000;

/// Turns parser events into a [`Node`] tree.
struct Builder<'t> {
    offsets: Offsets<'t>,
    anchors: HashMap<usize, Node>,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    alias_nodes: usize,
}

fn error_at(span: &Span, message: &str) -> SyntaxError {
    SyntaxError {
        line: span.start.line(),
        col: span.start.col() + 1,
        message: message.to_owned(),
    }
}

fn size(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar { .. } => 1,
        Kind::Seq { items, .. } => 1 + items.iter().map(size).sum::<usize>(),
        Kind::Map { entries, .. } => 1 + entries.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let pos = self.offsets.pos(span);
        let node = match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error_at(span, "more than one document where one was expected"));
                }
                return Ok(());
            }
            Event::Scalar(value, style, anchor, tag) => {
                let kind = Kind::Scalar {
                    value: value.into_owned(),
                    style,
                    tagged: tag.is_some(),
                };
                self.anchored(
                    anchor,
                    Node {
                        pos,
                        kind,
                        aliased: false,
                    },
                )
            }
            Event::Alias(id) => {
                let target = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| error_at(span, "alias to an unknown anchor"))?;
                self.alias_nodes += size(target);
                if self.alias_nodes > ALIAS_NODE_BUDGET {
                    return Err(error_at(span, "aliases expand to too many nodes"));
                }
                Node {
                    pos,
                    aliased: true,
                    ..target.clone()
                }
            }
            Event::SequenceStart(anchor, _) => {
                let flow = pos.end > pos.start;
                self.stack.push(Frame::Seq {
                    pos,
                    flow,
                    anchor,
                    items: Vec::new(),
                });
                return Ok(());
            }
            Event::MappingStart(anchor, _) => {
                let flow = pos.end > pos.start;
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
                // Flow collections end at their closing bracket; block ones where the next
                // token starts (trimmed later by `content_end`).
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
                let end = if flow { pos.end } else { start.end.max(pos.start) };
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

    fn anchored(&mut self, anchor: usize, node: Node) -> Node {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        node
    }
}

/// Parses one document. Returns `Ok(None)` for a document without content.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder {
        offsets: Offsets::new(text),
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
        documents: 0,
        alias_nodes: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        builder.event(event, &span)?;
    }
    Ok(builder.root.filter(|r| !r.is_null()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn merge_keys_and_aliases() {
        let text = "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n";
        let root = parse(text).unwrap().unwrap();
        let (x, explicit) = root.path(&["m"]).unwrap().get("x").unwrap();
        assert_eq!(x.as_str(), Some("1"));
        assert!(!explicit);
        assert!(root.path(&["m"]).unwrap().get("<<").unwrap().0.aliased);
    }

    #[test]
    fn empty_documents_have_no_root() {
        assert!(parse("---\n# only a comment\n").unwrap().is_none());
        assert!(parse("").unwrap().is_none());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ["a", "b", "c", "d", "e", "f"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g"])
        {
            let items = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&[next, ": &", next, " [", &items, "]\n"].concat());
        }
        let err = parse(&text).unwrap_err();
        assert_eq!(err.message, "aliases expand to too many nodes");
    }

    #[test]
    fn syntax_errors_carry_lines() {
        let err = parse("a: 1\nb: [\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
    }
}
