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
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::catalog::{Cluster, SealMode};
use crate::registry::AuthsEntry;
use crate::seal::{self, SealError, SealTarget};

/// The key the kubelet reads in a `kubernetes.io/dockerconfigjson` Secret.
pub(crate) const DOCKERCONFIGJSON: &str = ".dockerconfigjson";

/// One Secret to emit.
pub(crate) struct Planned<'a> {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) entry: &'a AuthsEntry<'a>,
}

/// Hands `s` to `out` as a JSON string (also a valid YAML double-quoted scalar), piece by
/// piece, so that no escaped copy of a credential exists outside `out`'s own buffer.
pub(crate) fn json_string(out: &mut dyn FnMut(&str), s: &str) {
    out("\"");
    // Holds one character of a credential at a time, so it is zeroized too.
    let mut escaped = Zeroizing::new([0u8; 6]);
    for c in s.chars() {
        let piece: &str = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let hex = b"0123456789abcdef";
                let code = c as usize;
                *escaped = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    hex.get(code >> 4).copied().unwrap_or(b'0'),
                    hex.get(code & 0xf).copied().unwrap_or(b'0'),
                ];
                std::str::from_utf8(escaped.as_slice()).unwrap_or_default()
            }
            c => c.encode_utf8(escaped.as_mut_slice()),
        };
        out(piece);
    }
    out("\"");
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    json_string(&mut |piece| out.push_str(piece), s);
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
        quoted(planned.entry.registry.name.as_str())
    );
    for (k, v) in extra_annotations {
        let _ = writeln!(out, "{indent}  {k}: {}", quoted(v));
    }
}

/// The document for `planned` on `cluster`: a `SealedSecret` for `seal: sealed-secrets`, a
/// plain `Secret` only for `seal: none`. A sealed-secrets cluster whose certificate is missing
/// or not valid at `now` is an error here, whatever the caller checked before: falling back to
/// a plain Secret would publish the credential.
pub(crate) fn document(
    planned: &Planned<'_>,
    cluster: &Cluster,
    derivation_key: &[u8],
    now: OffsetDateTime,
) -> Result<String, SealError> {
    let config = planned.entry.dockerconfigjson();
    let mut out = String::new();
    match cluster.seal {
        SealMode::SealedSecrets => {
            let cert = cluster
                .certificate
                .as_ref()
                .ok_or(SealError::MissingCertificate)?;
            cert.check_valid_at(now)?;
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
        SealMode::Sops => return super::flux::document(planned, &config, cluster, derivation_key),
        SealMode::None => {
            out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
            metadata(&mut out, "  ", planned, &[]);
            out.push_str("type: kubernetes.io/dockerconfigjson\ndata:\n");
            let encoded = Zeroizing::new(STANDARD.encode(config.as_bytes()));
            let _ = writeln!(out, "  {DOCKERCONFIGJSON}: \"{}\"", encoded.as_str());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use time::OffsetDateTime;

    use super::*;
    use crate::catalog::{Allow, Registry, RegistryType};
    use crate::registry::{Basic, Credentials};
    use crate::seal::{Certificate, Scope};

    const TEST_CERT: &str = include_str!("../../testdata/keys/sealed-secrets-test.crt");
    const EXPIRED_CERT: &str = include_str!("../../testdata/keys/sealed-secrets-expired.crt");

    fn registry(email: Option<&str>) -> Registry {
        Registry {
            name: "company".parse().unwrap(),
            kind: RegistryType::Generic,
            server: "registry.example.com:5000".parse().unwrap(),
            credentials: Credentials::Basic(Basic::new(
                SecretString::from("robot"),
                SecretString::from("p\"a\\s\u{1}s"),
                email.map(str::to_owned),
            )),
            allow: Allow::default(),
        }
    }

    fn cluster(seal: SealMode, certificate: Option<&str>) -> Cluster {
        Cluster {
            name: "prod".to_owned(),
            seal,
            scope: Scope::Strict,
            certificate: certificate.map(|pem| Certificate::from_pem(pem).unwrap()),
            kubelet_credentials: None,
            age_recipients: Vec::new(),
        }
    }

    /// 2030-01-01, inside the test certificate's validity.
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap()
    }

    /// Issue 5: a sealed-secrets cluster without a usable certificate never falls back to a
    /// plain Secret, even when the caller did not check the certificate first.
    #[test]
    fn sealed_secrets_cluster_without_usable_certificate_is_an_error() {
        let registry = registry(None);
        let entry = AuthsEntry::of(&registry).unwrap();
        let planned = Planned {
            namespace: Some("shop".to_owned()),
            name: "pullseal-company".to_owned(),
            entry: &entry,
        };
        let key = [7u8; 32];
        let errors = [
            document(&planned, &cluster(SealMode::SealedSecrets, None), &key, now()).unwrap_err(),
            document(
                &planned,
                &cluster(SealMode::SealedSecrets, Some(EXPIRED_CERT)),
                &key,
                now(),
            )
            .unwrap_err(),
        ];
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(messages.join("\n"), @r"
            the cluster seals with sealed-secrets but has no certificate
            sealing certificate expired at 2001-01-01T00:00:00Z (notAfter)
            ");
        let sealed = document(
            &planned,
            &cluster(SealMode::SealedSecrets, Some(TEST_CERT)),
            &key,
            now(),
        )
        .unwrap();
        assert!(sealed.contains("kind: SealedSecret\n"), "{sealed}");
        let plain = document(&planned, &cluster(SealMode::None, Some(TEST_CERT)), &key, now()).unwrap();
        assert!(plain.contains("kind: Secret\n"), "{plain}");
    }
}
