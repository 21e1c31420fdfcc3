//! AWS KMS master keys of sops files (issue 8), against moto's server (`moto[server]`, a local
//! AWS that `scripts/install-test-peers` installs), started for each test on a free 127.0.0.1
//! port and killed when the test ends, and against the real sops 3.11, which reads
//! `AWS_ENDPOINT_URL_KMS` through aws-sdk-go-v2 as pullseal does:
//!
//! - `catalog init --kms` (with and without `--age`) writes what `sops decrypt` opens through
//!   KMS alone, and what `render` opens with no age identity at all;
//! - `catalog rekey --add-kms` / `--rm-kms` change the KMS keys under a new data key;
//! - a catalog `sops encrypt --kms` wrote (with an encryption context) opens, renders and
//!   edits with pullseal, keeping the context;
//! - `ARN+ROLE_ARN` assumes the role through STS first and is written as sops writes it;
//! - a `seal: sops` cluster with `kms` gets Secrets with a `kms` entry the real sops decrypts
//!   with KMS alone; `--out-dir` renders stay byte-identical by reusing the last render's entry,
//!   and one KMS does not open is replaced.
//!
//! What moto does, and so what these tests can and cannot show: it accepts any AWS keys (so a
//! refused key is shown by an unreachable endpoint and missing keys, not by AWS saying no), its
//! keys are made here with one raw `TrentService.CreateKey` call, and its `Encrypt` draws a
//! random IV, so, like AWS's, every call answers another blob: the non-determinism the Flux
//! output works around is real here too.
//!
//! No output may hold the AWS secret key, and no test reads the developer's AWS setup: HOME,
//! the AWS config files and instance metadata are pointed away for sops.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use fs_err as fs;

use crate::peers::{self, Moto};
use crate::support::{AGE_KEY, path, pullseal, recipient, transcript};

const ACCESS_KEY_ID: &str = "AKIAPULLSEALKMS00001";
const SECRET_ACCESS_KEY: &str = "pullseal-kms-SECRET-4d5e6f70-leakcheck";
const PASSWORD: &str = "quay-TOKEN-kms-0a1b2c3d-leakcheck";

/// moto with one symmetric key in eu-west-1.
struct Kms {
    moto: Moto,
    arn: String,
}

impl Kms {
    fn start() -> Kms {
        let moto = Moto::start(false);
        let arn = create_key(&moto);
        Kms { moto, arn }
    }

    /// Another key in the same moto.
    fn another_key(&self) -> String {
        create_key(&self.moto)
    }

    /// `pullseal ARGS` with the AWS keys and moto's KMS endpoint, and no age identity unless
    /// `age` says so.
    fn pullseal(&self, dir: &Path, args: &[&str], age: bool, stdin: &str) -> Output {
        let mut cmd = pullseal();
        cmd.args(args)
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_ENDPOINT_URL_KMS", self.moto.url())
            .write_stdin(stdin);
        if age {
            cmd.env("SOPS_AGE_KEY_FILE", path(AGE_KEY));
        }
        cmd.output().unwrap()
    }

    fn ok(&self, dir: &Path, args: &[&str], age: bool, stdin: &str) -> String {
        let out = self.pullseal(dir, args, age, stdin);
        assert!(out.status.success(), "pullseal {args:?}: {}", transcript(&out));
        no_leak(&out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// The real sops with moto's KMS (`kms: true`) and/or the TEST-ONLY age key.
    fn sops(&self, dir: &Path, args: &[&str], kms: bool, age: bool) -> Output {
        let mut cmd = Command::new(peers::sops());
        cmd.args(args)
            .current_dir(dir)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("no-config"))
            .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KMS",
        ] {
            cmd.env_remove(var);
        }
        if kms {
            cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
                .env("AWS_ENDPOINT_URL_KMS", self.moto.url());
        }
        if age {
            cmd.env("SOPS_AGE_KEY_FILE", path(AGE_KEY));
        }
        cmd.output().unwrap()
    }

    /// `sops decrypt --output-type json FILE` with the keys chosen, as JSON.
    fn sops_json(&self, file: &Path, kms: bool, age: bool) -> serde_json::Value {
        let dir = file.parent().unwrap();
        let out = self.sops(
            dir,
            &[
                "decrypt",
                "--input-type",
                "yaml",
                "--output-type",
                "json",
                file.to_str().unwrap(),
            ],
            kms,
            age,
        );
        assert!(out.status.success(), "sops decrypt: {}", transcript(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// One `CreateKey` on moto: a JSON POST whose (unchecked) signature names eu-west-1, which is
/// where moto puts the key.
fn create_key(moto: &Moto) -> String {
    let mut answer = ureq::post(&moto.url())
        .header("X-Amz-Target", "TrentService.CreateKey")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host, Signature=00"
            ),
        )
        .send("{}")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    let arn = body["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:kms:eu-west-1:"), "{arn}");
    arn
}

fn no_leak(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(SECRET_ACCESS_KEY) && !text.contains(PASSWORD),
            "a secret leaked: {text}"
        );
    }
}

/// The `kms:` entries of a sops file's metadata, as text lines.
fn kms_block(text: &str) -> String {
    let start = text.find("\n    kms:\n").map_or(text.len(), |i| i + 1);
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("        "))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// A pod in `shop` that uses registry `quay-team`.
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, annotations: {pullseal.io/registries: quay-team}}\nspec: {containers: [{name: web, image: quay.io/acme/web:1}]}\n";

fn add_quay(kms: &Kms, dir: &Path, catalog: &Path, age: bool) {
    kms.ok(
        dir,
        &[
            "catalog",
            "--catalog",
            catalog.to_str().unwrap(),
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
        age,
        PASSWORD,
    );
    kms.ok(
        dir,
        &[
            "catalog",
            "--catalog",
            catalog.to_str().unwrap(),
            "cluster",
            "add",
            "plain",
            "--seal",
            "none",
        ],
        age,
        "",
    );
}

/// The pull secret `render` emits for [`POD`] on the catalog's `plain` cluster, decoded.
fn rendered_password(kms: &Kms, dir: &Path, catalog: &Path, age: bool) -> Result<String, Output> {
    let out = kms.pullseal(
        dir,
        &[
            "render",
            "--cluster",
            "plain",
            "--catalog",
            catalog.to_str().unwrap(),
        ],
        age,
        POD,
    );
    if !out.status.success() {
        return Err(out);
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let encoded = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(".dockerconfigjson: "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let json = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    Ok(json["auths"]["quay.io/acme"]["password"]
        .as_str()
        .unwrap()
        .to_owned())
}

/// `init --kms` alone: a catalog sops opens through KMS and pullseal renders from with no age
/// identity anywhere; the metadata is sops's (`arn`, `created_at`, `enc`, `aws_profile`, no
/// `age`); an edit keeps the KMS entry as it is; without AWS keys the error names the key and
/// the reason.
#[test]
fn a_kms_only_catalog_opens_with_sops_and_renders_without_any_age_identity() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog = dir.join("pullseal.catalog.yaml");
    let out = kms.pullseal(dir, &["catalog", "init", "--kms", &kms.arn], false, "");
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).ends_with("/pullseal.catalog.yaml for 1 AWS KMS key\n"),
        "{}",
        transcript(&out)
    );
    let text = fs::read_to_string(&catalog).unwrap();
    assert!(!text.contains("\n    age:"), "{text}");
    let block = kms_block(&text);
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(lines.len(), 4, "{block}");
    assert_eq!(lines[0], format!("        - arn: {}", kms.arn));
    assert!(lines[1].starts_with("          created_at: \"20"), "{block}");
    assert!(lines[2].starts_with("          enc: "), "{block}");
    assert_eq!(lines[3], "          aws_profile: \"\"");
    let json = kms.sops_json(&catalog, true, false);
    assert_eq!(json["kind"], "RegistryCatalog");

    add_quay(&kms, dir, &catalog, false);
    let edited = fs::read_to_string(&catalog).unwrap();
    assert_eq!(
        kms_block(&edited),
        block,
        "an edit keeps the data key and its KMS entry"
    );
    assert_eq!(
        kms.sops_json(&catalog, true, false)["registries"]["quay-team"]["password"],
        PASSWORD
    );
    assert_eq!(rendered_password(&kms, dir, &catalog, false).unwrap(), PASSWORD);
    // doctor names the KMS key and does not call the missing age identity a problem.
    let doctor = kms.ok(dir, &["doctor", "--cluster", "plain"], false, "");
    assert!(
        doctor.contains(&format!(
            "info    catalog: also encrypted with the AWS KMS keys {} (AWS keys set in the environment)\n",
            kms.arn
        )) && doctor.contains("ok      catalog: decrypts with these identities and is valid")
            && !doctor.contains("warning age identity"),
        "{doctor}"
    );

    // No AWS keys: nothing can open the data key, and the error says which key and why.
    let out = pullseal()
        .args(["render", "--cluster", "plain", "--catalog"])
        .arg(&catalog)
        .env("AWS_ENDPOINT_URL_KMS", kms.moto.url())
        .write_stdin(POD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no master key could decrypt the sops data key: AWS KMS key {}: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            kms.arn
        )),
        "{stderr}"
    );
    // An endpoint where nothing listens: the reason is that, and nothing secret is shown.
    let out = pullseal()
        .args(["render", "--cluster", "plain", "--catalog"])
        .arg(&catalog)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env(
            "AWS_ENDPOINT_URL_KMS",
            format!("http://127.0.0.1:{}", peers::free_port()),
        )
        .write_stdin(POD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    no_leak(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "AWS KMS key {}: cannot reach AWS for kms:Decrypt: cannot connect",
            kms.arn
        )),
        "{stderr}"
    );
}

/// `init --age --kms`: either master key opens the catalog, for sops and for pullseal; with the
/// age identity pullseal needs no AWS at all.
#[test]
fn an_age_and_kms_catalog_opens_with_either_key() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog = dir.join("pullseal.catalog.yaml");
    let out = kms.pullseal(
        dir,
        &["catalog", "init", "--age", &recipient(), "--kms", &kms.arn],
        false,
        "",
    );
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .ends_with("/pullseal.catalog.yaml for 1 age recipient and 1 AWS KMS key\n"),
        "{}",
        transcript(&out)
    );
    let text = fs::read_to_string(&catalog).unwrap();
    // sops's key order: kms before age.
    let (kms_at, age_at) = (
        text.find("\n    kms:\n").unwrap(),
        text.find("\n    age:\n").unwrap(),
    );
    assert!(kms_at < age_at, "{text}");
    add_quay(&kms, dir, &catalog, true);
    for (with_kms, with_age) in [(true, false), (false, true)] {
        let json = kms.sops_json(&catalog, with_kms, with_age);
        assert_eq!(json["registries"]["quay-team"]["password"], PASSWORD);
    }
    assert_eq!(rendered_password(&kms, dir, &catalog, false).unwrap(), PASSWORD);
    let out = pullseal()
        .args([
            "render",
            "--cluster",
            "plain",
            "--age-key-file",
            AGE_KEY,
            "--catalog",
        ])
        .arg(&catalog)
        .write_stdin(POD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
}

/// `rekey --add-kms` then `--rm-kms`: the KMS key opens the catalog only while it is one of its
/// keys, each rekey gives every value new ciphertext, and the refusals (an unknown key, the
/// last key) leave the file as it was.
#[test]
fn rekey_adds_and_removes_kms_keys() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog = dir.join("pullseal.catalog.yaml");
    let cat = catalog.to_str().unwrap();
    kms.ok(dir, &["catalog", "init", "--age", &recipient()], false, "");
    add_quay(&kms, dir, &catalog, true);
    assert!(rendered_password(&kms, dir, &catalog, false).is_err());
    let before = fs::read_to_string(&catalog).unwrap();

    kms.ok(
        dir,
        &["catalog", "--catalog", cat, "rekey", "--add-kms", &kms.arn],
        true,
        "",
    );
    let added = fs::read_to_string(&catalog).unwrap();
    assert!(added.contains(&format!("- arn: {}\n", kms.arn)), "{added}");
    let values = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("ENC[") && !l.contains("mac:"))
            .map(str::to_owned)
            .collect()
    };
    for line in values(&added) {
        assert!(!values(&before).contains(&line), "kept ciphertext: {line}");
    }
    assert_eq!(rendered_password(&kms, dir, &catalog, false).unwrap(), PASSWORD);
    assert_eq!(
        kms.sops_json(&catalog, true, false)["registries"]["quay-team"]["password"],
        PASSWORD
    );

    // A second key through KMS alone, then the first one goes.
    let second = kms.another_key();
    kms.ok(
        dir,
        &[
            "catalog",
            "--catalog",
            cat,
            "rekey",
            "--add-kms",
            &second,
            "--rm-kms",
            &kms.arn,
        ],
        false,
        "",
    );
    let swapped = fs::read_to_string(&catalog).unwrap();
    assert!(
        swapped.contains(&format!("- arn: {second}\n")) && !swapped.contains(&kms.arn),
        "{swapped}"
    );
    assert_eq!(rendered_password(&kms, dir, &catalog, false).unwrap(), PASSWORD);

    // Refusals change nothing.
    let out = kms.pullseal(
        dir,
        &["catalog", "--catalog", cat, "rekey", "--rm-kms", &kms.arn],
        true,
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "catalog rekey: {} is not an AWS KMS key of the catalog",
            kms.arn
        )),
        "{}",
        transcript(&out)
    );
    let out = kms.pullseal(
        dir,
        &[
            "catalog",
            "--catalog",
            cat,
            "rekey",
            "--add-kms",
            "arn:aws:kms:nowhere",
        ],
        true,
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("arn:aws:kms:nowhere is not an AWS KMS key ARN"));
    assert_eq!(fs::read_to_string(&catalog).unwrap(), swapped);

    kms.ok(
        dir,
        &["catalog", "--catalog", cat, "rekey", "--rm-kms", &second],
        true,
        "",
    );
    let removed = fs::read_to_string(&catalog).unwrap();
    assert!(!removed.contains("\n    kms:"), "{removed}");
    assert!(rendered_password(&kms, dir, &catalog, false).is_err());
    let out = kms.sops(dir, &["decrypt", cat], true, false);
    assert!(
        !out.status.success(),
        "the removed KMS key still opens the catalog"
    );
    assert_eq!(rendered_password(&kms, dir, &catalog, true).unwrap(), PASSWORD);
}

/// A catalog the real `sops encrypt --kms` wrote, with an encryption context: pullseal
/// renders from it through KMS alone, edits it keeping the context and the KMS entry, and sops
/// opens the edited file.
#[test]
fn a_catalog_sops_encrypted_with_kms_opens_and_edits_with_pullseal() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plain = format!(
        "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n  quay-team:\n    type: quay\n    server: quay.io/acme\n    username: acme+ci\n    password: {PASSWORD}\nclusters:\n  plain:\n    seal: none\n"
    );
    fs::write(dir.join("plain.yaml"), plain).unwrap();
    let out = kms.sops(
        dir,
        &[
            "encrypt",
            "--kms",
            &kms.arn,
            "--encryption-context",
            "team:platform,purpose:pullseal",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "plain.yaml",
        ],
        true,
        false,
    );
    assert!(out.status.success(), "{}", transcript(&out));
    let catalog = dir.join("pullseal.catalog.yaml");
    fs::write(&catalog, &out.stdout).unwrap();
    let written = String::from_utf8(out.stdout).unwrap();
    let block = kms_block(&written);
    assert!(
        block.contains("          context:\n            purpose: pullseal\n            team: platform\n"),
        "{block}"
    );
    assert_eq!(rendered_password(&kms, dir, &catalog, false).unwrap(), PASSWORD);

    // The wrong context is a different key to KMS: refused, and the reason is AWS's.
    let wrong = written.replace("team: platform", "team: other");
    let wrong_file = dir.join("wrong.catalog.yaml");
    fs::write(&wrong_file, wrong).unwrap();
    assert!(rendered_password(&kms, dir, &wrong_file, false).is_err());

    kms.ok(
        dir,
        &[
            "catalog",
            "--catalog",
            catalog.to_str().unwrap(),
            "set",
            "quay-team",
            "--allow-namespace",
            "shop",
        ],
        false,
        "",
    );
    let edited = fs::read_to_string(&catalog).unwrap();
    assert_eq!(kms_block(&edited), block);
    let json = kms.sops_json(&catalog, true, false);
    assert_eq!(json["registries"]["quay-team"]["allow"]["namespaces"][0], "shop");
    assert_eq!(json["registries"]["quay-team"]["password"], PASSWORD);
}

/// The Secrets of a `seal: sops` cluster with `kms` ARNs.
fn flux_catalog(kms: &Kms, dir: &Path) -> PathBuf {
    let catalog = dir.join("pullseal.catalog.yaml");
    let cat = catalog.to_str().unwrap();
    kms.ok(dir, &["catalog", "init", "--age", &recipient()], false, "");
    add_quay(kms, dir, &catalog, true);
    kms.ok(
        dir,
        &[
            "catalog",
            "--catalog",
            cat,
            "cluster",
            "add",
            "flux",
            "--seal",
            "sops",
            "--age-recipient",
            &recipient(),
            "--kms",
            &kms.arn,
        ],
        true,
        "",
    );
    catalog
}

/// A `seal: sops` cluster with `kms`: its Secret carries a `kms` entry, and the real sops
/// decrypts it through moto with no age key. `--out-dir` renders stay byte-identical (the last
/// render's KMS entry is reused once KMS opens it to the same data key); a blob KMS does not
/// open is replaced, so the output heals; to stdout, with no earlier output, only the `enc`
/// of the KMS entry differs between two renders.
#[test]
fn a_flux_cluster_with_kms_keys_gets_secrets_sops_opens_through_kms() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog = flux_catalog(&kms, dir);
    let json = kms.sops_json(&catalog, false, true);
    assert_eq!(json["clusters"]["flux"]["kms"][0], kms.arn.as_str());
    fs::write(dir.join("app.yaml"), POD).unwrap();
    let out_dir = dir.join("rendered");
    let render_all = || {
        kms.ok(
            dir,
            &[
                "render",
                "--all-clusters",
                "--out-dir",
                out_dir.to_str().unwrap(),
                "--catalog",
                catalog.to_str().unwrap(),
                "app.yaml",
            ],
            true,
            "",
        );
        fs::read_to_string(out_dir.join("flux/manifests.yaml")).unwrap()
    };
    let first = render_all();
    let secret = first
        .split("\n---\n")
        .find(|d| d.contains("\nsops:\n"))
        .unwrap()
        .to_owned();
    let block = kms_block(&secret);
    assert!(
        block.starts_with(&format!("        - arn: {}\n", kms.arn)),
        "{secret}"
    );
    assert!(
        block.contains("          created_at: \"1970-01-01T00:00:00Z\"\n"),
        "{block}"
    );
    let file = dir.join("secret.yaml");
    fs::write(&file, &secret).unwrap();
    let opened = kms.sops_json(&file, true, false);
    let config = base64::engine::general_purpose::STANDARD
        .decode(opened["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auths"]["quay.io/acme"]["password"], PASSWORD);
    assert_eq!(kms.sops_json(&file, false, true)["data"], opened["data"]);

    assert_eq!(render_all(), first, "a second --out-dir render differs");

    // A blob KMS does not open (here another key's) is not reused: the next render replaces
    // it with one that opens, and keeps that one after.
    let enc = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .unwrap()
        .to_owned();
    let foreign = base64::engine::general_purpose::STANDARD.encode(b"not a blob of this key at all");
    fs::write(out_dir.join("flux/manifests.yaml"), first.replace(&enc, &foreign)).unwrap();
    let healed = render_all();
    assert_ne!(healed, first);
    assert!(!healed.contains(&foreign));
    let secret = healed.split("\n---\n").find(|d| d.contains("\nsops:\n")).unwrap();
    fs::write(&file, secret).unwrap();
    assert_eq!(kms.sops_json(&file, true, false)["data"], opened["data"]);
    assert_eq!(render_all(), healed);

    // To stdout there is no earlier output: every render asks KMS for a new blob, and that
    // is the only difference.
    let stdout = || {
        kms.ok(
            dir,
            &[
                "render",
                "--cluster",
                "flux",
                "--catalog",
                catalog.to_str().unwrap(),
            ],
            true,
            POD,
        )
    };
    let (a, b) = (stdout(), stdout());
    assert_ne!(a, b);
    let differing: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert!(differing[0].0.trim_start().starts_with("enc: "), "{differing:?}");
}

/// `ARN+ROLE_ARN`: the role is assumed through `sts:AssumeRole` first (moto's STS, reached
/// through the common `AWS_ENDPOINT_URL`), and the entry is written as sops writes it for the
/// same argument, `role` after `arn`; each tool opens what the other wrote.
#[test]
fn a_role_is_assumed_first_and_written_as_sops_writes_it() {
    let kms = Kms::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let with_role = format!("{}+arn:aws:iam::123456789012:role/catalog-admin", kms.arn);
    // The real sops with the keys, moto as the common endpoint and no AWS setup of its own.
    let sops = |args: &[&str]| {
        Command::new(peers::sops())
            .args(args)
            .current_dir(dir)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .env("HOME", dir)
            .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env_remove("AWS_ENDPOINT_URL_KMS")
            .env_remove("AWS_ENDPOINT_URL_STS")
            .env("AWS_ENDPOINT_URL", kms.moto.url())
            .output()
            .unwrap()
    };
    // pullseal in `dir` with the keys and moto as the common endpoint.
    let with_keys = || {
        let mut cmd = pullseal();
        cmd.current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_ENDPOINT_URL", kms.moto.url());
        cmd
    };
    let out = with_keys()
        .args(["catalog", "init", "--kms", &with_role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    no_leak(&out);
    let ours = fs::read_to_string(dir.join("pullseal.catalog.yaml")).unwrap();

    let opened = sops(&["decrypt", "pullseal.catalog.yaml"]);
    assert!(opened.status.success(), "{}", transcript(&opened));
    let plain = String::from_utf8(opened.stdout).unwrap();
    fs::write(dir.join("plain.yaml"), &plain).unwrap();
    let out = sops(&[
        "encrypt",
        "--kms",
        &with_role,
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "plain.yaml",
    ]);
    assert!(out.status.success(), "{}", transcript(&out));
    let theirs = String::from_utf8(out.stdout).unwrap();
    // The same fields in the same order; only the time and AWS's ciphertext differ.
    let shape = |text: &str| -> Vec<String> {
        kms_block(text)
            .lines()
            .map(|l| match l.split_once(": ") {
                Some((k, _)) if k.trim() == "created_at" || k.trim() == "enc" => k.to_owned(),
                _ => l.to_owned(),
            })
            .collect()
    };
    assert_eq!(shape(&ours), shape(&theirs), "{ours}\n{theirs}");
    assert_eq!(
        shape(&ours)[1],
        "          role: arn:aws:iam::123456789012:role/catalog-admin"
    );
    fs::write(dir.join("theirs.catalog.yaml"), &theirs).unwrap();
    let out = with_keys()
        .args([
            "catalog",
            "--catalog",
            "theirs.catalog.yaml",
            "ls",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    no_leak(&out);
    // The role really is assumed first: with STS where nothing listens, that call fails.
    let out = with_keys()
        .args(["catalog", "--catalog", "theirs.catalog.yaml", "ls"])
        .env(
            "AWS_ENDPOINT_URL_STS",
            format!("http://127.0.0.1:{}", peers::free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "AWS KMS key {with_role}: cannot reach AWS for sts:AssumeRole: cannot connect"
        )),
        "{}",
        transcript(&out)
    );
}
