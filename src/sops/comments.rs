//! The YAML comments of a sops file: read back decrypted from where sops 3.11 writes them, and
//! placed again, encrypted, where sops 3.11 reads them back into the same mapping or list.
//!
//! What sops 3.11 does with comments (`stores/yaml/store.go`, `sops.go` `walkBranch` and
//! `walkSlice`, `aes/cipher.go`):
//! - go-yaml hands it each comment line of a plain file, and sops keeps it as a `Comment`
//!   item of the mapping or list it belongs to, in order among the keys or items. The head,
//!   line and foot comments of a key and of a scalar value all become items before or after
//!   that key; a comment at the end of a line becomes an item *before* its key, so sops moves
//!   it onto its own line above the key.
//! - Under the default rule every comment is encrypted like a value, `type:comment`, with the
//!   additional data of the mapping or list it is in: its map-key path `:`-joined plus `:`
//!   (`:` at the top). No comment is part of the MAC.
//! - A mapping's comment is written as a line `#ENC[…,type:comment]` at the indentation of
//!   its keys, before the key it preceded or after the last one. A list's comment becomes an
//!   item `- ENC[…,type:comment]` of the list (`walkSlice` puts the ciphertext string in its
//!   place), which decrypts back to a comment. An empty comment (`#`) stays `#` in a mapping.
//! - Comments inside the `sops:` metadata are dropped. `unencrypted_comment_regex` and
//!   `encrypted_comment_regex` leave comments, and the values after them, plain: pullseal
//!   refuses such files before this module is reached.
//!
//! Which node go-yaml gives a comment line to is intricate: a run of comment lines right after
//! a nested block goes to the innermost last node, whatever its indentation (so sops itself
//! cannot read back a comment it wrote at the end of a mapping whose last value is a nested
//! block). So [`read`] does not imitate go-yaml: it tries the additional data of each mapping
//! and list open at the comment's line, innermost first, and the one that authenticates the
//! comment is where it belongs. A comment that is not `ENC[…]` is plain text (sops keeps such
//! a comment plain on decryption and encrypts it on its next write, and so does pullseal); one
//! that is `ENC[…]` but authenticates nowhere is kept as it is, as sops keeps it.
//!
//! [`place`] decides where each comment goes in an edited tree: before the key (or list item)
//! it preceded, or at the end; the comments of a removed key, those inside it and those right
//! before it, go with it (a list's comments before an item beyond its new end go to its end).
//! A key added at the end with a block for its value comes after the end comments, as in sops'
//! tree. It then only uses places go-yaml reads back into the same
//! mapping: a comment before a key, after a scalar last value, or the first run after a nested
//! block moved into the innermost mapping or list, the one go-yaml gives it to.
//!
//! What this module must not do: put a comment's plaintext anywhere but a [`SecretString`] in
//! memory and the encrypt path, show one in a `Debug` or an error, or make a file fail to
//! decrypt that decrypts without it (anything it cannot place is dropped or kept as it is).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use secrecy::{SecretBox, SecretString};

use super::Value;
use super::cipher::{self, IvStash};

/// One step of a path from the document's root: a mapping key or a list index (items only,
/// comment items not counted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// The text of one comment, after its `#`.
#[derive(Clone)]
pub(crate) enum Text {
    /// Decrypted, or found plain: encrypted when written.
    Secret(SecretString),
    /// `ENC[…]` that no enclosing mapping or list authenticates: written back as it is.
    Opaque(String),
}

/// An item of a mapping or list as sops sees it: a comment, or a key or item with its place.
#[derive(Clone)]
enum Slot {
    Comment(Text),
    Key(String),
    Item(usize),
}

/// The comments of one document: for each mapping or list that has any, its keys or items
/// and comments in file order.
type DocComments = HashMap<Vec<Seg>, Vec<Slot>>;

/// The comments of a decrypted sops file, decrypted, with where each one stood; written back
/// by [`crate::sops::encrypt_with_comments`]. Its `Debug` shows counts only.
#[derive(Clone, Default)]
pub struct Comments {
    documents: Vec<DocComments>,
}

impl std::fmt::Debug for Comments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comments")
            .field("documents", &self.documents.len())
            .field("comments", &self.len())
            .finish()
    }
}

impl Comments {
    /// How many comments there are, in all documents.
    pub fn len(&self) -> usize {
        self.documents
            .iter()
            .flat_map(HashMap::values)
            .flatten()
            .filter(|slot| matches!(slot, Slot::Comment(_)))
            .count()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The comments of document `index` (0-based), placed in its edited tree `doc`.
    pub(crate) fn place(&self, index: usize, doc: &Value) -> Placed {
        self.documents
            .get(index)
            .map_or_else(Placed::default, |comments| place(doc, comments))
    }
}

// ------------------------------------------------------------------------------------ reading

/// A mapping or list of the file, as the parser met it.
struct Container {
    path: Vec<Seg>,
    /// The additional data of its comments (and values): its map keys joined, plus `:`.
    aad: String,
    /// 0-based column of its first key or dash.
    col: usize,
    /// Inside the `sops:` metadata.
    metadata: bool,
    entries: Vec<Entry>,
}

/// A key of a mapping or an item of a list.
struct Entry {
    seg: Seg,
    /// 1-based line of the key or item.
    line: usize,
    /// The container it holds, if it holds one.
    child: Option<usize>,
}

enum Frame {
    Map { id: usize, key: Option<(String, usize)> },
    Seq { id: usize, next: usize },
}

/// A comment found on a line, before it is decrypted and placed.
struct Found {
    line: usize,
    col: usize,
    text: String,
    /// After other content on its line (`key: value # text`).
    inline: bool,
}

/// A `- ENC[…,type:comment]` item: the list, its line, the index of the next real item.
struct ListComment {
    list: usize,
    line: usize,
    next: usize,
    text: String,
}

#[derive(Default)]
struct Skeleton {
    containers: Vec<Container>,
    /// Per document: the line it starts at and its root mapping.
    documents: Vec<(usize, Option<usize>)>,
    /// Scalars: start line and column, end line and column (1-based lines, 0-based columns),
    /// whether a block scalar (`|`, `>`).
    scalars: Vec<(usize, usize, usize, usize, bool)>,
    list_comments: Vec<ListComment>,
    stack: Vec<Frame>,
}

fn aad_of(keys_aad: &str, key: &str) -> String {
    if keys_aad == ":" {
        format!("{key}:")
    } else {
        format!("{keys_aad}{key}:")
    }
}

impl Skeleton {
    fn build(text: &str) -> Option<Skeleton> {
        let mut s = Skeleton::default();
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        for event in Parser::new_from_str(text) {
            let (event, span) = event.ok()?;
            match event {
                Event::DocumentStart(_) => {
                    s.documents.push((span.start.line(), None));
                    s.stack.clear();
                }
                Event::Scalar(value, style, _, _) => {
                    let (start_line, start_col) = (span.start.line(), span.start.col());
                    // A quoted scalar's span runs on over a comment after it: find its quote.
                    let (end_line, end_col) = match style {
                        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => quoted_end(
                            text,
                            &starts,
                            start_line,
                            start_col,
                            style == ScalarStyle::DoubleQuoted,
                        ),
                        _ => (span.end.line(), span.end.col()),
                    };
                    s.scalars.push((
                        start_line,
                        start_col,
                        end_line,
                        end_col,
                        matches!(style, ScalarStyle::Literal | ScalarStyle::Folded),
                    ));
                    s.leaf(Some(&value), span);
                }
                Event::Alias(_) => s.leaf(None, span),
                Event::MappingStart(..) => s.open(false, span),
                Event::SequenceStart(..) => s.open(true, span),
                Event::MappingEnd | Event::SequenceEnd => {
                    s.stack.pop();
                }
                _ => {}
            }
        }
        Some(s)
    }

    fn leaf(&mut self, text: Option<&str>, span: Span) {
        let line = span.start.line();
        match self.stack.last_mut() {
            Some(Frame::Map { id, key }) => match key.take() {
                None => *key = Some((text.unwrap_or_default().to_owned(), line)),
                Some((k, key_line)) => {
                    if let Some(c) = self.containers.get_mut(*id) {
                        c.entries.push(Entry {
                            seg: Seg::Key(k),
                            line: key_line,
                            child: None,
                        });
                    }
                }
            },
            Some(Frame::Seq { id, next }) => {
                if let Some(text) = text.filter(|t| cipher::value_type(t) == Some("comment")) {
                    self.list_comments.push(ListComment {
                        list: *id,
                        line,
                        next: *next,
                        text: text.to_owned(),
                    });
                } else if let Some(c) = self.containers.get_mut(*id) {
                    c.entries.push(Entry {
                        seg: Seg::Index(*next),
                        line,
                        child: None,
                    });
                    *next += 1;
                }
            }
            None => {}
        }
    }

    fn open(&mut self, list: bool, span: Span) {
        let id = self.containers.len();
        let (line, col) = (span.start.line(), span.start.col());
        let (path, aad, metadata) = match self.stack.last_mut() {
            None => {
                match self.documents.last_mut() {
                    Some((_, root @ None)) => *root = Some(id),
                    Some(_) => return self.stack.push(dead(list)),
                    None => self.documents.push((line, Some(id))),
                }
                (Vec::new(), ":".to_owned(), false)
            }
            Some(Frame::Map { id: parent, key }) => {
                let (k, key_line) = key.take().unwrap_or_else(|| (String::new(), line));
                let Some(p) = self.containers.get_mut(*parent) else {
                    return self.stack.push(dead(list));
                };
                p.entries.push(Entry {
                    seg: Seg::Key(k.clone()),
                    line: key_line,
                    child: Some(id),
                });
                let metadata = p.metadata || (p.path.is_empty() && k == "sops");
                let mut path = p.path.clone();
                path.push(Seg::Key(k.clone()));
                (path, aad_of(&p.aad, &k), metadata)
            }
            Some(Frame::Seq { id: parent, next }) => {
                let Some(p) = self.containers.get_mut(*parent) else {
                    return self.stack.push(dead(list));
                };
                p.entries.push(Entry {
                    seg: Seg::Index(*next),
                    line,
                    child: Some(id),
                });
                let mut path = p.path.clone();
                path.push(Seg::Index(*next));
                *next += 1;
                (path, p.aad.clone(), p.metadata)
            }
        };
        self.containers.push(Container {
            path,
            aad,
            col,
            metadata,
            entries: Vec::new(),
        });
        self.stack.push(if list {
            Frame::Seq { id, next: 0 }
        } else {
            Frame::Map { id, key: None }
        });
    }

    /// The comment lines of `text`: what follows a `#` that starts a line's comment, outside
    /// every scalar.
    fn comments(&self, text: &str) -> Vec<Found> {
        let lines: Vec<&str> = text.split('\n').collect();
        let count = lines.len() + 2;
        let mut covered = vec![false; count];
        // Per line, the column where a comment may start (after the scalars that end there).
        let mut from = vec![0usize; count];
        let first_col = |line: usize| {
            lines
                .get(line.wrapping_sub(1))
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ' || *c == '\t').count())
        };
        for &(start_line, _, end_line, end_col, block) in &self.scalars {
            if block {
                // A block scalar ends at the first line that is not its content; at the end of
                // the text without a newline its end is within its last line.
                for l in start_line..end_line.min(count) {
                    if let Some(c) = covered.get_mut(l) {
                        *c = true;
                    }
                }
                if first_col(end_line) < end_col
                    && let Some(c) = covered.get_mut(end_line)
                {
                    *c = true;
                }
            } else {
                if end_line > start_line {
                    if let Some(f) = from.get_mut(start_line) {
                        *f = usize::MAX;
                    }
                    for l in start_line + 1..end_line.min(count) {
                        if let Some(c) = covered.get_mut(l) {
                            *c = true;
                        }
                    }
                }
                if let Some(f) = from.get_mut(end_line) {
                    *f = (*f).max(end_col);
                }
            }
        }
        let mut out = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let number = index + 1;
            if covered.get(number).copied().unwrap_or(true) {
                continue;
            }
            let start = from.get(number).copied().unwrap_or(usize::MAX);
            let chars: Vec<char> = line.strip_suffix('\r').unwrap_or(line).chars().collect();
            let blank = |c: &char| *c == ' ' || *c == '\t';
            let hash = (start..chars.len())
                .find(|&p| chars.get(p) == Some(&'#') && (p == 0 || chars.get(p - 1).is_some_and(blank)));
            if let Some(p) = hash {
                out.push(Found {
                    line: number,
                    col: p,
                    text: chars.iter().skip(p + 1).collect(),
                    inline: !chars.iter().take(p).all(blank),
                });
            }
        }
        out
    }

    fn container(&self, id: usize) -> Option<&Container> {
        self.containers.get(id)
    }

    /// The root mapping of the document that `line` is in.
    fn root_at(&self, line: usize) -> Option<usize> {
        self.documents
            .iter()
            .rev()
            .find(|(start, _)| *start <= line)
            .or_else(|| self.documents.first())
            .and_then(|(_, root)| *root)
    }

    /// The document index of a root mapping.
    fn document_of(&self, root: usize) -> Option<usize> {
        self.documents.iter().position(|(_, r)| *r == Some(root))
    }

    /// The mappings and lists open at `line`, outermost first: each one's last entry that
    /// starts before the line (on it too, with `inclusive`) leads into the next.
    fn chain(&self, root: usize, line: usize, inclusive: bool) -> Vec<usize> {
        let mut chain = vec![root];
        let mut current = root;
        while let Some(c) = self.container(current) {
            // Entries are in file order: a binary search keeps many comments cheap.
            let before = c
                .entries
                .partition_point(|e| e.line < line || (inclusive && e.line == line));
            let last = before.checked_sub(1).and_then(|i| c.entries.get(i));
            match last.and_then(|e| e.child) {
                Some(child) if !chain.contains(&child) => {
                    chain.push(child);
                    current = child;
                }
                _ => break,
            }
        }
        chain
    }
}

/// Where the quoted scalar that opens at `line` and `col` (1-based line, 0-based column of
/// its quote) ends: the line and column just after its closing quote. `starts` holds the byte
/// offset of each line, so each scalar costs its own length only.
fn quoted_end(text: &str, starts: &[usize], line: usize, col: usize, double: bool) -> (usize, usize) {
    let quote = if double { '"' } else { '\'' };
    let rest = starts
        .get(line.saturating_sub(1))
        .and_then(|&at| text.get(at..))
        .unwrap_or_default();
    let mut chars = rest.chars().skip(col + 1).peekable();
    let (mut l, mut c) = (line, col + 1);
    while let Some(ch) = chars.next() {
        if ch == '\n' {
            (l, c) = (l + 1, 0);
            continue;
        }
        c += 1;
        if double && ch == '\\' {
            match chars.next() {
                Some('\n') => (l, c) = (l + 1, 0),
                Some(_) => c += 1,
                None => break,
            }
        } else if ch == quote {
            if !double && chars.peek() == Some(&quote) {
                chars.next();
                c += 1;
            } else {
                return (l, c);
            }
        }
    }
    (l, c)
}

/// A frame whose container is not recorded (a second root, which YAML does not allow).
fn dead(list: bool) -> Frame {
    if list {
        Frame::Seq {
            id: usize::MAX,
            next: 0,
        }
    } else {
        Frame::Map {
            id: usize::MAX,
            key: None,
        }
    }
}

/// The comments of sops file `text`, decrypted with `key`; each decrypted comment's IV goes
/// into `stash` so that an unchanged comment keeps its ciphertext. Never fails: a comment it
/// cannot place is dropped.
pub(crate) fn read(text: &str, key: &SecretBox<[u8; 32]>, stash: &mut IvStash) -> Comments {
    let Some(skeleton) = Skeleton::build(text) else {
        return Comments::default();
    };
    // Per container: (anchor entry index or None for the end, line, text).
    let mut placed: HashMap<usize, Vec<(Option<usize>, usize, Text)>> = HashMap::new();
    for found in skeleton.comments(text) {
        let Some(root) = skeleton.root_at(found.line) else {
            continue;
        };
        if let Some((container, anchor, text)) = attribute(&skeleton, root, &found, key, stash) {
            placed
                .entry(container)
                .or_default()
                .push((anchor, found.line, text));
        }
    }
    for item in &skeleton.list_comments {
        let Some(list) = skeleton.container(item.list) else {
            continue;
        };
        if list.metadata {
            continue;
        }
        let Ok(d) = cipher::decrypt_stashing(&item.text, key, &list.aad, Some(stash)) else {
            continue;
        };
        let anchor = (item.next < list.entries.len()).then_some(item.next);
        placed
            .entry(item.list)
            .or_default()
            .push((anchor, item.line, secret_text(d.value)));
    }
    let mut documents: Vec<DocComments> = vec![DocComments::new(); skeleton.documents.len().max(1)];
    for (id, mut comments) in placed {
        let Some(c) = skeleton.container(id) else {
            continue;
        };
        let root = c.path.is_empty();
        let Some(doc) = skeleton
            .document_of(id)
            .or_else(|| {
                // A nested container: the document whose root leads to it.
                skeleton
                    .documents
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, (_, r))| r.is_some_and(|r| r < id))
                    .map(|(i, _)| i)
            })
            .and_then(|d| documents.get_mut(d))
        else {
            continue;
        };
        comments.sort_by_key(|(_, line, _)| *line);
        let mut slots = Vec::new();
        let mut pending = comments.into_iter().peekable();
        for (index, entry) in c.entries.iter().enumerate() {
            while let Some((_, _, text)) = pending.next_if(|(anchor, _, _)| *anchor == Some(index)) {
                slots.push(Slot::Comment(text));
            }
            match &entry.seg {
                Seg::Key(k) if root && k == "sops" => {}
                Seg::Key(k) => slots.push(Slot::Key(k.clone())),
                Seg::Index(i) => slots.push(Slot::Item(*i)),
            }
        }
        slots.extend(pending.map(|(_, _, text)| Slot::Comment(text)));
        doc.insert(c.path.clone(), slots);
    }
    Comments { documents }
}

fn secret_text(value: Value) -> Text {
    match value {
        Value::Str(s) => Text::Secret(s),
        _ => Text::Secret(SecretString::from(String::new())),
    }
}

/// Which container a comment belongs to, before which of its entries (`None`: at its end),
/// and its text.
fn attribute(
    skeleton: &Skeleton,
    root: usize,
    found: &Found,
    key: &SecretBox<[u8; 32]>,
    stash: &mut IvStash,
) -> Option<(usize, Option<usize>, Text)> {
    let mut chain = skeleton.chain(root, found.line, found.inline);
    if found.inline {
        // A comment after content belongs before the innermost key or item on its line.
        let on_line = chain.iter().rposition(|&c| {
            skeleton.container(c).is_some_and(|c| {
                let at = c.entries.partition_point(|e| e.line < found.line);
                c.entries.get(at).is_some_and(|e| e.line == found.line)
            })
        });
        match on_line {
            Some(i) => chain.truncate(i + 1),
            None => chain = skeleton.chain(root, found.line, false),
        }
    }
    // Comments inside the metadata, or after it, are dropped, as sops drops them.
    if chain
        .iter()
        .any(|&c| skeleton.container(c).is_none_or(|c| c.metadata))
    {
        return None;
    }
    let by_column = |candidates: &mut dyn Iterator<Item = usize>| {
        let candidates: Vec<usize> = candidates.collect();
        candidates
            .iter()
            .copied()
            .find(|&c| skeleton.container(c).is_some_and(|c| c.col == found.col))
            .or_else(|| candidates.first().copied())
    };
    let (container, text) = if cipher::value_type(&found.text).is_some() {
        let opened = chain.iter().rev().find_map(|&c| {
            let aad = &skeleton.container(c)?.aad;
            let d = cipher::decrypt_stashing(&found.text, key, aad, Some(stash)).ok()?;
            d.comment.then(|| (aad.clone(), d.value))
        });
        match opened {
            // Several containers can share additional data (a list and the mappings in it):
            // the one at the comment's column, else the innermost.
            Some((aad, value)) => (
                by_column(
                    &mut chain
                        .iter()
                        .rev()
                        .copied()
                        .filter(|&c| skeleton.container(c).is_some_and(|c| c.aad == aad)),
                )?,
                secret_text(value),
            ),
            None => (
                by_column(&mut chain.iter().rev().copied())?,
                Text::Opaque(found.text.clone()),
            ),
        }
    } else {
        (
            by_column(&mut chain.iter().rev().copied())?,
            Text::Secret(SecretString::from(found.text.clone())),
        )
    };
    let c = skeleton.container(container)?;
    let first_after = c
        .entries
        .partition_point(|e| e.line < found.line || (!found.inline && e.line == found.line));
    let anchor = (first_after < c.entries.len()).then_some(first_after);
    // Before the metadata is at the end of the document.
    let anchor = anchor.filter(|&i| {
        !(c.path.is_empty()
            && c.entries
                .get(i)
                .is_some_and(|e| e.seg == Seg::Key("sops".to_owned())))
    });
    Some((container, anchor, text))
}

// ------------------------------------------------------------------------------------ writing

/// The comments of one mapping or list as they are written.
#[derive(Default)]
pub(crate) struct Place {
    /// Before a key (mappings) or an item (lists).
    before: HashMap<Seg, Vec<Text>>,
    /// After the last key or item.
    end: Vec<Text>,
}

impl Place {
    pub(crate) fn before(&self, seg: &Seg) -> &[Text] {
        self.before.get(seg).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn end(&self) -> &[Text] {
        &self.end
    }
}

/// Where the comments go in one edited document, by the path of their mapping or list.
#[derive(Default)]
pub(crate) struct Placed {
    places: HashMap<Vec<Seg>, Place>,
}

impl Placed {
    pub(crate) fn at(&self, path: &[Seg]) -> Option<&Place> {
        self.places.get(path)
    }

    fn entry(&mut self, path: &[Seg]) -> &mut Place {
        self.places.entry(path.to_vec()).or_default()
    }
}

fn at_path<'v>(doc: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    path.iter().try_fold(doc, |v, seg| match (v, seg) {
        (Value::Map(entries), Seg::Key(k)) => entries.iter().find(|(key, _)| key == k).map(|(_, v)| v),
        (Value::Seq(items), Seg::Index(i)) => items.get(*i),
        _ => None,
    })
}

/// Places `comments` in the edited tree `doc` (see the module documentation).
fn place(doc: &Value, comments: &DocComments) -> Placed {
    let mut placed = Placed::default();
    for (path, slots) in comments {
        let keyed = slots.iter().any(|s| matches!(s, Slot::Key(_)));
        let indexed = slots.iter().any(|s| matches!(s, Slot::Item(_)));
        match at_path(doc, path) {
            Some(Value::Map(entries)) if !indexed => {
                let place = placed.entry(path);
                let mut pending = Vec::new();
                for slot in slots {
                    match slot {
                        Slot::Comment(text) => pending.push(text.clone()),
                        Slot::Key(k) if entries.iter().any(|(key, _)| key == k) => {
                            if !pending.is_empty() {
                                place
                                    .before
                                    .entry(Seg::Key(k.clone()))
                                    .or_default()
                                    .append(&mut pending);
                            }
                        }
                        // The comments right before a removed key describe it: they go too.
                        Slot::Key(_) => pending.clear(),
                        Slot::Item(_) => {}
                    }
                }
                // A key added after the last one there was, whose value is a block, comes after
                // the end comments, as in sops' tree: they go before it rather than after its
                // block, where go-yaml would give them to the block's innermost last node.
                let old = |k: &str| slots.iter().any(|s| matches!(s, Slot::Key(key) if key == k));
                let after_old = entries.iter().rposition(|(k, _)| old(k)).map_or(0, |i| i + 1);
                let ends_in_block = entries.last().is_some_and(|(_, v)| {
                    matches!(v, Value::Map(m) if !m.is_empty()) || matches!(v, Value::Seq(l) if !l.is_empty())
                });
                match entries
                    .get(after_old..)
                    .and_then(|rest| rest.iter().find(|(k, _)| !old(k)))
                {
                    Some((new, _)) if !pending.is_empty() && ends_in_block => place
                        .before
                        .entry(Seg::Key(new.clone()))
                        .or_default()
                        .append(&mut pending),
                    _ => place.end.append(&mut pending),
                }
            }
            Some(Value::Seq(items)) if !keyed => {
                let place = placed.entry(path);
                let mut pending = Vec::new();
                for slot in slots {
                    match slot {
                        Slot::Comment(text) => pending.push(text.clone()),
                        Slot::Item(i) if *i < items.len() => {
                            if !pending.is_empty() {
                                place
                                    .before
                                    .entry(Seg::Index(*i))
                                    .or_default()
                                    .append(&mut pending);
                            }
                        }
                        Slot::Item(_) | Slot::Key(_) => {}
                    }
                }
                place.end.append(&mut pending);
            }
            // The subtree was removed or replaced by another kind: its comments go with it.
            _ => {}
        }
    }
    let mut path = Vec::new();
    let left = fix(doc, &mut path, &mut placed);
    placed.entry(&[]).end.extend(left);
    let mut chains = Vec::new();
    if let Value::Map(entries) = doc {
        for (k, v) in entries {
            path.push(Seg::Key(k.clone()));
            collect_chains(v, &mut path, &placed, &mut chains, None);
            path.pop();
        }
    }
    for chain in chains {
        first_run_to_innermost(doc, &chain, &mut placed);
    }
    placed
}

/// Moves what cannot stay where it is. Returns the comments of `value`, an empty mapping, that
/// go after it in its parent (an empty mapping is written `{}` and holds no comment line).
/// A list item mapping's comments before its first key go before the item in the list (the
/// first key is on the dash's line), and a list keeps only comments it can hold as items.
fn fix(value: &Value, path: &mut Vec<Seg>, placed: &mut Placed) -> Vec<Text> {
    match value {
        Value::Map(entries) => {
            for (index, (k, child)) in entries.iter().enumerate() {
                path.push(Seg::Key(k.clone()));
                let left = fix(child, path, placed);
                path.pop();
                if !left.is_empty() {
                    let place = placed.entry(path);
                    let slot = match entries.get(index + 1) {
                        Some((next, _)) => place.before.entry(Seg::Key(next.clone())).or_default(),
                        None => &mut place.end,
                    };
                    slot.splice(0..0, left);
                }
            }
            if entries.is_empty() && !path.is_empty() {
                return placed
                    .places
                    .remove(path.as_slice())
                    .map(|p| p.end)
                    .unwrap_or_default();
            }
            Vec::new()
        }
        Value::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(Seg::Index(index));
                let left = fix(item, path, placed);
                let lead = match item {
                    Value::Map(entries) => entries.first().and_then(|(first, _)| {
                        placed
                            .places
                            .get_mut(path.as_slice())
                            .and_then(|p| p.before.remove(&Seg::Key(first.clone())))
                    }),
                    _ => None,
                };
                path.pop();
                let place = placed.entry(path);
                if let Some(lead) = lead {
                    place.before.entry(Seg::Index(index)).or_default().extend(lead);
                }
                if !left.is_empty() {
                    let slot = if index + 1 < items.len() {
                        place.before.entry(Seg::Index(index + 1)).or_default()
                    } else {
                        &mut place.end
                    };
                    slot.splice(0..0, left);
                }
            }
            // `- ""` would be a value and an undecryptable item would break the file.
            if let Some(place) = placed.places.get_mut(path.as_slice()) {
                let keep = |t: &Text| matches!(t, Text::Secret(s) if !secrecy::ExposeSecret::expose_secret(s).is_empty());
                place.before.values_mut().for_each(|v| v.retain(keep));
                place.end.retain(keep);
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Whether `value` is written as a block (a mapping with keys, a list with items or comment
/// items), after which a comment line is a foot comment of its innermost last node.
fn is_block(value: &Value, path: &[Seg], placed: &Placed) -> bool {
    match value {
        Value::Map(entries) => !entries.is_empty(),
        Value::Seq(items) => {
            !items.is_empty()
                || placed
                    .at(path)
                    .is_some_and(|p| !p.end.is_empty() || p.before.values().any(|v| !v.is_empty()))
        }
        _ => false,
    }
}

/// Chains of blocks each the last value of the one before: the comment lines after the
/// deepest one's content are the end comments of each, innermost first.
fn collect_chains(
    value: &Value,
    path: &mut Vec<Seg>,
    placed: &Placed,
    chains: &mut Vec<Vec<Vec<Seg>>>,
    current: Option<usize>,
) {
    if !is_block(value, path, placed) {
        return;
    }
    let chain = current.unwrap_or_else(|| {
        chains.push(Vec::new());
        chains.len() - 1
    });
    if let Some(c) = chains.get_mut(chain) {
        c.push(path.clone());
    }
    let children: Vec<(Seg, &Value)> = match value {
        Value::Map(entries) => entries.iter().map(|(k, v)| (Seg::Key(k.clone()), v)).collect(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), v))
            .collect(),
        _ => Vec::new(),
    };
    // A list's end comment items are content: after them no chain goes on.
    let ends_in_items = matches!(value, Value::Seq(_)) && placed.at(path).is_some_and(|p| !p.end.is_empty());
    let last = children.len().checked_sub(1);
    for (index, (seg, child)) in children.into_iter().enumerate() {
        path.push(seg);
        let continues = Some(index) == last && !ends_in_items;
        collect_chains(child, path, placed, chains, continues.then_some(chain));
        path.pop();
    }
}

/// go-yaml gives the first run of comment lines after a nested block to the innermost last
/// node, and later runs (further left) to the mapping at their indentation. So the first
/// mapping of the chain, from the inside, that has end comments, has them moved into the
/// innermost block (as items, if it is a list), where go-yaml reads them.
fn first_run_to_innermost(doc: &Value, chain: &[Vec<Seg>], placed: &mut Placed) {
    let Some((innermost, outer)) = chain.split_last() else {
        return;
    };
    let innermost_is_list = matches!(at_path(doc, innermost), Some(Value::Seq(_)));
    if !innermost_is_list && placed.at(innermost).is_some_and(|p| !p.end.is_empty()) {
        return;
    }
    for path in outer.iter().rev() {
        let Some(place) = placed.places.get_mut(path.as_slice()) else {
            continue;
        };
        if place.end.is_empty() {
            continue;
        }
        // Only what is encrypted needs the right additional data; kept ciphertext stays.
        let (moved, kept): (Vec<Text>, Vec<Text>) = std::mem::take(&mut place.end)
            .into_iter()
            .partition(|t| matches!(t, Text::Secret(_)));
        place.end = kept;
        let moved: Vec<Text> = if innermost_is_list {
            moved
                .into_iter()
                .filter(
                    |t| matches!(t, Text::Secret(s) if !secrecy::ExposeSecret::expose_secret(s).is_empty()),
                )
                .collect()
        } else {
            moved
        };
        placed.entry(innermost).end.extend(moved);
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_found_outside_scalars_only() {
        let text = "# head\na: x # inline\nb:\n    c: |\n        # not a comment\n        line\n    # real\n    d: \"multi\n      # not\n      line\" # after\n    e: 'x #y'\n    f: 'it''s # no' # yes\n    g: \"a\\\"# no\" # yes too\n";
        let s = Skeleton::build(text).unwrap();
        let found: Vec<(usize, usize, String, bool)> = s
            .comments(text)
            .into_iter()
            .map(|f| (f.line, f.col, f.text, f.inline))
            .collect();
        assert_eq!(
            found,
            [
                (1, 0, " head".to_owned(), false),
                (2, 5, " inline".to_owned(), true),
                (7, 4, " real".to_owned(), false),
                (10, 12, " after".to_owned(), true),
                (12, 20, " yes".to_owned(), true),
                (13, 17, " yes too".to_owned(), true),
            ]
        );
    }

    #[test]
    fn the_chain_is_the_containers_open_at_a_line() {
        let text = "a:\n    b:\n        c: 1\n    # here\nd: 2\n";
        let s = Skeleton::build(text).unwrap();
        let root = s.root_at(4).unwrap();
        let paths: Vec<Vec<Seg>> = s
            .chain(root, 4, false)
            .into_iter()
            .map(|c| s.containers[c].path.clone())
            .collect();
        assert_eq!(
            paths,
            [
                vec![],
                vec![Seg::Key("a".into())],
                vec![Seg::Key("a".into()), Seg::Key("b".into())]
            ]
        );
        assert_eq!(s.containers[2].aad, "a:b:");
    }

    #[test]
    fn debug_shows_counts_only() {
        let mut doc = DocComments::new();
        doc.insert(
            Vec::new(),
            vec![Slot::Comment(Text::Secret(SecretString::from("s3cr3t note")))],
        );
        let c = Comments { documents: vec![doc] };
        assert_eq!(format!("{c:?}"), "Comments { documents: 1, comments: 1 }");
    }
}
