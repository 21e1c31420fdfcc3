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
        let checked = verify::verify(doc_text, &root, &[edit], &expected);
        assert!(
            checked.is_ok(),
            "edit failed its check ({checked:?})\n--- before\n{doc_text}\n--- after\n{edited}"
        );
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

/// The KRM function's envelope: reading any text as a `ResourceList` never panics; cutting the
/// secrets of an earlier run and appending new secrets and warnings either refuses or gives a
/// list that, read again, holds every item it had, the secret as the last item and the warning
/// as the last result.
pub fn krm(text: &str) {
    use crate::frontend::krm;
    let stream = Stream::new(vec![Source {
        name: "fuzz".to_owned(),
        text: text.to_owned(),
    }]);
    let Ok(list) = krm::resource_list(&stream) else {
        return;
    };
    let Ok((stream, list, _)) = krm::without_own_secrets(stream, list) else {
        return;
    };
    let before = list.root.get("items").map_or(0, |(items, _)| items.items().len());
    let edited = stream.write(&[], &[]);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"pullseal-fuzz\"\n";
    let Ok(out) = krm::assemble(&edited, &[secret], &["a \"warning\"".to_owned()]) else {
        return;
    };
    let parsed = tree::parse(&out).ok().flatten();
    assert!(parsed.is_some(), "the assembled list does not parse:\n{out}");
    let Some(after) = parsed else { return };
    let items = after.get("items").map(|(i, _)| i.items()).unwrap_or_default();
    assert_eq!(items.len(), before + 1, "items lost or gained:\n{out}");
    let name = items
        .last()
        .and_then(|s| s.path(&["metadata", "name"]))
        .and_then(tree::Node::as_str);
    assert_eq!(
        name,
        Some("pullseal-fuzz"),
        "the secret is not the last item:\n{out}"
    );
    let message = after
        .get("results")
        .and_then(|(r, _)| r.items().last())
        .and_then(|r| r.path(&["message"]))
        .and_then(tree::Node::as_str);
    assert_eq!(
        message,
        Some("a \"warning\""),
        "the warning is not the last result:\n{out}"
    );
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

    /// `ResourceList`s as kpt and kustomize write them, and as a person might: compact or
    /// indented items, a comment after the dash, flow and JSON lists, an empty list, existing
    /// results, an earlier run's pull secret among the items, CRLF.
    fn resource_list() -> impl Strategy<Value = String> {
        let item = prop_oneof![
            Just("- apiVersion: v1\n  kind: ConfigMap\n  data: {mode: 0644}\n".to_owned()),
            Just("- # head comment\n  # more\n  kind: Pod\n  metadata: {name: p}\n".to_owned()),
            Just("- kind: Pod\n  spec:\n    x: |\n      text\n".to_owned()),
            Just("- kind: SealedSecret\n  apiVersion: bitnami.com/v1alpha1\n  metadata:\n    name: pullseal-a\n    labels: {app.kubernetes.io/managed-by: pullseal}\n    annotations: {pullseal.io/registry: a}\n".to_owned()),
            Just("- {kind: Service, metadata: {name: s}} # flow item\n".to_owned()),
        ];
        let items = prop_oneof![
            (proptest::collection::vec(item, 1..4), any::<bool>()).prop_map(|(v, indent)| {
                let block = v.join("");
                // Indented (`  - x`) as well as compact, the same for every item of a list.
                let block = if indent {
                    block.lines().fold(String::new(), |mut out, l| {
                        out.push_str("  ");
                        out.push_str(l);
                        out.push('\n');
                        out
                    })
                } else {
                    block
                };
                format!("items:\n{block}")
            }),
            Just("items: []\n".to_owned()),
            Just("items: [{kind: A}, {kind: B}]  # flow\n".to_owned()),
        ];
        let tail = prop_oneof![
            Just(String::new()),
            Just("functionConfig:\n  kind: ConfigMap\n  data: {cluster: x}\n".to_owned()),
            Just("results:\n- message: earlier\n".to_owned()),
            Just("results: []\n".to_owned()),
        ];
        let json = Just("{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": [{\"kind\": \"A\"}]}".to_owned());
        let yaml = (items, tail, any::<bool>()).prop_map(|(items, tail, crlf)| {
            let text = format!("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n{items}{tail}");
            if crlf { text.replace('\n', "\r\n") } else { text }
        });
        prop_oneof![4 => yaml, 1 => json]
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
            super::krm(&text);
        }

        #[test]
        fn resource_lists_take_secrets_in_any_layout(list in resource_list()) {
            super::krm(&list);
            // Every generated list is one kpt or kustomize could send: pullseal must add to it.
            let stream = crate::manifest::Stream::new(vec![crate::manifest::Source {
                name: "t".to_owned(),
                text: list.clone(),
            }]);
            let read = crate::frontend::krm::resource_list(&stream).expect("a ResourceList");
            let (stream, _, _) = crate::frontend::krm::without_own_secrets(stream, read).expect("cut");
            let edited = stream.write(&[], &[]);
            let secret = "kind: Secret\nmetadata: {name: s}\n";
            let out = crate::frontend::krm::assemble(&edited, &[secret], &["w".to_owned()]);
            prop_assert!(out.is_ok(), "{out:?} for\n{list}");
        }
    }
}
