//! `seal: sops` clusters, against the real sops 3.11 (installed by `scripts/install-test-peers`):
//!
//! - every Secret pullseal renders for the test catalog's `flux` cluster opens with
//!   `sops decrypt` and the TEST-ONLY age key, whose MAC check it passes, to exactly the
//!   expected `.dockerconfigjson` (base64 under `data`, as the kubelet reads it);
//! - two renders are byte-identical, and a tampered value or plain field fails the MAC;
//! - rotating one registry's password with `sops set` changes that registry's Secret only;
//! - `--all-clusters --out-dir` writes a sops cluster's directory beside a sealed one;
//! - `examples/flux/` has the shape Flux's kustomize-controller documents
//!   (`shared/reference/contracts.md` §4). No Flux runs here (none can be installed from the
//!   registries this project may use): the test checks the example's files against that
//!   contract, and sops' own decrypt stands in for the controller's (which runs the same code,
//!   without the MAC check by default).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use fs_err as fs;

use crate::interop::render_with;
use crate::peers;
use crate::support::{AGE_KEY, CATALOG, encrypt, path, render, transcript};

const INPUT: &str = "testdata/render/flux-sops/input.yaml";

/// `sops decrypt --output-type json` of `doc` (written to a file in `dir`).
fn sops_decrypt(dir: &Path, doc: &str) -> std::process::Output {
    let file = dir.join("secret.yaml");
    fs::write(&file, doc).unwrap();
    peers::sops_with_key(&path(AGE_KEY))
        .args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(&file)
        .output()
        .unwrap()
}

/// The sops Secrets of a rendered stream, by `namespace/name` (`-/name` without a namespace).
fn sops_secrets(stdout: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    let mut out = BTreeMap::new();
    for doc in text.split("\n---\n").filter(|d| d.contains("\nsops:\n")) {
        let field = |k: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(&format!("    {k}: ")))
                .map(|v| v.trim_matches('"').to_owned())
        };
        let id = format!(
            "{}/{}",
            field("namespace").unwrap_or_else(|| "-".to_owned()),
            field("name").unwrap()
        );
        out.insert(id, format!("{}\n", doc.trim_end_matches('\n')));
    }
    out
}

/// What a Secret decrypts to: its `.dockerconfigjson`, decoded, as JSON.
fn opened(dir: &Path, doc: &str) -> (serde_json::Value, serde_json::Value) {
    let out = sops_decrypt(dir, doc);
    assert!(
        out.status.success(),
        "sops decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let encoded = secret["data"][".dockerconfigjson"].as_str().unwrap();
    let json = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    (secret.clone(), serde_json::from_slice(&json).unwrap())
}

fn expected(key: &str, user: &str, pass: &str, email: Option<&str>) -> serde_json::Value {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut entry = serde_json::json!({"auth": auth, "password": pass, "username": user});
    if let Some(e) = email {
        entry["email"] = e.into();
    }
    serde_json::json!({"auths": {key: entry}})
}

#[test]
fn flux_secrets_open_with_real_sops_to_the_exact_dockerconfigjson() {
    let tmp = tempfile::tempdir().unwrap();
    let run = || render("flux").arg(INPUT).output().unwrap();
    let out = run();
    assert!(out.status.success(), "{}", transcript(&out));
    // Byte-identical, run after run.
    assert_eq!(out.stdout, run().stdout, "two renders differ");
    crate::cli::assert_no_secrets(&String::from_utf8_lossy(&out.stdout));
    let secrets = sops_secrets(&out.stdout);
    let want = [
        (
            "-/pullseal-dockerhub",
            expected(
                "https://index.docker.io/v1/",
                "test-user",
                "test-dockerhub-token",
                None,
            ),
        ),
        (
            "shop/pullseal-company",
            expected(
                "registry.example.com:5000",
                "robot",
                "test-password-company",
                Some("ops@example.com"),
            ),
        ),
        (
            "shop/pullseal-yes",
            expected("yes.example.com", "u", "p@ss:\"w\\ord'\u{e9}", None),
        ),
    ];
    assert_eq!(
        secrets.keys().collect::<Vec<_>>(),
        want.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    for (id, config) in want {
        let (secret, got) = opened(tmp.path(), &secrets[id]);
        assert_eq!(got, config, "{id}");
        assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson", "{id}");
        assert_eq!(
            secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "pullseal"
        );
        assert!(
            secret.get("sops").is_none(),
            "{id}: sops decrypt keeps no metadata"
        );
    }
    // The registry called `yes` stays a string for YAML 1.1 readers (the API server).
    assert!(secrets["shop/pullseal-yes"].contains("pullseal.io/registry: \"yes\"\n"));
}

/// sops' MAC covers every value, the plain ones too: an edited name or a swapped ciphertext
/// fails `sops decrypt`. (Flux does not check the MAC by default; see examples/flux.)
#[test]
fn tampered_flux_secrets_fail_the_mac() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render("flux").arg(INPUT).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let secrets = sops_secrets(&out.stdout);
    let company = &secrets["shop/pullseal-company"];
    let yes = &secrets["shop/pullseal-yes"];
    assert!(sops_decrypt(tmp.path(), company).status.success());
    let value = |doc: &str| {
        doc.lines()
            .find(|l| l.starts_with("    .dockerconfigjson: "))
            .unwrap()
            .to_owned()
    };
    let renamed = company.replace("name: pullseal-company", "name: pullseal-evil");
    let swapped = company.replace(&value(company), &value(yes));
    let mut flipped = value(company);
    let at = flipped.find("data:").unwrap() + 5;
    let c = if &flipped[at..=at] == "A" { "B" } else { "A" };
    flipped.replace_range(at..=at, c);
    let flipped = company.replace(&value(company), &flipped);
    for (what, doc) in [("renamed", renamed), ("swapped", swapped), ("flipped", flipped)] {
        assert_ne!(&doc, company, "{what}: nothing was changed");
        let out = sops_decrypt(tmp.path(), &doc);
        assert!(!out.status.success(), "{what}: sops decrypted a tampered file");
    }
}

/// `sops set` on one registry's password (the data key stays) changes that registry's
/// Secret and no other, and the new one opens to the new password.
#[test]
fn rotating_one_password_changes_only_its_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("pullseal.catalog.yaml");
    fs::copy(path(CATALOG), &catalog).unwrap();
    let run = || {
        let out = render_with(&catalog, "flux", &[INPUT]);
        assert!(out.status.success(), "{}", transcript(&out));
        sops_secrets(&out.stdout)
    };
    let before = run();
    let out = peers::sops_with_key(&path(AGE_KEY))
        .args([
            "set",
            "pullseal.catalog.yaml",
            r#"["registries"]["company"]["password"]"#,
            r#""rotated-password""#,
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = run();
    assert_eq!(before.len(), 3);
    for (id, doc) in &before {
        if id == "shop/pullseal-company" {
            assert_ne!(doc, &after[id], "{id} should change");
        } else {
            assert_eq!(doc, &after[id], "{id} should not change");
        }
    }
    let (_, config) = opened(tmp.path(), &after["shop/pullseal-company"]);
    assert_eq!(
        config["auths"]["registry.example.com:5000"]["password"],
        "rotated-password"
    );
}

/// `--all-clusters --out-dir` with a sops cluster beside a sealed-secrets one.
#[test]
fn all_clusters_writes_a_sops_cluster_beside_a_sealed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = fs::read_to_string(path("testdata/keys/sealed-secrets-test.crt")).unwrap();
    let cert: String = cert.lines().flat_map(|l| ["      ", l, "\n"]).collect();
    let plain = format!(
        "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n  company:\n    type: generic\n    server: registry.example.com:5000\n    username: robot\n    password: test-password-company\nclusters:\n  flux:\n    seal: sops\n    ageRecipients: [\"{}\"]\n  test:\n    certificate: |\n{cert}",
        crate::support::recipient()
    );
    let catalog = encrypt(tmp.path(), &plain, &[]);
    let input = tmp.path().join("app.yaml");
    fs::write(
        &input,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    pullseal.io/registries: company\nspec:\n  containers:\n    - {name: web, image: registry.example.com:5000/web:1}\n",
    )
    .unwrap();
    let rendered = tmp.path().join("rendered");
    let run = || {
        let out = crate::support::pullseal()
            .args(["render", "--age-key-file", AGE_KEY, "--all-clusters", "--out-dir"])
            .arg(&rendered)
            .arg("--catalog")
            .arg(&catalog)
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
        assert!(out.stdout.is_empty());
        (
            fs::read(rendered.join("flux/manifests.yaml")).unwrap(),
            fs::read(rendered.join("test/manifests.yaml")).unwrap(),
        )
    };
    let (flux, test) = run();
    assert_eq!((flux.clone(), test.clone()), run(), "a second run differs");
    assert!(String::from_utf8_lossy(&test).contains("kind: SealedSecret\n"));
    let secrets = sops_secrets(&flux);
    assert_eq!(secrets.len(), 1);
    let (_, config) = opened(tmp.path(), &secrets["shop/pullseal-company"]);
    assert_eq!(
        config,
        expected(
            "registry.example.com:5000",
            "robot",
            "test-password-company",
            None
        )
    );
}

/// The example's Kustomization is what kustomize-controller's decryption needs
/// (`kustomize.toolkit.fluxcd.io/v1`, `spec.decryption.provider: sops`, a `secretRef` to a
/// Secret in its namespace), and its age Secret has an `*.agekey` entry. A shape check only:
/// no Flux can run here.
#[test]
fn the_flux_example_has_the_documented_shape() {
    let dir = path("examples/flux");
    let kustomization = fs::read_to_string(dir.join("clusters/flux/pullseal.yaml")).unwrap();
    let docs: Vec<&str> = kustomization.split("\n---\n").collect();
    let ks = docs
        .iter()
        .find(|d| d.contains("kind: Kustomization"))
        .expect("a Kustomization");
    for line in [
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n",
        "  namespace: flux-system\n",
        "  path: ./rendered/flux\n",
        "  prune: true\n",
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
    ] {
        assert!(ks.contains(line), "the Kustomization lacks {line:?}:\n{ks}");
    }
    let age = fs::read_to_string(dir.join("sops-age-secret.yaml")).unwrap();
    for line in [
        "kind: Secret\n",
        "  name: sops-age\n",
        "  namespace: flux-system\n",
        "  age.agekey: |\n",
    ] {
        assert!(age.contains(line), "the age Secret lacks {line:?}:\n{age}");
    }
    // The CI step renders every cluster into rendered/, as the Kustomization's path expects.
    let ci = fs::read_to_string(dir.join("render.sh")).unwrap();
    assert!(
        ci.contains("pullseal render --all-clusters --out-dir rendered/"),
        "{ci}"
    );
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("No Flux runs in the test suite"), "{readme}");
}

/// An ECR registry on a `seal: sops` cluster: the AWS keys Secret is SOPS-encrypted to the
/// cluster's recipients like the pull secrets (an `Opaque` Secret, `data` encrypted), opens
/// with the real sops to exactly the catalog's keys, and is deterministic; the ESO objects
/// beside it carry no secret.
#[test]
fn ecr_keys_on_a_sops_cluster_are_sops_encrypted() {
    let run = || {
        render("flux")
            .arg("testdata/render/ecr-external-secrets/input.yaml")
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(run().stdout, out.stdout, "two renders differ");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        !text.contains("AKIATESTONLY") && !text.contains("test-ecr-secret-key"),
        "{text}"
    );
    assert_eq!(text.matches("kind: ExternalSecret\n").count(), 2, "{text}");
    let secrets = sops_secrets(&out.stdout);
    let keys = secrets
        .get("shop/pullseal-ecr-main-aws")
        .unwrap_or_else(|| panic!("{secrets:?}"));
    assert!(keys.contains("type: Opaque\n"), "{keys}");
    let tmp = tempfile::tempdir().unwrap();
    let opened = sops_decrypt(tmp.path(), keys);
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    let decode = |k: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(secret["data"][k].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("access-key-id"), "AKIATESTONLY00000000");
    assert_eq!(decode("secret-access-key"), "test-ecr-secret-key");
}

/// A CRLF stream (a Windows checkout) gets its SOPS Secrets with CRLF too, not a stream with two
/// line ends, and real sops still opens each one: the MAC covers the values, which YAML reads
/// the same with either line end. Line ends aside, the output is the LF render's, byte for byte.
#[test]
fn a_crlf_stream_gets_crlf_secrets_that_sops_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.yaml");
    let text = fs::read_to_string(path(INPUT)).unwrap();
    fs::write(&input, text.replace('\n', "\r\n")).unwrap();
    let out = render("flux").arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.replace("\r\n", "").contains(['\r', '\n']),
        "a line does not end in CR LF:\n{stdout}"
    );
    let lf = render("flux").arg(INPUT).output().unwrap();
    assert_eq!(
        stdout.replace("\r\n", "\n"),
        String::from_utf8(lf.stdout.clone()).unwrap()
    );
    let want = sops_secrets(&lf.stdout);
    assert!(!want.is_empty());
    for lf_doc in want.values() {
        let doc = lf_doc.replace('\n', "\r\n");
        assert!(stdout.contains(&doc), "{doc}");
        assert_eq!(opened(tmp.path(), &doc), opened(tmp.path(), lf_doc));
    }
}
