//! pullseal as an Argo CD config-management plugin (issue 6, the Argo CD part).
//!
//! No Argo CD runs here: these are contract tests. The plugin's `plugin.yaml` is checked for
//! the fields Argo CD's sidecar reads (`cmpserver/plugin/config.go`), its discovery rule is
//! applied to the example as the sidecar applies it (`spec.discover.fileName`, a
//! `filepath.Glob` in the app directory), and `pullseal argocd generate` is run in an app
//! directory with the environment the repo-server gives the generate command
//! (`reposerver/repository/repository.go` `newEnv`, `getPluginEnvs`; `ARGOCD_ENV_` for
//! `plugin.env` since 2.4, `PARAM_<NAME>` for parameters). No kustomize or helm binary is
//! used: a missing one must be an error, and Helm is stood in for by a script that records how
//! it was called. The example is `examples/argocd/`, the plugin `plugin/argocd/`.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use crate::cli::assert_no_secrets;
use crate::helm::yaml_as_json;
use crate::support::{AGE_KEY, CATALOG, path, pullseal, redact_tmp, transcript};

const EXAMPLE_APP: &str = "examples/argocd/shop";

fn plugin() -> Value {
    yaml_as_json(&fs_err::read_to_string(path("plugin/argocd/plugin.yaml")).unwrap())
}

/// `pullseal argocd generate` in `dir` with what the repo-server sets for an Application
/// `shop` of project `default` with destination namespace `shop`, the sidecar's age key and
/// catalog, and nothing of the developer's shell that pullseal reads.
fn generate(dir: &Path) -> Command {
    let mut cmd = pullseal();
    for var in [
        "ARGOCD_APP_NAME",
        "ARGOCD_APP_PROJECT_NAME",
        "ARGOCD_ENV_PULLSEAL_CATALOG",
        "ARGOCD_ENV_PULLSEAL_NAMESPACE",
        "ARGOCD_ENV_PULLSEAL_MODE",
        "PULLSEAL_NAMESPACE",
        "PULLSEAL_MODE",
        "PARAM_CLUSTER",
        "PARAM_NAMESPACE",
        "PARAM_MODE",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .args(["argocd", "generate"])
        // The sidecar's own environment.
        .env("PULLSEAL_CATALOG", path(CATALOG))
        .env("SOPS_AGE_KEY_FILE", path(AGE_KEY))
        // The build environment of the generate command.
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("ARGOCD_APP_PROJECT_NAME", "default")
        .env("ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567")
        .env("ARGOCD_APP_REVISION_SHORT", "0123456")
        .env(
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example.com/acme/deploy.git",
        )
        .env("ARGOCD_APP_SOURCE_PATH", EXAMPLE_APP)
        .env("ARGOCD_APP_SOURCE_TARGET_REVISION", "main")
        .env("KUBE_VERSION", "1.31.0")
        .env("KUBE_API_VERSIONS", "v1,apps/v1,bitnami.com/v1alpha1")
        // Argo CD sends every announced parameter and env entry, set or not: empty ones
        // count as unset.
        .env("ARGOCD_ENV_PULLSEAL_NAMESPACE", "");
    cmd
}

/// Each document of a stream, as JSON.
fn documents(stdout: &str) -> Vec<Value> {
    stdout
        .split("\n---\n")
        .map(|doc| yaml_as_json(doc.strip_prefix("---\n").unwrap_or(doc)))
        .collect()
}

/// A directory with one executable `helm` (or `kustomize`) script, for PATH.
fn fake_tool(tmp: &Path, name: &str, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = tmp.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let tool = bin.join(name);
    fs_err::write(&tool, format!("#!/bin/sh\n{script}")).unwrap();
    fs_err::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `bin` before the system's own tools (`cat`, `sh`), and nothing else: no real helm or
/// kustomize of the machine can be found.
/// `pullseal argocd generate` on a chart `name` in `tmp`, with a fake `helm` running `script`.
fn generate_chart(tmp: &Path, name: &str, script: &str) -> (PathBuf, Output) {
    let chart = tmp.join("chart");
    fs_err::create_dir(&chart).unwrap();
    fs_err::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .unwrap();
    let bin = fake_tool(tmp, "helm", script);
    let out = generate(&chart)
        .env("PULLSEAL_CLUSTER", "test")
        .env("PATH", with_system(&bin))
        .output()
        .unwrap();
    (chart, out)
}

fn with_system(bin: &Path) -> String {
    for dir in ["/usr/bin", "/bin"] {
        for tool in ["helm", "kustomize"] {
            assert!(!Path::new(dir).join(tool).exists(), "{dir}/{tool} would be used");
        }
    }
    format!("{}:/usr/bin:/bin", bin.display())
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      annotations:\n        pullseal.io/registries: company\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com:5000/web:1\n";

/// The sidecar reads `apiVersion`, `kind` (validated), `metadata.name`, and in `spec`
/// `generate` (required), `discover`, `parameters`; `version` would rename the plugin to
/// `<name>-<version>`. `lockRepo` and `allowConcurrency` do not exist for sidecars.
#[test]
fn the_plugin_yaml_has_the_fields_argo_cd_reads() {
    let plugin = plugin();
    assert_eq!(plugin["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert_eq!(plugin["metadata"]["name"], "pullseal");
    let spec = plugin["spec"].as_object().unwrap();
    for key in spec.keys() {
        assert!(
            ["generate", "discover", "parameters"].contains(&key.as_str()),
            "unexpected spec.{key}"
        );
    }
    assert_eq!(
        spec["generate"]["command"],
        serde_json::json!(["pullseal", "argocd", "generate"])
    );
    assert!(spec["generate"].get("args").is_none());
    assert_eq!(
        spec["discover"],
        serde_json::json!({"fileName": "./.pullseal.yaml"})
    );
    let params = spec["parameters"]["static"].as_array().unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cluster", "namespace", "mode"]);
    for param in params {
        // Argo CD sends a string parameter as PARAM_<NAME>, which is what pullseal reads.
        assert_eq!(param["collectionType"], "string", "{param}");
        assert_eq!(param["required"], "false", "{param}");
    }
}

/// The discovery rule is `fileName`, a `filepath.Glob` in the app directory: with no glob
/// characters in it, it selects exactly the directories holding that file.
#[test]
fn the_discovery_rule_selects_the_example_app() {
    let plugin = plugin();
    let file = plugin["spec"]["discover"]["fileName"].as_str().unwrap();
    assert!(!file.contains(['*', '?', '[', '\\']), "{file}");
    assert!(path(EXAMPLE_APP).join(file).is_file());
    for other in ["examples/argocd", "examples/helm/web", "examples/quickstart"] {
        assert!(!path(other).join(file).exists(), "{other} would be selected");
    }
}

/// The example app, run as the sidecar runs it: stdout is only Kubernetes objects, the
/// Deployment gets its imagePullSecrets, the pull secrets are sealed into the destination
/// namespace, and no credential shows anywhere.
#[test]
fn the_example_app_renders_as_argo_cd_runs_it() {
    let out = generate(&path(EXAMPLE_APP))
        .env("ARGOCD_ENV_PULLSEAL_CLUSTER", "test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_no_secrets(&stdout);
    assert_no_secrets(&String::from_utf8_lossy(&out.stderr));
    let docs = documents(&stdout);
    for doc in &docs {
        for field in ["apiVersion", "kind", "metadata"] {
            assert!(doc.get(field).is_some(), "not an object: {doc}");
        }
        assert!(doc["metadata"].get("name").is_some(), "{doc}");
    }
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "SealedSecret", "SealedSecret"]);
    for sealed in &docs[2..] {
        assert_eq!(sealed["metadata"]["namespace"], "shop");
    }
    assert_eq!(
        docs[0]["spec"]["template"]["spec"]["imagePullSecrets"],
        serde_json::json!([{"name": "pullseal-company"}, {"name": "pullseal-quay-team"}])
    );
    // The hidden discovery file is no manifest.
    assert!(!stdout.contains("opts the directory in"));
}

/// Argo CD before 2.4 passed `plugin.env` unprefixed; a parameter beats both env forms.
#[test]
fn the_cluster_comes_from_a_parameter_or_either_env_form() {
    let sealed_for = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let app = path(EXAMPLE_APP);
    // test-cw seals cluster-wide: its SealedSecrets say so.
    let wide = "sealedsecrets.bitnami.com/cluster-wide";
    assert!(sealed_for(generate(&app).env("PULLSEAL_CLUSTER", "test-cw")).contains(wide));
    let prefixed = sealed_for(
        generate(&app)
            .env("PULLSEAL_CLUSTER", "test")
            .env("ARGOCD_ENV_PULLSEAL_CLUSTER", "test-cw"),
    );
    assert!(prefixed.contains(wide));
    let param = sealed_for(
        generate(&app)
            .env("ARGOCD_ENV_PULLSEAL_CLUSTER", "test-cw")
            .env("PARAM_CLUSTER", "test"),
    );
    assert!(!param.contains(wide));
}

/// Argo CD passes no destination cluster: without a setting, a catalog of several clusters
/// is an error that says how to set it from an ApplicationSet, with nothing on stdout.
#[test]
fn several_clusters_and_no_setting_is_an_error_naming_the_applicationset_way() {
    let out = generate(&path(EXAMPLE_APP)).output().unwrap();
    insta::assert_snapshot!(transcript(&out), @r"
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: the catalog defines several clusters (eks, expired, flux, plain, prod-eu, test, test-cw, test-ns) and Argo CD does not tell a plugin the destination cluster: set the plugin parameter cluster, or PULLSEAL_CLUSTER in the Application's spec.source.plugin.env; from an ApplicationSet, template it from the generator, e.g. `plugin: {env: [{name: PULLSEAL_CLUSTER, value: '{{name}}'}]}` with the cluster generator
        ");
}

/// An empty stdout with exit 0 makes Argo CD prune the app: a source that gives no object
/// (a directory of comments, a chart that renders nothing) is an error, never an empty
/// success.
#[test]
fn no_object_is_never_an_empty_success() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs_err::create_dir(&app).unwrap();
    fs_err::write(
        app.join("notes.yaml"),
        "# all commented out\n---\n# kind: Deployment\n",
    )
    .unwrap();
    let out = generate(&app).env("PULLSEAL_CLUSTER", "test").output().unwrap();
    let mut shown = redact_tmp(&transcript(&out), tmp.path());
    let (_, out) = generate_chart(
        tmp.path(),
        "x",
        "printf -- '---\\n# Source: x/templates/none.yaml\\n'\n",
    );
    shown.push_str(&redact_tmp(&transcript(&out), tmp.path()));
    insta::assert_snapshot!(shown, @r#"
        exit: 1
        ----- stdout -----
        ----- stderr -----
        error: the app directory [tmp]/app gave no Kubernetes object; refusing to print an empty stream, which Argo CD would take as an app with nothing in it and prune
        exit: 1
        ----- stdout -----
        ----- stderr -----
        error: `helm template shop . -n shop` gave no Kubernetes object; refusing to print an empty stream, which Argo CD would take as an app with nothing in it and prune
        "#);
}

/// A kustomization or a chart needs its tool; without it on PATH the error says which and
/// what to do, and stdout stays empty.
#[test]
fn a_missing_kustomize_or_helm_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty_path = tmp.path().join("no-tools");
    fs_err::create_dir(&empty_path).unwrap();
    let mut shown = String::new();
    for (dir, file) in [
        ("kust", "kustomization.yaml"),
        ("kust2", "Kustomization"),
        ("chart", "Chart.yaml"),
    ] {
        let app = tmp.path().join(dir);
        fs_err::create_dir(&app).unwrap();
        fs_err::write(app.join(file), "{}\n").unwrap();
        fs_err::write(app.join("deployment.yaml"), DEPLOYMENT).unwrap();
        let out = generate(&app)
            .env("PULLSEAL_CLUSTER", "test")
            .env("PATH", &empty_path)
            .output()
            .unwrap();
        shown.push_str(&redact_tmp(&transcript(&out), tmp.path()));
    }
    // Both: the mode must say which.
    let both = tmp.path().join("both");
    fs_err::create_dir(&both).unwrap();
    fs_err::write(both.join("kustomization.yaml"), "{}\n").unwrap();
    fs_err::write(both.join("Chart.yaml"), "{}\n").unwrap();
    let out = generate(&both).env("PULLSEAL_CLUSTER", "test").output().unwrap();
    shown.push_str(&redact_tmp(&transcript(&out), tmp.path()));
    // A directory read as plain YAML on request, tools or not.
    let out = generate(&tmp.path().join("chart"))
        .env("PULLSEAL_CLUSTER", "test")
        .env("PARAM_MODE", "directory")
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: SealedSecret"));
    insta::assert_snapshot!(shown, @r#"
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: the app directory [tmp]/kust has kustomization.yaml, but no `kustomize` is on PATH: add kustomize to the plugin's sidecar image, or set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to directory
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: the app directory [tmp]/kust2 has Kustomization, but no `kustomize` is on PATH: add kustomize to the plugin's sidecar image, or set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to directory
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: the app directory [tmp]/chart has Chart.yaml, but no `helm` is on PATH: add helm to the plugin's sidecar image, or set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to directory
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: the app directory [tmp]/both has both kustomization.yaml and Chart.yaml; set the mode parameter (PARAM_MODE, PULLSEAL_MODE) to kustomize or helm
        "#);
}

/// A chart is rendered with exactly `helm template $ARGOCD_APP_NAME . -n
/// $ARGOCD_APP_NAMESPACE`, in the app directory, and its output is what pullseal renders.
/// No Helm can be installed here: a script stands in for it and records its argv.
#[test]
fn a_chart_is_rendered_with_exactly_the_helm_template_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let stream = tmp.path().join("stream.yaml");
    fs_err::write(
        &stream,
        format!("---\n# Source: web/templates/deployment.yaml\n{DEPLOYMENT}"),
    )
    .unwrap();
    let argv = tmp.path().join("argv");
    let (chart, out) = generate_chart(
        tmp.path(),
        "web",
        &format!(
            "pwd > '{argv}'\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{argv}'; done\necho 'walk.go:74: found symbolic link in path' >&2\ncat '{stream}'\n",
            argv = argv.display(),
            stream = stream.display()
        ),
    );
    assert!(out.status.success(), "{}", transcript(&out));
    let recorded = fs_err::read_to_string(&argv).unwrap();
    let chart_dir = fs_err::canonicalize(&chart).unwrap();
    assert_eq!(
        recorded,
        format!("{}\ntemplate\nshop\n.\n-n\nshop\n", chart_dir.display())
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("---\n# Source: web/templates/deployment.yaml\n"),
        "{stdout}"
    );
    assert!(stdout.contains("- name: pullseal-company"), "{stdout}");
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 1, "{stdout}");
    // Helm's warnings reach stderr, and only stderr.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "helm: walk.go:74: found symbolic link in path\n"
    );
}

/// A failing chart fails the plugin: exit 1, Helm's stderr as the cause, nothing on stdout
/// (the output it printed before failing is not passed on).
#[test]
fn a_failing_helm_fails_the_plugin_with_its_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = generate_chart(
        tmp.path(),
        "web",
        "echo 'apiVersion: v1'\necho 'Error: template: web/templates/x.yaml:3: bad' >&2\nexit 1\n",
    );
    insta::assert_snapshot!(redact_tmp(&transcript(&out), tmp.path()), @r#"
        exit: 1
        ----- stdout -----
        ----- stderr -----
        error: `helm template shop . -n shop` failed in [tmp]/chart (exit status: 1)
          caused by: Error: template: web/templates/x.yaml:3: bad
        "#);
}

/// Settings that are wrong are usage errors naming where they came from; a registry kept to
/// some projects is refused in another one (the glob is not shown).
#[test]
fn bad_settings_and_the_project_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs_err::create_dir(&app).unwrap();
    fs_err::write(
        app.join("deployment.yaml"),
        DEPLOYMENT
            .replace("company", "project-team")
            .replace("registry.example.com:5000", "projects.example.com"),
    )
    .unwrap();
    let mut shown = String::new();
    for (var, value) in [
        ("PARAM_MODE", "jsonnet"),
        ("ARGOCD_ENV_PULLSEAL_NAMESPACE", "Shop"),
        ("ARGOCD_APP_PROJECT_NAME", "other"),
    ] {
        let out = generate(&app)
            .env("PULLSEAL_CLUSTER", "test")
            .env(var, value)
            .output()
            .unwrap();
        shown.push_str(&redact_tmp(&transcript(&out), tmp.path()));
    }
    assert!(!shown.contains("team-*"), "{shown}");
    let out = generate(&app)
        .env("PULLSEAL_CLUSTER", "test")
        .env("ARGOCD_APP_PROJECT_NAME", "team-a")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    insta::assert_snapshot!(shown, @r#"
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: PARAM_MODE jsonnet is not a mode: use auto, directory, kustomize or helm
        exit: 2
        ----- stdout -----
        ----- stderr -----
        error: ARGOCD_ENV_PULLSEAL_NAMESPACE "Shop" is not a valid namespace: a namespace is a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)
        exit: 1
        ----- stdout -----
        ----- stderr -----
        error: 1 problem in the input:
          [tmp]/app/deployment.yaml: document 1: Deployment shop/web: registry "project-team" is not allowed in Argo CD project "other" (by registries.project-team.allow.projects in the catalog)
        "#);
}

/// The README's Argo CD block installs what `plugin/argocd/values.yaml` describes: the
/// values file it names exists, and the Secret it creates is the one the values mount.
#[test]
fn the_readme_argo_cd_block_matches_the_values() {
    let readme = fs_err::read_to_string(path("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("argo/argo-cd"))
        .expect("an Argo CD block");
    assert!(block.contains("-f plugin/argocd/values.yaml"), "{block}");
    let values = yaml_as_json(&fs_err::read_to_string(path("plugin/argocd/values.yaml")).unwrap());
    let secret = values["repoServer"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|v| v.get("secret"))
        .unwrap();
    let name = secret["secretName"].as_str().unwrap();
    assert!(
        block.contains(&format!("create secret generic {name} --from-file=keys.txt=")),
        "{block}"
    );
    let sidecar = &values["repoServer"]["extraContainers"][0];
    assert_eq!(
        sidecar["command"],
        serde_json::json!(["/var/run/argocd/argocd-cmp-server"])
    );
    assert_eq!(sidecar["securityContext"]["runAsUser"], "999");
    assert_eq!(sidecar["securityContext"]["readOnlyRootFilesystem"], "true");
    let env = sidecar["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "SOPS_AGE_KEY_FILE" && e["value"].as_str().unwrap().ends_with("/keys.txt"))
    );
}

/// `examples/argocd/README.md`'s command, as written there (the demo catalog and key of the
/// quickstart, the environment Argo CD would set), run in the app directory it `cd`s to.
#[test]
fn examples_argocd_works_as_its_readme_says() {
    let dir = path("examples/argocd");
    let readme = fs_err::read_to_string(dir.join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let mut lines = block.lines();
    let app = dir.join(lines.next().unwrap().strip_prefix("cd ").unwrap());
    let words: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let at = words.iter().position(|w| *w == "pullseal").unwrap();
    assert_eq!(&words[at..], ["pullseal", "argocd", "generate"]);
    let mut cmd = generate(&app);
    cmd.env_remove("PULLSEAL_CATALOG").env_remove("SOPS_AGE_KEY_FILE");
    for assignment in &words[..at] {
        let (var, value) = assignment.split_once('=').unwrap();
        cmd.env(var, value);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 2, "{stdout}");
    assert!(stdout.contains("imagePullSecrets:"), "{stdout}");
    assert!(!stdout.contains("demo-password-do-not-use"));
}

/// A kustomization is built with exactly `kustomize build .` in the app directory. No
/// kustomize binary is used here: a script stands in for it and records its argv.
#[test]
fn a_kustomization_is_built_with_exactly_kustomize_build_dot() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("overlay");
    fs_err::create_dir(&app).unwrap();
    fs_err::write(app.join("kustomization.yaml"), "resources: [deployment.yaml]\n").unwrap();
    fs_err::write(app.join("deployment.yaml"), DEPLOYMENT).unwrap();
    let argv = tmp.path().join("argv");
    let bin = fake_tool(
        tmp.path(),
        "kustomize",
        &format!(
            "pwd > '{argv}'\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{argv}'; done\ncat deployment.yaml\n",
            argv = argv.display()
        ),
    );
    let out = generate(&app)
        .env("PULLSEAL_CLUSTER", "test")
        .env("PATH", with_system(&bin))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", transcript(&out));
    let app_dir = fs_err::canonicalize(&app).unwrap();
    assert_eq!(
        fs_err::read_to_string(&argv).unwrap(),
        format!("{}\nbuild\n.\n", app_dir.display())
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // One copy of the Deployment: the kustomization's resources are not read a second time.
    assert_eq!(stdout.matches("kind: Deployment").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("kind: SealedSecret").count(), 1, "{stdout}");
}
