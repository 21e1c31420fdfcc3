//! pullseal as kustomize's legacy exec plugin (issue 6, the kustomize part), run for real:
//! `kubectl kustomize --enable-alpha-plugins` (kustomize v5 inside kubectl, a test peer like
//! sops) finds the binary that `pullseal install-kustomize-plugin --dir` put into a temporary
//! plugin home, and runs it as its `transformers:` entry says (argv[1] the config file, the
//! resources on stdin, `KUSTOMIZE_PLUGIN_CONFIG_ROOT` the kustomization directory; kustomize
//! `api/internal/plugins/execplugin/execplugin.go`). The example is `examples/kustomize/`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::cli::assert_no_secrets;
use crate::peers;
use crate::support::{
    AGE_KEY, CATALOG, PULLSEAL_VARS, assert_failure, path, pullseal, redact_tmp, transcript,
};

/// The demo catalog's passwords (`scripts/make-example-catalog`).
const DEMO_SECRETS: &[&str] = &[
    "demo-password-do-not-use",
    "demo-dockerhub-token",
    "demo-quay-robot-token",
];

/// A plugin home with pullseal installed by its own command; returns the home and what the
/// command printed.
fn plugin_home(extra: &[&str]) -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let out = pullseal()
        .args(["install-kustomize-plugin", "--dir"])
        .arg(home.path())
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    (home, String::from_utf8(out.stdout).unwrap())
}

/// `kubectl kustomize --enable-alpha-plugins DIR` with pullseal's variables cleared, run from
/// a directory that is neither DIR nor the project, so that nothing resolves by accident.
fn kubectl_kustomize(home: &Path, dir: &Path) -> Output {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(peers::kubectl());
    cmd.args(["kustomize", "--enable-alpha-plugins"])
        .arg(dir)
        .current_dir(elsewhere.path())
        .env("KUSTOMIZE_PLUGIN_HOME", home)
        .env("XDG_CONFIG_HOME", path("testdata/no-such-config"));
    for var in PULLSEAL_VARS {
        cmd.env_remove(var);
    }
    cmd.output().unwrap()
}

#[test]
fn install_goes_where_kustomize_looks() {
    let bin = fs::canonicalize(assert_cmd::cargo::cargo_bin("pullseal")).unwrap();
    // --dir: a copy, executable, and the command prints where it went.
    let (home, printed) = plugin_home(&[]);
    let target = home.path().join("pullseal.io/v1alpha1/render/Render");
    assert_eq!(printed, format!("{}\n", target.display()));
    let meta = fs::symlink_metadata(&target).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(meta.len(), fs::metadata(&bin).unwrap().len());
    // --link, over the copy: a symbolic link to this binary.
    let out = pullseal()
        .args(["install-kustomize-plugin", "--link", "--dir"])
        .arg(home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(fs::read_link(&target).unwrap(), bin);
    // Without --dir: the first that exists of KUSTOMIZE_PLUGIN_HOME, XDG_CONFIG_HOME's and
    // HOME's (DefaultAbsPluginHome), else the first of them.
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // kustomize uses the first home that exists: an existing ~/kustomize/plugin is used, not
    // hidden behind a new ~/.config/kustomize/plugin.
    fs::create_dir_all(t.join("old/kustomize/plugin")).unwrap();
    let cases: [(&[(&str, PathBuf)], PathBuf); 4] = [
        (
            &[
                ("KUSTOMIZE_PLUGIN_HOME", t.join("k")),
                ("XDG_CONFIG_HOME", t.join("x")),
                ("HOME", t.join("h")),
            ],
            t.join("k"),
        ),
        (
            &[("XDG_CONFIG_HOME", t.join("x")), ("HOME", t.join("h"))],
            t.join("x/kustomize/plugin"),
        ),
        (&[("HOME", t.join("h"))], t.join("h/.config/kustomize/plugin")),
        (&[("HOME", t.join("old"))], t.join("old/kustomize/plugin")),
    ];
    for (env, home) in cases {
        let mut cmd = pullseal();
        cmd.arg("install-kustomize-plugin")
            .env_remove("KUSTOMIZE_PLUGIN_HOME")
            .env_remove("XDG_CONFIG_HOME");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
        let target = home.join("pullseal.io/v1alpha1/render/Render");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", target.display())
        );
        assert!(target.is_file(), "{env:?}");
    }
}

/// The kustomize block of a README: the install command, then the example's build.
fn assert_readme_commands(readme: &str) {
    assert!(
        readme.contains("\npullseal install-kustomize-plugin "),
        "{readme}"
    );
    assert!(
        readme.contains("\nkubectl kustomize --enable-alpha-plugins examples/kustomize/overlays/prod\n"),
        "{readme}"
    );
}

/// `examples/kustomize/` as its README says: pullseal in the last overlay, through the real
/// `kubectl kustomize`; the pull secrets open with the demo controller key, under the names
/// and namespace the overlay gave.
#[test]
fn the_example_runs_through_real_kubectl_kustomize() {
    // Both READMEs give these two commands; this test runs them.
    for readme in ["examples/kustomize/README.md", "README.md"] {
        assert_readme_commands(&fs::read_to_string(path(readme)).unwrap());
    }
    let (home, _) = plugin_home(&[]);
    let out = kubectl_kustomize(home.path(), &path("examples/kustomize/overlays/prod"));
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.contains("  name: prod-web\n  namespace: shop\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "      imagePullSecrets:\n      - name: pullseal-company\n      - name: pullseal-quay-team\n"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 2, "{stdout}");
    for text in [&stdout, &String::from_utf8_lossy(&out.stderr).into_owned()] {
        assert_no_secrets(text);
        for secret in DEMO_SECRETS {
            assert!(!text.contains(secret), "a credential leaked: {secret}");
        }
    }
    let opened = peers::unseal(&out.stdout, &path("examples/quickstart/demo-cluster.key"));
    assert_eq!(
        opened.keys().collect::<Vec<_>>(),
        ["shop/pullseal-company", "shop/pullseal-quay-team"]
    );
    let company: serde_json::Value =
        serde_json::from_str(&opened["shop/pullseal-company"][".dockerconfigjson"]).unwrap();
    assert_eq!(company["auths"]["registry.example.com:5000"]["username"], "robot");
    assert_eq!(
        company["auths"]["registry.example.com:5000"]["password"],
        DEMO_SECRETS[0]
    );
}

/// A kustomization of its own in a temp dir: `resources` and a `pullseal.yaml` settings object.
fn kustomization(resources: &str, settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    kustomization_in(dir.path(), resources, settings);
    dir
}

/// [`kustomization`] in the existing directory `dir`.
fn kustomization_in(dir: &Path, resources: &str, settings: &str) {
    fs::write(
        dir.join("kustomization.yaml"),
        "resources: [resources.yaml]\ntransformers: [pullseal.yaml]\n",
    )
    .unwrap();
    fs::write(dir.join("resources.yaml"), resources).unwrap();
    fs::write(dir.join("pullseal.yaml"), settings).unwrap();
    fs::copy(path(CATALOG), dir.join("catalog.yaml")).unwrap();
}

fn settings(extra: &str) -> String {
    format!(
        "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {{name: pullseal}}\ncatalog: catalog.yaml\nageKeyFile: {}\n{extra}",
        path(AGE_KEY).display()
    )
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, annotations: {pullseal.io/registries: REGISTRY}}\nspec: {containers: [{name: a, image: registry.example.com:5000/a:1}]}\n";

/// An unknown registry fails the build: kustomize exits non-zero, prints nothing on stdout (no
/// empty success that would prune an app), and shows pullseal's own diagnostic. So does a
/// settings object with a typo.
#[test]
fn a_failing_render_fails_kubectl_kustomize_with_pullseals_diagnostic() {
    let (home, _) = plugin_home(&[]);
    let cases = [
        (
            POD.replace("REGISTRY", "nope"),
            settings("cluster: test\n"),
            "registry \"nope\" is not in the catalog",
        ),
        (
            POD.replace("REGISTRY", "company"),
            settings("clusters: test\n"),
            "unknown field clusters",
        ),
        (
            POD.replace("REGISTRY", "company"),
            settings(""),
            "the catalog defines several clusters",
        ),
    ];
    for (resources, settings, needle) in cases {
        let dir = kustomization(&resources, &settings);
        let out = kubectl_kustomize(home.path(), dir.path());
        assert_ne!(out.status.code(), Some(0), "{}", transcript(&out));
        assert!(out.stdout.is_empty(), "{}", transcript(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{needle:?} missing:\n{stderr}");
        assert_no_secrets(&stderr);
    }
    // The same kustomization with a registry the catalog has builds.
    let dir = kustomization(&POD.replace("REGISTRY", "company"), &settings("cluster: test\n"));
    let out = kubectl_kustomize(home.path(), dir.path());
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("imagePullSecrets:\n  - name: pullseal-company\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 1, "{stdout}");
}

/// The plugin call as kustomize makes it, without kustomize: relative paths start from
/// `KUSTOMIZE_PLUGIN_CONFIG_ROOT`, not the working directory; the settings object wins over
/// the environment, which still fills in what it leaves out; `argsOneLiner` words are render
/// options; errors leave stdout empty and reach `PULLSEAL_LOG`.
#[test]
fn the_plugin_call_reads_its_settings_like_kustomize_gives_them() {
    let dir = kustomization("", "");
    let config = dir.path().join("kust-plugin-config-1");
    let input = POD.replace("REGISTRY", "company");
    let run = |settings_text: &str, words: &[&str], env: &[(&str, &str)]| {
        fs::write(&config, settings_text).unwrap();
        let mut cmd = pullseal();
        cmd.arg(&config)
            .args(words)
            .env("KUSTOMIZE_PLUGIN_CONFIG_ROOT", dir.path())
            .current_dir(path("testdata"))
            .write_stdin(input.clone());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The settings' cluster wins over PULLSEAL_CLUSTER, which would fail.
    let out = run(
        &settings("cluster: test\n"),
        &[],
        &[("PULLSEAL_CLUSTER", "no-such")],
    );
    assert!(out.status.success(), "{}", transcript(&out));
    let rendered = out.stdout;
    assert!(String::from_utf8_lossy(&rendered).contains("kind: SealedSecret"));
    // Left out, the environment and argsOneLiner words fill it in.
    for (words, env) in [
        (&[][..], &[("PULLSEAL_CLUSTER", "test")][..]),
        (&["--cluster", "test"][..], &[][..]),
    ] {
        let out = run(&settings(""), words, env);
        assert!(out.status.success(), "{}", transcript(&out));
        assert_eq!(out.stdout, rendered);
    }
    // Errors: exit 2 for the settings, nothing on stdout, the message in PULLSEAL_LOG too.
    let log = dir.path().join("pullseal.log");
    let log_env = [("PULLSEAL_LOG", log.to_str().unwrap())];
    let out = run(&settings("cluster: test\ninstance: 0644\n"), &[], &log_env);
    assert_failure(
        &out,
        2,
        "instance is read by Kubernetes as an integer (\"0644\"), not a string; quote it",
    );
    let out = run(&settings("cluster: test\n"), &["--cluster", "dev"], &log_env);
    assert_failure(&out, 2, "cluster is set both in");
    let logged = redact_tmp(&fs::read_to_string(&log).unwrap(), dir.path());
    assert!(
        logged.contains("error: [tmp]/kust-plugin-config-1: instance is read by Kubernetes"),
        "{logged}"
    );
    assert!(
        logged.contains("error: cluster is set both in [tmp]/kust-plugin-config-1 and by its argsOneLiner"),
        "{logged}"
    );
    // A relative catalog that exists only under the working directory is not found.
    let out = run(
        &settings("cluster: test\n").replace("catalog: catalog.yaml", "catalog: catalog/test.catalog.yaml"),
        &[],
        &[],
    );
    assert_failure(&out, 3, "catalog/test.catalog.yaml");
    // `pullseal render` and clap's errors are as they were.
    let out = pullseal().arg("Cargo.toml").output().unwrap();
    assert_failure(&out, 2, "unrecognized subcommand 'Cargo.toml'");
}

/// What the settings leave out comes from the environment, as for `pullseal render`, with
/// relative paths and catalog discovery taken from the kustomization directory; what they
/// set wins over the environment.
#[test]
fn the_environment_fills_in_what_the_settings_leave_out() {
    let dir = kustomization("", "");
    // The plugin config lives elsewhere, as kustomize's temporary copy does.
    let elsewhere = tempfile::tempdir().unwrap();
    let config = elsewhere.path().join("kust-plugin-config-2");
    let head = "apiVersion: pullseal.io/v1alpha1\nkind: Render\nmetadata: {name: pullseal}\ncluster: test\n";
    let run = |settings_text: String, env: &[(&str, PathBuf)]| {
        fs::write(&config, settings_text).unwrap();
        let mut cmd = pullseal();
        cmd.arg(&config)
            .env("KUSTOMIZE_PLUGIN_CONFIG_ROOT", dir.path())
            .current_dir(elsewhere.path())
            .write_stdin(POD.replace("REGISTRY", "company"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let key = ("SOPS_AGE_KEY_FILE", path(AGE_KEY));
    // PULLSEAL_CATALOG, relative: from the kustomization directory.
    let out = run(
        head.to_owned(),
        &[("PULLSEAL_CATALOG", PathBuf::from("catalog.yaml")), key.clone()],
    );
    assert!(out.status.success(), "{}", transcript(&out));
    let rendered = out.stdout;
    // The settings' catalog wins over PULLSEAL_CATALOG; their ageKeyFile is an identity as
    // --age-key-file is (sops' sources add up, so it is tried first, not instead).
    let out = run(
        format!(
            "{head}catalog: catalog.yaml\nageKeyFile: {}\n",
            path(AGE_KEY).display()
        ),
        &[("PULLSEAL_CATALOG", PathBuf::from("no-such.yaml"))],
    );
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, rendered);
    // With neither, discovery finds pullseal.catalog.yaml from the kustomization directory.
    let out = run(head.to_owned(), std::slice::from_ref(&key));
    assert_failure(&out, 3, "no pullseal.catalog.yaml");
    fs::rename(
        dir.path().join("catalog.yaml"),
        dir.path().join("pullseal.catalog.yaml"),
    )
    .unwrap();
    let out = run(head.to_owned(), &[key]);
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(out.stdout, rendered);
}

/// The name-reference trap of `examples/kustomize/README.md`, shown with the real kustomize:
/// pullseal in a base, then an overlay that adds `namePrefix` and moves the namespace. kustomize
/// renames the SealedSecret (and leaves the pod's `imagePullSecrets` pointing at the old name,
/// since it does not know a SealedSecret makes a Secret), so the strict-scope value no longer
/// opens: kubesealpy, unsealing as the controller does, refuses it. The safe layout, pullseal in
/// the last overlay, is `the_example_runs_through_real_kubectl_kustomize`.
#[test]
fn renaming_after_pullseal_breaks_the_sealed_secret_as_documented() {
    let (home, _) = plugin_home(&[]);
    let tree = tempfile::tempdir().unwrap();
    let (base, overlay) = (tree.path().join("base"), tree.path().join("overlay"));
    fs::create_dir(&base).unwrap();
    fs::create_dir(&overlay).unwrap();
    kustomization_in(
        &base,
        &POD.replace("REGISTRY", "company"),
        &settings("cluster: test\n"),
    );
    fs::write(
        overlay.join("kustomization.yaml"),
        "resources: [../base]\nnamePrefix: dev-\nnamespace: shop-dev\n",
    )
    .unwrap();
    let out = kubectl_kustomize(home.path(), &overlay);
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.contains("  name: dev-pullseal-company\n  namespace: shop-dev\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("imagePullSecrets:\n  - name: pullseal-company\n"),
        "{stdout}"
    );
    let sealed = tempfile::NamedTempFile::new().unwrap();
    fs::write(sealed.path(), &out.stdout).unwrap();
    let unseal = Command::new(peers::kubesealpy_python())
        .arg(path("tests/interop/unseal_kubesealpy.py"))
        .arg(path("testdata/keys/sealed-secrets-test.key"))
        .arg(sealed.path())
        .output()
        .unwrap();
    assert!(
        !unseal.status.success(),
        "the renamed SealedSecret still opened: {}",
        transcript(&unseal)
    );
    let why = String::from_utf8_lossy(&unseal.stderr);
    assert!(why.contains("shop-dev/dev-pullseal-company"), "{why}");
    // Without the overlay, the same base opens: the failure is the rename's.
    let out = kubectl_kustomize(home.path(), &base);
    assert!(out.status.success(), "{}", transcript(&out));
    let opened = peers::unseal(&out.stdout, &path("testdata/keys/sealed-secrets-test.key"));
    assert_eq!(opened.keys().collect::<Vec<_>>(), ["shop/pullseal-company"]);
}
