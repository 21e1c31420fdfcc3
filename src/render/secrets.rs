//! The pull secrets pullseal emits: one `kubernetes.io/dockerconfigjson` Secret per
//! (namespace, registry), sealed for the cluster or, with `seal: none`, plain.
//!
//! Documents are written as text with every scalar double-quoted, so no value can be read as
//! another YAML 1.1 type (a registry called `yes` stays a string). The `.dockerconfigjson`
//! plaintext lives only in zeroizing buffers and leaves this module sealed or base64-encoded
//! for `seal: none`.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::catalog::{Cluster, Registry, RegistryType, SealMode};
use crate::seal::{self, SealError, SealTarget};

/// The key the kubelet reads in a `kubernetes.io/dockerconfigjson` Secret.
pub(crate) const DOCKERCONFIGJSON: &str = ".dockerconfigjson";
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// One Secret to emit.
pub(crate) struct Planned<'a> {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) registry: &'a Registry,
}

/// The `auths` key for a registry: Docker Hub's legacy URL, else the server as written.
pub(crate) fn auths_key(registry: &Registry) -> String {
    if registry.kind == RegistryType::DockerHub || registry.server.is_docker_hub() {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.server.to_string()
    }
}

/// `{"auths":{KEY:{"auth","email"?,"password","username"}}}`, keys sorted.
pub(crate) fn dockerconfigjson(registry: &Registry) -> Zeroizing<String> {
    let user = registry.username.expose_secret();
    let pass = registry.password.expose_secret();
    let pair = Zeroizing::new(format!("{user}:{pass}"));
    let auth = Zeroizing::new(STANDARD.encode(pair.as_bytes()));
    let mut out = Zeroizing::new(String::with_capacity(128 + 2 * pair.len()));
    out.push_str("{\"auths\":{");
    json_string(&mut out, &auths_key(registry));
    out.push_str(":{\"auth\":");
    json_string(&mut out, &auth);
    if let Some(email) = &registry.email {
        out.push_str(",\"email\":");
        json_string(&mut out, email);
    }
    out.push_str(",\"password\":");
    json_string(&mut out, pass);
    out.push_str(",\"username\":");
    json_string(&mut out, user);
    out.push_str("}}}");
    out
}

/// Writes `s` as a JSON string (also a valid YAML double-quoted scalar).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    json_string(&mut out, s);
    out
}

fn metadata(out: &mut String, indent: &str, planned: &Planned<'_>, extra_annotations: &[(&str, &str)]) {
    let _ = writeln!(out, "{indent}name: {}", quoted(&planned.name));
    if let Some(ns) = &planned.namespace {
        let _ = writeln!(out, "{indent}namespace: {}", quoted(ns));
    }
    let _ = writeln!(
        out,
        "{indent}labels:\n{indent}  app.kubernetes.io/managed-by: \"pullseal\""
    );
    let _ = writeln!(
        out,
        "{indent}annotations:\n{indent}  pullseal.io/registry: {}",
        quoted(planned.registry.name.as_str())
    );
    for (k, v) in extra_annotations {
        let _ = writeln!(out, "{indent}  {k}: {}", quoted(v));
    }
}

/// The document for `planned` on `cluster`.
pub(crate) fn document(
    planned: &Planned<'_>,
    cluster: &Cluster,
    derivation_key: &[u8],
) -> Result<String, SealError> {
    let config = dockerconfigjson(planned.registry);
    let mut out = String::new();
    if let (SealMode::SealedSecrets, Some(cert)) = (cluster.seal, &cluster.certificate) {
        {
            let namespace = planned.namespace.as_deref().unwrap_or("");
            let target = SealTarget {
                cluster: &cluster.name,
                namespace,
                name: &planned.name,
                key: DOCKERCONFIGJSON,
                scope: cluster.scope,
            };
            let sealed = seal::seal(cert, &target, config.as_bytes(), derivation_key)?;
            let scope: Vec<(&str, &str)> = cluster.scope.annotation().into_iter().collect();
            out.push_str("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n");
            metadata(&mut out, "  ", planned, &scope);
            out.push_str("spec:\n  encryptedData:\n");
            let _ = writeln!(out, "    {DOCKERCONFIGJSON}: {}", quoted(&sealed));
            out.push_str("  template:\n    metadata:\n");
            metadata(&mut out, "      ", planned, &scope);
            out.push_str("    type: kubernetes.io/dockerconfigjson\n");
        }
    } else {
        out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
        metadata(&mut out, "  ", planned, &[]);
        out.push_str("type: kubernetes.io/dockerconfigjson\ndata:\n");
        let encoded = Zeroizing::new(STANDARD.encode(config.as_bytes()));
        let _ = writeln!(out, "  {DOCKERCONFIGJSON}: \"{}\"", encoded.as_str());
    }
    Ok(out)
}
