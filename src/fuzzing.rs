//! Entry points for the fuzz targets in `fuzz/` and for property tests: each checks an
//! invariant and panics when it does not hold, which is what a fuzzer looks for.
//!
//! Not part of the API; hidden from the docs. Nothing here may be used by the pipeline.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use crate::manifest::{Source, Stream, tree};
use crate::reference::{Image, RegistryList, Server};
use crate::render::{rewrite, verify};

/// Splitting and re-joining a stream gives it back byte for byte; every document either parses
/// or errors; where a document has a `spec` mapping, adding pull secrets to it gives a document
/// that still parses and lists the new names.
pub fn manifest(text: &str) {
    let stream = Stream::new(vec![Source {
        name: "fuzz".to_owned(),
        text: text.to_owned(),
    }]);
    assert_eq!(
        stream.write(&[], &[]),
        text,
        "an unedited stream must come back byte for byte"
    );
    for doc in &stream.documents {
        let doc_text = stream.text(doc);
        let Ok(Some(root)) = tree::parse(doc_text) else {
            continue;
        };
        let Some(spec) = root.path(&["spec"]).filter(|s| s.is_map() && !s.aliased) else {
            continue;
        };
        let names = vec!["pullseal-a".to_owned(), "on".to_owned()];
        let Ok(Some((edit, added))) = rewrite::add_pull_secrets(doc_text, spec, &names, &[]) else {
            continue;
        };
        let expected = [verify::Expected {
            path: vec![verify::Step::Key("spec".to_owned())],
            added,
        }];
        let edited = verify::apply(doc_text, std::slice::from_ref(&edit));
        // The invariant this target exists for: an edit the editor makes passes the check.
        if let Err(why) = verify::verify(doc_text, &root, &[edit], &expected) {
            panic!("edit failed its check ({why})\n--- before\n{doc_text}\n--- after\n{edited}");
        }
        // And, independently of the check, reading the result again lists the new names.
        let listed = match tree::parse(&edited) {
            Ok(Some(reparsed)) => reparsed
                .path(&["spec"])
                .map(rewrite::existing_names)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for name in &names {
            assert!(listed.contains(name), "{name} missing after the edit:\n{edited}");
        }
    }
}

/// Reference parsers never panic, and a parsed registry list prints back to itself.
pub fn reference(text: &str) {
    if let Ok(list) = text.parse::<RegistryList>() {
        assert_eq!(list.to_string().parse::<RegistryList>().ok(), Some(list));
    }
    let _ = text.parse::<Image>();
    if let Ok(server) = text.parse::<Server>() {
        assert_eq!(server.to_string().parse::<Server>().ok(), Some(server));
    }
}

/// SOPS decryption of arbitrary text never panics.
pub fn sops(text: &str) {
    // With no key file and no environment there is nothing to read, so discovery succeeds.
    let Ok(identities) = crate::sops::Identities::discover(None, &|_| None) else {
        return;
    };
    let _ = crate::sops::decrypt(text, &identities);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Pod-spec-like documents in block and flow style, with existing lists, nulls, comments,
    /// anchors, merge keys, odd indentation, and every line end YAML 1.1 knows.
    fn document() -> impl Strategy<Value = String> {
        let list = prop_oneof![
            Just(String::new()),
            Just("  imagePullSecrets:\n  - name: x\n".to_owned()),
            Just("  imagePullSecrets:\n    - name: x  # c\n    - {name: y}\n".to_owned()),
            Just("  imagePullSecrets: []\n".to_owned()),
            Just("  imagePullSecrets: [ {name: x} ]\n".to_owned()),
            Just("  imagePullSecrets:\n".to_owned()),
            Just("  imagePullSecrets: null\n".to_owned()),
            Just("  imagePullSecrets:\n  - name: \"q\"\n".to_owned()),
            Just("  imagePullSecrets:\n  - name: |\n      lit\n".to_owned()),
            Just("  imagePullSecrets: [] # none yet\n".to_owned()),
            Just("  imagePullSecrets: [{name: x}, ]\n".to_owned()),
            Just("  imagePullSecrets: [{name: x}   ]   # c\n".to_owned()),
            Just("  imagePullSecrets: [\n    {name: x}, # c\n  ]\n".to_owned()),
            Just("  imagePullSecrets: !!seq [{name: x}]\n".to_owned()),
            Just("  imagePullSecrets: &l\n  - name: x\n".to_owned()),
            Just("  imagePullSecrets: !!seq\n    - name: x\n".to_owned()),
            Just("  <<: {imagePullSecrets: [{name: m}], restartPolicy: Always}\n".to_owned()),
            Just("  <<: [{dnsPolicy: None}, {imagePullSecrets: [{name: m}]}]\n".to_owned()),
        ];
        let other = prop_oneof![
            Just("  containers:\n  - image: a\n".to_owned()),
            Just("  containers:\n    - image: a\n".to_owned()),
            Just("  mode: 0644 # keep\n".to_owned()),
            Just("  x: &a {k: v}\n  y: *a\n".to_owned()),
            Just("  # comment\n".to_owned()),
        ];
        let after = prop_oneof![
            Just(String::new()),
            Just("  volumes:\n  - name: v\n".to_owned()),
            Just("  script: |\n    echo\n\n".to_owned()),
            Just("  z: \"q\" # c\n".to_owned()),
        ];
        let line_end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r"), Just("\u{85}")];
        let head = prop_oneof![
            Just("spec:"),
            Just("spec: &s"),
            Just("spec: !!map"),
            Just("spec: &s !!map")
        ];
        (head, other, list, after, line_end, any::<bool>()).prop_map(|(h, a, l, b, nl, eof_newline)| {
            let mut doc = format!("kind: Pod\n{h}\n{a}{l}{b}");
            if !eof_newline {
                doc.pop();
            }
            doc.replace('\n', nl)
        })
    }

    proptest! {
        #[test]
        fn edits_keep_documents_valid(doc in document()) {
            super::manifest(&doc);
            // Every generated layout is one Kubernetes accepts: pullseal must be able to edit it.
            let root = crate::manifest::tree::parse(&doc).expect("generated documents parse").expect("content");
            let spec = root.path(&["spec"]).expect("a spec");
            // `spec:` with only a comment under it is null, which no pod spec may be.
            prop_assume!(spec.is_map());
            let edit = crate::render::rewrite::add_pull_secrets(&doc, spec, &["pullseal-a".to_owned()], &[]);
            prop_assert!(matches!(edit, Ok(Some(_))), "{edit:?} for\n{doc}");
        }

        #[test]
        fn any_text_is_safe(text in "\\PC{0,200}") {
            super::manifest(&text);
            super::reference(&text);
        }
    }
}
