//! Interop with the real peers, installed by `scripts/install-test-peers`:
//!
//! - catalogs encrypted by the real Go `sops` 3.11 (at test time, from plaintext) decrypt, and
//!   tampered ones fail;
//! - the SealedSecrets pullseal emits unseal with an independent implementation (`kubesealpy`
//!   with the TEST-ONLY controller key) to exactly the expected `.dockerconfigjson`;
//! - a credential edited with `sops set` (which keeps the data key) changes that secret's
//!   sealed value and no other.
//!
//! No real sealed-secrets controller or cluster runs here (none can be installed from the
//! registries this project may use); the controller's unsealing contract is checked through
//! kubesealpy, which implements the same scheme.

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::peers;
use crate::support::{
    AGE_KEY, CATALOG, assert_failure, path, pullseal, render, render_workloads, transcript,
};

const SEALING_KEY: &str = "testdata/keys/sealed-secrets-test.key";

fn sops(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(peers::sops())
        .args(args)
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap()
}

fn recipient() -> String {
    let key = fs::read_to_string(path(AGE_KEY)).unwrap();
    key.split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap()
        .to_owned()
}

/// The test catalog's plaintext, as `sops decrypt` gives it.
fn plain_catalog() -> String {
    let out = sops(&["decrypt", CATALOG], &path(""));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Encrypts `plain` with the real sops into `dir/pullseal.catalog.yaml`.
fn encrypt(dir: &Path, plain: &str, extra: &[&str]) -> std::path::PathBuf {
    fs::write(dir.join("plain.yaml"), plain).unwrap();
    let r = recipient();
    let mut args = vec!["encrypt", "--input-type", "yaml", "--output-type", "yaml"];
    // With a .sops.yaml, its creation rule names the recipient (flags would override it).
    if !dir.join(".sops.yaml").exists() {
        args.extend(["--age", &r]);
    }
    args.extend_from_slice(extra);
    args.push("plain.yaml");
    let out = sops(&args, dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.join("pullseal.catalog.yaml");
    fs::write(&file, out.stdout).unwrap();
    file
}

/// `pullseal render` on `catalog` for `cluster`; `args` end with the input.
fn render_with(catalog: &Path, cluster: &str, args: &[&str]) -> std::process::Output {
    pullseal()
        .args([
            "render",
            "--age-key-file",
            AGE_KEY,
            "--cluster",
            cluster,
            "--catalog",
        ])
        .arg(catalog)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn catalogs_encrypted_by_real_sops_decrypt() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_catalog();
    let input = "testdata/render/namespace-wide/input.yaml";
    let reference = render("test").arg(input).output().unwrap();
    assert!(reference.status.success(), "{}", transcript(&reference));
    for (extra, rules) in [
        (&[][..], None),
        (&["--encrypted-regex", "^(password|username)$"][..], None),
        // mac_only_encrypted has no flag in sops 3.11; it comes from a creation rule.
        (
            &[][..],
            Some(
                "creation_rules:\n  - encrypted_regex: ^password$\n    mac_only_encrypted: true\n    age: RECIPIENT\n",
            ),
        ),
    ] {
        match rules {
            Some(r) => fs::write(
                tmp.path().join(".sops.yaml"),
                r.replace("RECIPIENT", &recipient()),
            )
            .unwrap(),
            None => {
                let _ = fs::remove_file(tmp.path().join(".sops.yaml"));
            }
        }
        let catalog = encrypt(tmp.path(), &plain, extra);
        if rules.is_some() {
            assert!(
                fs::read_to_string(&catalog)
                    .unwrap()
                    .contains("mac_only_encrypted: true")
            );
        }
        let out = render_with(&catalog, "test", &[input]);
        assert!(out.status.success(), "sops {extra:?}: {}", transcript(&out));
        // Same credentials, another data key: same secrets, other ciphertext.
        assert_eq!(out.stdout.len(), reference.stdout.len());
    }
}

#[test]
fn tampered_catalogs_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = encrypt(tmp.path(), &plain_catalog(), &["--encrypted-regex", "^password$"]);
    let text = fs::read_to_string(&catalog).unwrap();
    // An unencrypted value changed after encryption: only the MAC can tell.
    let tampered = text.replacen(
        "server: registry.example.com:5000",
        "server: evil.example.com:5000",
        1,
    );
    assert_ne!(tampered, text);
    fs::write(&catalog, tampered).unwrap();
    let out = render_with(&catalog, "test", &["testdata/render/namespace-wide/input.yaml"]);
    assert_failure(&out, 3, "mac mismatch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("test-password-company"));
}

/// Unseals every SealedSecret of `yaml` with kubesealpy: `{"ns/name": {"key": "value"}}`.
fn unseal(yaml: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sealed.yaml");
    fs::write(&file, yaml).unwrap();
    let out = Command::new(peers::kubesealpy_python())
        .arg(path("tests/interop/unseal_kubesealpy.py"))
        .arg(path(SEALING_KEY))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubesealpy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn expected_config(key: &str, user: &str, pass: &str, email: Option<&str>) -> serde_json::Value {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut entry = serde_json::json!({"auth": auth, "password": pass, "username": user});
    if let Some(e) = email {
        entry["email"] = e.into();
    }
    serde_json::json!({"auths": {key: entry}})
}

#[test]
fn sealed_secrets_unseal_with_kubesealpy_to_the_exact_dockerconfigjson() {
    for cluster in ["test", "test-ns", "test-cw"] {
        let out = render_workloads(cluster);
        assert!(out.status.success(), "{}", transcript(&out));
        let unsealed = unseal(&out.stdout);
        let expected = [
            (
                "shop/pullseal-company",
                expected_config(
                    "registry.example.com:5000",
                    "robot",
                    "test-password-company",
                    Some("ops@example.com"),
                ),
            ),
            (
                "shop/pullseal-dockerhub",
                expected_config(
                    "https://index.docker.io/v1/",
                    "test-user",
                    "test-dockerhub-token",
                    None,
                ),
            ),
            (
                "team-a/pullseal-company",
                expected_config(
                    "registry.example.com:5000",
                    "robot",
                    "test-password-company",
                    Some("ops@example.com"),
                ),
            ),
            (
                "team-a/pullseal-quay-team",
                expected_config("quay.io/acme", "acme+deployer", "test-quay-robot-token", None),
            ),
            (
                "team-a/pullseal-quay-all",
                expected_config("quay.io", "other+robot", "test-quay-other-token", None),
            ),
        ];
        assert_eq!(unsealed.len(), expected.len(), "{cluster}: {:?}", unsealed.keys());
        for (id, config) in expected {
            let got = unsealed
                .get(id)
                .unwrap_or_else(|| panic!("{cluster}: {id} missing"));
            let text = got.get(".dockerconfigjson").unwrap();
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(value, config, "{cluster}: {id}");
        }
    }
}

#[test]
fn special_characters_survive_sealing() {
    let out = render("test-ns")
        .write_stdin(fs::read(path("testdata/render/seal-none/input.yaml")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let unsealed = unseal(&out.stdout);
    let got: serde_json::Value =
        serde_json::from_str(&unsealed["shop/pullseal-yes"][".dockerconfigjson"]).unwrap();
    assert_eq!(
        got,
        expected_config("yes.example.com", "u", "p@ss:\"w\\ord'\u{e9}", None)
    );
}

#[test]
fn editing_a_credential_reseals_only_that_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("pullseal.catalog.yaml");
    fs::copy(path(CATALOG), &catalog).unwrap();
    let input = "testdata/render/workloads/input.yaml";
    let sealed_values = |out: &std::process::Output| -> BTreeMap<String, String> {
        assert!(out.status.success(), "{}", transcript(out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut map = BTreeMap::new();
        for doc in text.split("\n---\n").filter(|d| d.contains("kind: SealedSecret")) {
            let field = |k: &str| {
                doc.lines()
                    .find_map(|l| l.trim().strip_prefix(k))
                    .unwrap()
                    .trim()
                    .trim_matches('"')
                    .to_owned()
            };
            map.insert(
                format!("{}/{}", field("namespace:"), field("name:")),
                field(".dockerconfigjson:"),
            );
        }
        map
    };
    let run = || {
        render_with(
            &catalog,
            "test",
            &["--pod-spec", "Rollout=spec.template.spec", input],
        )
    };
    let before = sealed_values(&run());
    // `sops set` re-encrypts one value and keeps the data key, as an admin's edit does.
    let out = sops(
        &[
            "set",
            "pullseal.catalog.yaml",
            r#"["registries"]["company"]["password"]"#,
            r#""rotated-password""#,
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = sealed_values(&run());
    assert_eq!(before.len(), 5);
    for (id, value) in &before {
        if id.ends_with("/pullseal-company") {
            assert_ne!(value, &after[id], "{id} should be resealed");
        } else {
            assert_eq!(value, &after[id], "{id} should not change");
        }
    }
    assert!(unseal(&run().stdout)["shop/pullseal-company"][".dockerconfigjson"].contains("rotated-password"));
}

/// Issue 5: the pinned answer of the sealing derivation is a blob the real scheme opens, so
/// the known-answer unit test pins something a controller accepts.
#[test]
fn the_known_answer_unseals_with_kubesealpy() {
    let yaml = fs::read(path("testdata/seal/known-answer.yaml")).unwrap();
    let unsealed = unseal(&yaml);
    assert_eq!(
        unsealed["team-a/regcred"][".dockerconfigjson"],
        r#"{"auths":{"registry.example.com":{"auth":"dTpw"}}}"#
    );
}

/// Issue 5: a catalog whose cluster certificate has a 1024-bit RSA key is refused before
/// anything is sealed with it.
#[test]
fn a_weak_certificate_in_the_catalog_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let weak: String = fs::read_to_string(path("testdata/keys/sealed-secrets-1024.crt"))
        .unwrap()
        .lines()
        .flat_map(|line| ["            ", line, "\n"])
        .collect();
    // `clusters` is the last mapping of the catalog, and sops indents by four.
    let plain = format!(
        "{}    weak:\n        seal: sealed-secrets\n        certificate: |\n{weak}",
        plain_catalog()
    );
    let catalog = encrypt(tmp.path(), &plain, &[]);
    let out = render_with(&catalog, "weak", &["testdata/render/namespace-wide/input.yaml"]);
    assert_failure(
        &out,
        3,
        "clusters.weak.certificate: sealing certificate's RSA key is 1024 bits, at least 2048 are required",
    );
}
