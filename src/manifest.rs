//! Manifest streams: where each document came from, its text, and text edits.
//!
//! The stream is kept as the text it arrived as. A document pullseal does not change is
//! written back from that text, byte for byte; a changed one is the same text with a few
//! insertions (an `Edit` each). Nothing here serialises YAML from a tree: re-serialising is how
//! other tools turned `0644` into `420` and `"yes"` into `true`.
//!
//! This module must not decide *what* to edit; `render` does.

pub(crate) mod stream;
pub(crate) mod tabs;
pub(crate) mod tree;
pub(crate) mod yaml11;

use std::fmt;
use std::io;
use std::ops::Range;

/// One input: a file or standard input, with its whole text.
#[derive(Debug, Clone)]
pub struct Source {
    /// How diagnostics name it: the path as given, or `<stdin>`.
    pub name: String,
    /// The text as read.
    pub text: String,
}

/// Where a document came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The source's name.
    pub file: String,
    /// 1-based index of the document in its source.
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A file name can hold any character: shown escaped unless it is plain.
        let file = crate::error::shown(&self.file);
        write!(f, "{file}: document {}", self.document)
    }
}

/// One document of a source.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) source: usize,
    pub(crate) range: Range<usize>,
    pub(crate) origin: Origin,
    /// 1-based line of the source on which the document's text starts.
    pub(crate) line: usize,
}

/// All documents of all sources, in input order.
#[derive(Debug)]
pub struct Stream {
    pub(crate) sources: Vec<Source>,
    pub(crate) documents: Vec<Document>,
}

/// A text change inside one document: replace `range` (relative to the document) with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) range: Range<usize>,
    pub(crate) text: String,
}

impl Stream {
    /// Splits every source into documents; parses nothing.
    pub fn new(sources: Vec<Source>) -> Stream {
        let mut documents = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            for (n, span) in stream::split(&source.text).into_iter().enumerate() {
                documents.push(Document {
                    source: i,
                    range: span.range,
                    origin: Origin {
                        file: source.name.clone(),
                        document: n + 1,
                    },
                    line: span.line,
                });
            }
        }
        Stream { sources, documents }
    }

    /// Whether any document is a mapping, i.e. could be a Kubernetes object. A stream without
    /// one is empty to a consumer such as Argo CD, however many bytes of comments it holds. A
    /// document that does not parse counts as one: the render reports it.
    pub fn has_object(&self) -> bool {
        self.documents
            .iter()
            .any(|doc| tree::parse(self.text(doc)).map_or(true, |node| node.is_some_and(|n| n.is_map())))
    }

    /// The text of document `i`.
    pub(crate) fn text(&self, doc: &Document) -> &str {
        self.sources
            .get(doc.source)
            .and_then(|s| s.text.get(doc.range.clone()))
            .unwrap_or("")
    }

    /// Writes the stream with `edits` applied (indexed like `documents`), then `extra`
    /// documents (written with LF, given the last source's line break). Sources are joined
    /// with `---` where the next one does not start with it.
    /// The output is streamed: nothing is copied but the edited pieces.
    pub(crate) fn write_to(
        &self,
        out: &mut dyn io::Write,
        edits: &[Vec<Edit>],
        extra: &[impl AsRef<str>],
    ) -> io::Result<()> {
        let mut tail = Tail::default();
        let mut current_source = None;
        for (i, doc) in self.documents.iter().enumerate() {
            let text = self.text(doc);
            // A byte-order mark may open a stream, not the middle of one: the first document of
            // a later source is written without it (edits still count from the mark).
            let mut skip = 0;
            if current_source != Some(doc.source) {
                if current_source.is_some() {
                    if text.starts_with('\u{feff}') {
                        skip = '\u{feff}'.len_utf8();
                    }
                    if tail.written && !tail.newline {
                        tail.put(out, self.line_break(current_source))?;
                    }
                    if tail.written && !text.get(skip..).is_some_and(|t| t.starts_with("---")) {
                        tail.put(out, "---")?;
                        tail.put(out, self.line_break(Some(doc.source)))?;
                    }
                }
                current_source = Some(doc.source);
            }
            apply(
                out,
                &mut tail,
                text,
                skip,
                edits.get(i).map_or(&[][..], Vec::as_slice),
            )?;
        }
        // The documents pullseal adds are written with LF; they take the line break of the
        // source they follow, so that a CRLF stream stays CRLF throughout.
        let nl = self.line_break(current_source);
        for doc in extra.iter().map(AsRef::as_ref) {
            if tail.written && !tail.newline {
                tail.put(out, nl)?;
            }
            tail.put(out, "---")?;
            tail.put(out, nl)?;
            if nl == "\n" {
                tail.put(out, doc)?;
                continue;
            }
            // Piece by piece, not a copy: a `seal: none` Secret holds a credential.
            for piece in doc.split_inclusive('\n') {
                match piece.strip_suffix('\n') {
                    Some(line) => {
                        tail.put(out, line)?;
                        tail.put(out, nl)?;
                    }
                    None => tail.put(out, piece)?,
                }
            }
        }
        Ok(())
    }

    /// The line break of source `i` (LF when there is none): what the text pullseal writes
    /// into or after it ends its lines with.
    fn line_break(&self, i: Option<usize>) -> &'static str {
        i.and_then(|i| self.sources.get(i))
            .map_or("\n", |s| stream::line_break(&s.text))
    }

    /// The stream with `edits` and `extra` as one string (for tests and the fuzz targets).
    pub(crate) fn write(&self, edits: &[Vec<Edit>], extra: &[String]) -> String {
        let mut out = Vec::new();
        let _ = self.write_to(&mut out, edits, extra);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// What was last written, so sources can be joined without reading the output back.
#[derive(Default)]
struct Tail {
    written: bool,
    newline: bool,
}

impl Tail {
    fn put(&mut self, out: &mut dyn io::Write, s: &str) -> io::Result<()> {
        if !s.is_empty() {
            out.write_all(s.as_bytes())?;
            self.written = true;
            self.newline = s.ends_with(stream::BREAKS);
        }
        Ok(())
    }
}

/// Writes `text` from byte `skip` on with `edits` (sorted or not, non-overlapping, positioned in
/// the whole `text`) applied.
fn apply(
    out: &mut dyn io::Write,
    tail: &mut Tail,
    text: &str,
    skip: usize,
    edits: &[Edit],
) -> io::Result<()> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let mut at = skip;
    for edit in sorted {
        if edit.range.start < at {
            continue;
        }
        tail.put(out, text.get(at..edit.range.start).unwrap_or(""))?;
        tail.put(out, &edit.text)?;
        at = edit.range.end;
    }
    tail.put(out, text.get(at..).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source {
            name: name.to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn unedited_stream_is_identical() {
        let text = "# head\na: 0644\n---\nb: \"yes\"\n...\n";
        let s = Stream::new(vec![src("-", text)]);
        assert_eq!(s.write(&[], &[]), text);
    }

    #[test]
    fn sources_are_joined_with_markers() {
        let s = Stream::new(vec![
            src("a", "a: 1"),
            src("b", "b: 2\n"),
            src("c", "---\nc: 3\n"),
        ]);
        assert_eq!(
            s.write(&[], &["d: 4\n".to_owned()]),
            "a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n"
        );
    }

    #[test]
    fn added_text_takes_the_line_break_of_the_source_it_follows() {
        let s = Stream::new(vec![src("a", "a: 1"), src("b", "b: 2\r\nc: 3")]);
        assert_eq!(
            s.write(&[], &["d: 4\ne: 5\n".to_owned(), "f: 6".to_owned()]),
            "a: 1\n---\r\nb: 2\r\nc: 3\r\n---\r\nd: 4\r\ne: 5\r\n---\r\nf: 6"
        );
        let s = Stream::new(vec![src("a", "a: 1\r")]);
        assert_eq!(s.write(&[], &["d: 4\n".to_owned()]), "a: 1\r---\rd: 4\r");
    }

    #[test]
    fn a_later_source_loses_its_byte_order_mark_but_not_its_edits() {
        let s = Stream::new(vec![src("a", "a: 1\n"), src("b", "\u{feff}b: 2\n")]);
        let edits = vec![
            vec![],
            vec![Edit {
                range: 6..7,
                text: "3".to_owned(),
            }],
        ];
        assert_eq!(s.write(&edits, &[]), "a: 1\n---\nb: 3\n");
    }

    #[test]
    fn documents_know_their_first_line() {
        let s = Stream::new(vec![src("a", "a: 1\r\n---\r\nb: 2\r---\rc: 3\n")]);
        let lines: Vec<usize> = s.documents.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![1, 2, 4]);
    }

    #[test]
    fn edits_apply_inside_documents() {
        let s = Stream::new(vec![src("-", "a: 1\n---\nb: 2\n")]);
        let edits = vec![
            vec![],
            vec![Edit {
                range: 7..8,
                text: "3".to_owned(),
            }],
        ];
        assert_eq!(s.write(&edits, &[]), "a: 1\n---\nb: 3\n");
    }
}
