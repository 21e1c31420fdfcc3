//! Splitting a YAML stream into documents without parsing it.
//!
//! A line that starts with `---` (followed by a blank or the end of the line) at column 0 is
//! always a document marker in YAML: the spec forbids that text inside block and quoted scalars
//! (`c-forbidden`), and so is `...`, the document end marker. So the split is exact without a
//! parser. Lines end where Kubernetes' YAML 1.1 reader (libyaml's scanner, ported in go-yaml)
//! ends them: LF, CR LF, a lone CR, NEL (U+0085), LS (U+2028) and PS (U+2029).
//!
//! Each span holds exactly one document with its prefix: comments and directives (`%YAML`,
//! `%TAG`) go with the document that follows them, also after a `...` end marker, so that a
//! document's index is the index a YAML reader gives it and its directives travel with it.
//!
//! This module must not interpret document contents; that is `tree`'s job, and only for the
//! documents that need it.

use std::ops::Range;

/// One document of a stream: the byte range of its text, including its prefix and its own
/// `---` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// Bytes of the document in the stream text.
    pub(crate) range: Range<usize>,
    /// 1-based line on which the span starts.
    pub(crate) line: usize,
}

/// The line break characters of YAML 1.1, which Kubernetes' reader uses.
pub(crate) const BREAKS: [char; 5] = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];

/// Where new lines go after content that ends at `end`: the start of the next line (`end`
/// itself when it already is one), and the text the insert must start with: the line break
/// `nl` when that is the end of a `text` whose last line has no break.
pub(crate) fn after_line(text: &str, end: usize, nl: &str) -> (usize, String) {
    let at_line_start = end == 0 || text.get(..end).is_some_and(|t| t.ends_with(BREAKS));
    let at = if at_line_start { end } else { line_end(text, end) };
    let mut insert = String::new();
    if at == text.len() && !text.ends_with(BREAKS) {
        insert.push_str(nl);
    }
    (at, insert)
}

/// The byte just past the line break that ends the line holding `from` (or the text's end).
/// This runs over every byte of every stream, so it searches with `memchr` for the bytes a
/// break can start with: LF, CR, C2 (NEL is C2 85) and E2 (LS and PS are E2 80 A8/A9).
pub(crate) fn line_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    while let Some(rest) = bytes.get(i..) {
        let common = memchr::memchr3(b'\n', b'\r', 0xC2, rest).unwrap_or(rest.len());
        // E2 only within the line found so far, so that the search stays linear.
        let at = rest
            .get(..common)
            .and_then(|r| memchr::memchr(0xE2, r))
            .unwrap_or(common);
        i += at;
        match bytes.get(i) {
            None => break,
            Some(b'\n') => return i + 1,
            Some(b'\r') => {
                return if bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
            }
            Some(0xC2) if bytes.get(i + 1) == Some(&0x85) => return i + 2,
            Some(0xE2)
                if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                return i + 3;
            }
            Some(_) => i += 1,
        }
    }
    text.len()
}

/// The line break `text` (a document or a whole source) is written with, for the lines
/// pullseal adds to it: that of its first line (LF where it has none, or ends lines with NEL,
/// LS or PS, which not every reader takes as line breaks).
pub(crate) fn line_break(text: &str) -> &'static str {
    let end = line_end(text, 0);
    let first = text.get(..end).unwrap_or("");
    if first.ends_with("\r\n") {
        "\r\n"
    } else if first.ends_with('\r') {
        "\r"
    } else {
        "\n"
    }
}

/// The byte where the line holding `at` starts.
pub(crate) fn line_start(text: &str, at: usize) -> usize {
    text.get(..at).and_then(|t| t.rfind(BREAKS)).map_or(0, |i| {
        i + text
            .get(i..)
            .and_then(|t| t.chars().next())
            .map_or(1, char::len_utf8)
    })
}

/// How many line breaks `text` holds (CR LF counts once).
pub(crate) fn count_lines(text: &str) -> usize {
    let mut n = 0;
    let mut at = 0;
    while at < text.len() {
        let end = line_end(text, at);
        if end == text.len() && !text.ends_with(BREAKS) {
            break;
        }
        n += 1;
        at = end;
    }
    n
}

/// Where a line stands in the stream's document structure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    /// `---`: a document starts here.
    Start,
    /// `...`: the document ends after this line.
    End,
    /// Blank, a comment, or a directive while no document has begun: prefix material.
    Prefix,
    /// Anything else: document content.
    Content,
}

fn classify(line: &str, in_document: bool) -> Line {
    let marker = |m: &str| {
        line.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']) || rest.starts_with(BREAKS))
    };
    if marker("---") {
        return Line::Start;
    }
    if marker("...") {
        return Line::End;
    }
    let body = line
        .trim_start_matches('\u{feff}')
        .trim_start_matches([' ', '\t']);
    let blank = body.is_empty() || body.starts_with(BREAKS) || body.starts_with('#');
    if blank || (!in_document && line.starts_with('%')) {
        Line::Prefix
    } else {
        Line::Content
    }
}

/// Splits `text` into documents. The ranges cover `text` exactly, in order, so joining them
/// gives the input back byte for byte.
pub(crate) fn split(text: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut start = 0;
    // Whether the current span has begun its document (a `---` or content).
    let mut in_document = false;
    // Whether a `...` ended the current span's document.
    let mut ended = false;
    let mut at = 0;
    let (mut line_no, mut start_line) = (1, 1);
    while at < text.len() {
        let end = line_end(text, at);
        let line = text.get(at..end).unwrap_or("");
        let class = classify(line, in_document && !ended);
        let opens = matches!(class, Line::Start | Line::Content);
        // A new document (or its prefix after `...`) begins at this line; so does a
        // directive after `...`, which belongs to the next document.
        let directive = ended && class == Line::Prefix && line.starts_with('%');
        if (ended && class != Line::Prefix) || (class == Line::Start && in_document) || directive {
            if at > start {
                spans.push(Span {
                    range: start..at,
                    line: start_line,
                });
            }
            start = at;
            start_line = line_no;
            in_document = false;
            ended = false;
        }
        if opens {
            in_document = true;
        }
        if class == Line::End {
            ended = true;
        }
        at = end;
        line_no += 1;
    }
    if start < text.len() || spans.is_empty() {
        spans.push(Span {
            range: start..text.len(),
            line: start_line,
        });
    }
    // A trailing span of comments and blanks after `...` is no document: it stays with the
    // last one.
    if let [.., prev, last] = spans.as_mut_slice() {
        let tail = text.get(last.range.clone()).unwrap_or("");
        if split_is_prefix_only(tail) {
            prev.range.end = last.range.end;
            spans.pop();
        }
    }
    spans
}

/// Whether `text` holds only comments and blank lines (no marker, directive or content).
fn split_is_prefix_only(text: &str) -> bool {
    let mut at = 0;
    while at < text.len() {
        let end = line_end(text, at);
        let line = text.get(at..end).unwrap_or("");
        if line.starts_with('%') || classify(line, true) != Line::Prefix {
            return false;
        }
        at = end;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        split(text).into_iter().map(|s| &text[s.range]).collect()
    }

    #[test]
    fn splits_on_markers_only_at_column_zero() {
        let text = "a: 1\n---\nb: |\n  ---\n  x\n--- # c\nc: 3\n";
        assert_eq!(
            pieces(text),
            vec!["a: 1\n", "---\nb: |\n  ---\n  x\n", "--- # c\nc: 3\n"]
        );
    }

    #[test]
    fn keeps_leading_marker_with_its_document() {
        assert_eq!(pieces("---\na: 1\n---\n"), vec!["---\na: 1\n", "---\n"]);
        assert_eq!(pieces(""), vec![""]);
        assert_eq!(pieces("----\n"), vec!["----\n"]);
        assert_eq!(pieces("# head\n\n---\na: 1\n"), vec!["# head\n\n---\na: 1\n"]);
    }

    #[test]
    fn directives_go_with_their_document() {
        assert_eq!(pieces("%YAML 1.1\n---\na: 1\n"), vec!["%YAML 1.1\n---\na: 1\n"]);
        assert_eq!(
            pieces("a: 1\n...\n%YAML 1.1\n---\nb: 2\n"),
            vec!["a: 1\n...\n", "%YAML 1.1\n---\nb: 2\n"]
        );
        assert_eq!(
            pieces("a: 1\n...\n# c\n%TAG !e! tag:e.com,2000:\n--- !e!x\nb: 2\n"),
            vec!["a: 1\n...\n# c\n", "%TAG !e! tag:e.com,2000:\n--- !e!x\nb: 2\n"]
        );
        // Content after `...` is a new bare document; comments alone stay behind.
        assert_eq!(pieces("a: 1\n...\nb: 2\n"), vec!["a: 1\n...\n", "b: 2\n"]);
        assert_eq!(pieces("a: 1\n...\n# end\n"), vec!["a: 1\n...\n# end\n"]);
        // Inside a document, `%` at column 0 is content (an error there, for the parser).
        assert_eq!(pieces("a: |\n  x\n%y\n"), vec!["a: |\n  x\n%y\n"]);
    }

    #[test]
    fn every_yaml_1_1_line_break_ends_a_line() {
        assert_eq!(
            pieces("a: 1\r\n---\r\nb: 2\r\n"),
            vec!["a: 1\r\n", "---\r\nb: 2\r\n"]
        );
        assert_eq!(pieces("a: 1\r---\rb: 2\r"), vec!["a: 1\r", "---\rb: 2\r"]);
        assert_eq!(
            pieces("a: 1\u{85}---\u{2028}b: 2\u{2029}---\nc: 3"),
            vec!["a: 1\u{85}", "---\u{2028}b: 2\u{2029}", "---\nc: 3"]
        );
    }

    #[test]
    fn line_helpers() {
        let text = "ab\r\ncd\ref\u{2028}g";
        assert_eq!(line_end(text, 0), 4);
        assert_eq!(line_end(text, 4), 7);
        assert_eq!(line_end(text, 7), 12);
        assert_eq!(line_end(text, 12), text.len());
        assert_eq!(line_start(text, 5), 4);
        assert_eq!(line_start(text, 13), 12);
        assert_eq!(line_start(text, 1), 0);
    }

    proptest::proptest! {
        #[test]
        fn split_covers_the_input(text in "(---\n|a: 1\n|# c\n| x\n|--- \n|\r\n|\r|...\n|%YAML 1.1\n|\u{85}){0,12}") {
            let joined: String = pieces(&text).concat();
            proptest::prop_assert_eq!(joined, text);
        }
    }
}
