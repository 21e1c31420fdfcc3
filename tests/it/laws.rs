//! Laws of the library, checked with proptest over generated streams: a stream without
//! pullseal annotations renders to itself byte for byte, and rendering is deterministic.

use std::sync::OnceLock;

use proptest::prelude::*;
use pullseal::catalog::Catalog;
use pullseal::manifest::{Source, Stream};
use pullseal::render::{Options, render};
use pullseal::sops::Identities;

use crate::support::{AGE_KEY, CATALOG, path};

fn catalog() -> &'static Catalog {
    static CATALOG_ONCE: OnceLock<Catalog> = OnceLock::new();
    CATALOG_ONCE.get_or_init(|| {
        let ids = Identities::discover(Some(&path(AGE_KEY)), &|_| None).unwrap();
        Catalog::load(&path(CATALOG), &ids).unwrap()
    })
}

fn options() -> Options {
    Options::new("test")
}

fn run(text: &str) -> Vec<u8> {
    let stream = Stream::new(vec![Source {
        name: "law".to_owned(),
        text: text.to_owned(),
    }]);
    let rendered = render(&stream, catalog(), &options()).unwrap();
    let mut out = Vec::new();
    rendered.write_to(&stream, &mut out).unwrap();
    out
}

/// Lines of the kinds manifest tools have mangled: YAML 1.1 scalars, anchors, block scalars,
/// comments, markers, flow style, CRLF, ServiceAccounts and Secrets (parsed, never changed).
fn line() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("---\n"),
        Just("--- # marker comment\n"),
        Just("...\n"),
        Just("# Source: chart/templates/x.yaml\n"),
        Just("apiVersion: v1\n"),
        Just("kind: ConfigMap\n"),
        Just("kind: Deployment\n"),
        Just("kind: ServiceAccount\n"),
        Just("kind: Secret\n"),
        Just("metadata: {name: x, namespace: shop}\n"),
        Just("imagePullSecrets: [{name: legacy}]\n"),
        Just("data:\n  mode: 0644\n  on: yes\n  q: \"yes\"\n"),
        Just("spec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n"),
        Just("x: &a {k: v}\ny: *a\n"),
        Just("z: |+\n  keep\n\n"),
        Just("w: >-\n  folded\n  text\n"),
        Just("\r\n"),
        Just("null\n"),
        Just("  bad: [indent\n"),
        Just("\u{feff}"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn streams_without_references_come_back_byte_for_byte(lines in proptest::collection::vec(line(), 0..40)) {
        let text: String = lines.concat();
        prop_assert_eq!(run(&text), text.into_bytes());
    }

    #[test]
    fn rendering_is_deterministic(pick in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4)) {
        let docs = [
            "kind: Pod\nmetadata: {name: a, namespace: shop, annotations: {pullseal.io/registries: company}}\nspec: {containers: [{name: c, image: \"registry.example.com:5000/a\"}]}\n",
            "kind: Pod\nmetadata: {name: b, namespace: team-a, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: c, image: quay.io/acme/b}]}\n",
            "kind: ConfigMap\nmetadata: {name: c}\ndata: {mode: 0644}\n",
            "kind: Pod\nmetadata: {name: d, namespace: shop, annotations: {registry.pullseal.io/c: dockerhub}}\nspec: {containers: [{name: c, image: nginx}]}\n",
        ];
        let text = pick.iter().map(|i| docs[*i]).collect::<Vec<_>>().join("---\n");
        prop_assert_eq!(run(&text), run(&text));
    }
}
