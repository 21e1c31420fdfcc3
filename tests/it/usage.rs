//! `pullseal usage` (issue 8): where each credential is deployed, found exactly as render
//! finds references, and failing as render fails.

use crate::cli::assert_no_secrets;
use crate::support::{AGE_KEY, CATALOG, assert_failure, path, pullseal, transcript};

#[test]
fn usage_lists_workloads_by_registry_and_the_unused_ones() {
    let out = pullseal()
        .current_dir(path("examples/quickstart"))
        .env("SOPS_AGE_KEY_FILE", "demo-age-key.txt")
        .args(["usage", "manifests"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap(), @r"
    cluster demo
    REGISTRY   NAMESPACE  OBJECT                WHERE
    company    shop       CronJob shop/nightly  manifests/jobs.yaml: document 1
    company    shop       Deployment shop/web   manifests/shop.yaml: document 1
    dockerhub  shop       CronJob shop/nightly  manifests/jobs.yaml: document 1
    quay-team  shop       Deployment shop/web   manifests/shop.yaml: document 1
    unused: none
    ");
    let out = pullseal()
        .args(["usage", "--catalog", CATALOG, "--age-key-file", AGE_KEY, "--cluster", "test", "-o", "json"])
        .write_stdin("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, annotations: {pullseal.io/registries: \"company, hub-public\"}}\nspec: {containers: [{name: a, image: registry.example.com:5000/a:1}, {name: b, image: nginx:1}]}\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_secrets(&text);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["cluster"], "test");
    // An anonymous registry is a use too: the admin asks where it is referenced.
    let registries: Vec<&str> = json["uses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["registry"].as_str().unwrap())
        .collect();
    assert_eq!(registries, ["company", "hub-public"]);
    assert_eq!(json["uses"][0]["object"], "Pod shop/p");
    assert_eq!(json["uses"][0]["file"], "<stdin>");
    assert!(
        json["unused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "dockerhub")
    );
}

/// A reference render would refuse is refused here too, with render's diagnostic and exit code.
#[test]
fn a_reference_render_refuses_fails_usage_as_render() {
    let out = pullseal()
        .args(["usage", "--catalog", CATALOG, "--age-key-file", AGE_KEY, "--cluster", "test"])
        .write_stdin("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, annotations: {pullseal.io/registries: nope}}\nspec: {containers: [{name: a, image: x.example.com/a:1}]}\n")
        .output()
        .unwrap();
    assert_failure(
        &out,
        1,
        "<stdin>: document 1: Pod shop/p: metadata.annotations[pullseal.io/registries]: registry \"nope\" is not in the catalog",
    );
}
