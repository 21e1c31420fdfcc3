//! How failures are reported: each message once, and the exit codes of the README's table
//! for the command-line values issue 5 names (`--namespace`, `ARGOCD_APP_NAMESPACE`).

use crate::support::{assert_failure, render, transcript};

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
          caused by: failed to query resolved metadata `no/such/file.yaml`: No such file or directory (os error 2)
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
