//! Amazon ECR tokens made by pullseal (issue 7): `refresh: token` in `render`, and the key
//! exchange of `pullseal validate`, against moto's server (`moto[server]`, a local AWS that
//! `scripts/install-test-peers` installs), started here on a free 127.0.0.1 port for each test
//! and killed when the test ends, pass or fail.
//!
//! What moto does, and so what these tests can and cannot show:
//! - By default it accepts any keys. With `INITIAL_NO_AUTH_ACTION_COUNT=0` it checks them
//!   against its own IAM, which knows none of the catalog's, and refuses them (HTTP 403
//!   `InvalidClientTokenId`): that server stands for AWS refusing the keys.
//! - Its token is `AWS:<account>-auth-token`, the account being the caller's: moto's default
//!   `123456789012` for unknown keys, the role's account for keys from `sts:AssumeRole`, so a
//!   token for `210987654321` shows the role was assumed and its keys used.
//! - Its `expiresAt` is fixed at 2015-01-01T00:00:00Z. Through the command line (the real
//!   clock) that token has expired, which is an error, and the test pins it. The sealed secret
//!   is checked in-process through the library, with render's clock (`Options::now`) set before
//!   that expiry.
//! - Its `proxyEndpoint` is `https://<account>.dkr.ecr.<region>.amazonaws.com`, no registry
//!   that can be reached from a test. `validate` checks the token against the catalog server,
//!   which is such a host; the test sends that check to a dead proxy, so it is `unreachable`
//!   whether or not the machine has a network, and asserts the documented status.
//!
//! No output may hold the AWS keys, the session token or moto's registry token.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use fs_err as fs;
use serde_json::Value;

use crate::peers::{self, Moto, free_port};
use crate::support::{AGE_KEY, PROXY_VARS, encrypt, output_text, path, pullseal, transcript};

const ACCESS_KEY_ID: &str = "AKIAPULLSEALTEST0001";
const SECRET_ACCESS_KEY: &str = "pullseal-test-secret-access-key-0001";
const SESSION_TOKEN: &str = "pullseal-test-session-token-0001";
/// moto's token password for its default account.
const MOTO_PASSWORD: &str = "123456789012-auth-token";
/// moto's token password for the role's account.
const MOTO_ROLE_PASSWORD: &str = "210987654321-auth-token";
const SERVER: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const ROLE_SERVER: &str = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const SEALED_KEY: &str = "testdata/keys/sealed-secrets-test.key";

/// A certificate for the test sealing key (`testdata/keys/sealed-secrets-test.key`) valid from
/// 2014 on, made by Python's `cryptography` (kubesealpy's venv): the committed one starts in
/// 2026, after moto's fixed token expiry, and render checks both against one clock.
fn cert_from_2014() -> String {
    let script = "import sys, datetime as d\n\
        from cryptography import x509\n\
        from cryptography.x509.oid import NameOID\n\
        from cryptography.hazmat.primitives import hashes, serialization\n\
        key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'sealed-secrets-test-2014')])\n\
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)\n\
            .public_key(key.public_key()).serial_number(2014)\n\
            .not_valid_before(d.datetime(2014, 1, 1, tzinfo=d.timezone.utc))\n\
            .not_valid_after(d.datetime(2114, 1, 1, tzinfo=d.timezone.utc))\n\
            .sign(key, hashes.SHA256()))\n\
        sys.stdout.write(cert.public_bytes(serialization.Encoding.PEM).decode())\n";
    let out = Command::new(peers::kubesealpy_python())
        .args(["-c", script])
        .arg(path(SEALED_KEY))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A catalog with `ecr-token` (keys and a session token) and `ecr-role` (keys and a role),
/// both `refresh: token`, and a `seal: sealed-secrets` cluster `test` with `cert`, encrypted by
/// the real sops into `dir`.
fn catalog(dir: &Path, cert: &str) -> PathBuf {
    let mut plain = format!(
        "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n\
         \x20 ecr-token:\n    type: ecr\n    server: {SERVER}\n    region: eu-west-1\n    accessKeyId: {ACCESS_KEY_ID}\n    secretAccessKey: {SECRET_ACCESS_KEY}\n    sessionToken: {SESSION_TOKEN}\n    refresh: token\n\
         \x20 ecr-role:\n    type: ecr\n    server: {ROLE_SERVER}\n    region: eu-west-1\n    accessKeyId: {ACCESS_KEY_ID}\n    secretAccessKey: {SECRET_ACCESS_KEY}\n    roleArn: arn:aws:iam::210987654321:role/puller\n    refresh: token\n\
         clusters:\n  test:\n    seal: sealed-secrets\n    scope: strict\n    certificate: |\n"
    );
    for line in cert.lines() {
        plain.push_str("      ");
        plain.push_str(line);
        plain.push('\n');
    }
    encrypt(dir, &plain, &[])
}

fn committed_cert() -> String {
    fs::read_to_string(path("testdata/keys/sealed-secrets-test.crt")).unwrap()
}

/// A Deployment in `shop` that pulls from both registries.
const MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {pullseal.io/registries: \"ecr-token, ecr-role\"}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1}\n        - {name: job, image: 210987654321.dkr.ecr.eu-west-1.amazonaws.com/shop/job:1}\n";

/// No key, session token or registry token (plain or as base64 `AWS:<token>`) in `text`.
fn assert_no_secret(text: &str) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for secret in [
        ACCESS_KEY_ID.to_owned(),
        SECRET_ACCESS_KEY.to_owned(),
        SESSION_TOKEN.to_owned(),
        MOTO_PASSWORD.to_owned(),
        MOTO_ROLE_PASSWORD.to_owned(),
        "auth-token".to_owned(),
        b64(&format!("AWS:{MOTO_PASSWORD}")),
        b64(&format!("AWS:{MOTO_ROLE_PASSWORD}")),
        b64(&format!("{ACCESS_KEY_ID}:")),
    ] {
        assert!(!text.contains(&secret), "{secret:?} was printed:\n{text}");
    }
    for needle in ["Authorization:", "authorization:", "Basic "] {
        assert!(!text.contains(needle), "{needle:?} was printed:\n{text}");
    }
}

/// `pullseal` with AWS pointed at `endpoint`, no AWS settings or proxies inherited, and
/// registry checks sent to a proxy where nothing listens (see the module doc).
pub(crate) fn with_aws(endpoint: &str) -> assert_cmd::Command {
    let mut cmd = pullseal();
    for var in PROXY_VARS.iter().chain(&[
        "AWS_ENDPOINT_URL_ECR",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ]) {
        cmd.env_remove(var);
    }
    let dead = free_port();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{dead}"))
        // No ~/.aws file may be read; pointing these at nothing would show it if one were.
        .env("AWS_CONFIG_FILE", path("testdata/no-such-config/aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            path("testdata/no-such-config/aws-credentials"),
        );
    cmd
}

/// Through the command line (the real clock), moto's token has expired: render refuses it,
/// exit 4, naming the registry and the expiry, and writes nothing to stdout.
#[test]
fn render_refuses_motos_expired_token_through_the_cli() {
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = catalog(tmp.path(), &committed_cert());
    let manifest = tmp.path().join("web.yaml");
    fs::write(&manifest, MANIFEST).unwrap();
    let out = with_aws(&moto.url())
        .args([
            "render",
            "--age-key-file",
            AGE_KEY,
            "--cluster",
            "test",
            "--catalog",
        ])
        .arg(&catalog)
        .arg(&manifest)
        .output()
        .unwrap();
    assert_no_secret(&output_text(&out));
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    assert!(out.stdout.is_empty(), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let now = regex::Regex::new(r"before now \([^)]*\)").unwrap();
    insta::assert_snapshot!(now.replace_all(&stderr, "before now (NOW)"), @r#"
    error: cannot make the Amazon ECR token of registry "ecr-role" (refresh: token)
      caused by: the token AWS handed out expired at 2015-01-01T00:00:00Z, before now (NOW)
    "#);
}

/// In-process, with render's clock before moto's expiry: each registry's pull secret is an
/// ordinary sealed `kubernetes.io/dockerconfigjson` Secret, keyed by the catalog server's host,
/// whose `auth` (unsealed by kubesealpy) is `AWS:<moto's token>`: the default account's for the
/// plain keys, the role's account's for the role (so STS was asked and its keys used). The
/// warning gives the expiry; no AWS keys Secret or ESO object is emitted.
#[test]
fn render_seals_the_token_with_an_injected_clock() {
    use pullseal::catalog::Catalog;
    use pullseal::manifest::{Source, Stream};
    use pullseal::registry::ecr_token::AwsEndpoints;
    use pullseal::render::{Options, render};
    use pullseal::sops::Identities;

    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let ids = Identities::discover(Some(&path(AGE_KEY)), &|_| None).unwrap();
    let catalog = Catalog::load(&catalog(tmp.path(), &cert_from_2014()), &ids).unwrap();
    let stream = Stream::new(vec![Source {
        name: "web.yaml".to_owned(),
        text: MANIFEST.to_owned(),
    }]);
    let options = Options {
        // 2014-12-31T12:00:00Z, half a day before moto's expiry.
        now: time::OffsetDateTime::from_unix_timestamp(1_420_027_200).unwrap(),
        aws: AwsEndpoints {
            ecr: Some(moto.url()),
            sts: Some(moto.url()),
        },
        ..Options::new("test")
    };
    let rendered = render(&stream, &catalog, &options).unwrap();
    insta::assert_snapshot!(rendered.warnings.join("\n"), @r#"
    registry "ecr-role" (Amazon ECR, refresh: token): the token sealed into its pull secrets expires at 2015-01-01T00:00:00Z; render and apply again before then
    registry "ecr-token" (Amazon ECR, refresh: token): the token sealed into its pull secrets expires at 2015-01-01T00:00:00Z; render and apply again before then
    "#);
    let mut out = Vec::new();
    rendered.write_to(&stream, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert_no_secret(&text);
    assert_eq!(text.matches("kind: SealedSecret").count(), 2, "{text}");
    assert!(
        !text.contains("ExternalSecret") && !text.contains("-aws"),
        "{text}"
    );
    assert!(
        text.contains("- name: pullseal-ecr-token") && text.contains("- name: pullseal-ecr-role"),
        "{text}"
    );

    let unsealed = peers::unseal(&out, &path(SEALED_KEY));
    for (secret, server, password) in [
        ("shop/pullseal-ecr-token", SERVER, MOTO_PASSWORD),
        ("shop/pullseal-ecr-role", ROLE_SERVER, MOTO_ROLE_PASSWORD),
    ] {
        let config: Value = serde_json::from_str(&unsealed[secret][".dockerconfigjson"]).unwrap();
        let auths = config["auths"].as_object().unwrap();
        assert_eq!(auths.keys().collect::<Vec<_>>(), [server], "{config}");
        let entry = &auths[server];
        let auth = base64::engine::general_purpose::STANDARD
            .decode(entry["auth"].as_str().unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(auth).unwrap(), format!("AWS:{password}"));
        assert_eq!(entry["username"], "AWS");
        assert_eq!(entry["password"], password);
    }
}

/// `validate --output json` for the two ECR registries against `endpoint`.
fn validate(endpoint: &str, catalog: &Path) -> (Output, Vec<(String, String, String)>) {
    let out = with_aws(endpoint)
        .args([
            "validate",
            "--output",
            "json",
            "--timeout",
            "5",
            "--age-key-file",
            AGE_KEY,
            "--catalog",
        ])
        .arg(catalog)
        .output()
        .unwrap();
    assert_no_secret(&output_text(&out));
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", transcript(&out)));
    let rows = json["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out, rows)
}

/// The exchange works against moto (with and without a role); the registry check that follows
/// goes to the catalog server, which cannot be reached here: `unreachable`, and the reason says
/// the exchange worked. moto that checks keys refuses them: `invalid-credentials`. An AWS where
/// nothing listens: `unreachable`, saying AWS was not reached. Every run exits 6.
#[test]
fn validate_exchanges_the_keys_then_checks_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = catalog(tmp.path(), &committed_cert());

    let moto = Moto::start(false);
    let (out, rows) = validate(&moto.url(), &catalog);
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    for (name, status, reason) in &rows {
        assert_eq!(status, "unreachable", "{name}: {reason}");
        assert!(
            reason.starts_with(
                "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: "
            ),
            "{name}: {reason}"
        );
    }
    drop(moto);

    let strict = Moto::start(true);
    let (out, rows) = validate(&strict.url(), &catalog);
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    let shown: Vec<String> = rows.iter().map(|(n, s, r)| format!("{n}: {s}: {r}")).collect();
    // moto answers both with an XML body the SDK reads no code from (real AWS's has one).
    insta::assert_snapshot!(shown.join("\n"), @"
    ecr-role: invalid-credentials: the AWS keys were not exchanged for a registry token: AWS refused the keys: sts:AssumeRole answered HTTP 403 (no error code)
    ecr-token: invalid-credentials: the AWS keys were not exchanged for a registry token: AWS refused the keys: ecr:GetAuthorizationToken answered HTTP 403 (no error code)
    ");
    drop(strict);

    let (out, rows) = validate(&format!("http://127.0.0.1:{}", free_port()), &catalog);
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    for (name, status, reason) in &rows {
        assert_eq!(status, "unreachable", "{name}: {reason}");
        assert!(reason.contains("cannot reach AWS for "), "{name}: {reason}");
    }
}

/// The `refresh: token` registry of `examples/registries/catalog.yaml` (`ecr-ci`, keys and a
/// role), rendered in-process for `manifests-ecr-token.yaml` with render's clock before moto's
/// expiry: its pull secret (plain, the demo cluster being `seal: none`) holds moto's token for
/// the role's account, keyed by the catalog server, and the warning gives the expiry.
#[test]
fn the_refresh_token_example_renders_the_token_aws_hands_out() {
    use pullseal::catalog::Catalog;
    use pullseal::manifest::{Source, Stream};
    use pullseal::registry::ecr_token::AwsEndpoints;
    use pullseal::render::{Options, render};
    use pullseal::sops::Identities;

    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let plain = fs::read_to_string(path("examples/registries/catalog.yaml")).unwrap();
    let encrypted = encrypt(tmp.path(), &plain, &[]);
    let ids = Identities::discover(Some(&path(AGE_KEY)), &|_| None).unwrap();
    let catalog = Catalog::load(&encrypted, &ids).unwrap();
    let manifest = "examples/registries/manifests-ecr-token.yaml";
    let stream = Stream::new(vec![Source {
        name: manifest.to_owned(),
        text: fs::read_to_string(path(manifest)).unwrap(),
    }]);
    let options = Options {
        now: time::OffsetDateTime::from_unix_timestamp(1_420_027_200).unwrap(),
        aws: AwsEndpoints {
            ecr: Some(moto.url()),
            sts: Some(moto.url()),
        },
        ..Options::new("demo")
    };
    let rendered = render(&stream, &catalog, &options).unwrap();
    insta::assert_snapshot!(rendered.warnings.join("\n"), @r#"
    cluster "demo" has seal: none: pull secrets are written as plain Secrets that anyone with the output can read
    registry "ecr-ci" (Amazon ECR, refresh: token): the token sealed into its pull secrets expires at 2015-01-01T00:00:00Z; render and apply again before then
    "#);
    let mut out = Vec::new();
    rendered.write_to(&stream, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for secret in ["AKIADEMOFAKE00000001", "demo-fake-ci-secret-access-key"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(
        text.contains("imagePullSecrets:\n        - name: pullseal-ecr-ci\n"),
        "{text}"
    );
    assert!(!text.contains("ExternalSecret"), "{text}");
    let config = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(".dockerconfigjson:"))
        .unwrap()
        .trim()
        .trim_matches('"');
    let config: Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(config).unwrap()).unwrap();
    let server = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
    assert_eq!(
        config["auths"].as_object().unwrap().keys().collect::<Vec<_>>(),
        [server]
    );
    let entry = &config["auths"][server];
    assert_eq!(entry["username"], "AWS");
    assert_eq!(entry["password"], MOTO_ROLE_PASSWORD);
}
