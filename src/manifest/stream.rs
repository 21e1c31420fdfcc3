//! Splitting a YAML stream into documents without parsing it.
//!
//! A line that starts with `---` (followed by a space, a tab or the end of the line) at column 0
//! is always a document marker in YAML: the spec forbids that text inside block and quoted
//! scalars (`c-forbidden`), so the split is exact without a parser. This keeps the cost of
//! documents that carry no pullseal reference at one pass over their bytes.
//!
//! This module must not interpret document contents; that is `tree`'s job, and only for the
//! documents that need it.

use std::ops::Range;

/// One document of a stream: the byte range of its text, including its own `---` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// Bytes of the document in the stream text.
    pub(crate) range: Range<usize>,
}

/// Splits `text` into documents. The ranges cover `text` exactly, in order, so joining them
/// gives the input back byte for byte.
pub(crate) fn split(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut line_start = 0;
    let bytes = text.as_bytes();
    while line_start < bytes.len() {
        let line_end = memchr_newline(bytes, line_start).map_or(bytes.len(), |nl| nl + 1);
        let line = text.get(line_start..line_end).unwrap_or("");
        if line_start > start && is_document_start(line) {
            spans.push(Span {
                range: start..line_start,
            });
            start = line_start;
        }
        line_start = line_end;
    }
    if start < bytes.len() || spans.is_empty() {
        spans.push(Span {
            range: start..bytes.len(),
        });
    }
    spans
}

fn memchr_newline(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + from)
}

/// `---` at column 0 followed by whitespace or the end of the line.
fn is_document_start(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("---") else {
        return false;
    };
    rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n'])
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
    }

    #[test]
    fn crlf_markers() {
        assert_eq!(
            pieces("a: 1\r\n---\r\nb: 2\r\n"),
            vec!["a: 1\r\n", "---\r\nb: 2\r\n"]
        );
    }

    proptest::proptest! {
        #[test]
        fn split_covers_the_input(text in "(---\n|a: 1\n|# c\n| x\n|--- \n|\r\n){0,12}") {
            let joined: String = pieces(&text).concat();
            proptest::prop_assert_eq!(joined, text);
        }
    }
}
