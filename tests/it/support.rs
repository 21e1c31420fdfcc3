//! Shared test plumbing: the pullseal command with a clean environment, project paths, temp
//! catalogs encrypted by the real sops, and redaction of sealed values for snapshots.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The project root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the project root.
pub fn path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// The TEST-ONLY catalog and its key.
pub const CATALOG: &str = "testdata/catalog/test.catalog.yaml";
pub const AGE_KEY: &str = "testdata/keys/age-test.txt";

/// The TEST-ONLY age key's recipient (its public half), read from the key file.
pub fn recipient() -> String {
    let key = fs_err::read_to_string(path(AGE_KEY)).unwrap();
    key.split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap()
        .to_owned()
}

/// Encrypts the catalog `plain` with the real sops into `dir/pullseal.catalog.yaml` (no
/// plaintext copy is left beside it), for the
/// test recipient unless `dir` has a `.sops.yaml` (its creation rule names the recipients,
/// and flags would override it); `extra` go before the file.
pub fn encrypt(dir: &Path, plain: &str, extra: &[&str]) -> PathBuf {
    fs_err::write(dir.join("plain.yaml"), plain).unwrap();
    let r = recipient();
    let mut args = vec!["encrypt", "--input-type", "yaml", "--output-type", "yaml"];
    if !dir.join(".sops.yaml").exists() {
        args.extend(["--age", &r]);
    }
    args.extend_from_slice(extra);
    args.push("plain.yaml");
    let out = crate::peers::sops_with_key(&path(AGE_KEY))
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    fs_err::remove_file(dir.join("plain.yaml")).unwrap();
    let file = dir.join("pullseal.catalog.yaml");
    fs_err::write(&file, out.stdout).unwrap();
    file
}

/// The variables pullseal reads, which no test may inherit from the developer's shell.
pub const PULLSEAL_VARS: &[&str] = &[
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "PULLSEAL_CATALOG",
    "PULLSEAL_CLUSTER",
    "ARGOCD_ENV_PULLSEAL_CLUSTER",
    "ARGOCD_APP_NAMESPACE",
    "ARGOCD_APP_NAME",
    "ARGOCD_APP_PROJECT_NAME",
    "ARGOCD_ENV_PULLSEAL_NAMESPACE",
    "ARGOCD_ENV_PULLSEAL_CATALOG",
    "ARGOCD_ENV_PULLSEAL_MODE",
    "PULLSEAL_NAMESPACE",
    "PULLSEAL_MODE",
    "PULLSEAL_LOG",
    "HELM_PLUGIN_NAME",
    "KUSTOMIZE_PLUGIN_CONFIG_ROOT",
    // AWS KMS keys of sops files (and ECR's endpoints): only what a test sets.
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_ECR",
];

/// The proxy variables of HTTP clients (pullseal's and skopeo's), which no test that talks to
/// a server on 127.0.0.1 may inherit from the developer's shell.
pub const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// `pullseal` with none of the variables it reads inherited from the developer's shell.
pub fn pullseal() -> Command {
    let mut cmd = Command::cargo_bin("pullseal").unwrap();
    for var in PULLSEAL_VARS {
        cmd.env_remove(var);
    }
    // No personal ~/.config/sops/age/keys.txt can leak in.
    cmd.env("XDG_CONFIG_HOME", root().join("testdata/no-such-config"));
    cmd.current_dir(root());
    cmd
}

/// `pullseal render` on the test catalog for `cluster`.
pub fn render(cluster: &str) -> Command {
    let mut cmd = pullseal();
    cmd.args([
        "render",
        "--catalog",
        CATALOG,
        "--age-key-file",
        AGE_KEY,
        "--cluster",
        cluster,
    ]);
    cmd
}

/// Replaces sealed blobs (they are deterministic, but change whenever the test catalog is
/// re-encrypted) so snapshots show structure; unsealing is checked in `interop`. Both the YAML
/// (`.dockerconfigjson: "..."`) and the JSON (`".dockerconfigjson": "..."`) spelling are
/// redacted, and so are the AWS keys of an ECR registry's keys Secret (`access-key-id: "..."`).
/// The ESO template of an `ExternalSecret` (a value starting with `{`) holds no secret and
/// is kept: it is what the snapshot is for.
pub fn redact(text: &str) -> String {
    const SEALED: &[&str] = &[
        ".dockerconfigjson: \"",
        ".dockerconfigjson\": \"",
        "access-key-id: \"",
        "secret-access-key: \"",
        "session-token: \"",
        "access-key-id\": \"",
        "secret-access-key\": \"",
        "session-token\": \"",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = SEALED
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i + p.len(), p)))
            .min();
        let Some((open, _)) = found else {
            out.push_str(rest);
            return redact_sops(&out);
        };
        out.push_str(&rest[..open]);
        if rest[open..].starts_with('{') {
            let end = rest[open..].find('\n').map_or(rest.len(), |e| open + e);
            out.push_str(&rest[open..end]);
            rest = &rest[end..];
            continue;
        }
        out.push_str("[sealed]");
        let close = rest[open..].find('"').map_or(rest.len(), |c| open + c);
        rest = &rest[close..];
    }
}

/// Replaces what changes whenever the test catalog is re-encrypted in a `seal: sops` Secret
/// (its data key is the derivation key): `ENC[...]` values and armored age stanzas. Their
/// decryption, and their determinism, are checked in `flux`.
fn redact_sops(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_armor = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "-----BEGIN AGE ENCRYPTED FILE-----" {
            in_armor = true;
            out.push_str(line.replace(trimmed, "[age stanza]").as_str());
            continue;
        }
        if in_armor {
            in_armor = trimmed != "-----END AGE ENCRYPTED FILE-----";
            continue;
        }
        match (line.find("ENC[AES256_GCM,data:"), line.rfind(",type:")) {
            (Some(open), Some(close)) if close > open => {
                out.push_str(&line[..open]);
                out.push_str("ENC[AES256_GCM,[encrypted]");
                out.push_str(&line[close..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Replaces the temp dir (as given and as resolved) in `text`.
pub fn redact_tmp(text: &str, tmp: &Path) -> String {
    let real = fs_err::canonicalize(tmp).unwrap();
    text.replace(&real.display().to_string(), "[tmp]")
        .replace(&tmp.display().to_string(), "[tmp]")
}

/// Output of a finished command as one block: exit code, stdout, stderr.
pub fn transcript(output: &std::process::Output) -> String {
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        output
            .status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
        redact(&String::from_utf8_lossy(&output.stdout)),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A finished command's stdout then stderr, as text (for what must not be in either).
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Renders the every-workload fixture for `cluster` (it needs the Rollout pod-spec path).
pub fn render_workloads(cluster: &str) -> std::process::Output {
    render(cluster)
        .arg("testdata/render/workloads/input.yaml")
        .args(["--pod-spec", "Rollout=spec.template.spec"])
        .output()
        .unwrap()
}

/// A failed run: exit `code`, nothing on stdout, and `needle` in stderr.
pub fn assert_failure(out: &std::process::Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", transcript(out));
    assert!(out.stdout.is_empty(), "a failed run wrote to stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "stderr lacks {needle:?}:\n{stderr}");
}
