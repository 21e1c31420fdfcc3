//! Laws of the library, checked with proptest over generated streams: a stream without
//! pullseal annotations renders to itself byte for byte, and rendering is deterministic.

use std::fmt::Write as _;
use std::sync::OnceLock;

use proptest::prelude::*;
use pullseal::catalog::Catalog;
use pullseal::manifest::{Source, Stream};
use pullseal::render::{Options, render};
use pullseal::sops::Identities;

use crate::support::{AGE_KEY, CATALOG, path};

/// The test catalog, decrypted once for the whole test binary.
pub fn catalog() -> &'static Catalog {
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

/// Top-level entries of the kinds manifest tools have mangled, each with its own key so that
/// a document never repeats one: YAML 1.1 scalars, anchors, block scalars, comments, flow
/// style, ServiceAccounts and Secrets (parsed, never changed).
fn entry() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("apiVersion: v1\n"),
        Just("kind: ConfigMap\n"),
        Just("kind: Deployment\n"),
        Just("kind: ServiceAccount\n"),
        Just("kind: Secret\n"),
        Just("kind: \"Secret\"\n"),
        Just("metadata: {name: x, namespace: shop}\n"),
        Just("metadata:\n  name: why\n  namespace: ~\n"),
        Just("imagePullSecrets: [{name: legacy}]\n"),
        Just("data:\n  mode: 0644\n  on: yes\n  q: \"yes\"\n"),
        Just("spec:\n  template:\n    spec:\n      containers:\n      - image: nginx\n"),
        Just("x: &a {k: v}\ny: *a\n"),
        Just("z: |+\n  keep\n\n"),
        Just("w: >-\n  folded\n  text\n"),
        Just("# Source: chart/templates/x.yaml\n"),
        Just("\r\n"),
    ]
}

/// How documents are separated: markers, end markers, comments, directives.
fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("---\n"),
        Just("--- # marker comment\n"),
        Just("...\n---\n"),
        Just("...\n%YAML 1.1\n---\n"),
        Just("\n# between\n---\n"),
    ]
}

/// A stream of valid YAML documents, none of which names a pullseal annotation.
fn stream() -> impl Strategy<Value = String> {
    let document = proptest::sample::subsequence((0..16usize).collect::<Vec<_>>(), 0..6)
        .prop_flat_map(|picks| (Just(picks), proptest::collection::vec(entry(), 16)))
        .prop_map(|(picks, entries)| {
            let mut seen: Vec<&str> = Vec::new();
            let mut doc = String::new();
            for e in picks.iter().filter_map(|i| entries.get(*i)) {
                let key = e.split(':').next().unwrap_or("");
                if key.starts_with(['#', '\r']) || !seen.contains(&key) {
                    seen.push(key);
                    doc.push_str(e);
                }
            }
            doc
        });
    (
        any::<bool>(),
        proptest::collection::vec((document, separator()), 0..8),
    )
        .prop_map(|(bom, docs)| {
            let mut text = if bom { "\u{feff}".to_owned() } else { String::new() };
            for (doc, sep) in docs {
                text.push_str(&doc);
                text.push_str(sep);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn streams_without_references_come_back_byte_for_byte(text in stream()) {
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

/// Workloads with pullseal annotations of every kind, right and wrong, for the render fuzz
/// target's invariants (`pullseal::fuzzing::render`).
fn annotated() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        Just(("Pod", "spec")),
        Just(("Deployment", "spec.template.spec")),
        Just(("CronJob", "spec.jobTemplate.spec.template.spec")),
        Just(("Rollout", "spec.template.spec")),
        Just(("ConfigMap", "data")),
    ];
    let annotation = prop_oneof![
        Just("pullseal.io/registries: company"),
        Just("pullseal.io/registries: \"company, quay-team\""),
        Just("pullseal.io/registries: Company"),
        Just("pullseal.io/registries: ''"),
        Just("pullseal.io/registries: hub-public"),
        Just("pullseal.io/registries: ecr-main"),
        Just("registry.pullseal.io/web: dockerhub"),
        Just("registry.pullseal.io/web: nope"),
        Just("pullseal.io/registry: company"),
    ];
    let image = prop_oneof![
        Just("registry.example.com:5000/web:1"),
        Just("quay.io/acme/app"),
        Just("nginx"),
        Just("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"),
        Just("Not An Image"),
    ];
    let namespace = prop_oneof![Just("shop"), Just("team-a"), Just(""), Just("Bad_NS")];
    let document = (
        kind,
        proptest::collection::vec(annotation, 0..3),
        image,
        namespace,
    )
        .prop_map(|((kind, spec), annotations, image, namespace)| {
            let mut doc = format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: web\n");
            if !namespace.is_empty() {
                let _ = writeln!(doc, "  namespace: {namespace}");
            }
            if !annotations.is_empty() {
                doc.push_str("  annotations:\n");
                for a in annotations {
                    let _ = writeln!(doc, "    {a}");
                }
            }
            // The pod spec as a flow mapping at its path.
            let path: Vec<&str> = spec.split('.').collect();
            let mut value = format!("{{containers: [{{name: web, image: \"{image}\"}}]}}");
            for key in path.iter().skip(1).rev() {
                value = format!("{{{key}: {value}}}");
            }
            let _ = writeln!(doc, "{}: {value}", path[0]);
            doc
        });
    proptest::collection::vec(document, 1..4).prop_map(|docs| docs.join("---\n"))
}

proptest! {
    // Each case seals up to a few secrets, twice.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn renders_hold_the_fuzz_invariants(text in annotated(), choice in any::<u8>()) {
        pullseal::fuzzing::render(catalog(), choice, &text);
    }
}
