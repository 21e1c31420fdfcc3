//! `pullseal catalog`: the admin's commands end to end. Every state the commands write is
//! opened by the real `sops decrypt` and used by `pullseal render`; an edit changes only the
//! edited field's lines plus `lastmodified` and `mac`; a file edited by `sops set` edits
//! again; and no credential given to a command ever shows in its stdout or stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::peers;
use crate::support::{AGE_KEY, path, pullseal};

/// The TEST-ONLY age key's public half (testdata/keys/age-test.txt).
const RECIPIENT: &str = "age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48";

/// Credentials unique enough to grep for in every output.
const QUAY_TOKEN: &str = "quay-TOKEN-7f3a9c1e-leakcheck";
const QUAY_TOKEN_2: &str = "quay-TOKEN-2b8d4e60-leakcheck";
const COMPANY_PASSWORD: &str = "company-PW-91c0ffee-leakcheck";
const AWS_SECRET: &str = "aws-SECRET-5e6f7a8b-leakcheck";
const GCR_KEY_MARK: &str = "gcr-PRIVATE-3c4d5e6f-leakcheck";

struct Admin {
    dir: tempfile::TempDir,
    outputs: Vec<Output>,
}

impl Admin {
    fn new() -> Admin {
        Admin {
            dir: tempfile::tempdir().unwrap(),
            outputs: Vec::new(),
        }
    }

    fn catalog(&self) -> PathBuf {
        self.dir.path().join("pullseal.catalog.yaml")
    }

    /// Runs `pullseal catalog ARGS` on the catalog, with `stdin`; keeps the output for the
    /// leak check.
    fn run(&mut self, args: &[&str], stdin: &str) -> Output {
        let out = pullseal()
            .arg("catalog")
            .args(args)
            .arg("--catalog")
            .arg(self.catalog())
            .args(["--age-key-file", AGE_KEY])
            .write_stdin(stdin)
            .output()
            .unwrap();
        self.outputs.push(out.clone());
        out
    }

    fn ok(&mut self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    /// The real `sops decrypt` of the catalog, as JSON.
    fn sops_json(&self) -> serde_json::Value {
        let out = Command::new(peers::sops())
            .args(["decrypt", "--output-type", "json"])
            .arg(self.catalog())
            .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
            .env_remove("SOPS_AGE_KEY")
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sops decrypt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `pullseal render` of a pod using `registry` in namespace shop-a: succeeds and seals.
    fn render(&mut self, registry: &str) -> String {
        let manifest = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop-a\n  annotations:\n    pullseal.io/registries: {registry}\nspec:\n  containers:\n    - name: web\n      image: quay.io/acme/web:1\n"
        );
        let out = pullseal()
            .args(["render", "--catalog"])
            .arg(self.catalog())
            .args(["--age-key-file", AGE_KEY, "--cluster", "demo"])
            .write_stdin(manifest)
            .output()
            .unwrap();
        self.outputs.push(out.clone());
        assert!(
            out.status.success(),
            "render failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A catalog with a `seal: none` cluster `demo` and the registry `quay-team`.
    fn with_quay_team() -> Admin {
        let mut admin = Admin::new();
        admin.ok(&["init", "--age", RECIPIENT], "");
        admin.ok(&["cluster", "add", "demo", "--seal", "none"], "");
        admin.ok(
            &[
                "add",
                "quay-team",
                "--type",
                "quay",
                "--server",
                "quay.io/acme",
                "--username",
                "acme+ci",
                "--password-stdin",
            ],
            QUAY_TOKEN,
        );
        admin
    }

    /// No credential in anything any command printed.
    fn assert_no_leak(&self) {
        for out in &self.outputs {
            for stream in [&out.stdout, &out.stderr] {
                let text = String::from_utf8_lossy(stream);
                for secret in [
                    QUAY_TOKEN,
                    QUAY_TOKEN_2,
                    COMPANY_PASSWORD,
                    AWS_SECRET,
                    GCR_KEY_MARK,
                ] {
                    assert!(!text.contains(secret), "{secret} leaked:\n{text}");
                }
            }
        }
    }
}

/// The keys of the lines that differ between two versions of a file edited in place, but
/// `lastmodified`.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len(), "an in-place edit changed the line count");
    b.iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.trim_start().split(':').next().unwrap().to_owned())
        // Within the same second `lastmodified` stays; the MAC changes with the content.
        .filter(|key| key != "lastmodified")
        .collect()
}

fn gcr_key() -> String {
    format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{GCR_KEY_MARK}\\n-----END PRIVATE KEY-----\\n\"\n}}\n"
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
#[allow(clippy::too_many_lines)] // one story: init, add, list, rotate, set, rm
fn init_add_list_rotate_set_rm_round_trip() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    assert_eq!(
        admin.sops_json(),
        serde_json::json!({"apiVersion": "pullseal.io/v1alpha1", "kind": "RegistryCatalog", "registries": {}, "clusters": {}})
    );
    #[cfg(unix)]
    assert_eq!(mode(&admin.catalog()), 0o600);
    // init never overwrites.
    let out = admin.run(&["init", "--age", RECIPIENT], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog init does not overwrite a file"));

    let cert = path("testdata/keys/sealed-secrets-test.crt");
    admin.ok(&["cluster", "add", "demo", "--cert", cert.to_str().unwrap()], "");
    admin.ok(
        &[
            "add",
            "quay-team",
            "--type",
            "quay",
            "--server",
            "quay.io/acme",
            "--username",
            "acme+ci",
            "--password-stdin",
            "--allow-namespace",
            "shop-*",
        ],
        &format!("{QUAY_TOKEN}\n"),
    );
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));
    let company_pw = admin.file("company.pw", &format!("{COMPANY_PASSWORD}\n"));
    admin.ok(
        &[
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "quay.io",
            "--username",
            "ci",
            "--password-file",
            &company_pw,
            "--email",
            "ci@example.com",
        ],
        "",
    );
    admin.ok(&["add", "hub", "--type", "dockerhub", "--public"], "");
    let key = admin.file("sa.json", &gcr_key());
    admin.ok(
        &[
            "add",
            "gar",
            "--type",
            "gcr",
            "--server",
            "europe-west1-docker.pkg.dev/demo",
            "--key-file",
            &key,
        ],
        "",
    );
    let aws = admin.file("aws.key", AWS_SECRET);
    admin.ok(
        &[
            "add",
            "ecr",
            "--type",
            "ecr",
            "--server",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "--region",
            "eu-west-1",
            "--access-key-id",
            "AKIAIOSFODNN7EXAMPLE",
            "--secret-access-key-file",
            &aws,
        ],
        "",
    );
    let json = admin.sops_json();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN);
    assert_eq!(json["registries"]["company"]["password"], COMPANY_PASSWORD);
    assert_eq!(
        json["registries"]["gar"]["password"],
        gcr_key(),
        "a key file is kept byte for byte"
    );
    assert_eq!(json["registries"]["ecr"]["secretAccessKey"], AWS_SECRET);
    assert_eq!(json["registries"]["hub"]["public"], true);
    assert!(admin.render("company").contains("kind: SealedSecret"));

    // Refusals name the registry and field as the loader does, and write nothing.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let refusals = [
        admin.run(
            &[
                "add",
                "company",
                "--type",
                "generic",
                "--server",
                "x.io",
                "--username",
                "u",
                "--password-stdin",
            ],
            "p",
        ),
        admin.run(&["add", "Bad_Name", "--type", "dockerhub", "--public"], ""),
        admin.run(
            &[
                "add",
                "quay2",
                "--type",
                "quay",
                "--server",
                "quay.io",
                "--username",
                "acme+ci",
            ],
            "",
        ),
        admin.run(
            &[
                "add",
                "ecr2",
                "--type",
                "ecr",
                "--server",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            ],
            "",
        ),
    ];
    let stderr: Vec<String> = refusals
        .iter()
        .map(|o| {
            assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(o.stdout.is_empty());
            // The error line and the problem lines; not the hint.
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.starts_with("error: ") || l.starts_with("  - "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let shown = stderr
        .join("\n")
        .replace(&*admin.dir.path().to_string_lossy(), "[tmp]");
    insta::assert_snapshot!(shown, @r#"
    error: the catalog already has a registry named company; use catalog set or rotate to change it, or rm it first
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.Bad_Name: registry name "Bad_Name" is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.quay2.password: is required
    error: refusing to write [tmp]/pullseal.catalog.yaml: the catalog would not be valid:
      - registries.ecr2.region: is required
      - registries.ecr2.accessKeyId: is required
      - registries.ecr2.secretAccessKey: is required
    "#);
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);

    // ls and show: names, types, servers, rules, clusters; never a credential.
    let ls = admin.ok(&["ls"], "");
    insta::assert_snapshot!(ls, @r"
    REGISTRY   TYPE       SERVER                                        CREDENTIALS  ALLOW
    company    generic    quay.io                                       basic        -
    ecr        ecr        123456789012.dkr.ecr.eu-west-1.amazonaws.com  aws          -
    gar        gcr        europe-west1-docker.pkg.dev/demo              basic        -
    hub        dockerhub  docker.io                                     anonymous    -
    quay-team  quay       quay.io/acme                                  basic        namespaces=shop-*

    CLUSTER  SEAL            SCOPE   CERTIFICATE EXPIRES   KUBELET CREDENTIALS
    demo     sealed-secrets  strict  2126-11-05T12:13:32Z  -
    ");
    let json: serde_json::Value = serde_json::from_str(&admin.ok(&["ls", "--output", "json"], "")).unwrap();
    assert_eq!(json["registries"].as_array().unwrap().len(), 5);
    assert_eq!(json["clusters"][0]["certificateNotAfter"], "2126-11-05T12:13:32Z");
    let show = admin.ok(&["show", "ecr"], "");
    insta::assert_snapshot!(show, @r"
    name:         ecr
    type:         ecr
    server:       123456789012.dkr.ecr.eu-west-1.amazonaws.com
    credentials:  aws
    region:       eu-west-1
    refresh:      external-secrets
    allow:        -
    clusters:     demo
    ");

    // rotate: the password line, lastmodified and mac change; nothing else.
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["rotate", "quay-team", "--password-stdin"], QUAY_TOKEN_2);
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["password", "mac"]);
    let json = admin.sops_json();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN_2);
    assert_eq!(json["registries"]["company"]["password"], COMPANY_PASSWORD);
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));

    // set keeps the mode of the file and changes only the edited field's line.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(admin.catalog(), std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let before = fs::read_to_string(admin.catalog()).unwrap();
    admin.ok(&["set", "company", "--email", "ops@example.com"], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert_eq!(changed_lines(&before, &after), ["email", "mac"]);
    #[cfg(unix)]
    assert_eq!(mode(&admin.catalog()), 0o640);
    assert_eq!(
        admin.sops_json()["registries"]["company"]["email"],
        "ops@example.com"
    );

    // rm, of registries and of the cluster, down to an empty catalog again.
    for name in ["gar", "ecr", "hub", "company"] {
        admin.ok(&["rm", name], "");
    }
    let json = admin.sops_json();
    let names: Vec<&String> = json["registries"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["quay-team"]);
    assert!(admin.render("quay-team").contains("kind: SealedSecret"));
    let out = admin.run(&["rm", "gar"], "");
    assert_eq!(out.status.code(), Some(2));
    admin.ok(&["rm", "quay-team"], "");
    admin.ok(&["cluster", "rm", "demo"], "");
    assert_eq!(
        admin.sops_json(),
        serde_json::json!({"apiVersion": "pullseal.io/v1alpha1", "kind": "RegistryCatalog", "registries": {}, "clusters": {}})
    );
    // No temporary file is left behind by any write.
    let left: Vec<String> = fs::read_dir(admin.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".pullseal-catalog-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    admin.assert_no_leak();
}

/// A catalog changed by the real `sops set` edits again with pullseal, and the change made by
/// sops survives pullseal's edit.
#[test]
fn sops_set_then_pullseal_rotate() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    admin.ok(&["cluster", "add", "demo", "--seal", "none"], "");
    admin.ok(
        &[
            "add",
            "company",
            "--type",
            "generic",
            "--server",
            "quay.io",
            "--username",
            "ci",
            "--password-stdin",
        ],
        COMPANY_PASSWORD,
    );
    let out = Command::new(peers::sops())
        .args(["set"])
        .arg(admin.catalog())
        .args([r#"["registries"]["company"]["email"]"#, r#""ci@example.com""#])
        .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
        .env_remove("SOPS_AGE_KEY")
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops set: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    admin.ok(&["rotate", "company", "--password-stdin"], QUAY_TOKEN);
    let json = admin.sops_json();
    assert_eq!(json["registries"]["company"]["email"], "ci@example.com");
    assert_eq!(json["registries"]["company"]["password"], QUAY_TOKEN);
    admin.assert_no_leak();
}

/// Secrets are never arguments: there is no --password option, and rotate needs one given on
/// stdin or in a file.
#[test]
fn secrets_are_never_arguments() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    let out = admin.run(
        &[
            "add",
            "c",
            "--type",
            "generic",
            "--server",
            "r.io",
            "--username",
            "u",
            "--password",
            "x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    admin.ok(
        &[
            "add",
            "c",
            "--type",
            "generic",
            "--server",
            "r.io",
            "--username",
            "u",
            "--password-stdin",
        ],
        "pw\n",
    );
    let out = admin.run(&["rotate", "c"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the new credential"));
    let out = admin.run(&["rotate", "c", "--password-stdin"], "\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin: the secret is empty"));
}

/// Every catalog command's help shows an example.
#[test]
fn every_catalog_command_shows_an_example() {
    for command in [
        &["catalog"][..],
        &["catalog", "init"],
        &["catalog", "add"],
        &["catalog", "set"],
        &["catalog", "rotate"],
        &["catalog", "rm"],
        &["catalog", "ls"],
        &["catalog", "show"],
        &["catalog", "cluster", "add"],
        &["catalog", "cluster", "rm"],
    ] {
        let out = pullseal().args(command).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "{command:?} --help has no example:\n{help}"
        );
    }
}

/// A certificate that expires within 30 days is a warning when the cluster is added.
#[test]
fn a_certificate_near_its_end_is_a_warning() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    // The expired certificate is past its end: the schema accepts it, the warning says so.
    let cert = path("testdata/keys/sealed-secrets-expired.crt");
    let out = admin.run(&["cluster", "add", "old", "--cert", cert.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: cluster old: the sealing certificate expired at 2001-01-01T00:00:00Z"),
        "{stderr}"
    );
}

/// A Flux cluster made from the command line: `cluster add --seal sops --age-recipient R`
/// takes no certificate, and the catalog renders for it a Secret the real sops opens.
#[test]
fn a_sops_cluster_is_added_and_renders_for_flux() {
    let mut admin = Admin::new();
    admin.ok(&["init", "--age", RECIPIENT], "");
    admin.ok(
        &[
            "cluster",
            "add",
            "flux",
            "--seal",
            "sops",
            "--age-recipient",
            RECIPIENT,
        ],
        "",
    );
    admin.ok(
        &[
            "add",
            "quay-team",
            "--type",
            "quay",
            "--server",
            "quay.io/acme",
            "--username",
            "acme+ci",
            "--password-stdin",
        ],
        QUAY_TOKEN,
    );
    let json = admin.sops_json();
    assert_eq!(json["clusters"]["flux"]["seal"], "sops");
    assert_eq!(json["clusters"]["flux"]["ageRecipients"][0], RECIPIENT);
    let out = pullseal()
        .args(["render", "--cluster", "flux", "--catalog"])
        .arg(admin.catalog())
        .args(["--age-key-file", AGE_KEY])
        .write_stdin("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: web, image: quay.io/acme/web:1}]}\n")
        .output()
        .unwrap();
    admin.outputs.push(out.clone());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\nsops:\n") && text.contains("kind: Secret\n"),
        "{text}"
    );
    // Without recipients a sops cluster is refused by the loader's own check.
    let out = admin.run(&["cluster", "add", "bare", "--seal", "sops"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ageRecipients"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    admin.assert_no_leak();
}

/// `catalog rekey`: a new admin's key is added and the old one removed; the real sops opens
/// the result with the new key only, the content is the same, and every value's ciphertext
/// changed (a new data key), so the removed key holder learns nothing from later versions.
#[test]
fn rekey_moves_the_catalog_to_new_recipients_under_a_new_data_key() {
    let mut admin = Admin::with_quay_team();
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let new_key = admin.dir.path().join("new-admin.txt");
    let out = Command::new(peers::age().with_file_name("age-keygen"))
        .arg("-o")
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_recipient = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap()
        .to_owned();
    // Removing a recipient the catalog does not have, or the last one, is refused.
    let out = admin.run(&["rekey", "--rm-age", &new_recipient], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = admin.run(&["rekey", "--rm-age", RECIPIENT], "");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no recipient"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);
    admin.ok(&["rekey", "--add-age", &new_recipient, "--rm-age", RECIPIENT], "");
    let after = fs::read_to_string(admin.catalog()).unwrap();
    assert!(
        after.contains(&new_recipient) && !after.contains(RECIPIENT),
        "{after}"
    );
    let encrypted = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("ENC["))
            .map(str::to_owned)
            .collect()
    };
    for line in encrypted(&after) {
        assert!(!encrypted(&before).contains(&line), "kept ciphertext: {line}");
    }
    let sops = |key: &std::path::Path| {
        Command::new(peers::sops())
            .args(["decrypt", "--output-type", "json"])
            .arg(admin.catalog())
            .env("SOPS_AGE_KEY_FILE", key)
            .env_remove("SOPS_AGE_KEY")
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap()
    };
    let opened = sops(&new_key);
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    assert_eq!(json["registries"]["quay-team"]["password"], QUAY_TOKEN);
    assert!(
        !sops(&path(AGE_KEY)).status.success(),
        "the removed key still opens the catalog"
    );
    admin.assert_no_leak();
}

/// `catalog rm --check`: refused while the manifests still use the registry, naming each
/// workload as render would; the catalog is untouched; once no workload uses it, it goes.
#[test]
fn rm_check_refuses_while_a_workload_uses_the_registry() {
    let mut admin = Admin::with_quay_team();
    let used = admin.file(
        "web.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: web, image: quay.io/acme/web:1}]}\n",
    );
    let before = fs::read_to_string(admin.catalog()).unwrap();
    let out = admin.run(&["rm", "quay-team", "--check", &used], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registry quay-team is still used by the --check manifests, so it is kept:")
            && stderr.contains("web.yaml: document 1: Pod shop/web"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(admin.catalog()).unwrap(), before);
    let unused = admin.file(
        "other.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    admin.ok(&["rm", "quay-team", "--check", &unused], "");
    assert!(admin.sops_json()["registries"].as_object().unwrap().is_empty());
    admin.assert_no_leak();
}
