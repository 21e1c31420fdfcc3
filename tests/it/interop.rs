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

use crate::peers;
use crate::support::{
    AGE_KEY, CATALOG, assert_failure, encrypt, path, pullseal, recipient, render, render_workloads,
    transcript,
};

const SEALING_KEY: &str = "testdata/keys/sealed-secrets-test.key";

fn sops(args: &[&str], dir: &Path) -> std::process::Output {
    peers::sops_with_key(&path(AGE_KEY))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The test catalog's plaintext, as `sops decrypt` gives it.
fn plain_catalog() -> String {
    let out = sops(&["decrypt", CATALOG], &path(""));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `pullseal render` on `catalog` for `cluster`; `args` end with the input.
pub(crate) fn render_with(catalog: &Path, cluster: &str, args: &[&str]) -> std::process::Output {
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

/// Whether the real sops decrypts `catalog` (it checks the MAC).
fn sops_accepts(catalog: &Path) -> bool {
    let dir = catalog.parent().unwrap();
    sops(&["decrypt", catalog.to_str().unwrap()], dir)
        .status
        .success()
}

/// Writes a `.sops.yaml` into `dir` with one creation rule for the test recipient plus
/// `settings` (sops 3.11 has no flag for `mac_only_encrypted`), or removes it for `None`.
fn creation_rule(dir: &Path, settings: Option<&str>) {
    let file = dir.join(".sops.yaml");
    match settings {
        Some(settings) => fs::write(
            file,
            format!("creation_rules:\n  - age: {}\n{settings}", recipient()),
        )
        .unwrap(),
        None => {
            let _ = fs::remove_file(file);
        }
    }
}

const NAMESPACE_WIDE: &str = "testdata/render/namespace-wide/input.yaml";

#[test]
fn catalogs_encrypted_by_real_sops_decrypt() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_catalog();
    let reference = render("test").arg(NAMESPACE_WIDE).output().unwrap();
    assert!(reference.status.success(), "{}", transcript(&reference));
    // sops' defaults, spelled out or not, encrypt every value.
    for extra in [&[][..], &["--unencrypted-suffix", "_unencrypted"][..]] {
        let catalog = encrypt(tmp.path(), &plain, extra);
        let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
        assert!(out.status.success(), "sops {extra:?}: {}", transcript(&out));
        // Same credentials, another data key: same secrets, other ciphertext.
        assert_eq!(out.stdout.len(), reference.stdout.len());
    }
}

/// sops writes a YAML comment between or after list items as an encrypted `type:comment`
/// item that its MAC leaves out; such a catalog once failed with a MAC mismatch.
#[test]
fn comments_between_list_items_decrypt() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_catalog().replacen(
        "                - shop\n                - team-*\n",
        "                # the shop\n                - shop\n                # and the teams\n                - team-*\n                # nothing else\n",
        1,
    );
    assert!(plain.contains("# and the teams"));
    let catalog = encrypt(tmp.path(), &plain, &[]);
    let text = fs::read_to_string(&catalog).unwrap();
    assert_eq!(
        text.matches("type:comment]").count(),
        3 + 3,
        "3 list items, 3 head comments"
    );
    assert!(sops_accepts(&catalog));
    let reference = render("test").arg(NAMESPACE_WIDE).output().unwrap();
    let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout.len(), reference.stdout.len());
}

/// Catalogs the real sops makes with rules that leave values plain are refused, naming the
/// first plain path, even untampered.
#[test]
fn catalogs_that_are_not_fully_encrypted_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_catalog();
    for (extra, rule, first_plain, field) in [
        (
            &["--encrypted-regex", "^(password|username)$"][..],
            None,
            "`apiVersion` (line 4)",
            "encrypted_regex",
        ),
        (
            &["--unencrypted-regex", "^(type|server)$"][..],
            None,
            "`registries.company.type` (line 8)",
            "unencrypted_regex",
        ),
        (
            &["--encrypted-suffix", "word"][..],
            None,
            "`apiVersion` (line 4)",
            "encrypted_suffix",
        ),
        (
            &["--unencrypted-suffix", "_plain"][..],
            None,
            "",
            "unencrypted_suffix",
        ),
        (
            &[][..],
            Some("    encrypted_regex: ^password$\n    mac_only_encrypted: true\n"),
            "`apiVersion` (line 4)",
            "encrypted_regex",
        ),
        (
            &[][..],
            Some("    mac_only_encrypted: true\n"),
            "",
            "mac_only_encrypted",
        ),
    ] {
        creation_rule(tmp.path(), rule);
        let catalog = encrypt(tmp.path(), &plain, extra);
        assert!(sops_accepts(&catalog), "{extra:?} {rule:?}");
        let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
        assert_failure(&out, 3, "is not fully encrypted: ");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(first_plain), "{extra:?} {rule:?}: {stderr}");
        assert!(
            stderr.contains(&format!("the file sets `sops.{field}`")),
            "{extra:?} {rule:?}: {stderr}"
        );
        assert!(stderr.contains("fix: decrypt it"), "{stderr}");
        assert!(!stderr.contains("test-password-company"));
    }
    creation_rule(tmp.path(), None);
    // The exact message, once.
    let catalog = encrypt(tmp.path(), &plain, &["--encrypted-regex", "^password$"]);
    let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&*catalog.to_string_lossy(), "CATALOG");
    insta::assert_snapshot!(stderr, @r#"
    error: the catalog CATALOG is not fully encrypted: the value at `apiVersion` (line 4) is not encrypted (plain text); the file sets `sops.encrypted_regex` (line 300), which lets sops leave values plain
      why: sops ties a value to its registry, cluster and field only by encrypting it with its key path; its MAC covers values, not key names, and not where one plain value ends and the next begins, so a plain value can be renamed, moved, split or replaced and sops still accepts the file
      fix: decrypt it (`sops decrypt`), rename keys ending in `_unencrypted`, drop encrypted_regex, unencrypted_regex, encrypted_suffix, unencrypted_suffix, encrypted_comment_regex, unencrypted_comment_regex and mac_only_encrypted from the command line and .sops.yaml, and encrypt it again (`sops encrypt`)
    "#);
}

/// Swaps two lines that are equal to `a` and `b`.
fn swap_lines(text: &str, a: &str, b: &str) -> String {
    text.lines()
        .map(|l| {
            if l == a {
                b
            } else if l == b {
                a
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A tampering recipe: its name, the sops flags and `.sops.yaml` settings the catalog is made
/// with, the edit, whether the real sops still accepts the edited file, and the first plain
/// path pullseal must name.
type Recipe = (
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    Box<dyn Fn(&str) -> String>,
    bool,
    &'static str,
);

/// The tampering recipes of issue 5, on catalogs the real sops makes now: each edit keeps
/// the file valid for sops, and pullseal refuses every one with exit 3.
#[test]
fn tampering_recipes_that_sops_accepts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = plain_catalog();
    let test_cert = fs::read_to_string(path("testdata/keys/sealed-secrets-test.crt")).unwrap();
    let other_cert = fs::read_to_string(path("examples/quickstart/demo-cluster.crt")).unwrap();
    assert_eq!(test_cert.lines().count(), other_cert.lines().count());

    let regex_rule: &'static [&'static str] = &["--encrypted-regex", "^(password|username)$"];
    let mac_only = Some("    encrypted_regex: ^password$\n    mac_only_encrypted: true\n");
    let recipes: Vec<Recipe> = vec![
        (
            // `--cluster test` would get `plain`'s `seal: none` and print the password.
            "swap two cluster names under encrypted_regex",
            regex_rule,
            None,
            Box::new(|t: &str| swap_lines(t, "    test:", "    plain:")),
            true,
            "`apiVersion` (line 4)",
        ),
        (
            // The MAC hashes "shop" + "team-*" and "shopteam-" + "*" alike.
            "split an allow glob in two under encrypted_regex",
            regex_rule,
            None,
            Box::new(|t: &str| {
                t.replacen(
                    "                - shop\n                - team-*\n",
                    "                - shopteam-\n                - '*'\n",
                    1,
                )
            }),
            true,
            "`apiVersion` (line 4)",
        ),
        (
            "a plain `seal: none` under mac_only_encrypted",
            &[],
            mac_only,
            Box::new(|t: &str| t.replacen("seal: sealed-secrets", "seal: none", 1)),
            true,
            "`apiVersion` (line 4)",
        ),
        (
            "another certificate under mac_only_encrypted",
            &[],
            mac_only,
            Box::new(move |t: &str| {
                test_cert
                    .lines()
                    .zip(other_cert.lines())
                    .fold(t.to_owned(), |t, (a, b)| t.replace(a, b))
            }),
            true,
            "`apiVersion` (line 4)",
        ),
        (
            // sops then takes every value for plain and fails on the MAC; pullseal once
            // decided by looks and took the one plain value.
            "encrypted_comment_regex instead of the suffix rule",
            &[],
            None,
            Box::new(|t: &str| {
                let seal = t.find("        seal: ENC[").unwrap();
                let end = seal + t[seal..].find('\n').unwrap();
                format!("{}        seal: sealed-secrets{}", &t[..seal], &t[end..]).replacen(
                    "unencrypted_suffix: _unencrypted",
                    "encrypted_comment_regex: pullseal",
                    1,
                )
            }),
            false,
            "`clusters.test.seal` (line",
        ),
    ];
    for (name, extra, rule, tamper, sops_ok, first_plain) in recipes {
        creation_rule(tmp.path(), rule);
        let catalog = encrypt(tmp.path(), &plain, extra);
        let before = fs::read_to_string(&catalog).unwrap();
        let after = tamper(&before);
        assert_ne!(after, before, "{name}: the edit did nothing");
        fs::write(&catalog, &after).unwrap();
        assert_eq!(sops_accepts(&catalog), sops_ok, "{name}");
        let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
        assert_failure(&out, 3, "is not fully encrypted: the value at ");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(first_plain), "{name}: {stderr}");
        assert!(!stderr.contains("test-password-company"), "{name}");
    }
}

#[test]
fn tampered_fully_encrypted_catalogs_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = encrypt(tmp.path(), &plain_catalog(), &[]);
    let text = fs::read_to_string(&catalog).unwrap();
    // Key names are not in the MAC, but every value's additional data holds its path.
    fs::write(&catalog, swap_lines(&text, "    test:", "    plain:")).unwrap();
    assert!(!sops_accepts(&catalog));
    let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
    assert_failure(&out, 3, "cannot decrypt the value at `clusters.plain.seal`");
    // Empty lists add nothing to the MAC: sops accepts one added, pullseal does not.
    let marker = "        allow:\n            clusters:\n";
    let item = text.find(marker).unwrap() + marker.len();
    let end = item + text[item..].find('\n').unwrap() + 1;
    let added = format!("{}            namespaces: []\n{}", &text[..end], &text[end..]);
    fs::write(&catalog, added).unwrap();
    assert!(sops_accepts(&catalog));
    let out = render_with(&catalog, "test", &[NAMESPACE_WIDE]);
    assert_failure(&out, 3, "registries.prod-only.allow.namespaces: is an empty list");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("test-password-company"));
}

/// Unseals every SealedSecret of `yaml` with kubesealpy: `{"ns/name": {"key": "value"}}`.
fn unseal(yaml: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    peers::unseal(yaml, &path(SEALING_KEY))
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

/// Issue 7: the secrets of the new provider types unseal, with the real scheme, to exactly the
/// `.dockerconfigjson` the kubelet needs: Artifact Registry's `_json_key` with a multi-line key
/// whose `auth` holds every byte of it, and Artifactory's path-prefixed key.
#[test]
fn provider_secrets_unseal_with_kubesealpy() {
    let input = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: shop}
spec:
  template:
    metadata:
      annotations: {pullseal.io/registries: 'gcr-team, jfrog, hub-public'}
    spec:
      containers:
      - {name: app, image: europe-west1-docker.pkg.dev/test-project/repo/app:1}
      - {name: tools, image: jfrog.example.com/docker-local/tools:2}
      - {name: web, image: 'nginx:1.27'}
";
    let out = render("test").write_stdin(input).output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let unsealed = unseal(&out.stdout);
    assert_eq!(
        unsealed.keys().collect::<Vec<_>>(),
        ["shop/pullseal-gcr-team", "shop/pullseal-jfrog"],
        "public Docker Hub gets no secret"
    );
    let key = "{\n  \"type\": \"service_account\",\n  \"project_id\": \"test-project\",\n  \"private_key_id\": \"test-only\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nTEST-ONLY-NOT-A-KEY\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"puller@test-project.iam.gserviceaccount.com\"\n}\n";
    let parse =
        |id: &str| -> serde_json::Value { serde_json::from_str(&unsealed[id][".dockerconfigjson"]).unwrap() };
    assert_eq!(
        parse("shop/pullseal-gcr-team"),
        expected_config("europe-west1-docker.pkg.dev/test-project", "_json_key", key, None)
    );
    assert_eq!(
        parse("shop/pullseal-jfrog"),
        expected_config(
            "jfrog.example.com/docker-local",
            "deployer",
            "test-jfrog-identity-token",
            None
        )
    );
}
