//! Registry providers end to end: the exact `.dockerconfigjson` each catalog `type` renders,
//! anonymous registries and `kubeletCredentials` emitting nothing while policy still applies,
//! and every entry of `examples/registries/catalog.yaml` accepted (encrypted with the real
//! sops at test time, as a user would).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fs_err as fs;
use std::collections::BTreeMap;

use crate::interop::render_with;
use crate::support::{encrypt, path, render, transcript};

/// `{registry: decoded .dockerconfigjson}` of every plain (`seal: none`) Secret in `stdout`.
fn plain_secrets(stdout: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(stdout);
    let mut out = BTreeMap::new();
    for doc in text.split("\n---\n").filter(|d| d.contains("\nkind: Secret\n")) {
        let field = |k: &str| {
            doc.lines()
                .find_map(|l| l.trim().strip_prefix(k))
                .unwrap()
                .trim()
                .trim_matches('"')
                .to_owned()
        };
        let config = STANDARD.decode(field(".dockerconfigjson:")).unwrap();
        out.insert(field("pullseal.io/registry:"), String::from_utf8(config).unwrap());
    }
    out
}

/// The exact entry pullseal writes: keys sorted, `auth` base64 of `user:pass` as stored.
fn entry(key: &str, user: &str, pass: &str, email: Option<&str>) -> String {
    let auth = STANDARD.encode(format!("{user}:{pass}"));
    let email = email
        .map(|e| format!(",\"email\":{}", serde_json::json!(e)))
        .unwrap_or_default();
    format!(
        "{{\"auths\":{{{}:{{\"auth\":\"{auth}\"{email},\"password\":{},\"username\":{}}}}}}}",
        serde_json::json!(key),
        serde_json::json!(pass),
        serde_json::json!(user)
    )
}

/// The demo Artifact Registry key, byte for byte as the block scalar holds it (its last
/// newline included).
const GAR_KEY: &str = r#"{
  "type": "service_account",
  "project_id": "demo-project",
  "private_key_id": "demo-fake",
  "private_key": "-----BEGIN PRIVATE KEY-----\nDEMO-FAKE-NOT-A-KEY\n-----END PRIVATE KEY-----\n",
  "client_email": "puller@demo-project.iam.gserviceaccount.com"
}
"#;

#[test]
#[allow(clippy::too_many_lines)] // one expected entry per example registry
fn every_example_registry_is_accepted_and_renders_its_exact_dockerconfigjson() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fs::read_to_string(path("examples/registries/catalog.yaml")).unwrap();
    let catalog = encrypt(tmp.path(), &plain, &[]);
    let out = render_with(&catalog, "demo", &["examples/registries/manifests.yaml"]);
    assert!(out.status.success(), "{}", transcript(&out));
    let got = plain_secrets(&out.stdout);
    let expected = BTreeMap::from([
        (
            "company",
            entry(
                "registry.example.com:5000",
                "robot",
                "demo-fake-system-password",
                Some("ops@example.com"),
            ),
        ),
        (
            "harbor",
            entry(
                "harbor.example.com/platform",
                "robot$platform+ci",
                "demo-fake-harbor-secret",
                None,
            ),
        ),
        (
            "hub",
            entry(
                "https://index.docker.io/v1/",
                "demo-user",
                "dckr_pat_demo-fake-token",
                None,
            ),
        ),
        (
            "quay",
            entry("quay.io/acme", "acme+deployer", "DEMOFAKEQUAYROBOTTOKEN", None),
        ),
        (
            "nexus",
            entry(
                "nexus.example.com:8443",
                "deployer",
                "demo-fake-nexus-password",
                None,
            ),
        ),
        (
            "jfrog",
            entry(
                "jfrog.example.com/docker-local",
                "deployer",
                "demo-fake-identity-token",
                None,
            ),
        ),
        (
            "jfrog-sub",
            entry(
                "docker-remote.jfrog.example.com",
                "deployer",
                "demo-fake-identity-token",
                None,
            ),
        ),
        (
            "acr",
            entry(
                "contosodemo.azurecr.io",
                "d3m0fake-0000-4000-8000-000000000000",
                "demo-fake-sp-secret",
                None,
            ),
        ),
        (
            "gar",
            entry(
                "europe-west1-docker.pkg.dev/demo-project",
                "_json_key",
                GAR_KEY,
                None,
            ),
        ),
        (
            "gcr",
            entry(
                "eu.gcr.io/demo-project",
                "_json_key",
                r#"{"type": "service_account", "project_id": "demo-project", "private_key": "DEMO-FAKE"}"#,
                None,
            ),
        ),
    ]);
    let expected: BTreeMap<String, String> = expected.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(got, expected);
    // The multi-line key's `auth` holds every byte of it, its newlines and last one included.
    let gar: serde_json::Value = serde_json::from_str(&got["gar"]).unwrap();
    let auth = STANDARD
        .decode(
            gar["auths"]["europe-west1-docker.pkg.dev/demo-project"]["auth"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(auth, format!("_json_key:{GAR_KEY}").into_bytes());
    assert!(GAR_KEY.ends_with("}\n") && GAR_KEY.matches('\n').count() == 7);
    // The public pod (Docker Hub anonymously, MCR) is left as it was: no imagePullSecrets.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let public = stdout
        .split("\n---\n")
        .find(|d| d.contains("name: public"))
        .unwrap();
    assert!(!public.contains("imagePullSecrets"), "{public}");
    assert!(!got.contains_key("hub-public") && !got.contains_key("mcr"));
    // ECR on the cluster whose kubelet pulls it: only the other registry's secret.
    let out = render_with(&catalog, "eks-demo", &["examples/registries/manifests-ecr.yaml"]);
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(plain_secrets(&out.stdout).keys().collect::<Vec<_>>(), ["company"]);
}

const PUBLIC: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  annotations: {pullseal.io/registries: 'hub-public, mcr'}
spec:
  containers:
  - {name: web, image: 'nginx:1.27'}
  - {name: tools, image: mcr.microsoft.com/dotnet/runtime:8.0}
";

#[test]
fn anonymous_registries_emit_nothing_and_policy_still_applies() {
    let out = render("test").write_stdin(PUBLIC).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        PUBLIC,
        "nothing added, byte for byte"
    );
    // hub-public is kept to namespace shop: elsewhere it is refused, secret or not.
    let elsewhere = PUBLIC.replace("namespace: shop", "namespace: other");
    let out = render("test").write_stdin(elsewhere).output().unwrap();
    insta::assert_snapshot!(transcript(&out), @r#"
    exit: 1
    ----- stdout -----
    ----- stderr -----
    error: 1 problem in the input:
      <stdin>: document 1: Pod other/web: registry "hub-public" is not allowed in namespace "other" (by registries.hub-public.allow.namespaces in the catalog)
    "#);
    // A reference that does not match still fails: mcr does not serve Docker Hub images.
    let wrong = PUBLIC
        .replace("'hub-public, mcr'", "mcr")
        .replace("{name: web,", "{name: web2,");
    let wrong = wrong.replace(
        "registries: mcr}",
        "registries: mcr, registry.pullseal.io/web2: mcr}",
    );
    let out = render("test").write_stdin(wrong).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not serve image \"nginx:1.27\""));
}

const ECR: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: shop
  annotations: {pullseal.io/registries: 'ecr-main, company'}
spec:
  containers:
  - {name: app, image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1}
  - {name: sidecar, image: 'registry.example.com:5000/shop/sidecar:1'}
---
apiVersion: v1
kind: Pod
metadata:
  name: only-ecr
  namespace: shop
  annotations: {pullseal.io/registries: ecr-main}
spec:
  containers:
  - {name: app, image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1}
";

#[test]
fn kubelet_credentials_emit_nothing_for_that_cluster_only() {
    let out = render("eks").write_stdin(ECR).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 1, "{stdout}");
    assert!(stdout.contains("pullseal.io/registry: \"company\""), "{stdout}");
    let docs: Vec<&str> = stdout.split("\n---\n").collect();
    assert!(
        docs[0].contains("imagePullSecrets:\n  - name: pullseal-company\n"),
        "{}",
        docs[0]
    );
    assert!(!docs[1].contains("imagePullSecrets"), "{}", docs[1]);
    // References still resolve on that cluster: ECR named for an image it does not serve is
    // an error there too.
    let wrong = ECR.replace(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1",
        "quay.io/acme/app:1",
    );
    let out = render("eks").write_stdin(wrong).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("registry \"ecr-main\" (server 123456789012.dkr.ecr.eu-west-1.amazonaws.com) serves none of the pod's images"),
        "{}",
        transcript(&out)
    );
    // Another cluster of the same catalog renders ECR for the External Secrets Operator
    // (issue 7; it was refused before): the keys Secret, the generator and the ExternalSecret.
    let out = render("test").write_stdin(ECR).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for kind in ["ECRAuthorizationToken", "ExternalSecret"] {
        assert_eq!(
            stdout.matches(&format!("\nkind: {kind}\n")).count(),
            1,
            "{stdout}"
        );
    }
}
