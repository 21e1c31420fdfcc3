//! Tabs at the start of a line that Kubernetes' YAML reader refuses and the parser behind `tree`
//! takes as blanks.
//!
//! YAML 1.2 lets a blank or comment line start with tabs, and the parser follows it. libyaml's
//! scanner, which go-yaml v2 and v3 port and `sigs.k8s.io/yaml` (so kubectl, the API server and
//! sops) reads with, skips only spaces at the start of a line in block context: a tab there is
//! "found character that cannot start any token", and the whole document is refused. Only a
//! scalar being scanned can take such a tab in:
//! - a flow collection or a quoted scalar, anywhere;
//! - the lines after a plain scalar (its continuation lines and the blank lines that follow,
//!   up to a comment), at a column past the indentation of the block collection around it;
//! - a block scalar's lines, at or past its content indentation once that is known.
//!
//! [`refused_tab`] finds the first line go-yaml refuses in a document the parser accepted.
//! This module must not judge anything else about a document: `tree` does.

use saphyr_parser::ScalarStyle;

use super::stream::{line_end, line_start};
use super::tree::{Kind, Node, SyntaxError};

/// A stretch of the document where go-yaml's rule for a leading tab is not the default one.
#[derive(Debug)]
struct Region {
    start: usize,
    end: usize,
    rule: Rule,
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A flow collection or a quoted scalar: a line starting inside takes any tab.
    Free,
    /// A plain scalar: the lines after it refuse a tab before this column.
    Plain { indent: usize },
    /// A block scalar, from the last character of its header line: the lines after it refuse a
    /// tab while its indentation is unknown, then a tab before the indentation. `explicit` is
    /// the indentation its header sets (`|2`), if it sets one.
    Block { header: usize, explicit: Option<usize> },
}

/// The first line of `text` (one document, `root` its tree) with a tab go-yaml refuses.
pub(crate) fn refused_tab(text: &str, root: &Node) -> Option<SyntaxError> {
    // Tabs are rare at the start of a line: the tree is only walked for a document that has one.
    if !starts_a_line_with_a_tab(text.as_bytes()) {
        return None;
    }
    let mut regions = Vec::new();
    collect(text, root, -1, &mut regions);
    regions.sort_by_key(|r| r.start);
    let mut last: Option<usize> = None;
    let mut at = 0;
    let mut line = 1;
    while at < text.len() {
        let end = line_end(text, at);
        let body = text.get(at..end).unwrap_or("");
        let spaces = body.bytes().take_while(|b| *b == b' ').count();
        if body.as_bytes().get(spaces) == Some(&b'\t')
            && !within_free(&regions, at)
            && refuses(text, &regions, last, spaces)
        {
            return Some(SyntaxError {
                line,
                col: spaces + 1,
                message: "a tab at the start of the line, where Kubernetes' YAML reader (go-yaml) takes only spaces and refuses the document, also on a blank or comment line; indent with spaces or delete the tab".to_owned(),
                other: None,
            });
        }
        if let Some(i) = body.rfind(|c: char| !is_white(c)) {
            last = Some(at + i);
        }
        at = end;
        line += 1;
    }
    None
}

/// Whether some line of `bytes` starts with spaces (or none) then a tab. NEL's second byte
/// counts as a break, and so may another character's: a false yes only costs the full check.
fn starts_a_line_with_a_tab(bytes: &[u8]) -> bool {
    let mut leading = true;
    for &b in bytes {
        match b {
            b'\n' | b'\r' | 0x85 => leading = true,
            b'\t' if leading => return true,
            b' ' => {}
            _ => leading = false,
        }
    }
    false
}

/// Spaces, tabs and line breaks: what go-yaml skips between tokens (besides comments).
fn is_white(c: char) -> bool {
    matches!(c, ' ' | '\t') || super::stream::BREAKS.contains(&c)
}

/// The region holding byte `at`, if any (regions do not overlap).
fn region_at(regions: &[Region], at: usize) -> Option<&Region> {
    let i = regions.partition_point(|r| r.start <= at);
    regions.get(i.checked_sub(1)?).filter(|r| at < r.end)
}

fn within_free(regions: &[Region], at: usize) -> bool {
    region_at(regions, at).is_some_and(|r| matches!(r.rule, Rule::Free))
}

/// Whether go-yaml refuses a tab after `spaces` spaces at the start of a line whose last
/// character before is `last`.
fn refuses(text: &str, regions: &[Region], last: Option<usize>, spaces: usize) -> bool {
    let Some(region) = last.and_then(|l| region_at(regions, l)) else {
        return true;
    };
    match region.rule {
        Rule::Free => true,
        Rule::Plain { indent } => spaces < indent,
        Rule::Block { header, explicit } => {
            // Without an indicator, the indentation is that of the first content line, known
            // once that line came.
            let indent = explicit.or_else(|| {
                let after = line_end(text, header);
                let first = after + text.get(after..)?.find(|c: char| !is_white(c))?;
                (last? >= first).then(|| first - line_start(text, first))
            });
            indent.is_none_or(|indent| spaces < indent)
        }
    }
}

/// Records the regions of `node` and its children; `parent` is the column of the block
/// collection around it (go-yaml's current indentation, -1 at the top).
fn collect(text: &str, node: &Node, parent: isize, out: &mut Vec<Region>) {
    if node.aliased {
        // An alias is no scalar go-yaml scans: the default rule holds after it.
        return;
    }
    match &node.kind {
        Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. } => out.push(Region {
            start: node.pos.start,
            end: node.content_end(text),
            rule: Rule::Free,
        }),
        Kind::Scalar { style, .. } => match style {
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => out.push(Region {
                start: node.pos.start,
                end: node.content_end(text),
                rule: Rule::Free,
            }),
            ScalarStyle::Plain => out.push(Region {
                start: node.pos.start,
                end: node.pos.end,
                rule: Rule::Plain {
                    indent: usize::try_from(parent + 1).unwrap_or(0),
                },
            }),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                if let Some(header) = block_header(text, node) {
                    out.push(Region {
                        start: header,
                        end: node.content_end(text).max(header + 1),
                        rule: Rule::Block {
                            header,
                            explicit: explicit_indent(text, header, parent),
                        },
                    });
                }
            }
        },
        Kind::Map { entries, .. } => {
            let column = entries.first().map_or(node.pos.col, |(k, _)| k.pos.col);
            let column = isize::try_from(column).unwrap_or(isize::MAX);
            for (k, v) in entries {
                collect(text, k, column, out);
                collect(text, v, column, out);
            }
        }
        Kind::Seq { items, .. } => {
            let column = items
                .first()
                .and_then(|item| dash_column(text, item))
                .unwrap_or(node.pos.col);
            let column = isize::try_from(column).unwrap_or(isize::MAX);
            for item in items {
                collect(text, item, column, out);
            }
        }
    }
}

/// The last character of a block scalar's header line (its indicator or a comment after it).
/// The parser's position is on the header line when a tag or an anchor comes first, else at
/// the indentation of the first content line (or where the next token is, when there is none).
fn block_header(text: &str, node: &Node) -> Option<usize> {
    let start = node.pos.start;
    let indentation = text.get(line_start(text, start)..start)?;
    let on_header = !indentation.bytes().all(|b| b == b' ');
    if on_header {
        let line = text.get(start..line_end(text, start))?;
        return line.rfind(|c: char| !is_white(c)).map(|i| start + i);
    }
    text.get(..start)?.rfind(|c: char| !is_white(c))
}

/// The indentation a block scalar's header sets with an indicator digit (`|2`, `>-4`): that
/// many columns past the block collection around it.
fn explicit_indent(text: &str, header: usize, parent: isize) -> Option<usize> {
    let line = text.get(line_start(text, header)..=header)?;
    let bytes = line.as_bytes();
    let digit = bytes.iter().enumerate().find_map(|(i, b)| {
        let before = i.checked_sub(1).and_then(|j| bytes.get(j));
        if !matches!(b, b'|' | b'>') || !before.is_none_or(|c| matches!(c, b' ' | b'\t')) {
            return None;
        }
        let rest = bytes.get(i + 1..).unwrap_or(&[]);
        let flags = rest
            .iter()
            .take_while(|c| matches!(c, b'-' | b'+' | b'1'..=b'9'))
            .count();
        let ends = rest.get(flags).is_none_or(|c| matches!(c, b' ' | b'\t'));
        (ends && flags <= 2).then(|| {
            rest.get(..flags)
                .unwrap_or(&[])
                .iter()
                .find(|c| c.is_ascii_digit())
                .copied()
        })
    })??;
    let increment = usize::from(digit - b'0');
    Some(usize::try_from(parent).map_or(increment, |p| p + increment))
}

/// The column of the `-` before a block sequence's first item.
fn dash_column(text: &str, item: &Node) -> Option<usize> {
    let dash = text.get(..item.pos.start)?.rfind(|c: char| !is_white(c))?;
    (text.as_bytes().get(dash) == Some(&b'-')).then(|| {
        text.get(line_start(text, dash)..dash)
            .map_or(0, |t| t.chars().count())
    })
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse;

    /// A few cases as go-yaml reads them; `tests/it/fidelity.rs` runs many more through
    /// pullseal and kubectl's kustomize, whose reader is go-yaml.
    #[test]
    fn a_tab_is_refused_where_go_yaml_refuses_it() {
        for text in [
            "a: 1\n\t\nb: 2\n",
            "a: '1'\n \t\nb: 2\n",
            "a: |\n  x\n\t\n",
            "l:\n  - x\n  \t\n  - y\n",
        ] {
            assert!(parse(text).is_err(), "{text:?} is accepted, go-yaml refuses it");
        }
        for text in [
            "a: 1\n \t\nb: 2\n",
            "a: [1,\n\t2]\n",
            "m: |\n  all:\n  \techo hi\n",
            "a: |1\n  x\n \ty\n",
        ] {
            assert!(parse(text).is_ok(), "{text:?} is refused, go-yaml accepts it");
        }
    }

    #[test]
    fn the_refusal_names_the_line_and_column() {
        let errors = parse("a: 1\nb: \"2\"\n  \t\nc: 3\n").unwrap_err();
        let [e] = errors.as_slice() else {
            panic!("{errors:?}")
        };
        assert_eq!((e.line, e.col), (3, 3));
        insta::assert_snapshot!(e.message, @"a tab at the start of the line, where Kubernetes' YAML reader (go-yaml) takes only spaces and refuses the document, also on a blank or comment line; indent with spaces or delete the tab");
    }
}
