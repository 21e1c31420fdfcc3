//! `pullseal annotation` and `pullseal scaffold` (issue 8): what a developer pastes or starts
//! from must be what pullseal's own render accepts, for every kind, and nothing of the catalog
//! but a registry's name and server may show.

use crate::cli::assert_no_secrets;
use crate::support::{AGE_KEY, CATALOG, assert_failure, pullseal, render, transcript};

fn run(args: &[&str]) -> std::process::Output {
    pullseal()
        .args(args)
        .args(["--catalog", CATALOG, "--age-key-file", AGE_KEY])
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", transcript(out));
    assert_no_secrets(&String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_no_secrets(&text);
    text
}

/// `scaffold KIND --name NAME --registry company --repository REPOSITORY --tag TAG`, then `extra`.
fn scaffold<'a>(
    kind: &'a str,
    name: &'a str,
    repository: &'a str,
    tag: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "scaffold",
        kind,
        "--name",
        name,
        "--registry",
        "company",
        "--repository",
        repository,
        "--tag",
        tag,
    ];
    args.extend_from_slice(extra);
    args
}

/// Renders `manifest` for the test cluster and returns the output.
fn rendered(manifest: &str) -> String {
    let out = render("test").write_stdin(manifest.to_owned()).output().unwrap();
    stdout(&out)
}

#[test]
fn every_scaffold_renders_with_its_pull_secret() {
    for kind in ["deployment", "statefulset", "cronjob", "job"] {
        let made = stdout(&run(&scaffold(
            kind,
            "web",
            "team/web",
            "1.4.2",
            &["--namespace", "shop", "--port", "8080"],
        )));
        assert!(
            made.contains("image: \"registry.example.com:5000/team/web:1.4.2\""),
            "{made}"
        );
        let out = rendered(&made);
        assert!(out.contains("- name: pullseal-company\n"), "{kind}:\n{out}");
        assert_eq!(out.matches("kind: SealedSecret").count(), 1, "{kind}:\n{out}");
    }
    let deployment = stdout(&run(&scaffold(
        "deployment",
        "web",
        "team/web",
        "1.4.2",
        &["--namespace", "shop", "--port", "8080"],
    )));
    insta::assert_snapshot!(deployment);
}

/// A registry whose name YAML 1.1 reads as a boolean (`yes`) still gives a string annotation,
/// and the snippet, pasted where it says, makes render add the secret.
#[test]
fn the_annotation_snippet_pasted_where_it_says_renders() {
    let pod_wide = stdout(&run(&["annotation", "yes"]));
    let per_container = stdout(&run(&["annotation", "company", "--container", "web"]));
    let helm = stdout(&run(&["annotation", "company", "--format", "helm-values"]));
    insta::assert_snapshot!(format!("{pod_wide}---\n{per_container}---\n{helm}"));
    for snippet in [&pod_wide, &per_container] {
        let indented = snippet
            .lines()
            .filter(|l| !l.starts_with('#'))
            .fold(String::new(), |out, l| out + "      " + l + "\n");
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec:\n  template:\n    metadata:\n{indented}    spec:\n      containers:\n      - {{name: web, image: \"{}/shop/web:1\"}}\n",
            if snippet.contains("\"yes\"") {
                "yes.example.com"
            } else {
                "registry.example.com:5000"
            }
        );
        let out = rendered(&manifest);
        assert_eq!(out.matches("kind: SealedSecret").count(), 1, "{manifest}\n{out}");
    }
}

#[test]
fn wrong_input_is_a_usage_error_naming_it() {
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["annotation", "nope"],
            "registry nope is not in the catalog (registries: company,",
        ),
        (
            vec!["annotation", "company", "--container", "Web"],
            "--container Web: a container name is a DNS-1123 label",
        ),
        (
            scaffold("job", "Web", "a", "1", &[]),
            "--name Web: a workload name here is a DNS-1123 label",
        ),
        (
            scaffold("job", "w", "a//b", "1", &[]),
            "--repository a//b: a repository is lowercase path components",
        ),
        (
            scaffold("job", "w", "a", ".1", &[]),
            "--tag .1: a tag is up to 128 letters",
        ),
        (
            scaffold("cronjob", "w", "a", "1", &["--schedule", "\" x"]),
            "a cron schedule has no quotes",
        ),
    ];
    for (args, needle) in cases {
        assert_failure(&run(&args), 2, needle);
    }
}

/// `--template` takes the user's own handlebars file; one that does not make a YAML object is
/// refused rather than printed.
#[test]
fn a_template_of_ones_own_is_used_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("pod.hbs");
    fs_err::write(
        &good,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"{{name}}\"\n  namespace: shop\n  annotations: {\"{{annotation}}\": \"{{registry}}\"}\nspec:\n  containers: [{name: \"{{name}}\", image: \"{{image}}\"}]\n",
    )
    .unwrap();
    let made = stdout(&run(&scaffold(
        "deployment",
        "tool",
        "tools/tool",
        "3",
        &["--template", good.to_str().unwrap()],
    )));
    assert!(made.contains("kind: Pod"), "{made}");
    assert_eq!(rendered(&made).matches("kind: SealedSecret").count(), 1);
    let bad = tmp.path().join("bad.hbs");
    fs_err::write(&bad, "- just\n- a list {{name}}\n").unwrap();
    let args = scaffold(
        "deployment",
        "tool",
        "tools/tool",
        "3",
        &["--template", bad.to_str().unwrap()],
    );
    assert_failure(&run(&args), 2, "does not make one YAML object");
}
