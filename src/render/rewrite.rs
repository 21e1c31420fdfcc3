//! The one edit pullseal makes to a workload: add entries to `imagePullSecrets`, as text
//! inserted into the document at positions the parser reported.
//!
//! Existing entries are kept and never duplicated; new ones are appended. Block style stays
//! block style with the list's own indentation, flow style (and JSON) gets flow entries.
//! This module must not decide which names to add.

use std::fmt::Write as _;

use saphyr_parser::ScalarStyle;

use crate::manifest::Edit;
use crate::manifest::stream::{BREAKS, after_line, line_break, line_end, line_start};
use crate::manifest::tree::{Kind, Node};
use crate::manifest::yaml11::{self, Scalar};
use crate::render::verify::Step;

/// Why an edit cannot be made safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RewriteError {
    /// The pod spec is not a mapping.
    #[error("the pod spec is not a mapping")]
    NotAMapping,
    /// The node to edit, or one around it, is an alias: the edit would land in the anchored
    /// original, and so in every place that uses it.
    #[error(
        "{what} is an alias ({}) of a node written elsewhere: pullseal must add to the pod spec's imagePullSecrets, and through the alias the entries would go into the anchored node and every place that uses it; write {what} out in full here instead of the alias",
        sigil('*', name.as_deref())
    )]
    Aliased {
        /// Which node: `the pod spec`, `imagePullSecrets` or a field path.
        what: String,
        /// The anchor's name, when it can be read.
        name: Option<String>,
    },
    /// The node to edit, or one around it, is anchored and used again by an alias: the edit
    /// would show in both places.
    #[error(
        "{what} is anchored ({}) and used again by the alias at {alias_at}: pullseal must add to the pod spec's imagePullSecrets, and the entries would go into both places; write {what} out in each place instead of the anchor and alias",
        sigil('&', name.as_deref())
    )]
    Anchored {
        /// Which node, as for [`RewriteError::Aliased`].
        what: String,
        /// The anchor's name, when it can be read.
        name: Option<String>,
        /// The field path of the alias.
        alias_at: String,
    },
    /// The pod spec, or a mapping around it, is merged in from an alias (`<<: *base`).
    #[error(
        "{what} is merged in from an alias (<<: {}): pullseal must add to the pod spec's imagePullSecrets, and the entries would go into the anchored mapping and everything that merges or aliases it; write {what} out here instead of merging it in",
        sigil('*', name.as_deref())
    )]
    Merged {
        /// Which node, as for [`RewriteError::Aliased`].
        what: String,
        /// The anchor's name, when it can be read.
        name: Option<String>,
    },
    /// `imagePullSecrets` holds something other than a list.
    #[error("imagePullSecrets is not a list")]
    NotAList,
    /// The layout around the list is one pullseal does not edit.
    #[error("cannot find where to write in imagePullSecrets; write the list in block or flow style")]
    Layout,
    /// The list is only merged in (`<<`) and has an entry without a string `name`, which the
    /// list pullseal writes out in its place could not carry.
    #[error(
        "imagePullSecrets is merged in (<<) and has an entry without a name; write the list out in the pod spec so that pullseal can add to it"
    )]
    MergedWithoutName,
}

/// Names already listed in `imagePullSecrets` of `pod_spec` (following merge keys), and whether
/// the pod lists any at all.
pub(crate) fn existing_names(pod_spec: &Node) -> Vec<String> {
    pod_spec
        .get("imagePullSecrets")
        .map(|(list, _)| {
            list.items()
                .iter()
                .filter_map(|i| i.get("name").and_then(|(n, _)| n.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the edit that makes `pod_spec`'s `imagePullSecrets` list `existing` followed by
/// `add`. `inherited` are names the pod gets from its `ServiceAccount` when it lists none itself;
/// they are written out too, because the API server stops copying them once a pod lists its own.
/// Returns the edit with the names it appends to the list as Kubernetes reads it.
pub(crate) fn add_pull_secrets(
    text: &str,
    pod_spec: &Node,
    add: &[String],
    inherited: &[String],
) -> Result<Option<(Edit, Vec<String>)>, RewriteError> {
    if pod_spec.aliased {
        return Err(RewriteError::Aliased {
            what: "the pod spec".to_owned(),
            name: anchor_name(text, pod_spec.pos.start, '*'),
        });
    }
    let Some(wanted) = to_add(pod_spec, add, inherited)? else {
        return Ok(None);
    };
    edit(text, pod_spec, &wanted).map(|e| Some((e, wanted)))
}

/// The names to append, or `None` when the list has them all.
fn to_add(
    pod_spec: &Node,
    add: &[String],
    inherited: &[String],
) -> Result<Option<Vec<String>>, RewriteError> {
    if !pod_spec.is_map() {
        return Err(RewriteError::NotAMapping);
    }
    let existing = existing_names(pod_spec);
    let mut wanted: Vec<String> = Vec::new();
    let base: &[String] = if existing.is_empty() { inherited } else { &[] };
    for name in base.iter().chain(add) {
        if !existing.contains(name) && !wanted.contains(name) {
            wanted.push(name.clone());
        }
    }
    Ok((!wanted.is_empty()).then_some(wanted))
}

fn edit(text: &str, pod_spec: &Node, wanted: &[String]) -> Result<Edit, RewriteError> {
    let nl = line_break(text);
    let style = Style::of(pod_spec);
    match pod_spec.get("imagePullSecrets") {
        Some((list, true)) if list.is_null() => {
            // `imagePullSecrets:` or `imagePullSecrets: null`: the list replaces the null.
            let empty = matches!(&list.kind, Kind::Scalar { value, .. } if value.is_empty());
            if empty {
                // The parser places an empty value at the key's `:`; the list goes after it.
                let colon = text
                    .get(list.pos.start..)
                    .and_then(|t| t.find(':'))
                    .ok_or(RewriteError::Layout)?;
                let at = list.pos.start + colon + 1;
                return Ok(Edit {
                    range: at..at,
                    text: format!(" {}", style.list(wanted)),
                });
            }
            let start = list.pos.start;
            let end = list.content_end(text).max(start);
            Ok(Edit {
                range: start..end,
                text: style.list(wanted),
            })
        }
        Some((list, true)) => append(text, list, wanted, nl, style),
        Some((list, false)) => {
            // Only merged in (`<<: *x`): an explicit key must carry the merged entries too.
            if !list.is_seq() {
                return Err(RewriteError::NotAList);
            }
            let mut all = existing_names(pod_spec);
            // The written list replaces the merged one whole: an entry it cannot copy would
            // be dropped.
            if all.len() != list.items().len() {
                return Err(RewriteError::MergedWithoutName);
            }
            all.extend(wanted.iter().cloned());
            insert_key(text, pod_spec, &all, nl, style)
        }
        None => insert_key(text, pod_spec, wanted, nl, style),
    }
}

/// How new text is written: YAML with plain scalars where they stay strings, or JSON when
/// the mapping being edited is written that way.
#[derive(Clone, Copy)]
struct Style {
    json: bool,
}

impl Style {
    /// JSON when the pod spec's own keys are double-quoted (JSON input, or YAML written so).
    fn of(map: &Node) -> Style {
        let json = map.entries().first().is_some_and(|(k, _)| {
            matches!(
                k.kind,
                Kind::Scalar {
                    style: ScalarStyle::DoubleQuoted,
                    ..
                }
            )
        });
        Style { json }
    }

    fn scalar(self, s: &str) -> String {
        if self.json || !plain_is_string(s) {
            format!("\"{s}\"")
        } else {
            s.to_owned()
        }
    }

    fn entry(self, name: &str) -> String {
        format!("{{{}: {}}}", self.scalar("name"), self.scalar(name))
    }

    fn list(self, names: &[String]) -> String {
        format!(
            "[{}]",
            names.iter().map(|n| self.entry(n)).collect::<Vec<_>>().join(", ")
        )
    }
}

/// Whether `s` (a Secret name: letters, digits, '-' and '.') written plain is read back as the
/// same string by a YAML 1.1 reader, as Kubernetes is: `yes`, `off`, `null`, `123`, `1e3` or
/// `0x1F` would not be.
fn plain_is_string(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && matches!(yaml11::resolve(s, true, None), Ok(Scalar::Str(t)) if t == s)
}

/// Appends entries to an existing list.
fn append(text: &str, list: &Node, names: &[String], nl: &str, style: Style) -> Result<Edit, RewriteError> {
    if list.aliased {
        return Err(RewriteError::Aliased {
            what: "imagePullSecrets".to_owned(),
            name: anchor_name(text, list.pos.start, '*'),
        });
    }
    let Kind::Seq { flow, items } = &list.kind else {
        return Err(RewriteError::NotAList);
    };
    if *flow {
        // New entries go right after the last one (or the `[`), so that whatever follows it,
        // a trailing comma, blanks, a comment or a line break, stays where it was.
        let entries = names
            .iter()
            .map(|n| style.entry(n))
            .collect::<Vec<_>>()
            .join(", ");
        let (at, insert) = if let Some(tail) = items.last() {
            (tail.content_end(text), format!(", {entries}"))
        } else {
            let open = text
                .get(list.pos.start..)
                .and_then(|t| t.find('['))
                .ok_or(RewriteError::Layout)?;
            (list.pos.start + open + 1, entries)
        };
        return Ok(Edit {
            range: at..at,
            text: insert,
        });
    }
    let head = items.first().ok_or(RewriteError::Layout)?;
    let dash = dash_before(text, head.pos.start).ok_or(RewriteError::Layout)?;
    let indent = " ".repeat(column(text, dash));
    let tail = items.last().ok_or(RewriteError::Layout)?;
    let (at, mut insert) = after_line(text, tail.content_end(text), nl);
    for name in names {
        let _ = write!(insert, "{indent}- name: {}{nl}", style.scalar(name));
    }
    Ok(Edit {
        range: at..at,
        text: insert,
    })
}

/// Adds the key to a mapping: in block style before the first key, in flow style after `{`.
/// A key must come after a merge key (`<<`) in its mapping, or go-yaml v2 would let the merge
/// overwrite it; so where the mapping has one, the key goes right after the merge entry.
fn insert_key(
    text: &str,
    map: &Node,
    names: &[String],
    nl: &str,
    style: Style,
) -> Result<Edit, RewriteError> {
    let Kind::Map { flow, entries } = &map.kind else {
        return Err(RewriteError::NotAMapping);
    };
    let key = style.scalar("imagePullSecrets");
    let merge = entries.iter().position(|(k, _)| k.is_merge_key());
    let after_merge = merge.map_or(0, |m| m + 1);
    if *flow || entries.is_empty() {
        if let Some((_, value)) = merge.and_then(|m| entries.get(m)) {
            let at = value.content_end(text);
            return Ok(Edit {
                range: at..at,
                text: format!(", {key}: {}", style.list(names)),
            });
        }
        let open = text
            .get(map.pos.start..)
            .and_then(|t| t.find('{'))
            .ok_or(RewriteError::Layout)?;
        let at = map.pos.start + open + 1;
        let sep = if entries.is_empty() { "" } else { ", " };
        return Ok(Edit {
            range: at..at,
            text: format!("{key}: {}{sep}", style.list(names)),
        });
    }
    let first = entries.first().map(|(k, _)| k).ok_or(RewriteError::Layout)?;
    let key_col = column(text, first.pos.start);
    let indent = " ".repeat(key_col);
    // Follow the document's own habit: indented (`  - x`) or indentless (`- x`) lists.
    let offset = entries
        .iter()
        .find_map(|(k, v)| match &v.kind {
            Kind::Seq { flow: false, items } => {
                let dash = dash_before(text, items.first()?.pos.start)?;
                column(text, dash).checked_sub(column(text, k.pos.start))
            }
            _ => None,
        })
        .unwrap_or(0);
    let item_indent = " ".repeat(key_col + offset);
    let mut block = format!("{key}:{nl}");
    for name in names {
        let _ = write!(block, "{item_indent}- name: {}{nl}", style.scalar(name));
    }
    if let Some((next, _)) = entries.get(after_merge) {
        // Before the next key, on its line.
        return Ok(Edit {
            range: next.pos.start..next.pos.start,
            text: format!("{block}{indent}"),
        });
    }
    // The merge is the last entry: on the line after it.
    let (_, last) = entries.last().ok_or(RewriteError::Layout)?;
    let end = last.content_end(text);
    let at_line_start = text.get(..end).is_some_and(|t| t.ends_with(BREAKS));
    let at = if at_line_start { end } else { line_end(text, end) };
    let lead = if at == text.len() && !text.ends_with(BREAKS) {
        nl
    } else {
        ""
    };
    Ok(Edit {
        range: at..at,
        text: format!("{lead}{indent}{block}"),
    })
}

/// The `-` that introduces the item starting at `item`, on the same line.
pub(crate) fn dash_before(text: &str, item: usize) -> Option<usize> {
    let before = text.get(..item)?;
    let trimmed = before.trim_end_matches(' ');
    trimmed.ends_with('-').then(|| trimmed.len() - 1)
}

/// Why an edit of the pod spec at `path` (from the document's `root`) failed its check, when
/// an alias explains it: the pod spec, its `imagePullSecrets` or a node around them is an
/// alias, is merged in from one, or is anchored and used again by one. Such an edit lands in
/// the text of a node that appears in more than one place, so the check, which compares the
/// whole document, finds the entries where none were meant to go.
pub(crate) fn shared_by_alias(text: &str, root: &Node, path: &[Step]) -> Option<RewriteError> {
    let mut aliases = Vec::new();
    if text.contains('*') {
        collect_aliases(root, &mut String::new(), &mut aliases);
    }
    let what = |at: &str, depth: usize| match depth {
        d if d == path.len() => "the pod spec".to_owned(),
        d if d > path.len() => "imagePullSecrets".to_owned(),
        _ => at.to_owned(),
    };
    let mut node = root;
    let mut at = String::new();
    let mut nodes: Vec<(String, &Node, usize)> = Vec::new();
    for (depth, step) in path.iter().enumerate() {
        let next = match step {
            Step::Key(key) => {
                let (child, written) = node.get(key)?;
                push_key(&mut at, key);
                // Merged in from an alias: the edit lands in the anchored mapping.
                let merged = node
                    .entries()
                    .iter()
                    .find(|(k, _)| k.is_merge_key())
                    .map(|(_, v)| v);
                let source = merged.filter(|_| !written).and_then(|m| {
                    std::iter::once(m)
                        .chain(m.items())
                        .find(|m| m.is_map() && m.get(key).is_some())
                        .filter(|m| m.aliased)
                });
                if let Some(source) = source {
                    return Some(RewriteError::Merged {
                        what: what(&at, depth + 1),
                        name: anchor_name(text, source.pos.start, '*'),
                    });
                }
                child
            }
            Step::Index(i) => {
                let _ = write!(at, "[{i}]");
                node.items().get(*i)?
            }
        };
        nodes.push((at.clone(), next, depth + 1));
        node = next;
    }
    if let Some((list, true)) = node.get("imagePullSecrets") {
        push_key(&mut at, "imagePullSecrets");
        nodes.push((at.clone(), list, path.len() + 1));
    }
    nodes.into_iter().find_map(|(at, node, depth)| {
        if node.aliased {
            return Some(RewriteError::Aliased {
                what: what(&at, depth),
                name: anchor_name(text, node.pos.start, '*'),
            });
        }
        let (alias_at, _) = aliases.iter().find(|(_, alias)| same_node(alias, node))?;
        Some(RewriteError::Anchored {
            what: what(&at, depth),
            name: anchor_name(text, node.pos.start, '&'),
            alias_at: alias_at.clone(),
        })
    })
}

/// Every alias of the tree under `node` (whose field path is `at`), with its field path; the
/// copies an alias makes are not looked into (what they hold is looked at where it is written).
fn collect_aliases<'n>(node: &'n Node, at: &mut String, out: &mut Vec<(String, &'n Node)>) {
    if node.aliased {
        out.push((at.clone(), node));
        return;
    }
    let len = at.len();
    match &node.kind {
        Kind::Map { entries, .. } => {
            for (k, v) in entries {
                push_key(at, &crate::manifest::tree::key_text(k).unwrap_or_default());
                collect_aliases(v, at, out);
                at.truncate(len);
            }
        }
        Kind::Seq { items, .. } => {
            for (i, item) in items.iter().enumerate() {
                let _ = write!(at, "[{i}]");
                collect_aliases(item, at, out);
                at.truncate(len);
            }
        }
        Kind::Scalar { .. } => {}
    }
}

/// Whether `alias` is a copy of `node`: an alias's copy keeps the positions of what it copies,
/// so the two have their first child at the same place (an empty collection cannot be told).
fn same_node(alias: &Node, node: &Node) -> bool {
    let first = |n: &Node| match &n.kind {
        Kind::Map { entries, .. } => entries.first().map(|(k, _)| (true, k.pos)),
        Kind::Seq { items, .. } => items.first().map(|i| (false, i.pos)),
        Kind::Scalar { .. } => None,
    };
    !node.aliased && first(node).is_some_and(|f| first(alias) == Some(f))
}

/// `key` appended to the field path `at`, as diagnostics name fields.
fn push_key(at: &mut String, key: &str) {
    if !at.is_empty() {
        at.push('.');
    }
    at.push_str(&crate::error::shown(key));
}

/// The name of the anchor (`&`) or alias (`*`) written at `at`, after a tag if one comes first.
fn anchor_name(text: &str, at: usize, sigil: char) -> Option<String> {
    let mut rest = text.get(at..)?;
    if rest.starts_with('!') {
        rest = rest.trim_start_matches(|c: char| !c.is_whitespace()).trim_start();
    }
    let name: String = rest
        .strip_prefix(sigil)?
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
        .collect();
    (!name.is_empty()).then(|| crate::error::shown(&name))
}

/// `*name` or `&name` for a message, or what it is when the name cannot be read.
fn sigil(sigil: char, name: Option<&str>) -> String {
    match (sigil, name) {
        (_, Some(name)) => format!("{sigil}{name}"),
        ('&', None) => "an anchor".to_owned(),
        (_, None) => "an alias".to_owned(),
    }
}

/// Column of byte `at`, in characters.
pub(crate) fn column(text: &str, at: usize) -> usize {
    let start = line_start(text, at);
    text.get(start..at).map_or(0, |t| t.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tree;

    fn run(text: &str, add: &[&str], inherited: &[&str]) -> String {
        let root = tree::parse(text).unwrap().unwrap();
        let spec = root.path(&["spec"]).unwrap();
        let add: Vec<String> = add.iter().map(|s| (*s).to_owned()).collect();
        let inherited: Vec<String> = inherited.iter().map(|s| (*s).to_owned()).collect();
        match add_pull_secrets(text, spec, &add, &inherited).unwrap() {
            None => text.to_owned(),
            Some((e, _)) => format!("{}{}{}", &text[..e.range.start], e.text, &text[e.range.end..]),
        }
    }

    #[test]
    fn inserts_a_new_key_in_block_style() {
        let out = run("spec:\n  containers:\n  - image: x # keep\n", &["a", "b"], &[]);
        assert_eq!(
            out,
            "spec:\n  imagePullSecrets:\n  - name: a\n  - name: b\n  containers:\n  - image: x # keep\n"
        );
        let out = run("spec:\n  containers:\n    - image: x\n", &["a"], &[]);
        assert_eq!(
            out,
            "spec:\n  imagePullSecrets:\n    - name: a\n  containers:\n    - image: x\n"
        );
    }

    #[test]
    fn appends_without_duplicates() {
        let text = "spec:\n  imagePullSecrets:\n    - name: a   # ours\n  containers: []\n";
        assert_eq!(
            run(text, &["a", "b"], &[]),
            "spec:\n  imagePullSecrets:\n    - name: a   # ours\n    - name: b\n  containers: []\n"
        );
        assert_eq!(run(text, &["a"], &[]), text);
    }

    #[test]
    fn flow_and_json() {
        assert_eq!(
            run("{\"spec\": {\"containers\": []}}", &["a"], &[]),
            "{\"spec\": {\"imagePullSecrets\": [{\"name\": \"a\"}], \"containers\": []}}"
        );
        assert_eq!(
            run("spec: {imagePullSecrets: [{name: x}], c: 1}\n", &["a"], &[]),
            "spec: {imagePullSecrets: [{name: x}, {name: a}], c: 1}\n"
        );
        assert_eq!(
            run("spec: {imagePullSecrets: [ ]}\n", &["a"], &[]),
            "spec: {imagePullSecrets: [{name: a} ]}\n"
        );
        assert_eq!(
            run("spec: {c: 1}\n", &["yes", "1e3"], &[]),
            "spec: {imagePullSecrets: [{name: \"yes\"}, {name: \"1e3\"}], c: 1}\n"
        );
    }

    #[test]
    fn flow_lists_keep_what_follows_their_last_entry() {
        assert_eq!(
            run("spec:\n  imagePullSecrets: [] # none yet\n  c: 1\n", &["a"], &[]),
            "spec:\n  imagePullSecrets: [{name: a}] # none yet\n  c: 1\n"
        );
        assert_eq!(
            run("spec: {imagePullSecrets: [{name: x}, ], c: 1}\n", &["a"], &[]),
            "spec: {imagePullSecrets: [{name: x}, {name: a}, ], c: 1}\n"
        );
        assert_eq!(
            run(
                "spec: {imagePullSecrets: [{name: x}  ,\n   # more later\n  ]}\n",
                &["a"],
                &[]
            ),
            "spec: {imagePullSecrets: [{name: x}, {name: a}  ,\n   # more later\n  ]}\n"
        );
    }

    #[test]
    fn cr_only_line_ends() {
        assert_eq!(
            run("spec:\r  imagePullSecrets:\r  - name: x\r  c: 1\r", &["a"], &[]),
            "spec:\r  imagePullSecrets:\r  - name: x\r  - name: a\r  c: 1\r"
        );
        assert_eq!(
            run("spec:\r  c: 1\r", &["a"], &[]),
            "spec:\r  imagePullSecrets:\r  - name: a\r  c: 1\r"
        );
    }

    #[test]
    fn null_list_is_replaced() {
        assert_eq!(
            run("spec:\n  imagePullSecrets:\n  c: 1\n", &["a"], &[]),
            "spec:\n  imagePullSecrets: [{name: a}]\n  c: 1\n"
        );
        assert_eq!(
            run("spec:\n  imagePullSecrets: ~\n", &["a"], &[]),
            "spec:\n  imagePullSecrets: [{name: a}]\n"
        );
        assert_eq!(
            run("{\"spec\": {\"imagePullSecrets\": null}}", &["a"], &[]),
            "{\"spec\": {\"imagePullSecrets\": [{\"name\": \"a\"}]}}"
        );
    }

    #[test]
    fn service_account_secrets_are_kept() {
        assert_eq!(
            run("spec:\n  c: 1\n", &["a"], &["sa"]),
            "spec:\n  imagePullSecrets:\n  - name: sa\n  - name: a\n  c: 1\n"
        );
        assert_eq!(
            run("spec:\n  c: 1\n", &["on"], &[]),
            "spec:\n  imagePullSecrets:\n  - name: \"on\"\n  c: 1\n"
        );
        assert_eq!(
            run("spec:\n  imagePullSecrets:\n  - name: own\n", &["a"], &["sa"]),
            "spec:\n  imagePullSecrets:\n  - name: own\n  - name: a\n"
        );
    }

    #[test]
    fn names_that_yaml_1_1_would_retype_are_quoted() {
        for name in ["Y", "2024-01-01", "0o12", "1_000", ".5", "null"] {
            assert!(!plain_is_string(name), "{name}");
        }
        for name in ["pullseal-company", "a.b", "yes-please", "0x"] {
            assert!(plain_is_string(name), "{name}");
        }
    }

    #[test]
    fn crlf_and_no_trailing_newline() {
        assert_eq!(
            run("spec:\r\n  imagePullSecrets:\r\n  - name: x", &["a"], &[]),
            "spec:\r\n  imagePullSecrets:\r\n  - name: x\r\n  - name: a\r\n"
        );
    }

    #[test]
    fn merged_lists_are_written_out() {
        let text = "base: &b\n  imagePullSecrets: [{name: m}]\nspec:\n  <<: *b\n  c: 1\n";
        assert_eq!(
            run(text, &["a"], &[]),
            "base: &b\n  imagePullSecrets: [{name: m}]\nspec:\n  <<: *b\n  imagePullSecrets:\n  - name: m\n  - name: a\n  c: 1\n"
        );
    }

    /// Found by the `manifest` fuzz target: the written-out list dropped the merged entry
    /// that had no `name`, and the edit failed its own check.
    #[test]
    fn merged_lists_with_an_entry_without_a_name_are_refused() {
        for list in [
            "[{n$ame: shared}]",
            "[{name: m}, {}]",
            "[{name: 1}]",
            "[{name: m}, x]",
        ] {
            let text = format!("base: &b\n  imagePullSecrets: {list}\nspec:\n  <<: *b\n  c: 1\n");
            let root = tree::parse(&text).unwrap().unwrap();
            let err =
                add_pull_secrets(&text, root.path(&["spec"]).unwrap(), &["a".to_owned()], &[]).unwrap_err();
            assert_eq!(err, RewriteError::MergedWithoutName, "{list}");
        }
        insta::assert_snapshot!(RewriteError::MergedWithoutName, @"imagePullSecrets is merged in (<<) and has an entry without a name; write the list out in the pod spec so that pullseal can add to it");
    }

    #[test]
    fn aliases_are_refused() {
        let text = "l: &l [{name: m}]\nspec:\n  imagePullSecrets: *l\n";
        let root = tree::parse(text).unwrap().unwrap();
        let err = add_pull_secrets(text, root.path(&["spec"]).unwrap(), &["a".to_owned()], &[]).unwrap_err();
        insta::assert_snapshot!(err, @"imagePullSecrets is an alias (*l) of a node written elsewhere: pullseal must add to the pod spec's imagePullSecrets, and through the alias the entries would go into the anchored node and every place that uses it; write imagePullSecrets out in full here instead of the alias");
    }

    /// A merge key whose value is an alias, as the last entry of the pod spec: the list goes on
    /// the line after it, not after the anchored mapping the alias copies.
    #[test]
    fn a_merge_of_an_alias_as_the_last_entry() {
        let text = "base: &b\n  imagePullSecrets: [{name: m}]\n  x: 1\nspec:\n  <<: *b\n";
        assert_eq!(
            run(text, &["a"], &[]),
            "base: &b\n  imagePullSecrets: [{name: m}]\n  x: 1\nspec:\n  <<: *b\n  imagePullSecrets:\n  - name: m\n  - name: a\n"
        );
        let text = "base: &b {imagePullSecrets: [{name: m}]}\nspec: {<<: *b}\n";
        assert_eq!(
            run(text, &["a"], &[]),
            "base: &b {imagePullSecrets: [{name: m}]}\nspec: {<<: *b, imagePullSecrets: [{name: m}, {name: a}]}\n"
        );
    }

    /// Why an edit through an alias failed its check, for each way an alias can share the
    /// pod spec: the path from the root to it, or its list, is an alias, anchored and used
    /// again, or merged in from one.
    #[test]
    fn edits_shared_by_an_alias_are_explained() {
        let why = |text: &str, path: &[&str]| {
            let root = tree::parse(text).unwrap().unwrap();
            let path: Vec<Step> = path
                .iter()
                .map(|s| match s.parse() {
                    Ok(i) => Step::Index(i),
                    Err(_) => Step::Key((*s).to_owned()),
                })
                .collect();
            shared_by_alias(text, &root, &path).map(|e| e.to_string())
        };
        let shared = "l:\n- t: &t\n    spec: {containers: []}\n- t: *t\n";
        insta::assert_snapshot!(why(shared, &["l", "0", "t", "spec"]).unwrap(), @"l[0].t is anchored (&t) and used again by the alias at l[1].t: pullseal must add to the pod spec's imagePullSecrets, and the entries would go into both places; write l[0].t out in each place instead of the anchor and alias");
        insta::assert_snapshot!(why(shared, &["l", "1", "t", "spec"]).unwrap(), @"l[1].t is an alias (*t) of a node written elsewhere: pullseal must add to the pod spec's imagePullSecrets, and through the alias the entries would go into the anchored node and every place that uses it; write l[1].t out in full here instead of the alias");
        let list = "a:\n  spec:\n    imagePullSecrets: &p [{name: x}]\nb: {imagePullSecrets: *p}\n";
        insta::assert_snapshot!(why(list, &["a", "spec"]).unwrap(), @"imagePullSecrets is anchored (&p) and used again by the alias at b.imagePullSecrets: pullseal must add to the pod spec's imagePullSecrets, and the entries would go into both places; write imagePullSecrets out in each place instead of the anchor and alias");
        let merged = "x: &base\n  template: {spec: {containers: []}}\nspec:\n  <<: *base\n";
        insta::assert_snapshot!(why(merged, &["spec", "template", "spec"]).unwrap(), @"spec.template is merged in from an alias (<<: *base): pullseal must add to the pod spec's imagePullSecrets, and the entries would go into the anchored mapping and everything that merges or aliases it; write spec.template out here instead of merging it in");
        // An anchor nobody aliases, and an alias of something else, share nothing.
        assert_eq!(
            why(
                "a: &a\n  spec: {containers: []}\nb: &b [1]\nc: *b\n",
                &["a", "spec"]
            ),
            None
        );
    }
}
