//! How failures are reported: each message once, and the exit codes of the README's table
//! for the command-line values issue 5 names (`--namespace`, `ARGOCD_APP_NAMESPACE`).

use std::fmt::Write as _;

use crate::support::{assert_failure, redact_tmp, render, transcript};

const INPUT: &str = "testdata/render/namespace-flag-invalid/input.yaml";

/// Issue 5: the I/O error was printed as the message and again as its cause.
#[test]
fn an_io_error_is_printed_once() {
    let out = render("test").arg("no/such/file.yaml").output().unwrap();
    insta::assert_snapshot!(transcript(&out), @r"
        exit: 5
        ----- stdout -----
        ----- stderr -----
        error: cannot read no/such/file.yaml
          caused by: No such file or directory (os error 2)
        ");
}

/// Issue 5: a namespace from the command line or Argo CD that is not a DNS-1123 label is a
/// usage error naming where it came from.
#[test]
fn a_namespace_that_is_not_a_dns_label_is_a_usage_error() {
    for bad in ["1.5", "Shop", "my shop", "shop/pullseal-x", "-shop", ""] {
        let out = render("test")
            .arg(format!("--namespace={bad}"))
            .arg(INPUT)
            .output()
            .unwrap();
        assert_failure(
            &out,
            2,
            &format!("error: --namespace {bad:?} is not a valid namespace"),
        );
        let out = render("test")
            .env("ARGOCD_APP_NAMESPACE", bad)
            .arg(INPUT)
            .output()
            .unwrap();
        if bad.is_empty() {
            // An empty variable is an unset one: the object has no namespace (exit 1).
            assert_failure(&out, 1, "problem in the input");
        } else {
            assert_failure(
                &out,
                2,
                &format!("error: ARGOCD_APP_NAMESPACE {bad:?} is not a valid namespace"),
            );
        }
    }
    // The flag wins over the variable, and is checked even when the variable is fine.
    let out = render("test")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .args(["--namespace", "Shop", INPUT])
        .output()
        .unwrap();
    assert_failure(&out, 2, "--namespace \"Shop\"");
    // A label of digits only is a valid namespace (the API server accepts `42`).
    let out = render("test")
        .args(["--namespace", "42", INPUT])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace: \"42\""));
}

/// Every character a terminal acts on, or that reorders a line, in UTF-8: C0 controls but the
/// newline that ends each message, DEL, C1 controls, line and paragraph separators, and the
/// bidi and other format characters.
fn raw_controls(stderr: &[u8]) -> Vec<String> {
    std::str::from_utf8(stderr)
        .expect("stderr is UTF-8, so no stray byte is a C1 control either")
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{feff}')
                || ('\u{200b}'..='\u{200f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2060}'..='\u{206f}').contains(&c)
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect()
}

/// Issue 5: strings taken from input files are printed quoted and escaped, so that no terminal
/// escape can be injected. The file name, kinds, names, namespaces, annotation keys, container
/// names and images below carry ESC, BEL, CR, newlines and bidi overrides; stderr must hold none
/// of them raw, one line per problem, and still name every object.
#[test]
fn input_text_in_diagnostics_is_quoted_and_escaped() {
    let manifest = r#"kind: "Fancy\e[31mKind"
metadata:
  name: "evil\r\nerror: forged line"
  namespace: "shop\u202E"
  annotations:
    "registry.pullseal.io/x\e]0;pwned\a": company
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "web\nx"
  namespace: shop
  annotations:
    pullseal.io/registries: dockerhub
    "registry.pullseal.io/side\u202Ecar": company
    "registry.pullseal.io/ghost\e[2J": company
spec:
  template:
    spec:
      containers:
        - name: "side\u202Ecar"
          image: "registry.example.com:5000/a:1\e[0m"
        - name: "main\rx"
          image: "quay.io/acme/x\u2066:1"
"#;
    let tmp = tempfile::tempdir().unwrap();
    fs_err::write(tmp.path().join("app\u{1b}]0;x\u{7}.yaml"), manifest).unwrap();
    let out = render("test").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert_eq!(raw_controls(&out.stderr), Vec::<String>::new());
    let stderr = redact_tmp(&String::from_utf8_lossy(&out.stderr), tmp.path());
    assert!(stderr.contains(r#"Deployment shop/"web\nx""#), "{stderr}");
    insta::assert_snapshot!(stderr, @r#"
        error: 4 problems in the input:
          "[tmp]/app\u{1b}]0;x\u{7}.yaml": document 1: "Fancy\u{1b}[31mKind" "shop\u{202e}"/"evil\r\nerror: forged line": metadata.annotations["registry.pullseal.io/x\u{1b}]0;pwned\u{7}"]: "Fancy\u{1b}[31mKind" is not a workload pullseal knows; give --pod-spec "Fancy\u{1b}[31mKind"=PATH to say where its pod spec is
          "[tmp]/app\u{1b}]0;x\u{7}.yaml": document 2: Deployment shop/"web\nx": metadata.annotations["registry.pullseal.io/ghost\u{1b}[2J"]: no container named "ghost\u{1b}[2J" (containers: "side\u{202e}car", "main\rx")
          "[tmp]/app\u{1b}]0;x\u{7}.yaml": document 2: Deployment shop/"web\nx": spec.template.spec.containers[0].image: image "registry.example.com:5000/a:1\u{1b}[0m" is not a valid image reference
          "[tmp]/app\u{1b}]0;x\u{7}.yaml": document 2: Deployment shop/"web\nx": spec.template.spec.containers[1].image: image "quay.io/acme/x\u{2066}:1" is not a valid image reference
        "#);
}

/// Issue 5: a file found by walking a directory can have any name; when it cannot be read, the
/// error names it escaped, and the cause (from `fs-err`, which prints paths raw) does not repeat it.
#[test]
fn an_unreadable_file_is_named_escaped_once() {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::write(tmp.path().join("a\u{1b}[2J\rb.yaml"), b"kind: \xff\n").unwrap();
    let out = render("test").arg(tmp.path()).output().unwrap();
    assert_eq!(raw_controls(&out.stderr), Vec::<String>::new());
    insta::assert_snapshot!(redact_tmp(&transcript(&out), tmp.path()), @r#"
        exit: 5
        ----- stdout -----
        ----- stderr -----
        error: cannot read "[tmp]/a\u{1b}[2J\rb.yaml"
          caused by: stream did not contain valid UTF-8
        "#);
}

/// Issue 5: the catalog is secret material, its allow globs included: a policy message names
/// the registry, the cluster or namespace and the catalog field, never a glob.
#[test]
fn policy_messages_name_the_catalog_field_not_its_globs() {
    let deployment = |namespace: &str, registries: &str, images: &[&str]| {
        let mut containers = String::new();
        for (i, image) in images.iter().enumerate() {
            writeln!(containers, "        - name: c{i}\n          image: {image}").unwrap();
        }
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: policy\n{namespace}  annotations:\n    pullseal.io/registries: {registries}\nspec:\n  template:\n    spec:\n      containers:\n{containers}"
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere.yaml");
    let images = ["quay.io/acme/app:1", "prod.example.com/app:1"];
    fs_err::write(
        &elsewhere,
        deployment("  namespace: other\n", "quay-team, prod-only", &images),
    )
    .unwrap();
    let nowhere = tmp.path().join("nowhere.yaml");
    fs_err::write(&nowhere, deployment("", "quay-team", &images[..1])).unwrap();
    // Strict sealing wants a namespace anyway: on `plain` only the policy speaks.
    let outs = [
        render("test").arg(&elsewhere).output().unwrap(),
        render("plain").arg(&nowhere).output().unwrap(),
    ];
    let mut stderr = String::new();
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", transcript(out));
        stderr.push_str(&redact_tmp(&String::from_utf8_lossy(&out.stderr), tmp.path()));
    }
    // The test catalog's globs: quay-team allows `shop` and `team-*`, prod-only `prod-*`.
    for glob in ["team-*", "prod-*", "shop"] {
        assert!(!stderr.contains(glob), "{glob} in:\n{stderr}");
    }
    insta::assert_snapshot!(stderr, @r#"
        error: 2 problems in the input:
          [tmp]/elsewhere.yaml: document 1: Deployment other/policy: registry "quay-team" is not allowed in namespace "other" (by registries.quay-team.allow.namespaces in the catalog)
          [tmp]/elsewhere.yaml: document 1: Deployment other/policy: registry "prod-only" is not allowed on cluster "test" (by registries.prod-only.allow.clusters in the catalog)
        error: 1 problem in the input:
          [tmp]/nowhere.yaml: document 1: Deployment policy: registry "quay-team" is limited to some namespaces (by registries.quay-team.allow.namespaces in the catalog), but the object has no namespace
        hint: set the namespace where the manifests are made: Helm, which does not tell a post-renderer the release namespace, needs --post-renderer-args --namespace=<release namespace>; kustomize, `namespace` in the kustomization or in the Render settings; Argo CD gives the Application's destination namespace (ARGOCD_APP_NAMESPACE)
        "#);
}

/// Issue 6: `allow.projects` is matched against the Argo CD project, and fails closed as the
/// namespace rule does: with no project known (a plain render) the registry is refused. The
/// messages name the registry and the catalog field, never the globs.
#[test]
fn the_project_rule_fails_closed_and_shows_no_glob() {
    use pullseal::manifest::{Source, Stream};
    use pullseal::render::{Options, render as render_lib};

    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\n  annotations:\n    pullseal.io/registries: project-team\nspec:\n  containers:\n  - name: c\n    image: projects.example.com/app:1\n";
    let stream = Stream::new(vec![Source {
        name: "pod.yaml".to_owned(),
        text: text.to_owned(),
    }]);
    let with_project = |project: Option<&str>| Options {
        project: project.map(str::to_owned),
        ..Options::new("test")
    };
    let rendered = render_lib(&stream, crate::laws::catalog(), &with_project(Some("team-a"))).unwrap();
    let mut out = Vec::new();
    rendered.write_to(&stream, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("- name: pullseal-project-team"), "{out}");
    assert!(out.contains("kind: SealedSecret"), "{out}");
    let mut messages = String::new();
    for project in [Some("other"), None] {
        let err = render_lib(&stream, crate::laws::catalog(), &with_project(project)).unwrap_err();
        writeln!(messages, "{}", pullseal::Error::from(err)).unwrap();
    }
    assert!(!messages.contains("team-*"), "{messages}");
    insta::assert_snapshot!(messages, @r#"
        1 problem in the input:
          pod.yaml: document 1: Pod shop/p: registry "project-team" is not allowed in Argo CD project "other" (by registries.project-team.allow.projects in the catalog)
        1 problem in the input:
          pod.yaml: document 1: Pod shop/p: registry "project-team" is limited to some Argo CD projects (by registries.project-team.allow.projects in the catalog), but no Argo CD project is known (ARGOCD_APP_PROJECT_NAME is not set)
        "#);
    // The command line knows no project: the same refusal, exit 1.
    let tmp = tempfile::tempdir().unwrap();
    let pod = tmp.path().join("pod.yaml");
    fs_err::write(&pod, text).unwrap();
    let out = render("test").arg(&pod).output().unwrap();
    assert_failure(&out, 1, "but no Argo CD project is known");
}
