//! The pull secrets pullseal emits: one `kubernetes.io/dockerconfigjson` Secret per
//! (namespace, registry), sealed for the cluster or, with `seal: none`, plain.
//!
//! Amazon ECR with `refresh: external-secrets` gets, instead of a Secret holding a 12-hour
//! token, three objects that make it in the cluster (contracts section 6): the AWS keys as a
//! sealed Secret `<name>-aws`, an External Secrets Operator `ECRAuthorizationToken` generator
//! that reads them, and an `ExternalSecret` whose template writes the pull secret `<name>`
//! itself, so pods name it as they name any other. No token is ever rendered.
//!
//! Documents are written as text with every scalar double-quoted, so no value can be read as
//! another YAML 1.1 type (a registry called `yes` stays a string). The `.dockerconfigjson`
//! plaintext and the AWS keys live only in zeroizing buffers and leave this module sealed or
//! base64-encoded for `seal: none`.
//!
//! What this module must *not* do: call AWS or any network (but for the `kms:Encrypt` and
//! `kms:Decrypt` of a `seal: sops` cluster's KMS keys, which `render/flux.rs` leaves to
//! `sops::encrypt`), read the clock (`now` is given), or put a credential anywhere but a sealed
//! (or, for `seal: none`, base64) value.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::flux::FluxKms;
use crate::catalog::{Cluster, Registry, SealMode};
use crate::registry::{AuthsEntry, Credentials, Ecr};
use crate::seal::{self, SealError, SealTarget};

/// The key the kubelet reads in a `kubernetes.io/dockerconfigjson` Secret.
pub(crate) const DOCKERCONFIGJSON: &str = ".dockerconfigjson";

/// The `apiVersion` of the ESO generator pullseal emits for ECR.
pub(crate) const ESO_GENERATOR_API_VERSION: &str = "generators.external-secrets.io/v1alpha1";
/// The `apiVersion` of the `ExternalSecret` pullseal emits (the served and stored version).
pub(crate) const ESO_EXTERNAL_SECRET_API_VERSION: &str = "external-secrets.io/v1";
/// The suffix of the Secret that holds an ECR registry's AWS keys, after the pull secret's name.
pub(crate) const AWS_KEYS_SUFFIX: &str = "-aws";
/// The annotation on the AWS keys Secret naming the pull secret it is for: it marks the Secret
/// as pullseal's (for the KRM function's re-runs) and tells a reader why it exists.
pub(crate) const KEYS_FOR_ANNOTATION: &str = "pullseal.io/ecr-keys-for";
/// The data keys of the AWS keys Secret.
pub(crate) const ACCESS_KEY_ID: &str = "access-key-id";
/// See [`ACCESS_KEY_ID`].
pub(crate) const SECRET_ACCESS_KEY: &str = "secret-access-key";
/// See [`ACCESS_KEY_ID`].
pub(crate) const SESSION_TOKEN: &str = "session-token";

/// What one planned pull secret is made from.
pub(crate) enum Source<'a> {
    /// A username and a password: one `kubernetes.io/dockerconfigjson` Secret.
    Auths(AuthsEntry<'a>),
    /// Amazon ECR's AWS settings.
    Ecr {
        /// The registry.
        registry: &'a Registry,
        /// Its settings.
        ecr: &'a Ecr,
    },
}

impl<'a> Source<'a> {
    /// What `registry` makes, when it makes a secret at all (not anonymous).
    pub(crate) fn of(registry: &'a Registry) -> Option<Source<'a>> {
        match &registry.credentials {
            Credentials::Ecr(ecr) => Some(Source::Ecr { registry, ecr }),
            Credentials::Basic(_) | Credentials::Anonymous => AuthsEntry::of(registry).map(Source::Auths),
        }
    }

    /// The registry.
    pub(crate) fn registry(&self) -> &'a Registry {
        match self {
            Source::Auths(entry) => entry.registry,
            Source::Ecr { registry, .. } => registry,
        }
    }

    /// The name of the Secret besides the pull secret `name` that this source needs: the AWS
    /// keys of an ECR registry refreshed by the External Secrets Operator.
    pub(crate) fn companion(&self, name: &str) -> Option<String> {
        match self {
            Source::Ecr { ecr, .. } if ecr.refresh() == crate::registry::EcrRefresh::ExternalSecrets => {
                Some(format!("{name}{AWS_KEYS_SUFFIX}"))
            }
            Source::Ecr { .. } | Source::Auths(_) => None,
        }
    }
}

/// One Secret to emit.
pub(crate) struct Planned<'a> {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) registry: &'a Registry,
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
    named_metadata(out, indent, planned, &planned.name, extra_annotations);
}

/// [`metadata`] for an object of `planned`'s that is called `name`.
fn named_metadata(
    out: &mut String,
    indent: &str,
    planned: &Planned<'_>,
    name: &str,
    extra_annotations: &[(&str, &str)],
) {
    let _ = writeln!(out, "{indent}name: {}", quoted(name));
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

/// The document for `planned` on `cluster`: a `SealedSecret` for `seal: sealed-secrets`, a
/// plain `Secret` only for `seal: none`. A sealed-secrets cluster whose certificate is missing
/// or not valid at `now` is an error here, whatever the caller checked before: falling back to
/// a plain Secret would publish the credential.
pub(crate) fn document(
    planned: &Planned<'_>,
    entry: &AuthsEntry<'_>,
    cluster: &Cluster,
    derivation_key: &[u8],
    now: OffsetDateTime,
    kms: &FluxKms,
) -> Result<String, SealError> {
    let config = entry.dockerconfigjson();
    let mut out = String::new();
    match cluster.seal {
        SealMode::SealedSecrets => {
            let doc = SealedDoc {
                name: &planned.name,
                kind: "kubernetes.io/dockerconfigjson",
                data: &[(DOCKERCONFIGJSON, config.as_bytes())],
                annotations: &[],
            };
            return sealed_secret(planned, &doc, cluster, derivation_key, now);
        }
        SealMode::Sops => return super::flux::document(planned, &config, cluster, derivation_key, kms),
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

/// A secret to seal: its name, its `type`, its plain `data` values by key, and annotations
/// besides `pullseal.io/registry` and the scope's.
struct SealedDoc<'d> {
    name: &'d str,
    kind: &'d str,
    data: &'d [(&'d str, &'d [u8])],
    annotations: &'d [(&'d str, &'d str)],
}

/// `doc` as a `SealedSecret` in `planned`'s namespace for `cluster`, each value sealed for its
/// own key under the cluster's scope. A missing certificate, or one not valid at `now`, is an
/// error: falling back to a plain Secret would publish the value.
fn sealed_secret(
    planned: &Planned<'_>,
    doc: &SealedDoc<'_>,
    cluster: &Cluster,
    derivation_key: &[u8],
    now: OffsetDateTime,
) -> Result<String, SealError> {
    let cert = cluster
        .certificate
        .as_ref()
        .ok_or(SealError::MissingCertificate)?;
    cert.check_valid_at(now)?;
    let namespace = planned.namespace.as_deref().unwrap_or("");
    let mut annotations: Vec<(&str, &str)> = cluster.scope.annotation().into_iter().collect();
    annotations.extend(doc.annotations);
    let mut out = String::from("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n");
    named_metadata(&mut out, "  ", planned, doc.name, &annotations);
    out.push_str("spec:\n  encryptedData:\n");
    for (key, value) in doc.data {
        let target = SealTarget {
            cluster: &cluster.name,
            namespace,
            name: doc.name,
            key,
            scope: cluster.scope,
        };
        let sealed = seal::seal(cert, &target, value, derivation_key)?;
        let _ = writeln!(out, "    {key}: {}", quoted(&sealed));
    }
    out.push_str("  template:\n    metadata:\n");
    named_metadata(&mut out, "      ", planned, doc.name, &annotations);
    let _ = writeln!(out, "    type: {}", doc.kind);
    Ok(out)
}

/// The AWS keys of `ecr`, by data key, in the order they are written.
fn aws_keys(ecr: &Ecr) -> Vec<(&'static str, &str)> {
    let mut keys = vec![
        (ACCESS_KEY_ID, ecr.access_key_id().expose_secret()),
        (SECRET_ACCESS_KEY, ecr.secret_access_key().expose_secret()),
    ];
    if let Some(token) = ecr.session_token() {
        keys.push((SESSION_TOKEN, token.expose_secret()));
    }
    keys
}

/// The three documents of an ECR registry refreshed by the External Secrets Operator, for
/// `planned` on `cluster`: the AWS keys Secret (sealed like any pull secret, or plain for
/// `seal: none`), the `ECRAuthorizationToken` generator that reads it, and the
/// `ExternalSecret` that writes the pull secret `planned.name` from the generator's token.
///
/// The `auths` key is the catalog's server host (what the kubelet matches images against, as
/// for `refresh: token`), not the generator's `proxy_endpoint`: that is the endpoint of the
/// *caller's* account in the standard (non-FIPS) API, while the token opens every registry
/// the keys may read, so a cross-account or FIPS server would not match it.
pub(crate) fn ecr_documents(
    planned: &Planned<'_>,
    ecr: &Ecr,
    cluster: &Cluster,
    derivation_key: &[u8],
    now: OffsetDateTime,
    kms: &FluxKms,
) -> Result<Vec<String>, SealError> {
    let keys_name = format!("{}{AWS_KEYS_SUFFIX}", planned.name);
    let keys = keys_document(planned, ecr, &keys_name, cluster, derivation_key, now, kms)?;
    Ok(vec![
        keys,
        generator_document(planned, ecr, &keys_name),
        external_secret_document(planned, ecr),
    ])
}

/// The AWS keys Secret `keys_name` of an ECR registry: sealed like a pull secret, or plain.
fn keys_document(
    planned: &Planned<'_>,
    ecr: &Ecr,
    keys_name: &str,
    cluster: &Cluster,
    derivation_key: &[u8],
    now: OffsetDateTime,
    kms: &FluxKms,
) -> Result<String, SealError> {
    let for_name: [(&str, &str); 1] = [(KEYS_FOR_ANNOTATION, planned.name.as_str())];
    let mut keys = String::new();
    match cluster.seal {
        SealMode::SealedSecrets => {
            let data: Vec<(&str, &[u8])> = aws_keys(ecr)
                .into_iter()
                .map(|(k, v)| (k, v.as_bytes()))
                .collect();
            let doc = SealedDoc {
                name: keys_name,
                kind: "Opaque",
                data: &data,
                annotations: &for_name,
            };
            return sealed_secret(planned, &doc, cluster, derivation_key, now);
        }
        SealMode::Sops => {
            let data: Vec<(&str, &[u8])> = aws_keys(ecr)
                .into_iter()
                .map(|(k, v)| (k, v.as_bytes()))
                .collect();
            let doc = super::flux::Secret {
                name: keys_name,
                kind: "Opaque",
                data: &data,
                annotations: &for_name,
            };
            return super::flux::encrypted_secret(planned, &doc, cluster, derivation_key, kms);
        }
        SealMode::None => {
            keys.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
            named_metadata(&mut keys, "  ", planned, keys_name, &for_name);
            keys.push_str("type: Opaque\ndata:\n");
            for (key, value) in aws_keys(ecr) {
                let encoded = Zeroizing::new(STANDARD.encode(value.as_bytes()));
                let _ = writeln!(keys, "  {key}: \"{}\"", encoded.as_str());
            }
        }
    }
    Ok(keys)
}

/// The `ECRAuthorizationToken` generator that reads the AWS keys Secret `keys_name`.
fn generator_document(planned: &Planned<'_>, ecr: &Ecr, keys_name: &str) -> String {
    let mut generator = String::new();
    let _ = writeln!(
        generator,
        "apiVersion: {ESO_GENERATOR_API_VERSION}\nkind: ECRAuthorizationToken\nmetadata:"
    );
    metadata(&mut generator, "  ", planned, &[]);
    let _ = writeln!(generator, "spec:\n  region: {}", quoted(ecr.region()));
    if let Some(role) = ecr.role_arn() {
        let _ = writeln!(generator, "  role: {}", quoted(role));
    }
    generator.push_str("  auth:\n    secretRef:\n");
    let refs: [(&str, &str); 3] = [
        ("accessKeyIDSecretRef", ACCESS_KEY_ID),
        ("secretAccessKeySecretRef", SECRET_ACCESS_KEY),
        ("sessionTokenSecretRef", SESSION_TOKEN),
    ];
    for (field, key) in refs {
        if key == SESSION_TOKEN && ecr.session_token().is_none() {
            continue;
        }
        let _ = writeln!(
            generator,
            "      {field}:\n        name: {}\n        key: {}",
            quoted(keys_name),
            quoted(key)
        );
    }
    generator
}

/// The `ExternalSecret` that writes the pull secret `planned.name` from the generator's token.
fn external_secret_document(planned: &Planned<'_>, ecr: &Ecr) -> String {
    let host = planned.registry.server.host();
    // ESO's template engine v2 (Go text/template with sprig): the generator's outputs are
    // `.username` (`AWS`) and `.password`; `auth` is their base64 as the kubelet reads it.
    let template = format!(
        concat!(
            "{{\"auths\":{{\"{host}\":{{",
            "\"auth\":\"{{{{ printf \"%s:%s\" .username .password | b64enc }}}}\",",
            "\"password\":\"{{{{ .password }}}}\",",
            "\"username\":\"{{{{ .username }}}}\"}}}}}}"
        ),
        host = host
    );
    let mut external = String::new();
    let _ = writeln!(
        external,
        "apiVersion: {ESO_EXTERNAL_SECRET_API_VERSION}\nkind: ExternalSecret\nmetadata:"
    );
    metadata(&mut external, "  ", planned, &[]);
    let _ = writeln!(
        external,
        "spec:\n  refreshInterval: {}",
        quoted(ecr.refresh_interval())
    );
    external.push_str("  target:\n");
    let _ = writeln!(external, "    name: {}", quoted(&planned.name));
    external.push_str("    creationPolicy: \"Owner\"\n    template:\n      engineVersion: \"v2\"\n");
    let _ = writeln!(
        external,
        "      type: \"kubernetes.io/dockerconfigjson\"\n      metadata:"
    );
    let _ = writeln!(
        external,
        "        labels:\n          app.kubernetes.io/managed-by: \"pullseal\"\n        annotations:\n          pullseal.io/registry: {}",
        quoted(planned.registry.name.as_str())
    );
    let _ = writeln!(
        external,
        "      data:\n        {DOCKERCONFIGJSON}: {}",
        quoted(&template)
    );
    let _ = writeln!(
        external,
        "  dataFrom:\n    - sourceRef:\n        generatorRef:\n          apiVersion: \"{ESO_GENERATOR_API_VERSION}\"\n          kind: \"ECRAuthorizationToken\"\n          name: {}",
        quoted(&planned.name)
    );
    external
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
            kms: Vec::new(),
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
            registry: &registry,
        };
        let key = [7u8; 32];
        let errors = [
            document(
                &planned,
                &entry,
                &cluster(SealMode::SealedSecrets, None),
                &key,
                now(),
                &FluxKms::default(),
            )
            .unwrap_err(),
            document(
                &planned,
                &entry,
                &cluster(SealMode::SealedSecrets, Some(EXPIRED_CERT)),
                &key,
                now(),
                &FluxKms::default(),
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
            &entry,
            &cluster(SealMode::SealedSecrets, Some(TEST_CERT)),
            &key,
            now(),
            &FluxKms::default(),
        )
        .unwrap();
        assert!(sealed.contains("kind: SealedSecret\n"), "{sealed}");
        let plain = document(
            &planned,
            &entry,
            &cluster(SealMode::None, Some(TEST_CERT)),
            &key,
            now(),
            &FluxKms::default(),
        )
        .unwrap();
        assert!(plain.contains("kind: Secret\n"), "{plain}");
    }

    /// The optional ECR settings reach the ESO objects: the session token as a third key and
    /// its `sessionTokenSecretRef`, the role as the generator's `role`, the interval as given.
    #[test]
    fn ecr_session_token_role_and_interval_reach_the_eso_objects() {
        let ecr = crate::registry::Ecr::for_tests(
            Some("test-session"),
            Some("arn:aws:iam::123456789012:role/ecr-pull"),
            "30m",
        );
        let registry = Registry {
            name: "ecr".parse().unwrap(),
            kind: RegistryType::Ecr,
            server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com".parse().unwrap(),
            credentials: Credentials::Anonymous,
            allow: Allow::default(),
        };
        let planned = Planned {
            namespace: Some("shop".to_owned()),
            name: "pullseal-ecr".to_owned(),
            registry: &registry,
        };
        let docs = ecr_documents(
            &planned,
            &ecr,
            &cluster(SealMode::None, None),
            &[7u8; 32],
            now(),
            &FluxKms::default(),
        )
        .unwrap();
        let [keys, generator, external] = docs.as_slice() else {
            panic!("{docs:?}");
        };
        assert!(keys.contains("  session-token: \"dGVzdC1zZXNzaW9u\"\n"), "{keys}");
        assert!(
            !keys.contains("test-secret") && !keys.contains("test-session"),
            "{keys}"
        );
        insta::assert_snapshot!(generator.split_once("spec:\n").unwrap().1, @r#"
        region: "eu-west-1"
        role: "arn:aws:iam::123456789012:role/ecr-pull"
        auth:
          secretRef:
            accessKeyIDSecretRef:
              name: "pullseal-ecr-aws"
              key: "access-key-id"
            secretAccessKeySecretRef:
              name: "pullseal-ecr-aws"
              key: "secret-access-key"
            sessionTokenSecretRef:
              name: "pullseal-ecr-aws"
              key: "session-token"
        "#);
        assert!(
            external.contains("spec:\n  refreshInterval: \"30m\"\n"),
            "{external}"
        );
        // Sealed, the three keys are sealed each under its own data key.
        let sealed = ecr_documents(
            &planned,
            &ecr,
            &cluster(SealMode::SealedSecrets, Some(TEST_CERT)),
            &[7u8; 32],
            now(),
            &FluxKms::default(),
        )
        .unwrap();
        let keys = sealed.first().unwrap();
        for key in [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN] {
            assert!(keys.contains(&format!("    {key}: \"Ag")), "{keys}");
        }
    }
}
