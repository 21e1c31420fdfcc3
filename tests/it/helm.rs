//! pullseal as Helm's post-renderer (issue 6, the Helm part).
//!
//! No Helm binary can be installed here, so these are contract tests: the streams Helm hands a
//! post-renderer are built as Helm's source builds them (Helm 3.21 `pkg/action/action.go`
//! `renderResources`: `---` and `# Source:` per document, CRD files raw; Helm 4
//! `annotateAndMerge`: kyaml re-serialised, a `postrenderer.helm.sh/postrender-filename` on
//! every document, hooks included), and pullseal is run with the argv Helm builds from
//! `--post-renderer-args` (Helm 4: after the plugin's `platformCommand` args,
//! `internal/plugin/subprocess_commands.go` `PrepareCommands`). The fixture cases are
//! `testdata/render/helm-*/`; the example is `examples/helm/`.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Map, Value};

use crate::cli::assert_no_secrets;
use crate::support::{AGE_KEY, CATALOG, path, pullseal, transcript};

/// A YAML file as JSON, every scalar a string: enough to check which fields a file has.
pub fn yaml_as_json(text: &str) -> Value {
    use saphyr_parser::{Event, Parser};
    fn node(events: &[Event<'_>], at: &mut usize) -> Value {
        let event = &events[*at];
        *at += 1;
        match event {
            Event::Scalar(s, ..) => Value::String(s.to_string()),
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                while !matches!(events[*at], Event::SequenceEnd) {
                    items.push(node(events, at));
                }
                *at += 1;
                Value::Array(items)
            }
            Event::MappingStart(..) => {
                let mut map = Map::new();
                while !matches!(events[*at], Event::MappingEnd) {
                    let Value::String(key) = node(events, at) else {
                        panic!("non-string key")
                    };
                    assert!(!map.contains_key(&key), "duplicate key {key}");
                    let value = node(events, at);
                    map.insert(key, value);
                }
                *at += 1;
                Value::Object(map)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let events: Vec<Event<'_>> = Parser::new_from_str(text)
        .map(|e| e.unwrap().0)
        .filter(|e| {
            !matches!(
                e,
                Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd
            )
        })
        .collect();
    let mut at = 0;
    let value = node(&events, &mut at);
    assert_eq!(at, events.len(), "one document only");
    value
}

fn plugin() -> Value {
    yaml_as_json(&fs_err::read_to_string(path("plugin/helm/plugin.yaml")).unwrap())
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Helm 4 reads `plugin.yaml` with unknown fields refused, checks `name`, `version`,
/// `apiVersion`, `type`, `runtime`, and runs the first `platformCommand` that fits the
/// platform (`internal/plugin/metadata_v1.go`, `loader.go`, `runtime_subprocess.go`,
/// `subprocess_commands.go`, `schema/postrenderer.go` at helm e9b85e4d).
#[test]
fn the_helm_4_plugin_has_the_fields_helm_reads() {
    let plugin = plugin();
    for key in keys(&plugin) {
        assert!(
            [
                "apiVersion",
                "name",
                "type",
                "runtime",
                "version",
                "sourceURL",
                "config",
                "runtimeConfig"
            ]
            .contains(&key),
            "Helm refuses the unknown field {key}"
        );
    }
    assert_eq!(plugin["apiVersion"], "v1");
    assert_eq!(plugin["type"], "postrenderer/v1");
    assert_eq!(plugin["runtime"], "subprocess");
    // The name is what `--post-renderer` takes: ^[A-Za-z0-9_-]+$.
    assert_eq!(plugin["name"], "pullseal");
    assert_eq!(plugin["version"], env!("CARGO_PKG_VERSION"));
    // postrenderer/v1 has no config fields (ConfigPostRendererV1 is empty, decoded strictly).
    assert!(plugin.get("config").is_none());
    let runtime = &plugin["runtimeConfig"];
    for key in keys(runtime) {
        assert!(
            ["platformCommand", "platformHooks", "protocolCommands"].contains(&key),
            "{key}"
        );
    }
    let commands = runtime["platformCommand"].as_array().unwrap();
    assert_eq!(commands.len(), 1, "one command for every platform");
    let command = &commands[0];
    for key in keys(command) {
        assert!(["os", "arch", "command", "args"].contains(&key), "{key}");
    }
    // Helm splits `command` at spaces and looks the first part up in PATH.
    assert_eq!(command["command"], "pullseal");
    assert_eq!(command["args"], serde_json::json!(["render"]));
}

/// The `helm install` lines of a README, as Helm would run the post-renderer:
/// the binary, then the `--post-renderer-args` in order (after the plugin's args on Helm 4).
fn readme_post_renderers(readme: &str) -> Vec<(String, Vec<String>)> {
    let readme = fs_err::read_to_string(path(readme)).unwrap();
    let plugin = plugin();
    let mut runs = Vec::new();
    for line in readme
        .lines()
        .filter(|l| l.contains("helm install") && l.contains("--post-renderer "))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let value_of = |flag: &str| -> Vec<String> {
            words
                .windows(2)
                .filter(|w| w[0] == flag)
                .map(|w| w[1].to_owned())
                .collect()
        };
        let renderer = value_of("--post-renderer");
        assert_eq!(renderer, ["pullseal"], "{line}");
        let extra = value_of("--post-renderer-args");
        let helm4 = line.contains("PULLSEAL_LOG=");
        let argv = if helm4 {
            let args = plugin["runtimeConfig"]["platformCommand"][0]["args"]
                .as_array()
                .unwrap();
            args.iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .chain(extra)
                .collect()
        } else {
            extra
        };
        runs.push((if helm4 { "helm4" } else { "helm3" }.to_owned(), argv));
    }
    assert_eq!(runs.len(), 2, "one Helm 3 and one Helm 4 line");
    runs
}

/// `pullseal` in `examples/helm` with the README's `export` line.
fn example_pullseal() -> Command {
    let dir = path("examples/helm");
    let readme = fs_err::read_to_string(dir.join("README.md")).unwrap();
    let export = readme.lines().find(|l| l.starts_with("export ")).unwrap();
    let mut cmd = pullseal();
    cmd.current_dir(&dir);
    for assignment in export.split_whitespace().skip(1) {
        let (name, value) = assignment.split_once('=').unwrap();
        cmd.env(name, value.replace("$PWD", &dir.display().to_string()));
    }
    cmd
}

/// The documents of a stream, without the `---` lines.
fn documents(text: &str) -> Vec<&str> {
    text.split("---\n").filter(|d| !d.trim().is_empty()).collect()
}

/// Lines Helm needs back on the document it sent: its filename and hook annotations.
fn helm_lines(doc: &str) -> Vec<&str> {
    doc.lines()
        .filter(|l| l.contains("postrenderer.helm.sh/") || l.contains("helm.sh/hook"))
        .collect()
}

/// `examples/helm/README.md`, and the Helm block of the README's first section, say the same.
#[test]
fn examples_helm_works_as_its_readme_says() {
    let runs = readme_post_renderers("examples/helm/README.md");
    assert_eq!(readme_post_renderers("README.md"), runs);
    for (helm, argv) in runs {
        let input = fs_err::read_to_string(path(&format!("examples/helm/{helm}-stdin.yaml"))).unwrap();
        let out = example_pullseal()
            .args(&argv)
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert!(out.status.success(), "{helm} {argv:?}\n{}", transcript(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let (sent, got) = (documents(&input), documents(&stdout));
        assert_eq!(got.len(), sent.len() + 1, "{helm}: one SealedSecret appended");
        for (sent, got) in sent.iter().zip(&got) {
            assert_eq!(helm_lines(sent), helm_lines(got), "{helm}: annotations changed");
            let workload = sent.contains("kind: Deployment") || sent.contains("kind: Job");
            assert_eq!(
                got.contains("- name: pullseal-company"),
                workload,
                "{helm}:\n{got}"
            );
        }
        let secret = got.last().unwrap();
        assert!(secret.contains("kind: SealedSecret") && secret.contains("namespace: \"shop\""));
        assert!(
            helm_lines(secret).is_empty(),
            "a generated secret is not Helm's: {secret}"
        );
        assert!(
            stdout.contains("kind: Job") == (helm == "helm4"),
            "Helm 3 sends no hooks"
        );
    }
    // The README's error block is what a forgotten namespace gives.
    let readme = fs_err::read_to_string(path("examples/helm/README.md")).unwrap();
    let block = readme
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let out = example_pullseal()
        .arg("render")
        .write_stdin(fs_err::read(path("examples/helm/helm3-stdin.yaml")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(String::from_utf8(out.stderr).unwrap(), block);
}

/// The fixture streams: every document keeps Helm's annotations, hook workloads get their
/// secrets like any other, and the generated secrets carry none of Helm's annotations.
#[test]
fn hook_documents_are_rendered_and_helm_annotations_survive() {
    let dir = path("testdata/render/helm-4-plugin");
    let input = fs_err::read_to_string(dir.join("input.yaml")).unwrap();
    let out = helm_render(&["render", "--namespace=shop"], &input, None);
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (sent, got) = (documents(&input), documents(&stdout));
    assert_eq!(got.len(), sent.len() + 2);
    for (sent, got) in sent.iter().zip(&got) {
        assert_eq!(helm_lines(sent), helm_lines(got));
        assert!(helm_lines(got).iter().any(|l| l.contains("postrender-filename")));
    }
    let hooks: Vec<&&str> = got.iter().filter(|d| d.contains("helm.sh/hook")).collect();
    assert_eq!(hooks.len(), 2);
    assert!(hooks[0].contains("- name: pullseal-company"), "{}", hooks[0]);
    assert!(hooks[1].contains("- name: pullseal-quay-team"), "{}", hooks[1]);
    for secret in &got[sent.len()..] {
        assert!(helm_lines(secret).is_empty(), "{secret}");
    }
}

/// `pullseal` as a Helm post-renderer on the test catalog: settings from the environment, as
/// the plugin takes them, `argv` as Helm builds it, the stream on stdin.
fn helm_render(argv: &[&str], stdin: &str, log: Option<&Path>) -> std::process::Output {
    let mut cmd = pullseal();
    cmd.env("PULLSEAL_CATALOG", CATALOG)
        .env("SOPS_AGE_KEY_FILE", AGE_KEY)
        .env("PULLSEAL_CLUSTER", "test")
        .args(argv)
        .write_stdin(stdin.to_owned());
    if let Some(log) = log {
        cmd.env("PULLSEAL_LOG", log);
    }
    cmd.output().unwrap()
}

/// The record a run appended to the log: the lines between its header and its end line, and
/// the end line.
fn last_record(log: &Path) -> (String, String) {
    let text = fs_err::read_to_string(log).unwrap();
    let start = text.rfind("=== pullseal ").unwrap();
    let record = &text[start..];
    let mut lines: Vec<&str> = record.lines().skip(1).collect();
    let end = lines.pop().unwrap().to_owned();
    let body: String = lines.iter().flat_map(|l| [*l, "\n"]).collect();
    (body, end)
}

/// Issue 6: render mode never exits 0 with empty output for a non-empty input, prints nothing on
/// stdout after an error, and its exit code (in the log as well) says which kind of failure.
#[test]
fn never_empty_output_and_nothing_on_stdout_after_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("pullseal.log");
    let helm3 = fs_err::read_to_string(path("testdata/render/helm-3-post-renderer/input.yaml")).unwrap();
    let helm4 = fs_err::read_to_string(path("testdata/render/helm-4-plugin/input.yaml")).unwrap();
    let unknown = helm4.replace(
        "pullseal.io/registries: company",
        "pullseal.io/registries: compnay",
    );
    let ns = ["render", "--namespace=shop"];
    let cases: Vec<(&str, Vec<&str>, String, i32)> = vec![
        ("helm 3 stream", ns.to_vec(), helm3.clone(), 0),
        ("helm 4 stream", ns.to_vec(), helm4.clone(), 0),
        (
            "a template switched off",
            ns.to_vec(),
            "---\n# Source: web/templates/pdb.yaml\n# off\n".into(),
            0,
        ),
        (
            "a null document",
            ns.to_vec(),
            "---\n# Source: web/templates/x.yaml\nnull\n".into(),
            0,
        ),
        ("separators only", ns.to_vec(), "---\n---\n".into(), 0),
        ("blank", ns.to_vec(), "\n".into(), 0),
        ("unknown registry", ns.to_vec(), unknown, 1),
        ("no namespace", vec!["render"], helm3.clone(), 1),
        (
            "broken YAML",
            ns.to_vec(),
            format!(
                "{helm4}---\nkind: Pod\nmetadata:\n  annotations: {{pullseal.io/registries: company}}\n  name: [x\n"
            ),
            1,
        ),
        ("bad argument", vec!["render", "--namespace"], helm3.clone(), 2),
        (
            "bad namespace",
            vec!["render", "--namespace=Shop"],
            helm3.clone(),
            2,
        ),
    ];
    for (name, argv, input, code) in cases {
        let out = helm_render(&argv, &input, Some(&log));
        assert_eq!(out.status.code(), Some(code), "{name}\n{}", transcript(&out));
        if code == 0 {
            assert!(!out.stdout.is_empty(), "{name}: exit 0 with empty output");
            if !input.contains("pullseal.io/") {
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    input,
                    "{name}: passes through"
                );
            }
        } else {
            assert!(out.stdout.is_empty(), "{name}: wrote to stdout after an error");
        }
        let (body, end) = last_record(&log);
        assert_eq!(
            body,
            String::from_utf8(out.stderr).unwrap(),
            "{name}: the log has stderr's lines"
        );
        assert!(
            end.starts_with(&format!("=== end: exit {code} (")),
            "{name}: {end}"
        );
    }
}

/// The failures the Helm streams above cannot cause, each with its code in the log too: the
/// catalog (3) and sealing (4).
#[test]
fn catalog_and_sealing_failures_have_their_codes_in_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("pullseal.log");
    let helm3 = fs_err::read_to_string(path("testdata/render/helm-3-post-renderer/input.yaml")).unwrap();
    let ns = ["render", "--namespace=shop"];
    let out = pullseal()
        .env("PULLSEAL_CATALOG", "no/such/catalog.yaml")
        .env("PULLSEAL_LOG", &log)
        .args(ns)
        .write_stdin(helm3.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", transcript(&out));
    assert!(out.stdout.is_empty());
    assert!(
        last_record(&log)
            .1
            .contains("exit 3 (the catalog cannot be found, decrypted or understood)")
    );
    let out = pullseal()
        .env("PULLSEAL_CATALOG", CATALOG)
        .env("SOPS_AGE_KEY_FILE", AGE_KEY)
        .env("PULLSEAL_CLUSTER", "expired")
        .env("PULLSEAL_LOG", &log)
        .args(ns)
        .write_stdin(helm3)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    assert!(out.stdout.is_empty());
    assert!(
        last_record(&log)
            .1
            .contains("exit 4 (sealing for the cluster failed)")
    );
}

/// The credential-leak check of `render`, with PULLSEAL_LOG: no credential or decrypted value
/// in stdout (sealed clusters), stderr or the log, and the log never holds stdout's content
/// (a `seal: none` render puts the credential there).
#[test]
fn credentials_never_reach_stdout_stderr_or_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("pullseal.log");
    let workloads = fs_err::read_to_string(path("testdata/render/workloads/input.yaml")).unwrap();
    let errors = fs_err::read_to_string(path("testdata/render/errors/input.yaml")).unwrap();
    for cluster in ["test", "test-ns", "test-cw", "plain"] {
        for (input, ok) in [(&workloads, true), (&errors, false)] {
            let out = pullseal()
                .env("PULLSEAL_CATALOG", CATALOG)
                .env("SOPS_AGE_KEY_FILE", AGE_KEY)
                .env("PULLSEAL_CLUSTER", cluster)
                .env("PULLSEAL_LOG", &log)
                .args([
                    "render",
                    "--namespace=shop",
                    "--pod-spec",
                    "Rollout=spec.template.spec",
                ])
                .write_stdin(input.clone())
                .output()
                .unwrap();
            assert_eq!(out.status.success(), ok, "{cluster}\n{}", transcript(&out));
            let stdout = String::from_utf8(out.stdout).unwrap();
            if cluster != "plain" {
                assert_no_secrets(&stdout);
            }
            assert_no_secrets(&String::from_utf8_lossy(&out.stderr));
            let text = fs_err::read_to_string(&log).unwrap();
            assert_no_secrets(&text);
            for line in stdout.lines().filter(|l| l.contains(".dockerconfigjson")) {
                assert!(!text.contains(line.trim()), "stdout content in the log: {line}");
            }
        }
    }
}

/// An unwritable PULLSEAL_LOG is a warning on stderr: a render succeeds with the same output,
/// and a failure keeps its exit code.
#[test]
fn an_unwritable_log_changes_no_result() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("missing-dir/pullseal.log");
    let input = fs_err::read_to_string(path("testdata/render/helm-4-plugin/input.yaml")).unwrap();
    let ns = ["render", "--namespace=shop"];
    let without = helm_render(&ns, &input, None);
    let with = helm_render(&ns, &input, Some(&log));
    assert!(with.status.success(), "{}", transcript(&with));
    assert_eq!(with.stdout, without.stdout);
    let stderr = String::from_utf8(with.stderr).unwrap();
    assert!(
        stderr.starts_with("warning: PULLSEAL_LOG: cannot open "),
        "{stderr}"
    );
    let failed = helm_render(&["render"], &input, Some(&log));
    assert_eq!(failed.status.code(), Some(1));
    assert!(failed.stdout.is_empty());
}
