//! The binary as users run it: the quickstart, pass-through, determinism, cluster choice,
//! exit codes, and that failures leave stdout empty and never print a credential.

use fs_err as fs;

use crate::support::{
    AGE_KEY, CATALOG, assert_failure, path, pullseal, render, render_workloads, transcript,
};

/// Every password of the test catalog; none may ever appear outside sealed output.
pub const TEST_SECRETS: &[&str] = &[
    "test-password-company",
    "test-dockerhub-token",
    "test-quay-robot-token",
    "test-quay-other-token",
    "test-prod-password",
    "test-project-password",
    "test-ecr-secret-key",
    "TEST-ONLY-NOT-A-KEY",
    "test-jfrog-identity-token",
    "p@ss:",
];

pub fn assert_no_secrets(text: &str) {
    for secret in TEST_SECRETS {
        assert!(!text.contains(secret), "a credential leaked: {secret}");
    }
}

#[test]
fn quickstart_renders_sealed_secrets() {
    let out = pullseal()
        .current_dir(path("examples/quickstart"))
        .env("SOPS_AGE_KEY_FILE", "demo-age-key.txt")
        .args(["render", "manifests"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 3, "{stdout}");
    for name in ["pullseal-company", "pullseal-dockerhub", "pullseal-quay-team"] {
        assert!(stdout.contains(&format!("name: \"{name}\"")), "{name} missing");
    }
    assert!(!stdout.contains("demo-password-do-not-use"));
}

/// The README's first command, exactly as written there, renders the quickstart.
#[test]
fn readme_first_command_works() {
    let readme = fs::read_to_string(path("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run -- render"))
        .expect("README's first command");
    let args: Vec<&str> = line
        .trim_start_matches("cargo run --")
        .split_whitespace()
        .collect();
    let out = pullseal().args(&args).output().unwrap();
    assert!(out.status.success(), "{line}\n{}", transcript(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("kind: SealedSecret")
            .count(),
        3
    );
}

#[test]
fn unannotated_stream_passes_through_byte_for_byte() {
    let input = fs::read(path("testdata/render/passthrough/input.yaml")).unwrap();
    let out = render("test").write_stdin(input.clone()).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, input);
    // CRLF and a byte-order mark survive too.
    let crlf = b"\xef\xbb\xbfa: 0644\r\n---\r\nb: yes\r\n".to_vec();
    let out = render("test").write_stdin(crlf.clone()).output().unwrap();
    assert_eq!(out.stdout, crlf);
}

#[test]
fn unchanged_documents_keep_their_bytes_in_a_rendered_stream() {
    let input = fs::read_to_string(path("examples/quickstart/manifests/plain.yaml")).unwrap();
    let annotated = fs::read_to_string(path("testdata/render/namespace-wide/input.yaml")).unwrap();
    let stream = format!("{input}---\n{annotated}");
    let out = render("test").write_stdin(stream).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with(&format!("{input}---\n"))
    );
}

#[test]
fn output_is_deterministic() {
    let (a, b) = (render_workloads("test"), render_workloads("test"));
    assert!(a.status.success(), "{}", transcript(&a));
    assert_eq!(a.stdout, b.stdout);
    // Sealed values are included: the blobs themselves repeat (u16 length 0x0200 → "Ag").
    let text = String::from_utf8_lossy(&a.stdout);
    assert_eq!(text.matches(".dockerconfigjson: \"Ag").count(), 5, "{text}");
}

#[test]
fn stdin_and_dash_and_directories() {
    let input = fs::read(path("testdata/render/namespace-wide/input.yaml")).unwrap();
    let from_stdin = render("test").write_stdin(input.clone()).output().unwrap();
    let from_dash = render("test").arg("-").write_stdin(input).output().unwrap();
    let from_file = render("test")
        .arg("testdata/render/namespace-wide/input.yaml")
        .output()
        .unwrap();
    assert!(from_stdin.status.success(), "{}", transcript(&from_stdin));
    assert_eq!(from_stdin.stdout, from_dash.stdout);
    assert_eq!(from_stdin.stdout, from_file.stdout);
}

#[test]
fn cluster_comes_from_flag_then_environment() {
    let input = "testdata/render/namespace-wide/input.yaml";
    let base = || {
        let mut c = pullseal();
        c.args(["render", "--catalog", CATALOG, "--age-key-file", AGE_KEY, input]);
        c
    };
    let out = base().output().unwrap();
    assert_failure(&out, 2, "several clusters");
    let by_env = base().env("PULLSEAL_CLUSTER", "test-ns").output().unwrap();
    let by_argo = base()
        .env("ARGOCD_ENV_PULLSEAL_CLUSTER", "test-ns")
        .output()
        .unwrap();
    let by_flag = base()
        .args(["--cluster", "test-ns"])
        .env("PULLSEAL_CLUSTER", "test")
        .output()
        .unwrap();
    assert!(by_env.status.success(), "{}", transcript(&by_env));
    assert_eq!(by_env.stdout, by_argo.stdout);
    assert_eq!(by_env.stdout, by_flag.stdout);
    assert!(
        String::from_utf8_lossy(&by_env.stdout)
            .contains("sealedsecrets.bitnami.com/namespace-wide: \"true\"")
    );
}

#[test]
fn catalog_is_found_in_a_parent_directory() {
    let out = pullseal()
        .current_dir(path("examples/quickstart/manifests"))
        .args(["render", "--age-key-file", "../demo-age-key.txt", "shop.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
}

#[test]
fn exit_codes_and_empty_stdout_on_failure() {
    let input = "testdata/render/namespace-wide/input.yaml";
    // No catalog anywhere above the temp dir.
    let tmp = tempfile::tempdir().unwrap();
    let out = pullseal()
        .current_dir(tmp.path())
        .args(["render", "-"])
        .write_stdin("a: 1\n")
        .output()
        .unwrap();
    assert_failure(&out, 3, "no catalog found");
    // A key that does not open the catalog.
    let out = pullseal()
        .args([
            "render",
            "--catalog",
            CATALOG,
            "--age-key-file",
            "testdata/sops/age-identity.txt",
            "--cluster",
            "test",
            input,
        ])
        .output()
        .unwrap();
    assert_failure(&out, 3, "hint:");
    // A catalog that is not encrypted is refused, never used as it is.
    let out = pullseal()
        .args([
            "render",
            "--catalog",
            "testdata/catalog/test.plain.yaml",
            "--cluster",
            "test",
            input,
        ])
        .output()
        .unwrap();
    assert_failure(&out, 3, "not encrypted with sops");
    // Problems in the manifests.
    let out = render("test")
        .arg("testdata/render/errors/input.yaml")
        .output()
        .unwrap();
    assert_failure(&out, 1, "problems in the input");
    assert_no_secrets(&String::from_utf8_lossy(&out.stderr));
    // An expired certificate.
    let out = render("expired").arg(input).output().unwrap();
    assert_failure(&out, 4, "sealing certificate expired");
    // ... but a stream that needs no sealing still renders, with a warning.
    let plain = path("testdata/render/passthrough/input.yaml");
    let out = render("expired").arg(&plain).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, fs::read(&plain).unwrap());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: cluster \"expired\": sealing certificate expired")
    );
    // An unknown cluster, a missing input file, a bad flag.
    assert_eq!(render("nope").arg(input).output().unwrap().status.code(), Some(4));
    assert_eq!(
        render("test")
            .arg("no/such/file.yaml")
            .output()
            .unwrap()
            .status
            .code(),
        Some(5)
    );
    assert_eq!(
        pullseal()
            .args(["render", "--pod-spec", "Rollout"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn credentials_never_appear_in_any_output() {
    for cluster in ["test", "test-ns", "test-cw"] {
        let out = render_workloads(cluster);
        assert!(out.status.success(), "{}", transcript(&out));
        assert_no_secrets(&String::from_utf8_lossy(&out.stdout));
        assert_no_secrets(&String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn all_clusters_write_one_directory_each() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pullseal()
        .args([
            "render",
            "--catalog",
            CATALOG,
            "--age-key-file",
            AGE_KEY,
            "--all-clusters",
            "--out-dir",
        ])
        .arg(tmp.path())
        .arg("testdata/render/namespace-wide/input.yaml")
        .output()
        .unwrap();
    // The `expired` cluster fails the whole run, and then nothing is written.
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);

    // The quickstart catalog has one cluster, `demo`.
    let out = pullseal()
        .current_dir(path("examples/quickstart"))
        .args([
            "render",
            "--age-key-file",
            "demo-age-key.txt",
            "--all-clusters",
            "--out-dir",
        ])
        .arg(tmp.path())
        .arg("manifests")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(out.stdout.is_empty());
    let written = fs::read_to_string(tmp.path().join("demo/manifests.yaml")).unwrap();
    assert_eq!(written.matches("kind: SealedSecret").count(), 3);
}

/// CI renders `--out-dir rendered/` in a checkout: a committed symbolic link there
/// (`rendered/demo/manifests.yaml -> ../../.git/config`, or the cluster's directory itself)
/// must not make pullseal write the stream, whose unparsed documents are any text the
/// manifests' author chose, to a file outside the output directory.
#[test]
fn all_clusters_never_write_through_a_symbolic_link() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("target.txt");
    fs::write(&target, "precious\n").unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let file_link = tmp.path().join("out-file");
    fs::create_dir_all(file_link.join("demo")).unwrap();
    symlink(&target, file_link.join("demo/manifests.yaml")).unwrap();
    let dir_link = tmp.path().join("out-dir");
    fs::create_dir(&dir_link).unwrap();
    symlink(&elsewhere, dir_link.join("demo")).unwrap();
    for (out_dir, link) in [(&file_link, "demo/manifests.yaml"), (&dir_link, "demo")] {
        let out = pullseal()
            .current_dir(path("examples/quickstart"))
            .args([
                "render",
                "--age-key-file",
                "demo-age-key.txt",
                "--all-clusters",
                "--out-dir",
            ])
            .arg(out_dir)
            .arg("manifests")
            .output()
            .unwrap();
        assert_failure(&out, 5, "is a symbolic link");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(link),
            "{}",
            transcript(&out)
        );
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn help_is_stable() {
    let out = pullseal().args(["render", "--help"]).output().unwrap();
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn a_second_file_with_a_byte_order_mark_is_edited_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {pullseal.io/registries: company}\nspec:\n  containers: [{name: app, image: \"registry.example.com:5000/a:1\"}]\n";
    fs::write(
        dir.path().join("a.yaml"),
        "kind: ConfigMap\nmetadata: {name: c}\n",
    )
    .unwrap();
    fs::write(dir.path().join("b.yaml"), format!("\u{feff}{pod}")).unwrap();
    let out = render("test").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // The mark may open a stream only: it is dropped, and the edit lands where it belongs.
    assert!(!text.contains('\u{feff}'), "{text}");
    assert!(
        text.starts_with(&format!(
            "kind: ConfigMap\nmetadata: {{name: c}}\n---\n{}",
            pod.replace(
                "spec:\n",
                "spec:\n  imagePullSecrets:\n  - name: pullseal-company\n"
            )
        )),
        "{text}"
    );
}

/// Every problem of 20,000 broken documents is found and fails the render, but stderr and the
/// `PULLSEAL_LOG` record show the first 1,000 in input order and count the others in one line.
#[test]
fn twenty_thousand_broken_documents_are_all_counted_and_the_first_thousand_shown_in_order() {
    let doc = "kind: Pod\nmetadata: {name: p, namespace: shop, annotations: {pullseal.io/registries: nope}}\nspec: {containers: [{name: a, image: nginx}]}\n";
    let text = vec![doc; 20_000].join("---\n");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("pullseal.log");
    let out = render("test")
        .env("PULLSEAL_LOG", &log)
        .write_stdin(text)
        .output()
        .unwrap();
    assert_failure(&out, 1, "error: 20000 problems in the input:\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let documents: Vec<usize> = stderr
        .lines()
        .filter_map(|l| l.split("document ").nth(1)?.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(documents, (1..=1000).collect::<Vec<_>>());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1 + 1000 + 1, "{stderr}");
    assert_eq!(
        lines.last(),
        Some(&"  ... and 19000 more problems not shown (only the first 1000 are, in input order)")
    );
    // The log's record holds the same lines, between its header and its exit line.
    let record = fs::read_to_string(&log).unwrap();
    let logged: Vec<&str> = record.lines().collect();
    assert_eq!(logged.len(), lines.len() + 2, "{record}");
    assert_eq!(&logged[1..=lines.len()], &lines[..]);
}

#[test]
fn the_readme_opens_with_the_two_commands() {
    let readme = fs::read_to_string(path("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    // The first runs the shipped example, the second every check; other ways come after.
    assert!(
        blocks
            .first()
            .is_some_and(|b| b.starts_with("cargo run -- render")),
        "{blocks:?}"
    );
    assert_eq!(
        blocks.get(1).map(|b| b.trim()),
        Some("scripts/test"),
        "{blocks:?}"
    );
}

#[test]
fn completions_and_the_manual_come_from_the_command_definitions() {
    let subcommands = [
        "render",
        "install-kustomize-plugin",
        "argocd",
        "doctor",
        "completions",
        "man",
    ];
    let bash = pullseal().args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success(), "{}", transcript(&bash));
    let script = String::from_utf8(bash.stdout).unwrap();
    for sub in subcommands {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    // The script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pullseal.bash");
    fs::write(&file, &script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = pullseal().args(["completions", shell]).output().unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("install-kustomize-plugin"),
            "{shell}"
        );
    }
    let bad = pullseal().args(["completions", "tcsh"]).output().unwrap();
    assert_failure(&bad, 2, "invalid value 'tcsh'");

    let man = pullseal().arg("man").output().unwrap();
    assert!(man.status.success(), "{}", transcript(&man));
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(page.contains(".TH pullseal 1"), "{page}");
    for sub in subcommands {
        assert!(page.contains(&sub.replace('-', "\\-")), "the manual lacks {sub}");
    }
}
