//! The fidelity corpus (issue 9): `testdata/fidelity/<case>.yaml`, small streams of the YAML
//! that manifest tools have mangled (comments, anchors and merge keys, `0644`-style numbers,
//! `yes`/`on`/`~`, block scalars with every chomping indicator, flow collections, long lines,
//! comment-only and empty documents, `%YAML` directives, Helm `# Source:` headers, kustomize's
//! index annotations, CRLF, a BOM), each with at least one annotated workload whose document
//! holds the construct itself.
//!
//! Each case is rendered for a `seal: sealed-secrets` and a `seal: none` cluster, and the
//! result checked by `tests/interop/fidelity_check.py` with PyYAML (a YAML 1.1 reader
//! independent of pullseal's, pinned in the kubesealpy venv by `scripts/install-test-peers`):
//! the documents that name no registry come out byte for byte, and each annotated one loads
//! to exactly the input plus the appended `imagePullSecrets` entries, each naming a pull
//! secret emitted after the stream's documents, and every emitted secret named. The checker's
//! own test feeds it rendered streams with one planted change each.

use std::path::{Path, PathBuf};
use std::process::Command;

use fs_err as fs;
use serde_json::Value;

use crate::peers;
use crate::support::{path, render, transcript};

/// The cases, sorted.
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(path("testdata/fidelity"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    cases
}

/// `case` rendered for `cluster`, written to `dir`; the render must succeed.
fn rendered(case: &Path, cluster: &str, dir: &Path) -> PathBuf {
    let out = render(cluster).arg(case).output().unwrap();
    let name = case.file_name().unwrap().to_string_lossy();
    assert!(
        out.status.success(),
        "{name} for {cluster}:\n{}",
        transcript(&out)
    );
    let file = dir.join(format!("{name}.{cluster}.out"));
    fs::write(&file, &out.stdout).unwrap();
    file
}

/// The checker's report for each `(input, output)` pair, in order.
fn check(pairs: &[(PathBuf, PathBuf)]) -> Vec<Value> {
    let mut cmd = Command::new(peers::kubesealpy_python());
    cmd.arg(path("tests/interop/fidelity_check.py"));
    for (input, output) in pairs {
        cmd.arg(input).arg(output);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "fidelity_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), pairs.len());
    reports
}

fn count(report: &Value, key: &str) -> u64 {
    report[key].as_u64().unwrap()
}

#[test]
fn every_case_keeps_its_documents_and_adds_only_pull_secrets() {
    let cases = cases();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut pairs = Vec::new();
    for case in &cases {
        for cluster in ["test", "plain"] {
            pairs.push((case.clone(), rendered(case, cluster, tmp.path())));
        }
    }
    let mut failures = Vec::new();
    for report in check(&pairs) {
        let errors = report["errors"].as_array().unwrap();
        let name = report["output"].as_str().unwrap();
        if !errors.is_empty() {
            failures.push(format!(
                "{name}:\n  {}",
                errors
                    .iter()
                    .map(|e| e.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
        // Each case has an annotated workload that got its entries, and its secrets.
        assert!(count(&report, "annotated") >= 1, "{report}");
        assert!(count(&report, "added") >= 1, "{report}");
        assert!(count(&report, "secrets") >= 1, "{report}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Changes planted into rendered streams: case, what, the text replaced, its replacement.
const PLANTS: &[(&str, &str, &str, &str)] = &[
    ("comments.yaml", "as rendered", "", ""),
    (
        "existing-pull-secrets.yaml",
        "a comment lost beside a list that was null",
        "[{name: pullseal-company}] # none\n",
        "[{name: pullseal-company}]\n",
    ),
    (
        "comments.yaml",
        "whitespace in an untouched document",
        "  WORKERS: 04 #",
        "  WORKERS: 04  #",
    ),
    (
        "comments.yaml",
        "a comment moved in an untouched document",
        "  # a comment inside data\n  LEVEL: \"info\"",
        "  LEVEL: \"info\"\n  # a comment inside data",
    ),
    (
        "comments.yaml",
        "the head",
        "# Head comment, before any document.\n",
        "",
    ),
    (
        "comments.yaml",
        "a comment lost in an annotated document",
        "  # the last line of the stream is a comment\n",
        "",
    ),
    (
        "multi-document.yaml",
        "a comment between documents",
        "# a comment after an end marker\n",
        "",
    ),
    (
        "yaml-directives.yaml",
        "the tail",
        "# the stream ends with a comment after an end marker\n",
        "",
    ),
    (
        "octals-and-numbers.yaml",
        "a string retyped",
        "        mode: \"0644\"",
        "        mode: 0644",
    ),
    (
        "octals-and-numbers.yaml",
        "an octal retyped",
        "defaultMode: 0644}",
        "defaultMode: \"0644\"}",
    ),
    (
        "yes-on-tilde.yaml",
        "a boolean retyped",
        "      hostNetwork: off",
        "      hostNetwork: \"off\"",
    ),
    (
        "yes-on-tilde.yaml",
        "a null retyped",
        "      nodeSelector: ~",
        "      nodeSelector: \"~\"",
    ),
    (
        "block-scalars.yaml",
        "a kept line lost",
        "              echo keep\n\n\n",
        "              echo keep\n\n",
    ),
    (
        "block-scalars.yaml",
        "clip made strip",
        "            - |\n              set -eu",
        "            - |-\n              set -eu",
    ),
    (
        "anchors-merge-keys.yaml",
        "a merge lost",
        "        <<: *labels\n",
        "",
    ),
    (
        "anchors-merge-keys.yaml",
        "a field added",
        "          args: [serve]\n",
        "          args: [serve]\n          imagePullPolicy: Always\n",
    ),
    (
        "existing-pull-secrets.yaml",
        "existing entries reordered",
        "        - name: own # kept first\n        - {name: other}\n",
        "        - {name: other}\n        - name: own # kept first\n",
    ),
    (
        "flow-collections.yaml",
        "an entry naming no emitted secret",
        "{name: pullseal-company}",
        "{name: pullseal-elsewhere}",
    ),
    (
        "flow-collections.yaml",
        "an entry that is not {name}",
        "{name: pullseal-company}",
        "{name: pullseal-company, x: y}",
    ),
];

/// The checker cannot pass by looking at nothing: each planted change to a real rendered
/// stream (bytes of an untouched document, a retyped or reordered value, an entry naming no
/// emitted secret, a lost secret, the head or the tail) is reported, and the stream as
/// rendered is not.
#[test]
fn the_checker_reports_each_planted_change() {
    let tmp = tempfile::tempdir().unwrap();
    let plants = PLANTS;
    let mut pairs = Vec::new();
    for (case, what, from, to) in plants {
        let input = path("testdata/fidelity").join(case);
        let out = fs::read_to_string(rendered(&input, "test", tmp.path())).unwrap();
        assert!(
            out.contains(from),
            "{case}: {what}: {from:?} is not in the output"
        );
        let planted = tmp.path().join(format!("{case}.{}.planted", pairs.len()));
        fs::write(&planted, out.replacen(from, to, 1)).unwrap();
        pairs.push((input, planted));
    }
    // A pull secret lost: the last document of a rendered stream cut off.
    let input = path("testdata/fidelity/comments.yaml");
    let out = fs::read_to_string(rendered(&input, "test", tmp.path())).unwrap();
    let cut = tmp.path().join("cut.planted");
    fs::write(&cut, &out[..out.rfind("---\n").unwrap()]).unwrap();
    pairs.push((input, cut));

    let reports = check(&pairs);
    for (i, report) in reports.iter().enumerate() {
        let errors = report["errors"].as_array().unwrap();
        let what = plants.get(i).map_or("a lost secret", |p| p.1);
        if what == "as rendered" {
            assert!(errors.is_empty(), "{report}");
        } else {
            assert!(!errors.is_empty(), "{what} was not reported: {report}");
        }
    }
}

/// A source that ends inside a `|` block scalar with no line break cannot be followed by
/// anything without changing that value (libyaml reads `x` at the end of the file, `x` and a
/// newline once a line break and `---` follow): an error naming the document, whether what
/// follows is another file or the pull secrets. Ending in `|-` reads the same either way.
#[test]
fn a_line_break_that_would_change_a_value_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open.yaml");
    fs::write(
        &open,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n    last",
    )
    .unwrap();
    let next = tmp.path().join("next.yaml");
    fs::write(&next, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n").unwrap();
    let out = render("test").arg(&open).arg(&next).output().unwrap();
    crate::support::assert_failure(
        &out,
        1,
        "open.yaml: document 1: the file ends inside a block scalar without a line break",
    );
    // Alone, nothing follows it: it passes through byte for byte.
    let out = render("test").arg(&open).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, fs::read(&open).unwrap());
    // With `|-`, the join is harmless.
    fs::write(
        &open,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |-\n    last",
    )
    .unwrap();
    let out = render("test").arg(&open).arg(&next).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("    last\n---\napiVersion: v1\n")
    );
}

/// A tab at the start of a line, which YAML 1.2 (and pullseal's parser) allows on a blank or
/// comment line, is refused exactly where Kubernetes' reader refuses it: each case is a
/// Secret (pullseal parses every Secret) with the tab in some context, read by pullseal and by
/// `kubectl kustomize`, whose reader is go-yaml v3 (as sigs.k8s.io/yaml's); the verdicts are
/// go-yaml's scanner rules (flow collections and quoted scalars take any tab; the lines after
/// a plain scalar a tab past the indentation around it; a block scalar one at or past its own
/// indentation; anywhere else none).
#[test]
fn a_leading_tab_is_refused_exactly_where_kubernetes_refuses_it() {
    const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\n";
    let cases: &[(&str, &str, bool)] = &[
        // (what, the text before the Secret's own keys, whether Kubernetes refuses it)
        ("a tab-only line between keys", "a: 1\n\t\nb: 2\n", true),
        ("a tab before a comment", "a: 1\n\t# c\nb: 2\n", true),
        ("space and tab after a quoted value", "a: '1'\n \t\nb: 2\n", true),
        ("after a nested mapping", "a:\n  c: 1\n\t\nb: 2\n", true),
        ("the first line", "\t\na: 1\n", true),
        ("after the document marker", "---\n\t\na: 1\n", true),
        (
            "nested, within the indentation",
            "a:\n  c: 1\n  \t\n  d: 2\n",
            true,
        ),
        ("between list items", "a:\n- 1\n\t\n- 2\n", true),
        (
            "list items, within the dash's indentation",
            "l:\n  - x\n  \t\n  - y\n",
            true,
        ),
        ("inside a multi-line plain scalar", "a: x\n\t\n  y\n", true),
        ("after an alias", "a: &x 1\nb: *x\n \t\nc: 2\n", true),
        (
            "after a comment that ends a plain value",
            "a: 1 # c\n \t\nb: 2\n",
            true,
        ),
        ("after a flow collection", "a: [1]\n \t\nb: 2\n", true),
        ("after a key whose value comes later", "a:\n\t\n  b: 1\n", true),
        (
            "after a block scalar, before its indentation",
            "a: |\n  x\n\t\n",
            true,
        ),
        ("block scalar, space and tab", "a: |\n  x\n \t\n", true),
        ("block scalar, before its first line", "a: |\n  \t\n  x\n", true),
        ("block scalar header with a comment", "a: | # c\n \t\n  x\n", true),
        (
            "folded block scalar, nested",
            "b:\n  a: >-\n    x\n  \t\nc: 1\n",
            true,
        ),
        ("past a plain value's indentation", "a: 1\n \t\nb: 2\n", false),
        (
            "nested, past the indentation",
            "a:\n  c: 1\n   \t\n  d: 2\n",
            false,
        ),
        ("list items, past the dash", "l:\n  - x\n   \t\n  - y\n", false),
        ("inside a flow collection", "a: [1,\n\t2]\n", false),
        (
            "block scalar content after its indentation",
            "a: |\n  x\n  \t\n  y\n",
            false,
        ),
        (
            "a Makefile in a block scalar",
            "m: |\n  all:\n  \techo hi\n",
            false,
        ),
        ("explicit indentation", "a: |1\n  x\n \ty\n", false),
        ("plain continuation past the indentation", "a: x\n \ty\n", false),
        ("tabs after content", "a: 1\t# c\nb:\t2\n", false),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (i, (what, text, refused)) in cases.iter().enumerate() {
        let dir = tmp.path().join(i.to_string());
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("kustomization.yaml"), "resources: [r.yaml]\n").unwrap();
        fs::write(dir.join("r.yaml"), format!("{text}{SECRET}")).unwrap();
        let kubernetes = Command::new(peers::kubectl())
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&kubernetes.stderr);
        assert!(
            kubernetes.status.success() || stderr.contains("MalformedYAMLError"),
            "{what}: kubectl kustomize failed for another reason: {stderr}"
        );
        let out = render("test").arg(dir.join("r.yaml")).output().unwrap();
        if *refused {
            assert_eq!(out.status.code(), Some(1), "{what}: {}", transcript(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("r.yaml: document 1: line ")
                    && stderr.contains("a tab at the start of the line"),
                "{what}: {stderr}"
            );
        }
        let verdicts = (!kubernetes.status.success(), !out.status.success());
        if verdicts != (*refused, *refused) {
            wrong.push(format!(
                "{what} {text:?}: kubernetes refuses: {}, pullseal refuses: {}",
                verdicts.0, verdicts.1
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
