//! `pullseal validate` against live servers on 127.0.0.1, each started by the test that needs
//! it on a free port and stopped when it ends (a guard kills it, pass or fail):
//!
//! - the real Docker Registry v2 (Debian `docker-registry`, distribution 2.8) with htpasswd
//!   auth, and with bearer-token auth from `tests/interop/registry_token_server.py`;
//! - `tests/interop/registry_replay.py`, which replays the challenge and token shapes of Docker
//!   Hub, ACR, GCR, Quay, JFrog and MCR (none of which can be reached from here), with their
//!   realms rewritten to itself, plus two servers that are not registries;
//! - a TCP listener that accepts and never answers, and a port where nothing listens.
//!
//! End to end, the `.dockerconfigjson` that `render` seals for the live registry, unsealed by
//! kubesealpy, lets `skopeo inspect` (a real, independent client) read an image pushed there
//! first; with a wrong password it cannot. Every catalog is encrypted at test time by the real
//! sops, with the live ports in its servers. No output of any run may hold a password, a token
//! or an `Authorization` header.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fs_err as fs;
use serde_json::Value;

use crate::peers::{self, Guard, start_script};
use crate::support::{AGE_KEY, PROXY_VARS, encrypt, output_text, path, pullseal, transcript};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-registry-pass";
const WRONG: &str = "wrong-registry-pass";
/// The token `registry_replay.py` hands out.
const REPLAYED_TOKEN: &str = "replayed-token-7d1f0c";

/// How a live registry authenticates.
#[derive(Clone, Copy)]
pub(crate) enum Auth {
    Htpasswd,
    /// Token auth; repositories under `private/` are refused to everyone.
    Token,
}

/// A running `docker-registry` on 127.0.0.1, with its token server in token mode.
pub(crate) struct Registry {
    pub(crate) port: u16,
    // Dropped in this order: the processes, then their directory.
    _server: Guard,
    _token: Option<Guard>,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(auth: Auth) -> Registry {
        Self::start_for(auth, USER, PASSWORD)
    }

    /// A registry whose one account is `user` with `password` (the leak check's canaries).
    pub(crate) fn start_for(auth: Auth, user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let (token, auth_block) = auth_config(auth, dir.path(), user, password);
        Self::serve(dir, token, &auth_block, "")
    }

    /// Over HTTPS with `cert` and `key` (PEM files), htpasswd auth for `users` (name, password).
    pub(crate) fn start_tls(users: &[(&str, &str)], cert: &Path, key: &Path) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut htpasswd = Vec::new();
        for (user, password) in users {
            htpasswd.extend(htpasswd_entry(user, password).trim_ascii_end());
            htpasswd.push(b'\n');
        }
        fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        let auth = format!(
            "  htpasswd:\n    realm: pullseal-test\n    path: {}\n",
            dir.path().join("htpasswd").display()
        );
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
        Self::serve(dir, None, &auth, &tls)
    }

    fn serve(dir: tempfile::TempDir, token: Option<Guard>, auth_block: &str, http_extra: &str) -> Registry {
        let d = dir.path();
        let config = d.join("config.yml");
        let (server, port) = peers::listening(
            "docker-registry",
            Duration::from_secs(10),
            Duration::from_millis(20),
            |port| {
                fs::write(
                    &config,
                    format!(
                        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{http_extra}auth:\n{auth_block}",
                        d.join("storage").display()
                    ),
                )
                .unwrap();
                // docker-registry reads every REGISTRY_* variable as a config override: none may leak in.
                Command::new(peers::docker_registry())
                    .arg("serve")
                    .arg(&config)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            },
        );
        Registry {
            port,
            _dir: dir,
            _token: token,
            _server: server,
        }
    }

    pub(crate) fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The bcrypt `htpasswd` entry of `user` (what `htpasswd -Bbn` prints).
fn htpasswd_entry(user: &str, password: &str) -> Vec<u8> {
    let out = Command::new(peers::htpasswd())
        .args(["-Bbn", user, password])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "htpasswd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The registry's `auth:` section for `auth`, with its token server (started here) in token
/// mode; key material goes into `d`.
fn auth_config(auth: Auth, d: &Path, user: &str, password: &str) -> (Option<Guard>, String) {
    match auth {
        Auth::Htpasswd => {
            fs::write(d.join("htpasswd"), htpasswd_entry(user, password)).unwrap();
            (
                None,
                format!(
                    "  htpasswd:\n    realm: pullseal-test\n    path: {}\n",
                    d.join("htpasswd").display()
                ),
            )
        }
        Auth::Token => {
            let out = Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
                .args(["-subj", "/CN=pullseal-test-token-issuer", "-keyout"])
                .arg(d.join("token.key"))
                .arg("-out")
                .arg(d.join("token.crt"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let key = d.join("token.key").display().to_string();
            let crt = d.join("token.crt").display().to_string();
            let (guard, port) = start_script(
                "tests/interop/registry_token_server.py",
                &[
                    "--key",
                    &key,
                    "--cert",
                    &crt,
                    "--issuer",
                    "pullseal-test",
                    "--service",
                    "pullseal-test-registry",
                    "--user",
                    user,
                    "--deny-prefix",
                    "private/",
                ],
                &[("TOKEN_SERVER_PASSWORD", password)],
            );
            (
                Some(guard),
                format!(
                    "  token:\n    realm: http://127.0.0.1:{port}/token\n    service: pullseal-test-registry\n    issuer: pullseal-test\n    rootcertbundle: {crt}\n"
                ),
            )
        }
    }
}

/// A port where a listener accepts connections and never answers; it lives as long as the
/// test binary (its thread holds every connection).
fn hanging_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    port
}

/// A port where nothing listens.
fn dead_port() -> u16 {
    peers::free_port()
}

/// One registry of a test catalog: name, type, server, username, password.
type Entry<'a> = (&'a str, &'a str, String, &'a str, &'a str);

/// Writes a catalog of `entries` (and a `seal: sealed-secrets` cluster `test` with the test
/// certificate) encrypted by the real sops into `dir`.
fn catalog(dir: &Path, entries: &[Entry<'_>]) -> PathBuf {
    let mut plain = String::from("apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n");
    for (name, kind, server, user, pass) in entries {
        let _ = write!(
            plain,
            "  {name}:\n    type: {kind}\n    server: \"{server}\"\n    username: {user}\n    password: {pass}\n"
        );
    }
    let cert = fs::read_to_string(path("testdata/keys/sealed-secrets-test.crt")).unwrap();
    plain.push_str("clusters:\n  test:\n    seal: sealed-secrets\n    scope: strict\n    certificate: |\n");
    for line in cert.lines() {
        let _ = writeln!(plain, "      {line}");
    }
    encrypt(dir, &plain, &[])
}

/// `pullseal validate --catalog CATALOG ARGS`, with no proxy from the developer's shell.
fn validate(catalog: &Path, args: &[&str]) -> Output {
    let mut cmd = pullseal();
    for proxy in PROXY_VARS {
        cmd.env_remove(proxy);
    }
    let out = cmd
        .args(["validate", "--age-key-file", AGE_KEY, "--catalog"])
        .arg(catalog)
        .args(args)
        .output()
        .unwrap();
    assert_no_secret(&out);
    out
}

/// No password, token, `Authorization` header or Basic pair in a run's output.
fn assert_no_secret(out: &Output) {
    let text = output_text(out);
    let basic =
        |p: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{USER}:{p}"));
    for secret in [PASSWORD, WRONG, REPLAYED_TOKEN, &basic(PASSWORD), &basic(WRONG)] {
        assert!(!text.contains(secret), "a secret was printed:\n{text}");
    }
    // The token server's JWTs all start with the base64 of `{"typ": "JWT"`.
    for needle in ["eyJ", "Authorization", "authorization:", "Bearer ey", "Basic "] {
        assert!(!text.contains(needle), "{needle:?} was printed:\n{text}");
    }
}

/// `name -> (status, reason)` of a `--output json` run.
fn statuses(out: &Output) -> std::collections::BTreeMap<String, (String, String)> {
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", transcript(out)));
    json["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            for field in ["name", "server", "endpoint", "status", "reason"] {
                assert!(r[field].is_string(), "{field} in {r}");
            }
            assert!(r["latency_ms"].is_u64(), "{r}");
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

fn status_of(map: &std::collections::BTreeMap<String, (String, String)>, name: &str) -> String {
    map.get(name)
        .unwrap_or_else(|| panic!("{name} not reported: {map:?}"))
        .0
        .clone()
}

/// Right and wrong passwords against the live htpasswd registry, a port where nothing listens
/// and one that never answers; the table for people is pinned (ports and latencies masked).
#[test]
fn htpasswd_registry_right_and_wrong_credentials_down_and_hanging() {
    let registry = Registry::start(Auth::Htpasswd);
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalog(
        tmp.path(),
        &[
            ("company", "system", registry.server(), USER, PASSWORD),
            ("wrong", "system", registry.server(), USER, WRONG),
            (
                "down",
                "generic",
                format!("127.0.0.1:{}", dead_port()),
                USER,
                PASSWORD,
            ),
            (
                "hangs",
                "generic",
                format!("127.0.0.1:{}", hanging_port()),
                USER,
                PASSWORD,
            ),
        ],
    );
    let started = Instant::now();
    let out = validate(&cat, &["--timeout", "1", "--output", "json"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(6), "{}", transcript(&out));
    let got = statuses(&out);
    assert_eq!(status_of(&got, "company"), "valid");
    assert_eq!(status_of(&got, "wrong"), "invalid-credentials");
    assert_eq!(status_of(&got, "down"), "unreachable");
    assert_eq!(status_of(&got, "hangs"), "unreachable");
    assert!(
        got["hangs"].1.contains("within 1s (timeout)"),
        "{:?}",
        got["hangs"]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: 3 of 4 registries are not valid: down, hangs, wrong"
    );

    // The same, for people, without the hanging one.
    let out = validate(&cat, &["--timeout", "1", "company", "wrong", "down"]);
    assert_eq!(out.status.code(), Some(6));
    // Ports and latencies masked, then column padding (which follows their widths) collapsed.
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let mask = |text: &str, pattern: &str, with: &str| {
        regex::Regex::new(pattern)
            .unwrap()
            .replace_all(text, with)
            .into_owned()
    };
    let table = mask(&table, r"127\.0\.0\.1:\d+", "127.0.0.1:N");
    let table = mask(&table, r"\d+ ms", "N ms");
    let table = mask(&table, r" {2,}", "  ");
    insta::assert_snapshot!(table, @r"
    NAME  SERVER  STATUS  LATENCY  REASON
    company  127.0.0.1:N  valid  N ms  the credentials open http://127.0.0.1:N (Basic)
    down  127.0.0.1:N  unreachable  N ms  GET https://127.0.0.1:N/v2/: connection refused (nothing listens there)
    wrong  127.0.0.1:N  invalid credentials  N ms  http://127.0.0.1:N refused the username and password (HTTP 401, Basic)
    ");

    // Only the names given are checked; an unknown one is a usage error naming the known ones.
    let out = validate(&cat, &["company"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let out = validate(&cat, &["nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(out.stdout.is_empty());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr), @"error: the catalog has no registry named nope; it has company, down, hangs, wrong");
}

/// The live registry with bearer-token auth: the token service refuses a wrong password, and
/// grants `repository:R:pull` except under `private/`, where the registry then says 401.
#[test]
fn token_registry_credentials_and_pull_access() {
    let registry = Registry::start(Auth::Token);
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalog(
        tmp.path(),
        &[
            ("company", "system", registry.server(), USER, PASSWORD),
            ("wrong", "system", registry.server(), USER, WRONG),
        ],
    );
    let out = validate(&cat, &["--output", "json", "--timeout", "5"]);
    let got = statuses(&out);
    assert_eq!(got["company"].0, "valid", "{got:?}");
    assert!(
        got["company"].1.contains("Bearer token from http://127.0.0.1:"),
        "{got:?}"
    );
    assert_eq!(got["wrong"].0, "invalid-credentials", "{got:?}");
    assert!(
        got["wrong"].1.contains("refused the credentials (HTTP 401)"),
        "{got:?}"
    );
    assert_eq!(out.status.code(), Some(6));

    // A repository the token service grants: a missing `latest` still proves access...
    let out = validate(&cat, &["--output", "json", "company", "--repository", "team/app"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(
        statuses(&out)["company"].1.contains("may pull team/app"),
        "{}",
        transcript(&out)
    );
    // ...an explicit reference that is missing does not...
    let out = validate(
        &cat,
        &[
            "--output",
            "json",
            "company",
            "--repository",
            "team/app",
            "--reference",
            "v9",
        ],
    );
    assert_eq!(statuses(&out)["company"].0, "not-found", "{}", transcript(&out));
    // ...and one it refuses is no pull access, the credentials being right.
    let out = validate(
        &cat,
        &["--output", "json", "company", "--repository", "private/app"],
    );
    let got = statuses(&out);
    assert_eq!(got["company"].0, "no-access", "{got:?}");
    assert_eq!(out.status.code(), Some(6));
    let out = validate(
        &cat,
        &["--output", "json", "wrong", "--repository", "private/app"],
    );
    assert_eq!(
        statuses(&out)["wrong"].0,
        "invalid-credentials",
        "{}",
        transcript(&out)
    );
}

/// Replayed shapes over plain HTTP on loopback: Docker Hub, ACR, GCR, Quay and JFrog
/// challenges and token answers with their realms pointed at `tests/interop/registry_replay.py`
/// itself (a plain-HTTP loopback realm, which is allowed), MCR's open `/v2/`, and two servers
/// that are not registries. Each provider *type* through its own code path, under the
/// providers' real host names over HTTPS, is `validate_providers.rs`.
#[test]
fn provider_challenge_shapes_replayed() {
    let (_replay, ports) = start_script("tests/interop/registry_replay.py", &[USER, PASSWORD], &[]);
    let ports: Value = serde_json::from_str(&ports).unwrap();
    let server = |shape: &str| format!("127.0.0.1:{}", ports[shape].as_u64().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalog(
        tmp.path(),
        &[
            // Typed `generic`: a provider type checks its own server shape (docker.io,
            // *.azurecr.io, ...), which a loopback server cannot have; what is exercised here
            // is each service's challenge and token exchange on a loopback realm.
            ("hub", "generic", server("dockerhub"), USER, PASSWORD),
            ("hub-wrong", "generic", server("dockerhub"), USER, WRONG),
            ("acr", "generic", server("acr"), USER, PASSWORD),
            ("gcr", "generic", server("gcr"), "_json_key", PASSWORD),
            ("quay", "quay", server("quay"), "acme+robot", PASSWORD),
            (
                "jfrog",
                "artifactory",
                format!("{}/docker-local", server("jfrog")),
                USER,
                PASSWORD,
            ),
            ("mcr", "generic", server("mcr"), USER, PASSWORD),
            ("web-page", "generic", server("html"), USER, PASSWORD),
            ("not-found", "generic", server("notfound"), USER, PASSWORD),
        ],
    );
    let out = validate(&cat, &["--output", "json"]);
    let got = statuses(&out);
    for name in ["hub", "acr", "gcr", "quay", "jfrog", "mcr"] {
        assert_eq!(got[name].0, "valid", "{name}: {got:?}");
    }
    assert_eq!(got["hub-wrong"].0, "invalid-credentials", "{got:?}");
    assert_eq!(got["web-page"].0, "not-a-registry", "{got:?}");
    assert!(got["web-page"].1.contains("text/html"), "{got:?}");
    assert_eq!(got["not-found"].0, "not-a-registry", "{got:?}");
    assert!(got["not-found"].1.contains("HTTP 404"), "{got:?}");

    // Pull access through each shape's token, under the server's path prefix for JFrog.
    let out = validate(
        &cat,
        &[
            "--output",
            "json",
            "hub",
            "acr",
            "quay",
            "jfrog",
            "mcr",
            "--repository",
            "ok/app",
        ],
    );
    let got = statuses(&out);
    assert!(got.values().all(|(s, _)| s == "valid"), "{got:?}");
    assert!(got["jfrog"].1.contains("docker-local/ok/app"), "{got:?}");
    let out = validate(
        &cat,
        &["--output", "json", "hub", "mcr", "--repository", "denied/app"],
    );
    let got = statuses(&out);
    assert!(got.values().all(|(s, _)| s == "no-access"), "{got:?}");
}

/// A dozen registries, a third of them hanging and a third down: the run ends within its
/// configured timeouts (bound kept loose for CI) and reports every one.
#[test]
fn a_dozen_registries_some_down_some_hanging_finish_in_time() {
    let registry = Registry::start(Auth::Htpasswd);
    let (_replay, ports) = start_script("tests/interop/registry_replay.py", &[USER, PASSWORD], &[]);
    let ports: Value = serde_json::from_str(&ports).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut entries: Vec<(String, String)> = Vec::new();
    for i in 0..4 {
        entries.push((format!("hangs-{i}"), format!("127.0.0.1:{}", hanging_port())));
        entries.push((format!("down-{i}"), format!("127.0.0.1:{}", dead_port())));
    }
    entries.push(("live-a".to_owned(), registry.server()));
    entries.push(("live-b".to_owned(), registry.server()));
    entries.push(("hub".to_owned(), format!("127.0.0.1:{}", ports["dockerhub"])));
    entries.push(("web".to_owned(), format!("127.0.0.1:{}", ports["html"])));
    let list: Vec<Entry<'_>> = entries
        .iter()
        .map(|(n, s)| (n.as_str(), "generic", s.clone(), USER, PASSWORD))
        .collect();
    let cat = catalog(tmp.path(), &list);
    let started = Instant::now();
    let out = validate(&cat, &["--output", "json", "--timeout", "2"]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let got = statuses(&out);
    assert_eq!(got.len(), 12, "{got:?}");
    for (name, (status, _)) in &got {
        let want = match name.split('-').next().unwrap() {
            "hangs" | "down" => "unreachable",
            "web" => "not-a-registry",
            _ => "valid",
        };
        assert_eq!(status, want, "{name}: {got:?}");
    }
    assert_eq!(out.status.code(), Some(6));
}

/// The secret `render` seals for the live registry, unsealed, is an auth file skopeo reads the
/// pushed image with; the one rendered from a wrong password is not.
#[test]
fn rendered_secret_lets_skopeo_pull_and_a_wrong_one_does_not() {
    let registry = Registry::start(Auth::Htpasswd);
    let tmp = tempfile::tempdir().unwrap();
    let pushed_config = push_image(tmp.path(), &registry.server());
    let image = format!("{}/fixture/hello:v1", registry.server());
    let manifest = tmp.path().join("deploy.yaml");
    fs::write(
        &manifest,
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec:\n  template:\n    metadata:\n      annotations:\n        pullseal.io/registries: company\n    spec:\n      containers:\n        - {{name: web, image: \"{image}\"}}\n"
        ),
    )
    .unwrap();
    for (pass, works) in [(PASSWORD, true), (WRONG, false)] {
        let dir = tempfile::tempdir().unwrap();
        let cat = catalog(
            dir.path(),
            &[("company", "system", registry.server(), USER, pass)],
        );
        let out = pullseal()
            .args([
                "render",
                "--age-key-file",
                AGE_KEY,
                "--cluster",
                "test",
                "--catalog",
            ])
            .arg(&cat)
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
        let secrets = peers::unseal(&out.stdout, &path("testdata/keys/sealed-secrets-test.key"));
        let config = &secrets["shop/pullseal-company"][".dockerconfigjson"];
        let authfile = dir.path().join("auth.json");
        fs::write(&authfile, config).unwrap();
        let inspect = skopeo()
            .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
            .arg(&authfile)
            .arg(format!("docker://{image}"))
            .output()
            .unwrap();
        if works {
            assert!(
                inspect.status.success(),
                "skopeo: {}",
                String::from_utf8_lossy(&inspect.stderr)
            );
            // The raw manifest skopeo read names the config pushed (skopeo gzips the layer
            // on the way, so the manifest and layer digests are its own).
            let raw = String::from_utf8_lossy(&inspect.stdout);
            assert!(raw.contains(&pushed_config), "{raw}");
        } else {
            assert!(
                !inspect.status.success(),
                "skopeo read the image with a wrong password"
            );
            let stderr = String::from_utf8_lossy(&inspect.stderr);
            assert!(
                stderr.contains("unauthorized") || stderr.contains("authentication required"),
                "{stderr}"
            );
        }
        // validate agrees with skopeo.
        let out = validate(
            &cat,
            &[
                "--output",
                "json",
                "--repository",
                "fixture/hello",
                "--reference",
                "v1",
            ],
        );
        assert_eq!(out.status.success(), works, "{}", transcript(&out));
    }
}

/// `skopeo`, reading no auth file or policy of the developer's.
fn skopeo() -> Command {
    let mut cmd = Command::new(peers::skopeo());
    cmd.env_remove("REGISTRY_AUTH_FILE");
    cmd.env("HOME", std::env::temp_dir());
    for proxy in PROXY_VARS {
        cmd.env_remove(proxy);
    }
    cmd
}

/// Builds a one-layer OCI image layout by hand (the layer an empty tar archive) and pushes it
/// with skopeo to `server` as `fixture/hello:v1`; returns the config's digest.
fn push_image(dir: &Path, server: &str) -> String {
    use sha2::Digest as _;
    let layout = dir.join("oci");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &[u8]| {
        let digest = format!("{:x}", sha2::Sha256::digest(bytes));
        fs::write(blobs.join(&digest), bytes).unwrap();
        (format!("sha256:{digest}"), bytes.len())
    };
    let (layer, layer_size) = blob(&[0u8; 1024]);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let (config, config_size) = blob(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest_digest, manifest_size) = blob(manifest.as_bytes());
    fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
        ),
    )
    .unwrap();
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let out = skopeo()
        .args([
            "copy",
            "--quiet",
            "--insecure-policy",
            "--dest-tls-verify=false",
            "--dest-creds",
        ])
        .arg(format!("{USER}:{PASSWORD}"))
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{server}/fixture/hello:v1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    config
}
