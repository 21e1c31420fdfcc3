//! An ordered tree of already-decided scalars → YAML text laid out as sops 3.11 writes it.
//!
//! sops writes with go-yaml v3 at indent 4: nested mappings four spaces deeper, sequences
//! indented under their key (`    - name: x`, continuation lines two spaces after the dash),
//! empty collections as `{}` and `[]`, documents separated by `---`, a key longer than 128
//! bytes as an explicit `? key` entry. This module reproduces
//! that layout for the encrypt path, so a file pullseal writes looks like one sops wrote and
//! `git diff` between the two tools stays small.
//!
//! It must not encrypt, hash or type anything: the caller decides what each scalar is
//! ([`Node::Raw`] text written as it is, [`Node::Str`] a string this module quotes as needed).
//! A string is written plain only when go-yaml reads it back as that same string; otherwise it
//! is single- or double-quoted, never dropped or changed. It must not fail: every string has a
//! double-quoted form.

use std::fmt::Write as _;

use super::yaml::plain_reads_as_string;

/// A node to write.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Scalar text written as it is: `ENC[…]`, `443`, `null`, `""`, a timestamp.
    Raw(String),
    /// A string, written plain or quoted so that it reads back unchanged.
    Str(String),
    /// A string always written double-quoted (sops quotes `lastmodified`).
    Quoted(String),
    /// A multi-line string written as a literal block (`|`); only used for text this crate
    /// builds itself (armored age files), which has no trailing spaces and one final newline.
    Literal(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in order.
    Map(Vec<(String, Node)>),
    /// A comment line (the text after `#`, already encrypted), as an entry of a mapping: its
    /// key is ignored. sops writes a list's comments as items ([`Node::Raw`]), never this.
    Comment(String),
}

/// sops' `stores.yaml.indent` default.
const INDENT: usize = 4;
/// The longest key go-yaml writes as a simple key (`key: value`).
const MAX_SIMPLE_KEY_BYTES: usize = 128;

/// Writes every document, separated by `---` lines.
pub(crate) fn documents(docs: &[Vec<(String, Node)>]) -> String {
    let mut out = String::new();
    for (index, doc) in docs.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        if has_keys(doc) {
            map(&mut out, doc, 0, false);
        } else {
            out.push_str("{}\n");
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A mapping at column `indent`; with `inline`, its first key continues the current line
/// (after a sequence dash), and, as go-yaml does, its children are indented from the dash
/// (`- name: x` / `  more:` / `    c: d`).
fn map(out: &mut String, entries: &[(String, Node)], indent: usize, inline: bool) {
    let child = if inline { indent + 2 } else { indent + INDENT };
    let mut first = inline;
    for (key, value) in entries {
        if let Node::Comment(text) = value {
            // The caller puts a list item's leading comments before its dash.
            if !first {
                comment(out, text, indent);
            }
            continue;
        }
        if !first {
            pad(out, indent);
        }
        first = false;
        // go-yaml's `yaml_emitter_check_simple_key`: a longer key is an explicit entry, `? key`
        // with the value after a `:` on the next line. YAML allows a simple key 1024
        // characters at most, so writing it plainly could leave a file no one reads.
        let explicit = key.len() > MAX_SIMPLE_KEY_BYTES;
        if explicit {
            out.push_str("? ");
            out.push_str(&string(key));
            out.push('\n');
            pad(out, indent);
        } else {
            out.push_str(&string(key));
        }
        out.push(':');
        match value {
            Node::Map(inner) if has_keys(inner) => {
                let mut nested = String::new();
                map(&mut nested, inner, child, false);
                continue_line(out, &nested, explicit, child - indent - 1);
            }
            Node::Seq(items) if !items.is_empty() => {
                let mut nested = String::new();
                seq(&mut nested, items, child);
                continue_line(out, &nested, explicit, child - indent - 1);
            }
            Node::Literal(text) if literal_ok(text) => {
                out.push_str(" |\n");
                for line in text.lines() {
                    pad(out, child);
                    out.push_str(line);
                    out.push('\n');
                }
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline_scalar(scalar));
                out.push('\n');
            }
        }
    }
}

/// A nested collection after a key's `:`: on the next lines, or, after an explicit key's `:`,
/// as go-yaml writes it, starting on the `:` line at its own column (`:   a: 1`).
fn continue_line(out: &mut String, nested: &str, explicit: bool, spaces: usize) {
    if explicit {
        pad(out, spaces);
        out.push_str(nested.trim_start_matches(' '));
    } else {
        out.push('\n');
        out.push_str(nested);
    }
}

fn comment(out: &mut String, text: &str, indent: usize) {
    pad(out, indent);
    out.push('#');
    out.push_str(text);
    out.push('\n');
}

/// Whether a mapping has a key (a mapping of comments alone is written `{}`).
fn has_keys(entries: &[(String, Node)]) -> bool {
    entries.iter().any(|(_, n)| !matches!(n, Node::Comment(_)))
}

/// A sequence whose dashes stand at column `indent`.
fn seq(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        if let Node::Comment(text) = item {
            comment(out, text, indent);
            continue;
        }
        if let Node::Map(inner) = item {
            // Comments before an item mapping's first key stand before its dash.
            for (_, node) in inner.iter().take_while(|(_, n)| matches!(n, Node::Comment(_))) {
                if let Node::Comment(text) = node {
                    comment(out, text, indent);
                }
            }
        }
        pad(out, indent);
        out.push_str("- ");
        match item {
            Node::Map(inner) if has_keys(inner) => {
                let rest: Vec<(String, Node)> = inner
                    .iter()
                    .skip_while(|(_, n)| matches!(n, Node::Comment(_)))
                    .cloned()
                    .collect();
                map(out, &rest, indent + 2, true);
            }
            Node::Seq(inner) if !inner.is_empty() => {
                // The nested sequence's first dash continues this line.
                let mut nested = String::new();
                seq(&mut nested, inner, indent + 2);
                out.push_str(nested.trim_start_matches(' '));
            }
            scalar => {
                out.push_str(&inline_scalar(scalar));
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection on one line.
fn inline_scalar(node: &Node) -> String {
    match node {
        Node::Raw(text) => text.clone(),
        Node::Str(text) | Node::Literal(text) => string(text),
        Node::Quoted(text) => double_quoted(text),
        Node::Seq(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
        // Never a scalar: a comment is written on a line of its own.
        Node::Comment(_) => "null".to_owned(),
    }
}

/// A literal block keeps its text exactly only for plain lines and one final newline.
fn literal_ok(text: &str) -> bool {
    text.ends_with('\n')
        && !text.ends_with("\n\n")
        && text
            .lines()
            .all(|l| !l.is_empty() && !l.starts_with(' ') && !l.ends_with(' ') && l.chars().all(printable))
}

/// Characters YAML lets stand unescaped in a scalar (and go-yaml prints as they are).
fn printable(c: char) -> bool {
    !matches!(
        c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// A string as go-yaml would read it back unchanged: plain if that is unambiguous, else
/// single-quoted, else double-quoted.
pub(crate) fn string(text: &str) -> String {
    if plain_ok(text) {
        text.to_owned()
    } else if text.chars().all(printable) && !text.is_empty() && !reads_as_other_type(text) {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        double_quoted(text)
    }
}

/// Plain scalars that go-yaml v3 would read as another type, or that YAML 1.1 readers (and
/// go-yaml's own encoder, which quotes them) treat as bools or sexagesimal numbers.
fn reads_as_other_type(text: &str) -> bool {
    const OLD_BOOLS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    let numeric_looking = text.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c))
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:".contains(c))
        && text.chars().any(|c| c.is_ascii_digit() || c == ':');
    OLD_BOOLS.contains(&text) || numeric_looking || !plain_reads_as_string(text)
}

fn plain_ok(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    // `...` at the start of a line ends a document; `.x` is fine (`.dockerconfigjson`).
    !"-?:,[]{}#&*!|>'\"%@` ".contains(first)
        && !text.starts_with("...")
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && text.chars().all(|c| c != '\t' && printable(c))
        && !reads_as_other_type(text)
}

/// A double-quoted scalar; every character that is not printable is escaped.
pub(crate) fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if printable(c) => out.push(c),
            c if u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// A float as go-yaml reads it back as the same float (never an int: `2.0`, not `2`).
pub(crate) fn float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_owned()
    } else if f == f64::INFINITY {
        ".inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-.inf".to_owned()
    } else {
        // Rust's `Debug` is the shortest round-trip form and always has a `.` or an exponent.
        format!("{f:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::{self, Plain};
    use super::*;

    fn reads_back(text: &str) -> String {
        let doc = format!("k: {}\n", string(text));
        let nodes = yaml::parse(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e:?}"));
        let Plain::Map(entries) = &nodes[0].value else {
            panic!("{doc}")
        };
        match &entries[0].1.value {
            Plain::Str(s) => s.clone(),
            other => panic!("{doc:?} read as {other:?}"),
        }
    }

    #[test]
    fn strings_are_plain_only_when_unambiguous() {
        insta::assert_snapshot!(
            ["ghcr.io", "true", "yes", "443", "1:20", "", " x", "a: b", "#x", "it's", "é", "a\nb", "\u{7}", "2025-12-31", "ENC[AES256_GCM,data:x]", "null", "~", "-x", "...", "0x1F", "1e3"]
                .iter()
                .map(|s| string(s))
                .collect::<Vec<_>>()
                .join(" | "),
            @r#"ghcr.io | "true" | "yes" | "443" | "1:20" | "" | ' x' | 'a: b' | '#x' | it's | é | "a\nb" | "\x07" | "2025-12-31" | ENC[AES256_GCM,data:x] | "null" | "~" | '-x' | '...' | "0x1F" | "1e3""#
        );
    }

    #[test]
    fn every_string_reads_back_unchanged() {
        for s in [
            "true",
            "yes",
            "443",
            "",
            " x ",
            "a: b",
            "#x",
            "it's",
            "a\nb\n",
            "\u{7}\u{85}\u{2028}\u{feff}",
            "\"\\",
            "2025-12-31",
            "null",
            "- x",
            "? x",
            "--- x",
            "x #y",
            "{a}",
            "[b]",
            "*a",
            "&a",
            "!t",
            "%x",
            "@x",
            "`x",
            "|",
            ">",
            "\t",
        ] {
            assert_eq!(reads_back(s), s, "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_reads_back_unchanged(s in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(reads_back(&s), s);
        }
    }

    #[test]
    fn layout_is_sops_layout() {
        let doc = vec![
            (
                "a".to_owned(),
                Node::Map(vec![("b".to_owned(), Node::Raw("1".to_owned()))]),
            ),
            (
                "list".to_owned(),
                Node::Seq(vec![
                    Node::Map(vec![
                        ("name".to_owned(), Node::Str("x".to_owned())),
                        (
                            "more".to_owned(),
                            Node::Map(vec![("c".to_owned(), Node::Raw("null".to_owned()))]),
                        ),
                    ]),
                    Node::Seq(vec![Node::Str("x".to_owned()), Node::Str("y".to_owned())]),
                    Node::Map(Vec::new()),
                    Node::Seq(Vec::new()),
                ]),
            ),
            ("enc".to_owned(), Node::Literal("line 1\nline 2\n".to_owned())),
            ("when".to_owned(), Node::Quoted("2026-11-29T11:30:36Z".to_owned())),
            ("empty".to_owned(), Node::Map(Vec::new())),
        ];
        insta::assert_snapshot!(documents(&[doc, Vec::new()]), @r#"
        a:
            b: 1
        list:
            - name: x
              more:
                c: null
            - - x
              - "y"
            - {}
            - []
        enc: |
            line 1
            line 2
        when: "2026-11-29T11:30:36Z"
        empty: {}
        ---
        {}
        "#);
    }

    /// Found by the `sops_write` fuzz target: a key of more than 1024 characters, written as a
    /// simple key, was a file neither pullseal nor sops could read.
    #[test]
    fn long_keys_are_explicit_entries_and_read_back() {
        let long = "k".repeat(1100);
        let doc = vec![
            (long.clone(), Node::Str("v".to_owned())),
            (
                "list".to_owned(),
                Node::Seq(vec![Node::Map(vec![
                    (
                        long.clone(),
                        Node::Map(vec![("a".to_owned(), Node::Raw("1".to_owned()))]),
                    ),
                    ("b".to_owned(), Node::Raw("2".to_owned())),
                ])]),
            ),
        ];
        let text = documents(&[doc]);
        let shown = text.replace(&long, "K");
        insta::assert_snapshot!(shown, @r"
        ? K
        : v
        list:
            - ? K
              : a: 1
              b: 2
        ");
        let nodes = yaml::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        let Plain::Map(entries) = &nodes[0].value else {
            panic!("{text}")
        };
        assert_eq!(entries[0].0, long);
        assert!(matches!(&entries[0].1.value, Plain::Str(v) if v == "v"));
        let Plain::Seq(items) = &entries[1].1.value else {
            panic!("{text}")
        };
        let Plain::Map(item) = &items[0].value else {
            panic!("{text}")
        };
        assert_eq!(item[0].0, long);
        assert!(matches!(&item[0].1.value, Plain::Map(inner) if inner[0].0 == "a"));
        assert_eq!(item[1].0, "b");
        // 128 bytes is still a simple key.
        assert!(documents(&[vec![("k".repeat(128), Node::Raw("1".to_owned()))]]).starts_with("kkk"));
    }

    #[test]
    fn floats_stay_floats() {
        for f in [
            2.0,
            1.5,
            1e21,
            1e-7,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e16,
            123_456.789,
        ] {
            let doc = format!("k: {}\n", float(f));
            let nodes = yaml::parse(&doc).unwrap();
            let Plain::Map(entries) = &nodes[0].value else {
                panic!()
            };
            assert!(
                matches!(entries[0].1.value, Plain::Float(g) if g.to_bits() == f.to_bits()),
                "{doc}"
            );
        }
        assert_eq!(float(f64::NAN), ".nan");
    }
}
