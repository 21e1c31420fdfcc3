//! `pullseal doctor` (issue 6), run as users run it: what it reports for a healthy setup, that
//! it fails as a render would fail (a catalog that is missing or does not open, an expired
//! certificate, a bad namespace), that an expiring certificate is only a warning, how it finds
//! tools on PATH (a fake `helm`, the real kpt and kubectl) and the kustomize plugin where
//! kubectl's kustomize finds it, and that no key or credential ever reaches its output.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fs_err as fs;

use crate::cli::assert_no_secrets;
use crate::peers;
use crate::support::{
    AGE_KEY, CATALOG, assert_failure, encrypt, path, pullseal, recipient, redact_tmp, root, transcript,
};

/// `pullseal doctor ARGS` with `home` as HOME and `bin` as the whole PATH, and no plugin home
/// or plugin-mode variable inherited.
fn doctor(home: &Path, bin: &Path, args: &[&str]) -> Output {
    pullseal()
        .arg("doctor")
        .args(args)
        .env("HOME", home)
        .env("PATH", bin)
        .env_remove("KUSTOMIZE_PLUGIN_HOME")
        .output()
        .unwrap()
}

/// A temporary HOME holding an empty `bin/`, for the PATH.
fn home() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    fs::create_dir(&bin).unwrap();
    (home, bin)
}

/// Writes an executable shell script `bin/name`.
fn script(bin: &Path, name: &str, body: &str) {
    let file = bin.join(name);
    fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The test catalog with the test key, for `cluster`.
fn on_the_test_catalog(cluster: &str) -> Vec<&str> {
    vec![
        "--catalog",
        CATALOG,
        "--age-key-file",
        AGE_KEY,
        "--cluster",
        cluster,
    ]
}

/// The transcript with what changes between machines and days replaced: this binary, the
/// project and temp paths, and certificate dates other than the fixed expired one.
fn redacted(out: &Output, tmp: &Path) -> String {
    let exe = fs::canonicalize(assert_cmd::cargo::cargo_bin("pullseal")).unwrap();
    let text = transcript(out).replace(&exe.display().to_string(), "[pullseal]");
    let text = redact_tmp(&text, tmp).replace(&root().display().to_string(), "[root]");
    let dates = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    let text = dates.replace_all(&text, |m: &regex::Captures<'_>| {
        let date = &m[0];
        if date.starts_with("2001-") {
            date.to_owned()
        } else {
            "[date]".to_owned()
        }
    });
    let days = regex::Regex::new(r"\b\d+ days\b").unwrap();
    days.replace_all(&text, "[n] days").into_owned()
}

/// git on the test's own PATH: `kpt version` fails without it.
fn git() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("git"))
        .find(|candidate| candidate.is_file())
        .expect("git is not on PATH; `kpt version`, which the doctor tool checks run, needs it")
}

/// The whole report of a setup that would render: the test catalog for cluster `test`, a
/// fake `helm` the only tool on PATH. The `expired` cluster is reported but does not fail it.
#[test]
fn a_healthy_setup_passes_and_names_what_it_would_use() {
    let (home, bin) = home();
    script(&bin, "helm", "echo v3.99.0+gfake");
    let out = doctor(home.path(), &bin, &on_the_test_catalog("test"));
    assert!(out.status.success(), "{}", transcript(&out));
    insta::assert_snapshot!(redacted(&out, home.path()));
}

/// With no cluster chosen and several in the catalog, every cluster counts: `expired` fails
/// it with exit 4 and render's message, on stdout in the report and on stderr as the cause.
#[test]
fn an_expired_certificate_fails_as_a_render_would() {
    let (home, bin) = home();
    let args = ["--catalog", CATALOG, "--age-key-file", AGE_KEY];
    for out in [
        doctor(home.path(), &bin, &args),
        doctor(home.path(), &bin, &on_the_test_catalog("expired")),
    ] {
        assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let message = "cluster \"expired\": sealing certificate expired at 2001-01-01T00:00:00Z (notAfter)";
        assert!(stdout.contains(&format!("error   {message}\n")), "{stdout}");
        assert!(
            stdout.contains("error   summary: 1 problem would make a render fail"),
            "{stdout}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("  caused by: {message}")), "{stderr}");
    }
    // A render for that cluster exits 4 with the same message.
    let render = crate::support::render("expired")
        .arg("testdata/render/namespace-wide/input.yaml")
        .output()
        .unwrap();
    assert_failure(
        &render,
        4,
        "cluster \"expired\": sealing certificate expired at 2001-01-01T00:00:00Z (notAfter)",
    );
    // An unknown cluster is render's exit 4 too.
    let out = doctor(home.path(), &bin, &on_the_test_catalog("nope"));
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error   cluster \"nope\": not in the catalog (clusters: eks, expired, flux, plain, prod-eu, test, test-cw, test-ns)"));
}

/// A certificate 10 days from its notAfter (made here with openssl, in a catalog encrypted
/// here with the real sops) is a warning, and the run still passes.
#[test]
fn a_certificate_that_expires_within_thirty_days_is_a_warning() {
    let (home, bin) = home();
    let cert = home.path().join("soon.crt");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "10"])
        .args([
            "-subj",
            "/CN=sealed-secret/O=sealed-secret",
            "-keyout",
            "/dev/null",
            "-out",
        ])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let pem: String = fs::read_to_string(&cert)
        .unwrap()
        .lines()
        .flat_map(|line| ["      ", line, "\n"])
        .collect();
    let plain = format!(
        "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n  company:\n    type: generic\n    server: registry.example.com\n    username: robot\n    password: test-password-company\nclusters:\n  soon:\n    seal: sealed-secrets\n    certificate: |\n{pem}"
    );
    let catalog = encrypt(home.path(), &plain, &[]);
    let out = doctor(
        home.path(),
        &bin,
        &[
            "--catalog",
            catalog.to_str().unwrap(),
            "--age-key-file",
            &path(AGE_KEY).display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let warning = regex::Regex::new(
        r#"(?m)^warning cluster "soon": seal sealed-secrets, scope strict; the sealing certificate expires at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(notAfter\), in (9|10) days: fetch the controller's current one \(kubeseal --fetch-cert\) into the catalog$"#,
    )
    .unwrap();
    assert!(warning.is_match(&stdout), "{stdout}");
    assert!(
        stdout.contains("info    cluster: \"soon\", the catalog's only one"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok      summary: nothing found would make a render fail (1 warning)"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "catalog: encrypted to the age recipients {}",
        recipient()
    )));
    assert_no_secrets(&stdout);
}

/// A key that does not open the catalog, no catalog at all, a namespace that is no DNS label:
/// each exits as a render would (3, 3, 2), naming the problem with render's message and hint.
#[test]
fn a_catalog_that_cannot_be_used_fails_as_a_render_would() {
    let (home, bin) = home();
    let wrong_key = [
        "--catalog",
        CATALOG,
        "--age-key-file",
        "testdata/sops/age-identity.txt",
        "--cluster",
        "test",
    ];
    let out = doctor(home.path(), &bin, &wrong_key);
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("age identit") || l.contains("catalog") || l.starts_with("   "))
        .collect();
    insta::assert_snapshot!(redact_tmp(&report.join("\n"), home.path()).replace(&root().display().to_string(), "[root]"), @r"
    info    catalog: testdata/catalog/test.catalog.yaml (given with --catalog or PULLSEAL_CATALOG)
    info    age identities: looked in testdata/sops/age-identity.txt, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, [root]/testdata/no-such-config/sops/age/keys.txt
    info    catalog: encrypted to the age recipients age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48
    info    age identity: age1mv68x5m0x6z0n5chrzru8x2039a4xx92nea0f4047tk7k2lcu3es5d42h5 from testdata/sops/age-identity.txt, not a recipient of the catalog
    warning age identity: none of those found is a recipient of the catalog
    error   cannot decrypt the catalog testdata/catalog/test.catalog.yaml
              caused by: no age identity could decrypt the sops data key for recipients age1fmscnwl456dfq4d3lyg3cyqj40wh6m9l8w4rk56yac7sfawf8u8sythj48; identities tried: 1 (searched testdata/sops/age-identity.txt, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, [root]/testdata/no-such-config/sops/age/keys.txt)
              hint: give the catalog's age identity with --age-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY
    ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: doctor found 1 problem that would make a render fail (the report on stdout lists it); the first follows\n  caused by: cannot decrypt the catalog"), "{stderr}");
    assert!(
        stderr.contains("\nhint: give the catalog's age identity"),
        "{stderr}"
    );

    // No catalog: discovery stops at the temp dir, which is no repository.
    let out = pullseal()
        .current_dir(home.path())
        .arg("doctor")
        .env("HOME", home.path())
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("error   catalog: no catalog found: no pullseal.catalog.yaml in")
    );

    // A bad namespace from Argo CD: a render would stop on it first, with exit 2.
    let out = pullseal()
        .arg("doctor")
        .args(on_the_test_catalog("test"))
        .env("HOME", home.path())
        .env("PATH", &bin)
        .env("ARGOCD_APP_NAMESPACE", "Shop")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("info    mode: an Argo CD config-management plugin (ARGOCD_APP_NAMESPACE is set)")
    );
    assert!(stdout.contains("error   namespace: ARGOCD_APP_NAMESPACE \"Shop\" is not a valid namespace"));
}

/// Tools on PATH by path and version: a fake `helm`, a `kustomize` that fails, the real kpt and
/// kubectl (their versions as they print them); the kubectl kustomize fact follows kubectl.
#[test]
fn tools_on_path_are_reported_with_their_versions() {
    let (home, bin) = home();
    script(&bin, "helm", "echo v3.99.0+gfake");
    script(
        &bin,
        "kustomize",
        "echo 'flag provided but not defined' >&2; exit 1",
    );
    let kubectl = peers::kubectl();
    std::os::unix::fs::symlink(&kubectl, bin.join("kubectl")).unwrap();
    std::os::unix::fs::symlink(peers::kpt(), bin.join("kpt")).unwrap();
    std::os::unix::fs::symlink(git(), bin.join("git")).unwrap();
    let out = doctor(home.path(), &bin, &on_the_test_catalog("test"));
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tools: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            let text = l.get(8..).unwrap_or_default();
            ["kustomize:", "kpt:", "helm:", "kubectl:", "kubectl kustomize:"]
                .iter()
                .any(|t| text.starts_with(t))
        })
        .collect();
    let version = |program: &Path, args: &[&str]| {
        let out = Command::new(program).args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let at = |tool: &str| bin.join(tool).display().to_string();
    assert_eq!(
        tools,
        [
            format!("warning kustomize: {}: `kustomize version` failed (exit status: 1): flag provided but not defined", at("kustomize")),
            format!("ok      kpt: {}: {}", at("kpt"), version(&peers::kpt(), &["version"])),
            format!("ok      helm: {}: v3.99.0+gfake", at("helm")),
            format!("ok      kubectl: {}: {}", at("kubectl"), version(&kubectl, &["version", "--client"])),
            "info    kubectl kustomize: runs legacy exec plugins (pullseal's `kind: Render` transformer, with --enable-alpha-plugins) but silently skips exec KRM functions; only the standalone `kustomize build --enable-alpha-plugins --enable-exec` runs those (legacy exec plugins run under both)".to_owned(),
        ]
    );
    assert!(tools[3].contains("Kustomize Version: v5"), "{}", tools[3]);
}

/// The plugin is looked for where kustomize looks: in the first plugin home that exists. One in
/// a later home is never run, which the real `kubectl kustomize` confirms; one that reports
/// another version is a warning. None of it fails the check.
#[test]
fn the_kustomize_plugin_is_found_where_kubectl_kustomize_runs_it() {
    let (home, bin) = home();
    let plugin_line = |out: &Output| -> Vec<String> {
        assert!(out.status.success(), "{}", transcript(out));
        let text = redacted(out, home.path());
        text.lines()
            .filter(|l| l.contains("kustomize plugin:"))
            .map(str::to_owned)
            .collect()
    };
    let args = on_the_test_catalog("test");
    insta::assert_snapshot!(plugin_line(&doctor(home.path(), &bin, &args)).join("\n"), @"info    kustomize plugin: not installed, and no plugin home exists (kustomize uses the first that exists of [root]/testdata/no-such-config/kustomize/plugin, [tmp]/.config/kustomize/plugin, [tmp]/kustomize/plugin); `pullseal install-kustomize-plugin` makes one");

    // Installed in ~/kustomize/plugin, the last home: the one kustomize uses.
    let install = |dir: &Path| {
        let out = pullseal()
            .args(["install-kustomize-plugin", "--dir"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
    };
    install(&home.path().join("kustomize/plugin"));
    insta::assert_snapshot!(plugin_line(&doctor(home.path(), &bin, &args)).join("\n"), @"ok      kustomize plugin: [tmp]/kustomize/plugin/pullseal.io/v1alpha1/render/Render (pullseal 0.1.0)");
    let kubectl = |home: &Path| {
        let out = Command::new(peers::kubectl())
            .args(["kustomize", "--enable-alpha-plugins"])
            .arg(path("examples/kustomize/overlays/prod"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .output()
            .unwrap();
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("kind: SealedSecret")
    };
    assert!(
        kubectl(home.path()),
        "kubectl kustomize did not run the plugin in ~/kustomize/plugin"
    );

    // An empty ~/.config/kustomize/plugin now comes first: the installed plugin is never run.
    fs::create_dir_all(home.path().join(".config/kustomize/plugin")).unwrap();
    insta::assert_snapshot!(plugin_line(&doctor(home.path(), &bin, &args)).join("\n"), @"
    warning kustomize plugin: [tmp]/kustomize/plugin/pullseal.io/v1alpha1/render/Render is never run: kustomize uses the first plugin home that exists, [tmp]/.config/kustomize/plugin
    info    kustomize plugin: not installed in [tmp]/.config/kustomize/plugin, the plugin home kustomize uses (the first that exists of [root]/testdata/no-such-config/kustomize/plugin, [tmp]/.config/kustomize/plugin, [tmp]/kustomize/plugin); `pullseal install-kustomize-plugin` puts it there
    ");
    assert!(
        !kubectl(home.path()),
        "kubectl kustomize ran a plugin from a plugin home after the first that exists"
    );

    // Another version there, and a file that cannot be run.
    let dir = home
        .path()
        .join(".config/kustomize/plugin/pullseal.io/v1alpha1/render");
    fs::create_dir_all(&dir).unwrap();
    script(&dir, "Render", "echo pullseal 0.0.1");
    let lines = plugin_line(&doctor(home.path(), &bin, &args));
    assert_eq!(lines.len(), 2);
    insta::assert_snapshot!(lines[1], @"warning kustomize plugin: [tmp]/.config/kustomize/plugin/pullseal.io/v1alpha1/render/Render says pullseal 0.0.1, not pullseal 0.1.0; reinstall it with `pullseal install-kustomize-plugin`");
    fs::set_permissions(dir.join("Render"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let lines = plugin_line(&doctor(home.path(), &bin, &args));
    insta::assert_snapshot!(lines[1], @"warning kustomize plugin: [tmp]/.config/kustomize/plugin/pullseal.io/v1alpha1/render/Render is not an executable file, so kustomize cannot run it; reinstall it with `pullseal install-kustomize-plugin`");
}

/// No credential, decrypted value or age secret key in stdout or stderr, whatever the outcome
/// and wherever the key came from (a file, SOPS_AGE_KEY's content, the default keys.txt).
#[test]
fn no_key_or_credential_is_ever_printed() {
    let (home, bin) = home();
    let key = fs::read_to_string(path(AGE_KEY)).unwrap();
    let secret = key
        .split_whitespace()
        .find(|w| w.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let config = home.path().join("config");
    fs::create_dir_all(config.join("sops/age")).unwrap();
    fs::write(config.join("sops/age/keys.txt"), &key).unwrap();
    let outputs = [
        doctor(home.path(), &bin, &on_the_test_catalog("test")),
        doctor(home.path(), &bin, &on_the_test_catalog("plain")),
        doctor(home.path(), &bin, &["--catalog", CATALOG]),
        pullseal()
            .args(["doctor", "--catalog", CATALOG, "--cluster", "test"])
            .env("SOPS_AGE_KEY", &key)
            .env("HOME", home.path())
            .env("PATH", &bin)
            .output()
            .unwrap(),
        pullseal()
            .args(["doctor", "--catalog", CATALOG, "--cluster", "expired"])
            .env("XDG_CONFIG_HOME", &config)
            .env("HOME", home.path())
            .env("PATH", &bin)
            .output()
            .unwrap(),
        doctor(
            home.path(),
            &bin,
            &["--catalog", "testdata/catalog/test.plain.yaml"],
        ),
    ];
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    assert_eq!(codes, [Some(0), Some(0), Some(3), Some(0), Some(4), Some(3)]);
    for out in &outputs {
        for text in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(text);
            assert_no_secrets(&text);
            assert!(!text.contains("AGE-SECRET-KEY"), "an age key leaked:\n{text}");
            assert!(!text.contains(secret));
            assert!(
                !text.contains("robot") && !text.contains("test-user"),
                "a username leaked:\n{text}"
            );
        }
    }
    // The key in SOPS_AGE_KEY is shown by its recipient and its source only.
    let stdout = String::from_utf8_lossy(&outputs[3].stdout);
    assert!(
        stdout.contains(&format!(
            "ok      age identity: {} from SOPS_AGE_KEY, a recipient of the catalog",
            recipient()
        )),
        "{stdout}"
    );
}

#[test]
fn help_is_stable() {
    let out = pullseal().args(["doctor", "--help"]).output().unwrap();
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

/// The README's doctor command, exactly as written there, passes on the quickstart.
#[test]
fn the_readme_command_passes() {
    let readme = fs::read_to_string(path("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("pullseal doctor "))
        .expect("README's doctor command");
    let (home, bin) = home();
    let args: Vec<&str> = line.split_whitespace().skip(2).collect();
    let out = doctor(home.path(), &bin, &args);
    assert!(out.status.success(), "{line}\n{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("info    cluster: \"demo\", the catalog's only one"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok      summary: nothing found would make a render fail (0 warnings)"),
        "{stdout}"
    );
}
