//! The check after every edit: the edited document is parsed again and must mean exactly what
//! the original meant, plus the `imagePullSecrets` entries pullseal added. Meaning is compared
//! as Kubernetes reads it (YAML 1.1 scalars, merges resolved), so `0644` must still be 420 and
//! `"yes"` still a string; a layout the editor gets wrong becomes an error for that document,
//! never output.
//!
//! This module must not make edits; it only judges them.

use std::collections::BTreeMap;

use crate::manifest::Edit;
use crate::manifest::tree::{self, Node, key_text};
use crate::manifest::yaml11::Scalar;

/// A document's meaning: what the API server would decode.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A scalar, typed as YAML 1.1 reads it.
    Scalar(Scalar),
    /// A list.
    Seq(Vec<Value>),
    /// A mapping, merges resolved, keys as the API server's JSON keys.
    Map(BTreeMap<String, Value>),
}

/// What `node` means to the API server.
pub(crate) fn value(node: &Node) -> Value {
    if let Some(s) = node.scalar() {
        return Value::Scalar(s);
    }
    if node.is_seq() {
        return Value::Seq(node.items().iter().map(value).collect());
    }
    Value::Map(
        node.resolved_entries()
            .into_iter()
            .filter_map(|(k, v)| Some((key_text(k)?, value(v))))
            .collect(),
    )
}

/// One step from a node to a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// What one edit must have done: the pod spec at `path` gains `added` at the end of its
/// `imagePullSecrets` (which was absent, null or a list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    pub(crate) path: Vec<Step>,
    pub(crate) added: Vec<String>,
}

/// Applies `edits` to `text`.
pub(crate) fn apply(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(text.len() + edits.iter().map(|e| e.text.len()).sum::<usize>());
    let mut at = 0;
    for edit in sorted {
        out.push_str(text.get(at..edit.range.start).unwrap_or(""));
        out.push_str(&edit.text);
        at = edit.range.end.max(at);
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

/// Checks that `edits` turn `text` (whose tree is `before`) into a document that means
/// `before` with every `expected` change and nothing else. The error says what differs.
pub(crate) fn verify(text: &str, before: &Node, edits: &[Edit], expected: &[Expected]) -> Result<(), String> {
    if edits.iter().any(|e| e.text.contains('#')) {
        return Err("an insertion would carry a comment character".to_owned());
    }
    let edited = apply(text, edits);
    let after = match tree::parse(&edited) {
        Ok(Some(root)) => root,
        Ok(None) => return Err("the edited document is empty".to_owned()),
        Err(errors) => {
            let first = errors
                .first()
                .map_or_else(String::new, |e| format!(": line {}: {}", e.line, e.message));
            return Err(format!("the edited document does not parse{first}"));
        }
    };
    let mut want = value(before);
    for change in expected {
        let spec = walk(&mut want, &change.path).ok_or("the pod spec moved")?;
        let Value::Map(spec) = spec else {
            return Err("the pod spec is not a mapping".to_owned());
        };
        let list = spec
            .entry("imagePullSecrets".to_owned())
            .or_insert(Value::Seq(Vec::new()));
        if matches!(list, Value::Scalar(Scalar::Null)) {
            *list = Value::Seq(Vec::new());
        }
        let Value::Seq(items) = list else {
            return Err("imagePullSecrets is not a list".to_owned());
        };
        for name in &change.added {
            let entry = BTreeMap::from([("name".to_owned(), Value::Scalar(Scalar::Str(name.clone())))]);
            items.push(Value::Map(entry));
        }
    }
    if value(&after) == want {
        Ok(())
    } else {
        Err("the edited document does not mean the original plus the added entries".to_owned())
    }
}

fn walk<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, step| match (v, step) {
        (Value::Map(m), Step::Key(k)) => m.get_mut(k),
        (Value::Seq(items), Step::Index(i)) => items.get_mut(*i),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, edit: (usize, &str), path: &[&str], added: &[&str]) -> Result<(), String> {
        let before = tree::parse(text).unwrap().unwrap();
        let edits = [Edit {
            range: edit.0..edit.0,
            text: edit.1.to_owned(),
        }];
        let expected = [Expected {
            path: path.iter().map(|k| Step::Key((*k).to_owned())).collect(),
            added: added.iter().map(|s| (*s).to_owned()).collect(),
        }];
        verify(text, &before, &edits, &expected)
    }

    #[test]
    fn a_right_edit_passes() {
        let text = "spec:\n  c: 0644\n";
        assert_eq!(
            check(text, (8, "imagePullSecrets: [{name: a}]\n  "), &["spec"], &["a"]),
            Ok(())
        );
    }

    #[test]
    fn wrong_edits_are_caught() {
        let text = "spec:\n  c: 0644 # mode\n";
        // Into the comment: nothing changes, so the entry is missing.
        insta::assert_snapshot!(check(text, (22, ", {name: a}"), &["spec"], &["a"]).unwrap_err(), @"the edited document does not mean the original plus the added entries");
        // Something else changed meaning: `0644` became the string `0644x`.
        insta::assert_snapshot!(check(text, (14, "x"), &["spec"], &[]).unwrap_err(), @"the edited document does not mean the original plus the added entries");
        insta::assert_snapshot!(check(text, (8, "[\n"), &["spec"], &["a"]).unwrap_err(), @"the edited document does not parse: line 3: invalid indentation");
        insta::assert_snapshot!(check(text, (8, "# x"), &["spec"], &[]).unwrap_err(), @"an insertion would carry a comment character");
    }
}
