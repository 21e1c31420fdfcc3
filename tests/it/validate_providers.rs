//! `pullseal validate` through each registry *type*'s own code path, under the providers' real
//! host names: `examples/registries/catalog.yaml` (one registry of each type), encrypted by the
//! real sops, checked with `--connect-to HOST:PORT:127.0.0.1:<port>` and `--ca-file` a CA
//! made here by the real `openssl`, whose server certificate names those hosts.
//!
//! What answers (each started here on a free 127.0.0.1 port and stopped when the test ends):
//! - `system` (registry.example.com:5000) and `generic` (harbor.example.com/platform): the real
//!   Docker Registry v2 (Debian `docker-registry`) over HTTPS with htpasswd auth, live;
//! - `ecr`: moto (`moto[server]`) exchanges the AWS keys for its token, live; the registry
//!   check with `AWS:<token>` goes to the replay below;
//! - the public services that cannot run here: `tests/interop/provider_replay.py`, which
//!   answers each host with its documented challenge and token shapes. The sources, for the
//!   shapes the replay writes out:
//!   - Docker Hub: the token flow of distribution's `docs/spec/auth/token.md` (the worked
//!     example is `registry-1.docker.io`, `auth.docker.io/token`, service `registry.docker.io`,
//!     answer `token`/`access_token`/`expires_in`/`issued_at`), and
//!     <https://docs.docker.com/docker-hub/usage/> for anonymous pulls;
//!   - ACR: <https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md> (realm
//!     `https://<name>.azurecr.io/oauth2/token`, service the login server, `access_token`);
//!   - GCR and Artifact Registry: <https://cloud.google.com/artifact-registry/docs/docker/authentication>
//!     (`_json_key` and the key file as the password; realm `https://HOST/v2/token`);
//!   - Quay: <https://docs.quay.io/> (realm `https://quay.io/v2/auth`, service `quay.io`,
//!     robot accounts `org+name`);
//!   - Nexus 3: `BASIC realm="Sonatype Nexus Repository Manager"` (its default with
//!     forceBasicAuth, sonatype/nexus-public#921);
//!   - Artifactory: <https://jfrog.com/help/r/jfrog-artifactory-documentation/the-repository-path-method-for-docker>
//!     (realm under `/artifactory/api/docker/<repo>/v2/token`) and the subdomain method;
//!   - MCR: `/v2/` open to anyone, 403 to the networks it blocks (microsoft/containerregistry#188);
//!   - ECR: `Basic realm="https://<account>.dkr.ecr.<region>.amazonaws.com/",service="ecr.amazonaws.com"`
//!     (as `curl -i` shows it, mayflower/docker-ls#28), user `AWS`
//!     (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html>).
//!
//! The replay answers by the `Host` header, and a token service grants only the service its
//! registry names: a check sent to another host than its type's (`docker.io` for Docker Hub),
//! a token asked from another realm, or a repository path without the server's prefix (or
//! Docker Hub's `library/`) fails. Its request log (account names and schemes only) shows what
//! each check asked. No output may hold a password, a token or an `Authorization` header.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;
use serde_json::Value;

use crate::ecr_token::with_aws;
use crate::peers::{Guard, Moto, start_script};
use crate::support::{AGE_KEY, encrypt, output_text, path, pullseal, transcript};
use crate::validate::Registry;

/// The hosts the test certificate names: every example server's, the token services', and two
/// hostile servers of the replay.
const HOSTS: [&str; 16] = [
    "registry.example.com",
    "harbor.example.com",
    "registry-1.docker.io",
    "auth.docker.io",
    "mcr.microsoft.com",
    "quay.io",
    "nexus.example.com",
    "jfrog.example.com",
    "docker-remote.jfrog.example.com",
    "contosodemo.azurecr.io",
    "europe-west1-docker.pkg.dev",
    "eu.gcr.io",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "210987654321.dkr.ecr.us-east-1.amazonaws.com",
    "echo.example.com",
    "echo-token.example.com",
];

/// moto's registry tokens: for its default account (the example's `ecr`), and for the
/// account of the role `ecr-ci` assumes.
const MOTO_PASSWORD: &str = "123456789012-auth-token";
const MOTO_ROLE_PASSWORD: &str = "210987654321-auth-token";
/// The password every credential of the example catalog is replaced with to be refused.
const WRONG: &str = "wrong-password-for-every-type";

/// Every secret of the example catalog and of the test, none of which may be printed.
const SECRETS: [&str; 13] = [
    "demo-fake-system-password",
    "demo-fake-harbor-secret",
    "dckr_pat_demo-fake-token",
    "DEMOFAKEQUAYROBOTTOKEN",
    "demo-fake-nexus-password",
    "demo-fake-identity-token",
    "demo-fake-sp-secret",
    "DEMO-FAKE",
    "demo-fake-secret-access-key",
    "demo-fake-ci-secret-access-key",
    MOTO_PASSWORD,
    MOTO_ROLE_PASSWORD,
    WRONG,
];

/// A throwaway CA and a server certificate for [`HOSTS`], made by the real openssl.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            d,
            &["req", "-x509"],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=pullseal test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            d,
            &["req"],
            &ec,
            &[
                "-subj",
                "/CN=pullseal test server",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        let names: Vec<String> = HOSTS.iter().map(|h| format!("DNS:{h}")).collect();
        fs::write(
            d.join("server.ext"),
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
        .unwrap();
        openssl(
            d,
            &["x509", "-req"],
            &[],
            &[
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        Pki { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn openssl(dir: &Path, command: &[&str], key: &[&str], args: &[&str]) {
    let out = Command::new("openssl")
        .args(command)
        .args(key)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The replay on a free port, with its request log.
struct Replay {
    port: u16,
    log: PathBuf,
    _guard: Guard,
}

impl Replay {
    /// `closed`: anonymous Docker Hub tokens refused, MCR forbidden. The accounts are the
    /// example catalog's; the ECR hosts take moto's tokens, unless `ecr_refuse`.
    fn start(pki: &Pki, closed: bool, ecr_refuse: bool) -> Replay {
        let log = pki.file(&format!("replay-{}.log", rand_suffix()));
        let cert = pki.file("server.crt").display().to_string();
        let key = pki.file("server.key").display().to_string();
        let log_arg = log.display().to_string();
        let mut args = vec!["--cert", &cert, "--key", &key, "--log", &log_arg];
        if closed {
            args.push("--closed");
        }
        let accounts = accounts().to_string();
        let (guard, port) = start_script(
            "tests/interop/provider_replay.py",
            &args,
            &[
                ("REPLAY_ACCOUNTS", accounts.as_str()),
                ("REPLAY_ECR_REFUSE", if ecr_refuse { "1" } else { "" }),
            ],
        );
        Replay {
            port: port.parse().unwrap(),
            log,
            _guard: guard,
        }
    }

    /// The requests seen so far, as the replay logged them.
    fn requests(&self) -> Vec<Value> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `{host: {account: password}}` of the replay: the example catalog's.
fn accounts() -> Value {
    let (gar, gcr) = gcr_keys();
    serde_json::json!({
        "registry-1.docker.io": {"demo-user": "dckr_pat_demo-fake-token"},
        "contosodemo.azurecr.io": {"d3m0fake-0000-4000-8000-000000000000": "demo-fake-sp-secret"},
        "eu.gcr.io": {"_json_key": gcr},
        "europe-west1-docker.pkg.dev": {"_json_key": gar},
        "quay.io": {"acme+deployer": "DEMOFAKEQUAYROBOTTOKEN"},
        "nexus.example.com:8443": {"deployer": "demo-fake-nexus-password"},
        "jfrog.example.com": {"deployer": "demo-fake-identity-token"},
        "docker-remote.jfrog.example.com": {"deployer": "demo-fake-identity-token"},
        "echo.example.com": {"deployer": "demo-fake-identity-token"},
        "echo-token.example.com": {"deployer": "demo-fake-identity-token"},
    })
}

/// The example's Artifact Registry key (a block scalar, its last newline kept) and its GCR key
/// (a JSON string), byte for byte as the catalog holds them.
fn gcr_keys() -> (String, String) {
    let gar = "{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo-project\",\n  \"private_key_id\": \"demo-fake\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nDEMO-FAKE-NOT-A-KEY\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"puller@demo-project.iam.gserviceaccount.com\"\n}\n";
    let gcr = r#"{"type": "service_account", "project_id": "demo-project", "private_key": "DEMO-FAKE"}"#;
    (gar.to_owned(), gcr.to_owned())
}

/// The live registry over HTTPS for the example's `company` (system) and `harbor` (generic).
fn live_registry(pki: &Pki) -> Registry {
    Registry::start_tls(
        &[
            ("robot", "demo-fake-system-password"),
            ("robot$platform+ci", "demo-fake-harbor-secret"),
        ],
        &pki.file("server.crt"),
        &pki.file("server.key"),
    )
}

/// The example catalog, encrypted by the real sops, with `edit` applied to its plaintext.
fn example_catalog(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let plain = fs::read_to_string(path("examples/registries/catalog.yaml")).unwrap();
    encrypt(dir, &edit(plain), &[])
}

/// `--connect-to` for every example host: the live registry's two, the replay's others.
fn connect_to(live: Option<&Registry>, replay: &Replay) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(live) = live {
        out.push(format!("registry.example.com:5000:127.0.0.1:{}", live.port));
        out.push(format!("harbor.example.com:443:127.0.0.1:{}", live.port));
    }
    out.push(format!("nexus.example.com:8443:127.0.0.1:{}", replay.port));
    for host in HOSTS.iter().skip(2) {
        out.push(format!("{host}:443:127.0.0.1:{}", replay.port));
    }
    out
}

/// `pullseal validate --output json` with AWS at `moto`, the test CA trusted and `hops`.
fn validate(catalog: &Path, moto: &Moto, ca: Option<&Path>, hops: &[String], args: &[&str]) -> Output {
    let mut cmd = with_aws(&moto.url());
    cmd.args([
        "validate",
        "--output",
        "json",
        "--timeout",
        "5",
        "--age-key-file",
        AGE_KEY,
        "--catalog",
    ])
    .arg(catalog);
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    for hop in hops {
        cmd.args(["--connect-to", hop]);
    }
    let out = cmd.args(args).output().unwrap();
    assert_no_secret(&out);
    out
}

/// No secret of the catalog or the replay, no `Authorization` header and no Basic pair.
fn assert_no_secret(out: &Output) {
    let text = output_text(out);
    let (gar, gcr) = gcr_keys();
    for secret in SECRETS.iter().copied().chain([gar.as_str(), gcr.as_str()]) {
        assert!(!text.contains(secret), "{secret:?} was printed:\n{text}");
    }
    // ("Authorization" alone is in ecr:GetAuthorizationToken, which reasons name.)
    for needle in ["replayed-", "Authorization:", "authorization:"] {
        assert!(!text.contains(needle), "{needle:?} was printed:\n{text}");
    }
    // A Basic credential of any account ("Basic auth" and "Basic realm" are words of reasons).
    let basic = regex::Regex::new(r"(?i)basic +[A-Za-z0-9+/]{8,}").unwrap();
    assert!(!basic.is_match(&text), "a Basic credential was printed:\n{text}");
}

/// `name -> (status, reason)` of a JSON report.
fn statuses(out: &Output) -> BTreeMap<String, (String, String)> {
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", transcript(out)));
    json["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                (
                    r["status"].as_str().unwrap().to_owned(),
                    r["reason"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// The reason for `name`, after asserting its status.
fn expect<'a>(got: &'a BTreeMap<String, (String, String)>, name: &str, status: &str) -> &'a str {
    let (s, reason) = got
        .get(name)
        .unwrap_or_else(|| panic!("{name} not reported: {got:?}"));
    assert_eq!(s, status, "{name}: {reason}\n{got:?}");
    reason
}

/// Every example registry is valid through its own type: each is checked at its provider's
/// host (Docker Hub at registry-1.docker.io), with a token from the realm its challenge names
/// (service and scope as asked), or Basic where it asks for that (Nexus, ECR with moto's
/// token); the anonymous ones as anonymous pulls. With `--repository app --reference v1` each
/// finds the image under its own server's path.
#[test]
#[allow(clippy::too_many_lines)] // one assertion per provider type
fn every_example_registry_validates_through_its_own_type() {
    let pki = Pki::new();
    let live = live_registry(&pki);
    let replay = Replay::start(&pki, false, false);
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = example_catalog(tmp.path(), |p| p);
    let hops = connect_to(Some(&live), &replay);
    let ca = pki.file("ca.crt");

    let out = validate(&catalog, &moto, Some(&ca), &hops, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let got = statuses(&out);
    assert_eq!(got.len(), 14, "{got:?}");
    for (name, how) in [
        (
            "company",
            "the credentials open https://registry.example.com:5000 (Basic)",
        ),
        (
            "harbor",
            "the credentials open https://harbor.example.com (Basic)",
        ),
        (
            "hub",
            "the credentials open https://registry-1.docker.io (Bearer token from https://auth.docker.io/token)",
        ),
        (
            "acr",
            "the credentials open https://contosodemo.azurecr.io (Bearer token from https://contosodemo.azurecr.io/oauth2/token)",
        ),
        (
            "gar",
            "the credentials open https://europe-west1-docker.pkg.dev (Bearer token from https://europe-west1-docker.pkg.dev/v2/token)",
        ),
        (
            "gcr",
            "the credentials open https://eu.gcr.io (Bearer token from https://eu.gcr.io/v2/token)",
        ),
        (
            "quay",
            "the credentials open https://quay.io (Bearer token from https://quay.io/v2/auth)",
        ),
        (
            "nexus",
            "the credentials open https://nexus.example.com:8443 (Basic)",
        ),
        (
            "jfrog",
            "the credentials open https://jfrog.example.com (Bearer token from https://jfrog.example.com/artifactory/api/docker/docker-local/v2/token)",
        ),
        (
            "jfrog-sub",
            "the credentials open https://docker-remote.jfrog.example.com (Bearer token from https://docker-remote.jfrog.example.com/v2/token)",
        ),
        (
            "ecr",
            "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: the credentials open https://123456789012.dkr.ecr.eu-west-1.amazonaws.com (Basic)",
        ),
        // The role's account's token (moto's for 210987654321), so the role was assumed.
        (
            "ecr-ci",
            "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: the credentials open https://210987654321.dkr.ecr.us-east-1.amazonaws.com (Basic)",
        ),
        (
            "hub-public",
            "anonymous pulls allowed: https://registry-1.docker.io opens with a token asked for without credentials (Bearer token from https://auth.docker.io/token); --repository checks one repository",
        ),
        (
            "mcr",
            "anonymous pulls allowed: https://mcr.microsoft.com answers /v2/ without credentials; --repository checks one repository",
        ),
    ] {
        assert_eq!(expect(&got, name, "valid"), how, "{name}");
    }
    // What the replay was asked: Docker Hub's tokens come from auth.docker.io for its service,
    // with the account for `hub` and without one for `hub-public`; GCR's with `_json_key`.
    let requests = replay.requests();
    let tokens: std::collections::BTreeSet<String> = requests
        .iter()
        .filter(|r| r["host"] == "auth.docker.io")
        .map(|r| format!("{} {} {}", r["path"], r["query"], r["user"]))
        .collect();
    assert_eq!(
        tokens.into_iter().collect::<Vec<_>>(),
        [
            r#""/token" {"service":["registry.docker.io"]} "demo-user""#,
            r#""/token" {"service":["registry.docker.io"]} null"#,
        ]
    );
    assert!(
        requests
            .iter()
            .any(|r| r["host"] == "eu.gcr.io" && r["user"] == "_json_key"),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r["host"] == "docker.io" || r["host"] == "index.docker.io"),
        "{requests:?}"
    );

    // Pull access: `app` under each server's path, the image `v1` found there (a wrong path
    // would be 404, not-found). The live registry holds no image, so it is left out here.
    let names = [
        "hub",
        "hub-public",
        "acr",
        "gar",
        "gcr",
        "quay",
        "nexus",
        "jfrog",
        "jfrog-sub",
        "mcr",
        "ecr",
        "ecr-ci",
    ];
    let mut args = vec!["--repository", "app", "--reference", "v1"];
    args.extend(names);
    let out = validate(&catalog, &moto, Some(&ca), &hops, &args);
    let got = statuses(&out);
    for (name, status, image) in [
        ("hub", "valid", "library/app:v1"),
        ("acr", "valid", "app:v1"),
        ("gar", "valid", "demo-project/app:v1"),
        ("gcr", "valid", "demo-project/app:v1"),
        ("quay", "valid", "acme/app:v1"),
        ("nexus", "valid", "app:v1"),
        ("jfrog", "valid", "docker-local/app:v1"),
        ("jfrog-sub", "valid", "app:v1"),
        ("mcr", "valid", "app:v1"),
        ("ecr", "valid", "app:v1"),
        ("ecr-ci", "valid", "app:v1"),
        ("hub-public", "valid", "library/app:v1"),
    ] {
        let reason = expect(&got, name, status);
        assert!(reason.ends_with(&format!("may pull {image}")), "{name}: {reason}");
    }
    assert!(expect(&got, "hub-public", "valid").starts_with("anonymous pulls allowed: "));
    assert!(expect(&got, "mcr", "valid").starts_with("anonymous pulls allowed: "));
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let scopes: Vec<Value> = replay
        .requests()
        .into_iter()
        .filter(|r| r["host"] == "auth.docker.io" && !r["query"]["scope"].is_null())
        .map(|r| r["query"]["scope"].clone())
        .collect();
    assert!(
        !scopes.is_empty()
            && scopes
                .iter()
                .all(|s| *s == serde_json::json!(["repository:library/app:pull"])),
        "{scopes:?}"
    );
}

/// Every credential of the example replaced by a wrong one: each credentialed type is refused
/// by its own service (the token realm its challenge names, or Basic), and ECR by the registry
/// when the token it is shown is not the one AWS handed out. The anonymous ones are untouched.
#[test]
fn wrong_credentials_are_refused_by_each_types_own_service() {
    let pki = Pki::new();
    let live = live_registry(&pki);
    let replay = Replay::start(&pki, false, true);
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = example_catalog(tmp.path(), |plain| {
        let mut plain = plain;
        for secret in &SECRETS[..7] {
            plain = plain.replace(secret, WRONG);
        }
        // The keys keep their shape (the gcr type checks it): only their private key differs.
        plain
            .replace("DEMO-FAKE-NOT-A-KEY", "WRONG-KEY")
            .replace("\"private_key\": \"DEMO-FAKE\"", "\"private_key\": \"WRONG-KEY\"")
    });
    let hops = connect_to(Some(&live), &replay);
    let out = validate(&catalog, &moto, Some(&pki.file("ca.crt")), &hops, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    let got = statuses(&out);
    for (name, refused_by) in [
        (
            "company",
            "https://registry.example.com:5000 refused the username and password (HTTP 401, Basic)",
        ),
        (
            "harbor",
            "https://harbor.example.com refused the username and password (HTTP 401, Basic)",
        ),
        (
            "hub",
            "the token service https://auth.docker.io/token refused the credentials (HTTP 401)",
        ),
        (
            "acr",
            "the token service https://contosodemo.azurecr.io/oauth2/token refused the credentials (HTTP 401)",
        ),
        (
            "gar",
            "the token service https://europe-west1-docker.pkg.dev/v2/token refused the credentials (HTTP 401)",
        ),
        (
            "gcr",
            "the token service https://eu.gcr.io/v2/token refused the credentials (HTTP 401)",
        ),
        (
            "quay",
            "the token service https://quay.io/v2/auth refused the credentials (HTTP 401)",
        ),
        (
            "nexus",
            "https://nexus.example.com:8443 refused the username and password (HTTP 401, Basic)",
        ),
        (
            "jfrog",
            "the token service https://jfrog.example.com/artifactory/api/docker/docker-local/v2/token refused the credentials (HTTP 401)",
        ),
        (
            "jfrog-sub",
            "the token service https://docker-remote.jfrog.example.com/v2/token refused the credentials (HTTP 401)",
        ),
        (
            "ecr",
            "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: https://123456789012.dkr.ecr.eu-west-1.amazonaws.com refused the username and password (HTTP 401, Basic)",
        ),
        (
            "ecr-ci",
            "AWS exchanged the keys for a registry token (ecr:GetAuthorizationToken), and with it: https://210987654321.dkr.ecr.us-east-1.amazonaws.com refused the username and password (HTTP 401, Basic)",
        ),
    ] {
        assert_eq!(expect(&got, name, "invalid-credentials"), refused_by, "{name}");
    }
    expect(&got, "hub-public", "valid");
    expect(&got, "mcr", "valid");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: 12 of 14 registries are not valid: acr, company, ecr, ecr-ci, gar, gcr, harbor, hub, jfrog, jfrog-sub, nexus, quay"
    );
}

/// The anonymous types (`dockerhub` with `public: true`, `mcr` without credentials) report
/// whether anonymous pulls are allowed: where the service refuses them (Docker Hub's token
/// service refusing anonymous tokens, MCR answering 403), `anonymous-refused`; a repository an
/// anonymous token does not grant is `no-access`.
#[test]
fn anonymous_types_say_whether_anonymous_pulls_are_allowed() {
    let pki = Pki::new();
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = example_catalog(tmp.path(), |p| p);
    let ca = pki.file("ca.crt");

    let closed = Replay::start(&pki, true, false);
    let hops = connect_to(None, &closed);
    let out = validate(&catalog, &moto, Some(&ca), &hops, &["hub-public", "mcr"]);
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    let got = statuses(&out);
    assert_eq!(
        expect(&got, "hub-public", "anonymous-refused"),
        "the token service https://auth.docker.io/token refused anonymous access (HTTP 401)"
    );
    assert_eq!(
        expect(&got, "mcr", "anonymous-refused"),
        "GET /v2/ on https://mcr.microsoft.com answered HTTP 403 (forbidden) without credentials"
    );
    // For people: the status says it in words.
    let mut table = with_aws(&moto.url());
    table
        .args(["validate", "--age-key-file", AGE_KEY, "--catalog"])
        .arg(&catalog);
    table.arg("--ca-file").arg(&ca);
    for hop in &hops {
        table.args(["--connect-to", hop]);
    }
    let out = table.arg("mcr").output().unwrap();
    assert_no_secret(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("mcr   mcr.microsoft.com  anonymous pulls refused"),
        "{text}"
    );
    drop(closed);

    // Open: an official image may be pulled anonymously, a private one may not.
    let open = Replay::start(&pki, false, false);
    let hops = connect_to(None, &open);
    let out = validate(
        &catalog,
        &moto,
        Some(&ca),
        &hops,
        &["hub-public", "--repository", "acme/private"],
    );
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    assert_eq!(
        expect(&statuses(&out), "hub-public", "no-access"),
        "https://registry-1.docker.io refuses to let anonymous access pull acme/private (HTTP 401)"
    );
    let out = validate(
        &catalog,
        &moto,
        Some(&ca),
        &hops,
        &["hub-public", "--repository", "app"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert_eq!(
        expect(&statuses(&out), "hub-public", "valid"),
        "anonymous pulls allowed: may pull library/app:latest"
    );
}

/// TLS checks the name, with the roots given: without `--ca-file` the test CA is unknown (a
/// TLS problem, and no plain HTTP is tried for a public name), and a name the certificate does
/// not hold is refused although the connection goes to the same server.
#[test]
fn tls_checks_the_providers_name_against_the_roots_given() {
    let pki = Pki::new();
    let replay = Replay::start(&pki, false, false);
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = example_catalog(tmp.path(), |plain| {
        plain.replace(
            "clusters:\n",
            "  unnamed:\n    type: generic\n    server: not-in-the-certificate.example.com\n    username: u\n    password: demo-fake-identity-token\nclusters:\n",
        )
    });
    let mut hops = connect_to(None, &replay);
    hops.push(format!(
        "not-in-the-certificate.example.com:443:127.0.0.1:{}",
        replay.port
    ));

    let out = validate(&catalog, &moto, None, &hops, &["hub", "mcr"]);
    let got = statuses(&out);
    for name in ["hub", "mcr"] {
        let reason = expect(&got, name, "tls-error");
        assert!(reason.contains("UnknownIssuer"), "{name}: {reason}");
        assert!(reason.starts_with("GET https://"), "{name}: {reason}");
    }
    let out = validate(
        &catalog,
        &moto,
        Some(&pki.file("ca.crt")),
        &hops,
        &["unnamed", "quay"],
    );
    let got = statuses(&out);
    let reason = expect(&got, "unnamed", "tls-error");
    assert!(
        reason.contains("certificate not valid for name \"not-in-the-certificate.example.com\""),
        "{reason}"
    );
    expect(&got, "quay", "valid");
    // No request of the refused checks got past the handshake.
    assert!(
        replay.requests().iter().all(|r| r["host"] == "quay.io"),
        "{:?}",
        replay.requests()
    );
}

/// Servers that echo what they are sent: one puts the Authorization header it got,
/// percent-encoded, in a redirect's path; one puts the token in a Content-Type that the "not a
/// registry" reason names. Neither shows up in the report.
#[test]
fn servers_echoing_credentials_do_not_get_them_printed() {
    let pki = Pki::new();
    let replay = Replay::start(&pki, false, false);
    let moto = Moto::start(false);
    let tmp = tempfile::tempdir().unwrap();
    let plain = "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n  echo:\n    type: generic\n    server: echo.example.com\n    username: deployer\n    password: demo-fake-identity-token\n  echo-token:\n    type: artifactory\n    server: echo-token.example.com\n    username: deployer\n    password: demo-fake-identity-token\nclusters:\n  demo:\n    seal: none\n";
    let catalog = encrypt(tmp.path(), plain, &[]);
    let hops = connect_to(None, &replay);
    for format in ["json", "table"] {
        let mut cmd = with_aws(&moto.url());
        cmd.args([
            "validate",
            "--output",
            format,
            "--age-key-file",
            AGE_KEY,
            "--catalog",
        ])
        .arg(&catalog)
        .arg("--ca-file")
        .arg(pki.file("ca.crt"));
        for hop in &hops {
            cmd.args(["--connect-to", hop]);
        }
        let out = cmd.output().unwrap();
        assert_no_secret(&out);
        assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("[redacted]"), "{text}");
        let base64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "deployer:demo-fake-identity-token",
        );
        // Nor in the encoding the server echoed it in.
        let decoded = percent_decoded(&text);
        assert!(!decoded.contains(&base64), "{text}");
        assert!(!decoded.contains("demo-fake-identity-token"), "{text}");
    }
    // The hostile servers did get the credentials (what they echoed was real).
    let requests = replay.requests();
    assert!(
        requests
            .iter()
            .any(|r| r["host"] == "echo.example.com" && r["user"] == "deployer")
    );
    assert!(
        requests
            .iter()
            .any(|r| r["host"] == "echo-token.example.com" && r["auth"] == "bearer")
    );
}

/// `--ca-file` and `--connect-to` problems are usage errors (exit 2) before anything is
/// checked: nothing on stdout, the file named, its content (a private key, given by mistake)
/// never quoted.
#[test]
fn ca_file_and_connect_to_problems_are_usage_errors_naming_the_file() {
    let pki = Pki::new();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = example_catalog(tmp.path(), |p| p);
    let garbage = tmp.path().join("garbage.pem");
    fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = tmp.path().join("empty.pem");
    fs::write(&empty, "").unwrap();
    let key = pki.file("server.key");
    let key_text = fs::read_to_string(&key).unwrap();
    let missing = tmp.path().join("missing.pem");
    let run = |args: &[&str]| {
        let out = pullseal()
            .args(["validate", "--age-key-file", AGE_KEY, "--catalog"])
            .arg(&catalog)
            .args(args)
            .output()
            .unwrap();
        assert_no_secret(&out);
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains(line),
                "the key was quoted"
            );
        }
        assert!(out.stdout.is_empty(), "{}", transcript(&out));
        assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
        String::from_utf8_lossy(&out.stderr)
            .replace(&tmp.path().display().to_string(), "TMP")
            .replace(&pki.dir.path().display().to_string(), "PKI")
    };
    let shown: Vec<String> = [
        vec!["--ca-file", missing.to_str().unwrap()],
        vec!["--ca-file", tmp.path().to_str().unwrap()],
        vec!["--ca-file", garbage.to_str().unwrap()],
        vec!["--ca-file", empty.to_str().unwrap()],
        vec!["--ca-file", key.to_str().unwrap()],
    ]
    .iter()
    .map(|args| run(args))
    .collect();
    insta::assert_snapshot!(shown.join(""), @r"
    error: --ca-file TMP/missing.pem cannot be read: No such file or directory (os error 2)
    error: --ca-file TMP cannot be read: Is a directory (os error 21)
    error: --ca-file TMP/garbage.pem is not PEM: a -----BEGIN/-----END block in it does not decode
    error: --ca-file TMP/empty.pem holds no PEM certificate (a -----BEGIN CERTIFICATE----- block)
    error: --ca-file PKI/server.key holds a private key; a CA file holds the CA's certificates only
    ");
    let connect = run(&["--connect-to", "registry-1.docker.io:443:127.0.0.1"]);
    assert!(
        connect.contains("registry-1.docker.io:443:127.0.0.1 is not HOST:PORT:HOST2:PORT2 (four fields separated by ':', any of them empty)"),
        "{connect}"
    );
}

/// `text` with every `%XX` decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if bytes[i] == b'%' => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
