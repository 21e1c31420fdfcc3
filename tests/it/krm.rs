//! pullseal as an exec KRM function (issue 6, the kustomize part), run for real by
//! `kpt fn eval --exec` (kpt is a test peer like sops: `scripts/install-test-peers` links it
//! from the Google Cloud SDK). kpt reads the package into a `ResourceList`, runs pullseal with no
//! arguments and the list on stdin, and takes the list on stdout back (kyaml
//! `fn/runtime/exec`). kustomize's `--enable-exec` runs the same contract; no standalone
//! kustomize can be installed here, so lists shaped as kustomize sends them are fixture cases
//! (`testdata/render/krm-*`). The example is the KRM part of `examples/kustomize/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::cli::assert_no_secrets;
use crate::peers;
use crate::support::{AGE_KEY, CATALOG, PULLSEAL_VARS, path, transcript};

/// The demo catalog's passwords (`scripts/make-example-catalog`).
const DEMO_SECRETS: &[&str] = &[
    "demo-password-do-not-use",
    "demo-dockerhub-token",
    "demo-quay-robot-token",
];

/// The kpt command of `examples/kustomize/README.md`, run from the project root.
const README_KPT: &str = "kpt fn eval examples/kustomize/base --exec pullseal -o stdout -- catalog=examples/quickstart/pullseal.catalog.yaml ageKeyFile=examples/quickstart/demo-age-key.txt namespace=shop";

/// The directory of the pullseal binary under test, to put first on kpt's `PATH`.
fn bin_dir() -> PathBuf {
    fs::canonicalize(assert_cmd::cargo::cargo_bin("pullseal"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `sh -c SCRIPT` in `dir` with the binary under test and the real kpt first on `PATH`, none
/// of pullseal's variables inherited.
fn shell(script: &str, dir: &Path) -> Output {
    let kpt_dir = peers::kpt().parent().unwrap().to_path_buf();
    let path_var = format!(
        "{}:{}:{}",
        bin_dir().display(),
        kpt_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]).current_dir(dir).env("PATH", path_var);
    cmd.env("XDG_CONFIG_HOME", path("testdata/no-such-config"));
    for var in PULLSEAL_VARS {
        cmd.env_remove(var);
    }
    cmd.output().unwrap()
}

/// Every output stream of `out`, as text, holds no credential of either catalog.
fn assert_no_leak(out: &Output) {
    for text in [
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    ] {
        assert_no_secrets(&text);
        for secret in DEMO_SECRETS {
            assert!(!text.contains(secret), "a credential leaked: {secret}");
        }
    }
}

/// `examples/kustomize/`'s kpt command, exactly as its README gives it, through the real kpt:
/// the Deployment gets its imagePullSecrets, the list gets the two SealedSecrets for the
/// namespace the settings give, and they open with the demo controller key.
#[test]
fn the_readme_kpt_command_runs_through_real_kpt() {
    for readme in ["examples/kustomize/README.md", "README.md"] {
        let text = fs::read_to_string(path(readme)).unwrap();
        assert!(
            text.contains(&format!("\n{README_KPT}\n")),
            "{readme} lacks the kpt command"
        );
    }
    let out = shell(README_KPT, &path(""));
    assert!(out.status.success(), "{}", transcript(&out));
    assert_no_leak(&out);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.starts_with("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("        imagePullSecrets:\n        - name: pullseal-company\n        - name: pullseal-quay-team\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("  kind: SealedSecret\n").count(), 2, "{stdout}");
    let opened = peers::unseal(&out.stdout, &path("examples/quickstart/demo-cluster.key"));
    assert_eq!(
        opened.keys().collect::<Vec<_>>(),
        ["shop/pullseal-company", "shop/pullseal-quay-team"]
    );
    let company: serde_json::Value =
        serde_json::from_str(&opened["shop/pullseal-company"][".dockerconfigjson"]).unwrap();
    assert_eq!(
        company["auths"]["registry.example.com:5000"]["password"],
        DEMO_SECRETS[0]
    );
    // kpt left the package alone (-o stdout).
    assert!(!path("examples/kustomize/base/shop").exists());
}

/// A package of its own, with kpt's `key=value` settings for the test catalog.
fn package(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn kpt_eval(pkg: &Path, extra: &str) -> Output {
    let script = format!(
        "kpt fn eval {} --exec pullseal {extra} -- catalog={} ageKeyFile={} cluster=test",
        pkg.display(),
        path(CATALOG).display(),
        path(AGE_KEY).display()
    );
    shell(&script, pkg)
}

const WEB: &str = "# The shop's web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      annotations:
        pullseal.io/registries: company
    spec:
      containers:
      - name: web
        image: registry.example.com:5000/shop/web:1
";

const SETTINGS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: 0644
  enabled: \"yes\"
";

/// kpt writing into the package: the workload is edited in its file, the SealedSecret becomes
/// a new file, the untouched ConfigMap keeps its YAML 1.1 values. Run again, as after a catalog
/// change, pullseal replaces the secret it made rather than failing or doubling it.
#[test]
fn kpt_writes_the_secrets_into_the_package_and_a_second_run_replaces_them() {
    let pkg = package(&[("web.yaml", WEB), ("settings.yaml", SETTINGS)]);
    let out = kpt_eval(pkg.path(), "");
    assert!(out.status.success(), "{}", transcript(&out));
    assert_no_leak(&out);
    let web = fs::read_to_string(pkg.path().join("web.yaml")).unwrap();
    assert!(
        web.contains("      imagePullSecrets:\n      - name: pullseal-company\n"),
        "{web}"
    );
    let settings = fs::read_to_string(pkg.path().join("settings.yaml")).unwrap();
    assert!(
        settings.contains("  mode: 0644\n  enabled: \"yes\"\n"),
        "{settings}"
    );
    let secret_file = pkg.path().join("shop/sealedsecret_pullseal-company.yaml");
    let first = fs::read_to_string(&secret_file).unwrap();
    assert!(first.contains("kind: SealedSecret"), "{first}");
    assert!(!first.contains("config.kubernetes.io/local-config"), "{first}");
    let opened = peers::unseal(first.as_bytes(), &path("testdata/keys/sealed-secrets-test.key"));
    assert_eq!(opened.keys().collect::<Vec<_>>(), ["shop/pullseal-company"]);

    let again = kpt_eval(pkg.path(), "");
    assert!(again.status.success(), "{}", transcript(&again));
    assert_eq!(fs::read_to_string(pkg.path().join("web.yaml")).unwrap(), web);
    // Sealing is deterministic: the same catalog gives the same file.
    assert_eq!(fs::read_to_string(&secret_file).unwrap(), first);
    let files: Vec<String> = walk(pkg.path());
    assert_eq!(
        files,
        [
            "settings.yaml",
            "shop/sealedsecret_pullseal-company.yaml",
            "web.yaml"
        ]
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The Done-when case: items with an unknown registry. The function fails kpt (non-zero, kpt
/// prints pullseal's diagnostic naming the file), kpt writes nothing to the package or to its
/// stdout, and no credential appears anywhere.
#[test]
fn an_unknown_registry_fails_kpt_and_changes_nothing() {
    let broken = WEB.replace("registries: company", "registries: company, no-such-registry");
    let pkg = package(&[("web.yaml", &broken), ("settings.yaml", SETTINGS)]);
    for extra in ["", "-o stdout"] {
        let out = kpt_eval(pkg.path(), extra);
        assert!(!out.status.success(), "{}", transcript(&out));
        assert!(out.stdout.is_empty(), "{}", transcript(&out));
        assert_no_leak(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                r#"web.yaml: document 1: Deployment shop/web: spec.template.metadata.annotations[pullseal.io/registries]: registry \"no-such-registry\" is not in the catalog"#
            ),
            "{stderr}"
        );
        assert_eq!(fs::read_to_string(pkg.path().join("web.yaml")).unwrap(), broken);
        assert_eq!(walk(pkg.path()), ["settings.yaml", "web.yaml"]);
    }
}

/// With no command and nothing on stdin, or a person at a terminal, pullseal does not wait for
/// or invent a list: it exits 2, prints nothing on stdout, and says what it expected.
#[test]
fn no_command_without_a_resource_list_is_a_usage_error() {
    let out = crate::support::pullseal().write_stdin("").output().unwrap();
    crate::support::assert_failure(&out, 2, "stdin is not a KRM ResourceList (it is empty)");
    // A terminal on stdin: `script` gives the process a pseudo-terminal.
    let bin = assert_cmd::cargo::cargo_bin("pullseal");
    let out = Command::new("script")
        .args(["-qec"])
        .arg(format!("{} </dev/tty >/dev/null", bin.display()))
        .arg("/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Usage: pullseal"), "{shown}");
    assert!(shown.contains("runs as a KRM function"), "{shown}");
}

/// Like every mode, the function keeps its diagnostics in `PULLSEAL_LOG` too, with no
/// credential in it, and a working run with a warning puts it in `results` and the log.
#[test]
fn the_function_logs_to_pullseal_log_without_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("pullseal.log");
    let run = |case: &str| {
        crate::support::pullseal()
            .env("PULLSEAL_CATALOG", CATALOG)
            .env("SOPS_AGE_KEY_FILE", AGE_KEY)
            .env("PULLSEAL_LOG", &log)
            .write_stdin(fs::read(path(&format!("testdata/render/{case}/input.yaml"))).unwrap())
            .output()
            .unwrap()
    };
    let failed = run("krm-errors");
    crate::support::assert_failure(&failed, 1, "apps/web.yaml: document 3: Deployment shop/web");
    let warned = run("krm-seal-none-results");
    assert!(warned.status.success(), "{}", transcript(&warned));
    let stdout = String::from_utf8(warned.stdout.clone()).unwrap();
    assert!(
        stdout.ends_with("results:\n- message: \"cluster \\\"plain\\\" has seal: none: pull secrets are written as plain Secrets that anyone with the output can read\"\n  severity: warning\n"),
        "{stdout}"
    );
    let logged = fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("apps/web.yaml: document 3: Deployment shop/web"),
        "{logged}"
    );
    assert!(logged.contains("has seal: none"), "{logged}");
    for out in [&failed, &warned] {
        assert_no_leak(out);
    }
    assert_no_secrets(&logged);
}
